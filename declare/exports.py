"""CSV and Excel (.xlsx) exports of declarations: the public search results (with the page's
filters) and an enterprise's own declarations.

Every matching row is written, never a silently cut first page: the rows are read through a
server-side cursor (``yield_per``: PostgreSQL's named cursor, constant memory whatever the
count) and written as they come. CSV is streamed to the client in chunks of ``CHUNK_ROWS``
rows, UTF-8 with a byte-order mark so Excel opens the Chinese right. XLSX cannot be sent before
its ZIP directory is written, so it is built in a temporary file by openpyxl's write-only
workbook (rows are flushed to disk, not kept) and then streamed from there; past Excel's
1,048,576 rows a sheet the rows continue on the next sheet (导出结果2, …).

Headers are Chinese with the English field name beside them (``标准编号 standard_number``),
like the files regulators and evaluation bodies file; the rows are what the public pages show.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC

from flask import Response, stream_with_context
from sqlalchemy import (
    DateTime,
    Select,
    String,
    case,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from benchmarks.models import Standard
from core.clock import local_zone
from core.extensions import db
from declare import search
from declare.models import Declaration, DeclarationVersion, Enterprise, Product

__all__ = [
    "CHUNK_ROWS",
    "COLUMNS",
    "OWN_COLUMNS",
    "TYPES",
    "csv_stream",
    "enterprise_rows",
    "response",
    "search_rows",
    "xlsx_stream",
]

BOM = "\ufeff"
CHUNK_ROWS = 2000  # rows per streamed CSV chunk
FETCH_ROWS = 10_000  # rows per server-side cursor batch
CHUNK_BYTES = 256 * 1024  # bytes per streamed chunk of PostgreSQL's COPY output
XLSX_MAX_ROWS = 1_048_576  # Excel's rows per sheet, the header included

STATUS_TEXT = {
    "draft": "草稿",
    "published": "现行有效",
    "superseded": "已被代替",
    "abolished": "已废止",
    "revoked": "已撤销",
}
KIND_TEXT = {"catalogue": "执行国家/行业/地方/团体标准", "enterprise": "执行企业标准"}

# (field name, Chinese header) of the public export, in order.
COLUMNS: list[tuple[str, str]] = [
    ("declaration_id", "声明ID"),
    ("version_no", "版本"),
    ("status", "状态"),
    ("kind", "类型"),
    ("standard_number", "标准编号"),
    ("standard_title", "标准名称"),
    ("enterprise", "企业名称"),
    ("uscc", "统一社会信用代码"),
    ("region_code", "行政区划代码"),
    ("published_on", "公开日期"),
    ("implemented_on", "实施日期"),
    ("products", "产品名称及型号"),
]
# The enterprise's own export adds the declaration's status (drafts included).
OWN_COLUMNS: list[tuple[str, str]] = [
    *COLUMNS[:2],
    ("declaration_status", "声明状态"),
    *COLUMNS[2:],
]


def headers(columns: list[tuple[str, str]]) -> list[str]:
    return [f"{zh} {name}" for name, zh in columns]


def _select_rows(stmt: Select) -> Select:
    """``stmt`` (rows of ``version_id`` in their order) with every exported column and the
    products joined (one row per product; ``_grouped`` folds them back per version)."""
    v, d, e, s, p = DeclarationVersion, Declaration, Enterprise, Standard, Product
    # Plain types: no per-row conversion to enum members or through UTCDateTime (a million
    # rows pay for every Python call per row). Enums are stored by name (PUBLISHED).
    return (
        stmt.add_columns(
            d.id.label("x_declaration_id"),
            type_coerce(d.status, String).label("x_declaration_status"),
            type_coerce(d.kind, String).label("x_kind"),
            v.id.label("x_version_id"),
            v.version_no,
            type_coerce(v.status, String).label("x_status"),
            func.coalesce(s.code, v.std_code).label("x_number"),
            func.coalesce(s.title, v.std_name).label("x_title"),
            e.name.label("x_enterprise"),
            e.uscc,
            e.region_code,
            type_coerce(v.published_at, DateTime(timezone=True)).label("x_published_at"),
            v.implemented_on,
            p.name.label("x_product"),
            p.model.label("x_model"),
        )
        .join(d, d.id == v.declaration_id)
        .join(e, e.id == d.enterprise_id)
        .outerjoin(s, s.id == v.standard_id)
        .outerjoin(p, p.version_id == v.id)
        .order_by(p.id)
    )


def _grouped(rows: Iterable, own: bool) -> Iterator[list]:
    """One output row per version from the joined rows (consecutive per version)."""
    zone = local_zone()
    current, products = None, []
    for r in rows:
        if current is not None and r.x_version_id != current.x_version_id:
            yield _row(current, products, own, zone)
            products = []
        current = r
        if r.x_product is not None:
            products.append(f"{r.x_product} {r.x_model}")
    if current is not None:
        yield _row(current, products, own, zone)


def _row(r, products: list[str], own: bool, zone) -> list:
    published = r.x_published_at
    if published is not None:
        if published.tzinfo is None:  # SQLite keeps UTC without the zone
            published = published.replace(tzinfo=UTC)
        published = published.astimezone(zone).date().isoformat()
    row = [
        r.x_declaration_id,
        r.version_no,
        STATUS_TEXT.get(r.x_status.lower(), r.x_status),
        KIND_TEXT.get(r.x_kind.lower(), r.x_kind),
        r.x_number or "",
        r.x_title or "",
        r.x_enterprise,
        r.uscc,
        r.region_code,
        published or "",
        r.implemented_on.isoformat() if r.implemented_on else "",
        "; ".join(products),
    ]
    if own:
        status = r.x_declaration_status
        row.insert(2, STATUS_TEXT.get(status.lower(), status))
    return row


def _stream(stmt: Select) -> Iterator:
    """The rows of ``stmt`` through a server-side cursor, ``FETCH_ROWS`` at a time."""
    # Core execution on the session's connection: no ORM loading step per row.
    result = db.session.connection().execution_options(yield_per=FETCH_ROWS).execute(stmt)
    try:
        yield from result
    finally:
        result.close()


class ExportRows:
    """The rows of an export: iterate for lists of values (the generic path, and XLSX), or on
    PostgreSQL let ``csv_stream`` run ``copy_select`` through ``COPY … TO STDOUT``: the
    database formats the same CSV itself, several times faster than Python per row."""

    def __init__(self, base: Select, own: bool, keep_froms: bool = False) -> None:
        self.base, self.own, self.keep_froms = base, own, keep_froms

    def __iter__(self) -> Iterator[list]:
        return _grouped(_stream(_select_rows(self.base)), own=self.own)

    def copy_select(self) -> Select:
        """The rows as the CSV's text columns, in SQL (PostgreSQL): status and kind in
        Chinese, the day in Beijing time, the products aggregated; empty text as NULL, which
        COPY writes unquoted, as Python's csv module writes an empty string."""
        v, d, e, s, p = DeclarationVersion, Declaration, Enterprise, Standard, Product
        zone = str(local_zone())

        def word(col, table: dict):
            return case(*[(col == key.upper(), text_) for key, text_ in table.items()],
                        else_=type_coerce(col, String))

        products = (
            select(func.string_agg(p.name + " " + p.model,
                                   aggregate_order_by(literal_column("'; '"), p.id)))
            .where(p.version_id == v.id)
            .scalar_subquery()
        )
        cols = [
            d.id,
            v.version_no,
            word(type_coerce(v.status, String), STATUS_TEXT),
            word(type_coerce(d.kind, String), KIND_TEXT),
            func.nullif(func.coalesce(s.code, v.std_code), ""),
            func.nullif(func.coalesce(s.title, v.std_name), ""),
            func.nullif(e.name, ""),
            func.nullif(e.uscc, ""),
            func.nullif(e.region_code, ""),
            func.to_char(func.timezone(zone, type_coerce(v.published_at, DateTime(timezone=True))),
                         "YYYY-MM-DD"),
            func.to_char(v.implemented_on, "YYYY-MM-DD"),
            func.nullif(products, ""),
        ]
        if self.own:
            cols.insert(2, word(type_coerce(d.status, String), STATUS_TEXT))
        stmt = self.base.with_only_columns(*cols, maintain_column_froms=self.keep_froms)
        return (
            stmt.join(d, d.id == v.declaration_id)
            .join(e, e.id == d.enterprise_id)
            .outerjoin(s, s.id == v.standard_id)
        )


