"""Who may enter a ranking (准入条件): a set-based read of the candidates of one plan or of
many plans at once, split vectorised into the eligible matrix and the exclusions.

``read(plans)`` makes two reads, whatever the number of plans and declarations:

1. the candidates: one row per (plan, declaration) whose version in force (or, for a window
   after it ended, its last version) has a product in the plan's category, with the facts
   behind the entry requirements: declaration status and kind, the followed number and
   catalogue standard, open ReferenceFlags, the latest non-conforming or serious
   ComplianceRecord of the enterprise, the label product (first product of the category in
   that version);
2. the indicators of those versions, long: one row per indicator of one of the plans' core
   benchmarks (by benchmark code, any edition of the category), plus any indicator with a
   mandatory-limit violation. They are pivoted in numpy, not in SQL: a GROUP BY over millions
   of indicators is what made the read slow (and PostgreSQL's JIT compiled it every time).
   Several indicators of one code count with the worst value in the indicator's direction.

On PostgreSQL both reads come back aggregated into a few binary arrays (``_fetch``): a fetch
or a COPY costs a Python object or a protocol message per row, which for a full
regeneration's 12 million indicator rows took longer than everything else. Then every
requirement is one vectorised mask over all rows of all plans; the exclusion reasons are
built column-wise as the JSON the entries store. Python code runs per row only for the rare
standard number that is not in the canonical form publication stores (``_number_valid``)
and for below-floor details.

``snapshot(plan)`` is the one-plan view used by the per-plan jobs: the eligible matrix (index
declaration id, one column per core indicator key = benchmark code) and the exclusions with
every reason that applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

import numpy as np
import pandas as pd
from sqlalchemy import (
    String,
    and_,
    case,
    false,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
)

from benchmarks.models import BenchmarkIndicator
from benchmarks.numbers import MIN_YEAR, NumberError, parse_enterprise_number
from core.clock import local_date, local_today
from core.extensions import db
from core.models import utcnow
from declare.models import (
    ComplianceRecord,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeclarationVersion,
    Indicator,
    Product,
    ReferenceFlag,
)
from ranking.models import EvaluationPlan, PlanIndicator

__all__ = [
    "DEFAULT_ENTRY_RULES",
    "EXCLUSION_CODES",
    "Candidates",
    "Snapshot",
    "eligible",
    "entry_rules_of",
    "excluded_within",
    "excluding_records",
    "inspection_window",
    "plan_keys",
    "read",
    "snapshot",
]

#: Entry requirements (准入条件) of DOMAIN.md, configurable per plan in ``entry_rules``.
DEFAULT_ENTRY_RULES: dict = {
    "exclude_mingshi_on_core": True,
    "require_references_valid": True,
    "inspection_window_days": 1095,  # 3 years; 0 switches the check off
}

#: Every exclusion code, in the order reasons are listed.
EXCLUSION_CODES = (
    "not_published",
    "number_invalid",
    "reference_invalid",
    "violation",
    "mingshi_on_core",
    "nonconforming_inspection",
    "missing_value",
    "below_floor",
)

BAD_RESULTS = ("nonconforming", "serious")

_STATUS_CODE = {s: i for i, s in enumerate(DeclarationStatus)}
_ENDED = (DeclarationStatus.ABOLISHED, DeclarationStatus.REVOKED)
_NO_DATE = np.datetime64("NaT", "D")
_STR = np.dtypes.StringDType()


def entry_rules_of(plan) -> dict:
    rules = dict(DEFAULT_ENTRY_RULES)
    rules.update({k: v for k, v in (plan.entry_rules or {}).items() if k in DEFAULT_ENTRY_RULES})
    return rules


def inspection_window(plan) -> int:
    """Days a non-conforming inspection or serious record keeps the enterprise out of the
    plan's ranking; 0 switches the check off."""
    return max(int(entry_rules_of(plan)["inspection_window_days"]), 0)


# The rule "which compliance records exclude an enterprise, for how long", in one place: a
# record with a result in BAD_RESULTS that occurred within the window (on or after
# ``today - window`` days). Set-based in SQL (``excluding_records``) and, for many plans with
# different windows read at once, the same rule on the dates of the latest such records
# (``excluded_within``). Used by the candidate read and by dynamic management
# (``ranking.publicity.leaders_to_remove``).


def excluding_records(today: date, window: int):
    """Select of the ComplianceRecords that exclude their enterprise on ``today`` under an
    inspection window of ``window`` days (none when the window is 0)."""
    CR = ComplianceRecord
    return select(CR).where(
        CR.result.in_(BAD_RESULTS),
        CR.occurred_on >= today - timedelta(days=max(window, 0)),
        *([] if window > 0 else [false()]),
    )


def excluded_within(on: np.ndarray, window: np.ndarray, today: date) -> np.ndarray:
    """``excluding_records``' rule on dates: True where the latest excluding record of the row
    (``on``, NaT for none) lies within the row's window (days, 0 = off) before ``today``."""
    cutoff = np.datetime64(today, "D") - window.astype("timedelta64[D]")
    hit = ~np.isnat(on) & (window > 0)
    hit[hit] = on[hit] >= cutoff[hit]
    return hit


