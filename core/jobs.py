"""The job runner: a transactional outbox drained to RQ, or run inline without Redis.

``enqueue()`` only adds an ``OutboxJob`` row to the current transaction. After the request (or
job) commits, ``dispatch_pending()`` hands the new rows to RQ, or runs them inline when
``REDIS_URL`` is unset. A rollback discards the row with the write that wanted it; a Redis
outage leaves it pending for ``flush`` to send later.

Recovery (``flush`` -> ``recover``; idle workers run it every few seconds, ``core.workers``,
and ``flask jobs flush`` by hand): pending rows are re-sent, rows Redis lost are re-sent, and
a job whose worker died (no heartbeat for ``JOB_DEAD_AFTER_SECONDS``) is re-queued at once
through RQ's own started-job registry cleanup and retry count.

Outbox statuses: ``pending`` (committed, not yet in Redis), ``queued`` (handed to RQ),
``running`` (an attempt started: ``started_at``, ``progress``), ``retrying`` (an attempt failed,
RQ will try again; ``error`` holds its traceback), ``done``, ``failed`` (the last attempt
failed; ``error`` holds the traceback).

Debouncing: ``enqueue(..., dedupe_key=k)`` reuses a row with the same key that is still
waiting (``pending``/``queued``, not started), also one added earlier in the same transaction,
so a burst of changes makes one job. A job is marked ``running`` (committed) before its body
reads anything, so a change committed after that start enqueues a new job and is never lost.
``delay`` holds the job in RQ for that long (``Queue.enqueue_in``; workers run with the RQ
scheduler); inline runs (no Redis) ignore it.

Coalescing over time: ``enqueue(..., dedupe_key=k, debounce=w)`` debounces on the leading edge
(``debounce_delay``): the first change after a quiet window of ``w`` seconds runs at once;
a change while a job of the key waits joins it; a change less than ``w`` after the key's last
job was due, once that job has started, gets one trailing job due ``w`` after it, which the
following changes join. A burst is one job per window per key (its first change at once),
however many changes it holds and however fast workers are.

Jobs by handle: a job function is registered with its queue by the ``@job("queue")``
decorator in a ``tasks`` module, and call sites pass the function itself:
``enqueue(tasks.recompute, ids)`` (Redash's ``@job('queue')``). The outbox row stores the
function's dotted path, which the worker resolves; a dotted string is still accepted.

Progress: inside a job, ``report_progress(fraction, message)`` commits the fraction in its own
short transaction, so pages see it while the job's own transaction is still open.
"""

from __future__ import annotations

import contextvars
import importlib
import json
import logging
import os
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from numbers import Real

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
# Seconds a Redis command may take: a Redis that accepts but stalls must not hold the request
# either (RQ workers raise it on their own connection for their blocking dequeue).
REDIS_SOCKET_TIMEOUT = 5
_PENDING_KEY = "outbox_pending"
_ERROR_LIMIT = 8000
WAITING = ("pending", "queued")  # not started yet: a dedupe_key match reuses the row
_MESSAGE_LIMIT = 300
_current_outbox: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "current_outbox_job", default=None
)


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