def search_rows(
    *, q: str = "", category_id=None, kind=None, region: str | None = "", status=None
) -> ExportRows:
    """Every declaration the public search finds with these filters (``declare.search.matching``),
    in the search's order: one list of ``COLUMNS`` values each."""
    found = search.matching(
        q=q, category_id=category_id, kind=kind, region=region, status=status
    )
    base = found.join(
        DeclarationVersion, DeclarationVersion.id == search.SearchDocument.version_id
    )
    return ExportRows(base, own=False, keep_froms=True)


def enterprise_rows(enterprise_id: int) -> ExportRows:
    """An enterprise's declarations (drafts included), newest first, with their current
    version (the draft of a never-published one): one list of ``OWN_COLUMNS`` values each."""
    d, v = Declaration, DeclarationVersion
    newest = (
        select(func.max(v.id))
        .where(v.declaration_id == d.id)
        .correlate(d)
        .scalar_subquery()
    )
    base = (
        select(d.created_at)
        .select_from(v)
        .where(d.enterprise_id == enterprise_id, v.id == func.coalesce(d.current_version_id, newest))
        .order_by(d.created_at.desc(), d.id.desc())
    )
    return ExportRows(base, own=True)


def _copy_stream(rows: ExportRows) -> Iterator[bytes]:
    """PostgreSQL formats the CSV (``COPY (select) TO STDOUT``); the blocks it sends (about
    one per row) are gathered into chunks of ``CHUNK_BYTES``."""
    from sqlalchemy.dialects import postgresql

    compiled = rows.copy_select().compile(dialect=postgresql.psycopg.dialect())
    sql = f"COPY ({compiled}) TO STDOUT (FORMAT csv)"
    raw = db.session.connection().connection.driver_connection
    buf = bytearray()
    with raw.cursor() as cur, cur.copy(sql, compiled.params) as copy:
        for block in copy:
            buf += block
            if len(buf) >= CHUNK_BYTES:
                yield bytes(buf)
                buf.clear()
    yield bytes(buf)


