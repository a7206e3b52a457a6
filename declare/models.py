"""Enterprises and their declarations (自我声明公开), kept as immutable published versions."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard
from core.extensions import db
from core.models import UTCDateTime, utcnow


class Enterprise(db.Model):
    """A company identified by its 统一社会信用代码; its region comes from the USCC."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    contact_name: Mapped[str] = mapped_column(String(80), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The enterprise's main account (its sub-accounts, 经办人, have parent_id set).
    user = relationship(
        "User",
        primaryjoin="and_(User.enterprise_id == Enterprise.id, User.parent_id.is_(None))",
        uselist=False,
        viewonly=True,
    )


class DeclarationKind(str, enum.Enum):
    CATALOGUE = "catalogue"  # follows a national/industry/local/group standard
    ENTERPRISE = "enterprise"  # follows the enterprise's own standard (Q/…)


class DeclarationStatus(str, enum.Enum):
    DRAFT = "draft"  # 草稿
    PUBLISHED = "published"  # 现行有效
    ABOLISHED = "abolished"  # 废止 by the enterprise
    REVOKED = "revoked"  # 撤销 by a regulator


class VersionStatus(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"  # 被修订版本代替
    ABOLISHED = "abolished"
    REVOKED = "revoked"


class Disclosure(str, enum.Enum):
    FULL_TEXT = "full_text"  # 公开标准全文
    INDICATORS_ONLY = "indicators_only"  # 仅公开功能指标和性能指标


class Declaration(db.Model):
    """One declared standard of one enterprise across all its versions.

    ``lock_version`` counts the changes of the declaration as a whole (a draft saved, a text
    attached, a revision started, a version published, the declaration ended): every write
    through ``declare.operations`` first claims it (``operations._claim``), so of two requests
    that read the same state only one may change it and the other gets a 409.
    """

    __tablename__ = "declarations"
    __table_args__ = (Index("ix_declaration_owner_status", "enterprise_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    kind: Mapped[DeclarationKind] = mapped_column(
        Enum(DeclarationKind, native_enum=False, length=20)
    )
    # Summary of the newest non-draft version, kept by declare.operations for list pages.
    status: Mapped[DeclarationStatus] = mapped_column(
        Enum(DeclarationStatus, native_enum=False, length=20), default=DeclarationStatus.DRAFT
    )
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("declaration_versions.id", use_alter=True)
    )
    lock_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enterprise: Mapped[Enterprise] = relationship()
    versions: Mapped[list[DeclarationVersion]] = relationship(
        back_populates="declaration",
        foreign_keys="DeclarationVersion.declaration_id",
        order_by="DeclarationVersion.version_no",
    )
    current_version: Mapped[DeclarationVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True
    )

    @property
    def draft(self) -> DeclarationVersion | None:
        """The open draft (a first version or a revision), if any."""
        return next((v for v in self.versions if v.status is VersionStatus.DRAFT), None)

    @property
    def latest(self) -> DeclarationVersion | None:
        """The newest version of any status (the draft of a never-published declaration)."""
        return self.versions[-1] if self.versions else None


class DeclarationVersion(db.Model):
    """A draft, or a published version that is never edited in place again.

    ``lock_version`` is SQLAlchemy's optimistic version counter: editing a draft with a stale
    value is refused (HTTP 409) instead of overwriting someone else's change.
    """

    __tablename__ = "declaration_versions"
    __table_args__ = (
        UniqueConstraint("declaration_id", "version_no"),
        Index("ix_version_published", "declaration_id", "published_at", "ended_at"),
        # Public search (versions in force, newest first) and re-flagging by followed standard.
        Index("ix_version_status_published", "status", "published_at"),
        Index("ix_version_standard_status", "standard_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"))
    version_no: Mapped[int] = mapped_column(Integer)
    status: Mapped[VersionStatus] = mapped_column(
        Enum(VersionStatus, native_enum=False, length=20), default=VersionStatus.DRAFT
    )
    lock_version: Mapped[int] = mapped_column(Integer, default=1)

    # Following a catalogue standard: picked, never typed.
    standard_id: Mapped[int | None] = mapped_column(ForeignKey("standards.id"))
    # Following an enterprise standard (Q/…): the number as typed plus its parsed parts.
    std_code: Mapped[str] = mapped_column(String(80), default="")
    std_enterprise_code: Mapped[str] = mapped_column(String(40), default="")
    std_sequence: Mapped[str] = mapped_column(String(20), default="")
    std_year: Mapped[int | None] = mapped_column(Integer)
    std_name: Mapped[str] = mapped_column(String(300), default="")
    disclosure: Mapped[Disclosure] = mapped_column(
        Enum(Disclosure, native_enum=False, length=20), default=Disclosure.FULL_TEXT
    )
    text_attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    commitment_accepted: Mapped[bool] = mapped_column(Boolean, default=False)  # 自我声明承诺
    approved_by: Mapped[str] = mapped_column(String(120), default="")  # 内部批准人
    approved_on: Mapped[date | None] = mapped_column(Date)
    implemented_on: Mapped[date | None] = mapped_column(Date)  # 实施日期
    revision_note: Mapped[str] = mapped_column(Text, default="")
    # 明示 (Art. 14) that the standard has fewer indicators than a recommended standard requires
    # (which, and why): needed when an applicable recommended benchmark is not declared.
    mingshi_fewer: Mapped[str] = mapped_column(Text, default="")

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    # Who submitted this version (a bulk import records it), and the association (行业协会)
    # through which it came when not the enterprise itself.
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    via_association_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    declaration: Mapped[Declaration] = relationship(
        back_populates="versions", foreign_keys=[declaration_id]
    )
    standard: Mapped[Standard | None] = relationship()
    text_attachment: Mapped[Attachment | None] = relationship()
    products: Mapped[list[Product]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="Product.id"
    )
    indicators: Mapped[list[Indicator]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="Indicator.position"
    )
    references: Mapped[list[NormativeReference]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="NormativeReference.id"
    )
    reference_flags: Mapped[list[ReferenceFlag]] = relationship(
        back_populates="version", order_by="ReferenceFlag.id"
    )

    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def is_draft(self) -> bool:
        return self.status is VersionStatus.DRAFT

    @property
    def number(self) -> str:
        """The standard number this version declares, whichever kind it is."""
        return self.standard.code if self.standard is not None else self.std_code

    @property
    def title(self) -> str:
        return self.standard.title if self.standard is not None else self.std_name


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("declaration_versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(120))  # 型号
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id"), index=True)
    specification: Mapped[str] = mapped_column(String(200), default="")  # 规格
    common_name: Mapped[str] = mapped_column(String(200), default="")
    brand: Mapped[str] = mapped_column(String(120), default="")
    barcode: Mapped[str] = mapped_column(String(14), default="")  # GTIN/EAN-13
    # Attributes that select the benchmark rows applying to it (benchmarks.applicability), e.g.
    # {"rated_cooling_capacity": [3500, "W"], "ac_type": "heat_pump"}.
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)

    version: Mapped[DeclarationVersion] = relationship(back_populates="products")
    category: Mapped[ProductCategory] = relationship(lazy="joined")


class Indicator(db.Model):
    """A function (功能) or performance (性能) indicator with its test method (Art. 12).

    The ``cmp_*`` columns keep the comparison computed when the version was published, in the
    benchmark's canonical unit, so history and rankings read it without recomputing.
    """

    __tablename__ = "indicators"
    __table_args__ = (Index("ix_indicator_benchmark", "benchmark_indicator_id", "cmp_guaranteed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("declaration_versions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(12))  # "function" | "performance"
    name: Mapped[str] = mapped_column(String(200))
    benchmark_indicator_id: Mapped[int | None] = mapped_column(
        ForeignKey("benchmark_indicators.id")
    )
    op: Mapped[str] = mapped_column(String(6))  # ge | le | eq | range
    value: Mapped[float | None] = mapped_column(Float)
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    text_value: Mapped[str] = mapped_column(String(300), default="")  # qualitative function items
    unit: Mapped[str] = mapped_column(String(30), default="")
    test_method: Mapped[str] = mapped_column(String(300), default="")  # 检验方法
    mingshi: Mapped[str] = mapped_column(Text, default="")  # 明示 statement with its reason

    cmp_status: Mapped[str | None] = mapped_column(String(20))
    cmp_grade: Mapped[str | None] = mapped_column(String(20))
    cmp_margin_pct: Mapped[float | None] = mapped_column(Float)
    cmp_guaranteed: Mapped[float | None] = mapped_column(Float)

    version: Mapped[DeclarationVersion] = relationship(back_populates="indicators")
    benchmark: Mapped[BenchmarkIndicator | None] = relationship(lazy="joined")


class NormativeReference(db.Model):
    """A catalogue standard the enterprise standard cites (规范性引用文件)."""

    __tablename__ = "normative_references"
    __table_args__ = (UniqueConstraint("version_id", "standard_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("declaration_versions.id"), index=True)
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id"), index=True)

    version: Mapped[DeclarationVersion] = relationship(back_populates="references")
    standard: Mapped[Standard] = relationship(lazy="joined")


class ReferenceFlag(db.Model):
    """A cited or followed standard that the catalogue now lists as withdrawn or replaced.

    Flags sit beside the immutable version: they are facts found later, not part of what the
    enterprise declared. ``cleared_at`` is set when the catalogue no longer supports the flag.
    """

    __tablename__ = "reference_flags"
    __table_args__ = (Index("ix_reference_flag_open", "version_id", "standard_id", "cleared_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("declaration_versions.id"))
    standard_id: Mapped[int] = mapped_column(ForeignKey("standards.id"))
    reason: Mapped[str] = mapped_column(String(20))  # "withdrawn" | "replaced"
    replaced_by_code: Mapped[str | None] = mapped_column(String(60))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    version: Mapped[DeclarationVersion] = relationship(back_populates="reference_flags")
    standard: Mapped[Standard] = relationship(lazy="joined")


class Attachment(db.Model):
    """An uploaded file, stored on disk by its SHA-256 (content-addressed)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(80))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImmutableVersionError(RuntimeError):
    """Raised when code tries to edit a published version in place."""


# Columns a published version may still change: its lifecycle, never its content.
_LIFECYCLE_COLUMNS = {"status", "ended_at", "end_reason", "lock_version", "updated_at"}
# Relationships that are content too: rows added/removed, or the standard/text re-pointed.
_CONTENT_RELATIONSHIPS = ("products", "indicators", "references", "standard", "text_attachment")


def _frozen(version: DeclarationVersion | None) -> bool:
    if version is None:
        return False
    state = sa_inspect(version)
    committed = state.committed_state.get("status", version.status)
    return committed is not VersionStatus.DRAFT and not state.pending


@event.listens_for(Session, "before_flush")
def _guard_published_versions(session: Session, flush_context, instances) -> None:
    """Refuse any in-place edit of a published version or of its products/indicators."""
    for obj in list(session.dirty) + list(session.deleted) + list(session.new):
        if isinstance(obj, DeclarationVersion):
            if obj in session.new or not _frozen(obj):
                continue
            state = sa_inspect(obj)
            changed = {
                a.key
                for a in state.attrs
                if a.history.has_changes() and a.key in state.mapper.column_attrs
            }
            # Adding or removing rows is an edit too (removed rows are only orphans here).
            changed |= {
                key for key in _CONTENT_RELATIONSHIPS if state.attrs[key].history.has_changes()
            }
            if obj in session.deleted or changed - _LIFECYCLE_COLUMNS:
                raise ImmutableVersionError(
                    f"declaration version {obj.id} is {obj.status.value}; "
                    f"published content cannot change ({sorted(changed - _LIFECYCLE_COLUMNS)})"
                )
        elif isinstance(obj, (Product, Indicator, NormativeReference)):
            if obj in session.dirty and not session.is_modified(obj, include_collections=False):
                continue
            if _frozen(obj.version):
                raise ImmutableVersionError(
                    f"{obj.__tablename__} of published version {obj.version.id} cannot change"
                )


class ComplianceRecord(db.Model):
    """An enterprise's compliance event (inspection result, violation, serious credit record).

    Supervision writes it through ``declare.operations.record_compliance``; rankings read it for
    the entry requirement "no failed inspection in the window" and for dynamic management.
    """

    __tablename__ = "compliance_records"
    __table_args__ = (Index("ix_compliance_enterprise", "enterprise_id", "occurred_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"))
    kind: Mapped[str] = mapped_column(String(20))  # inspection | violation | credit
    result: Mapped[str] = mapped_column(String(20))  # conforming | defects | nonconforming | serious
    occurred_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(120), default="")  # e.g. inspection number
    details: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enterprise: Mapped[Enterprise] = relationship()


class AssociationGrant(db.Model):
    """An enterprise's authorisation of an association (行业协会/联盟) to import declarations
    for it; revoking sets ``revoked_at`` (the row stays as history)."""

    __tablename__ = "association_grants"
    __table_args__ = (Index("ix_association_grant_pair", "association_id", "enterprise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    enterprise: Mapped[Enterprise] = relationship()
    association = relationship("User", foreign_keys=[association_id], lazy="joined")


class ImportBatch(db.Model):
    """One uploaded bulk-import file (workbook or ZIP) and what its check or import found.

    The file is kept on disk under ``UPLOAD_DIR/imports/<id>``; ``report`` holds the bad cells
    and the rows written (declare.imports)."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    good_rows_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # uploaded → checking → checked → importing → imported | failed
    status: Mapped[str] = mapped_column(String(20), default="uploaded")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_bad: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict | None] = mapped_column(JSON)
    job_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
