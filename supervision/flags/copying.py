"""Copied standards (抄袭/雷同) that a regulator can trust: what two enterprises' standards
share *beyond what their category forces*. Pure (numpy), no Flask, no session.

Two standards of one product category share a lot without any copying: the benchmark
indicators' names, units and test methods, the national standards they cite, the section
headings every standard has, values at the grade thresholds. Comparing whole texts or whole
indicator tables therefore flags most of a category (issue 9, finding 7: 68 of 76 demo
declarations). Here a feature counts as evidence only when it is **distinctive**: used by at
most ``max(common_min, ceil(common_share × enterprises))`` enterprises of the category (and,
for texts, not part of the category's forced vocabulary: benchmark names, units, cited
standards). What is left is what an enterprise wrote itself, and two enterprises rarely write
the same by chance.

Features:

* standard text — the character 3-grams of the normalised text (``similarity.shingles``);
* indicator table — one fact per row and field: the declared value (operator, value or
  range), the wording of a qualitative requirement, the test method, and the name of an
  indicator not linked to a benchmark (a benchmark's name is forced).

A pair of documents of different enterprises is scored per subject as the share of the
smaller document's distinctive features that the other has too (containment: a copier who
adds a section still copied), and flagged when the score reaches the threshold *and* enough
features are shared (``min_text_shared`` 3-grams; ``min_table_shared`` facts on
``min_table_rows`` rows: identical test methods, values and wording across many indicators,
not one coincidence). Pairs are found through the distinctive features' posting lists
(short by construction), so a category of tens of thousands costs what its near-duplicates
cost, not the square of its size. Each match carries the matched passages side by side.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from supervision.flags import similarity

__all__ = ["DEFAULTS", "Document", "Match", "find_copies", "table_facts"]

DEFAULTS: dict[str, float] = {
    "text_threshold": 0.5,  # share of the smaller text's distinctive 3-grams found in the other
    "table_threshold": 0.5,  # share of the smaller table's distinctive facts found in the other
    "min_text_shared": 60,  # distinctive 3-grams in common, at least (~ one own sentence)
    "min_table_shared": 4,  # distinctive table facts in common, at least
    "min_table_rows": 3,  # ... on at least this many indicator rows
    "common_share": 0.05,  # a feature of more than this share of the enterprises is common
    "common_min": 2,  # ... and of more than this many (a copy pair is two enterprises)
    "max_passages": 12,  # passages shown per match
    "passage_min": 0.5,  # 3-gram Jaccard of two sentences shown side by side
}

_SENTENCES = re.compile(r"(?<=[。；;！？!?])|\n+|(?<=\.)\s+(?=[A-Z0-9])")
_FIELDS = ("value", "text", "method", "name")


@dataclass
class Document:
    """One enterprise standard of a category: its text and its indicator rows (mappings or
    objects with name, op, value, low, high, text_value, unit, test_method, and
    benchmark_code when the row is linked to a benchmark)."""

    declaration_id: int
    enterprise_id: int
    text: str = ""
    rows: Sequence[Any] = ()


@dataclass
class Match:
    declaration_id: int
    other_declaration_id: int
    subject: str  # "text" | "indicator_table"
    score: float
    shared: int  # distinctive features in common
    passages: list[dict[str, Any]] = field(default_factory=list)


def settings_of(given: Mapping[str, Any] | None) -> dict[str, float]:
    unknown = sorted(set(given or {}) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown copy-detection setting(s) {unknown}; allowed {sorted(DEFAULTS)}")
    return {**DEFAULTS, **(given or {})}


# --------------------------------------------------------------------------- features


def _get(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _row_text(row: Any) -> str:
    """A row as people read it: name, operator and value or wording, unit, test method."""
    value = similarity._number(_get(row, "value"))
    low, high = similarity._number(_get(row, "low")), similarity._number(_get(row, "high"))
    shown = value or (f"{low}–{high}" if low or high else "") or (_get(row, "text_value") or "")
    op = similarity._OPS.get(similarity._clean(_get(row, "op")), _get(row, "op") or "")
    op = {"ge": "≥", "le": "≤", "gt": ">", "lt": "<", "eq": "=", "range": ""}.get(op, op)
    parts = [str(_get(row, "name") or ""), f"{op} {shown}".strip(), str(_get(row, "unit") or "")]
    method = str(_get(row, "test_method") or "")
    return " ".join(p for p in parts if p) + (f" · {method}" if method else "")


def table_facts(rows: Iterable[Any]) -> list[tuple[int, int, str]]:
    """(fact id, row index, field) of an indicator table, one per row and filled field."""
    out = []
    for i, row in enumerate(rows):
        name = similarity.normalize(str(_get(row, "name") or ""))
        op = similarity._clean(_get(row, "op"))
        op = similarity._OPS.get(op, op)
        numbers = [similarity._number(_get(row, k)) for k in ("value", "low", "high")]
        if any(numbers):
            out.append((_hash(f"v|{name}|{op}|{'|'.join(numbers)}"), i, "value"))
        wording = similarity.normalize(str(_get(row, "text_value") or ""))
        if wording:
            out.append((_hash(f"t|{name}|{wording}"), i, "text"))
        method = similarity.normalize(str(_get(row, "test_method") or ""))
        if method:
            out.append((_hash(f"m|{name}|{method}"), i, "method"))
        if name and not _get(row, "benchmark_code"):
            out.append((_hash(f"n|{name}"), i, "name"))
    return out


# --------------------------------------------------------------------------- pairs


def _max_df(owners: np.ndarray, cfg: Mapping[str, float]) -> int:
    enterprises = len(np.unique(owners))
    return max(int(cfg["common_min"]), math.ceil(float(cfg["common_share"]) * enterprises))


def _distinctive(
    features: list[np.ndarray], owners: np.ndarray, max_df: int, forced: np.ndarray
) -> list[np.ndarray]:
    """Each document's features used by at most ``max_df`` enterprises and not forced."""
    sizes = np.array([len(f) for f in features], dtype=np.int64)
    if not sizes.sum():
        return [np.empty(0, np.uint64) for _ in features]
    feat = np.concatenate(features).astype(np.uint64)
    owner = np.repeat(owners.astype(np.int64), sizes)
    pairs = np.unique(np.stack([feat, owner.astype(np.uint64)], axis=1), axis=0)
    uniq, df = np.unique(pairs[:, 0], return_counts=True)
    common = uniq[df > max_df]
    if len(forced):
        common = np.union1d(common, forced)
    return [f[~np.isin(f, common)] for f in features]


