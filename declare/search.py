"""The public search index: one row per declaration that has ever been published.

Why a separate table: the search must answer in tens of milliseconds among 2,000,000
declarations for any query, and ``LIKE '%q%'`` over versions, enterprises, standards and
products reads all of them. ``declaration_search`` holds, per declaration, the tokens of its
shown version (``declare.search_terms``: CJK unigrams and bigrams, Latin/digit atoms) in three
columns — ``heads`` (enterprise and product names: the second rank), ``body`` (standard number
and name, USCC, brands, models) and ``filters`` (category and region tokens) — and the
columns a page filters and sorts on (status, kind, published_at, the normalised number).

The token index itself depends on the database, created beside the table (``create_all`` and
the migration alike):

* PostgreSQL: two stored generated ``tsvector`` columns built from the token columns,
  ``heads_tsv`` (names and filters) and ``tsv`` (everything), each with a GIN index;
* SQLite: an FTS5 external-content table ``declaration_search_fts`` kept by triggers, fed the
  same tokens separated by spaces (the ``unicode61`` tokenizer then keeps each one whole).

Rows are written in the transaction that publishes, revises or ends a declaration (the
``declare.signals.declaration_changed`` receiver in ``declare.receivers``) and rebuilt from
scratch by ``flask search rebuild``.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import (
    DDL,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    case,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, contains_eager, mapped_column, selectinload

from benchmarks.models import Standard
from core.auth import region_prefix
from core.extensions import db
from core.models import UTCDateTime
from core.paging import PageNumbers
from declare.models import (
    Declaration,
    DeclarationKind,
    DeclarationVersion,
    Enterprise,
    Product,
    VersionStatus,
)
from declare.search_terms import (
    Term,
    category_token,
    document_tokens,
    filter_tokens,
    number_key,
    query_terms,
    region_token,
)

__all__ = [
    "COUNT_CAP",
    "SEARCHABLE_STATUSES",
    "SearchDocument",
    "SearchPage",
    "SearchTimeout",
    "DocumentHead",
    "DocumentProduct",
    "include_object",
    "index_new",
    "matching",
    "progress_printer",
    "rebuild",
    "refresh",
    "search",
]

COUNT_CAP = 1000  # counted exactly up to here; above it the planner's estimate ("约 N 项")
SEARCHABLE_STATUSES = ("published", "abolished", "revoked")
DEFAULT_TIMEOUT_MS = 2000
FTS_TABLE = "declaration_search_fts"
TSV_INDEX = "ix_declaration_search_tsv"
HEADS_INDEX = "ix_declaration_search_heads_tsv"
PG_COLUMNS = ("tsv", "heads_tsv")


class SearchDocument(db.Model):
    """The tokens and filter columns of a declaration's shown version (see the module doc)."""

    __tablename__ = "declaration_search"
    __table_args__ = (
        # Newest first within a status: the order of every result tier and of browsing.
        Index("ix_declaration_search_recent", "status", "published_at", "declaration_id"),
    )

    declaration_id: Mapped[int] = mapped_column(
        ForeignKey("declarations.id"), primary_key=True, autoincrement=False
    )
    version_id: Mapped[int] = mapped_column(ForeignKey("declaration_versions.id"))
    status: Mapped[str] = mapped_column(String(20))  # the version's: published | abolished | …
    kind: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[str] = mapped_column(String(6))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    number_key: Mapped[str] = mapped_column(String(80), index=True)
    heads: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    filters: Mapped[str] = mapped_column(Text, default="")


# -- database-specific token index -------------------------------------------------------------

