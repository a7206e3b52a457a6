"""Reads of rankings used by pages, the API and jobs. A fixed number of queries each, whatever
the size of the run (a category may hold 10,000 declarations)."""

from __future__ import annotations

from typing import NamedTuple

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, lazyload, load_only

from benchmarks.models import ProductCategory
from core.extensions import db
from core.models import OutboxJob, User
from declare.models import Enterprise
from declare.queries import DeclarationLabel, declaration_labels
from ranking.models import (
    EvaluationPlan,
    LeaderboardPointer,
    PlanStatus,
    RankingRun,
    RunEntry,
    RunKind,
)

__all__ = [
    "Position",
    "current_run",
    "exclusions_of",
    "job_keys",
    "leaders_of",
    "plan_jobs",
    "plan_versions",
    "plans_of",
    "positions_of",
    "public_plan_page",
    "public_plans",
    "run_entries",
    "tiers_of",
]

MAX_PER_PAGE = 500


def current_run(plan_key: str, kind: RunKind | str) -> RankingRun | None:
    """The run the (plan, kind) leaderboard shows now (switched atomically by the jobs)."""
    return db.session.scalar(
        select(RankingRun)
        .join(LeaderboardPointer, LeaderboardPointer.run_id == RankingRun.id)
        .where(LeaderboardPointer.plan_key == plan_key, LeaderboardPointer.kind == RunKind(kind))
    )


def run_entries(
    run: RankingRun,
    *,
    page: int = 1,
    per_page: int | None = None,
    indicator_key: str | None = None,
):
    """One page of a run's entries (RunEntry objects; Flask-SQLAlchemy Pagination: items,
    total, pages, has_next, ...). Eligible entries first, by composite rank (ties: by
    declaration id), then the excluded ones. With ``indicator_key``: eligible entries by their
    tier in that indicator (no order inside a tier). Two queries: the page and the count."""
    per_page = per_page or current_app.config.get("PAGE_SIZE", 20)
    stmt = select(RunEntry).where(RunEntry.run_id == run.id)
    if indicator_key is not None:
        if indicator_key not in (run.indicator_status or {}):
            raise ValueError(f"run {run.id} has no indicator {indicator_key!r}")
        stmt = stmt.order_by(
            RunEntry.eligible.desc(),
            RunEntry.tiers[indicator_key].as_integer(),
            RunEntry.declaration_id,
        )
    else:
        stmt = stmt.order_by(
            RunEntry.eligible.desc(),
            RunEntry.composite_rank.is_(None),
            RunEntry.composite_rank,
            RunEntry.declaration_id,
        )
    return db.paginate(
        stmt, page=max(int(page or 1), 1), per_page=per_page, max_per_page=MAX_PER_PAGE,
        error_out=False,
    )


class TierRow(NamedTuple):
    entry_id: int
    declaration_id: int
    enterprise: str
    value: float | None
    is_leader: bool


def tiers_of(run: RankingRun, key: str) -> dict:
    """The single-indicator ranking (单指标排行榜) of one core indicator, in tiers.

    {"key", "ranked", "reason", "tiers": [{"tier": 1, "entries": [TierRow, ...]}, ...]}.
    Entries of a tier are listed by enterprise name: there is no order inside a tier
    (排名不分先后). An indicator that is not ranked (every value equal) has no tiers. One query.
    """
    status = (run.indicator_status or {}).get(key)
    if status is None:
        raise ValueError(f"run {run.id} has no indicator {key!r}")
    out = {"key": key, "ranked": bool(status.get("ranked")), "reason": status.get("reason"),
           "tiers": []}
    if not out["ranked"]:
        return out
    rows = db.session.execute(
        declaration_labels(
            select(RunEntry.id, RunEntry.declaration_id, RunEntry.values, RunEntry.tiers,
                   RunEntry.is_leader),
            enterprise_id=RunEntry.enterprise_id,
        )
        .where(RunEntry.run_id == run.id, RunEntry.eligible.is_(True))
        .order_by(Enterprise.name, RunEntry.declaration_id)
    ).all()
    groups: dict[int, list[TierRow]] = {}
    for row in rows:
        entry_id, decl_id, values, tiers, is_leader = row[:5]
        name = DeclarationLabel.of(row).enterprise
        tier = int((tiers or {}).get(key) or 0)
        if tier > 0:
            groups.setdefault(tier, []).append(
                TierRow(entry_id, decl_id, name, (values or {}).get(key), bool(is_leader))
            )
    out["tiers"] = [{"tier": t, "entries": groups[t]} for t in sorted(groups)]
    return out


def leaders_of(run: RankingRun) -> list[RunEntry]:
    """The leaders (领跑者) of a run, and leaders removed by dynamic management (is_leader
    False, ``removed_reason`` set), by composite rank. One query."""
    return list(
        db.session.scalars(
            select(RunEntry)
            .where(
                RunEntry.run_id == run.id,
                or_(RunEntry.is_leader.is_(True), RunEntry.removed_reason != ""),
            )
            .order_by(RunEntry.composite_rank, RunEntry.declaration_id)
        )
    )


