"""Near-identical standards between enterprises (copying): character n-grams, MinHash and LSH.

Pure and vectorised (numpy only). Chinese text is not whitespace-tokenised, so a text becomes
the set of its character 3-grams after normalisation:

* Unicode NFKC (full-width digits, letters and punctuation become their half-width forms,
  ``１２３`` → ``123``, ``（`` → ``(``), then case folding;
* every whitespace, punctuation and symbol character is dropped (``\\W`` and ``_``), except a
  decimal point between two digits, so ``3.5`` and ``35`` stay different.

Each 3-gram of code points is packed exactly into 63 bits (a code point has 21), mixed to 32
bits (splitmix64), and the MinHash signature is the minimum over the set of ``NUM_PERM``
hash functions ``h_i(x) = ((a_i·x + b_i) mod 2^64) >> 32`` (Dietzfelbinger's multiply-add-shift,
a strongly universal family for 32-bit keys) with fixed odd ``a_i`` and ``b_i`` drawn from
``SEED``. The share of equal positions of two signatures estimates the Jaccard similarity of
the two 3-gram sets (standard error ``sqrt(J(1-J)/128) <= 0.045``).

``SimilarityIndex`` cuts each signature into ``bands`` bands of ``rows`` values (LSH banding):
two documents are candidates when at least one band is identical, which happens with
probability ``1 - (1 - J^rows)^bands``; the default 32 x 4 makes a pair with J = 0.8 a
candidate with probability 1 - 5e-8 and J = 0.5 with 0.87. Candidates are then scored on the
whole signature (and on the exact 3-gram sets when the index holds them) and kept above the
query threshold.

Signatures stored by the service are only comparable with signatures made with the same
``NGRAM``, ``NUM_PERM`` and ``SEED``: changing one of them means recomputing every signature.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Hashable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BANDS",
    "NGRAM",
    "NUM_PERM",
    "SEED",
    "SimilarityIndex",
    "estimate",
    "indicator_table_text",
    "jaccard",
    "normalize",
    "shingles",
    "signature",
    "signature_from_shingles",
]

NGRAM = 3
NUM_PERM = 128
SEED = 20260401
BANDS = 32  # x 4 rows

_EMPTY = np.uint32(0xFFFFFFFF)
_M64 = 0xFFFFFFFFFFFFFFFF
_SCAN_QUERIES = 16  # queries answered by a scan before the sorted band lookup is built
_CHUNK = 4096  # shingles hashed at once: bounds the (chunk, NUM_PERM) temporary to 4 MB

# Drop everything that is not a word character, and "_", but keep a "." between two digits.
_DROP = re.compile(r"(?<!\d)\.|\.(?!\d)|[^\w.]|_")
_SPACES = re.compile(r"\s+")


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2)
    b |= rng.integers(0, 2, size=num_perm, dtype=np.uint64)
    return a, b


_PERM_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _perm(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    key = (num_perm, seed)
    if key not in _PERM_CACHE:
        _PERM_CACHE[key] = _permutations(num_perm, seed)
    return _PERM_CACHE[key]


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised on uint64 (wrapping arithmetic is intended)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


# --------------------------------------------------------------------------- text → 3-grams


def normalize(text: str) -> str:
    """NFKC, case-folded, without whitespace, punctuation or symbols (decimal points kept)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _DROP.sub("", unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str, n: int = NGRAM) -> np.ndarray:
    """The sorted, distinct character ``n``-grams of the normalised text, as uint64 ids.

    With ``n <= 3`` an id is the exact n-gram (21 bits per code point), so two ids are equal
    only for equal n-grams. A normalised text shorter than ``n`` is one n-gram of itself; an
    empty one has no n-grams.
    """
    if not 1 <= n <= 3:
        raise ValueError(f"n must be 1, 2 or 3 (an n-gram is packed into 63 bits), got {n}")
    norm = normalize(text)
    if not norm:
        return np.empty(0, dtype=np.uint64)
    cps = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cps) < n:
        cps = np.concatenate([cps, np.zeros(n - len(cps), dtype=np.uint64)])
    count = len(cps) - n + 1
    ids = np.zeros(count, dtype=np.uint64)
    for j in range(n):
        ids = (ids << np.uint64(21)) | cps[j : j + count]
    # np.unique's result (sorted, distinct) by a sort and a neighbour test: several times
    # faster than its hash-based path for a few thousand ids
    ids.sort()
    keep = np.empty(count, dtype=bool)
    keep[0] = True
    np.not_equal(ids[1:], ids[:-1], out=keep[1:])
    return ids[keep]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted, distinct id arrays (``shingles`` output)."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


