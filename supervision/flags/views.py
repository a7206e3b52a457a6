"""HTML pages of the risk flags (风险标记): a regulator's region list, a declaration's panel.

Thin on purpose: parse the filters → ``supervision.flags.operations`` reads → render. Who sees what:

* a regulator (市场监管部门) sees the flags of the enterprises of its own region
  (``core.auth.region_covers``) and may have a declaration re-flagged; a declaration of
  another region answers 404 (ids reveal nothing);
* an enterprise sees the flags of its own declarations, anyone else's answer 404;
* every other role gets 403, anonymous visitors the login page.

The list page reads a fixed number of SQL statements whatever the number of flags (pinned in
tests/supervision/test_flags_views.py): the categories of the filter, the counts by code and
severity (one GROUP BY), the page's count and the page itself with its labels.
Refused filters re-render the page with status 422 and say which field, what is wrong and what
is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from benchmarks.models import ProductCategory
from core.auth import region_covers, roles_required
from core.charts import HBar, HLayout, HRow, Segment, hbar_chart
from core.extensions import db
from core.forms import page_arg
from core.models import Role
from declare.models import Declaration
from supervision.flags import operations as flags
from supervision.flags import risk
from supervision.flags.forms import FilterForm, RecomputeForm
from supervision.flags.labels import (
    CLEAR_REASON_LABELS,
    CODE_LABELS,
    SEVERITY_COLOURS,
    SEVERITY_LABELS,
    _label,
    evidence_json,
    reason_text,
)

bp = Blueprint("flags", __name__, url_prefix="/supervision/flags")

@bp.context_processor
def _helpers() -> dict:
    return {
        "code_label": lambda c: _label(CODE_LABELS, c),
        "severity_label": lambda s: _label(SEVERITY_LABELS, s),
        "clear_reason_label": lambda r: _label(CLEAR_REASON_LABELS, r),
        "reason_text": reason_text,
        "evidence_json": evidence_json,
        "SEVERITIES": risk.SEVERITIES,
        "SEVERITY_COLOURS": SEVERITY_COLOURS,
        "count_svg": count_svg,
    }


# --------------------------------------------------------------------------- chart


@dataclass
class Bar:
    code: str
    label: str
    total: int
    segments: list[tuple[str, int, float, float]]  # severity, count, x, width


def count_chart(counts: dict[str, dict[str, int]], width: float = 360.0) -> list[Bar]:
    """Horizontal bars per flag code, split by severity, scaled to the largest code."""
    biggest = max((sum(v.values()) for v in counts.values()), default=0)
    bars = []
    for code in risk.FLAG_CODES:
        by_sev = counts.get(code, {})
        total = sum(by_sev.values())
        x, segments = 0.0, []
        for sev in risk.SEVERITIES:
            n = by_sev.get(sev, 0)
            w = width * n / biggest if biggest else 0.0
            segments.append((sev, n, round(x, 2), round(w, 2)))
            x += w
        bars.append(Bar(code, _label(CODE_LABELS, code), total, segments))
    return bars


def count_svg(bars: list[Bar], width: float = 360.0) -> Markup:
    """The bars of ``count_chart`` drawn by ``core.charts.hbar_chart``: one row per kind of
    flag (``data-code``), its severities stacked, the legend below."""
    biggest = max((sum(n for _s, n, _x, _w in b.segments) for b in bars), default=0)
    rows = [
        HRow(bar.label, [HBar(
            [Segment(n, SEVERITY_COLOURS[sev], tooltip=f"{_label(SEVERITY_LABELS, sev)}: {n}")
             for sev, n, _x, _w in bar.segments],
            text=str(bar.total),
        )], group_attrs={"data_code": bar.code})
        for bar in bars
    ]
    chart = hbar_chart(
        rows,
        layout=HLayout(width=670, left=250, span=width, top=6, pitch=26, thickness=18, gap=0),
        top_value=biggest, chart_id="flag-chart",
        title=_("Flags by kind and severity"),
        desc=_("One bar per kind of flag, split into high, medium and low severity."),
        legend=[(_label(SEVERITY_LABELS, sev), SEVERITY_COLOURS[sev]) for sev in risk.SEVERITIES],
    )
    return Markup(chart.svg)  # noqa: S704 - every text and attribute is escaped in core.charts


# --------------------------------------------------------------------------- pages


def _categories() -> list[ProductCategory]:
    return list(db.session.scalars(select(ProductCategory).order_by(ProductCategory.code)))


def _page_arg() -> int:
    return page_arg()


def _regulator_region() -> str:
    region = current_user.region_code
    if not region:
        abort(403)
    return region


@bp.get("/")
@roles_required(Role.REGULATOR, Role.ENTERPRISE)
def index():
    """A regulator's region flags, or an enterprise's own, with filters and counts."""
    regulator = current_user.role is Role.REGULATOR
    region = _regulator_region() if regulator else None
    form = FilterForm(request.args, categories=_categories(), regulator_region=region)
    if not regulator:
        del form.region
    scope: dict = (
        {"region_code": region} if regulator else {"enterprise_id": current_user.enterprise_id}
    )
    if not form.validate():
        return render_template(
            "supervision/flags_list.html",
            form=form,
            page=None,
            bars=[],
            counts={},
            regulator=regulator,
            region=region,
            args={},
        ), 422
    filters = form.filters()
    if regulator and form.region.data:
        scope["region_code"] = form.region.data
    counts = flags.flag_counts(
        **scope, category_id=filters["category_id"], status=filters["status"]
    )
    page = flags.region_flags(
        **scope, **filters, page=_page_arg(), per_page=current_app.config["PAGE_SIZE"]
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "supervision/flags_list.html",
        form=form,
        page=page,
        bars=count_chart(counts),
        counts=counts,
        regulator=regulator,
        region=scope.get("region_code"),
        args=args,
    )


def _visible_declaration(declaration_id: int) -> Declaration:
    """Regulators of the enterprise's region and the enterprise itself; anyone else 404."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None:
        abort(404)
    if current_user.role is Role.REGULATOR:
        if not region_covers(current_user.region_code, declaration.enterprise.region_code):
            abort(404)
    elif current_user.enterprise_id != declaration.enterprise_id:
        abort(404)
    return declaration


@bp.get("/declarations/<int:declaration_id>")
@roles_required(Role.REGULATOR, Role.ENTERPRISE)
def declaration(declaration_id: int):
    """A declaration's flag panel: open flags with their evidence, then the cleared ones."""
    found = _visible_declaration(declaration_id)
    rows = flags.flags_of(found.id)
    open_rows = [f for f in rows if f.cleared_at is None]
    score = flags.risk_scores([found.id]).iloc[0]
    return render_template(
        "supervision/flags_declaration.html",
        declaration=found,
        version=found.current_version or found.latest,
        open_flags=open_rows,
        cleared=[f for f in rows if f.cleared_at is not None],
        score=score,
        form=RecomputeForm(),
        regulator=current_user.role is Role.REGULATOR,
    )


@bp.post("/declarations/<int:declaration_id>/recompute")
@roles_required(Role.REGULATOR)
def recompute(declaration_id: int):
    """Have the declaration re-flagged now (a job on the supervision queue)."""
    found = _visible_declaration(declaration_id)
    if not RecomputeForm().validate_on_submit():
        abort(400)
    rows = flags.request_recompute([found.id])
    db.session.flush()
    flash(
        _("The flags of this declaration are being recomputed (job %(id)s).", id=rows[0].id), "info"
    )
    return redirect(url_for("flags.declaration", declaration_id=found.id))
