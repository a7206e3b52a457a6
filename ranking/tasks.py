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

from core.clock import local_date, local_today
from core.extensions import db
from core.jobs import job, report_progress
from core.models import User
from benchmarks.models import BenchmarkIndicator
from declare.models import (
    ComplianceRecord,
    Declaration,
    DeclarationStatus,
    DeclarationVersion,
    Indicator,
)
from ranking import eligibility, publicity, runs
from ranking.models import (
    EvaluationPlan,
    PlanStatus,
    RankingRun,
    RunEntry,
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


def _below_floor(run: RankingRun, revised: dict[int, int]) -> dict[int, str]:
    """{declaration id: reason} of the leaders whose version in force now (a revision:
    ``revised`` maps declaration → its current version) declares a core indicator worse than
    the plan's floor, or no longer declares it."""
    if not revised:
        return {}
    specs = {pi.benchmark_code: pi for pi in run.plan.indicators}
    values: dict[int, dict[str, float]] = {}
    for version_id, code, value in db.session.execute(
        select(Indicator.version_id, BenchmarkIndicator.code, Indicator.cmp_guaranteed)
        .join(BenchmarkIndicator, BenchmarkIndicator.id == Indicator.benchmark_indicator_id)
        .where(Indicator.version_id.in_(sorted(set(revised.values()))),
               BenchmarkIndicator.code.in_(sorted(specs)))
    ):
        if value is not None:
            values.setdefault(version_id, {})[code] = float(value)
    out: dict[int, str] = {}
    for decl_id, version_id in sorted(revised.items()):
        declared = values.get(version_id, {})
        for code, pi in specs.items():
            value = declared.get(code)
            worse = value is None or (value < pi.floor if pi.direction == "higher"
                                      else value > pi.floor)
            if worse:
                name = pi.benchmark.name if pi.benchmark is not None else code
                out[decl_id] = (
                    _("The declaration was revised: %(indicator)s is no longer declared.",
                      indicator=name)
                    if value is None else
                    _("The declaration was revised: %(indicator)s %(value)s %(unit)s is below "
                      "the plan's floor %(floor)s %(unit)s.", indicator=name,
                      value=f"{value:g}", floor=f"{pi.floor:g}", unit=pi.unit)
                )
                break
    return out


def leaders_to_remove(run: RankingRun) -> dict[int, str]:
    """{declaration id: reason} of the run's leaders that lost their place: the declaration
    was abolished or revoked, revised below the plan's floor, or the enterprise has a
    non-conforming inspection or a serious record inside the plan's window."""
    rows = db.session.execute(
        select(
            RunEntry.declaration_id,
            RunEntry.enterprise_id,
            Declaration.status,
            DeclarationVersion.ended_at,
            DeclarationVersion.end_reason,
            RunEntry.version_id,
            Declaration.current_version_id,
        )
        .join(Declaration, Declaration.id == RunEntry.declaration_id)
        .outerjoin(DeclarationVersion, DeclarationVersion.id == Declaration.current_version_id)
        .where(RunEntry.run_id == run.id, RunEntry.is_leader.is_(True))
        .order_by(RunEntry.declaration_id)
    ).all()
    if not rows:
        return {}
    window = eligibility.inspection_window(run.plan)
    records: dict[int, ComplianceRecord] = {}
    if window > 0:
        for record in db.session.scalars(
            eligibility.excluding_records(local_today(), window)
            .where(ComplianceRecord.enterprise_id.in_({r.enterprise_id for r in rows}))
            .order_by(ComplianceRecord.occurred_on, ComplianceRecord.id)
        ):
            records[record.enterprise_id] = record  # the latest one wins
    out: dict[int, str] = {}
    revised = {
        r.declaration_id: r.current_version_id
        for r in rows
        if r.status is DeclarationStatus.PUBLISHED and r.current_version_id != r.version_id
    }
    floors = _below_floor(run, revised)
    for decl_id, enterprise_id, status, ended_at, end_reason, _v, _c in rows:
        when = local_date(ended_at).isoformat() if ended_at else ""
        if status is DeclarationStatus.ABOLISHED:
            out[decl_id] = _("The enterprise abolished the standard (废止) on %(date)s: %(reason)s",
                             date=when, reason=end_reason or "")
        elif status is DeclarationStatus.REVOKED:
            out[decl_id] = _("The declaration was revoked (撤销) on %(date)s: %(reason)s",
                             date=when, reason=end_reason or "")
        elif enterprise_id in records:
            record = records[enterprise_id]
            label = (
                _("a non-conforming inspection result")
                if record.result == "nonconforming"
                else _("a serious compliance record")
            )
            out[decl_id] = _("The enterprise has %(what)s of %(date)s %(ref)s",
                             what=label, date=record.occurred_on.isoformat(),
                             ref=f"({record.reference})" if record.reference else "").strip()
        elif decl_id in floors:
            out[decl_id] = floors[decl_id]
    return out


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
        removals = leaders_to_remove(run)
        if not removals:
            continue
        written = remove_leaders(run, removals).id
    return written


def remove_leaders(run: RankingRun, removals: dict[int, str], user=None) -> RankingRun:
    """A new list version of ``run`` (published, or under publicity with the same period)
    without the leaders in ``removals``, each shown removed with its reason."""
    reason = _("Dynamic management: %(n)d leader(s) removed.", n=len(removals))
    return publicity.record_removal(run, removals, reason, reasons=removals, user=user)
