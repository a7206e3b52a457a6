"""Signals the catalogue sends, so later packages react without benchmarks importing them.

``catalogue_changed`` is sent by ``benchmarks.operations`` (inside the transaction, after the
flush) whenever standards change status, withdrawn date or replacement::

    catalogue_changed.send(None, standard_ids=[3, 7])

declare/ connects a receiver that enqueues its re-flagging job with ``core.jobs.enqueue``; the
outbox runs the job only after the commit, so a rolled-back import never re-flags anything.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

catalogue_changed = _signals.signal(
    "catalogue-changed",
    doc="Standards changed status/withdrawn_date/replaced_by; kwargs: standard_ids: list[int].",
)

catalogue_preview = _signals.signal(
    "catalogue-preview",
    doc="An import would change existing rows; kwargs: changes: list[benchmarks.history.Change]. "
    "Receivers return {row key: number of declarations in force whose comparison changes}.",
)

__all__ = ["catalogue_changed", "catalogue_preview"]
