"""The reference catalogue: standards (by edition), product categories, benchmark indicators."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, Enum, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models import UTCDateTime, utcnow


class StandardKind(str, enum.Enum):
    NATIONAL_MANDATORY = "national_mandatory"  # GB
    NATIONAL_RECOMMENDED = "national_recommended"  # GB/T, GB/Z
    INDUSTRY = "industry"  # QB/T, JB/T …
    LOCAL = "local"  # DB50/T …
    GROUP = "group"  # T/CAS …


class StandardStatus(str, enum.Enum):
    IN_FORCE = "in_force"  # 现行
    UPCOMING = "upcoming"  # 即将实施
    WITHDRAWN = "withdrawn"  # 废止 / 被代替


class Standard(db.Model):
    """One edition of a catalogue standard; ``GB/T 1234-2019`` and ``-2024`` are two rows."""

    __tablename__ = "standards"
    __table_args__ = (UniqueConstraint("prefix", "number", "part", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[StandardKind] = mapped_column(Enum(StandardKind, native_enum=False, length=30))
    prefix: Mapped[str] = mapped_column(String(30))  # "GB", "GB/T", "QB/T", "DB50/T", "T/CAS"
    number: Mapped[str] = mapped_column(String(20))  # "21455", "12021"
    part: Mapped[str] = mapped_column(String(10), default="")  # "2" of GB 12021.2
    year: Mapped[int]
    code: Mapped[str] = mapped_column(String(60), index=True)  # as typed: "GB 12021.2-2015"
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[StandardStatus] = mapped_column(
        Enum(StandardStatus, native_enum=False, length=20), default=StandardStatus.IN_FORCE
    )
    effective_date: Mapped[date | None] = mapped_column(Date)  # 实施日期
    withdrawn_date: Mapped[date | None] = mapped_column(Date)  # 废止日期
    replaced_by_code: Mapped[str | None] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_mandatory(self) -> bool:
        return self.kind is StandardKind.NATIONAL_MANDATORY

    def status_on(self, day: date) -> StandardStatus:
        """Status on ``day``: a replacement not yet in force does not retire this edition."""
        if self.withdrawn_date is not None and day >= self.withdrawn_date:
            return StandardStatus.WITHDRAWN
        if self.status is StandardStatus.WITHDRAWN and self.withdrawn_date is None:
            return StandardStatus.WITHDRAWN
        if self.effective_date is not None and day < self.effective_date:
            return StandardStatus.UPCOMING
        return StandardStatus.IN_FORCE

    def __str__(self) -> str:
        return self.code


class ProductCategory(db.Model):
    """A product category of the fixed classification list (产品分类)."""

    __tablename__ = "product_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    source: Mapped[str] = mapped_column(Text, default="")  # where the category's scope comes from

    indicators: Mapped[list[BenchmarkIndicator]] = relationship(
        back_populates="category", order_by="BenchmarkIndicator.code"
    )

    def label(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name


class BenchmarkIndicator(db.Model):
    """A key indicator of a category with its thresholds, valid for one standard edition.

    Thresholds belong to an edition: a new edition adds a row with a later ``valid_from``
    instead of editing this one, so a declaration is always compared with the benchmarks in
    force on its date.
    """

    __tablename__ = "benchmark_indicators"
    __table_args__ = (
        UniqueConstraint("category_id", "code", "valid_from"),
        Index("ix_benchmark_lookup", "category_id", "code", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("product_categories.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    unit: Mapped[str] = mapped_column(String(30))
    direction: Mapped[str] = mapped_column(String(6))  # "higher" | "lower" is better
    mandatory_limit: Mapped[float | None] = mapped_column(Float)
    mandatory_source_id: Mapped[int | None] = mapped_column(ForeignKey("standards.id"))
    recommended_value: Mapped[float | None] = mapped_column(Float)
    recommended_source_id: Mapped[int | None] = mapped_column(ForeignKey("standards.id"))
    # [["1级", 5.0], ["2级", 4.5], …] best first
    grades: Mapped[list] = mapped_column(JSON, default=list)
    # Which products of the category the row applies to (benchmarks.applicability): all of them
    # when empty, else every condition must hold, e.g. [{"attr": "ac_type", "values":
    # ["heat_pump"]}, {"attr": "rated_cooling_capacity", "unit": "W", "min": 4500,
    # "min_inclusive": false, "max": 7100, "max_inclusive": true}] (GB 21455-2019's bands).
    applies: Mapped[list] = mapped_column(JSON, default=list)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    citation: Mapped[str] = mapped_column(Text, default="")  # clause/table the figures come from
    source: Mapped[str] = mapped_column(Text, default="")  # provenance of each figure, doubts included

    category: Mapped[ProductCategory] = relationship(back_populates="indicators")
    mandatory_source: Mapped[Standard | None] = relationship(foreign_keys=[mandatory_source_id])
    recommended_source: Mapped[Standard | None] = relationship(
        foreign_keys=[recommended_source_id]
    )

    def label(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name


class CatalogueChange(db.Model):
    """One changed field of a standard edition or a benchmark threshold row: who, when, old, new.

    Written by ``benchmarks.operations`` for every insert and update of ``standards`` and
    ``benchmark_indicators`` (an insert is one row with field ``"*"`` and the whole row as
    ``new``), so ``benchmarks.history`` can give the figures in force at any moment: a
    declaration's comparison is explained with the thresholds of its day, not today's.
    """

    __tablename__ = "catalogue_changes"
    __table_args__ = (Index("ix_catalogue_change_row", "table_name", "row_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(120), default="")
    table_name: Mapped[str] = mapped_column(String(40))  # standards | benchmark_indicators
    row_id: Mapped[int] = mapped_column()
    row_key: Mapped[str] = mapped_column(String(160))  # "GB 21455-2019", "room_ac/apf@2020-07-01"
    field: Mapped[str] = mapped_column(String(40))
    old: Mapped[object | None] = mapped_column(JSON)
    new: Mapped[object | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(120), default="")  # "import", "mark_withdrawn"
