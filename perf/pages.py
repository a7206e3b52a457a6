"""Public pages under load: ``python -m perf.pages {setup,load,measure}``.

Measures what a member of the public gets from gunicorn on PostgreSQL: the leaderboard page of
a big category (the perf generator's data at a reduced size; the category nearest to
``--category-size`` declarations), that plan's run page, a declaration's detail page and the
list of leaderboards, at 10 and 50 concurrent clients, as requests/s and latency percentiles,
with the load average beside each figure (the machine has 2 cores and is shared: other work
runs beside the measurement, so absolute figures are pessimistic).

- ``setup``: a scratch database (``PERF_DB``, default ``perf_pages``): generated declarations
  loaded as perf.run loads them, then the previews of every plan regenerated.
- ``search``: on that database, the search figure of perf/search.py (index rebuild, then
  each fixed query through the index and through the former LIKE query).
- ``load URL``: one bounded load (``--clients``, ``--requests``, ``--seconds``).
- ``measure``: starts gunicorn on 127.0.0.1 for the code in ``--code`` (a checkout: this one,
  or main's for the "before" figures), runs the loads and prints one Markdown table.

The load generator only ever targets 127.0.0.1 (anything else is refused), stops after
``--requests`` requests or ``--seconds`` seconds, whichever comes first, and uses wrk (Debian
package) when installed, else Python threads (which take CPU from the server on 2 cores: the
figures say which one measured them). ``--revalidate`` sends ``If-None-Match`` with the ETag
of a first response, as a browser's reload does; without it every request is a first visit.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("PERF_DB", "perf_pages")

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MAX_REQUESTS = 200_000
MAX_SECONDS = 120.0


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ============================================================================ data


def setup(args) -> dict:
    """Generate, load and regenerate; returns the URLs to measure (also written to --urls)."""
    from perf import run as perf_run
    from perf.generate import generate
    from perf.harness import Report

    t0 = time.perf_counter()
    ds = generate(args.declarations, 6, args.categories, seed=args.seed)
    perf_run.create_database()
    app = perf_run.make_app(None)
    expand = perf_run.expand_tables

    def expand_with_text_defaults(raw, *a, **kw):
        """perf.run's SQL expansion names the columns it knew; newer NOT NULL text columns
        (declaration_versions.mingshi_fewer, products.attributes) get '' or {} while it runs."""
        added = raw.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE "
            "table_schema = 'public' AND is_nullable = 'NO' AND column_default IS NULL AND "
            "data_type IN ('text', 'character varying', 'json', 'jsonb')"
        ).fetchall()
        for table, column, kind in added:
            empty = "'{}'" if kind.startswith("json") else "''"
            raw.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET DEFAULT {empty}')
        result = expand(raw, *a, **kw)
        for table, column, _kind in added:
            raw.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP DEFAULT')
        return result

    perf_run.expand_tables = expand_with_text_defaults
    loaded = perf_run.load_database(ds, app, Report(machine={}, args={}))
    with app.app_context():
        from sqlalchemy import select

        from core.extensions import db
        from declare.models import Declaration, DeclarationStatus
        from ranking import runs
        from ranking.models import EvaluationPlan

        plans = list(db.session.scalars(select(EvaluationPlan)))
        previews = runs.build_previews(plans)
        db.session.commit()
        sizes = {db.session.get(EvaluationPlan, pid).plan_key: (run.id, run.entry_count,
                                                                run.eligible_count)
                 for pid, run in previews.items()}
        plan_key = min(sizes, key=lambda k: abs(sizes[k][1] - args.category_size))
        run_id, entries, eligible = sizes[plan_key]
        decl = db.session.scalar(
            select(Declaration.id).where(Declaration.status == DeclarationStatus.PUBLISHED)
            .order_by(Declaration.id).limit(1)
        )
        db.session.remove()
    urls = {
        "leaderboard": f"/leaderboards/{plan_key}",
        "run_page": f"/leaderboards/runs/{run_id}",
        "declaration": f"/declarations/{decl}",
        "leaderboards": "/leaderboards",
    }
    info = {"urls": urls, "plan_key": plan_key, "entries": entries,
            "eligible": eligible, "plans": len(plans),
            "declarations": args.declarations, "seconds": round(time.perf_counter() - t0, 1),
            "load_seconds": loaded.seconds.get("total")}
    Path(args.urls).write_text(json.dumps(info, ensure_ascii=False, indent=2))
    print(json.dumps(info, ensure_ascii=False, indent=2))
    return info


def search_figures(args) -> None:
    """The search figure on the data of ``setup`` (perf/search.py), printed as a table."""
    from perf import run as perf_run
    from perf.harness import Report
    from perf.search import measure_search

    app = perf_run.make_app(None)
    report = Report(machine={}, args={})
    measure_search(app, report, like_repeat=args.like_repeat, like_timeout_s=args.like_timeout,
                   rebuild=not args.no_rebuild)
    rows = {r.key: r for r in report.rows}
    print("\n| query | q | matches | index p95 | LIKE | load avg |\n|---|---|---|---|---|---|")
    for label, v in rows["search_p95"].extra["queries"].items():
        like = (f"{v['like_p95_s'] * 1000:,.0f} ms" if v["like_p95_s"] is not None
                else v["like_error"])
        print(f"| {label} | {v['q']} | {v['total']:,} | {v['p95_s'] * 1000:,.0f} ms | {like} "
              f"| {v['loadavg']} |", flush=True)
    if "search_rebuild" in rows:
        rebuild = rows["search_rebuild"]
        print(f"\nindex rebuild: {rebuild.size} in {rebuild.seconds:.0f} s, "
              f"{rebuild.extra['bytes'] / 2**20:,.0f} MiB (load {rebuild.extra['loadavg']})")


# ============================================================================ load


def _local(url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname != HOST:
        raise SystemExit(f"refused: the load generator targets http://{HOST} only, not {url!r}")
    return parts


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def load_threads(url: str, clients: int, requests: int, seconds: float,
                 revalidate: bool) -> dict:
    """``clients`` threads, each a keep-alive connection, sharing one request budget."""
    parts = _local(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    budget = threading.Semaphore(requests)
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    lock = threading.Lock()
    etag = None
    if revalidate:
        conn = http.client.HTTPConnection(HOST, parts.port, timeout=30)
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        etag = resp.getheader("ETag")
        conn.close()

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, parts.port, timeout=30)
        headers = {"If-None-Match": etag} if etag else {}
        while time.perf_counter() < deadline and budget.acquire(blocking=False):
            t = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection(HOST, parts.port, timeout=30)
                continue
            elapsed = time.perf_counter() - t
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 35)
    wall = time.perf_counter() - start
    return _summary("threads", latencies, wall, statuses, errors)


_WRK_SCRIPT = """
local budget = tonumber(os.getenv("PAGES_PER_THREAD"))
local etag = os.getenv("PAGES_ETAG")
local done_n = 0
if etag ~= nil and etag ~= "" then wrk.headers["If-None-Match"] = etag end
function response(status, headers, body)
  done_n = done_n + 1
  if done_n >= budget then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local out = io.open(os.getenv("PAGES_OUT"), "w")
  out:write(string.format('{"requests": %d, "seconds": %f, "p50": %f, "p95": %f, "p99": %f, "max": %f, "errors": %d, "non2xx": %d}',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e6,
    latency:percentile(95) / 1e6, latency:percentile(99) / 1e6, latency.max / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
  out:close()
end
"""


def load_wrk(url: str, clients: int, requests: int, seconds: float, revalidate: bool) -> dict:
    """wrk with one connection per client on 2 threads, stopped by a per-thread request budget
    (Lua) or by its duration."""
    _local(url)
    threads = min(2, clients)
    etag = ""
    if revalidate:
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(HOST, parts.port, timeout=30)
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        resp.read()
        etag = resp.getheader("ETag") or ""
        conn.close()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "pages.lua"
        script.write_text(_WRK_SCRIPT)
        out = Path(tmp) / "out.json"
        env = {**os.environ, "PAGES_PER_THREAD": str(max(1, requests // threads)),
               "PAGES_ETAG": etag, "PAGES_OUT": str(out)}
        subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{int(seconds)}s",
             "--timeout", "30s", "-s", str(script), url],
            env=env, check=True, capture_output=True, timeout=seconds + 60,
        )
        data = json.loads(out.read_text())
    # wrk's duration is always ``-d`` (its main thread sleeps that long), also when every
    # thread stopped early on its budget: then requests/duration understates the rate, so the
    # figure is marked as a lower bound (give a larger --requests to measure it).
    budget_hit = data["requests"] >= threads * max(1, requests // threads)
    return {
        "client": "wrk",
        "requests": data["requests"],
        "rps": data["requests"] / data["seconds"] if data["seconds"] else 0.0,
        "lower_bound": budget_hit,
        "p50_ms": data["p50"] * 1000,
        "p95_ms": data["p95"] * 1000,
        "p99_ms": data["p99"] * 1000,
        "errors": data["errors"] + data["non2xx"],
        "statuses": {},
    }


def _summary(client: str, latencies, wall, statuses, errors) -> dict:
    bad = sum(n for s, n in statuses.items() if s not in (200, 304)) + len(errors)
    return {
        "client": client,
        "requests": len(latencies),
        "rps": len(latencies) / wall if wall else 0.0,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p95_ms": _percentile(latencies, 95) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "errors": bad,
        "statuses": statuses,
    }


def load(url: str, clients: int, requests: int, seconds: float, revalidate: bool = False,
         client: str = "auto") -> dict:
    requests, seconds = min(requests, MAX_REQUESTS), min(seconds, MAX_SECONDS)
    use_wrk = client == "wrk" or (client == "auto" and shutil.which("wrk"))
    if use_wrk:
        return load_wrk(url, clients, requests, seconds, revalidate)
    return load_threads(url, clients, requests, seconds, revalidate)


# ============================================================================ server


@contextmanager
def gunicorn(code: Path, port: int, workers: int, redis_db: int):
    """gunicorn serving ``code`` (a checkout) on 127.0.0.1:port; stopped on exit."""
    from perf.run import sqlalchemy_url

    env = {
        **os.environ,
        "DATABASE_URL": sqlalchemy_url(os.environ["PERF_DB"]),
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "SECRET_KEY": "perf-pages",
        "RATELIMIT_STORAGE_URI": "memory://",
        "PYTHONPATH": str(code),
    }
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    log = open(Path(tempfile.gettempdir()) / f"perf-pages-gunicorn-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", str(code), "-w", str(workers),
         "-b", f"{HOST}:{port}", "--timeout", "60", "--log-level", "warning", "wsgi:app"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        cwd=str(code),  # python -m puts the working directory first on sys.path
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=5)
                conn.request("GET", "/leaderboards")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("gunicorn did not start; see " + log.name)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()


def measure(args) -> list[dict]:
    info = json.loads(Path(args.urls).read_text())
    rows = []
    with gunicorn(Path(args.code).resolve(), args.port, args.workers, args.redis_db):
        for page in args.pages:
            url = f"http://{HOST}:{args.port}{info['urls'][page]}"
            # Warm-up: the first build of the page, and every gunicorn worker's first requests
            # (templates, connections, per-process caches): otherwise the first figure of a
            # run is about half the next ones.
            load(url, 2 * args.workers, 100 * args.workers, 30)
            for clients in args.clients:
                for revalidate in ([False, True] if args.revalidate else [False]):
                    before = loadavg()
                    r = load(url, clients, args.requests, args.seconds, revalidate, args.client)
                    rows.append({"page": page, "url": info["urls"][page], "clients": clients,
                                 "revalidate": revalidate, "loadavg_before": before,
                                 "loadavg_after": loadavg(), **r})
                    print(_row(args.label, rows[-1]), flush=True)
    if args.out:
        out = Path(args.out)
        old = json.loads(out.read_text()) if out.exists() else []
        out.write_text(json.dumps(old + [{"label": args.label, **r} for r in rows],
                                  ensure_ascii=False, indent=2))
    return rows


def _row(label: str, r: dict) -> str:
    mode = "304 (If-None-Match)" if r["revalidate"] else "200"
    rps = ("≥ " if r.get("lower_bound") else "") + f"{r['rps']:.1f}"
    return (f"| {label} | {r['page']} | {r['clients']} | {mode} | {rps} | "
            f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['requests']} | {r['errors']} | "
            f"{r['client']} | {r['loadavg_before']} |")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m perf.pages", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--declarations", type=int, default=100_000)
    s.add_argument("--categories", type=int, default=25)
    s.add_argument("--category-size", type=int, default=4_000)
    s.add_argument("--seed", type=int, default=20261122)
    s.add_argument("--urls", default=str(ROOT / "perf" / "out" / "pages-urls.json"))
    se = sub.add_parser("search", help="on the data of setup: build the search index and "
                        "measure the search (perf/search.py) beside the former LIKE query")
    se.add_argument("--like-repeat", type=int, default=2,
                    help="timed runs of the LIKE peer per query (0: its first run only)")
    se.add_argument("--like-timeout", type=int, default=60, help="seconds; the peer's limit")
    se.add_argument("--no-rebuild", action="store_true", help="keep the index already built")
    lo = sub.add_parser("load")
    lo.add_argument("url")
    lo.add_argument("--clients", type=int, default=10)
    lo.add_argument("--requests", type=int, default=2_000)
    lo.add_argument("--seconds", type=float, default=20)
    lo.add_argument("--revalidate", action="store_true")
    lo.add_argument("--client", choices=["auto", "wrk", "threads"], default="auto")
    m = sub.add_parser("measure")
    m.add_argument("--code", default=str(ROOT), help="the checkout gunicorn serves")
    m.add_argument("--label", default="this")
    m.add_argument("--port", type=int, default=8761)
    m.add_argument("--workers", type=int, default=4)
    m.add_argument("--redis-db", type=int, default=6)
    m.add_argument("--pages", nargs="+", default=["leaderboard", "declaration"])
    m.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    m.add_argument("--requests", type=int, default=MAX_REQUESTS)
    m.add_argument("--seconds", type=float, default=20)
    m.add_argument("--revalidate", action="store_true", help="also measure 304 answers")
    m.add_argument("--client", choices=["auto", "wrk", "threads"], default="auto")
    m.add_argument("--urls", default=str(ROOT / "perf" / "out" / "pages-urls.json"))
    m.add_argument("--out", default=str(ROOT / "perf" / "out" / "pages.json"))
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    Path(ROOT / "perf" / "out").mkdir(exist_ok=True)
    if args.command == "setup":
        setup(args)
    elif args.command == "search":
        search_figures(args)
    elif args.command == "load":
        r = load(args.url, args.clients, args.requests, args.seconds, args.revalidate, args.client)
        print(json.dumps({**r, "loadavg": loadavg()}, indent=2))
    else:
        print("| code | page | clients | answer | req/s | p50 ms | p95 ms | requests | errors "
              "| client | load avg (1/5/15 min) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        measure(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
