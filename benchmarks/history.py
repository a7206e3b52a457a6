"""The history of the catalogue: every change of a standard edition or a benchmark row.

``benchmarks.operations`` writes one ``CatalogueChange`` per changed field (and one per new
row) in the transaction of the change, with who and when. From them:

- ``planned_changes`` says what an import *would* change (old → new), before anything is
  written, so the admin confirms it (the importer, its CLI ``--confirm`` and its page);
- ``as_of`` gives a row's values at a moment, so a declaration's comparison is explained with
  the thresholds in force when it was published, not today's.

The number of declarations whose comparison a change would alter is asked of the packages to
the right through the ``catalogue_preview`` signal (declare answers), so this package imports
none of them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select

from benchmarks.models import BenchmarkIndicator, CatalogueChange, ProductCategory, Standard
from benchmarks.signals import catalogue_preview
from core.extensions import db
from core.models import utcnow

__all__ = [
    "THRESHOLD_FIELDS",
    "Change",
    "Plan",
    "as_of",
    "changes_of",
    "jsonable",
    "planned_changes",
    "record",
    "row_keys",
]

THRESHOLD_FIELDS = (
    "unit",
    "direction",
    "mandatory_limit",
    "mandatory_source_id",
    "recommended_value",
    "recommended_source_id",
    "grades",
    "valid_from",
    "valid_to",
    "applies",
)
"""Fields of a benchmark row that change how a declared value is judged."""


def jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Change:
    """One field of one existing row that an import would change."""

    table: str
    row_id: int
    key: str
    field: str
    old: Any
    new: Any


@dataclass
class Plan:
    """What an import would do: the new rows' keys and every change to an existing row, with
    the number of declarations in force whose comparison each changed row alters."""

    new: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    affected: dict[str, int] = field(default_factory=dict)

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.changes)


def row_keys(table: str, rows: Iterable[Any]) -> dict[int, str]:
    """id → human key: ``GB 21455-2019`` or ``room_ac/apf@2020-07-01``."""
    rows = list(rows)
    if table == "standards":
        return {r.id: r.code for r in rows}
    cats = dict(db.session.execute(select(ProductCategory.id, ProductCategory.code)).all())
    return {r.id: f"{cats.get(r.category_id, r.category_id)}/{r.code}@{r.valid_from}" for r in rows}


def _key_of(table: str, data: dict, cats: dict[int, str]) -> str:
    if table == "standards":
        return str(data.get("code") or "")
    category = cats.get(data.get("category_id"), data.get("category_id"))
    return f"{category}/{data.get('code')}@{data.get('valid_from')}"


def planned_changes(
    model, key_columns: Sequence[str], fields: Sequence[str], rows: Sequence[dict]
) -> Plan:
    """Compare validated import rows with the stored ones; nothing is written."""
    table = model.__tablename__
    plan = Plan()
    if table not in ("standards", "benchmark_indicators"):
        return plan
    cats = dict(db.session.execute(select(ProductCategory.id, ProductCategory.code)).all())
    key_cols = [getattr(model, c) for c in key_columns]
    field_cols = [getattr(model, f) for f in fields]
    existing = {
        tuple(row[1 : 1 + len(key_columns)]): row
        for row in db.session.execute(select(model.id, *key_cols, *field_cols))
    }
    for data in rows:
        key = tuple(data[c] for c in key_columns)
        current = existing.get(key)
        label = _key_of(table, data, cats)
        if current is None:
            plan.new.append(label)
            continue
        for i, name in enumerate(fields):
            before = current[1 + len(key_columns) + i]
            if jsonable(before) != jsonable(data[name]):
                plan.changes.append(
                    Change(table, current.id, label, name, jsonable(before), jsonable(data[name]))
                )
    if plan.changes:
        for _receiver, answer in catalogue_preview.send(None, changes=list(plan.changes)):
            for key, count in (answer or {}).items():
                plan.affected[key] = plan.affected.get(key, 0) + int(count)
    return plan


def record(
    table: str,
    *,
    inserted: Iterable[tuple[int, str, dict]] = (),
    changed: Iterable[tuple[int, str, dict, dict]] = (),
    reason: str = "",
) -> int:
    """Write the history of inserted rows ``(id, key, row)`` and changed rows ``(id, key,
    before, after)`` (changed fields only) in one statement; returns the number of entries."""
    from core.audit import _current_actor  # the actor the audit log records

    actor_id, label = _current_actor()
    now = utcnow()
    entries = [
        {
            "at": now,
            "actor_id": actor_id,
            "actor_label": (label or "")[:120],
            "table_name": table,
            "row_id": row_id,
            "row_key": key[:160],
            "field": "*",
            "old": None,
            "new": {k: jsonable(v) for k, v in row.items()},
            "reason": reason[:120],
        }
        for row_id, key, row in inserted
    ]
    for row_id, key, before, after in changed:
        for name in after:
            entries.append(
                {
                    "at": now,
                    "actor_id": actor_id,
                    "actor_label": (label or "")[:120],
                    "table_name": table,
                    "row_id": row_id,
                    "row_key": key[:160],
                    "field": name,
                    "old": jsonable(before.get(name)),
                    "new": jsonable(after[name]),
                    "reason": reason[:120],
                }
            )
    if entries:
        db.session.execute(insert(CatalogueChange), entries)
    return len(entries)


def changes_of(table: str, row_id: int) -> list[CatalogueChange]:
    """The history of one row, oldest first."""
    return list(
        db.session.scalars(
            select(CatalogueChange)
            .where(CatalogueChange.table_name == table, CatalogueChange.row_id == row_id)
            .order_by(CatalogueChange.at, CatalogueChange.id)
        )
    )


def as_of(row: Standard | BenchmarkIndicator, moment: datetime) -> dict[str, Any] | None:
    """The row's recorded fields as they were at ``moment`` (JSON values), or None if the row
    did not exist yet. Later changes are undone newest first from today's values."""
    table = row.__tablename__
    history = changes_of(table, row.id)
    created = next((c for c in history if c.field == "*"), None)
    if created is not None and created.at > moment:
        return None
    from benchmarks.operations import INDICATOR_FIELDS, STANDARD_FIELDS

    names = STANDARD_FIELDS if table == "standards" else INDICATOR_FIELDS
    values = {name: jsonable(getattr(row, name)) for name in names}
    for change in reversed(history):
        if change.at <= moment:
            break
        if change.field in values:
            values[change.field] = change.old
    return values


def changed_since(table: str, row_ids: Iterable[int], moment: datetime) -> dict[int, list]:
    """The changes of the given rows after ``moment``, per row, newest first (one query)."""
    ids = sorted({int(i) for i in row_ids if i is not None})
    if not ids:
        return {}
    found: dict[int, list] = {}
    for change in db.session.scalars(
        select(CatalogueChange)
        .where(
            CatalogueChange.table_name == table,
            CatalogueChange.row_id.in_(ids),
            CatalogueChange.at > moment,
        )
        .order_by(CatalogueChange.at.desc(), CatalogueChange.id.desc())
    ):
        found.setdefault(change.row_id, []).append(change)
    return found


def thresholds_then(row: BenchmarkIndicator, later: Sequence[CatalogueChange]) -> dict | None:
    """A benchmark row's limit, recommended value and grades before the ``later`` changes
    (newest first), or None when none of them touched those figures."""
    values = {
        "mandatory_limit": row.mandatory_limit,
        "recommended_value": row.recommended_value,
        "grades": jsonable(row.grades or []),
    }
    touched = False
    for change in later:
        if change.field in values:
            values[change.field] = change.old
            touched = True
    return values if touched else None
