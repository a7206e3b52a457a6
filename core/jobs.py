"""The job runner: a transactional outbox drained to RQ, or run inline without Redis.

``enqueue()`` only adds an ``OutboxJob`` row to the current transaction. After the request (or
job) commits, ``dispatch_pending()`` hands the new rows to RQ, or runs them inline when
``REDIS_URL`` is unset. A rollback discards the row with the write that wanted it; a Redis
outage leaves it pending for ``flask jobs flush`` to send later.

Outbox statuses: ``pending`` (committed, not yet in Redis), ``queued`` (handed to RQ),
``retrying`` (an attempt failed, RQ will try again; ``error`` holds its traceback), ``done``,
``failed`` (the last attempt failed; ``error`` holds the traceback).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import traceback
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import String, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models import OutboxJob, UTCDateTime, utcnow

log = logging.getLogger(__name__)

QUEUES: dict[str, dict] = {
    # name: RQ options. Ranking regenerations are coarse (one per plan) but may be long.
    "ranking": {"timeout": 600, "result_ttl": 3600},
    "supervision": {"timeout": 1800, "result_ttl": 3600},
    "default": {"timeout": 300, "result_ttl": 3600},
}
# Seconds between RQ attempts; a job runs at most 1 + len(intervals) times. Operators (and
# the worker tests) change it with JOB_RETRY_INTERVALS: config list, or env "5,30,120".
RETRY_INTERVALS = [5, 30, 120]
REDIS_CONNECT_TIMEOUT = 5  # seconds: a dead Redis must not hang the request that commits
_PENDING_KEY = "outbox_pending"
_ERROR_LIMIT = 8000


class JobPing(db.Model):
    """A row written by ``core.tasks.ping``: proof that a queue is served end to end.

    Not audited (see ``core.audit.SKIP_TABLES``). Kernel table; its natural home is
    ``core/models.py`` next to ``OutboxJob``.
    """

    __tablename__ = "job_pings"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)
    pid: Mapped[int]
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def enqueue(func: str, *args, queue: str = "default") -> OutboxJob:
    """Schedule ``func`` (dotted path of a function in a ``tasks`` module) after commit."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; known: {sorted(QUEUES)}")
    _resolve(func)  # fail at the call site, not later in a worker
    try:
        json.dumps(args)
    except TypeError as exc:
        raise TypeError(
            f"job {func} takes ids and plain values (JSON), not {args!r}: {exc}"
        ) from None
    row = OutboxJob(func=func, args=list(args), queue=queue, status="pending")
    db.session.add(row)
    db.session.info.setdefault(_PENDING_KEY, []).append(row)
    return row


def discard_pending() -> None:
    db.session.info.pop(_PENDING_KEY, None)


def dispatch_pending() -> None:
    """Send the jobs that the just-committed transaction created."""
    rows = db.session.info.pop(_PENDING_KEY, [])
    # A row rolled back (e.g. in a savepoint) is transient again and has no identity.
    ids = [sa_inspect(r).identity[0] for r in rows if sa_inspect(r).identity]
    if ids:
        dispatch(ids)


def dispatch(ids: list[int]) -> int:
    """Run (inline) or send (RQ) committed outbox rows. Returns how many were handed over."""
    redis_conn = redis_connection()
    sent = 0
    for outbox_id in ids:
        if redis_conn is None:
            run_outbox(outbox_id)
        elif not _send_to_rq(redis_conn, outbox_id):
            break  # Redis is down: leave the rest pending too, no point in waiting on each
        sent += 1
    return sent


def flush(older_than: timedelta = timedelta(seconds=30)) -> int:
    """Re-send jobs Redis never got (down at commit time, or lost since). Returns how many.

    ``pending`` rows older than ``older_than`` are sent again; so are ``queued``/``retrying``
    rows whose RQ job no longer exists in Redis (Redis restarted without persistence).
    """
    cutoff = utcnow() - older_than
    ids = list(
        db.session.scalars(
            select(OutboxJob.id)
            .where(OutboxJob.status == "pending", OutboxJob.created_at <= cutoff)
            .order_by(OutboxJob.id)
        )
    )
    redis_conn = redis_connection()
    if redis_conn is not None:
        ids += _lost_in_redis(redis_conn, cutoff)
    db.session.rollback()
    return dispatch(ids)


def _lost_in_redis(redis_conn, cutoff) -> list[int]:
    from redis.exceptions import RedisError
    from rq.job import Job

    rows = db.session.execute(
        select(OutboxJob.id, OutboxJob.rq_job_id).where(
            OutboxJob.status.in_(("queued", "retrying")), OutboxJob.dispatched_at <= cutoff
        )
    ).all()
    try:
        return [i for i, job_id in rows if not job_id or not Job.exists(job_id, redis_conn)]
    except RedisError:
        return []


