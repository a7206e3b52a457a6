"""Examples for ranking.scoring: tiers, all-equal indicators, composites, leaders, hashing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ranking.scoring import (
    COMPOSITE_METHODS,
    TIE_RTOL,
    IndicatorSpec,
    LeaderRule,
    SpecError,
    all_equal,
    assign_tiers,
    composite_anchored,
    composite_topsis,
    inputs_hash,
    rank,
    validate_rule,
    validate_specs,
)

# Toilet water use (L per flush), lower is better: grade cut-offs 4.0 / 5.0, the mandatory
# limit 6.4 is the floor.
WATER = IndicatorSpec("water", "lower", floor=6.4, cuts=(4.0, 5.0))
# Air-conditioner APF, higher is better: 5.0 / 4.5, floor 4.0.
APF = IndicatorSpec("apf", "higher", floor=4.0, cuts=(5.0, 4.5))


def tiers_of(values, spec, groups=None):
    return assign_tiers(np.array(values, dtype=float), spec, groups).tolist()


# --------------------------------------------------------------------------------------------
# Tiers
# --------------------------------------------------------------------------------------------


def test_lower_is_better_tiers():
    values = [3.2, 4.0, 4.01, 5.0, 5.5, 6.4, 6.41, np.nan]
    assert tiers_of(values, WATER) == [1, 1, 2, 2, 3, 3, 0, 0]


def test_higher_is_better_tiers():
    values = [5.8, 5.0, 4.99, 4.5, 4.2, 4.0, 3.99, np.nan]
    assert tiers_of(values, APF) == [1, 1, 2, 2, 3, 3, 0, 0]


def test_value_equal_to_a_cut_reaches_that_tier():
    assert tiers_of([4.0, 5.0], WATER) == [1, 2]
    assert tiers_of([5.0, 4.5], APF) == [1, 2]


def test_at_the_floor_is_ranked_below_is_not():
    assert tiers_of([6.4, np.nextafter(6.4, 7)], WATER) == [3, 0]
    assert tiers_of([4.0, np.nextafter(4.0, 3)], APF) == [3, 0]


def test_equal_values_share_a_tier():
    t = tiers_of([4.7, 4.7, 4.7, 4.0, 4.0], WATER)
    assert t == [2, 2, 2, 1, 1]


def test_directions_mirror_each_other():
    """Negating values, floor and cuts turns a lower-is-better plan into a higher-is-better one."""
    rng = np.random.default_rng(7)
    values = np.round(rng.uniform(3.0, 7.0, 500), 2)
    mirrored = IndicatorSpec("neg_water", "higher", floor=-6.4, cuts=(-4.0, -5.0))
    assert np.array_equal(assign_tiers(values, WATER), assign_tiers(-values, mirrored))
    pct_lower = IndicatorSpec("w", "lower", 6.4, (10, 30, 60), "percentiles")
    pct_higher = IndicatorSpec("w", "higher", -6.4, (10, 30, 60), "percentiles")
    assert np.array_equal(assign_tiers(values, pct_lower), assign_tiers(-values, pct_higher))


def test_water_and_apf_examples_mirror():
    water = [4.0, 5.0, 6.4, 6.5]
    apf = [5.0, 4.5, 4.0, 3.9]
    assert tiers_of(water, WATER) == tiers_of(apf, APF) == [1, 2, 3, 0]


def test_tiers_are_int_and_nan_is_zero():
    t = assign_tiers(np.array([np.nan, 4.0]), WATER)
    assert t.dtype == np.int64
    assert t.tolist() == [0, 1]


# --------------------------------------------------------------------------------------------
# Percentile tiers
# --------------------------------------------------------------------------------------------

PCT = IndicatorSpec("apf", "higher", floor=4.0, cuts=(10, 30, 60), cut_mode="percentiles")


def test_percentile_tiers_distinct_values():
    values = [5.9, 5.8, 5.7, 5.6, 5.5, 5.4, 5.3, 5.2, 5.1, 5.0]
    # top 10 % (1 entry), next 20 % (2), next 30 % (3), the rest (4)
    assert tiers_of(values, PCT) == [1, 2, 2, 3, 3, 3, 4, 4, 4, 4]


def test_percentile_tie_at_boundary_is_not_split():
    # The two best are tied: the top-10 % tier (1 entry) takes both rather than split them.
    values = [5.9, 5.9, 5.7, 5.6, 5.5, 5.4, 5.3, 5.2, 5.1, 5.0]
    assert tiers_of(values, PCT) == [1, 1, 2, 3, 3, 3, 4, 4, 4, 4]
    # A tie block straddling the 30 % boundary (positions 3 and 4) goes wholly to tier 2.
    values = [5.9, 5.8, 5.7, 5.7, 5.5, 5.4, 5.3, 5.2, 5.1, 5.0]
    assert tiers_of(values, PCT) == [1, 2, 2, 2, 3, 3, 4, 4, 4, 4]
    # Everybody tied: everybody in the top tier.
    assert tiers_of([5.0] * 7, PCT) == [1] * 7


def test_percentile_shares_use_exact_counts():
    # 30 % of 10 is 3 entries even though 0.3 * 10 is 3.0000000000000004 in floating point.
    spec = IndicatorSpec("x", "higher", 0.0, (30,), "percentiles")
    assert tiers_of(range(10, 0, -1), spec) == [1, 1, 1, 2, 2, 2, 2, 2, 2, 2]
    # 10 % of 5 entries rounds up to one entry.
    spec = IndicatorSpec("x", "higher", 0.0, (10,), "percentiles")
    assert tiers_of([5, 4, 3, 2, 1], spec) == [1, 2, 2, 2, 2]


def test_percentile_population_is_the_eligible_values():
    # Below-floor values are tier 0 and do not count in the shares.
    values = [5.9, 5.8, 5.7, 5.6, 5.5, 5.4, 5.3, 5.2, 5.1, 5.0, 3.0, 2.0, np.nan]
    assert tiers_of(values, PCT) == [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 0, 0, 0]


def test_percentile_lower_is_better():
    spec = IndicatorSpec("w", "lower", 6.4, (10, 30, 60), "percentiles")
    values = [3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.7, 3.8, 3.9, 7.0]
    assert tiers_of(values, spec) == [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 0]


def test_percentile_values_one_ulp_apart_are_different():
    """Values closer than the packed sort can tell apart are still ordered exactly."""
    base = 5.123456789
    ulps = [base]
    for _ in range(9):
        ulps.append(np.nextafter(ulps[-1], 0))
    spec = IndicatorSpec("x", "higher", 0.0, (10, 30, 60), "percentiles")
    assert tiers_of(ulps, spec) == [1, 2, 2, 3, 3, 3, 4, 4, 4, 4]
    # and shuffled, in two groups
    rng = np.random.default_rng(3)
    perm = rng.permutation(20)
    values = np.array(ulps + ulps)[perm]
    groups = np.array([0] * 10 + [1] * 10)[perm]
    expected = np.array([1, 2, 2, 3, 3, 3, 4, 4, 4, 4] * 2)[perm]
    assert np.array_equal(assign_tiers(values, spec, groups), expected)


def test_percentile_groups_equal_separate_calls():
    rng = np.random.default_rng(11)
    a = np.round(rng.uniform(3.5, 6.5, 37), 1)
    b = np.round(rng.uniform(3.5, 6.5, 53), 1)
    perm = rng.permutation(90)
    values = np.concatenate([a, b])[perm]
    groups = np.array(["cat-a"] * 37 + ["cat-b"] * 53)[perm]
    together = assign_tiers(values, PCT, groups)
    assert np.array_equal(together[groups == "cat-a"], assign_tiers(values[groups == "cat-a"], PCT))
    assert np.array_equal(together[groups == "cat-b"], assign_tiers(values[groups == "cat-b"], PCT))


def test_percentile_argsort_fallback_agrees(monkeypatch):
    """The packed-sort order statistics and the plain argsort path give the same tiers."""
    from ranking import scoring

    rng = np.random.default_rng(8)
    values = np.round(rng.uniform(3.5, 6.5, 500), 2)
    values[::7] = np.nextafter(values[::7], 0)
    groups = rng.integers(0, 6, 500)
    fast = assign_tiers(values, PCT, groups)
    monkeypatch.setattr(scoring, "_PACK_MAX_GROUP_BITS", 0)
    assert np.array_equal(assign_tiers(values, PCT, groups), fast)


def test_values_mode_ignores_groups():
    values = np.array([4.0, 4.4, 5.1, 6.6])
    assert np.array_equal(assign_tiers(values, WATER, np.array([0, 1, 0, 1])),
                          assign_tiers(values, WATER))


# --------------------------------------------------------------------------------------------
# All-equal indicators
# --------------------------------------------------------------------------------------------


def test_all_equal_plain_and_grouped():
    assert all_equal(np.array([4.0, 4.0, np.nan])) is True
    assert all_equal(np.array([4.0, 4.1])) is False
    assert all_equal(np.array([np.nan])) is True
    eq = all_equal(np.array([1.0, 1.0, 2.0, 3.0]), np.array([7, 7, 9, 9]))
    assert eq.tolist() == [True, True, False, False]


def three_indicator_plan():
    return [
        IndicatorSpec("water", "lower", 6.4, (4.0, 5.0), weight=2.0, best_reference=3.5),
        IndicatorSpec("apf", "higher", 4.0, (5.0, 4.5), best_reference=5.5),
        IndicatorSpec("noise", "lower", 60.0, (45.0, 50.0), best_reference=40.0),
    ]


def test_all_equal_indicator_is_not_ranked_and_ignored_by_top_tier_all():
    specs = three_indicator_plan()
    m = pd.DataFrame(
        {"water": [3.8, 3.9, 4.5, 3.7], "apf": [5.1, 5.2, 5.3, 4.6], "noise": [48.0] * 4},
        index=[10, 11, 12, 13],
    )
    res = rank(m, specs, LeaderRule("top_tier_all"))
    assert res.ranked == {"water": True, "apf": True, "noise": False}
    # noise is tier 2 for everybody; without ignoring it nobody could lead
    assert res.tiers["noise"].tolist() == [2, 2, 2, 2]
    assert res.leaders.tolist() == [True, True, False, False]


def test_all_equal_ignores_below_floor_entries():
    specs = three_indicator_plan()
    m = pd.DataFrame(
        {"water": [3.8, 3.9, 3.9], "apf": [5.1, 5.2, 5.3], "noise": [44.0, 44.0, 61.0]},
        index=[1, 2, 3],
    )
    res = rank(m, specs, LeaderRule("top_tier_all"))
    assert res.ranked["noise"] is False  # the ranked values (44, 44) are all equal
    assert res.leaders.tolist() == [True, True, False]  # 3 is below the noise floor


def test_no_ranked_indicator_means_no_leaders():
    specs = three_indicator_plan()
    m = pd.DataFrame({"water": [3.8] * 3, "apf": [5.1] * 3, "noise": [44.0] * 3},
                     index=[1, 2, 3])
    res = rank(m, specs, LeaderRule("top_tier_all"))
    assert not any(res.ranked.values())
    assert not res.leaders.any()


def test_ranked_per_group():
    specs = three_indicator_plan()
    m = pd.DataFrame(
        {"water": [3.8, 3.9, 3.8, 3.8], "apf": [5.1, 5.2, 5.3, 5.0], "noise": [44.0] * 4},
        index=[1, 2, 3, 4],
    )
    groups = pd.Series(["a", "a", "b", "b"], index=[1, 2, 3, 4])
    res = rank(m, specs, LeaderRule("top_tier_all"), groups=groups)
    assert res.ranked["water"].tolist() == [True, True, False, False]
    assert res.ranked["noise"].tolist() == [False] * 4


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

BAD_SPECS = [
    ("cuts", IndicatorSpec("x", "higher", 4.0, (4.5, 5.0))),  # ascending for higher
    ("cuts", IndicatorSpec("x", "lower", 6.4, (5.0, 4.0))),  # descending for lower
    ("cuts", IndicatorSpec("x", "higher", 4.0, (5.0, 5.0))),  # not strict
    ("cuts", IndicatorSpec("x", "higher", 4.0, (5.0, 4.0))),  # equal to the floor
    ("cuts", IndicatorSpec("x", "lower", 6.4, (4.0, 7.0))),  # worse than the floor
    ("cuts", IndicatorSpec("x", "higher", 4.0, ())),
    ("cuts", IndicatorSpec("x", "higher", 4.0, (5.0, math.nan))),
    ("cuts", IndicatorSpec("x", "higher", 4.0, (0.0, 30.0), "percentiles")),
    ("cuts", IndicatorSpec("x", "higher", 4.0, (30.0, 100.0), "percentiles")),
    ("cuts", IndicatorSpec("x", "higher", 4.0, (30.0, 10.0), "percentiles")),
    ("cuts", IndicatorSpec("x", "higher", 4.0, (30.0, 30.0), "percentiles")),
    ("weight", IndicatorSpec("x", "higher", 4.0, (5.0,), weight=0.0)),
    ("weight", IndicatorSpec("x", "higher", 4.0, (5.0,), weight=-1.0)),
    ("weight", IndicatorSpec("x", "higher", 4.0, (5.0,), weight=math.inf)),
    ("weight", IndicatorSpec("x", "higher", 4.0, (5.0,), weight=math.nan)),
    ("best_reference", IndicatorSpec("x", "higher", 4.0, (5.0,), best_reference=4.0)),
    ("best_reference", IndicatorSpec("x", "lower", 6.4, (5.0,), best_reference=7.0)),
    ("best_reference", IndicatorSpec("x", "lower", 6.4, (5.0,), best_reference=math.nan)),
    ("floor", IndicatorSpec("x", "higher", math.nan, (5.0,))),
    ("direction", IndicatorSpec("x", "up", 4.0, (5.0,))),  # type: ignore[arg-type]
    ("cut_mode", IndicatorSpec("x", "higher", 4.0, (5.0,), "ranks")),  # type: ignore[arg-type]
    ("key", IndicatorSpec("", "higher", 4.0, (5.0,))),
]


@pytest.mark.parametrize(("field", "spec"), BAD_SPECS)
def test_validate_specs_refuses_with_field(field, spec):
    with pytest.raises(SpecError) as err:
        validate_specs([spec])
    assert err.value.field == field
    assert field in str(err.value)
    assert isinstance(err.value, ValueError)


def test_validate_specs_refuses_empty_duplicate_and_unknown_method():
    with pytest.raises(SpecError) as err:
        validate_specs([])
    assert err.value.field == "specs"
    with pytest.raises(SpecError) as err:
        validate_specs([WATER, WATER])
    assert err.value.field == "key" and err.value.key == "water" and err.value.index == 1
    with pytest.raises(SpecError) as err:
        validate_specs([WATER], method="electre")
    assert err.value.field == "method"


def test_anchored_needs_a_reference_for_percentile_cuts():
    validate_specs([PCT])
    with pytest.raises(SpecError) as err:
        validate_specs([PCT], method="anchored")
    assert err.value.field == "best_reference"
    validate_specs([PCT], method="topsis")
    m = pd.DataFrame({"apf": [5.0, 4.5]}, index=[1, 2])
    with pytest.raises(SpecError):
        rank(m, [PCT], LeaderRule("best_n", n=1))


def test_valid_specs_pass():
    validate_specs([WATER, APF, dataclass_replace(PCT, key="apf_share")], method="topsis")
    validate_specs(three_indicator_plan(), method="anchored")
    validate_specs([IndicatorSpec("x", "higher", 1, [3, 2], weight=2)])  # ints and a list


BAD_RULES = [
    ("kind", LeaderRule("everybody")),  # type: ignore[arg-type]
    ("n", LeaderRule("best_n")),
    ("n", LeaderRule("best_n", n=0)),
    ("n", LeaderRule("best_n", n=2.5)),  # type: ignore[arg-type]
    ("n", LeaderRule("best_n", n=True)),
    ("n", LeaderRule("top_tier_all", n=3)),
    ("share", LeaderRule("best_share")),
    ("share", LeaderRule("best_share", share=0.0)),
    ("share", LeaderRule("best_share", share=1.5)),
    ("share", LeaderRule("best_share", share=math.nan)),
    ("share", LeaderRule("best_n", n=3, share=0.1)),
    ("star_cuts", LeaderRule("best_n", n=3, star_cuts=(0.5, 0.7))),
    ("star_cuts", LeaderRule("best_n", n=3, star_cuts=(0.9, math.inf))),
]


@pytest.mark.parametrize(("field", "rule"), BAD_RULES)
def test_validate_rule_refuses_with_field(field, rule):
    with pytest.raises(SpecError) as err:
        validate_rule(rule)
    assert err.value.field == field


def test_valid_rules_pass():
    validate_rule(LeaderRule("top_tier_all", star_cuts=(0.9, 0.7, 0.5)))
    validate_rule(LeaderRule("best_n", n=5))
    validate_rule(LeaderRule("best_share", share=1.0))


# --------------------------------------------------------------------------------------------
# Composite scores, composite rank, leaders, stars
# --------------------------------------------------------------------------------------------

# A single indicator whose anchored composite is the value itself: floor 0, reference 1.
SCORE = IndicatorSpec("s", "higher", floor=0.0, cuts=(0.5,), best_reference=1.0)


def score_frame(scores, ids=None):
    ids = list(range(1, len(scores) + 1)) if ids is None else ids
    return pd.DataFrame({"s": scores}, index=ids)


def test_anchored_formula():
    specs = [
        IndicatorSpec("water", "lower", 6.4, (4.0, 5.0), weight=3.0),  # reference = 4.0
        IndicatorSpec("apf", "higher", 4.0, (5.0, 4.5), weight=1.0, best_reference=6.0),
    ]
    X = np.array([[5.2, 5.0], [4.0, 6.0], [6.4, 4.0], [3.4, 7.0], [6.5, 5.0], [np.nan, 5.0]])
    got = composite_anchored(X, specs)
    s_water = np.array([0.5, 1.0, 0.0, 1.25])
    s_apf = np.array([0.5, 1.0, 0.0, 1.5])
    assert np.allclose(got[:4], (3 * s_water + s_apf) / 4, rtol=0, atol=1e-15)
    assert np.isnan(got[4]) and np.isnan(got[5])


def test_anchored_is_independent_of_other_entries():
    specs = three_indicator_plan()
    rng = np.random.default_rng(5)

    def frame(n, start):
        return pd.DataFrame(
            {"water": rng.uniform(3.0, 6.6, n), "apf": rng.uniform(3.9, 6.0, n),
             "noise": rng.uniform(40, 62, n)},
            index=range(start, start + n),
        )

    base = frame(200, 0)
    more = pd.concat([base, frame(300, 1000)])
    alone = composite_anchored(base, specs)
    assert np.array_equal(composite_anchored(more, specs)[:200], alone, equal_nan=True)
    rule = LeaderRule("best_n", n=3)
    r1 = rank(base, specs, rule)
    r2 = rank(more, specs, rule)
    pd.testing.assert_series_equal(r2.composite.loc[base.index], r1.composite)


def test_composite_nan_for_below_floor_and_never_leader():
    specs = three_indicator_plan()
    m = pd.DataFrame(
        {"water": [3.5, 3.5, 6.5], "apf": [5.5, 5.5, 9.0], "noise": [40.0, 40.0, 30.0]},
        index=["a", "b", "c"],
    )
    for method in COMPOSITE_METHODS:
        res = rank(m, specs, LeaderRule("best_n", n=5), method=method)
        assert res.tiers.loc["c", "water"] == 0
        assert math.isnan(res.composite["c"])
        assert res.composite_rank["c"] == 0
        assert not res.leaders["c"]
        assert res.leaders[["a", "b"]].all()


def test_composite_rank_dense_with_ties_and_tolerance():
    half = 0.5
    near = half * (1 + TIE_RTOL / 4)  # within the tolerance: a tie
    apart = half * (1 + 1e-9)  # outside the tolerance
    m = score_frame([0.9, half, near, 0.7, 0.9, apart, 0.1])
    res = rank(m, [SCORE], LeaderRule("best_n", n=1))
    assert near != half
    assert res.composite_rank.tolist() == [1, 4, 4, 2, 1, 3, 5]


def test_best_n_includes_ties_at_the_boundary():
    m = score_frame([0.9, 0.8, 0.8, 0.7, 0.6])
    res = rank(m, [SCORE], LeaderRule("best_n", n=2))
    assert res.leaders.tolist() == [True, True, True, False, False]
    res = rank(m, [SCORE], LeaderRule("best_n", n=3))
    assert res.leaders.tolist() == [True, True, True, False, False]
    res = rank(m, [SCORE], LeaderRule("best_n", n=1))
    assert res.leaders.tolist() == [True, False, False, False, False]
    res = rank(m, [SCORE], LeaderRule("best_n", n=50))
    assert res.leaders.all()


def test_best_share_counts_exactly_and_includes_ties():
    m = score_frame([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    res = rank(m, [SCORE], LeaderRule("best_share", share=0.3))  # 3, not 4
    assert res.leaders.sum() == 3
    m = score_frame([1.0, 0.9, 0.8, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    res = rank(m, [SCORE], LeaderRule("best_share", share=0.3))
    assert res.leaders.tolist() == [True] * 4 + [False] * 6
    m = score_frame([0.3, 0.2, 0.1])
    res = rank(m, [SCORE], LeaderRule("best_share", share=0.1))  # ceil(0.3) = 1
    assert res.leaders.tolist() == [True, False, False]


def test_best_share_counts_only_entries_with_a_composite():
    m = score_frame([0.9, 0.8, 0.7, -1.0, -1.0, -1.0])  # three below the floor
    res = rank(m, [SCORE], LeaderRule("best_share", share=1 / 3))
    assert res.leaders.tolist() == [True, False, False, False, False, False]


def test_stars_for_leaders_only():
    m = score_frame([0.95, 0.9, 0.85, 0.7, 0.55, 0.4, 0.3])
    rule = LeaderRule("best_n", n=6, star_cuts=(0.9, 0.7, 0.5))
    res = rank(m, [SCORE], rule)
    assert res.stars.tolist() == [3, 3, 2, 2, 1, 0, 0]
    assert res.leaders.tolist() == [True] * 6 + [False]
    res = rank(m, [SCORE], LeaderRule("best_n", n=2, star_cuts=(0.9, 0.7, 0.5)))
    assert res.stars.tolist() == [3, 3, 0, 0, 0, 0, 0]
    res = rank(m, [SCORE], LeaderRule("best_n", n=2))
    assert res.stars.tolist() == [0] * 7


def test_stars_shared_by_tied_scores():
    below = 0.9 * (1 - TIE_RTOL / 4)  # tied with 0.9, numerically just under the cut
    res = rank(score_frame([0.9, below]), [SCORE], LeaderRule("best_n", n=2, star_cuts=(0.9,)))
    assert res.composite_rank.tolist() == [1, 1]
    assert res.stars.tolist() == [1, 1]


def test_top_tier_all_leaders():
    specs = three_indicator_plan()
    m = pd.DataFrame(
        {"water": [3.8, 4.0, 4.2, 3.0], "apf": [5.1, 5.0, 5.5, 5.6],
         "noise": [45.0, 44.0, 40.0, 61.0]},
        index=[4, 3, 2, 1],
    )
    res = rank(m, specs, LeaderRule("top_tier_all", star_cuts=(1.0, 0.5)))
    assert res.leaders.to_dict() == {1: False, 2: False, 3: True, 4: True}
    assert (res.stars[~res.leaders] == 0).all()
    assert (res.stars[res.leaders] >= 1).all()


def test_groups_in_one_call_equal_separate_calls():
    specs = three_indicator_plan() + [
        IndicatorSpec("share", "higher", 0.0, (10, 30, 60), "percentiles", best_reference=1.0)
    ]
    rng = np.random.default_rng(2)
    n = 300
    m = pd.DataFrame(
        {"water": np.round(rng.uniform(3.0, 6.6, n), 1), "apf": np.round(rng.uniform(3.9, 6, n), 1),
         "noise": np.round(rng.uniform(40, 62, n)), "share": np.round(rng.uniform(0, 1, n), 2)},
        index=rng.permutation(10 * n)[:n],
    )
    groups = pd.Series(rng.choice(["washer", "toilet", "ac"], n), index=m.index)
    for method in COMPOSITE_METHODS:
        for rule in (LeaderRule("top_tier_all"), LeaderRule("best_n", n=4, star_cuts=(0.8, 0.5)),
                     LeaderRule("best_share", share=0.15)):
            together = rank(m, specs, rule, method, groups)
            for g in groups.unique():
                ids = groups.index[groups == g]
                alone = rank(m.loc[ids], specs, rule, method)
                ids = alone.tiers.index
                pd.testing.assert_frame_equal(together.tiers.loc[ids], alone.tiers)
                for attr in ("composite", "composite_rank", "leaders", "stars"):
                    pd.testing.assert_series_equal(getattr(together, attr).loc[ids],
                                                   getattr(alone, attr), rtol=0, atol=0)
                for key in together.ranked:
                    pos = together.tiers.index.get_indexer(ids)
                    assert (together.ranked[key][pos] == alone.ranked[key]).all()


def test_topsis_identical_entries_score_one():
    specs = [APF, WATER]
    X = np.array([[5.0, 4.0], [5.0, 4.0], [5.0, 4.0]])
    assert composite_topsis(X, specs).tolist() == [1.0, 1.0, 1.0]
    # a single entry is its own ideal
    assert composite_topsis(X[:1], specs).tolist() == [1.0]


def test_topsis_all_zero_column_contributes_nothing():
    specs = [IndicatorSpec("standby", "lower", 1.0, (0.5,)), APF]
    X = np.array([[0.0, 5.0], [0.0, 4.5], [0.0, 4.0]])
    assert composite_topsis(X, specs).tolist() == [1.0, 0.5, 0.0]


def test_topsis_excludes_ineligible_entries_from_the_population():
    specs = [APF, WATER]
    X = np.array([[5.0, 4.0], [4.5, 5.0], [3.0, 4.0]])  # the last is below the APF floor
    got = composite_topsis(X, specs)
    assert np.isnan(got[2])
    assert got[:2].tolist() == composite_topsis(X[:2], specs).tolist()


def test_rank_result_shape_and_types():
    specs = three_indicator_plan()
    m = pd.DataFrame({"water": [4.0, 5.0], "apf": [5.0, 4.5], "noise": [44.0, 55.0],
                      "ignored": ["x", "y"]}, index=[20, 10])
    res = rank(m, specs, LeaderRule("best_n", n=1))
    assert list(res.tiers.columns) == ["water", "apf", "noise"]
    assert res.tiers.index.tolist() == [10, 20]
    assert all(dt == np.int64 for dt in res.tiers.dtypes)
    for s in (res.composite, res.composite_rank, res.leaders, res.stars):
        assert s.index.equals(res.tiers.index)
    assert res.composite.dtype == np.float64
    assert res.composite_rank.dtype == np.int64
    assert res.leaders.dtype == bool
    assert res.stars.dtype == np.int64


def test_string_ids_and_positional_groups():
    specs = three_indicator_plan()
    m = pd.DataFrame({"water": [4.0, 5.0, 3.9, 4.4], "apf": [5.0, 4.5, 5.2, 4.9],
                      "noise": [44.0, 55.0, 41.0, 49.0]}, index=["d-9", "d-10", "d-1", "d-2"])
    groups = np.array(["ac", "ac", "toilet", "toilet"])  # positional, in the frame's row order
    res = rank(m, specs, LeaderRule("best_n", n=1), groups=groups)
    assert res.tiers.index.tolist() == ["d-1", "d-10", "d-2", "d-9"]
    assert res.leaders.to_dict() == {"d-1": True, "d-10": False, "d-2": False, "d-9": True}
    same = rank(m.iloc[::-1], specs, LeaderRule("best_n", n=1),
                groups=pd.Series(groups, index=m.index))
    assert_same_result(res, same)


def test_huge_and_negative_int_ids():
    ids = [2**62, -(2**62), 0, 17, -1]
    m = pd.DataFrame({"water": [4.0, 5.0, 6.0, 4.5, 3.0]}, index=ids)
    res = rank(m, [WATER], LeaderRule("best_n", n=2))
    assert res.tiers.index.tolist() == sorted(ids)
    assert res.tiers["water"].to_dict() == {2**62: 1, -(2**62): 2, 0: 3, 17: 2, -1: 1}


def test_rank_refuses_bad_frames():
    specs = [WATER]
    with pytest.raises(ValueError, match="unique"):
        rank(pd.DataFrame({"water": [4.0, 5.0]}, index=[1, 1]), specs, LeaderRule("best_n", n=1))
    with pytest.raises(ValueError, match="column"):
        rank(pd.DataFrame({"apf": [4.0]}, index=[1]), specs, LeaderRule("best_n", n=1))
    with pytest.raises(ValueError, match="infinite"):
        rank(pd.DataFrame({"water": [-np.inf]}, index=[1]), specs, LeaderRule("best_n", n=1))
    with pytest.raises(ValueError, match="category"):
        rank(pd.DataFrame({"water": [4.0, 5.0]}, index=[1, 2]), specs, LeaderRule("best_n", n=1),
             groups=pd.Series(["a"], index=[1]))


def test_empty_matrix():
    res = rank(pd.DataFrame({"water": []}, index=pd.Index([], dtype=np.int64)), [WATER],
               LeaderRule("top_tier_all"))
    assert len(res.tiers) == 0 and len(res.leaders) == 0
    assert res.ranked == {"water": False}


# --------------------------------------------------------------------------------------------
# Determinism and the inputs hash
# --------------------------------------------------------------------------------------------


def random_case(seed=0, n=400):
    rng = np.random.default_rng(seed)
    specs = three_indicator_plan()
    m = pd.DataFrame(
        {"water": np.round(rng.uniform(3.0, 6.6, n), 1), "apf": np.round(rng.uniform(3.9, 6, n), 2),
         "noise": np.round(rng.uniform(40, 62, n))},
        index=rng.permutation(100_000)[:n],
    )
    groups = pd.Series(rng.integers(0, 5, n), index=m.index)
    return m, specs, groups


def assert_same_result(a, b):
    pd.testing.assert_frame_equal(a.tiers, b.tiers)
    for attr in ("composite", "composite_rank", "leaders", "stars"):
        pd.testing.assert_series_equal(getattr(a, attr), getattr(b, attr), rtol=0, atol=0)
    assert a.ranked.keys() == b.ranked.keys()
    for k in a.ranked:
        assert np.array_equal(a.ranked[k], b.ranked[k])


@pytest.mark.parametrize("method", sorted(COMPOSITE_METHODS))
def test_rank_is_deterministic_and_sorted(method):
    m, specs, groups = random_case()
    rule = LeaderRule("best_share", share=0.1, star_cuts=(0.9, 0.6))
    first = rank(m, specs, rule, method, groups)
    assert first.tiers.index.is_monotonic_increasing
    shuffled = m.sample(frac=1.0, random_state=1)
    again = rank(shuffled, specs, rule, method, groups.sample(frac=1.0, random_state=2))
    assert_same_result(first, again)
    reordered_columns = m[["noise", "apf", "water"]]
    assert_same_result(first, rank(reordered_columns, specs, rule, method, groups))


def test_inputs_hash_invariant_to_row_order():
    m, specs, groups = random_case()
    rule = LeaderRule("best_n", n=3)
    h = inputs_hash(m, specs, rule, "anchored", {"plan": "AC-2025"}, groups=groups)
    assert len(h) == 64 and int(h, 16) >= 0
    shuffled = m.sample(frac=1.0, random_state=4)[["noise", "water", "apf"]]
    assert inputs_hash(shuffled, specs, rule, "anchored", {"plan": "AC-2025"},
                       groups=groups.sample(frac=1.0, random_state=5)) == h
    # numbers written as ints or floats, -0.0 or 0.0 are the same inputs
    specs_int = [dataclass_replace(specs[2], floor=60, cuts=(45, 50), best_reference=40)]
    assert (inputs_hash(m, specs[:2] + specs_int, rule, "anchored", {"plan": "AC-2025"},
                        groups=groups) == h)


def dataclass_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def test_inputs_hash_sensitive_to_every_input():
    m, specs, groups = random_case()
    rule = LeaderRule("best_n", n=3)
    base = inputs_hash(m, specs, rule, "anchored", {"plan": "AC-2025"}, groups=groups)
    changed = []
    m2 = m.copy()
    m2.iloc[17, 1] = np.nextafter(m2.iloc[17, 1], np.inf)  # one ulp
    changed.append(inputs_hash(m2, specs, rule, "anchored", {"plan": "AC-2025"}, groups=groups))
    m3 = m.copy()
    m3.iloc[3, 0] = np.nan
    changed.append(inputs_hash(m3, specs, rule, "anchored", {"plan": "AC-2025"}, groups=groups))
    m4 = m.rename(index={m.index[0]: 999_999})
    changed.append(inputs_hash(m4, specs, rule, "anchored", {"plan": "AC-2025"},
                               groups=groups.rename(index={m.index[0]: 999_999})))
    changed.append(inputs_hash(m.iloc[1:], specs, rule, "anchored", {"plan": "AC-2025"},
                               groups=groups))
    for i, field, value in [(0, "weight", 2.5), (1, "floor", 3.9), (2, "cuts", (45.0, 51.0)),
                            (0, "best_reference", 3.6), (1, "direction", "lower")]:
        s2 = list(specs)
        if field == "direction":
            s2[i] = IndicatorSpec("apf", "lower", 6.0, (5.0, 5.5))
        else:
            s2[i] = dataclass_replace(specs[i], **{field: value})
        changed.append(inputs_hash(m, s2, rule, "anchored", {"plan": "AC-2025"}, groups=groups))
    changed.append(inputs_hash(m, specs[::-1], rule, "anchored", {"plan": "AC-2025"},
                               groups=groups))
    changed.append(inputs_hash(m, specs, LeaderRule("best_n", n=4), "anchored",
                               {"plan": "AC-2025"}, groups=groups))
    changed.append(inputs_hash(m, specs, LeaderRule("best_n", n=3, star_cuts=(0.9,)),
                               "anchored", {"plan": "AC-2025"}, groups=groups))
    changed.append(inputs_hash(m, specs, rule, "topsis", {"plan": "AC-2025"}, groups=groups))
    changed.append(inputs_hash(m, specs, rule, "anchored", {"plan": "AC-2026"}, groups=groups))
    changed.append(inputs_hash(m, specs, rule, "anchored", {"plan": "AC-2025"}))
    g2 = groups.copy()
    g2.iloc[0] = g2.iloc[0] + 1
    changed.append(inputs_hash(m, specs, rule, "anchored", {"plan": "AC-2025"}, groups=g2))
    assert base not in changed
    assert len(set(changed)) == len(changed)


def test_inputs_hash_distinguishes_id_types():
    m = pd.DataFrame({"water": [4.0]}, index=[1])
    m_str = pd.DataFrame({"water": [4.0]}, index=["1"])
    rule = LeaderRule("best_n", n=1)
    h_int = inputs_hash(m, [WATER], rule, "anchored")
    assert h_int != inputs_hash(m_str, [WATER], rule, "anchored")


def test_inputs_hash_refuses_bad_specs():
    m = pd.DataFrame({"water": [4.0]}, index=[1])
    with pytest.raises(SpecError):
        inputs_hash(m, [IndicatorSpec("water", "lower", 6.4, (5.0, 4.0))],
                    LeaderRule("best_n", n=1), "anchored")
