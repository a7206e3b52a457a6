"""Schemas of the risk-flag API: the list's filters and the flags as the API dumps them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.schemas import DbId
from supervision.flags import operations as flags
from supervision.flags import risk


class RiskFlagArgs(Schema):
    """Filters of the region list (query string)."""

    code = fields.String(
        load_default=None,
        validate=validate.OneOf(risk.FLAG_CODES),
        metadata={"description": "one kind of flag"},
    )
    severity = fields.String(load_default=None, validate=validate.OneOf(risk.SEVERITIES))
    category_id = DbId(
        load_default=None,
        metadata={"description": "product category id"},
    )
    region = fields.String(
        load_default=None,
        validate=validate.Regexp(
            r"^\d{6}$",
            error="Write the 6 digits of a 行政区划 code inside your region, e.g. 500112.",
        ),
        metadata={"description": "a sub-region of the caller's region (default: all of it)"},
    )
    status = fields.String(load_default="open", validate=validate.OneOf(flags.STATUSES))


class DeclarationRiskFlagArgs(Schema):
    include_cleared = fields.Boolean(
        load_default=True, metadata={"description": "also list cleared flags (history)"}
    )


class RiskFlagOut(Schema):
    id = fields.Integer()
    declaration_id = fields.Integer()
    version_id = fields.Integer()
    enterprise_id = fields.Integer()
    enterprise = fields.String(metadata={"description": "enterprise name (list only)"})
    standard_code = fields.String(metadata={"description": "standard number (list only)"})
    region_code = fields.String()
    category_id = fields.Integer(allow_none=True)
    code = fields.String(metadata={"description": f"one of {', '.join(risk.FLAG_CODES)}"})
    severity = fields.String(metadata={"description": "high | medium | low"})
    key = fields.String(metadata={"description": "what the flag is about within its version"})
    reason = fields.String(
        metadata={"description": "the evidence in words, in the request's language"}
    )
    evidence = fields.Dict(metadata={"description": "the figures behind the flag"})
    raised_at = fields.AwareDateTime()
    cleared_at = fields.AwareDateTime(allow_none=True)
    cleared_reason = fields.String()


class DeclarationRiskFlagsOut(Schema):
    declaration_id = fields.Integer()
    region_code = fields.String()
    risk_score = fields.Float(
        metadata={
            "description": "risk score over the open flags (what raises the chance of being drawn)"
        }
    )
    open = fields.List(fields.Nested(RiskFlagOut))
    cleared = fields.List(fields.Nested(RiskFlagOut))


class FlagRecomputeOut(Schema):
    job_id = fields.Integer()
    status = fields.String()
    queue = fields.String()
