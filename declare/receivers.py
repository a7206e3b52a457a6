"""declare's reactions to other packages' signals (imported once by app.create_app)."""

from __future__ import annotations

from benchmarks.signals import catalogue_changed, catalogue_preview
from core import jobs
from declare import search, tasks
from declare.signals import declaration_changed


@catalogue_changed.connect
def _reflag_on_catalogue_change(sender, standard_ids=(), **extra) -> None:
    """Re-check the declarations citing or following the changed standards, after commit."""
    ids = sorted({int(i) for i in standard_ids or ()})
    if ids:
        jobs.enqueue(tasks.reflag_references, ids)


@catalogue_preview.connect
def _count_changed_comparisons(sender, changes=(), **extra) -> dict[str, int]:
    """How many declarations in force each planned catalogue change touches (for the preview)."""
    from declare.comparison import catalogue_impact

    return catalogue_impact(list(changes))


@declaration_changed.connect
def _refresh_search_index(
    sender, declaration_ids=(), status=None, search_indexed=False, **extra
) -> None:
    """Publication, revision and end change what the public search shows: rewrite those
    declarations' search rows in the same transaction (a rolled-back publication leaves the
    index as it was). Re-flagging changes no searchable text. ``search_indexed``: the sender
    wrote the rows itself (the bulk import: ``search.index_new``)."""
    if status in ("published", "ended") and not search_indexed:
        search.refresh(declaration_ids)
