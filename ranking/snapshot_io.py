"""A run's entries in one stream: COPY (text format) on PostgreSQL, executemany elsewhere.

The columns are encoded with numpy, never row by row; a float is written as the shortest decimal
that reads back as the same float, so the stored entries are exactly what was computed.
"""

from __future__ import annotations

import contextvars
import json
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.extensions import db
from ranking.models import RunEntry

if TYPE_CHECKING:
    from ranking.runs import _PlanRows, _Scores

__all__ = [
    "ENTRY_CHUNK",
    "ENTRY_COLUMNS",
    "EntryColumns",
    "insert_entries",
]

ENTRY_CHUNK = 2_000  # rows per chunk of the COPY stream (PostgreSQL) or per executemany

ENTRY_COLUMNS = (
    "run_id", "declaration_id", "version_id", "enterprise_id", "eligible",
    "exclusion_reasons", "values", "tiers", "composite", "composite_rank", "is_leader",
    "stars", "product_id", "removed_reason",
)


def _entry_sql(dialect) -> tuple[str, str]:
    """(COPY statement, INSERT statement) for the entry columns, quoted for ``dialect``
    ("values" is a reserved word)."""
    quote = dialect.identifier_preparer.quote
    table = quote(RunEntry.__tablename__)
    names = ", ".join(quote(c) for c in ENTRY_COLUMNS)
    marks = ", ".join("?" * len(ENTRY_COLUMNS))
    return (f"COPY {table} ({names}) FROM STDIN",
            f"INSERT INTO {table} ({names}) VALUES ({marks})")


# -- writing entries -----------------------------------------------------------------------

_STR = np.dtypes.StringDType()
_NULL = "\\N"  # NULL in COPY's text format
_SMALL_INTS = np.array([str(i) for i in range(256)], dtype=object)


