"""Notifications: an in-app inbox and, when the user chose so, e-mail.

Domain packages call ``notify`` (accounts), ``notify_enterprises`` (every account of those
enterprises) or ``notify_address`` (someone without an account) inside their write's
transaction. That only enqueues the ``deliver`` job (core.jobs outbox): it runs after the
commit, and a rolled-back write notifies nobody. The job inserts one row per recipient and
event if absent (unique (recipient, kind, key)), so an event repeated or a job run twice
notifies once; a new row that the recipient wants by e-mail gets its own ``mail`` job.

``key`` names the event within its kind, e.g. ``order:12`` or ``order:12:d7:2026-12-14``.
Daily reminders (deadlines, reviews) are ``@job`` functions of the domains registered with
``@reminder``; ``flask notify reminders`` runs them all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, get_locale

from core.i18n import render_coded
from core.notifications.kinds import KINDS, VALUE_LABELS, Kind
from core.notifications.models import Notification, NotificationSettings

__all__ = [
    "KINDS",
    "Notification",
    "NotificationSettings",
    "REMINDERS",
    "notify",
    "notify_address",
    "notify_each",
    "notify_enterprises",
    "reminder",
    "render",
]

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
KEY_MAX = 200
REMINDERS: list[Callable] = []


def _check(kind: str, key: str, params: dict) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}; known: {sorted(KINDS)}")
    if not isinstance(key, str) or not key or len(key) > KEY_MAX:
        raise ValueError(f"notification key must be 1 to {KEY_MAX} characters, got {key!r}")
    json.dumps(params)  # TypeError now, at the call site, not in the job


def notify(user_ids: Iterable[int], kind: str, key: str, **params) -> None:
    """Notify these accounts of one event, after the current transaction commits."""
    from core import jobs
    from core.notifications import tasks

    _check(kind, key, params)
    ids = sorted({int(i) for i in user_ids if i is not None})
    if ids:
        jobs.enqueue(tasks.deliver, ids, [], kind, key, params)


def notify_enterprises(enterprise_ids: Iterable[int], kind: str, key: str, **params) -> None:
    """Notify every active account of these enterprises (found when the job runs)."""
    from core import jobs
    from core.notifications import tasks

    _check(kind, key, params)
    ids = sorted({int(i) for i in enterprise_ids if i is not None})
    if ids:
        jobs.enqueue(tasks.deliver, [], ids, kind, key, params)


def notify_each(kind: str, events: Iterable[tuple[int, str, dict]]) -> int:
    """Many events of one kind, each for one enterprise's accounts, in one job (a nightly
    recompute may raise thousands): ``events`` yields (enterprise id, key, params)."""
    from core import jobs
    from core.notifications import tasks

    items = []
    for enterprise_id, key, params in events:
        _check(kind, key, params)
        items.append([int(enterprise_id), key, params])
    if items:
        jobs.enqueue(tasks.deliver_each, kind, items)
    return len(items)


def notify_address(address: str | None, kind: str, key: str, **params) -> bool:
    """E-mail someone without an account (an address they left with a complaint or an
    objection), in the language of the current request. False when ``address`` is no
    e-mail address (a telephone number): nothing is sent."""
    from core import jobs
    from core.notifications import tasks

    _check(kind, key, params)
    address = (address or "").strip()
    if not EMAIL.match(address) or len(address) > 254:
        return False
    locale = str(get_locale()) if has_request_context() else None
    jobs.enqueue(tasks.deliver_to_address, address, kind, key, params, locale)
    return True


def reminder(func: Callable) -> Callable:
    """Register a daily reminder job (a ``@job`` function taking an optional ISO day)."""
    if getattr(func, "job_path", None) is None:
        raise TypeError(f"{func!r} is not a job: decorate it with @core.jobs.job first")
    if func not in REMINDERS:
        REMINDERS.append(func)
    return func


def _value(name: str, value):
    label = VALUE_LABELS.get(name, {}).get(value) if isinstance(value, str) else None
    if label is None and isinstance(value, str):
        return render_coded(value)  # a generated reason stored as a code (core.i18n)
    return str(label) if label is not None else ("" if value is None else value)


def render(kind: str, params: dict) -> tuple[str, str]:
    """(subject, body) of a notification in the current locale."""
    spec: Kind | None = KINDS.get(kind)
    if spec is None:
        return kind, ""
    values = {k: _value(k, v) for k, v in params.items()}
    try:
        return str(spec.subject) % values, str(spec.body) % values
    except (KeyError, TypeError, ValueError):  # a parameter missing from an old row
        return str(spec.label), ""


def render_in(locale: str | None, kind: str, params: dict) -> tuple[str, str]:
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        return render(kind, params)


def link(notification: Notification) -> str | None:
    """The page that shows the notification's object, or None."""
    spec = KINDS.get(notification.kind)
    if spec is None or spec.endpoint is None:
        return None
    try:
        return url_for(spec.endpoint, **spec.link(notification.params or {}))
    except Exception:  # noqa: BLE001  (an old row whose page changed: no link, not a 500)
        return None


def user_address(user) -> str:
    """Where a user's notification mail goes: the address on the preference page, else the
    account's e-mail (when accounts have one)."""
    from core.extensions import db

    settings = db.session.get(NotificationSettings, user.id)
    if settings is not None and settings.email:
        return settings.email
    return getattr(user, "email", None) or ""


def wants_email(user_id: int, kind: str) -> bool:
    from core.extensions import db

    settings = db.session.get(NotificationSettings, user_id)
    return settings is not None and kind in (settings.email_kinds or [])


def unread_count(user_id: int) -> int:
    from sqlalchemy import func, select

    from core.extensions import db

    return db.session.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
    ) or 0
