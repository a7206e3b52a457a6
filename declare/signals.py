"""Signals declare sends, so later packages (ranking) react without declare importing them.

Both are sent by ``declare.operations`` inside the transaction, after the flush; receivers
only enqueue jobs (``core.jobs.enqueue``), which the outbox runs after the commit, so a
rolled-back change never triggers anything.

``declaration_changed`` — a declaration was published (first version or revision) or ended
(abolished or revoked), or the validity of what it cites changed (re-flagged)::

    declaration_changed.send(
        None,
        declaration_ids=[12],
        enterprise_ids=[3],
        category_ids=[1, 4],      # product categories of the new and the replaced version
        status="published",       # or "ended", or "reflagged"
    )

``status="reflagged"`` comes from ``declare.tasks.reflag_references``, once per batch, when
ReferenceFlags of published declarations opened or cleared because the catalogue withdrew,
replaced or restored a standard they cite or follow; it also carries ``standard_ids``. The
declarations stay published: receivers re-check entry requirements and risk flags.

The bulk import (``operations.publish_checked``) adds ``search_indexed=True``: it wrote the
search rows of its new declarations itself (``declare.search.index_new``), from what it held.

``compliance_changed`` — a compliance record (inspection result, violation, credit record) was
added for an enterprise::

    compliance_changed.send(
        None, enterprise_id=3, record_id=8, result="nonconforming", declaration_id=None
    )
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

declaration_changed = _signals.signal(
    "declaration-changed",
    doc="A declaration was published, ended or re-flagged; kwargs: declaration_ids, "
    "enterprise_ids, category_ids, status ('published' | 'ended' | 'reflagged').",
)

compliance_changed = _signals.signal(
    "compliance-changed",
    doc="A ComplianceRecord was added; kwargs: enterprise_id, record_id, result, declaration_id.",
)

__all__ = ["compliance_changed", "declaration_changed"]
