"""Risk flags: each flag with its evidence, clearing, outliers, severity and the risk score."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervision.flags.risk import (
    COMBINATION,
    FLAG_COLUMNS,
    REASON_TEMPLATES,
    RiskConfig,
    changed_flags,
    compute_flags,
    describe,
    diff_flags,
    flag_key,
    near_identical_flags,
    risk_score,
)

# Three indicators of a room air conditioner category: (code, direction, centre, spread,
# mandatory limit, recommended value)
SPECS = [
    ("apf", "higher", 5.0, 0.2, 3.3, 4.5),
    ("noise", "lower", 40.0, 2.0, 60.0, 50.0),
    ("standby", "lower", 0.50, 0.05, 1.0, 0.8),
]


def make_frame(
    n: int = 120,
    *,
    seed: int = 3,
    category: str = "AC",
    specs: list[tuple] = SPECS,
    first_id: int = 1,
    clip: float = 2.0,
) -> pd.DataFrame:
    """``n`` ordinary declarations: values within ``clip`` spreads of the centre, all valid."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(first_id, first_id + n):
        for code, direction, mu, sd, limit, rec in specs:
            rows.append(
                {
                    "declaration_id": d,
                    "version_id": d * 10,
                    "enterprise_id": 1000 + d,
                    "category_id": category,
                    "benchmark_code": code,
                    "indicator_name": code.upper(),
                    "guaranteed": float(mu + sd * np.clip(rng.normal(), -clip, clip)),
                    "unit": "W/W",
                    "direction": direction,
                    "mandatory_limit": limit,
                    "mandatory_source": "GB 21455-2019",
                    "recommended_value": rec,
                    "recommended_source": "GB/T 7725-2022",
                    "cmp_status": "meets",
                    "mingshi": False,
                    "test_method": "GB/T 7725-2022 附录A",
                    "open_complaints": 0,
                    "is_leader": False,
                    "withdrawn_references": None,
                }
            )
    return pd.DataFrame(rows)


def row(frame: pd.DataFrame, declaration: int, code: str) -> int:
    hits = frame.index[(frame.declaration_id == declaration) & (frame.benchmark_code == code)]
    assert len(hits) == 1
    return int(hits[0])


def only(flags: pd.DataFrame, code: str) -> pd.DataFrame:
    return flags[flags.code == code].reset_index(drop=True)


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    return make_frame()


def test_ordinary_declarations_have_no_flags(base):
    flags = compute_flags(base)
    assert list(flags.columns) == FLAG_COLUMNS
    assert flags.empty
    assert flags.attrs["skipped_checks"] == {}


def test_below_mandatory_with_evidence(base):
    frame = base.copy()
    frame.loc[row(frame, 5, "apf"), "guaranteed"] = 3.0  # higher is better, limit 3.3
    frame.loc[row(frame, 6, "noise"), "guaranteed"] = 61.0  # lower is better, limit 60
    frame.loc[row(frame, 7, "noise"), "guaranteed"] = 60.0 * (1 + 1e-12)  # equal within tol
    flags = only(compute_flags(frame), "below_mandatory")
    assert flags.declaration_id.tolist() == [5, 6]
    assert set(flags.severity) == {"high"}
    ev = flags.evidence[0]
    assert ev["indicator"] == "apf" and flags.key[0] == "apf"
    assert ev["value"] == 3.0 and ev["limit"] == 3.3
    assert ev["standard"] == "GB 21455-2019" and ev["direction"] == "higher"
    assert ev["basis"] == "limit"
    assert "worse than the mandatory limit 3.3 of GB 21455-2019" in ev["reason"]
    assert flags.evidence[1]["value"] == 61.0 and flags.evidence[1]["limit"] == 60.0


def test_below_mandatory_read_from_cmp_status_without_limits(base):
    frame = base.drop(columns=["mandatory_limit", "recommended_value"])
    frame.loc[row(frame, 9, "apf"), "cmp_status"] = "violation"
    flags = only(compute_flags(frame), "below_mandatory")
    assert flags.declaration_id.tolist() == [9]
    assert flags.evidence[0]["basis"] == "cmp_status"
    assert flags.evidence[0]["limit"] is None


