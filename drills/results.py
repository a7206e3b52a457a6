"""One result row per drill, the Markdown table and the JSON file."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "results.json"


@dataclass
class Result:
    drill: str
    goal: str
    attempts: int = 0
    server_errors: int = 0  # 5xx answers (the PostgreSQL drill counts 503s apart: allowed)
    lost_writes: int | None = None
    lost_jobs: int | None = None
    staleness_s: float | None = None  # longest time a change or a job was not visible/done
    staleness_capped: bool = False  # the wait ran out: staleness_s is a lower bound
    idor: int | None = None
    met: bool | None = None
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one reproduction per finding
    extra: dict = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None  # the drill itself broke (traceback head)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def fail(self, text: str, limit: int = 60) -> None:
        if len(self.failures) < limit:
            self.failures.append(text)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cell(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.1f} s"
    return str(v)


def render(results: list[Result], meta: dict) -> str:
    lines = [
        f"drills — {meta['date']} — {meta['command']} — {meta['nproc']} cores — load average "
        f"at start {meta['loadavg_start']}, at end {meta.get('loadavg_end', '?')} — "
        f"{meta.get('seconds', 0):.0f} s",
        "",
        "| drill | attempts | 5xx | lost writes | lost jobs | longest staleness | IDOR found "
        "| goal | met? |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        met = "error" if r.error else ("✓" if r.met else "✗")
        lines.append(
            f"| {r.drill} | {r.attempts} | {r.server_errors} | {_cell(r.lost_writes)} | "
            f"{_cell(r.lost_jobs)} | {'≥ ' if r.staleness_capped else ''}{_cell(r.staleness_s)} | "
            f"{_cell(r.idor)} | {r.goal} | {met} |"
        )
    details = []
    for r in results:
        if r.error:
            details.append(f"- **{r.drill}** did not finish: {r.error.splitlines()[-1]}")
        for n in r.notes:
            details.append(f"- {r.drill}: {n}")
        for f in r.failures[:15]:
            details.append(f"  - ✗ {f}")
        if len(r.failures) > 15:
            details.append(f"  - … {len(r.failures) - 15} more in drills/out/results.json")
    if details:
        lines += ["", *details]
    if meta.get("timings"):
        lines += ["", "phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in meta["timings"].items())]
    return "\n".join(lines)


def plain(obj):
    """JSON-ready copy: mappings (Counters too) with string keys, tuples as lists."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [plain(v) for v in obj]
    return obj


def write(results: list[Result], meta: dict, path: Path = OUT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "results": [plain(vars(r)) for r in results],
               "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
