"""Queue fairness through a real `flask worker` (RQ): a worker on several queues serves each of
them in turn (``WORKER_DEQUEUE_STRATEGY``, round robin by default), so a supervision job
queued behind many ranking jobs runs after one of them, not after all of them.

RQ's own default (strict priority in the order the queues are given) is run side by side:
there the supervision job waits for the whole ranking backlog, which is the starvation the
drills found."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import jobs, workers
from core.jobs import JobPing
from core.models import OutboxJob
from tests.workers import start_worker, stop_worker, worker_env

RANKING_JOBS = 8
TIMEOUT = 120


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url}


def _queue_backlog(db) -> list[int]:
    """RANKING_JOBS jobs on the ranking queue, then one on supervision (committed, in Redis)."""
    rows = [
        jobs.enqueue("tests.core.tasks.sleep_then_ping", 0.05, f"ranking:{i}", queue="ranking")
        for i in range(RANKING_JOBS)
    ]
    rows.append(jobs.enqueue("core.tasks.ping", "supervision", queue="supervision"))
    db.session.commit()
    jobs.dispatch_pending()
    ids = [r.id for r in rows]
    db.session.rollback()
    assert {db.session.get(OutboxJob, i).status for i in ids} == {"queued"}
    return ids


def _run_order(db, _schema, redis_url, tmp_path, **env) -> list[str]:
    """Run a burst worker on "ranking supervision" (ranking first) until the queues are
    empty; the JobPing keys in the order the jobs ran (one worker: one job at a time)."""
    ids = _queue_backlog(db)
    log = tmp_path / "worker.log"
    proc = start_worker(
        worker_env(_schema, redis_url, tmp_path, **env), log, "ranking", "supervision", "--burst"
    )
    try:
        assert proc.wait(timeout=TIMEOUT) == 0, log.read_text()[-4000:]
    finally:
        stop_worker(proc)
    db.session.rollback()
    statuses = {db.session.get(OutboxJob, i, populate_existing=True).status for i in ids}
    assert statuses == {"done"}, log.read_text()[-4000:]
    return list(db.session.scalars(select(JobPing.key).order_by(JobPing.id)))


def test_a_supervision_job_queued_behind_ranking_jobs_runs_before_they_all_finish(
    db, _schema, redis_url, tmp_path
):
    order = _run_order(db, _schema, redis_url, tmp_path)  # the default: round robin
    assert len(order) == RANKING_JOBS + 1
    # Round robin: ranking, then supervision (the other queue with a job), then the rest.
    assert order.index("supervision") == 1, order
    assert [k for k in order if k != "supervision"] == [
        f"ranking:{i}" for i in range(RANKING_JOBS)
    ]


def test_rq_default_priority_order_starves_the_later_queue(db, _schema, redis_url, tmp_path):
    """The same backlog with WORKER_DEQUEUE_STRATEGY=default: the supervision job waits for
    every ranking job (what round robin prevents)."""
    order = _run_order(db, _schema, redis_url, tmp_path, WORKER_DEQUEUE_STRATEGY="default")
    assert order[-1] == "supervision" and len(order) == RANKING_JOBS + 1, order


def test_the_dequeue_strategy_is_checked():
    assert workers.dequeue_strategy({}) == "round_robin"
    assert workers.dequeue_strategy({"WORKER_DEQUEUE_STRATEGY": " random "}) == "random"
    with pytest.raises(ValueError, match="WORKER_DEQUEUE_STRATEGY must be one of"):
        workers.dequeue_strategy({"WORKER_DEQUEUE_STRATEGY": "fifo"})


def test_flask_worker_refuses_an_unknown_strategy(app, redis_url):
    from core.cli import worker

    app.config["WORKER_DEQUEUE_STRATEGY"] = "fastest"
    try:
        result = app.test_cli_runner().invoke(worker, ["ranking"])
    finally:
        app.config["WORKER_DEQUEUE_STRATEGY"] = "round_robin"
    assert result.exit_code == 2, result.output
    assert "WORKER_DEQUEUE_STRATEGY must be one of round_robin, random, default" in result.output
