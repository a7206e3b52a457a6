"""Every preview regenerated in one job (``tasks.regenerate_all_previews``): the same runs as
the per-plan path, grouped scoring, one transaction for all pointers, pruning as its own job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.extensions import db as _db
from core.models import OutboxJob
from declare import operations as declare_ops
from declare.models import DeclarationVersion
from declare.queries import local_today
from ranking import eligibility, queries, runs, snapshot_io, tasks
from ranking.models import LeaderboardPointer, RankingRun, RunEntry, RunKind
from tests.ranking.conftest import commit_and_run, publish

pytestmark = pytest.mark.usefixtures("en_request")


def contents(run: RankingRun) -> list[tuple]:
    rows = _db.session.scalars(
        select(RunEntry).where(RunEntry.run_id == run.id).order_by(RunEntry.id)
    )
    return [
        (e.declaration_id, e.version_id, e.enterprise_id, e.eligible, e.exclusion_reasons,
         e.values, e.tiers, e.composite, e.composite_rank, e.is_leader, e.stars, e.product_id,
         e.removed_reason)
        for e in rows
    ]


def counts() -> tuple[int, int, list]:
    _db.session.rollback()
    return (
        _db.session.scalar(select(func.count(RankingRun.id))),
        _db.session.scalar(select(func.count(RunEntry.id))),
        _db.session.execute(
            select(LeaderboardPointer.plan_key, LeaderboardPointer.run_id)
            .order_by(LeaderboardPointer.plan_key)
        ).all(),
    )


@pytest.fixture
def three_plans(make_plan, ranked_catalogue):
    """Two plans with the same specs (scored in one grouped call) and one with another leader
    rule, over declarations that cover every kind of entry."""
    a = make_plan(title="A")
    b = make_plan(title="B")  # same specs, rule and method as A
    c = make_plan(title="C", composite_method="topsis",
                  leader_rule={"kind": "best_n", "n": 2, "star_cuts": [0.9]})
    for apf, noise, standby in ((5.1, 36.0, 0.3), (5.1, 38.0, 0.4), (4.6, 41.0, 0.8),
                                (4.8, 39.0, 0.5), (5.3, 37.0, 0.2)):
        publish(ranked_catalogue, apf=apf, noise=noise, standby=standby, dispatch=False)
    publish(ranked_catalogue, standby=None, dispatch=False)  # missing value
    publish(ranked_catalogue, noise=44.0, mingshi={"noise": "低于推荐值：成本"}, dispatch=False)
    bad = publish(ranked_catalogue, dispatch=False)
    _db.session.execute(  # found after publication: not a valid number any more
        update(DeclarationVersion.__table__)
        .where(DeclarationVersion.id == bad.id)
        .values(std_code='Q/SJX\\ "0003-2024')
    )
    _db.session.commit()
    return a, b, c


def test_one_job_writes_the_same_runs_as_the_per_plan_path(three_plans, db):
    plans = list(three_plans)
    before = {p.id: queries.current_run(p.plan_key, RunKind.PREVIEW).id for p in plans}
    out = tasks.regenerate_all_previews()
    commit_and_run()
    assert set(out) >= {p.id for p in plans}
    for plan in plans:
        batch = queries.current_run(plan.plan_key, RunKind.PREVIEW)
        assert batch.id == out[plan.id] and batch.id != before[plan.id]
        single = runs.build_run(plan, RunKind.OFFICIAL)
        commit_and_run()
        assert batch.inputs_hash == single.inputs_hash
        assert (batch.entry_count, batch.eligible_count) == (8, 5)
        assert contents(batch) == contents(single)
        assert batch.indicator_status == single.indicator_status
    invalid = [e[4] for e in contents(queries.current_run(plans[0].plan_key, RunKind.PREVIEW))
               if e[4] and e[4][0]["code"] == "number_invalid"]
    assert invalid == [[{"code": "number_invalid", "detail": 'Q/SJX\\ "0003-2024'}]]
    leaders = {p.id: sorted(e.declaration_id for e in queries.leaders_of(
        queries.current_run(p.plan_key, RunKind.PREVIEW))) for p in plans}
    assert leaders[plans[0].id] == leaders[plans[1].id]  # the grouped call ranks each alone
    assert len(leaders[plans[2].id]) == 2  # best 2 by TOPSIS


def test_unchanged_plans_write_nothing_and_the_hash_is_the_per_plan_one(three_plans, db):
    first = tasks.regenerate_all_previews()
    commit_and_run()
    snapshot = counts()
    assert tasks.regenerate_all_previews() == first
    commit_and_run()
    assert counts() == snapshot
    a = three_plans[0]
    assert runs.build_run(a, RunKind.PREVIEW).id == first[a.id]  # same hash: reused


def test_a_failure_midway_leaves_every_previous_leaderboard(
    three_plans, ranked_catalogue, db, monkeypatch
):
    tasks.regenerate_all_previews()
    commit_and_run()
    publish(ranked_catalogue, apf=5.2, dispatch=False)
    snapshot = counts()
    original = snapshot_io._insert_chunk
    calls = []

    def fail_midway(rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("the database went away mid-snapshot")
        original(rows)

    monkeypatch.setattr(snapshot_io, "ENTRY_CHUNK", 4)
    monkeypatch.setattr(snapshot_io, "_insert_chunk", fail_midway)
    with pytest.raises(RuntimeError, match="mid-snapshot"):
        tasks.regenerate_all_previews()
    _db.session.rollback()  # what run_outbox does with a failing job
    assert calls == [4, 4, 4] and counts() == snapshot  # no run, entry or pointer changed

    monkeypatch.setattr(snapshot_io, "_insert_chunk", original)
    tasks.regenerate_all_previews()  # the retry
    commit_and_run()
    n_runs, entries, pointers = counts()
    assert n_runs == snapshot[0] + 3 and entries == snapshot[1] + 3 * 9
    assert [k for k, _ in pointers] == [k for k, _ in snapshot[2]]
    assert all(new != old for (_, new), (_, old) in zip(pointers, snapshot[2]))


def test_pruning_is_a_job_of_its_own_and_keeps_the_current_preview(
    three_plans, ranked_catalogue, db
):
    a, b, c = three_plans
    for apf in (4.6, 4.7, 4.8, 4.9):
        publish(ranked_catalogue, apf=apf, dispatch=False)
        tasks.regenerate_all_previews()
        commit_and_run()  # inline: the prune job it enqueued runs right after the commit
    prunes = db.session.scalars(
        select(OutboxJob).where(OutboxJob.func == "ranking.tasks.prune_previews")
    ).all()
    assert prunes and {j.status for j in prunes} == {"done"} and prunes[0].args == []
    for plan in (a, b, c):
        previews = db.session.scalars(
            select(RankingRun.id).where(RankingRun.plan_id == plan.id,
                                        RankingRun.kind == RunKind.PREVIEW)
        ).all()
        assert len(previews) == runs.PREVIEW_KEEP
        assert queries.current_run(plan.plan_key, RunKind.PREVIEW).id == max(previews)
    assert runs.prune_previews() == 0  # nothing more to drop


def test_reading_plans_together_splits_them_as_reading_each_alone(make_plan, ranked_catalogue):
    """Different inspection windows in one read: an ended declaration and an old
    non-conforming record count for the plan whose window covers them only."""
    wide = make_plan(entry_rules={"inspection_window_days": 1095})
    narrow = make_plan(entry_rules={"inspection_window_days": 30})
    off = make_plan(entry_rules={"inspection_window_days": 0})
    ended = publish(ranked_catalogue, apf=5.0)
    inspected = publish(ranked_catalogue, apf=4.9)
    publish(ranked_catalogue, apf=4.7)
    declare_ops.abolish(ended.declaration, "停产")
    _db.session.flush()
    ended_at = _db.session.scalar(
        select(DeclarationVersion.ended_at).where(DeclarationVersion.id == ended.id)
    )
    _db.session.execute(  # abolished 100 days ago
        update(DeclarationVersion.__table__)
        .where(DeclarationVersion.id == ended.id)
        .values(ended_at=ended_at - timedelta(days=100))
    )
    declare_ops.record_compliance(
        inspected.declaration.enterprise, kind="inspection", result="nonconforming",
        occurred_on=local_today() - timedelta(days=200),
    )
    commit_and_run()
    together = eligibility.read([wide, narrow, off])
    for plan in (wide, narrow, off):
        alone = eligibility.snapshot(plan)
        both = together.snapshot(plan)
        assert both.candidates.index.tolist() == alone.candidates.index.tolist()
        assert both.exclusions["reasons"].tolist() == alone.exclusions["reasons"].tolist()
        assert both.matrix.equals(alone.matrix)
    assert ended.declaration_id in eligibility.snapshot(wide).candidates.index
    assert ended.declaration_id not in eligibility.snapshot(narrow).candidates.index
    reasons = eligibility.snapshot(wide).exclusions["reasons"]
    assert [r["code"] for r in reasons[inspected.declaration_id]] == ["nonconforming_inspection"]
    assert inspected.declaration_id not in eligibility.snapshot(narrow).exclusions.index
    assert eligibility.snapshot(off).exclusions.empty


def test_the_whole_table_read_of_many_plans_equals_the_indexed_read(
    three_plans, ranked_catalogue, monkeypatch
):
    """With many plans the reads scan whole tables (on PostgreSQL on several connections
    sharing one snapshot) instead of going through the categories' indexes: same result."""
    plans = list(three_plans)
    indexed = {p.id: eligibility.read([p]).snapshot(p) for p in plans}
    monkeypatch.setattr(eligibility, "RESTRICT_BELOW_PLANS", 1)
    scanned = eligibility.read(plans)
    for plan in plans:
        a, b = indexed[plan.id], scanned.snapshot(plan)
        assert a.candidates.index.tolist() == b.candidates.index.tolist()
        assert a.candidates.equals(b.candidates)
        assert a.matrix.equals(b.matrix)
        assert a.exclusions["reasons"].tolist() == b.exclusions["reasons"].tolist()