def test_below_recommended_without_mingshi(base):
    frame = base.copy()
    frame.loc[row(frame, 3, "apf"), "guaranteed"] = 4.4  # below 4.5, no 明示 → flag
    frame.loc[row(frame, 4, "apf"), "guaranteed"] = 4.4
    frame.loc[row(frame, 4, "apf"), "mingshi"] = True  # stated → no flag
    frame.loc[row(frame, 8, "apf"), "guaranteed"] = 3.0  # below mandatory: only that flag
    flags = compute_flags(frame, config={"model": "none"})
    below = only(flags, "below_recommended_without_mingshi")
    assert below.declaration_id.tolist() == [3]
    assert below.severity.tolist() == ["medium"]
    ev = below.evidence[0]
    assert ev["value"] == 4.4 and ev["recommended"] == 4.5
    assert ev["standard"] == "GB/T 7725-2022" and ev["mingshi"] is False
    assert "no 明示 statement" in ev["reason"]
    assert only(flags, "below_mandatory").declaration_id.tolist() == [8]


def test_mingshi_given_as_text(base):
    frame = base.copy()
    frame["mingshi"] = ""
    frame.loc[row(frame, 3, "apf"), "guaranteed"] = 4.4
    frame.loc[row(frame, 4, "apf"), "guaranteed"] = 4.4
    frame.loc[row(frame, 4, "apf"), "mingshi"] = "低于推荐值，因采用新型压缩机"
    flags = only(compute_flags(frame), "below_recommended_without_mingshi")
    assert flags.declaration_id.tolist() == [3]


def test_reference_withdrawn_in_every_accepted_form(base):
    frame = base.copy().astype({"withdrawn_references": object})
    forms = {
        2: "GB 12021.3-2010 -> GB 21455-2019; GB/T 1-1999",
        3: ["GB 12021.3-2010"],
        4: [{"code": "GB 12021.3-2010", "replaced_by": "GB 21455-2019"}],
        5: [("GB/T 2-2000", None)],
    }
    for decl, value in forms.items():
        for i in frame.index[frame.declaration_id == decl]:
            frame.at[i, "withdrawn_references"] = value
    flags = only(compute_flags(frame), "reference_withdrawn")
    got = {(d, k): e for d, k, e in zip(flags.declaration_id, flags.key, flags.evidence)}
    assert sorted(got) == [
        (2, "GB 12021.3-2010"), (2, "GB/T 1-1999"), (3, "GB 12021.3-2010"),
        (4, "GB 12021.3-2010"), (5, "GB/T 2-2000"),
    ]  # fmt: skip  -- one flag per standard, not one per indicator row
    assert got[(2, "GB 12021.3-2010")]["replaced_by"] == "GB 21455-2019"
    assert got[(2, "GB 12021.3-2010")]["status"] == "replaced"
    assert "replaced by GB 21455-2019" in got[(2, "GB 12021.3-2010")]["reason"]
    assert got[(3, "GB 12021.3-2010")] | {"reason": ""} == {
        "standard": "GB 12021.3-2010", "replaced_by": None, "status": "withdrawn",
        "reason_id": "reference_withdrawn", "reason": "",
    }  # fmt: skip
    assert got[(4, "GB 12021.3-2010")]["replaced_by"] == "GB 21455-2019"
    assert set(flags.severity) == {"medium"}


def test_missing_test_method_names_the_indicator(base):
    frame = base.copy()
    frame.loc[row(frame, 11, "noise"), "test_method"] = "   "
    frame.loc[row(frame, 12, "standby"), "test_method"] = None
    flags = only(compute_flags(frame), "missing_test_method")
    assert list(zip(flags.declaration_id, flags.key)) == [(11, "noise"), (12, "standby")]
    assert flags.evidence[0]["indicator"] == "noise"
    assert flags.evidence[0]["indicator_name"] == "NOISE"
    assert flags.evidence[0]["reason"] == "noise has no test method (检验方法)."


def test_free_indicator_without_code_is_keyed_by_name(base):
    extra = base[base.declaration_id == 1].iloc[[0]].copy()
    extra["benchmark_code"] = None
    extra["indicator_name"] = "制冷量"
    extra["guaranteed"] = np.nan
    extra["test_method"] = ""
    flags = compute_flags(pd.concat([base, extra], ignore_index=True))
    assert list(zip(flags.code, flags.key)) == [("missing_test_method", "制冷量")]


