"""Schemas of the sampling API: plans, draws and their items, redo reports, inspectors."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from core.schemas import DbId, TrimmedSchema, WholeNumber
from supervision.sampling import operations as draws


class SamplingPlanIn(TrimmedSchema):
    """A sampling plan (抽查计划). Rules are checked by the operation (422 names the field)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    region_code = fields.String(
        metadata={"description": "6-digit 行政区划 code inside the caller's region "
                  "(default: the caller's region)"}
    )
    category_ids = fields.List(
        DbId(strict=True), metadata={"description": "empty: every category"}
    )
    period_start = fields.Date(required=True)
    period_end = fields.Date(
        required=True,
        metadata={"description": "the population is the declarations in force on this day"},
    )
    size_ratio = fields.Float(
        allow_none=True,
        metadata={"description": "fraction of the population, min_ratio..1, rounded up; or "
                  "give size_count; neither = the minimum ratio"},
    )
    size_count = WholeNumber(
        strict=True, allow_none=True,
        metadata={"description": "number of objects (raised to the minimum ratio if smaller)"},
    )
    min_ratio = fields.Float(metadata={"description": "at least SAMPLING_MIN_RATIO (0.05)"})
    stratification = fields.String(validate=validate.OneOf(list(draws.STRATA)))
    allocation = fields.String(validate=validate.OneOf(list(draws.ALLOCATIONS)))
    exclude_drawn_years = WholeNumber(
        strict=True, metadata={"description": "enterprises drawn in the last N years are "
                               "excluded (0..10, default 3)"}
    )
    risk_factor = fields.Float(
        metadata={"description": "weight = 1 + risk_factor x risk score (>= 0, default 1)"}
    )
    max_inclusion = fields.Float(
        metadata={"description": "highest inclusion probability (0, 1], default 0.9"}
    )
    inspectors_per_object = WholeNumber(strict=True, metadata={"description": "2..10"})
    rectification_days = WholeNumber(strict=True, metadata={"description": "1..365"})


class SamplingPlanPatchIn(SamplingPlanIn):
    """Some rules of a plan (used with ``partial=True``): the others keep their values."""


class SamplingPlanOut(Schema):
    id = fields.Integer()
    name = fields.String()
    regulator_id = fields.Integer()
    region_code = fields.String()
    category_ids = fields.List(fields.Integer())
    period_start = fields.Date()
    period_end = fields.Date()
    size_ratio = fields.Float(allow_none=True)
    size_count = fields.Integer(allow_none=True)
    min_ratio = fields.Float()
    stratification = fields.Function(lambda p: p.stratification.value)
    allocation = fields.String()
    exclude_drawn_years = fields.Integer()
    risk_factor = fields.Float()
    max_inclusion = fields.Float()
    inspectors_per_object = fields.Integer()
    rectification_days = fields.Integer()
    created_at = fields.AwareDateTime()


class SamplingDrawIn(TrimmedSchema):
    seed = fields.Raw(
        allow_none=True,
        metadata={"type": "string", "description": "a whole number 0..2^128-1 (JSON number or "
                  "decimal string); or give seed_text"},
    )
    seed_text = fields.String(
        allow_none=True,
        metadata={"description": "a public text the seed is derived from, e.g. a lottery "
                  "result: SHA-256 of the normalised UTF-8 text, first 16 bytes"},
    )
    complaint_declaration_ids = fields.List(
        DbId(strict=True), load_default=list,
        metadata={"description": "declarations checked outside the random draw (举报触发)"},
    )
    complaint_ids = fields.List(
        DbId(strict=True), load_default=list,
        metadata={"description": "open complaints of the region whose objects are checked "
                  "outside the random draw"},
    )


class SamplingDrawOut(Schema):
    id = fields.Integer()
    number = fields.String()
    plan_id = fields.Integer()
    plan_name = fields.Function(lambda d: d.plan.name)
    region_code = fields.Function(lambda d: d.plan.region_code)
    status = fields.Function(lambda d: d.status.value)
    seed = fields.String(metadata={"description": "the 128-bit integer seed (decimal)"})
    seed_source = fields.String(metadata={"description": "the public text it came from"})
    method = fields.String()
    params = fields.Dict(
        metadata={"description": "exactly what supervision.sampling.method.redo takes"}
    )
    population_hash = fields.String()
    population_size = fields.Integer()
    excluded_count = fields.Integer()
    sample_size = fields.Integer()
    drawn_at = fields.AwareDateTime()
    publicised_at = fields.AwareDateTime(allow_none=True)


class SamplingItemOut(Schema):
    position = fields.Integer()
    declaration_id = fields.Integer()
    version_id = fields.Integer()
    enterprise_id = fields.Integer()
    enterprise = fields.String()
    uscc = fields.String()
    standard_code = fields.String()
    region_code = fields.String()
    stratum = fields.String()
    reason = fields.String(metadata={"description": "random | risk_weighted | complaint"})
    reason_label = fields.String()
    inclusion_probability = fields.Float()
    risk_score = fields.Float(metadata={"description": "regulators only"})
    inspection_id = fields.Integer(allow_none=True, metadata={"description": "regulators only"})
    inspector_ids = fields.List(fields.Integer(), metadata={"description": "regulators only"})


class SamplingExclusionOut(Schema):
    declaration_id = fields.Integer()
    enterprise = fields.String()
    stratum = fields.String()
    reason = fields.String(metadata={"description": "as recorded in the population"})
    reason_text = fields.String()


class SamplingAllocationOut(Schema):
    stratum = fields.String()
    population = fields.Integer(metadata={"description": "the random frame of the stratum"})
    sample = fields.Integer(metadata={"description": "drawn at random"})
    excluded = fields.Integer()
    complaint = fields.Integer()


class SamplingRedoSampleOut(Schema):
    position = fields.Integer()
    id = fields.Integer()
    stratum = fields.String()
    reason = fields.String()
    pi = fields.Float()


class SamplingRedoOut(Schema):
    draw_number = fields.String()
    identical = fields.Boolean()
    recorded_hash = fields.String()
    population_hash = fields.String(allow_none=True)
    hash_matches = fields.Boolean()
    error = fields.String()
    only_stored = fields.List(fields.Integer())
    only_redone = fields.List(fields.Integer())
    changed = fields.List(fields.Dict())
    order_differs = fields.Boolean()
    sample = fields.List(fields.Nested(SamplingRedoSampleOut))


class SamplingRedoUploadIn(Schema):
    population = Upload(
        metadata={"description": "a population CSV (plain or gzip'd); default: the recorded one"}
    )
    params = Upload(metadata={"description": "the draw parameters (JSON); default: the recorded"})


class SamplingInspectorIn(TrimmedSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    organisation = fields.String(validate=validate.Length(max=200))
    speciality = fields.String(validate=validate.Length(max=200))
    tied_enterprise_ids = fields.List(
        DbId(strict=True),
        metadata={"description": "enterprises the inspector is recused from"},
    )
    tied_usccs = fields.List(
        fields.String(),
        metadata={"description": "the same, by unified social credit code (replaces the ids)"},
    )
    tied_region_codes = fields.List(
        fields.String(),
        metadata={"description": "行政区划 codes whose enterprises the inspector is recused from"},
    )
    active = fields.Boolean()


class SamplingInspectorPatchIn(SamplingInspectorIn):
    """Some details of an inspector (used with ``partial=True``)."""


class SamplingInspectorOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    organisation = fields.String()
    speciality = fields.String()
    tied_enterprise_ids = fields.List(fields.Integer())
    tied_region_codes = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.AwareDateTime()
