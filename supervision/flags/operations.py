"""Risk flags in the database: load the frame, compute with ``flags.risk``, store the change.

``recompute(...)`` works on one scope — some declarations, one product category, one region
(行政区划 prefix) or everything — in four steps:

1. **Load**, set-based. The declared indicators of the versions in force come in one SELECT per
   chunk of declarations, with the benchmark edition *in force today* merged in pandas (a new
   edition with a stricter limit flags old declarations; a catalogue correction clears them).
   Per-declaration facts come in one SELECT each: open complaints (举报), leader status on a
   published official list, cited or followed standards that are withdrawn or replaced.
2. **Compute** with ``risk.compute_flags``. The outlier check (implausible values) needs the
   whole category, not only the scope, so it runs on a narrow frame of every published value
   of the scope's categories, and its flags are kept for the scope. Copying (near-identical
   indicator table or standard text) is found with ``supervision.flags.similarity`` against the
   published enterprise standards of other enterprises in the same product category; a match
   flags *both* declarations, so the other side is written too.
3. **Diff** with the open flags (``risk.diff_flags`` / ``risk.changed_flags``): new flags are
   inserted, flags whose cause went away are cleared (``cleared_at``, ``cleared_reason``), flags
   whose severity or evidence changed are updated in place. Flags are never deleted.
4. **Write** in bulk (Core INSERT / UPDATE by primary key) plus one audit summary row. Nothing
   commits here: the job (or the CLI) commits once.

The read helpers used by pages, the API and the sampling slice are at the end:
``open_flags_of``, ``flags_of``, ``region_flags``, ``flag_counts``, ``risk_scores``, and
``request_recompute``, which any package to the right of declare (complaints, ranking hooks)
calls to have declarations re-flagged after the commit.

Settings (``current_app.config``): ``SUPERVISION_RISK`` — a mapping of ``risk.RiskConfig``
fields (thresholds, severities, weights); ``SUPERVISION_SIMILARITY`` — ``threshold`` (0.85),
``min_table_shingles`` (60), ``min_text_shingles`` (200), ``max_text_pages`` (200);
``PDF_TEXT_BUDGET`` (``declare.uploads.text_budget``) — what reading one standard text may
cost: counted first, then extracted in a child process with a hard time and memory limit
(``supervision.flags.extraction``). A text over it is not compared; its declaration gets a
``text_unchecked`` flag naming the limit, and the outcome is kept beside the uploads
(``minhash/unchecked-<sha256>-<pages>-<budget>.json``) so no recompute pays for it again;
a larger budget is another file name, so the text is tried again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import operator
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, case, func, insert, or_, select, text, true, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard, StandardStatus
from benchmarks.queries import status_clause
from core.auth import region_prefix
from core.clock import local_today
from core.extensions import db
from core.models import AuditLog, utcnow
from core.notifications import notify_each
from core.paging import PageNumbers
from declare.models import (
    Attachment,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeclarationVersion,
    Enterprise,
    Indicator,
    NormativeReference,
    Product,
)
from declare.queries import DeclarationLabel, declaration_labels
from ranking.models import EvaluationPlan, RankingRun, RunEntry, RunKind, RunStatus
from supervision.flags import copying, extraction, risk, similarity
from supervision.models import Complaint, ComplaintStatus, RiskFlag

__all__ = [
    "CLEAR_REASONS",
    "FlagPage",
    "RecomputeResult",
    "Scope",
    "flag_counts",
    "flags_of",
    "open_flags_of",
    "recompute",
    "region_flags",
    "request_recompute",
    "risk_config",
    "risk_scores",
]

log = logging.getLogger(__name__)

CHUNK = 20_000  # declarations per loaded frame: bounds memory on a full recompute
IN_CHUNK = 500  # ids per IN (...) list: under every database's bound-parameter limit
LOCK_KEY = 0x5249534B  # "RISK": one flag writer at a time on PostgreSQL
SEVERITY_RANK = {sev: i for i, sev in enumerate(risk.SEVERITIES)}  # high first
STATUSES = ("open", "cleared", "all")
SIMILARITY_DEFAULTS = {
    "threshold": 0.85,
    "min_table_shingles": 60,
    "min_text_shingles": 200,
    "max_text_pages": 200,
}

EMPTY_SIGNATURE = np.full(similarity.NUM_PERM, 0xFFFFFFFF, np.uint32)  # never matches

#: Why a flag was cleared (stored in ``RiskFlag.cleared_reason``; the pages translate it).
CLEAR_REASONS = ("cause_removed", "version_superseded", "declaration_ended", "duplicate")
INDICATOR_CODES = ("below_mandatory", "below_recommended_without_mingshi", "missing_test_method")


# --------------------------------------------------------------------------- settings


def risk_config() -> risk.RiskConfig:
    """The thresholds of ``flags.risk`` from ``SUPERVISION_RISK`` (defaults otherwise)."""
    return risk.RiskConfig.coerce(current_app.config.get("SUPERVISION_RISK") or None)


def _similarity_settings() -> dict[str, float]:
    given = dict(current_app.config.get("SUPERVISION_SIMILARITY") or {})
    unknown = sorted(set(given) - set(SIMILARITY_DEFAULTS))
    if unknown:
        raise ValueError(
            f"SUPERVISION_SIMILARITY: unknown setting(s) {unknown}; "
            f"allowed: {sorted(SIMILARITY_DEFAULTS)}"
        )
    settings = {**SIMILARITY_DEFAULTS, **given}
    if not 0.5 <= float(settings["threshold"]) <= 1.0:
        raise ValueError(
            "SUPERVISION_SIMILARITY threshold must be between 0.5 and 1 (LSH misses pairs far "
            f"below its banding threshold), got {settings['threshold']!r}"
        )
    return settings


# --------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class Scope:
    """What to recompute: explicit declarations, a category, a region, or (nothing set) all."""

    declaration_ids: tuple[int, ...] | None = None
    category_id: int | None = None
    region_code: str | None = None

    def __post_init__(self) -> None:
        given = [
            self.declaration_ids is not None,
            self.category_id is not None,
            self.region_code is not None,
        ]
        if sum(given) > 1:
            raise ValueError("give at most one of declaration_ids, category_id, region_code")
        if self.region_code is not None:
            region_prefix(self.region_code)  # raises on a malformed 行政区划 code

    @property
    def everything(self) -> bool:
        return (
            self.declaration_ids is None and self.category_id is None and self.region_code is None
        )

    def published(self) -> ColumnElement[bool]:
        """SQL: the published declarations of the scope (on ``Declaration``)."""
        in_force = Declaration.status == DeclarationStatus.PUBLISHED
        if self.declaration_ids is not None:
            return and_(in_force, _ids_in(Declaration.id, self.declaration_ids))
        if self.category_id is not None:
            versions = select(Product.version_id).where(Product.category_id == self.category_id)
            return and_(in_force, Declaration.current_version_id.in_(versions))
        if self.region_code is not None:
            prefix = region_prefix(self.region_code)
            ents = select(Enterprise.id).where(Enterprise.region_code.like(f"{prefix}%"))
            return and_(in_force, Declaration.enterprise_id.in_(ents))
        return in_force

    def flagged(self) -> ColumnElement[bool]:
        """SQL: stored flags belonging to the scope (on ``RiskFlag``)."""
        if self.declaration_ids is not None:
            return _ids_in(RiskFlag.declaration_id, self.declaration_ids)
        if self.category_id is not None:
            return RiskFlag.category_id == self.category_id
        if self.region_code is not None:
            return RiskFlag.region_code.like(f"{region_prefix(self.region_code)}%")
        return true()


@dataclass
class RecomputeResult:
    declarations: int = 0
    opened: int = 0
    cleared: int = 0
    updated: int = 0
    by_code: dict[str, int] = field(default_factory=dict)  # open flags written, per code
    skipped_checks: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "declarations": self.declarations,
            "opened": self.opened,
            "cleared": self.cleared,
            "updated": self.updated,
            "by_code": dict(sorted(self.by_code.items())),
        }


# --------------------------------------------------------------------------- loading


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _frame(stmt, columns: list[str]) -> pd.DataFrame:
    """The rows of ``stmt`` as a DataFrame, built column by column (``from_records`` inspects
    every row object, several times slower)."""
    rows = db.session.connection().execute(stmt).all()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame({c: list(values) for c, values in zip(columns, zip(*rows), strict=True)})


def _id_column(values: pd.Series) -> pd.Series:
    """Ids that may be missing, as nullable integers (the one dtype for merge keys on ids)."""
    return pd.to_numeric(values.astype(object), errors="coerce").astype("Int64")


def _editions(today: date) -> pd.DataFrame:
    """The benchmark editions in force today, one per (category, code): the catalogue is small,
    so it is read whole and the newest ``valid_from`` is picked in pandas."""
    mandatory, recommended = aliased(Standard), aliased(Standard)
    bi = BenchmarkIndicator
    stmt = (
        select(
            bi.category_id,
            bi.code,
            bi.unit,
            bi.direction,
            bi.mandatory_limit,
            mandatory.code,
            bi.recommended_value,
            recommended.code,
        )
        .outerjoin(mandatory, mandatory.id == bi.mandatory_source_id)
        .outerjoin(recommended, recommended.id == bi.recommended_source_id)
        .where(bi.valid_from <= today, or_(bi.valid_to.is_(None), bi.valid_to > today))
        .order_by(bi.category_id, bi.code, bi.valid_from)
    )
    frame = _frame(
        stmt,
        [
            "bench_category",
            "benchmark_code",
            "unit",
            "direction",
            "mandatory_limit",
            "mandatory_source",
            "recommended_value",
            "recommended_source",
        ],
    )
    frame = frame.drop_duplicates(["bench_category", "benchmark_code"], keep="last")
    frame["bench_category"] = _id_column(frame["bench_category"])
    frame["benchmark_code"] = frame["benchmark_code"].astype(object)
    for col in ("mandatory_limit", "recommended_value"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def _in_force(d, v) -> ColumnElement[bool]:
    """Join a declaration to its version in force. Both halves, so that the database can walk
    from a version to its declaration by key (``current_version_id`` has no index)."""
    return and_(v.id == d.current_version_id, v.declaration_id == d.id)


def _ids_in(column, ids) -> ColumnElement[bool]:
    """``column IN ids`` with the ids written into the statement: a scope of 100,000
    declarations (one bulk import) is past the 65,535 bind parameters a PostgreSQL statement
    may carry. The ids are ints from the database, so nothing is quoted from outside."""
    return column.in_(bindparam("scope_ids", [int(i) for i in ids], expanding=True,
                                literal_execute=True))


def _published_ids(scope: Scope) -> list[int]:
    stmt = select(Declaration.id).where(scope.published()).order_by(Declaration.id)
    return list(db.session.scalars(stmt))


def _chunk_clause(scope: Scope, ids: list[int]) -> ColumnElement[bool]:
    """SQL for one chunk of the scope's published declarations (an id range for big scopes)."""
    if scope.declaration_ids is not None:
        return and_(Declaration.status == DeclarationStatus.PUBLISHED, Declaration.id.in_(ids))
    return and_(scope.published(), Declaration.id.between(ids[0], ids[-1]))