def exclusions_of(run: RankingRun) -> list[RunEntry]:
    """The excluded entries of a run with their reasons, by declaration id. One query."""
    return list(
        db.session.scalars(
            select(RunEntry)
            .where(RunEntry.run_id == run.id, RunEntry.eligible.is_(False))
            .order_by(RunEntry.declaration_id)
        )
    )


class Position(NamedTuple):
    """Where one declaration stands on one current leaderboard."""

    entry: RunEntry
    run: RankingRun
    plan: EvaluationPlan


def positions_of(enterprise: Enterprise) -> list[Position]:
    """Each of the enterprise's declarations on the current preview and official leaderboards:
    tiers, composite rank, leader, stars, or the exclusion reasons. One query."""
    if enterprise is None:
        return []
    rows = db.session.execute(
        select(RunEntry, RankingRun, EvaluationPlan)
        .join(RankingRun, RankingRun.id == RunEntry.run_id)
        .join(LeaderboardPointer, LeaderboardPointer.run_id == RankingRun.id)
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(RunEntry.enterprise_id == enterprise.id)
        .order_by(
            EvaluationPlan.year.desc(),
            EvaluationPlan.plan_key,
            LeaderboardPointer.kind,
            RunEntry.declaration_id,
        )
    ).all()
    return [Position(entry, run, plan) for entry, run, plan in rows]


def plans_of(evaluator: User) -> list[EvaluationPlan]:
    """The evaluation body's plans in their current versions (drafts and active), newest
    first."""
    return list(
        db.session.scalars(
            select(EvaluationPlan)
            .where(
                EvaluationPlan.evaluator_id == evaluator.id,
                EvaluationPlan.status != PlanStatus.SUPERSEDED,
            )
            .order_by(EvaluationPlan.year.desc(), EvaluationPlan.id.desc())
        )
    )


def plan_versions(plan_key: str) -> list[EvaluationPlan]:
    return list(
        db.session.scalars(
            select(EvaluationPlan)
            .where(EvaluationPlan.plan_key == plan_key)
            .order_by(EvaluationPlan.version_no)
        )
    )


def public_plans() -> list[EvaluationPlan]:
    """Active plans, whose leaderboards the public may read."""
    return list(
        db.session.scalars(
            select(EvaluationPlan)
            .where(EvaluationPlan.status == PlanStatus.ACTIVE)
            .order_by(EvaluationPlan.year.desc(), EvaluationPlan.category_id, EvaluationPlan.id)
        )
    )


def public_plan_page(page: int, per_page: int):
    """One page of the active plans for the public list of leaderboards, with only the columns
    the list shows (no plan rules, no run JSON): the plans (Flask-SQLAlchemy Pagination) and
    ``{(plan_key, kind): run}`` of their current runs (id, kind, status, dates only).
    Three queries (the page, its count, the runs) whatever the number of plans."""
    stmt = (
        select(EvaluationPlan)
        .options(
            load_only(EvaluationPlan.plan_key, EvaluationPlan.title, EvaluationPlan.year,
                      EvaluationPlan.category_id, EvaluationPlan.status),
            joinedload(EvaluationPlan.category).load_only(ProductCategory.name,
                                                          ProductCategory.name_en),
        )
        .where(EvaluationPlan.status == PlanStatus.ACTIVE)
        .order_by(EvaluationPlan.year.desc(), EvaluationPlan.category_id, EvaluationPlan.id)
    )
    plans = db.paginate(stmt, page=max(int(page or 1), 1), per_page=per_page,
                        max_per_page=MAX_PER_PAGE, error_out=False, count=False)
    # Counted on the plans' index alone (paginate's own count wraps the whole select).
    plans.total = db.session.scalar(
        select(func.count(EvaluationPlan.id)).where(EvaluationPlan.status == PlanStatus.ACTIVE)
    )
    keys = sorted({p.plan_key for p in plans.items})
    runs = {}
    if keys:
        rows = db.session.execute(
            select(LeaderboardPointer.plan_key, RankingRun)
            .join(RankingRun, RankingRun.id == LeaderboardPointer.run_id)
            .where(LeaderboardPointer.plan_key.in_(keys))
            .options(
                load_only(RankingRun.id, RankingRun.kind, RankingRun.status,
                          RankingRun.published_at, RankingRun.as_of, RankingRun.plan_id),
                lazyload(RankingRun.plan),
            )
        )
        runs = {(key, run.kind): run for key, run in rows}
    return plans, runs


def job_keys(plan: EvaluationPlan) -> list[str]:
    """The dedupe keys the plan's jobs are enqueued with (ranking.plans)."""
    return [f"ranking:{what}:{plan.plan_key}" for what in ("preview", "official", "dynamic")]


def plan_jobs(plan: EvaluationPlan, limit: int = 20) -> list[OutboxJob]:
    """The plan's recent jobs (regenerations, official runs, dynamic management) with their
    status and progress, newest first. One query."""
    return list(
        db.session.scalars(
            select(OutboxJob)
            .where(OutboxJob.dedupe_key.in_(job_keys(plan)))
            .order_by(OutboxJob.id.desc())
            .limit(limit)
        )
    )
