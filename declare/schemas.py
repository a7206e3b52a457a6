"""Marshmallow schemas of the declarations JSON API.

Load schemas check the *shape* of a request (types, required fields, allowed values) and
return the draft dict of the ``declare.operations`` contract; business rules (number format,
barcodes, 明示, mandatory floors) stay in the operations. Dump schemas are split by audience:
the public never sees a draft, a lock version, or the text of an "indicators only" standard.
"""

from __future__ import annotations

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate

from core.schemas import CitedStandardOut, DbId, EnterpriseBriefOut, TrimmedSchema, WholeNumber
from declare.models import DeclarationKind, DeclarationStatus, Disclosure
from declare.operations import oversized

KINDS = [k.value for k in DeclarationKind]
DISCLOSURES = [d.value for d in Disclosure]
INDICATOR_KINDS = ["function", "performance"]
OPS = ["ge", "le", "eq", "range"]
DECLARATION_STATUSES = [s.value for s in DeclarationStatus]


_Trimmed = TrimmedSchema


# --------------------------------------------------------------------------- load schemas


class EnterpriseRegistrationIn(_Trimmed):
    """Register an enterprise and its login (企业注册)."""

    uscc = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "统一社会信用代码 (18 characters, GB 32100-2015)"},
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "at least 8 characters"},
    )
    address = fields.String(load_default="", validate=validate.Length(max=300))
    contact_name = fields.String(load_default="", validate=validate.Length(max=80))
    contact_phone = fields.String(load_default="", validate=validate.Length(max=40))


class ProductIn(_Trimmed):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    model = fields.String(
        required=True, validate=validate.Length(min=1, max=120), metadata={"description": "型号"}
    )
    category_id = DbId(strict=True, required=True)
    specification = fields.String(load_default="", validate=validate.Length(max=200))
    common_name = fields.String(load_default="", validate=validate.Length(max=200))
    brand = fields.String(load_default="", validate=validate.Length(max=120))
    barcode = fields.String(
        load_default="",
        validate=validate.Length(max=14),
        metadata={"description": "GTIN/EAN-13, optional"},
    )
    attributes = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={
            "description": "what selects the benchmark rows that apply, e.g. "
            '{"ac_type": "heat_pump", "rated_cooling_capacity": [3500, "W"]}'
        },
    )


class IndicatorIn(_Trimmed):
    """One function (功能) or performance (性能) indicator with its test method (检验方法)."""

    kind = fields.String(load_default="performance", validate=validate.OneOf(INDICATOR_KINDS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    benchmark_indicator_id = DbId(strict=True, load_default=None, allow_none=True)
    op = fields.String(
        required=True,
        validate=validate.OneOf(OPS),
        metadata={"description": "ge ≥ value, le ≤ value, eq = value, range low…high"},
    )
    value = fields.Float(load_default=None, allow_none=True)
    low = fields.Float(load_default=None, allow_none=True)
    high = fields.Float(load_default=None, allow_none=True)
    text_value = fields.String(load_default="", validate=validate.Length(max=300))
    unit = fields.String(load_default="", validate=validate.Length(max=30))
    test_method = fields.String(load_default="", validate=validate.Length(max=300))
    mingshi = fields.String(
        load_default="",
        metadata={"description": "明示: where lower than a recommended standard, say so and why"},
    )


class DraftIn(_Trimmed):
    """A draft declaration in the shape of the ``declare.operations`` contract."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    standard_id = DbId(
        strict=True,
        load_default=None,
        allow_none=True,
        metadata={"description": "catalogue kind: the followed standard (standards.id)"},
    )
    std_code = fields.String(
        load_default="",
        validate=validate.Length(max=80),
        metadata={"description": "enterprise kind: the Q/… number, e.g. Q/GDMD 0012-2024"},
    )
    std_name = fields.String(load_default="", validate=validate.Length(max=300))
    disclosure = fields.String(
        load_default=Disclosure.FULL_TEXT.value, validate=validate.OneOf(DISCLOSURES)
    )
    commitment_accepted = fields.Boolean(load_default=False)
    approved_by = fields.String(load_default="", validate=validate.Length(max=120))
    approved_on = fields.Date(load_default=None, allow_none=True)
    implemented_on = fields.Date(load_default=None, allow_none=True)
    revision_note = fields.String(load_default="")
    mingshi_fewer = fields.String(
        load_default="",
        metadata={
            "description": "明示: the standard has fewer indicators than a recommended "
            "standard (which, and why)"
        },
    )
    products = fields.List(
        fields.Nested(ProductIn),
        load_default=list,
        metadata={"description": "at most DRAFT_MAX_PRODUCTS rows (200 unless configured)"},
    )
    indicators = fields.List(
        fields.Nested(IndicatorIn),
        load_default=list,
        metadata={"description": "at most DRAFT_MAX_INDICATORS rows (500 unless configured)"},
    )
    reference_ids = fields.List(
        DbId(strict=True),
        load_default=list,
        metadata={
            "description": "normative references (standards.id), at most DRAFT_MAX_REFERENCES "
            "(100 unless configured)"
        },
    )

    @pre_load
    def _bounded(self, data, **kwargs):
        """Refuse lists longer than a draft may have (config ``DRAFT_MAX_PRODUCTS``,
        ``DRAFT_MAX_INDICATORS``, ``DRAFT_MAX_REFERENCES``) before a row of them is
        deserialised; the limits and the messages are the operations' (``oversized``)."""
        errors = oversized(data)
        if errors:
            raise ValidationError(errors)
        return data


class DraftUpdateIn(DraftIn):
    """The whole draft again, with the ``lock_version`` it was read at (optimistic locking)."""

    lock_version = WholeNumber(strict=True, required=True, low=1)

    @post_load
    def _split_lock(self, data, **kwargs):
        return {"lock_version": data.pop("lock_version"), "data": data}


class ReasonIn(_Trimmed):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class TextUploadIn(Schema):
    file = Upload(required=True, metadata={"description": "the standard text (PDF)"})


class ComparisonPreviewIn(Schema):
    """Indicators to judge against the benchmarks without saving anything."""

    indicators = fields.List(
        fields.Nested(IndicatorIn), required=True, validate=validate.Length(min=1, max=200)
    )
    products = fields.List(
        fields.Nested(ProductIn),
        load_default=list,
        metadata={"description": "with products, every benchmark that applies to them is judged"},
    )
    reference_ids = fields.List(DbId(strict=True), load_default=list)
    mingshi_fewer = fields.String(load_default="")
    on = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "benchmarks in force on (default today)"},
    )


