"""Accounts, API tokens, the audit log and the job outbox: the tables every package shares."""

from __future__ import annotations

import enum
import hashlib
from datetime import date, datetime, timezone

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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
    # An enterprise's accounts: its main account (parent_id NULL) and its sub-accounts
    # (经办人, parent_id = the main account), all acting for the same enterprise.
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    is_active_account: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # For password-reset mail; stored lower-case, unique where set (NULLs never collide).
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    # Bumped when the password changes: sessions carry it in their id (get_id), so the
    # sessions of other devices stop loading (core.auth._load_user).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Lock-out after repeated wrong passwords (core.accounts.record_failed_login).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The language of the mails sent to this user (core.notifications); None: the default.
    locale: Mapped[str | None] = mapped_column(String(10))

    enterprise = relationship("Enterprise", lazy="joined")
    parent = relationship("User", remote_side="User.id", lazy="select")

    @property
    def is_active(self) -> bool:  # Flask-Login, API tokens, log-in
        """Enabled, and for a sub-account its main account too: disabling an enterprise's
        account stops everyone who acts for it."""
        if not self.is_active_account:
            return False
        return self.parent_id is None or self.parent is None or self.parent.is_active_account

    @property
    def is_sub_account(self) -> bool:
        return self.parent_id is not None

    def get_id(self) -> str:  # Flask-Login: the session names the account and its epoch
        return f"{self.id}:{self.session_epoch or 0}"

    def locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

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
    # The hash chain (core.audit_chain): position, the previous entry's hash, and the sha256 of
    # this entry's canonical JSON with ``prev_hash``. Assigned just before the commit.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditAnchor(db.Model):
    """The audit chain's head of one day, published on /open/audit-anchors: a row changed or
    deleted later no longer matches it (``flask audit verify``)."""

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    head_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduledRun(db.Model):
    """One due run of a periodic job (core.schedule). The unique (job, due time) pair is what
    makes two scheduler processes run a due job once: the second insert fails."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (UniqueConstraint("job_id", "due_at", name="uq_scheduled_runs_job_due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(80), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(120), default="")
    # Jobs sent through the outbox: its row says how it went. Jobs run in the scheduler
    # process itself (the outbox flush) record status/error/finished_at here.
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_jobs.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default="queued")
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