def test_open_complaint_and_its_severity(base):
    frame = base.copy()
    frame.loc[frame.declaration_id == 20, "open_complaints"] = 1
    frame.loc[frame.declaration_id == 21, "open_complaints"] = 3
    flags = only(compute_flags(frame), "open_complaint")
    assert flags.declaration_id.tolist() == [20, 21]
    assert flags.severity.tolist() == ["medium", "high"]  # complaints_high = 3
    assert flags.evidence[1]["open_complaints"] == 3
    flags = only(compute_flags(frame, config={"complaints_high": 5}), "open_complaint")
    assert flags.severity.tolist() == ["medium", "medium"]


def test_leader_flag(base):
    frame = base.copy()
    frame.loc[frame.declaration_id == 30, "is_leader"] = True
    flags = compute_flags(frame)
    assert list(zip(flags.declaration_id, flags.code, flags.severity, flags.key)) == [
        (30, "leader", "low", "")
    ]
    assert "leaders are checked more" in flags.evidence[0]["reason"]


def test_severity_is_configurable(base):
    frame = base.copy()
    frame.loc[frame.declaration_id == 30, "is_leader"] = True
    flags = compute_flags(frame, config=RiskConfig(severity={"leader": "medium"}))
    assert flags.severity.tolist() == ["medium"]


# --------------------------------------------------------------------------- implausible values


def test_planted_single_outliers_are_found_with_their_evidence(base):
    frame = base.copy()
    frame.loc[row(frame, 40, "apf"), "guaranteed"] = 9.0  # far better (overstated?)
    frame.loc[row(frame, 41, "noise"), "guaranteed"] = 50.0  # worse, still within limits
    frame.loc[row(frame, 42, "standby"), "guaranteed"] = 0.70  # moderately off (z about 4)
    flags = only(compute_flags(frame), "implausible_value")
    found = list(zip(flags.declaration_id, flags.key))
    assert found == [(40, "apf"), (41, "noise"), (42, "standby")]
    ev = {d: e for d, e in zip(flags.declaration_id, flags.evidence)}
    med = float(base[base.benchmark_code == "apf"].guaranteed.median())
    assert ev[40]["value"] == 9.0 and ev[40]["category_median"] == pytest.approx(med)
    assert ev[40]["robust_z"] > 10 and ev[40]["side"] == "better" and ev[40]["check"] == "robust"
    assert ev[40]["category_id"] == "AC" and ev[40]["group_size"] == 120
    assert "far better than the category median" in ev[40]["reason"]
    assert ev[41]["side"] == "worse" and ev[41]["robust_z"] > 3.5
    assert "a unit or typing error?" in ev[41]["reason"]
    assert 3.5 < ev[42]["robust_z"] < 10
    for e in ev.values():
        assert e["model"]["method"] == "local_outlier_factor"
        assert e["model"]["score"] > 1 and e["model"]["threshold"] == 2.5
    sev = dict(zip(flags.declaration_id, flags.severity))
    assert sev[40] == "medium"  # |z| >= robust_z_high
    assert ev[42]["model"]["outlier"] is (sev[42] == "medium")


SIX = [(f"i{j}", "higher", 10.0 + j, 1.0, -1e9, -1e9) for j in range(6)]


def test_normal_tail_values_are_not_flagged():
    """600 Gaussian declarations x 6 indicators, cut at 3 sigma (fixed seed): some hundred
    values lie in the tail the model scores (|z| >= 2.5), and neither check flags any."""
    frame = make_frame(600, specs=SIX, clip=3.0, seed=11)
    z = (frame.guaranteed - frame.groupby("benchmark_code").guaranteed.transform("median")).abs()
    assert (z >= 2.5).sum() > 30  # the tail is there
    assert compute_flags(frame).empty


def test_model_finds_a_planted_combination_outlier():
    specs = SIX
    frame = make_frame(600, specs=specs, clip=3.0, seed=11)
    for j, (code, *_rest) in enumerate(specs):
        # three spreads off on every indicator, alternating sides: no value alone beyond 3.5
        frame.loc[row(frame, 77, code), "guaranteed"] = 10.0 + j + (3.0 if j % 2 else -3.0)
    flags = compute_flags(frame)
    assert list(zip(flags.declaration_id, flags.code, flags.key)) == [
        (77, "implausible_value", COMBINATION)
    ]
    ev = flags.evidence[0]
    assert ev["check"] == "model" and ev["model"]["outlier"] is True
    assert ev["model"]["score"] >= 2.5
    assert abs(ev["robust_z"]) < 3.5
    assert ev["indicator"] in {code for code, *_ in specs}
    assert "combination of values is unusual" in ev["reason"]
    assert flags.severity.tolist() == ["low"]
    assert flag_key("implausible_value", ev) == COMBINATION


