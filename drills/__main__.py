"""``python -m drills [--quick] [--only kill,redis]``: the fault and hostile-input drills.

Starts its own PostgreSQL cluster, Redis, gunicorn (2 workers) and RQ workers on free ports of
127.0.0.1 (drills.stack), loads the catalogue and the demo data, runs the drills in an order
where each leaves the service usable for the next, prints one Markdown table and writes
drills/out/results.json. Everything it started is stopped, and its temporary folder removed,
on exit, failure or Ctrl-C. See drills/README.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback

from drills import access, concurrency, faults, fuzz, hostile
from drills.results import OUT, Result, loadavg, render, write
from drills.stack import Stack, log

# name: (function, what it needs to know); the order they run in.
DRILLS = {
    "concurrency": concurrency.run,
    "matrix": access.run,
    "inputs": hostile.inputs_drill,
    "kill": faults.kill_drill,
    "redis": faults.redis_drill,
    "postgres": faults.postgres_drill,
    # After the fault drills: a text bomb that is accepted keeps a worker busy for minutes.
    "uploads": hostile.uploads_drill,
    "schemathesis": fuzz.run,
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m drills", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="reduced run for CI: small N, short outages, a few schemathesis examples")
    p.add_argument("--only", default="",
                   help=f"comma-separated drills to run (default all): {','.join(DRILLS)}")
    p.add_argument("--out", default=str(OUT), help="where to write the JSON results")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(DRILLS)
    unknown = sorted(set(names) - set(DRILLS))
    if unknown:
        p.error(f"--only: unknown drills {unknown}; known: {', '.join(DRILLS)}")
    args.names = [n for n in DRILLS if n in names]
    return args


def _terminate(signum, frame):  # SIGTERM: unwind like Ctrl-C so the stack is cleaned up
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    import os

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python -m drills " + " ".join(argv if argv is not None else sys.argv[1:]),
        "nproc": os.cpu_count(),
        "loadavg_start": loadavg(),
        "drills": args.names,
    }
    t0 = time.monotonic()
    results: list[Result] = []
    from pathlib import Path

    out = Path(args.out)
    timings: dict[str, float] = {}  # seconds per phase: start-up steps, then each drill
    meta["timings"] = timings
    try:
        t = time.monotonic()
        with Stack(quick=args.quick, timings=timings) as stack:
            timings["start-up"] = round(time.monotonic() - t, 1)
            meta["stack"] = {"postgres_port": stack.pg_port, "redis_port": stack.redis_port,
                             "web_port": stack.web_port}
            for name in args.names:
                log(f"drill {name}")
                t = time.monotonic()
                try:
                    res = DRILLS[name](stack, args.quick)
                except Exception:
                    res = Result(name, "", error=traceback.format_exc(), met=False)
                    log(f"drill {name} failed:\n{res.error}")
                res.seconds = timings[f"drill {name}"] = round(time.monotonic() - t, 1)
                log(f"phase drill {name}: {res.seconds:.1f} s")
                res.extra["loadavg_after"] = loadavg()
                res.extra["workers_alive_after"] = stack.workers_alive()
                results.append(res)
                write(results, {**meta, "partial": True}, out)
    except KeyboardInterrupt:
        log("interrupted: everything the drills started is stopped")
        meta["interrupted"] = True
    meta["loadavg_end"] = loadavg()
    meta["seconds"] = round(time.monotonic() - t0, 1)
    write(results, meta, out)
    print(render(results, meta))
    return 0 if results and all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