def _indicator_frame(where: ColumnElement[bool], editions: pd.DataFrame) -> pd.DataFrame:
    """One row per declared indicator of the versions in force (a row with empty indicator
    columns for a version without indicators), with today's benchmark edition merged in."""
    d, v, i, b = Declaration, DeclarationVersion, Indicator, BenchmarkIndicator
    stmt = (
        select(
            d.id,
            v.id,
            d.enterprise_id,
            i.id,
            i.name,
            b.code,
            b.category_id,
            i.cmp_guaranteed,
            i.cmp_status,
            i.mingshi,
            i.test_method,
            i.unit,
        )
        .join(v, _in_force(d, v))
        .outerjoin(i, i.version_id == v.id)
        .outerjoin(b, b.id == i.benchmark_indicator_id)
        .where(where)
        .order_by(v.id, i.position, i.id)
    )
    frame = _frame(
        stmt,
        [
            "declaration_id",
            "version_id",
            "enterprise_id",
            "indicator_id",
            "indicator_name",
            "benchmark_code",
            "bench_category",
            "guaranteed",
            "cmp_status",
            "mingshi",
            "test_method",
            "declared_unit",
        ],
    )
    frame["guaranteed"] = pd.to_numeric(frame["guaranteed"], errors="coerce").astype(float)
    # A chunk without any benchmark-linked indicator (every catalogue declaration, an own
    # standard of unlinked indicators) reads these columns as all-None objects: give them the
    # dtypes of ``editions`` so that the merge never depends on what the chunk happens to hold.
    frame["bench_category"] = _id_column(frame["bench_category"])
    frame["benchmark_code"] = frame["benchmark_code"].astype(object)
    frame = frame.merge(editions, how="left", on=["bench_category", "benchmark_code"])
    # The guaranteed value is in the benchmark's canonical unit (stored at publication).
    frame["unit"] = frame["unit"].where(frame["unit"].notna(), frame["declared_unit"])
    return frame.drop(columns=["declared_unit"])


def _declaration_facts(where: ColumnElement[bool], today: date) -> dict[str, Any]:
    """Per declaration of the chunk: who and where (``meta``), product categories
    (``products``), open complaints, leader lists and the withdrawn or replaced standards it
    cites or follows. One SELECT each; the last three are small (only what matches)."""
    d, v = Declaration, DeclarationVersion
    chunk_ids = select(d.id).where(where)
    versions = select(d.current_version_id).where(where)

    meta = _frame(
        select(d.id, d.current_version_id, d.enterprise_id, Enterprise.region_code, d.kind)
        .join(Enterprise, Enterprise.id == d.enterprise_id)
        .where(where),
        ["declaration_id", "version_id", "enterprise_id", "region_code", "kind"],
    )
    meta["enterprise_kind"] = meta["kind"].map(lambda k: k is DeclarationKind.ENTERPRISE)
    products = _frame(
        select(Product.version_id, Product.category_id)
        .where(Product.version_id.in_(versions))
        .distinct(),
        ["version_id", "category_id"],
    )

    complaints = db.session.execute(
        select(Complaint.declaration_id, Complaint.enterprise_id, Complaint.number)
        .where(
            Complaint.status == ComplaintStatus.OPEN,
            or_(
                Complaint.declaration_id.in_(chunk_ids),
                and_(
                    Complaint.declaration_id.is_(None),
                    Complaint.enterprise_id.in_(select(d.enterprise_id).where(where)),
                ),
            ),
        )
        .order_by(Complaint.id)
    ).all()

    leaders: dict[int, list[dict[str, Any]]] = {}
    for decl, run_id, plan_id, title, year in db.session.execute(
        select(
            RunEntry.declaration_id,
            RankingRun.id,
            EvaluationPlan.id,
            EvaluationPlan.title,
            EvaluationPlan.year,
        )
        .join(RankingRun, RankingRun.id == RunEntry.run_id)
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(
            RunEntry.declaration_id.in_(chunk_ids),
            RunEntry.is_leader.is_(True),
            RankingRun.kind == RunKind.OFFICIAL,
            RankingRun.status == RunStatus.PUBLISHED,
        )
        .order_by(RunEntry.declaration_id, RankingRun.id)
    ):
        leaders.setdefault(decl, []).append(
            {"run_id": run_id, "plan_id": plan_id, "plan": title, "year": year}
        )

    # Withdrawn today, or with a replacement announced: the rule of declare.tasks._causes.
    cause = or_(
        status_clause(StandardStatus.WITHDRAWN, today), Standard.replaced_by_code.is_not(None)
    )
    cited = (
        select(NormativeReference.version_id, Standard.code, Standard.replaced_by_code)
        .join(Standard, Standard.id == NormativeReference.standard_id)
        .where(NormativeReference.version_id.in_(versions), cause)
    )
    followed = (
        select(v.id, Standard.code, Standard.replaced_by_code)
        .join(Standard, Standard.id == v.standard_id)
        .where(v.id.in_(versions), cause)
    )
    references: dict[int, list[dict[str, Any]]] = {}
    for version_id, code, replaced_by in db.session.execute(cited.union_all(followed)):
        references.setdefault(version_id, []).append({"code": code, "replaced_by": replaced_by})
    for refs in references.values():
        refs.sort(key=lambda r: r["code"])
    return {
        "meta": meta.drop(columns=["kind"]),
        "products": products,
        "complaints": complaints,
        "leaders": leaders,
        "references": references,
    }


