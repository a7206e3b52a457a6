"""Kernel jobs: tiny functions that prove the job pipeline works (ops checks and tests).

``flask jobs ping`` sends ``ping`` to every queue; each run leaves a ``JobPing`` row naming the
process that ran it, so "is anybody serving the ranking queue?" has an answer in the database.
"""

from __future__ import annotations

import os

from core.extensions import db
from core.jobs import JobPing, job

__all__ = ["deliver_mail", "fail", "ping"]


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
def deliver_mail(to, subject: str, body: str, html: str | None = None) -> None:
    """Send a message queued by ``core.mail.send_later`` (after the commit that caused it)."""
    from core.mail import send_mail

    send_mail(to, subject, body, html)