def plan_keys(plan) -> list[str]:
    """The matrix column of each core indicator, in the plan's order: its benchmark code."""
    return [pi.benchmark_code for pi in plan.indicators]


@dataclass
class Snapshot:
    """The candidates of a plan at ``as_of``, split into eligible and excluded.

    ``candidates``: one row per declaration (index declaration id, sorted) with version_id,
    enterprise_id, product_id, status and one column per indicator key. ``matrix``: the
    eligible rows, indicator columns only (float64). ``exclusions``: the excluded rows with
    column ``reasons`` = [{"code", "detail"}, ...].
    """

    as_of: datetime
    keys: list[str]
    candidates: pd.DataFrame
    matrix: pd.DataFrame
    exclusions: pd.DataFrame


# --------------------------------------------------------------------------- numbers

# The canonical form publication stores an enterprise number in: "Q/", a code that starts
# with a letter, at most one inner space, the sequence digits with up to 3 letters, "-" and a
# four-digit year; at most 20 characters between "Q/" and "-" (27 in all). Every such text
# with a year the parser allows is accepted by ``parse_enterprise_number`` (it is already
# normalised and upper case; the parser's shortest code is non-empty because the text starts
# with a letter; code and sequence fit their limits because the whole part does), so only
# the other texts, rare, go through the parser.
_CANONICAL = re.compile(r"Q/[A-Z][A-Z0-9]*(?: [A-Z0-9]*)?[0-9][A-Z]{0,3}-([0-9]{4})")
_CANONICAL_MAX_LEN = 2 + 20 + 5


