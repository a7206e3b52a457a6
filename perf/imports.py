"""Bulk import speed: ``python -m perf.imports [--n 100000] [--api-n 500]``.

Generates one workbook of ``--n`` declarations (1 product, 6 indicators each, names from
perf/names.py, one shared PDF text in the ZIP) for 100 enterprises, on a scratch schema of
``PERF_IMPORT_DATABASE_URL`` (default: a SQLite file in /tmp; give the PostgreSQL URL of your
own database for the figures: its tables are DROPPED and recreated), then measures

- the check only (the preview report: ``declare.bulk.imports.run(write=False)``),
- the full import, checked and written, committed,
- the peak RSS of the process (``resource.getrusage``),
- the one-at-a-time API path (create draft → upload text → publish, through the Flask test
  client) for ``--api-n`` declarations, extrapolated to ``--n`` (said so in the table),

and prints one Markdown table with the load average beside each figure, and the time of
each phase of the check and the import (read, check, write, search index; see ``PHASES``).

The workbook is generated in a child process and cached in /tmp by ``--n``, the seed and the
number of enterprises (``--regenerate`` makes it again), so the peak RSS printed is the
import's own and a second run skips the generation.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import resource
import sys
import time
import zipfile
from datetime import date

import numpy as np

from perf.harness import peak_rss_mib


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def one_page_pdf() -> bytes:
    """A blank one-page A4 PDF: the standard text the harnesses upload."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


INDICATORS = (
    # name, kind, benchmark code, op, unit, value low/high
    ("全年能源消耗效率 APF", "performance", "apf", "ge", "W/W", (4.6, 5.6)),
    ("噪声", "performance", "", "le", "dB", (38, 45)),
    ("制冷量", "performance", "", "ge", "W", (2600, 3600)),
    ("制热量", "performance", "", "ge", "W", (3000, 4500)),
    ("待机功率", "performance", "", "le", "W", (0.5, 1.5)),
    ("自清洁功能", "function", "", "eq", "", None),
)


def workbook_zip(n: int, usccs: list[str], seed: int = 20261207) -> bytes:
    """The import ZIP: one workbook of ``n`` declarations written with openpyxl's write-only
    mode, and the PDF they all name."""
    from openpyxl import Workbook

    from declare.bulk import workbook as wb
    from perf.names import product_columns

    rng = np.random.default_rng(seed)
    cols = product_columns(rng, n)
    owners = rng.integers(0, len(usccs), n)
    values = {name: rng.uniform(*span, n).round(2) for name, _k, _b, _o, _u, span in INDICATORS if span}
    book = Workbook(write_only=True)
    sheets = {s: book.create_sheet(s) for s in wb.SHEETS}
    for s in wb.SHEETS:
        sheets[s].append([wb.header(en, zh) for en, zh in wb.COLUMNS[s]])
    d_order = [en for en, _zh in wb.COLUMNS["declarations"]]
    p_order = [en for en, _zh in wb.COLUMNS["products"]]
    i_order = [en for en, _zh in wb.COLUMNS["indicators"]]
    for k in range(n):
        key = f"R{k + 1}"
        decl = {
            "row_key": key, "uscc": usccs[owners[k]], "kind": "enterprise",
            "standard_code": f"Q/PF{owners[k]:03d} {k + 1:06d}-2025", "std_name": cols["std_name"][k] or "空调器",
            "disclosure": "full_text", "approved_by": "张工", "commitment_accepted": "是",
            "reference_codes": "GB/T 7725-2022", "text_file": "std.pdf",
        }
        sheets["declarations"].append([decl.get(c) for c in d_order])
        prod = {"row_key": key, "name": cols["name"][k], "model": cols["model"][k], "category": "room_ac", "brand": cols["brand"][k]}
        sheets["products"].append([prod.get(c) for c in p_order])
        for name, kind, bench, op, unit, span in INDICATORS:
            row = {"row_key": key, "kind": kind, "name": name, "benchmark": bench, "op": op, "unit": unit,
                   "test_method": "GB/T 7725-2022"}
            if span:
                row["value"] = float(values[name][k])
            else:
                row["text_value"] = "具备"
            sheets["indicators"].append([row.get(c) for c in i_order])
    out = io.BytesIO()
    book.save(out)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("declarations.xlsx", out.getvalue())
        z.writestr("std.pdf", one_page_pdf())
    return archive.getvalue()


