"""Background jobs of ranking/ (RQ on the ``ranking`` queue, or inline without Redis).

Coarse (one per plan, never one per declaration), taking ids, idempotent and safe to retry:
a job's writes and its outbox "done" commit together, so a job killed midway leaves nothing
behind (the previous leaderboard stays current) and RQ runs it again.
"""

from __future__ import annotations

import logging

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.extensions import db
from core.jobs import job, report_progress
from core.models import User
from ranking import publicity, runs
from ranking.models import (
    EvaluationPlan,
    PlanStatus,
    RankingRun,
    RunKind,
    RunStatus,
)

__all__ = [
    "apply_dynamic_management",
    "official_run",
    "prune_previews",
    "regenerate_all_previews",
    "regenerate_preview",
]

log = logging.getLogger(__name__)


def _active_version(plan_id: int) -> EvaluationPlan | None:
    """The active version of the plan's key (a job queued for an older version still runs
    the plan as it stands now)."""
    plan = db.session.get(EvaluationPlan, plan_id)
    if plan is None:
        return None
    if plan.status is PlanStatus.ACTIVE:
        return plan
    return db.session.scalar(
        select(EvaluationPlan)
        .where(EvaluationPlan.plan_key == plan.plan_key, EvaluationPlan.status == PlanStatus.ACTIVE)
        .order_by(EvaluationPlan.version_no.desc())
        .limit(1)
    )


@job('ranking')
def regenerate_preview(plan_id: int) -> int | None:
    """Write a fresh preview snapshot of the plan and switch its preview pointer to it.

    Does nothing for a plan that is not active; writes nothing when the inputs did not change
    (same hash as the current preview). Returns the current preview run id.
    """
    plan = _active_version(plan_id)
    if plan is None:
        log.info("plan %s is not active: no preview", plan_id)
        return None
    run = runs.build_run(plan, RunKind.PREVIEW)
    return run.id


@job('ranking')
def regenerate_all_previews() -> dict[int, int]:
    """Regenerate the preview of every active plan in one job and one transaction (after a
    catalogue change, a restore, or to rebuild every leaderboard): one read of all candidates,
    grouped scoring, one COPY stream, every pointer switched together. Plans whose inputs did
    not change write nothing. Returns {plan id: current preview run id}."""
    active = db.session.scalars(
        select(EvaluationPlan)
        .where(EvaluationPlan.status == PlanStatus.ACTIVE)
        .options(selectinload(EvaluationPlan.indicators))
        .order_by(EvaluationPlan.id)
    ).all()
    written = runs.build_previews(active)
    return {plan_id: run.id for plan_id, run in written.items()}


@job('ranking')
def prune_previews(plan_key: str | None = None) -> int:
    """Drop old preview snapshots of one plan (or of every plan); see
    ``runs.prune_previews``. Returns how many runs were dropped."""
    return runs.prune_previews(None if plan_key is None else [plan_key])


@job('ranking')
def official_run(plan_id: int, user_id: int) -> int | None:
    """Compute an official run (status computed) for the evaluation body to publicise."""
    plan = _active_version(plan_id)
    if plan is None:
        log.info("plan %s is not active: no official run", plan_id)
        return None
    user = db.session.get(User, user_id)
    run = runs.build_run(plan, RunKind.OFFICIAL, user)
    return run.id


def _published_run(plan_key: str) -> RankingRun | None:
    return db.session.scalar(
        select(RankingRun)
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(
            EvaluationPlan.plan_key == plan_key,
            RankingRun.kind == RunKind.OFFICIAL,
            RankingRun.status == RunStatus.PUBLISHED,
        )
        .order_by(RankingRun.id.desc())
        .limit(1)
    )


def _open_runs(plan_key: str) -> list[RankingRun]:
    """The plan's official lists that are not final: under publicity (公示)."""
    return list(
        db.session.scalars(
            select(RankingRun)
            .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
            .where(
                EvaluationPlan.plan_key == plan_key,
                RankingRun.kind == RunKind.OFFICIAL,
                RankingRun.status == RunStatus.PUBLICITY,
            )
            .order_by(RankingRun.id)
        )
    )


@job('ranking')
def apply_dynamic_management(plan_id: int) -> int | None:
    """动态管理: remove leaders that lost their place from the published list, visibly.

    Writes a new published list version (or nothing when no leader is affected: idempotent).
    Returns the id of the new version, if one was written.
    """
    plan = db.session.get(EvaluationPlan, plan_id)
    if plan is None:
        return None
    runs = [*_open_runs(plan.plan_key), _published_run(plan.plan_key)]
    report_progress(0.2, _("Checking the leaders"))
    written = None
    for run in runs:  # every list that is not final, then the published one
        if run is None:
            continue
        removals = publicity.leaders_to_remove(run)
        if not removals:
            continue
        written = publicity.remove_leaders(run, removals).id
    return written
