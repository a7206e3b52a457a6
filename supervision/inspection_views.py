"""HTML pages of inspections, rectification and complaints (/supervision/inspections).

Thin on purpose: parse a form → call ``supervision.inspections`` / ``supervision.complaints`` →
render or redirect. Refused input re-renders the page with status 422 and the message next to
the field (the request's after_request hook rolls back what an operation had flushed).

Who sees what:

* a regulator: the inspections and complaints of its region (``core.auth.region_covers``);
  anything outside answers 404, so ids reveal nothing; other roles get 403 on its pages;
* an enterprise: the results recorded against itself and its rectification orders only;
* the public (no login): published results (一公开) with a chart of the grades, and the
  complaint form (CSRF, rate-limited per client address: ``COMPLAINT_RATE_LIMIT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

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
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from core.auth import roles_required
from core.errors import ValidationFailed
from core.extensions import db, limiter
from core.models import Role
from declare.forms import DayField
from declare.models import Declaration, DeclarationStatus, Enterprise
from declare.queries import local_date, local_today
from supervision import complaints, inspections
from supervision.inspections import CHECKLIST_LABELS, RESULT_LABELS
from supervision.models import (
    CHECKLIST,
    Complaint,
    ComplaintStatus,
    Inspection,
    InspectionResult,
    InspectionStatus,
    RectificationOrder,
    RectificationStatus,
)

bp = Blueprint("inspections", __name__, url_prefix="/supervision/inspections")

regulator_only = roles_required(Role.REGULATOR)
enterprise_only = roles_required(Role.ENTERPRISE)

PER_PAGE = 30
DEFAULT_COMPLAINT_RATE_LIMIT = "5 per minute;30 per day"

STATUS_LABELS = {
    "assigned": _l("Assigned, not yet recorded"),
    "recorded": _l("Recorded, not yet published"),
    "published": _l("Published"),
}
ORIGIN_LABELS = {
    "random": _l("Random draw"),
    "risk_weighted": _l("Random draw (risk-weighted)"),
    "complaint": _l("Complaint-triggered (outside the random draw)"),
}
RECTIFICATION_LABELS = {
    "open": _l("Open: waiting for the enterprise"),
    "answered": _l("Answered: waiting for follow-up"),
    "closed": _l("Closed: rectification verified"),
    "overdue": _l("Overdue"),
}
COMPLAINT_LABELS = {
    "open": _l("Open"),
    "check_opened": _l("Check opened"),
    "dismissed": _l("Dismissed"),
    "closed": _l("Closed: the check finished"),
}
CHECK_LABELS = {"pass": _l("Pass"), "fail": _l("Fail"), "na": _l("Not applicable")}
RESULT_COLOURS = {"conforming": "#2e7d32", "defects": "#b26a00", "nonconforming": "#c62828"}


def _label(table: dict, value) -> str:
    value = getattr(value, "value", value)
    return str(table[value]) if value in table else str(value or "")


@bp.context_processor
def _helpers() -> dict:
    return {
        "result_label": lambda v: _label(RESULT_LABELS, v),
        "status_label": lambda v: _label(STATUS_LABELS, v),
        "origin_label": lambda v: _label(ORIGIN_LABELS, v),
        "rectification_label": lambda v: _label(RECTIFICATION_LABELS, v),
        "complaint_label": lambda v: _label(COMPLAINT_LABELS, v),
        "check_label": lambda v: _label(CHECK_LABELS, v),
        "item_label": lambda v: _label(CHECKLIST_LABELS, v),
        "CHECKLIST": CHECKLIST,
        "MANDATORY_ITEMS": inspections.MANDATORY_ITEMS,
        "InspectionStatus": InspectionStatus,
        "RectificationStatus": RectificationStatus,
        "ComplaintStatus": ComplaintStatus,
        "today": local_today(),
        "answered_late": _answered_late,
    }


def _answered_late(order: RectificationOrder) -> bool:
    """Answered after the deadline day (in Beijing time, as deadlines are)."""
    return order.answered_at is not None and local_date(order.answered_at) > order.deadline


def _strip(value):
    return value.strip() if isinstance(value, str) else value


# --------------------------------------------------------------------------- forms


class ActionForm(FlaskForm):
    """A button that changes state: nothing but the CSRF token."""


class RecordForm(FlaskForm):
    """The result with the checklist: one pass/fail/na choice and one finding per item.

    The fields only carry what was typed; ``inspections.record_result`` judges it and its
    messages come back on the field they are about (``apply_record_errors``).
    """

    result = RadioField(
        _l("Result"),
        choices=[SelectChoice(r.value, RESULT_LABELS[r.value]) for r in InspectionResult],
        validate_choice=False,
    )
    inspected_on = DayField(_l("Inspected on"), validators=[Optional()])
    requirements = TextAreaField(
        _l("Rectification requirements (does not conform only; empty: the failed findings)"),
        validators=[Optional(), Length(max=inspections.TEXT_MAX)],
        filters=[_strip],
        render_kw={"rows": 3},
    )
    rectification_days = StringField(
        _l("Rectification period in days (empty: the plan's or the default)"),
        validators=[Optional(), Length(max=5)],
        filters=[_strip],
        render_kw={"inputmode": "numeric"},
    )

    def check(self, item: str):
        return getattr(self, f"check_{item}")

    def finding(self, item: str):
        return getattr(self, f"finding_{item}")

    def to_data(self) -> dict:
        return {
            "result": self.result.data or "",
            "inspected_on": self.inspected_on.data,
            "requirements": self.requirements.data or "",
            "rectification_days": self.rectification_days.data or None,
            "checklist": {item: self.check(item).data or "" for item in CHECKLIST},
            "findings": [
                {"item": item, "text": self.finding(item).data}
                for item in CHECKLIST
                if self.finding(item).data
            ],
        }


for _item in CHECKLIST:
    setattr(
        RecordForm,
        f"check_{_item}",
        RadioField(
            CHECKLIST_LABELS[_item],
            choices=[SelectChoice(v, CHECK_LABELS[v]) for v in inspections.CHECK_VALUES],
            validate_choice=False,
        ),
    )
    setattr(
        RecordForm,
        f"finding_{_item}",
        TextAreaField(
            _l("Finding"),
            validators=[Optional(), Length(max=inspections.FINDING_MAX)],
            filters=[_strip],
            render_kw={"rows": 2},
        ),
    )


def apply_record_errors(form: RecordForm, errors: dict, findings: list[dict]) -> list[str]:
    """Put the operation's messages on the fields; return those that belong to none."""
    general = []
    for key, messages in errors.items():
        parts = key.split(".")
        target = None
        if parts[0] in ("result", "inspected_on", "requirements", "rectification_days"):
            target = getattr(form, parts[0])
        elif parts[0] == "checklist" and len(parts) == 2 and parts[1] in CHECKLIST:
            target = form.check(parts[1])
        elif parts[0] == "findings" and len(parts) >= 2 and parts[1].isdigit():
            pos = int(parts[1])
            if pos < len(findings):
                target = form.finding(findings[pos]["item"])
        if target is None:
            general.extend(messages)
        else:
            target.errors = list(target.errors) + list(messages)
    return general


