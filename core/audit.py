"""Audit log of every write, taken from the ORM flush itself.

Hooking the flush (instead of asking every operation to remember) means no write path can
forget the log. Rows go in through Core in the same transaction, so a rollback drops them too.

Old values are read in ``before_flush`` (from the database when the attribute was expired,
e.g. after a commit), because once the UPDATE/DELETE ran they are gone. New values are read in
``after_flush`` from what the flush wrote, without lazy loads (no SQL through the session while
it is flushing). Writes through Core (``insert()``/``update()`` executemany, used for bulk
work) bypass the ORM and are not logged here; those operations log a summary themselves.

Every row, whichever path wrote it, is chained into a tamper-evident hash chain just before
its transaction commits (``core.audit_chain``).
"""

from __future__ import annotations

import contextvars
import enum
import uuid
from datetime import date, datetime, time
from decimal import Decimal

from flask import g, has_request_context, request
from sqlalchemy import and_, event, insert, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from core import audit_chain
from core.models import AuditAnchor, AuditLog, OutboxJob, ScheduledRun, utcnow

REDACTED = {"password_hash", "token_sha256"}
SKIP_TABLES = {
    AuditLog.__tablename__,
    AuditAnchor.__tablename__,  # the chain's own anchors (core.audit_chain)
    OutboxJob.__tablename__,
    ScheduledRun.__tablename__,  # the scheduler's bookkeeping (core.schedule)
    "job_pings",
}
_OLD_KEY = "audit_old_values"
_actor: contextvars.ContextVar[tuple[int | None, str] | None] = contextvars.ContextVar(
    "audit_actor", default=None
)


def acting_as(user_id: int | None, label: str) -> contextvars.Token:
    """Set the actor for writes outside a request (jobs, CLI). Returns a token for reset."""
    return _actor.set((user_id, label))


def reset_actor(token: contextvars.Token) -> None:
    _actor.reset(token)


def _current_actor() -> tuple[int | None, str]:
    forced = _actor.get()
    if forced is not None:
        return forced
    if has_request_context():
        if request.blueprint and request.blueprint.startswith("api"):
            # The API authenticates by bearer token only (core.auth.api_user caches it in g;
            # never query here: the session is flushing).
            user = g.get("api_user")
            return (user.id, user.username) if user is not None else (None, "anonymous")
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return current_user.id, current_user.username
        return None, "anonymous"
    return None, "system"


def _jsonable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _value(key: str, value):
    return "***" if key in REDACTED else _jsonable(value)


def _skip(obj) -> bool:
    table = getattr(obj, "__tablename__", None)
    return table is None or table in SKIP_TABLES


def _column_keys(state) -> list[str]:
    return [attr.key for attr in state.mapper.column_attrs]


def _loaded(state) -> dict:
    """The column values the instance holds, without loading anything."""
    return {k: _value(k, state.dict[k]) for k in _column_keys(state) if k in state.dict}


def _inserted(state) -> dict:
    """The values an INSERT wrote: unset columns are NULL unless the database fills them."""
    values = {}
    for attr in state.mapper.column_attrs:
        if attr.key in state.dict:
            values[attr.key] = _value(attr.key, state.dict[attr.key])
        elif attr.columns[0].server_default is None:
            values[attr.key] = None
    return values


def _identity(state) -> str:
    if state.identity:
        return ",".join(str(i) for i in state.identity)
    # Just inserted: the identity key is assigned after after_flush, the values are there.
    keys = [state.mapper.get_property_by_column(c).key for c in state.mapper.primary_key]
    values = [state.dict.get(k) for k in keys]
    return ",".join(str(v) for v in values) if all(v is not None for v in values) else "?"


def _db_values(session: Session, state, keys: list[str]) -> dict:
    """Current database values of ``keys`` for a persistent row (before the flush writes)."""
    mapper = state.mapper
    cols = [mapper.get_property(k).columns[0] for k in keys]
    where = and_(*(c == v for c, v in zip(mapper.primary_key, state.identity)))
    row = session.connection().execute(select(*cols).where(where)).one_or_none()
    return dict(zip(keys, row)) if row is not None else {}


@event.listens_for(Session, "before_flush")
def _remember_old(session: Session, flush_context, instances) -> None:
    old: dict = {}
    session.info[_OLD_KEY] = old
    for obj in session.deleted:
        if _skip(obj):
            continue
        state = sa_inspect(obj)
        unloaded = [k for k in _column_keys(state) if k not in state.dict]
        values = dict(state.dict)
        if unloaded and state.identity:
            values.update(_db_values(session, state, unloaded))
        old[state] = {k: _value(k, values.get(k)) for k in _column_keys(state)}
    for obj in session.dirty:
        if _skip(obj):
            continue
        state = sa_inspect(obj)
        if not state.identity:
            continue
        # An expired attribute set to a new value keeps no old value in its history.
        unknown = [
            k
            for k in _column_keys(state)
            if (hist := state.attrs[k].history).added and not hist.deleted
        ]
        if unknown:
            old[state] = {k: _value(k, v) for k, v in _db_values(session, state, unknown).items()}


def _changes(state, known_old: dict) -> tuple[dict, dict]:
    before, after = {}, {}
    for key in _column_keys(state):
        hist = state.attrs[key].history
        if not hist.has_changes():
            continue
        if hist.deleted:
            old = _value(key, hist.deleted[0])
        else:
            old = known_old.get(key)
        new = _value(key, hist.added[0]) if hist.added else None
        if old == new and key not in REDACTED:
            continue
        before[key], after[key] = old, new
    return before, after


@event.listens_for(Session, "after_flush")
def _record(session: Session, flush_context) -> None:
    old = session.info.pop(_OLD_KEY, {})
    actor_id, label = _current_actor()
    now = utcnow()
    rows = []

    def add(action: str, state, before, after) -> None:
        rows.append(
            {
                "at": now,
                "actor_id": actor_id,
                "actor_label": label[:120],
                "action": action,
                "entity": state.class_.__tablename__,
                "entity_id": _identity(state)[:40],
                "before": before,
                "after": after,
            }
        )

    for obj in session.new:
        if not _skip(obj):
            state = sa_inspect(obj)
            add("insert", state, None, _inserted(state))
    for obj in session.dirty:
        if _skip(obj) or not session.is_modified(obj, include_collections=False):
            continue
        state = sa_inspect(obj)
        before, after = _changes(state, old.get(state, {}))
        if before or after:
            add("update", state, before, after)
    for obj in session.deleted:
        if not _skip(obj):
            state = sa_inspect(obj)
            add("delete", state, old.get(state) or _loaded(state), None)
    if rows:
        session.connection().execute(insert(AuditLog.__table__), rows)
        audit_chain.mark_dirty(session)  # chained (hashed) just before the commit