def _with_declaration_columns(frame: pd.DataFrame, facts: dict[str, Any]) -> pd.DataFrame:
    """Add open_complaints, is_leader and withdrawn_references (repeated on each row)."""
    per_decl: dict[int, int] = {}
    per_ent: dict[int, int] = {}
    for decl, ent, _number in facts["complaints"]:
        if decl is None:
            per_ent[ent] = per_ent.get(ent, 0) + 1
        else:
            per_decl[decl] = per_decl.get(decl, 0) + 1
    decl_counts = frame["declaration_id"].map(per_decl).fillna(0)
    ent_counts = frame["enterprise_id"].map(per_ent).fillna(0)
    frame["open_complaints"] = (decl_counts + ent_counts).astype(int)
    frame["is_leader"] = frame["declaration_id"].isin(list(facts["leaders"]))
    frame["withdrawn_references"] = frame["version_id"].map(facts["references"]).astype(object)
    return frame


def _value_frame(categories: set[int] | None, editions: pd.DataFrame) -> pd.DataFrame:
    """Every published value of the categories (all when None), narrow: what the outlier
    check needs to judge a value against its whole category."""
    d, v, i, b = Declaration, DeclarationVersion, Indicator, BenchmarkIndicator
    where = [d.status == DeclarationStatus.PUBLISHED, i.cmp_guaranteed.is_not(None)]
    if categories is not None:
        if not categories:
            return pd.DataFrame(columns=["declaration_id", "version_id"])
        where.append(b.category_id.in_(sorted(categories)))
    stmt = (
        select(d.id, v.id, b.category_id, b.code, i.cmp_guaranteed)
        .join(v, _in_force(d, v))
        .join(i, i.version_id == v.id)
        .join(b, b.id == i.benchmark_indicator_id)
        .where(*where)
        .order_by(v.id, i.position, i.id)
    )
    frame = _frame(
        stmt, ["declaration_id", "version_id", "category_id", "benchmark_code", "guaranteed"]
    )
    frame["guaranteed"] = frame["guaranteed"].astype(float)
    frame["category_id"] = _id_column(frame["category_id"])
    frame = frame.merge(
        editions[["bench_category", "benchmark_code", "direction", "unit"]],
        how="left",
        left_on=["category_id", "benchmark_code"],
        right_on=["bench_category", "benchmark_code"],
    ).drop(columns=["bench_category"])
    for col in ("category_id", "benchmark_code"):
        frame[col] = frame[col].astype("category")
    return frame


# --------------------------------------------------------------------------- similarity


def _cache_dir() -> Path:
    """Derived, immutable data beside the uploads it comes from (shared by every worker)."""
    return Path(current_app.config["UPLOAD_DIR"]) / "minhash"


def _write_atomically(path: Path, write: Callable[[Any], None]) -> None:
    """Write to a temporary file and rename it into place: readers see the old file or the
    new one, and a concurrent writer at worst recomputes what the other one cached."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except OSError:
        log.warning("could not write the similarity cache %s", path, exc_info=True)


def _budget_tag(budget: Mapping[str, int]) -> str:
    """Part of a review file's name: a larger budget reads the text again."""
    return hashlib.sha256(json.dumps(budget, sort_keys=True).encode()).hexdigest()[:12]


def _review_path(sha256: str, max_pages: int, budget: Mapping[str, int]) -> Path:
    return _cache_dir() / f"unchecked-{sha256}-{int(max_pages)}-{_budget_tag(budget)}.json"


