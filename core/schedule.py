"""Scheduled work shipped with the code: every periodic job in one list, run by `flask scheduler`.

``SCHEDULE`` lists each periodic job once, with a stable id, the job's handle (the dotted path of
a ``@core.jobs.job`` function: the kernel imports no domain package) and when it is due: a cron
expression in the platform's zone (Asia/Shanghai, ``core.clock``) or ``every`` N seconds. Adding
one is one line.

How a due run happens once: each run is a ``ScheduledRun`` row, unique per (job id, due time).
A scheduler that finds a due time without its row inserts the row and, in the same transaction,
the job's outbox row (``core.jobs.enqueue``); after the commit the job goes to RQ (or runs inline
without ``REDIS_URL``, as in ``make run``). A second scheduler process racing for the same due
time fails on the unique constraint and skips it. So two schedulers started by mistake (or on
two hosts) run a due job once, with no lock to expire and nothing but the database.
``direct`` jobs (the outbox flush: it must run even when no worker does) run in the scheduler
process itself and record their outcome on the run row.

Missed runs: when the scheduler starts (or wakes) after a due time passed without a run, the
latest missed due time runs once (systemd's ``Persistent=true``); older ones are not repeated.

Why not RQ 3's ``CronScheduler``: it enqueues straight into RQ (no outbox row, so no record in
the database, no retry from the console, nothing without Redis), and two of them started at once
each enqueue the job; its registry records schedulers, not runs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from croniter import croniter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import jobs
from core.clock import local_zone
from core.extensions import db
from core.models import OutboxJob, ScheduledRun, utcnow

log = logging.getLogger(__name__)

#: The longest sleep between two looks at the schedule (a changed clock is noticed in time).
MAX_SLEEP = 30.0
_ERROR_LIMIT = 8000


@dataclass(frozen=True)
class Entry:
    """One periodic job: ``cron`` (5 fields, platform zone) or ``every`` (seconds, aligned to
    multiples of it since the epoch, so every scheduler computes the same due times)."""

    id: str
    handle: str
    cron: str | None = None
    every: int | None = None
    args: tuple = ()
    direct: bool = False  # run in the scheduler process, not through the outbox
    description: str = ""

    def __post_init__(self):
        if (self.cron is None) == (self.every is None):
            raise ValueError(f"schedule entry {self.id!r}: give cron or every, not both")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"schedule entry {self.id!r}: invalid cron {self.cron!r}")
        if self.every is not None and self.every < 1:
            raise ValueError(f"schedule entry {self.id!r}: every must be >= 1 second")

    @property
    def when(self) -> str:
        return f"cron {self.cron}" if self.cron else f"every {self.every} s"

    def last_due(self, now: datetime) -> datetime:
        """The latest due time at or before ``now`` (UTC)."""
        if self.every is not None:
            epoch = int(now.timestamp())
            return datetime.fromtimestamp(epoch - epoch % self.every, tz=timezone.utc)
        local = now.astimezone(local_zone())
        floor = local.replace(second=0, microsecond=0)
        if croniter.match(self.cron, floor):
            return floor.astimezone(timezone.utc)
        return croniter(self.cron, floor).get_prev(datetime).astimezone(timezone.utc)

    def next_due(self, now: datetime) -> datetime:
        """The first due time strictly after ``now`` (UTC)."""
        if self.every is not None:
            return self.last_due(now) + timedelta(seconds=self.every)
        local = now.astimezone(local_zone())
        return croniter(self.cron, local).get_next(datetime).astimezone(timezone.utc)


# The registry. Times are Beijing time; nightly work after midnight, spread out.
SCHEDULE: tuple[Entry, ...] = (
    Entry("outbox-flush", "core.tasks.flush_outbox", every=60, direct=True,
          description="re-send pending jobs, re-queue jobs of dead workers"),
    Entry("rectifications-overdue", "supervision.inspections.tasks.rectifications_overdue",
          cron="5 0 * * *", description="mark rectification orders past their deadline"),
    Entry("audit-anchor", "core.tasks.audit_anchor", cron="15 0 * * *",
          description="publish the audit chain's head of the day"),
    Entry("risk-flags-nightly", "supervision.flags.tasks.recompute_all", cron="30 2 * * *",
          description="recompute every risk flag"),
    Entry("preview-prune", "ranking.tasks.prune_previews", cron="0 4 * * *",
          description="drop old ranking previews"),
    Entry("deadline-reminders", "supervision.inspections.tasks.deadline_reminders",
          cron="0 8 * * *", description="rectification deadlines in 7 and 1 days, and passed"),
    Entry("review-reminders", "declare.tasks.review_reminders", cron="10 8 * * *",
          description="review reminders REVIEW_REMINDER_YEARS after publication"),
    Entry("open-data-release", "declare.tasks.release_open_data", cron="30 0 * * *",
          args=("yesterday",), description="the open-data release of the day that ended"),
    Entry("schedule-prune", "core.tasks.prune_scheduled_runs", cron="20 4 * * *",
          description="forget scheduler runs older than 30 days"),
)


def entries(only: list[str] | tuple[str, ...] = ()) -> list[Entry]:
    found = [e for e in SCHEDULE if not only or e.id in only]
    unknown = set(only) - {e.id for e in SCHEDULE}
    if unknown:
        raise ValueError(f"unknown schedule ids {sorted(unknown)}; known: "
                         f"{[e.id for e in SCHEDULE]}")
    return found


def check(schedule: list[Entry]) -> None:
    """Every handle resolves to a job function (fail at start, not at 02:30)."""
    ids = [e.id for e in schedule]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate schedule ids in {ids}")
    for entry in schedule:
        jobs._handle(entry.handle)


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def claim(entry: Entry, due: datetime) -> ScheduledRun | None:
    """Insert the run row of (entry, due) and, for an outbox job, its outbox row, and commit.
    None when another scheduler claimed it first (or it ran already)."""
    run = ScheduledRun(job_id=entry.id, due_at=due, claimed_at=utcnow(), claimed_by=_me(),
                       status="running" if entry.direct else "queued")
    try:
        db.session.add(run)
        db.session.flush()
        if not entry.direct:
            row = jobs.enqueue(entry.handle, *entry.args)
            db.session.flush()
            run.outbox_id = row.id
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        jobs.discard_pending()
        return None
    return run


def run_due(now: datetime | None = None, schedule: list[Entry] | None = None,
            seen: dict[str, datetime] | None = None) -> list[ScheduledRun]:
    """Claim and start every entry whose latest due time has no run yet. ``seen`` remembers
    the due times this process already handled (no query per entry per tick)."""
    now = now or utcnow()
    seen = seen if seen is not None else {}
    started = []
    for entry in schedule if schedule is not None else entries():
        due = entry.last_due(now)
        if seen.get(entry.id) == due:
            continue
        exists = db.session.scalar(
            select(ScheduledRun.id).where(ScheduledRun.job_id == entry.id,
                                          ScheduledRun.due_at == due)
        )
        db.session.rollback()
        seen[entry.id] = due
        if exists is not None:
            continue
        run = claim(entry, due)
        if run is None:
            continue
        log.info("scheduled job %s due %s started", entry.id, due.isoformat())
        started.append(run)
        if entry.direct:
            _run_direct(entry, run.id)
        else:
            jobs.dispatch_pending()  # to RQ, or inline without Redis
    return started


def _run_direct(entry: Entry, run_id: int) -> None:
    from core.audit import acting_as, reset_actor

    token = acting_as(None, f"scheduler {entry.id}")
    status, error = "done", None
    try:
        jobs._resolve(entry.handle)(*entry.args)
        db.session.commit()
    except Exception as exc:  # noqa: BLE001  (recorded; the next due time tries again)
        db.session.rollback()
        status = "failed"
        tb = "".join(traceback.format_exception(exc))
        error = tb if len(tb) <= _ERROR_LIMIT else "…" + tb[-_ERROR_LIMIT:]
        log.exception("scheduled job %s failed", entry.id)
    finally:
        reset_actor(token)
    run = db.session.get(ScheduledRun, run_id)
    run.status, run.error, run.finished_at = status, error, utcnow()
    db.session.commit()


def serve(stop: threading.Event, schedule: list[Entry] | None = None) -> None:
    """The scheduler's loop: run what is due, sleep until the next due time (at most
    ``MAX_SLEEP``), until ``stop`` is set. A database outage is logged and retried."""
    schedule = schedule if schedule is not None else entries()
    seen: dict[str, datetime] = {}
    while not stop.is_set():
        try:
            run_due(schedule=schedule, seen=seen)
        except Exception:  # noqa: BLE001  (the scheduler must outlive a database outage)
            log.exception("scheduler round failed; retrying")
            db.session.rollback()
            seen.clear()
        db.session.remove()
        now = utcnow()
        wake = min(e.next_due(now) for e in schedule)
        stop.wait(min(max((wake - now).total_seconds(), 0.05), MAX_SLEEP))


#: A due time without its run this long after it: no scheduler is running (or it is stuck).
LATE_AFTER = timedelta(minutes=2)


@dataclass
class Status:
    entry: Entry
    last: ScheduledRun | None
    outbox: OutboxJob | None
    next_due: datetime
    late: bool = False

    @property
    def outcome(self) -> str:
        if self.last is None:
            return "never"
        if self.outbox is not None:
            return self.outbox.status
        return self.last.status

    @property
    def error(self) -> str | None:
        if self.outbox is not None:
            return self.outbox.error
        return self.last.error if self.last is not None else None


def status(now: datetime | None = None) -> list[Status]:
    """Per job: the latest run (with its outcome) and the next due time."""
    now = now or utcnow()
    result = []
    for entry in entries():
        last = db.session.scalar(
            select(ScheduledRun).where(ScheduledRun.job_id == entry.id)
            .order_by(ScheduledRun.due_at.desc()).limit(1)
        )
        outbox = db.session.get(OutboxJob, last.outbox_id) if last and last.outbox_id else None
        due = entry.last_due(now)
        late = (last is None or last.due_at < due) and now - due > LATE_AFTER
        result.append(Status(entry, last, outbox, entry.next_due(now), late))
    return result
