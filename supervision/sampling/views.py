"""HTML pages of spot-check sampling (双随机): a regulator's plans, draws and inspector pool,
and the public sample lists (抽查名单公示) with their reproduction.

Thin on purpose: parse a form → call ``sampling.operations`` → render or redirect. Refused input
re-renders the form with status 422 and the message on the field (the request's after_request
hook rolls back whatever an operation had flushed). A regulator sees the plans and draws of
the regions it covers and its own inspector pool: anything else answers 404; enterprises and
evaluation bodies get 403 on regulator pages. A publicised draw is public: its sample list, its
recorded population and its redo page need no login.

Lists read a fixed number of statements whatever their size: the items of a draw come one
page at a time with enterprise, standard and inspection in one join; the exclusions and the
per-stratum allocation come from the recorded population (one row read, decompressed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from benchmarks.models import ProductCategory
from core.auth import roles_required
from core.charts import HBar, HLayout, HRow, Segment, fmt, hbar_chart, nice_ticks
from core.errors import ValidationFailed
from core.extensions import db, limiter
from core.forms import page_arg
from core.models import Role
from declare.models import Enterprise
from supervision.models import Draw, DrawStatus, Inspector, SamplingPlan
from supervision.sampling import operations as draws
from supervision.sampling import queries
from supervision.sampling.forms import (
    ActionForm,
    DrawForm,
    InspectorForm,
    PlanForm,
    apply_errors,
    plan_form_data,
)
from supervision.sampling.labels import (
    ALLOCATION_CHOICES,
    DRAW_STATUS_LABELS,
    STRATIFICATION_CHOICES,
    _label,
    exclusion_text,
    percent,
    reason_label,
    stratum_label,
)
from supervision.sampling.queries import (
    _inspector_names,
    draw_items,
    exclusion_rows,
    population_filename,
    redo_limit,
)

bp = Blueprint("sampling", __name__, url_prefix="/supervision/sampling")

regulator_only = roles_required(Role.REGULATOR)

CHART_STRATA = 30  # strata drawn in the chart; the table lists all of them
STRATUM_LABEL = 22  # characters of a stratum key shown left of its bars (the table has all)

@bp.context_processor
def _helpers() -> dict:
    return {
        "reason_label": reason_label,
        "stratum_label": stratum_label,
        "exclusion_text": exclusion_text,
        "draw_status_label": lambda s: _label(DRAW_STATUS_LABELS, s),
        "strata_label": lambda s: _label({c.value: c.label for c in STRATIFICATION_CHOICES}, s),
        "allocation_label": lambda s: _label({c.value: c.label for c in ALLOCATION_CHOICES}, s),
        "percent": percent,
        "fmt": fmt,
        "DrawStatus": DrawStatus,
        "locale": str(get_locale()),
    }


# --------------------------------------------------------------------------- chart


@dataclass
class StratumChart:
    svg: str
    rows: list[dict]  # stratum, population, sample, population_share, sample_share


def _short(name: str) -> str:
    return name if len(name) <= STRATUM_LABEL else name[: STRATUM_LABEL - 1] + "…"


def stratum_chart(allocation, *, chart_id: str, title: str, desc: str,
                  population_label: str, sample_label: str) -> StratumChart:
    """Sample vs population per stratum, as shares of their totals (two bars per stratum).

    Under proportional allocation the two bars of a stratum are (almost) equally long; equal
    allocation or a per-stratum minimum shows up as a longer sample bar in small strata.
    Pure (no Flask): labels arrive translated; drawn by ``core.charts.hbar_chart``.
    """
    table = allocation.sort_values(["population", "stratum"], ascending=[False, True])
    pop_total = int(table["population"].sum()) or 1
    sample_total = int(table["sample"].sum()) or 1
    rows = [
        {
            "stratum": str(r.stratum),
            "population": int(r.population),
            "sample": int(r.sample),
            "population_share": int(r.population) / pop_total,
            "sample_share": int(r.sample) / sample_total,
        }
        for r in table.itertuples(index=False)
    ]
    drawn = rows[:CHART_STRATA]
    top_share = max([r["population_share"] for r in drawn] + [r["sample_share"] for r in drawn]
                    + [0.01])
    layout = HLayout(width=680, left=150, span=430, top=46, pitch=9, thickness=8, gap=8,
                     text_size=9, text_fill="#616e7c", bottom=10)

    def bar(row: dict, key: str, count: str, colour: str, css: str) -> HBar:
        share = row[key]
        return HBar(
            [Segment(share, colour, {"class_": css, "data_stratum": row["stratum"],
                                     "data_count": row[count], "data_share": f"{share:.6f}"})],
            text=f"{row[count]} ({share * 100:.1f}%)",
        )

    chart = hbar_chart(
        [
            HRow(
                _short(row["stratum"]),
                [bar(row, "population_share", "population", "#90a4ae", "population-bar"),
                 bar(row, "sample_share", "sample", "#b71c1c", "sample-bar")],
                label_attrs={"data_stratum": row["stratum"]},
            )
            for row in drawn
        ],
        layout=layout, top_value=top_share, chart_id=chart_id, title=title, desc=desc,
        legend=[(population_label, "#90a4ae"), (sample_label, "#b71c1c")],
        legend_at=(layout.left, 12, 200),
        ticks=[(t, f"{t * 100:.0f}%") for t in nice_ticks(0.0, top_share, 5)],
    )
    return StratumChart(chart.svg, rows)


def _chart(allocation) -> StratumChart:
    return stratum_chart(
        allocation,
        chart_id="strata-chart",
        title=_("Sample and population per stratum"),
        desc=_("For each stratum, its share of the population (the random frame) and its share "
               "of the random sample."),
        population_label=_("Share of the population"),
        sample_label=_("Share of the sample"),
    )


def svg(chart: StratumChart) -> Markup:
    return Markup(chart.svg)


# --------------------------------------------------------------------------- lookups


def _plan(plan_id: int) -> SamplingPlan:
    plan = draws.plan_for(current_user, plan_id)
    if plan is None:
        abort(404)
    return plan


def _draw(draw_id: int) -> Draw:
    found = draws.draw_for(current_user, draw_id)
    if found is None:
        abort(404)
    return found


def _visible_draw(draw_id: int) -> tuple[Draw, bool]:
    """(draw, the visitor is one of its regulators): public draws for everyone."""
    found = queries.visible_draw(current_user, draw_id)
    if found is None:
        abort(404)
    return found


def _inspector(inspector_id: int) -> Inspector:
    found = draws.inspector_for(current_user, inspector_id)
    if found is None:
        abort(404)
    return found


def _page_arg() -> int:
    return page_arg()


def _category_choices(form: PlanForm) -> None:
    locale = str(get_locale())
    form.category_ids.choices = [
        SelectChoice(str(c.id), f"{c.label(locale)} ({c.code})")
        for c in db.session.scalars(select(ProductCategory).order_by(ProductCategory.code))
    ]


# --------------------------------------------------------------------------- plans


@bp.get("/plans")
@regulator_only
def plans():
    found = draws.plans_for(current_user)
    counts = dict(
        db.session.execute(
            select(Draw.plan_id, func.count(Draw.id))
            .where(Draw.plan_id.in_([p.id for p in found]))
            .group_by(Draw.plan_id)
        ).all()
    ) if found else {}
    return render_template("supervision/sampling_plans.html", plans=found, counts=counts)


def _render_plan_form(form: PlanForm, plan=None, status: int = 200, errors=None):
    return render_template(
        "supervision/sampling_plan_form.html", form=form, plan=plan, errors=errors or [],
        min_ratio=draws.min_ratio_floor(),
    ), status


def _plan_submit(form: PlanForm, plan=None):
    if not form.validate():
        # Show the rule errors of the other fields too, so one round trip finds them all.
        try:
            draws.check_plan(current_user, form.to_data())
        except ValidationFailed as exc:
            fresh = {k: v for k, v in exc.errors.items()
                     if not getattr(getattr(form, k, None), "errors", None)}
            return _render_plan_form(form, plan, 422, apply_errors(form, fresh))
        return _render_plan_form(form, plan, 422)
    try:
        saved = (
            draws.create_plan(current_user, form.to_data())
            if plan is None
            else draws.update_plan(plan, form.to_data(), user=current_user, replace=True)
        )
    except ValidationFailed as exc:
        return _render_plan_form(form, plan, 422, apply_errors(form, exc.errors))
    flash(_("The sampling plan is saved."), "success")
    return redirect(url_for("sampling.plan", plan_id=saved.id))


@bp.route("/plans/new", methods=["GET", "POST"])
@regulator_only
def plan_new():
    form = PlanForm()
    _category_choices(form)
    if not form.is_submitted():
        form.region_code.data = current_user.region_code
        for name, value in draws.plan_defaults().items():
            getattr(form, name).data = value
        return _render_plan_form(form)
    return _plan_submit(form)


@bp.route("/plans/<int:plan_id>/edit", methods=["GET", "POST"])
@regulator_only
def plan_edit(plan_id: int):
    plan = _plan(plan_id)
    form = PlanForm() if request.method == "POST" else PlanForm(data=plan_form_data(plan))
    _category_choices(form)
    if request.method == "GET":
        return _render_plan_form(form, plan)
    return _plan_submit(form, plan)


def _render_plan(plan: SamplingPlan, *, form: DrawForm | None = None, status: int = 200,
                 errors=None):
    categories = list(db.session.scalars(
        select(ProductCategory).where(ProductCategory.id.in_(plan.category_ids or []))
    )) if plan.category_ids else []
    return render_template(
        "supervision/sampling_plan.html",
        plan=plan,
        categories=categories,
        draws=draws.draws_for(plan),
        form=form or DrawForm(formdata=None),
        errors=errors or [],
        pool=len(draws.inspectors_of(plan.regulator, active_only=True)),
    ), status


@bp.get("/plans/<int:plan_id>")
@regulator_only
def plan(plan_id: int):
    return _render_plan(_plan(plan_id))


@bp.post("/plans/<int:plan_id>/draws")
@regulator_only
def draw_new(plan_id: int):
    found = _plan(plan_id)
    form = DrawForm()
    if not form.validate():
        return _render_plan(found, form=form, status=422)
    try:
        made = draws.create_draw(
            found,
            current_user,
            seed=form.seed.data,
            seed_text=form.seed_text.data,
            complaint_declaration_ids=form.complaint_declaration_ids.data,
            complaint_ids=form.complaint_ids.data,
        )
    except ValidationFailed as exc:
        return _render_plan(found, form=form, status=422, errors=apply_errors(form, exc.errors))
    flash(_("Draw %(number)s is recorded: %(n)d objects, inspectors assigned.",
            number=made.number, n=made.sample_size), "success")
    return redirect(url_for("sampling.draw", draw_id=made.id))


# --------------------------------------------------------------------------- draws


def _draw_context(found: Draw) -> dict:
    population = draws.stored_population(found)
    allocation = draws.allocation_of(found, population)
    total, exclusions = exclusion_rows(found, population=population)
    random_frame = int(allocation["population"].sum())
    size = draws.size_rule(found, random_frame)
    return {
        "size": size,
        "draw": found,
        "plan": found.plan,
        "items": draw_items(found, page=_page_arg()),
        "allocation": allocation,
        "chart": _chart(allocation),
        "exclusions": exclusions,
        "exclusion_total": total,
        "random_frame": random_frame,
        "random_sample": int(allocation["sample"].sum()),
        "minimum": math.ceil(found.plan.min_ratio * size["scope"] - 1e-9),
    }


@bp.get("/draws/<int:draw_id>")
@regulator_only
def draw(draw_id: int):
    found = _draw(draw_id)
    return render_template(
        "supervision/sampling_draw.html",
        action=ActionForm(),
        inspector_names=_inspector_names(found.plan.regulator_id),
        **_draw_context(found),
    )


@bp.post("/draws/<int:draw_id>/publicise")
@regulator_only
def draw_publicise(draw_id: int):
    found = _draw(draw_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        draws.publicise_draw(found, current_user)
    except ValidationFailed as exc:
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(url_for("sampling.draw", draw_id=found.id))
    flash(_("The sample list of draw %(number)s is public.", number=found.number), "success")
    return redirect(url_for("sampling.public_draw", draw_id=found.id))


@bp.get("/draws/<int:draw_id>/redo")
@limiter.limit(redo_limit)
def draw_redo(draw_id: int):
    """Redo a draw from its seed and recorded population: public once publicised."""
    found, mine = _visible_draw(draw_id)
    report = draws.redo_draw(found)
    return render_template("supervision/sampling_redo.html", draw=found, report=report,
                           mine=mine)


@bp.get("/draws/<int:draw_id>/population.csv.gz")
def draw_population(draw_id: int):
    found, _mine = _visible_draw(draw_id)
    return Response(
        found.population_csv_gz,
        mimetype="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{population_filename(found)}"'},
    )


# --------------------------------------------------------------------------- public lists


@bp.get("/public")
def public_draws():
    """抽查名单公示: the publicised sample lists, newest first."""
    stmt = (
        select(Draw)
        .where(Draw.status.in_(draws.PUBLIC_STATUSES))
        .order_by(Draw.publicised_at.desc(), Draw.id.desc())
    )
    page = db.paginate(stmt, page=_page_arg(), per_page=20, error_out=False)
    return render_template("supervision/sampling_public.html", page=page)


@bp.get("/public/<int:draw_id>")
def public_draw(draw_id: int):
    found = draws.public_draw(draw_id)
    if found is None:
        abort(404)
    context = _draw_context(found)
    return render_template("supervision/sampling_public_draw.html", **context)


# --------------------------------------------------------------------------- inspectors


@bp.get("/inspectors")
@regulator_only
def inspectors():
    pool = draws.inspectors_of(current_user)
    tied = {e for i in pool for e in (i.tied_enterprise_ids or [])}
    names = dict(
        db.session.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(tied)))
        .all()
    ) if tied else {}
    return render_template("supervision/sampling_inspectors.html", pool=pool, names=names,
                           action=ActionForm())


def _inspector_form_data(inspector: Inspector) -> dict:
    data = draws.inspector_data(inspector)
    usccs = db.session.scalars(
        select(Enterprise.uscc).where(Enterprise.id.in_(data["tied_enterprise_ids"]))
    ).all() if data["tied_enterprise_ids"] else []
    data["tied_usccs"] = ", ".join(sorted(usccs))
    data["tied_region_codes"] = ", ".join(data["tied_region_codes"])
    return data


def _inspector_submit(form: InspectorForm, inspector: Inspector | None):
    status, errors = 422, []
    if form.validate():
        try:
            if inspector is None:
                draws.create_inspector(current_user, form.to_data())
            else:
                draws.update_inspector(inspector, form.to_data(), user=current_user,
                                       replace=True)
        except ValidationFailed as exc:
            errors = apply_errors(form, exc.errors)
        else:
            flash(_("The inspector is saved."), "success")
            return redirect(url_for("sampling.inspectors"))
    return render_template("supervision/sampling_inspector_form.html", form=form,
                           inspector=inspector, errors=errors), status


@bp.route("/inspectors/new", methods=["GET", "POST"])
@regulator_only
def inspector_new():
    form = InspectorForm()
    if not form.is_submitted():
        return render_template("supervision/sampling_inspector_form.html", form=form,
                               inspector=None, errors=[])
    return _inspector_submit(form, None)


@bp.route("/inspectors/<int:inspector_id>/edit", methods=["GET", "POST"])
@regulator_only
def inspector_edit(inspector_id: int):
    found = _inspector(inspector_id)
    if request.method == "GET":
        form = InspectorForm(data=_inspector_form_data(found))
        return render_template("supervision/sampling_inspector_form.html", form=form,
                               inspector=found, errors=[])
    return _inspector_submit(InspectorForm(), found)


@bp.post("/inspectors/<int:inspector_id>/active")
@regulator_only
def inspector_active(inspector_id: int):
    found = _inspector(inspector_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    draws.set_inspector_active(found, not found.active, user=current_user)
    flash(_("%(name)s is back in the pool.", name=found.name) if found.active
          else _("%(name)s is out of the pool; past assignments are kept.", name=found.name),
          "success")
    return redirect(url_for("sampling.inspectors"))


bp.add_app_template_global(svg, "sampling_svg")

__all__ = [
    "bp",
    "stratum_chart",
]