def csv_stream(rows: Iterable[list], columns: list[tuple[str, str]]) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark: the header, then the rows in chunks (``CHUNK_ROWS``
    rows, or on PostgreSQL ``CHUNK_BYTES`` of what COPY wrote)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    buf.write(BOM)
    writer.writerow(headers(columns))
    if isinstance(rows, ExportRows) and db.session.get_bind().dialect.name == "postgresql":
        yield buf.getvalue().encode("utf-8")
        yield from _copy_stream(rows)
        return
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
        if n % CHUNK_ROWS == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def xlsx_stream(
    rows: Iterable[list], columns: list[tuple[str, str]], *, sheet: str = "导出结果"
) -> Iterator[bytes]:
    """An .xlsx of the rows: built in a temporary file (openpyxl write-only: constant
    memory), then read back in 64 KiB pieces; the file is removed when the stream ends."""
    from openpyxl import Workbook

    fd, path = tempfile.mkstemp(suffix=".xlsx", prefix="export-")
    os.close(fd)
    try:
        wb = Workbook(write_only=True)
        head = headers(columns)
        ws, used, n_sheets = None, XLSX_MAX_ROWS, 0
        for row in rows:
            if used >= XLSX_MAX_ROWS:
                n_sheets += 1
                ws = wb.create_sheet(sheet if n_sheets == 1 else f"{sheet}{n_sheets}")
                ws.append(head)
                used = 1
            ws.append(row)
            used += 1
        if ws is None:
            wb.create_sheet(sheet).append(head)
        wb.save(path)
        with open(path, "rb") as fh:
            while piece := fh.read(65536):
                yield piece
    finally:
        os.unlink(path)


TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def response(rows: Iterable[list], columns: list[tuple[str, str]], fmt: str, filename: str):
    """A streamed download of ``rows`` (pages and API alike): every row, no limit. The rows
    are read while the body is sent (``stream_with_context`` keeps the request's app context
    and database session)."""
    body = csv_stream(rows, columns) if fmt == "csv" else xlsx_stream(rows, columns)
    resp = Response(stream_with_context(body), mimetype=TYPES[fmt])
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
