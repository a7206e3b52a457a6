"""Server-side SVG charts (ranking/charts.py): valid XML, and the floor line, the grade lines
and the tier bands drawn where their values say, for small known datasets."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ranking import charts

SVG = "{http://www.w3.org/2000/svg}"
APF_GRADES = [["1级", 5.00], ["2级", 4.50], ["3级", 4.00], ["4级", 3.50], ["5级", 3.30]]
APF_VALUES = [3.4, 3.6, 4.2, 4.6, 4.8, 5.1, 5.3]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [
        el for el in root.iter(f"{SVG}{tag}") if cls in (el.get("class") or "").split()
    ]


def x_of(value: float, lo: float, hi: float) -> float:
    """The expected x: the plotting area runs from MARGIN_LEFT to WIDTH - MARGIN_RIGHT."""
    left, right = charts.MARGIN_LEFT, charts.WIDTH - charts.MARGIN_RIGHT
    return round(left + (value - lo) / (hi - lo) * (right - left), 2)


def apf_chart(**kw):
    bands = charts.tier_bands(direction="higher", floor=3.3, cuts=[5.0, 4.5])
    return charts.indicator_chart(
        APF_VALUES,
        chart_id="apf",
        title="APF <W/W> & grades",
        unit="W/W",
        direction="higher",
        floor=3.3,
        floor_label="Floor 3.3",
        grades=APF_GRADES,
        bands=bands,
        lo=3.0,
        hi=6.0,
        bins=6,
        **kw,
    )


def test_indicator_chart_is_valid_svg_with_accessible_title():
    chart = apf_chart()
    root = parse(chart.svg)
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "APF <W/W> & grades"  # escaped, then read back
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "apf-title apf-desc"
    assert root.get("viewBox") == f"0 0 {charts.WIDTH} {charts.HEIGHT}"


def test_floor_line_sits_at_the_floor_value():
    root = parse(apf_chart().svg)
    (floor,) = by_class(root, "line", "floor-line")
    assert floor.get("data-value") == "3.3"
    assert float(floor.get("x1")) == float(floor.get("x2")) == x_of(3.3, 3.0, 6.0) == 105.6


def test_grade_lines_at_each_grade_threshold_except_the_one_equal_to_the_floor():
    root = parse(apf_chart().svg)
    lines = {
        el.get("data-label"): float(el.get("x1")) for el in by_class(root, "line", "grade-line")
    }
    assert lines == {
        "1级": x_of(5.0, 3.0, 6.0),
        "2级": x_of(4.5, 3.0, 6.0),
        "3级": x_of(4.0, 3.0, 6.0),
        "4级": x_of(3.5, 3.0, 6.0),
    }
    assert lines["1级"] == 432.0 and lines["2级"] == 336.0
    labels = [el.text for el in by_class(root, "text", "grade-label")]
    assert labels == ["1级", "2级", "3级", "4级"]


def test_tier_bands_cover_their_value_ranges_higher_is_better():
    root = parse(apf_chart().svg)
    rects = {int(r.get("data-tier")): r for r in by_class(root, "rect", "tier-band")}
    assert sorted(rects) == [1, 2, 3]

    def span(r):
        return float(r.get("x")), round(float(r.get("x")) + float(r.get("width")), 2)

    right = charts.WIDTH - charts.MARGIN_RIGHT
    assert span(rects[1]) == (x_of(5.0, 3, 6), right)  # [5.0, ∞): to the end of the axis
    assert span(rects[2]) == (x_of(4.5, 3, 6), x_of(5.0, 3, 6))  # [4.5, 5.0)
    assert span(rects[3]) == (x_of(3.3, 3, 6), x_of(4.5, 3, 6))  # [floor, 4.5)
    assert rects[1].get("data-lo") == "5" and rects[1].get("data-hi") == ""


def test_tier_bands_lower_is_better():
    bands = charts.tier_bands(direction="lower", floor=6.4, cuts=[4.0, 5.0])
    assert [(b.tier, b.lo, b.hi) for b in bands] == [
        (1, None, 4.0),
        (2, 4.0, 5.0),
        (3, 5.0, 6.4),
    ]
    chart = charts.indicator_chart(
        [3.8, 4.4, 4.9, 6.0],
        chart_id="water",
        title="Water",
        unit="L",
        direction="lower",
        floor=6.4,
        grades=[["1级", 4.0], ["2级", 5.0], ["3级", 6.4]],
        bands=bands,
        lo=3.0,
        hi=7.0,
    )
    root = parse(chart.svg)
    rects = {int(r.get("data-tier")): r for r in by_class(root, "rect", "tier-band")}
    assert float(rects[1].get("x")) == charts.MARGIN_LEFT  # (−∞, 4.0]: from the axis start
    assert round(float(rects[1].get("x")) + float(rects[1].get("width")), 2) == x_of(4.0, 3, 7)
    assert float(rects[3].get("x")) == x_of(5.0, 3, 7)
    (floor,) = by_class(root, "line", "floor-line")
    assert float(floor.get("x1")) == x_of(6.4, 3, 7)
    # The floor of a lower-is-better indicator is its largest allowed value: rightmost line.
    assert max(float(el.get("x1")) for el in by_class(root, "line", "mark")) == x_of(6.4, 3, 7)


def test_percentile_bands_come_from_the_observed_tier_ranges():
    bands = charts.tier_bands(
        direction="higher",
        floor=3.3,
        cuts=[10, 50],
        cut_mode="percentiles",
        observed={2: (4.0, 4.6, 3), 1: (5.0, 5.3, 1), 3: (3.4, 3.9, 4)},
    )
    assert [(b.tier, b.lo, b.hi, b.count) for b in bands] == [
        (1, 5.0, 5.3, 1),
        (2, 4.0, 4.6, 3),
        (3, 3.4, 3.9, 4),
    ]


def test_histogram_counts_every_value_once():
    chart = apf_chart()
    assert sum(b.count for b in chart.bins) == len(APF_VALUES) == chart.count
    assert [b.count for b in chart.bins] == [1, 1, 1, 2, 2, 0]  # bins of 0.5 from 3.0
    root = parse(chart.svg)
    bars = by_class(root, "rect", "hist-bar")
    assert sum(int(b.get("data-count")) for b in bars) == len(APF_VALUES)
    tallest = max(bars, key=lambda b: float(b.get("height")))
    assert int(tallest.get("data-count")) == 2


def test_default_range_includes_the_data_and_every_line_with_round_bins():
    chart = charts.indicator_chart(
        [4.6, 4.7, 4.558], chart_id="c", title="t", floor=3.3, grades=APF_GRADES
    )
    assert chart.frame.lo < 3.3 and chart.frame.hi > 5.0
    assert (chart.frame.lo, chart.frame.hi) == (3.2, 5.1)
    assert all(round(b.hi - b.lo, 9) == 0.1 for b in chart.bins)
    assert [(round(b.lo, 6), b.count) for b in chart.bins if b.count] == [
        (4.5, 1),
        (4.6, 1),
        (4.7, 1),
    ]


def test_all_equal_and_empty_data_still_make_valid_charts():
    same = charts.indicator_chart([0.5, 0.5, 0.5], chart_id="eq", title="equal", floor=1.0)
    root = parse(same.svg)
    assert sum(int(b.get("data-count")) for b in by_class(root, "rect", "hist-bar")) == 3
    empty = charts.indicator_chart([], chart_id="none", title="none")
    root = parse(empty.svg)
    assert by_class(root, "rect", "hist-bar") == []
    assert empty.count == 0


def test_composite_chart_marks_the_leader_cut_and_the_star_cuts():
    chart = charts.composite_chart(
        [0.2, 0.5, 0.71, 0.83, 0.95],
        chart_id="comp",
        title="Composite",
        leader_cut=0.71,
        leader_label="Leaders",
        star_cuts=[0.9, 0.8],
        star_label="{n} stars",
    )
    root = parse(chart.svg)
    (leader,) = by_class(root, "line", "leader-line")
    stars = {
        el.get("data-label"): float(el.get("x1")) for el in by_class(root, "line", "star-line")
    }
    assert set(stars) == {"2 stars", "1 stars"}
    assert float(leader.get("x1")) == chart.frame.x(0.71)
    assert stars["2 stars"] == chart.frame.x(0.9) > stars["1 stars"] == chart.frame.x(0.8)
    assert sum(b.count for b in chart.bins) == 5


def test_chart_ids_keep_several_charts_on_one_page_apart():
    a = parse(apf_chart().svg)
    b = parse(charts.indicator_chart([1, 2], chart_id="other", title="x").svg)
    assert a.get("id") != b.get("id")
    assert a.find(f"{SVG}title").get("id") == "apf-title"


@pytest.mark.parametrize(
    ("value", "text"), [(3.3, "3.3"), (5.0, "5"), (0.123456, "0.1235"), (None, "")]
)
def test_fmt(value, text):
    assert charts.fmt(value) == text


def test_nice_ticks_are_round_and_inside_the_range():
    ticks = charts.nice_ticks(3.0, 6.0)
    assert ticks[0] >= 3.0 and ticks[-1] <= 6.0
    assert ticks == [3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0]
