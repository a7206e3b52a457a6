"""The notification tables: one row per recipient and event, and each user's choices."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models import UTCDateTime, utcnow


class Notification(db.Model):
    """One event for one recipient: a kind code and JSON parameters (rendered when read).

    ``recipient`` is ``u:<user id>`` for an account (the inbox) or ``m:<address>`` for someone
    without one (an anonymous complainant or objector: e-mail only). The unique
    (recipient, kind, key) makes delivery insert-if-absent: one event notifies once, however
    often the job that delivers it runs.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("recipient", "kind", "key", name="uq_notification_event"),
        Index("ix_notifications_user_read", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(260))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    address: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str | None] = mapped_column(String(10))  # for address recipients
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationSettings(db.Model):
    """Which kinds a user wants by e-mail too, and where (default: the account's e-mail)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(254), default="")
    email_kinds: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