class FollowUpForm(FlaskForm):
    follow_up = TextAreaField(
        _l("Follow-up (what was verified, or why the answer is not accepted)"),
        validators=[Optional(), Length(max=inspections.TEXT_MAX)],
        filters=[_strip],
        render_kw={"rows": 3},
    )


class AnswerForm(FlaskForm):
    answer = TextAreaField(
        _l("What was rectified"),
        validators=[Optional(), Length(max=inspections.TEXT_MAX)],
        filters=[_strip],
        render_kw={"rows": 4},
    )


class ComplaintForm(FlaskForm):
    """举报: anyone may file one; only the regulators of the enterprise's region read it."""

    enterprise_uscc = StringField(
        _l("Unified social credit code (统一社会信用代码) of the enterprise"),
        validators=[Optional(), Length(max=40)],
        filters=[_strip],
    )
    content = TextAreaField(
        _l("What is wrong (%(min)d to %(max)d characters)", min=complaints.CONTENT_MIN,
           max=complaints.CONTENT_MAX),
        validators=[Optional(), Length(max=complaints.CONTENT_MAX + 1000)],
        filters=[_strip],
        render_kw={"rows": 6},
    )
    contact = StringField(
        _l("Your contact (optional; only the regulator sees it)"),
        validators=[Optional(), Length(max=complaints.CONTACT_MAX)],
        filters=[_strip],
    )
    enterprise_id = HiddenField()
    declaration_id = HiddenField()


class DismissForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for dismissing"),
        validators=[Optional(), Length(max=complaints.REASON_MAX)],
        filters=[_strip],
        render_kw={"rows": 3},
    )


class OpenCheckForm(FlaskForm):
    declaration_id = SelectField(_l("Declaration to check"), validate_choice=False)


def _apply(form: FlaskForm, errors: dict) -> list[str]:
    general = []
    for key, messages in errors.items():
        field = getattr(form, key.split(".")[0], None)
        if field is not None and hasattr(field, "errors") and key.split(".")[0] != "meta":
            field.errors = list(field.errors) + list(messages)
        else:
            general.extend(messages)
    return general


# --------------------------------------------------------------------------- the result chart


@dataclass(frozen=True)
class ResultBar:
    result: str
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass
class ResultChart:
    svg: str
    bars: list[ResultBar]
    total: int


def result_chart(
    counts: dict[str, int], *, labels: dict[str, str], title: str, desc: str,
    chart_id: str = "results-chart", width: int = 560, bar_height: int = 34,
) -> ResultChart:
    """Counts by grade as a horizontal bar chart in SVG (server-side, no script), in the order
    符合, 符合但存在瑕疵, 不符合. Every text and attribute is escaped here."""
    left, right, top, gap = 210, 60, 36, 12
    order = [r.value for r in InspectionResult]
    top_count = max([counts.get(r, 0) for r in order] + [1])
    span = width - left - right
    height = top + len(order) * (bar_height + gap) + 8
    bars, parts = [], []
    for i, result in enumerate(order):
        n = int(counts.get(result, 0))
        y = top + i * (bar_height + gap)
        w = round(span * n / top_count, 2)
        bars.append(ResultBar(result, labels[result], n, left, y, w, bar_height))

    def attr(**kw) -> str:
        return " ".join(
            f"{k.rstrip('_').replace('_', '-')}={quoteattr(str(v))}" for k, v in kw.items()
        )

    parts.append(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" "
        + attr(viewBox=f"0 0 {width} {height}", width=width, height=height, role="img",
               class_="chart", id=chart_id, aria_labelledby=f"{chart_id}-title {chart_id}-desc")
        + ">"
    )
    parts.append(f"<title {attr(id=f'{chart_id}-title')}>{escape(title)}</title>")
    parts.append(f"<desc {attr(id=f'{chart_id}-desc')}>{escape(desc)}</desc>")
    for bar in bars:
        mid = bar.y + bar.height / 2 + 5
        parts.append(
            f"<text {attr(x=left - 8, y=mid, font_size=13, text_anchor='end', fill='#1f2933')}>"
            f"{escape(bar.label)}</text>"
        )
        drawn = max(bar.width, 1)  # an empty grade still shows a hairline at the axis
        rect = attr(x=bar.x, y=bar.y, width=drawn, height=bar.height,
                    fill=RESULT_COLOURS[bar.result], class_="result-bar",
                    data_result=bar.result, data_count=bar.count)
        count = attr(x=bar.x + drawn + 6, y=mid, font_size=13, fill="#1f2933",
                     class_="result-count")
        parts.append(f"<rect {rect}/>")
        parts.append(f"<text {count}>{bar.count}</text>")
    parts.append("</svg>")
    return ResultChart("".join(parts), bars, sum(b.count for b in bars))


# --------------------------------------------------------------------------- lookups


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _regional_inspection(inspection_id: int) -> Inspection:
    inspection = db.session.get(Inspection, inspection_id)
    if inspection is None or not inspections.in_region(current_user, inspection.region_code):
        abort(404)
    return inspection


def _regional_order(order_id: int) -> RectificationOrder:
    order = db.session.get(RectificationOrder, order_id)
    if order is None or not inspections.in_region(current_user, order.inspection.region_code):
        abort(404)
    return order


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


