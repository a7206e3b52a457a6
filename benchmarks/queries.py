"""Reads of the reference catalogue shared by pages, the API, declare/ and jobs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Integer, and_, cast, func, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from core.clock import local_today
from benchmarks import compare
from benchmarks.models import (
    BenchmarkIndicator,
    ProductCategory,
    Standard,
    StandardKind,
    StandardStatus,
)
from benchmarks.numbers import NumberError, normalise_number_text, parse_standard_number
from core.extensions import db

__all__ = [
    "benchmark_for",
    "benchmarks_on",
    "categories",
    "category_editions",
    "search_standards",
    "standard_by_code",
    "standards_by_ids",
    "status_clause",
    "to_compare_benchmark",
]


def _with_sources(stmt):
    return stmt.options(
        selectinload(BenchmarkIndicator.mandatory_source),
        selectinload(BenchmarkIndicator.recommended_source),
    )


def benchmarks_on(category_id: int, day: date) -> list[BenchmarkIndicator]:
    """The benchmark indicators of a category valid on ``day``, one edition per indicator code.

    Valid means ``valid_from <= day`` and (``valid_to`` is null or ``valid_to > day``); where
    several editions of a code are valid, the one with the latest ``valid_from`` wins. One query
    (plus one per source relationship), ordered by code.
    """
    stmt = _with_sources(
        select(BenchmarkIndicator)
        .where(
            BenchmarkIndicator.category_id == category_id,
            BenchmarkIndicator.valid_from <= day,
            or_(BenchmarkIndicator.valid_to.is_(None), BenchmarkIndicator.valid_to > day),
        )
        .order_by(BenchmarkIndicator.code, BenchmarkIndicator.valid_from.desc())
    )
    latest: dict[str, BenchmarkIndicator] = {}
    for row in db.session.scalars(stmt):
        latest.setdefault(row.code, row)
    return list(latest.values())


def benchmark_for(indicator_id: int) -> BenchmarkIndicator | None:
    """One benchmark indicator edition by id, with its source standards loaded."""
    return db.session.scalar(
        _with_sources(select(BenchmarkIndicator).where(BenchmarkIndicator.id == indicator_id))
    )


def category_editions(category_id: int) -> list[BenchmarkIndicator]:
    """Every edition of every indicator of a category, newest edition first within a code."""
    stmt = _with_sources(
        select(BenchmarkIndicator)
        .where(BenchmarkIndicator.category_id == category_id)
        .order_by(BenchmarkIndicator.code, BenchmarkIndicator.valid_from.desc())
    )
    return list(db.session.scalars(stmt))


def to_compare_benchmark(row: BenchmarkIndicator) -> compare.Benchmark:
    """The pure ``compare.Benchmark`` for a stored indicator edition (sources as numbers)."""
    mandatory = row.mandatory_source
    recommended = row.recommended_source
    return compare.Benchmark(
        direction=row.direction,  # type: ignore[arg-type]
        unit=row.unit,
        mandatory_limit=row.mandatory_limit,
        mandatory_source=mandatory.code if mandatory is not None else None,
        recommended_value=row.recommended_value,
        recommended_source=recommended.code if recommended is not None else None,
        grades=tuple(compare.Grade(str(label), float(value)) for label, value in row.grades or ()),
    )


def categories() -> list[ProductCategory]:
    """All product categories, by code."""
    return list(db.session.scalars(select(ProductCategory).order_by(ProductCategory.code)))


def standard_by_code(code: str) -> Standard | None:
    """A catalogue edition by its number as typed in any tolerated spelling, or None."""
    try:
        parsed = parse_standard_number(code)
    except NumberError:
        return None
    return db.session.scalar(
        select(Standard).where(
            Standard.prefix == parsed.prefix,
            Standard.number == parsed.number,
            Standard.part == parsed.part,
            Standard.year == parsed.year,
        )
    )


def status_clause(status: StandardStatus | str, day: date) -> ColumnElement[bool]:
    """SQL for ``Standard.status_on(day) == status`` (keep the two in step)."""
    status = StandardStatus(status)
    withdrawn = or_(
        and_(Standard.withdrawn_date.is_not(None), Standard.withdrawn_date <= day),
        and_(Standard.status == StandardStatus.WITHDRAWN, Standard.withdrawn_date.is_(None)),
    )
    if status is StandardStatus.WITHDRAWN:
        return withdrawn
    upcoming = and_(Standard.effective_date.is_not(None), Standard.effective_date > day)
    if status is StandardStatus.UPCOMING:
        return and_(~withdrawn, upcoming)
    return and_(~withdrawn, ~upcoming)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_standards(
    q: str = "",
    kind: StandardKind | str | None = None,
    status: StandardStatus | str | None = None,
    status_on: date | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Pagination:
    """Catalogue editions matching ``q`` (number or title), ``kind`` and ``status``.

    ``status`` is judged on ``status_on`` (default today), the way ``Standard.status_on`` does:
    an edition whose replacement is not yet in force is still in force. The number match
    ignores spaces, width and case, so ``gb/t18883`` finds ``GB/T 18883-2022``.
    """
    stmt = select(Standard)
    q = (q or "").strip()
    if q:
        compact = normalise_number_text(q).upper().replace(" ", "")
        pattern_code = f"%{_like_escape(compact)}%"
        pattern_title = f"%{_like_escape(q)}%"
        stmt = stmt.where(
            or_(
                func.upper(func.replace(Standard.code, " ", "")).like(pattern_code, escape="\\"),
                Standard.title.like(pattern_title, escape="\\"),
                Standard.title_en.ilike(pattern_title, escape="\\"),
            )
        )
    if kind:
        stmt = stmt.where(Standard.kind == StandardKind(kind))
    if status:
        stmt = stmt.where(status_clause(status, status_on or local_today()))
    stmt = stmt.order_by(
        Standard.prefix, cast(Standard.number, Integer), Standard.part, Standard.year.desc()
    )
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False, max_per_page=200)


def standards_by_ids(ids: Iterable[int]) -> list[Standard]:
    ids = sorted(set(ids))
    if not ids:
        return []
    return list(db.session.scalars(select(Standard).where(Standard.id.in_(ids))))
