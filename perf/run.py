"""The performance harness: ``python -m perf.run [--declarations N --indicators K --categories C] [--quick]``.

Prints one table (and writes ``perf/out/results.json``) measuring, on this machine:

1. re-rank compute: tiers of every indicator, grouped by category (``ranking.scoring``);
2. composite scores for the same (anchored and TOPSIS);
3. full regeneration of every category plan on PostgreSQL (read, score, write the snapshot,
   switch the pointer), through ``ranking.tasks.regenerate_preview``;
4. one category's regeneration p95 including the job overhead (outbox -> RQ -> worker -> done);
5. freshness p95 with 2 workers: a declaration revised and published -> visible in the preview
   leaderboard, with the configured debounce;
6. side by side: pandas groupby-rank, pymcdm TOPSIS per category and PostgreSQL window-function
   ranking, as ratios to 1 and 2.

It creates a scratch PostgreSQL database (``perf``, dropped at the end) and uses Redis db 14
(flushed at the end). See perf/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from perf import names
from perf.generate import STATUS_NAMES, Dataset, describe, generate
from perf.harness import (  # noqa: F401  (Row, Report, render...: perf.run's API too)
    Report,
    Row,
    bench,
    fmt_s,
    log,
    machine_info,
    p95,
    render,
    stat_text,
    write_json,
)

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "out"
PG_HOST = os.environ.get("PERF_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PERF_PG_PORT", "5432"))
PG_USER = os.environ.get("PERF_PG_USER", "postgres")
PERF_DB = os.environ.get("PERF_DB", "perf")
REDIS_URL = os.environ.get("PERF_REDIS_URL", "redis://127.0.0.1:6379/14")

GOALS = {  # seconds
    "compute": 1.0,
    "composite": 1.0,
    "full_regeneration": 30.0,
    "category_p95": 0.200,
    "freshness_p95": 2.0,
}


# ============================================================================ compute (1, 2, 6a, 6b)


@dataclass
class Family:
    """All categories sharing one plan template, as the scoring functions take them."""

    index: int
    rows: np.ndarray
    ids: np.ndarray  # declaration ids
    X: np.ndarray  # (rows, k) Fortran order
    groups: np.ndarray  # category codes
    frame: pd.DataFrame  # ids x keys
    group_series: pd.Series
    specs: list
    rule: object
    method: str


def specs_of(plan) -> list:
    from ranking.scoring import IndicatorSpec

    return [
        IndicatorSpec(
            key=i.key,
            direction=i.direction,
            floor=i.floor,
            cuts=tuple(i.cuts),
            cut_mode=i.cut_mode,
            weight=i.weight,
            best_reference=i.best_reference,
        )
        for i in plan.indicators
    ]


def rule_of(plan):
    from ranking.scoring import LeaderRule

    r = plan.leader_rule
    return LeaderRule(kind=r["kind"], n=r["n"], share=r["share"], star_cuts=tuple(r["star_cuts"]))


def families(ds: Dataset) -> list[Family]:
    out = []
    for f, plan in enumerate(ds.plans):
        rows = ds.family_rows(f)
        X = np.asfortranarray(ds.values[rows])
        ids = rows + 1
        groups = ds.category[rows].astype(np.int64)
        specs = specs_of(plan)
        frame = pd.DataFrame({s.key: X[:, j] for j, s in enumerate(specs)}, index=pd.Index(ids, name="id"))
        out.append(
            Family(f, rows, ids, X, groups, frame, pd.Series(groups, index=frame.index), specs,
                   rule_of(plan), plan.composite_method)
        )
    return out


def measure_compute(ds: Dataset, report: Report, repeat: int) -> None:
    from ranking import scoring

    fams = families(ds)
    size = f"{ds.n:,} × {ds.k}, {ds.n_categories} categories"

    def tiers():
        for fam in fams:
            for j, spec in enumerate(fam.specs):
                t = scoring.assign_tiers(fam.X[:, j], spec, fam.groups)
                scoring.all_equal(np.where(t > 0, fam.X[:, j], np.nan), fam.groups)

    log("1. tiers")
    b = bench(tiers, repeat)
    report.add(Row("compute", "re-rank compute: tiers of every indicator, grouped by category "
                   "(+ the all-equal check)", size, b["median"], stat_text(b), GOALS["compute"],
                   note=f"{len(fams)} grouped calls (one per plan template) × {ds.k} indicators",
                   extra=b))

    for method, fn in (("anchored", scoring.composite_anchored), ("topsis", scoring.composite_topsis)):
        log(f"2. composite {method}")
        b = bench(lambda fn=fn: [fn(fam.X, fam.specs, fam.groups) for fam in fams], repeat)
        report.add(Row(f"composite_{method}", f"composite score, {method}", size, b["median"],
                       stat_text(b), GOALS["composite"], extra=b))

    log("rank() grouped")
    b = bench(lambda: [scoring.rank(fam.frame, fam.specs, fam.rule, fam.method,
                                    groups=fam.group_series) for fam in fams], repeat)
    report.add(Row("rank_grouped", "full rank(): tiers + plan's composite + composite ranks + "
                   "leaders + stars, grouped", size, b["median"], stat_text(b), extra=b,
                   note="informational"))

    # The regeneration ranks one plan at a time: the same work as 500 separate calls.
    per_cat = []
    for fam in fams:
        for c in np.unique(fam.groups):
            sel = fam.groups == c
            per_cat.append((fam.frame[sel], fam.specs, fam.rule, fam.method))
    log("rank() per plan")
    b = bench(lambda: [scoring.rank(fr, sp, ru, me) for fr, sp, ru, me in per_cat],
              max(1, repeat // 2))
    report.add(Row("rank_per_plan", f"rank() once per category plan ({len(per_cat)} calls), as "
                   "the per-plan jobs do", size, b["median"], stat_text(b), extra=b,
                   note="informational"))

    # 6a. pandas groupby-rank on the same values (direction applied by sign, dense ranks).
    frames = []
    for fam in fams:
        sign = np.array([1.0 if s.direction == "higher" else -1.0 for s in fam.specs])
        fr = pd.DataFrame(fam.X * sign, columns=[s.key for s in fam.specs])
        fr["category"] = fam.groups
        frames.append(fr)
    keys_of = [[s.key for s in fam.specs] for fam in fams]
    log("6a. pandas groupby-rank")
    b = bench(lambda: [fr.groupby("category", sort=False)[keys].rank(method="dense", ascending=False)
                       for fr, keys in zip(frames, keys_of)], max(1, repeat // 2))
    report.add(Row("pandas", "baseline: pandas groupby(category).rank(method='dense') of every "
                   "indicator", size, b["median"], stat_text(b), ratio_to="compute", extra=b))

    # 6b. pymcdm TOPSIS, one call per category, on the rows eligible on every indicator.
    measure_pymcdm(fams, report, repeat, size)


def measure_pymcdm(fams: list[Family], report: Report, repeat: int, size: str) -> None:
    import warnings

    from pymcdm import normalizations
    from pymcdm.methods import TOPSIS

    from ranking import scoring

    method = TOPSIS(normalization_function=normalizations.vector_normalization)
    work = []  # (matrix, weights, types, rows-in-family, family)
    for fam in fams:
        ok = np.ones(len(fam.rows), dtype=bool)
        for j, s in enumerate(fam.specs):
            x = fam.X[:, j]
            ok &= (x >= s.floor) if s.direction == "higher" else (x <= s.floor)
        w = np.array([s.weight for s in fam.specs])
        types = np.array([1 if s.direction == "higher" else -1 for s in fam.specs])
        for c in np.unique(fam.groups):
            sel = np.flatnonzero(ok & (fam.groups == c))
            if len(sel):
                work.append((np.ascontiguousarray(fam.X[sel]), w / w.sum(), types, sel, fam.index))

    def run(validation: bool = False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [method(m, w, t, validation=validation) for m, w, t, _, _ in work]

    log("6b. pymcdm TOPSIS per category")
    b = bench(run, repeat)
    # pymcdm's default call also validates its input (most of its time); timed once, and its
    # results checked against ours (pymcdm gives NaN where every entry is identical; ours 1.0).
    t0 = time.perf_counter()
    theirs = run(validation=True)
    validated = time.perf_counter() - t0
    ours = {fam.index: scoring.composite_topsis(fam.X, fam.specs, fam.groups) for fam in fams}
    diffs = [np.nanmax(np.abs(ours[f][sel] - t)) for (_, _, _, sel, f), t in zip(work, theirs)
             if np.isfinite(t).any()]
    max_diff = float(max(diffs)) if diffs else float("nan")
    report.add(Row("pymcdm", f"baseline: pymcdm TOPSIS (vector normalisation), one call per "
                   f"category ({len(work)} calls), validation=False", size, b["median"],
                   stat_text(b), ratio_to="composite_topsis",
                   note=(f"with pymcdm's default input validation {fmt_s(validated)} (once); "
                         f"largest difference from ours {max_diff:.1e}"),
                   extra={**b, "with_validation_seconds": validated, "max_abs_diff": max_diff}))


# ============================================================================ PostgreSQL


def conninfo(dbname: str) -> str:
    return f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={dbname}"


def sqlalchemy_url(dbname: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


def drop_database() -> None:
    import psycopg

    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PERF_DB}" WITH (FORCE)')


def create_database() -> None:
    import psycopg

    drop_database()
    with psycopg.connect(conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{PERF_DB}"')


def pg_version() -> str:
    import psycopg

    with psycopg.connect(conninfo("postgres")) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


_PG_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us")
_BINARY = {  # numpy big-endian layout of PostgreSQL binary COPY fields
    "int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8", "bool": "u1",
    "timestamptz": ">i8", "date": ">i4",
}


def binary_copy(conn, table: str, columns: list[tuple[str, str, np.ndarray]], chunk: int = 200_000) -> None:
    """COPY numpy columns (no NULLs) into ``table`` in PostgreSQL's binary format.

    Rows are laid out with a numpy structured dtype (field count, then length + big-endian
    value per field), so no Python code runs per row.
    """
    n = len(columns[0][2])
    fields = [("count", ">i2")]
    for name, kind, _ in columns:
        fields += [(f"{name}__len", ">i4"), (name, _BINARY[kind])]
    dtype = np.dtype(fields)
    converted = []
    for name, kind, arr in columns:
        if kind == "timestamptz":
            arr = (arr.astype("datetime64[us]") - _PG_EPOCH_US).astype(np.int64)
        elif kind == "date":
            arr = (arr.astype("datetime64[D]") - np.datetime64("2000-01-01", "D")).astype(np.int64)
        elif kind == "bool":
            arr = arr.astype(np.uint8)
        converted.append((name, kind, arr))
    names = ", ".join(name for name, _, _ in columns)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as cp:
        cp.write(b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big"))
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            rec = np.empty(stop - start, dtype=dtype)
            rec["count"] = len(columns)
            for name, kind, arr in converted:
                rec[f"{name}__len"] = np.dtype(_BINARY[kind]).itemsize
                rec[name] = arr[start:stop]
            cp.write(rec.tobytes())
        cp.write((-1).to_bytes(2, "big", signed=True))


def text_copy(conn, table: str, frame: pd.DataFrame, chunk: int = 100_000) -> None:
    names = ", ".join(frame.columns)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as cp:
        for start in range(0, len(frame), chunk):
            cp.write(frame.iloc[start:start + chunk].to_csv(sep="\t", header=False, index=False,
                                                            na_rep="\\N"))


def make_app(redis_url: str | None):
    from app import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(PERF_DB),
        "REDIS_URL": redis_url,
        "SECRET_KEY": "perf-harness",
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "UPLOAD_DIR": str(Path(tempfile.gettempdir()) / "perf-uploads"),
    })
    import ranking.models  # noqa: F401  (every ranking table in the metadata)

    with suppress(ImportError):
        import ranking.tasks  # noqa: F401
    return app


@dataclass
class Loaded:
    """What the load made, for the later measurements."""

    category_ids: np.ndarray  # DB id of each category code
    plan_ids: np.ndarray  # DB id of each category's plan
    plan_keys: list[str]
    seconds: dict
    rows: dict
    valid_standard_id: int = 0


def load_database(ds: Dataset, app, report: Report) -> Loaded:
    """Schema from the models, the seed catalogue, synthetic categories and plans, then COPY.

    Secondary indexes and foreign keys are created after the data (as pg_restore does); the
    database then has exactly the indexes and constraints of the models, is VACUUM ANALYZEd
    and checkpointed, so the measurements start from a steady state.
    """
    import psycopg
    from sqlalchemy import insert, select, text
    from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

    from benchmarks.importer import load_directory
    from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard
    from core.extensions import db
    from core.models import Role, User
    from ranking.models import EvaluationPlan, PlanIndicator, PlanStatus

    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    k, n = ds.k, ds.n
    with app.app_context():
        t0 = time.perf_counter()
        tables = db.metadata.sorted_tables
        with db.engine.begin() as conn:
            for t in tables:
                conn.execute(CreateTable(t, include_foreign_key_constraints=[]))
        reports = load_directory()
        if not all(r.ok for r in reports):
            raise RuntimeError("seed catalogue did not load: " + "; ".join(r.summary() for r in reports))
        evaluator = User(username="perf-evaluator", role=Role.EVALUATOR, display_name="性能测试评估机构")
        evaluator.set_password("perf-harness-only")
        db.session.add(evaluator)
        db.session.commit()
        std = {s.code: s.id for s in db.session.scalars(select(Standard))}
        valid_ref, withdrawn_ref = std["GB/T 1.1-2020"], std["GB/T 1.1-2009"]

        cat_rows = []
        for c in range(ds.n_categories):
            f = int(ds.category_family[c])
            lead = ds.templates[ds.plans[f].indicators[0].template]
            cat_rows.append({
                "code": f"perf_{c:04d}",
                "name": f"合成品类{c:04d}（{lead.name.split('（')[0][:40]}等）",
                "name_en": f"Synthetic category {c:04d}",
                "source": "perf harness (synthetic, perf/generate.py)",
            })
        db.session.execute(insert(ProductCategory.__table__), cat_rows)
        cat_id = dict(db.session.execute(
            select(ProductCategory.code, ProductCategory.id).where(ProductCategory.code.like("perf_%"))
        ).all())
        category_ids = np.array([cat_id[f"perf_{c:04d}"] for c in range(ds.n_categories)])

        bench_rows = []
        for c in range(ds.n_categories):
            plan = ds.plan_of_category(c)
            for ind in plan.indicators:
                t = ds.templates[ind.template]
                bench_rows.append({
                    "category_id": int(category_ids[c]), "code": ind.key, "name": t.name,
                    "name_en": "", "unit": t.unit, "direction": t.direction,
                    "mandatory_limit": t.mandatory_limit,
                    "mandatory_source_id": std.get(t.mandatory_source),
                    "recommended_value": t.recommended_value,
                    "recommended_source_id": std.get(t.recommended_source),
                    "grades": [[label, v] for label, v in t.grades],
                    "valid_from": dt.date(2020, 1, 1), "valid_to": None,
                    "citation": f"synthetic copy of {t.category}/{t.code}", "source": "perf harness",
                })
        db.session.execute(insert(BenchmarkIndicator.__table__), bench_rows)
        bench_id = {(r.category_id, r.code): r.id for r in db.session.execute(
            select(BenchmarkIndicator.category_id, BenchmarkIndicator.code, BenchmarkIndicator.id)
            .where(BenchmarkIndicator.source == "perf harness"))}

        plan_rows, keys = [], []
        for c in range(ds.n_categories):
            plan = ds.plan_of_category(c)
            keys.append(f"perf-{c:04d}")
            plan_rows.append({
                "plan_key": keys[-1], "version_no": 1, "evaluator_id": evaluator.id,
                "category_id": int(category_ids[c]), "year": ds.today.year,
                "title": f"合成品类{c:04d} 企业标准领跑者评估方案", "status": PlanStatus.ACTIVE,
                "entry_rules": {"exclude_mingshi_on_core": True, "require_references_valid": True,
                                "inspection_window_days": 1095},
                "leader_rule": plan.leader_rule, "composite_method": plan.composite_method,
                "publicity_days": 10, "notes": "perf harness",
            })
        db.session.execute(insert(EvaluationPlan.__table__), plan_rows)
        plan_id = dict(db.session.execute(select(EvaluationPlan.plan_key, EvaluationPlan.id)).all())
        plan_ids = np.array([plan_id[key] for key in keys])
        pi_rows = []
        for c in range(ds.n_categories):
            for j, ind in enumerate(ds.plan_of_category(c).indicators):
                t = ds.templates[ind.template]
                pi_rows.append({
                    "plan_id": int(plan_ids[c]), "position": j,
                    "benchmark_indicator_id": bench_id[(int(category_ids[c]), ind.key)],
                    "benchmark_code": ind.key, "direction": ind.direction, "unit": t.unit,
                    "floor": ind.floor, "floor_kind": ind.floor_kind, "cut_mode": ind.cut_mode,
                    "cuts": list(ind.cuts), "weight": ind.weight, "best_reference": ind.best_reference,
                })
        db.session.execute(insert(PlanIndicator.__table__), pi_rows)
        db.session.commit()
        seconds["schema_catalogue_plans"] = time.perf_counter() - t0

        raw = psycopg.connect(conninfo(PERF_DB))
        try:
            raw.execute("SET TimeZone = 'UTC'")
            raw.execute("SET synchronous_commit = off")  # the load only; measurements use defaults
            raw.execute("SET maintenance_work_mem = '1GB'")
            # -- enterprises (text COPY: strings) and their compliance records
            t0 = time.perf_counter()
            e_ids = np.arange(1, ds.n_enterprises + 1)
            created = pd.Timestamp(ds.today) - pd.Timedelta(days=1500)
            ent = pd.DataFrame({
                "id": e_ids, "uscc": ds.enterprise_uscc,
                "name": names.enterprise_names(np.random.default_rng(ds.seed + 1),
                                               ds.enterprise_region),
                "region_code": ds.enterprise_region, "address": "", "contact_name": "",
                "contact_phone": "", "created_at": created.strftime("%Y-%m-%d %H:%M:%S+00"),
            })
            text_copy(raw, "enterprises", ent)
            insp = np.flatnonzero(ds.enterprise_inspection > 0)
            with raw.cursor() as cur:
                cur.executemany(
                    "INSERT INTO compliance_records (enterprise_id, declaration_id, kind, result, "
                    "occurred_on, reference, details, created_at) VALUES (%s, NULL, 'inspection', "
                    "%s, %s, %s, '', now())",
                    [(int(e + 1), "nonconforming" if ds.enterprise_inspection[e] == 2 else "conforming",
                      ds.enterprise_inspected_on[e].item(), f"PERF-{e + 1}") for e in insp],
                )
            raw.execute(
                "INSERT INTO attachments (id, sha256, size, filename, content_type, enterprise_id, "
                "created_at) SELECT id, md5(id::text) || md5(uscc), 250000, 'standard.pdf', "
                "'application/pdf', id, created_at FROM enterprises"
            )
            raw.commit()
            seconds["enterprises"] = time.perf_counter() - t0

            # -- the declaration matrix (binary COPY), then the real tables from it in SQL
            t0 = time.perf_counter()
            vcols = ", ".join(f"v{j} float8, m{j} bool, g{j} float8" for j in range(k))
            raw.execute(
                "CREATE TABLE perf_matrix (declaration_id int4, enterprise_id int4, category_id "
                f"int4, family int2, status int2, revised bool, published_at timestamptz, cites bool, "
                f"withdrawn bool, {vcols})"
            )
            sign = np.empty((n, k))
            for f, plan in enumerate(ds.plans):
                rows = ds.family_rows(f)
                for j, ind in enumerate(plan.indicators):
                    sign[rows, j] = 1.0 if ind.direction == "higher" else -1.0
            published = np.where(np.isnat(ds.published_at), np.datetime64(ds.today, "s"), ds.published_at)
            cols = [
                ("declaration_id", "int4", np.arange(1, n + 1)),
                ("enterprise_id", "int4", ds.enterprise + 1),
                ("category_id", "int4", category_ids[ds.category]),
                ("family", "int2", ds.category_family[ds.category]),
                ("status", "int2", ds.status),
                ("revised", "bool", ds.revised),
                ("published_at", "timestamptz", published),
                ("cites", "bool", ds.cites_reference),
                ("withdrawn", "bool", ds.withdrawn_reference),
            ]
            for j in range(k):
                cols += [(f"v{j}", "float8", ds.values[:, j]), (f"m{j}", "bool", ds.mingshi[:, j]),
                         (f"g{j}", "float8", ds.values[:, j] * sign[:, j])]
            binary_copy(raw, "perf_matrix", cols)
            # Realistic product, brand, model and standard names (perf/names.py) for search.
            raw.execute("CREATE TABLE perf_names (declaration_id int4 PRIMARY KEY, name text, "
                        "brand text, model text, std_name text)")
            named = names.product_columns(np.random.default_rng(ds.seed + 2), n)
            text_copy(raw, "perf_names", pd.DataFrame({"declaration_id": np.arange(1, n + 1),
                                                       **named}))
            raw.commit()
            seconds["copy_matrix"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            rows_made = expand_tables(raw, ds, category_ids, bench_id, valid_ref, withdrawn_ref)
            raw.commit()
            seconds["expand_sql"] = time.perf_counter() - t0
        finally:
            raw.close()

        # -- indexes and foreign keys of the models, sequences, statistics
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '1GB'"))
            for t in tables:
                for ix in sorted(t.indexes, key=lambda i: i.name or ""):
                    conn.execute(CreateIndex(ix))
        seconds["indexes"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            for t in tables:
                for fk in t.foreign_key_constraints:
                    conn.execute(AddConstraint(fk))
            for t in tables:
                if "id" in t.c and t.c.id.primary_key:
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                        f"greatest((SELECT max(id) FROM {t.name}), 1))"))
        seconds["foreign_keys"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with psycopg.connect(conninfo(PERF_DB), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
            conn.execute("CHECKPOINT")
        seconds["vacuum_analyze_checkpoint"] = time.perf_counter() - t0
        db.session.remove()
        db.engine.dispose()
    seconds["total"] = time.perf_counter() - t_all
    return Loaded(category_ids, plan_ids, keys, seconds, rows_made, valid_ref)


def expand_tables(raw, ds: Dataset, category_ids, bench_id, valid_ref: int, withdrawn_ref: int) -> dict:
    """declarations, versions, products, indicators, references and flags from perf_matrix."""
    from declare.models import DeclarationStatus as DS
    from declare.models import VersionStatus as VS

    n, k = ds.n, ds.k
    status_sql = lambda names: "CASE m.status " + " ".join(  # noqa: E731
        f"WHEN {i} THEN '{names[s]}'" for i, s in enumerate(STATUS_NAMES)) + " END"
    decl_status = status_sql({"published": DS.PUBLISHED.name, "abolished": DS.ABOLISHED.name,
                              "revoked": DS.REVOKED.name, "draft": DS.DRAFT.name})
    ver_status = status_sql({"published": VS.PUBLISHED.name, "abolished": VS.ABOLISHED.name,
                             "revoked": VS.REVOKED.name, "draft": VS.DRAFT.name})
    draft = STATUS_NAMES.index("draft")
    # Benchmark of each (category, position), with what the SQL needs to fill the cmp_* columns.
    raw.execute(
        "CREATE TABLE perf_bench_map (category_id int4, position int4, benchmark_id int4, "
        "op text, unit text, name text, test_method text, recommended float8, sign float8, "
        "t1 float8, l1 text, t2 float8, l2 text, t3 float8, l3 text, t4 float8, l4 text, "
        "t5 float8, l5 text)"
    )
    rows = []
    for c in range(ds.n_categories):
        for j, ind in enumerate(ds.plan_of_category(c).indicators):
            t = ds.templates[ind.template]
            g = list(t.grades)[:5] + [(None, None)] * (5 - min(5, len(t.grades)))
            rows.append((int(category_ids[c]), j, bench_id[(int(category_ids[c]), ind.key)],
                         "ge" if t.direction == "higher" else "le", t.unit, t.name,
                         f"{t.mandatory_source} 规定的方法", t.recommended_value,
                         1.0 if t.direction == "higher" else -1.0,
                         *[x for label, v in g for x in (v, label)]))
    with raw.cursor() as cur:
        cur.executemany(f"INSERT INTO perf_bench_map VALUES ({', '.join(['%s'] * 19)})", rows)

    counts: dict[str, int] = {}
    later: list[tuple[str, str, dict]] = []

    def run(name: str, sql: str, params: dict | None = None) -> None:
        if name != "perf_versions":
            later.append((name, sql, params or {}))
            return
        cur = raw.execute(sql, params or {})
        counts[name] = cur.rowcount or 0

    run("perf_versions", f"""
        CREATE TABLE perf_versions AS
        SELECT m.declaration_id AS version_id, m.declaration_id, true AS current,
               1 + m.revised::int AS version_no, {ver_status} AS status,
               CASE WHEN m.status = {draft} THEN NULL ELSE m.published_at END AS published_at,
               CASE WHEN m.status IN (1, 2) THEN m.published_at + (now() - m.published_at) / 2 END
                 AS ended_at
          FROM perf_matrix m
        UNION ALL
        SELECT {n} + (row_number() OVER (ORDER BY m.declaration_id))::int4, m.declaration_id, false,
               1, '{VS.SUPERSEDED.name}', m.published_at - interval '400 days', m.published_at
          FROM perf_matrix m WHERE m.revised""")
    run("declarations", f"""
        INSERT INTO declarations (id, enterprise_id, kind, status, current_version_id, created_at)
        SELECT m.declaration_id, m.enterprise_id, 'ENTERPRISE', {decl_status},
               CASE WHEN m.status = {draft} THEN NULL ELSE m.declaration_id END,
               m.published_at - interval '10 days' - m.revised::int * interval '400 days'
          FROM perf_matrix m""")
    run("declaration_versions", f"""
        INSERT INTO declaration_versions (id, declaration_id, version_no, status, lock_version,
            standard_id, std_code, std_enterprise_code, std_sequence, std_year, std_name,
            disclosure, text_attachment_id, commitment_accepted, approved_by, approved_on,
            implemented_on, revision_note, created_at, updated_at, published_at, ended_at,
            end_reason, mingshi_fewer)
        SELECT v.version_id, v.declaration_id, v.version_no, v.status, 1, NULL,
               'Q/P' || lpad(m.enterprise_id::text, 7, '0') || ' ' || m.declaration_id || '-'
                 || extract(year FROM coalesce(v.published_at, now()))::int,
               'P' || lpad(m.enterprise_id::text, 7, '0'), m.declaration_id::text,
               extract(year FROM coalesce(v.published_at, now()))::int,
               (SELECT nm.std_name FROM perf_names nm WHERE nm.declaration_id = m.declaration_id),
               'FULL_TEXT', m.enterprise_id, true, '质量负责人',
               (coalesce(v.published_at, now()) - interval '20 days')::date,
               (coalesce(v.published_at, now()) + interval '10 days')::date,
               CASE WHEN v.version_no > 1 THEN '提高能效指标' ELSE '' END,
               coalesce(v.published_at, now()) - interval '7 days',
               coalesce(v.ended_at, v.published_at, now()), v.published_at, v.ended_at,
               CASE v.status WHEN '{VS.ABOLISHED.name}' THEN '产品停产'
                             WHEN '{VS.REVOKED.name}' THEN '抽查不合格，责令撤销' ELSE '' END, ''
          FROM perf_versions v JOIN perf_matrix m USING (declaration_id)""")
    run("products", """
        INSERT INTO products (id, version_id, name, model, category_id, specification,
            common_name, brand, barcode, attributes)
        SELECT v.version_id, v.version_id, nm.name, nm.model, m.category_id,
               '', '', nm.brand, '', '{}'
          FROM perf_versions v JOIN perf_matrix m USING (declaration_id)
          JOIN perf_names nm USING (declaration_id)""")
    values = ", ".join(f"({j}, m.v{j}, m.m{j})" for j in range(k))
    run("indicators", f"""
        INSERT INTO indicators (id, version_id, position, kind, name, benchmark_indicator_id, op,
            value, low, high, text_value, unit, test_method, mingshi, cmp_status, cmp_grade,
            cmp_margin_pct, cmp_guaranteed)
        SELECT (v.version_id - 1) * {k} + x.pos + 1, v.version_id, x.pos, 'performance', b.name,
               b.benchmark_id, b.op, x.v, NULL, NULL, '', b.unit, b.test_method,
               CASE WHEN x.m THEN '低于推荐性标准要求：经济型产品，已明示' ELSE '' END,
               CASE WHEN v.status = 'DRAFT' THEN NULL
                    WHEN x.m THEN 'below_recommended'
                    WHEN x.v = b.recommended THEN 'meets' ELSE 'exceeds' END,
               CASE WHEN v.status = 'DRAFT' THEN NULL
                    WHEN b.sign * x.v >= b.sign * b.t1 THEN b.l1
                    WHEN b.sign * x.v >= b.sign * b.t2 THEN b.l2
                    WHEN b.sign * x.v >= b.sign * b.t3 THEN b.l3
                    WHEN b.sign * x.v >= b.sign * b.t4 THEN b.l4
                    WHEN b.sign * x.v >= b.sign * b.t5 THEN b.l5 END,
               CASE WHEN v.status = 'DRAFT' THEN NULL
                    ELSE round(((x.v - b.recommended) / b.recommended * b.sign * 100)::numeric, 2)::float8
               END,
               CASE WHEN v.status = 'DRAFT' THEN NULL ELSE x.v END
          FROM perf_versions v JOIN perf_matrix m USING (declaration_id)
         CROSS JOIN LATERAL (VALUES {values}) AS x(pos, v, m)
          JOIN perf_bench_map b ON b.category_id = m.category_id AND b.position = x.pos
         WHERE x.v <> 'NaN'::float8""")
    run("normative_references", """
        INSERT INTO normative_references (version_id, standard_id)
        SELECT v.version_id, CASE WHEN m.withdrawn THEN %(withdrawn)s ELSE %(valid)s END
          FROM perf_versions v JOIN perf_matrix m USING (declaration_id)
         WHERE m.cites OR m.withdrawn""", {"valid": valid_ref, "withdrawn": withdrawn_ref})
    run("reference_flags", """
        INSERT INTO reference_flags (version_id, standard_id, reason, replaced_by_code,
            detected_at, cleared_at)
        SELECT v.version_id, %(withdrawn)s, 'replaced', 'GB/T 1.1-2020',
               v.published_at + interval '1 day', v.ended_at
          FROM perf_versions v JOIN perf_matrix m USING (declaration_id)
         WHERE m.withdrawn AND v.published_at IS NOT NULL""", {"withdrawn": withdrawn_ref})
    # The indicators (the biggest table) on a second connection, the rest meanwhile: 2 cores.
    import psycopg

    raw.commit()
    errors: list[BaseException] = []

    def indicators() -> None:
        try:
            with psycopg.connect(conninfo(PERF_DB)) as conn:
                conn.execute("SET TimeZone = 'UTC'")
                conn.execute("SET synchronous_commit = off")
                for name, sql, params in later:
                    if name == "indicators":
                        counts[name] = conn.execute(sql, params).rowcount or 0
        except BaseException as exc:  # noqa: BLE001  (re-raised below)
            errors.append(exc)

    worker = threading.Thread(target=indicators)
    worker.start()
    for name, sql, params in later:
        if name != "indicators":
            counts[name] = raw.execute(sql, params).rowcount or 0
    raw.commit()
    worker.join()
    if errors:
        raise errors[0]
    raw.execute("DROP TABLE perf_versions")
    raw.execute("DROP TABLE perf_bench_map")
    return counts


def measure_pg_window(ds: Dataset, report: Report, repeat: int) -> None:
    """6c. rank() over (partition by category order by value) of every indicator, in the DB."""
    import psycopg

    k = ds.k
    windows = ", ".join(
        f"rank() OVER (PARTITION BY category_id ORDER BY g{j} DESC) AS r{j}" for j in range(k))
    sums = " + ".join(f"sum(r{j})" for j in range(k))
    sql = f"SELECT count(*), {sums} FROM (SELECT {windows} FROM perf_matrix) s"
    with psycopg.connect(conninfo(PERF_DB)) as conn:
        conn.execute("SET work_mem = '256MB'")
        log("6c. PostgreSQL window ranking")
        b = bench(lambda: conn.execute(sql).fetchone(), max(1, repeat // 2))
    report.add(Row("pg_window", "baseline: PostgreSQL rank() OVER (PARTITION BY category ORDER "
                   "BY value) of every indicator, on the loaded table", f"{ds.n:,} × {k}",
                   b["median"], stat_text(b), ratio_to="compute",
                   note="work_mem 256MB; values signed by direction; ranks summed in the DB",
                   extra=b))


# ============================================================================ 3. full regeneration


@contextmanager
def db_timer(engine):
    """Sum of time spent in statements SQLAlchemy executes, and their count."""
    from sqlalchemy import event

    acc = {"seconds": 0.0, "statements": 0, "read_seconds": 0.0, "write_seconds": 0.0}
    starts: dict[int, float] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        starts[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        t = starts.pop(id(cursor), None)
        if t is not None:
            took = time.perf_counter() - t
            acc["seconds"] += took
            acc["statements"] += 1
            verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
            acc["read_seconds" if verb in ("SELECT", "WITH") else "write_seconds"] += took

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield acc
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


@contextmanager
def scoring_timer():
    """Time spent inside ranking.scoring.rank, wherever the tasks call it from."""
    import ranking.scoring as scoring

    acc = {"seconds": 0.0, "calls": 0}
    original = scoring.rank

    def timed(*a, **kw):
        t0 = time.perf_counter()
        try:
            return original(*a, **kw)
        finally:
            acc["seconds"] += time.perf_counter() - t0
            acc["calls"] += 1

    patched = []
    for name, mod in list(sys.modules.items()):
        if name.startswith("ranking") and mod is not None and getattr(mod, "rank", None) is original:
            setattr(mod, "rank", timed)
            patched.append(mod)
    try:
        yield acc
    finally:
        for mod in patched:
            mod.rank = original


@contextmanager
def stage_timer():
    """Time spent reading and writing inside the regeneration, which mostly bypasses
    SQLAlchemy (db_timer does not see it): ``ranking.eligibility.read`` (the aggregated
    reads, on several connections for many plans, their unpacking into numpy and every
    entry requirement) and ``ranking.snapshot_io.insert_entries`` (encoding the entries and
    streaming them through COPY, which overlap)."""
    from ranking import eligibility, snapshot_io

    acc = {"read_seconds": 0.0, "write_seconds": 0.0, "read_calls": 0, "write_calls": 0}
    wrapped = [(eligibility, "read", "read"), (snapshot_io, "insert_entries", "write")]
    originals = [(mod, name, getattr(mod, name)) for mod, name, _ in wrapped]

    def timing(fn, kind):
        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                acc[f"{kind}_seconds"] += time.perf_counter() - t0
                acc[f"{kind}_calls"] += 1
        return timed

    for (mod, name, kind), (_, _, fn) in zip(wrapped, originals):
        setattr(mod, name, timing(fn, kind))
    try:
        yield acc
    finally:
        for mod, name, fn in originals:
            setattr(mod, name, fn)


def regeneration_function():
    try:
        from ranking import tasks
    except ImportError as exc:
        return None, f"ranking.tasks is not importable yet ({exc})"
    fn = getattr(tasks, "regenerate_preview", None)
    if fn is None:
        return None, "ranking.tasks.regenerate_preview does not exist yet"
    return fn, None


def bump_rows(ds: Dataset) -> np.ndarray:
    """One published declaration (id) per category with a value on the first indicator."""
    ok = (ds.status == 0) & ~np.isnan(ds.values[:, 0])
    first = np.full(ds.n_categories, -1)
    rows = np.flatnonzero(ok)
    cats = ds.category[rows]
    order = np.argsort(cats, kind="stable")
    uniq, idx = np.unique(cats[order], return_index=True)
    first[uniq] = rows[order][idx]
    return first[first >= 0] + 1


def bump_values(declaration_ids, step: int) -> None:
    """Change one stored value of each given declaration by 1e-6 (alternating sign).

    A plan whose inputs did not change writes nothing (its inputs hash equals the current
    preview's), so before every timed regeneration the harness changes one value in each
    category concerned: every timed regeneration then writes its complete snapshot. This edits
    a published version in place, which the service never does; it only stands for "some
    declaration of the category changed". Not timed.
    """
    import psycopg

    with psycopg.connect(conninfo(PERF_DB)) as conn:
        conn.execute(
            "UPDATE indicators i SET cmp_guaranteed = i.cmp_guaranteed + %s FROM declarations d "
            "WHERE d.id = ANY(%s) AND i.version_id = d.current_version_id AND i.position = 0",
            (1e-6 if step % 2 else -1e-6, [int(x) for x in declaration_ids]),
        )


def timed_job(app, body: Callable[[], object]) -> dict:
    """Run ``body`` then commit, as a worker runs a job, in one app context: wall time and
    its split into SQL through SQLAlchemy, COPY streams (with their parsing) and rank()."""
    from core import jobs
    from core.extensions import db

    with app.app_context():
        with db_timer(db.engine) as dbt, stage_timer() as stt, scoring_timer() as sct:
            t0 = time.perf_counter()
            out = body()
            t1 = time.perf_counter()
            db.session.commit()
            total = time.perf_counter() - t0
        jobs.discard_pending()  # jobs it enqueued (the prune): the harness runs that itself
        db.session.remove()
    staged = stt["read_seconds"] + stt["write_seconds"] + sct["seconds"]
    return {"seconds": total, "commit_seconds": total - (t1 - t0),
            "db_seconds": dbt["seconds"], "statements": dbt["statements"],
            "read_sql_seconds": dbt["read_seconds"], "write_sql_seconds": dbt["write_seconds"],
            "reads_seconds": stt["read_seconds"], "writes_seconds": stt["write_seconds"],
            "score_seconds": sct["seconds"], "score_calls": sct["calls"],
            "python_seconds": (t1 - t0) - staged,
            "result_size": len(out) if hasattr(out, "__len__") else None}


def split_text(p: dict) -> str:
    return (f"read {fmt_s(p['reads_seconds'])} (SQL, unpacking, entry requirements), "
            f"write {fmt_s(p['writes_seconds'])} (entry encoding and COPY, overlapped), rank() "
            f"{fmt_s(p['score_seconds'])} ({p['score_calls']} calls), the rest "
            f"{fmt_s(p['python_seconds'])} (hashes, exclusion texts, {p['statements']} "
            f"statements), commit {fmt_s(p['commit_seconds'])}")


def measure_full_regeneration(ds: Dataset, app, loaded: Loaded, report: Report, repeat: int) -> None:
    from sqlalchemy import func, select

    from core.extensions import db
    from ranking.models import RunEntry

    size = f"{ds.n:,} declarations, {ds.n_categories} plans"
    row = report.add(Row("full_regeneration", "full regeneration on PostgreSQL: read, score, "
                         "write every category plan's snapshot, switch every pointer (one job, "
                         "one transaction: ranking.tasks.regenerate_all_previews)", size,
                         goal=GOALS["full_regeneration"]))
    try:
        from ranking import tasks

        everything = tasks.regenerate_all_previews
    except (ImportError, AttributeError) as exc:
        row.error = f"ranking.tasks.regenerate_all_previews is not available ({exc})"
        return
    per_plan, _ = regeneration_function()
    plan_ids = [int(p) for p in loaded.plan_ids]

    def pruned() -> dict:
        # The service keeps PREVIEW_KEEP previews per plan, so in the steady state each full
        # regeneration is followed by the deletion of one full set of older snapshots. The
        # harness keeps one, so that every timed prune deletes exactly such a set.
        from ranking import runs

        kept = runs.PREVIEW_KEEP
        runs.PREVIEW_KEEP = 1
        try:
            return timed_job(app, lambda: [runs.prune_previews(keep=1)])
        finally:
            runs.PREVIEW_KEEP = kept

    def one_plan(pid: int) -> None:  # a job each: its own transaction
        per_plan(pid)
        db.session.commit()

    bumps = bump_rows(ds)
    try:
        log("3. full regeneration: warm-up (creates every preview)")
        warm = timed_job(app, everything)
        passes, prunes = [], []
        for i in range(repeat):
            bump_values(bumps, i)
            log(f"3. full regeneration: pass {i + 1}/{repeat}")
            passes.append(timed_job(app, everything))
            prunes.append(pruned())
        log("3. full regeneration: one more pass with nothing changed")
        unchanged = timed_job(app, everything)
        plan_by_plan = None
        if per_plan is not None:
            bump_values(bumps, repeat)
            log(f"3. the same, plan by plan ({len(plan_ids)} jobs' bodies in one process)")
            plan_by_plan = timed_job(app, lambda: [one_plan(pid) for pid in plan_ids])
            plan_by_plan["prune"] = pruned()
    except Exception as exc:  # their code may not be finished: report, do not crash the run
        row.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        report.info["full_regeneration_traceback"] = traceback.format_exc()
        return
    secs = [p["seconds"] for p in passes]
    med = statistics.median(secs)
    mid = passes[secs.index(min(secs, key=lambda s: abs(s - med)))]
    prune_med = statistics.median(p["seconds"] for p in prunes)
    with app.app_context():
        entries = db.session.scalar(select(func.count()).select_from(RunEntry))
        db.session.remove()
    row.seconds = med
    row.stat = (f"median of {len(secs)} passes after a warm-up pass of {fmt_s(warm['seconds'])} "
                f"(best {fmt_s(min(secs))})")
    row.note = (f"{split_text(mid)}; {mid['result_size']} plans, all their entries written; "
                f"the separate job that prunes the set of snapshots it replaced "
                f"{fmt_s(prune_med)} more")
    row.extra.update({"warmup": warm, "passes": passes, "prunes": prunes,
                      "unchanged_pass": unchanged, "plan_by_plan": plan_by_plan,
                      "run_entries_after": entries})
    report.add(Row("regeneration_unchanged", "full regeneration when nothing changed: "
                   "read, score, inputs hash equal to the current preview, nothing written",
                   size, unchanged["seconds"], "one pass",
                   note=f"{split_text(unchanged)}; informational", extra=unchanged))
    if plan_by_plan is not None:
        report.add(Row("regeneration_per_plan", "full regeneration plan by plan: "
                       "ranking.tasks.regenerate_preview for every plan in turn (the per-plan "
                       "jobs' bodies, a commit after each)", size, plan_by_plan["seconds"],
                       "one pass",
                       note=(f"{split_text(plan_by_plan)}; "
                             f"{fmt_s(plan_by_plan['seconds'] / len(plan_ids))} per plan; "
                             f"pruning {fmt_s(plan_by_plan['prune']['seconds'])} more; "
                             "informational"),
                       extra=plan_by_plan))


# ============================================================================ workers (4, 5)


def worker_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in {"JOB_RETRY_INTERVALS", "RATELIMIT_STORAGE_URI", "FLASK_APP"}}
    env.update(
        DATABASE_URL=f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PERF_DB}",
        REDIS_URL=REDIS_URL,
        SECRET_KEY="perf-harness",
        RATELIMIT_STORAGE_URI="memory://",
        UPLOAD_DIR=str(Path(tempfile.gettempdir()) / "perf-uploads"),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
    )
    return env


#: How the harness starts the ranking workers: as the README recommends for the ranking
#: queue (``--no-fork``: database connections stay open between jobs), or with ``--fork``.
WORKER_FORK = False


@contextmanager
def workers(count: int, log_dir: Path, command: list[str] | None = None, prefix: str = "worker"):
    """``count`` real ``flask --app wsgi worker …`` processes (stopped by pid at the end); by
    default on the ranking queue, ``--no-fork`` unless WORKER_FORK."""
    from redis import Redis
    from rq import Worker

    conn = Redis.from_url(REDIS_URL)
    procs = []
    try:
        for i in range(count):
            out = open(log_dir / f"{prefix}-{i}.log", "w")  # noqa: SIM115
            command = command or ["worker", "ranking", "--fork" if WORKER_FORK else "--no-fork"]
            p = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *command],
                                 cwd=str(ROOT), env=worker_env(), stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            p.log_file = out  # type: ignore[attr-defined]
            procs.append(p)
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=conn)) < count:
            dead = [p for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"workers did not start; see {log_dir}/{prefix}-*.log")
            time.sleep(0.2)
        yield procs
    finally:
        for p in procs:
            with suppress(ProcessLookupError):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            p.log_file.close()  # type: ignore[attr-defined]


def typical_category(ds: Dataset) -> int:
    """The category whose size is closest to the mean (ties: the lowest code)."""
    mean = ds.n / ds.n_categories
    return int(np.argmin(np.abs(ds.category_size - mean)))


def measure_category_p95(ds: Dataset, app, loaded: Loaded, report: Report, runs: int) -> None:
    import psycopg

    from core import jobs
    from core.extensions import db
    from ranking import tasks

    c = typical_category(ds)
    plan_id = int(loaded.plan_ids[c])
    row = report.add(Row("category_p95", "one category's regeneration incl. job overhead: enqueue "
                         "(outbox) → RQ → worker → done, p95", f"category of {ds.category_size[c]:,} "
                         f"declarations, {runs} runs", goal=GOALS["category_p95"]))
    fn, why = regeneration_function()
    if fn is None:
        row.error = why
        return
    latencies, works = [], []
    from rq.job import Job

    with app.app_context(), psycopg.connect(conninfo(PERF_DB), autocommit=True) as poll:
        conn = jobs.redis_connection()
        decl_ids = bump_rows(ds)
        bump = [d for d in decl_ids if ds.category[d - 1] == c]
        for i in range(runs + 3):
            bump_values(bump, i)  # so the job writes a new snapshot (not timed)
            t0 = time.perf_counter()
            job = jobs.enqueue(tasks.regenerate_preview, plan_id)
            db.session.commit()
            outbox_id = job.id
            jobs.dispatch_pending()
            status = wait_outbox(poll, outbox_id, timeout=60)
            t1 = time.perf_counter()
            if status != "done":
                row.error = f"job {outbox_id} ended {status!r}: " + outbox_error(poll, outbox_id)
                return
            if i >= 3:  # the first three are warm-up (worker imports, caches)
                latencies.append(t1 - t0)
                try:  # RQ stamps ended_at just after the job's commit marked the row done
                    j = Job.fetch(f"outbox-{outbox_id}", connection=conn)
                    for _ in range(200):
                        if j.ended_at is not None:
                            break
                        time.sleep(0.005)
                        j.refresh()
                    works.append((j.ended_at - j.started_at).total_seconds())
                except Exception as exc:  # noqa: BLE001  (the breakdown is a help only)
                    row.extra.setdefault("job_fetch_error", f"{type(exc).__name__}: {exc}")
        db.session.remove()
    row.seconds = p95(latencies)
    row.stat = (f"p95 of {len(latencies)} (median {fmt_s(statistics.median(latencies))}, "
                f"max {fmt_s(max(latencies))})")
    if works:
        where = ("in the forked work horse" if WORKER_FORK else
                 "in the worker process: flask worker --no-fork")
        row.note = (f"of which the job itself (RQ started→ended, {where}) "
                    f"median {fmt_s(statistics.median(works))}, p95 {fmt_s(p95(works))}")
    row.extra.update({"latencies": latencies, "job_seconds": works, "plan_id": plan_id,
                      "category_size": int(ds.category_size[c])})


def wait_outbox(poll, outbox_id: int, timeout: float) -> str:
    deadline = time.perf_counter() + timeout
    while True:
        r = poll.execute("SELECT status FROM outbox_jobs WHERE id = %s", (outbox_id,)).fetchone()
        if r and r[0] in ("done", "failed"):
            return r[0]
        if time.perf_counter() > deadline:
            return r[0] if r else "missing"
        time.sleep(0.002)


def outbox_error(poll, outbox_id: int) -> str:
    r = poll.execute("SELECT error FROM outbox_jobs WHERE id = %s", (outbox_id,)).fetchone()
    return ((r and r[0]) or "").strip().splitlines()[-1:][0] if r and r[0] else ""


class VisibilityWatcher(threading.Thread):
    """Polls the preview pointers every few ms; records when each new version becomes visible."""

    def __init__(self, interval: float = 0.005):
        super().__init__(daemon=True)
        self.interval = interval
        self.pending: dict[int, int] = {}  # declaration_id -> version_id awaited
        self.seen: dict[int, float] = {}  # version_id -> perf_counter when first visible
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.error: str | None = None

    def expect(self, declaration_id: int, version_id: int) -> None:
        with self.lock:
            self.pending[declaration_id] = version_id

    def run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(conninfo(PERF_DB), autocommit=True) as conn:
                while not self.stop.is_set():
                    with self.lock:
                        wanted = dict(self.pending)
                    if wanted:
                        found = conn.execute(
                            "SELECT e.declaration_id, e.version_id FROM run_entries e "
                            "JOIN leaderboard_pointers p ON p.run_id = e.run_id AND p.kind = 'PREVIEW' "
                            "WHERE e.declaration_id = ANY(%s)", (list(wanted),)).fetchall()
                        now = time.perf_counter()
                        with self.lock:
                            for decl, ver in found:
                                if self.pending.get(decl) == ver:
                                    self.seen[ver] = now
                                    del self.pending[decl]
                    time.sleep(self.interval)
        except Exception as exc:  # noqa: BLE001
            self.error = f"{type(exc).__name__}: {exc}"


def revise_and_publish(declaration_id: int, position: int, bump: float) -> tuple[int, float]:
    """Revise a published declaration, change one indicator, publish, commit, dispatch.

    Returns the new version id and the perf_counter at which the commit returned.
    """
    from benchmarks.models import BenchmarkIndicator
    from core import jobs
    from core.extensions import db
    from declare import operations as ops
    from declare.models import Declaration

    decl = db.session.get(Declaration, declaration_id)
    draft = ops.start_revision(decl)
    data = ops._data_of(draft)
    for ind in data["indicators"]:
        if ind.get("value") is not None and ind["benchmark_indicator_id"] is not None:
            bench = db.session.get(BenchmarkIndicator, ind["benchmark_indicator_id"])
            # a better value: a worse one could need a 明示 statement and be refused
            ind["value"] = float(ind["value"]) + (bump if bench.direction == "higher" else -bump)
            break
    data["revision_note"] = "性能测试：指标更新"
    draft = ops.update_draft(draft, data, draft.lock_version)
    ops.publish(draft)
    version_id = draft.id
    db.session.commit()
    t_commit = time.perf_counter()
    jobs.dispatch_pending()
    db.session.remove()
    return version_id, t_commit


def freshness_candidates(ds: Dataset, loaded: Loaded, count: int, seed: int) -> list[tuple[int, int, int]]:
    """(declaration id, category code, position) of published declarations safe to revise."""
    rng = np.random.default_rng(seed + 5)
    ok = (ds.status == 0) & ~ds.withdrawn_reference & ~ds.mingshi.any(axis=1) \
        & ~np.isnan(ds.values).any(axis=1)
    cats = rng.choice(ds.n_categories, size=count, replace=True)
    out = []
    used = set()
    for c in cats:
        rows = np.flatnonzero(ok & (ds.category == c))
        rows = [r for r in rows if r not in used]
        if not rows:
            continue
        r = int(rng.choice(rows))
        used.add(r)
        out.append((r + 1, int(c), 0))
    return out


def publish_series(app, cands, seed: int, debounce: float | None) -> dict:
    """Publish revisions of ``cands`` at random intervals; when did each become visible?"""
    rng = random.Random(seed)
    watcher = VisibilityWatcher()
    watcher.start()
    commits: dict[int, float] = {}
    failures = []
    import psycopg

    with psycopg.connect(conninfo(PERF_DB)) as conn:
        series_start = conn.execute("SELECT now()").fetchone()[0]
    with app.app_context():
        if debounce is not None:
            app.config["RANKING_DEBOUNCE_SECONDS"] = debounce
        used = float(app.config.get("RANKING_DEBOUNCE_SECONDS") or 0)
        start = time.perf_counter()
        for decl, _c, pos in cands:
            try:
                version_id, t_commit = revise_and_publish(decl, pos, rng.choice((0.01, 0.02)))
            except Exception as exc:  # noqa: BLE001
                from core.extensions import db

                db.session.rollback()
                db.session.remove()
                failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            commits[version_id] = t_commit
            watcher.expect(decl, version_id)
            time.sleep(rng.uniform(1.0, 3.0))  # 0.5 publishes/s on average, random categories
        span = time.perf_counter() - start
    deadline = time.perf_counter() + 60 + used
    while watcher.pending and time.perf_counter() < deadline:
        time.sleep(0.05)
    watcher.stop.set()
    watcher.join(timeout=5)
    lat = [watcher.seen[v] - t for v, t in commits.items() if v in watcher.seen]
    with psycopg.connect(conninfo(PERF_DB)) as conn:  # leading edge: how many jobs waited
        jobs_made, delayed = conn.execute(
            "SELECT count(*), count(not_before) FROM outbox_jobs "
            "WHERE func = 'ranking.tasks.regenerate_preview' AND created_at >= %s",
            (series_start,)).fetchone()
    return {"latencies": lat, "debounce_seconds": used, "not_visible": len(commits) - len(lat),
            "publish_failures": failures, "publish_span_seconds": span,
            "watcher_error": watcher.error, "preview_jobs": jobs_made,
            "delayed_jobs": delayed}


def measure_freshness(ds: Dataset, app, loaded: Loaded, report: Report, samples: int, seed: int) -> None:
    size = f"{samples} publishes in random categories, 0.5/s"
    row = report.add(Row("freshness_p95", "freshness with 2 workers: revise + publish a declaration "
                         "(commit) → visible in the preview leaderboard pointer, p95, with the "
                         "configured debounce", size, goal=GOALS["freshness_p95"]))
    fn, why = regeneration_function()
    if fn is None:
        row.error = why
        return
    cands = freshness_candidates(ds, loaded, 2 * samples, seed)
    configured = app.config.get("RANKING_DEBOUNCE_SECONDS")
    series = []
    for label, debounce, part in (("configured debounce", None, cands[:samples]),
                                  ("no debounce", 0.0, cands[samples:])):
        log(f"5. freshness, {label}")
        res = publish_series(app, part, seed + len(series), debounce)
        series.append(res)
        target = row if debounce is None else report.add(Row(
            "freshness_no_debounce", "freshness as 5, RANKING_DEBOUNCE_SECONDS = 0 for this "
            "series (informational: what the debounce costs)", size))
        target.extra.update(res)
        if res["watcher_error"]:
            target.error = f"watcher failed: {res['watcher_error']}"
            continue
        lat = res["latencies"]
        if not lat:
            failures = res["publish_failures"]
            target.error = ("no published change became visible within 60 s"
                            + (f"; publish failed: {failures[0]}" if failures else
                               " (does publishing enqueue a regeneration?)"))
            continue
        d = res["debounce_seconds"]
        target.seconds = p95(lat)
        target.stat = f"p95 of {len(lat)} (median {fmt_s(statistics.median(lat))}, max {fmt_s(max(lat))})"
        target.note = (f"RANKING_DEBOUNCE_SECONDS = {d:g} s, leading edge: a change runs at "
                       f"once unless its plan's last job started less than {d:g} s before; "
                       f"{res['delayed_jobs']} of {res['preview_jobs']} preview jobs waited "
                       "for the end of such a window" if d else "no debounce")
        if res["not_visible"]:
            target.note += f"; {res['not_visible']} change(s) never became visible"
        if res["publish_failures"]:
            target.note += f"; {len(res['publish_failures'])} publish(es) refused"
    app.config["RANKING_DEBOUNCE_SECONDS"] = configured


# ============================================================================ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m perf.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--declarations", type=int, default=2_000_000)
    p.add_argument("--indicators", type=int, default=6)
    p.add_argument("--categories", type=int, default=500)
    p.add_argument("--quick", action="store_true",
                   help="1/20 of the declarations and categories (same category sizes), fewer "
                        "repetitions: a CI-sized check that everything runs")
    p.add_argument("--seed", type=int, default=20261122)
    p.add_argument("--repeat", type=int, default=None, help="timed runs of 1-2 (default 5, quick 3)")
    p.add_argument("--runs", type=int, default=None, help="jobs timed for 4 (default 50, quick 20)")
    p.add_argument("--samples", type=int, default=None, help="publishes timed for 5 (default 50, quick 20)")
    p.add_argument("--passes", type=int, default=None, help="timed passes of 3 (default 2, quick 3)")
    p.add_argument("--no-db", action="store_true", help="only the in-memory figures (1, 2, 6a, 6b)")
    p.add_argument("--keep-db", action="store_true",
                   help=f"leave the {PERF_DB!r} database for inspection (the next run recreates it)")
    p.add_argument("--fork-workers", action="store_true",
                   help="start the workers of 4 and 5 with --fork (a work horse per job) instead "
                        "of --no-fork")
    p.add_argument("--only-search", action="store_true",
                   help="load the database, then measure only the public search (perf/search.py)")
    p.add_argument("--only-ranking", action="store_true",
                   help="skip the figures of other modules (perf/supervision.py)")
    p.add_argument("--out", type=Path, default=OUT_DIR / "results.json")
    args = p.parse_args(argv)
    if args.quick:
        args.declarations = max(1, args.declarations // 20)
        args.categories = max(1, args.categories // 20)
    args.repeat = args.repeat or (3 if args.quick else 5)
    args.runs = args.runs or (20 if args.quick else 50)
    args.samples = args.samples or (20 if args.quick else 50)
    args.passes = args.passes or (3 if args.quick else 2)
    return args


def measure_jobs(ds, app, loaded, report, args, log_dir) -> None:
    """Figures 4 and 5: one category's regeneration and freshness, through real workers."""
    fn, why = regeneration_function()
    if fn is None:
        for key, label in (("category_p95", "one category's regeneration incl. job overhead, p95"),
                           ("freshness_p95", "freshness with 2 workers, p95")):
            report.add(Row(key, label, "", goal=GOALS[key], error=why))
        return
    app.config["REDIS_URL"] = REDIS_URL
    flush_redis()
    with workers(2, log_dir):
        log("4. one category p95")
        measure_category_p95(ds, app, loaded, report, args.runs)
        log("5. freshness p95")
        measure_freshness(ds, app, loaded, report, args.samples, args.seed)


def main(argv: list[str] | None = None) -> int:
    global WORKER_FORK
    args = parse_args(argv)
    WORKER_FORK = args.fork_workers
    command = "python -m perf.run " + " ".join(sys.argv[1:] if argv is None else argv)
    report = Report(machine=machine_info(), args={**{k: str(v) for k, v in vars(args).items()},
                                                  "command": command.strip()})
    log(f"generating {args.declarations:,} × {args.indicators} in {args.categories} categories")
    ds = generate(args.declarations, args.indicators, args.categories, seed=args.seed)
    report.dataset = describe(ds)
    log(f"generated in {ds.timings['total']:.1f} s")

    if not args.only_search:
        measure_compute(ds, report, args.repeat)

    if not args.no_db:
        report.machine["postgresql"] = pg_version()
        log_dir = args.out.parent / "workers"
        log_dir.mkdir(parents=True, exist_ok=True)
        app = None
        try:
            create_database()
            app = make_app(None)
            log("loading PostgreSQL")
            loaded = load_database(ds, app, report)
            report.info["load"] = {**{k: round(v, 2) for k, v in loaded.seconds.items()},
                                   "rows": loaded.rows, "rows_total": int(sum(loaded.rows.values()))
                                   + ds.n_enterprises + ds.n}
            log(f"loaded in {loaded.seconds['total']:.1f} s")
            if args.only_search:
                from perf.search import measure_search

                measure_search(app, report)
            else:
                measure_pg_window(ds, report, args.repeat)
                measure_full_regeneration(ds, app, loaded, report, args.passes)
                measure_jobs(ds, app, loaded, report, args, log_dir)
            report.info["worker_logs"] = str(log_dir)
        finally:
            with suppress(Exception):
                from core.extensions import db

                with app.app_context():  # type: ignore[union-attr]
                    db.session.remove()
                    db.engine.dispose()
            if not args.keep_db:
                drop_database()
            flush_redis()
    if not args.only_ranking and not args.only_search:
        run_extensions(args, report, ds)
    report.machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    order = ["compute", "composite_anchored", "composite_topsis", "full_regeneration",
             "category_p95", "freshness_p95", "pandas", "pymcdm", "pg_window", "rank_grouped",
             "rank_per_plan", "regeneration_unchanged", "freshness_no_debounce",
             "regeneration_per_plan", "search_p95", "search_like_p95", "search_rebuild"]
    report.rows.sort(key=lambda r: order.index(r.key) if r.key in order else 99)
    text = render(report)
    print(text)
    write_json(report, args.out)
    log(f"wrote {args.out}")
    return 0


def run_extensions(args: argparse.Namespace, report: Report, ds: Dataset) -> None:
    """Figures of other parts of the service, measured in the same run on the same data: a
    module ``perf/supervision.py`` with ``measure(args, report)`` adds its rows (and may take
    the generated dataset as ``ds``). A failure there is reported, never fatal."""
    import importlib
    import inspect

    try:
        module = importlib.import_module("perf.supervision")
    except ModuleNotFoundError as exc:
        if exc.name != "perf.supervision":
            report.info["supervision_error"] = f"{type(exc).__name__}: {exc}"
        return
    measure = getattr(module, "measure", None)
    if measure is None:
        return
    log("supervision figures (perf/supervision.py)")
    try:
        if "ds" in inspect.signature(measure).parameters:
            measure(args, report, ds=ds)
        else:
            measure(args, report)
    except Exception as exc:  # noqa: BLE001  (their figures fail alone)
        report.info["supervision_error"] = f"{type(exc).__name__}: {exc}"
        report.info["supervision_traceback"] = traceback.format_exc()
        log(f"perf/supervision.py failed: {exc}")


def flush_redis() -> None:
    from redis import Redis

    Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    sys.exit(main())
