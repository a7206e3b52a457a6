"""Properties of ranking.scoring, checked with hypothesis against plain-Python references."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking.scoring import (
    TIE_RTOL,
    IndicatorSpec,
    LeaderRule,
    assign_tiers,
    composite_anchored,
    rank,
)

SETTINGS = settings(deadline=None, max_examples=150)

# Values that stress equality: a few round numbers, their neighbours one ulp away, and anything.
POOL = [0.0, 1.0, 4.0, 4.5, 5.0, 6.4, 95.0, -3.0, 1e-300, 1234.5678]
POOL += [float(np.nextafter(v, np.inf)) for v in POOL] + [float(np.nextafter(v, -np.inf))
                                                           for v in POOL]
VALUE = st.one_of(
    st.sampled_from(POOL),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.just(math.nan),
)


def better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "higher" else a < b


def eligible(v: float, spec: IndicatorSpec) -> bool:
    return not math.isnan(v) and not better(spec.floor, v, spec.direction)


@st.composite
def specs(draw, cut_mode=None):
    direction = draw(st.sampled_from(["higher", "lower"]))
    mode = cut_mode or draw(st.sampled_from(["values", "percentiles"]))
    floor = draw(st.one_of(st.sampled_from(POOL), st.floats(-1e5, 1e5)))
    if mode == "values":
        raw = draw(st.lists(st.one_of(st.sampled_from(POOL), st.floats(-1e6, 1e6)),
                            min_size=1, max_size=4, unique=True))
        cuts = sorted({c for c in raw if better(c, floor, direction)},
                      reverse=direction == "higher")
        if not cuts:
            cuts = [float(np.nextafter(floor, np.inf if direction == "higher" else -np.inf))]
    else:
        halves = draw(st.lists(st.integers(1, 199), min_size=1, max_size=4, unique=True))
        cuts = sorted(h / 2 for h in halves)
    weight = draw(st.floats(0.01, 100))
    return IndicatorSpec("x", direction, floor, tuple(cuts), mode, weight)


def ref_tiers(values, spec, groups):
    """Plain-Python tiers: values mode counts cuts; percentiles counts strictly better entries."""
    out = []
    for i, v in enumerate(values):
        if not eligible(v, spec):
            out.append(0)
            continue
        if spec.cut_mode == "values":
            out.append(1 + sum(1 for c in spec.cuts if better(c, v, spec.direction)))
            continue
        pop = [w for w, g in zip(values, groups) if g == groups[i] and eligible(w, spec)]
        n_better = sum(1 for w in pop if better(w, v, spec.direction))
        tier = 1
        for c in spec.cuts:
            quota = math.ceil(Fraction(repr(c)) * len(pop) / 100)
            if n_better >= quota:
                tier += 1
        out.append(tier)
    return out


def badness(tier: int) -> float:
    return math.inf if tier == 0 else tier


@SETTINGS
@given(spec=specs(), values=st.lists(VALUE, max_size=40), data=st.data())
def test_tiers_equal_plain_reference(spec, values, data):
    groups = data.draw(st.lists(st.integers(0, 2), min_size=len(values), max_size=len(values)))
    got = assign_tiers(np.array(values, dtype=float), spec, np.array(groups, dtype=np.int64))
    assert got.tolist() == ref_tiers(values, spec, groups)


@SETTINGS
@given(spec=specs(), values=st.lists(VALUE, min_size=1, max_size=40), data=st.data())
def test_better_value_never_gets_worse_tier_and_ties_share(spec, values, data):
    groups = data.draw(st.lists(st.integers(0, 1), min_size=len(values), max_size=len(values)))
    t = assign_tiers(np.array(values, dtype=float), spec, np.array(groups)).tolist()
    for i, (a, ga) in enumerate(zip(values, groups)):
        for j, (b, gb) in enumerate(zip(values, groups)):
            if math.isnan(a) or math.isnan(b):
                continue
            if spec.cut_mode == "percentiles" and ga != gb:
                continue
            if a == b:
                assert t[i] == t[j]
            elif better(a, b, spec.direction):
                assert badness(t[i]) <= badness(t[j])


@SETTINGS
@given(spec=specs(), values=st.lists(VALUE, max_size=40))
def test_no_tier_below_the_floor(spec, values):
    t = assign_tiers(np.array(values, dtype=float), spec)
    for v, tier in zip(values, t):
        if math.isnan(v) or better(spec.floor, v, spec.direction):
            assert tier == 0
        else:
            assert 1 <= tier <= len(spec.cuts) + 1


def anchored_specs():
    return [
        IndicatorSpec("water", "lower", 6.4, (4.0, 5.0), weight=2.0, best_reference=3.5),
        IndicatorSpec("apf", "higher", 4.0, (5.0, 4.5), weight=1.0),
        IndicatorSpec("noise", "lower", 60.0, (45.0, 50.0), weight=0.5, best_reference=40.0),
    ]


ROW_VALUES = st.tuples(st.floats(0, 8), st.floats(2, 8), st.floats(30, 70))


@SETTINGS
@given(row=ROW_VALUES, j=st.integers(0, 2), step=st.floats(0, 10))
def test_anchored_composite_monotone_in_each_indicator(row, j, step):
    specs_ = anchored_specs()
    improved = list(row)
    improved[j] = row[j] + step if specs_[j].direction == "higher" else row[j] - step
    before, after = composite_anchored(np.array([row, improved]), specs_)
    if not math.isnan(before):
        assert not math.isnan(after)
        assert after >= before


@st.composite
def ranking_cases(draw):
    n = draw(st.integers(0, 25))
    pool = st.sampled_from([3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0])
    water = draw(st.lists(pool, min_size=n, max_size=n))
    apf = draw(st.lists(pool, min_size=n, max_size=n))
    noise = draw(st.lists(st.sampled_from([40.0, 44.0, 45.0, 48.0, 50.0, 55.0, 61.0]),
                          min_size=n, max_size=n))
    ids = draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n, unique=True))
    groups = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    frame = pd.DataFrame({"water": water, "apf": apf, "noise": noise},
                         index=pd.Index(ids, dtype=np.int64))
    return frame, pd.Series(groups, index=frame.index, dtype=object)


RULES = st.sampled_from([
    LeaderRule("top_tier_all", star_cuts=(1.0, 0.5)),
    LeaderRule("best_n", n=1),
    LeaderRule("best_n", n=3, star_cuts=(0.9, 0.6, 0.3)),
    LeaderRule("best_share", share=0.3),
])


@SETTINGS
@given(case=ranking_cases(), rule=RULES, method=st.sampled_from(["anchored", "topsis"]),
       data=st.data())
def test_rank_invariant_to_row_permutation(case, rule, method, data):
    frame, groups = case
    perm = data.draw(st.permutations(range(len(frame))))
    a = rank(frame, anchored_specs(), rule, method, groups)
    b = rank(frame.iloc[list(perm)], anchored_specs(), rule, method, groups.iloc[list(perm)])
    pd.testing.assert_frame_equal(a.tiers, b.tiers)
    for attr in ("composite", "composite_rank", "leaders", "stars"):
        pd.testing.assert_series_equal(getattr(a, attr), getattr(b, attr), rtol=0, atol=0)
    for key in a.ranked:
        assert np.array_equal(a.ranked[key], b.ranked[key])


def ref_dense_rank_and_leaders(scores: pd.Series, groups: pd.Series, rule: LeaderRule):
    """Plain-Python composite ranks (tolerance ties chained in sorted order) and best_n/share."""
    dense = {}
    leaders = {}
    for g in set(groups):
        ids = [i for i in scores.index if groups[i] == g and not math.isnan(scores[i])]
        ids.sort(key=lambda i: -scores[i])
        block, blocks = 0, []
        for pos, i in enumerate(ids):
            if pos and (scores[ids[pos - 1]] - scores[i]
                        > TIE_RTOL * max(abs(scores[i]), abs(scores[ids[pos - 1]]))):
                block += 1
            blocks.append(block)
        first_pos = {}
        for pos, b in enumerate(blocks):
            first_pos.setdefault(b, pos)
        quota = None
        if rule.kind == "best_n":
            quota = rule.n
        elif rule.kind == "best_share":
            quota = math.ceil(Fraction(repr(rule.share)) * len(ids))
        for pos, i in enumerate(ids):
            dense[i] = blocks[pos] + 1
            leaders[i] = quota is not None and first_pos[blocks[pos]] < quota
    return dense, leaders


@SETTINGS
@given(
    scores=st.lists(st.one_of(st.sampled_from([0.0, 0.25, 0.5, 0.5 * (1 + 1e-13), 0.75, 1.0]),
                              st.floats(0, 2)), max_size=30),
    data=st.data(),
    rule=st.sampled_from([LeaderRule("best_n", n=1), LeaderRule("best_n", n=4),
                          LeaderRule("best_share", share=0.3),
                          LeaderRule("best_share", share=1.0)]),
)
def test_composite_rank_and_best_rules_equal_plain_reference(scores, data, rule):
    n = len(scores)
    groups = pd.Series(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)),
                       index=range(n), dtype=np.int64)
    spec = IndicatorSpec("s", "higher", 0.0, (0.5,), best_reference=1.0)
    frame = pd.DataFrame({"s": scores}, index=range(n))
    res = rank(frame, [spec], rule, "anchored", groups)
    dense, leaders = ref_dense_rank_and_leaders(res.composite, groups, rule)
    for i in frame.index:
        assert res.composite_rank[i] == dense.get(i, 0)
        assert bool(res.leaders[i]) == leaders.get(i, False)
