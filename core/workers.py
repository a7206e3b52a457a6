"""The RQ workers of ``flask worker``: a dead worker is noticed in seconds, Redis may go away.

Why not RQ's defaults: a running job's heartbeat there lives ``min(timeout, 30) + 60`` s (a
``SimpleWorker``'s the whole job timeout + 60 s, 11 min for a ranking job), an idle worker
blocks on Redis for ``worker_ttl - 15`` = 405 s between maintenance rounds, and maintenance
(which re-queues the jobs of dead workers from the ``StartedJobRegistry``) runs every 10 min:
a ``kill -9`` mid-job was noticed 12-15 min later. Here, from the app's config:

- ``JOB_HEARTBEAT_SECONDS`` (5): how often a busy worker renews its job's heartbeat (the
  forked worker's monitor loop; for ``--no-fork`` a heartbeat thread beside the job);
- ``JOB_DEAD_AFTER_SECONDS`` (15): an execution without heartbeat for this long is abandoned;
- ``JOB_MAINTENANCE_SECONDS`` (10): how often an idle worker runs maintenance: RQ's registry
  cleanup (the abandoned job goes back to its queue per its ``Retry``; a death counts as an
  attempt), restarting RQ's scheduler if it died, then ``core.jobs.recover`` (rows of dead
  workers, re-queued at once) and the outbox flush (``core.jobs.flush``: rows left
  ``pending`` by a Redis outage, rows Redis lost), the latter by one worker at a time (a
  Redis lock). This *is* the periodic flush: it runs wherever
  workers run, needs no cron and no other process, and stops when no worker could run the
  jobs anyway. ``JOB_FLUSH_AFTER_SECONDS`` (15): a pending row is re-sent once this old.

Fairness: ``WORKER_DEQUEUE_STRATEGY`` (``round_robin`` by default) is RQ's dequeue strategy.
RQ's own default serves the queues in strict priority (the order given): a worker on
``ranking supervision default`` took a supervision job only when the ranking queue was
empty, and under a steady stream of publications the flags waited minutes or never ran (the
drills). Round robin moves the queue just served to the end of the list, so every queue with
a job waiting gets one of the next ``len(queues)`` dequeues.

A Redis outage: RQ retries the blocking dequeue with back-off (capped here at 8 s, so a
worker resumes within seconds of Redis returning) but quits on errors elsewhere in its loop
(a heartbeat, the suspension check, a timeout). ``serve`` keeps the process: when the
worker's loop ends without a shutdown request, it waits for Redis with back-off (1 s doubling
to 8 s) and starts a fresh worker; SIGTERM/SIGINT still stop it at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

from flask import current_app

from core import jobs
from core.extensions import db

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
DEAD_AFTER_SECONDS = 15
MAINTENANCE_SECONDS = 10
FLUSH_AFTER_SECONDS = 15
#: The longest wait between two attempts to reach Redis again (worker loop and ``serve``).
MAX_REDIS_WAIT = 8.0
_FLUSH_LOCK = "qibiao:outbox-maintenance"
#: RQ 3's dequeue strategies (``rq.worker.base.DequeueStrategy``).
DEQUEUE_STRATEGIES = ("round_robin", "random", "default")
DEFAULT_DEQUEUE_STRATEGY = "round_robin"


def dequeue_strategy(config) -> str:
    """``WORKER_DEQUEUE_STRATEGY`` from the app config, checked (default ``round_robin``)."""
    value = str(config.get("WORKER_DEQUEUE_STRATEGY") or DEFAULT_DEQUEUE_STRATEGY).strip()
    if value not in DEQUEUE_STRATEGIES:
        raise ValueError(
            f"WORKER_DEQUEUE_STRATEGY must be one of {', '.join(DEQUEUE_STRATEGIES)}, "
            f"got {value!r}"
        )
    return value


def timings(config) -> dict[str, int]:
    """The worker's timings from the app config, checked: heartbeat < dead-after."""
    t = {
        "heartbeat": int(config.get("JOB_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)),
        "dead_after": int(config.get("JOB_DEAD_AFTER_SECONDS", DEAD_AFTER_SECONDS)),
        "maintenance": int(config.get("JOB_MAINTENANCE_SECONDS", MAINTENANCE_SECONDS)),
        "flush_after": int(config.get("JOB_FLUSH_AFTER_SECONDS", FLUSH_AFTER_SECONDS)),
    }
    if min(t.values()) < 1:
        raise ValueError(f"job timings must be whole seconds >= 1, got {t}")
    if t["dead_after"] <= t["heartbeat"]:
        raise ValueError(
            "JOB_DEAD_AFTER_SECONDS must exceed JOB_HEARTBEAT_SECONDS "
            f"(a live worker would look dead between two heartbeats), got {t}"
        )
    return t


class _Recovering:
    """Mixed into RQ's ``Worker``/``SimpleWorker``: short heartbeats, frequent maintenance."""

    max_connection_wait_time = MAX_REDIS_WAIT
    dead_after = DEAD_AFTER_SECONDS
    flush_after = FLUSH_AFTER_SECONDS
    forked = True

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        # RQ adds 60 s (SimpleWorker: the job timeout + 60 s) to every heartbeat's lifetime;
        # the job timeout itself is still enforced by RQ's death penalty.
        return self.dead_after

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()
        finally:
            self.last_cleaned_at = _now()  # even after an error: no maintenance storm
        self.flush_outbox()

    def flush_outbox(self) -> None:
        """Every round, on every worker: ``core.jobs.recover`` (re-queue the jobs of dead
        workers: cheap, and safe to run concurrently). Once per round across all workers
        (a Redis lock): ``core.jobs.flush`` of the rows to re-send."""
        from datetime import timedelta

        from redis.exceptions import RedisError

        try:
            with jobs._worker_app().app_context():
                redis_conn = jobs.redis_connection()
                age = timedelta(seconds=self.flush_after)
                jobs.recover(redis_conn, jobs.utcnow() - age)
                ttl = self.maintenance_interval
                if redis_conn.set(_FLUSH_LOCK, self.name, nx=True, ex=ttl):
                    sent = jobs.flush(age, recover_first=False)
                    if sent:
                        log.warning("outbox maintenance re-sent %d job(s)", sent)
                db.session.remove()
                if self.forked:
                    db.engine.dispose()  # the work horses forked later share no connection
        except RedisError:
            return  # the loop's own Redis handling takes it from here
        except Exception:  # noqa: BLE001  (maintenance must never end the worker)
            log.exception("outbox maintenance failed; next in %ss", self.maintenance_interval)


def _now():
    from rq.utils import now

    return now()


def worker_class(fork: bool):
    """RQ's forked ``Worker`` or, with ``fork=False``, an in-process ``SimpleWorker`` that runs
    each job in an app context of its own and keeps its heartbeat from a thread.

    The in-process worker (``flask worker --no-fork``): a forked work horse starts every job
    with new database connections, so PostgreSQL starts a new backend with cold caches for it:
    for a short job that costs more than the job (the ranking queue's preview regenerations,
    perf/README.md). Here the connection pool and the imports stay warm from one job to the
    next. What is given up is the isolation of a fork: a job that crashes the interpreter ends
    the worker (another worker re-runs the job once its heartbeat stops), and memory a job
    leaks stays with the worker.
    """
    from rq import SimpleWorker, Worker

    if fork:
        return type("RecoveringWorker", (_Recovering, Worker), {"forked": True})

    class InProcessWorker(_Recovering, SimpleWorker):
        forked = False

        def execute_job(self, job, queue):
            from rq.worker.base import WorkerStatus

            # A fresh app context per job: its own database session, removed at the end.
            with jobs._worker_app().app_context():
                execution = self.prepare_execution(job)
                with _heartbeats(self, job, execution):
                    self.perform_job(job, queue, execution)
            self.set_state(WorkerStatus.IDLE)

    return InProcessWorker


@contextmanager
def _heartbeats(worker, job, execution):
    """Renew the job's heartbeat every ``job_monitoring_interval`` while the body runs here
    (the forked worker's monitor loop does this for its horse)."""
    from redis.exceptions import RedisError

    stop = threading.Event()

    def beat():
        while not stop.wait(worker.job_monitoring_interval):
            try:
                worker.maintain_heartbeats(job, execution)
            except RedisError:
                log.warning("heartbeat of job %s not sent (Redis)", job.id)

    thread = threading.Thread(target=beat, name=f"heartbeat {job.id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def build(queue_names: list[str], fork: bool):
    """A worker on ``queue_names`` with the app's timings, on a Redis client of its own: RQ
    sets the socket timeout its blocking dequeue needs before any connection exists (the
    request-side client, ``jobs.redis_connection``, keeps a short one)."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(
        current_app.config["REDIS_URL"], socket_connect_timeout=jobs.REDIS_CONNECT_TIMEOUT
    )
    t = timings(current_app.config)
    cls = worker_class(fork)
    worker = cls(
        [Queue(n, connection=connection) for n in queue_names],
        connection=connection,
        job_monitoring_interval=t["heartbeat"],
        maintenance_interval=t["maintenance"],
        # RQ blocks on Redis for worker_ttl - 15 s between two maintenance checks.
        worker_ttl=t["maintenance"] + 15,
    )
    worker.dead_after = t["dead_after"]
    worker.flush_after = t["flush_after"]
    worker.dequeue_strategy = dequeue_strategy(current_app.config)
    return worker


def serve(make_worker: Callable[[], object], connection, burst: bool = False) -> None:
    """Run workers until asked to stop: a worker whose loop ended without a shutdown request
    (RQ quits on a Redis error outside its dequeue, e.g. a heartbeat mid-job) is replaced by
    a fresh one once Redis answers again. The pause before a restart doubles (1 s .. 8 s)
    while workers keep ending within a minute, so a lasting fault cannot spin."""
    from redis.exceptions import RedisError

    pause = 1.0
    while True:
        started = time.monotonic()
        worker = make_worker()
        try:
            worker.work(
                burst=burst,
                with_scheduler=True,
                dequeue_strategy=getattr(worker, "dequeue_strategy", DEFAULT_DEQUEUE_STRATEGY),
            )
        except RedisError:
            log.warning("worker %s lost Redis", worker.name, exc_info=True)
        _reap_horse(worker)
        if burst or worker._shutdown_requested_date is not None or worker._stop_requested:
            return
        pause = 1.0 if time.monotonic() - started > 60 else pause
        if not _wait_for_redis(connection, pause):
            return
        pause = min(pause * 2, MAX_REDIS_WAIT)
        log.warning("Redis answers: starting a fresh worker")


def _reap_horse(worker) -> None:
    """A work horse left running by a worker that quit finishes its job on its own; collect
    its exit status when it does (no zombie), without holding up the next worker."""
    pid = getattr(worker, "_horse_pid", 0)
    if pid:
        threading.Thread(target=_waitpid, args=(pid,), daemon=True).start()


def _waitpid(pid: int) -> None:
    import os

    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _wait_for_redis(connection, pause: float = 1.0) -> bool:
    """Wait ``pause`` seconds, then ping with back-off until Redis answers (True); False when
    SIGTERM/SIGINT arrives meanwhile."""
    from redis.exceptions import RedisError

    stopping = threading.Event()
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in previous:
        signal.signal(s, lambda *_: stopping.set())
    wait = 1.0
    try:
        if stopping.wait(pause):
            return False
        while not stopping.is_set():
            try:
                connection.ping()
                return True
            except RedisError as exc:
                log.warning("Redis unreachable (%s); next attempt in %.0f s", exc, wait)
            if stopping.wait(wait):
                break
            wait = min(wait * 2, MAX_REDIS_WAIT)
        return False
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

