"""declare's reactions to other packages' signals (imported once by app.create_app)."""

from __future__ import annotations

from benchmarks.signals import catalogue_changed, catalogue_preview
from core import jobs
from declare import tasks


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