def _shared_counts(
    distinct: list[np.ndarray], owners: np.ndarray, wanted: np.ndarray
) -> dict[tuple[int, int], int]:
    """{(i, j): distinctive features in common} for documents i < j of different enterprises
    where i or j is wanted, from the features' posting lists."""
    sizes = np.array([len(f) for f in distinct], dtype=np.int64)
    if sizes.sum() == 0:
        return {}
    feat = np.concatenate(distinct)
    doc = np.repeat(np.arange(len(distinct)), sizes)
    order = np.lexsort((doc, feat))
    feat, doc = feat[order], doc[order]
    starts = np.flatnonzero(np.r_[True, feat[1:] != feat[:-1]])
    lengths = np.diff(np.r_[starts, len(feat)])
    counts: dict[tuple[int, int], int] = {}
    two = starts[lengths == 2]
    if len(two):
        a, b = doc[two], doc[two + 1]
        keep = (owners[a] != owners[b]) & (wanted[a] | wanted[b])
        keys, n = np.unique(np.stack([a[keep], b[keep]], axis=1), axis=0, return_counts=True)
        counts.update({(int(i), int(j)): int(c) for (i, j), c in zip(keys, n)})
    for s, length in zip(starts[lengths > 2].tolist(), lengths[lengths > 2].tolist()):
        members = sorted(set(doc[s : s + length].tolist()))
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if owners[i] != owners[j] and (wanted[i] or wanted[j]):
                    counts[(i, j)] = counts.get((i, j), 0) + 1
    return counts


# --------------------------------------------------------------------------- passages


def _sentences(text: str) -> list[tuple[str, np.ndarray]]:
    out = []
    for part in _SENTENCES.split(text or ""):
        part = " ".join(part.split())
        grams = similarity.shingles(part) if part else np.empty(0, np.uint64)
        if len(grams) >= 6:
            out.append((part, grams))
    return out


def text_passages(a: str, b: str, distinct: np.ndarray, cfg: Mapping[str, float]) -> list[dict]:
    """Sentences of ``a`` with their most similar sentence of ``b`` (3-gram Jaccard at least
    ``passage_min``) that hold distinctive 3-grams, in the order of ``a``."""
    left, right = _sentences(a), _sentences(b)
    found = []
    for pos, (sentence, grams) in enumerate(left):
        if not np.isin(grams, distinct).any():
            continue
        best, best_j = 0.0, -1
        for j, (_other, other_grams) in enumerate(right):
            score = similarity.jaccard(grams, other_grams)
            if score > best:
                best, best_j = score, j
        if best >= float(cfg["passage_min"]):
            found.append((best, pos, sentence, right[best_j][0]))
    found.sort(key=lambda f: (-f[0], f[1]))
    kept = sorted(found[: int(cfg["max_passages"])], key=lambda f: f[1])
    return [{"a": s, "b": t, "similarity": round(score, 3)} for score, _pos, s, t in kept]


