"""Jobs recover in seconds: real `flask worker` processes, killed with SIGKILL mid-job, and a
redis-server of the test's own stopped and started again under a running worker.

Integration tests (marked ``services``): Redis and real worker processes. The workers open the
test database by DATABASE_URL (the session's SQLite file, or PostgreSQL with
TEST_DATABASE_URL).
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from redis import Redis
from rq import Worker
from rq.job import Job
from sqlalchemy import select

from core import jobs
from core.jobs import JobPing
from core.models import OutboxJob
from tests.conftest import service_missing
from tests.core.outages import RedisServer
from tests.workers import start_worker, stop_worker, worker_env

pytestmark = pytest.mark.services

RECOVERY_GOAL = 60  # seconds from the kill to the job done on another worker (issue 13)


def _row(db, outbox_id: int) -> OutboxJob:
    db.session.rollback()  # see what the workers committed
    return db.session.get(OutboxJob, outbox_id, populate_existing=True)


def _logs(tmp_path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(tmp_path.glob("*.log"))
    )


def _wait(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url}


@pytest.mark.parametrize("victim", ["--no-fork", "--fork"])
def test_job_of_a_killed_worker_runs_again_on_another_worker(
    app, db, _schema, redis_url, tmp_path, victim
):
    """kill -9 of the worker (and its work horse) mid-job: its heartbeat stops, the other
    worker notices within seconds, and the job runs again there; the outbox row ends ``done``.
    Until the kill the other worker leaves the job alone (its heartbeat is renewed)."""
    marker = tmp_path / "first-run.pid"
    row = jobs.enqueue("tests.core.tasks.stall_first_run", str(marker), "recovered")
    db.session.commit()
    jobs.dispatch_pending()
    outbox_id = row.id
    env = worker_env(_schema, redis_url, tmp_path)
    conn = Redis.from_url(redis_url)

    # Two workers of the kind under test, started together (a start costs seconds): the one
    # that takes the job is the victim, the other has to notice its death and re-run it.
    procs = [start_worker(env, tmp_path / f"worker{i}.log", "default", victim) for i in (1, 2)]
    try:
        assert _wait(marker.exists, 60), _logs(tmp_path)
        assert _wait(lambda: marker.read_text().strip(), 5)
        runner_pid = int(marker.read_text())
        assert _row(db, outbox_id).status == "running"
        job_id = f"outbox-{outbox_id}"
        busy = _wait(lambda: [w for w in Worker.all(connection=conn)
                              if w.get_current_job_id() == job_id], 10)
        assert busy, _logs(tmp_path)
        victim_proc = next(p for p in procs if p.pid == busy[0].pid)
        # A live worker's job is left alone: the other worker is up and runs maintenance
        # (every second, tests.workers.TEST_TIMINGS) for longer than a heartbeat may lapse.
        assert _wait(lambda: len(Worker.all(connection=conn)) >= 2, 60), _logs(tmp_path)
        time.sleep(int(env["JOB_DEAD_AFTER_SECONDS"]) + 1)
        assert _row(db, outbox_id).status == "running", _logs(tmp_path)

        os.killpg(victim_proc.pid, signal.SIGKILL)  # the worker, its scheduler
        if runner_pid != victim_proc.pid:
            os.kill(runner_pid, signal.SIGKILL)  # the forked work horse (a group of its own)
        victim_proc.wait(timeout=10)
        killed_at = time.monotonic()

        seen = set()

        def done():
            status = _row(db, outbox_id).status
            seen.add(status)
            return status in ("done", "failed")

        _wait(done, RECOVERY_GOAL + 5, step=0.2)
        elapsed = time.monotonic() - killed_at
        print(f"job of the killed {victim} worker done {elapsed:.1f} s after the kill")
    finally:
        for proc in procs:
            stop_worker(proc)

    row = _row(db, outbox_id)
    assert row.status == "done", _logs(tmp_path)
    assert elapsed < RECOVERY_GOAL, (elapsed, _logs(tmp_path))
    assert seen <= {"running", "retrying", "done"}
    job = Job.fetch(f"outbox-{outbox_id}", connection=Redis.from_url(redis_url))
    assert job.retries_left == len(jobs.retry_intervals()) - 1  # the death cost one attempt
    ping = db.session.scalars(select(JobPing).where(JobPing.key == "recovered")).one()
    assert ping.pid not in (runner_pid, victim_proc.pid)  # run by the other worker


def test_flush_requeues_the_job_of_a_dead_worker_at_once(app, db, redis_url):
    """`flask jobs flush` (jobs.flush) hands a job whose worker stopped sending heartbeats
    back to RQ, without waiting for RQ's own maintenance; a live one is left alone."""
    from rq import Queue
    from rq.executions import Execution
    from rq.job import JobStatus

    conn = Redis.from_url(redis_url)
    rows = []
    for key in ("dead", "alive"):
        rows.append(jobs.enqueue("core.tasks.ping", key))
    db.session.commit()
    jobs.dispatch_pending()
    ids = [r.id for r in rows]
    queue = Queue("default", connection=conn)
    executions = {}
    for outbox_id in ids:  # both "start": RQ's bookkeeping as a worker keeps it, and our row
        job, _ = Queue.dequeue_any([queue], None, connection=conn)
        with conn.pipeline() as pipe:
            executions[outbox_id] = Execution.create(job, 3600, pipeline=pipe, worker_name="w1")
            job.set_status(JobStatus.STARTED, pipeline=pipe)
            pipe.execute()
        db.session.execute(
            OutboxJob.__table__.update()
            .where(OutboxJob.id == outbox_id)
            .values(status="running", started_at=jobs.utcnow() - timedelta(minutes=1))
        )
    db.session.commit()
    # The "dead" worker's last heartbeat expired a second ago; the other keeps beating.
    registry = queue.started_job_registry
    conn.zadd(registry.key, {executions[ids[0]].composite_key: time.time() - 1})

    assert jobs.flush(older_than=timedelta(seconds=30)) == 0  # nothing pending; RQ re-queues
    dead, alive = (_row(db, i) for i in ids)
    assert dead.status == "retrying"
    assert "the worker running this job died" in dead.error
    assert alive.status == "running"
    assert queue.job_ids == [f"outbox-{ids[0]}"]  # queued again now, not after a back-off