# --------------------------------------------------------------------------- MinHash


def signature_from_shingles(
    ids: np.ndarray, *, num_perm: int = NUM_PERM, seed: int = SEED
) -> np.ndarray:
    """The MinHash signature (uint32, ``num_perm`` values) of a set of shingle ids.

    The empty set has the all-0xFFFFFFFF signature, which ``SimilarityIndex.query`` never
    matches.
    """
    a, b = _perm(num_perm, seed)
    sig = np.full(num_perm, _EMPTY, dtype=np.uint32)
    ids = np.asarray(ids, dtype=np.uint64)
    if len(ids) == 0:
        return sig
    x = _splitmix64(ids) >> np.uint64(32)  # 32-bit keys for the multiply-add-shift family
    low = np.full(num_perm, _M64, dtype=np.uint64)
    buf = np.empty((min(len(x), _CHUNK), num_perm), dtype=np.uint64)
    for start in range(0, len(x), _CHUNK):
        chunk = x[start : start + _CHUNK, None]
        out = buf[: len(chunk)]
        np.multiply(chunk, a[None, :], out=out)
        np.add(out, b[None, :], out=out)
        # ">> 32" is monotone, so the minimum can be taken before the shift.
        np.minimum(low, out.min(axis=0), out=low)
    return (low >> np.uint64(32)).astype(np.uint32)


def signature(
    text: str, *, n: int = NGRAM, num_perm: int = NUM_PERM, seed: int = SEED
) -> np.ndarray:
    """The MinHash signature of ``text``'s character n-grams (see the module docstring)."""
    return signature_from_shingles(shingles(text, n), num_perm=num_perm, seed=seed)


def estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """The Jaccard estimate of two signatures: the share of equal positions."""
    sig_a, sig_b = np.asarray(sig_a), np.asarray(sig_b)
    if sig_a.shape != sig_b.shape:
        raise ValueError(f"signatures differ in length: {sig_a.shape} and {sig_b.shape}")
    return float(np.mean(sig_a == sig_b))


# --------------------------------------------------------------------------- indicator tables

_OPS = {
    "ge": "ge", ">=": "ge", "≥": "ge", "不小于": "ge", "不低于": "ge",
    "le": "le", "<=": "le", "≤": "le", "不大于": "le", "不高于": "le",
    "eq": "eq", "=": "eq", "==": "eq",
    "range": "range", "~": "range", "～": "range",
    "gt": "gt", ">": "gt", "lt": "lt", "<": "lt",
}  # fmt: skip
_TABLE_FIELDS = ("name", "op", "value", "low", "high", "text_value", "unit", "test_method")


def _field(row: Any, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    return getattr(row, name, None)


def _clean(value: Any) -> str:
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return _SPACES.sub(" ", text).strip()


def _number(value: Any) -> str:
    """A canonical decimal: 3.50, 3.5 and 3.5e0 all give "3.5"; None / NaN give ""."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "" if math.isnan(value) else str(value)
    try:
        dec = Decimal(str(value).strip())
    except InvalidOperation:
        return _clean(value)
    if not dec.is_finite():
        return "" if dec.is_nan() else str(dec)
    text = format(dec.normalize(), "f")
    return "0" if text in ("-0", "") else text


def indicator_table_text(rows: Iterable[Any]) -> str:
    """A canonical text of an indicator table, for ``signature``.

    ``rows`` are mappings or objects (e.g. ``declare.models.Indicator``) with ``name``, ``op``,
    ``value``, ``low``, ``high``, ``text_value``, ``unit`` and ``test_method``; missing fields
    count as empty. Text is NFKC-normalised, case-folded and whitespace-collapsed, operators
    are spelled as words (``≥`` → ``ge``), numbers are canonical decimals (``3.50`` → ``3.5``),
    and rows are sorted, so reordering rows or restyling numbers does not hide a copy. One line
    per row: ``name|op|value|low|high|text_value|unit|test_method``.
    """
    lines = []
    for row in rows:
        op = _clean(_field(row, "op"))
        parts = [
            _clean(_field(row, "name")),
            _OPS.get(op, op),
            _number(_field(row, "value")),
            _number(_field(row, "low")),
            _number(_field(row, "high")),
            _clean(_field(row, "text_value")),
            _clean(_field(row, "unit")),
            _clean(_field(row, "test_method")),
        ]
        lines.append("|".join(parts))
    return "\n".join(sorted(lines))


# --------------------------------------------------------------------------- LSH index


def _band_keys(sigs: np.ndarray, bands: int) -> np.ndarray:
    """(N, bands) uint64 keys: one hash of each band's ``rows`` signature values."""
    n, num_perm = sigs.shape
    rows = num_perm // bands
    parts = sigs[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    # A polynomial over the band's values (odd multiplier, mod 2^64), the band number mixed
    # in, then one splitmix64 round to spread the bits.
    h = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64), (n, bands)).copy()
    for j in range(rows):
        h *= np.uint64(0x9E3779B97F4A7C15)
        h += parts[:, :, j]
    return _splitmix64(h)