def test_small_category_is_not_modelled_and_the_evidence_says_so(base):
    small = make_frame(12, category="HEATER", first_id=500, seed=5)
    small.loc[row(small, 503, "apf"), "guaranteed"] = 9.0
    flags = only(compute_flags(pd.concat([base, small], ignore_index=True)), "implausible_value")
    assert flags.declaration_id.tolist() == [503]
    model = flags.evidence[0]["model"]
    assert "score" not in model
    assert model["skipped"] == (
        "model skipped: only 12 declarations in the category (at least 30 needed)"
    )
    assert flags.attrs["model_notes"]["HEATER"] == model["skipped"]


def test_groups_smaller_than_min_group_size_are_not_judged():
    tiny = make_frame(5, seed=2)
    tiny.loc[row(tiny, 2, "apf"), "guaranteed"] = 9.0
    assert only(compute_flags(tiny), "implausible_value").empty


def test_ties_on_printed_precision_are_not_outliers():
    """Most values tie on the median (MAD = 0): one printed step away is ordinary."""
    frame = make_frame(100, seed=4)
    values = np.where(np.arange(100) % 10 == 0, 0.6, 0.5)
    values[np.arange(100) % 10 == 5] = 0.4
    frame.loc[frame.benchmark_code == "standby", "guaranteed"] = values
    assert only(compute_flags(frame), "implausible_value").empty
    frame.loc[row(frame, 50, "standby"), "guaranteed"] = 5.0  # a unit error (W for 0.1 W)
    flags = only(compute_flags(frame), "implausible_value")
    assert list(zip(flags.declaration_id, flags.key)) == [(50, "standby")]
    assert flags.evidence[0]["mad"] == pytest.approx(0.1)  # the printed step


def test_model_disabled(base):
    frame = base.copy()
    frame.loc[row(frame, 40, "apf"), "guaranteed"] = 9.0
    flags = compute_flags(frame, config={"model": "none"})
    assert flags.evidence[0]["model"]["skipped"] == "model disabled (model = 'none')"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scale=st.floats(0.01, 1000.0),
    shift=st.floats(-1000.0, 1000.0),
    outlier=st.floats(6.0, 50.0),
)
def test_robust_flags_are_invariant_to_units(base, scale, shift, outlier):
    """Changing a group's unit (x → a·x + b, a > 0) changes no implausible flag."""
    frame = base[["declaration_id", "version_id", "category_id", "benchmark_code"]].copy()
    frame["guaranteed"] = base["guaranteed"]
    frame.loc[row(frame, 40, "apf"), "guaranteed"] = 5.0 + 0.2 * outlier
    moved = frame.copy()
    apf = moved.benchmark_code == "apf"
    moved.loc[apf, "guaranteed"] = moved.loc[apf, "guaranteed"] * scale + shift
    a, b = compute_flags(frame), compute_flags(moved)
    assert list(zip(a.declaration_id, a.key)) == list(zip(b.declaration_id, b.key))
    assert (40, "apf") in set(zip(a.declaration_id, a.key))
    za = [e["robust_z"] for e in a.evidence]
    zb = [e["robust_z"] for e in b.evidence]
    assert za == pytest.approx(zb, rel=1e-3)


# --------------------------------------------------------------------------- recomputing


def planted(base: pd.DataFrame) -> pd.DataFrame:
    frame = base.copy().astype({"withdrawn_references": object})
    frame.loc[row(frame, 5, "apf"), "guaranteed"] = 3.0
    frame.loc[row(frame, 11, "noise"), "test_method"] = ""
    frame.loc[frame.declaration_id == 20, "open_complaints"] = 1
    frame.loc[frame.declaration_id == 30, "is_leader"] = True
    for i in frame.index[frame.declaration_id == 2]:
        frame.at[i, "withdrawn_references"] = ["GB/T 1-1999"]
    return frame


