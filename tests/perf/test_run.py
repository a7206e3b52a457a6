"""The harness's table and its extension hook (``perf/supervision.py``), without timing
anything: the figures are the harness's business (``python -m perf.run``)."""

from __future__ import annotations

import argparse
import sys
import types

import pytest

from perf import run

pytestmark = pytest.mark.slow  # runs the performance harness end to end


def report() -> run.Report:
    return run.Report(machine=run.machine_info(), args={"command": "python -m perf.run --quick"})


def test_rows_compare_with_their_goal_and_render_in_the_table():
    r = report()
    r.add(run.Row("full_regeneration", "full regeneration", "2,000 declarations", 12.5,
                  "median of 2", run.GOALS["full_regeneration"], note="reads 5 s"))
    r.add(run.Row("category_p95", "one category", "50 runs", 0.25, "p95 of 50",
                  run.GOALS["category_p95"]))
    r.add(run.Row("supervision_flags", "risk flags", "10 rows", None, error="boom"))
    assert [row.ok() for row in r.rows] == [True, False, None]
    assert r.get("category_p95").seconds == 0.25 and r.get("nope") is None
    table = run.render(r)
    assert "| 3 | full regeneration | 2,000 declarations | 12.50 s — median of 2; reads 5 s" \
        in table
    assert "| 4 | one category | 50 runs | 250 ms — p95 of 50 | ≤ 200 ms | ✗ |" in table
    assert "not measured: boom" in table
    assert all("loadavg_1min_when_added" in row.extra for row in r.rows)


def _fake_supervision(monkeypatch, measure) -> None:
    module = types.ModuleType("perf.supervision")
    module.measure = measure
    monkeypatch.setitem(sys.modules, "perf.supervision", module)


def test_the_supervision_module_adds_its_rows_to_the_same_report(monkeypatch):
    seen = {}

    def measure(args, report, ds=None):
        seen.update(args=args, ds=ds)
        report.add(run.Row("supervision_flags", "risk flags", "10 rows", 1.5, "median of 3", 15.0))

    _fake_supervision(monkeypatch, measure)
    r, args, ds = report(), argparse.Namespace(quick=True), object()
    run.run_extensions(args, r, ds)
    assert seen == {"args": args, "ds": ds}
    assert [row.key for row in r.rows] == ["supervision_flags"] and r.rows[0].ok()


def test_a_measure_without_the_dataset_parameter_gets_args_and_report(monkeypatch):
    calls = []
    _fake_supervision(monkeypatch, lambda args, report: calls.append((args, report)))
    r, args = report(), argparse.Namespace(quick=False)
    run.run_extensions(args, r, object())
    assert calls == [(args, r)]


def test_a_failing_supervision_measure_is_reported_not_fatal(monkeypatch):
    def measure(args, report):
        raise RuntimeError("no data")

    _fake_supervision(monkeypatch, measure)
    r = report()
    run.run_extensions(argparse.Namespace(), r, None)
    assert r.info["supervision_error"] == "RuntimeError: no data"
    assert "Traceback" in r.info["supervision_traceback"]


@pytest.mark.parametrize("flag, fork", [([], False), (["--fork-workers"], True)])
def test_workers_run_without_fork_unless_asked(flag, fork):
    args = run.parse_args(["--quick", *flag])
    assert args.fork_workers is fork
    assert (args.declarations, args.categories, args.passes) == (100_000, 25, 3)
