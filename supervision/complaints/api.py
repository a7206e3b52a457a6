"""JSON API of complaints (举报) (/api/v1/supervision/inspections/complaints).

Thin: parse with a load schema, call ``supervision.complaints.operations``, dump with the schema
of the audience. Anyone files a complaint (no token; rate-limited per client address with
``COMPLAINT_RATE_LIMIT``); a regulator reads and decides those of its region, anything outside
answers 404 (ids reveal nothing). A complaint-triggered check answers with the inspection.
"""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_babel import gettext as _

from core.api_helpers import Blueprint, abort, paginated
from core.auth import api_user
from core.extensions import db, limiter
from core.models import Role
from supervision.complaints import operations as complaints
from supervision.complaints.schemas import (
    ComplaintArgs,
    ComplaintIn,
    ComplaintOut,
    ComplaintReceiptOut,
    ComplaintStatusIn,
    ComplaintStatusOut,
    DismissIn,
    OpenCheckIn,
)
from supervision.complaints.views import _complaint_limit
from supervision.inspections import operations as inspections
from supervision.inspections.schemas import InspectionOut
from supervision.models import Complaint

blp = Blueprint(
    "api_complaints",
    __name__,
    url_prefix="/api/v1/supervision/inspections/complaints",
    description="Complaints (举报): filed by anyone, read and handled by the regulator of the "
    "enterprise's region",
)


_documented = blp.documented
regulator_only = blp.roles_only(Role.REGULATOR)
public = blp.public


# --------------------------------------------------------------------------- lookups


def _regional_complaint(complaint_id: int) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None or not inspections.in_region(api_user(), complaint.region_code):
        abort(404, _("Complaint %(id)d not found.", id=complaint_id))
    return complaint


_paginated = paginated


@blp.route("")
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


@blp.route("/status", methods=["POST"])
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


@blp.route("/<int:complaint_id>", methods=["GET"])
@regulator_only
@blp.response(200, ComplaintOut)
@_documented(404)
def get_complaint(complaint_id: int):
    """One complaint of the caller's region, with the contact."""
    return _regional_complaint(complaint_id)


@blp.route("/<int:complaint_id>/dismiss", methods=["POST"])
@regulator_only
@blp.arguments(DismissIn)
@blp.response(200, ComplaintOut)
@_documented(404, 422)
def dismiss_complaint(data, complaint_id: int):
    """Dismiss an open complaint with the reason."""
    return complaints.dismiss(_regional_complaint(complaint_id), data["reason"], user=api_user())


@blp.route("/<int:complaint_id>/open-check", methods=["POST"])
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
