"""Background jobs of the risk flags (RQ on the ``supervision`` queue, or inline without Redis).

Jobs take ids, never objects, and are idempotent: each recomputes the flags of its scope from
what the database holds when it starts and stores only the difference, so a retried or
duplicated job changes nothing more. A job's writes and its outbox "done" commit together.

Which job runs when (``supervision.receivers`` enqueues them):

=================================  ========================================================
``flags_for_declarations(ids)``    after a publish, revision, abolition or revocation; after a
                                   complaint or a compliance record; ``flags.request_recompute``
``flags_for_category(id)``         after the catalogue changed (withdrawn/replaced standards)
``flags_for_leader_lists(run_ids)`` after an official list was published or lost leaders
``flags_for_region(code)``         on demand (``flask supervision flags recompute --region``)
``recompute_all()``                nightly (cron: ``flask supervision flags recompute
                                   --enqueue``): limits change with the date, category medians
                                   drift, copies of older standards appear
=================================  ========================================================
"""

from __future__ import annotations

import logging

from flask_babel import gettext as _
from sqlalchemy import or_, select

from core.extensions import db
from core.jobs import job, report_progress
from ranking.models import RunEntry
from supervision.flags import operations as flags

__all__ = [
    "flags_for_category",
    "flags_for_declarations",
    "flags_for_leader_lists",
    "flags_for_region",
    "recompute_all",
]

log = logging.getLogger(__name__)


def _progress(fraction: float, message: str) -> None:
    report_progress(fraction, message)


@job('supervision')
def flags_for_declarations(declaration_ids: list[int]) -> dict:
    """Flags of these declarations: a published one is flagged afresh, an abolished or
    revoked one has its flags cleared (and so have the copies matched against it)."""
    result = flags.recompute(declaration_ids=[int(i) for i in declaration_ids])
    log.info("risk flags of declarations %s: %s", declaration_ids, result.as_dict())
    return result.as_dict()


@job('supervision')
def flags_for_category(category_id: int) -> dict:
    """Flags of every declaration with a product in the category (after a catalogue change)."""
    result = flags.recompute(category_id=int(category_id), progress=_progress)
    log.info("risk flags of category %s: %s", category_id, result.as_dict())
    return result.as_dict()


@job('supervision')
def flags_for_region(region_code: str) -> dict:
    """Flags of every declaration of the enterprises of a 行政区划 (and its sub-regions)."""
    result = flags.recompute(region_code=str(region_code), progress=_progress)
    log.info("risk flags of region %s: %s", region_code, result.as_dict())
    return result.as_dict()


@job('supervision')
def flags_for_leader_lists(run_ids: list[int]) -> dict:
    """Leader flags after official lists changed: the declarations that are or were leaders
    on these runs (a removed leader keeps its entry, with ``removed_reason``)."""
    ids = sorted(
        set(
            db.session.scalars(
                select(RunEntry.declaration_id).where(
                    RunEntry.run_id.in_([int(r) for r in run_ids]),
                    or_(RunEntry.is_leader.is_(True), RunEntry.removed_reason != ""),
                )
            )
        )
    )
    if not ids:
        return flags.RecomputeResult().as_dict()
    return flags_for_declarations(ids)


@job('supervision')
def recompute_all() -> dict:
    """The nightly full recompute, with its progress on the outbox row."""
    report_progress(0.0, _("Recomputing the risk flags of every declaration"))
    result = flags.recompute(progress=_progress)
    log.info("risk flags, full recompute: %s", result.as_dict())
    return result.as_dict()
