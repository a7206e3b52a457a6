"""The drills' own plumbing that needs no stack: the one-process loader's argument split and
the phase timings (a line per phase, the summary under the table)."""

from __future__ import annotations

import pytest

from drills.load import split
from drills.results import Result, render
from drills.stack import phase


def test_load_splits_commands_on_double_dashes():
    argv = ["setup-db", "--", "catalogue", "load", "--confirm", "--", "--", "demo", "load", "--"]
    assert split(argv) == [["setup-db"], ["catalogue", "load", "--confirm"], ["demo", "load"]]
    assert split([]) == []


def test_phase_records_its_seconds_even_when_the_body_fails(capsys):
    timings: dict[str, float] = {}
    with phase(timings, "ok"):
        pass
    with pytest.raises(RuntimeError, match="drill broke"), phase(timings, "broken"):
        raise RuntimeError("drill broke")
    assert list(timings) == ["ok", "broken"]
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())
    assert "phase broken:" in capsys.readouterr().err


def test_render_ends_with_the_phase_line():
    meta = {"date": "2026-12-07 21:00 UTC", "command": "python -m drills --quick", "nproc": 2,
            "loadavg_start": [0.5, 0.4, 0.3], "loadavg_end": [0.6, 0.5, 0.4], "seconds": 42.0,
            "timings": {"postgres": 1.4, "drill redis": 9.25}}
    out = render([Result("x", "goal", met=True)], meta)
    assert out.splitlines()[-1] == "phases (s): postgres 1.4, drill redis 9.2"
