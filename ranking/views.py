"""The HTML pages of 企业标准"领跑者": evaluation bodies' plans and runs, the public leaderboards
with their charts, publicity and objections, exports, and an enterprise's own positions.

Thin on purpose: parse a form → call an operation (``ranking.plans``, ``ranking.publicity``) →
render or redirect. Refused input re-renders with status 422 (the request's after_request hook
rolls back what an operation had flushed). An evaluation body sees only its own plans: another body's plan answers 404 (ids
reveal nothing); other roles get 403 on evaluator pages.

Leaderboard pages read a fixed number of SQL statements whatever the size of the category
(pinned in tests/ranking/test_views.py): the entries of one run come in one query, the
composite list one page at a time. A run never changes but for its status, so its public pages
are served from core.page_cache: an anonymous visitor's page is validated by one small query
(the pointers and the run's status) and answered with 304 or the body rendered once; the
charts and tiers (the costly part) are rendered once per run and language for everyone
(tests/ranking/test_cache.py).
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from benchmarks.models import BenchmarkIndicator, ProductCategory
from core import page_cache
from core.auth import roles_required
from core.clock import local_today
from core.errors import ValidationFailed
from core.extensions import db, limiter
from core.forms import page_arg, query_int
from core.models import OutboxJob, Role
from core.validation import db_id
from declare.models import Enterprise
from declare import labels as label_drawing
from ranking import boards, charts, export, plans, queries
from ranking import labels as leader_labels
from ranking import publicity as publicity_ops  # the view `publicity` below is the page
from ranking.forms import (
    COMPOSITE_METHODS,
    CUT_MODES,
    FLOOR_KINDS,
    ActionForm,
    ObjectionForm,
    PlanForm,
    PublicityForm,
    ResolveForm,
    apply_errors,
    plan_form_data,
)
from ranking.models import (
    EvaluationPlan,
    Objection,
    ObjectionStatus,
    PlanStatus,
    RankingRun,
    RunEntry,
    RunKind,
    RunStatus,
)

bp = Blueprint("ranking", __name__)

evaluator_only = roles_required(Role.EVALUATOR)
enterprise_only = roles_required(Role.ENTERPRISE)

TIER_PER_PAGE = 100
EXCLUSIONS_SHOWN = 200  # on the run page; the exports hold them all

PLAN_STATUS_LABELS = {
    "draft": _l("Draft"),
    "active": _l("Active"),
    "superseded": _l("Superseded by a newer version"),
}
RUN_STATUS_LABELS = {
    "computed": _l("Computed"),
    "publicity": _l("Under publicity (公示)"),
    "published": _l("Published (list status)"),
    "superseded": _l("Superseded by a newer list version"),
    "discarded": _l("Discarded"),
}
JOB_STATUS_LABELS = {
    "pending": _l("Waiting"),
    "queued": _l("Queued"),
    "running": _l("Running"),
    "retrying": _l("Retrying"),
    "done": _l("Done"),
    "failed": _l("Failed"),
}
OBJECTION_STATUS_LABELS = {
    "open": _l("Open"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
}
LEADER_KIND_LABELS = {
    "top_tier_all": _l("Top tier in every core indicator"),
    "best_n": _l("Best N by composite score"),
    "best_share": _l("Best share by composite score"),
}


def _label(table: dict, value) -> str:
    value = getattr(value, "value", value)
    return str(table[value]) if value in table else str(value or "")


def _choice_label(choices, value) -> str:
    return next((str(c.label) for c in choices if c.value == value), str(value or ""))


@bp.context_processor
def _helpers() -> dict:
    return {
        "tier_label": boards.tier_label,
        "plan_status_label": lambda s: _label(PLAN_STATUS_LABELS, s),
        "run_status_label": lambda s: _label(RUN_STATUS_LABELS, s),
        "job_status_label": lambda s: _label(JOB_STATUS_LABELS, s),
        "objection_status_label": lambda s: _label(OBJECTION_STATUS_LABELS, s),
        "leader_kind_label": lambda s: _label(LEADER_KIND_LABELS, s),
        "choice_label": _choice_label,
        "FLOOR_KINDS": FLOOR_KINDS,
        "CUT_MODES": CUT_MODES,
        "COMPOSITE_METHODS": COMPOSITE_METHODS,
        "exclusion_text": boards.exclusion_text,
        "indicator_names": boards.indicator_names,
        "fmt": charts.fmt,
        "locale": str(get_locale()),
        "RunKind": RunKind,
        "RunStatus": RunStatus,
        "PlanStatus": PlanStatus,
    }


# --------------------------------------------------------------------------- ownership


def _own_plan(plan_id: int) -> EvaluationPlan:
    plan = db.session.get(EvaluationPlan, plan_id)
    if plan is None or plan.evaluator_id != current_user.id:
        abort(404)
    return plan


def _own_run(run_id: int) -> RankingRun:
    run = db.session.get(RankingRun, run_id)
    if run is None or run.plan.evaluator_id != current_user.id:
        abort(404)
    return run


def _own_objection(objection_id: int) -> Objection:
    objection = db.session.get(Objection, objection_id)
    if objection is None or objection.run.plan.evaluator_id != current_user.id:
        abort(404)
    return objection


def _visible_run(run_id: int) -> RankingRun:
    """A run the visitor may read: public (preview, publicity, published) or their own."""
    run = db.session.get(RankingRun, run_id)
    if run is None:
        abort(404)
    if boards.public_run(run) is None and not _is_plan_owner(run.plan):
        abort(404)
    return run


def _is_plan_owner(plan: EvaluationPlan) -> bool:
    return (
        current_user.is_authenticated
        and current_user.role is Role.EVALUATOR
        and plan.evaluator_id == current_user.id
    )


def _page_arg() -> int:
    return page_arg()


# --------------------------------------------------------------------------- plan form


def _categories() -> list[ProductCategory]:
    return list(db.session.scalars(select(ProductCategory).order_by(ProductCategory.code)))


def _benchmarks() -> list[BenchmarkIndicator]:
    """Benchmark indicators in force (the newest edition per category and code)."""
    rows = db.session.scalars(
        select(BenchmarkIndicator).order_by(
            BenchmarkIndicator.category_id, BenchmarkIndicator.code, BenchmarkIndicator.valid_from
        )
    ).all()
    newest: dict[tuple[int, str], BenchmarkIndicator] = {}
    for row in rows:
        newest[(row.category_id, row.code)] = row
    return list(newest.values())


def _prepare(form: PlanForm) -> list[BenchmarkIndicator]:
    locale = str(get_locale())
    cats = _categories()
    benches = _benchmarks()
    names = {c.id: c.label(locale) for c in cats}
    form.set_choices(
        [SelectChoice("", _("Choose a category"))]
        + [SelectChoice(str(c.id), f"{c.label(locale)} ({c.code})") for c in cats],
        [SelectChoice("", "—")]
        + [
            SelectChoice(
                str(b.id),
                f"{b.label(locale)} ({b.unit}, "
                + (_("higher is better") if b.direction == "higher" else _("lower is better"))
                + ")",
                render_kw={"data-category": str(b.category_id)},
                optgroup=names.get(b.category_id, ""),
            )
            for b in benches
        ],
    )
    return benches


def _render_plan_form(form: PlanForm, benches, plan=None, status: int = 200):
    form.add_blank_rows()
    return render_template(
        "ranking/plan_form.html", form=form, plan=plan, benchmarks=benches
    ), status


def _plan_form_submit(form: PlanForm, benches, plan=None):
    if not form.validate():
        return _render_plan_form(form, benches, plan, 422)
    data, positions = form.to_data()
    try:
        saved = (
            plans.create_plan(current_user, data)
            if plan is None
            else plans.update_plan(plan, data, user=current_user)
        )
    except ValidationFailed as exc:
        apply_errors(form, exc.errors, positions)
        return _render_plan_form(form, benches, plan, 422)
    flash(_("The evaluation plan is saved."), "success")
    return redirect(url_for("ranking.plan_manage", plan_id=saved.id))


# --------------------------------------------------------------------------- evaluator pages


@bp.get("/my/plans")
@evaluator_only
def my_plans():
    return render_template("ranking/my_plans.html", plans=list(queries.plans_of(current_user)))


@bp.route("/my/plans/new", methods=["GET", "POST"])
@evaluator_only
def plan_new():
    form = PlanForm()
    benches = _prepare(form)
    if not form.is_submitted():
        if db_id(request.args.get("category_id")):
            form.category_id.data = request.args["category_id"]
        if not form.year.data:
            form.year.data = local_today().year
        return _render_plan_form(form, benches)
    return _plan_form_submit(form, benches)


@bp.route("/my/plans/<int:plan_id>/edit", methods=["GET", "POST"])
@evaluator_only
def plan_edit(plan_id: int):
    plan = _own_plan(plan_id)
    if request.method == "GET":
        form = PlanForm(data=plan_form_data(plan))
        benches = _prepare(form)
        return _render_plan_form(form, benches, plan)
    form = PlanForm()
    benches = _prepare(form)
    return _plan_form_submit(form, benches, plan)


@bp.get("/my/plans/<int:plan_id>")
@evaluator_only
def plan_manage(plan_id: int):
    return _render_plan_manage(_own_plan(plan_id))


def _render_plan_manage(plan: EvaluationPlan, *, errors: list[str] | None = None,
                        status: int = 200):
    runs = db.session.scalars(
        select(RankingRun)
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(EvaluationPlan.plan_key == plan.plan_key, RankingRun.kind == RunKind.OFFICIAL)
        .order_by(RankingRun.created_at.desc(), RankingRun.id.desc())
        .limit(50)
    ).all()
    preview = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    return render_template(
        "ranking/plan_manage.html",
        plan=plan,
        runs=runs,
        preview=preview,
        jobs=queries.plan_jobs(plan),
        action=ActionForm(),
        errors=errors or [],
    ), status


def _messages(exc: ValidationFailed) -> list[str]:
    return [m for messages in exc.errors.values() for m in messages]


@bp.post("/my/plans/<int:plan_id>/activate")
@evaluator_only
def plan_activate(plan_id: int):
    plan = _own_plan(plan_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        plans.activate_plan(plan, user=current_user)
    except ValidationFailed as exc:
        return _render_plan_manage(plan, errors=_messages(exc), status=422)
    flash(_("The plan is active: preview leaderboards are regenerated as declarations change."),
          "success")
    return redirect(url_for("ranking.plan_manage", plan_id=plan.id))


@bp.post("/my/plans/<int:plan_id>/run")
@evaluator_only
def plan_run(plan_id: int):
    plan = _own_plan(plan_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        job = plans.start_official_run(plan, current_user)
    except ValidationFailed as exc:
        return _render_plan_manage(plan, errors=_messages(exc), status=422)
    db.session.flush()
    flash(_("The official ranking run is queued (job %(id)s).", id=job.id), "info")
    return redirect(url_for("ranking.plan_manage", plan_id=plan.id, _anchor="jobs"))


def _job_dict(job: OutboxJob) -> dict:
    return {
        "id": job.id,
        "status": job.status,
        "status_label": _label(JOB_STATUS_LABELS, job.status),
        "progress": getattr(job, "progress", None),
        "message": getattr(job, "progress_message", None) or "",
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "finished": job.status in ("done", "failed"),
    }


@bp.get("/my/plans/<int:plan_id>/jobs.json")
@evaluator_only
def plan_jobs_json(plan_id: int):
    """Job status and progress for the plan page's polling script."""
    plan = _own_plan(plan_id)
    jobs = [_job_dict(j) for j in queries.plan_jobs(plan)]
    return jsonify({"jobs": jobs, "running": any(not j["finished"] for j in jobs)})


