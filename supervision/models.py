"""Post-declaration supervision (事中事后监管, 双随机、一公开): what is stored.

* ``RiskFlag``: one flag of one declaration version, with its evidence. Flags are recomputed by
  jobs; a flag whose cause went away is *cleared* (``cleared_at``), never deleted, so the
  history of what was flagged when stays readable.
* ``SamplingPlan`` → ``Draw`` → ``DrawItem``: a regulator's spot-check rules, each draw with its
  seed, its recorded population (gzip'd canonical CSV) and the population hash, so anyone can
  redo it with ``supervision.sampling.method.redo`` and get the identical sample.
* ``Inspector`` (the pool of a regulator) and ``Inspection`` (one object checked, by at least
  two inspectors, with checklist, result and findings), ``RectificationOrder`` (整改) and
  ``Complaint`` (举报).

Region scoping is by 行政区划 code: every row a regulator acts on carries ``region_code`` (the
enterprise's) so a set-based ``LIKE prefix%`` filter scopes lists (``core.auth.region_prefix``).
"""

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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models import UTCDateTime, User, utcnow
from declare.models import Declaration, DeclarationVersion, Enterprise


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


# --------------------------------------------------------------------------- risk flags


class RiskFlag(db.Model):
    """A risk flag (风险标记) of a declaration version, as computed by ``supervision.flags.risk``.

    Identity within a version is ``(version_id, code, key)`` (``risk.flag_key``). An open flag
    has ``cleared_at`` NULL; recomputation clears flags whose cause went away and opens new ones.
    """

    __tablename__ = "risk_flags"
    __table_args__ = (
        Index("ix_risk_flags_open", "cleared_at", "region_code"),
        Index("ix_risk_flags_version", "version_id", "code", "key"),
        Index("ix_risk_flags_declaration", "declaration_id", "cleared_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("declaration_versions.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    region_code: Mapped[str] = mapped_column(String(6))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("product_categories.id"))
    code: Mapped[str] = mapped_column(String(40))  # risk.FLAG_CODES
    key: Mapped[str] = mapped_column(String(200), default="")
    severity: Mapped[str] = mapped_column(String(10))  # high | medium | low
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_reason: Mapped[str] = mapped_column(String(200), default="")

    declaration: Mapped[Declaration] = relationship()
    enterprise: Mapped[Enterprise] = relationship()


# --------------------------------------------------------------------------- sampling


class Stratification(str, enum.Enum):
    NONE = "none"
    REGION = "region"  # by the enterprise's 行政区划 (county level)
    CATEGORY = "category"
    REGION_CATEGORY = "region_category"


class SamplingPlan(db.Model):
    """A regulator's spot-check rules (抽查计划): scope, size, strata, exclusions, risk weight."""

    __tablename__ = "sampling_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    regulator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    # Scope: a 行政区划 code inside the regulator's own region, categories (empty = all), period
    # (declarations published on or before period_end and current on it).
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    category_ids: Mapped[list] = mapped_column(JSON, default=list)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # Size: a ratio (at least min_ratio, rounded up) or a count (never below the minimum ratio).
    size_ratio: Mapped[float | None] = mapped_column(Float)
    size_count: Mapped[int | None] = mapped_column(Integer)
    min_ratio: Mapped[float] = mapped_column(Float, default=0.05)
    stratification: Mapped[Stratification] = mapped_column(
        _enum(Stratification), default=Stratification.NONE
    )
    allocation: Mapped[str] = mapped_column(String(20), default="proportional")
    exclude_drawn_years: Mapped[int] = mapped_column(Integer, default=3)
    # Risk: inclusion weight = 1 + risk_factor × risk score (capped); 0 = pure random.
    risk_factor: Mapped[float] = mapped_column(Float, default=1.0)
    max_inclusion: Mapped[float] = mapped_column(Float, default=0.9)
    inspectors_per_object: Mapped[int] = mapped_column(Integer, default=2)
    rectification_days: Mapped[int] = mapped_column(Integer, default=30)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    regulator: Mapped[User] = relationship()
    draws: Mapped[list[Draw]] = relationship(back_populates="plan", order_by="Draw.id")


class DrawStatus(str, enum.Enum):
    DRAWN = "drawn"  # recorded; sample list may be publicised before checking
    PUBLICISED = "publicised"  # 抽查名单 public
    CLOSED = "closed"  # every inspection finished


class Draw(db.Model):
    """One reproducible draw: seed, recorded population, parameters, hash, result (immutable)."""

    __tablename__ = "draws"
    __table_args__ = (Index("ix_draws_drawn_at", "drawn_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sampling_plans.id"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. 500000-2026-003
    seed: Mapped[str] = mapped_column(String(40))  # decimal text of the integer seed
    seed_source: Mapped[str] = mapped_column(Text, default="")  # public text the seed came from
    method: Mapped[str] = mapped_column(String(60))  # sampling.METHOD
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # exactly what sampling.redo takes
    population_hash: Mapped[str] = mapped_column(String(64))
    population_csv_gz: Mapped[bytes] = mapped_column(LargeBinary)
    population_size: Mapped[int] = mapped_column(Integer)
    excluded_count: Mapped[int] = mapped_column(Integer, default=0)
    sample_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[DrawStatus] = mapped_column(_enum(DrawStatus), default=DrawStatus.DRAWN)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    publicised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The inspector pool the assignment was drawn from, as ``sampling.assign_inspectors`` took
    # it: {"per_object": k, "inspectors": [{"id", "tied_enterprise_ids"}]} (region ties
    # expanded), so the inspector draw can be redone from the seed like the sample.
    inspector_pool: Mapped[dict] = mapped_column(JSON, default=dict)

    plan: Mapped[SamplingPlan] = relationship(back_populates="draws")
    items: Mapped[list[DrawItem]] = relationship(back_populates="draw", order_by="DrawItem.position")


class SelectionReason(str, enum.Enum):
    RANDOM = "random"  # drawn with the base probability
    RISK_WEIGHTED = "risk_weighted"  # drawn, its probability raised by risk
    COMPLAINT = "complaint"  # added outside the random draw (举报触发)


class DrawItem(db.Model):
    """A sampled object (a published declaration) with why it is there and its π."""

    __tablename__ = "draw_items"
    __table_args__ = (
        UniqueConstraint("draw_id", "declaration_id"),
        Index("ix_draw_items_region_reason", "region_code", "reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"))
    position: Mapped[int] = mapped_column(Integer)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("declaration_versions.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    region_code: Mapped[str] = mapped_column(String(6))
    stratum: Mapped[str] = mapped_column(String(80), default="")
    reason: Mapped[SelectionReason] = mapped_column(_enum(SelectionReason))
    inclusion_probability: Mapped[float] = mapped_column(Float)
    risk_score: Mapped[float] = mapped_column(Float, default=0.0)

    draw: Mapped[Draw] = relationship(back_populates="items")
    declaration: Mapped[Declaration] = relationship()
    enterprise: Mapped[Enterprise] = relationship()


# --------------------------------------------------------------------------- inspectors


class Inspector(db.Model):
    """A member of a regulator's inspector pool (执法检查人员库).

    ``tied_enterprise_ids`` and ``tied_region_codes`` are the recusal ties: an inspector is never
    assigned to an enterprise they are tied to, nor to one in a region they are tied to.
    """

    __tablename__ = "inspectors"

    id: Mapped[int] = mapped_column(primary_key=True)
    regulator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))  # staff number, unique per pool
    name: Mapped[str] = mapped_column(String(80))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    speciality: Mapped[str] = mapped_column(String(200), default="")
    tied_enterprise_ids: Mapped[list] = mapped_column(JSON, default=list)
    tied_region_codes: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("regulator_id", "code"),)


# --------------------------------------------------------------------------- inspections

# What inspectors check (《企业标准随机抽查工作指引》, DOMAIN.md "What inspectors check").
CHECKLIST = (
    "mandatory_requirements",  # technical requirements not below mandatory standards
    "number_and_name",  # number and name valid
    "indicators_disclosed",  # function/performance indicators disclosed
    "mingshi_present",  # 明示 present where needed
    "references_valid",  # normative references valid
    "drafting_format",  # drafting format (GB/T 1.1)
    "product_conformity",  # products conform to the declared standard
)


class InspectionOrigin(str, enum.Enum):
    RANDOM = "random"
    RISK_WEIGHTED = "risk_weighted"
    COMPLAINT = "complaint"


class InspectionStatus(str, enum.Enum):
    ASSIGNED = "assigned"  # inspectors assigned, not yet recorded
    RECORDED = "recorded"  # result recorded, not yet public
    PUBLISHED = "published"  # on the public results page (一公开)


class InspectionResult(str, enum.Enum):
    CONFORMING = "conforming"  # 符合
    DEFECTS = "defects"  # 符合但存在瑕疵
    NONCONFORMING = "nonconforming"  # 不符合


class Inspection(db.Model):
    """One spot check of one declaration (version) by at least two inspectors.

    ``checklist`` maps each ``CHECKLIST`` item to "pass" | "fail" | "na"; ``findings`` is a list of
    ``{"item": <checklist item>, "text": ...}``. A 不符合 result is written to the enterprise's
    compliance record through ``declare.operations.record_compliance`` (ranking reads it).
    """

    __tablename__ = "inspections"
    __table_args__ = (
        Index("ix_inspections_region", "region_code", "status"),
        Index("ix_inspections_enterprise", "enterprise_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    origin: Mapped[InspectionOrigin] = mapped_column(_enum(InspectionOrigin))
    draw_item_id: Mapped[int | None] = mapped_column(ForeignKey("draw_items.id"), unique=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    regulator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("declaration_versions.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    region_code: Mapped[str] = mapped_column(String(6))
    inspector_ids: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[InspectionStatus] = mapped_column(
        _enum(InspectionStatus), default=InspectionStatus.ASSIGNED
    )
    result: Mapped[InspectionResult | None] = mapped_column(_enum(InspectionResult))
    checklist: Mapped[dict] = mapped_column(JSON, default=dict)
    findings: Mapped[list] = mapped_column(JSON, default=list)
    inspected_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    compliance_record_id: Mapped[int | None] = mapped_column(ForeignKey("compliance_records.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    declaration: Mapped[Declaration] = relationship()
    version: Mapped[DeclarationVersion] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    draw_item: Mapped[DrawItem | None] = relationship()
    complaint: Mapped[Complaint | None] = relationship(foreign_keys=[complaint_id])
    rectification: Mapped[RectificationOrder | None] = relationship(
        back_populates="inspection", uselist=False
    )


class RectificationStatus(str, enum.Enum):
    OPEN = "open"  # ordered, waiting for the enterprise
    ANSWERED = "answered"  # the enterprise reported what it changed
    CLOSED = "closed"  # follow-up verified the rectification
    OVERDUE = "overdue"  # the deadline passed without an accepted answer


class RectificationOrder(db.Model):
    """整改通知: a deadline (default 30 days), the enterprise's answer and the follow-up."""

    __tablename__ = "rectification_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    requirements: Mapped[str] = mapped_column(Text, default="")
    ordered_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[RectificationStatus] = mapped_column(
        _enum(RectificationStatus), default=RectificationStatus.OPEN
    )
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inspection: Mapped[Inspection] = relationship(back_populates="rectification")
    enterprise: Mapped[Enterprise] = relationship()


# --------------------------------------------------------------------------- complaints


class ComplaintStatus(str, enum.Enum):
    OPEN = "open"  # received, routed to the region's regulator
    CHECK_OPENED = "check_opened"  # a complaint-triggered inspection was opened
    DISMISSED = "dismissed"  # not substantiated, with a reason
    CLOSED = "closed"  # the triggered check finished


class Complaint(db.Model):
    """举报 from the public about an enterprise or one of its declarations, routed by region."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_region", "region_code", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"))
    region_code: Mapped[str] = mapped_column(String(6))  # the enterprise's: routes the complaint
    content: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(String(200), default="")  # optional, never shown publicly
    submitter_fingerprint: Mapped[str] = mapped_column(String(64), default="")  # sha256(ip+salt)
    # SHA-256 of the secret given to the complainant with the receipt number: with both, anyone
    # holding the receipt sees the complaint's status (and nobody else does).
    secret_sha256: Mapped[str] = mapped_column(String(64), default="")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[ComplaintStatus] = mapped_column(
        _enum(ComplaintStatus), default=ComplaintStatus.OPEN
    )
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(Text, default="")

    enterprise: Mapped[Enterprise] = relationship()
    declaration: Mapped[Declaration | None] = relationship()


__all__ = [
    "CHECKLIST",
    "Complaint",
    "ComplaintStatus",
    "Draw",
    "DrawItem",
    "DrawStatus",
    "Inspection",
    "InspectionOrigin",
    "InspectionResult",
    "InspectionStatus",
    "Inspector",
    "RectificationOrder",
    "RectificationStatus",
    "RiskFlag",
    "SamplingPlan",
    "SelectionReason",
    "Stratification",
]