def _table_passages(
    a: Document, b: Document, facts_a, facts_b, shared: set[int], cfg
) -> tuple[list[dict], int]:
    rows_a: dict[int, set[str]] = {}
    row_b_of: dict[int, int] = {}
    for fid, row, _field in facts_b:
        if fid in shared:
            row_b_of.setdefault(fid, row)
    pairs: dict[tuple[int, int], set[str]] = {}
    for fid, row, fld in facts_a:
        if fid in shared and fid in row_b_of:
            pairs.setdefault((row, row_b_of[fid]), set()).add(fld)
            rows_a.setdefault(row, set()).add(fld)
    out = [
        {"a": _row_text(a.rows[i]), "b": _row_text(b.rows[j]),
         "fields": [f for f in _FIELDS if f in fields]}
        for (i, j), fields in sorted(pairs.items())
    ][: int(cfg["max_passages"])]  # fmt: skip
    return out, len(rows_a)


# --------------------------------------------------------------------------- search


def find_copies(
    docs: Sequence[Document],
    queries: Iterable[int] | None = None,
    *,
    forced_text: str = "",
    settings: Mapping[str, Any] | None = None,
) -> list[Match]:
    """Copies among the documents of one category, for the ``queries`` (declaration ids; all
    when None), in both directions: a match of (a, b) is also returned as (b, a)."""
    cfg = settings_of(settings)
    if len(docs) < 2:
        return []
    owners = np.array([d.enterprise_id for d in docs], dtype=np.int64)
    wanted_ids = None if queries is None else {int(q) for q in queries}
    wanted = np.array(
        [wanted_ids is None or d.declaration_id in wanted_ids for d in docs], dtype=bool
    )
    max_df = _max_df(owners, cfg)
    out: list[Match] = []

    # Standard texts.
    grams = [similarity.shingles(d.text or "") for d in docs]
    forced = similarity.shingles(forced_text) if forced_text else np.empty(0, np.uint64)
    distinct = _distinctive(grams, owners, max_df, forced)
    for (i, j), shared in _shared_counts(distinct, owners, wanted).items():
        smaller = min(len(distinct[i]), len(distinct[j]))
        if shared < int(cfg["min_text_shared"]) or not smaller:
            continue
        score = shared / smaller
        if score >= float(cfg["text_threshold"]):
            common = np.intersect1d(distinct[i], distinct[j])
            forward = text_passages(docs[i].text, docs[j].text, common, cfg)
            backward = [{"a": p["b"], "b": p["a"], "similarity": p["similarity"]}
                        for p in forward]  # fmt: skip
            out.append(Match(docs[i].declaration_id, docs[j].declaration_id, "text",
                             round(min(score, 1.0), 4), shared, forward))  # fmt: skip
            out.append(Match(docs[j].declaration_id, docs[i].declaration_id, "text",
                             round(min(score, 1.0), 4), shared, backward))  # fmt: skip

    # Indicator tables.
    facts = [table_facts(d.rows) for d in docs]
    ids = [np.unique(np.array([f for f, _r, _k in fs], dtype=np.uint64)) for fs in facts]
    distinct = _distinctive(ids, owners, max_df, np.empty(0, np.uint64))
    for (i, j), shared in _shared_counts(distinct, owners, wanted).items():
        smaller = min(len(distinct[i]), len(distinct[j]))
        if shared < int(cfg["min_table_shared"]) or not smaller:
            continue
        score = shared / smaller
        if score < float(cfg["table_threshold"]):
            continue
        common = set(np.intersect1d(distinct[i], distinct[j]).tolist())
        forward, rows = _table_passages(docs[i], docs[j], facts[i], facts[j], common, cfg)
        if rows < int(cfg["min_table_rows"]):
            continue
        backward = [{"a": p["b"], "b": p["a"], "fields": p["fields"]} for p in forward]
        out.append(Match(docs[i].declaration_id, docs[j].declaration_id, "indicator_table",
                         round(min(score, 1.0), 4), shared, forward))  # fmt: skip
        out.append(Match(docs[j].declaration_id, docs[i].declaration_id, "indicator_table",
                         round(min(score, 1.0), 4), shared, backward))  # fmt: skip
    if wanted_ids is not None:
        out = [m for m in out if m.declaration_id in wanted_ids
               or m.other_declaration_id in wanted_ids]  # fmt: skip
    return sorted(out, key=lambda m: (m.declaration_id, m.other_declaration_id, m.subject))