def _own_order(order_id: int) -> RectificationOrder:
    order = db.session.get(RectificationOrder, order_id)
    if order is None or order.enterprise_id != current_user.enterprise_id:
        abort(404)
    return order


# --------------------------------------------------------------------------- regulator


@bp.get("/")
@regulator_only
def index():
    args = {k: request.args.get(k) or None for k in ("status", "result", "origin")}
    stmt = inspections.inspections_for(current_user, **args)
    page = db.paginate(stmt, page=_page_arg(), per_page=PER_PAGE, error_out=False)
    return render_template(
        "supervision/inspections_list.html",
        page=page,
        args={k: v for k, v in args.items() if v},
        statuses=STATUS_LABELS,
        results=RESULT_LABELS,
        origins=ORIGIN_LABELS,
    )


def _render_detail(
    inspection: Inspection,
    *,
    status: int = 200,
    record_form: RecordForm | None = None,
    follow_up_form: FollowUpForm | None = None,
    errors: list[str] | None = None,
):
    if record_form is None and inspection.status is InspectionStatus.ASSIGNED:
        record_form = RecordForm(formdata=None)
        record_form.inspected_on.data = local_today()
    return render_template(
        "supervision/inspections_detail.html",
        inspection=inspection,
        order=inspection.rectification,
        inspectors=inspections.inspector_names([inspection]),
        default_days=inspections.rectification_days_for(inspection),
        form=record_form,
        follow_up_form=follow_up_form or FollowUpForm(formdata=None),
        action=ActionForm(),
        errors=errors or [],
    ), status


@bp.get("/<int:inspection_id>")
@regulator_only
def detail(inspection_id: int):
    return _render_detail(_regional_inspection(inspection_id))


@bp.post("/<int:inspection_id>/record")
@regulator_only
def record(inspection_id: int):
    inspection = _regional_inspection(inspection_id)
    form = RecordForm()
    if not form.validate_on_submit():
        return _render_detail(inspection, status=422, record_form=form)
    data = form.to_data()
    try:
        inspections.record_result(inspection, data, user=current_user)
    except ValidationFailed as exc:
        general = apply_record_errors(form, exc.errors, data["findings"])
        return _render_detail(inspection, status=422, record_form=form, errors=general)
    if inspection.result is InspectionResult.NONCONFORMING:
        flash(_("The result is recorded; rectification is ordered by %(day)s.",
                day=inspection.rectification.deadline.isoformat()), "success")
    else:
        flash(_("The result is recorded."), "success")
    return redirect(url_for("inspections.detail", inspection_id=inspection.id))


