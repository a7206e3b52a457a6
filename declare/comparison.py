"""Declared indicators against the benchmarks in force (对标), with messages for people.

``benchmarks.compare`` judges one value; this module finds, for every declared indicator that
is mapped to a benchmark indicator, the *edition* of that benchmark valid on the given day
(thresholds change between editions), runs the comparison and says in words what is wrong:
a violation of a mandatory limit, a shortfall against a recommended value without 明示, a unit
that cannot be converted, a bound on the wrong side, or a malformed value.

All benchmarks of a declaration are loaded in one query, whatever the number of indicators.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased, joinedload

from benchmarks import compare as cmp
from benchmarks.models import BenchmarkIndicator
from benchmarks.queries import to_compare_benchmark
from benchmarks.units import UnitError
from core.extensions import db

__all__ = [
    "IndicatorCheck",
    "distance_text",
    "Problem",
    "check_indicators",
    "check_version",
    "format_number",
    "load_benchmarks_on",
]

Problem = Literal["violation", "mingshi_missing", "unit", "unbounded", "invalid"]
BLOCKING: frozenset[str] = frozenset(
    {"violation", "mingshi_missing", "unit", "unbounded", "invalid"}
)


@dataclass(frozen=True)
class IndicatorCheck:
    """The verdict on one declared indicator.

    ``position`` is the indicator's index in the declaration's list and ``field`` the dotted
    path of the form field to point at (``"indicators.1.mingshi"``). ``benchmark_id`` is the
    benchmark edition actually used (it may be a newer edition than the one mapped), None when
    no edition is in force that day. ``problem`` is None when the indicator may be published;
    ``message`` always says what was found.
    """

    position: int
    name: str
    benchmark_id: int | None
    comparison: cmp.Comparison | None
    problem: Problem | None
    message: str
    field: str

    @property
    def blocks_publication(self) -> bool:
        return self.problem in BLOCKING


def format_number(value: float | None, *others: float | None) -> str:
    """A figure as standards print it: 3.1 next to 3.30 reads ``3.10``; integers stay integers.

    Uses the decimals of the most precise of ``value`` and ``others`` (at least two when any
    has decimals, at most six), so a value and the limit it is compared with line up.
    """
    if value is None:
        return ""
    decimals = 0
    for x in (value, *others):
        if x is None or not math.isfinite(x):
            continue
        text = f"{x:.6f}".rstrip("0").rstrip(".")
        if "." in text:
            decimals = max(decimals, len(text.split(".")[1]), 2)
    return f"{value:.{decimals}f}"


def distance_text(distance: cmp.Distance | None, unit: str) -> str:
    """``distance`` in words: "39.4% below the mandatory limit 3.30 W/W", "2.2% above the
    threshold 4.50 W/W of grade 2级", "at the recommended value 5.0 L" (see compare.Distance)."""
    if distance is None:
        return ""
    figures = {
        "threshold": format_number(distance.threshold),
        "unit": unit if unit != "1" else "",
        "grade": distance.label or "",
        "pct": "" if distance.pct is None else f"{distance.pct:.1f}%",
    }
    texts = {
        ("mandatory", "above"): _(
            "%(pct)s above the mandatory limit %(threshold)s %(unit)s", **figures
        ),
        ("mandatory", "below"): _(
            "%(pct)s below the mandatory limit %(threshold)s %(unit)s", **figures
        ),
        ("mandatory", "at"): _("at the mandatory limit %(threshold)s %(unit)s", **figures),
        ("recommended", "above"): _(
            "%(pct)s above the recommended value %(threshold)s %(unit)s", **figures
        ),
        ("recommended", "below"): _(
            "%(pct)s below the recommended value %(threshold)s %(unit)s", **figures
        ),
        ("recommended", "at"): _("at the recommended value %(threshold)s %(unit)s", **figures),
        ("grade", "above"): _(
            "%(pct)s above the threshold %(threshold)s %(unit)s of grade %(grade)s", **figures
        ),
        ("grade", "below"): _(
            "%(pct)s below the threshold %(threshold)s %(unit)s of grade %(grade)s", **figures
        ),
        ("grade", "at"): _(
            "at the threshold %(threshold)s %(unit)s of grade %(grade)s", **figures
        ),
    }
    return " ".join(texts[(distance.kind, distance.side)].split())