class DeclarationListArgs(_Trimmed):
    mine = fields.Boolean(
        load_default=False,
        metadata={"description": "1: the calling enterprise's own declarations (bearer token)"},
    )
    q = fields.String(load_default="", validate=validate.Length(max=100))
    category_id = DbId(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    region = fields.String(
        load_default=None,
        validate=validate.Regexp(
            r"^\d{2,6}$",
            error=_l("region must be 2 to 6 digits of a 行政区划 code, e.g. 50 or 500100."),
        ),
    )
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(DECLARATION_STATUSES),
        metadata={"description": "with mine=1 only"},
    )


class AsOfArgs(Schema):
    as_of = fields.Date(
        load_default=None,
        metadata={"description": "YYYY-MM-DD: the version that was in force on that day"},
    )


class CheckArgs(Schema):
    on = fields.Date(
        load_default=None, metadata={"description": "benchmarks in force on (default today)"}
    )


# --------------------------------------------------------------------------- dump schemas


class EnterprisePublicOut(EnterpriseBriefOut):
    published_count = fields.Integer(metadata={"description": "published declarations"})


class EnterpriseOwnOut(EnterpriseBriefOut):
    address = fields.String()
    contact_name = fields.String()
    contact_phone = fields.String()
    created_at = fields.DateTime()
    published_count = fields.Integer()
    username = fields.String()


class ProductCategoryOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class ProductOut(Schema):
    name = fields.String()
    model = fields.String()
    category = fields.Nested(ProductCategoryOut)
    specification = fields.String()
    common_name = fields.String()
    brand = fields.String()
    barcode = fields.String()
    attributes = fields.Dict()


class IndicatorOut(Schema):
    position = fields.Integer()
    kind = fields.String()
    name = fields.String()
    benchmark_indicator_id = fields.Integer(allow_none=True)
    op = fields.String()
    value = fields.Float(allow_none=True)
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    text_value = fields.String()
    unit = fields.String()
    test_method = fields.String()
    mingshi = fields.String()
    cmp_status = fields.String(allow_none=True)
    cmp_grade = fields.String(allow_none=True)
    cmp_margin_pct = fields.Float(allow_none=True)
    cmp_guaranteed = fields.Float(allow_none=True)


class ReferenceFlagOut(Schema):
    standard = fields.Nested(CitedStandardOut)
    reason = fields.String()
    replaced_by_code = fields.String(allow_none=True)
    detected_at = fields.DateTime()


def _text_url(version) -> str | None:
    return url_for(
        "api_declare.version_text",
        declaration_id=version.declaration_id,
        version_no=version.version_no,
    )


class VersionPublicOut(Schema):
    """A published (or superseded/ended) version as anyone may read it."""

    id = fields.Integer()
    declaration_id = fields.Integer()
    version_no = fields.Integer()
    status = fields.Function(lambda v: v.status.value)
    kind = fields.Function(lambda v: v.declaration.kind.value)
    number = fields.String()
    title = fields.String()
    standard = fields.Nested(CitedStandardOut, allow_none=True)
    std_code = fields.String()
    std_name = fields.String()
    std_year = fields.Integer(allow_none=True)
    disclosure = fields.Function(lambda v: v.disclosure.value)
    commitment_accepted = fields.Boolean()
    approved_by = fields.String()
    approved_on = fields.Date(allow_none=True)
    implemented_on = fields.Date(allow_none=True)
    revision_note = fields.String()
    mingshi_fewer = fields.String()
    published_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    end_reason = fields.String()
    products = fields.List(fields.Nested(ProductOut))
    indicators = fields.List(fields.Nested(IndicatorOut))
    references = fields.Method("_references")
    reference_flags = fields.Method("_flags")
    text_url = fields.Method(
        "_public_text_url",
        allow_none=True,
        metadata={"description": "the standard text, only when disclosed in full"},
    )

    def _references(self, version):
        return CitedStandardOut(many=True).dump([r.standard for r in version.references])

    def _flags(self, version):
        return ReferenceFlagOut(many=True).dump(
            [f for f in version.reference_flags if f.cleared_at is None]
        )

    def _public_text_url(self, version):
        if version.text_attachment_id is None or version.disclosure is not Disclosure.FULL_TEXT:
            return None
        return _text_url(version)