@bp.post("/<int:inspection_id>/publish")
@regulator_only
def publish(inspection_id: int):
    inspection = _regional_inspection(inspection_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        inspections.publish_result(inspection, user=current_user)
    except ValidationFailed as exc:
        messages = [m for ms in exc.errors.values() for m in ms]
        return _render_detail(inspection, status=422, errors=messages)
    flash(_("The result is published on the public results page."), "success")
    return redirect(url_for("inspections.detail", inspection_id=inspection.id))


def _follow_up(order_id: int, action: str):
    order = _regional_order(order_id)
    inspection = order.inspection
    form = FollowUpForm()
    if not form.validate_on_submit():
        return _render_detail(inspection, status=422, follow_up_form=form)
    try:
        if action == "close":
            inspections.close_rectification(order, form.follow_up.data, user=current_user)
        else:
            inspections.mark_order_overdue(order, user=current_user,
                                           follow_up=form.follow_up.data)
    except ValidationFailed as exc:
        general = _apply(form, exc.errors)
        return _render_detail(inspection, status=422, follow_up_form=form, errors=general)
    flash(_("The rectification order is closed.") if action == "close"
          else _("The rectification order is marked overdue."), "success")
    return redirect(url_for("inspections.detail", inspection_id=inspection.id,
                            _anchor="rectification"))


@bp.post("/rectifications/<int:order_id>/close")
@regulator_only
def rectification_close(order_id: int):
    return _follow_up(order_id, "close")


@bp.post("/rectifications/<int:order_id>/overdue")
@regulator_only
def rectification_overdue(order_id: int):
    return _follow_up(order_id, "overdue")


# --------------------------------------------------------------------------- enterprise


def _render_mine(*, status: int = 200, answer_forms: dict | None = None):
    if current_user.enterprise is None:
        abort(403)
    rows = inspections.findings_of(current_user.enterprise)
    answer_forms = answer_forms or {}
    for insp in rows:
        order = insp.rectification
        if order is not None:
            answer_forms.setdefault(
                order.id, AnswerForm(formdata=None, prefix=f"o{order.id}", answer=order.answer)
            )
    return render_template(
        "supervision/inspections_mine.html", inspections=rows, answer_forms=answer_forms
    ), status


@bp.get("/mine")
@enterprise_only
def mine():
    """Findings against me: the results recorded against the enterprise and its orders."""
    return _render_mine()


@bp.post("/mine/rectifications/<int:order_id>/answer")
@enterprise_only
def answer(order_id: int):
    order = _own_order(order_id)
    form = AnswerForm(prefix=f"o{order.id}")
    if not form.validate_on_submit():
        return _render_mine(status=422, answer_forms={order.id: form})
    try:
        inspections.answer_rectification(order, form.answer.data,
                                         enterprise=current_user.enterprise)
    except ValidationFailed as exc:
        for messages in exc.errors.values():
            form.answer.errors = list(form.answer.errors) + list(messages)
        return _render_mine(status=422, answer_forms={order.id: form})
    flash(_("Your answer is sent to the regulator."), "success")
    return redirect(url_for("inspections.mine", _anchor=f"order-{order.id}"))


# --------------------------------------------------------------------------- public


def chart_for(counts: dict[str, int]) -> ResultChart:
    labels = {k: str(v) for k, v in RESULT_LABELS.items()}
    total = sum(counts.values())
    return result_chart(
        counts,
        labels=labels,
        title=_("Published inspection results by grade"),
        desc=_("Bar chart of the %(n)s published results: %(parts)s.", n=total,
               parts=", ".join(f"{labels[k]} {counts.get(k, 0)}" for k in labels)),
    )


@bp.get("/results")
def results():
    """The public results page (一公开): every published result, with a chart of the grades."""
    result = request.args.get("result") or None
    q = (request.args.get("q") or "").strip()
    page = db.paginate(
        inspections.published_results(result=result, q=q),
        page=_page_arg(), per_page=PER_PAGE, error_out=False,
    )
    counts = inspections.result_counts()
    chart = chart_for(counts)
    return render_template(
        "supervision/inspections_results.html",
        page=page,
        counts=counts,
        chart=chart,
        chart_svg=Markup(chart.svg),  # noqa: S704 - built from escaped parts in result_chart
        results=RESULT_LABELS,
        args={k: v for k, v in {"result": result, "q": q}.items() if v},
        q=q,
        result=result,
    )


def _complaint_limit() -> str:
    return current_app.config.get("COMPLAINT_RATE_LIMIT", DEFAULT_COMPLAINT_RATE_LIMIT)


def _complaint_subject(form: ComplaintForm) -> tuple[Enterprise | None, Declaration | None]:
    """Who the complaint is about when the form came from a link (?declaration= / ?enterprise=)."""
    decl_arg = request.args.get("declaration") or form.declaration_id.data
    ent_arg = request.args.get("enterprise") or form.enterprise_id.data
    declaration = enterprise = None
    if decl_arg and str(decl_arg).isdigit():
        declaration = db.session.get(Declaration, int(decl_arg))
        if declaration is None or declaration.status is DeclarationStatus.DRAFT:
            declaration = None
        else:
            enterprise = declaration.enterprise
    if enterprise is None and ent_arg and str(ent_arg).isdigit():
        enterprise = db.session.get(Enterprise, int(ent_arg))
    form.declaration_id.data = str(declaration.id) if declaration is not None else ""
    form.enterprise_id.data = str(enterprise.id) if enterprise is not None else ""
    return enterprise, declaration


@bp.route("/complaints/new", methods=["GET", "POST"])
@limiter.limit(_complaint_limit, methods=["POST"])
def complaint_new():
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
                general = _apply(form, exc.errors)
                if general:
                    form.content.errors = list(form.content.errors) + general
            else:
                # The secret is shown once, on the receipt page the browser is sent to.
                session["complaint_receipt"] = {
                    "number": complaint.number,
                    "secret": complaint.secret,
                    "routed_to": complaint.routed_to,
                }
                return redirect(url_for("inspections.complaint_receipt"))
    return render_template(
        "supervision/complaints_new.html",
        form=form,
        enterprise=enterprise,
        declaration=declaration,
    ), status


@bp.get("/complaints/receipt")
def complaint_receipt():
    """The receipt after filing: the number and the secret, shown once."""
    receipt = session.pop("complaint_receipt", None)
    if not receipt:
        return redirect(url_for("inspections.complaint_status"))
    return render_template("supervision/complaints_receipt.html", receipt=receipt)


class ComplaintStatusForm(FlaskForm):
    """The complainant's lookup: the receipt number and the secret given with it."""

    number = StringField(_l("Receipt number"), validators=[Optional(), Length(max=40)],
                         filters=[_strip])
    secret = StringField(_l("Secret"), validators=[Optional(), Length(max=200)],
                         filters=[_strip])


@bp.route("/complaints/status", methods=["GET", "POST"])
@limiter.limit(_complaint_limit, methods=["POST"])
def complaint_status():
    """Public: the status of a complaint, for whoever holds its receipt number and secret."""
    form = ComplaintStatusForm()
    found = None
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        found = complaints.status_of(form.number.data, form.secret.data)
        if found is None:
            status = 404
            form.secret.errors = [
                _("No complaint has this receipt number and secret; check both.")
            ]
    return render_template(
        "supervision/complaints_status.html", form=form, complaint=found
    ), status


# --------------------------------------------------------------------------- complaints inbox


@bp.get("/complaints/unrouted")
@roles_required(Role.ADMIN)
def complaint_unrouted():
    """The admins' queue: complaints about enterprises of regions no regulator covers."""
    page = db.paginate(
        complaints.complaints_for(current_user, status=request.args.get("status") or None),
        page=_page_arg(), per_page=PER_PAGE, error_out=False,
    )
    status = request.args.get("status") or None
    return render_template(
        "supervision/complaints_inbox.html",
        page=page,
        statuses=COMPLAINT_LABELS,
        status=status,
        args={"status": status} if status else {},
        admin_queue=True,
    )


@bp.get("/complaints/unrouted/<int:complaint_id>")
@roles_required(Role.ADMIN)
def complaint_unrouted_detail(complaint_id: int):
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
def complaint_inbox():
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
def complaint_detail(complaint_id: int):
    return _render_complaint(_regional_complaint(complaint_id))


@bp.post("/complaints/<int:complaint_id>/dismiss")
@regulator_only
def complaint_dismiss(complaint_id: int):
    complaint = _regional_complaint(complaint_id)
    form = DismissForm()
    if not form.validate_on_submit():
        return _render_complaint(complaint, status=422, dismiss_form=form)
    try:
        complaints.dismiss(complaint, form.reason.data, user=current_user)
    except ValidationFailed as exc:
        general = _apply(form, exc.errors)
        return _render_complaint(complaint, status=422, dismiss_form=form, errors=general)
    flash(_("The complaint is dismissed; the reason is recorded."), "success")
    return redirect(url_for("inspections.complaint_detail", complaint_id=complaint.id))


@bp.post("/complaints/<int:complaint_id>/open-check")
@regulator_only
def complaint_open_check(complaint_id: int):
    complaint = _regional_complaint(complaint_id)
    form = OpenCheckForm()
    if not form.validate_on_submit():
        return _render_complaint(complaint, status=422, check_form=form)
    try:
        inspection = complaints.open_check(
            complaint, user=current_user, declaration_id=form.declaration_id.data or None
        )
    except ValidationFailed as exc:
        general = _apply(form, exc.errors)
        return _render_complaint(complaint, status=422, check_form=form, errors=general)
    flash(_("Complaint-triggered check %(number)s is opened.", number=inspection.number),
          "success")
    return redirect(url_for("inspections.detail", inspection_id=inspection.id))
