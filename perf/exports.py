"""Export figure: CSV export of N published declarations (goal: 1,000,000 in ≤ 20 s, constant
memory), side by side with the simplest alternative (pandas ``read_sql`` + ``to_csv``), and the
two XLSX writers (openpyxl write-only, XlsxWriter constant_memory) on the same rows.

``python -m perf.exports [--declarations 1000000] [--keep-db]``

1. generates the synthetic dataset (perf/generate.py) and loads it into a scratch PostgreSQL
   database (``PERF_DB``, default ``perf_exports``, dropped at the end) with perf/run.py's
   loader, then builds the search index (``declare.search.rebuild``), as the harness does;
2. runs each measurement in a fresh child process (``--child MODE``), so its peak RSS
   (``ru_maxrss``) is the export's own, not the loader's; the table shows the peak before the
   export started (imports, app) and after it (constant memory: the two are close):

   * ``function``: ``declare.exports.search_rows()`` → ``csv_stream`` written to a file (what the
     endpoint streams, without HTTP): on PostgreSQL the COPY path;
   * ``python``: the same rows through the generic path (rows built in Python, then the csv
     module), which SQLite and the XLSX export use;
   * ``endpoint``: ``GET /declarations/export.csv`` through the app's test client, the body
     read chunk by chunk as a client would;
   * ``pandas``: ``pandas.read_sql`` of the same rows (products aggregated with string_agg)
     then ``DataFrame.to_csv``;
   * ``xlsx-openpyxl`` / ``xlsx-xlsxwriter``: the first ``--xlsx-rows`` rows of the export
     written as .xlsx by each library (the service uses openpyxl's write-only workbook);
   * ``opendata``: today's open-data release (``declare.opendata.release``) into a temporary
     folder (rows: declarations in force);

3. prints a Markdown table with the load average (1, 5, 15 min) read when each figure was
   taken. Heavy: run it once, on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PERF_DB", "perf_exports")

from perf.harness import peak_rss_mib  # noqa: E402

GOAL_S = 20.0

PANDAS_SQL = """
SELECT d.id AS declaration_id, v.version_no, v.status, d.kind,
       coalesce(s.code, v.std_code) AS standard_number,
       coalesce(s.title, v.std_name) AS standard_title,
       e.name AS enterprise, e.uscc, e.region_code, v.published_at, v.implemented_on,
       (SELECT string_agg(p.name || ' ' || p.model, '; ' ORDER BY p.id)
          FROM products p WHERE p.version_id = v.id) AS products
