"""Marshmallow schemas of the 领跑者 JSON API (/api/v1/ranking).

Load schemas check the *shape* of a request and return the plan dict of the
``ranking.plans`` contract; the business rules (≥ 3 core indicators, cut order, floors,
leader rule) stay in the operations, which answer 422 with dotted field paths. Dump schemas are
split by audience: the public sees published and preview lists, the evaluation body its own
plans, runs, exclusions and objections (with the objector's contact), an enterprise its own
positions.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.i18n import render_coded
from core.schemas import DbId, TrimmedSchema, WholeNumber
from ranking.models import ObjectionStatus, PlanStatus, RunKind, RunStatus

LEADER_KINDS = ["top_tier_all", "best_n", "best_share"]
COMPOSITE_METHODS = ["anchored", "topsis"]


_Trimmed = TrimmedSchema


# --------------------------------------------------------------------------- load schemas


class PlanIndicatorIn(Schema):
    """A core indicator (核心指标), tied to a benchmark indicator of the plan's category."""

    benchmark_indicator_id = DbId(strict=True, required=True)
    floor_kind = fields.String(
        load_default="mandatory", validate=validate.OneOf(["mandatory", "recommended"])
    )
    floor = fields.Float(
        load_default=None,
        allow_none=True,
        metadata={"description": "the lowest tier never goes below it; default: the benchmark's "
                  "mandatory limit or recommended value (floor_kind)"},
    )
    cut_mode = fields.String(
        load_default="values", validate=validate.OneOf(["values", "percentiles"])
    )
    cuts = fields.List(
        fields.Float(),
        required=True,
        metadata={"description": "tier cut points, best first, strictly ordered in the "
                  "indicator's direction (values) or increasing percentiles in (0, 100)"},
    )
    weight = fields.Float(load_default=1.0)
    best_reference = fields.Float(
        load_default=None,
        allow_none=True,
        metadata={"description": "the value scoring 1.0 (anchored composite); default: grade 1"},
    )


class EntryRulesIn(Schema):
    exclude_mingshi_on_core = fields.Boolean(load_default=True)
    require_references_valid = fields.Boolean(load_default=True)
    inspection_window_days = fields.Integer(
        strict=True, load_default=1095, validate=validate.Range(min=0, max=36500)
    )


class LeaderRuleIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(LEADER_KINDS))
    n = WholeNumber(strict=True, load_default=None, allow_none=True)
    share = fields.Float(
        load_default=None, allow_none=True, metadata={"description": "in (0, 1], best_share"}
    )
    star_cuts = fields.List(
        fields.Float(),
        load_default=list,
        metadata={"description": "composite-score cuts for stars, strictly descending"},
    )


class PlanIn(_Trimmed):
    """An evaluation plan (评估方案), in the shape of the ``ranking.plans`` contract."""

    category_id = DbId(strict=True, required=True)
    year = fields.Integer(strict=True, required=True, validate=validate.Range(min=2000, max=2100))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    composite_method = fields.String(
        load_default="anchored", validate=validate.OneOf(COMPOSITE_METHODS)
    )
    publicity_days = fields.Integer(
        strict=True, load_default=10, validate=validate.Range(min=1, max=365)
    )
    entry_rules = fields.Nested(EntryRulesIn, load_default=lambda: EntryRulesIn().load({}))
    leader_rule = fields.Nested(
        LeaderRuleIn, load_default=lambda: {"kind": "top_tier_all", "n": None, "share": None,
                                           "star_cuts": []}
    )
    indicators = fields.List(
        fields.Nested(PlanIndicatorIn),
        required=True,
        metadata={"description": "at least 3 core indicators"},
    )


class PlanPatchIn(PlanIn):
    """Some fields of a plan (used with ``partial=True``): the others keep their values."""


class PublicityIn(Schema):
    start = fields.Date(
        load_default=None, allow_none=True, metadata={"description": "default: today"}
    )


class ObjectionIn(_Trimmed):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    contact = fields.String(required=True, validate=validate.Length(min=1, max=120))
    text = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    entry_id = DbId(
        strict=True,
        load_default=None,
        allow_none=True,
        metadata={"description": "the entry of the list the objection is about (optional)"},
    )


class ResolveIn(_Trimmed):
    accept = fields.Boolean(
        required=True, metadata={"description": "true: accept and re-run; false: reject"}
    )
    response = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4000),
        metadata={"description": "the reason, required both ways"},
    )


class EntriesArgs(Schema):
    indicator_key = fields.String(
        load_default=None,
        validate=validate.Length(max=40),
        metadata={"description": "order by this core indicator's tier (then enterprise name)"},
    )


# --------------------------------------------------------------------------- dump schemas


class PlanIndicatorOut(Schema):
    key = fields.String(attribute="benchmark_code")
    benchmark_indicator_id = fields.Integer()
    name = fields.Method("get_name")
    direction = fields.String()
    unit = fields.String()
    floor_kind = fields.String()
    floor = fields.Float()
    cut_mode = fields.String()
    cuts = fields.List(fields.Float())
    weight = fields.Float()
    best_reference = fields.Float(allow_none=True)

    def get_name(self, obj) -> str:
        return obj.benchmark.name if obj.benchmark is not None else obj.benchmark_code


