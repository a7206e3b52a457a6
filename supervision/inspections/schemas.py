"""Schemas of the inspections API: load schemas (…In, …Args) and dump schemas per audience
(the regulator, the enterprise, the public)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.schemas import TrimmedSchema, WholeNumber
from supervision.models import (
    CHECKLIST,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    RectificationStatus,
)


class FindingIn(Schema):
    item = fields.String(
        required=True, metadata={"description": f"a checklist item: {', '.join(CHECKLIST)}"}
    )
    text = fields.String(required=True, metadata={"description": "what is wrong"})


class ResultIn(TrimmedSchema):
    """A result with its checklist and findings (the rule: ``operations.record_result``)."""

    result = fields.String(
        required=True,
        metadata={"description": "conforming (符合) | defects (符合但存在瑕疵) | "
                  "nonconforming (不符合)"},
    )
    checklist = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "every checklist item → pass | fail | na: "
                  + ", ".join(CHECKLIST)},
    )
    findings = fields.List(fields.Nested(FindingIn), load_default=list)
    inspected_on = fields.Date(required=True, metadata={"description": "not in the future"})
    requirements = fields.String(
        load_default="",
        metadata={"description": "rectification requirements (nonconforming); default: the "
                  "findings of the failed items"},
    )
    rectification_days = WholeNumber(
        strict=True,
        load_default=None,
        allow_none=True,
        metadata={"description": "days to rectify (1 to 365); default: the sampling plan's, "
                  "else RECTIFICATION_DAYS (30)"},
    )


class AnswerIn(TrimmedSchema):
    answer = fields.String(required=True, metadata={"description": "what was rectified"})


class FollowUpIn(TrimmedSchema):
    follow_up = fields.String(
        load_default="",
        metadata={"description": "required to close, and to mark an answered order overdue"},
    )


class InspectionArgs(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(
        [s.value for s in InspectionStatus]))
    result = fields.String(load_default=None, validate=validate.OneOf(
        [r.value for r in InspectionResult]))
    origin = fields.String(load_default=None, validate=validate.OneOf(
        [o.value for o in InspectionOrigin]))


class ResultsArgs(Schema):
    result = fields.String(load_default=None, validate=validate.OneOf(
        [r.value for r in InspectionResult]))
    q = fields.String(load_default="", validate=validate.Length(max=100),
                      metadata={"description": "enterprise name, USCC or inspection number"})


class FindingOut(Schema):
    item = fields.String()
    text = fields.String()


class RectificationOut(Schema):
    id = fields.Integer()
    inspection_id = fields.Integer()
    status = fields.Enum(RectificationStatus, by_value=True)
    requirements = fields.String()
    ordered_on = fields.Date()
    deadline = fields.Date()
    answer = fields.String()
    answered_at = fields.AwareDateTime(allow_none=True)
    follow_up = fields.String()
    closed_at = fields.AwareDateTime(allow_none=True)


class InspectionOut(Schema):
    """For the regulator of the region (and, without complaint and record ids, the enterprise)."""

    id = fields.Integer()
    number = fields.String()
    origin = fields.Enum(InspectionOrigin, by_value=True)
    draw_item_id = fields.Integer(allow_none=True)
    complaint_id = fields.Integer(allow_none=True)
    declaration_id = fields.Integer()
    version_id = fields.Integer()
    standard_code = fields.String(attribute="version.number")
    standard_title = fields.String(attribute="version.title")
    enterprise_id = fields.Integer()
    enterprise = fields.String(attribute="enterprise.name")
    uscc = fields.String(attribute="enterprise.uscc")
    region_code = fields.String()
    inspector_ids = fields.List(fields.Integer())
    status = fields.Enum(InspectionStatus, by_value=True)
    result = fields.Enum(InspectionResult, by_value=True, allow_none=True)
    checklist = fields.Dict(keys=fields.String(), values=fields.String())
    findings = fields.List(fields.Nested(FindingOut))
    inspected_on = fields.Date(allow_none=True)
    recorded_at = fields.AwareDateTime(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)
    compliance_record_id = fields.Integer(allow_none=True)
    rectification = fields.Nested(RectificationOut, allow_none=True)


class EnterpriseInspectionOut(InspectionOut):
    """For the enterprise: its result, findings and order; not who complained, nor the
    compliance record id, nor the inspectors' ids."""

    class Meta:
        exclude = ("complaint_id", "compliance_record_id", "inspector_ids")


class PublicResultOut(Schema):
    """A published result (一公开): what the public results page shows."""

    number = fields.String()
    origin = fields.Enum(InspectionOrigin, by_value=True)
    enterprise = fields.String(attribute="enterprise.name")
    uscc = fields.String(attribute="enterprise.uscc")
    declaration_id = fields.Integer()
    version_no = fields.Integer(attribute="version.version_no")
    standard_code = fields.String(attribute="version.number")
    standard_title = fields.String(attribute="version.title")
    result = fields.Enum(InspectionResult, by_value=True)
    findings = fields.List(fields.Nested(FindingOut))
    inspected_on = fields.Date()
    published_at = fields.AwareDateTime()


class ResultCountsOut(Schema):
    conforming = fields.Integer()
    defects = fields.Integer()
    nonconforming = fields.Integer()
    total = fields.Integer()
