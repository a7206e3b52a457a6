"""Server-side SVG charts for every page: pure functions, no Flask, no JavaScript, no CDN,
no domain (callers pass translated labels, colours and the data-* attributes they test).

* ``histogram_chart``: a distribution with value bands (tiers) and vertical reference lines
  (ranking's indicator and composite charts, ``ranking/charts.py``);
* ``hbar_chart``: horizontal bars per row, stacked segments and several bars per row, with an
  optional legend and value ticks (inspection results, sampling strata, risk-flag counts);
* ``scale_bar``: a small track with reference lines and a dot (a declared value against its
  benchmark), drawn the same on a static page and in the live form.

A chart comes back with the numbers it draws (bins, bands, marks, bar geometry), so a page shows
the same numbers as a table next to the chart. Every text and attribute is escaped here.
Geometry is deterministic and exposed (:class:`Frame`), so tests can check that lines and bands
sit where their values say.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

WIDTH = 640
HEIGHT = 300
MARGIN_LEFT = 48
MARGIN_RIGHT = 16
MARGIN_TOP = 40
MARGIN_BOTTOM = 58
DEFAULT_BINS = 20

# Tier bands: alternating soft colours, best tier greenest; a band never hides the bars.
TIER_FILLS = ("#c8e6c9", "#dcedc8", "#f0f4c3", "#fff9c4", "#ffecb3", "#ffe0b2", "#ffccbc")
BAR_FILL = "#546e7a"
FLOOR_STROKE = "#c62828"
GRADE_STROKE = "#1565c0"
LEADER_STROKE = "#b71c1c"


@dataclass(frozen=True)
class Bin:
    """One histogram bar: values in ``[lo, hi)`` (the last bin also holds ``hi``)."""

    lo: float
    hi: float
    count: int


@dataclass(frozen=True)
class Band:
    """The value range of one tier (档); ``None`` ends are open (the band reaches the axis end)."""

    tier: int
    lo: float | None
    hi: float | None
    count: int = 0


@dataclass(frozen=True)
class Mark:
    """A vertical reference line: the floor, a grade threshold, the leaders' cut."""

    kind: str  # "floor" | "grade" | "leader" | "star"
    label: str
    value: float


@dataclass(frozen=True)
class Frame:
    """The plotting area and the linear value → x mapping of one chart."""

    lo: float
    hi: float
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def left(self) -> float:
        return MARGIN_LEFT

    @property
    def right(self) -> float:
        return self.width - MARGIN_RIGHT

    @property
    def top(self) -> float:
        return MARGIN_TOP

    @property
    def bottom(self) -> float:
        return self.height - MARGIN_BOTTOM

    def x(self, value: float) -> float:
        """x of ``value``, clipped to the plotting area."""
        span = self.hi - self.lo
        pos = self.left + (value - self.lo) / span * (self.right - self.left)
        return round(min(max(pos, self.left), self.right), 2)

    def y(self, count: float, top_count: float) -> float:
        if top_count <= 0:
            return self.bottom
        return round(self.bottom - count / top_count * (self.bottom - self.top), 2)


@dataclass
class Chart:
    svg: str
    frame: Frame
    bins: list[Bin] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    count: int = 0


# --------------------------------------------------------------------------- numbers


def finite(values: Iterable[float | None]) -> np.ndarray:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    return arr[np.isfinite(arr)]


def domain(
    values: np.ndarray, extra: Iterable[float] = (), pad: float = 0.04
) -> tuple[float, float]:
    """The x range: every value and every reference line, padded a little on both sides."""
    points = [float(v) for v in extra if v is not None and math.isfinite(v)]
    if values.size:
        points += [float(values.min()), float(values.max())]
    if not points:
        return 0.0, 1.0
    lo, hi = min(points), max(points)
    if lo == hi:
        half = abs(lo) * 0.05 or 0.5
        return lo - half, hi + half
    span = hi - lo
    return lo - span * pad, hi + span * pad


