"""The job runner: a transactional outbox drained to RQ, or run inline without Redis.

``enqueue()`` only adds an ``OutboxJob`` row to the current transaction. After the request (or
job) commits, ``dispatch_pending()`` hands the new rows to RQ, or runs them inline when
``REDIS_URL`` is unset. A rollback discards the row with the write that wanted it; a Redis
outage leaves it pending for ``flask jobs flush`` to send later.
"""

from __future__ import annotations

import importlib
import logging
import os
import traceback
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from core.extensions import db
from core.models import OutboxJob, utcnow

log = logging.getLogger(__name__)

QUEUES: dict[str, dict] = {
    # name: RQ options. Ranking regenerations are coarse (one per plan) but may be long.
    "ranking": {"timeout": 600, "result_ttl": 3600},
    "supervision": {"timeout": 1800, "result_ttl": 3600},
    "default": {"timeout": 300, "result_ttl": 3600},
}
RETRY_INTERVALS = [5, 30, 120]
_PENDING_KEY = "outbox_pending"


def enqueue(func: str, *args, queue: str = "default") -> OutboxJob:
    """Schedule ``func`` (dotted path of a function in a ``tasks`` module) after commit."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; known: {sorted(QUEUES)}")
    _resolve(func)  # fail at the call site, not later in a worker
    row = OutboxJob(func=func, args=list(args), queue=queue)
    db.session.add(row)
    db.session.info.setdefault(_PENDING_KEY, []).append(row)
    return row


def discard_pending() -> None:
    db.session.info.pop(_PENDING_KEY, None)


def dispatch_pending() -> None:
    """Send the jobs that the just-committed transaction created."""
    rows = db.session.info.pop(_PENDING_KEY, [])
    ids = [sa_inspect(r).identity[0] for r in rows if sa_inspect(r).identity]
    if ids:
        dispatch(ids)


def dispatch(ids: list[int]) -> None:
    redis_conn = redis_connection()
    for outbox_id in ids:
        if redis_conn is None:
            run_outbox(outbox_id)
        else:
            _send_to_rq(redis_conn, outbox_id)


def flush(older_than: timedelta = timedelta(seconds=30)) -> int:
    """Re-send jobs left pending (e.g. Redis was down at commit time). Returns how many."""
    cutoff = utcnow() - older_than
    ids = list(
        db.session.scalars(
            select(OutboxJob.id).where(
                OutboxJob.status == "pending", OutboxJob.created_at <= cutoff
            )
        )
    )
    db.session.rollback()
    dispatch(ids)
    return len(ids)


def _send_to_rq(redis_conn, outbox_id: int) -> None:
    from rq import Queue, Retry

    row = db.session.get(OutboxJob, outbox_id)
    opts = QUEUES[row.queue]
    try:
        job = Queue(row.queue, connection=redis_conn).enqueue(
            run_outbox,
            outbox_id,
            job_id=f"outbox-{outbox_id}",
            job_timeout=opts["timeout"],
            result_ttl=opts["result_ttl"],
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            description=f"{row.func}{tuple(row.args)}",
        )
    except Exception:  # Redis down: the row stays pending and `flask jobs flush` resends it.
        log.exception("could not enqueue outbox job %s; left pending", outbox_id)
        db.session.rollback()
        return
    row.status, row.rq_job_id, row.dispatched_at = "queued", job.id, utcnow()
    db.session.commit()


def run_outbox(outbox_id: int) -> None:
    """Run one outbox job in its own transaction (RQ entry point and inline runner)."""
    if not has_app_context():
        with _worker_app().app_context():
            return run_outbox(outbox_id)
    _fresh_connections_after_fork()
    row = db.session.get(OutboxJob, outbox_id)
    if row is None or row.status == "done":
        db.session.rollback()
        return  # idempotent: a retried or duplicated delivery does nothing
    func, args = _resolve(row.func), list(row.args)
    db.session.rollback()
    try:
        func(*args)
        db.session.flush()
    except Exception as exc:
        db.session.rollback()
        discard_pending()
        _mark(outbox_id, "failed", "".join(traceback.format_exception(exc))[-4000:])
        if _inline():
            log.exception("inline job %s failed", outbox_id)
            return
        raise  # let RQ retry
    row = db.session.get(OutboxJob, outbox_id)
    row.status, row.error = "done", None
    row.dispatched_at = row.dispatched_at or utcnow()
    db.session.commit()
    dispatch_pending()


def _mark(outbox_id: int, status: str, error: str | None) -> None:
    row = db.session.get(OutboxJob, outbox_id)
    row.status, row.error = status, error
    row.dispatched_at = row.dispatched_at or utcnow()
    db.session.commit()


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    if not module.split(".")[-1] == "tasks":
        raise ValueError(f"job functions live in a tasks module, got {path!r}")
    return getattr(importlib.import_module(module), name)


def _inline() -> bool:
    return not current_app.config.get("REDIS_URL")


def redis_connection():
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    conn = current_app.extensions.get("redis_conn")
    if conn is None:
        from redis import Redis

        conn = current_app.extensions["redis_conn"] = Redis.from_url(url)
    return conn


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