class AttachmentOut(Schema):
    id = fields.Integer()
    filename = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    content_type = fields.String()


class VersionOwnerOut(VersionPublicOut):
    """A version as its enterprise sees it: drafts too, with the lock for the next edit."""

    lock_version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    text_attachment = fields.Nested(AttachmentOut, allow_none=True)
    text_url = fields.Method("_owner_text_url", allow_none=True)

    def _owner_text_url(self, version):
        return None if version.text_attachment_id is None else _text_url(version)


class DeclarationOut(Schema):
    """A declaration with the version in force (or in force on ``as_of``)."""

    id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    enterprise = fields.Nested(EnterpriseBriefOut)
    as_of = fields.Date(allow_none=True)
    version = fields.Nested(VersionPublicOut, allow_none=True)
    draft = fields.Nested(
        VersionOwnerOut,
        allow_none=True,
        metadata={"description": "the open draft; present only for the owning enterprise"},
    )


class DeclarationListItemOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    enterprise = fields.Nested(EnterpriseBriefOut)
    version_no = fields.Integer(allow_none=True)
    number = fields.String()
    title = fields.String()
    published_at = fields.DateTime(allow_none=True)
    products = fields.List(fields.Nested(ProductOut))
    has_draft = fields.Boolean(metadata={"description": "with mine=1 only"})


class VersionSummaryOut(Schema):
    version_no = fields.Integer()
    status = fields.Function(lambda v: v.status.value)
    number = fields.String()
    title = fields.String()
    published_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    end_reason = fields.String()
    revision_note = fields.String()


class DistanceOut(Schema):
    kind = fields.String(metadata={"description": "mandatory | recommended | grade"})
    threshold = fields.Float()
    label = fields.String(allow_none=True, metadata={"description": "the grade, for kind grade"})
    pct = fields.Float(allow_none=True, metadata={"description": "gap in % of the threshold"})
    side = fields.String(metadata={"description": "above | below | at (numerically)"})


class ComparisonOut(Schema):
    status = fields.String(
        metadata={"description": "violation | below_recommended | meets | exceeds"}
    )
    guaranteed = fields.Float(metadata={"description": "the worst value promised, benchmark unit"})
    grade = fields.String(allow_none=True)
    baseline = fields.Float(allow_none=True)
    baseline_kind = fields.String(allow_none=True)
    margin_pct = fields.Float(allow_none=True)
    needs_mingshi = fields.Boolean()
    mandatory_limit = fields.Float(allow_none=True)
    mandatory_source = fields.String(allow_none=True)
    recommended_value = fields.Float(allow_none=True)
    recommended_source = fields.String(allow_none=True)
    distance = fields.Nested(
        DistanceOut,
        allow_none=True,
        metadata={
            "description": "from the limit (violation), the recommended value (shortfall) or "
            "the grade's threshold: what a person reads"
        },
    )


class IndicatorCheckOut(Schema):
    position = fields.Integer()
    name = fields.String()
    benchmark_id = fields.Integer(allow_none=True)
    comparison = fields.Nested(ComparisonOut, allow_none=True)
    problem = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    field = fields.String(allow_none=True)


class DeclarationProblemOut(Schema):
    code = fields.String(
        metadata={
            "description": "attribute_missing | not_applicable | mandatory_missing | "
            "recommended_missing"
        }
    )
    field = fields.String()
    message = fields.String()


class ChecksOut(Schema):
    declaration_id = fields.Integer(allow_none=True)
    version_no = fields.Integer(allow_none=True)
    version_status = fields.String(allow_none=True)
    on = fields.Date(allow_none=True)
    publishable = fields.Boolean(
        metadata={"description": "no violation and every needed 明示 present"}
    )
    checks = fields.List(fields.Nested(IndicatorCheckOut))
    problems = fields.List(
        fields.Nested(DeclarationProblemOut),
        metadata={"description": "a benchmark not declared, a missing attribute, a wrong band"},
    )
    auto_linked = fields.List(
        fields.Integer(), metadata={"description": "positions of automatically linked indicators"}
    )
    by_reference = fields.List(
        fields.Dict(), metadata={"description": "benchmarks met by citing their mandatory standard"}
    )


class RegistrationOut(Schema):
    enterprise = fields.Nested(EnterpriseOwnOut)
    username = fields.String()
