"""Reads behind the leaderboards, shared by the pages and the API: the entries' labels, the
tiers and charts of a run (``build_board``), the composite page, the leaders, the current runs
of many plans, and which runs the public may see; tier and exclusion words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import func, select

from benchmarks.models import CatalogueChange
from core.extensions import db
from declare.models import Enterprise
from declare.queries import DeclarationLabel, declaration_labels
from ranking import charts, export, queries
from ranking.models import LeaderboardPointer, RankingRun, RunEntry, RunKind, RunStatus

COMPOSITE_PER_PAGE = 50
TIER_INLINE = 30  # entries listed per tier on the leaderboard; the rest on the indicator page
CN_NUMERALS = "一二三四五六七八九十"
PUBLIC_RUN_STATUSES = (RunStatus.PUBLICITY, RunStatus.PUBLISHED, RunStatus.SUPERSEDED)


def cn_numeral(n: int) -> str:
    return CN_NUMERALS[n - 1] if 1 <= n <= len(CN_NUMERALS) else str(n)


def tier_label(tier: int | None) -> str:
    """Tier 1 in English, 第一档 in Chinese (msgstr 第%(n)s档 with the Chinese numeral)."""
    if not tier:
        return _("Not ranked")
    number = cn_numeral(int(tier)) if str(get_locale()).startswith("zh") else str(tier)
    return _("Tier %(n)s", n=number)


def indicator_names(plan) -> dict[str, str]:
    """The plan's indicator keys (benchmark codes) with their names in the reader's language."""
    locale = str(get_locale())
    return {pi.benchmark_code: pi.benchmark.label(locale) if pi.benchmark is not None
            else pi.benchmark_code for pi in plan.indicators}


def _named_keys(detail: str, names: dict[str, str]) -> str:
    """", "-joined indicator keys with their names (a key without a name as it is)."""
    if not names:
        return detail
    return pgettext("list separator", ", ").join(
        names.get(k.strip(), k.strip()) for k in detail.split(",")
    )


def exclusion_text(reason, names: dict[str, str] | None = None) -> str:
    """One exclusion reason (``{"code", "detail"}`` from ranking.eligibility) in words;
    ``names`` (``indicator_names(plan)``) names the indicators its detail gives by key."""
    names = names or {}
    if isinstance(reason, dict):
        code, detail = reason.get("code", ""), str(reason.get("detail") or "")
    else:
        code, detail = str(reason), ""
    status_words = {
        "abolished": _("abolished"),
        "revoked": _("revoked"),
        "draft": _("draft"),
    }
    if code == "not_published":
        return _("The declaration is not in force (%(status)s).",
                 status=status_words.get(detail, detail))
    if code == "number_invalid":
        return _("The standard number “%(number)s” is not valid.", number=detail)
    if code == "reference_invalid":
        return _("Normative references withdrawn or replaced: %(n)s.", n=detail)
    if code == "violation":
        return _("Indicators below a mandatory limit: %(n)s.", n=detail)
    if code == "mingshi_on_core":
        return _("A 明示 (below a recommended standard) on core indicators: %(keys)s.",
                 keys=_named_keys(detail, names))
    if code == "nonconforming_inspection":
        return _("A non-conforming inspection or serious record within the window (%(day)s).",
                 day=detail)
    if code == "missing_value":
        return _("No value for core indicators: %(keys)s.", keys=_named_keys(detail, names))
    if code == "below_floor":
        return _("Below the plan's floor: %(detail)s.",
                 detail=_below_floor_words(detail, names))
    return f"{code}: {detail}" if detail else code



#: One indicator in the detail of a ``below_floor`` exclusion as ranking.eligibility writes it
#: (compact and language-free: "eff: 63.5 (floor 64); noise: 40 (floor 38)").
_BELOW_FLOOR = re.compile(r"(?P<key>[^;]+?): (?P<value>\S+) \(floor (?P<floor>[^)]+)\)")


def _below_floor_words(detail: str, names: dict[str, str] | None = None) -> str:
    """The parameters of a below-floor detail in the reader's language; a detail of another
    shape as it is."""
    parts = [p.strip() for p in detail.split(";")]
    found = [_BELOW_FLOOR.fullmatch(p) for p in parts]
    if not parts or not all(found):
        return detail
    return pgettext("list separator", "; ").join(
        _("%(indicator)s %(value)s, floor %(floor)s",
          indicator=(names or {}).get(m["key"], m["key"]), value=m["value"],
          floor=m["floor"])
        for m in found
    )


def indicator_key(pi) -> str:
    return export.indicator_key(pi)


#: What a reader needs to recognise an entry: enterprise, standard, product and model.
EntryLabel = DeclarationLabel


def entry_labels(entries) -> dict[int, EntryLabel]:
    """Labels of the given entries, in one query (never one per row)."""
    entries = [e for e in entries if e is not None]
    if not entries:
        return {}
    stmt = declaration_labels(
        select(RunEntry.id).where(RunEntry.id.in_({e.id for e in entries})),
        enterprise_id=RunEntry.enterprise_id,
        version_id=RunEntry.version_id,
        product_id=RunEntry.product_id,
    )
    return {row.id: DeclarationLabel.of(row) for row in db.session.execute(stmt)}


@dataclass
class TierGroup:
    tier: int
    label: str
    count: int
    low: float | None
    high: float | None
    entries: list = field(default_factory=list)  # (entry_id, enterprise, value), by name

    @property
    def more(self) -> int:
        return self.count - len(self.entries)


@dataclass
class IndicatorBoard:
    key: str
    pi: object
    name: str
    unit: str
    direction: str
    ranked: bool
    reason: str
    groups: list[TierGroup]
    chart: charts.Chart | None = None


def _indicator_state(run: RankingRun, key: str, values: list[float]) -> tuple[bool, str]:
    """Is the indicator ranked in this run, and if not, why (e.g. every value is equal)."""
    raw = (run.indicator_status or {}).get(key)
    ranked, reason = None, ""
    if isinstance(raw, dict):
        ranked = raw.get("ranked")
        reason = raw.get("reason") or raw.get("message") or ""
    elif isinstance(raw, bool):
        ranked = raw
    elif isinstance(raw, str):
        ranked = raw == "ranked"
        reason = "" if ranked else raw
    if ranked is None:
        ranked = len(set(values)) > 1
    if not ranked:
        if reason == "no_eligible" or not values:
            reason = _("No ranking: no declaration is eligible.")
        elif reason in ("", "all_equal"):
            reason = _("No ranking: all values are equal.")
    return bool(ranked), reason


def _eligible_rows(run: RankingRun) -> list[tuple]:
    """(id, enterprise name, values, tiers, composite, is_leader) of every eligible entry."""
    stmt = (
        select(
            RunEntry.id,
            Enterprise.name,
            RunEntry.values,
            RunEntry.tiers,
            RunEntry.composite,
            RunEntry.is_leader,
        )
        .join(Enterprise, Enterprise.id == RunEntry.enterprise_id)
        .where(RunEntry.run_id == run.id, RunEntry.eligible.is_(True))
        .order_by(Enterprise.name, RunEntry.id)
    )
    return list(db.session.execute(stmt))


def _chart_labels() -> dict:
    return {
        "tier": _("Tier %(n)s", n="{n}"),
        "y_axis": _("Declarations"),
        "x_axis": _("Value"),
    }


def build_board(run: RankingRun, *, inline: int = TIER_INLINE, chart_prefix: str = "chart") -> dict:
    """Single-indicator tiers with their charts, and the composite chart, of one run."""
    plan = run.plan
    rows = _eligible_rows(run)  # sorted by enterprise name: ties are listed in that order
    boards = []
    labels = _chart_labels()
    for pos, pi in enumerate(plan.indicators):
        key = indicator_key(pi)
        values = [r[2].get(key) for r in rows if (r[2] or {}).get(key) is not None]
        ranked, reason = _indicator_state(run, key, values)
        by_tier: dict[int, list] = {}
        for eid, name, vals, tiers, _score, _leader in rows:
            tier = int((tiers or {}).get(key) or 0)
            by_tier.setdefault(tier, []).append((eid, name, (vals or {}).get(key)))
        groups = []
        for tier in sorted(t for t in by_tier if t > 0):
            members = by_tier[tier]
            vals = [v for _e, _n, v in members if v is not None]
            groups.append(
                TierGroup(
                    tier,
                    tier_label(tier),
                    len(members),
                    min(vals) if vals else None,
                    max(vals) if vals else None,
                    members[:inline],
                )
            )
        bench = pi.benchmark
        observed = {g.tier: (g.low, g.high, g.count) for g in groups if g.low is not None}
        bands = (
            charts.tier_bands(
                direction=pi.direction,
                floor=pi.floor,
                cuts=pi.cuts or [],
                cut_mode=pi.cut_mode,
                observed=observed,
            )
            if ranked
            else []
        )
        name = bench.label(str(get_locale())) if bench is not None else key
        chart = charts.indicator_chart(
            values,
            chart_id=f"{chart_prefix}-{pos}",
            title=_("Distribution of %(name)s", name=name),
            unit=pi.unit,
            direction=pi.direction,
            floor=pi.floor,
            floor_label=_("Floor %(value)s", value=charts.fmt(pi.floor)),
            grades=(bench.grades or []) if bench is not None else [],
            bands=bands,
            labels={
                **labels,
                **{f"tier:{b.tier}": tier_label(b.tier) for b in bands},
                "desc": _(
                    "Histogram of the %(n)s eligible values with the floor, the grade lines "
                    "and the tier bands.",
                    n=len(values),
                ),
            },
        )
        boards.append(
            IndicatorBoard(
                key,
                pi,
                name,
                pi.unit,
                pi.direction,
                ranked,
                reason,
                groups if ranked else [],
                chart,
            )
        )
    scores = [r[4] for r in rows if r[4] is not None]
    leader_scores = [r[4] for r in rows if r[5] and r[4] is not None]
    rule = plan.leader_rule or {}
    by_score = rule.get("kind") in ("best_n", "best_share")
    composite = charts.composite_chart(
        scores,
        chart_id=f"{chart_prefix}-composite",
        title=_("Distribution of composite scores"),
        leader_cut=min(leader_scores) if leader_scores and by_score else None,
        leader_label=_("Leaders"),
        star_cuts=rule.get("star_cuts") or [],
        star_label=_("%(n)s stars", n="{n}"),
        labels={
            "y_axis": _("Declarations"),
            "x_axis": _("Composite score"),
            "desc": _("Histogram of the %(n)s composite scores.", n=len(scores)),
        },
    )
    return {"indicators": boards, "composite_chart": composite, "eligible": len(rows)}


def composite_page(run: RankingRun, page: int):
    """One page (50) of the composite ranking (eligible entries) with the entries' labels:
    two queries for the page and its count, one for the labels."""
    stmt = (
        select(RunEntry)
        .where(RunEntry.run_id == run.id, RunEntry.eligible.is_(True))
        .order_by(
            RunEntry.composite_rank.is_(None), RunEntry.composite_rank, RunEntry.declaration_id
        )
    )
    result = db.paginate(stmt, page=page, per_page=COMPOSITE_PER_PAGE, error_out=False)
    return result, entry_labels(result.items)


def leaders_with_labels(run: RankingRun) -> tuple[list, list, dict]:
    """Current leaders and removed leaders (with their removal reason), and their labels."""
    entries = list(queries.leaders_of(run))
    labels = entry_labels(entries)
    current = [e for e in entries if e.is_leader and not e.removed_reason]
    removed = [e for e in entries if e.removed_reason]
    return current, removed, labels


def pointer_runs(plan_keys: list[str]) -> dict[tuple[str, RunKind], RankingRun]:
    """The current runs of many plans in one query."""
    if not plan_keys:
        return {}
    rows = db.session.execute(
        select(LeaderboardPointer.plan_key, LeaderboardPointer.kind, RankingRun)
        .join(RankingRun, RankingRun.id == LeaderboardPointer.run_id)
        .where(LeaderboardPointer.plan_key.in_(plan_keys))
    )
    return {(key, kind): run for key, kind, run in rows}


def catalogue_mark():
    """The catalogue's last change (a scalar subquery, read with the runs): benchmark names,
    grades and standards shown on a page change only with a new catalogue change."""
    return select(func.coalesce(func.max(CatalogueChange.id), 0)).scalar_subquery()


@dataclass
class BoardState:
    """What a public leaderboard page is made of, read in one query: the plan's current
    official list (if public) and preview, and the catalogue's last change."""

    official: RankingRun | None
    preview: RankingRun | None
    catalogue: int