def _seed(db) -> None:
    from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard, StandardKind

    def std(code, kind, title, eff):
        prefix, rest = code.rsplit(" ", 1)
        num, year = rest.rsplit("-", 1)
        row = Standard(kind=kind, prefix=prefix, number=num, part="", year=int(year), code=code,
                       title=title, effective_date=eff)
        db.session.add(row)
        return row

    gb = std("GB 21455-2019", StandardKind.NATIONAL_MANDATORY, "房间空气调节器能效限定值及能效等级", date(2020, 7, 1))
    std("GB/T 7725-2022", StandardKind.NATIONAL_RECOMMENDED, "房间空气调节器", date(2023, 5, 1))
    ac = ProductCategory(code="room_ac", name="房间空气调节器", name_en="Room air conditioner")
    db.session.add(ac)
    db.session.flush()
    db.session.add(BenchmarkIndicator(
        category=ac, code="apf", name="全年能源消耗效率 APF", name_en="Annual performance factor (APF)",
        unit="W/W", direction="higher", mandatory_limit=3.30, mandatory_source=gb,
        recommended_value=4.50, recommended_source=gb,
        grades=[["1级", 5.00], ["2级", 4.50], ["3级", 4.00], ["4级", 3.50], ["5级", 3.30]],
        valid_from=date(2020, 7, 1),
    ))


def _enterprises(db, count: int) -> list:
    from core.models import Role, User
    from declare.models import Enterprise
    from stdnum.cn import uscc as uscc_mod

    users = []
    for i in range(count):
        body = f"91500112MA{i + 1:07d}"
        code = body + uscc_mod.calc_check_digit(body)
        ent = Enterprise(uscc=code, name=f"重庆测试{i}有限公司", region_code="500112")
        user = User(username=f"perf{i}", role=Role.ENTERPRISE, enterprise=ent, password_hash="x")
        db.session.add_all([ent, user])
        users.append(user)
    db.session.commit()
    return users


def cached_workbook(n: int, enterprises: int, seed: int = 20261207, *, regenerate: bool = False) -> str:
    """The path of the import ZIP for ``n`` declarations of ``enterprises`` enterprises,
    generated in a child process (its memory is not this process's) unless cached in /tmp."""
    import subprocess

    path = f"/tmp/perf_imports_{n}_{enterprises}_{seed}.zip"
    if regenerate or not os.path.exists(path):
        subprocess.run(
            [sys.executable, "-m", "perf.imports", "--generate-to", path, "--n", str(n),
             "--enterprises", str(enterprises), "--seed", str(seed)],
            check=True,
        )
    return path


def usccs_of(count: int) -> list[str]:
    """The USCCs of ``_enterprises`` (the workbook names them)."""
    from stdnum.cn import uscc as uscc_mod

    out = []
    for i in range(count):
        body = f"91500112MA{i + 1:07d}"
        out.append(body + uscc_mod.calc_check_digit(body))
    return out


#: (module, function, phase): the time spent inside each is summed per phase. A phase nested
#: in another (e.g. the search index inside the write) is subtracted from the outer one.
PHASES = (
    ("declare.bulk.workbook", "read", "read the workbook"),
    ("declare.bulk.imports", "_draft_of", "rows → draft dicts (_draft_of)"),
    ("declare.operations", "check_publishable", "check_publishable"),
    ("declare.operations", "publish_checked", "write (COPY/INSERT, after-publish)"),
    ("declare.search", "refresh", "search index (refresh)"),
    ("declare.search", "index_new", "search index (index_new, from the import)"),
)


