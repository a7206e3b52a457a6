"""supervision.sampling.method: seeds, population hash, sample size, pi, draw, stratified draw, redo."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.random import PCG64, Generator

from supervision.sampling.method import (
    METHOD,
    allocate,
    child_seed,
    draw,
    inclusion_probabilities,
    population_hash,
    redo,
    risk_weights,
    sample_size,
    seed_from_text,
    stratified_draw,
)

LOTTERY = "2026-11-22 双色球 03 07 12 19 25 31 + 09"


def make_population(size: int = 600, *, strata: int = 6, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, size + 1) * 10
    stratum = [f"R{(i * 7) % strata:02d}/C{(i * 3) % 2}" for i in range(size)]
    risk = np.where(rng.random(size) < 0.2, rng.integers(1, 4, size), 0).astype(float)
    excluded = rng.random(size) < 0.05
    forced = (rng.random(size) < 0.01) & ~excluded
    return pd.DataFrame(
        {
            "id": ids,
            "stratum": stratum,
            "risk": risk,
            "excluded": excluded,
            "exclusion_reason": np.where(excluded, "drawn on 2024-05-01 (within 3 years)", ""),
            "forced": forced,
            "name": [f"enterprise {i}" for i in range(size)],
        }
    )


def shuffled(df: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# seeds


def test_seed_from_text_is_sha256_of_normalised_text_as_128_bit_int():
    seed = seed_from_text(LOTTERY)
    expected = int.from_bytes(hashlib.sha256(LOTTERY.encode("utf-8")).digest()[:16], "big")
    assert seed == expected
    assert 0 <= seed < 2**128
    # re-typing with other whitespace (full-width space, double spaces) gives the same seed
    assert seed_from_text("  2026-11-22\u3000双色球  03 07 12 19 25 31 + 09\n") == seed
    assert seed_from_text("2026-11-22 双色球 03 07 12 19 25 31 + 10") != seed


@pytest.mark.parametrize("bad", ["", "   \u3000 ", None, 12])
def test_seed_from_text_rejects_empty_or_non_text(bad):
    with pytest.raises(ValueError, match="seed text"):
        seed_from_text(bad)


def test_child_seed_follows_the_documented_formula():
    seed = seed_from_text(LOTTERY)
    message = f"qibiao/supervision/v1\x1f{seed}\x1fstratum\x1fR01/C0".encode()
    expected = int.from_bytes(hashlib.sha256(message).digest()[:16], "big")
    assert child_seed(seed, "stratum", "R01/C0") == expected
    assert child_seed(seed, "stratum", "R01/C1") != expected
    with pytest.raises(ValueError, match="non-negative"):
        child_seed(-1, "x")


# --------------------------------------------------------------------------------------------
# population hash


def test_population_hash_ignores_row_and_column_order_and_other_columns():
    df = make_population()
    reference = population_hash(df)
    assert len(reference) == 64
    assert population_hash(shuffled(df, 3)) == reference
    assert population_hash(df[list(reversed(df.columns))]) == reference
    assert population_hash(df.drop(columns=["name"])) == reference
    # defaults are part of the canonical form: an explicit default column hashes the same
    assert population_hash(df.assign(weight=1.0)) == reference


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df.assign(id=df["id"].where(df.index != 5, 99999)),
        lambda df: df.assign(stratum=df["stratum"].where(df.index != 5, "R99/C0")),
        lambda df: df.assign(risk=df["risk"].where(df.index != 5, df["risk"][5] + 1e-12)),
        lambda df: df.assign(weight=np.where(df.index == 5, 2.0, 1.0)),
        lambda df: df.assign(excluded=df["excluded"] ^ (df.index == 5)).assign(
            exclusion_reason="some reason"
        ),
        lambda df: df.assign(
            exclusion_reason=np.where(df["excluded"], "drawn on 2024-05-02 (within 3 years)", "")
        ),
        lambda df: df.assign(forced=df["forced"] ^ (df.index == 5)),
        lambda df: df.drop(index=5),
        lambda df: pd.concat(
            [df, df.iloc[[0]].assign(id=123457)], ignore_index=True
        ),
    ],
    ids=["id", "stratum", "risk", "weight", "excluded", "reason", "forced", "removed", "added"],
)
def test_population_hash_changes_when_any_row_changes(change):
    df = make_population()
    assert population_hash(change(df.copy())) != population_hash(df)


def test_population_hash_string_ids_and_categorical_strata():
    df = make_population(50)
    as_text = df.assign(id=[f"QB-{i:05d}" for i in df["id"]])
    assert population_hash(as_text) == population_hash(shuffled(as_text))
    assert population_hash(as_text) != population_hash(df)
    categorical = df.assign(stratum=df["stratum"].astype("category"))
    assert population_hash(categorical) == population_hash(df)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"id": [1, 2]}), "missing column.*'stratum'"),
        (pd.DataFrame({"id": [1, 1], "stratum": ["a", "b"]}), "id 1 appears more than once"),
        (pd.DataFrame({"id": [1.5, 2.0], "stratum": ["a", "b"]}), "all integers or all strings"),
        (pd.DataFrame({"id": [1, 2], "stratum": ["a", None]}), "'stratum' is missing in row 1"),
        (pd.DataFrame({"id": [1, 2], "stratum": ["a", "b"], "risk": [0.0, -1.0]}), "'risk'"),
        (pd.DataFrame({"id": [1, 2], "stratum": ["a", "b"], "weight": [0.0, 1.0]}), "'weight'"),
        (
            pd.DataFrame({"id": [1, 2], "stratum": ["a", "b"], "excluded": [True, False]}),
            "no 'exclusion_reason' column",
        ),
        (
            pd.DataFrame(
                {
                    "id": [1, 2],
                    "stratum": ["a", "b"],
                    "excluded": [False, True],
                    "exclusion_reason": ["", " "],
                }
            ),
            "id=2 has no exclusion_reason",
        ),
        (pd.DataFrame({"id": [1, 2], "stratum": ["a", "b"], "forced": ["yes", "no"]}), "forced"),
    ],
)
def test_population_errors_are_specific(frame, message):
    with pytest.raises(ValueError, match=message):
        population_hash(frame)


# --------------------------------------------------------------------------------------------
# sample size


@pytest.mark.parametrize(
    ("N", "kwargs", "expected"),
    [
        (20, {}, 1),  # 5 % of 20 = 1 exactly
        (21, {}, 2),  # 5 % of 21 = 1.05 -> 2
        (0, {}, 0),
        (1, {}, 1),
        (100, {}, 5),
        (101, {}, 6),
        (100, {"ratio": 0.07}, 7),  # 0.07 * 100 == 7.000000000000001 in floats
        (1000, {"ratio": 0.001}, 50),  # below the 5 % minimum: raised to it
        (40, {"ratio": "10%"}, 4),
        (30, {"ratio": "1/3"}, 10),
        (30, {"ratio": 1}, 30),
        (10, {"count": 50}, 10),  # capped at N
        (100, {"count": 2}, 5),  # raised to the minimum ratio
        (100, {"count": 12}, 12),
        (100, {"count": 0, "min_ratio": 0}, 0),
        (100, {"ratio": 0.01, "min_ratio": 0}, 1),
        (20, {"min_ratio": 0.1}, 2),
    ],
)
def test_sample_size(N, kwargs, expected):
    assert sample_size(N, **kwargs) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ratio": 0.1, "count": 3}, "either ratio or count, not both"),
        ({"ratio": 0}, "ratio must be greater than 0"),
        ({"ratio": 1.5}, "at most 1"),
        ({"ratio": float("nan")}, "finite"),
        ({"ratio": "five percent"}, "not a number"),
        ({"count": -1}, "count must be >= 0"),
        ({"count": 2.5}, "count must be a whole number"),
        ({"count": True}, "count must be a whole number"),
        ({"min_ratio": 2}, "min_ratio must be between 0 and 1"),
        ({"min_ratio": 0}, "give a ratio or a count"),
    ],
)
def test_sample_size_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_size(100, **kwargs)


def test_sample_size_rejects_bad_population_size():
    with pytest.raises(ValueError, match="N"):
        sample_size(-3)


# --------------------------------------------------------------------------------------------
# inclusion probabilities, risk weights, draw


def test_inclusion_probabilities_proportional_and_capped():
    assert np.allclose(inclusion_probabilities([1, 2, 3, 4], 2), [0.2, 0.4, 0.6, 0.8])
    # the giant is capped at 1 and the remaining 1 is shared equally by the others
    assert np.allclose(inclusion_probabilities([100, 1, 1, 1, 1], 2), [1, 0.25, 0.25, 0.25, 0.25])
    # iterative: after capping the first, the second would exceed 1 too
    pi = inclusion_probabilities([1000, 60, 10, 10, 10, 10], 3)
    assert np.allclose(pi, [1, 1, 0.25, 0.25, 0.25, 0.25])
    # capped at 0.9 instead of 1: the excess goes to the others
    assert np.allclose(
        inclusion_probabilities([100, 1, 1, 1, 1], 2, cap=0.9), [0.9, 0.275, 0.275, 0.275, 0.275]
    )
    # zero weights never included; equal weights treated alike
    assert np.allclose(inclusion_probabilities([0, 5, 5, 0], 2), [0, 1, 1, 0])
    assert np.allclose(inclusion_probabilities([3, 3, 3], 0), 0)
    # n equal to size * cap (up to rounding): everybody at the cap
    assert np.allclose(inclusion_probabilities(np.arange(1, 11), 9, cap=0.9), 0.9)
    assert np.allclose(inclusion_probabilities([5, 1, 1], 1, cap=1 / 3), 1 / 3)


@pytest.mark.parametrize(
    ("weights", "n", "kwargs", "message"),
    [
        ([1, 0, 0], 2, {}, "only 1 of 3 have a positive weight"),
        ([1, 1, 1], 3, {"cap": 0.9}, "none may exceed pi = 0.9"),
        ([1, -1], 1, {}, "weights must be >= 0"),
        ([1, float("nan")], 1, {}, r"weights\[1\] = nan is not a finite number"),
        ([1, 2], 1, {"cap": 0}, "cap must be a number in"),
        ([[1, 2]], 1, {}, "one-dimensional"),
    ],
)
def test_inclusion_probabilities_errors(weights, n, kwargs, message):
    with pytest.raises(ValueError, match=message):
        inclusion_probabilities(weights, n, **kwargs)


def test_risk_weights():
    base = np.ones(4)
    risk = np.array([0.0, 0.5, 1.0, 10.0])
    assert np.allclose(risk_weights(base, risk, risk_factor=2.0), [1, 2, 3, 21])
    assert np.allclose(risk_weights(base, risk, risk_factor=2.0, cap=4.0), [1, 2, 3, 4])
    assert np.allclose(risk_weights(base * 2, risk, risk_factor=0.0), 2)
    with pytest.raises(ValueError, match="risk scores must be >= 0"):
        risk_weights(base, -risk, risk_factor=1.0)
    with pytest.raises(ValueError, match="risk cap must be a finite number >= 1"):
        risk_weights(base, risk, risk_factor=1.0, cap=0.5)
    with pytest.raises(ValueError, match="risk_factor"):
        risk_weights(base, risk, risk_factor=-1.0)
    with pytest.raises(ValueError, match="same length"):
        risk_weights(base, risk[:2], risk_factor=1.0)


def test_draw_takes_certain_units_and_never_zero_units():
    pi = np.array([1.0, 0.0, 0.5, 0.5, 1.0, 0.0, 0.25, 0.75])
    for seed in range(50):
        chosen = draw(pi, Generator(PCG64(seed)))
        assert len(chosen) == 4 and len(set(chosen.tolist())) == 4
        assert {0, 4} <= set(chosen.tolist())
        assert not {1, 5} & set(chosen.tolist())


def test_draw_is_reproducible_and_uses_the_raw_stream_as_documented():
    pi = inclusion_probabilities(np.arange(1, 31), 7)
    first = draw(pi, Generator(PCG64(42)))
    assert np.array_equal(first, draw(pi, Generator(PCG64(42))))
    assert not np.array_equal(np.sort(first), np.sort(draw(pi, Generator(PCG64(43)))))
    # redo by hand from the recipe: N raw outputs = sort keys, the next one = u
    bitgen = PCG64(42)
    keys = bitgen.random_raw(pi.size)
    u = (int(bitgen.random_raw()) >> 11) / 2**53
    order = np.argsort(keys, kind="stable")
    cumulative = np.cumsum(pi[order])
    positions = [int(np.searchsorted(cumulative, u + k, side="right")) for k in range(7)]
    assert first.tolist() == order[positions].tolist()


@pytest.mark.parametrize(
    ("pi", "message"),
    [
        ([0.5, 0.7], "not a whole number"),
        ([1.2, 0.8], r"pi\[0\] = 1.2 is outside \[0, 1\]"),
        ([-0.1, 1.1], "outside"),
    ],
)
def test_draw_errors(pi, message):
    with pytest.raises(ValueError, match=message):
        draw(pi, Generator(PCG64(0)))


def test_draw_requires_a_generator():
    with pytest.raises(ValueError, match="numpy Generator"):
        draw([0.5, 0.5], 3)


weights_strategy = st.lists(
    st.one_of(
        st.just(0.0),
        st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    weights=weights_strategy,
    share=st.floats(min_value=0, max_value=1),
    cap=st.sampled_from([1.0, 0.9, 0.5]),
    seed=st.integers(min_value=0, max_value=2**128 - 1),
)
def test_properties_of_pi_and_draw(weights, share, cap, seed):
    positive = sum(w > 0 for w in weights)
    n = math.floor(share * positive * cap)
    pi = inclusion_probabilities(weights, n, cap=cap)
    assert pi.shape == (len(weights),)
    assert abs(pi.sum() - n) <= 1e-9 * max(1, n)
    assert (pi >= 0).all() and (pi <= cap).all()
    assert (pi[np.asarray(weights) == 0] == 0).all()
    chosen = draw(pi, Generator(PCG64(seed)))
    assert len(chosen) == n
    assert len(set(chosen.tolist())) == n
    assert set(np.flatnonzero(pi >= 1).tolist()) <= set(chosen.tolist())
    assert not set(np.flatnonzero(pi == 0).tolist()) & set(chosen.tolist())


# --------------------------------------------------------------------------------------------
# allocation


def test_allocate_proportional_largest_remainder_with_key_tie_break():
    # quotas 10 * (3, 3, 3, 1) / 10 = 3, 3, 3, 1 exactly
    assert allocate(10, {"a": 3, "b": 3, "c": 3, "d": 1}) == {"a": 3, "b": 3, "c": 3, "d": 1}
    # quotas 2 * 1/3 each: floors 0, 2 extra to the largest remainders, ties by key
    assert allocate(2, {"z": 5, "m": 5, "a": 5}) == {"a": 1, "m": 1, "z": 0}
    # 7 over (50, 30, 20): quotas 3.5, 2.1, 1.4 -> 3 + 1, 2, 1
    assert allocate(7, {"x": 50, "y": 30, "w": 20}) == {"w": 1, "x": 4, "y": 2}


def test_allocate_minimum_per_stratum_and_equal():
    sizes = {"big": 1000, "small": 10, "tiny": 1, "empty": 0}
    plain = allocate(20, sizes)
    assert plain == {"big": 20, "empty": 0, "small": 0, "tiny": 0}
    with_minimum = allocate(20, sizes, min_per_stratum=1)
    assert with_minimum == {"big": 18, "empty": 0, "small": 1, "tiny": 1}
    # minimums above the total: each stratum gets its minimum
    assert allocate(2, {"a": 5, "b": 5, "c": 5}, min_per_stratum=1) == {"a": 1, "b": 1, "c": 1}
    # equal allocation, capped at the stratum size, the rest re-shared
    assert allocate(9, {"a": 100, "b": 100, "c": 1}, allocation="equal") == {
        "a": 4,
        "b": 4,
        "c": 1,
    }
    with pytest.raises(ValueError, match="allocation must be one of"):
        allocate(3, sizes, allocation="neyman")
    with pytest.raises(ValueError, match="cannot draw 2000"):
        allocate(2000, sizes)


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.dictionaries(
        st.text(alphabet="abcdef", min_size=1, max_size=3),
        st.integers(min_value=0, max_value=500),
        min_size=1,
        max_size=12,
    ),
    share=st.floats(min_value=0, max_value=1),
    minimum=st.integers(min_value=0, max_value=3),
)
def test_allocation_properties(sizes, share, minimum):
    total = sum(sizes.values())
    n = math.floor(share * total)
    result = allocate(n, sizes, min_per_stratum=minimum)
    assert set(result) == set(sizes)
    floor_sum = sum(min(minimum, size) for size in sizes.values())
    assert sum(result.values()) == max(n, floor_sum)
    for key, size in sizes.items():
        assert min(minimum, size) <= result[key] <= size
    if minimum == 0 and total:
        for key, size in sizes.items():
            assert abs(result[key] - n * size / total) < 1  # proportional, rounded once


# --------------------------------------------------------------------------------------------
# stratified draw and redo


def test_same_seed_same_population_any_row_order_gives_identical_sample():
    df = make_population()
    first = stratified_draw(df, seed=LOTTERY, ratio=0.1, risk_factor=2.0)
    second = stratified_draw(df, seed=LOTTERY, ratio=0.1, risk_factor=2.0)
    third = stratified_draw(shuffled(df, 11), seed=LOTTERY, ratio=0.1, risk_factor=2.0)
    assert first.ids == second.ids == third.ids
    assert first.equals(second) and first.equals(third)
    assert first.seed == seed_from_text(LOTTERY)
    other = stratified_draw(df, seed=LOTTERY + " ", ratio=0.1, risk_factor=2.0)
    assert other.ids == first.ids  # whitespace is normalised away
    different = stratified_draw(df, seed="2026-11-29 双色球 01 02 03 04 05 06 + 07", ratio=0.1)
    assert set(different.ids) != set(first.ids)


def test_redo_from_the_recorded_params_gives_the_same_ids_in_the_same_order():
    df = make_population()
    result = stratified_draw(df, seed=LOTTERY, ratio="8%", risk_factor=1.5, min_per_stratum=1)
    record = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert record["method"] == METHOD
    again = redo(shuffled(df, 5), record["params"])
    assert again.ids == result.ids
    assert again.sample.equals(result.sample)
    assert again.equals(result)
    assert redo(df, result.params).equals(result)


def test_redo_refuses_a_changed_population_or_a_wrong_seed():
    df = make_population()
    result = stratified_draw(df, seed=12345, ratio=0.1)
    changed = df.assign(risk=np.where(df.index == 3, 9.0, df["risk"]))
    with pytest.raises(ValueError, match="differs from the recorded"):
        redo(changed, result.params)
    text_draw = stratified_draw(df, seed=LOTTERY, ratio=0.1)
    with pytest.raises(ValueError, match="does not derive from the recorded text"):
        redo(df, {**text_draw.params, "seed": 1})
    with pytest.raises(ValueError, match="method"):
        redo(df, {**result.params, "method": "choice/v0"})
    with pytest.raises(ValueError, match="unknown draw parameter"):
        redo(df, {**result.params, "colour": "red"})


def test_int_seed_and_string_ids():
    df = make_population(300)
    df["id"] = [f"QB-{i:05d}" for i in df["id"]]
    first = stratified_draw(df, seed=2**100 + 3, ratio=0.1)
    assert first.ids == stratified_draw(shuffled(df), seed=2**100 + 3, ratio=0.1).ids
    assert all(isinstance(i, str) for i in first.ids)
    assert first.ids != stratified_draw(df, seed=2**100 + 4, ratio=0.1).ids


def test_exclusions_are_listed_with_reasons_and_not_drawn():
    df = make_population()
    result = stratified_draw(df, seed=1, ratio=0.5)
    excluded_ids = set(df.loc[df["excluded"], "id"])
    assert set(result.excluded["id"]) == excluded_ids
    assert (result.excluded["reason"] == "drawn on 2024-05-01 (within 3 years)").all()
    assert not excluded_ids & set(result.ids)
    assert list(result.excluded.columns) == ["id", "stratum", "reason"]
    assert result.allocation["excluded"].sum() == len(excluded_ids)


def test_complaint_triggered_objects_are_labelled_and_outside_the_random_share():
    df = make_population()
    df.loc[df.index[:2], ["excluded", "exclusion_reason"]] = [True, "drawn 2025"]
    df.loc[df.index[:3], "forced"] = True  # the first two are also excluded: complaint wins
    result = stratified_draw(df, seed=9, ratio=0.05)
    forced_ids = set(df.loc[df["forced"], "id"])
    complaints = result.sample[result.sample["reason"] == "complaint"]
    assert set(complaints["id"]) == forced_ids
    assert (complaints["pi"] == 1.0).all()
    assert not forced_ids & set(result.excluded["id"])
    random_part = result.sample[result.sample["reason"] != "complaint"]
    assert not forced_ids & set(random_part["id"])
    scope = int((~df["forced"]).sum())  # the ratio is of the scope: excluded ones count
    assert result.random_size == len(random_part) == sample_size(scope, ratio=0.05)
    assert len(result.sample) == result.random_size + len(forced_ids)
    assert (result.sample["reason"].iloc[-len(forced_ids) :] == "complaint").all()


def test_minimum_ratio_applies_to_the_scope():
    df = make_population(600)
    frame = int((~df["excluded"] & ~df["forced"]).sum())
    scope = int((~df["forced"]).sum())
    assert scope > frame  # make_population excludes some
    low = stratified_draw(df, seed=3, ratio=0.01)  # below 5 %: raised
    assert low.random_size == math.ceil(scope * 5 / 100)
    counted = stratified_draw(df, seed=3, count=10_000)
    assert counted.random_size == frame
    assert counted.params["count"] == 10_000


def test_per_stratum_sizes_sum_to_the_total_and_are_proportional():
    df = make_population(1000, strata=7)
    result = stratified_draw(df, seed=LOTTERY, ratio=0.13, risk_factor=0.0)
    alloc = result.allocation.set_index("stratum")
    scope = int(alloc["population"].sum() + alloc["excluded"].sum())
    total = sample_size(scope, ratio=0.13)
    assert alloc["sample"].sum() == total == result.random_size
    expected = allocate(total, alloc["population"].to_dict())
    assert alloc["sample"].to_dict() == expected
    for key, row in alloc.iterrows():
        assert abs(row["sample"] - total * row["population"] / alloc["population"].sum()) < 1
    drawn = result.sample[result.sample["reason"] != "complaint"]["stratum"].value_counts()
    assert drawn.to_dict() == {k: v for k, v in expected.items() if v}


def test_sample_lists_strata_in_key_order_then_complaints():
    df = make_population(400, strata=5)
    result = stratified_draw(df, seed=77, ratio=0.2)
    random_strata = result.sample.loc[result.sample["reason"] != "complaint", "stratum"].tolist()
    assert random_strata == sorted(random_strata)
    reasons = result.sample["reason"].tolist()
    first_complaint = reasons.index("complaint")
    assert set(reasons[first_complaint:]) == {"complaint"}


def test_reported_pi_is_the_risk_weighted_probability_and_labels_follow_risk():
    df = make_population(800, strata=4)
    result = stratified_draw(df, seed=5, ratio=0.1, risk_factor=2.0, risk_cap=5.0)
    frame = df[~df["excluded"] & ~df["forced"]].sort_values("id")
    alloc = result.allocation.set_index("stratum")["sample"]
    expected_pi = {}
    for key, group in frame.groupby("stratum"):
        weights = risk_weights(np.ones(len(group)), group["risk"], risk_factor=2.0, cap=5.0)
        n_h = int(alloc[key])
        pi = inclusion_probabilities(weights, n_h, cap=max(0.9, n_h / len(group)))
        expected_pi.update(zip(group["id"], pi, strict=True))
    drawn = result.sample[result.sample["reason"] != "complaint"]
    for row in drawn.itertuples():
        assert row.pi == pytest.approx(expected_pi[row.id], rel=1e-12)
    risk = df.set_index("id")["risk"]
    assert (drawn["reason"] == np.where(risk[drawn["id"]] > 0, "risk_weighted", "random")).all()
    assert {"random", "risk_weighted"} <= set(drawn["reason"])


def test_risk_never_makes_the_draw_deterministic_unless_configured():
    df = pd.DataFrame(
        {"id": range(200), "stratum": "S", "risk": [100.0] * 5 + [0.0] * 195}
    )
    draws = [stratified_draw(df, seed=s, ratio=0.1, risk_factor=50.0) for s in range(40)]
    risky_pi = pd.concat([d.sample[d.sample["id"] < 5]["pi"] for d in draws])
    assert len(risky_pi) > 0
    assert np.allclose(risky_pi, 0.9)  # raised up to the ceiling, not to certainty
    included = [sum(i in set(d.ids) for i in range(5)) for d in draws]
    assert min(included) < 5  # a very risky unit is sometimes not drawn
    certain = stratified_draw(df, seed=0, ratio=0.1, risk_factor=50.0, max_inclusion=1.0)
    assert set(range(5)) <= set(certain.ids)
    assert (certain.sample.set_index("id")["pi"].reindex(range(5)) == 1.0).all()


def test_a_census_stratum_and_empty_population():
    df = pd.DataFrame({"id": [1, 2, 3], "stratum": ["a", "a", "b"], "risk": [5.0, 0.0, 0.0]})
    result = stratified_draw(df, seed=1, ratio=1, risk_factor=3.0)
    assert sorted(result.ids) == [1, 2, 3]
    assert (result.sample["pi"] == 1.0).all()
    empty = stratified_draw(df.iloc[:0], seed=1)
    assert empty.ids == [] and empty.random_size == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -5}, "non-negative"),
        ({"seed": 1.5}, "seed must be"),
        ({"seed": 1, "max_inclusion": 0}, "max_inclusion"),
        ({"seed": 1, "risk_factor": -2.0}, "risk_factor"),
        ({"seed": 1, "ratio": 0.1, "count": 4}, "not both"),
        ({"seed": 1, "allocation": "optimal"}, "allocation must be one of"),
    ],
)
def test_stratified_draw_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stratified_draw(make_population(50), **kwargs)


def _scope_of_16(excluded: int) -> pd.DataFrame:
    df = pd.DataFrame({"id": range(1, 17), "stratum": "500000"})
    df["excluded"] = df["id"] <= excluded
    df["exclusion_reason"] = np.where(df["excluded"], "drawn 2025", "")
    return df


def test_the_ratio_is_of_the_scope_not_of_what_is_left_after_exclusions():
    """Issue 9, finding 10: 13 % of a scope of 16 with 5 excluded is ceil(2.08) = 3, not
    ceil(0.13 × 11) = 2."""
    result = stratified_draw(_scope_of_16(5), seed=LOTTERY, ratio=0.13)
    assert (result.scope_size, result.required_size, result.random_size) == (16, 3, 3)
    assert not result.short
    assert not set(result.ids) & set(range(1, 6))  # drawn from the frame left
    assert result.params["size_base"] == "scope"
    assert redo(_scope_of_16(5), result.params).ids == result.ids


def test_a_frame_smaller_than_the_required_sample_is_taken_whole_and_says_so():
    result = stratified_draw(_scope_of_16(14), seed=LOTTERY, ratio=0.3)  # ceil(4.8) = 5 > 2
    assert (result.required_size, result.random_size) == (5, 2)
    assert result.short
    assert sorted(result.ids) == [15, 16]


def test_a_draw_recorded_before_the_scope_rule_redoes_with_its_own_rule():
    old = stratified_draw(_scope_of_16(5), seed=LOTTERY, ratio=0.13, size_base="frame")
    assert old.random_size == 2 and "size_base" not in old.params
    assert redo(_scope_of_16(5), old.params).ids == old.ids