def board_state(plan_key: str) -> BoardState:
    """The current runs of one plan and the catalogue mark, in one query."""
    rows = db.session.execute(
        select(LeaderboardPointer.kind, RankingRun, catalogue_mark())
        .join(RankingRun, RankingRun.id == LeaderboardPointer.run_id)
        .where(LeaderboardPointer.plan_key == plan_key)
    ).all()
    runs = {kind: run for kind, run, _mark in rows}
    return BoardState(
        public_run(runs.get(RunKind.OFFICIAL)),
        runs.get(RunKind.PREVIEW),
        rows[0][2] if rows else 0,
    )


def run_and_mark(run_id: int) -> tuple[RankingRun | None, int]:
    """One run and the catalogue mark, in one query."""
    row = db.session.execute(
        select(RankingRun, catalogue_mark()).where(RankingRun.id == run_id)
    ).first()
    return (row[0], row[1]) if row is not None else (None, 0)


def run_validator(run: RankingRun) -> tuple:
    """What of a run its pages show and may still change: its identity (an id may come back
    after a database is reset: the creation time tells two runs apart) and its status with
    the dates of publicity and publication. Entries never change (ranking.models)."""
    return (
        run.id,
        run.created_at,
        run.plan_id,
        run.status,
        run.publicity_start,
        run.publicity_end,
        run.published_at,
    )


FINAL_RUN_STATUSES = (RunStatus.SUPERSEDED, RunStatus.DISCARDED)


def public_run(run: RankingRun | None) -> RankingRun | None:
    """An official run the public may see (under publicity or published), or a preview."""
    if run is None:
        return None
    if run.kind is RunKind.PREVIEW or run.status in PUBLIC_RUN_STATUSES:
        return run
    return None