def _float_text(x: np.ndarray) -> np.ndarray:
    """Each float as a decimal that reads back as exactly the same float (NaN: "nan").

    The declared values are short decimals (4.6, 38.0): for those the text is built with
    integer arithmetic, vectorised (``k / 10**d == x`` means ``x`` is the double nearest to
    the decimal ``k·10^-d``, so the text reads back as ``x``); the others (composite scores)
    go through ``repr``, the shortest exact form.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.full(len(x), "nan", dtype=_STR)
    todo = np.isfinite(x)
    for d in range(7):
        if not todo.any():
            break
        scale = 10.0**d
        hit = todo & (np.abs(x) < 2.0**53 / scale)  # k = x·10^d is an exact integer double
        k = np.zeros(len(x))
        k[hit] = np.rint(x[hit] * scale)
        hit[hit] = (k[hit] / scale) == x[hit]
        if hit.any():
            n = np.abs(k[hit]).astype(np.int64)
            sign = np.where(np.signbit(x[hit]), "-", "").astype(_STR)
            whole = (n // 10**d).astype(_STR)
            frac = np.strings.zfill((n % 10**d).astype(_STR), d) if d else "0"
            out[hit] = np.strings.add(np.strings.add(np.strings.add(sign, whole), "."), frac)
            todo &= ~hit
    rest = np.flatnonzero(todo)
    if len(rest):
        out[rest] = [repr(v) for v in x[rest].tolist()]
    return out


def _number_texts(x: np.ndarray, null: str) -> np.ndarray:
    """``_float_text`` of each value (``null`` for NaN) as an object array, formatting each
    distinct value once: declared values repeat (they are rounded to what the standard
    prints), so a column of millions has a few thousand of them."""
    codes, uniques = pd.factorize(np.asarray(x, dtype=np.float64), use_na_sentinel=True)
    texts = np.append(_float_text(np.asarray(uniques, dtype=np.float64)).astype(object), null)
    return texts[np.where(codes >= 0, codes, len(texts) - 1)]


def _int_texts(a: np.ndarray, null: str | None = None) -> np.ndarray:
    """Integers as text (object array); with ``null``, that text where the value is <= 0."""
    a = np.asarray(a, dtype=np.int64)
    if len(a) and 0 <= a.min() and a.max() < len(_SMALL_INTS):
        out = _SMALL_INTS[a]
    else:
        out = np.array(list(map(str, a.tolist())), dtype=object)
    if null is not None:
        out = np.where(a > 0, out, null)
    return out


class EntryColumns:
    """The run entries of the written plans (rows in plan, declaration order), encoded for
    the writer: COPY text lines on PostgreSQL, parameter tuples elsewhere.

    Numbers are turned into text column-wise (each distinct value once); each line is then
    one ``%`` formatting with a template per plan, which carries the plan's indicator keys:
    the JSON of values and tiers is part of the line template, not built separately.
    """

    def __init__(self, cand, scores: _Scores, written: list[tuple[_PlanRows, int]],
                 reasons: np.ndarray):
        self.spans = []  # (first, stop, keys) of each plan's rows in this object's order
        first = 0
        for pr, _run_id in written:
            self.spans.append((first, first + pr.count, pr.keys))
            first += pr.count
        rows = np.concatenate([np.arange(pr.start, pr.stop) for pr, _ in written]) \
            if written else np.zeros(0, dtype=np.int64)
        self.n = len(rows)
        run_of_plan = np.zeros(len(cand.plans), dtype=np.int64)
        for pr, run_id in written:
            run_of_plan[cand.index_of[pr.plan.id]] = run_id
        ok = ~cand.excluded[rows]
        self.eligible = ok
        self.run_id = run_of_plan[cand.plan_idx[rows]]
        self.declaration_id = cand.declaration_id[rows]
        self.version_id = cand.version_id[rows]
        self.enterprise_id = cand.enterprise_id[rows]
        self.product_id = cand.product_id[rows]
        self.composite = np.where(ok, scores.composite[rows], np.nan)
        self.rank = np.where(ok, scores.rank[rows], 0)
        self.leader = ok & scores.leader[rows] & (self.product_id > 0)
        self.stars = np.where(ok, scores.stars[rows], 0)
        self.reasons = reasons[rows]
        width = max((len(keys) for _, _, keys in self.spans), default=0)
        self.values = cand.values[rows, :width]
        self.tiers = scores.tiers[rows, :width]

    def __len__(self) -> int:
        return self.n

    def _plan_slices(self, a: int, b: int):
        for first, stop, keys in self.spans:
            lo, hi = max(first, a), min(stop, b)
            if lo < hi:
                yield lo, hi, keys

    def copy_lines(self, a: int, b: int) -> list[str]:
        """COPY text lines of rows a..b (NULL as \\N). Only JSON text can hold a backslash
        (keys, reasons); JSON holds no tab, newline or other control character, so doubling
        those backslashes is all the escaping COPY's text format needs."""
        lines = np.empty(b - a, dtype=object)
        for lo, hi, keys in self._plan_slices(a, b):
            k = len(keys)
            quoted = [json.dumps(key, ensure_ascii=False).replace("\\", "\\\\")
                      .replace("%", "%%") for key in keys]
            obj = "{" + ", ".join(f"{q}: %s" for q in quoted) + "}"
            head = "%s\t%s\t%s\t%s\t"
            ok_line = head + "t\t[]\t" + obj + "\t" + obj + "\t%s\t%s\t%s\t%s\t%s\t\n"
            out_line = head + "f\t%s\t" + obj + "\t{}\t\\N\t\\N\tf\t0\t%s\t\n"
            s = slice(lo, hi)
            ok = self.eligible[s]
            ids = [self.run_id[s].tolist(), self.declaration_id[s].tolist(),
                   self.version_id[s].tolist(), self.enterprise_id[s].tolist()]
            values = [_number_texts(self.values[s, j], "null") for j in range(k)]
            product = _int_texts(self.product_id[s], _NULL)
            at = np.flatnonzero(ok)
            if len(at):
                cols = [np.asarray(c)[at].tolist() for c in ids]
                cols += [v[at].tolist() for v in values]
                cols += [_int_texts(self.tiers[s][at, j]).tolist() for j in range(k)]
                cols += [_number_texts(self.composite[s][at], _NULL).tolist(),
                         _int_texts(self.rank[s][at], _NULL).tolist(),
                         np.where(self.leader[s][at], "t", "f").tolist(),
                         _int_texts(self.stars[s][at]).tolist(), product[at].tolist()]
                lines[at + lo - a] = [ok_line % t for t in zip(*cols)]
            at = np.flatnonzero(~ok)
            if len(at):
                reasons = self.reasons[s][at].tolist()
                if "\\" in "".join(reasons):
                    reasons = [t.replace("\\", "\\\\") for t in reasons]
                cols = [np.asarray(c)[at].tolist() for c in ids] + [reasons]
                cols += [v[at].tolist() for v in values] + [product[at].tolist()]
                lines[at + lo - a] = [out_line % t for t in zip(*cols)]
        return lines.tolist()

    def tuples(self, a: int, b: int) -> list[tuple]:
        """Rows a..b as DB-API parameters (executemany), the JSON columns as text."""
        out: list[tuple] = []
        for lo, hi, keys in self._plan_slices(a, b):
            obj = "{" + ", ".join(
                f"{json.dumps(key, ensure_ascii=False).replace('%', '%%')}: %s" for key in keys
            ) + "}"
            s = slice(lo, hi)
            values = [_number_texts(self.values[s, j], "null").tolist() for j in range(len(keys))]
            tiers = [_int_texts(self.tiers[s, j]).tolist() for j in range(len(keys))]
            for i, ok in enumerate(self.eligible[s].tolist()):
                r = lo + i
                composite = float(self.composite[r])
                out.append((
                    int(self.run_id[r]), int(self.declaration_id[r]), int(self.version_id[r]),
                    int(self.enterprise_id[r]), ok, self.reasons[r] if not ok else "[]",
                    obj % tuple(v[i] for v in values),
                    obj % tuple(t[i] for t in tiers) if ok else "{}",
                    None if math.isnan(composite) else composite,
                    int(self.rank[r]) or None, bool(self.leader[r]), int(self.stars[r]),
                    int(self.product_id[r]) if self.product_id[r] > 0 else None, "",
                ))
        return out


