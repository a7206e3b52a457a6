"""The daily open-data release (开放数据): every declaration in force, its products and its
indicators, as CSV and Parquet, with a schema file and SHA-256 sums.

A day's release is a folder ``OPEN_DATA_DIR/YYYY-MM-DD/``::

    declarations.csv  declarations.parquet
    products.csv      products.parquet
    indicators.csv    indicators.parquet
    schema.json       (columns, types, meaning in Chinese and English; row counts; as_of)
    SHA256SUMS        (``sha256sum -c`` format, every other file of the folder)

The set of files of a day is immutable: it is written into a temporary folder beside the
releases and renamed into place in one step (a reader never sees half a release), its files
made read-only; a second run for a day that has a release is a no-op, and no run touches
another day's folder. The content is what was in force at the end of that day (Beijing time)
or now, whichever is earlier: the versions published by then and not ended by then (the bulk
form of ``declare.queries.version_at``), so a release made late for a past day shows that day.

Rows are read through server-side cursors (``yield_per``) and written as they come: CSV
(UTF-8 with a byte-order mark, for Excel) and Parquet row groups of ``BATCH`` rows (pyarrow),
so memory stays flat whatever the number of declarations.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from flask import current_app
from sqlalchemy import and_, func, or_, select

from benchmarks.models import ProductCategory, Standard
from core.clock import end_of_day, local_today
from core.extensions import db
from core.models import utcnow
from declare.models import (
    Declaration,
    DeclarationVersion,
    Enterprise,
    Indicator,
    Product,
    VersionStatus,
)

__all__ = [
    "CONTENT_TYPES",
    "TABLES",
    "Release",
    "file_path",
    "release",
    "releases",
]

BATCH = 50_000  # rows per cursor batch and per Parquet row group
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SUMS = "SHA256SUMS"
SCHEMA = "schema.json"
CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
    "": "text/plain; charset=utf-8",  # SHA256SUMS
}
FILE_RE = re.compile(r"^(?:(?:declarations|products|indicators)\.(?:csv|parquet)|schema\.json|SHA256SUMS)$")

# name → (column name, Arrow type, Chinese meaning, English meaning)
TABLES: dict[str, list[tuple[str, pa.DataType, str, str]]] = {
    "declarations": [
        ("declaration_id", pa.int64(), "声明ID", "Declaration id (stable across versions)"),
        ("version_id", pa.int64(), "版本ID", "Id of the version in force"),
        ("version_no", pa.int32(), "版本号", "Version number (1 = first publication)"),
        ("kind", pa.string(), "类型：catalogue 执行公开标准 / enterprise 执行企业标准",
         "catalogue: follows a published standard; enterprise: its own Q/ standard"),
        ("standard_number", pa.string(), "标准编号", "Standard number"),
        ("standard_title", pa.string(), "标准名称", "Standard title"),
        ("catalogue_standard_id", pa.int64(), "目录标准ID（执行公开标准时）",
         "Id of the catalogue standard followed (catalogue kind only)"),
        ("enterprise", pa.string(), "企业名称", "Enterprise name"),
        ("uscc", pa.string(), "统一社会信用代码", "Unified social credit code (USCC)"),
        ("region_code", pa.string(), "行政区划代码", "Administrative division code"),
        ("disclosure", pa.string(), "公开方式：full_text 全文 / indicators_only 仅指标",
         "What is disclosed: full_text or indicators_only"),
        ("published_at", pa.timestamp("us", tz="UTC"), "公开时间（UTC）",
         "When this version was published (UTC)"),
        ("implemented_on", pa.date32(), "实施日期", "Implementation date"),
    ],
    "products": [
        ("product_id", pa.int64(), "产品ID", "Product id"),
        ("declaration_id", pa.int64(), "声明ID", "Declaration id"),
        ("version_id", pa.int64(), "版本ID", "Version id"),
        ("name", pa.string(), "产品名称", "Product name"),
        ("model", pa.string(), "型号", "Model"),
        ("category_code", pa.string(), "产品类别代码", "Product category code"),
        ("category_name", pa.string(), "产品类别", "Product category (Chinese name)"),
        ("specification", pa.string(), "规格", "Specification"),
        ("brand", pa.string(), "品牌", "Brand"),
        ("barcode", pa.string(), "商品条码", "Barcode (GTIN)"),
    ],
    "indicators": [
        ("indicator_id", pa.int64(), "指标ID", "Indicator id"),
        ("declaration_id", pa.int64(), "声明ID", "Declaration id"),
        ("version_id", pa.int64(), "版本ID", "Version id"),
        ("position", pa.int32(), "序号", "Position in the declaration"),
        ("kind", pa.string(), "功能/性能：function / performance",
         "function or performance indicator"),
        ("name", pa.string(), "指标名称", "Indicator name"),
        ("benchmark_indicator_id", pa.int64(), "对标指标ID", "Benchmark indicator id"),
        ("op", pa.string(), "比较：ge ≥ / le ≤ / eq = / range 区间",
         "Comparison: ge, le, eq or range"),
        ("value", pa.float64(), "数值", "Declared value"),
        ("low", pa.float64(), "下限", "Range low"),
        ("high", pa.float64(), "上限", "Range high"),
        ("text_value", pa.string(), "文字值", "Qualitative value"),
        ("unit", pa.string(), "单位", "Unit"),
        ("test_method", pa.string(), "检验方法", "Test method"),
        ("mingshi", pa.string(), "明示说明", "明示 statement (fewer or lower than recommended)"),
        ("comparison_status", pa.string(), "对标结果", "Result of the benchmark comparison"),
    ],
}


def _in_force(cutoff: datetime):
    v = DeclarationVersion
    return and_(
        v.status != VersionStatus.DRAFT,
        v.published_at.is_not(None),
        v.published_at <= cutoff,
        or_(v.ended_at.is_(None), v.ended_at > cutoff),
    )


def _queries(cutoff: datetime) -> dict:
    v, d, e, s = DeclarationVersion, Declaration, Enterprise, Standard
    p, i, c = Product, Indicator, ProductCategory
    where = _in_force(cutoff)
    return {
        "declarations": select(
            d.id, v.id, v.version_no, d.kind, func.coalesce(s.code, v.std_code),
            func.coalesce(s.title, v.std_name), v.standard_id, e.name, e.uscc, e.region_code,
            v.disclosure, v.published_at, v.implemented_on,
        )
        .join(d, d.id == v.declaration_id)
        .join(e, e.id == d.enterprise_id)
        .outerjoin(s, s.id == v.standard_id)
        .where(where)
        .order_by(d.id),
        "products": select(
            p.id, v.declaration_id, v.id, p.name, p.model, c.code, c.name,
            p.specification, p.brand, p.barcode,
        )
        .join(v, v.id == p.version_id)
        .join(c, c.id == p.category_id)
        .where(where)
        .order_by(p.id),
        "indicators": select(
            i.id, v.declaration_id, v.id, i.position, i.kind, i.name, i.benchmark_indicator_id,
            i.op, i.value, i.low, i.high, i.text_value, i.unit, i.test_method, i.mingshi,
            i.cmp_status,
        )
        .join(v, v.id == i.version_id)
        .where(where)
        .order_by(i.id),
    }


def _plain(x):
    """Enum members as their value; UTC datetimes from SQLite made aware."""
    if hasattr(x, "value"):
        return x.value
    if isinstance(x, datetime) and x.tzinfo is None:
        return x.replace(tzinfo=UTC)
    return x


def _csv_text(x) -> str:
    if x is None:
        return ""
    if isinstance(x, datetime):
        return x.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(x)


def _write_table(folder: Path, name: str, stmt) -> int:
    columns = TABLES[name]
    schema = pa.schema([(col, typ) for col, typ, _zh, _en in columns])
    n = 0
    with (
        open(folder / f"{name}.csv", "w", encoding="utf-8-sig", newline="") as fh,
        pq.ParquetWriter(folder / f"{name}.parquet", schema, compression="zstd") as parquet,
    ):
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([col for col, *_rest in columns])
        batch: list[tuple] = []

        def flush() -> None:
            if batch:
                arrays = [pa.array(list(col), type=typ) for col, (_n, typ, *_r) in
                          zip(zip(*batch), columns)]
                parquet.write_table(pa.Table.from_arrays(arrays, schema=schema))
                batch.clear()

        result = db.session.execute(stmt.execution_options(yield_per=BATCH))
        for row in result:
            values = tuple(_plain(x) for x in row)
            writer.writerow([_csv_text(x) for x in values])
            batch.append(values)
            n += 1
            if len(batch) >= BATCH:
                flush()
        flush()
    return n


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while piece := fh.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


def root() -> Path:
    return Path(current_app.config["OPEN_DATA_DIR"])


def release(day: date | None = None, *, now: datetime | None = None) -> dict:
    """Write the release of ``day`` (default today, Beijing time) unless it exists.

    Returns {"day", "written": bool, "rows": {table: n}}. Refuses a day in the future.
    """
    today = local_today()
    day = day or today
    if day > today:
        raise ValueError(f"{day.isoformat()} is in the future: a release shows what was in force")
    base = root()
    target = base / day.isoformat()
    if target.exists():
        return {"day": day.isoformat(), "written": False, "rows": {}}
    base.mkdir(parents=True, exist_ok=True)
    now = now or utcnow()
    cutoff = min(now, end_of_day(day))
    tmp = Path(tempfile.mkdtemp(prefix=f".{day.isoformat()}-", dir=base))
    try:
        rows = {name: _write_table(tmp, name, stmt) for name, stmt in _queries(cutoff).items()}
        meta = {
            "day": day.isoformat(),
            "as_of": cutoff.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "generated_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "description": {
                "zh": "当日（北京时间）现行有效的企业标准自我声明及其产品和指标",
                "en": "Every declaration in force on the day (Beijing time), its products "
                      "and indicators",
            },
            "encoding": {"csv": "UTF-8 with BOM, comma-separated, header row",
                         "parquet": "Apache Parquet, zstd"},
            "tables": {
                name: {
                    "files": [f"{name}.csv", f"{name}.parquet"],
                    "rows": rows[name],
                    "columns": [
                        {"name": col, "type": str(typ), "zh": zh, "en": en}
                        for col, typ, zh, en in TABLES[name]
                    ],
                }
                for name in TABLES
            },
        }
        (tmp / SCHEMA).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n",
                                  encoding="utf-8")
        files = sorted(p.name for p in tmp.iterdir())
        sums = "".join(f"{_sha256(tmp / f)}  {f}\n" for f in files)
        (tmp / SUMS).write_text(sums, encoding="ascii")
        for f in tmp.iterdir():
            f.chmod(0o444)
        try:
            os.rename(tmp, target)  # atomic; fails if another run got there first
        except OSError:
            if target.exists():
                return {"day": day.isoformat(), "written": False, "rows": {}}
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {"day": day.isoformat(), "written": True, "rows": rows}


@dataclass(frozen=True)
class ReleaseFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Release:
    day: str
    files: list[ReleaseFile]
    rows: dict


def releases() -> list[Release]:
    """The published days, newest first, each with its files, sizes and sums (read from its
    SHA256SUMS; a folder without one is not a release)."""
    base = root()
    if not base.is_dir():
        return []
    out = []
    for folder in sorted((p for p in base.iterdir() if DAY_RE.match(p.name)), reverse=True):
        sums_file = folder / SUMS
        if not sums_file.is_file():
            continue
        files = []
        for line in sums_file.read_text(encoding="ascii").splitlines():
            digest, _sep, name = line.partition("  ")
            if FILE_RE.match(name) and (folder / name).is_file():
                files.append(ReleaseFile(name, (folder / name).stat().st_size, digest))
        files.append(ReleaseFile(SUMS, sums_file.stat().st_size, ""))
        try:
            meta = json.loads((folder / SCHEMA).read_text(encoding="utf-8"))
            rows = {k: v["rows"] for k, v in meta["tables"].items()}
        except (OSError, ValueError, KeyError):
            rows = {}
        out.append(Release(folder.name, files, rows))
    return out


def file_path(day: str, name: str) -> Path | None:
    """The path of a released file, or None (unknown day or name: no path outside)."""
    if not DAY_RE.match(day) or not FILE_RE.match(name):
        return None
    path = root() / day / name
    return path if path.is_file() else None


def content_type(name: str) -> str:
    return CONTENT_TYPES[Path(name).suffix]