@bp.get("/my/runs/<int:run_id>")
@evaluator_only
def run_manage(run_id: int):
    run = _own_run(run_id)
    return _render_run(run)


def _render_run(run: RankingRun, *, status: int = 200, publicity_form=None, resolve_forms=None,
                errors: list[str] | None = None):
    board = boards.build_board(run)
    page, labels = boards.composite_page(run, _page_arg())
    leaders, removed, leader_labels = boards.leaders_with_labels(run)
    exclusions = queries.exclusions_of(run)
    shown_exclusions = exclusions[:EXCLUSIONS_SHOWN]
    objections = db.session.scalars(
        select(Objection).where(Objection.run_id == run.id).order_by(Objection.created_at)
    ).all()
    resolve_forms = resolve_forms or {}
    for o in objections:
        resolve_forms.setdefault(o.id, ResolveForm(formdata=None, prefix=f"o{o.id}"))
    return render_template(
        "ranking/run_manage.html",
        run=run,
        plan=run.plan,
        board=board,
        page=page,
        labels=labels,
        leaders=leaders,
        removed=removed,
        leader_labels=leader_labels,
        exclusions=shown_exclusions,
        exclusion_total=len(exclusions),
        exclusion_labels=boards.entry_labels(shown_exclusions),
        objections=objections,
        resolve_forms=resolve_forms,
        publicity_form=publicity_form or PublicityForm(formdata=None),
        action=ActionForm(),
        errors=errors or [],
        open_objections=sum(1 for o in objections if o.status is ObjectionStatus.OPEN),
    ), status