class SimilarityIndex:
    """MinHash signatures of one category's documents with LSH banding.

    Build it from ``(id, enterprise_id, signature)`` items, optionally with a fourth element,
    the document's ``shingles`` array, which makes ``query`` score candidates by their exact
    Jaccard similarity instead of the signature estimate. Building only stores the arrays.
    The first queries compare the bands directly (one vectorised pass, O(N·num_perm), about
    1-3 ms for 20,000 documents); from the 17th query on, an index used for many queries (a
    nightly pass over a category) looks band hashes up in a sorted array built once
    (O(bands·log N) per query). Both give identical results.
    """

    def __init__(
        self,
        items: Iterable[Sequence[Any]] = (),
        *,
        bands: int = BANDS,
        num_perm: int = NUM_PERM,
    ) -> None:
        if bands < 1 or num_perm % bands:
            raise ValueError(f"bands must divide num_perm ({num_perm}), got {bands}")
        self.bands = bands
        self.num_perm = num_perm
        self._ids: list[Hashable] = []
        self._enterprises: list[Hashable] = []
        self._shingles: list[np.ndarray | None] = []
        self._sigs = np.empty((0, num_perm), dtype=np.uint32)
        self._ent_codes = np.empty(0, dtype=np.int64)
        self._ent_lookup: dict[Hashable, int] = {}
        # Signed integer enterprise ids loaded as an array, by code, before ``_ent_lookup`` is
        # built from them (a one-off query only needs the code of its own enterprise).
        self._ent_pending: np.ndarray | None = None
        self._sorted: tuple[np.ndarray, int] | None = None
        self._queries = 0
        self.add(items)

    @classmethod
    def build(cls, items: Iterable[Sequence[Any]], **kwargs: Any) -> SimilarityIndex:
        return cls(items, **kwargs)

    def __len__(self) -> int:
        return len(self._ids)

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[Hashable] | np.ndarray,
        enterprise_ids: Sequence[Hashable] | np.ndarray,
        signatures: np.ndarray,
        *,
        shingles: Sequence[np.ndarray | None] | None = None,
        **kwargs: Any,
    ) -> SimilarityIndex:
        """Build from parallel arrays, e.g. signatures loaded as one (N, num_perm) array."""
        index = cls(**kwargs)
        ids = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
        ents = enterprise_ids if isinstance(enterprise_ids, np.ndarray) else list(enterprise_ids)
        index._extend(ids, ents, np.asarray(signatures), shingles)
        return index

    def add(self, items: Iterable[Sequence[Any]]) -> None:
        """Add ``(id, enterprise_id, signature[, shingles])`` items."""
        ids, ents, sigs, shs = [], [], [], []
        for pos, item in enumerate(items):
            if len(item) not in (3, 4):
                raise ValueError(
                    f"item {pos}: expected (id, enterprise_id, signature[, shingles]), "
                    f"got {len(item)} elements"
                )
            sig = np.asarray(item[2])
            if sig.shape != (self.num_perm,):
                raise ValueError(
                    f"item {pos} (id {item[0]!r}): signature must have {self.num_perm} values, "
                    f"got shape {sig.shape}"
                )
            ids.append(item[0])
            ents.append(item[1])
            sigs.append(sig)
            shs.append(None if len(item) == 3 else item[3])
        if ids:
            self._extend(ids, ents, np.vstack(sigs), shs)

    def _extend(
        self,
        ids: list[Hashable],
        ents: list[Hashable] | np.ndarray,
        sigs: np.ndarray,
        shs: Sequence[np.ndarray | None] | None,
    ) -> None:
        if sigs.ndim != 2 or sigs.shape[1] != self.num_perm:
            raise ValueError(
                f"signatures must be an (N, {self.num_perm}) array, got shape {sigs.shape}"
            )
        if not len(ids) == len(ents) == len(sigs) or (shs is not None and len(shs) != len(ids)):
            raise ValueError(
                f"ids ({len(ids)}), enterprise_ids ({len(ents)}), signatures ({len(sigs)})"
                + ("" if shs is None else f" and shingles ({len(shs)})")
                + " must have the same length"
            )
        fits = sigs.dtype.kind == "u" and sigs.dtype.itemsize <= 4  # no value out of range
        if np.issubdtype(sigs.dtype, np.integer) and len(sigs) and not fits and (
            sigs.min() < 0 or sigs.max() > 0xFFFFFFFF
        ):
            raise ValueError("signature values must be 32-bit unsigned integers")
        if not np.issubdtype(sigs.dtype, np.integer):
            raise ValueError(f"signatures must be integers (uint32), got dtype {sigs.dtype}")
        if (isinstance(ents, np.ndarray) and ents.dtype.kind == "i" and not self._ent_lookup
                and self._ent_pending is None):  # fmt: skip
            # integer ids into an empty index (a category loaded as arrays): the codes of the
            # loop below (first-appearance order) from one vectorised factorisation; the
            # lookup dict is built only if it is ever needed (``_enterprise_code``)
            codes, uniques = pd.factorize(ents)
            codes = codes.astype(np.int64)
            self._ent_pending = uniques.astype(np.int64)
            ents = ents.tolist()
        else:
            if isinstance(ents, np.ndarray):
                ents = ents.tolist()
            lookup = self._lookup()
            codes = np.fromiter(
                (lookup.setdefault(e, len(lookup)) for e in ents), dtype=np.int64, count=len(ents)
            )
        sigs = np.ascontiguousarray(sigs, dtype=np.uint32)
        self._ids.extend(ids)
        self._enterprises.extend(ents)
        self._shingles.extend(
            [None] * len(ids)
            if shs is None
            else [None if s is None else np.asarray(s, np.uint64) for s in shs]
        )
        self._sigs = np.vstack([self._sigs, sigs]) if len(self._sigs) else sigs
        self._ent_codes = np.concatenate([self._ent_codes, codes])
        self._sorted = None

    def _lookup(self) -> dict[Hashable, int]:
        """Enterprise id → code, built from the pending array first if there is one."""
        if self._ent_pending is not None:
            pending, self._ent_pending = self._ent_pending, None
            self._ent_lookup.update(zip(pending.tolist(), range(len(pending))))
        return self._ent_lookup

    def _enterprise_code(self, enterprise_id: Hashable) -> int | None:
        """The code of ``enterprise_id`` (None: no document of that enterprise), as
        ``_lookup().get`` gives it. A Python int (or bool) is looked up in the pending array
        directly: int64 equality is the dict's equality for those."""
        pending = self._ent_pending
        if (pending is not None and isinstance(enterprise_id, int)
                and -(2**63) <= enterprise_id < 2**63):  # fmt: skip
            hit = np.flatnonzero(pending == enterprise_id)
            return int(hit[0]) if hit.size else None
        return self._lookup().get(enterprise_id)

    def _band_match(self, docs: np.ndarray | None, sig: np.ndarray) -> np.ndarray:
        """Which documents (all, or ``docs``) share at least one whole band with ``sig``."""
        rows = self.num_perm // self.bands
        sigs = self._sigs if docs is None else self._sigs[docs]
        # compare 2 signature values at a time as one uint64 where the band allows it
        if rows % 2 == 0:
            mine = sigs.view(np.uint64).reshape(len(sigs), self.bands, rows // 2)
            theirs = sig.view(np.uint64).reshape(self.bands, rows // 2)
        else:
            mine = sigs.reshape(len(sigs), self.bands, rows)
            theirs = sig.reshape(self.bands, rows)
        # a loop over the few values of a band beats .all() over a short last axis
        same = mine[:, :, 0] == theirs[None, :, 0]
        for j in range(1, mine.shape[2]):
            same &= mine[:, :, j] == theirs[None, :, j]
        return same.any(axis=1)

    def _scan(self, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(documents sharing a band with ``sig``, equal signature values of every document):
        one comparison of the whole signature matrix serves both.

        A band of ``rows`` equal values is ``rows`` consecutive True bytes of the comparison,
        so with 1, 2, 4 or 8 rows a band is one unsigned integer equal to 0x01...01; the
        equal values of a document are the sum of its comparison bytes.
        """
        same = self._sigs == sig[None, :]
        rows = self.num_perm // self.bands
        width = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}.get(rows)
        if width is not None:
            whole = np.frombuffer(b"\x01" * rows, dtype=width)[0]
            hit = (same.view(width) == whole).any(axis=1)
        else:
            hit = self._band_match(None, sig)
        if self.num_perm % 8 == 0 and self.num_perm < 256:
            # the comparison bytes summed eight at a time as uint64 words (each byte position
            # counts at most num_perm / 8), then the eight byte sums added by a multiply
            words = same.view(np.uint64).sum(axis=1, dtype=np.uint64)
            equal = ((words * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)
        else:
            equal = np.count_nonzero(same, axis=1)
        return np.flatnonzero(hit), equal

    def _candidates(self, sig: np.ndarray) -> np.ndarray:
        """Documents sharing a band with ``sig``, looked up in a sorted array of band hashes
        built once (worth it from about 16 queries; the first ones use ``_scan``)."""
        if self._sorted is None:
            # hash in the high bits, document number in the low bits: np.sort, no argsort
            bits = max(1, int(len(self)).bit_length())
            mask = np.uint64((1 << bits) - 1)
            keys = _band_keys(self._sigs, self.bands) & ~mask
            keys |= np.arange(len(self), dtype=np.uint64)[:, None]
            self._sorted = (np.sort(keys.ravel()), bits)
        keys, bits = self._sorted
        mask = np.uint64((1 << bits) - 1)
        qkeys = _band_keys(sig[None, :], self.bands)[0] & ~mask
        lo = np.searchsorted(keys, qkeys, side="left")
        hi = np.searchsorted(keys, qkeys | mask, side="right")
        if not (hi > lo).any():
            return np.empty(0, dtype=np.int64)
        found = np.concatenate([keys[a:b] for a, b in zip(lo.tolist(), hi.tolist()) if b > a])
        docs = np.unique((found & mask).astype(np.int64))
        return docs[self._band_match(docs, sig)]  # drop truncated-hash collisions

    def query(
        self,
        signature: np.ndarray,
        enterprise_id: Hashable,
        threshold: float = 0.8,
        *,
        shingles: np.ndarray | None = None,
    ) -> list[tuple[Hashable, float]]:
        """Documents of OTHER enterprises at least ``threshold`` similar, most similar first.

        The score is the MinHash estimate, or the exact Jaccard similarity when both the index
        entry and this query have ``shingles``. Candidates come from LSH banding, so a pair
        far below the banding's own threshold (about 0.42 for 32 x 4) may be missed: use
        thresholds of 0.5 and above.
        """
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold!r}")
        sig = np.asarray(signature)
        if sig.shape != (self.num_perm,):
            raise ValueError(f"signature must have {self.num_perm} values, got {sig.shape}")
        if len(self) == 0 or bool((sig == _EMPTY).all()):
            return []
        sig = np.ascontiguousarray(sig, dtype=np.uint32)
        equal = None
        if self._sorted is None and self._queries < _SCAN_QUERIES:
            cand, equal = self._scan(sig)
        else:
            cand = self._candidates(sig)
        self._queries += 1
        own = self._enterprise_code(enterprise_id)
        if own is not None:
            cand = cand[self._ent_codes[cand] != own]
        if len(cand) == 0:
            return []
        if equal is None:
            equal = np.count_nonzero(self._sigs[cand] == sig[None, :], axis=1)
        else:
            equal = equal[cand]
        est = equal / self.num_perm  # the share of equal values, exactly as their mean
        exact = shingles is not None
        # An exact score may exceed its estimate: keep candidates within 4 standard errors.
        slack = 4.0 * math.sqrt(0.25 / self.num_perm) if exact else 0.0
        keep = est >= threshold - slack
        cand, est = cand[keep], est[keep]
        out = []
        for doc, score in zip(cand.tolist(), est.tolist()):
            if exact and self._shingles[doc] is not None:
                score = jaccard(np.asarray(shingles, np.uint64), self._shingles[doc])
            if score >= threshold:
                out.append((self._ids[doc], float(score)))
        out.sort(key=lambda pair: -pair[1])
        return out
