"""The supervision figures of the perf harness (``perf/supervision.py``), at a tiny size.

Checks that every row is measured and well-formed, that the planted risk causes are the flags
found, that the planted copies are found, and that the draw's re-runs give the identical
sample. Never asserts a time: the timings are the harness's business.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pandas as pd
import pytest

from perf import supervision
from perf.generate import generate
from perf.run import Report
from perf.supervision import GOALS, flag_frame, measure, population
from supervision.flags.risk import FLAG_COLUMNS, compute_flags
from supervision.sampling.method import population_hash

pytestmark = pytest.mark.slow  # runs the performance harness end to end

KEYS = [
    "supervision_flags",
    "supervision_similarity",
    "supervision_similarity_median",
    "supervision_draw",
]
TINY = {"declarations": 3_000, "indicators": 6, "categories": 6, "seed": 7}


def tiny_args(**overrides) -> argparse.Namespace:
    return argparse.Namespace(**{**TINY, "repeat": 1, "quick": True, "queries": 4, **overrides})


@pytest.fixture(scope="module")
def report() -> Report:
    rep = Report(machine={}, args={})
    measure(tiny_args(), rep)
    return rep


@pytest.fixture(scope="module")
def ds():
    return generate(TINY["declarations"], TINY["indicators"], TINY["categories"], seed=7)


def test_every_figure_is_a_well_formed_row_with_its_goal(report):
    assert [r.key for r in report.rows] == KEYS
    for row in report.rows:
        assert row.error is None, row.error
        assert isinstance(row.seconds, float) and math.isfinite(row.seconds) and row.seconds > 0
        assert row.goal == GOALS[row.key if row.key in GOALS else "supervision_similarity"]
        assert row.ok() in (True, False)
        assert row.label and row.size and row.stat and row.note
        assert "median of" in row.stat and "after" in row.stat
        assert "loadavg_1min_when_added" in row.extra
        assert "loadavg_before" in row.extra and "loadavg_after" in row.extra
    runs = report.get("supervision_flags").extra["runs"]
    assert len(runs) == 1 and report.get("supervision_flags").seconds == runs[0]


def test_the_draw_is_identical_on_every_re_run(report):
    draw = report.get("supervision_draw").extra
    assert draw["identical"] is True
    for check in ("timed_runs_identical", "redo_identical", "shuffled_rows_identical",
                  "population_hash_matches"):  # fmt: skip
        assert draw[check] is True, check
    assert len(draw["population_hash"]) == 64
    assert "re-run IDENTICAL" in report.get("supervision_draw").note
    assert draw["reasons"]["random"] > 0 and draw["reasons"]["risk_weighted"] > 0
    # 5 % of the frame (the population minus the excluded and complaint-triggered), rounded up
    frame = TINY["declarations"] - draw["excluded"] - draw["reasons"].get("complaint", 0)
    drawn = draw["reasons"]["random"] + draw["reasons"]["risk_weighted"]
    assert drawn >= math.ceil(0.05 * frame)


def test_the_flags_found_are_the_causes_planted(report):
    flags = report.get("supervision_flags").extra
    found, planted = flags["flags_by_code"], flags["planted"]
    assert flags["skipped_checks"] == {}
    assert found["below_mandatory"] == planted["below_mandatory"] > 0
    assert found["below_recommended_without_mingshi"] == planted[
        "below_recommended_without_mingshi"
    ]
    assert found["missing_test_method"] == planted["missing_test_method"] > 0
    assert found["leader"] == planted["leaders"] > 0
    assert found["open_complaint"] == planted["complained_declarations"] > 0
    assert found["reference_withdrawn"] >= planted["withdrawn_reference_declarations"] > 0
    # every decimal slip and overstated claim is implausible (the rest are natural tails)
    assert found["implausible_value"] >= planted["decimal_slips"] + planted["overstated"] > 0


def test_similarity_finds_the_planted_copies_and_nothing_else(report):
    for key in ("supervision_similarity", "supervision_similarity_median"):
        sim = report.get(key).extra
        assert sim["copies_planted"] == 2  # half of the 4 queries
        assert sim["copies_found"] == sim["copies_planted"]
        assert sim["originals_matched"] == 0
        assert len(sim["runs"]) == 4
        assert 0.2 < sim["background_similarity_median"] < 0.8
        assert sim["mean_chars"] > 2_000  # texts of a few thousand characters
    largest = report.get("supervision_similarity").extra["category_size"]
    median = report.get("supervision_similarity_median").extra["category_size"]
    assert largest > median


def test_the_flag_frame_follows_the_risk_module_contract(ds):
    data = flag_frame(ds, seed=7)
    frame = data.frame
    assert len(frame) == int(np.isfinite(ds.values).sum()) == data.planted["indicator_rows"]
    assert frame["version_id"].is_monotonic_increasing
    assert frame.groupby("version_id")["declaration_id"].nunique().max() == 1
    for column in ("benchmark_code", "indicator_name", "unit", "direction", "test_method",
                   "mandatory_source", "recommended_source", "cmp_status"):  # fmt: skip
        assert isinstance(frame[column].dtype, pd.CategoricalDtype), column
    # per-declaration columns repeat on every row of the declaration
    per_declaration = frame.groupby("declaration_id")[["open_complaints", "is_leader"]].nunique()
    assert (per_declaration == 1).all().all()
    flags = compute_flags(frame.head(600))
    assert list(flags.columns) == FLAG_COLUMNS


def test_population_has_strata_exclusions_with_reasons_and_complaint_checks(ds):
    risk = pd.Series([2.0, 5.0], index=[1, 10])
    complaints = np.zeros(ds.n, dtype=np.int16)
    complaints[:400] = 1
    pop = population(ds, risk, complaints, seed=7)
    assert len(pop) == ds.n and pop["id"].tolist() == list(range(1, ds.n + 1))
    assert pop.loc[[0, 9], "risk"].tolist() == [2.0, 5.0] and pop["risk"].sum() == 7.0
    assert pop["stratum"].astype(str).str.fullmatch(r"\d{2}-\d{3}").all()
    excluded = pop[pop["excluded"]]
    assert len(excluded) > 0
    assert excluded["exclusion_reason"].str.contains("inspected on").all()
    assert pop["forced"].sum() > 0 and not pop.loc[400:, "forced"].any()
    assert population_hash(pop) == population_hash(pop.sample(frac=1.0, random_state=1))


def test_a_measurement_that_fails_is_a_row_with_its_error(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("corpus unavailable")

    monkeypatch.setattr(supervision, "measure_similarity", broken)
    rep = Report(machine={}, args={})
    measure(tiny_args(declarations=800, categories=3), rep)
    assert [r.key for r in rep.rows] == KEYS
    assert rep.get("supervision_similarity").error == "RuntimeError: corpus unavailable"
    assert rep.get("supervision_similarity").seconds is None
    assert rep.get("supervision_flags").error is None
    assert rep.get("supervision_draw").extra["identical"] is True


def test_the_command_alone_prints_the_table_and_writes_the_results(capsys, tmp_path):
    out = tmp_path / "supervision.json"
    code = supervision.main(["--declarations", "1200", "--categories", "3", "--repeat", "1",
                             "--queries", "2", "--seed", "3", "--out", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| # | measurement | size | result | goal |  |" in printed
    assert "1,200 declarations" in printed and "load average at start" in printed
    for label in ("risk flags", "near-identical text", "spot-check draw"):
        assert label in printed
    rows = json.loads(out.read_text())["rows"]
    assert [r["key"] for r in rows] == KEYS
    assert all(r["error"] is None and r["seconds"] > 0 for r in rows)
