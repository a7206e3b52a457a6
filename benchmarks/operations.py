"""The only place that writes the reference catalogue.

Operations flush, never commit (the request, CLI command or job commits once). Imports are
set-based: existing natural keys are loaded in one query per table, then new rows go in with one
executemany INSERT and changed rows with one executemany UPDATE. Those bulk statements bypass the
ORM flush that ``core.audit`` listens to, so this module writes their audit rows itself, also in
one statement.

Whenever a standard's status, withdrawn date or replacement changes, ``catalogue_changed`` is
sent (after the flush, inside the transaction) so declare/ can enqueue its re-flagging job; the
outbox runs it only after the commit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import insert, select, update

from core.clock import local_today
from benchmarks.messages import number_error_message
from benchmarks.models import (
    BenchmarkIndicator,
    ProductCategory,
    Standard,
    StandardKind,
    StandardStatus,
)
from benchmarks.numbers import NumberError, parse_standard_number
from benchmarks.signals import catalogue_changed
from core.errors import ValidationFailed
from core.extensions import db
from core.models import AuditLog, utcnow

__all__ = [
    "STATUS_FIELDS",
    "UpsertResult",
    "mark_withdrawn",
    "notify_catalogue_changed",
    "upsert_categories",
    "upsert_indicators",
    "upsert_standards",
]

STATUS_FIELDS = ("status", "withdrawn_date", "replaced_by_code")
"""Changing any of these on an existing standard may invalidate declarations citing it."""

STANDARD_FIELDS = (
    "kind",
    "code",
    "title",
    "title_en",
    "status",
    "effective_date",
    "withdrawn_date",
    "replaced_by_code",
    "source",
)
CATEGORY_FIELDS = ("name", "name_en", "source")
INDICATOR_FIELDS = (
    "name",
    "name_en",
    "unit",
    "direction",
    "mandatory_limit",
    "mandatory_source_id",
    "recommended_value",
    "recommended_source_id",
    "grades",
    "valid_to",
    "citation",
    "source",
    "applies",
)


@dataclass
class UpsertResult:
    """What an upsert did; ``ids`` maps each row's natural key to its id."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: dict[Any, int] = field(default_factory=dict)
    changed_standard_ids: list[int] = field(default_factory=list)
    inserted_rows: list[dict] = field(default_factory=list)
    changes: list[tuple[int, dict, dict]] = field(default_factory=list)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _audit(entity: str, entries: Iterable[tuple[str, int, dict | None, dict | None]]) -> None:
    from core.audit import _current_actor  # the same actor the flush listener records

    actor_id, label = _current_actor()
    now = utcnow()
    rows = [
        {
            "at": now,
            "actor_id": actor_id,
            "actor_label": label[:120],
            "action": action,
            "entity": entity,
            "entity_id": str(entity_id),
            "before": None if before is None else {k: _jsonable(v) for k, v in before.items()},
            "after": None if after is None else {k: _jsonable(v) for k, v in after.items()},
        }
        for action, entity_id, before, after in entries
    ]
    if rows:
        db.session.execute(insert(AuditLog), rows)