def test_recomputing_is_deterministic_and_order_free(base):
    frame = planted(base)
    first = compute_flags(frame)
    shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    again = compute_flags(shuffled)
    pd.testing.assert_frame_equal(first, again)
    assert set(first.code) == {
        "below_mandatory", "implausible_value", "missing_test_method", "open_complaint",
        "leader", "reference_withdrawn",
    }  # fmt: skip


def test_version_ids_of_any_kind_and_versions_spanning_two_categories(base):
    """Sparse, string and multi-category version ids take other code paths: same flags."""
    frame = planted(base)
    heaters = make_frame(60, category="HEATER", seed=8)  # same declarations, second category
    heaters.loc[row(heaters, 44, "apf"), "guaranteed"] = 9.0
    both = pd.concat([frame, heaters], ignore_index=True)
    expected = compute_flags(both)
    assert (44, "implausible_value") in set(zip(expected.declaration_id, expected.code))
    sparse = compute_flags(both.assign(version_id=both.version_id * 10**12))
    assert sparse.drop(columns="version_id").equals(expected.drop(columns="version_id"))
    named = compute_flags(both.assign(version_id="v" + both.version_id.astype(str)))
    key = ["declaration_id", "code", "key"]
    def rows_of(flags: pd.DataFrame) -> list:
        return flags[key].sort_values(key).values.tolist()

    assert rows_of(named) == rows_of(expected)


def test_flags_clear_when_the_cause_goes_away(base):
    frame = planted(base)
    old = compute_flags(frame)
    stored = old.drop(columns=["key"]).assign(id=np.arange(100, 100 + len(old)))  # as in the DB
    fixed = frame.copy()
    fixed.loc[row(fixed, 5, "apf"), "guaranteed"] = 5.0  # value corrected (new data)
    fixed.loc[row(fixed, 11, "noise"), "test_method"] = "GB/T 4214.1"
    fixed.loc[fixed.declaration_id == 20, "open_complaints"] = 0  # complaint closed
    for i in fixed.index[fixed.declaration_id == 2]:
        fixed.at[i, "withdrawn_references"] = None  # catalogue no longer lists it
    fixed.loc[fixed.declaration_id == 31, "is_leader"] = True  # a new cause
    new = compute_flags(fixed)
    to_open, to_clear = diff_flags(stored, new)
    assert list(zip(to_open.declaration_id, to_open.code)) == [(31, "leader")]
    cleared = set(zip(to_clear.declaration_id, to_clear.code))
    assert cleared == {
        (5, "below_mandatory"), (5, "implausible_value"), (11, "missing_test_method"),
        (20, "open_complaint"), (2, "reference_withdrawn"),
    }  # fmt: skip
    assert "id" in to_clear.columns and to_clear.id.notna().all()  # the caller's handle
    again_open, again_clear = diff_flags(new, compute_flags(fixed))
    assert again_open.empty and again_clear.empty


def test_a_catalogue_change_clears_a_mandatory_flag(base):
    frame = planted(base)
    old = compute_flags(frame)
    frame["mandatory_limit"] = frame["mandatory_limit"].where(frame.benchmark_code != "apf", 2.9)
    _, to_clear = diff_flags(old, compute_flags(frame))
    assert list(zip(to_clear.declaration_id, to_clear.code)) == [(5, "below_mandatory")]


def test_changed_flags_reports_new_severity_without_reopening(base):
    frame = planted(base)
    old = compute_flags(frame).assign(id=lambda f: np.arange(len(f)))
    frame.loc[frame.declaration_id == 20, "open_complaints"] = 4
    new = compute_flags(frame)
    to_open, to_clear = diff_flags(old, new)
    assert to_open.empty and to_clear.empty
    changed = changed_flags(old, new)
    assert list(zip(changed.declaration_id, changed.code, changed.severity)) == [
        (20, "open_complaint", "high")
    ]
    assert changed.evidence[0]["open_complaints"] == 4
    assert changed.id.tolist() == old.id[old.code == "open_complaint"].tolist()


def test_key_column_is_the_key_of_the_evidence(base):
    flags = compute_flags(planted(base))
    assert [flag_key(c, e) for c, e in zip(flags.code, flags.evidence)] == flags.key.tolist()