def histogram(values: np.ndarray, lo: float, hi: float, bins: int = DEFAULT_BINS) -> list[Bin]:
    """Equal-width bins over ``[lo, hi]``; values outside are not counted."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    return [
        Bin(float(edges[i]), float(edges[i + 1]), int(counts[i])) for i in range(len(counts))
    ]


def tier_bands(
    *,
    direction: str,
    floor: float,
    cuts: Sequence[float],
    cut_mode: str = "values",
    observed: Mapping[int, tuple[float, float, int]] | None = None,
) -> list[Band]:
    """The value range of each tier, best tier first.

    Value cuts (best first) give fixed bands: for a higher-is-better indicator with cuts
    ``[5.0, 4.5]`` and floor 3.3, tier 1 is ``[5.0, ∞)``, tier 2 ``[4.5, 5.0)``, tier 3
    ``[3.3, 4.5)``. Percentile cuts have no fixed values: the bands are the ranges the tiers
    actually hold in the run (``observed``: tier → (min, max, count)).
    """
    observed = dict(observed or {})
    if cut_mode == "values":
        edges = [float(c) for c in cuts] + [float(floor)]
        bands = []
        for i, edge in enumerate(edges):
            tier = i + 1
            better = edges[i - 1] if i > 0 else None
            count = observed.get(tier, (0, 0, 0))[2]
            if direction == "higher":
                bands.append(Band(tier, edge, better, count))
            else:
                bands.append(Band(tier, better, edge, count))
        return bands
    return [
        Band(tier, float(lo), float(hi), int(count))
        for tier, (lo, hi, count) in sorted(observed.items())
        if tier > 0
    ]


def nice_step(raw: float) -> float:
    """The smallest round step (1, 2, 2.5 or 5 × 10ⁿ) at least ``raw``."""
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def nice_bins(lo: float, hi: float, target: int = DEFAULT_BINS) -> tuple[float, float, int]:
    """About ``target`` bins of a round width covering ``[lo, hi]``: (start, end, count), so
    the table next to a chart reads 4.5 – 4.6, not 4.558 – 4.66."""
    if hi <= lo:
        return lo, hi, 1
    step = nice_step((hi - lo) / max(target, 1))
    start = round(math.floor(lo / step) * step, 10)
    end = round(math.ceil(hi / step) * step, 10)
    return start, end, max(1, round((end - start) / step))


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (1, 2, 5 × 10ⁿ steps) inside ``[lo, hi]``."""
    span = hi - lo
    if span <= 0:
        return [lo]
    step = nice_step(span / max(target, 1))
    first = math.ceil(lo / step) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def fmt(value: float | None) -> str:
    """A short, stable number for labels and attributes: up to 4 significant digits."""
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


# --------------------------------------------------------------------------- drawing


def _attrs(**kw) -> str:
    parts = []
    for key, value in kw.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(f"{name}={quoteattr(str(value))}")
    return " ".join(parts)


def _el(tag: str, text: str | None = None, **kw) -> str:
    attrs = _attrs(**kw)
    if text is None:
        return f"<{tag} {attrs}/>"
    return f"<{tag} {attrs}>{escape(text)}</{tag}>"


def _open_svg(frame: Frame, chart_id: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" '
        + _attrs(
            viewBox=f"0 0 {frame.width} {frame.height}",
            width=frame.width,
            height=frame.height,
            role="img",
            class_="chart",
            id=chart_id,
            aria_labelledby=f"{chart_id}-title {chart_id}-desc",
        )
        + ">",
        _el("title", title, id=f"{chart_id}-title"),
        _el("desc", desc, id=f"{chart_id}-desc"),
    ]


def _axes(frame: Frame, top_count: int, unit: str, labels: Mapping[str, str]) -> list[str]:
    out = [
        '<g class="axis">',
        _el("line", x1=frame.left, y1=frame.bottom, x2=frame.right, y2=frame.bottom,
            stroke="#616e7c"),
        _el("line", x1=frame.left, y1=frame.top, x2=frame.left, y2=frame.bottom,
            stroke="#616e7c"),
    ]
    for tick in nice_ticks(frame.lo, frame.hi):
        x = frame.x(tick)
        out.append(_el("line", x1=x, y1=frame.bottom, x2=x, y2=frame.bottom + 4, stroke="#616e7c"))
        out.append(
            _el("text", fmt(tick), x=x, y=frame.bottom + 16, font_size=11,
                text_anchor="middle", fill="#1f2933")
        )
    for count in sorted({0, top_count}):
        y = frame.y(count, top_count)
        out.append(
            _el("text", str(count), x=frame.left - 6, y=y + 4, font_size=11,
                text_anchor="end", fill="#1f2933")
        )
    axis_label = labels.get("x_axis", "")
    if unit:
        axis_label = f"{axis_label} ({unit})" if axis_label else unit
    if axis_label:
        out.append(
            _el("text", axis_label, x=(frame.left + frame.right) / 2, y=frame.height - 6,
                font_size=11, text_anchor="middle", fill="#616e7c")
        )
    if labels.get("y_axis"):
        mid = round((frame.top + frame.bottom) / 2, 2)
        out.append(
            _el("text", labels["y_axis"], x=14, y=mid, font_size=11, text_anchor="middle",
                fill="#616e7c", transform=f"rotate(-90 14 {mid})")
        )
    out.append("</g>")
    return out


