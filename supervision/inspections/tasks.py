"""Background jobs of inspections (RQ on the ``supervision`` queue, or inline without Redis).

``rectifications_overdue(day)`` runs nightly (cron: ``flask supervision inspections
mark-overdue --enqueue``): open rectification orders past their deadline become overdue.
"""

from __future__ import annotations

import logging
from datetime import date

from core.jobs import job
from core.notifications import reminder
from supervision.inspections import operations as inspections

__all__ = ["deadline_reminders", "rectifications_overdue"]

log = logging.getLogger(__name__)


@job("supervision")
def rectifications_overdue(day: str | None = None) -> dict:
    """Open rectification orders whose deadline passed before ``day`` (ISO date; default:
    today in Beijing) become overdue. Idempotent: one set-based UPDATE of what is still open."""
    ids = inspections.mark_overdue(date.fromisoformat(day) if day else None)
    log.info("rectification orders marked overdue: %s", ids)
    return {"overdue": len(ids), "ids": ids[:200]}


@reminder
@job("supervision")
def deadline_reminders(day: str | None = None) -> dict:
    """Daily: notify enterprises of rectification deadlines 7 and 1 days ahead and passed
    (``flask notify reminders``; each event once)."""
    return inspections.deadline_reminders(date.fromisoformat(day) if day else None)
