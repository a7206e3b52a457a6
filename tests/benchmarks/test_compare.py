"""Scoring declared indicators against benchmarks (benchmarks.compare)."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.compare import (
    Benchmark,
    Comparison,
    DeclarationError,
    Declared,
    Distance,
    Grade,
    compare,
    grade_for,
    guaranteed_value,
    margin_pct,
)
from benchmarks.units import UnitError

# GB 21455-2019, 房间空气调节器 APF: 限定值 = grade 5; 节能评价值 = grade 2.
APF = Benchmark(
    direction="higher",
    unit="W/W",
    mandatory_limit=3.30,
    mandatory_source="GB 21455-2019",
    recommended_value=4.50,
    recommended_source="GB 21455-2019",
    grades=(
        Grade("3级", 4.00),
        Grade("5级", 3.30),
        Grade("1级", 5.00),
        Grade("4级", 3.50),
        Grade("2级", 4.50),
    ),
)

# GB 30255-2019, LED 筒灯 (≤5 W) initial efficacy; grade 3 is the minimum allowed.
LED_DOWNLIGHT = Benchmark(
    direction="higher",
    unit="lm/W",
    mandatory_limit=60.0,
    mandatory_source="GB 30255-2019",
    grades=(Grade("1级", 95.0), Grade("2级", 80.0), Grade("3级", 60.0)),
)

# GB 25502-2017, 坐便器 average water use, lower is better; grade 3 is the 限定值.
TOILET = Benchmark(
    direction="lower",
    unit="L",
    mandatory_limit=6.4,
    mandatory_source="GB 25502-2017",
    grades=(Grade("3级", 6.4), Grade("1级", 4.0), Grade("2级", 5.0)),
)


def eq(value: float, unit: str) -> Declared:
    return Declared(op="eq", unit=unit, value=value)


# --- real examples ------------------------------------------------------------------------


def test_apf_grades_are_stored_best_first() -> None:
    assert [g.label for g in APF.grades] == ["1级", "2级", "3级", "4级", "5级"]
    assert [g.threshold for g in APF.grades] == [5.0, 4.5, 4.0, 3.5, 3.3]


@pytest.mark.parametrize(
    ("declared", "status", "guaranteed", "grade", "margin"),
    [
        (eq(5.20, "W/W"), "exceeds", 5.20, "1级", 15.555555555555557),
        (eq(5.00, "W/W"), "exceeds", 5.00, "1级", 11.111111111111111),
        (eq(4.50, "W/W"), "meets", 4.50, "2级", 0.0),
        (Declared("ge", "W/W", value=4.20), "below_recommended", 4.20, "3级", -6.666666666666663),
        (eq(3.50, "W/W"), "below_recommended", 3.50, "4级", -22.22222222222222),
        (eq(3.30, "W/W"), "below_recommended", 3.30, "5级", -26.666666666666668),
        (eq(3.29, "W/W"), "violation", 3.29, None, -26.888888888888886),
        (Declared("range", "W/W", low=4.10, high=5.10), "below_recommended", 4.10, "3级", None),
        (Declared("range", "", low=4.60, high=5.10), "exceeds", 4.60, "2级", None),
        (eq(330, "%"), "below_recommended", 3.30, "5级", None),
        (eq(5, "1"), "exceeds", 5.0, "1级", None),
        (Declared("ge", "瓦/瓦", value=4.5), "meets", 4.5, "2级", 0.0),
    ],
)
def test_air_conditioner_apf(
    declared: Declared, status: str, guaranteed: float, grade: str | None, margin: float | None
) -> None:
    result = compare(declared, APF)
    assert result.status == status
    assert result.guaranteed == pytest.approx(guaranteed, rel=1e-12)
    assert result.grade == grade
    assert result.baseline == 4.50
    assert result.baseline_kind == "recommended"
    assert result.needs_mingshi is (status == "below_recommended")
    if margin is not None:
        assert result.margin_pct == pytest.approx(margin, rel=1e-12)
    assert result.mandatory_limit == 3.30
    assert result.mandatory_source == "GB 21455-2019"
    assert result.recommended_value == 4.50
    assert result.recommended_source == "GB 21455-2019"


def test_apf_full_comparison_record() -> None:
    assert compare(eq(4.2, "W/W"), APF) == Comparison(
        status="below_recommended",
        guaranteed=4.2,
        grade="3级",
        baseline=4.5,
        baseline_kind="recommended",
        margin_pct=pytest.approx(-6.666666666666667, rel=1e-12),
        needs_mingshi=True,
        mandatory_limit=3.3,
        mandatory_source="GB 21455-2019",
        recommended_value=4.5,
        recommended_source="GB 21455-2019",
        distance=Distance("recommended", 4.5, None, pytest.approx(6.666666666666667), "below"),
    )


def test_percent_conversion_landing_on_the_limit_is_not_a_violation() -> None:
    result = compare(eq(330, "%"), APF)
    assert result.guaranteed == 330 * 0.01
    assert math.isclose(result.guaranteed, 3.30, rel_tol=1e-12)
    assert result.status == "below_recommended"
    assert result.grade == "5级"
    assert result.margin_pct == pytest.approx(-26.666666666666668)


@pytest.mark.parametrize(
    ("declared", "status", "grade", "margin"),
    [
        (eq(100.0, "lm/W"), "exceeds", "1级", 66.66666666666667),
        (eq(95.0, "lm/w"), "exceeds", "1级", 58.333333333333336),
        (Declared("ge", "流明/瓦", value=85.0), "exceeds", "2级", 41.66666666666667),
        (eq(60.0, "lm/W"), "meets", "3级", 0.0),
        (eq(59.9, "lm/W"), "violation", None, -0.16666666666666907),
        (Declared("range", "lm/W", low=58.0, high=90.0), "violation", None, -3.3333333333333335),
    ],
)
def test_led_downlight_efficacy(
    declared: Declared, status: str, grade: str | None, margin: float
) -> None:
    result = compare(declared, LED_DOWNLIGHT)
    assert result.status == status
    assert result.grade == grade
    assert result.baseline == 60.0
    assert result.baseline_kind == "mandatory"
    assert result.margin_pct == pytest.approx(margin, rel=1e-12)
    assert result.needs_mingshi is False
    assert result.recommended_value is None
    assert result.recommended_source is None


@pytest.mark.parametrize(
    ("declared", "status", "guaranteed", "grade", "margin"),
    [
        (Declared("le", "L", value=4.0), "exceeds", 4.0, "1级", 37.5),
        (Declared("le", "L", value=3.5), "exceeds", 3.5, "1级", 45.3125),
        (eq(5.0, "升"), "exceeds", 5.0, "2级", 21.875),
        (Declared("range", "L", low=4.5, high=6.0), "exceeds", 6.0, "3级", 6.25),
        (Declared("le", "L", value=6.4), "meets", 6.4, "3级", 0.0),
        (Declared("le", "mL", value=6400), "meets", 6.4, "3级", 0.0),
        (Declared("le", "毫升", value=3300), "exceeds", 3.3, "1级", 48.4375),
        (Declared("le", "L", value=6.5), "violation", 6.5, None, -1.5625),
        (Declared("range", "L", low=3.0, high=6.8), "violation", 6.8, None, -6.25),
    ],
)
def test_toilet_water_use(
    declared: Declared, status: str, guaranteed: float, grade: str | None, margin: float
) -> None:
    result = compare(declared, TOILET)
    assert result.status == status
    assert result.guaranteed == pytest.approx(guaranteed, rel=1e-12)
    assert result.grade == grade
    assert result.baseline == 6.4
    assert result.baseline_kind == "mandatory"
    assert result.margin_pct == pytest.approx(margin, rel=1e-9, abs=1e-12)
    assert result.mandatory_source == "GB 25502-2017"


# --- statuses and baselines ----------------------------------------------------------------

RECOMMENDED_ONLY = Benchmark(
    direction="lower", unit="dBA", recommended_value=40.0, recommended_source="GB/T 1234-2020"
)


@pytest.mark.parametrize(
    ("value", "status", "margin"),
    [(42.0, "below_recommended", -5.0), (40.0, "meets", 0.0), (36.0, "exceeds", 10.0)],
)
def test_recommended_only(value: float, status: str, margin: float) -> None:
    result = compare(eq(value, "dB(A)"), RECOMMENDED_ONLY)
    assert result.status == status
    assert result.needs_mingshi is (status == "below_recommended")
    assert result.baseline == 40.0
    assert result.baseline_kind == "recommended"
    assert result.margin_pct == pytest.approx(margin)
    assert result.mandatory_limit is None
    assert result.grade is None


def test_no_baseline_always_meets_but_still_grades() -> None:
    bench = Benchmark(direction="higher", unit="lm/W", grades=(Grade("A", 100.0),))
    for value, grade in ((150.0, "A"), (100.0, "A"), (1.0, None)):
        result = compare(eq(value, "lm/W"), bench)
        assert result.status == "meets"
        assert result.grade == grade
        assert result.baseline is None
        assert result.baseline_kind is None
        assert result.margin_pct is None
        assert result.needs_mingshi is False


def test_zero_baseline_has_no_margin() -> None:
    bench = Benchmark(direction="lower", unit="%", mandatory_limit=0.0, mandatory_source="GB X")
    clean = compare(eq(0.0, "%"), bench)
    assert (clean.status, clean.margin_pct, clean.baseline) == ("meets", None, 0.0)
    dirty = compare(eq(0.1, "%"), bench)
    assert (dirty.status, dirty.margin_pct) == ("violation", None)
    assert margin_pct(5.0, 0.0, "higher") is None


def test_recommended_baseline_wins_over_mandatory_even_when_laxer() -> None:
    bench = Benchmark(direction="higher", unit="", mandatory_limit=5.0, recommended_value=4.0)
    between = compare(eq(4.5, ""), bench)
    assert between.status == "violation"
    assert between.baseline == 4.0
    assert between.margin_pct == pytest.approx(12.5)
    assert compare(eq(5.0, ""), bench).status == "exceeds"


def test_status_uses_benchmark_unit_after_conversion() -> None:
    bench = Benchmark(direction="lower", unit="mL", mandatory_limit=6400.0)
    result = compare(Declared("le", "L", value=6.4), bench)
    assert result.status == "meets"
    assert result.guaranteed == pytest.approx(6400.0)
    assert result.margin_pct == 0.0


# --- ops and guaranteed value --------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "direction", "expected"),
    [
        (Declared("eq", "L", value=5.0), "higher", 5.0),
        (Declared("eq", "L", value=5.0), "lower", 5.0),
        (Declared("ge", "L", value=4.5), "higher", 4.5),
        (Declared("le", "L", value=6.4), "lower", 6.4),
        (Declared("range", "L", low=4.0, high=6.0), "higher", 4.0),
        (Declared("range", "L", low=4.0, high=6.0), "lower", 6.0),
        (Declared("range", "L", low=5.0, high=5.0), "lower", 5.0),
        (Declared("eq", "L", value=Decimal("4.25")), "lower", 4.25),
        (Declared("eq", "L", value=3), "lower", 3.0),
    ],
)
def test_guaranteed_value(declared: Declared, direction: str, expected: float) -> None:
    result = guaranteed_value(declared, direction)  # type: ignore[arg-type]
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize(
    ("op", "direction", "suggest"),
    [("le", "higher", "'ge' (≥)"), ("ge", "lower", "'le' (≤)")],
)
def test_bound_on_the_better_side_is_unbounded(op: str, direction: str, suggest: str) -> None:
    declared = Declared(op, "W/W", value=4.5)  # type: ignore[arg-type]
    with pytest.raises(DeclarationError) as info:
        guaranteed_value(declared, direction)  # type: ignore[arg-type]
    assert (info.value.field, info.value.code) == ("op", "unbounded")
    assert suggest in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unbounded_through_compare() -> None:
    with pytest.raises(DeclarationError) as info:
        compare(Declared("ge", "L", value=4.0), TOILET)
    assert info.value.code == "unbounded"
    assert "how high" in str(info.value)


@pytest.mark.parametrize(
    ("declared", "field", "code"),
    [
        (Declared("eq", "L"), "value", "required"),
        (Declared("le", "L"), "value", "required"),
        (Declared("range", "L", high=5.0), "low", "required"),
        (Declared("range", "L", low=5.0), "high", "required"),
        (Declared("range", "L", low=6.0, high=5.0), "low", "order"),
        (Declared("eq", "L", value=math.nan), "value", "not_finite"),
        (Declared("le", "L", value=math.inf), "value", "not_finite"),
        (Declared("range", "L", low=-math.inf, high=5.0), "low", "not_finite"),
        (Declared("range", "L", low=1.0, high=math.nan), "high", "not_finite"),
        (Declared("eq", "L", value="4.5"), "value", "not_finite"),  # type: ignore[arg-type]
        (Declared("eq", "L", value=True), "value", "not_finite"),
        (Declared("eq", "L", value=Decimal("NaN")), "value", "not_finite"),  # type: ignore
        (Declared("gt", "L", value=4.0), "op", "invalid"),  # type: ignore[arg-type]
    ],
)
def test_malformed_declarations(declared: Declared, field: str, code: str) -> None:
    with pytest.raises(DeclarationError) as info:
        compare(declared, TOILET)
    assert (info.value.field, info.value.code) == (field, code)
    assert field in str(info.value)


def test_value_out_of_range_after_conversion() -> None:
    bench = Benchmark(direction="lower", unit="mL", mandatory_limit=6400.0)
    with pytest.raises(DeclarationError) as info:
        compare(Declared("le", "kL", value=1e308), bench)
    assert (info.value.field, info.value.code) == ("value", "not_finite")
    assert "out of range in mL" in str(info.value)


@pytest.mark.parametrize(
    ("declared_unit", "reason"),
    [("dBA", "incompatible"), ("L/min", "incompatible"), ("升/台", "unknown")],
)
def test_unit_errors_propagate(declared_unit: str, reason: str) -> None:
    with pytest.raises(UnitError) as info:
        compare(eq(5.0, declared_unit), TOILET)
    assert info.value.reason == reason
    assert (info.value.declared_unit, info.value.expected_unit) == (declared_unit, "L")


def test_direction_must_be_known() -> None:
    with pytest.raises(ValueError, match="direction must be 'higher' or 'lower'"):
        guaranteed_value(Declared("eq", "L", value=1.0), "up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'sideways'"):
        margin_pct(1.0, 2.0, "sideways")  # type: ignore[arg-type]


# --- benchmark validation ------------------------------------------------------------------


def test_benchmark_rejects_unknown_direction() -> None:
    with pytest.raises(ValueError, match="direction"):
        Benchmark(direction="more", unit="L")  # type: ignore[arg-type]


def test_benchmark_rejects_duplicate_thresholds() -> None:
    with pytest.raises(ValueError, match="'A' and 'B' share the threshold"):
        Benchmark(direction="higher", unit="", grades=(Grade("A", 4.5), Grade("B", 4.5)))
    with pytest.raises(ValueError, match="share the threshold"):
        Benchmark(
            direction="lower", unit="", grades=(Grade("A", 4.5), Grade("B", 4.5 * (1 + 1e-12)))
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mandatory_limit": math.nan},
        {"recommended_value": math.inf},
        {"mandatory_limit": "3.3"},
        {"grades": (Grade("1级", math.nan),)},
    ],
)
def test_benchmark_rejects_non_finite_figures(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be a finite number"):
        Benchmark(direction="higher", unit="W/W", **kwargs)


def test_benchmark_coerces_numbers_to_float() -> None:
    bench = Benchmark(
        direction="lower",
        unit="L",
        mandatory_limit=Decimal("6.4"),  # type: ignore[arg-type]
        recommended_value=5,
        grades=[Grade("1级", Decimal("4.0")), Grade("2级", 5)],  # type: ignore[arg-type]
    )
    assert type(bench.mandatory_limit) is float and bench.mandatory_limit == 6.4
    assert type(bench.recommended_value) is float
    assert bench.grades == (Grade("1级", 4.0), Grade("2级", 5.0))
    assert all(type(g.threshold) is float for g in bench.grades)
    assert compare(eq(4.8, "L"), bench).margin_pct == pytest.approx(4.0)


# --- grades --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        (5.0, "1级"),
        (4.999999999999, "1级"),
        (4.5, "2级"),
        (4.49, "3级"),
        (3.3, "5级"),
        (3.3 * (1 - 1e-12), "5级"),
        (3.29, None),
        (0.0, None),
        (100.0, "1级"),
    ],
)
def test_grade_for_higher_is_better(value: float, grade: str | None) -> None:
    assert grade_for(value, APF) == grade


@pytest.mark.parametrize(
    ("value", "grade"),
    [(3.0, "1级"), (4.0, "1级"), (4.01, "2级"), (5.0, "2级"), (6.4, "3级"), (6.41, None)],
)
def test_grade_for_lower_is_better(value: float, grade: str | None) -> None:
    assert grade_for(value, TOILET) == grade


def test_no_grades_means_no_grade() -> None:
    assert grade_for(1.0, Benchmark(direction="higher", unit="")) is None


# --- margin --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "baseline", "direction", "expected"),
    [
        (5.0, 4.0, "higher", 25.0),
        (3.0, 4.0, "higher", -25.0),
        (3.0, 4.0, "lower", 25.0),
        (5.0, 4.0, "lower", -25.0),
        (-20.0, -18.0, "lower", 100 * 2 / 18),
        (-16.0, -18.0, "lower", -100 * 2 / 18),
        (-16.0, -18.0, "higher", 100 * 2 / 18),
        (4.0 * (1 + 1e-12), 4.0, "higher", 0.0),
    ],
)
def test_margin_pct(value: float, baseline: float, direction: str, expected: float) -> None:
    assert margin_pct(value, baseline, direction) == pytest.approx(  # type: ignore[arg-type]
        expected, rel=1e-12
    )


# --- properties ----------------------------------------------------------------------------

STATUS_RANK = {"violation": 0, "below_recommended": 1, "meets": 2, "exceeds": 3}

numbers_ = st.one_of(
    st.integers(-100, 100).map(lambda i: i / 4),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
optional_numbers = st.one_of(st.none(), numbers_)


@st.composite
def benchmarks(draw: st.DrawFn) -> Benchmark:
    thresholds = draw(st.lists(st.integers(-100, 100), unique=True, max_size=5))
    return Benchmark(
        direction=draw(st.sampled_from(["higher", "lower"])),
        unit="",
        mandatory_limit=draw(optional_numbers),
        mandatory_source="M",
        recommended_value=draw(optional_numbers),
        recommended_source="R",
        grades=tuple(Grade(f"G{t}", t / 4) for t in thresholds),
    )


@st.composite
def declarations(draw: st.DrawFn, direction: str) -> Declared:
    op = draw(st.sampled_from(["eq", "range", "ge" if direction == "higher" else "le"]))
    if op == "range":
        low, high = sorted((draw(numbers_), draw(numbers_)))
        return Declared("range", "", low=low, high=high)
    return Declared(op, "", value=draw(numbers_))  # type: ignore[arg-type]


def mirror_benchmark(b: Benchmark) -> Benchmark:
    def neg(x: float | None) -> float | None:
        return None if x is None else -x

    return Benchmark(
        direction="lower" if b.direction == "higher" else "higher",
        unit=b.unit,
        mandatory_limit=neg(b.mandatory_limit),
        mandatory_source=b.mandatory_source,
        recommended_value=neg(b.recommended_value),
        recommended_source=b.recommended_source,
        grades=tuple(Grade(g.label, -g.threshold) for g in b.grades),
    )


def mirror_declared(d: Declared) -> Declared:
    if d.op == "range":
        assert d.low is not None and d.high is not None
        return Declared("range", d.unit, low=-d.high, high=-d.low)
    assert d.value is not None
    op = {"ge": "le", "le": "ge", "eq": "eq"}[d.op]
    return Declared(op, d.unit, value=-d.value)  # type: ignore[arg-type]


@given(st.data())
def test_direction_symmetry(data: st.DataObject) -> None:
    bench = data.draw(benchmarks())
    declared = data.draw(declarations(bench.direction))
    original = compare(declared, bench)
    mirrored = compare(mirror_declared(declared), mirror_benchmark(bench))
    assert mirrored.status == original.status
    assert mirrored.grade == original.grade
    assert mirrored.margin_pct == original.margin_pct
    assert mirrored.guaranteed == -original.guaranteed
    assert mirrored.baseline == (None if original.baseline is None else -original.baseline)
    assert mirrored.baseline_kind == original.baseline_kind
    assert mirrored.needs_mingshi == original.needs_mingshi


def _grade_rank(bench: Benchmark, label: str | None) -> int:
    labels = [g.label for g in bench.grades]
    return len(labels) if label is None else labels.index(label)


@given(benchmarks(), numbers_, numbers_)
def test_monotonicity(bench: Benchmark, a: float, b: float) -> None:
    worse, better = sorted((a, b)) if bench.direction == "higher" else sorted((a, b), reverse=True)
    w, g = compare(eq(worse, ""), bench), compare(eq(better, ""), bench)
    assert STATUS_RANK[g.status] >= STATUS_RANK[w.status]
    assert _grade_rank(bench, g.grade) <= _grade_rank(bench, w.grade)
    if w.margin_pct is not None:
        assert g.margin_pct is not None
        assert g.margin_pct >= w.margin_pct


@given(st.sampled_from(["higher", "lower"]), numbers_, numbers_)
def test_range_guarantees_its_worse_end(direction: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    declared = Declared("range", "", low=low, high=high)
    value = guaranteed_value(declared, direction)  # type: ignore[arg-type]
    if direction == "higher":
        assert value <= low and value <= high
    else:
        assert value >= low and value >= high
    assert value in (low, high)


@given(benchmarks(), numbers_)
def test_status_agrees_with_its_definition(bench: Benchmark, value: float) -> None:
    result = compare(eq(value, ""), bench)
    sign = 1 if bench.direction == "higher" else -1

    def worse_than(ref: float | None) -> bool:
        if ref is None or math.isclose(value, ref, rel_tol=1e-9):
            return False
        return sign * value < sign * ref

    if worse_than(bench.mandatory_limit):
        assert result.status == "violation"
    elif worse_than(bench.recommended_value):
        assert result.status == "below_recommended"
    else:
        assert result.status in ("meets", "exceeds")
    assert result.needs_mingshi is (result.status == "below_recommended")
    reached = [g.label for g in bench.grades if not worse_than(g.threshold)]
    assert result.grade == (reached[0] if reached else None)


def test_comparison_is_frozen() -> None:
    result = compare(eq(4.5, "W/W"), APF)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = "violation"  # type: ignore[misc]
