"""Accounts, API tokens, the audit log and the job outbox: the tables every package shares."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime, timezone

from flask_login import UserMixin
from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(db.TypeDecorator):
    """Timestamps stored as UTC and always read back timezone-aware (SQLite forgets tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Role(str, enum.Enum):
    ENTERPRISE = "enterprise"  # 企业
    EVALUATOR = "evaluator"  # 评估机构
    REGULATOR = "regulator"  # 市场监管部门
    ADMIN = "admin"  # 平台运营
    ASSOCIATION = "association"  # 行业协会/联盟: imports for enterprises that authorised it


def _hash_method() -> str:
    """Werkzeug's scrypt unless ``PASSWORD_HASH_METHOD`` says otherwise (the tests use a cheap
    one: scrypt costs 0.3-0.5 s a hash, which is the point in production and waste in a test)."""
    from flask import current_app, has_app_context

    default = "scrypt"
    return current_app.config.get("PASSWORD_HASH_METHOD", default) if has_app_context() else default


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # Regulators act within a 6-digit 行政区划 code; a prefix ("50" or "5001") covers its sub-regions.
    region_code: Mapped[str | None] = mapped_column(String(6))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), unique=True)
    is_active_account: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enterprise = relationship("Enterprise", back_populates="user", lazy="joined")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_active_account

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=_hash_method())

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80), default="")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class AuditLog(db.Model):
    """Who changed what, when, with the values before and after (written by core.audit)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(120), default="")
    action: Mapped[str] = mapped_column(String(20))  # insert / update / delete
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


class OutboxJob(db.Model):
    """A job made necessary by a write, stored in the same transaction (transactional outbox).

    It is handed to RQ (or run inline) only after that transaction commits, so a rolled-back
    write never runs a job and a Redis outage delays the job instead of losing it.
    """

    __tablename__ = "outbox_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    func: Mapped[str] = mapped_column(String(200))
    args: Mapped[list] = mapped_column(JSON, default=list)
    queue: Mapped[str] = mapped_column(String(40), default="default")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    rq_job_id: Mapped[str | None] = mapped_column(String(80))
    # pending / queued (waiting: a dedupe_key match reuses the row) / running / retrying /
    # done / failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    # Debounce: while a row with this key waits (pending/queued), enqueue() reuses it.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), index=True)
    # Delay: RQ holds the job until then (enqueue_in; the worker runs with its scheduler).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Progress reported by the running job (core.jobs.report_progress), 0..1.
    progress: Mapped[float | None] = mapped_column(Float)
    progress_message: Mapped[str | None] = mapped_column(String(300))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