@bp.post("/my/runs/<int:run_id>/publicity")
@evaluator_only
def run_publicity(run_id: int):
    run = _own_run(run_id)
    form = PublicityForm()
    if not form.validate_on_submit():
        return _render_run(run, status=422, publicity_form=form)
    try:
        publicity_ops.start_publicity(run, form.start.data, user=current_user)
    except ValidationFailed as exc:
        for key, messages in exc.errors.items():
            target = form.start if key in ("start", "publicity_start") else None
            if target is not None:
                target.errors = list(target.errors) + messages
        other = [m for k, ms in exc.errors.items() if k not in ("start", "publicity_start")
                 for m in ms]
        return _render_run(run, status=422, publicity_form=form, errors=other)
    flash(_("The list is under publicity (公示) until %(end)s.",
            end=run.publicity_end.isoformat() if run.publicity_end else ""), "success")
    return redirect(url_for("ranking.run_manage", run_id=run.id))


@bp.post("/my/objections/<int:objection_id>/resolve")
@evaluator_only
def objection_resolve(objection_id: int):
    objection = _own_objection(objection_id)
    run = objection.run
    form = ResolveForm(prefix=f"o{objection.id}")
    if not form.validate_on_submit():
        return _render_run(run, status=422, resolve_forms={objection.id: form})
    try:
        publicity_ops.resolve_objection(
            objection,
            accept=form.decision.data == "accept",
            response=form.response.data,
            user=current_user,
        )
    except ValidationFailed as exc:
        for messages in exc.errors.values():
            form.response.errors = list(form.response.errors) + messages
        return _render_run(run, status=422, resolve_forms={objection.id: form})
    if form.decision.data == "accept":
        flash(_("The objection is accepted; the ranking is run again."), "success")
    else:
        flash(_("The objection is rejected; the reason is recorded."), "success")
    return redirect(url_for("ranking.run_manage", run_id=run.id, _anchor="objections"))


