"""Search figure: p95 of the token-index search vs the former LIKE query, side by side.

Runs on the harness's loaded PostgreSQL database (``python -m perf.run --only-search``, or
after the ranking figures): builds the index with ``declare.search.rebuild`` (timed), then
runs a fixed set of 1-, 2-, 3- and 6-character and model-number queries, common, rare and
no-match, each ``repeat`` times through ``queries.published_versions`` (count and first page,
as the page does) and through the LIKE query the service used before (``like_search``, kept
here as the peer), and reports the p95 per query and overall with the load average.
"""

from __future__ import annotations

import os
import time

import numpy as np
from sqlalchemy import exists, func, or_, select, text
from sqlalchemy.orm import contains_eager, selectinload

from perf.harness import Row, fmt_s, log

QUERIES = [
    ("1 char, common", "空"),
    ("1 char, rare", "铂"),
    ("2 chars, common", "空调"),
    ("2 chars, brand", "海尔"),
    ("3 chars", "坐便器"),
    ("3 chars, no match", "冰箱王"),
    ("6 chars", "一级能效变频"),
    ("model prefix", "KFR-35"),
    ("model exact", None),  # a model of the data, read at run time
    ("standard number", None),  # a standard number of the data, with its space removed
    ("enterprise + product", "重庆 坐便器"),
    ("no match", "量子纠缠"),
    ("no match, Latin", "ZZQX-9999"),
]
GOAL_S = 0.100


def like_search(q: str, page: int = 1, per_page: int = 20):
    """The public search as it was before the index (declare.queries, 2026-12-07): count(*)
    and a page with six ``LIKE '%q%'`` and a products scan."""
    from benchmarks.models import Standard
    from core.extensions import db
    from declare.models import Declaration, DeclarationVersion, Enterprise, Product, VersionStatus

    version, decl, ent = DeclarationVersion, Declaration, Enterprise
    stmt = (
        select(version).join(version.declaration).join(decl.enterprise).outerjoin(version.standard)
        .where(version.status == VersionStatus.PUBLISHED)
        .options(contains_eager(version.declaration).contains_eager(decl.enterprise),
                 contains_eager(version.standard), selectinload(version.products))
        .order_by(version.published_at.desc(), version.id.desc())
    )
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"

    def like(col):
        return func.lower(col).like(pattern, escape="\\")

    product_match = exists().where(Product.version_id == version.id,
                                   or_(like(Product.name), like(Product.model)))
    stmt = stmt.where(or_(like(version.std_code), like(version.std_name), like(Standard.code),
                          like(Standard.title), like(ent.name), ent.uscc == q.upper(),
                          product_match))
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def measure_search(app, report, *, repeat: int = 7, like_repeat: int = 2,
                   like_timeout_s: int = 60, rebuild: bool = True) -> None:
    from core.extensions import db
    from declare import queries, search

    with app.app_context():
        db.session.execute(text("SET TimeZone = 'UTC'"))
        has_tsv = db.session.scalar(text(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = "
            "'declaration_search' AND column_name = 'tsv'"))
        if not has_tsv:  # the harness creates tables with CreateTable: no DDL events
            db.session.execute(text(search.PG_CREATE[0]))
        db.session.commit()
        done = db.session.scalar(text("SELECT count(*) FROM declaration_search"))
        if rebuild:
            log("search: rebuilding the index")
            t0 = time.perf_counter()
            done = search.rebuild(batch_size=20_000, progress=search.progress_printer())
            build = time.perf_counter() - t0
            size = db.session.scalar(text("SELECT pg_total_relation_size('declaration_search')"))
            db.session.commit()
            report.add(Row("search_rebuild", "search index rebuild (flask search rebuild)",
                           f"{done:,} declarations", seconds=build, stat="once",
                           extra={"bytes": size, "loadavg": [round(x, 2) for x in os.getloadavg()]}))
            log(f"search: index of {done:,} in {build:.0f} s, {size / 2**20:.0f} MiB")

        app.config["SEARCH_TIMEOUT_MS"] = 5000
        pick = ("SELECT p.model, v.std_code FROM declarations d JOIN declaration_versions v "
                "ON v.id = d.current_version_id JOIN products p ON p.version_id = v.id "
                "WHERE v.status = 'PUBLISHED' ORDER BY d.id LIMIT 1 OFFSET {}")
        picked = (db.session.execute(text(pick.format(12345))).first()
                  or db.session.execute(text(pick.format(0))).one())  # a small dataset
        db.session.rollback()
        chosen = {"model exact": picked.model, "standard number": picked.std_code.replace(" ", "")}
        per_query, ours_all, like_all = {}, [], []
        for label, q in QUERIES:
            q = q if q is not None else chosen[label]
            def ours():
                with app.test_request_context():
                    page = queries.published_versions(q=q, per_page=20)
                    [v.number for v in page.items]
                    db.session.rollback()
                    return page.total

            ours()  # warm-up
            times = _timed(ours, repeat)
            total = ours()
            like_times, like_total, like_error = [], None, ""

            def old():
                db.session.execute(text(f"SET LOCAL statement_timeout = {like_timeout_s * 1000}"))
                try:
                    page = like_search(q)
                    [v.number for v in page.items]
                    return page.total
                finally:
                    db.session.rollback()

            try:
                t0 = time.perf_counter()
                like_total = old()  # warm-up, the measurement itself with like_repeat=0
                like_times = (_timed(old, like_repeat) if like_repeat
                              else [time.perf_counter() - t0])
            except Exception as exc:  # noqa: BLE001  (a timeout is the peer's result)
                db.session.rollback()
                like_error = type(exc).__name__ + f" (> {like_timeout_s} s)"
            p95 = float(np.percentile(times, 95))
            like_p95 = float(np.percentile(like_times, 95)) if like_times else None
            ours_all += times
            like_all += like_times
            per_query[label] = {"q": q, "p95_s": p95, "total": total, "like_p95_s": like_p95,
                                "like_total": like_total, "like_error": like_error,
                                "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg())}
            log(f"search {label!r} {q!r}: {fmt_s(p95)} ({total}) vs LIKE "
                f"{fmt_s(like_p95) if like_p95 else like_error} ({like_total})")
        worst = max(v["p95_s"] for v in per_query.values())
        report.add(Row(
            "search_p95", "public search, worst per-query p95 of 13 fixed queries "
            "(1/2/3/6 chars, models, rare, no match)", f"{done:,} declarations",
            seconds=worst, stat=f"p95 of {repeat} per query", goal=GOAL_S,
            extra={"queries": per_query, "p95_all_s": float(np.percentile(ours_all, 95)),
                   "loadavg": [round(x, 2) for x in os.getloadavg()]}))
        like_worst = max((v["like_p95_s"] or 0) for v in per_query.values())
        report.add(Row(
            "search_like_p95", "former LIKE search, worst per-query p95 (peer)",
            f"{done:,} declarations", seconds=like_worst or None,
            stat=f"p95 of {like_repeat} per query; timeout {like_timeout_s} s",
            ratio_to="search_p95",
            error="; ".join(f"{k}: {v['like_error']}" for k, v in per_query.items()
                            if v["like_error"]) or None))
