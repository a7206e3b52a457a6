"""Schemas of the complaints API: what anyone files, what the regulator reads and decides,
and the receipt the person who filed it gets."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.schemas import DbId, TrimmedSchema
from supervision.complaints import operations as complaints
from supervision.models import ComplaintStatus


class ComplaintIn(TrimmedSchema):
    enterprise_uscc = fields.String(
        load_default="", metadata={"description": "the enterprise's 统一社会信用代码"}
    )
    enterprise_id = DbId(strict=True, load_default=None, allow_none=True)
    declaration_id = DbId(
        strict=True, load_default=None, allow_none=True,
        metadata={"description": "one of the enterprise's published declarations (optional)"},
    )
    content = fields.String(
        required=True,
        metadata={"description": f"{complaints.CONTENT_MIN} to {complaints.CONTENT_MAX} "
                  "characters"},
    )
    contact = fields.String(
        load_default="", metadata={"description": "optional; only the regulator sees it"}
    )


class DismissIn(TrimmedSchema):
    reason = fields.String(required=True)


class OpenCheckIn(Schema):
    declaration_id = DbId(
        strict=True, load_default=None, allow_none=True,
        metadata={"description": "default: the declaration the complaint names"},
    )


class ComplaintArgs(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(
        [s.value for s in ComplaintStatus]))


class ComplaintOut(Schema):
    """For the regulator of the enterprise's region: the complaint with the contact."""

    id = fields.Integer()
    number = fields.String()
    enterprise_id = fields.Integer()
    enterprise = fields.String(attribute="enterprise.name")
    uscc = fields.String(attribute="enterprise.uscc")
    declaration_id = fields.Integer(allow_none=True)
    region_code = fields.String()
    content = fields.String()
    contact = fields.String()
    submitted_at = fields.AwareDateTime()
    status = fields.Enum(ComplaintStatus, by_value=True)
    handled_at = fields.AwareDateTime(allow_none=True)
    resolution = fields.String()


class ComplaintReceiptOut(Schema):
    """For the person who filed it: the receipt, nothing about anyone else. ``secret`` is
    given once, when the complaint is filed; with the number it shows the status."""

    number = fields.String()
    secret = fields.String(metadata={"description": "only in the answer to the filing"})
    status = fields.Enum(ComplaintStatus, by_value=True)
    submitted_at = fields.AwareDateTime()
    routed_to = fields.String(
        metadata={"description": "regulator: the regulators of the enterprise's region; "
                                 "admins: the platform operators, no regulator covers it yet"}
    )


class ComplaintStatusIn(TrimmedSchema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=40))
    secret = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ComplaintStatusOut(Schema):
    """For the holder of the receipt number and secret: where the complaint stands."""

    number = fields.String()
    status = fields.Enum(ComplaintStatus, by_value=True)
    submitted_at = fields.AwareDateTime()
    handled_at = fields.AwareDateTime(allow_none=True)
    resolution = fields.String()
    routed_to = fields.String()