def test_worker_survives_a_redis_restart_and_runs_jobs_after(app, db, _schema, tmp_path):
    """The drill: Redis went away for a while; the forked worker used to quit and stay down.
    Here it waits, reconnects, and runs a job enqueued after Redis came back; a job whose
    write committed while Redis was down is sent by the workers' own flush, no hand step."""
    server = RedisServer(tmp_path)
    if server.binary is None:
        service_missing("redis-server")
    server.start()
    app.config["REDIS_URL"] = server.url
    env = worker_env(_schema, server.url, tmp_path, JOB_FLUSH_AFTER_SECONDS="2")
    proc = start_worker(env, tmp_path / "worker.log", "default")
    try:
        first = _enqueue(db, "before")
        assert _wait(lambda: _row(db, first).status == "done", 60), _logs(tmp_path)
        busy = _enqueue(db, "busy", "tests.core.tasks.sleep_then_ping", 3)
        assert _wait(lambda: _row(db, busy).status == "running", 30), _logs(tmp_path)

        server.stop()  # mid-job: the worker's heartbeats and its report of the job fail
        # The job's own commit needs no Redis: it ends while Redis is down.
        assert _wait(lambda: _row(db, busy).status == "done", 30), _logs(tmp_path)
        # Then every path of the worker meets the outage: its report of the job, its
        # heartbeat, maintenance (every second here) and dequeue attempts with back-off.
        time.sleep(int(env["JOB_MAINTENANCE_SECONDS"]) + 4)
        assert proc.poll() is None, _logs(tmp_path)
        during = _enqueue(db, "during")  # the write commits, the job stays pending
        assert _row(db, during).status == "pending"

        server.start()  # same port, empty (no persistence): a restart
        returned = time.monotonic()
        after = _enqueue(db, "after")
        assert _wait(lambda: _row(db, after).status == "done", 60), _logs(tmp_path)
        assert _wait(lambda: _row(db, during).status == "done", 60), _logs(tmp_path)
        assert time.monotonic() - returned < 60
        assert proc.poll() is None  # never quit
    finally:
        stop_worker(proc)
        server.stop()
    keys = set(db.session.scalars(select(JobPing.key)))
    assert {"before", "busy", "during", "after"} <= keys


def _enqueue(db, key: str, func: str = "core.tasks.ping", *before) -> int:
    row = jobs.enqueue(func, *before, key)
    db.session.commit()
    jobs.dispatch_pending()
    return row.id
