"""supervision's reactions to declare's and the catalogue's signals (imported by create_app).

Receivers run inside the transaction that made the change and only enqueue jobs on the
``supervision`` queue; the outbox hands them over after the commit, so a rolled-back change
re-flags nothing.

* ``declaration_changed`` (publish, revision, abolition, revocation): the declarations' flags.
* ``catalogue_changed`` (a standard withdrawn, replaced or restored): one job per product
  category of the declarations in force that cite or follow the standards (coarse, one per
  category, debounced by its dedupe key). A ``category_ids`` keyword, should the catalogue
  send one for changed benchmark editions, is honoured too.
* ``compliance_changed`` (an inspection result or credit record): the enterprise's
  declarations.

Two changes send no signal: a complaint (``supervision.models.Complaint``, the complaints
slice) and a leader list (``ranking``, which must not know about supervision). The complaints
slice calls ``flags.request_recompute``; as a safety net, and for ranking, a session hook
notices complaints added or changing status and official lists published or superseded,
and enqueues their recompute when the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import has_app_context
from sqlalchemy import event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from benchmarks.signals import catalogue_changed
from core import jobs
from core.extensions import db
from declare.models import Declaration, DeclarationStatus, DeclarationVersion, Product
from declare.queries import declarations_citing
from declare.signals import compliance_changed, declaration_changed
from ranking.models import RankingRun, RunKind, RunStatus
from supervision.flags import operations as flags
from supervision.flags import tasks
from supervision.models import Complaint

_RUNS_KEY = "supervision_flag_runs"
_COMPLAINTS_KEY = "supervision_flag_complaints"
_DECLARATIONS_KEY = "supervision_flag_declarations"


def _ids(values: Iterable | None) -> list[int]:
    return sorted({int(v) for v in values or () if v is not None})


@declaration_changed.connect
def _on_declaration_changed(sender, declaration_ids=(), **extra) -> None:
    """Re-flag the declarations; an ended one has its flags cleared by the same job.

    The ids are collected and enqueued once when the transaction commits, so a transaction
    that publishes many declarations (an import, the demo) makes one job, not one per
    declaration (each job re-reads its categories' statistics)."""
    ids = _ids(declaration_ids)
    if ids:
        db.session.info.setdefault(_DECLARATIONS_KEY, set()).update(ids)


def categories_citing(standard_ids: list[int]) -> list[int]:
    """Product categories of the versions in force that cite or follow the standards."""
    if not standard_ids:
        return []
    versions = select(declarations_citing(standard_ids).subquery().c.version_id)
    return list(
        db.session.scalars(
            select(Product.category_id)
            .where(Product.version_id.in_(versions))
            .distinct()
            .order_by(Product.category_id)
        )
    )


def enqueue_category(category_id: int):
    return jobs.enqueue(
        tasks.flags_for_category,
        int(category_id),
        dedupe_key=f"supervision:flags:category:{int(category_id)}",
    )


@catalogue_changed.connect
def _on_catalogue_changed(sender, standard_ids=(), category_ids=(), **extra) -> None:
    """A withdrawn, replaced or restored standard: re-flag the categories that rely on it."""
    categories = set(categories_citing(_ids(standard_ids))) | set(_ids(category_ids))
    for category_id in sorted(categories):
        enqueue_category(category_id)


@compliance_changed.connect
def _on_compliance_changed(sender, enterprise_id=None, declaration_id=None, **extra) -> None:
    """An inspection result or credit record: re-flag the enterprise's declarations in force."""
    if enterprise_id is None:
        return
    ids = set(
        db.session.scalars(
            select(Declaration.id).where(
                Declaration.enterprise_id == int(enterprise_id),
                Declaration.status == DeclarationStatus.PUBLISHED,
            )
        )
    )
    if declaration_id is not None:
        ids.add(int(declaration_id))
    flags.request_recompute(ids)


# --------------------------------------------------------------------------- session hooks


def _run_publication_changed(obj: RankingRun, is_new: bool) -> bool:
    """An official list became published, or stopped being (superseded by a new version)."""
    history = sa_inspect(obj).attrs.status.history
    if not (is_new or history.has_changes()) or obj.kind is not RunKind.OFFICIAL:
        return False
    if is_new:
        return obj.status is RunStatus.PUBLISHED
    old = history.deleted[0] if history.deleted else None
    new = history.added[0] if history.added else None
    return old is None or RunStatus.PUBLISHED in (old, new)  # old unknown: be safe


@event.listens_for(Session, "after_flush")
def _collect(session: Session, flush_context) -> None:
    """Remember official lists whose publication changed and complaints added or moved."""
    runs: set[int] = set()
    complaints: set[tuple[int | None, int]] = set()
    for is_new, objects in ((True, session.new), (False, session.dirty)):
        for obj in objects:
            if isinstance(obj, RankingRun) and _run_publication_changed(obj, is_new):
                runs.add(obj.id)
            elif isinstance(obj, Complaint) and (
                is_new or sa_inspect(obj).attrs.status.history.has_changes()
            ):
                complaints.add((obj.declaration_id, obj.enterprise_id))
    if runs:
        session.info.setdefault(_RUNS_KEY, set()).update(runs)
    if complaints:
        session.info.setdefault(_COMPLAINTS_KEY, set()).update(complaints)


@event.listens_for(Session, "before_commit")
def _enqueue_collected(session: Session) -> None:
    """Enqueue the recomputes the transaction's flushes asked for (the outbox row commits with
    the change, so the job never runs on a change that was rolled back)."""
    if not has_app_context() or session is not db.session():
        return
    session.flush()  # what the commit is about to flush is collected now, not too late
    runs = session.info.pop(_RUNS_KEY, set())
    complaints = session.info.pop(_COMPLAINTS_KEY, set())
    declarations = session.info.pop(_DECLARATIONS_KEY, set())
    if declarations:
        flags.request_recompute(declarations)
    if runs:
        jobs.enqueue(
            tasks.flags_for_leader_lists,
            sorted(runs),
        )
    if complaints:
        ids = {decl for decl, _ent in complaints if decl is not None}
        enterprises = sorted({ent for decl, ent in complaints if decl is None})
        if enterprises:
            ids.update(
                db.session.scalars(
                    select(Declaration.id)
                    .join(
                        DeclarationVersion, DeclarationVersion.id == Declaration.current_version_id
                    )
                    .where(
                        Declaration.enterprise_id.in_(enterprises),
                        Declaration.status == DeclarationStatus.PUBLISHED,
                    )
                )
            )
        flags.request_recompute(ids)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_RUNS_KEY, None)
    session.info.pop(_COMPLAINTS_KEY, None)
    session.info.pop(_DECLARATIONS_KEY, None)
