"""Score one declared indicator against the benchmarks of its product category (对标).

Pure functions on frozen values, so the declaration form, the public page and the 领跑者
ranking all judge a value the same way. Every rule is written once for "higher is better" on
``sign * value``; "lower is better" is the mirror image, which keeps the two directions exactly
symmetric.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from benchmarks import units

__all__ = [
    "Benchmark",
    "Comparison",
    "DeclarationError",
    "Declared",
    "Direction",
    "Distance",
    "Grade",
    "Op",
    "Status",
    "compare",
    "distance_for",
    "grade_for",
    "guaranteed_value",
    "margin_pct",
]

Direction = Literal["higher", "lower"]
Op = Literal["ge", "le", "eq", "range"]
Status = Literal["violation", "below_recommended", "meets", "exceeds"]
BaselineKind = Literal["recommended", "mandatory"]
DeclarationErrorCode = Literal["required", "order", "not_finite", "unbounded", "invalid"]

REL_TOL = 1e-9
"""Values this close count as equal, so 3300 mL converted to L still meets a 3.30 L limit."""


def _sign(direction: str) -> int:
    if direction == "higher":
        return 1
    if direction == "lower":
        return -1
    raise ValueError(f"direction must be 'higher' or 'lower', got {direction!r}")


def _cmp(a: float, b: float, sign: int) -> int:
    """1 if ``a`` is better than ``b``, -1 if worse, 0 if equal within REL_TOL."""
    if math.isclose(a, b, rel_tol=REL_TOL):
        return 0
    return 1 if sign * a > sign * b else -1


def _is_finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        return False
    return math.isfinite(float(value))


@dataclass(frozen=True)
class Grade:
    """One step of a grading scale (能效/水效等级), e.g. ``Grade("1级", 5.00)``."""

    label: str
    threshold: float


@dataclass(frozen=True)
class Benchmark:
    """What a category's indicator is judged against, all in ``unit``.

    ``mandatory_limit`` is the 限定值 of a mandatory standard; ``recommended_value`` comes from a
    recommended standard and going below it must be stated (明示). ``grades`` may be given in
    any order and are stored best first.
    """

    direction: Direction
    unit: str
    mandatory_limit: float | None = None
    mandatory_source: str | None = None
    recommended_value: float | None = None
    recommended_source: str | None = None
    grades: tuple[Grade, ...] = ()

    def __post_init__(self) -> None:
        sign = _sign(self.direction)
        for name in ("mandatory_limit", "recommended_value"):
            value = getattr(self, name)
            if value is not None:
                if not _is_finite_number(value):
                    raise ValueError(f"{name} must be a finite number, got {value!r}")
                object.__setattr__(self, name, float(value))
        for grade in self.grades:
            if not _is_finite_number(grade.threshold):
                raise ValueError(
                    f"threshold of grade {grade.label!r} must be a finite number, "
                    f"got {grade.threshold!r}"
                )
        grades = (Grade(g.label, float(g.threshold)) for g in self.grades)
        best_first = tuple(sorted(grades, key=lambda g: -sign * g.threshold))
        for better, worse in zip(best_first, best_first[1:]):
            if _cmp(better.threshold, worse.threshold, sign) == 0:
                raise ValueError(
                    f"grades {better.label!r} and {worse.label!r} share the threshold "
                    f"{better.threshold!r}; a value could not tell them apart"
                )
        object.__setattr__(self, "grades", best_first)


@dataclass(frozen=True)
class Declared:
    """A value as an enterprise declares it: ``≥ value``, ``≤ value``, ``= value`` or a range."""

    op: Op
    unit: str
    value: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Distance:
    """How far the value is from the threshold its status is about, for people to read.

    A violation is measured from the mandatory limit, a shortfall from the recommended value,
    a grade from that grade's threshold (otherwise the recommended value, else the limit).
    ``pct`` is the gap in percent of ``|threshold|`` (None for a zero threshold), always
    positive; ``side`` says on which side of the threshold the value lies *numerically*
    ("above", "below" or "at"), so "4.0 L is 5 % below the 1级 threshold" reads right for a
    lower-is-better indicator as much as "3.5 W/W is 6 % above" does for a higher one.
    """

    kind: Literal["mandatory", "recommended", "grade"]
    threshold: float
    label: str | None
    pct: float | None
    side: Literal["above", "below", "at"]


@dataclass(frozen=True)
class Comparison:
    """The verdict on one declared indicator, with the benchmark figures it was judged by.

    ``margin_pct`` is measured from ``baseline`` (the recommended value, else the limit), as
    the rankings use it; ``distance`` is what a person reads (see ``Distance``).
    """

    status: Status
    guaranteed: float
    grade: str | None
    baseline: float | None
    baseline_kind: BaselineKind | None
    margin_pct: float | None
    needs_mingshi: bool
    mandatory_limit: float | None
    mandatory_source: str | None
    recommended_value: float | None
    recommended_source: str | None
    distance: Distance | None = None


class DeclarationError(ValueError):
    """A declaration that cannot be judged; ``field`` names the form field to point at."""

    def __init__(self, message: str, *, field: str, code: DeclarationErrorCode) -> None:
        super().__init__(message)
        self.field = field
        self.code: DeclarationErrorCode = code


def _number(declared: Declared, field: str) -> float:
    raw = getattr(declared, field)
    if raw is None:
        raise DeclarationError(
            f"{field} is required when op is {declared.op!r}", field=field, code="required"
        )
    if not _is_finite_number(raw):
        raise DeclarationError(
            f"{field} must be a finite number, got {raw!r}", field=field, code="not_finite"
        )
    return float(raw)


def _guaranteed(declared: Declared, sign: int) -> tuple[str, float]:
    """The field holding the worst case the declaration promises, and its value."""
    if declared.op == "eq":
        return "value", _number(declared, "value")
    if declared.op == "range":
        low, high = _number(declared, "low"), _number(declared, "high")
        if low > high:
            raise DeclarationError(
                f"low ({low!r}) must not be greater than high ({high!r})",
                field="low",
                code="order",
            )
        return ("low", low) if sign > 0 else ("high", high)
    if declared.op in ("ge", "le"):
        bounded, worse, symbol = ("ge", "low", "≥") if sign > 0 else ("le", "high", "≤")
        if declared.op != bounded:
            raise DeclarationError(
                f"{declared.op!r} bounds the value on the better side only, so it guarantees "
                f"nothing about how {worse} it may be; for this indicator declare "
                f"{bounded!r} ({symbol}), 'eq' or a 'range'",
                field="op",
                code="unbounded",
            )
        return "value", _number(declared, "value")
    raise DeclarationError(
        f"op must be one of 'ge', 'le', 'eq', 'range', got {declared.op!r}",
        field="op",
        code="invalid",
    )


def guaranteed_value(declared: Declared, direction: Direction) -> float:
    """The worst value the declaration still promises, in the declared unit.

    Only this value can be held against a 限定值: a range promises its worse end, and a bound
    on the better side (``≤`` when higher is better) promises nothing and is refused.
    """
    return _guaranteed(declared, _sign(direction))[1]


def grade_for(value: float, benchmark: Benchmark) -> str | None:
    """The best grade (能效等级) ``value`` reaches; reaching a threshold exactly counts."""
    sign = _sign(benchmark.direction)
    for grade in benchmark.grades:
        if _cmp(value, grade.threshold, sign) >= 0:
            return grade.label
    return None


def margin_pct(value: float, baseline: float, direction: Direction) -> float | None:
    """How far ``value`` is beyond ``baseline`` in percent, positive when better.

    Relative to ``|baseline|`` so the sign keeps its meaning for negative baselines; None for a
    zero baseline, where a percentage means nothing.
    """
    sign = _sign(direction)
    if baseline == 0:
        return None
    if math.isclose(value, baseline, rel_tol=REL_TOL):
        return 0.0
    return sign * (value - baseline) / abs(baseline) * 100.0


def distance_for(
    value: float, status: Status, grade: str | None, benchmark: Benchmark
) -> Distance | None:
    """The ``Distance`` of a judged value (also for a stored comparison read back)."""
    kind: Literal["mandatory", "recommended", "grade"]
    label = None
    if status == "violation" and benchmark.mandatory_limit is not None:
        kind, threshold = "mandatory", benchmark.mandatory_limit
    elif status == "below_recommended" and benchmark.recommended_value is not None:
        kind, threshold = "recommended", benchmark.recommended_value
    elif grade is not None and any(g.label == grade for g in benchmark.grades):
        kind, label = "grade", grade
        threshold = next(g.threshold for g in benchmark.grades if g.label == grade)
    elif benchmark.recommended_value is not None:
        kind, threshold = "recommended", benchmark.recommended_value
    elif benchmark.mandatory_limit is not None:
        kind, threshold = "mandatory", benchmark.mandatory_limit
    else:
        return None
    if math.isclose(value, threshold, rel_tol=REL_TOL):
        return Distance(kind, threshold, label, 0.0, "at")
    pct = None if threshold == 0 else abs(value - threshold) / abs(threshold) * 100.0
    return Distance(kind, threshold, label, pct, "above" if value > threshold else "below")


def compare(declared: Declared, benchmark: Benchmark) -> Comparison:
    """Judge ``declared`` against ``benchmark``; DeclarationError or units.UnitError if it can't.

    Only the guaranteed value is converted to the benchmark unit: unit conversions are
    increasing, so the worse end stays the worse end.
    """
    sign = _sign(benchmark.direction)
    field, raw = _guaranteed(declared, sign)
    guaranteed = float(units.convert(raw, declared.unit, benchmark.unit))
    if not math.isfinite(guaranteed):
        raise DeclarationError(
            f"{field} {raw!r} {declared.unit} is out of range in {benchmark.unit}",
            field=field,
            code="not_finite",
        )

    mandatory, recommended = benchmark.mandatory_limit, benchmark.recommended_value
    baseline: float | None
    baseline_kind: BaselineKind | None
    if recommended is not None:
        baseline, baseline_kind = recommended, "recommended"
    elif mandatory is not None:
        baseline, baseline_kind = mandatory, "mandatory"
    else:
        baseline, baseline_kind = None, None

    status: Status
    if mandatory is not None and _cmp(guaranteed, mandatory, sign) < 0:
        status = "violation"
    elif recommended is not None and _cmp(guaranteed, recommended, sign) < 0:
        status = "below_recommended"
    elif baseline is not None and _cmp(guaranteed, baseline, sign) > 0:
        status = "exceeds"
    else:
        status = "meets"

    grade = grade_for(guaranteed, benchmark)
    return Comparison(
        status=status,
        guaranteed=guaranteed,
        grade=grade,
        baseline=baseline,
        baseline_kind=baseline_kind,
        margin_pct=(
            None if baseline is None else margin_pct(guaranteed, baseline, benchmark.direction)
        ),
        needs_mingshi=status == "below_recommended",
        mandatory_limit=mandatory,
        mandatory_source=benchmark.mandatory_source,
        recommended_value=recommended,
        recommended_source=benchmark.recommended_source,
        distance=distance_for(guaranteed, status, grade, benchmark),
    )
