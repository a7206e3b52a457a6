"""A real `rq worker` (with its scheduler) regenerates the preview after a publication."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from core.models import OutboxJob
from ranking import queries
from ranking.models import RunEntry, RunKind
from tests.ranking.conftest import publish
from tests.workers import start_worker, stop_worker, worker_env

pytestmark = pytest.mark.usefixtures("en_request")

TIMEOUT = 90


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url, "RANKING_DEBOUNCE_SECONDS": 1}


def test_a_worker_regenerates_the_preview_after_a_publish(
    app, db, make_plan, ranked_catalogue, _schema, redis_url, tmp_path
):
    plan = make_plan()  # activation: a preview job, scheduled 1 s ahead in RQ
    first = publish(ranked_catalogue, apf=5.1)
    second = publish(ranked_catalogue, apf=4.6)  # same waiting job (debounced)
    rows = db.session.scalars(
        select(OutboxJob).where(OutboxJob.func == "ranking.tasks.regenerate_preview")
    ).all()
    assert [r.status for r in rows] == ["queued"]
    outbox_id = rows[0].id
    assert queries.current_run(plan.plan_key, RunKind.PREVIEW) is None  # nothing ran here
    db.session.rollback()

    log = tmp_path / "worker.log"
    # No --burst: the job is scheduled, and the worker's RQ scheduler enqueues it when due.
    proc = start_worker(worker_env(_schema, redis_url, tmp_path), log, "ranking")
    status = None
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            db.session.rollback()
            status = db.session.get(OutboxJob, outbox_id, populate_existing=True).status
            if status in ("done", "failed"):
                break
            time.sleep(0.2)
    finally:
        stop_worker(proc)
    assert status == "done", log.read_text()[-4000:]

    db.session.rollback()
    row = db.session.get(OutboxJob, outbox_id, populate_existing=True)
    assert row.progress == 1.0 and row.started_at is not None and row.finished_at is not None
    run = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    assert run is not None and run.entry_count == 2
    ranked = db.session.scalars(
        select(RunEntry.declaration_id)
        .where(RunEntry.run_id == run.id)
        .order_by(RunEntry.composite_rank)
    ).all()
    assert ranked == [first.declaration_id, second.declaration_id]


def _wait_done(db, outbox_ids, proc, log) -> dict[int, str]:
    deadline = time.monotonic() + TIMEOUT
    statuses: dict[int, str] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        db.session.rollback()
        statuses = {
            i: db.session.get(OutboxJob, i, populate_existing=True).status for i in outbox_ids
        }
        if all(s in ("done", "failed") for s in statuses.values()):
            break
        time.sleep(0.1)
    assert set(statuses.values()) == {"done"}, (statuses, log.read_text()[-4000:])
    return statuses


def test_a_worker_without_fork_runs_one_job_after_another_in_its_own_process(
    app, db, make_plan, ranked_catalogue, _schema, redis_url, tmp_path
):
    """``flask worker ranking --no-fork``: no work horse (the jobs run in the worker's
    process, its database connections stay open), each job in its own session, so the
    second job reads what the first committed."""
    from core import jobs
    from core.jobs import JobPing

    app.config["RANKING_DEBOUNCE_SECONDS"] = 0  # each publication: a job at once
    plan = make_plan()
    log = tmp_path / "worker.log"
    proc = start_worker(worker_env(_schema, redis_url, tmp_path), log, "ranking", "--no-fork")
    try:
        first = publish(ranked_catalogue, apf=5.1)
        ids = [r.id for r in db.session.scalars(select(OutboxJob).where(
            OutboxJob.func == "ranking.tasks.regenerate_preview"))]
        _wait_done(db, ids, proc, log)
        second = publish(ranked_catalogue, apf=4.6)
        ping = jobs.enqueue("core.tasks.ping", "no-fork", queue="ranking")
        db.session.commit()
        jobs.dispatch_pending()
        ids = [r.id for r in db.session.scalars(select(OutboxJob).where(
            OutboxJob.func == "ranking.tasks.regenerate_preview"))] + [ping.id]
        _wait_done(db, ids, proc, log)
        worker_pid = proc.pid
    finally:
        stop_worker(proc)
    assert db.session.scalar(select(JobPing.pid).where(JobPing.key == "no-fork")) == worker_pid
    run = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    ranked = db.session.scalars(
        select(RunEntry.declaration_id)
        .where(RunEntry.run_id == run.id)
        .order_by(RunEntry.composite_rank)
    ).all()
    assert ranked == [first.declaration_id, second.declaration_id]
