"""The transactional outbox without a worker: rollback, inline runs, a Redis outage, flush."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core import jobs
from core.jobs import JobPing
from core.models import AuditLog, OutboxJob

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused


def _outbox(db) -> list[OutboxJob]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxJob).order_by(OutboxJob.id)))


def _ping_keys(db) -> set[str]:
    db.session.rollback()
    return set(db.session.scalars(select(JobPing.key)))


def _use_redis(app, url: str | None) -> None:
    app.config["REDIS_URL"] = url
    app.extensions.pop("redis_conn", None)


# -- a job never outlives the transaction that wanted it -------------------------------------


@pytest.mark.parametrize("status", [400, 403, 404, 422, 500])
def test_job_of_a_failed_request_never_runs_and_leaves_no_row(client, db, probes, status):
    resp = client.post(f"/_probe/enqueue/{status}?key=k{status}")
    assert resp.status_code == status
    assert _outbox(db) == []
    assert _ping_keys(db) == set()  # neither the write nor the job's marker


def test_job_of_a_raising_view_never_runs_and_leaves_no_row(client, db, probes):
    with pytest.raises(RuntimeError, match="failed after enqueueing"):
        client.post("/_probe/enqueue-then-raise?key=boom")  # TESTING propagates the error
    assert _outbox(db) == []
    assert _ping_keys(db) == set()


def test_raising_view_answers_500_in_production_and_runs_no_job(app, client, db, probes):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = client.post("/_probe/enqueue-then-raise?key=boom")
    assert resp.status_code == 500
    assert _outbox(db) == []
    assert _ping_keys(db) == set()


def test_job_enqueued_then_rolled_back_is_not_dispatched(app, db):
    jobs.enqueue("core.tasks.ping", "rolled-back")
    db.session.rollback()
    jobs.dispatch_pending()  # what a careless caller might still do
    assert _outbox(db) == []
    assert _ping_keys(db) == set()


# -- inline mode (REDIS_URL unset) -------------------------------------------------------------


def test_inline_job_runs_right_after_the_commit(client, db, probes):
    resp = client.post("/_probe/enqueue/200?key=inline")
    assert resp.status_code == 200
    (row,) = _outbox(db)
    assert (row.func, row.args, row.queue) == ("core.tasks.ping", ["inline"], "default")
    assert row.status == "done" and row.error is None and row.dispatched_at is not None
    assert row.rq_job_id is None
    assert _ping_keys(db) == {"write:inline", "inline"}
    pid = db.session.scalar(select(JobPing.pid).where(JobPing.key == "inline"))
    assert pid == os.getpid()  # inline: this very process


def test_inline_job_outside_a_request(app, db):
    jobs.enqueue("core.tasks.ping", "cli")
    assert db.session.scalar(select(func.count()).select_from(JobPing)) == 0  # not before commit
    db.session.commit()
    jobs.dispatch_pending()
    assert _ping_keys(db) == {"cli"}
    assert [r.status for r in _outbox(db)] == ["done"]


def test_inline_job_failure_is_recorded_and_does_not_break_the_request(client, db, probes, caplog):
    with caplog.at_level(logging.ERROR, logger="core.jobs"):
        resp = client.post("/_probe/enqueue/200?key=bad&func=core.tasks.fail")
    assert resp.status_code == 200  # the write committed before the job ran
    (row,) = _outbox(db)
    assert row.status == "failed"
    assert "Traceback" in row.error and "fails on purpose" in row.error
    assert _ping_keys(db) == {"write:bad"}  # the job's own write rolled back
    assert any("inline job" in r.getMessage() for r in caplog.records)


def test_a_job_run_twice_does_nothing_the_second_time(app, db):
    row = jobs.enqueue("core.tasks.ping", "twice")
    db.session.commit()
    jobs.dispatch_pending()
    jobs.run_outbox(row.id)  # a duplicated delivery
    assert db.session.scalar(select(func.count()).select_from(JobPing)) == 1


def test_job_marker_rows_are_not_audited(app, db):
    jobs.enqueue("core.tasks.ping", "quiet")
    db.session.commit()
    jobs.dispatch_pending()
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.entity.in_(["job_pings", "outbox_jobs"]))
        )
        == 0
    )


def test_job_writes_are_audited_as_the_job(app, db, make_user):
    from core.models import Role

    user = make_user(Role.ADMIN)
    jobs.enqueue("tests.core.tasks.rename_user", user.id, "renamed by job")
    db.session.commit()
    jobs.dispatch_pending()
    entry = db.session.scalars(
        select(AuditLog).where(AuditLog.entity == "users", AuditLog.action == "update")
    ).one()
    assert entry.actor_label == "job tests.core.tasks.rename_user"
    assert entry.after == {"display_name": "renamed by job"}


# -- enqueue refuses what a worker could not run -----------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: jobs.enqueue("core.tasks.ping", "x", queue="nightly"), "unknown queue 'nightly'"),
        (lambda: jobs.enqueue("core.jobs.flush"), "tasks module"),
        (lambda: jobs.enqueue("core.tasks.nope"), "no job function 'nope'"),
        (lambda: jobs.enqueue("core.tasks.ping", object()), "ids and plain values"),
    ],
)
def test_enqueue_refuses_bad_jobs_at_the_call_site(app, db, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
    db.session.rollback()
    assert _outbox(db) == []


def test_retry_intervals_come_from_config_or_env(app, monkeypatch, tmp_path):
    assert jobs.retry_intervals() == jobs.RETRY_INTERVALS == [5, 30, 120]
    monkeypatch.setenv("JOB_RETRY_INTERVALS", "1, 2")
    from core import config

    assert config.load(tmp_path, {"SECRET_KEY": "x"})["JOB_RETRY_INTERVALS"] == [1, 2]
    app.config["JOB_RETRY_INTERVALS"] = [3]
    assert jobs.retry_intervals() == [3]
    app.config["JOB_RETRY_INTERVALS"] = [-1]
    with pytest.raises(ValueError, match=">= 0"):
        jobs.retry_intervals()


# -- Redis down at commit time -----------------------------------------------------------------


def test_redis_outage_keeps_the_write_and_leaves_the_job_pending(app, client, db, probes, caplog):
    _use_redis(app, DEAD_REDIS)
    with caplog.at_level(logging.ERROR, logger="core.jobs"):
        resp = client.post("/_probe/enqueue/200?key=outage")
    assert resp.status_code == 200
    assert _ping_keys(db) == {"write:outage"}  # committed; the job has not run
    (row,) = _outbox(db)
    assert (row.status, row.rq_job_id, row.dispatched_at) == ("pending", None, None)
    assert any("left pending" in r.getMessage() for r in caplog.records)

    assert jobs.flush() == 0  # still down: nothing sent, nothing lost
    assert _outbox(db)[0].status == "pending"


def test_flush_sends_pending_jobs_once_redis_is_back(app, client, db, probes, redis_url):
    from redis import Redis
    from rq import Queue
    from rq.job import Job

    _use_redis(app, DEAD_REDIS)
    client.post("/_probe/enqueue/200?key=a")
    client.post("/_probe/enqueue/200?key=b")
    assert [r.status for r in _outbox(db)] == ["pending", "pending"]

    _use_redis(app, redis_url)
    assert jobs.flush() == 0  # younger than the default 30 s: may still be on their way
    assert jobs.flush(older_than=timedelta(0)) == 2
    rows = _outbox(db)
    assert [r.status for r in rows] == ["queued", "queued"]
    assert [r.rq_job_id for r in rows] == [f"outbox-{r.id}" for r in rows]

    conn = Redis.from_url(redis_url)
    assert Queue("default", connection=conn).job_ids == [r.rq_job_id for r in rows]
    job = Job.fetch(rows[0].rq_job_id, connection=conn)
    assert job.func_name == "core.jobs.run_outbox" and job.args == (rows[0].id,)
    assert job.retries_left == len(jobs.RETRY_INTERVALS)
    assert job.retry_intervals == jobs.RETRY_INTERVALS
    assert job.timeout == jobs.QUEUES["default"]["timeout"]
    assert _ping_keys(db) == {"write:a", "write:b"}  # sent, not run: that is the worker's job


def test_flush_resends_jobs_redis_lost(app, client, db, probes, redis_url):
    from redis import Redis

    _use_redis(app, redis_url)
    client.post("/_probe/enqueue/200?key=lost")
    (row,) = _outbox(db)
    assert row.status == "queued"
    Redis.from_url(redis_url).flushdb()  # Redis restarted without persistence

    assert jobs.flush(older_than=timedelta(0)) == 1
    from rq.job import Job

    assert Job.exists(f"outbox-{row.id}", Redis.from_url(redis_url))


def test_sending_never_overwrites_what_a_fast_worker_recorded(app, db, redis_url, monkeypatch):
    """The worker may finish the job before the sender marks the row "queued"."""
    from rq import Queue

    _use_redis(app, redis_url)
    original = Queue.enqueue

    def enqueue_and_run_at_once(self, f, outbox_id, **kw):
        job = original(self, f, outbox_id, **kw)
        row = db.session.get(OutboxJob, outbox_id)
        row.status = "done"  # what run_outbox commits in the work horse
        db.session.commit()
        return job

    monkeypatch.setattr(Queue, "enqueue", enqueue_and_run_at_once)
    jobs.enqueue("core.tasks.ping", "fast")
    db.session.commit()
    jobs.dispatch_pending()
    assert [r.status for r in _outbox(db)] == ["done"]


def test_a_job_whose_function_is_gone_fails_visibly(app, db):
    row = jobs.enqueue("core.tasks.ping", "renamed")
    db.session.commit()
    jobs.discard_pending()
    row.func = "core.tasks.ping_renamed_since"  # the code changed between enqueue and run
    db.session.commit()
    jobs.run_outbox(row.id)
    row = _outbox(db)[0]
    assert row.status == "failed" and "no job function 'ping_renamed_since'" in row.error


def test_ids_join_the_waiting_job_and_its_worker_reads_them_all(app, db, redis_url):
    """merge_ids: a burst of changes is one job covering every id; once the job has started,
    the next change makes a new one (the running job read its ids when it started)."""
    _use_redis(app, redis_url)  # queued in Redis, no worker: the rows wait
    task = "tests.core.tasks.ping_each"
    first = jobs.enqueue(task, [1, 2], dedupe_key="burst", merge_ids=True)
    db.session.commit()
    jobs.dispatch_pending()  # handed to Redis: queued, not started
    assert jobs.enqueue(task, [3, 2], dedupe_key="burst", merge_ids=True).id == first.id
    db.session.commit()
    assert [(r.id, r.args, r.status) for r in _outbox(db)] == [(first.id, [[1, 2, 3]], "queued")]

    jobs.run_outbox(first.id)  # what the worker does with the RQ job
    assert _ping_keys(db) == {"id:1", "id:2", "id:3"}
    later = jobs.enqueue(task, [4], dedupe_key="burst", merge_ids=True)
    db.session.commit()
    assert later.id != first.id and later.args == [[4]]
