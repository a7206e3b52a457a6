"""Issue 9, finding 8: the distance a person reads is measured from the threshold its status
is about (a violation from the limit, a shortfall from the recommended value, a grade from its
threshold) and says on which side the value lies."""

from __future__ import annotations

import pytest

from benchmarks.compare import Benchmark, Declared, Grade, compare, distance_for

APF = Benchmark(
    direction="higher",
    unit="W/W",
    mandatory_limit=3.30,
    mandatory_source="GB 21455-2019",
    recommended_value=4.50,
    recommended_source="GB 21455-2019",
    grades=(Grade("1级", 5.0), Grade("2级", 4.5), Grade("3级", 4.0), Grade("4级", 3.5),
            Grade("5级", 3.3)),
)
TOILET = Benchmark(
    direction="lower",
    unit="L",
    mandatory_limit=6.4,
    mandatory_source="GB 25502-2017",
    recommended_value=5.0,
    recommended_source="GB 25502-2017",
    grades=(Grade("1级", 4.0), Grade("2级", 5.0), Grade("3级", 6.4)),
)


def ge(v, unit="W/W"):
    return Declared(op="ge", unit=unit, value=v)


def le(v, unit="L"):
    return Declared(op="le", unit=unit, value=v)


def test_violation_is_measured_from_the_limit_not_the_recommended_value():
    result = compare(ge(2.0), APF)
    assert result.status == "violation"
    # the old margin (from the recommended value) is what read "-55.6 %"; the limit is 3.30
    d = result.distance
    assert (d.kind, d.threshold, d.side) == ("mandatory", 3.30, "below")
    assert d.pct == pytest.approx((3.30 - 2.0) / 3.30 * 100)


def test_shortfall_is_measured_from_the_recommended_value():
    d = compare(ge(4.2), APF).distance
    assert (d.kind, d.threshold, d.side) == ("recommended", 4.5, "below")
    assert d.pct == pytest.approx(0.3 / 4.5 * 100)


def test_grade_is_measured_from_its_own_threshold():
    d = compare(ge(4.7), APF).distance
    assert (d.kind, d.label, d.threshold, d.side) == ("grade", "2级", 4.5, "above")
    assert d.pct == pytest.approx(0.2 / 4.5 * 100)


def test_lower_is_better_reads_in_its_own_direction():
    violation = compare(le(7.0), TOILET).distance
    assert (violation.kind, violation.side) == ("mandatory", "above")
    assert violation.pct == pytest.approx(0.6 / 6.4 * 100)
    graded = compare(le(3.8), TOILET).distance
    assert (graded.kind, graded.label, graded.side) == ("grade", "1级", "below")
    assert graded.pct == pytest.approx(5.0)


def test_exactly_at_a_threshold():
    d = compare(ge(4.50), APF).distance
    assert (d.kind, d.label, d.side, d.pct) == ("grade", "2级", "at", 0.0)
    at_limit = compare(ge(3.30), APF).distance  # allowed, but short of the recommended value
    assert (at_limit.kind, at_limit.side) == ("recommended", "below")


def test_distance_from_stored_values_matches_the_live_one():
    live = compare(ge(4.05), APF)
    assert distance_for(live.guaranteed, live.status, live.grade, APF) == live.distance
