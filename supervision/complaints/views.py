"""HTML pages of complaints (举报), under /supervision/inspections/complaints.

Thin on purpose: parse a form → call ``supervision.complaints.operations`` → render or redirect.
Anyone may file a complaint (CSRF, rate-limited per client address: ``COMPLAINT_RATE_LIMIT``);
only the regulators of the enterprise's region read it (anything outside answers 404). The
pages share the label helpers of the inspection pages (a complaint opens a check).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from core.auth import roles_required
from core.errors import ValidationFailed
from core.extensions import db, limiter
from core.models import Role
from core.validation import db_id
from declare.models import Declaration, DeclarationStatus, Enterprise
from supervision.complaints import operations as complaints
from supervision.complaints.forms import (
    ComplaintForm,
    ComplaintStatusForm,
    DismissForm,
    OpenCheckForm,
)
from supervision.inspections import operations as inspections
from supervision.inspections.forms import apply_errors
from supervision.inspections.views import (
    COMPLAINT_LABELS,
    PER_PAGE,
    _helpers,
    _page_arg,
    regulator_only,
)
from supervision.models import Complaint, Inspection

bp = Blueprint("complaints", __name__, url_prefix="/supervision/inspections")
bp.context_processor(_helpers)

DEFAULT_COMPLAINT_RATE_LIMIT = "5 per minute;30 per day"


def _regional_complaint(complaint_id: int) -> Complaint:
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None or not inspections.in_region(current_user, complaint.region_code):
        abort(404)
    return complaint


def _unrouted_complaint(complaint_id: int) -> Complaint:
    """A complaint in the admins' queue (no active regulator covers its region)."""
    complaint = db.session.get(Complaint, complaint_id)
    if complaint is None or complaints.routed_to(complaint.region_code) != "admins":
        abort(404)
    return complaint


def _complaint_limit() -> str:
    return current_app.config.get("COMPLAINT_RATE_LIMIT", DEFAULT_COMPLAINT_RATE_LIMIT)


def _complaint_subject(form: ComplaintForm) -> tuple[Enterprise | None, Declaration | None]:
    """Who the complaint is about when the form came from a link (?declaration= / ?enterprise=)."""
    decl_arg = request.args.get("declaration") or form.declaration_id.data
    ent_arg = request.args.get("enterprise") or form.enterprise_id.data
    declaration = enterprise = None
    if db_id(decl_arg):
        declaration = db.session.get(Declaration, db_id(decl_arg))
        if declaration is None or declaration.status is DeclarationStatus.DRAFT:
            declaration = None
        else:
            enterprise = declaration.enterprise
    if enterprise is None and db_id(ent_arg):
        enterprise = db.session.get(Enterprise, db_id(ent_arg))
    form.declaration_id.data = str(declaration.id) if declaration is not None else ""
    form.enterprise_id.data = str(enterprise.id) if enterprise is not None else ""
    return enterprise, declaration


@bp.route("/complaints/new", methods=["GET", "POST"])
@limiter.limit(_complaint_limit, methods=["POST"])
def new():
    """The public complaint form (举报); no login."""
    form = ComplaintForm()
    enterprise, declaration = _complaint_subject(form)
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                complaint = complaints.file_complaint(
                    {
                        "enterprise_uscc": form.enterprise_uscc.data,
                        "enterprise_id": form.enterprise_id.data or None,
                        "declaration_id": form.declaration_id.data or None,
                        "content": form.content.data,
                        "contact": form.contact.data,
                    },
                    fingerprint=complaints.fingerprint(request.remote_addr),
                )
            except ValidationFailed as exc:
                general = apply_errors(form, exc.errors)
                if general:
                    form.content.errors = list(form.content.errors) + general
            else:
                # The secret is shown once, on the receipt page the browser is sent to.
                session["complaint_receipt"] = {
                    "number": complaint.number,
                    "secret": complaint.secret,
                    "routed_to": complaint.routed_to,
                }
                return redirect(url_for("complaints.receipt"))
    return render_template(
        "supervision/complaints_new.html",
        form=form,
        enterprise=enterprise,
        declaration=declaration,
    ), status


@bp.get("/complaints/receipt")
def receipt():
    """The receipt after filing: the number and the secret, shown once."""
    found = session.pop("complaint_receipt", None)
    if not found:
        return redirect(url_for("complaints.status"))
    return render_template("supervision/complaints_receipt.html", receipt=found)


