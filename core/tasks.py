"""Kernel jobs: tiny functions that prove the job pipeline works (ops checks and tests), and
the kernel's periodic work (``core.schedule``): the outbox flush and the audit chain's anchor.

``flask jobs ping`` sends ``ping`` to every queue; each run leaves a ``JobPing`` row naming the
process that ran it, so "is anybody serving the ranking queue?" has an answer in the database.
"""

from __future__ import annotations

import os

from core.extensions import db
from core import jobs
from core.jobs import JobPing, job

__all__ = ["audit_anchor", "deliver_mail", "fail", "flush_outbox", "ping", "prune_scheduled_runs"]


@job('default')
def ping(key: str) -> None:
    """Write a JobPing row (not audited) in the job's transaction; idempotent per key."""
    from sqlalchemy import select

    if db.session.scalar(select(JobPing.id).where(JobPing.key == key)) is None:
        db.session.add(JobPing(key=str(key)[:120], pid=os.getpid()))


@job('default')
def fail(key: str) -> None:
    """Write a JobPing row, then raise: the row rolls back and the failure path runs."""
    db.session.add(JobPing(key=str(key)[:120], pid=os.getpid()))
    raise RuntimeError(f"core.tasks.fail({key!r}) fails on purpose")


@job('default')
def flush_outbox() -> int:
    """Re-send jobs left pending, jobs Redis lost and jobs of dead workers (``core.jobs.flush``,
    with recovery first). The scheduler runs it every minute in its own process, so it happens
    even when no worker is idle. Returns how many were handed over."""
    from datetime import timedelta

    from flask import current_app

    from core.workers import FLUSH_AFTER_SECONDS

    age = int(current_app.config.get("JOB_FLUSH_AFTER_SECONDS", FLUSH_AFTER_SECONDS))
    return jobs.flush(timedelta(seconds=age))


@job('default')
def audit_anchor(day: str | None = None) -> int:
    """Store the audit chain's head as the anchor of ``day`` (default: today, Beijing time),
    once a day; the public page /open/audit-anchors lists them. Returns the anchored seq."""
    from datetime import date

    from core import audit_chain
    from core.clock import local_today

    anchored = audit_chain.anchor(db.session, date.fromisoformat(day) if day else local_today())
    return anchored.head_seq


@job('default')
def prune_scheduled_runs(days: int = 30) -> int:
    """Forget the scheduler's run rows older than ``days`` (the outbox flush alone writes one a
    minute); each job's latest run is kept whatever its age. Returns how many were deleted."""
    from datetime import timedelta

    from sqlalchemy import delete, func, select

    from core.models import ScheduledRun, utcnow

    latest = select(func.max(ScheduledRun.id)).group_by(ScheduledRun.job_id)
    result = db.session.execute(
        delete(ScheduledRun).where(
            ScheduledRun.claimed_at < utcnow() - timedelta(days=days),
            ScheduledRun.id.not_in(latest),
        )
    )
    return result.rowcount


@job('default')
def deliver_mail(to, subject: str, body: str, html: str | None = None) -> None:
    """Send a message queued by ``core.mail.send_later`` (after the commit that caused it)."""
    from core.mail import send_mail

    send_mail(to, subject, body, html)
