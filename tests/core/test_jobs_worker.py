"""Real `flask worker` processes (RQ, forked work horses) on the test database and Redis.

Needs Redis (the ``redis_url`` fixture skips, or fails with REQUIRE_SERVICES=1). The worker
opens the test database by DATABASE_URL: the SQLite file of the session, or PostgreSQL when
TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
import time

import pytest
from redis import Redis
from rq.job import Job, JobStatus
from sqlalchemy import select

from core import jobs
from core.jobs import JobPing
from core.models import OutboxJob
from tests.workers import start_worker, stop_worker, worker_env

TIMEOUT = 60


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url}


def _row(db, outbox_id: int) -> OutboxJob:
    db.session.rollback()  # see what the worker committed
    return db.session.get(OutboxJob, outbox_id, populate_existing=True)


def _log(tmp_path) -> str:
    return (tmp_path / "worker.log").read_text()[-6000:]


def test_worker_runs_a_job_sent_through_the_outbox(
    app, client, db, probes, _schema, redis_url, tmp_path
):
    resp = client.post("/_probe/enqueue/200?key=rq")
    assert resp.status_code == 200
    row = db.session.scalars(select(OutboxJob)).one()
    assert row.status == "queued"  # in Redis, not run: this process has no worker
    outbox_id = row.id
    db.session.rollback()

    proc = start_worker(
        worker_env(_schema, redis_url, tmp_path), tmp_path / "worker.log", "default", "--burst"
    )
    try:
        assert proc.wait(timeout=TIMEOUT) == 0, _log(tmp_path)
    finally:
        stop_worker(proc)

    row = _row(db, outbox_id)
    assert row.status == "done", _log(tmp_path)
    assert row.error is None and row.rq_job_id == f"outbox-{outbox_id}"
    marker = db.session.scalars(select(JobPing).where(JobPing.key == "rq")).one()
    assert marker.pid not in (os.getpid(), proc.pid)  # a forked work horse ran it
    job = Job.fetch(row.rq_job_id, connection=Redis.from_url(redis_url))
    assert job.get_status() == JobStatus.FINISHED


def test_failing_job_is_retried_then_failed_with_its_traceback(
    app, db, _schema, redis_url, tmp_path
):
    # Shortened from RETRY_INTERVALS (5, 30, 120 s) so the test takes seconds; the worker runs
    # without --burst so that RQ's scheduler re-enqueues the delayed retries.
    app.config["JOB_RETRY_INTERVALS"] = [1, 2]
    row = jobs.enqueue("core.tasks.fail", "rq-fail")
    db.session.commit()
    jobs.dispatch_pending()
    outbox_id = row.id
    assert _row(db, outbox_id).status == "queued"

    started = time.monotonic()
    proc = start_worker(
        worker_env(_schema, redis_url, tmp_path), tmp_path / "worker.log", "default"
    )
    seen = set()
    try:
        while time.monotonic() - started < TIMEOUT:
            status = _row(db, outbox_id).status
            seen.add(status)
            if status == "failed" or proc.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        stop_worker(proc)
    elapsed = time.monotonic() - started

    row = _row(db, outbox_id)
    assert row.status == "failed", _log(tmp_path)
    assert "retrying" in seen  # between attempts the row says RQ will try again
    assert elapsed >= 1 + 2  # the retries waited their intervals
    assert row.error.startswith("attempt 3 of 3 failed; no retry left")
    assert "Traceback (most recent call last)" in row.error
    assert "RuntimeError: core.tasks.fail('rq-fail') fails on purpose" in row.error
    assert db.session.scalars(select(JobPing)).all() == []  # every attempt rolled back

    job = Job.fetch(f"outbox-{outbox_id}", connection=Redis.from_url(redis_url))
    assert job.get_status() == JobStatus.FAILED
    assert job.retries_left == 0 and job.retry_intervals == [1, 2]
