"""The audit log as a hash chain: a row changed or deleted behind the service's back is named.

Every ``audit_log`` row gets ``seq`` (1, 2, 3, ...), ``prev_hash`` (the ``hash`` of entry
``seq - 1``; ``GENESIS`` for the first) and ``hash`` = sha256 of the canonical JSON of the entry
(id, seq, time, actor, action, table, object id, before, after) and ``prev_hash``.

When: just before a transaction that wrote audit rows commits (``before_commit``), the rows it
wrote are read back and sealed in id order. Sealing at the commit, not at each flush, keeps the
serialising lock short: on PostgreSQL a transaction-scoped advisory lock
(``pg_advisory_xact_lock``) is taken only for the read of the chain head and the UPDATE of this
transaction's rows, and released by the commit, so two writers never fork the chain (same
``prev_hash``) and no writer holds it while doing its own work. SQLite has one writer at a time
anyway (the transaction already holds the write lock). Rows inserted by any path of the session
(the ORM flush hook ``core.audit``, or operations inserting summaries with ``insert(AuditLog)``)
are sealed alike; committed rows left unsealed (written with the hook bypassed, e.g. by a
migration) are sealed by the next writer, and by ``flask audit seal``.

Reading back what the database stored and hashing that (not the Python values before the
INSERT) makes the hash reproducible by the verifier on either database.

``verify()`` walks the chain in ``seq`` order and names the first broken link: a gap in ``seq``
(entries deleted), a ``prev_hash`` that is not the previous entry's hash (an entry removed or
re-hashed), or a ``hash`` that does not match the entry's content (the row changed after it was
written). The daily anchors (``AuditAnchor``: head seq and hash, entry count, day), published on
a public page, make a deletion of the newest entries or a rewrite of the whole chain detectable
by anyone who kept a copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import event, func, select, text, update
from sqlalchemy.orm import Session

from core.models import AuditAnchor, AuditLog, utcnow

GENESIS = "0" * 64
#: pg_advisory_xact_lock key of the chain head ("qibiao audit" as a number).
LOCK_KEY = 0x716962616F41
_DIRTY_KEY = "audit_chain_dirty"
_BATCH = 1000
T = AuditLog.__table__
_FIELDS = (T.c.id, T.c.seq, T.c.at, T.c.actor_id, T.c.actor_label, T.c.action, T.c.entity,
           T.c.entity_id, T.c.before, T.c.after, T.c.prev_hash, T.c.hash)


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def canonical(row, seq: int, prev_hash: str) -> bytes:
    """The bytes an entry's hash covers (sorted keys, no whitespace, ASCII escapes)."""
    entry = {
        "id": row.id,
        "seq": seq,
        "at": _utc(row.at),
        "actor_id": row.actor_id,
        "actor_label": row.actor_label,
        "action": row.action,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "before": row.before,
        "after": row.after,
        "prev_hash": prev_hash,
    }
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(row, seq: int, prev_hash: str) -> str:
    return hashlib.sha256(canonical(row, seq, prev_hash)).hexdigest()


def mark_dirty(session: Session) -> None:
    """This transaction wrote audit rows: seal them before it commits."""
    session.info[_DIRTY_KEY] = True


def _lock(conn) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


