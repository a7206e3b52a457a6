"""How many workers a publication rate needs: N publications per second for D seconds against
1 and then 2 real workers (``flask worker ranking supervision default``, round robin), on the
perf generator's data in PostgreSQL.

Each publication is an enterprise revision of a published declaration in a random category
(``perf.run.revise_and_publish``: start_revision, one value changed, publish, commit), which
enqueues the plan's preview regeneration (ranking queue) and the declaration's risk flags
(supervision queue), both debounced on the leading edge. Reported per queue: the jobs run,
how long they waited (from when each was due, i.e. enqueued or its debounce window ended, to
its start: p50, p95, max), the queue length when the publishing stopped, and how long the
queues took to drain after it; the load average beside each series.

    python -m perf.publish_rate                    # 3/s for 30 s, 20,000 declarations
    python -m perf.publish_rate --rate 5 --seconds 30 --declarations 20000 --workers 1 2

Environment as ``perf.run`` (PERF_PG_HOST/PORT/USER, PERF_REDIS_URL); its own database
``PERF_DB`` (default ``perf_publish_rate``), dropped at the end. Keep it small: the machine
is shared; the whole run takes about D × (number of series) + loading + draining.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from contextlib import suppress
from pathlib import Path

os.environ.setdefault("PERF_DB", "perf_publish_rate")

from perf import run as perf_run  # noqa: E402  (PERF_DB must be set first)
from perf.harness import log, machine_info  # noqa: E402

QUEUES = ("ranking", "supervision", "default")
#: Old previews are pruned by a job due RANKING_PRUNE_DELAY_SECONDS (30 s) after a change:
#: maintenance held back on purpose, left out of the waits, the queue lengths and the drain.
PRUNE = "ranking.tasks.prune_previews"


def all_queue_workers(count: int, log_dir: Path):
    """``count`` real workers on every queue (stopped by pid at the end)."""
    return perf_run.workers(count, log_dir, ["worker", *QUEUES], prefix="rate-worker")


def _waiting(app, after_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from core.extensions import db
    from core.models import OutboxJob

    with app.app_context():
        rows = db.session.execute(
            select(OutboxJob.queue, func.count())
            .where(OutboxJob.id > after_id, OutboxJob.status.in_(("pending", "queued")),
                   OutboxJob.func != PRUNE)
            .group_by(OutboxJob.queue)
        ).all()
        db.session.remove()
    return {q: n for q, n in rows}


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else 0.0


def series(app, cands, workers: int, rate: float, seconds: float, log_dir: Path, seed: int) -> dict:
    from sqlalchemy import func, select

    from core.extensions import db
    from core.models import OutboxJob

    with app.app_context():
        marker = db.session.scalar(select(func.max(OutboxJob.id))) or 0
        db.session.remove()
    rng = random.Random(seed)
    published = 0
    with all_queue_workers(workers, log_dir):
        start = time.monotonic()
        next_at = start
        while time.monotonic() - start < seconds and cands:
            declaration_id, _cat, _pos = cands.pop()
            with app.app_context():
                perf_run.revise_and_publish(declaration_id, 0, 0.01 + rng.random() / 100)
            published += 1
            next_at += rng.expovariate(rate)  # Poisson arrivals at the given rate
            time.sleep(max(0.0, next_at - time.monotonic()))
        elapsed = time.monotonic() - start
        load_during = os.getloadavg()[0]
        at_end = _waiting(app, marker)
        drain_start = time.monotonic()
        while time.monotonic() - drain_start < 60 and sum(_waiting(app, marker).values()) + \
                _running(app, marker):
            time.sleep(0.2)
        drained = time.monotonic() - drain_start
    with app.app_context():
        rows = db.session.execute(
            select(OutboxJob.queue, OutboxJob.func, OutboxJob.status, OutboxJob.created_at,
                   OutboxJob.not_before, OutboxJob.started_at, OutboxJob.finished_at)
            .where(OutboxJob.id > marker, OutboxJob.func != PRUNE)
        ).all()
        db.session.remove()
    per_queue: dict[str, dict] = {}
    for q in QUEUES:
        mine = [r for r in rows if r.queue == q and r.started_at is not None]
        waits = [
            max(0.0, (r.started_at - (r.not_before or r.created_at)).total_seconds())
            for r in mine
        ]
        runs = [(r.finished_at - r.started_at).total_seconds() for r in mine if r.finished_at]
        per_queue[q] = {
            "jobs": len([r for r in rows if r.queue == q]),
            "never_ran": len([r for r in rows if r.queue == q and r.started_at is None]),
            "wait_p50": _pct(waits, 0.5), "wait_p95": _pct(waits, 0.95),
            "wait_max": max(waits, default=0.0),
            "run_median": statistics.median(runs) if runs else 0.0,
            "queued_at_end": at_end.get(q, 0),
        }
    return {"workers": workers, "published": published, "elapsed": elapsed,
            "drained": drained, "load": load_during, "queues": per_queue}


def _running(app, after_id: int) -> int:
    from sqlalchemy import func, select

    from core.extensions import db
    from core.models import OutboxJob

    with app.app_context():
        n = db.session.scalar(
            select(func.count()).where(OutboxJob.id > after_id,
                                       OutboxJob.status.in_(("running", "retrying")))
        )
        db.session.remove()
    return int(n or 0)


def render(results: list[dict], args) -> str:
    lines = [
        f"### Publication rate: {args.rate:g}/s for {args.seconds:g} s, "
        f"{args.declarations:,} declarations in {args.categories} categories (PostgreSQL)",
        "",
        "| workers | queue | publications | jobs (never ran) | job wait p50 | p95 | max "
        "| job run median | queued at end | drained after | load avg (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for q in ("ranking", "supervision"):
            s = r["queues"][q]
            lines.append(
                f"| {r['workers']} | {q} | {r['published']} in {r['elapsed']:.0f} s "
                f"| {s['jobs']} ({s['never_ran']}) | {s['wait_p50']:.2f} s | {s['wait_p95']:.2f} s "
                f"| {s['wait_max']:.2f} s | {s['run_median']:.2f} s | {s['queued_at_end']} "
                f"| {r['drained']:.1f} s | {r['load']:.2f} |"
            )
    lines.append("")
    lines.append(f"machine: {machine_info().get('cpu_count', os.cpu_count())} cores; "
                 f"load average at the end {tuple(round(x, 2) for x in os.getloadavg())}; "
                 f"RANKING_DEBOUNCE_SECONDS and SUPERVISION_FLAGS_DEBOUNCE_SECONDS as configured")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m perf.publish_rate", description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=3.0, help="publications per second")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--declarations", type=int, default=20_000)
    p.add_argument("--categories", type=int, default=50)
    p.add_argument("--seed", type=int, default=20261207)
    p.add_argument("--out", type=Path, default=perf_run.OUT_DIR / "workers")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    log(f"generating {args.declarations:,} declarations in {args.categories} categories")
    ds = perf_run.generate(args.declarations, 6, args.categories, seed=args.seed)
    report = perf_run.Report(machine=machine_info(), args={})
    app = None
    try:
        perf_run.create_database()
        app = perf_run.make_app(perf_run.REDIS_URL)
        log("loading PostgreSQL")
        loaded = perf_run.load_database(ds, app, report)
        perf_run.flush_redis()
        need = int(args.rate * args.seconds * 2) + 20
        cands = perf_run.freshness_candidates(ds, loaded, need * len(args.workers), args.seed)
        random.Random(args.seed).shuffle(cands)
        results = []
        for i, n in enumerate(args.workers):
            log(f"{args.rate:g}/s for {args.seconds:g} s with {n} worker(s)")
            results.append(series(app, cands, n, args.rate, args.seconds, args.out, args.seed + i))
        print(render(results, args))
    finally:
        with suppress(Exception):
            from core.extensions import db

            with app.app_context():  # type: ignore[union-attr]
                db.session.remove()
                db.engine.dispose()
        perf_run.drop_database()
        perf_run.flush_redis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