@bp.post("/my/runs/<int:run_id>/publish")
@evaluator_only
def run_publish(run_id: int):
    run = _own_run(run_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        publicity_ops.publish_run(run, current_user)
    except ValidationFailed as exc:
        return _render_run(run, status=422, errors=_messages(exc))
    flash(_("The leader list is published; it can no longer change."), "success")
    return redirect(url_for("ranking.leaderboard", plan_key=run.plan.plan_key))


# --------------------------------------------------------------------------- public pages


def _storable(*known: str) -> bool:
    """Only URLs made of the page's own query arguments are stored: anyone could otherwise
    fill the store with ``?x=1``, ``?x=2``, ... variants of one page."""
    return set(request.args) <= set(known)


@bp.get("/leaderboards")
def leaderboards():
    """The public list of plans, one page at a time, with only the columns it shows."""
    per_page = current_app.config["LEADERBOARDS_PER_PAGE"]
    plans, runs = queries.public_plan_page(_page_arg(), per_page)
    rows = [
        (
            plan,
            boards.public_run(runs.get((plan.plan_key, RunKind.OFFICIAL))),
            runs.get((plan.plan_key, RunKind.PREVIEW)),
        )
        for plan in plans.items
    ]
    if not page_cache.is_anonymous_visitor():
        return page_cache.private_response(
            render_template("ranking/leaderboards.html", rows=rows, page=plans)
        )
    # Any pointer switch may change this list: no validator cheaper than the page itself, so
    # the ETag is the body's digest (it saves the transfer, not the rendering).
    response = Response(
        page_cache.render_shared("ranking/leaderboards.html", rows=rows, page=plans),
        mimetype="text/html",
    )
    response.add_etag()
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["LEADERBOARD_MAX_AGE"]
    return response.make_conditional(request)


@bp.get("/leaderboards/<plan_key>")
def leaderboard(plan_key: str):
    """The plan's current leaderboard: the official list if public, else the preview;
    ``?list=preview`` shows the preview beside a public official list."""
    state = boards.board_state(plan_key)
    official, preview = state.official, state.preview
    if official is None and preview is None:
        abort(404)
    wanted = request.args.get("list")
    if wanted == "preview" and preview is not None:
        run = preview
    elif wanted == "official" and official is not None:
        run = official
    else:
        run = official or preview
    return _board_page(
        run,
        state.catalogue,
        official=official,
        preview=preview,
        list_arg="preview" if run is preview and official is not None else None,
        max_age=current_app.config["LEADERBOARD_MAX_AGE"],
    )


@bp.get("/leaderboards/runs/<int:run_id>")
def run_board(run_id: int):
    """One run's leaderboard at its own URL (the permanent link of a list version): served as
    long as the run exists, superseded or not; it changes only with the run's status."""
    run, mark = boards.run_and_mark(run_id)
    if run is None or (boards.public_run(run) is None and not _is_plan_owner(run.plan)):
        abort(404)
    final = run.status in boards.FINAL_RUN_STATUSES
    return _board_page(
        run,
        mark,
        permalink=True,
        max_age=current_app.config["FINAL_RUN_MAX_AGE" if final else "RUN_PAGE_MAX_AGE"],
    )


def _board_page(run: RankingRun, mark: int, *, max_age: int, official=None, preview=None,
                list_arg: str | None = None, permalink: bool = False):
    """A leaderboard page: for an anonymous visitor from the page store (304 on a repeat),
    for a logged-in user rendered for them around the run's stored charts and tiers."""
    page_no = _page_arg()
    context = {
        "official": official,
        "preview": preview,
        "list_arg": list_arg,
        "permalink": permalink,
    }
    if not page_cache.is_anonymous_visitor():
        return page_cache.private_response(
            _render_board(render_template, run, mark, page_no, context)
        )
    parts = (boards.run_validator(run), mark, official is not None, preview is not None,
             list_arg, page_no, permalink)
    return page_cache.public_response(
        "leaderboard",
        parts,
        lambda: _render_board(page_cache.render_shared, run, mark, page_no, context),
        max_age=max_age,
        storable=_storable("page", "list"),
    )


def _render_board(render, run: RankingRun, mark: int, page_no: int, context: dict) -> str:
    page, labels = boards.composite_page(run, page_no)
    leaders, removed, leader_labels = boards.leaders_with_labels(run)
    parts = _board_parts(run, mark, removed)
    return render(
        "ranking/leaderboard.html",
        run=run,
        plan=run.plan,
        page=page,
        labels=labels,
        leaders=leaders,
        removed=removed,
        leader_labels=leader_labels,
        board_chart=Markup(parts["chart"]),  # noqa: S704 - rendered by Jinja (autoescaped)
        board_indicators=Markup(parts["indicators"]),  # noqa: S704 - same
        **context,
    )


def _board_parts(run: RankingRun, mark: int, removed: list) -> dict:
    """The composite chart and the single-indicator tiers with their charts: the costly part
    of a leaderboard (every eligible entry is read), the same on every page of the composite
    list and for every visitor, so built once per run (and language) and kept."""

    def build() -> dict:
        board = boards.build_board(run)
        return {
            part: render_template("ranking/_board_parts.html", part=part, board=board, run=run,
                                  removed=removed)
            for part in ("chart", "indicators")
        }

    return page_cache.cached_fragment(("board", run.id, run.created_at, mark), build)


@bp.get("/leaderboards/runs/<int:run_id>/indicators/<key>")
def indicator_tiers(run_id: int, key: str):
    """The full single-indicator ranking of a run, one tier at a time, paginated."""
    run = _visible_run(run_id)
    pi = next((p for p in run.plan.indicators if boards.indicator_key(p) == key), None)
    if pi is None:
        abort(404)
    tier = query_int("tier", 1)
    stmt = (
        select(RunEntry)
        .join(Enterprise, Enterprise.id == RunEntry.enterprise_id)
        .where(RunEntry.run_id == run.id, RunEntry.eligible.is_(True))
        .where(RunEntry.tiers[key].as_integer() == tier)
        .order_by(Enterprise.name, RunEntry.id)
    )
    page = db.paginate(stmt, page=_page_arg(), per_page=TIER_PER_PAGE, error_out=False)
    return render_template(
        "ranking/indicator_tiers.html",
        run=run,
        plan=run.plan,
        pi=pi,
        key=key,
        tier=tier,
        page=page,
        labels=boards.entry_labels(page.items),
        name=pi.benchmark.label(str(get_locale())) if pi.benchmark is not None else key,
    )


def _objection_limit() -> str:
    return current_app.config.get("OBJECTION_RATE_LIMIT", "5 per minute")


@bp.route("/leaderboards/runs/<int:run_id>/publicity", methods=["GET", "POST"])
@limiter.limit(_objection_limit, methods=["POST"])
def publicity(run_id: int):
    """公示: the list under publicity and the public objection form."""
    run = db.session.get(RankingRun, run_id)
    if run is None or run.kind is not RunKind.OFFICIAL or run.status not in boards.PUBLIC_RUN_STATUSES:
        abort(404)
    form = ObjectionForm()
    entry = None
    entry_arg = request.values.get("entry") or form.entry_id.data
    if db_id(entry_arg):
        entry = db.session.get(RunEntry, db_id(entry_arg))
        if entry is None or entry.run_id != run.id:
            entry = None
    if entry is not None:
        form.entry_id.data = str(entry.id)
    open_now = run.status is RunStatus.PUBLICITY and (
        run.publicity_end is None or _today() <= run.publicity_end
    )
    status = 200
    if request.method == "POST":
        if not open_now:
            form.text.errors = [_("The publicity period of this list is over; objections are "
                                  "no longer accepted.")]
            status = 422
        elif form.validate_on_submit():
            try:
                publicity_ops.file_objection(
                    run,
                    name=form.name.data,
                    contact=form.contact.data,
                    text=form.text.data,
                    entry_id=entry.id if entry is not None else None,
                )
            except ValidationFailed as exc:
                for key, messages in exc.errors.items():
                    target = getattr(form, key, None) if key != "entry_id" else None
                    if target is None or not hasattr(target, "errors"):
                        target = form.text
                    target.errors = list(target.errors) + messages
                status = 422
            else:
                flash(_("Your objection is filed; the evaluation body will answer it."), "success")
                return redirect(url_for("ranking.publicity", run_id=run.id))
        else:
            status = 422
    leaders, removed, leader_labels = boards.leaders_with_labels(run)
    page, labels = boards.composite_page(run, _page_arg())
    return render_template(
        "ranking/publicity.html",
        run=run,
        plan=run.plan,
        form=form,
        entry=entry,
        entry_label=boards.entry_labels([entry]).get(entry.id) if entry is not None else None,
        open_now=open_now,
        leaders=leaders,
        removed=removed,
        leader_labels=leader_labels,
        page=page,
        labels=labels,
    ), status


def _today() -> date:
    """Today in Beijing, as the operations judge publicity periods."""
    return local_today()


@bp.get("/leaderboards/runs/<int:run_id>/export.<any(csv, xlsx):fmt>")
def run_export(run_id: int, fmt: str):
    """The run as CSV (UTF-8 with BOM) or Excel: entries, values, tiers, composite, leaders,
    exclusion reasons. Public runs for everyone (without the exclusion reasons; built once
    per run and kept, like the pages); every run, with the reasons, for its evaluation body."""
    run, mark = boards.run_and_mark(run_id)
    if run is None:
        abort(404)
    owner = _is_plan_owner(run.plan)
    if boards.public_run(run) is None and not owner:
        abort(404)
    mimetype = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )

    def body():
        header, rows = export.run_table(run, reasons=owner)
        if fmt == "csv":
            return export.to_csv(header, rows)
        return export.to_xlsx(header, rows, title=run.plan.title)

    if page_cache.is_anonymous_visitor():
        final = run.status in boards.FINAL_RUN_STATUSES
        response = page_cache.public_response(
            "export",
            (boards.run_validator(run), mark, fmt),
            body,
            max_age=current_app.config["FINAL_RUN_MAX_AGE" if final else "RUN_PAGE_MAX_AGE"],
            storable=_storable(),
            mimetype=mimetype,
        )
    else:
        response = page_cache.private_response(Response(body(), mimetype=mimetype))
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{export.filename(run, fmt)}"'
    )
    return response