def _bands(frame: Frame, bands: Sequence[Band], labels: Mapping[str, str]) -> list[str]:
    out = ['<g class="tier-bands">']
    for band in bands:
        lo = frame.lo if band.lo is None else band.lo
        hi = frame.hi if band.hi is None else band.hi
        x1, x2 = frame.x(min(lo, hi)), frame.x(max(lo, hi))
        if x2 - x1 < 2:  # a tier holding one value still shows
            mid = (x1 + x2) / 2
            x1, x2 = max(frame.left, mid - 1), min(frame.right, mid + 1)
        name = labels.get(f"tier:{band.tier}") or labels.get("tier", "Tier {n}").replace(
            "{n}", str(band.tier)
        )
        out.append(
            _el(
                "rect",
                x=x1,
                y=frame.top,
                width=round(x2 - x1, 2),
                height=round(frame.bottom - frame.top, 2),
                fill=TIER_FILLS[(band.tier - 1) % len(TIER_FILLS)],
                class_=f"tier-band tier-{band.tier}",
                data_tier=band.tier,
                data_lo=fmt(band.lo),
                data_hi=fmt(band.hi),
            )
        )
        if x2 - x1 >= 24:  # under the axis, where no bar or line can hide it
            out.append(
                _el("text", name, x=round((x1 + x2) / 2, 2), y=frame.bottom + 30, font_size=10,
                    text_anchor="middle", fill="#33691e", class_="tier-label")
            )
            out.append(
                _el("rect", x=x1, y=frame.bottom + 21, width=round(x2 - x1, 2), height=2,
                    fill=TIER_FILLS[(band.tier - 1) % len(TIER_FILLS)], class_="tier-key")
            )
    out.append("</g>")
    return out


def _bars(frame: Frame, bins: Sequence[Bin], top_count: int) -> list[str]:
    out = ['<g class="bars">']
    for b in bins:
        if not b.count:
            continue
        x1, x2 = frame.x(b.lo), frame.x(b.hi)
        y = frame.y(b.count, top_count)
        out.append(
            _el(
                "rect",
                x=round(x1 + 0.5, 2),
                y=y,
                width=round(max(x2 - x1 - 1, 1), 2),
                height=round(frame.bottom - y, 2),
                fill=BAR_FILL,
                class_="hist-bar",
                data_lo=fmt(b.lo),
                data_hi=fmt(b.hi),
                data_count=b.count,
            )
        )
    out.append("</g>")
    return out


_MARK_STYLE = {
    "floor": {"stroke": FLOOR_STROKE, "stroke_width": 2, "stroke_dasharray": None},
    "grade": {"stroke": GRADE_STROKE, "stroke_width": 1, "stroke_dasharray": "4 3"},
    "leader": {"stroke": LEADER_STROKE, "stroke_width": 2, "stroke_dasharray": "6 2"},
    "star": {"stroke": "#b26a00", "stroke_width": 1, "stroke_dasharray": "2 2"},
}


def _marks(frame: Frame, marks: Sequence[Mark]) -> list[str]:
    out = ['<g class="marks">']
    placed: list[float] = []
    for mark in marks:
        x = frame.x(mark.value)
        style = _MARK_STYLE.get(mark.kind, _MARK_STYLE["grade"])
        out.append(
            _el(
                "line",
                x1=x,
                y1=frame.top - 4,
                x2=x,
                y2=frame.bottom,
                class_=f"mark {mark.kind}-line",
                data_kind=mark.kind,
                data_label=mark.label,
                data_value=fmt(mark.value),
                **style,
            )
        )
        # Labels stagger in two rows when lines are close, so they stay readable.
        row = 1 if any(abs(x - p) < 40 for p in placed[-1:]) and len(placed) % 2 else 0
        placed.append(x)
        out.append(
            _el("text", mark.label, x=x, y=frame.top - 8 - row * 12, font_size=10,
                text_anchor="middle", fill=style["stroke"], class_=f"{mark.kind}-label")
        )
    out.append("</g>")
    return out


