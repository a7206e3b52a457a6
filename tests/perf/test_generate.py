"""The perf harness's data generator, at small sizes: shapes, determinism, realism rules.

Never times anything: the timings are the harness's business (``python -m perf.run``).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from stdnum.cn import uscc

from perf.generate import (
    SEED_INDICATORS,
    STATUS_NAMES,
    TEMPLATE_CODES,
    describe,
    generate,
    load_templates,
    uscc_check_char,
)
from ranking.scoring import IndicatorSpec, LeaderRule, validate_rule, validate_specs

TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def ds():
    return generate(20_000, 6, 25, seed=7, today=TODAY)


def worse(v, limit, direction):
    return v < limit if direction == "higher" else v > limit


def test_templates_come_from_the_seed_catalogue():
    templates = load_templates()
    codes = [t.code for t in templates]
    assert codes == ["apf", "efficacy", "avg_water", "flow_rate", "eei", "standby_loss",
                     "hot_water_output"]
    apf = templates[0]
    assert (apf.direction, apf.mandatory_limit, apf.recommended_value, apf.grade1) == (
        "higher", 3.30, 4.50, 5.00)
    # precision as the standard prints its figures: 5.00 W/W, 95 lm/W, 4.0 L
    assert [t.decimals for t in templates[:3]] == [2, 0, 1]
    assert {t.direction for t in templates} == {"higher", "lower"}


def test_sizes_and_shapes(ds):
    assert ds.n == 20_000 and ds.k == 6 and ds.n_categories == 25
    assert ds.values.shape == ds.mingshi.shape == (20_000, 6)
    assert ds.category_size.sum() == ds.n
    assert (ds.category_size >= 20).all()
    np.testing.assert_array_equal(np.bincount(ds.category, minlength=25), ds.category_size)
    assert ds.enterprise.min() >= 0 and ds.enterprise.max() < ds.n_enterprises
    assert ds.n_enterprises == round(20_000 / 6.7)
    assert len(ds.plans) == 7  # one plan template per seed indicator
    np.testing.assert_array_equal(ds.category_family, np.arange(25) % 7)


def test_same_arguments_same_data_and_another_seed_differs(ds):
    again = generate(20_000, 6, 25, seed=7, today=TODAY)
    for name in ("category", "enterprise", "status", "revised", "published_at", "mingshi",
                 "cites_reference", "withdrawn_reference", "enterprise_uscc",
                 "enterprise_inspection"):
        np.testing.assert_array_equal(getattr(ds, name), getattr(again, name), err_msg=name)
    np.testing.assert_array_equal(ds.values, again.values)  # NaNs compare equal here
    other = generate(20_000, 6, 25, seed=8, today=TODAY)
    assert not np.array_equal(ds.values, other.values, equal_nan=True)


def test_values_respect_the_real_thresholds(ds):
    """Never worse than the mandatory limit; 明示 exactly where worse than recommended."""
    checked = 0
    for f, plan in enumerate(ds.plans):
        rows = ds.family_rows(f)
        for j, ind in enumerate(plan.indicators):
            t = ds.templates[ind.template]
            v = ds.values[rows, j]
            ok = ~np.isnan(v)
            assert not worse(v[ok], t.mandatory_limit, t.direction).any()
            np.testing.assert_array_equal(
                ds.mingshi[rows, j], ok & worse(v, t.recommended_value, t.direction)
            )
            scaled = v[ok] * 10**t.decimals
            np.testing.assert_allclose(scaled, np.round(scaled), atol=1e-6)
            checked += ok.sum()
    assert checked > 0.99 * ds.n * ds.k


def test_values_are_realistic_mixes(ds):
    """Mostly near grade 1, a few below the recommended value, some missing, many ties."""
    facts = describe(ds)
    assert 0.002 < facts["values_mingshi_share"] < 0.06
    assert 0 < facts["values_missing_share"] < 0.005
    assert 0 < facts["values_below_floor_share"] < 0.02  # "a few below floor"
    for f, plan in enumerate(ds.plans):
        rows = ds.family_rows(f)
        for j, ind in enumerate(plan.indicators):
            t = ds.templates[ind.template]
            v = ds.values[rows, j]
            v = v[~np.isnan(v)]
            assert len(np.unique(v)) < len(v) / 2  # rounding to the printed precision ties
            share_at_grade1 = np.mean(~worse(v, t.grade1, t.direction))
            # about half reach grade 1 (more where rounding to one decimal lands on it)
            assert 0.2 < share_at_grade1 < 0.95, (t.code, share_at_grade1)


def test_plans_are_valid_for_the_scoring_module(ds):
    directions = set()
    modes = set()
    for plan in ds.plans:
        specs = [
            IndicatorSpec(i.key, i.direction, i.floor, i.cuts, i.cut_mode, i.weight,
                          i.best_reference)
            for i in plan.indicators
        ]
        validate_specs(specs, method=plan.composite_method)
        r = plan.leader_rule
        validate_rule(LeaderRule(r["kind"], r["n"], r["share"], tuple(r["star_cuts"])))
        assert len({i.template for i in plan.indicators}) == 6  # six different seed indicators
        directions |= {i.direction for i in plan.indicators}
        modes |= {i.cut_mode for i in plan.indicators}
    assert directions == {"higher", "lower"}
    assert modes == {"values", "percentiles"}
    assert {p.composite_method for p in ds.plans} == {"anchored", "topsis"}
    assert {p.leader_rule["kind"] for p in ds.plans} == {"best_share", "best_n", "top_tier_all"}
    assert {i.floor_kind for p in ds.plans for i in p.indicators} == {"mandatory", "recommended"}


def test_more_indicators_than_seed_templates_get_distinct_keys():
    small = generate(500, 9, 3, seed=1, today=TODAY)
    for plan in small.plans:
        keys = [i.key for i in plan.indicators]
        assert len(set(keys)) == 9
        assert any(k.endswith("_2") for k in keys)


def test_declarations_lifecycle(ds):
    draft = ds.status == STATUS_NAMES.index("draft")
    published = ds.status == STATUS_NAMES.index("published")
    assert 0.9 < published.mean() < 0.99
    assert draft.any() and (ds.status == STATUS_NAMES.index("abolished")).any()
    assert np.isnat(ds.published_at[draft]).all()
    assert not np.isnat(ds.published_at[~draft]).any()
    now = np.datetime64(TODAY, "s") + np.timedelta64(1, "D")
    assert (ds.published_at[~draft] < now).all()
    assert not (ds.revised & draft).any()
    assert not (ds.withdrawn_reference & ds.cites_reference).any()
    assert ds.withdrawn_reference.any() and ds.revised.any()


def test_enterprises_have_valid_unique_usccs_in_their_region(ds):
    codes = ds.enterprise_uscc
    assert len(set(codes)) == len(codes)
    assert all(uscc.is_valid(c) for c in codes)
    assert all(c[2:8] == r for c, r in zip(codes, ds.enterprise_region))
    assert set(np.unique(ds.enterprise_inspection)) <= {0, 1, 2}
    assert np.isnat(ds.enterprise_inspected_on[ds.enterprise_inspection == 0]).all()


def test_check_character_matches_python_stdnum():
    body = "91500112MA0000012"
    idx = np.array([["0123456789ABCDEFGHJKLMNPQRTUWXY".index(ch) for ch in body]])
    assert "0123456789ABCDEFGHJKLMNPQRTUWXY"[uscc_check_char(idx)[0]] == uscc.calc_check_digit(body)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="at least as many declarations"):
        generate(10, 6, 20, today=TODAY)
    with pytest.raises(ValueError, match=">= 1"):
        generate(0, 6, 1, today=TODAY)


def test_the_template_set_is_pinned_whatever_else_the_catalogue_holds(tmp_path):
    every = load_templates(codes=None)
    assert [t.code for t in every][:1] == ["apf"] and len(every) >= 7
    assert [t.code for t in load_templates()] == list(TEMPLATE_CODES)
    csv_path = tmp_path / "indicators.csv"
    text = (SEED_INDICATORS.read_text(encoding="utf-8-sig")).splitlines()
    csv_path.write_text("\n".join(line for line in text if ",eei," not in line) + "\n",
                        encoding="utf-8")
    with pytest.raises(ValueError, match="eei"):
        load_templates(csv_path)