def _year_range(lo: int, hi: int) -> str:
    """A regular expression for the four-digit years lo..hi, decade by decade."""
    parts = []
    for decade in range(lo // 10, hi // 10 + 1):
        a, b = max(lo, decade * 10) % 10, min(hi, decade * 10 + 9) % 10
        parts.append(f"{decade}[{a}-{b}]")
    return "|".join(parts)


_canonical_lines: dict[int, re.Pattern] = {}


def canonical_numbers(codes: Sequence, today: date | None = None) -> np.ndarray:
    """True where the text is an enterprise number in the canonical form (valid without
    parsing; see ``_CANONICAL``) with a year the parser allows.

    One regular-expression pass over the texts joined by newlines (a standard number holds
    none), so the per-number work runs in C; a text that would break the line structure sends
    the whole check down the one-by-one path.
    """
    last = (today or local_today()).year + 1  # the parser's own bound
    texts = [t if isinstance(t, str) else "" for t in codes]
    if not texts:
        return np.zeros(0, dtype=bool)
    pattern = _canonical_lines.get(last)
    if pattern is None:
        pattern = _canonical_lines[last] = re.compile(
            rf"(?m)^(?=[^\n]{{0,{_CANONICAL_MAX_LEN}}}$)" + _CANONICAL.pattern[:-len("([0-9]{4})")]
            + f"(?:{_year_range(MIN_YEAR, last)})$"
        )
    blob = "\n".join(texts)
    if "\x01" not in blob:
        lines = pattern.sub("\x01", blob).split("\n")
        if len(lines) == len(texts):
            return np.array(lines, dtype=_STR) == "\x01"
    out = np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        if len(text) <= _CANONICAL_MAX_LEN:
            m = _CANONICAL.fullmatch(text)
            out[i] = m is not None and MIN_YEAR <= int(m.group(1)) <= last
    return out


def _number_valid(kinds: np.ndarray, codes: np.ndarray, standard_missing: np.ndarray) -> np.ndarray:
    """Enterprise numbers must still parse (Q/ + code + sequence + year); catalogue
    declarations must name their standard."""
    enterprise = kinds == DeclarationKind.ENTERPRISE.value
    valid = ~standard_missing  # catalogue declarations
    at = np.flatnonzero(enterprise)
    canonical = canonical_numbers(codes[at])
    valid[at] = canonical
    parsed: dict[str, bool] = {}
    for pos in at[~canonical]:
        text = codes[pos] if isinstance(codes[pos], str) else ""
        if text not in parsed:
            try:
                parse_enterprise_number(text)
                parsed[text] = True
            except NumberError:
                parsed[text] = False
        valid[pos] = parsed[text]
    return valid


def _fmt(x: float) -> str:
    return f"{x:.10g}"


# --------------------------------------------------------------------------- reads


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _sql_text(stmt) -> str:
    """The statement as SQL text with its values inline, to wrap in more SQL."""
    dialect = db.session.get_bind().dialect
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


#: Rows per aggregated chunk of a PostgreSQL read (see ``_fetch``), by the first column.
_CHUNK_SHIFT = 18
_TEXT_SEPARATOR = "\x1f"  # never in a normalised standard number, a status or a kind
_EPOCH = np.datetime64("1970-01-01", "D")
_NO_DAY = -(2**31)

_PG_AGGREGATES = {
    "int": "array_send(array_agg(coalesce(s.{c}, 0)::int8))",
    "float": "array_send(array_agg(coalesce(s.{c}, 'NaN')::float8))",
    "date": f"array_send(array_agg(coalesce(s.{{c}} - DATE '1970-01-01', {_NO_DAY})::int8))",
    "text": "string_agg(coalesce(s.{c}::text, ''), E'\\x1f')",
}


def _array_values(blob: bytes, dtype: str) -> np.ndarray:
    """A one-dimensional PostgreSQL array without NULLs, binary (``array_send``), as numpy:
    a 20-byte header, then each element as its length and big-endian value."""
    if not blob:
        return np.zeros(0, dtype=dtype)
    width = np.dtype(dtype).itemsize
    pairs = np.frombuffer(blob, dtype=[("n", ">i4"), ("v", f">{dtype[1:]}")], offset=20)
    if len(pairs) and (pairs["n"] != width).any():
        raise ValueError("unexpected NULL or width in an aggregated array")
    return pairs["v"].astype(dtype)


def _fetch(stmt, fields: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """The rows of ``stmt`` (columns labelled with the field names, the first an integer id)
    as one numpy array per field, in no particular row order; kinds "int" (NULL: 0), "float"
    (NULL: NaN), "date" (NULL: NaT), "text" (NULL: "").

    On PostgreSQL the rows are aggregated in the database into a few binary arrays (and
    separator-joined text), chunked by the first column: a plain fetch or a COPY costs a
    Python object or a protocol message per row, which for a full regeneration's 12 million
    indicator rows took longer than everything else. Elsewhere an ordinary fetch.
    """
    if _is_postgresql():
        out = _fetch_aggregated(stmt, fields)
        if out is not None:
            return out
    return _fetch_plain(stmt, fields)


def _aggregated_sql(sql: str, fields) -> str:
    first = fields[0][0]
    aggregates = ", ".join(_PG_AGGREGATES[kind].format(c=name) for name, kind in fields)
    return f"SELECT {aggregates} FROM ({sql}) AS s GROUP BY s.{first} >> {_CHUNK_SHIFT}"


def _run_aggregated(raw, sql: str) -> list:
    with raw.cursor(binary=True) as cur:
        return cur.execute(sql).fetchall()


def _unpack(chunks: list, fields) -> dict[str, np.ndarray] | None:
    out: dict[str, np.ndarray] = {}
    for i, (name, kind) in enumerate(fields):
        if kind == "text":
            parts: list[str] = []
            for chunk in chunks:
                parts.extend(chunk[i].split(_TEXT_SEPARATOR))
            out[name] = np.array(parts, dtype=object)
            continue
        arrays = [_array_values(bytes(chunk[i]), "<f8" if kind == "float" else "<i8")
                  for chunk in chunks]
        values = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
        if kind == "date":
            days = values.astype(np.int64)
            values = np.where(days == _NO_DAY, _NO_DATE, _EPOCH + days.astype("timedelta64[D]"))
        elif kind == "int":
            values = values.astype(np.int64)
        out[name] = values
    if len({len(v) for v in out.values()}) > 1:
        return None  # a text held the separator: read it the ordinary way
    return out


def _fetch_aggregated(stmt, fields) -> dict[str, np.ndarray] | None:
    raw = db.session.connection().connection.driver_connection
    return _unpack(_run_aggregated(raw, _aggregated_sql(_sql_text(stmt), fields)), fields)


#: Parts the whole-table indicator read is split into, read on that many more connections
#: at once (one PostgreSQL backend each: the machine has more than one core).
PARALLEL_PARTS = 2


def _fetch_parallel(jobs: list[tuple[str, Sequence]]) -> list[list]:
    """Run aggregated reads at the same time, each on a connection of its own, all with the
    snapshot this transaction exports (``pg_export_snapshot``, as ``pg_dump --jobs`` does):
    they see exactly the same data. Returns the raw chunks of each read, in order."""
    import threading

    session_raw = db.session.connection().connection.driver_connection
    with session_raw.cursor() as cur:
        snapshot_id = cur.execute("SELECT pg_export_snapshot()").fetchone()[0]
    engine = db.engine
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []

    def work(i: int, sql: str) -> None:
        import psycopg

        pooled = engine.raw_connection()
        try:
            raw = pooled.driver_connection
            raw.rollback()
            raw.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            try:
                with raw.cursor() as cur:
                    cur.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
                    cur.execute("SET LOCAL jit = off")
                results[i] = _run_aggregated(raw, sql)
            finally:
                raw.rollback()
                raw.isolation_level = None
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller's thread)
            errors.append(exc)
        finally:
            pooled.close()

    threads = [threading.Thread(target=work, args=(i, sql), daemon=True)
               for i, (sql, _fields) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:  # the exporting transaction stays open meanwhile
        t.join()
    if errors:
        raise errors[0]
    return results


def _heap_parts(model, parts: int) -> list:
    """``parts`` conditions splitting a table's heap pages (TID range scans), for reading
    it on that many connections at once."""
    pages = db.session.execute(
        select(func.pg_relation_size(literal_column(f"'{model.__tablename__}'::regclass")))
    ).scalar() // 8192 + 1
    step = -(-pages // parts)
    table = model.__tablename__
    return [
        literal_column(f"{table}.ctid >= '({i * step},0)'::tid AND "
                       f"{table}.ctid < '({(i + 1) * step},0)'::tid")
        if i < parts - 1 else literal_column(f"{table}.ctid >= '({i * step},0)'::tid")
        for i in range(parts)
    ]


def _fetch_plain(stmt, fields) -> dict[str, np.ndarray]:
    rows = db.session.execute(stmt).all()
    out = {}
    for i, (name, kind) in enumerate(fields):
        column = [r[i] for r in rows]
        if kind == "int":
            out[name] = np.array([0 if v is None else int(v) for v in column], dtype=np.int64)
        elif kind == "float":
            out[name] = np.array([np.nan if v is None else float(v) for v in column],
                                 dtype=np.float64)
        elif kind == "date":
            out[name] = np.array(
                [_NO_DATE if v is None else np.datetime64(str(v)[:10], "D") for v in column],
                dtype="datetime64[D]",
            )
        else:
            out[name] = np.array(["" if v is None else str(v) for v in column], dtype=object)
    return out


@dataclass
class _Windows:
    """The distinct inspection windows of the plans (days) and what they cut off."""

    today: date
    since: dict[int, datetime]  # window -> ended_at cutoff
    widest: int


def _windows(plans, as_of: datetime) -> _Windows:
    days = sorted({inspection_window(p) for p in plans})
    return _Windows(
        today=local_date(as_of),
        since={w: as_of - timedelta(days=w) for w in days},
        widest=days[-1] if days else 0,
    )


def _code_of(column, enum_type):
    """An enum column as the position of its member in the enum (an integer is cheaper to
    ship and to map than the stored name)."""
    return case({m.name: i for i, m in enumerate(enum_type)},
                value=type_coerce(column, String), else_=-1)


def _members(enum_type, codes: np.ndarray) -> np.ndarray:
    """Codes of ``_code_of`` back to the members' values (object array)."""
    values = np.array([m.value for m in enum_type] + [""], dtype=object)
    return values[np.where(codes >= 0, codes, len(values) - 1)]


def _candidate_select(plans, windows: _Windows, restrict: bool):
    """Q1: (plan, declaration) candidates with every fact behind the entry requirements.

    ``restrict`` (few plans): from the category's products by primary keys to the version and
    its declaration (index lookups). Otherwise hash joins over whole tables, declarations by
    ``current_version_id`` (which has no index: fine for a scan, not for a lookup).
    """
    E = EvaluationPlan
    V, D, P, RF, CR = DeclarationVersion, Declaration, Product, ReferenceFlag, ComplianceRecord
    plan_ids = sorted({p.id for p in plans})
    flags = (
        select(RF.version_id.label("version_id"), func.count(RF.id).label("n"))
        .where(RF.cleared_at.is_(None))
        .group_by(RF.version_id)
        .subquery("open_flags")
    )
    widest = windows.widest
    bad = (
        excluding_records(windows.today, widest)
        .with_only_columns(
            CR.enterprise_id.label("enterprise_id"), func.max(CR.occurred_on).label("on")
        )
        .group_by(CR.enterprise_id)
        .subquery("bad_records")
    )
    ended_since = windows.since[widest]
    extra = [
        case((V.ended_at >= since, 1), else_=0).label(f"ended_{w}")
        for w, since in windows.since.items()
        if w != widest
    ]
    stmt = (
        select(
            D.id.label("declaration_id"),  # first: the aggregated read chunks by it
            E.id.label("plan_id"),
            P.version_id.label("version_id"),
            D.enterprise_id.label("enterprise_id"),
            _code_of(D.status, DeclarationStatus).label("status"),
            _code_of(D.kind, DeclarationKind).label("kind"),
            P.id.label("product_id"),
            case((V.standard_id.is_(None), 1), else_=0).label("standard_missing"),
            V.std_code.label("std_code"),
            func.coalesce(flags.c.n, 0).label("open_flags"),
            bad.c.on.label("bad_on"),
            func.coalesce(D.current_version_id, 0).label("current_version_id"),
            *extra,
        )
        .select_from(P)
        .join(E, and_(E.category_id == P.category_id, E.id.in_(plan_ids)))
    )
    if restrict:
        # Whether the version is the declaration's current one is checked in numpy (column
        # current_version_id): as a join condition PostgreSQL estimates it at one row and
        # then loops over the other joins.
        stmt = stmt.join(V, V.id == P.version_id).join(D, D.id == V.declaration_id)
    else:
        stmt = stmt.join(D, D.current_version_id == P.version_id).join(V, V.id == P.version_id)
    return (
        stmt.outerjoin(flags, flags.c.version_id == P.version_id)
        .outerjoin(bad, bad.c.enterprise_id == D.enterprise_id)
        .where(
            or_(
                D.status == DeclarationStatus.PUBLISHED,
                and_(D.status.in_(_ENDED), V.ended_at >= ended_since),
            )
        )
    )


def _value_select(plans, versions: np.ndarray | None):
    """Q2: the indicators of candidate versions that matter, long: (version, plan, position,
    value, stated, violating indicator id).

    ``versions`` (few plans): only those versions' indicators, by the version index (on
    PostgreSQL the ids are in the statement; elsewhere a subquery on the categories'
    products). None: every indicator of the plans' benchmarks in one scan; the versions that
    are not candidates are dropped in numpy.
    """
    E, PI = EvaluationPlan, PlanIndicator
    I, B, P = Indicator, BenchmarkIndicator, Product
    plan_ids = sorted({p.id for p in plans})
    core = (
        select(PI.plan_id.label("plan_id"), PI.position.label("position"), B.id.label("benchmark_id"))
        .join(E, E.id == PI.plan_id)
        .join(B, and_(B.category_id == E.category_id, B.code == PI.benchmark_code))
        .where(PI.plan_id.in_(plan_ids))
        .subquery("core_benchmarks")
    )
    stated = or_(func.coalesce(I.mingshi, "") != "", I.cmp_status == "below_recommended")
    violation = I.cmp_status == "violation"
    stmt = (
        select(
            I.version_id.label("version_id"),
            func.coalesce(core.c.plan_id, 0).label("plan_id"),
            func.coalesce(core.c.position, -1).label("position"),
            I.cmp_guaranteed.label("value"),
            case((stated, 1), else_=0).label("stated"),
            case((violation, I.id), else_=0).label("violation"),
        )
        .select_from(I)
        .outerjoin(core, core.c.benchmark_id == I.benchmark_indicator_id)
        .where(or_(core.c.plan_id.is_not(None), violation))
    )
    if versions is not None and _is_postgresql():
        ids = ",".join(str(int(v)) for v in np.unique(np.asarray(versions, dtype=np.int64)))
        stmt = stmt.where(I.version_id == func.any(literal_column(f"ARRAY[{ids or 0}]::int4[]")))
    elif versions is not None:
        categories = sorted({p.category_id for p in plans})
        stmt = stmt.where(
            I.version_id.in_(select(P.version_id).where(P.category_id.in_(categories)))
        )
    return stmt


_CANDIDATE_FIELDS = (
    ("declaration_id", "int"),
    ("plan_id", "int"),
    ("version_id", "int"),
    ("enterprise_id", "int"),
    ("status", "int"),
    ("kind", "int"),
    ("product_id", "int"),
    ("standard_missing", "int"),
    ("std_code", "text"),
    ("open_flags", "int"),
    ("bad_on", "date"),
    ("current_version_id", "int"),
)
_VALUE_FIELDS = (
    ("version_id", "int"),
    ("plan_id", "int"),
    ("position", "int"),
    ("value", "float"),
    ("stated", "int"),
    ("violation", "int"),
)

#: Below this many plans the reads go through indexes (the categories' products, the
#: candidate versions' indicators); from it on they scan whole tables with hash joins and
#: drop what is not a candidate in numpy.
RESTRICT_BELOW_PLANS = 20


# --------------------------------------------------------------------------- candidates


class Candidates:
    """The candidates of several plans, one row per (plan, declaration), sorted by plan (in
    the order given) and declaration id, with the exclusion masks of every requirement.

    ``values[:, j]`` is the row's value of its plan's j-th core indicator (NaN where the plan
    has fewer indicators). ``masks[code]`` is True where that exclusion reason applies;
    ``excluded`` is their union. ``bounds[plan_id]`` = (start, stop) rows of that plan.
    """

    def __init__(self, plans, as_of: datetime, rows: dict, long: dict, windows):
        self.plans = list(plans)
        self.as_of = as_of
        self.index_of = {p.id: i for i, p in enumerate(self.plans)}
        self.keys = {p.id: plan_keys(p) for p in self.plans}
        self.width = max((len(k) for k in self.keys.values()), default=0)
        self._load(rows, windows)
        self._pivot(long)
        self._requirements(windows)

    # -- rows -------------------------------------------------------------------------------

    def _load(self, rows: dict[str, np.ndarray], windows: _Windows) -> None:
        """Keep one row per (plan, declaration) of the declaration's version in force (or
        last version), ended ones only inside their plan's window; sort them."""
        plan_ids = rows["plan_id"]
        plan_pos = np.full(int(plan_ids.max(initial=0)) + 1, -1, dtype=np.int64)
        for pid, i in self.index_of.items():
            if pid < len(plan_pos):
                plan_pos[pid] = i
        plan_idx = plan_pos[plan_ids]
        keep = (rows["current_version_id"] == rows["version_id"]) & (plan_idx >= 0)
        status = rows["status"]
        ended = status != _STATUS_CODE[DeclarationStatus.PUBLISHED]
        for i, plan in enumerate(self.plans):
            w = inspection_window(plan)
            if w != windows.widest:
                keep &= ~((plan_idx == i) & ended & (rows[f"ended_{w}"] != 1))
        at = np.flatnonzero(keep)
        decl, product, plan_idx = rows["declaration_id"][at], rows["product_id"][at], plan_idx[at]
        # One row per (plan, declaration): the label product is the first of the category.
        order = np.lexsort((product, decl, plan_idx))
        first = np.ones(len(order), dtype=bool)
        first[1:] = (plan_idx[order][1:] != plan_idx[order][:-1]) | (
            decl[order][1:] != decl[order][:-1]
        )
        take = at[order[first]]
        self.n = len(take)
        self.plan_idx = plan_pos[plan_ids[take]]
        self.declaration_id = rows["declaration_id"][take]
        self.version_id = rows["version_id"][take]
        self.enterprise_id = rows["enterprise_id"][take]
        self.product_id = rows["product_id"][take]
        self.status = _members(DeclarationStatus, rows["status"][take])
        self.kind = _members(DeclarationKind, rows["kind"][take])
        self.standard_missing = rows["standard_missing"][take] == 1
        self.std_code = rows["std_code"][take]
        self.open_flags = rows["open_flags"][take]
        self.bad_on = rows["bad_on"][take]
        starts = np.searchsorted(self.plan_idx, np.arange(len(self.plans)), side="left")
        stops = np.searchsorted(self.plan_idx, np.arange(len(self.plans)), side="right")
        self.bounds = {p.id: (int(a), int(b)) for p, a, b in zip(self.plans, starts, stops)}

    def _pivot(self, long: dict) -> None:
        """Long indicator rows -> the (rows x width) matrices of worst values and 明示."""
        n, k = self.n, max(self.width, 1)
        # Sign per (plan, position): the worst value is the smallest after signing.
        pos_col = {}
        sign = np.ones((len(self.plans), 1 + max(
            (max((pi.position for pi in p.indicators), default=0) for p in self.plans),
            default=0,
        )))
        for i, plan in enumerate(self.plans):
            for j, pi in enumerate(plan.indicators):
                pos_col[(i, int(pi.position))] = j
                sign[i, int(pi.position)] = 1.0 if pi.direction == "higher" else -1.0
        worst = np.full(n * k, np.inf)
        stated = np.zeros(n * k, dtype=bool)
        self.violations = np.zeros(n, dtype=np.int64)
        versions = long["version_id"].astype(np.int64)
        if n and len(versions):
            rows = self._rows_of(long["plan_id"].astype(np.int64), versions)
            plan_i = np.where(rows >= 0, self.plan_idx[np.maximum(rows, 0)], -1)
            position = long["position"].astype(np.int64)
            hit = (rows >= 0) & (position >= 0) & (position < sign.shape[1])
            col = np.full(len(rows), -1, dtype=np.int64)
            if hit.any():
                lookup = np.full(sign.shape, -1, dtype=np.int64)
                for (i, pos), j in pos_col.items():
                    lookup[i, pos] = j
                col[hit] = lookup[plan_i[hit], position[hit]]
                hit &= col >= 0
            flat = rows[hit] * k + col[hit]
            signed = long["value"][hit] * sign[plan_i[hit], position[hit]]
            np.fmin.at(worst, flat, signed)
            stated[flat[long["stated"][hit] > 0]] = True
            self.violations = self._violation_counts(versions, long["violation"].astype(np.int64))
        worst = worst.reshape(n, k)
        worst[np.isinf(worst)] = np.nan
        col_sign = np.ones((n, k))
        for i, plan in enumerate(self.plans):
            a, b = self.bounds[plan.id]
            for j, pi in enumerate(plan.indicators):
                col_sign[a:b, j] = 1.0 if pi.direction == "higher" else -1.0
        self.values = (worst * col_sign + 0.0)[:, : self.width]
        self.stated = stated.reshape(n, k)[:, : self.width]

    def _rows_of(self, plan_ids: np.ndarray, versions: np.ndarray) -> np.ndarray:
        """The candidate row of each (plan id, version) pair, -1 where there is none."""
        plan_pos = np.full(max(int(plan_ids.max(initial=0)), max(self.index_of, default=0)) + 1,
                           -1, dtype=np.int64)
        for pid, i in self.index_of.items():
            plan_pos[pid] = i
        plan_i = np.where(plan_ids > 0, plan_pos[np.clip(plan_ids, 0, len(plan_pos) - 1)], -1)
        top = int(max(versions.max(initial=0), self.version_id.max(initial=0))) + 1
        first = np.full(top, -1, dtype=np.int64)
        first[self.version_id] = np.arange(self.n)
        rows = first[versions]
        ok = (rows >= 0) & (plan_i >= 0)
        ok[ok] = self.plan_idx[rows[ok]] == plan_i[ok]
        shared = np.bincount(self.version_id, minlength=top)[versions] > 1
        if shared.any():  # a version that is a candidate of several plans: look each up
            key = (self.plan_idx << 32) | self.version_id
            order = np.argsort(key, kind="stable")
            want = (plan_i[shared] << 32) | versions[shared]
            at = np.searchsorted(key[order], want)
            at = np.minimum(at, max(len(order) - 1, 0))
            found = key[order][at] == want if len(order) else np.zeros(len(want), dtype=bool)
            rows[shared] = np.where(found, order[at], -1)
            ok[shared] = found
        return np.where(ok, rows, -1)

    def _violation_counts(self, versions: np.ndarray, indicator_ids: np.ndarray) -> np.ndarray:
        """Indicators with a mandatory-limit violation, per candidate row (its version)."""
        mark = indicator_ids > 0
        if not mark.any():
            return np.zeros(self.n, dtype=np.int64)
        pairs = np.unique(np.stack([versions[mark], indicator_ids[mark]]), axis=1)
        per_version = pd.Series(1, index=pairs[0]).groupby(level=0).sum()
        return per_version.reindex(self.version_id, fill_value=0).to_numpy(dtype=np.int64)

    # -- requirements -----------------------------------------------------------------------

    def _requirements(self, windows: _Windows) -> None:
        n, width = self.n, self.width
        rules = [entry_rules_of(p) for p in self.plans]
        by_row = lambda per_plan: np.asarray(per_plan)[self.plan_idx] if n else \
            np.zeros(0, dtype=np.asarray(per_plan).dtype)  # noqa: E731
        masks: dict[str, np.ndarray] = {}
        masks["not_published"] = self.status != DeclarationStatus.PUBLISHED.value
        masks["number_invalid"] = ~_number_valid(self.kind, self.std_code, self.standard_missing)
        masks["reference_invalid"] = (self.open_flags > 0) & by_row(
            [bool(r["require_references_valid"]) for r in rules]
        )
        masks["violation"] = self.violations > 0
        self.stated &= by_row([bool(r["exclude_mingshi_on_core"]) for r in rules])[:, None]
        masks["mingshi_on_core"] = self.stated.any(axis=1)
        window = by_row([inspection_window(p) for p in self.plans])
        masks["nonconforming_inspection"] = excluded_within(self.bad_on, window, windows.today)
        used = np.zeros((n, width), dtype=bool)
        floors = np.full((n, width), np.nan)
        higher = np.ones((n, width), dtype=bool)
        for plan in self.plans:
            a, b = self.bounds[plan.id]
            for j, pi in enumerate(plan.indicators):
                used[a:b, j] = True
                floors[a:b, j] = float(pi.floor)
                higher[a:b, j] = pi.direction == "higher"
        self.missing = np.isnan(self.values) & used
        masks["missing_value"] = self.missing.any(axis=1)
        with np.errstate(invalid="ignore"):
            below = np.where(higher, self.values < floors, self.values > floors)
        self.below = below & used & ~self.missing
        masks["below_floor"] = self.below.any(axis=1)
        self.floors = floors
        self.masks = masks
        excluded = np.zeros(n, dtype=bool)
        for mask in masks.values():
            excluded |= mask
        self.excluded = excluded

    # -- reasons ----------------------------------------------------------------------------

    def _key_texts(self, flags: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """", "-joined keys (JSON-escaped) of the columns flagged in each of ``rows``."""
        out = np.full(len(rows), "", dtype=_STR)
        keys = self._escaped_keys[self.plan_idx[rows]]
        for j in range(self.width):
            on = flags[rows, j]
            key = keys[:, j]
            both = on & (out != "")
            out = np.where(both, np.strings.add(np.strings.add(out, ", "), key),
                           np.where(on, key, out))
        return out

    @cached_property
    def _escaped_keys(self) -> np.ndarray:
        """(plans x width) indicator keys as JSON string contents ("" past a plan's end)."""
        keys = np.full((len(self.plans), max(self.width, 1)), "", dtype=_STR)
        for i, plan in enumerate(self.plans):
            for j, key in enumerate(self.keys[plan.id]):
                keys[i, j] = json.dumps(key, ensure_ascii=False)[1:-1]
        return keys

    def _details(self, code: str, rows: np.ndarray) -> np.ndarray:
        """The detail of ``code`` for each of ``rows``, JSON-escaped: built with numpy string
        operations (the few free texts, an invalid number or below-floor values, in Python)."""
        if code == "not_published":
            return self.status[rows].astype(_STR)
        if code == "number_invalid":
            return np.array([json.dumps(str(t), ensure_ascii=False)[1:-1]
                             for t in self.std_code[rows]], dtype=_STR)
        if code == "reference_invalid":
            return self.open_flags[rows].astype(_STR)
        if code == "violation":
            return self.violations[rows].astype(_STR)
        if code == "mingshi_on_core":
            return self._key_texts(self.stated, rows)
        if code == "nonconforming_inspection":
            return np.datetime_as_string(self.bad_on[rows], unit="D").astype(_STR)
        if code == "missing_value":
            return self._key_texts(self.missing, rows)
        texts = []
        for row in rows.tolist():
            keys = self.keys[self.plans[self.plan_idx[row]].id]
            texts.append(json.dumps("; ".join(
                f"{k}: {_fmt(self.values[row, j])} (floor {_fmt(self.floors[row, j])})"
                for j, k in enumerate(keys)
                if self.below[row, j]
            ), ensure_ascii=False)[1:-1])
        return np.array(texts, dtype=_STR)

    @cached_property
    def reason_texts(self) -> np.ndarray:
        """Per row, the JSON of its exclusion reasons as a run entry stores it:
        '[{"code": ..., "detail": ...}, ...]' with the codes in their order; "[]" for an
        eligible row. Built column-wise for all rows at once (a full regeneration has
        hundreds of thousands of excluded rows)."""
        out = np.full(self.n, "", dtype=_STR)
        for code in EXCLUSION_CODES:
            rows = np.flatnonzero(self.masks[code])
            if not len(rows):
                continue
            part = np.strings.add(
                np.strings.add(f'{{"code": "{code}", "detail": "', self._details(code, rows)),
                '"}',
            )
            before = out[rows]
            out[rows] = np.where(before == "", part,
                                 np.strings.add(np.strings.add(before, ", "), part))
        return np.strings.add(np.strings.add("[", out), "]")

    def reasons_of(self, rows: np.ndarray) -> list[list[dict]]:
        """The exclusion reasons of ``rows`` as lists of {"code", "detail"}."""
        texts = self.reason_texts[rows].tolist()
        return [json.loads(t) for t in texts]

    # -- one plan ---------------------------------------------------------------------------

    def snapshot(self, plan) -> Snapshot:
        a, b = self.bounds[plan.id]
        keys = self.keys[plan.id]
        index = pd.Index(self.declaration_id[a:b], name="declaration_id")
        frame = pd.DataFrame(
            {
                "version_id": self.version_id[a:b],
                "enterprise_id": self.enterprise_id[a:b],
                "status": self.status[a:b],
                "kind": self.kind[a:b],
                "std_code": self.std_code[a:b],
                "product_id": pd.array(
                    np.where(self.product_id[a:b] > 0, self.product_id[a:b], 0), dtype="Int64"
                ),
                **{k: self.values[a:b, j] for j, k in enumerate(keys)},
            },
            index=index,
        )
        excluded = self.excluded[a:b]
        exclusions = pd.DataFrame(
            {"reasons": self.reasons_of(a + np.flatnonzero(excluded))},
            index=index[excluded],
        )
        matrix = frame.loc[~excluded, keys].astype("float64")
        return Snapshot(self.as_of, keys, frame, matrix, exclusions)


def read(plans: Sequence, *, as_of: datetime | None = None) -> Candidates:
    """Read and split the candidates of ``plans`` (see the module docstring)."""
    plans = list(plans)
    as_of = as_of or utcnow()
    windows = _windows(plans, as_of)
    fields = list(_CANDIDATE_FIELDS)
    fields += [(f"ended_{w}", "int") for w in windows.since if w != windows.widest]
    if not plans:
        empty = {"int": np.int64, "float": np.float64, "date": "datetime64[D]", "text": object}
        rows = {name: np.zeros(0, dtype=empty[kind]) for name, kind in fields}
        long = {name: np.zeros(0, dtype=empty[kind]) for name, kind in _VALUE_FIELDS}
    else:
        restrict = len(plans) < RESTRICT_BELOW_PLANS
        if restrict or not _is_postgresql():
            rows = _fetch(_candidate_select(plans, windows, restrict), fields)
            versions = rows["version_id"] if restrict else None
            long = _fetch(_value_select(plans, versions), _VALUE_FIELDS)
        else:
            rows, long = _read_in_parallel(plans, windows, fields)
    return Candidates(plans, as_of, rows, long, windows)


def _read_in_parallel(plans, windows: _Windows, fields) -> tuple[dict, dict]:
    """The two reads of many plans on PostgreSQL, at the same time: the candidates, and the
    indicator values in ``PARALLEL_PARTS`` page ranges of the indicators table, each on a
    connection of its own, all with one snapshot."""
    value_stmt = _value_select(plans, None)
    jobs = [(_aggregated_sql(_sql_text(_candidate_select(plans, windows, False)), fields),
             fields)]
    for part in _heap_parts(Indicator, PARALLEL_PARTS):
        jobs.append((_aggregated_sql(_sql_text(value_stmt.where(part)), _VALUE_FIELDS),
                     _VALUE_FIELDS))
    results = _fetch_parallel(jobs)
    rows = _unpack(results[0], fields)
    parts = [_unpack(chunks, _VALUE_FIELDS) for chunks in results[1:]]
    if rows is None:  # a text held the separator
        rows = _fetch_plain(_candidate_select(plans, windows, False), fields)
    long = {name: np.concatenate([p[name] for p in parts]) for name, _ in _VALUE_FIELDS}
    return rows, long


def snapshot(plan, *, as_of: datetime | None = None) -> Snapshot:
    """Read and split a plan's candidates (see the module docstring)."""
    return read([plan], as_of=as_of).snapshot(plan)


def eligible(plan, *, as_of: datetime | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(matrix of the eligible declarations, exclusions with their reasons) for a plan."""
    snap = snapshot(plan, as_of=as_of)
    return snap.matrix, snap.exclusions