def histogram_chart(
    values: Iterable[float | None],
    *,
    chart_id: str,
    title: str,
    marks: Sequence[Mark] = (),
    bands: Sequence[Band] | None = None,
    unit: str = "",
    labels: Mapping[str, str] | None = None,
    bins: int = DEFAULT_BINS,
    lo: float | None = None,
    hi: float | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """The distribution of ``values`` in round bins, over value ``bands`` and under the
    vertical reference lines ``marks``. ``lo``/``hi`` fix the x range (otherwise: data, lines
    and band edges, padded, on round bins); ``bands=None`` draws no band layer. ``labels``: "desc", "x_axis", "y_axis", "tier"
    ("Tier {n}") or "tier:N"."""
    labels = dict(labels or {})
    arr = finite(values)
    marks = list(marks)
    band_edges = [e for b in bands or () for e in (b.lo, b.hi) if e is not None]
    d_lo, d_hi = domain(arr, [m.value for m in marks] + band_edges)
    if lo is None and hi is None:
        d_lo, d_hi, bins = nice_bins(d_lo, d_hi, bins)
    frame = Frame(d_lo if lo is None else lo, d_hi if hi is None else hi, width, height)
    hist = histogram(arr, frame.lo, frame.hi, bins)
    top = max((b.count for b in hist), default=0)
    parts = _open_svg(frame, chart_id, title, labels.get("desc", ""))
    if bands is not None:
        parts += _bands(frame, bands, labels)
    parts += _bars(frame, hist, top)
    parts += _axes(frame, top, unit, labels)
    parts += _marks(frame, marks)
    parts.append("</svg>")
    return Chart("".join(parts), frame, hist, list(bands or ()), marks, int(arr.size))


# --------------------------------------------------------------------------- horizontal bars


@dataclass(frozen=True)
class Segment:
    """A part of a horizontal bar: its value, colour, the attributes of its rect (class_,
    data_…) and an optional tooltip."""

    value: float
    fill: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    tooltip: str | None = None


@dataclass(frozen=True)
class HBar:
    """One bar of a row: stacked segments, and the text written after its end."""

    segments: Sequence[Segment]
    text: str = ""
    text_attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HRow:
    """One row: its label (left of the bars) and one or more bars under each other."""

    label: str
    bars: Sequence[HBar]
    label_attrs: Mapping[str, Any] = field(default_factory=dict)
    group_attrs: Mapping[str, Any] | None = None  # wrap the row in a <g> with these


@dataclass(frozen=True)
class HLayout:
    """Where bars go: ``left`` is the value axis' 0, ``span`` the length of the longest bar;
    each bar takes ``pitch`` px of height and is drawn ``thickness`` px thick; rows are
    ``gap`` apart, the first at ``top``. ``min_width`` draws an empty bar as a hairline."""

    width: float
    left: float
    span: float
    top: float
    pitch: float
    thickness: float
    gap: float
    font_size: int = 11
    label_gap: float = 6
    text_gap: float = 4
    text_size: int = 11
    text_fill: str = "#1f2933"
    min_width: float = 0
    bottom: float = 8


@dataclass(frozen=True)
class Placed:
    """Where a segment was drawn: row and bar index, x, y, width (unclamped), height."""

    row: int
    bar: int
    x: float
    y: float
    width: float
    height: float


@dataclass
class BarChart:
    svg: str
    placed: list[Placed]
    height: float


def hbar_chart(
    rows: Sequence[HRow],
    *,
    layout: HLayout,
    top_value: float,
    chart_id: str,
    title: str,
    desc: str,
    legend: Sequence[tuple[str, str]] = (),
    legend_at: tuple[float, float, float] | None = None,
    ticks: Sequence[tuple[float, str]] = (),
) -> BarChart:
    """Horizontal bars scaled to ``top_value`` (the value drawn ``layout.span`` long).

    ``legend``: (label, colour) pairs, drawn from ``legend_at`` = (x, y, step) or under the
    rows; ``ticks``: (value, text) grid lines with their labels under the rows.
    """
    lay = layout
    per_row = max((len(r.bars) for r in rows), default=1)
    row_height = per_row * lay.pitch
    rows_bottom = lay.top + len(rows) * (row_height + lay.gap) - lay.gap
    extra = 30 if ticks else 0
    extra += 22 if legend and legend_at is None else 0
    height = round(rows_bottom + extra + lay.bottom, 2)
    top_value = top_value if top_value > 0 else 1

    def length(value: float) -> float:
        return round(lay.span * value / top_value, 2)

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        + _attrs(viewBox=f"0 0 {lay.width} {height}", width=lay.width, height=height,
                 role="img", class_="chart", id=chart_id,
                 aria_labelledby=f"{chart_id}-title {chart_id}-desc")
        + ">",
        _el("title", title, id=f"{chart_id}-title"),
        _el("desc", desc, id=f"{chart_id}-desc"),
    ]
    if legend:
        x0, y0, step = legend_at if legend_at is not None else (lay.left, rows_bottom + 12, 90)
        for i, (label, colour) in enumerate(legend):
            parts.append(_el("rect", x=x0 + i * step, y=y0, width=10, height=10, fill=colour))
            parts.append(_el("text", label, x=x0 + i * step + 14, y=y0 + 9, font_size=11,
                             fill="#1f2933"))
    for value, text in ticks:
        x = round(lay.left + length(value), 2)
        parts.append(_el("line", x1=x, y1=lay.top - 4, x2=x, y2=rows_bottom + 6,
                         stroke="#eceff1"))
        parts.append(_el("text", text, x=x, y=rows_bottom + 22, font_size=10,
                         text_anchor="middle", fill="#616e7c"))
    placed: list[Placed] = []
    for i, row in enumerate(rows):
        y = lay.top + i * (row_height + lay.gap)
        if row.group_attrs is not None:
            parts.append(f"<g {_attrs(**row.group_attrs)}>")
        parts.append(_el("text", row.label, x=lay.left - lay.label_gap,
                         y=round(y + row_height / 2 + lay.font_size * 0.38, 2),
                         font_size=lay.font_size, text_anchor="end", fill="#1f2933",
                         **row.label_attrs))
        for j, bar in enumerate(row.bars):
            by = y + j * lay.pitch
            x = lay.left
            for seg in bar.segments:
                w = length(seg.value)
                placed.append(Placed(i, j, x, by, w, lay.thickness))
                if w <= 0 and lay.min_width <= 0:
                    continue
                rect = _attrs(x=x, y=by, width=max(w, lay.min_width), height=lay.thickness,
                              fill=seg.fill, **seg.attrs)
                if seg.tooltip is None:
                    parts.append(f"<rect {rect}/>")
                else:
                    parts.append(f"<rect {rect}><title>{escape(seg.tooltip)}</title></rect>")
                x = round(x + max(w, lay.min_width), 2)
            if bar.text:
                parts.append(_el("text", bar.text, x=round(x + lay.text_gap, 2),
                                 y=round(by + lay.thickness / 2 + lay.text_size * 0.38, 2),
                                 font_size=lay.text_size, fill=lay.text_fill, **bar.text_attrs))
        if row.group_attrs is not None:
            parts.append("</g>")
    parts.append("</svg>")
    return BarChart("".join(parts), placed, height)