def job(queue: str = "default") -> Callable[[Callable], Callable]:
    """Register a job function (in a ``tasks`` module) with the queue it runs on.

    The function is returned unchanged, with ``job_path`` (the dotted path the outbox row
    stores) and ``job_queue``; ``enqueue(func, ...)`` takes it as the job's handle.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; known: {sorted(QUEUES)}")

    def register(func: Callable) -> Callable:
        path = f"{func.__module__}.{func.__qualname__}"
        _check_tasks_module(path)
        func.job_path = path
        func.job_queue = queue
        return func

    return register


def _handle(func: Callable | str) -> tuple[str, str]:
    """(dotted path, registered queue) of a job given by its function or its dotted path."""
    if isinstance(func, str):
        resolved = _resolve(func)  # fail at the call site, not later in a worker
        return func, getattr(resolved, "job_queue", "default")
    path = getattr(func, "job_path", None)
    if path is None:
        raise TypeError(f"{func!r} is not a job: register it with @core.jobs.job(queue)")
    return path, func.job_queue


def enqueue(
    func: Callable | str,
    *args,
    queue: str | None = None,
    dedupe_key: str | None = None,
    delay: float | timedelta | None = None,
    merge_ids: bool = False,
    debounce: float | None = None,
) -> OutboxJob:
    """Schedule the job ``func`` (a function registered with ``@job``, or its dotted path)
    after commit, on its registered queue unless ``queue`` names another.

    ``dedupe_key``: when a row with this key is still waiting (pending/queued, not started),
    return it instead of adding another (the job reads the data when it starts, so it covers
    this change too). ``delay`` (seconds or timedelta): RQ starts the job no earlier than that
    after now; ignored inline.

    ``merge_ids`` (with ``dedupe_key``): the job takes one list of ids, and a waiting row with
    the key takes the union of its ids and these. A burst of changes is then one job, not one
    per change: while a job runs, every change meanwhile joins the one row waiting behind it.
    The worker reads the ids in the same statement that marks the row running
    (``run_outbox``), so no id merged until then is missed.

    ``debounce`` (seconds, with ``dedupe_key``, instead of ``delay``): a new row waits until
    a window after the key's last job was due (``debounce_delay``; at once after a quiet
    window), so a stream of changes makes one job per window, not one per change.
    """
    if queue is not None and queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; known: {sorted(QUEUES)}")
    func, registered_queue = _handle(func)
    queue = queue or registered_queue
    try:
        json.dumps(args)
    except TypeError as exc:
        raise TypeError(
            f"job {func} takes ids and plain values (JSON), not {args!r}: {exc}"
        ) from None
    if debounce is not None and (dedupe_key is None or delay is not None):
        raise ValueError("debounce needs a dedupe_key and replaces delay")
    wait = _delay(delay)
    if dedupe_key is not None:
        if not isinstance(dedupe_key, str) or not dedupe_key or len(dedupe_key) > 200:
            raise ValueError(
                f"dedupe_key must be a string of 1 to 200 characters, got {dedupe_key!r}"
            )
        waiting = _waiting_row(dedupe_key)
        if waiting is not None:
            if merge_ids:
                merged = {int(i) for i in waiting.args[0]} | {int(i) for i in args[0]}
                if len(merged) > len(waiting.args[0]):
                    waiting.args = [sorted(merged)]
            return waiting
        if debounce:
            wait = _delay(debounce_delay(dedupe_key, float(debounce)))
    row = OutboxJob(
        func=func,
        args=list(args),
        queue=queue,
        status="pending",
        dedupe_key=dedupe_key,
        not_before=utcnow() + wait if wait else None,
    )
    db.session.add(row)
    db.session.info.setdefault(_PENDING_KEY, []).append(row)
    return row


def _delay(delay: float | timedelta | None) -> timedelta | None:
    if delay is None:
        return None
    if isinstance(delay, timedelta):
        seconds = delay.total_seconds()
    elif isinstance(delay, Real) and not isinstance(delay, bool):
        seconds = float(delay)
    else:
        raise TypeError(f"delay must be seconds or a timedelta, got {delay!r}")
    if not seconds >= 0:
        raise ValueError(f"delay must be >= 0 seconds, got {delay!r}")
    return timedelta(seconds=seconds) if seconds else None


def debounce_delay(dedupe_key: str, window: float) -> float | None:
    """Seconds until the next job of this key may start: None (at once) when the last one
    was due a window ago or more (or there is none), else the rest of that window."""
    if window <= 0:
        return None
    with db.session.no_autoflush:
        last = db.session.execute(
            select(OutboxJob.created_at, OutboxJob.not_before)
            .where(OutboxJob.dedupe_key == dedupe_key)
            .order_by(OutboxJob.id.desc())
            .limit(1)
        ).first()
    if last is None:
        return None
    due = last.not_before or last.created_at
    wait = (due - utcnow()).total_seconds() + window
    return wait if wait > 0 else None


def _waiting_row(dedupe_key: str) -> OutboxJob | None:
    """A row with ``dedupe_key`` not started yet: added in this transaction, or committed.

    On PostgreSQL the committed row is locked (FOR UPDATE) until this transaction ends, so a
    worker cannot mark it ``running`` (and read the data) before this change is committed.
    """
    for row in db.session.info.get(_PENDING_KEY, []):
        state = sa_inspect(row)
        gone = state.transient or state.deleted or state.detached or state.was_deleted
        if not gone and row.dedupe_key == dedupe_key and row.status in WAITING:
            return row
    with db.session.no_autoflush:
        found = db.session.scalar(
            select(OutboxJob.id)
            .where(OutboxJob.dedupe_key == dedupe_key, OutboxJob.status.in_(WAITING))
            .order_by(OutboxJob.id)
            .limit(1)
            .with_for_update()
        )
    if found is None:
        return None
    return db.session.get(OutboxJob, found, populate_existing=True)  # as locked, not as cached


def current_job_id() -> int | None:
    """The outbox id of the job running in this context (None outside a job)."""
    return _current_outbox.get()


def report_progress(fraction: float, message: str = "") -> bool:
    """Record the running job's progress (0..1) where pages can see it at once.

    Commits in a separate short transaction on its own connection: the job's transaction
    stays open and uncommitted. Call it before the job writes (SQLite has one writer at a
    time; a report that cannot get the lock quickly is skipped). Outside a job it does
    nothing. Returns whether the progress was recorded.
    """
    outbox_id = _current_outbox.get()
    if outbox_id is None:
        return False
    value = min(max(float(fraction), 0.0), 1.0)
    text = str(message or "")[:_MESSAGE_LIMIT]
    stmt = (
        update(OutboxJob)
        .where(OutboxJob.id == outbox_id)
        .values(progress=value, progress_message=text)
    )
    try:
        with db.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                conn.exec_driver_sql("PRAGMA busy_timeout = 200")
            try:
                conn.execute(stmt)
                conn.commit()
            finally:
                if sqlite:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA busy_timeout = 5000")
    except Exception:  # noqa: BLE001  (progress is a help: never fail the job for it)
        log.warning("could not record progress of outbox job %s", outbox_id, exc_info=True)
        return False
    return True


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


def flush(older_than: timedelta = timedelta(seconds=30), recover_first: bool = True) -> int:
    """Re-send jobs Redis never got or lost, and jobs whose worker died. Returns how many.

    ``pending`` rows older than ``older_than`` are sent again; so are rows that Redis lost
    (``queued``/``retrying``/``running`` whose RQ job no longer exists: Redis restarted
    without persistence). Before that, ``recover`` hands jobs whose worker stopped sending
    heartbeats back to RQ's retry policy (see there). Workers run this every few seconds
    (``core.workers``); ``flask jobs flush`` runs it by hand.
    """
    cutoff = utcnow() - older_than
    redis_conn = redis_connection()
    if redis_conn is not None and recover_first:
        recover(redis_conn, cutoff)
    ids = list(
        db.session.scalars(
            select(OutboxJob.id)
            .where(OutboxJob.status == "pending", OutboxJob.created_at <= cutoff)
            .order_by(OutboxJob.id)
        )
    )
    db.session.rollback()
    return dispatch(ids)


#: RQ job states in which RQ itself will still run the job (a retry waiting, or queued).
_RQ_WILL_RUN = ("queued", "scheduled", "deferred")
_RQ_GAVE_UP = ("failed", "stopped", "canceled")
_RECOVER_BATCH = 500


def recover(redis_conn, cutoff: datetime | None = None) -> dict[str, int]:
    """Bring outbox rows in line with what RQ knows; re-queue jobs of dead workers.

    1. RQ's ``StartedJobRegistry.cleanup`` for every queue (under RQ's own maintenance lock,
       so two workers never do it at once): an execution whose worker sent no heartbeat for
       ``JOB_DEAD_AFTER_SECONDS`` (``core.workers`` keeps that short) is abandoned; RQ
       retries it per the job's ``Retry`` (a death counts as an attempt) or, with no retry
       left, moves it to its failed registry.
    2. Each unfinished row (``queued``/``retrying``/``running``, older than ``cutoff``) is
       compared with its RQ job: missing in Redis -> back to ``pending`` (re-sent by
       ``flush``); ``running`` but RQ has queued/scheduled it again -> ``retrying``, with the
       reason; given up by RQ (failed/stopped/canceled) -> ``failed`` with RQ's reason, so no
       row stays ``running`` for ever. Updates are conditional on the row being unchanged
       since it was read: a worker that starts the job meanwhile wins.

    Returns the counts: ``{"lost": n, "retrying": n, "failed": n}``.
    """
    from redis.exceptions import RedisError
    from rq import Queue
    from rq.job import Job
    from rq.registry import StartedJobRegistry

    counts = {"lost": 0, "retrying": 0, "failed": 0}
    try:
        for name in QUEUES:
            queue = Queue(name, connection=redis_conn)
            if queue.acquire_maintenance_lock():
                try:
                    StartedJobRegistry(name, connection=redis_conn).cleanup()
                finally:
                    queue.release_maintenance_lock()
    except RedisError:
        log.warning("could not clean RQ's started-job registries", exc_info=True)
        return counts
    stmt = select(OutboxJob.id, OutboxJob.status, OutboxJob.rq_job_id, OutboxJob.started_at).where(
        OutboxJob.status.in_(("queued", "retrying", "running"))
    )
    if cutoff is not None:
        stmt = stmt.where(
            (OutboxJob.dispatched_at <= cutoff) | (OutboxJob.started_at <= cutoff)
        )
    rows = db.session.execute(stmt.order_by(OutboxJob.id)).all()
    db.session.rollback()
    for start in range(0, len(rows), _RECOVER_BATCH):
        batch = rows[start : start + _RECOVER_BATCH]
        try:
            found = Job.fetch_many(
                [job_id or f"outbox-{i}" for i, _, job_id, _ in batch], connection=redis_conn
            )
            states = [(j, j.get_status(refresh=False)) if j else (None, None) for j in found]
        except RedisError:
            log.warning("could not read RQ jobs of the outbox", exc_info=True)
            return counts
        for (outbox_id, status, _, started_at), (job, state) in zip(batch, states):
            state = getattr(state, "value", state)
            if job is None:
                new, error = "pending", None
                kind = "lost"
            elif status == "running" and state in _RQ_WILL_RUN:
                # run_outbox marks a failed attempt "retrying" itself: a row still "running"
                # that RQ holds for another attempt lost its worker (or work horse).
                new, kind = "retrying", "retrying"
                error = (
                    "the worker running this job died (no heartbeat); it runs again now "
                    f"({job.retries_left or 0} retries left after that)\n"
                )
                if state == "scheduled":
                    _queue_now(job, redis_conn)
            elif state in _RQ_GAVE_UP:
                new, kind = "failed", "failed"
                error = f"RQ gave the job up ({state}): {_rq_reason(job)}"
            else:
                continue
            if _transition(outbox_id, status, started_at, new, error):
                counts[kind] += 1
    if any(counts.values()):
        log.warning("outbox recovery: %s", counts)
    return counts


def _queue_now(job, redis_conn) -> bool:
    """Move a retry RQ scheduled for later to its queue now: the attempt failed because its
    worker died, not because of the job, so there is nothing to wait for; and the RQ
    scheduler that would move it may have died with that worker (its lock outlives it by up
    to a minute). Only whoever removes it from the scheduled registry enqueues it."""
    from redis.exceptions import RedisError
    from rq import Queue

    queue = Queue(job.origin, connection=redis_conn)
    try:
        if not queue.scheduled_job_registry.remove(job.id):
            return False  # the scheduler moved it meanwhile
        queue.enqueue_job(job)
    except RedisError:
        log.warning("could not re-queue job %s of a dead worker", job.id, exc_info=True)
        return False
    return True


def _rq_reason(job) -> str:
    try:
        result = job.latest_result()
    except Exception:  # noqa: BLE001  (a reason is a help; the state change matters)
        result = None
    text = (getattr(result, "exc_string", None) or "no reason recorded").strip()
    return text if len(text) <= _ERROR_LIMIT else "…" + text[-_ERROR_LIMIT:]


def _transition(outbox_id: int, status: str, started_at, new: str, error: str | None) -> bool:
    """Move a row from ``status`` to ``new`` only if nobody changed it since it was read."""
    same_start = (
        OutboxJob.started_at.is_(None) if started_at is None else OutboxJob.started_at == started_at
    )
    values: dict = {"status": new}
    if new == "pending":
        values.update(rq_job_id=None, dispatched_at=None)
    else:
        values["error"] = error
    if new == "failed":
        values["finished_at"] = utcnow()
    result = db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == outbox_id, OutboxJob.status == status, same_start)
        .values(**values)
    )
    db.session.commit()
    return result.rowcount == 1


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
    wait = row.not_before - utcnow() if row.not_before is not None else None
    db.session.rollback()  # hold no transaction (nor SQLite lock) while talking to Redis
    options = dict(
        job_id=f"outbox-{outbox_id}",
        job_timeout=opts["timeout"],
        result_ttl=opts["result_ttl"],
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
        description=description,
    )
    try:
        rq_queue = Queue(queue, connection=redis_conn)
        if wait is not None and wait > timedelta(0):
            # Scheduled: the worker's RQ scheduler moves it to the queue when it is due.
            job = rq_queue.enqueue_in(wait, run_outbox, outbox_id, **options)
        else:
            job = rq_queue.enqueue(run_outbox, outbox_id, **options)
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

    row = db.session.get(OutboxJob, outbox_id, populate_existing=True)
    if row is None or row.status == "done":
        db.session.rollback()
        return  # idempotent: a retried or duplicated delivery does nothing
    func_path, dispatched_at = row.func, row.dispatched_at
    db.session.rollback()
    # Committed before the body reads anything: from now on a change enqueues a new job
    # (enqueue() reuses only rows that have not started). The arguments are read by the same
    # statement: on PostgreSQL it waits for an enqueue() holding the row (FOR UPDATE) and
    # returns the ids it merged in.
    args = list(
        db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == outbox_id)
            .values(status="running", started_at=utcnow(), finished_at=None, progress=0.0,
                    progress_message=None)
            .returning(OutboxJob.args)
        ).scalar_one()
    )
    db.session.commit()
    token = acting_as(None, f"job {func_path}")
    job_token = _current_outbox.set(outbox_id)
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
        _current_outbox.reset(job_token)
        reset_actor(token)
    db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == outbox_id)
        .values(status="done", error=None, dispatched_at=dispatched_at or utcnow(),
                progress=1.0, finished_at=utcnow())
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
    values = {"status": status, "error": error}
    if status == "failed":
        values["finished_at"] = utcnow()
    db.session.execute(update(OutboxJob).where(OutboxJob.id == outbox_id).values(**values))
    db.session.commit()


def _check_tasks_module(path: str) -> None:
    module = path.rpartition(".")[0]
    if not module.split(".")[-1] == "tasks":
        raise ValueError(f"job functions live in a tasks module, got {path!r}")


def _resolve(path: str):
    _check_tasks_module(path)
    module, _, name = path.rpartition(".")
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
    ext = current_app.extensions
    conn = ext.get("redis_conn")
    if conn is None or ext.get("redis_conn_url") != url:  # one per app, new when REDIS_URL changes
        from redis import Redis

        conn = current_app.extensions["redis_conn"] = Redis.from_url(
            url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT, socket_timeout=REDIS_SOCKET_TIMEOUT
        )
        current_app.extensions["redis_conn_url"] = url
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
_app_factory: Callable[[], object] | None = None
_engine_pid = os.getpid()


def set_worker_app(app) -> None:
    global _app
    _app = app


def set_app_factory(factory: Callable[[], object]) -> None:
    """How a job outside any app context gets an app (the composition root passes its
    ``create_app``: the kernel imports no application)."""
    global _app_factory
    _app_factory = factory


def _worker_app():
    global _app
    if _app is None:
        if _app_factory is None:
            raise RuntimeError(
                "no app to run jobs in: start workers with `flask --app wsgi worker`"
            )
        _app = _app_factory()
    return _app


def _fresh_connections_after_fork() -> None:
    """RQ forks a work horse per job: never reuse the parent's pooled DB connections."""
    global _engine_pid
    if os.getpid() != _engine_pid:
        db.engine.dispose(close=False)
        _engine_pid = os.getpid()
