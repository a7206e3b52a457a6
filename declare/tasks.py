"""Background jobs of declare/ (run by core.jobs: RQ, or inline without Redis).

Jobs take ids, never objects, and are idempotent: running one twice changes nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from flask import current_app

from sqlalchemy import insert, or_, select, update

from benchmarks.models import Standard, StandardStatus
from benchmarks.queries import status_clause
from core.clock import end_of_day, local_date, local_today
from core.extensions import db
from core.jobs import job
from core.notifications import notify_each, reminder
from core.models import AuditLog, utcnow
from declare.models import (
    Declaration,
    DeclarationStatus,
    DeclarationVersion,
    Product,
    ReferenceFlag,
)
from declare.queries import declarations_citing
from declare.signals import declaration_changed

__all__ = ["reflag_all", "reflag_references", "release_open_data", "review_reminders"]

CHUNK = 500  # ids per IN (...) list: well under every database's bound-parameter limit


def _chunks(ids: list[int], size: int = CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _causes(standards: Iterable[Standard]) -> dict[int, tuple[str, str | None]]:
    """standard id → (reason, replacing number) for the standards that warrant a flag today."""
    today = local_today()
    causes = {}
    for std in standards:
        if std.status_on(today) is StandardStatus.WITHDRAWN:
            causes[std.id] = ("withdrawn", std.replaced_by_code)
        elif std.replaced_by_code:
            causes[std.id] = ("replaced", std.replaced_by_code)
    return causes


@job('default')
def reflag_references(standard_ids: list[int]) -> dict[str, int]:
    """Open or clear ReferenceFlags for the versions in force that cite or follow the standards.

    A standard withdrawn today (``status_on``) or with a replacement announced gives every
    published version citing it as a normative reference, or following it as its catalogue
    standard, one open flag (reason ``withdrawn`` or ``replaced``). Open flags of these
    standards whose cause went away (standard back in force, replacement dropped, reason
    changed, version no longer in force) are cleared. Set-based: one select of standards, one
    of affected versions, one of open flags, then bulk insert/update. Returns counts.

    When any flag opened or cleared, ``declare.signals.declaration_changed`` is sent once for
    the whole batch (status ``"reflagged"``), so ranking previews and supervision's risk flags
    catch up now rather than at the declaration's next change.
    """
    ids = sorted({int(i) for i in standard_ids or ()})
    if not ids:
        return {"opened": 0, "cleared": 0}
    causes: dict[int, tuple[str, str | None]] = {}
    wanted: dict[tuple[int, int], tuple[str, str | None]] = {}
    open_flags: dict[tuple[int, int], list[tuple[int, str, str | None]]] = {}
    for chunk in _chunks(ids):
        causes.update(_causes(db.session.scalars(select(Standard).where(Standard.id.in_(chunk)))))
    for chunk in _chunks(sorted(causes)):
        for version_id, standard_id in db.session.execute(declarations_citing(chunk)):
            wanted[(version_id, standard_id)] = causes[standard_id]
    for chunk in _chunks(ids):
        rows = db.session.execute(
            select(
                ReferenceFlag.id,
                ReferenceFlag.version_id,
                ReferenceFlag.standard_id,
                ReferenceFlag.reason,
                ReferenceFlag.replaced_by_code,
            )
            .where(ReferenceFlag.standard_id.in_(chunk), ReferenceFlag.cleared_at.is_(None))
            .order_by(ReferenceFlag.id)
        )
        for flag_id, version_id, standard_id, reason, replaced_by in rows:
            open_flags.setdefault((version_id, standard_id), []).append(
                (flag_id, reason, replaced_by)
            )

    to_clear: list[int] = []
    changed_versions: set[int] = set()
    for key, flags in open_flags.items():
        kept = False
        for flag_id, reason, replaced_by in flags:
            if not kept and wanted.get(key) == (reason, replaced_by):
                kept = True  # the oldest matching flag stays open; duplicates are cleared
            else:
                to_clear.append(flag_id)
                changed_versions.add(key[0])
    to_open = [
        {
            "version_id": version_id,
            "standard_id": standard_id,
            "reason": reason,
            "replaced_by_code": replaced_by,
        }
        for (version_id, standard_id), (reason, replaced_by) in sorted(wanted.items())
        if (reason, replaced_by)
        not in {(r, rb) for _id, r, rb in open_flags.get((version_id, standard_id), [])}
    ]
    now = utcnow()
    _clear(to_clear, now)
    if to_open:
        for row in to_open:
            row["detected_at"] = now
        db.session.execute(insert(ReferenceFlag), to_open)
    if to_open or to_clear:
        _audit_summary(ids, len(to_open), len(to_clear), now)
        changed_versions.update(row["version_id"] for row in to_open)
        _send_changed(sorted(changed_versions), ids)
    return {"opened": len(to_open), "cleared": len(to_clear)}


def _send_changed(version_ids: list[int], standard_ids: list[int]) -> None:
    """One ``declaration_changed`` for every declaration whose reference flags changed.

    The declarations stay published (status ``"reflagged"``, not ``"published"``: nothing was
    published); what changed is whether what they cite is valid, an entry requirement of the
    rankings and a risk flag of supervision. Receivers get the declarations, their enterprises
    and the product categories of the flagged versions (one select per chunk of versions),
    and the standards that caused it (``standard_ids``).
    """
    declarations: set[int] = set()
    enterprises: set[int] = set()
    categories: set[int] = set()
    for chunk in _chunks(version_ids):
        rows = db.session.execute(
            select(Declaration.id, Declaration.enterprise_id, Product.category_id)
            .select_from(DeclarationVersion)
            .join(Declaration, Declaration.id == DeclarationVersion.declaration_id)
            .outerjoin(Product, Product.version_id == DeclarationVersion.id)
            .where(DeclarationVersion.id.in_(chunk))
            .distinct()
        )
        for declaration_id, enterprise_id, category_id in rows:
            declarations.add(declaration_id)
            enterprises.add(enterprise_id)
            if category_id is not None:
                categories.add(category_id)
    if declarations:
        declaration_changed.send(
            None,
            declaration_ids=sorted(declarations),
            enterprise_ids=sorted(enterprises),
            category_ids=sorted(categories),
            status="reflagged",
            standard_ids=list(standard_ids),
        )


def _audit_summary(standard_ids: list[int], opened: int, cleared: int, now) -> None:
    """Bulk writes bypass core.audit's flush hook, so the job records one summary row."""
    db.session.execute(
        insert(AuditLog).values(
            at=now,
            actor_id=None,
            actor_label="job:declare.tasks.reflag_references",
            action="update",
            entity=ReferenceFlag.__tablename__,
            entity_id="bulk",
            before=None,
            after={"standard_ids": standard_ids[:200], "opened": opened, "cleared": cleared},
        )
    )


