"""Building runs: read the candidates (``ranking.eligibility``), score them
(``ranking.scoring``), write the entries (``ranking.snapshot_io``) and switch the plan's
"current" pointer in the same transaction; previews and their pruning. Flushes, never commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, text

from core import jobs
from core.extensions import db
from core.models import OutboxJob, User, utcnow
from ranking import eligibility, scoring, snapshot_io
from ranking.models import (
    EvaluationPlan,
    LeaderboardPointer,
    RankingRun,
    RunEntry,
    RunKind,
    RunStatus,
)
from ranking.plans import plan_rule, plan_specs

__all__ = [
    "build_previews",
    "build_run",
    "enqueue_prune",
    "prune_previews",
]

PREVIEW_KEEP = 3  # preview runs kept per plan (the current one and two before it)


# --------------------------------------------------------------------------- runs

#: Columns of a run entry as the snapshot writer sends them (COPY / executemany).
def _pointer(plan_key: str, kind: RunKind, *, lock: bool = False) -> LeaderboardPointer | None:
    stmt = select(LeaderboardPointer).where(
        LeaderboardPointer.plan_key == plan_key, LeaderboardPointer.kind == kind
    )
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def _switch(plan_key: str, kind: RunKind, run: RankingRun) -> bool:
    """Point (plan_key, kind) at ``run``; a preview never replaces a newer snapshot."""
    pointer = _pointer(plan_key, kind, lock=True)
    if pointer is None:
        db.session.add(LeaderboardPointer(plan_key=plan_key, kind=kind, run_id=run.id))
        return True
    if pointer.run_id == run.id:
        return True
    if kind is RunKind.PREVIEW:
        old = db.session.get(RankingRun, pointer.run_id)
        if old is not None and old.as_of > run.as_of:
            run.status = RunStatus.SUPERSEDED  # a later job already wrote a fresher one
            return False
        if old is not None and old.status is RunStatus.COMPUTED:
            old.status = RunStatus.SUPERSEDED
    pointer.run_id = run.id
    pointer.switched_at = utcnow()
    return True


def _switch_previews(written: list[tuple[EvaluationPlan, RankingRun]]) -> None:
    """``_switch`` for many previews at once: the pointers locked and the runs they point to
    read in one statement each, whatever the number of plans."""
    keys = sorted({plan.plan_key for plan, _ in written})
    pointers = {
        p.plan_key: p
        for p in db.session.scalars(
            select(LeaderboardPointer)
            .where(LeaderboardPointer.plan_key.in_(keys),
                   LeaderboardPointer.kind == RunKind.PREVIEW)
            .order_by(LeaderboardPointer.id)
            .with_for_update()
        )
    }
    old_ids = [p.run_id for p in pointers.values()]
    old_runs = {
        r.id: r
        for r in db.session.scalars(select(RankingRun).where(RankingRun.id.in_(old_ids)))
    } if old_ids else {}
    now = utcnow()
    for plan, run in written:
        pointer = pointers.get(plan.plan_key)
        if pointer is None:
            pointers[plan.plan_key] = pointer = LeaderboardPointer(
                plan_key=plan.plan_key, kind=RunKind.PREVIEW, run_id=run.id
            )
            db.session.add(pointer)
            continue
        old = old_runs.get(pointer.run_id)
        if old is not None and old.as_of > run.as_of:
            run.status = RunStatus.SUPERSEDED
            continue
        if old is not None and old.status is RunStatus.COMPUTED:
            old.status = RunStatus.SUPERSEDED
        pointer.run_id = run.id
        pointer.switched_at = now


def _plan_key_runs(plan_key: str):
    return (
        select(RankingRun.id)
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(EvaluationPlan.plan_key == plan_key)
    )


def prune_previews(plan_keys: Iterable[str] | None = None, keep: int = PREVIEW_KEEP) -> int:
    """Drop old preview snapshots (never a current one) of the given plans (None: of every
    plan): previews regenerate often. Returns how many runs were dropped.

    A job of its own (``enqueue_prune``), not part of the regeneration: deleting thousands of
    entries (and PostgreSQL's per-row check of the objections that could reference them)
    would otherwise sit between a publication and its visibility.
    """
    newest_first = func.row_number().over(
        partition_by=EvaluationPlan.plan_key, order_by=RankingRun.id.desc()
    )
    ranked = (
        select(RankingRun.id.label("id"), newest_first.label("n"))
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(RankingRun.kind == RunKind.PREVIEW)
    )
    if plan_keys is not None:
        ranked = ranked.where(EvaluationPlan.plan_key.in_(sorted(set(plan_keys))))
    ranked = ranked.subquery("ranked")
    ids = list(
        db.session.scalars(
            select(ranked.c.id)
            .where(ranked.c.n > keep, ranked.c.id.not_in(select(LeaderboardPointer.run_id)))
            .order_by(ranked.c.id)
        )
    )
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        db.session.execute(delete(RunEntry.__table__).where(RunEntry.run_id.in_(chunk)))
        db.session.execute(delete(RankingRun.__table__).where(RankingRun.id.in_(chunk)))
    gone = set(ids)
    for run in [r for r in db.session.identity_map.values() if isinstance(r, RankingRun)]:
        if run.id in gone:
            db.session.expunge(run)
    return len(ids)


def _previews_to_prune(plan_keys: Iterable[str], keep: int = PREVIEW_KEEP) -> bool:
    """Whether one of these plans holds more than ``keep`` preview runs."""
    counts = (
        select(func.count(RankingRun.id).label("n"))
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(RankingRun.kind == RunKind.PREVIEW,
               EvaluationPlan.plan_key.in_(sorted(set(plan_keys))))
        .group_by(EvaluationPlan.plan_key)
        .subquery("preview_counts")
    )
    return (db.session.scalar(select(func.max(counts.c.n))) or 0) > keep


def enqueue_prune(plan_key: str | None = None) -> OutboxJob:
    """Prune old previews soon (debounced: one job per plan, or one for all, per window)."""
    args = (plan_key,) if plan_key is not None else ()
    from ranking import tasks

    return jobs.enqueue(
        tasks.prune_previews,
        *args,
        dedupe_key=f"ranking:prune:{plan_key or '*'}",
        delay=float(current_app.config.get("RANKING_PRUNE_DELAY_SECONDS", 30)),
    )


# -- reading and scoring -------------------------------------------------------------------


class _PlanRows:
    """One plan's rows in a ``Candidates`` read: where they are, which are eligible, the
    plan's scoring specs and the hash of its inputs."""

    def __init__(self, plan: EvaluationPlan, cand: eligibility.Candidates, reasons: np.ndarray):
        self.plan = plan
        self.start, self.stop = cand.bounds[plan.id]
        self.specs = plan_specs(plan)
        self.rule = plan_rule(plan)
        self.keys = [s.key for s in self.specs]
        rows = np.arange(self.start, self.stop)
        self.eligible = rows[~cand.excluded[self.start : self.stop]]
        self.digest = self._digest(cand, reasons)

    @property
    def count(self) -> int:
        return self.stop - self.start

    def matrix(self, cand: eligibility.Candidates, index=None) -> pd.DataFrame:
        """The eligible rows' values (index: row numbers, or the given labels)."""
        return pd.DataFrame(
            cand.values[self.eligible][:, : len(self.keys)],
            index=self.eligible if index is None else index,
            columns=self.keys,
        )

    def _digest(self, cand: eligibility.Candidates, reasons: np.ndarray) -> str:
        """The run's inputs hash: the eligible matrix, specs, rule and method (scoring's
        own canonical hash) plus, as one SHA-256 of their bytes, every candidate's
        declaration, version, label product and values and every exclusion with its reasons."""
        a, b = self.start, self.stop
        entries = hashlib.sha256()
        for column in (cand.declaration_id, cand.version_id, cand.product_id):
            entries.update(np.ascontiguousarray(column[a:b], dtype="<i8").tobytes())
        values = np.ascontiguousarray(cand.values[a:b, : len(self.keys)], dtype="<f8") + 0.0
        entries.update(np.where(np.isnan(values), np.nan, values).tobytes())
        excluded = a + np.flatnonzero(cand.excluded[a:b])
        entries.update("\0".join(reasons[excluded].tolist()).encode("utf-8"))
        extra = {
            "plan_id": self.plan.id,
            "plan_version": self.plan.version_no,
            "entry_rules": eligibility.entry_rules_of(self.plan),
            "entries": entries.hexdigest(),
        }
        matrix = self.matrix(cand, index=pd.Index(cand.declaration_id[self.eligible]))
        return scoring.inputs_hash(matrix, self.specs, self.rule, self.plan.composite_method,
                                   extra)


class _Scores:
    """Tiers, composite, ranks, leaders and stars of every eligible row of a read, filled
    plan group by plan group (rows of excluded entries keep zeros and NaN)."""

    def __init__(self, cand: eligibility.Candidates):
        n, width = cand.n, max(cand.width, 1)
        self.tiers = np.zeros((n, width), dtype=np.int64)
        self.composite = np.full(n, np.nan)
        self.rank = np.zeros(n, dtype=np.int64)
        self.leader = np.zeros(n, dtype=bool)
        self.stars = np.zeros(n, dtype=np.int64)
        self.ranked: dict[int, dict[str, bool]] = {}


def _score(cand: eligibility.Candidates, members: list[_PlanRows]) -> _Scores:
    """Rank the plans' eligible rows: one ``scoring.rank`` call per group of plans with the
    same specs, leader rule and method (grouped by plan), so many plans cost a few calls."""
    scores = _Scores(cand)
    groups: dict[tuple, list[_PlanRows]] = {}
    for pr in members:
        groups.setdefault((tuple(pr.specs), pr.rule, pr.plan.composite_method), []).append(pr)
    for (specs, rule, method), group in groups.items():
        rows = np.concatenate([pr.eligible for pr in group])
        keys = [s.key for s in specs]
        matrix = pd.DataFrame(cand.values[rows][:, : len(keys)], index=rows, columns=keys)
        if len(group) == 1:
            result = scoring.rank(matrix, list(specs), rule, method=method)
        else:
            labels = pd.Series(cand.plan_idx[rows], index=rows)
            result = scoring.rank(matrix, list(specs), rule, method=method, groups=labels)
        at = result.tiers.index.to_numpy()
        scores.tiers[at, : len(keys)] = result.tiers.to_numpy()
        scores.composite[at] = result.composite.to_numpy()
        scores.rank[at] = result.composite_rank.to_numpy()
        scores.leader[at] = result.leaders.to_numpy()
        scores.stars[at] = result.stars.to_numpy()
        plan_of_row = cand.plan_idx[at]
        for pr in group:
            mine = plan_of_row == cand.index_of[pr.plan.id]
            flags = {}
            for key in keys:
                r = result.ranked[key]
                flags[key] = bool(r) if isinstance(r, (bool, np.bool_)) else bool(
                    np.all(np.asarray(r)[mine])
                )
            scores.ranked[pr.plan.id] = flags
    return scores


def _indicator_status(pr: _PlanRows, scores: _Scores, ranges: dict) -> dict:
    status = {}
    n_eligible = len(pr.eligible)
    for pi, spec in zip(pr.plan.indicators, pr.specs):
        ranked = bool(scores.ranked.get(pr.plan.id, {}).get(spec.key)) if n_eligible else False
        status[spec.key] = {
            "ranked": ranked,
            "reason": None if ranked else ("all_equal" if n_eligible else "no_eligible"),
            "name": pi.benchmark.name if pi.benchmark is not None else spec.key,
            "unit": pi.unit,
            "direction": spec.direction,
            "floor": spec.floor,
            "cut_mode": spec.cut_mode,
            "cuts": list(spec.cuts),
            "weight": spec.weight,
            "best_reference": spec.best_reference,
            "tier_ranges": ranges.get(spec.key, {}),
        }
    return status


def _tier_ranges(
    cand: eligibility.Candidates, scores: _Scores, members: list[_PlanRows]
) -> dict[int, dict[str, dict]]:
    """{plan id: {key: {tier: [lowest, highest value]}}} of the eligible entries (chart
    bands), for every plan at once: one scatter-min/max per indicator column."""
    out: dict[int, dict[str, dict]] = {pr.plan.id: {} for pr in members}
    rows = np.concatenate([pr.eligible for pr in members]) if members else np.zeros(0, int)
    if not len(rows):
        return out
    plan_i = cand.plan_idx[rows]
    width = max(len(pr.keys) for pr in members)
    for j in range(width):
        tiers = scores.tiers[rows, j]
        values = cand.values[rows, j]
        ok = tiers > 0
        top = int(tiers.max(initial=0)) + 1
        slot = plan_i[ok] * top + tiers[ok]
        size = len(cand.plans) * top
        lo = np.full(size, np.inf)
        hi = np.full(size, -np.inf)
        np.fmin.at(lo, slot, values[ok])
        np.fmax.at(hi, slot, values[ok])
        seen = np.bincount(slot, minlength=size) > 0
        for pr in members:
            if j >= len(pr.keys):
                continue
            base = cand.index_of[pr.plan.id] * top
            out[pr.plan.id][pr.keys[j]] = {
                str(t): [float(lo[base + t]), float(hi[base + t])]
                for t in range(1, top)
                if seen[base + t]
            }
    return out


def _reason_texts(cand: eligibility.Candidates) -> np.ndarray:
    """The exclusion reasons of every row as the JSON the entry stores ("[]": eligible)."""
    return cand.reason_texts


def _next_list_version(plan_key: str) -> int:
    last = db.session.scalar(
        select(func.max(RankingRun.list_version))
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(
            EvaluationPlan.plan_key == plan_key,
            RankingRun.kind == RunKind.OFFICIAL,
            RankingRun.status.in_(
                [RunStatus.PUBLICITY, RunStatus.PUBLISHED, RunStatus.SUPERSEDED]
            ),
        )
    )
    return (last or 0) + 1


def _tune_read() -> None:
    """On PostgreSQL: no JIT for this transaction's reads. The candidate reads are simple
    scans and joins whose estimated cost passes ``jit_above_cost`` on large data; compiling
    them took longer than running them (~0.5 s per plan, measured with EXPLAIN ANALYZE)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


def _new_run(pr: _PlanRows, cand, kind: RunKind, status: dict, user: User | None, *,
             list_version: int = 1, previous: RankingRun | None = None,
             change_reason: str = "") -> RankingRun:
    return RankingRun(
        plan_id=pr.plan.id,
        kind=kind,
        status=RunStatus.COMPUTED,
        list_version=list_version,
        previous_run_id=previous.id if previous is not None else None,
        change_reason=change_reason,
        inputs_hash=pr.digest,
        as_of=cand.as_of,
        entry_count=pr.count,
        eligible_count=len(pr.eligible),
        indicator_status=status,
        created_by_id=user.id if user is not None else None,
    )


def build_run(
    plan: EvaluationPlan,
    kind: RunKind | str,
    user: User | None = None,
    *,
    previous: RankingRun | None = None,
    change_reason: str = "",
) -> RankingRun:
    """Compute a complete run now and write it (run + all entries) in this transaction.

    Preview: the (plan_key, "preview") pointer switches to it in the same transaction; the
    same inputs as the current preview write nothing and return that run. Official: status
    computed, the next list version (``previous``: the run it replaces, +1).
    """
    kind = RunKind(kind)
    jobs.report_progress(0.05, _("Reading the declarations"))
    _tune_read()
    cand = eligibility.read([plan])
    reasons = _reason_texts(cand)
    pr = _PlanRows(plan, cand, reasons)
    if kind is RunKind.PREVIEW:
        pointer = _pointer(plan.plan_key, RunKind.PREVIEW)
        if pointer is not None:
            current = db.session.get(RankingRun, pointer.run_id)
            if current is not None and current.plan_id == plan.id and current.inputs_hash == pr.digest:
                jobs.report_progress(0.95, _("Unchanged since the last preview"))
                return current
    scores = _score(cand, [pr])
    jobs.report_progress(0.5, _("Writing %(n)d entries", n=pr.count))
    status = _indicator_status(pr, scores, _tier_ranges(cand, scores, [pr])[plan.id])
    if kind is RunKind.OFFICIAL:
        list_version = previous.list_version + 1 if previous else _next_list_version(plan.plan_key)
    else:
        list_version = 1
    run = _new_run(pr, cand, kind, status, user, list_version=list_version, previous=previous,
                   change_reason=change_reason)
    db.session.add(run)
    db.session.flush()
    snapshot_io.insert_entries(snapshot_io.EntryColumns(cand, scores, [(pr, run.id)], reasons))
    if kind is RunKind.PREVIEW:
        _switch(plan.plan_key, RunKind.PREVIEW, run)
        db.session.flush()
        if _previews_to_prune([plan.plan_key]):
            enqueue_prune(plan.plan_key)
    db.session.flush()
    return run


def build_previews(plans: Iterable[EvaluationPlan]) -> dict[int, RankingRun]:
    """Regenerate the previews of many plans in this transaction (e.g. all active plans).

    The same result as ``build_run(plan, "preview")`` for each plan, at a fraction of the
    cost: one read of every plan's candidates, one ``scoring.rank`` call per group of plans
    with the same specs, one stream of COPY chunks for every entry, every pointer locked and
    switched together (readers see all old or all new leaderboards: one transaction). A plan
    whose inputs did not change writes nothing. Returns {plan id: its current preview}.
    """
    plans = sorted({p.id: p for p in plans}.values(), key=lambda p: p.id)
    if not plans:
        return {}
    jobs.report_progress(0.05, _("Reading the declarations"))
    _tune_read()
    cand = eligibility.read(plans)
    reasons = _reason_texts(cand)
    members = [_PlanRows(plan, cand, reasons) for plan in plans]
    current = {
        plan_key: (run_id, plan_id, digest)
        for plan_key, run_id, plan_id, digest in db.session.execute(
            select(LeaderboardPointer.plan_key, RankingRun.id, RankingRun.plan_id,
                   RankingRun.inputs_hash)
            .join(RankingRun, RankingRun.id == LeaderboardPointer.run_id)
            .where(LeaderboardPointer.kind == RunKind.PREVIEW,
                   LeaderboardPointer.plan_key.in_(sorted({p.plan_key for p in plans})))
        )
    }
    out: dict[int, RankingRun] = {}
    changed = []
    for pr in members:
        now = current.get(pr.plan.plan_key)
        if now is not None and now[1] == pr.plan.id and now[2] == pr.digest:
            out[pr.plan.id] = db.session.get(RankingRun, now[0])
        else:
            changed.append(pr)
    if not changed:
        jobs.report_progress(0.95, _("Unchanged since the last preview"))
        return out
    scores = _score(cand, changed)
    ranges = _tier_ranges(cand, scores, changed)
    total = sum(pr.count for pr in changed)
    jobs.report_progress(0.5, _("Writing %(n)d entries", n=total))
    runs = [
        _new_run(pr, cand, RunKind.PREVIEW, _indicator_status(pr, scores, ranges[pr.plan.id]),
                 None)
        for pr in changed
    ]
    db.session.add_all(runs)
    db.session.flush()
    snapshot_io.insert_entries(
        snapshot_io.EntryColumns(
            cand, scores, [(pr, run.id) for pr, run in zip(changed, runs)], reasons
        )
    )
    _switch_previews([(pr.plan, run) for pr, run in zip(changed, runs)])
    db.session.flush()
    if _previews_to_prune(pr.plan.plan_key for pr in changed):
        enqueue_prune(None)
    out.update({pr.plan.id: run for pr, run in zip(changed, runs)})
    return out