PG_CREATE = (
    # Two positionless vectors, each with its own GIN index: a plain AND of lexemes is
    # answered by GIN without rechecking rows (a weight-restricted query would reread every
    # candidate's vector), so rank 1 (names) asks ``heads_tsv`` and "any match" asks ``tsv``.
    "ALTER TABLE declaration_search "
    "ADD COLUMN heads_tsv tsvector GENERATED ALWAYS AS "
    "(CAST(heads || ' ' || filters AS tsvector)) STORED, "
    "ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
    "(CAST(heads || ' ' || body || ' ' || filters AS tsvector)) STORED",
    f"CREATE INDEX {HEADS_INDEX} ON declaration_search USING gin (heads_tsv)",
    f"CREATE INDEX {TSV_INDEX} ON declaration_search USING gin (tsv)",
)
SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(heads, body, filters, "
    "content='declaration_search', content_rowid='declaration_id', "
    "tokenize='unicode61 remove_diacritics 0', prefix='2 3')",
    "CREATE TRIGGER IF NOT EXISTS declaration_search_ai AFTER INSERT ON declaration_search "
    f"BEGIN INSERT INTO {FTS_TABLE}(rowid, heads, body, filters) "
    "VALUES (new.declaration_id, new.heads, new.body, new.filters); END",
    "CREATE TRIGGER IF NOT EXISTS declaration_search_ad AFTER DELETE ON declaration_search "
    f"BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, heads, body, filters) "
    "VALUES ('delete', old.declaration_id, old.heads, old.body, old.filters); END",
    "CREATE TRIGGER IF NOT EXISTS declaration_search_au AFTER UPDATE ON declaration_search "
    f"BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, heads, body, filters) "
    "VALUES ('delete', old.declaration_id, old.heads, old.body, old.filters); "
    f"INSERT INTO {FTS_TABLE}(rowid, heads, body, filters) "
    "VALUES (new.declaration_id, new.heads, new.body, new.filters); END",
)
SQLITE_DROP = (f"DROP TABLE IF EXISTS {FTS_TABLE}",)

for _sql in PG_CREATE:
    event.listen(
        SearchDocument.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql")
    )
