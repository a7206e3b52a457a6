"""Audit log of every write, taken from the ORM flush itself.

Hooking the flush (instead of asking every operation to remember) means no write path can
forget the log. Rows go in through Core in the same transaction, so a rollback drops them too.
"""

from __future__ import annotations

import contextvars
import enum
from datetime import date, datetime
from decimal import Decimal

from flask import has_request_context
from sqlalchemy import event, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from core.models import AuditLog, OutboxJob, utcnow

REDACTED = {"password_hash", "token_sha256"}
SKIP_TABLES = {AuditLog.__tablename__, OutboxJob.__tablename__}
_actor: contextvars.ContextVar[tuple[int | None, str] | None] = contextvars.ContextVar(
    "audit_actor", default=None
)


def acting_as(user_id: int | None, label: str):
    """Set the actor for writes outside a request (jobs, CLI). Returns a reset token."""
    return _actor.set((user_id, label))


def _current_actor() -> tuple[int | None, str]:
    forced = _actor.get()
    if forced is not None:
        return forced
    if has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return current_user.id, current_user.username
        return None, "anonymous"
    return None, "system"


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _columns(obj):
    mapper = sa_inspect(obj).mapper
    return [(attr.key, attr.columns[0].key) for attr in mapper.column_attrs]


def _snapshot(obj) -> dict:
    return {
        key: ("***" if key in REDACTED else _jsonable(getattr(obj, key, None)))
        for key, _ in _columns(obj)
    }


def _changes(obj) -> tuple[dict, dict]:
    state = sa_inspect(obj)
    before, after = {}, {}
    for key, _ in _columns(obj):
        hist = state.attrs[key].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if key in REDACTED:
                old, new = "***", "***"
            before[key], after[key] = _jsonable(old), _jsonable(new)
    return before, after


def _identity(obj) -> str:
    ident = sa_inspect(obj).identity
    return ",".join(str(i) for i in ident) if ident else "?"


@event.listens_for(Session, "after_flush")
def _record(session: Session, flush_context) -> None:
    actor_id, label = _current_actor()
    now = utcnow()
    rows = []
    for action, objs in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objs:
            table = getattr(obj, "__tablename__", None)
            if table is None or table in SKIP_TABLES:
                continue
            if action == "insert":
                before, after = None, _snapshot(obj)
            elif action == "delete":
                before, after = _snapshot(obj), None
            else:
                if not session.is_modified(obj, include_collections=False):
                    continue
                before, after = _changes(obj)
            rows.append(
                {
                    "at": now,
                    "actor_id": actor_id,
                    "actor_label": label[:120],
                    "action": action,
                    "entity": table,
                    "entity_id": _identity(obj),
                    "before": before,
                    "after": after,
                }
            )
    if rows:
        session.connection().execute(insert(AuditLog.__table__), rows)
