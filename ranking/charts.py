"""The charts of leaderboards, on the kernel's builders (``core/charts.py``): an indicator's
distribution with its floor, grade lines and tier bands; the composite scores with the
leaders' cut and the star cuts. The generic names are re-exported for ranking's pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from core.charts import (  # noqa: F401 - re-exported for ranking's pages
    DEFAULT_BINS,
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    WIDTH,
    Band,
    Bin,
    Chart,
    Frame,
    Mark,
    domain,
    finite,
    fmt,
    histogram,
    histogram_chart,
    nice_bins,
    nice_ticks,
    tier_bands,
)


def indicator_chart(
    values: Iterable[float | None],
    *,
    chart_id: str,
    title: str,
    unit: str = "",
    direction: str = "higher",
    floor: float | None = None,
    floor_label: str = "Floor",
    grades: Sequence[Sequence] = (),
    bands: Sequence[Band] = (),
    labels: Mapping[str, str] | None = None,
    bins: int = DEFAULT_BINS,
    lo: float | None = None,
    hi: float | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """The distribution of one indicator with its floor, grade lines and tier bands.

    ``grades`` are the benchmark's ``[[name, threshold], …]`` (best first); ``bands`` from
    :func:`tier_bands`. ``lo``/``hi`` fix the x range (otherwise: data and lines, padded).
    """
    marks: list[Mark] = []
    if floor is not None:
        marks.append(Mark("floor", floor_label, float(floor)))
    for grade in grades:
        name, threshold = grade[0], grade[1]
        if threshold is None:
            continue
        if floor is not None and float(threshold) == float(floor):
            continue  # the floor line already marks it
        marks.append(Mark("grade", str(name), float(threshold)))
    return histogram_chart(
        values, chart_id=chart_id, title=title, marks=marks, bands=bands, unit=unit,
        labels=labels, bins=bins, lo=lo, hi=hi, width=width, height=height,
    )


def composite_chart(
    scores: Iterable[float | None],
    *,
    chart_id: str,
    title: str,
    leader_cut: float | None = None,
    leader_label: str = "Leaders",
    star_cuts: Sequence[float] = (),
    star_label: str = "{n}★",
    labels: Mapping[str, str] | None = None,
    bins: int = DEFAULT_BINS,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """The distribution of composite scores with the leaders' cut and the star cuts."""
    marks: list[Mark] = []
    if leader_cut is not None:
        marks.append(Mark("leader", leader_label, float(leader_cut)))
    for i, cut in enumerate(star_cuts):
        marks.append(Mark("star", star_label.replace("{n}", str(len(star_cuts) - i)), float(cut)))
    return histogram_chart(
        scores, chart_id=chart_id, title=title, marks=marks, labels=labels, bins=bins,
        width=width, height=height,
    )