@bp.get("/leaderboards/runs/<int:run_id>/entries/<int:entry_id>/label.<any(png, pdf):fmt>")
def leader_label(run_id: int, entry_id: int, fmt: str):
    """The 领跑者 label of a leader of a published official list (PNG or PDF), with the QR
    code of its verify page. 404 for any other entry."""
    label = leader_labels.leader_label(entry_id)
    entry = db.session.get(RunEntry, entry_id) if label is not None else None
    if label is None or entry is None or entry.run_id != run_id:
        abort(404)
    response = Response(label_drawing.render(label, fmt), mimetype=label_drawing.TYPES[fmt])
    response.headers["Content-Disposition"] = f'inline; filename="leader-{entry_id}.{fmt}"'
    return response


@bp.get("/leaders/verify/<int:entry_id>")
def verify_leader(entry_id: int):
    """Where a 领跑者 label's QR code leads: whether the leader still stands on the current
    official list, or was removed (when and why). Never cached: a removal shows at once."""
    found = leader_labels.verify(entry_id)
    if found is None:
        abort(404)
    response = Response(render_template("labels/verify.html", v=found))
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- enterprise


@bp.get("/my/rankings")
@enterprise_only
def my_positions():
    positions = queries.positions_of(current_user.enterprise)
    return render_template(
        "ranking/my_positions.html",
        positions=[(p.entry, p.run) for p in positions],
        labels=boards.entry_labels([p.entry for p in positions]),
    )


def svg(chart: charts.Chart) -> Markup:
    """The chart's SVG, built from escaped parts by ranking.charts, as markup."""
    return Markup(chart.svg)  # noqa: S704 - every text and attribute is escaped in charts.py


bp.add_app_template_global(svg, "ranking_svg")