def head(conn) -> tuple[int, str]:
    """(seq, hash) of the newest sealed entry; (0, GENESIS) for an empty chain."""
    row = conn.execute(
        select(T.c.seq, T.c.hash).where(T.c.seq.is_not(None)).order_by(T.c.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.hash) if row is not None else (0, GENESIS)


def seal(conn) -> int:
    """Chain every unsealed row this connection sees (own uncommitted and committed ones), in id
    order, under the chain lock. Returns how many were sealed."""
    _lock(conn)
    seq, prev = head(conn)
    sealed = 0
    while True:
        rows = conn.execute(
            select(*_FIELDS).where(T.c.seq.is_(None)).order_by(T.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return sealed
        params = []
        for row in rows:
            seq += 1
            digest = entry_hash(row, seq, prev)
            params.append({"row_id": row.id, "s": seq, "p": prev, "h": digest})
            prev = digest
        conn.execute(
            update(T)
            .where(T.c.id == _bind("row_id"))
            .values(seq=_bind("s"), prev_hash=_bind("p"), hash=_bind("h")),
            params,
        )
        sealed += len(rows)
        if len(rows) < _BATCH:
            return sealed  # no need to ask again


def _bind(name: str):
    from sqlalchemy import bindparam

    return bindparam(name)


@event.listens_for(Session, "do_orm_execute")
def _note_audit_insert(state) -> None:
    """An ``insert(AuditLog)`` run through the session (operations' summaries) needs sealing."""
    table = getattr(state.statement, "table", None)
    if state.is_insert and getattr(table, "name", None) == T.name:
        mark_dirty(state.session)


@event.listens_for(Session, "before_commit")
def _seal_before_commit(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush would come after this hook: do it first
    if session.info.pop(_DIRTY_KEY, None):
        seal(session.connection())


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_DIRTY_KEY, None)


# ---------------------------------------------------------------------------- verification


@dataclass
class Result:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    #: The first broken link: entry id (None when the entry itself is gone), seq, and what
    #: differs: ``code`` (gap, link, content, anchor_short, anchor_hash) with ``params``.
    entry_id: int | None = None
    seq: int | None = None
    code: str = ""
    params: dict = field(default_factory=dict)
    unsealed: int = 0

    PROBLEMS = {
        "gap": "the entries before it are missing (deleted): {missing}",
        "link": "its prev_hash {prev_hash} is not the hash of entry seq {prev_seq} ({expected}):"
                " the previous entry was replaced or re-hashed",
        "content": "its content no longer matches its hash (stored {stored}, content hashes to"
                   " {computed}): the row was changed after it was written",
        "anchor_short": "the anchor of {day} counts {anchored} entries, the chain ends at seq"
                        " {head}: the newest entries were deleted",
        "anchor_hash": "its hash is not the anchor of {day} ({anchored}): the chain was"
                       " rewritten",
    }

    def describe(self) -> str:
        if self.ok:
            return (f"audit chain intact: {self.checked} entries, head seq {self.head_seq} "
                    f"hash {self.head_hash}"
                    + (f"; {self.unsealed} entries not sealed yet" if self.unsealed else ""))
        where = f"entry #{self.entry_id}" if self.entry_id is not None else "entry"
        return (f"audit chain broken at {where} (seq {self.seq}): "
                + self.PROBLEMS[self.code].format(**self.params))


def verify(conn) -> Result:
    """Walk the chain in seq order; the first broken link, or ok. Then check the anchors."""
    expected_seq, prev, checked = 1, GENESIS, 0
    after = 0

    def broken(row_id, seq, code, **params) -> Result:
        return Result(False, checked, expected_seq - 1, prev, row_id, seq, code, params)

    while True:
        rows = conn.execute(
            select(*_FIELDS).where(T.c.seq > after if after else T.c.seq.is_not(None))
            .order_by(T.c.seq).limit(_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                missing = (f"seq {expected_seq}" if row.seq == expected_seq + 1
                           else f"seq {expected_seq}-{row.seq - 1}")
                return broken(row.id, row.seq, "gap", missing=missing)
            if row.prev_hash != prev:
                return broken(row.id, row.seq, "link", prev_hash=row.prev_hash,
                              prev_seq=row.seq - 1, expected=prev)
            digest = entry_hash(row, row.seq, row.prev_hash)
            if digest != row.hash:
                return broken(row.id, row.seq, "content", stored=row.hash, computed=digest)
            prev, checked = row.hash, checked + 1
            expected_seq += 1
        after = rows[-1].seq
    head_seq = expected_seq - 1
    unsealed = conn.execute(select(func.count()).where(T.c.seq.is_(None))).scalar_one()
    for anchored in conn.execute(
        select(AuditAnchor.day, AuditAnchor.head_seq, AuditAnchor.head_hash)
        .order_by(AuditAnchor.day)
    ).all():
        day = anchored.day.isoformat()
        if anchored.head_seq > head_seq:
            return broken(None, head_seq + 1, "anchor_short", day=day,
                          anchored=anchored.head_seq, head=head_seq)
        if anchored.head_seq == 0:
            continue
        stored = conn.execute(select(T.c.id, T.c.hash).where(T.c.seq == anchored.head_seq)).first()
        if stored is None or stored.hash != anchored.head_hash:
            return broken(stored.id if stored else None, anchored.head_seq, "anchor_hash",
                          day=day, anchored=anchored.head_hash)
    return Result(True, checked, head_seq, prev, unsealed=unsealed)


def anchor(session: Session, day: date) -> AuditAnchor:
    """Store ``day``'s anchor (the chain head now), once per day: an existing one is kept."""
    existing = session.scalar(select(AuditAnchor).where(AuditAnchor.day == day))
    if existing is not None:
        return existing
    conn = session.connection()
    seal(conn)
    seq, digest = head(conn)
    count = conn.execute(select(func.count()).select_from(T)).scalar_one()
    row = AuditAnchor(day=day, head_seq=seq, head_hash=digest, entries=count, created_at=utcnow())
    session.add(row)
    session.flush()
    return row