def _clear(flag_ids: list[int], now) -> None:
    for chunk in _chunks(sorted(flag_ids)):
        db.session.execute(
            update(ReferenceFlag)
            .where(ReferenceFlag.id.in_(chunk), ReferenceFlag.cleared_at.is_(None))
            .values(cleared_at=now)
            .execution_options(synchronize_session=False)
        )


@job('default')
def reflag_all() -> dict[str, int]:
    """Nightly: every standard that is or was a cause (withdrawn dates pass without any edit)."""
    today = local_today()
    candidates = set(
        db.session.scalars(
            select(Standard.id).where(
                or_(
                    status_clause(StandardStatus.WITHDRAWN, today),
                    Standard.replaced_by_code.is_not(None),
                )
            )
        )
    )
    candidates.update(
        db.session.scalars(
            select(ReferenceFlag.standard_id).where(ReferenceFlag.cleared_at.is_(None)).distinct()
        )
    )
    return reflag_references(sorted(candidates))


def _years_before(day, years: int):
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@reminder
@job("default")
def review_reminders(day: str | None = None) -> int:
    """Daily: remind each enterprise to review a declaration whose current version was
    published ``REVIEW_REMINDER_YEARS`` ago or more (once per version: its key). Returns how
    many versions are due."""
    years = int(current_app.config["REVIEW_REMINDER_YEARS"])
    if years <= 0:
        return 0
    today = date.fromisoformat(day) if day else local_today()
    published = _years_before(today, years)
    cutoff = end_of_day(published)
    versions = db.session.scalars(
        select(DeclarationVersion)
        .join(Declaration, Declaration.current_version_id == DeclarationVersion.id)
        .where(
            Declaration.status == DeclarationStatus.PUBLISHED,
            DeclarationVersion.published_at.is_not(None),
            DeclarationVersion.published_at < cutoff,
        )
        .order_by(DeclarationVersion.id)
    )
    events = [
        (
            v.declaration.enterprise_id,
            f"version:{v.id}:y{years}",
            {"declaration_id": v.declaration_id, "standard": v.number,
             "published": local_date(v.published_at).isoformat(), "years": years},
        )
        for v in versions
    ]
    return notify_each("review_due", events)


@job('default')
def release_open_data(day: str | None = None) -> dict:
    """Daily: the open-data release of ``day`` (YYYY-MM-DD or "yesterday"; default today,
    Beijing time):
    declarations in force, products and indicators as CSV and Parquet with schema and sums
    (``declare.opendata``). A second run for the same day is a no-op."""
    from datetime import date, timedelta

    from declare import opendata

    if day == "yesterday":  # the scheduler's nightly run: the whole of the day that ended
        return opendata.release(local_today() - timedelta(days=1))
    return opendata.release(date.fromisoformat(day) if day else None)