# --------------------------------------------------------------------------- scale bar


@dataclass(frozen=True)
class ScaleLine:
    """A reference line on a scale bar at ``x`` (0–100), labelled above or below."""

    x: float
    colour: str
    label: str = ""
    stroke_width: float = 2
    label_above: bool = False


def scale_bar(
    lines: Sequence[ScaleLine],
    dots: Sequence[tuple[float, str, str]],
    *,
    zone_until: float | None,
    aria_label: str,
    css: str = "cmp-bar",
) -> str:
    """A 300×36 track on a 0–100 scale: a red zone up to ``zone_until``, reference lines and
    dots (x, fill, tooltip)."""

    def px(x: float) -> float:
        return round(x * 3, 1)

    parts = [
        f"<svg {_attrs(class_=css, viewBox='0 0 300 36', width=300, height=36, role='img')}"
        f" aria-label={quoteattr(aria_label)}>",
        _el("rect", x=0, y=16, width=300, height=6, rx=3, fill="#eceff1"),
    ]
    if zone_until is not None:
        parts.append(_el("rect", x=0, y=16, width=px(zone_until), height=6, rx=3,
                         fill="#fdecea"))
    for line in lines:
        x = px(line.x)
        parts.append(_el("line", x1=x, x2=x, y1=12, y2=26, stroke=line.colour,
                         stroke_width=line.stroke_width))
        parts.append(_el("text", line.label, x=x, y=9 if line.label_above else 35, font_size=8,
                         text_anchor="middle", fill=line.colour))
    for x, fill, tooltip in dots:
        circle = _attrs(cx=px(x), cy=19, r=5, fill=fill, stroke="#fff", stroke_width=1.5)
        parts.append(f"<circle {circle}><title>{escape(tooltip)}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)
