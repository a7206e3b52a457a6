"""schemathesis over every operation of the OpenAPI spec, once per role: count the 5xx.

Runs the schemathesis CLI (``pip install -e .[drills]``) against the drill stack's gunicorn with
each role's bearer token, reads its NDJSON event stream and counts every response (not only the
unique failures schemathesis reports), and keeps one reproducing request per failing operation.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from drills.client import api_for
from drills.results import Result

ROLES = ["anonymous", "ent02", "evaluator", "regulator", "admin"]


def _command(stack, out: Path, token: str | None, quick: bool) -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    argv = [
        str(exe), "run", f"{stack.base}/api/v1/openapi.json",
        "--checks", "not_a_server_error", "--workers", "1", "--no-color",
        "--generation-database", "none", "--suppress-health-check", "all",
        "--request-timeout", "35", "--seed", "20261207",
        # Logging out would revoke the token the rest of the run uses.
        "--exclude-path", "/api/v1/auth/tokens/current",
        "--report", "ndjson", "--report-ndjson-path", str(out),
    ]
    if quick:
        # A time budget (examples alone do not bound the run: one an operation made ~1,000
        # requests a role, ~45 s). The generation is CPU-bound: on a machine at load 10, 8 s
        # tested no operation at all (tests/drills asserts requests were sent): 12 s, the
        # roles at once.
        argv += ["--phases", "fuzzing", "--max-examples", "3", "--max-time", "12"]
    else:
        argv += ["--phases", "examples,coverage,fuzzing", "--max-examples", "40",
                 "--max-time", "120"]
    if token:
        argv += ["--header", f"Authorization: Bearer {token}"]
    return argv


def _decode(body) -> str:
    if isinstance(body, dict) and "$base64" in body:
        try:
            return base64.b64decode(body["$base64"]).decode("utf-8", "backslashreplace")
        except ValueError:
            return "<binary>"
    return "" if body is None else str(body)


def run(stack, quick: bool) -> Result:
    res = Result("schemathesis, every operation, every role", "0 server errors")
    failing: dict[str, str] = {}
    per_role = {}
    # The quick run fuzzes as the public and as the role that reaches the most operations;
    # tests/core/test_hostile_input.py sends the hostile values to every operation as every role.
    roles = ROLES if not quick else ["anonymous", "admin"]
    # The quick run starts the roles' runs together (each has its own time budget; the two
    # cores serve both): its wall time is one run's, not the sum.
    batches = [roles] if quick else [[r] for r in roles]
    for batch in batches:
        procs = {}
        for role in batch:
            token = None if role == "anonymous" else api_for(stack.base, role).token
            out = stack.tmp / f"schemathesis-{role}.ndjson"
            logf = open(stack.logs / f"schemathesis-{role}.log", "w")  # noqa: SIM115
            # In the stack's folder: schemathesis keeps a cache (.schemathesis/) in its cwd.
            procs[role] = (subprocess.Popen(_command(stack, out, token, quick), stdout=logf,
                                            stderr=subprocess.STDOUT, cwd=str(stack.tmp)),
                           logf, out)
        try:
            for role, (proc, _, _) in procs.items():
                try:
                    proc.wait(timeout=60 if quick else 900)
                except subprocess.TimeoutExpired:
                    res.note(f"schemathesis as {role} ran out of time: its report is partial")
        finally:  # a timeout, Ctrl-C: no schemathesis left running
            for proc, logf, _ in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                logf.close()
        for role, (_, _, out) in procs.items():
            _count(stack, role, out, res, failing, per_role)
    for label in sorted(failing):
        res.fail(f"{label} — {failing[label]}")
    res.extra.update(per_role={r: {str(k): v for k, v in s.items()} for r, s in per_role.items()},
                     failing_operations=sorted(failing))
    res.note(f"{len(failing)} operations answered 5xx; requests per role: "
             + ", ".join(f"{r} {sum(s.values())}" for r, s in per_role.items()))
    res.met = res.server_errors == 0
    return res


def _count(stack, role: str, out: Path, res: Result, failing: dict, per_role: dict) -> None:
    """Count every response of one role's NDJSON report; keep one request per failing operation."""
    statuses: Counter = Counter()
    if not out.exists():
        log = (stack.logs / f"schemathesis-{role}.log").read_text()
        raise RuntimeError(f"schemathesis wrote no report for {role}: {log[-4000:]}")
    with out.open() as fh:
        for line in fh:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            label = finished.get("recorder", {}).get("label", "?")
            for inter in finished.get("recorder", {}).get("interactions", {}).values():
                response = inter.get("response") or {}
                code = response.get("status_code")
                statuses[code] += 1
                if code is not None and code >= 500 and label not in failing:
                    req = inter.get("request", {})
                    failing[label] = (f"{role}: {req.get('method')} {req.get('uri')} "
                                      f"{_decode(req.get('body'))[:300]} → {code}")
    per_role[role] = dict(statuses)
    res.attempts += sum(statuses.values())
    res.server_errors += sum(v for k, v in statuses.items() if k is not None and k >= 500)