FROM declaration_search ds
JOIN declaration_versions v ON v.id = ds.version_id
JOIN declarations d ON d.id = v.declaration_id
JOIN enterprises e ON e.id = d.enterprise_id
LEFT JOIN standards s ON s.id = v.standard_id
WHERE ds.status = 'published'
ORDER BY ds.published_at DESC, ds.declaration_id DESC
"""


def _load(n: int, plain_index: bool = False) -> dict:
    from sqlalchemy import text

    from perf.generate import generate
    from perf.harness import Report, machine_info
    from perf.run import create_database, load_database, make_app

    print(f"generating {n:,} declarations", file=sys.stderr)
    ds = generate(n, 6, max(10, n // 5000), seed=2026)
    create_database()
    app = make_app(None)
    report = Report(machine=machine_info(), args={})
    print("loading PostgreSQL", file=sys.stderr)
    loaded = load_database(ds, app, report)
    from core.extensions import db
    from declare import search

    with app.app_context():
        t0 = time.perf_counter()
        if plain_index:
            # The rows the unfiltered export reads (status, order, version), without tokens:
            # seconds instead of a full rebuild; enough for every figure here (no ``q``).
            done = db.session.execute(text(
                "INSERT INTO declaration_search (declaration_id, version_id, status, kind, "
                "region_code, published_at, number_key, heads, body, filters) "
                "SELECT d.id, v.id, lower(v.status), lower(d.kind), e.region_code, "
                "v.published_at, '', '', '', '' FROM declarations d "
                "JOIN declaration_versions v ON v.id = d.current_version_id "
                "JOIN enterprises e ON e.id = d.enterprise_id WHERE v.status <> 'DRAFT'"
            )).rowcount
            db.session.execute(text("ANALYZE declaration_search"))
        else:
            db.session.execute(text(search.PG_CREATE[0]))
            db.session.commit()
            done = search.rebuild(batch_size=20_000)
        db.session.commit()
        print(f"search index: {done:,} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        published = db.session.scalar(
            text("SELECT count(*) FROM declaration_search WHERE status = 'published'"))
        db.session.remove()
        db.engine.dispose()
    return {"load_s": round(loaded.seconds["total"], 1), "published": published}


def _child(mode: str, xlsx_rows: int) -> dict:
    from perf.run import make_app

    app = make_app(None)
    out = Path(tempfile.mkstemp(prefix="perf-export-", suffix=".out")[1])
    rows = 0
    base_rss = _peak_mib()
    t0 = time.perf_counter()
    try:
        if mode in ("function", "python"):
            from declare import exports

            with app.test_request_context("/"), open(out, "wb") as fh:
                rows_of = exports.search_rows()
                if mode == "python":  # the generic path (SQLite, XLSX): rows in Python
                    rows_of = _counting(rows_of)
                base_rss = _peak_mib()
                t0 = time.perf_counter()
                for chunk in exports.csv_stream(rows_of, exports.COLUMNS):
                    fh.write(chunk)
                    rows += chunk.count(b"\n")
                rows -= 1  # the header
        elif mode == "endpoint":
            client = app.test_client()
            base_rss = _peak_mib()
            t0 = time.perf_counter()
            resp = client.get("/declarations/export.csv", buffered=False)
            assert resp.status_code == 200, resp.status_code
            with open(out, "wb") as fh:
                for chunk in resp.response:
                    fh.write(chunk)
                    rows += chunk.count(b"\n")
            resp.close()
            rows -= 1  # the header
        elif mode == "pandas":
            import pandas as pd

            from core.extensions import db

            with app.app_context():
                frame = pd.read_sql(PANDAS_SQL, db.engine)
                frame.to_csv(out, index=False, encoding="utf-8-sig")
                rows = len(frame)
        elif mode == "opendata":
            import shutil

            from declare import opendata

            folder = Path(tempfile.mkdtemp(prefix="perf-opendata-"))
            app.config["OPEN_DATA_DIR"] = str(folder)
            try:
                with app.app_context():
                    base_rss = _peak_mib()
                    t0 = time.perf_counter()
                    done = opendata.release()
                    rows = done["rows"]["declarations"]
                    out.write_bytes(b"".join(
                        f"{p.name} {p.stat().st_size}\n".encode() for p in folder.rglob("*")))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        elif mode.startswith("xlsx-"):
            from itertools import islice

            from declare import exports

            with app.test_request_context("/"):
                data = list(islice(exports.search_rows(), xlsx_rows))
            rows = len(data)
            t0 = time.perf_counter()  # the writer only
            if mode == "xlsx-openpyxl":
                with open(out, "wb") as fh:
                    for piece in exports.xlsx_stream(iter(data), exports.COLUMNS):
                        fh.write(piece)
            else:
                import xlsxwriter

                wb = xlsxwriter.Workbook(str(out), {"constant_memory": True})
                ws = wb.add_worksheet("导出结果")
                ws.write_row(0, 0, exports.headers(exports.COLUMNS))
                for i, row in enumerate(data, start=1):
                    ws.write_row(i, 0, row)
                wb.close()
        else:
            raise SystemExit(f"unknown mode {mode}")
        seconds = time.perf_counter() - t0
        size = out.stat().st_size
    finally:
        out.unlink(missing_ok=True)
    return {
        "mode": mode, "rows": rows, "seconds": round(seconds, 2), "bytes": size,
        "maxrss_mib": _peak_mib(),
        "base_mib": base_rss,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def _peak_mib() -> float:
    return round(peak_rss_mib(), 1)


class _Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, rows):
        for row in rows:
            self.n += 1
            yield row


_counting = _Counter()

LABELS = {
    "function": "CSV export, declare.exports.csv_stream (PostgreSQL COPY path)",
    "python": "CSV export, generic path (rows in Python, as on SQLite)",
    "endpoint": "CSV export through GET /declarations/export.csv",
    "pandas": "peer: pandas read_sql + to_csv",
    "opendata": "open-data release (CSV + Parquet of declarations, products, indicators)",
    "xlsx-openpyxl": "XLSX, openpyxl write-only (the service's)",
    "xlsx-xlsxwriter": "peer: XLSX, XlsxWriter constant_memory",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perf.exports")
    parser.add_argument("--declarations", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", action="store_true", help="skip the load (kept database)")
    parser.add_argument("--modes", default="function,endpoint,python,pandas,xlsx-openpyxl,"
                        "xlsx-xlsxwriter,opendata", help="which figures, comma-separated")
    parser.add_argument("--plain-index", action="store_true",
                        help="fill declaration_search without tokens (fast; no q filters)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.xlsx_rows)))
        return 0

    from perf.run import drop_database

    info = {} if args.reuse_db else _load(args.declarations, args.plain_index)
    results = []
    try:
        for mode in args.modes.split(","):
            print(f"measuring {mode}", file=sys.stderr)
            done = subprocess.run(
                [sys.executable, "-m", "perf.exports", "--child", mode,
                 "--xlsx-rows", str(args.xlsx_rows)],
                capture_output=True, text=True, check=False,
            )
            if done.returncode != 0:
                results.append({"mode": mode, "error": done.stderr.strip().splitlines()[-1:]})
                continue
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        if not args.keep_db:
            drop_database()
    print(f"\nExports on PostgreSQL: {args.declarations:,} declarations generated, "
          f"{info.get('published', '?'):,} published (load {info.get('load_s', '?')} s); "
          f"cpus {os.cpu_count()}\n" if info else "\nExports on the kept database\n")
    print("| figure | rows | time | goal | peak RSS before → after | load average (1/5/15 min) |")
    print("|---|---:|---:|---|---:|---|")
    for r in results:
        if "error" in r:
            print(f"| {LABELS[r['mode']]} | | error: {r['error']} | | | |")
            continue
        goal = f"≤ {GOAL_S:.0f} s per 1,000,000" if r["mode"] in ("function", "endpoint") else ""
        print(f"| {LABELS[r['mode']]} | {r['rows']:,} | {r['seconds']:.1f} s | {goal} | "
              f"{r['base_mib']:.0f} → {r['maxrss_mib']:.0f} MiB | "
              f"{' / '.join(map(str, r['loadavg']))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
