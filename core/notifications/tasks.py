"""Notification jobs: deliver (insert-if-absent, after the commit) and mail (one message)."""

from __future__ import annotations

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

from core import jobs
from core.extensions import db
from core.jobs import job
from core.models import User, utcnow
from core.notifications import (
    KINDS,
    Notification,
    render_in,
    user_address,
    wants_email,
)

__all__ = ["deliver", "deliver_each", "deliver_to_address", "mail"]


def _insert_absent(rows: list[dict]) -> list[int]:
    """Insert the rows whose (recipient, kind, key) is new; the ids of those inserted."""
    if not rows:
        return []
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = utcnow()
    stmt = (
        insert(Notification)
        .values([{**r, "created_at": now} for r in rows])
        .on_conflict_do_nothing(index_elements=["recipient", "kind", "key"])
        .returning(Notification.id)
    )
    return list(db.session.scalars(stmt))


def _may_act():
    """The accounts that may log in (``User.is_active`` in SQL): enabled, and a sub-account's
    main account enabled too (disabling an enterprise's account silences its 经办人 as well)."""
    main = aliased(User)
    return and_(
        User.is_active_account.is_(True),
        or_(
            User.parent_id.is_(None),
            exists().where(main.id == User.parent_id, main.is_active_account.is_(True)),
        ),
    )


@job("default")
def deliver(user_ids: list[int], enterprise_ids: list[int], kind: str, key: str,
            params: dict) -> list[int]:
    """One inbox row per account (those given, and the active accounts of the enterprises);
    a repeated event inserts nothing. New rows the user wants by e-mail get a mail job."""
    ids = set(user_ids)
    if enterprise_ids:
        ids |= set(
            db.session.scalars(
                select(User.id).where(
                    User.enterprise_id.in_(enterprise_ids), _may_act()
                )
            )
        )
    if user_ids:  # accounts that still exist
        ids = set(db.session.scalars(select(User.id).where(User.id.in_(sorted(ids)))))
    rows = [
        {"recipient": f"u:{uid}", "user_id": uid, "kind": kind, "key": key, "params": params}
        for uid in sorted(ids)
    ]
    return _mail_new(kind, _insert_absent(rows))


def _mail_new(kind: str, new: list[int]) -> list[int]:
    """Enqueue the mail of each new row whose user wants this kind by e-mail."""
    for start in range(0, len(new), 500):
        for nid, uid in db.session.execute(
            select(Notification.id, Notification.user_id).where(
                Notification.id.in_(new[start : start + 500])
            )
        ):
            if wants_email(uid, kind):
                jobs.enqueue(mail, nid)
    return new


@job("default")
def deliver_each(kind: str, items: list) -> int:
    """``notify_each``'s job: items [enterprise id, key, params], each to that enterprise's
    active accounts. Returns how many rows were new."""
    enterprise_ids = sorted({int(e) for e, _, _ in items})
    users: dict[int, list[int]] = {}
    for start in range(0, len(enterprise_ids), 500):
        for uid, eid in db.session.execute(
            select(User.id, User.enterprise_id).where(
                User.enterprise_id.in_(enterprise_ids[start : start + 500]),
                _may_act(),
            )
        ):
            users.setdefault(eid, []).append(uid)
    rows = [
        {"recipient": f"u:{uid}", "user_id": uid, "kind": kind, "key": key, "params": params}
        for eid, key, params in items
        for uid in users.get(int(eid), [])
    ]
    new: list[int] = []
    for start in range(0, len(rows), 500):
        new += _insert_absent(rows[start : start + 500])
    return len(_mail_new(kind, new))


@job("default")
def deliver_to_address(address: str, kind: str, key: str, params: dict,
                       locale: str | None) -> list[int]:
    """E-mail only (no account): one row for the record and the dedupe, then its mail."""
    new = _insert_absent([{
        "recipient": f"m:{address.lower()}", "address": address, "locale": locale,
        "kind": kind, "key": key, "params": params,
    }])
    for nid in new:
        jobs.enqueue(mail, nid)
    return new


@job("default")
def mail(notification_id: int) -> bool:
    """Send one notification's mail in the recipient's language; once (``emailed_at``)."""
    from core.mail import send_mail

    row = db.session.get(Notification, notification_id)
    if row is None or row.emailed_at is not None:
        return False
    if row.user_id is not None:
        user = db.session.get(User, row.user_id)
        if user is None or not user.is_active or not wants_email(user.id, row.kind):
            return False
        address, locale = user_address(user), getattr(user, "locale", None)
    else:
        address, locale = row.address, row.locale
    if not address:
        return False
    subject, body = render_in(locale, row.kind, row.params or {})
    send_mail(address, subject, body)
    db.session.execute(
        update(Notification).where(Notification.id == row.id).values(emailed_at=utcnow())
    )
    return True
