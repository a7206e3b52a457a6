"""HTML pages of inspections and rectification (/supervision/inspections).

Thin on purpose: parse a form (``forms.py``) → call ``supervision.inspections.operations`` →
render or redirect. Refused input re-renders the page with status 422 and the message next to
the field (the request's after_request hook rolls back what an operation had flushed).

Who sees what:

* a regulator: the inspections of its region (``core.auth.region_covers``);
  anything outside answers 404, so ids reveal nothing; other roles get 403 on its pages;
* an enterprise: the results recorded against itself and its rectification orders only;
* the public (no login): published results (一公开) with a chart of the grades.

The complaint pages are ``supervision.complaints.views`` (same URL prefix).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user
from markupsafe import Markup

from core.auth import roles_required
from core.charts import HBar, HLayout, HRow, Segment, hbar_chart
from core.clock import local_date, local_today
from core.errors import ValidationFailed
from core.extensions import db
from core.forms import page_arg
from core.models import Role
from supervision.inspections import operations as inspections
from supervision.inspections.forms import (
    CHECK_LABELS,
    ActionForm,
    AnswerForm,
    FollowUpForm,
    RecordForm,
    apply_errors,
    apply_record_errors,
)
from supervision.inspections.operations import CHECKLIST_LABELS, RESULT_LABELS
from supervision.models import (
    CHECKLIST,
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

STATUS_LABELS = {
    "assigned": _l("Assigned, not yet recorded"),
    "recorded": _l("Recorded, not yet published"),
    "published": _lp("status", "Published"),
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
    """Counts by grade as a horizontal bar chart in SVG (``core.charts.hbar_chart``), in the
    order 符合, 符合但存在瑕疵, 不符合; an empty grade still shows a hairline at the axis."""
    order = [r.value for r in InspectionResult]
    counts = {r: int(counts.get(r, 0)) for r in order}
    layout = HLayout(width=width, left=210, span=width - 210 - 60, top=36, pitch=bar_height,
                     thickness=bar_height, gap=12, font_size=13, label_gap=8, text_gap=6,
                     text_size=13, min_width=1, bottom=20)
    rows = [
        HRow(labels[r], [HBar(
            [Segment(counts[r], RESULT_COLOURS[r],
                     {"class_": "result-bar", "data_result": r, "data_count": counts[r]})],
            text=str(counts[r]), text_attrs={"class_": "result-count"},
        )])
        for r in order
    ]
    chart = hbar_chart(rows, layout=layout, top_value=max([*counts.values(), 1]),
                       chart_id=chart_id, title=title, desc=desc)
    bars = [ResultBar(r, labels[r], counts[r], p.x, p.y, p.width, p.height)
            for r, p in zip(order, chart.placed, strict=True)]
    return ResultChart(chart.svg, bars, sum(counts.values()))


# --------------------------------------------------------------------------- lookups


def _page_arg() -> int:
    return page_arg()


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
        general = apply_errors(form, exc.errors)
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