def retry_intervals() -> list[int]:
    """Seconds between RQ retries, from ``JOB_RETRY_INTERVALS`` (config, env "5,30,120")."""
    intervals = [int(v) for v in current_app.config.get("JOB_RETRY_INTERVALS", RETRY_INTERVALS)]
    if any(v < 0 for v in intervals):
        raise ValueError(f"JOB_RETRY_INTERVALS must be seconds >= 0, got {intervals}")
    return intervals


def _send_to_rq(redis_conn, outbox_id: int) -> bool:
    from redis.exceptions import RedisError
    from rq import Queue, Retry

    row = db.session.get(OutboxJob, outbox_id)
    if row is None:
        db.session.rollback()
        return True
    opts, intervals = QUEUES[row.queue], retry_intervals()
    queue, description = row.queue, f"{row.func}{tuple(row.args)}"
    db.session.rollback()  # hold no transaction (nor SQLite lock) while talking to Redis
    try:
        job = Queue(queue, connection=redis_conn).enqueue(
            run_outbox,
            outbox_id,
            job_id=f"outbox-{outbox_id}",
            job_timeout=opts["timeout"],
            result_ttl=opts["result_ttl"],
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            description=description,
        )
    except RedisError:  # the row stays pending and `flask jobs flush` resends it
        log.exception("could not enqueue outbox job %s; left pending", outbox_id)
        return False
    # A fast worker may already have run it: never overwrite its done/failed/retrying.
    db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == outbox_id, OutboxJob.status == "pending")
        .values(status="queued", rq_job_id=job.id, dispatched_at=utcnow())
    )
    db.session.commit()
    return True


def run_outbox(outbox_id: int) -> None:
    """Run one outbox job in its own transaction (RQ entry point and inline runner)."""
    if not has_app_context():
        with _worker_app().app_context():
            return run_outbox(outbox_id)
    _fresh_connections_after_fork()
    from core.audit import acting_as, reset_actor

    row = db.session.get(OutboxJob, outbox_id)
    if row is None or row.status == "done":
        db.session.rollback()
        return  # idempotent: a retried or duplicated delivery does nothing
    func_path, args, dispatched_at = row.func, list(row.args), row.dispatched_at
    db.session.rollback()
    token = acting_as(None, f"job {func_path}")
    try:
        _resolve(func_path)(*args)  # inside: a job renamed since it was queued fails visibly
        db.session.flush()
    except Exception as exc:
        db.session.rollback()
        discard_pending()
        will_retry, note = _attempt_note()
        tb = "".join(traceback.format_exception(exc))
        error = note + (tb if len(tb) <= _ERROR_LIMIT else "…" + tb[-_ERROR_LIMIT:])
        _mark(outbox_id, "retrying" if will_retry else "failed", error)
        if _inline():
            log.exception("inline job %s (%s) failed", outbox_id, func_path)
            return
        raise  # let RQ retry
    finally:
        reset_actor(token)
    db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == outbox_id)
        .values(status="done", error=None, dispatched_at=dispatched_at or utcnow())
    )
    db.session.commit()  # the job's writes and its "done" in one transaction
    dispatch_pending()


def _attempt_note() -> tuple[bool, str]:
    """Inside an RQ work horse: will RQ retry this job, and which attempt was this?"""
    if _inline():
        return False, ""
    from rq import get_current_job

    job = get_current_job()
    if job is None:
        return False, ""
    left = job.retries_left or 0
    total = 1 + len(job.retry_intervals or []) if job.retry_intervals is not None else 1
    attempt = max(total - left, 1)
    if left:
        return (
            True,
            f"attempt {attempt} of {total} failed; RQ retries in {job.get_retry_interval()} s\n",
        )
    return False, f"attempt {attempt} of {total} failed; no retry left\n"


def _mark(outbox_id: int, status: str, error: str | None) -> None:
    db.session.execute(
        update(OutboxJob).where(OutboxJob.id == outbox_id).values(status=status, error=error)
    )
    db.session.commit()


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    if not module.split(".")[-1] == "tasks":
        raise ValueError(f"job functions live in a tasks module, got {path!r}")
    func = getattr(importlib.import_module(module), name, None)
    if func is None:
        raise ValueError(f"no job function {name!r} in {module}")
    if not callable(func):
        raise TypeError(f"{path} is not a function")
    return func


def _inline() -> bool:
    return not current_app.config.get("REDIS_URL")


def redis_connection():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    conn = current_app.extensions.get("redis_conn")
    if conn is None:
        from redis import Redis

        conn = current_app.extensions["redis_conn"] = Redis.from_url(
            url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT
        )
    return conn


def redis_url_for_humans() -> str:
    """REDIS_URL without its password, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    url = current_app.config.get("REDIS_URL") or ""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


_app = None
_engine_pid = os.getpid()


def set_worker_app(app) -> None:
    global _app
    _app = app


def _worker_app():
    global _app
    if _app is None:
        from core import create_app

        _app = create_app()
    return _app


def _fresh_connections_after_fork() -> None:
    """RQ forks a work horse per job: never reuse the parent's pooled DB connections."""
    global _engine_pid
    if os.getpid() != _engine_pid:
        db.engine.dispose(close=False)
        _engine_pid = os.getpid()