def test_evidence_is_json_and_describable(base):
    flags = compute_flags(planted(base))
    for code, ev in zip(flags.code, flags.evidence):
        json.loads(json.dumps(ev, allow_nan=False))
        assert describe(code, ev) == ev["reason"]
    ev = only(flags, "below_mandatory").evidence[0]
    translated = describe("below_mandatory", ev, gettext=lambda t: "【译】" + t)
    assert translated.startswith("【译】apf: the guaranteed value 3 is worse")
    assert set(REASON_TEMPLATES) >= {"below_mandatory", "implausible_combination", "leader"}


# --------------------------------------------------------------------------- risk score


def test_risk_score_weights_each_code_once():
    flags = pd.DataFrame(
        {
            "declaration_id": [1, 1, 1, 1, 2, 3],
            "version_id": [10, 10, 10, 10, 20, 30],
            "code": ["below_mandatory", "missing_test_method", "missing_test_method",
                     "implausible_value", "leader", "implausible_value"],
            "severity": ["high", "medium", "medium", "low", "low", "medium"],
        }
    )  # fmt: skip
    score = risk_score(flags)
    assert score.to_dict() == {1: 5.0 + 2.0 + 1.0, 2: 1.0, 3: 2.0}
    assert score.index.name == "declaration_id"
    custom = risk_score(flags, weights={"high": 10, "low": 0})
    assert custom.to_dict() == {1: 12.0, 2: 0.0, 3: 2.0}
    assert risk_score(flags, config={"weights": {"medium": 3}}).to_dict()[3] == 3.0
    assert risk_score(flags.iloc[:0]).empty


def test_risk_score_orders_declarations_by_severity(base):
    flags = compute_flags(planted(base))
    score = risk_score(flags)
    assert score.idxmax() == 5  # mandatory violation and an implausible value
    assert score[30] == 1.0  # leader only


# --------------------------------------------------------------------------- near-identical


def test_near_identical_flags():
    matches = pd.DataFrame(
        {
            "declaration_id": [1, 1],
            "version_id": [10, 10],
            "other_declaration_id": [7, 8],
            "other_enterprise_id": [70, 80],
            "similarity": [0.97, 0.85],
            "subject": ["text", "indicator_table"],
        }
    )
    flags = near_identical_flags(matches)
    assert flags.key.tolist() == ["indicator_table:8", "text:7"]
    assert flags.severity.tolist() == ["medium", "high"]
    assert "near-identical (similarity 0.97) to declaration 7" in flags.evidence[1]["reason"]
    assert [flag_key(c, e) for c, e in zip(flags.code, flags.evidence)] == flags.key.tolist()
    with pytest.raises(ValueError, match="subject must be 'text' or 'indicator_table'"):
        near_identical_flags(matches.assign(subject="pdf"))


# --------------------------------------------------------------------------- bad input


def test_missing_columns_skip_checks_and_say_so():
    frame = pd.DataFrame({"declaration_id": [1], "version_id": [10], "is_leader": [True]})
    flags = compute_flags(frame)
    assert flags.code.tolist() == ["leader"]
    assert set(flags.attrs["skipped_checks"]) == {
        "below_mandatory", "below_recommended_without_mingshi", "reference_withdrawn",
        "missing_test_method", "implausible_value", "open_complaint",
    }  # fmt: skip
    assert flags.attrs["skipped_checks"]["missing_test_method"] == "needs test_method"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["version_id"]), r"lacks the required column\(s\) \['version_"),
        (lambda f: f.assign(guaranteed="5"), "column 'guaranteed' must be numeric"),
        (lambda f: f.assign(direction="up"), "direction must be 'higher' or 'lower', got 'up'"),
        (lambda f: f.assign(withdrawn_references=5), "withdrawn_references .*expected a list"),
    ],
)
def test_bad_frames_are_refused_clearly(base, change, message):
    with pytest.raises(ValueError, match=message):
        compute_flags(change(base.head(6).copy()))


def test_bad_config_is_refused_clearly(base):
    with pytest.raises(ValueError, match="unknown risk settings \\['robust'\\]"):
        compute_flags(base, config={"robust": 3})
    with pytest.raises(ValueError, match="severity\\['leader'\\] must be one of"):
        RiskConfig(severity={"leader": "urgent"})
    with pytest.raises(ValueError, match="model must be 'lof' or 'none'"):
        RiskConfig(model="isolation")
    with pytest.raises(TypeError, match="config must be a RiskConfig or a mapping"):
        compute_flags(base, config=3)
