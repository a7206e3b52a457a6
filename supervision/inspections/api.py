"""JSON API of inspections and rectification (/api/v1/supervision/inspections).

Thin: parse with a load schema (``schemas.py``), call ``supervision.inspections.operations``,
dump with the schema of the audience. Bearer tokens only (``core.auth``). A regulator sees and
acts within its region: anything outside answers 404 (ids reveal nothing); an enterprise reads
only the results recorded against itself and answers only its own rectification orders; the
public reads published results (complaints: ``supervision.complaints.api``). Refused input
answers 422 with the field it is about (``errors.json["checklist.drafting_format"]``).
"""

from __future__ import annotations

from flask import jsonify
from flask_babel import gettext as _

from core.api_helpers import Blueprint, abort, paginated
from core.auth import api_roles_required, api_user
from core.extensions import db
from core.models import Role
from supervision.inspections import operations as inspections
from supervision.inspections.schemas import (
    AnswerIn,
    EnterpriseInspectionOut,
    FollowUpIn,
    InspectionArgs,
    InspectionOut,
    PublicResultOut,
    RectificationOut,
    ResultCountsOut,
    ResultIn,
    ResultsArgs,
)
from supervision.models import Inspection, InspectionStatus, RectificationOrder

blp = Blueprint(
    "api_inspections",
    __name__,
    url_prefix="/api/v1/supervision/inspections",
    description="Spot-check inspections (results, 一公开) and rectification orders (整改)",
)


_documented = blp.documented
regulator_only = blp.roles_only(Role.REGULATOR)
enterprise_only = blp.roles_only(Role.ENTERPRISE)
public = blp.public

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


_paginated = paginated


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