class PhaseTimer:
    """Wraps the functions of ``PHASES``; ``take()`` returns and resets seconds per phase
    (exclusive of the phases nested inside)."""

    def __init__(self) -> None:
        import importlib

        self.seconds: dict[str, float] = {}
        self.stack: list[list] = []
        for module_name, attr, label in PHASES:
            module = importlib.import_module(module_name)
            fn = getattr(module, attr, None)
            if fn is not None:
                setattr(module, attr, self._wrap(fn, label))

    def _wrap(self, fn, label):
        import functools

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            frame = [0.0]  # time of the phases nested in this call
            self.stack.append(frame)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                self.stack.pop()
                self.seconds[label] = self.seconds.get(label, 0.0) + spent - frame[0]
                if self.stack:
                    self.stack[-1][0] += spent
        return timed

    def take(self) -> dict[str, float]:
        out, self.seconds = self.seconds, {}
        return out


def _reset_peak() -> bool:
    """Reset the kernel's peak RSS of this process (VmHWM), so ``peak_rss_mib`` gives the peak of
    the run that follows (Linux; False elsewhere)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def api_path(app, db, users, n: int) -> float:
    """Seconds for ``n`` declarations one at a time through the JSON API (3 calls each)."""
    from core.auth import issue_token

    token = issue_token(users[0], "perf")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    pdf = one_page_pdf()
    from sqlalchemy import select

    from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard

    cat = db.session.scalar(select(ProductCategory.id))
    apf = db.session.scalar(select(BenchmarkIndicator.id))
    ref = db.session.scalar(select(Standard.id).where(Standard.code == "GB/T 7725-2022"))
    start = time.perf_counter()
    for k in range(n):
        body = {
            "kind": "enterprise", "std_code": f"Q/API {k + 1:06d}-2025", "std_name": "空调器",
            "commitment_accepted": True, "approved_by": "张工", "reference_ids": [ref],
            "products": [{"name": "空调", "model": f"KFR-{k}", "category_id": cat}],
            "indicators": [
                {"kind": kind, "name": name, "benchmark_indicator_id": apf if bench else None, "op": op,
                 "value": (span[0] if span else None), "text_value": "" if span else "具备",
                 "unit": unit, "test_method": "GB/T 7725-2022"}
                for name, kind, bench, op, unit, span in INDICATORS
            ],
        }
        resp = client.post("/api/v1/declarations", json=body, headers=headers)
        assert resp.status_code == 201, resp.get_json()
        did = resp.get_json()["declaration_id"]  # "id" is the version's
        resp = client.post(f"/api/v1/declarations/{did}/draft/text", headers=headers,
                           data={"file": (io.BytesIO(pdf), "std.pdf")}, content_type="multipart/form-data")
        assert resp.status_code == 200, resp.get_json()
        resp = client.post(f"/api/v1/declarations/{did}/publish", headers=headers)
        assert resp.status_code == 200, resp.get_json()
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--api-n", type=int, default=500)
    parser.add_argument("--enterprises", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument(
        "--skip-check", action="store_true",
        help="only the full import, in a process that has not run the check before (its own peak RSS)",
    )
    parser.add_argument("--regenerate", action="store_true", help="make the cached workbook again")
    parser.add_argument("--generate-to", metavar="PATH", help=argparse.SUPPRESS)  # the child
    parser.add_argument(
        "--profile", metavar="PREFIX",
        help="cProfile the check and the import; write PREFIX.check.prof / PREFIX.import.prof "
        "and print the top functions (cumulative) to stderr",
    )
    args = parser.parse_args(argv)
    if args.generate_to:
        data = workbook_zip(args.n, usccs_of(args.enterprises), args.seed)
        with open(args.generate_to + ".part", "wb") as f:
            f.write(data)
        os.replace(args.generate_to + ".part", args.generate_to)
        return 0
    url = os.environ.get("PERF_IMPORT_DATABASE_URL", "sqlite:////tmp/perf_imports.sqlite3")
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("UPLOAD_DIR", "/tmp/perf_imports_uploads")

    from app import create_app
    from core.extensions import db
    from declare.bulk import imports

    app = create_app()
    app.config.update(REDIS_URL="", RATELIMIT_ENABLED=False, PASSWORD_HASH_METHOD="pbkdf2:sha256:1")
    rows: list[tuple[str, float, str]] = []
    phases = PhaseTimer()
    start_rss = check_rss = import_rss = import_start_rss = 0.0

    def timed(name: str, fn):
        """``fn()``, under cProfile with ``--profile``."""
        if not args.profile:
            return fn()
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(fn)
        prof.dump_stats(f"{args.profile}.{name}.prof")
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
        return result

    def note(label: str, seconds: float) -> None:
        """Keep a figure and say it at once (a long run shows what it has so far)."""
        rows.append((label, seconds, loadavg()))
        print(f"{label}: {seconds:.1f} s (load {rows[-1][2]})", file=sys.stderr, flush=True)

    def note_phases(total: float) -> None:
        """The phases of the run just measured, and the rest (the check's own work)."""
        taken = phases.take()
        for label, seconds in taken.items():
            note(f"  of which {label}", seconds)
        note("  of which the rest (keys, matching, PDFs, report, commit)", total - sum(taken.values()))

    with app.app_context():
        db.drop_all()
        db.create_all()
        _seed(db)
        users = _enterprises(db, args.enterprises)
        assert [u.enterprise.uscc for u in users] == usccs_of(args.enterprises)
        t = time.perf_counter()
        path = cached_workbook(args.n, args.enterprises, args.seed, regenerate=args.regenerate)
        with open(path, "rb") as f:
            data = f.read()
        note(f"workbook {path}, {len(data) / 1e6:.1f} MB, made or read (not part of the import)", time.perf_counter() - t)
        db.session.commit()
        phases.take()
        start_rss = peak_rss_mib("VmRSS")
        with app.test_request_context("/?lang=en"):
            if not args.skip_check:
                _reset_peak()
                t = time.perf_counter()
                report = timed("check", lambda: imports.run(data, "perf.zip", user=None, write=False))
                check_s = time.perf_counter() - t
                note(f"check only, {args.n:,} declarations (goal ≤ 10 s)", check_s)
                note_phases(check_s)
                check_rss = peak_rss_mib()
                assert report.ok, report.errors[:5]
                db.session.rollback()
            gc.collect()
            import_start_rss = peak_rss_mib("VmRSS")
            _reset_peak()
            t = time.perf_counter()
            report = timed("import", lambda: imports.run(data, "perf.zip", user=None, write=True))
            db.session.commit()
            full_s = time.perf_counter() - t
            note(f"full import, {args.n:,} declarations, checked and written (goal ≤ 30 s)", full_s)
            note_phases(full_s)
            import_rss = peak_rss_mib()
            assert report.wrote and len(report.written) == args.n
        if args.api_n:
            s = api_path(app, db, users, args.api_n)
            note(f"API one at a time, {args.api_n} declarations (measured)", s)
            note(f"API one at a time, {args.n:,} declarations (extrapolated ×{args.n / args.api_n:g})", s * args.n / args.api_n)
    dialect = url.split(":", 1)[0]
    print(f"\nBulk import on {dialect}, {os.cpu_count()} CPUs\n")
    print("| figure | value | load average (1/5/15 min) |")
    print("|---|---|---|")
    for label, seconds, load in rows:
        print(f"| {label} | {seconds:.1f} s | {load} |")
    print(f"| RSS before the runs (app, catalogue, the file's bytes) | {start_rss:,.0f} MB | |")
    if not args.skip_check:
        print(f"| peak RSS during the check only | {check_rss:,.0f} MB | |")
    after = "after the check run in this process" if not args.skip_check else "no check run before it"
    print(f"| RSS when the import starts ({after}) | {import_start_rss:,.0f} MB | |")
    print(f"| peak RSS during the full import (goal ≤ 1 GB) | {import_rss:,.0f} MB | |")
    print(f"| peak RSS of the process (all its runs) | {_rss_mb():,.0f} MB | {loadavg()} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