def _upsert(
    model,
    key_columns: Sequence[str],
    fields: Sequence[str],
    rows: Sequence[dict],
    extra_update: dict | None = None,
) -> tuple[UpsertResult, list[tuple[int, dict, dict]]]:
    """Insert new and update changed rows of ``model`` by natural key, in bulk.

    Returns the result and, for every updated row, ``(id, before, after)`` of changed fields.
    """
    result = UpsertResult()
    key_cols = [getattr(model, c) for c in key_columns]
    field_cols = [getattr(model, f) for f in fields]
    existing: dict[tuple, Any] = {}
    # One query: all existing rows with the keys of this batch's tables (catalogues are small).
    for row in db.session.execute(select(model.id, *key_cols, *field_cols)):
        key = tuple(row[1 : 1 + len(key_columns)])
        existing[key] = row
    inserts: list[dict] = []
    updates: list[dict] = []
    changes: list[tuple[int, dict, dict]] = []
    for data in rows:
        key = tuple(data[c] for c in key_columns)
        current = existing.get(key)
        if current is None:
            inserts.append({c: data[c] for c in key_columns} | {f: data[f] for f in fields})
            continue
        before = {f: current[1 + len(key_columns) + i] for i, f in enumerate(fields)}
        diff = {f: data[f] for f in fields if before[f] != data[f]}
        result.ids[key] = current.id
        if not diff:
            result.unchanged += 1
            continue
        result.updated += 1
        updates.append({"id": current.id} | {f: data[f] for f in fields} | (extra_update or {}))
        changes.append((current.id, {f: before[f] for f in diff}, diff))
    result.inserted_rows, result.changes = inserts, changes
    if inserts:
        db.session.execute(insert(model), inserts)
        result.inserted = len(inserts)
        new_keys = {tuple(r[c] for c in key_columns) for r in inserts}
        for row in db.session.execute(select(model.id, *key_cols)):
            key = tuple(row[1:])
            if key in new_keys:
                result.ids[key] = row.id
        table = model.__tablename__
        _audit(
            table,
            (("insert", result.ids[tuple(r[c] for c in key_columns)], None, r) for r in inserts),
        )
    if updates:
        db.session.execute(update(model), updates)
        _audit(model.__tablename__, (("update", i, b, a) for i, b, a in changes))
    return result, changes


def _history(table: str, key_columns: Sequence[str], result: UpsertResult, reason: str) -> None:
    """Keep every insert and change as catalogue history (benchmarks.history)."""
    from benchmarks import history

    model = Standard if table == "standards" else BenchmarkIndicator
    ids = {result.ids[tuple(r[c] for c in key_columns)] for r in result.inserted_rows}
    ids |= {row_id for row_id, _b, _a in result.changes}
    if not ids:
        return
    keys = history.row_keys(table, db.session.scalars(select(model).where(model.id.in_(ids))))
    inserted = []
    for row in result.inserted_rows:
        row_id = result.ids[tuple(row[c] for c in key_columns)]
        inserted.append((row_id, keys[row_id], row))
    changed = [(row_id, keys[row_id], before, after) for row_id, before, after in result.changes]
    history.record(table, inserted=inserted, changed=changed, reason=reason)


def planned_changes(kind: str, rows: Sequence[dict]):
    """What upserting validated ``rows`` of ``kind`` would change (benchmarks.history.Plan)."""
    from benchmarks import history

    if kind == "standards":
        return history.planned_changes(
            Standard, ("prefix", "number", "part", "year"), STANDARD_FIELDS, rows
        )
    if kind == "indicators":
        return history.planned_changes(
            BenchmarkIndicator, ("category_id", "code", "valid_from"), INDICATOR_FIELDS, rows
        )
    return history.Plan()


def upsert_standards(rows: Sequence[dict], reason: str = "import") -> UpsertResult:
    """Insert or update catalogue editions by (prefix, number, part, year).

    ``rows`` are validated dicts with the key columns and ``STANDARD_FIELDS``. Sends
    ``catalogue_changed`` with the ids of existing editions whose status fields changed.
    """
    result, changes = _upsert(
        Standard,
        ("prefix", "number", "part", "year"),
        STANDARD_FIELDS,
        rows,
        extra_update={"updated_at": utcnow()},
    )
    result.changed_standard_ids = sorted(
        sid for sid, _before, after in changes if set(after) & set(STATUS_FIELDS)
    )
    _history("standards", ("prefix", "number", "part", "year"), result, reason)
    db.session.flush()
    db.session.expire_all()  # bulk writes bypassed the identity map
    notify_catalogue_changed(result.changed_standard_ids)
    return result


def upsert_categories(rows: Sequence[dict]) -> UpsertResult:
    """Insert or update product categories by code."""
    result, _changes = _upsert(ProductCategory, ("code",), CATEGORY_FIELDS, rows)
    db.session.flush()
    db.session.expire_all()
    return result


