"""Regeneration jobs: atomic pointer switch, retry, debouncing, running status and progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core import jobs
from core.models import OutboxJob
from ranking import plans, queries, runs, snapshot_io, tasks
from ranking.models import LeaderboardPointer, RankingRun, RunEntry, RunKind
from tests.ranking.conftest import commit_and_run, publish

pytestmark = pytest.mark.usefixtures("en_request")

PREVIEW = "ranking.tasks.regenerate_preview"


def preview_rows(db) -> list[OutboxJob]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(OutboxJob).where(OutboxJob.func == PREVIEW).order_by(OutboxJob.id)
        )
    )


def counts(db) -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count(RankingRun.id))),
        db.session.scalar(select(func.count(RunEntry.id))),
        db.session.scalar(select(LeaderboardPointer.run_id)),
    )


def test_a_failing_regeneration_leaves_the_previous_leaderboard_current(
    make_plan, ranked_catalogue, db, monkeypatch
):
    plan = make_plan()
    publish(ranked_catalogue, apf=5.1)
    before = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    assert before.entry_count == 1
    snapshot = counts(db)

    original = snapshot_io._insert_chunk
    calls = []

    def fail_midway(rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("the database went away mid-snapshot")
        original(rows)

    monkeypatch.setattr(snapshot_io, "ENTRY_CHUNK", 1)
    monkeypatch.setattr(snapshot_io, "_insert_chunk", fail_midway)
    publish(ranked_catalogue, apf=4.6)  # commits, then the inline job runs and fails
    assert calls == [1, 1]  # the first chunk was written, then the second failed

    row = preview_rows(db)[-1]
    assert row.status == "failed" and "mid-snapshot" in row.error
    assert counts(db) == snapshot  # no partial run, no partial entries, pointer unchanged
    assert queries.current_run(plan.plan_key, RunKind.PREVIEW).id == before.id

    monkeypatch.setattr(snapshot_io, "_insert_chunk", original)
    jobs.run_outbox(row.id)  # what RQ's retry does
    after = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    assert after.id != before.id and after.entry_count == 2
    assert preview_rows(db)[-1].status == "done"


def test_a_burst_in_one_transaction_makes_one_job(make_plan, ranked_catalogue, db):
    plan = make_plan()
    for apf in (4.6, 4.7, 4.8, 4.9):
        publish(ranked_catalogue, apf=apf, commit=False)
    waiting = [r for r in db.session.info.get("outbox_pending", []) if r.func == PREVIEW]
    assert len(waiting) == 1 and waiting[0].args == [plan.id]
    commit_and_run()
    rows = preview_rows(db)
    assert [r.status for r in rows] == ["done", "done"]  # the activation's, then the burst's
    assert queries.current_run(plan.plan_key, RunKind.PREVIEW).entry_count == 4


def test_progress_is_visible_while_the_job_runs(make_plan, ranked_catalogue, db, monkeypatch):
    plan = make_plan()
    seen = []
    rank = runs.scoring.rank

    def spy(*args, **kwargs):
        with db.engine.connect() as conn:  # another connection: what a page would read
            seen.append(
                tuple(
                    conn.execute(
                        select(OutboxJob.status, OutboxJob.progress, OutboxJob.progress_message)
                        .where(OutboxJob.id == jobs.current_job_id())
                    ).one()
                )
            )
        return rank(*args, **kwargs)

    monkeypatch.setattr(runs.scoring, "rank", spy)
    publish(ranked_catalogue)
    assert seen == [("running", 0.05, "Reading the declarations")]
    row = preview_rows(db)[-1]
    assert (row.status, row.progress) == ("done", 1.0)
    assert row.started_at <= row.finished_at
    assert jobs.report_progress(0.5, "outside a job") is False
    assert row in queries.plan_jobs(plan)


def test_a_job_for_an_old_plan_version_regenerates_the_active_one(
    make_plan, ranked_catalogue, evaluator, db
):
    from tests.ranking.conftest import plan_payload

    plan = make_plan()
    data = plan_payload(ranked_catalogue)
    data["indicators"][0]["cuts"] = [5.2, 4.6]
    new = plans.update_plan(plan, data, user=evaluator)
    commit_and_run()
    publish(ranked_catalogue, apf=5.1)
    assert tasks.regenerate_preview(plan.id) == queries.current_run(
        plan.plan_key, RunKind.PREVIEW
    ).id
    assert queries.current_run(plan.plan_key, RunKind.PREVIEW).plan_id == new.id
    assert tasks.regenerate_preview(10**6) is None


class TestLeadingEdgeDebounce:
    """The first change after a quiet window runs at once; changes after a job started, within
    the window, make one trailing job at the window's end (inline here: the delays are only
    recorded, as ``not_before``)."""

    @pytest.fixture
    def app_config(self):
        return {"RANKING_DEBOUNCE_SECONDS": 60}

    def test_a_lone_change_runs_at_once_and_a_close_one_waits_for_the_window(
        self, make_plan, ranked_catalogue, db
    ):
        plan = make_plan()
        (first,) = preview_rows(db)
        assert first.not_before is None and first.status == "done"  # leading edge
        publish(ranked_catalogue, apf=4.6)  # the first job ran a moment ago
        first, second = preview_rows(db)
        assert second.not_before is not None
        waited = (second.not_before - first.created_at).total_seconds()
        assert 59 <= waited <= 61  # due one window after the first one
        assert queries.current_run(plan.plan_key, RunKind.PREVIEW).entry_count == 1

        # A quiet window later, the next change runs at once again.
        for row in preview_rows(db):
            moved = row.created_at - timedelta(minutes=3)
            db.session.execute(
                update(OutboxJob).where(OutboxJob.id == row.id)
                .values(created_at=moved, not_before=None)
            )
        db.session.commit()
        publish(ranked_catalogue, apf=4.7)
        third = preview_rows(db)[-1]
        assert third.not_before is None and third.status == "done"
        assert queries.current_run(plan.plan_key, RunKind.PREVIEW).entry_count == 2

    def test_no_window_no_delay(self, app, make_plan, ranked_catalogue, db):
        app.config["RANKING_DEBOUNCE_SECONDS"] = 0
        make_plan()
        publish(ranked_catalogue)
        assert [r.not_before for r in preview_rows(db)] == [None, None]


class TestWithRedis:
    """Debouncing against a real Redis: rows wait in RQ's scheduled registry."""

    @pytest.fixture
    def app_config(self, redis_url):
        return {"REDIS_URL": redis_url, "RANKING_DEBOUNCE_SECONDS": 60}

    def test_a_burst_joins_the_waiting_job_then_makes_one_trailing_job(
        self, app, make_plan, ranked_catalogue, db, redis_url
    ):
        from redis import Redis
        from rq import Queue
        from rq.registry import ScheduledJobRegistry

        plan = make_plan()  # leading edge: the activation's job goes to the queue at once
        for apf in (4.6, 4.7, 4.8, 4.9, 5.0):
            publish(ranked_catalogue, apf=apf)  # each commits and dispatches on its own
        rows = preview_rows(db)
        assert len(rows) == 1  # no worker runs it here: every change joined the waiting job
        row = rows[0]
        assert (row.status, row.args, row.dedupe_key, row.not_before) == (
            "queued", [plan.id], f"ranking:preview:{plan.plan_key}", None
        )
        conn = Redis.from_url(redis_url)
        queue = Queue("ranking", connection=conn)
        registry = ScheduledJobRegistry(queue=queue)
        assert queue.job_ids == [f"outbox-{row.id}"]
        assert registry.get_job_ids() == []

        # Once the job has started, a change needs a new job (it may have read before it):
        # one trailing job, held in RQ's scheduler until the window ends; the next joins it.
        db.session.execute(
            update(OutboxJob).where(OutboxJob.id == row.id).values(status="running")
        )
        db.session.commit()
        publish(ranked_catalogue, apf=4.65)
        publish(ranked_catalogue, apf=4.75)
        rows = preview_rows(db)
        assert [r.status for r in rows] == ["running", "queued"]
        trailing = rows[1]
        assert trailing.not_before is not None
        assert 59 <= (trailing.not_before - row.created_at).total_seconds() <= 61
        assert registry.get_job_ids() == [f"outbox-{trailing.id}"]
        assert queue.job_ids == [f"outbox-{row.id}"]  # not before the delay
