"""What every perf module shares: result rows, the report, timing, machine facts, output.

``perf.run`` (rankings) and ``perf.supervision`` both import this, never each other
(``perf.run`` finds ``perf.supervision`` by name at run time and hands it the report).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# ============================================================================ results


@dataclass
class Row:
    key: str
    label: str
    size: str
    seconds: float | None = None  # the headline figure
    stat: str = ""  # how it was obtained: "median of 5 (best 0.41 s)"
    goal: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)
    ratio_to: str | None = None  # key of the row this baseline is compared with
    error: str | None = None

    def ok(self) -> bool | None:
        if self.goal is None or self.seconds is None:
            return None
        return self.seconds <= self.goal


@dataclass
class Report:
    machine: dict
    args: dict
    dataset: dict = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        row.extra.setdefault("loadavg_1min_when_added", round(os.getloadavg()[0], 2))
        self.rows.append(row)
        return row

    def get(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.key == key), None)


def fmt_s(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "n/a"
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 100:
        return f"{s:.2f} s"
    return f"{s:.0f} s"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ============================================================================ timing


def bench(fn: Callable[[], object], repeat: int, warmup: int = 1) -> dict:
    """Warm-up runs (not counted), then ``repeat`` timed runs: median, best and every run."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "best": min(times), "runs": times}


def p95(values: list[float]) -> float:
    """95th percentile, nearest-rank (no interpolation beyond the sample)."""
    s = sorted(values)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def stat_text(b: dict, what: str = "median") -> str:
    return f"{what} of {len(b['runs'])} after warm-up (best {fmt_s(b['best'])})"


# ============================================================================ machine


def machine_info() -> dict:
    cpu = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    try:
        nproc = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
    except (OSError, ValueError):
        nproc = os.cpu_count()
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": nproc,
        "cpu": cpu,
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


# ============================================================================ output


def render(report: Report) -> str:
    m = report.machine
    lines = [
        f"perf harness — {m['date']} — {m['nproc']} cores, {m['cpu']}, {m['memory_gb']} GB RAM",
        f"python {m['python']}, numpy {m['numpy']}, pandas {m['pandas']}, PostgreSQL "
        f"{m.get('postgresql', '?')}, load average at start {m['loadavg_start']}, at end "
        f"{m.get('loadavg_end', '?')}",
        f"command: {report.args['command']}",
    ]
    d = report.dataset
    if d:
        lines.append(
            f"data: {d['declarations']:,} declarations × {d['indicators']} indicators, "
            f"{d['categories']} categories (sizes {d['category_size_min']:,}–{d['category_size_max']:,}, "
            f"median {d['category_size_median']:,}), {d['enterprises']:,} enterprises; generated in "
            f"{d['generate_seconds']:.1f} s")
    load = report.info.get("load")
    if load:
        lines.append(f"PostgreSQL load (not part of any goal): {load['total']:.1f} s "
                     f"(COPY + SQL expansion + indexes + FKs + VACUUM ANALYZE) for "
                     f"{load['rows_total']:,} rows")
    lines.append("")
    header = ("#", "measurement", "size", "result", "goal", "")
    table = []
    for i, r in enumerate(report.rows):
        number = {"compute": "1", "composite_anchored": "2a", "composite_topsis": "2b",
                  "rank_grouped": "(i)", "rank_per_plan": "(ii)", "full_regeneration": "3",
                  "category_p95": "4", "freshness_p95": "5", "pandas": "6a", "pymcdm": "6b",
                  "pg_window": "6c", "regeneration_unchanged": "(iii)",
                  "regeneration_per_plan": "(v)",
                  "freshness_no_debounce": "(iv)"}.get(r.key, "")
        if r.error:
            result = f"not measured: {r.error}"
        else:
            result = f"{fmt_s(r.seconds)} — {r.stat}"
            if r.ratio_to:
                ours = report.get(r.ratio_to)
                if ours and ours.seconds:
                    result += f"; {r.seconds / ours.seconds:.1f}× ours ({ours_label(r.ratio_to)})"
        if r.note:
            result += f"; {r.note}"
        ok = r.ok()
        mark = "" if ok is None else ("✓" if ok else "✗")
        goal = f"≤ {fmt_s(r.goal)}" if r.goal is not None else ""
        table.append((number, r.label, r.size, result, goal, mark))
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] * len(header)) + "|")
    for t in table:
        lines.append("| " + " | ".join(t) + " |")
    return "\n".join(lines)


def ours_label(key: str) -> str:
    return {"compute": "row 1", "composite_topsis": "row 2b"}.get(key, key)


def write_json(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": report.machine,
        "args": report.args,
        "dataset": report.dataset,
        "info": {k: v for k, v in report.info.items() if k != "full_regeneration_traceback"},
        "rows": [
            {"key": r.key, "label": r.label, "size": r.size, "seconds": r.seconds, "stat": r.stat,
             "goal_seconds": r.goal, "meets_goal": r.ok(), "note": r.note, "error": r.error,
             "ratio": (r.seconds / report.get(r.ratio_to).seconds
                       if r.ratio_to and r.seconds and report.get(r.ratio_to)
                       and report.get(r.ratio_to).seconds else None),
             "ratio_to": r.ratio_to, "detail": r.extra}
            for r in report.rows
        ],
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=_json_default))


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def peak_rss_mib(field: str = "VmHWM") -> float:
    """The process's peak resident memory (MiB): VmHWM, which starts afresh at exec and after a
    reset through /proc/self/clear_refs (``ru_maxrss``, the fallback off Linux, is kept across
    fork and exec: a child would report the loader's peak). ``field="VmRSS"``: the RSS now."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
