"""JSON API of inspections, rectification and complaints (/api/v1/supervision/inspections).

Thin: parse with a load schema, call ``supervision.inspections`` / ``supervision.complaints``,
dump with the schema of the audience. Bearer tokens only (``core.auth``). A regulator sees and
acts within its region: anything outside answers 404 (ids reveal nothing); an enterprise reads
only the results recorded against itself and answers only its own rectification orders; the
public reads published results and files complaints (no token; rate-limited per client address
with ``COMPLAINT_RATE_LIMIT``). Refused input answers 422 with the field it is about
(``errors.json["checklist.drafting_format"]``).
"""

from __future__ import annotations

from http import HTTPStatus

from flask import abort as flask_abort
from flask import jsonify, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import HTTPException

from core.auth import api_roles_required, api_user
from core.extensions import db, limiter
from core.models import Role
from core.schemas import TrimmedSchema
from supervision import complaints, inspections
from supervision.inspection_views import _complaint_limit
from supervision.models import (
    CHECKLIST,
    Complaint,
    ComplaintStatus,
    Inspection,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    RectificationOrder,
    RectificationStatus,
)

blp = Blueprint(
    "api_inspections",
    __name__,
    url_prefix="/api/v1/supervision/inspections",
    description="Spot-check inspections (results, 一公开), rectification orders (整改) and "
    "complaints (举报)",
)


def _documented(*codes: int):
    def deco(func):
        for code in codes:
            func = blp.alt_response(code, response=HTTPStatus(code).name)(func)
        return func

    return deco


def regulator_only(func):
    return api_roles_required(Role.REGULATOR)(_documented(401, 403)(func))


def enterprise_only(func):
    return api_roles_required(Role.ENTERPRISE)(_documented(401, 403)(func))


def public(func):
    return blp.doc(security=[])(func)


def abort(code: int, message: str):
    try:
        flask_abort(code, description=message)
    except HTTPException as err:
        err.data = {"message": message}
        raise


# --------------------------------------------------------------------------- schemas


class FindingIn(Schema):
    item = fields.String(
        required=True, metadata={"description": f"a checklist item: {', '.join(CHECKLIST)}"}
    )
    text = fields.String(required=True, metadata={"description": "what is wrong"})