for _sql in SQLITE_CREATE:
    event.listen(SearchDocument.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in SQLITE_DROP:
    event.listen(SearchDocument.__table__, "before_drop", DDL(_sql).execute_if(dialect="sqlite"))


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic autogenerate filter: the token index (FTS5 table and its shadow tables on
    SQLite, the generated ``tsv`` column and its GIN index on PostgreSQL) is made by the DDL
    above, not by the models, so a compare must not propose dropping it."""
    if not reflected or compare_to is not None:
        return True
    if type_ == "table" and name.startswith(FTS_TABLE):
        return False
    if (
        type_ == "column"
        and name in PG_COLUMNS
        and obj.table.name == SearchDocument.__tablename__
    ):
        return False
    return not (type_ == "index" and name in (TSV_INDEX, HEADS_INDEX))


# -- writing ------------------------------------------------------------------------------------


def _documents(declaration_ids: Sequence[int]) -> list[dict]:
    """The rows of ``declaration_search`` for these declarations (two reads: versions with
    their enterprise and standard, then products). Declarations never published have none."""
    if not declaration_ids:
        return []
    v, d, e, s = DeclarationVersion, Declaration, Enterprise, Standard
    rows = db.session.execute(
        select(
            d.id,
            d.kind,
            v.id.label("version_id"),
            v.status,
            v.published_at,
            func.coalesce(s.code, v.std_code).label("number"),
            func.coalesce(s.title, v.std_name).label("title"),
            e.name,
            e.uscc,
            e.region_code,
        )
        .join(v, v.id == d.current_version_id)
        .join(e, e.id == d.enterprise_id)
        .outerjoin(s, s.id == v.standard_id)
        .where(d.id.in_(declaration_ids), v.status != VersionStatus.DRAFT)
    ).all()
    products: dict[int, list] = defaultdict(list)
    if rows:
        for p in db.session.execute(
            select(
                Product.version_id,
                Product.name,
                Product.common_name,
                Product.brand,
                Product.model,
                Product.category_id,
            ).where(Product.version_id.in_([r.version_id for r in rows]))
        ):
            products[p.version_id].append(p)
    return [_document(r, products[r.version_id]) for r in rows]


class DocumentHead(NamedTuple):
    """What ``_document`` reads of a declaration and its shown version: the columns of the
    ``_documents`` query (number and title are the catalogue standard's, else the version's
    own). The bulk import fills it from what it has just written (``index_new``)."""

    id: int
    kind: Any
    version_id: int
    status: Any
    published_at: datetime | None
    number: str | None
    title: str | None
    name: str
    uscc: str
    region_code: str | None


class DocumentProduct(NamedTuple):
    """What ``_document`` reads of a product (the product columns of ``_documents``)."""

    name: str
    common_name: str
    brand: str
    model: str
    category_id: int | None


def _document(row, products: list) -> dict:
    """The search row of one declaration: THE tokenising rules of the index (``refresh``,
    ``rebuild`` and ``index_new`` all build their rows here)."""
    heads = document_tokens([row.name, *(p.name for p in products), *(p.common_name for p in products)])
    body = document_tokens(
        [row.number, row.title, row.uscc, *(p.brand for p in products), *(p.model for p in products)]
    )
    kind = row.kind.value if hasattr(row.kind, "value") else str(row.kind)
    status = row.status.value if hasattr(row.status, "value") else str(row.status)
    return {
        "declaration_id": row.id,
        "version_id": row.version_id,
        "status": status,
        "kind": kind,
        "region_code": row.region_code or "",
        "published_at": row.published_at,
        "number_key": number_key(row.number)[:80],
        "heads": " ".join(heads),
        "body": " ".join(body),
        "filters": " ".join(filter_tokens(row.region_code, (p.category_id for p in products))),
    }


def refresh(declaration_ids: Iterable[int]) -> int:
    """Rewrite the search rows of these declarations from their shown version, in the current
    transaction (flushes, never commits). Returns how many rows were written."""
    ids = sorted({int(i) for i in declaration_ids})
    if not ids:
        return 0
    db.session.flush()
    docs = _documents(ids)
    table = SearchDocument.__table__
    db.session.execute(delete(table).where(table.c.declaration_id.in_(ids)))
    _write(docs)
    return len(docs)


_COPY_COLUMNS = (
    "declaration_id", "version_id", "status", "kind", "region_code", "published_at",
    "number_key", "heads", "body", "filters",
)


def _write(docs: Iterable[dict], *, copy: bool = False) -> int:
    """Insert rows (a list or a generator); returns how many. Without ``copy``, INSERTs of
    ``_INDEX_CHUNK`` rows. ``copy`` streams them with PostgreSQL's COPY on the session's
    connection, fed by psycopg's queued writer (its own thread): PostgreSQL computes the
    tsvectors and GIN entries of a chunk on the other core while the next rows are built here
    (the rebuild: about 3× faster than a multi-row INSERT for 2 M rows)."""
    if not copy:
        count, chunk = 0, []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) >= _INDEX_CHUNK:
                db.session.execute(insert(SearchDocument.__table__), chunk)
                count, chunk = count + len(chunk), []
        if chunk:
            db.session.execute(insert(SearchDocument.__table__), chunk)
        return count + len(chunk)
    from psycopg.copy import QueuedLibpqWriter

    conn = db.session.connection()
    stamp = SearchDocument.__table__.c.published_at.type.bind_processor(conn.dialect)
    at = _COPY_COLUMNS.index("published_at")
    raw = conn.connection.driver_connection
    names = ", ".join(_COPY_COLUMNS)
    count = 0
    with raw.cursor() as cur, cur.copy(
        f"COPY declaration_search ({names}) FROM STDIN", writer=QueuedLibpqWriter(cur)
    ) as cp:
        for doc in docs:
            row = [doc[c] for c in _COPY_COLUMNS]
            if stamp is not None:
                row[at] = stamp(row[at])
            cp.write_row(row)
            count += 1
    return count


_INDEX_CHUNK = 2000


def index_new(items: Iterable[tuple[DocumentHead, Sequence[DocumentProduct]]]) -> int:
    """Write the search rows of declarations published just now, which have none yet (no
    DELETE), from what the caller already holds instead of reading it back: the bulk import.
    Each row is ``_document``'s, the row ``refresh`` would write, built as the rows stream
    (COPY on PostgreSQL). Returns how many rows were written."""
    postgres = db.session.connection().dialect.name == "postgresql"
    return _write((_document(head, products) for head, products in items), copy=postgres)


def rebuild(
    *, batch_size: int = 5000, progress: Callable[[int, int, float], None] | None = None
) -> int:
    """Empty the index and rebuild it from every declaration with a shown version, in
    batches of declaration ids, committing each batch (a CLI/maintenance operation). On
    PostgreSQL the GIN index is dropped during the load and built once at the end (building
    it once is several times faster than maintaining it row by row)."""
    started = time.perf_counter()
    table = SearchDocument.__table__
    postgres = db.engine.dialect.name == "postgresql"
    db.session.execute(delete(table))
    if postgres:
        db.session.execute(text(f"DROP INDEX IF EXISTS {TSV_INDEX}"))
        db.session.execute(text(f"DROP INDEX IF EXISTS {HEADS_INDEX}"))
    db.session.commit()
    total = db.session.scalar(
        select(func.count()).select_from(Declaration).where(Declaration.current_version_id.is_not(None))
    )
    done, last = 0, 0
    while True:
        ids = list(
            db.session.scalars(
                select(Declaration.id)
                .where(Declaration.id > last, Declaration.current_version_id.is_not(None))
                .order_by(Declaration.id)
                .limit(batch_size)
            )
        )
        if not ids:
            break
        docs = _documents(ids)
        _write(docs, copy=postgres)
        db.session.commit()
        done, last = done + len(docs), ids[-1]
        if progress is not None:
            progress(done, total, time.perf_counter() - started)
    if postgres:
        db.session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        db.session.execute(text(PG_CREATE[1]))
        db.session.execute(text(PG_CREATE[2]))
        db.session.execute(text("ANALYZE declaration_search"))
        db.session.commit()
    elif db.engine.dialect.name == "sqlite":
        db.session.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')"))
        db.session.commit()
    return done


# -- reading ------------------------------------------------------------------------------------


class SearchTimeout(RuntimeError):
    """The search ran past its statement timeout: too broad for the time allowed."""


@dataclass
class SearchPage(PageNumbers):
    """One page of results, with what ``_macros.pager`` and the API's pagination read.

    ``total`` is exact when ``approximate`` is False (up to ``COUNT_CAP``), otherwise the
    database's estimate: pages say "约 N 项" and the page count follows the estimate."""

    items: list
    total: int
    page: int
    per_page: int
    approximate: bool = False
    terms: list[Term] = field(default_factory=list)


def _tsquery(terms: Sequence[Term], filters: Sequence[str]) -> str:
    """A tsquery literal: the tokens are letters, digits and CJK only, so quoting is safe."""
    parts = [f"'{t.text}'" + (":*" if t.prefix else "") for t in terms]
    return " & ".join(parts + [f"'{f}'" for f in filters])


def _fts(terms: Sequence[Term], filters: Sequence[str], column: str = "") -> str:
    """An FTS5 query: every term (in ``column`` when given) and every filter token."""
    words = " AND ".join(f'"{t.text}"' + ("*" if t.prefix else "") for t in terms)
    parts = [f"{{{column}}} : ({words})" if column else f"({words})"] if terms else []
    return " AND ".join(parts + [f'"{f}"' for f in filters])


class _Matcher:
    """Token-index conditions on ``declaration_search`` for one dialect (unique bind names)."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"
        self.n = 0

    def match(
        self, terms: Sequence[Term], filters: Sequence[str], *, heads: bool = False,
        source=None,
    ):
        """Rows holding every term (in the names only with ``heads``) and filter token;
        ``source`` is a subquery of ``declaration_search`` rows to test instead of the table
        (with its ``declaration_id`` and, on PostgreSQL, its token columns)."""
        self.n += 1
        name = f"search_m{self.n}"
        if self.postgres:
            column = "heads_tsv" if heads else "tsv"
            table = source.name if source is not None else "declaration_search"
            return text(f"{table}.{column} @@ CAST(:{name} AS tsquery)").bindparams(
                **{name: _tsquery(terms, filters)}
            )
        rowids = (
            text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :{name}")
            .bindparams(**{name: _fts(terms, filters, "heads" if heads else "")})
            .columns(rowid=Integer)
        )
        ids = source.c.declaration_id if source is not None else SearchDocument.declaration_id
        return ids.in_(rowids)


@contextmanager
def _time_limit(ms: int):
    """Abort the statements run inside after ``ms`` milliseconds: ``SET LOCAL
    statement_timeout`` on PostgreSQL (set on the driver connection: connection state, like
    the isolation level, not a query of the page), a progress handler on SQLite."""
    conn = db.session.connection()
    raw = conn.connection.driver_connection
    dialect = conn.dialect.name
    if dialect == "postgresql":
        raw.execute(f"SET LOCAL statement_timeout = {int(ms)}")
    elif dialect == "sqlite":
        deadline = time.monotonic() + ms / 1000
        raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    try:
        yield
    except OperationalError as exc:
        message = str(exc.orig).lower()
        if "statement timeout" in message or "canceling statement" in message or "interrupted" in message:
            db.session.rollback()
            raise SearchTimeout(str(exc.orig)) from None
        raise
    finally:
        if dialect == "postgresql" and not raw.closed and raw.info.transaction_status == 2:
            raw.execute("SET LOCAL statement_timeout = DEFAULT")  # 2: in transaction, idle
        elif dialect == "sqlite":
            raw.set_progress_handler(None, 0)


def _criteria(q: str, category_id, kind, region, status):
    """The parsed query of a search: its terms, the number key, the filter tokens and the
    plain column conditions (status, kind). Shared by ``search`` and ``matching``."""
    status = status or VersionStatus.PUBLISHED.value
    if status not in SEARCHABLE_STATUSES:
        raise ValueError(f"status must be one of {SEARCHABLE_STATUSES}, got {status!r}")
    terms = query_terms(q)
    key = number_key(q) if q else ""
    filters = []
    if category_id:
        filters.append(category_token(category_id))
    region = (region or "").strip()
    if region:
        prefix = region_prefix(region) if len(region) == 6 and region.isdigit() else region
        filters.append(region_token(prefix))
    base = [SearchDocument.status == status]
    if kind:
        base.append(SearchDocument.kind == DeclarationKind(kind).value)
    return terms, key, filters, base


def matching(
    *,
    q: str = "",
    category_id: int | None = None,
    kind: DeclarationKind | str | None = None,
    region: str | None = "",
    status: str | None = None,
):
    """Every declaration the search with these filters finds, without a page: a select of
    ``declaration_id`` and ``version_id`` (the shown version) in the order of the search
    (exact number, then names, then the rest; newest first within each) — for exports, which
    stream it. With a query the ranks are CASE expressions over the same token conditions."""
    q = (q or "").strip()
    terms, key, filters, base = _criteria(q, category_id, kind, region, status)
    doc = SearchDocument
    matcher = _Matcher(db.engine.dialect.name)
    cols = (doc.declaration_id, doc.version_id)
    order = (doc.published_at.desc(), doc.declaration_id.desc())
    if q and not terms:
        return select(*cols).where(literal(False))
    if not terms:
        conds = [matcher.match((), filters)] if filters else []
        return select(*cols).where(*base, *conds).order_by(*order)
    exact = [doc.number_key == key] + ([matcher.match((), filters)] if filters else [])
    rank = case(
        (and_(*exact), 0), (matcher.match(terms, filters, heads=True), 1), else_=2
    )
    found = or_(and_(*exact), matcher.match(terms, filters))
    return select(*cols).where(*base, found).order_by(rank, *order)


def search(
    *,
    q: str = "",
    category_id: int | None = None,
    kind: DeclarationKind | str | None = None,
    region: str | None = "",
    status: str | None = None,
    page: int = 1,
    per_page: int = 20,
    max_per_page: int = 100,
) -> SearchPage:
    """One page of declarations ordered by relevance, their shown versions loaded.

    Ranks: 0 the exact standard number (``Q/ABC 001-2024`` = ``q/abc001-2024``), 1 every query
    term in the enterprise or product names, 2 the rest; newest publication first within a
    rank. Each rank is read as an ordered, limited scan (``page × per_page`` rows at most), so
    a frequent one-character query costs no more than a rare one. Filters: ``category_id``,
    ``kind`` (catalogue/enterprise), ``region`` (行政区划 prefix or 6-digit code), ``status``
    (published — the default —, abolished, revoked). Raises SearchTimeout past the configured
    ``SEARCH_TIMEOUT_MS``.

    Statements: the capped count (plus an EXPLAIN above ``COUNT_CAP``), the newest rows of
    each rank (one or two, ``_newest_by_rank``), the page's versions with declarations,
    enterprises and standards, and their products.
    """
    per_page = max(1, min(int(per_page), max_per_page))
    page = max(int(page or 1), 1)
    q = (q or "").strip()
    terms, key, filters, base = _criteria(q, category_id, kind, region, status)
    doc = SearchDocument
    matcher = _Matcher(db.engine.dialect.name)
    offset = (page - 1) * per_page
    need = offset + per_page

    if q and not terms:
        return SearchPage([], 0, page, per_page, terms=terms)  # nothing searchable: no match

    def exact(source=None):
        """The exact standard number (with the filters), in the table or in ``source``."""
        number = (source.c if source is not None else doc).number_key == key
        return and_(number, *([matcher.match((), filters, source=source)] if filters else []))

    if terms:
        found = or_(exact(), matcher.match(terms, filters))
    else:
        found = matcher.match((), filters) if filters else literal(True)
    where = and_(*base, found)
    timeout = current_app.config.get("SEARCH_TIMEOUT_MS", DEFAULT_TIMEOUT_MS)
    with _time_limit(timeout):
        counted = _capped_count(where)
        approximate = counted > COUNT_CAP
        total = counted
        if approximate:
            # Chinese bigrams of one query are not independent (坐便 and 便器 come together),
            # so the planner's product of their frequencies is far too low: estimate each
            # term alone (with the filters) and take the smallest.
            singles = [
                select(doc.declaration_id).where(*base, matcher.match([t], filters))
                for t in terms
            ] or [select(doc.declaration_id).where(where)]
            total = max(_estimate(singles), COUNT_CAP + 1)
        if terms:
            ranks = [
                (0, exact),
                (1, lambda source=None: matcher.match(terms, filters, heads=True, source=source)),
                (2, lambda source=None: matcher.match(terms, filters, source=source)),
            ]
            best = _newest_by_rank(base, ranks, need, recent_first=approximate)
        else:  # browsing, by filters or none: the newest rows, an ordered walk
            browse = [matcher.match((), filters)] if filters else []
            best = {
                did: (0, at, version_id)
                for did, version_id, at in db.session.execute(
                    select(doc.declaration_id, doc.version_id, doc.published_at)
                    .where(*base, *browse)
                    .order_by(doc.published_at.desc(), doc.declaration_id.desc())
                    .limit(need)
                )
            }
        ordered = sorted(best.items(), key=lambda kv: (kv[1][0], _desc(kv[1][1]), -kv[0]))
        page_ids = [version_id for _did, (_rank, _at, version_id) in ordered[offset:need]]
        v, d = DeclarationVersion, Declaration
        loaded = {
            version.id: version
            for version in db.session.scalars(
                select(v)
                .join(v.declaration)
                .join(d.enterprise)
                .outerjoin(v.standard)
                .where(v.id.in_(page_ids))
                .options(
                    contains_eager(v.declaration).contains_eager(d.enterprise),
                    contains_eager(v.standard),
                    selectinload(v.products),
                )
            ).unique()
        } if page_ids else {}
        items = [loaded[i] for i in page_ids if i in loaded]
    return SearchPage(items, total, page, per_page, approximate, terms)


def _capped_count(where) -> int:
    """How many rows match, counted up to ``COUNT_CAP + 1``."""
    capped = (
        select(literal(1)).select_from(SearchDocument).where(where).limit(COUNT_CAP + 1).subquery()
    )
    return db.session.scalar(select(func.count()).select_from(capped))


#: How many of the newest rows a query with many matches tests first (see _newest_by_rank).
RECENT_WINDOW = 5000


def _desc(at) -> float:
    """A sort key putting the newest publication first (no date last)."""
    return -at.timestamp() if at is not None else float("inf")


def _newest_by_rank(base: list, ranks: list, need: int, *, recent_first: bool) -> dict:
    """The newest ``need`` rows of each rank as {declaration id: (best rank, published at,
    version id)}; the first ``need`` of (rank, newest) are always among them.

    Two ways to a rank's newest rows, and the planner cannot choose between them (its
    estimate for a rare token ANDed with common ones is far off, and matches cluster in time):
    test the ``RECENT_WINDOW`` newest rows (enough when the query matches often, as "空" or
    "空调" do: a bounded walk of the recency index), or read every match through the token
    index and sort (cheap when they are few: a standard number, a rare name). With
    ``recent_first`` (more than COUNT_CAP matches) the window is tried first, in one statement
    for every rank, and a rank it leaves short is then read whole; otherwise every rank is
    read whole at once."""
    doc = SearchDocument
    cols = (doc.declaration_id, doc.version_id, doc.published_at)
    order = (doc.published_at.desc(), doc.declaration_id.desc())
    best: dict[int, tuple] = {}

    def keep(rank: int, rows) -> int:
        n = 0
        for did, version_id, at in rows:
            n += 1
            if did not in best or rank < best[did][0]:
                best[did] = (rank, at, version_id)
        return n

    def run(parts: list) -> dict[int, list]:
        found: dict[int, list] = defaultdict(list)
        stmt = union_all(*parts) if len(parts) > 1 else parts[0]
        for rank, did, version_id, at in db.session.execute(stmt):
            found[rank].append((did, version_id, at))
        return found

    short = [rank for rank, _cond in ranks]
    if recent_first:
        window = min(max(RECENT_WINDOW, 20 * need), 40 * RECENT_WINDOW)  # deeper pages
        # A subquery, not a materialised CTE: each rank's walk stops at its ``need``th match
        # (a frequent query reads a few dozen rows of the window, not all of it).
        recent = select(*cols, *_token_columns()).where(*base).order_by(*order).limit(
            window).subquery("recent")
        parts = [
            select(literal(rank).label("rank"), recent.c.declaration_id, recent.c.version_id,
                   recent.c.published_at)
            .where(cond(recent))
            .order_by(recent.c.published_at.desc(), recent.c.declaration_id.desc())
            .limit(need)
            for rank, cond in ranks
        ]
        found = run([select(part.subquery()) for part in parts])
        short = [rank for rank, _cond in ranks if keep(rank, found[rank]) < need]
    if short:
        # Every match of each short rank, read through the token index (a materialised CTE:
        # no ordered walk), then the newest ``need``.
        parts = []
        for rank, cond in ranks:
            if rank not in short:
                continue
            every = select(literal(rank).label("rank"), *cols).where(*base, cond()).cte(f"every{rank}")
            if db.engine.dialect.name == "postgresql":
                every = every.prefix_with("MATERIALIZED")
            parts.append(select(
                select(every).order_by(every.c.published_at.desc(), every.c.declaration_id.desc())
                .limit(need).subquery()
            ))
        for rank, rows in run(parts).items():
            keep(rank, rows)
    return best


def _token_columns() -> list:
    """The token columns a window of rows carries for the match conditions (PostgreSQL)."""
    if db.engine.dialect.name != "postgresql":
        return [SearchDocument.number_key]
    return [SearchDocument.number_key, literal_column("declaration_search.tsv").label("tsv"),
            literal_column("declaration_search.heads_tsv").label("heads_tsv")]


def _estimate(stmts: list) -> int:
    """The smallest number of rows the planner expects of ``stmts`` (one PostgreSQL EXPLAIN
    of their UNION ALL), or elsewhere a count of the first capped at 100× ``COUNT_CAP``
    (SQLite holds small databases)."""
    if db.engine.dialect.name != "postgresql":
        capped = stmts[0].limit(COUNT_CAP * 100).subquery()
        return db.session.scalar(select(func.count()).select_from(capped))
    compiled = union_all(*stmts).compile(dialect=db.engine.dialect)
    plan = db.session.connection().exec_driver_sql(
        "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params
    ).scalar()[0]["Plan"]
    parts = plan.get("Plans", [plan]) if plan["Node Type"] == "Append" else [plan]
    return int(min(p["Plan Rows"] for p in parts))


def progress_printer(out=sys.stderr) -> Callable[[int, int, float], None]:
    def report(done: int, total: int, seconds: float) -> None:
        rate = done / seconds if seconds else 0
        print(f"search index: {done:,}/{total:,} declarations, {seconds:,.1f} s, {rate:,.0f}/s", file=out)

    return report

