"""marshmallow schemas of the catalogue API (/api/v1/catalogue)."""

from __future__ import annotations


from marshmallow import Schema, fields, validate

from core.clock import local_today
from benchmarks.importer import KINDS
from benchmarks.models import StandardKind, StandardStatus


class CatalogueStandardArgs(Schema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=100),
        metadata={"description": "Part of the number (spaces, width and case ignored) or title"},
    )
    kind = fields.String(validate=validate.OneOf([k.value for k in StandardKind]))
    status = fields.String(
        validate=validate.OneOf([s.value for s in StandardStatus]),
        metadata={"description": "Status on the day `on` (default today)"},
    )
    on = fields.Date(metadata={"description": "Day the status filter is judged on (YYYY-MM-DD)"})


class CatalogueStandardOut(Schema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "Canonical number, e.g. GB/T 18883-2022"})
    kind = fields.Enum(StandardKind, by_value=True)
    prefix = fields.String()
    number = fields.String()
    part = fields.String()
    year = fields.Integer()
    title = fields.String()
    title_en = fields.String()
    status = fields.Enum(StandardStatus, by_value=True, metadata={"description": "As recorded"})
    status_today = fields.Method(
        "get_status_today",
        metadata={"description": "Status on today's date (a replacement not yet in force "
                  "does not retire this edition)", "enum": [s.value for s in StandardStatus]},
    )
    effective_date = fields.Date(allow_none=True)
    withdrawn_date = fields.Date(allow_none=True)
    replaced_by = fields.String(attribute="replaced_by_code", allow_none=True)
    source = fields.String()

    def get_status_today(self, obj) -> str:
        return obj.status_on(local_today()).value


class CatalogueCategoryOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    source = fields.String()


class CatalogueStandardRef(Schema):
    id = fields.Integer()
    code = fields.String()


class CatalogueBenchmarkOut(Schema):
    id = fields.Integer()
    category_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    unit = fields.String()
    direction = fields.String(metadata={"enum": ["higher", "lower"]})
    mandatory_limit = fields.Float(allow_none=True)
    mandatory_source = fields.Pluck(CatalogueStandardRef, "code", allow_none=True)
    recommended_value = fields.Float(allow_none=True)
    recommended_source = fields.Pluck(CatalogueStandardRef, "code", allow_none=True)
    grades = fields.Method("get_grades", metadata={"description": "Best first"})
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    citation = fields.String()
    source = fields.String()

    def get_grades(self, obj) -> list[dict]:
        return [{"label": label, "threshold": float(value)} for label, value in obj.grades or ()]


class CatalogueBenchmarksArgs(Schema):
    on = fields.Date(
        metadata={"description": "Day the benchmarks must be valid on (default today)"}
    )


class CatalogueBenchmarksOut(Schema):
    category = fields.Nested(CatalogueCategoryOut)
    on = fields.Date()
    benchmarks = fields.List(fields.Nested(CatalogueBenchmarkOut))


class CatalogueImportFormIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    confirm = fields.Boolean(
        load_default=False,
        metadata={
            "description": "write changes to existing editions and thresholds; without it "
            "they are only listed (409) and nothing is written"
        },
    )


class CatalogueImportFileIn(Schema):
    file = fields.Raw(
        required=True,
        metadata={"type": "string", "format": "binary", "description": "CSV or .xlsx"},
    )


class CatalogueRowErrorOut(Schema):
    row = fields.Integer(metadata={"description": "Spreadsheet row (header = 1; 0 = the file)"})
    column = fields.String()
    message = fields.String()


class CatalogueImportReportOut(Schema):
    kind = fields.String()
    ok = fields.Boolean()
    written = fields.Boolean()
    rows = fields.Integer()
    inserted = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    changed_standard_ids = fields.List(fields.Integer())
    errors = fields.List(fields.Nested(CatalogueRowErrorOut))
    needs_confirmation = fields.Boolean(
        metadata={"description": "the import changes existing rows (see changes)"}
    )
    new_rows = fields.Integer()
    changes = fields.List(
        fields.Dict(), metadata={"description": "each changed field: key, field, old, new"}
    )
    affected = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "row key → declarations in force whose comparison it changes"},
    )