def text_review(sha256: str, max_pages: int) -> dict[str, Any] | None:
    """Why the stored text with this digest could not be read within ``PDF_TEXT_BUDGET``
    (``exceeded``: pages, content_bytes, content_tokens, seconds, memory_mb or failed, and
    the ``limit``), as ``standard_text`` recorded it; None when it was read or not tried."""
    from declare.uploads import text_budget

    try:
        found = json.loads(_review_path(sha256, max_pages, text_budget()).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _pdf_text(
    path: Path, max_pages: int, budget: Mapping[str, int], extractor: extraction.Extractor
) -> tuple[str, dict[str, Any] | None]:
    """(text, None), or ("", why) when reading it would pass the budget: first the count of
    what extraction would parse (cheap, in this process), then the extraction itself in the
    extractor's child process, killed at the time or memory limit. A file pypdf cannot open
    gives ("", None): an unreadable text is simply not compared."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    from declare.uploads import measure_text_cost

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(str(path), strict=False)
            cost = measure_text_cost(reader, max_pages=max_pages, budget=budget)
    except LimitReachedError:  # a stream decodes past pypdf's own bound
        return "", {"exceeded": "content_bytes", "limit": budget["content_bytes"]}
    except Exception:  # noqa: BLE001  (pypdf raises many types for damaged files)
        log.warning("could not read the structure of %s", path, exc_info=True)
        return "", None
    if cost.over:
        return "", {"exceeded": cost.over, "limit": budget[cost.over]}
    try:
        return extractor.text(path, max_pages), None
    except extraction.TextBudgetExceeded as exc:
        return "", {"exceeded": exc.reason, "limit": exc.limit}


def _extractor(budget: Mapping[str, int]) -> extraction.Extractor:
    return extraction.Extractor(seconds=budget["seconds"], memory_mb=budget["memory_mb"])


def text_signature(sha256: str, max_pages: int) -> tuple[int, np.ndarray] | None:
    """(number of 3-grams, MinHash signature) of a stored standard text, or None when the file
    is missing. Cached on disk, keyed by the file's SHA-256: the text never changes."""
    cache = _cache_dir() / f"text-{sha256}-{similarity.NUM_PERM}-{similarity.SEED}.npy"
    try:
        stored = np.load(cache)
        if stored.shape == (similarity.NUM_PERM + 1,):
            return int(stored[0]), stored[1:].astype(np.uint32)
    except (OSError, ValueError):
        pass  # no cache file yet, or a torn one: recompute the signature below
    from declare.uploads import attachment_path

    if not attachment_path(sha256).exists():
        return None
    ids = similarity.shingles(standard_text(sha256, max_pages))
    sig = similarity.signature_from_shingles(ids)
    out = np.concatenate([np.array([len(ids)], dtype=np.uint32), sig])
    _write_atomically(cache, lambda fh: np.save(fh, out))
    return len(ids), sig


def _table_shingles(version_ids: list[int]) -> dict[int, np.ndarray]:
    """version id → the 3-grams of its canonical indicator table. One SELECT per chunk; the
    rows are grouped as they come (sorted by version), without a DataFrame per version."""
    out: dict[int, np.ndarray] = {}
    i = Indicator
    for chunk in _chunks(sorted(set(version_ids)), CHUNK):
        rows = db.session.execute(
            select(i.version_id, i.name, i.op, i.value, i.low, i.high, i.text_value, i.unit,
                   i.test_method)
            .where(i.version_id.in_(chunk))
            .order_by(i.version_id, i.position, i.id)
        ).all()  # fmt: skip
        for version_id, group in itertools.groupby(rows, key=operator.itemgetter(0)):
            out[int(version_id)] = similarity.shingles(similarity.indicator_table_text(group))
    return out


def category_signatures(
    category_id: int,
    subject: str,
    version_ids: list[int],
    compute: Callable[[list[int]], list[tuple[int, np.ndarray] | None]],
) -> tuple[np.ndarray, np.ndarray]:
    """(3-gram counts, MinHash signatures) of the ``subject`` of these versions, in their order.

    A published version never changes, so its signatures are cached per category and subject
    (one file holding the versions in force) and only new versions are computed with
    ``compute`` (None: not available now, e.g. a text file missing: count -1, tried again next
    time). A publication thus reads its category's signatures instead of every indicator row
    and every PDF of the category.
    """
    wanted = np.asarray(version_ids, dtype=np.int64)
    cache = _cache_dir() / (
        f"{subject}-{int(category_id)}-{similarity.NGRAM}-{similarity.NUM_PERM}-"
        f"{similarity.SEED}.npz"
    )
    known = np.empty(0, np.int64)
    counts = np.empty(0, np.int64)
    sigs = np.empty((0, similarity.NUM_PERM), np.uint32)
    try:
        with np.load(cache) as stored:
            known, counts, sigs = stored["version_id"], stored["count"], stored["sig"]
    except (OSError, ValueError, KeyError):
        pass  # no cache yet, or unreadable: every signature is recomputed and the cache rewritten
    usable = counts >= 0
    known, counts, sigs = known[usable], counts[usable], sigs[usable]
    missing = np.setdiff1d(wanted, known)
    if len(missing):
        fresh = [e if e is not None else (-1, EMPTY_SIGNATURE) for e in compute(missing.tolist())]
        known = np.concatenate([known, missing])
        counts = np.concatenate([counts, np.array([c for c, _sig in fresh], dtype=np.int64)])
        sigs = np.vstack([sigs, *[sig[None, :] for _c, sig in fresh]])
        order = np.argsort(known)
        keep = order[np.isin(known[order], wanted)]  # versions no longer in force leave
        known, counts, sigs = known[keep], counts[keep], sigs[keep]
        _write_atomically(cache, lambda fh: np.savez(fh, version_id=known, count=counts, sig=sigs))
    pos = np.searchsorted(known, wanted)
    return counts[pos], sigs[pos]


def _table_entries(version_ids: list[int]) -> list[tuple[int, np.ndarray]]:
    shingles = _table_shingles(version_ids)
    empty = np.empty(0, np.uint64)
    out = []
    for v in version_ids:
        ids = shingles.get(int(v), empty)
        out.append((len(ids), similarity.signature_from_shingles(ids)))
    return out


def _similarity_documents(categories: set[int] | None) -> pd.DataFrame:
    """Published enterprise standards (Q/…) of the categories with their text's digest: the
    documents copying is judged against. One row per (declaration, product category)."""
    d, v = Declaration, DeclarationVersion
    where = [d.status == DeclarationStatus.PUBLISHED, d.kind == DeclarationKind.ENTERPRISE]
    if categories is not None:
        where.append(Product.category_id.in_(sorted(categories)))
    stmt = (
        select(d.id, v.id, d.enterprise_id, Enterprise.region_code, Product.category_id,
               Attachment.sha256)
        .join(v, _in_force(d, v))
        .join(Enterprise, Enterprise.id == d.enterprise_id)
        .join(Product, Product.version_id == v.id)
        .outerjoin(Attachment, Attachment.id == v.text_attachment_id)
        .where(*where)
        .distinct()
        .order_by(Product.category_id, d.id)
    )  # fmt: skip
    return _frame(
        stmt,
        ["declaration_id", "version_id", "enterprise_id", "region_code", "category_id", "sha256"],
    )


def _category_hits(
    docs: pd.DataFrame,
    queries: pd.DataFrame,
    subject: str,
    threshold: float,
    settings: Mapping[str, float],
) -> list[tuple[int, int, float]]:
    """(declaration, other declaration, score) of one category and subject, for the query
    documents. Indicator tables are found by their signatures (at a lower threshold, by the
    estimate's 4 standard errors) and then scored exactly on their 3-grams; standard texts
    are scored by the signature estimate (their 3-grams are not kept)."""
    category_id = int(docs["category_id"].iloc[0])
    versions = docs["version_id"].tolist()
    if subject == "indicator_table":
        counts, sigs = category_signatures(category_id, subject, versions, _table_entries)
        usable = counts >= int(settings["min_table_shingles"])
        lower = threshold - 4.0 * math.sqrt(0.25 / similarity.NUM_PERM)
    else:
        sha_of = dict(zip(versions, docs["sha256"].tolist()))
        pages = int(settings["max_text_pages"])

        def texts(ids: list[int]) -> list[tuple[int, np.ndarray] | None]:
            return [
                text_signature(sha_of[v], pages)
                if isinstance(sha_of[v], str)
                else (0, EMPTY_SIGNATURE)
                for v in ids
            ]

        counts, sigs = category_signatures(category_id, subject, versions, texts)
        usable = counts >= int(settings["min_text_shingles"])
        lower = threshold
    if usable.sum() < 2:
        return []
    members = docs.loc[usable]
    index = similarity.SimilarityIndex.from_arrays(
        members["declaration_id"].to_numpy(), members["enterprise_id"].to_numpy(), sigs[usable]
    )
    row_of = {d: i for i, d in enumerate(docs["declaration_id"].tolist())}
    hits = []
    for decl, enterprise in zip(queries["declaration_id"].tolist(),
                                queries["enterprise_id"].tolist()):  # fmt: skip
        i = row_of[decl]
        if usable[i]:
            hits.extend((decl, other, score) for other, score in
                        index.query(sigs[i], enterprise, lower))  # fmt: skip
    if subject == "indicator_table" and hits:
        version_of = dict(zip(docs["declaration_id"].tolist(), docs["version_id"].tolist()))
        exact = _table_shingles([version_of[d] for pair in hits for d in pair[:2]])
        hits = [
            (a, b, similarity.jaccard(exact[version_of[a]], exact[version_of[b]]))
            for a, b, _estimate in hits
        ]
    return [(a, b, score) for a, b, score in hits if score >= threshold]


def _standard_texts(digests: pd.Series, max_pages: int) -> dict[str, str]:
    """sha256 → text of each stored text, one extraction process for all of them."""
    from declare.uploads import text_budget

    texts: dict[str, str] = {}
    with _extractor(text_budget()) as extractor:
        for sha in digests.tolist():
            if isinstance(sha, str) and sha not in texts:
                texts[sha] = standard_text(sha, max_pages, extractor)
    return texts


def _near_identical_matches(
    targets: pd.DataFrame,
    everything: bool,
    unchecked: dict[int, tuple[int, dict[str, Any]]] | None = None,
) -> pd.DataFrame:
    """Matches of the target enterprise standards against the other enterprises' published
    enterprise standards of the same product categories, in both directions.

    ``unchecked`` (when given) receives declaration id → (version id, why) for the compared
    declarations whose standard text could not be read within ``PDF_TEXT_BUDGET``.

    ``targets`` has declaration_id and category_id (one row per product category). Returns
    declaration_id, version_id, other_declaration_id, other_enterprise_id, similarity,
    subject, category_id, enterprise_id, region_code, shared, passages. What counts is what
    the two standards share beyond what the category forces (``supervision.flags.copying``).
    """
    columns = ["declaration_id", "version_id", "other_declaration_id", "other_enterprise_id",
               "similarity", "subject", "category_id", "enterprise_id", "region_code",
               "shared", "passages"]  # fmt: skip
    if targets.empty:
        return pd.DataFrame(columns=columns)
    settings = _copy_settings()
    pages = int(_similarity_settings()["max_text_pages"])
    docs = _similarity_documents(None if everything else set(targets["category_id"].tolist()))
    if docs.empty:
        return pd.DataFrame(columns=columns)
    wanted = targets.assign(wanted=True).drop_duplicates(["declaration_id", "category_id"])
    docs = docs.merge(wanted, how="left", on=["declaration_id", "category_id"])
    docs["wanted"] = docs["wanted"].eq(True)
    active = docs.groupby("category_id")["wanted"].transform("any")
    docs = docs[active & docs.groupby("category_id")["declaration_id"].transform("size").gt(1)]
    if docs.empty:
        return pd.DataFrame(columns=columns)
    rows_of = _table_rows(docs["version_id"].unique().tolist())
    forced = _forced_vocabulary(set(docs["category_id"].astype(int)))
    texts = _standard_texts(docs["sha256"], pages)
    if unchecked is not None:
        listed = (docs[c].tolist() for c in ("declaration_id", "version_id", "sha256"))
        for decl, version, sha in zip(*listed):
            why = text_review(sha, pages) if texts.get(sha) == "" else None
            if why is not None:
                unchecked[int(decl)] = (int(version), why)

    found: dict[tuple[int, int, str], tuple[copying.Match, int]] = {}
    for category_id, group in docs.groupby("category_id", sort=True):
        documents = []
        for decl, enterprise, version, sha in zip(
            group["declaration_id"].tolist(), group["enterprise_id"].tolist(),
            group["version_id"].tolist(), group["sha256"].tolist(),
        ):  # fmt: skip
            text_ = texts.get(sha, "") if isinstance(sha, str) else ""
            documents.append(copying.Document(int(decl), int(enterprise), text_,
                                              rows_of.get(int(version), [])))  # fmt: skip
        # Every pair of the category, not only the targets': whether a feature is common
        # depends on the whole category, so a publication can turn an earlier match into
        # common ground (or the reverse); _open_flags gives the category's open matches.
        for match in copying.find_copies(documents, None,
                                         forced_text=forced.get(int(category_id), ""),
                                         settings=settings):  # fmt: skip
            key = (match.declaration_id, match.other_declaration_id, match.subject)
            if key not in found or match.score > found[key][0].score:
                found[key] = (match, int(category_id))
    if not found:
        return pd.DataFrame(columns=columns)
    info = docs.drop_duplicates("declaration_id").set_index("declaration_id")
    out = pd.DataFrame(
        [
            (m.declaration_id, m.other_declaration_id, m.score, m.subject, category_id,
             m.shared, m.passages)
            for (_a, _b, _s), (m, category_id) in sorted(found.items())
        ],
        columns=["declaration_id", "other_declaration_id", "similarity", "subject",
                 "category_id", "shared", "passages"],
    )  # fmt: skip
    out["version_id"] = out["declaration_id"].map(info["version_id"])
    out["enterprise_id"] = out["declaration_id"].map(info["enterprise_id"])
    out["region_code"] = out["declaration_id"].map(info["region_code"])
    out["other_enterprise_id"] = out["other_declaration_id"].map(info["enterprise_id"])
    return out[columns]


def _copy_settings() -> dict[str, float]:
    """``SUPERVISION_COPYING`` (supervision.flags.copying.DEFAULTS otherwise)."""
    return copying.settings_of(current_app.config.get("SUPERVISION_COPYING") or None)


def standard_text(
    sha256: str, max_pages: int, extractor: extraction.Extractor | None = None
) -> str:
    """The text extracted from a stored standard PDF ("" when the file is missing, has no
    text layer or could not be read within ``PDF_TEXT_BUDGET``). Cached on disk beside the
    uploads, keyed by the file's SHA-256; a text over the budget is cached as such too (its
    review file, ``text_review``), so a recompute does not spend the budget on it again.
    ``extractor``: a running ``extraction.Extractor`` to reuse (one is started otherwise)."""
    cache = _cache_dir() / f"plain-{sha256}-{int(max_pages)}.txt"
    try:
        return cache.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass  # not extracted yet: below
    from declare.uploads import attachment_path, text_budget

    budget = text_budget()
    review = _review_path(sha256, max_pages, budget)
    path = attachment_path(sha256)
    if review.exists() or not path.exists():
        return ""
    if extractor is None:
        with _extractor(budget) as own:
            return standard_text(sha256, max_pages, own)
    started = time.monotonic()
    extracted, why = _pdf_text(path, max_pages, budget, extractor)
    if why is not None:
        log.warning("standard text %s not read: %s", sha256, why)
        record = {**why, "seconds_spent": round(time.monotonic() - started, 1)}
        _write_atomically(review, lambda fh: fh.write(json.dumps(record).encode()))
        return ""
    _write_atomically(cache, lambda fh: fh.write(extracted.encode("utf-8")))
    return extracted


def _table_rows(version_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """version id → its indicator rows (with the benchmark code of linked rows)."""
    out: dict[int, list[dict[str, Any]]] = {}
    i, b = Indicator, BenchmarkIndicator
    names = ["version_id", "name", "op", "value", "low", "high", "text_value", "unit",
             "test_method", "benchmark_code"]  # fmt: skip
    for chunk in _chunks(sorted({int(v) for v in version_ids}), CHUNK):
        for row in db.session.execute(
            select(i.version_id, i.name, i.op, i.value, i.low, i.high, i.text_value, i.unit,
                   i.test_method, b.code)
            .outerjoin(b, b.id == i.benchmark_indicator_id)
            .where(i.version_id.in_(chunk))
            .order_by(i.version_id, i.position, i.id)
        ):  # fmt: skip
            record = dict(zip(names, row, strict=True))
            out.setdefault(int(record.pop("version_id")), []).append(record)
    return out


def _forced_vocabulary(category_ids: set[int]) -> dict[int, str]:
    """Per category, the words every standard of it uses because the category's benchmarks
    say so: the category's name, the benchmark indicators' names and units, and the numbers
    and titles of the standards they come from."""
    out: dict[int, list[str]] = {}
    if not category_ids:
        return {}
    mandatory, recommended = aliased(Standard), aliased(Standard)
    bi = BenchmarkIndicator
    for category, cat_name, name, name_en, unit, m_code, m_title, r_code, r_title in (
        db.session.execute(
            select(bi.category_id, ProductCategory.name, bi.name, bi.name_en, bi.unit,
                   mandatory.code, mandatory.title, recommended.code, recommended.title)
            .join(ProductCategory, ProductCategory.id == bi.category_id)
            .outerjoin(mandatory, mandatory.id == bi.mandatory_source_id)
            .outerjoin(recommended, recommended.id == bi.recommended_source_id)
            .where(bi.category_id.in_(sorted(category_ids)))
        )
    ):  # fmt: skip
        words = out.setdefault(int(category), [cat_name or ""])
        words += [w or "" for w in (name, name_en, unit, m_code, m_title, r_code, r_title)]
    return {k: "\n".join(dict.fromkeys(w for w in v if w)) for k, v in out.items()}


# --------------------------------------------------------------------------- storing


def _open_flags(
    scope: Scope, published: set[int], copy_categories: set[int] | None = None
) -> pd.DataFrame:
    """The open flags of the scope, and the open near-identical flags of other declarations
    that point at one of the scope's declarations (the other side of a match: a change of
    the target may clear it) or belong to ``copy_categories`` (whose pairs were all compared
    again). Two queries."""
    r = RiskFlag
    cols = [r.id, r.declaration_id, r.version_id, r.code, r.key, r.severity, r.evidence]
    names = ["id", "declaration_id", "version_id", "code", "key", "severity", "evidence"]
    own = _frame(
        select(*cols)
        .where(
            r.cleared_at.is_(None),
            or_(
                scope.flagged(),
                r.declaration_id.in_(select(Declaration.id).where(scope.published())),
            ),
        )
        .order_by(r.id),
        names,
    )
    frames = [own]
    if not scope.everything:
        targets = published | set(own["declaration_id"].astype(int).tolist())
        near = _frame(
            select(*cols).where(r.cleared_at.is_(None), r.code == "near_identical").order_by(r.id),
            names,
        )
        pointed = pd.to_numeric(
            near["key"].astype(str).str.extract(r":(\d+)$", expand=False), errors="coerce"
        )
        near_cats = _frame(
            select(r.id, r.category_id)
            .where(r.cleared_at.is_(None), r.code == "near_identical").order_by(r.id),
            ["id", "category_id"],
        )
        in_compared = near["id"].isin(
            near_cats.loc[near_cats["category_id"].isin(list(copy_categories or ())), "id"]
        )
        near = near[(pointed.isin(list(targets)) | in_compared) & ~near["id"].isin(own["id"])]
        frames.append(near)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else own
    frame["key"] = frame["key"].fillna("").astype(str)
    return frame


def _lock() -> None:
    """One flag writer at a time (PostgreSQL): two jobs diffing against the same open flags
    would both insert a new one. Held until the job's transaction ends."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def _states(declaration_ids: Iterable[int]) -> dict[int, tuple[DeclarationStatus, int | None]]:
    ids = sorted({int(i) for i in declaration_ids})
    out: dict[int, tuple[DeclarationStatus, int | None]] = {}
    for chunk in _chunks(ids, IN_CHUNK):
        for decl, status, version in db.session.execute(
            select(Declaration.id, Declaration.status, Declaration.current_version_id).where(
                Declaration.id.in_(chunk)
            )
        ):
            out[decl] = (status, version)
    return out


def _clear_reason(status: DeclarationStatus | None, current: int | None, version_id: int) -> str:
    if status is not DeclarationStatus.PUBLISHED:
        return "declaration_ended"
    if current != version_id:
        return "version_superseded"
    return "cause_removed"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _notify_raised(rows: list[dict]) -> None:
    """Tell each enterprise of the flags raised on its declarations (one job; after the
    commit). A flag's event is its (version, code, key): raised again after a clear, it is
    the same event and notifies once."""
    versions = sorted({r["version_id"] for r in rows})
    numbers: dict[int, str] = {}
    for chunk in _chunks(versions, IN_CHUNK):
        for version in db.session.scalars(
            select(DeclarationVersion).where(DeclarationVersion.id.in_(chunk))
        ):
            numbers[version.id] = version.number
    events = []
    for r in rows:
        digest = hashlib.sha256(f"{r['code']}:{r['key']}".encode()).hexdigest()[:24]
        events.append((r["enterprise_id"], f"flag:{r['version_id']}:{digest}", {
            "declaration_id": r["declaration_id"], "standard": numbers.get(r["version_id"], ""),
            "code": r["code"], "severity": r["severity"],
        }))
    notify_each("flag_raised", events)


def _store(old: pd.DataFrame, new: pd.DataFrame, now: datetime, result: RecomputeResult) -> None:
    """Insert, clear and update so that the open flags equal ``new`` (within ``old``'s reach)."""
    dup = old.duplicated(["version_id", "code", "key"], keep="first")
    duplicates = old.loc[dup, "id"].astype(int).tolist()
    old = old.loc[~dup]
    to_open, to_clear = risk.diff_flags(old, new)
    changed = risk.changed_flags(old, new)

    if len(to_open):
        rows = [
            {
                "declaration_id": int(rec["declaration_id"]),
                "version_id": int(rec["version_id"]),
                "enterprise_id": int(rec["enterprise_id"]),
                "region_code": str(rec["region_code"]),
                "category_id": None if pd.isna(rec["category_id"]) else int(rec["category_id"]),
                "code": rec["code"],
                "key": str(rec["key"]),
                "severity": rec["severity"],
                "evidence": _jsonable(rec["evidence"]),
                "raised_at": now,
                "cleared_at": None,
                "cleared_reason": "",
            }
            for rec in to_open.to_dict("records")
        ]
        db.session.execute(insert(RiskFlag), rows)
        result.opened += len(rows)
        _notify_raised(rows)
        for row in rows:
            result.by_code[row["code"]] = result.by_code.get(row["code"], 0) + 1

    reasons: dict[str, list[int]] = {"duplicate": duplicates} if duplicates else {}
    if len(to_clear):
        states = _states(to_clear["declaration_id"].tolist())
        for flag_id, decl, version_id in zip(
            to_clear["id"].tolist(),
            to_clear["declaration_id"].tolist(),
            to_clear["version_id"].tolist(),
        ):
            status, current = states.get(int(decl), (None, None))
            reasons.setdefault(_clear_reason(status, current, int(version_id)), []).append(
                int(flag_id)
            )
    for reason, ids in reasons.items():
        for chunk in _chunks(sorted(ids), IN_CHUNK):
            db.session.execute(
                update(RiskFlag)
                .where(RiskFlag.id.in_(chunk), RiskFlag.cleared_at.is_(None))
                .values(cleared_at=now, cleared_reason=reason)
                .execution_options(synchronize_session=False)
            )
        result.cleared += len(ids)

    if len(changed):
        db.session.execute(
            update(RiskFlag),
            [
                {
                    "id": int(rec["id"]),
                    "severity": rec["severity"],
                    "evidence": _jsonable(rec["evidence"]),
                }
                for rec in changed.to_dict("records")
            ],
            execution_options={"synchronize_session": False},
        )
        result.updated += len(changed)


def _audit_summary(scope: Scope, result: RecomputeResult, now: datetime) -> None:
    """Bulk writes bypass core.audit's flush hook, so the recompute records one summary row."""
    if not (result.opened or result.cleared or result.updated):
        return
    if scope.declaration_ids is not None:
        what: dict[str, Any] = {"declaration_ids": list(scope.declaration_ids)[:200]}
    elif scope.category_id is not None:
        what = {"category_id": scope.category_id}
    elif scope.region_code is not None:
        what = {"region_code": scope.region_code}
    else:
        what = {"all": True}
    db.session.execute(
        insert(AuditLog).values(
            at=now,
            actor_id=None,
            actor_label="job:supervision.flags.recompute",
            action="update",
            entity=RiskFlag.__tablename__,
            entity_id="bulk",
            before=None,
            after={**what, **result.as_dict()},
        )
    )


# --------------------------------------------------------------------------- recompute


def recompute(
    *,
    declaration_ids: Iterable[int] | None = None,
    category_id: int | None = None,
    region_code: str | None = None,
    progress: Callable[[float, str], Any] | None = None,
) -> RecomputeResult:
    """Bring the stored flags of the scope up to date (see the module docstring). Flushes,
    never commits. ``progress(fraction, message)`` is called while loading."""
    scope = Scope(
        declaration_ids=None
        if declaration_ids is None
        else tuple(sorted({int(i) for i in declaration_ids})),
        category_id=category_id,
        region_code=region_code,
    )
    report = progress or (lambda fraction, message: None)
    cfg = risk_config()
    result = RecomputeResult()
    today = local_today()
    _lock()
    editions = _editions(today)
    published = _published_ids(scope)
    result.declarations = len(published)

    parts: list[pd.DataFrame] = []
    metas: list[pd.DataFrame] = []
    products: list[pd.DataFrame] = []
    benchmarks: list[pd.DataFrame] = []
    chunks = list(_chunks(published, CHUNK))
    for n, chunk in enumerate(chunks):
        report(
            0.7 * n / max(len(chunks), 1),
            _(
                "Loading declarations %(start)d to %(end)d of %(total)d",
                start=n * CHUNK + 1,
                end=n * CHUNK + len(chunk),
                total=len(published),
            ),
        )
        where = _chunk_clause(scope, chunk)
        facts = _declaration_facts(where, today)
        frame = _with_declaration_columns(_indicator_frame(where, editions), facts)
        benchmarks.append(
            frame.loc[frame["benchmark_code"].notna(), ["version_id", "benchmark_code",
                                                         "bench_category"]]
        )  # fmt: skip
        # Without category_id the outlier check is skipped here: it runs on whole categories.
        flags = risk.compute_flags(frame.drop(columns=["bench_category"]), config=cfg)
        skipped = flags.attrs.get("skipped_checks", {})
        result.skipped_checks.update({k: v for k, v in skipped.items() if k != "implausible_value"})
        parts.append(_augment(flags, facts))
        metas.append(facts["meta"])
        products.append(facts["products"])

    meta = _concat(metas, ["declaration_id", "version_id", "enterprise_id", "region_code",
                           "enterprise_kind"])  # fmt: skip
    product = _concat(products, ["version_id", "category_id"])
    bench = _concat(benchmarks, ["version_id", "benchmark_code", "bench_category"])
    primary = product.groupby("version_id")["category_id"].min()
    meta["primary_category"] = meta["version_id"].map(primary)

    report(0.7, _("Judging the values against their categories"))
    targets = set(published)
    if published:
        categories = None if scope.everything else set(bench["bench_category"].astype(int))
        context = _value_frame(categories, editions)
        outliers = risk.compute_flags(context, config=cfg)
        parts.append(outliers[outliers["declaration_id"].isin(targets)])

    report(0.8, _("Comparing texts and indicator tables"))
    copies = product.merge(
        meta.loc[meta["enterprise_kind"].astype(bool), ["declaration_id", "version_id"]],
        on="version_id",
    )[["declaration_id", "category_id"]]
    unchecked: dict[int, tuple[int, dict[str, Any]]] = {}
    matches = _near_identical_matches(copies, scope.everything, unchecked)
    if len(matches):
        parts.append(risk.near_identical_flags(matches, config=cfg))
    reviews = [
        {"declaration_id": decl, "version_id": version, **why}
        for decl, (version, why) in sorted(unchecked.items())
        if decl in targets
    ]
    if reviews:
        parts.append(risk.text_unchecked_flags(pd.DataFrame(reviews), config=cfg))
    copy_categories = set(copies["category_id"].dropna().astype(int).tolist())

    report(0.9, _("Storing the flags"))
    new = _with_flag_columns(_concat(parts, risk.FLAG_COLUMNS), meta, bench, matches)
    now = utcnow()
    _store(_open_flags(scope, targets, copy_categories), new, now, result)
    _audit_summary(scope, result, now)
    db.session.flush()
    return result


def _augment(flags: pd.DataFrame, facts: dict[str, Any]) -> pd.DataFrame:
    """Name the complaints and the leader lists in the evidence (risk.py counts them only)."""
    rows = flags.index[flags["code"].isin(["open_complaint", "leader"])] if len(flags) else []
    if not len(rows):
        return flags
    numbers: dict[tuple[str, int], list[str]] = {}
    for decl, ent, number in facts["complaints"]:
        key = ("declaration", decl) if decl is not None else ("enterprise", ent)
        numbers.setdefault(key, []).append(number)
    meta = facts["meta"]
    enterprise_of = dict(zip(meta["declaration_id"].tolist(), meta["enterprise_id"].tolist()))
    evidence = flags["evidence"].copy()
    for i in rows:
        decl, ev = int(flags.at[i, "declaration_id"]), flags.at[i, "evidence"]
        if flags.at[i, "code"] == "open_complaint":
            evidence.at[i] = {
                **ev,
                "complaints": numbers.get(("declaration", decl), [])[:50],
                "enterprise_complaints": numbers.get(("enterprise", enterprise_of[decl]), [])[:50],
            }
        else:
            evidence.at[i] = {**ev, "lists": facts["leaders"].get(decl, [])}
    return flags.assign(evidence=evidence)


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True)


def _with_flag_columns(
    new: pd.DataFrame, meta: pd.DataFrame, bench: pd.DataFrame, matches: pd.DataFrame
) -> pd.DataFrame:
    """Add enterprise_id, region_code and category_id to computed flags (merges, no loop over
    the input rows). The category a flag is filed under: the benchmark's for an indicator
    flag, the category of the values judged for an outlier, the shared category for a copy,
    else the declaration's first product category."""
    new = new.astype({"declaration_id": "int64", "version_id": "int64", "key": str})
    new = new.reset_index(drop=True)
    who = meta[["declaration_id", "enterprise_id", "region_code", "primary_category"]]
    if len(matches):  # the other side of a copy may lie outside the scope
        others = matches[["declaration_id", "enterprise_id", "region_code", "category_id"]]
        who = pd.concat(
            [who, others.rename(columns={"category_id": "primary_category"})], ignore_index=True
        ).drop_duplicates("declaration_id")
    new = new.merge(who, how="left", on="declaration_id")

    by_indicator = (
        bench.rename(columns={"benchmark_code": "key", "bench_category": "cat"})
        .astype({"key": str})
        .drop_duplicates(["version_id", "key"])
    )
    by_indicator["indicator_flag"] = True
    new = new.merge(by_indicator, how="left", on=["version_id", "key"])
    category = new["cat"].where(new["code"].isin(INDICATOR_CODES) & new["indicator_flag"].eq(True))
    if len(matches):
        shared = matches.assign(
            key=matches["subject"] + ":" + matches["other_declaration_id"].astype(str)
        )[["version_id", "key", "category_id"]].drop_duplicates(["version_id", "key"])
        shared = new[["version_id", "key"]].merge(shared, how="left", on=["version_id", "key"])
        category = category.where(new["code"] != "near_identical", shared["category_id"])
    outlier = new["code"] == "implausible_value"
    if outlier.any():
        judged = [ev.get("category_id") for ev in new.loc[outlier, "evidence"].tolist()]
        category.loc[outlier] = pd.to_numeric(pd.Series(judged, index=category.index[outlier]))
    new["category_id"] = category.fillna(new["primary_category"])
    return new.drop(columns=["cat", "indicator_flag", "primary_category"])


# --------------------------------------------------------------------------- jobs


#: The one waiting recompute job every change joins (``jobs.enqueue(..., merge_ids=True)``).
RECOMPUTE_KEY = "supervision:flags:declarations"


def request_recompute(declaration_ids: Iterable[int]) -> list:
    """Have these declarations re-flagged after the current transaction commits.

    The entry point for every package to the right of declare: a new or closed complaint, a
    leader list published or changed. Enqueues ``supervision.flags.tasks.flags_for_declarations`` on
    the ``supervision`` queue; the ids join the job still waiting, if any, so a burst of 400
    publications is a handful of jobs, not 400 (measured by the Redis drill). Debounced on
    the leading edge (``SUPERVISION_FLAGS_DEBOUNCE_SECONDS``, ``core.jobs.debounce_delay``):
    with workers keeping up, a stream of publications still makes one job per window, not
    one per publication. Returns the outbox rows (none when there is nothing to do).
    """
    from core import jobs
    from supervision.flags import tasks

    ids = sorted({int(i) for i in declaration_ids or ()})
    if not ids:
        return []
    return [
        jobs.enqueue(
            tasks.flags_for_declarations, ids, dedupe_key=RECOMPUTE_KEY, merge_ids=True,
            debounce=float(current_app.config.get("SUPERVISION_FLAGS_DEBOUNCE_SECONDS") or 0),
        )
    ]


# --------------------------------------------------------------------------- reads


def _severity_order():
    return case(SEVERITY_RANK, value=RiskFlag.severity, else_=len(SEVERITY_RANK))


def open_flags_of(declaration_id: int) -> list[RiskFlag]:
    """The open flags of a declaration, most severe first. One query."""
    return list(
        db.session.scalars(
            select(RiskFlag)
            .where(RiskFlag.declaration_id == declaration_id, RiskFlag.cleared_at.is_(None))
            .order_by(_severity_order(), RiskFlag.code, RiskFlag.key, RiskFlag.id)
        )
    )


def flags_of(declaration_id: int, *, include_cleared: bool = True, limit: int = 200) -> list:
    """Open flags first (most severe first), then cleared ones, newest clearing first."""
    stmt = select(RiskFlag).where(RiskFlag.declaration_id == declaration_id)
    if not include_cleared:
        stmt = stmt.where(RiskFlag.cleared_at.is_(None))
    stmt = stmt.order_by(
        RiskFlag.cleared_at.is_not(None),
        RiskFlag.cleared_at.desc(),
        _severity_order(),
        RiskFlag.code,
        RiskFlag.key,
        RiskFlag.id,
    ).limit(limit)
    return list(db.session.scalars(stmt))


@dataclass
class FlagRow:
    """A flag of a list page with what a reader needs to recognise its declaration."""

    flag: RiskFlag
    enterprise: str
    uscc: str
    standard_code: str
    standard_title: str
    category: str


@dataclass
class FlagPage(PageNumbers):
    """One page of flags (the shape templates/_macros.html's pager reads)."""

    items: list[FlagRow]
    total: int
    page: int
    per_page: int


def _filters(
    *,
    region_code: str | None = None,
    enterprise_id: int | None = None,
    code: str | None = None,
    severity: str | None = None,
    category_id: int | None = None,
    status: str = "open",
) -> list[ColumnElement[bool]]:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    where: list[ColumnElement[bool]] = []
    if region_code is not None:
        where.append(RiskFlag.region_code.like(f"{region_prefix(region_code)}%"))
    if enterprise_id is not None:
        where.append(RiskFlag.enterprise_id == enterprise_id)
    if code:
        where.append(RiskFlag.code == code)
    if severity:
        where.append(RiskFlag.severity == severity)
    if category_id is not None:
        where.append(RiskFlag.category_id == category_id)
    if status == "open":
        where.append(RiskFlag.cleared_at.is_(None))
    elif status == "cleared":
        where.append(RiskFlag.cleared_at.is_not(None))
    return where


def region_flags(*, page: int = 1, per_page: int = 20, **filters: Any) -> FlagPage:
    """A page of flags within a region (or of one enterprise), most severe and newest first,
    with their declarations' labels: two queries (the count, the page) whatever the size."""
    where = _filters(**filters)
    total = db.session.scalar(select(func.count(RiskFlag.id)).where(*where)) or 0
    stmt = (
        declaration_labels(
            select(RiskFlag, ProductCategory.name, ProductCategory.name_en),
            enterprise_id=RiskFlag.enterprise_id,
            version_id=RiskFlag.version_id,
        )
        .outerjoin(ProductCategory, ProductCategory.id == RiskFlag.category_id)
        .where(*where)
        .order_by(
            RiskFlag.cleared_at.is_not(None),
            _severity_order(),
            RiskFlag.raised_at.desc(),
            RiskFlag.id.desc(),
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    from flask_babel import get_locale

    english = str(get_locale() or "").startswith("en")
    items = []
    for row in db.session.execute(stmt):
        flag, cat, cat_en = row[:3]
        label = DeclarationLabel.of(row)
        items.append(FlagRow(flag, label.enterprise, label.uscc, label.standard_code,
                             label.standard_title, (cat_en if english and cat_en else cat) or ""))
    return FlagPage(items, int(total), page, per_page)


def flag_counts(**filters: Any) -> dict[str, dict[str, int]]:
    """{code: {severity: n}} of the flags matching ``filters``: one GROUP BY query."""
    where = _filters(**filters)
    out: dict[str, dict[str, int]] = {}
    for code, severity, n in db.session.execute(
        select(RiskFlag.code, RiskFlag.severity, func.count(RiskFlag.id))
        .where(*where)
        .group_by(RiskFlag.code, RiskFlag.severity)
    ):
        out.setdefault(code, {})[severity] = int(n)
    return out


def risk_scores(
    declaration_ids: Iterable[int], *, weights: Mapping[str, float] | None = None
) -> pd.Series:
    """Risk per declaration (``risk.risk_score`` over its open flags), for the sampling draw.

    Indexed by every requested id (0.0 for a declaration without open flags), in the order
    given. Small requests read their flags by id; large ones (a draw's whole population) read
    all open flags in one query and filter in pandas.
    """
    ids = [int(i) for i in declaration_ids]
    wanted = pd.Index(ids, name="declaration_id")
    cols = [RiskFlag.declaration_id, RiskFlag.code, RiskFlag.severity]
    base = select(*cols).where(RiskFlag.cleared_at.is_(None))
    if len(ids) <= 20 * IN_CHUNK:
        frames = [
            _frame(base.where(RiskFlag.declaration_id.in_(chunk)),
                   ["declaration_id", "code", "severity"])
            for chunk in _chunks(sorted(set(ids)), IN_CHUNK)
        ]  # fmt: skip
        flags = (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=["declaration_id", "code", "severity"])
        )
    else:
        flags = _frame(base, ["declaration_id", "code", "severity"])
        flags = flags[flags["declaration_id"].isin(wanted)]
    score = risk.risk_score(flags, weights=weights, config=risk_config())
    return score.reindex(wanted, fill_value=0.0).astype(float).rename("risk")