@bp.route("/complaints/status", methods=["GET", "POST"])
@limiter.limit(_complaint_limit, methods=["POST"])
def status():
    """Public: the status of a complaint, for whoever holds its receipt number and secret."""
    form = ComplaintStatusForm()
    found = None
    code = 200
    if request.method == "POST" and form.validate_on_submit():
        found = complaints.status_of(form.number.data, form.secret.data)
        if found is None:
            code = 404
            form.secret.errors = [
                _("No complaint has this receipt number and secret; check both.")
            ]
    return render_template(
        "supervision/complaints_status.html", form=form, complaint=found
    ), code


@bp.get("/complaints/unrouted")
@roles_required(Role.ADMIN)
def unrouted():
    """The admins' queue: complaints about enterprises of regions no regulator covers."""
    state = request.args.get("status") or None
    page = db.paginate(
        complaints.complaints_for(current_user, status=state),
        page=_page_arg(), per_page=PER_PAGE, error_out=False,
    )
    return render_template(
        "supervision/complaints_inbox.html",
        page=page,
        statuses=COMPLAINT_LABELS,
        status=state,
        args={"status": state} if state else {},
        admin_queue=True,
    )


@bp.get("/complaints/unrouted/<int:complaint_id>")
@roles_required(Role.ADMIN)
def unrouted_detail(complaint_id: int):
    complaint = _unrouted_complaint(complaint_id)
    checks = db.session.scalars(
        select(Inspection).where(Inspection.complaint_id == complaint.id).order_by(Inspection.id)
    ).all()
    return render_template(
        "supervision/complaints_detail.html", complaint=complaint, checks=checks,
        errors=[], readonly=True,
    )


@bp.get("/complaints")
@regulator_only
def inbox():
    status = request.args.get("status") or None
    page = db.paginate(
        complaints.complaints_for(current_user, status=status),
        page=_page_arg(), per_page=PER_PAGE, error_out=False,
    )
    return render_template(
        "supervision/complaints_inbox.html",
        page=page,
        statuses=COMPLAINT_LABELS,
        status=status,
        args={"status": status} if status else {},
    )


def _render_complaint(
    complaint: Complaint,
    *,
    status: int = 200,
    dismiss_form: DismissForm | None = None,
    check_form: OpenCheckForm | None = None,
    errors: list[str] | None = None,
):
    options = complaints.checkable_declarations(complaint)
    check_form = check_form or OpenCheckForm(formdata=None)
    check_form.declaration_id.choices = [
        SelectChoice(str(d.id), f"{d.current_version.number} {d.current_version.title}")
        for d in options
    ]
    if not check_form.declaration_id.data and complaint.declaration_id is not None:
        check_form.declaration_id.data = str(complaint.declaration_id)
    checks = db.session.scalars(
        select(Inspection)
        .where(Inspection.complaint_id == complaint.id)
        .order_by(Inspection.id)
    ).all()
    return render_template(
        "supervision/complaints_detail.html",
        complaint=complaint,
        checks=checks,
        dismiss_form=dismiss_form or DismissForm(formdata=None),
        check_form=check_form,
        options=options,
        errors=errors or [],
    ), status


@bp.get("/complaints/<int:complaint_id>")
@regulator_only
def detail(complaint_id: int):
    return _render_complaint(_regional_complaint(complaint_id))


@bp.post("/complaints/<int:complaint_id>/dismiss")
@regulator_only
def dismiss(complaint_id: int):
    complaint = _regional_complaint(complaint_id)
    form = DismissForm()
    if not form.validate_on_submit():
        return _render_complaint(complaint, status=422, dismiss_form=form)
    try:
        complaints.dismiss(complaint, form.reason.data, user=current_user)
    except ValidationFailed as exc:
        general = apply_errors(form, exc.errors)
        return _render_complaint(complaint, status=422, dismiss_form=form, errors=general)
    flash(_("The complaint is dismissed; the reason is recorded."), "success")
    return redirect(url_for("complaints.detail", complaint_id=complaint.id))


@bp.post("/complaints/<int:complaint_id>/open-check")
@regulator_only
def open_check(complaint_id: int):
    complaint = _regional_complaint(complaint_id)
    form = OpenCheckForm()
    if not form.validate_on_submit():
        return _render_complaint(complaint, status=422, check_form=form)
    try:
        inspection = complaints.open_check(
            complaint, user=current_user, declaration_id=form.declaration_id.data or None
        )
    except ValidationFailed as exc:
        general = apply_errors(form, exc.errors)
        return _render_complaint(complaint, status=422, check_form=form, errors=general)
    flash(_("Complaint-triggered check %(number)s is opened.", number=inspection.number),
          "success")
    return redirect(url_for("inspections.detail", inspection_id=inspection.id))