class ResultIn(TrimmedSchema):
    """A result with its checklist and findings (the rule: ``supervision.inspections``)."""

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
    rectification_days = fields.Integer(
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


class ComplaintIn(TrimmedSchema):
    enterprise_uscc = fields.String(
        load_default="", metadata={"description": "the enterprise's 统一社会信用代码"}
    )
    enterprise_id = fields.Integer(strict=True, load_default=None, allow_none=True)
    declaration_id = fields.Integer(
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
    declaration_id = fields.Integer(
        strict=True, load_default=None, allow_none=True,
        metadata={"description": "default: the declaration the complaint names"},
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


class ComplaintArgs(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(
        [s.value for s in ComplaintStatus]))


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


# --------------------------------------------------------------------------- lookups


def _regional_inspection(inspection_id: int) -> Inspection:
    inspection = db.session.get(Inspection, inspection_id)
    if inspection is None or not inspections.in_region(api_user(), inspection.region_code):
        abort(404, _("Inspection %(id)d not found.", id=inspection_id))
    return inspection


def _regional_order(order_id: int) -> RectificationOrder:
    order = db.session.get(RectificationOrder, order_id)
    if order is None or not inspections.in_region(api_user(), order.inspection.region_code):
        abort(404, _("Rectification order %(id)d not found.", id=order_id))
    return order


def _regional_complaint(complaint_id: int) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None or not inspections.in_region(api_user(), complaint.region_code):
        abort(404, _("Complaint %(id)d not found.", id=complaint_id))
    return complaint


def _paginated(stmt, pagination_parameters):
    page = db.paginate(
        stmt,
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
        error_out=False,
    )
    pagination_parameters.item_count = page.total
    return page.items


# --------------------------------------------------------------------------- inspections


@blp.route("", methods=["GET"])
@regulator_only
@blp.arguments(InspectionArgs, location="query")
@blp.response(200, InspectionOut(many=True))
@blp.paginate(page_size=20, max_page_size=100)
def list_inspections(args, pagination_parameters):
    """The inspections of the caller's region, newest first."""
    return _paginated(inspections.inspections_for(api_user(), **args), pagination_parameters)


@blp.route("/<int:inspection_id>", methods=["GET"])
@api_roles_required(Role.REGULATOR, Role.ENTERPRISE)
@blp.response(200, InspectionOut)
@_documented(401, 403, 404)
def get_inspection(inspection_id: int):
    """One inspection: a regulator of its region, or the enterprise once its result is
    recorded (without the complaint, the compliance record and the inspectors)."""
    user = api_user()
    if user.role is Role.ENTERPRISE:
        inspection = db.session.get(Inspection, inspection_id)
        if (
            inspection is None
            or inspection.enterprise_id != user.enterprise_id
            or inspection.status is InspectionStatus.ASSIGNED
        ):
            abort(404, _("Inspection %(id)d not found.", id=inspection_id))
        return jsonify(EnterpriseInspectionOut().dump(inspection))
    return _regional_inspection(inspection_id)


@blp.route("/<int:inspection_id>/result", methods=["POST"])
@regulator_only
@blp.arguments(ResultIn)
@blp.response(200, InspectionOut)
@_documented(404, 422)
def record_result(data, inspection_id: int):
    """Record the result with the whole checklist and the findings. 不符合 orders rectification
    and goes onto the compliance record (the enterprise loses its 领跑者 places)."""
    return inspections.record_result(_regional_inspection(inspection_id), data, user=api_user())


@blp.route("/<int:inspection_id>/publish", methods=["POST"])
@regulator_only
@blp.response(200, InspectionOut)
@_documented(404, 422)
def publish_result(inspection_id: int):
    """Publish a recorded result on the public results page (一公开)."""
    return inspections.publish_result(_regional_inspection(inspection_id), user=api_user())


@blp.route("/mine", methods=["GET"])
@enterprise_only
@blp.response(200, EnterpriseInspectionOut(many=True))
def my_findings():
    """The results recorded against the calling enterprise, with its rectification orders."""
    enterprise = api_user().enterprise
    if enterprise is None:
        abort(403, _("This account is not linked to an enterprise."))
    return inspections.findings_of(enterprise)


# --------------------------------------------------------------------------- rectification


@blp.route("/rectifications/<int:order_id>/answer", methods=["POST"])
@enterprise_only
@blp.arguments(AnswerIn)
@blp.response(200, RectificationOut)
@_documented(404, 422)
def answer_rectification(data, order_id: int):
    """The enterprise reports what it rectified (its own orders only)."""
    user = api_user()
    order = db.session.get(RectificationOrder, order_id)
    if order is None or order.enterprise_id != user.enterprise_id:
        abort(404, _("Rectification order %(id)d not found.", id=order_id))
    return inspections.answer_rectification(order, data["answer"], enterprise=user.enterprise)


@blp.route("/rectifications/<int:order_id>/close", methods=["POST"])
@regulator_only
@blp.arguments(FollowUpIn)
@blp.response(200, RectificationOut)
@_documented(404, 422)
def close_rectification(data, order_id: int):
    """Close an order: the follow-up verified the rectification (follow_up required)."""
    return inspections.close_rectification(
        _regional_order(order_id), data["follow_up"], user=api_user()
    )


@blp.route("/rectifications/<int:order_id>/overdue", methods=["POST"])
@regulator_only
@blp.arguments(FollowUpIn)
@blp.response(200, RectificationOut)
@_documented(404, 422)
def mark_overdue(data, order_id: int):
    """Mark an order overdue once its deadline has passed."""
    return inspections.mark_order_overdue(
        _regional_order(order_id), user=api_user(), follow_up=data["follow_up"]
    )


# --------------------------------------------------------------------------- public results


@blp.route("/results", methods=["GET"])
@public
@blp.arguments(ResultsArgs, location="query")
@blp.response(200, PublicResultOut(many=True))
@blp.paginate(page_size=20, max_page_size=100)
def public_results(args, pagination_parameters):
    """Published results (一公开), newest publication first; no token needed."""
    return _paginated(
        inspections.published_results(result=args["result"], q=args["q"]), pagination_parameters
    )


@blp.route("/results/counts", methods=["GET"])
@public
@blp.response(200, ResultCountsOut)
def public_result_counts():
    """How many published results each grade has (the data of the results page's chart)."""
    counts = inspections.result_counts()
    return {**counts, "total": sum(counts.values())}


# --------------------------------------------------------------------------- complaints


@blp.route("/complaints")
class Complaints(MethodView):
    @regulator_only
    @blp.arguments(ComplaintArgs, location="query")
    @blp.response(200, ComplaintOut(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    def get(self, args, pagination_parameters):
        """The caller's inbox: complaints about enterprises of its region, newest first."""
        return _paginated(
            complaints.complaints_for(api_user(), status=args["status"]), pagination_parameters
        )

    @limiter.limit(_complaint_limit)
    @public
    @blp.arguments(ComplaintIn)
    @blp.response(201, ComplaintReceiptOut)
    @_documented(422, 429)
    def post(self, data):
        """File a complaint (举报) about an enterprise; anyone may, no token needed. It goes to
        the regulators of the enterprise's region."""
        return complaints.file_complaint(
            data, fingerprint=complaints.fingerprint(request.remote_addr)
        )


@blp.route("/complaints/status", methods=["POST"])
@limiter.limit(_complaint_limit)
@public
@blp.arguments(ComplaintStatusIn)
@blp.response(200, ComplaintStatusOut)
@_documented(404, 422, 429)
def complaint_status(data):
    """The status of a complaint, for whoever holds its receipt number and secret (no token).
    A wrong number and a wrong secret get the same 404."""
    found = complaints.status_of(data["number"], data["secret"])
    if found is None:
        abort(404, _("No complaint has this receipt number and secret; check both."))
    return found


@blp.route("/complaints/<int:complaint_id>", methods=["GET"])
@regulator_only
@blp.response(200, ComplaintOut)
@_documented(404)
def get_complaint(complaint_id: int):
    """One complaint of the caller's region, with the contact."""
    return _regional_complaint(complaint_id)


@blp.route("/complaints/<int:complaint_id>/dismiss", methods=["POST"])
@regulator_only
@blp.arguments(DismissIn)
@blp.response(200, ComplaintOut)
@_documented(404, 422)
def dismiss_complaint(data, complaint_id: int):
    """Dismiss an open complaint with the reason."""
    return complaints.dismiss(_regional_complaint(complaint_id), data["reason"], user=api_user())


@blp.route("/complaints/<int:complaint_id>/open-check", methods=["POST"])
@regulator_only
@blp.arguments(OpenCheckIn)
@blp.response(201, InspectionOut)
@_documented(404, 422)
def open_check(data, complaint_id: int):
    """Open a complaint-triggered check (outside the random draw, labelled so) with two
    inspectors drawn at random from the caller's active pool, recused from the enterprise."""
    return complaints.open_check(
        _regional_complaint(complaint_id), user=api_user(), declaration_id=data["declaration_id"]
    )


__all__ = ["blp"]