class PlanOut(Schema):
    id = fields.Integer()
    plan_key = fields.String()
    version_no = fields.Integer()
    status = fields.Enum(PlanStatus, by_value=True)
    category_id = fields.Integer()
    category = fields.Function(lambda p: p.category.name)
    year = fields.Integer()
    title = fields.String()
    composite_method = fields.String()
    publicity_days = fields.Integer()
    entry_rules = fields.Dict()
    leader_rule = fields.Dict()
    indicators = fields.List(fields.Nested(PlanIndicatorOut))
    created_at = fields.AwareDateTime()


class RunOut(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    plan_key = fields.Function(lambda r: r.plan.plan_key)
    kind = fields.Enum(RunKind, by_value=True)
    official = fields.Function(lambda r: r.kind is RunKind.OFFICIAL)
    status = fields.Enum(RunStatus, by_value=True)
    list_version = fields.Integer()
    previous_run_id = fields.Integer(allow_none=True)
    change_reason = fields.Function(lambda r: render_coded(r.change_reason))
    inputs_hash = fields.String()
    as_of = fields.AwareDateTime()
    entry_count = fields.Integer()
    eligible_count = fields.Integer()
    indicator_status = fields.Dict(
        metadata={"description": "per core indicator: ranked, or why not (all values equal)"}
    )
    created_at = fields.AwareDateTime()
    publicity_start = fields.Date(allow_none=True)
    publicity_end = fields.Date(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)


class ReasonOut(Schema):
    code = fields.String()
    detail = fields.String()


class EntryOut(Schema):
    """An entry of a run: the declaration, its values, tiers, composite and leader status."""

    id = fields.Integer()
    declaration_id = fields.Integer()
    enterprise_id = fields.Integer()
    enterprise = fields.String()
    standard_code = fields.String()
    standard_title = fields.String()
    product = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    eligible = fields.Boolean()
    values = fields.Dict()
    tiers = fields.Dict()
    composite = fields.Float(allow_none=True)
    composite_rank = fields.Integer(allow_none=True)
    is_leader = fields.Boolean()
    stars = fields.Integer()
    removed_reason = fields.String()
    exclusion_reasons = fields.List(fields.Nested(ReasonOut))


class TierEntryOut(Schema):
    id = fields.Integer()
    declaration_id = fields.Integer()
    enterprise = fields.String()
    values = fields.Dict()


class TierGroupOut(Schema):
    tier = fields.Integer()
    count = fields.Integer()
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    entries = fields.List(
        fields.Nested(TierEntryOut),
        metadata={"description": "listed without order (排名不分先后), by enterprise name"},
    )


class IndicatorTiersOut(Schema):
    key = fields.String()
    name = fields.String()
    unit = fields.String()
    direction = fields.String()
    ranked = fields.Boolean()
    reason = fields.String(allow_none=True)
    tiers = fields.List(fields.Nested(TierGroupOut))


class LeaderOut(Schema):
    """The label data of a leader: enterprise, standard, product and model, year, stars."""

    entry_id = fields.Integer()
    declaration_id = fields.Integer()
    enterprise = fields.String()
    uscc = fields.String()
    standard_code = fields.String()
    standard_title = fields.String()
    product = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    year = fields.Integer()
    stars = fields.Integer()
    composite = fields.Float(allow_none=True)
    composite_rank = fields.Integer(allow_none=True)
    removed = fields.Boolean()
    removed_reason = fields.String()


class ExclusionOut(Schema):
    entry_id = fields.Integer()
    declaration_id = fields.Integer()
    enterprise = fields.String()
    standard_code = fields.String()
    reasons = fields.List(fields.Nested(ReasonOut))


class ObjectionOut(Schema):
    """For the evaluation body: the objection with the objector's contact."""

    id = fields.Integer()
    run_id = fields.Integer()
    entry_id = fields.Integer(allow_none=True)
    name = fields.String()
    contact = fields.String()
    text = fields.String()
    status = fields.Enum(ObjectionStatus, by_value=True)
    response = fields.String()
    created_at = fields.AwareDateTime()
    resolved_at = fields.AwareDateTime(allow_none=True)
    resolved_run_id = fields.Integer(allow_none=True)


class ObjectionFiledOut(Schema):
    """For the objector: the receipt (no one else's data)."""

    id = fields.Integer()
    run_id = fields.Integer()
    status = fields.Enum(ObjectionStatus, by_value=True)
    created_at = fields.AwareDateTime()


class LeaderboardOut(Schema):
    """A plan's public leaderboards: the current official list and the preview."""

    plan = fields.Nested(PlanOut)
    official = fields.Nested(RunOut, allow_none=True)
    preview = fields.Nested(RunOut, allow_none=True)


class PositionOut(Schema):
    """Where one of the enterprise's declarations stands in a plan's current list."""

    plan_id = fields.Integer()
    plan_key = fields.String()
    plan_title = fields.String()
    run_id = fields.Integer()
    run_kind = fields.String()
    run_status = fields.String()
    entry = fields.Nested(EntryOut)