def _get(row: Any, key: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(key, default)
    return getattr(row, key, default)


def _as_float(value: Any) -> float | None:
    """Declared numbers arrive as float, int, Decimal or numeric strings from forms."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value  # type: ignore[return-value]  # compare refuses it as "not finite"
    try:
        return float(value)
    except (TypeError, ValueError):
        return value  # compare reports it as not a finite number


def load_benchmarks_on(
    benchmark_ids: Iterable[int], on: date
) -> dict[int, BenchmarkIndicator | None]:
    """For each mapped benchmark id, the edition of the same category and code valid on ``on``.

    One query. Maps every id that exists to its edition in force (None if no edition is valid
    that day); ids that do not exist are absent from the result.
    """
    ids = sorted({int(i) for i in benchmark_ids})
    if not ids:
        return {}
    mapped = aliased(BenchmarkIndicator)
    edition = aliased(BenchmarkIndicator)
    stmt = (
        select(mapped.id, edition)
        .outerjoin(
            edition,
            and_(
                edition.category_id == mapped.category_id,
                edition.code == mapped.code,
                edition.valid_from <= on,
                or_(edition.valid_to.is_(None), edition.valid_to > on),
            ),
        )
        .where(mapped.id.in_(ids))
        .options(
            joinedload(edition.mandatory_source),
            joinedload(edition.recommended_source),
        )
    )
    found: dict[int, BenchmarkIndicator | None] = {}
    for mapped_id, row in db.session.execute(stmt).unique():
        best = found.get(mapped_id)
        if row is not None and (best is None or row.valid_from > best.valid_from):
            found[mapped_id] = row
        else:
            found.setdefault(mapped_id, None)
    return found


def _guaranteed_field(op: str, direction: str) -> str:
    if op == "range":
        return "low" if direction == "higher" else "high"
    return "value"


def _label(row: Any, index: int) -> str:
    name = (_get(row, "name") or "").strip()
    return name or _("indicator %(n)d", n=index + 1)


def _source(code: str | None) -> str:
    return code or _("the benchmark")


def _check_one(index: int, row: Any, bench: BenchmarkIndicator | None) -> IndicatorCheck:
    name = _label(row, index)
    path = f"indicators.{index}"
    if bench is None:
        return IndicatorCheck(
            position=index,
            name=name,
            benchmark_id=None,
            comparison=None,
            problem=None,
            message=_(
                "No benchmark for %(name)s is in force on this date; not compared.", name=name
            ),
            field=f"{path}.benchmark_indicator_id",
        )
    op = _get(row, "op") or ""
    declared_unit = (_get(row, "unit") or "").strip()
    declared = cmp.Declared(
        op=op,
        unit=declared_unit,
        value=_as_float(_get(row, "value")),
        low=_as_float(_get(row, "low")),
        high=_as_float(_get(row, "high")),
    )
    benchmark = to_compare_benchmark(bench)

    def check(problem, message, field, comparison=None) -> IndicatorCheck:
        return IndicatorCheck(
            index, name, bench.id, comparison, problem, message, f"{path}.{field}"
        )

    if not declared_unit:
        return check(
            "unit",
            _(
                "Give the unit of %(name)s; the benchmark is in %(unit)s.",
                name=name,
                unit=benchmark.unit,
            ),
            "unit",
        )
    try:
        result = cmp.compare(declared, benchmark)
    except UnitError:
        return check(
            "unit",
            _(
                "The unit %(declared)s of %(name)s cannot be converted to %(unit)s, the unit of "
                "its benchmark: declare it in %(unit)s or a unit of the same quantity.",
                declared=declared_unit,
                name=name,
                unit=benchmark.unit,
            ),
            "unit",
        )
    except cmp.DeclarationError as exc:
        return _declaration_error(check, exc, name, benchmark.direction)

    unit = benchmark.unit
    value = result.guaranteed
    if result.status == "violation":
        return check(
            "violation",
            _(
                "%(name)s %(value)s %(unit)s is worse than the mandatory limit %(limit)s "
                "%(unit)s of %(source)s: this declaration cannot be published.",
                name=name,
                value=format_number(value, result.mandatory_limit),
                limit=format_number(result.mandatory_limit, value),
                unit=unit,
                source=_source(result.mandatory_source),
            ),
            _guaranteed_field(op, benchmark.direction),
            result,
        )
    if result.status == "below_recommended":
        figures = {
            "name": name,
            "value": format_number(value, result.recommended_value),
            "recommended": format_number(result.recommended_value, value),
            "unit": unit,
            "source": _source(result.recommended_source),
        }
        if not (_get(row, "mingshi") or "").strip():
            if benchmark.direction == "higher":
                text = _(
                    "%(name)s %(value)s %(unit)s is below the recommended value %(recommended)s "
                    "%(unit)s of %(source)s: state it explicitly (明示) with a reason.",
                    **figures,
                )
            else:
                text = _(
                    "%(name)s %(value)s %(unit)s is above the recommended value %(recommended)s "
                    "%(unit)s of %(source)s: state it explicitly (明示) with a reason.",
                    **figures,
                )
            return check("mingshi_missing", text, "mingshi", result)
        return check(
            None,
            _(
                "%(name)s %(value)s %(unit)s is worse than the recommended value %(recommended)s "
                "%(unit)s of %(source)s; stated explicitly (明示).",
                **figures,
            ),
            "mingshi",
            result,
        )
    baseline_source = (
        result.recommended_source
        if result.baseline_kind == "recommended"
        else result.mandatory_source
    )
    if result.grade:
        text = _(
            "%(name)s %(value)s %(unit)s meets %(source)s, grade %(grade)s.",
            name=name,
            value=format_number(value, result.baseline),
            unit=unit,
            source=_source(baseline_source),
            grade=result.grade,
        )
    else:
        text = _(
            "%(name)s %(value)s %(unit)s meets %(source)s.",
            name=name,
            value=format_number(value, result.baseline),
            unit=unit,
            source=_source(baseline_source),
        )
    return check(None, text, _guaranteed_field(op, benchmark.direction), result)


def _declaration_error(
    check, exc: cmp.DeclarationError, name: str, direction: str
) -> IndicatorCheck:
    if exc.code == "unbounded":
        if direction == "higher":
            text = _(
                "%(name)s: higher is better, so '≤' promises nothing about how low the value may "
                "be; declare it as '≥', '=' or a range.",
                name=name,
            )
        else:
            text = _(
                "%(name)s: lower is better, so '≥' promises nothing about how high the value may "
                "be; declare it as '≤', '=' or a range.",
                name=name,
            )
        return check("unbounded", text, "op")
    if exc.code == "required":
        text = _("%(name)s: enter the value for this comparison.", name=name)
    elif exc.code == "order":
        text = _("%(name)s: the lower bound must not be greater than the upper bound.", name=name)
    elif exc.code == "not_finite":
        text = _("%(name)s: the value must be a finite number.", name=name)
    else:
        text = _(
            "%(name)s: the comparison must be one of ≥, ≤, = or a range.",
            name=name,
        )
    return check("invalid", text, exc.field)


def check_indicators(indicators: list[Any], on: date) -> list[IndicatorCheck]:
    """Checks for the indicators (dicts of the CONTRACT shape, or Indicator rows) that are
    mapped to a benchmark indicator, in list order; unmapped ones are not compared.

    A mapped id that does not exist gives an ``invalid`` check on ``benchmark_indicator_id``.
    """
    mapped = [
        (i, row, _get(row, "benchmark_indicator_id"))
        for i, row in enumerate(indicators)
        if _get(row, "benchmark_indicator_id") not in (None, "")
    ]
    if not mapped:
        return []
    editions = load_benchmarks_on([int(bid) for _i, _r, bid in mapped], on)
    checks = []
    for index, row, bid in mapped:
        if int(bid) not in editions:
            name = _label(row, index)
            checks.append(
                IndicatorCheck(
                    index,
                    name,
                    None,
                    None,
                    "invalid",
                    _(
                        "%(name)s is mapped to a benchmark indicator that does not exist.",
                        name=name,
                    ),
                    f"indicators.{index}.benchmark_indicator_id",
                )
            )
            continue
        checks.append(_check_one(index, row, editions[int(bid)]))
    return checks


def check_version(version, on: date | None = None) -> list[IndicatorCheck]:
    """Checks for a version's indicators on ``on``: by default the day it was published
    (Beijing time), or today for a draft."""
    from declare.queries import local_date, local_today

    if on is None:
        on = local_date(version.published_at) if version.published_at else local_today()
    return check_indicators(list(version.indicators), on)