#: The COPY the current ``insert_entries`` streams into (PostgreSQL), None elsewhere.
_entry_stream: contextvars.ContextVar = contextvars.ContextVar("entry_stream", default=None)


def _insert_chunk(rows: list) -> None:
    """Write one chunk of entries inside the session's transaction: into the open COPY on
    PostgreSQL (``rows`` are its text lines), one executemany elsewhere (parameter tuples)."""
    stream = _entry_stream.get()
    if stream is not None:
        stream.write("".join(rows))
        return
    conn = db.session.connection()
    conn.exec_driver_sql(_entry_sql(conn.dialect)[1], rows)


def insert_entries(entries: EntryColumns) -> None:
    """All entries in chunks of ``ENTRY_CHUNK`` rows (never ORM objects: a category holds
    thousands of declarations, a full regeneration millions).

    On PostgreSQL one COPY streams every chunk; psycopg's queued writer sends them from a
    thread of its own, so PostgreSQL inserts a chunk while the next one is being encoded
    (two cores: the encoding costs little more than the insert alone). A failure aborts the
    COPY and, with it, the transaction: nothing of the snapshot stays.
    """
    conn = db.session.connection()
    bounds = [(a, min(a + ENTRY_CHUNK, len(entries))) for a in range(0, len(entries), ENTRY_CHUNK)]
    if conn.dialect.name != "postgresql":
        for a, b in bounds:
            _insert_chunk(entries.tuples(a, b))
        return
    from psycopg.copy import QueuedLibpqWriter

    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(
        _entry_sql(conn.dialect)[0], writer=QueuedLibpqWriter(cur)
    ) as copy:
        token = _entry_stream.set(copy)
        try:
            for a, b in bounds:
                _insert_chunk(entries.copy_lines(a, b))
        finally:
            _entry_stream.reset(token)