def upsert_indicators(rows: Sequence[dict], reason: str = "import") -> UpsertResult:
    """Insert or update benchmark indicator editions by (category_id, code, valid_from)."""
    result, _changes = _upsert(
        BenchmarkIndicator, ("category_id", "code", "valid_from"), INDICATOR_FIELDS, rows
    )
    _history("benchmark_indicators", ("category_id", "code", "valid_from"), result, reason)
    db.session.flush()
    db.session.expire_all()
    return result


def notify_catalogue_changed(standard_ids: Iterable[int]) -> None:
    ids = sorted({int(i) for i in standard_ids})
    if ids:
        catalogue_changed.send(None, standard_ids=ids)


def mark_withdrawn(
    standard: Standard,
    *,
    withdrawn_date: date | None = None,
    replaced_by: str | None = None,
    today: date | None = None,
) -> Standard:
    """Record that ``standard`` is withdrawn (废止) or replaced (被代替), and say so.

    Needs a withdrawn date, a replacing number, or both. Without a date, a replacement's own
    effective date is used: a replacement not yet in force does not retire this edition, which
    therefore stays in force until then. Raises ValidationFailed with field-keyed messages.
    """
    today = today or local_today()
    errors: dict[str, list[str]] = {}
    replacement: Standard | None = None
    replaced_code: str | None = None
    if replaced_by and replaced_by.strip():
        try:
            parsed = parse_standard_number(replaced_by)
        except NumberError as exc:
            errors["replaced_by"] = [number_error_message(exc)]
        else:
            replaced_code = parsed.text
            replacement = db.session.scalar(
                select(Standard).where(
                    Standard.prefix == parsed.prefix,
                    Standard.number == parsed.number,
                    Standard.part == parsed.part,
                    Standard.year == parsed.year,
                )
            )
            if replacement is None:
                errors["replaced_by"] = [
                    _(
                        "%(code)s is not in the catalogue; import the replacing edition first.",
                        code=parsed.text,
                    )
                ]
            elif replacement.id == standard.id:
                errors["replaced_by"] = [_("A standard cannot replace itself.")]
    if withdrawn_date is None and replacement is not None:
        withdrawn_date = replacement.effective_date
    if withdrawn_date is None and not replaced_code and "replaced_by" not in errors:
        errors["withdrawn_date"] = [
            _("Give the withdrawal date, the replacing standard, or both.")
        ]
    if (
        withdrawn_date is not None
        and standard.effective_date is not None
        and withdrawn_date < standard.effective_date
    ):
        errors["withdrawn_date"] = [
            _(
                "The withdrawal date %(withdrawn)s is before the effective date %(effective)s; "
                "a standard cannot be withdrawn before it takes effect.",
                withdrawn=withdrawn_date.isoformat(),
                effective=standard.effective_date.isoformat(),
            )
        ]
    if errors:
        raise ValidationFailed(errors)

    before = tuple(getattr(standard, f) for f in STATUS_FIELDS)
    standard.withdrawn_date = withdrawn_date
    standard.replaced_by_code = replaced_code
    if withdrawn_date is None or withdrawn_date <= today:
        standard.status = StandardStatus.WITHDRAWN
    after = tuple(getattr(standard, f) for f in STATUS_FIELDS)
    diff = [i for i, (b, a) in enumerate(zip(before, after)) if b != a]
    if diff:
        from benchmarks import history

        history.record(
            "standards",
            changed=[
                (
                    standard.id,
                    standard.code,
                    {STATUS_FIELDS[i]: before[i] for i in diff},
                    {STATUS_FIELDS[i]: after[i] for i in diff},
                )
            ],
            reason="mark_withdrawn",
        )
    db.session.flush()
    if tuple(getattr(standard, f) for f in STATUS_FIELDS) != before:
        notify_catalogue_changed([standard.id])
    return standard


def is_binding_prefix(prefix: str, kind: StandardKind) -> bool:
    """Whether a standard with this prefix can set a mandatory limit (强制性标准)."""
    if kind is StandardKind.GROUP:
        return False
    return not prefix.endswith(("/T", "/Z"))
