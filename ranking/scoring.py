"""Scoring for 企业标准"领跑者" rankings: tiers, composite scores, leaders.

Pure and vectorised: no Flask, no database, no I/O. Everything works on float64 arrays with
groups (product categories) as integer codes, without Python loops over declarations; the only
Python loops run over the handful of indicators or cut points. Sizing target: 2,000,000
declarations x 6 indicators in 500 categories on a 2-core machine.

Vocabulary (see docs/DOMAIN.md, "disclose -> rank -> lead"):

* an **indicator** (core indicator of an evaluation plan) has a direction, a floor (the
  national/industry requirement), tier cut points and a weight;
* a value is **eligible** on an indicator when it is a number at or better than the floor;
  tier 0 means "not eligible" (below the floor, or missing) and is never ranked;
* **tiers** (档) run 1 = best ... ``len(cuts) + 1`` = the last tier (at or better than the floor
  but not reaching the last cut). Equal values always share a tier ("排名不分先后");
* an indicator on which every eligible value in a category is equal gets no ranking there
  (``ranked`` False) and is ignored by the ``top_tier_all`` leader rule;
* the **composite** score is "anchored" (benchmark-anchored, independent of other entries) or
  "topsis" (classical TOPSIS within each category).

Decisions the plan text leaves open, made here and relied on by the tests:

* percentile tiers: an eligible value falls in tier ``k`` when the number of eligible values in
  its category that are *strictly better* is below ``ceil(cuts[k-1] / 100 * n)``; so a tie
  block straddling a boundary goes wholly to the better tier (ties at the boundary included,
  like the ``best_n`` / ``best_share`` leader rules);
* a category with fewer than two distinct eligible values on an indicator is "all equal" on it
  (a single entrant is not ranked on that indicator);
* composite ties: two scores tie when they differ by at most ``TIE_RTOL`` (1e-12) relative to
  the larger magnitude; ties chain in sorted order. ``composite_rank`` is the *dense* rank
  (1, 1, 2, ...) within the category, 0 for entries without a composite. ``best_n`` and
  ``best_share`` count entries strictly better (competition rank), so "the n best, ties at the
  boundary included" holds exactly;
* stars are given to leaders only (0 otherwise), from the composite of the entry's tie block, so
  tied entries share their stars;
* TOPSIS: a category in which every eligible entry is identical on every indicator
  (``d+ + d- == 0``) scores 1.0 for everybody (each entry *is* the ideal); a column whose
  eligible values in a category are all zero normalises to 0 there (contributes nothing); only
  entries eligible on every indicator take part (the others score NaN). pymcdm returns NaN
  (0/0) in those two cases and scikit-criteria refuses them; everywhere else the result equals
  both to 1e-9 (see tests/ranking/test_scoring_oracles.py);
* shares (percentile cuts, ``best_share``) are ``ceil(share * n)`` with a product within a
  rounding error of an integer taken as that integer: 30 % of 10 is 3 although
  ``0.3 * 10 == 3.0000000000000004``;
* the anchored composite uses ``best_reference`` and, when it is None in ``values`` mode, the
  best cut (the grade-1 threshold); in ``percentiles`` mode ``best_reference`` is required.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import hashlib
import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "COMPOSITE_METHODS",
    "Direction",
    "IndicatorSpec",
    "LeaderRule",
    "RankingResult",
    "SCORING_VERSION",
    "SpecError",
    "TIE_RTOL",
    "all_equal",
    "assign_tiers",
    "composite_anchored",
    "composite_topsis",
    "inputs_hash",
    "rank",
    "validate_rule",
    "validate_specs",
]

Direction = Literal["higher", "lower"]
CutMode = Literal["values", "percentiles"]
LeaderKind = Literal["top_tier_all", "best_n", "best_share"]

#: Bumped whenever a change to this module can change an output for the same inputs; part of
#: :func:`inputs_hash`, so a recorded hash also pins the algorithm.
SCORING_VERSION = "1"

#: Relative tolerance under which two composite scores are equal ("排名不分先后").
TIE_RTOL = 1e-12

# A share of a population is an exact integer when within this relative distance of one:
# 0.3 * 10 is 3.0000000000000004 in binary floating point and must give 3, not 4.
_SHARE_RTOL = 1e-9

_DIRECTIONS = ("higher", "lower")
_CUT_MODES = ("values", "percentiles")
_LEADER_KINDS = ("top_tier_all", "best_n", "best_share")


# ---------------------------------------------------------------------------------------------
# Plan objects and validation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorSpec:
    """One core indicator of an evaluation plan, in its canonical unit."""

    key: str
    direction: Direction
    floor: float
    cuts: tuple[float, ...]
    cut_mode: CutMode = "values"
    weight: float = 1.0
    best_reference: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.cuts, list):
            object.__setattr__(self, "cuts", tuple(self.cuts))


@dataclass(frozen=True)
class LeaderRule:
    """How leaders are chosen: ``top_tier_all``, ``best_n`` (n) or ``best_share`` (share)."""

    kind: LeaderKind
    n: int | None = None
    share: float | None = None
    star_cuts: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.star_cuts, list):
            object.__setattr__(self, "star_cuts", tuple(self.star_cuts))


class SpecError(ValueError):
    """A plan or leader rule that cannot be used; ``field`` names the offending field.

    ``field`` is the attribute name (``"cuts"``, ``"floor"``, ``"weight"``, ``"best_reference"``,
    ``"key"``, ``"direction"``, ``"cut_mode"``, ``"specs"``, ``"method"``, ``"kind"``, ``"n"``,
    ``"share"``, ``"star_cuts"``, ``"rule"``); ``key`` and ``index`` say which indicator, when
    the error is about one.
    """

    def __init__(
        self, field: str, message: str, *, key: str | None = None, index: int | None = None
    ) -> None:
        self.field = field
        self.message = message
        self.key = key
        self.index = index
        where = f" (indicator {key!r})" if key is not None else ""
        super().__init__(f"{field}{where}: {message}")


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _finite_real(x: object) -> bool:
    return _is_real(x) and math.isfinite(float(x))  # type: ignore[arg-type]


def _better(a: float, b: float, direction: str) -> bool:
    """True when ``a`` is strictly better than ``b`` in ``direction``."""
    return a > b if direction == "higher" else a < b


def _validate_spec(spec: object, index: int | None = None) -> None:
    if not isinstance(spec, IndicatorSpec):
        raise SpecError("specs", f"expected an IndicatorSpec, got {type(spec).__name__}",
                        index=index)
    key = spec.key if isinstance(spec.key, str) else None

    def fail(field: str, message: str) -> SpecError:
        return SpecError(field, message, key=key, index=index)

    if not isinstance(spec.key, str) or not spec.key.strip():
        raise fail("key", "must be a non-empty string")
    if spec.direction not in _DIRECTIONS:
        raise fail("direction", f"must be 'higher' or 'lower', got {spec.direction!r}")
    if spec.cut_mode not in _CUT_MODES:
        raise fail("cut_mode", f"must be 'values' or 'percentiles', got {spec.cut_mode!r}")
    if not _finite_real(spec.floor):
        raise fail("floor", f"must be a finite number, got {spec.floor!r}")
    if not _finite_real(spec.weight) or not float(spec.weight) > 0:
        raise fail("weight", f"must be a finite number > 0, got {spec.weight!r}")

    cuts = spec.cuts
    if not isinstance(cuts, tuple | list) or len(cuts) == 0:
        raise fail("cuts", "at least one cut point is required")
    for c in cuts:
        if not _finite_real(c):
            raise fail("cuts", f"every cut must be a finite number, got {c!r}")
    cf = [float(c) for c in cuts]
    if spec.cut_mode == "values":
        for a, b in zip(cf, cf[1:]):
            if not _better(a, b, spec.direction):
                order = "descending" if spec.direction == "higher" else "ascending"
                raise fail("cuts", f"must be strictly {order} (best first) for "
                                   f"'{spec.direction}' indicators: {a!r} then {b!r}")
        for c in cf:
            if not _better(c, float(spec.floor), spec.direction):
                raise fail("cuts", f"cut {c!r} is not strictly better than the floor "
                                   f"{spec.floor!r}")
    else:
        for c in cf:
            if not 0 < c < 100:
                raise fail("cuts", f"percentile cuts must lie in (0, 100), got {c!r}")
        for a, b in zip(cf, cf[1:]):
            if not a < b:
                raise fail("cuts", f"percentile cuts must be strictly increasing: {a!r} then {b!r}")

    if spec.best_reference is not None:
        if not _finite_real(spec.best_reference):
            raise fail("best_reference", f"must be a finite number, got {spec.best_reference!r}")
        if not _better(float(spec.best_reference), float(spec.floor), spec.direction):
            raise fail("best_reference", f"{spec.best_reference!r} is not strictly better than "
                                         f"the floor {spec.floor!r}")


def validate_specs(specs: Sequence[IndicatorSpec], *, method: str | None = None) -> None:
    """Refuse a plan that cannot be ranked; raise :class:`SpecError` naming the field.

    With ``method`` also check that the composite method exists and can be computed (the
    anchored composite needs a ``best_reference`` for percentile-mode indicators).
    """
    if isinstance(specs, str | bytes) or not isinstance(specs, Sequence):
        raise SpecError("specs", "must be a sequence of IndicatorSpec")
    if len(specs) < 1:
        raise SpecError("specs", "at least one indicator is required")
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        _validate_spec(spec, i)
        if spec.key in seen:
            raise SpecError("key", "duplicate indicator key", key=spec.key, index=i)
        seen.add(spec.key)
    if method is not None:
        if method not in COMPOSITE_METHODS:
            raise SpecError("method", f"unknown composite method {method!r}; "
                                      f"known: {sorted(COMPOSITE_METHODS)}")
        if method == "anchored":
            for i, spec in enumerate(specs):
                if spec.best_reference is None and spec.cut_mode != "values":
                    raise SpecError("best_reference", "required by the anchored composite when "
                                    "cuts are percentiles", key=spec.key, index=i)


def validate_rule(rule: LeaderRule) -> None:
    """Refuse a leader rule that cannot be applied; raise :class:`SpecError` naming the field."""
    if not isinstance(rule, LeaderRule):
        raise SpecError("rule", f"expected a LeaderRule, got {type(rule).__name__}")
    if rule.kind not in _LEADER_KINDS:
        raise SpecError("kind", f"must be one of {_LEADER_KINDS}, got {rule.kind!r}")
    if rule.kind == "best_n":
        if not isinstance(rule.n, numbers.Integral) or isinstance(rule.n, bool) or rule.n < 1:
            raise SpecError("n", f"best_n needs an integer n >= 1, got {rule.n!r}")
    elif rule.n is not None:
        raise SpecError("n", f"only used by best_n, not by {rule.kind}")
    if rule.kind == "best_share":
        if not _finite_real(rule.share) or not 0 < float(rule.share) <= 1:  # type: ignore[arg-type]
            raise SpecError("share", f"best_share needs a share in (0, 1], got {rule.share!r}")
    elif rule.share is not None:
        raise SpecError("share", f"only used by best_share, not by {rule.kind}")
    stars = rule.star_cuts
    if not isinstance(stars, tuple | list):
        raise SpecError("star_cuts", "must be a tuple of numbers")
    for c in stars:
        if not _finite_real(c):
            raise SpecError("star_cuts", f"every star cut must be a finite number, got {c!r}")
    for a, b in zip(stars, stars[1:]):
        if not float(a) > float(b):
            raise SpecError("star_cuts", f"must be strictly descending: {a!r} then {b!r}")


def _reference(spec: IndicatorSpec) -> float:
    """The value scoring 1.0 in the anchored composite."""
    if spec.best_reference is not None:
        return float(spec.best_reference)
    if spec.cut_mode == "values":
        return float(spec.cuts[0])
    raise SpecError("best_reference", "required by the anchored composite when cuts are "
                    "percentiles", key=spec.key)


# ---------------------------------------------------------------------------------------------
# Vectorised helpers
# ---------------------------------------------------------------------------------------------


def _as_1d(values: object) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {v.shape}")
    return v


def _codes(groups: object, n: int) -> tuple[np.ndarray, int]:
    """Dense-enough non-negative int codes for ``groups`` and the number of code slots.

    Non-negative integer arrays are used as they are (no hashing); anything else is factorised.
    """
    if groups is None:
        return np.zeros(n, dtype=np.intp), 1
    g = groups.to_numpy() if isinstance(groups, pd.Series | pd.Index) else np.asarray(groups)
    if g.ndim != 1 or len(g) != n:
        raise ValueError(f"groups must be one-dimensional with {n} entries, got shape {g.shape}")
    if n == 0:
        return np.zeros(0, dtype=np.intp), 0
    if g.dtype.kind in "iu":
        lo, hi = int(g.min()), int(g.max())
        if lo >= 0 and hi <= max(4 * n, 1 << 16):
            return g.astype(np.intp, copy=False), hi + 1
    codes, uniques = pd.factorize(g, sort=True, use_na_sentinel=True)
    if (codes < 0).any():
        raise ValueError("groups contain missing values")
    return codes.astype(np.intp, copy=False), len(uniques)


def _small_codes(codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Codes as int16 when they fit: numpy's stable sort is a radix sort for <= 16-bit ints."""
    if n_groups <= np.iinfo(np.int16).max:
        return codes.astype(np.int16)
    return codes


def _group_order(codes: np.ndarray, n_groups: int, key: np.ndarray) -> np.ndarray:
    """Permutation sorting by (code, key ascending); ties in key may come in any order."""
    o1 = np.argsort(key)
    o2 = np.argsort(_small_codes(codes, n_groups)[o1], kind="stable")
    return o1[o2]


def _mono(x: np.ndarray) -> np.ndarray:
    """Order-preserving map of non-NaN float64 to uint64 (-0.0 and 0.0 map alike).

    Non-negative floats get their sign bit set, negative ones have every bit flipped.
    """
    i = np.add(x, 0.0).view(np.int64)  # a fresh array; -0.0 + 0.0 is 0.0
    mask = i >> 63  # 0 or -1
    mask |= np.iinfo(np.int64).min
    i ^= mask
    return i.view(np.uint64)


def _argsort_unique(values: np.ndarray) -> np.ndarray:
    """Argsort of distinct values; integers that fit are packed with their row and value-sorted."""
    n = len(values)
    if values.dtype.kind in "iu" and n > 1:
        lo, hi = int(values.min()), int(values.max())
        row_bits = int(n - 1).bit_length()
        if (hi - lo).bit_length() + row_bits <= 64:
            packed = (values - lo).astype(np.uint64) << np.uint64(row_bits)
            packed |= np.arange(n, dtype=np.uint64)
            packed.sort()
            packed &= np.uint64((1 << row_bits) - 1)
            return packed.astype(np.intp)
    return np.argsort(values)


# Group-code bits packed above the value bits in _kth_smallest_per_group; more groups than
# 2**this fall back to an argsort.
_PACK_MAX_GROUP_BITS = 32


def _kth_smallest_per_group(
    mono: np.ndarray, gc: np.ndarray, n_groups: int, ranks: np.ndarray
) -> np.ndarray:
    """Exact order statistics per group without an argsort of the whole population.

    ``mono``: uint64 keys (see :func:`_mono`); ``ranks``: (K, n_groups) 0-based ranks wanted
    in each group (entries where the rank does not exist in the group are left 0). Returns the
    (K, n_groups) uint64 key at each rank.

    Sorting values is several times faster than arg-sorting them, so the group code and the top
    bits of the key are packed into one uint64 and sorted with ``np.sort``. The packed value at
    a rank identifies the exact key up to the dropped low bits; the few entries sharing that
    packed value are resolved exactly (usually they are all equal and no sort is needed).
    """
    k_count = ranks.shape[0]
    out = np.zeros((k_count, n_groups), dtype=np.uint64)
    size = np.bincount(gc, minlength=n_groups)
    start = np.cumsum(size) - size
    valid = (ranks >= 0) & (ranks < size[None, :])
    pos = np.where(valid, start[None, :] + ranks, 0)
    bits = max(1, int(n_groups - 1).bit_length())
    if mono.size == 0:
        return out
    if bits > _PACK_MAX_GROUP_BITS:  # too many groups to pack: arg-sort
        order = _group_order(gc, n_groups, mono)
        out[valid] = mono[order][pos[valid]]
        return out
    packed = (gc.astype(np.uint64) << np.uint64(64 - bits)) | (mono >> np.uint64(bits))
    ps = np.sort(packed)
    target = ps[pos]  # (K, G) packed value at each wanted rank
    first = np.searchsorted(ps, target.ravel(), side="left").reshape(target.shape)
    within = pos - first  # rank among the entries sharing the packed value
    umax = np.iinfo(np.uint64).max
    for k in range(k_count):
        cand = np.flatnonzero(packed == target[k][gc])
        cg, cm = gc[cand], mono[cand]
        lo = np.full(n_groups, umax, dtype=np.uint64)
        hi = np.zeros(n_groups, dtype=np.uint64)
        np.minimum.at(lo, cg, cm)
        np.maximum.at(hi, cg, cm)
        out[k] = np.where(valid[k], lo, 0)
        hard = valid[k] & (lo != hi)
        if hard.any():
            sel = hard[cg]
            hg, hm = cg[sel], cm[sel]
            o = np.lexsort((hm, hg))
            hsize = np.bincount(hg, minlength=n_groups)
            hstart = np.cumsum(hsize) - hsize
            out[k][hard] = hm[o][hstart[hard] + within[k][hard]]
    return out


def _ceil_share(x: np.ndarray | float) -> np.ndarray:
    """ceil(x) for shares of a population; x within rounding error of an integer is taken as it."""
    x = np.asarray(x, dtype=np.float64)
    r = np.rint(x)
    near = np.abs(x - r) <= _SHARE_RTOL * np.maximum(1.0, np.abs(x))
    q = np.where(near, r, np.ceil(x)).astype(np.int64)
    return np.where(x > 0, np.maximum(q, 1), 0)


def _eligible(v: np.ndarray, spec: IndicatorSpec) -> np.ndarray:
    """At or better than the floor (NaN is never eligible)."""
    f = float(spec.floor)
    return v >= f if spec.direction == "higher" else v <= f


def _tier_dtype(spec: IndicatorSpec) -> type:
    return np.int8 if len(spec.cuts) < 120 else np.int64


def _value_tiers(v: np.ndarray, spec: IndicatorSpec) -> np.ndarray:
    """1 + the number of cuts the value does not reach (a value equal to a cut reaches it)."""
    t = np.ones(len(v), dtype=_tier_dtype(spec))
    for c in spec.cuts:
        t += (v < float(c)) if spec.direction == "higher" else (v > float(c))
    return t


def _sorted_blocks(gs: np.ndarray, ks: np.ndarray, rtol: float):
    """For arrays sorted by (group, key): group and tie-block starts of every element.

    A new tie block starts where the group changes or the key exceeds the previous one by more
    than ``rtol`` relative to the larger magnitude (ties chain along the sorted order).
    """
    m = len(gs)
    pos = np.arange(m)
    new_group = np.empty(m, dtype=bool)
    new_block = np.empty(m, dtype=bool)
    if m:
        new_group[0] = True
        new_group[1:] = gs[1:] != gs[:-1]
        diff = ks[1:] - ks[:-1]
        scale = np.maximum(np.abs(ks[1:]), np.abs(ks[:-1]))
        new_block[0] = True
        new_block[1:] = new_group[1:] | (diff > rtol * scale)
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0)) if m else pos
    block_start = np.maximum.accumulate(np.where(new_block, pos, 0)) if m else pos
    return new_group, new_block, group_start, block_start


def _percentile_tiers(
    v: np.ndarray, eligible: np.ndarray, spec: IndicatorSpec, codes: np.ndarray, n_groups: int
) -> np.ndarray:
    """Tier k when fewer than ceil(cut_k% of the group's eligible entries) are strictly better.

    Equivalently: the value is at least as good as the group's q_k-th best value, so a tie
    block at a boundary goes wholly to the better tier.
    """
    out = np.zeros(len(v), dtype=_tier_dtype(spec))
    everyone = bool(eligible.all())
    idx = None if everyone else np.flatnonzero(eligible)
    if not everyone and idx.size == 0:
        return out
    x = v if everyone else v[idx]
    mono = _mono(x if spec.direction == "lower" else -x)  # smaller = better
    gc = codes if everyone else codes[idx]
    size = np.bincount(gc, minlength=n_groups)
    ranks = np.stack([_ceil_share(float(c) * size / 100.0) - 1 for c in spec.cuts])
    thresholds = _kth_smallest_per_group(mono, gc, n_groups, ranks)
    tier = np.ones(len(x), dtype=_tier_dtype(spec))
    for k in range(len(spec.cuts)):
        tier += mono > thresholds[k][gc]
    if everyone:
        return tier
    out[idx] = tier
    return out


def _group_min_max(v: np.ndarray, codes: np.ndarray, n_groups: int):
    """Per-group min and max of non-NaN values (+inf/-inf for a group without values)."""
    ok = ~np.isnan(v)
    vv, cc = (v, codes) if ok.all() else (v[ok], codes[ok])
    mn = np.full(n_groups, np.inf)
    mx = np.full(n_groups, -np.inf)
    np.minimum.at(mn, cc, vv)
    np.maximum.at(mx, cc, vv)
    return mn, mx


def _all_equal_per_group(v: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    mn, mx = _group_min_max(v, codes, n_groups)
    return ~(mn < mx)


def _tiers(v: np.ndarray, spec: IndicatorSpec, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Tiers as a small int array (int8 unless there are very many cuts)."""
    eligible = _eligible(v, spec)
    if spec.cut_mode == "values":
        t = _value_tiers(v, spec)
        t[~eligible] = 0
        return t
    return _percentile_tiers(v, eligible, spec, codes, n_groups)


# ---------------------------------------------------------------------------------------------
# Public single-indicator functions
# ---------------------------------------------------------------------------------------------


def assign_tiers(
    values: np.ndarray, spec: IndicatorSpec, groups: np.ndarray | None = None
) -> np.ndarray:
    """Tier of every value: 1 = best ... ``len(cuts) + 1``; 0 = below the floor or NaN.

    A value equal to a cut reaches that tier; equal values always share a tier. ``groups``
    (one code per value) matters only for ``percentiles`` mode, where shares are counted within
    each group over its eligible values.
    """
    _validate_spec(spec)
    v = _as_1d(values)
    if spec.cut_mode == "values":
        groups = None  # values mode does not depend on the other entries
    codes, n_groups = _codes(groups, len(v))
    return _tiers(v, spec, codes, n_groups).astype(np.int64)


def all_equal(values: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray | bool:
    """Whether every (non-NaN) value is equal: no ranking is published then.

    Pass the ranked values only (NaN for entries not ranked, e.g. below the floor). Without
    ``groups`` returns one bool; with ``groups`` returns, for every entry, the answer for its
    group. A group with no value or a single distinct value is all-equal.
    """
    v = _as_1d(values)
    if groups is None:
        ok = v[~np.isnan(v)]
        return bool(ok.size == 0 or ok.min() == ok.max())
    codes, n_groups = _codes(groups, len(v))
    return _all_equal_per_group(v, codes, n_groups)[codes]


# ---------------------------------------------------------------------------------------------
# Composite scores
# ---------------------------------------------------------------------------------------------


def _as_matrix(matrix: np.ndarray | pd.DataFrame, specs: Sequence[IndicatorSpec]) -> np.ndarray:
    if isinstance(matrix, pd.DataFrame):
        cols = [matrix[s.key].to_numpy(dtype=np.float64, na_value=np.nan) for s in specs]
        X = np.empty((len(matrix), len(specs)), dtype=np.float64, order="F")
        for j, c in enumerate(cols):
            X[:, j] = c
        return X
    X = np.asarray(matrix, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(specs):
        raise ValueError(f"matrix must be (entries, {len(specs)}) in spec order, got {X.shape}")
    return X


def _eligible_rows(X: np.ndarray, specs: Sequence[IndicatorSpec]) -> np.ndarray:
    ok = np.ones(X.shape[0], dtype=bool)
    for j, s in enumerate(specs):
        ok &= _eligible(X[:, j], s)
    return ok


def composite_anchored(
    matrix: np.ndarray | pd.DataFrame,
    specs: Sequence[IndicatorSpec],
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Benchmark-anchored composite: 0 at the floor, 1 at the reference, may exceed 1.

    Per indicator ``s = (v - floor) / (reference - floor)`` in the indicator's direction;
    ``score = sum(w * s) / sum(w)``. An entry below the floor (or missing) on any indicator
    scores NaN. Each score depends only on its own row: adding or removing a declaration never
    changes anyone else's score. ``groups`` is accepted for the registry's signature and unused.
    """
    validate_specs(specs, method="anchored")
    X = _as_matrix(matrix, specs)
    total = np.zeros(X.shape[0], dtype=np.float64)
    wsum = 0.0
    for j, s in enumerate(specs):
        x = X[:, j]
        floor, ref, w = float(s.floor), _reference(s), float(s.weight)
        if s.direction == "higher":
            part = (x - floor) / (ref - floor)
        else:
            part = (floor - x) / (floor - ref)
        part = np.where(_eligible(x, s), part, np.nan)
        total += w * part
        wsum += w
    return total / wsum


def composite_topsis(
    matrix: np.ndarray | pd.DataFrame,
    specs: Sequence[IndicatorSpec],
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Classical TOPSIS within each group, over the eligible entries of the group.

    Vector normalisation per column per group (``x / sqrt(sum x**2)``), weights normalised to
    sum 1, ideal / anti-ideal by direction, Euclidean distances, closeness ``d- / (d+ + d-)``.
    Entries below the floor (or missing) on any indicator score NaN and take no part in the
    normalisation. Where ``d+ + d- == 0`` (every eligible entry of the group identical) the
    score is 1.0; a column whose eligible values in a group are all 0 normalises to 0.
    Equal to ``pymcdm.methods.TOPSIS(normalization_function=vector_normalization)`` and to
    scikit-criteria's ``VectorScaler(matrix) -> SumScaler(weights) -> TOPSIS()`` (pymcdm turns a
    cost column into ``1 - r`` and takes its max; the distances are the same as taking the min
    of ``r``).
    """
    validate_specs(specs)
    X = _as_matrix(matrix, specs)
    n = X.shape[0]
    codes, n_groups = _codes(groups, n)
    out = np.full(n, np.nan)
    idx = np.flatnonzero(_eligible_rows(X, specs))
    if idx.size == 0:
        return out
    gc = codes[idx]
    w = np.array([float(s.weight) for s in specs])
    w = w / w.sum()
    d_plus = np.zeros(idx.size)
    d_minus = np.zeros(idx.size)
    for j, s in enumerate(specs):
        x = X[idx, j]
        norm = np.sqrt(np.bincount(gc, weights=x * x, minlength=n_groups))
        safe = np.where(norm > 0, norm, 1.0)
        v = w[j] * (x / safe[gc])
        mn, mx = _group_min_max(v, gc, n_groups)
        ideal, anti = (mx, mn) if s.direction == "higher" else (mn, mx)
        d_plus += (v - ideal[gc]) ** 2
        d_minus += (v - anti[gc]) ** 2
    d_plus = np.sqrt(d_plus)
    d_minus = np.sqrt(d_minus)
    denom = d_plus + d_minus
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(denom > 0, d_minus / denom, 1.0)
    out[idx] = score
    return out


#: Composite methods by name; each is ``f(matrix (entries x indicators, spec order), specs,
#: groups=int codes or None) -> float array`` (NaN for entries without a composite).
COMPOSITE_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "anchored": composite_anchored,
    "topsis": composite_topsis,
}


# ---------------------------------------------------------------------------------------------
# Ranking
# ---------------------------------------------------------------------------------------------


@dataclass
class RankingResult:
    """Everything one ranking run produces; every frame is indexed by entry id, sorted.

    * ``tiers``: one int64 column per indicator (spec order), 0 = below the floor / missing;
    * ``ranked``: per indicator, ``bool`` without groups, else a bool array aligned with the
      sorted index (each entry gets its category's answer); False = all values equal there;
    * ``composite``: float64, NaN where any tier is 0;
    * ``composite_rank``: int64 dense rank within the category (1 = best, tied scores share),
      0 where the composite is NaN;
    * ``leaders``: bool; ``stars``: int64, 0 for non-leaders.
    """

    tiers: pd.DataFrame
    ranked: dict[str, np.ndarray | bool]
    composite: pd.Series
    composite_rank: pd.Series
    leaders: pd.Series
    stars: pd.Series


def _sorted_inputs(
    matrix: pd.DataFrame, specs: Sequence[IndicatorSpec], groups: object
) -> tuple[pd.Index, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Index sorted ascending, the (entries x indicators) float64 matrix in that order, and the
    group labels in that order (or None), plus the sorting permutation (or None)."""
    if not isinstance(matrix, pd.DataFrame):
        raise TypeError("matrix must be a pandas DataFrame indexed by entry id")
    missing = [s.key for s in specs if s.key not in matrix.columns]
    if missing:
        raise ValueError(f"matrix has no column for indicator(s) {missing}")
    index = matrix.index
    if not index.is_unique:
        raise ValueError("matrix index (entry ids) must be unique")
    perm = None
    if not index.is_monotonic_increasing:
        raw = index.to_numpy()
        perm = _argsort_unique(raw) if raw.dtype.kind in "iu" else index.argsort()
        index = index.take(perm)
    X = np.empty((len(index), len(specs)), dtype=np.float64, order="F")
    for j, s in enumerate(specs):
        col = matrix[s.key].to_numpy(dtype=np.float64, na_value=np.nan)
        X[:, j] = col if perm is None else col[perm]
    g = None
    if groups is not None:
        if isinstance(groups, pd.Series):
            if groups.index.equals(matrix.index):
                g = groups.to_numpy()
                g = g if perm is None else g[perm]
            else:
                if not groups.index.is_unique:
                    raise ValueError("groups index must be unique")
                aligned = groups.reindex(index)
                if aligned.isna().any():
                    raise ValueError("groups has no category for some entries")
                g = aligned.to_numpy()
        else:
            g = np.asarray(groups)
            if g.ndim != 1 or len(g) != len(index):
                raise ValueError("groups must have one category per row of matrix")
            g = g if perm is None else g[perm]
        if pd.isna(g).any():
            raise ValueError("groups has no category for some entries")
    return index, X, g, perm


def rank(
    matrix: pd.DataFrame,
    specs: Sequence[IndicatorSpec],
    rule: LeaderRule,
    method: str = "anchored",
    groups: pd.Series | None = None,
) -> RankingResult:
    """Tiers per indicator, composite, composite rank, leaders and stars, per category.

    ``matrix``: index = entry ids (eligible entries only), columns = spec keys (extra columns
    ignored), values in each indicator's canonical unit (NaN = missing = not eligible).
    ``groups``: category per entry (aligned on the index), or None for one category.
    Same inputs in any row order give identical outputs, sorted by entry id.
    """
    validate_specs(specs, method=method)
    validate_rule(rule)
    index, X, glabels, _ = _sorted_inputs(matrix, specs, groups)
    if np.isinf(X).any():
        raise ValueError("matrix contains infinite values")
    n = len(index)
    codes, n_groups = _codes(glabels, n)

    tiers: dict[str, np.ndarray] = {}
    ranked: dict[str, np.ndarray | bool] = {}
    any_zero = np.zeros(n, dtype=bool)
    for j, s in enumerate(specs):
        x = X[:, j]
        t = _tiers(x, s, codes, n_groups)
        tiers[s.key] = t
        ok = t > 0
        any_zero |= ~ok
        lo, hi = _group_min_max(x[ok], codes[ok], n_groups)
        differs = lo < hi
        ranked[s.key] = bool(differs[0]) if glabels is None else differs[codes]

    composite = np.asarray(
        COMPOSITE_METHODS[method](X, specs, codes if glabels is not None else None),
        dtype=np.float64,
    )
    if composite.shape != (n,):
        raise ValueError(f"composite method {method!r} returned shape {composite.shape}")
    composite = np.where(any_zero, np.nan, composite)

    # Composite order within each category, with tolerance ties.
    comp_rank = np.zeros(n, dtype=np.int64)
    better = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)  # strictly better entries
    block_score = np.full(n, np.nan)
    count = np.zeros(n, dtype=np.int64)  # entries with a composite in the category
    idx = np.flatnonzero(~np.isnan(composite))
    if idx.size:
        gc = codes[idx]
        key = -composite[idx]
        order = _group_order(gc, n_groups, key)
        gs, ks = gc[order], key[order]
        new_group, new_block, group_start, block_start = _sorted_blocks(gs, ks, TIE_RTOL)
        block_id = np.cumsum(new_block) - 1
        first_block = np.maximum.accumulate(np.where(new_group, block_id, 0))
        target = idx[order]
        comp_rank[target] = block_id - first_block + 1
        better[target] = block_start - group_start
        block_score[target] = -ks[block_start]
        count[idx] = np.bincount(gc, minlength=n_groups)[gc]

    ranked_masks = [
        np.full(n, r, dtype=bool) if isinstance(r, bool) else r for r in ranked.values()
    ]
    if rule.kind == "top_tier_all":
        leaders = ~any_zero
        any_ranked = np.zeros(n, dtype=bool)
        for r, t in zip(ranked_masks, tiers.values()):
            leaders &= ~r | (t == 1)
            any_ranked |= r
        leaders &= any_ranked
    elif rule.kind == "best_n":
        leaders = better < int(rule.n)  # type: ignore[arg-type]
    else:
        leaders = better < _ceil_share(float(rule.share) * count)  # type: ignore[arg-type]
    leaders &= ~any_zero

    stars = np.zeros(n, dtype=np.int64)
    for c in rule.star_cuts:
        stars += block_score >= float(c)
    stars[~leaders] = 0

    return RankingResult(
        tiers=pd.DataFrame({k: t.astype(np.int64) for k, t in tiers.items()}, index=index),
        ranked=ranked,
        composite=pd.Series(composite, index=index, name="composite"),
        composite_rank=pd.Series(comp_rank, index=index, name="composite_rank"),
        leaders=pd.Series(leaders, index=index, name="leader"),
        stars=pd.Series(stars, index=index, name="stars"),
    )


# ---------------------------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------------------------


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, _dt.datetime | _dt.date | _dt.time):
        return o.isoformat()
    if isinstance(o, decimal.Decimal):
        return str(o)
    if isinstance(o, set | frozenset):
        return sorted(o, key=repr)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    raise TypeError(f"inputs_hash cannot serialise {type(o).__name__}")


def _canonical_json(obj: object) -> bytes:
    return json.dumps(
        obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=True,
        default=_json_default,
    ).encode("utf-8")


def _labels_bytes(values: np.ndarray | pd.Index) -> bytes:
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return b"i" + arr.astype("<i8").tobytes()
    if arr.dtype.kind == "f":
        return b"f" + _floats_bytes(arr)
    items = [[type(x).__name__, x if isinstance(x, str | int | float | bool) else str(x)]
             for x in arr.tolist()]
    return b"o" + _canonical_json(items)


def _floats_bytes(a: np.ndarray) -> bytes:
    a = np.asarray(a, dtype=np.float64) + 0.0  # -0.0 -> 0.0
    a[np.isnan(a)] = np.nan  # one NaN bit pattern
    return a.astype("<f8").tobytes()


def _opt_float(x: object) -> float | None:
    return None if x is None else float(x)  # type: ignore[arg-type]


def _spec_dict(s: IndicatorSpec) -> dict[str, object]:
    """Numbers as floats, so 4 and 4.0 serialise alike."""
    return {
        "key": s.key,
        "direction": s.direction,
        "floor": float(s.floor),
        "cuts": [float(c) for c in s.cuts],
        "cut_mode": s.cut_mode,
        "weight": float(s.weight),
        "best_reference": _opt_float(s.best_reference),
    }


def _rule_dict(r: LeaderRule) -> dict[str, object]:
    return {
        "kind": r.kind,
        "n": None if r.n is None else int(r.n),
        "share": _opt_float(r.share),
        "star_cuts": [float(c) for c in r.star_cuts],
    }


def inputs_hash(
    matrix: pd.DataFrame,
    specs: Sequence[IndicatorSpec],
    rule: LeaderRule,
    method: str,
    extra: Mapping[str, object] = {},  # noqa: B006 - read only
    *,
    groups: pd.Series | None = None,
) -> str:
    """SHA-256 (hex) of a canonical serialisation of a ranking's inputs.

    Covers the scoring version, the specs (in order) and rule as sorted JSON, the method, the
    ``extra`` mapping as sorted JSON, the entry ids sorted, the indicator columns (spec order)
    as float64 bytes in that order and, when given, the categories. The same inputs in any row
    order give the same hash; any change of a value, spec, rule, method or category changes it.
    """
    validate_specs(specs, method=method)
    validate_rule(rule)
    index, X, g, _ = _sorted_inputs(matrix, specs, groups)
    h = hashlib.sha256()

    def feed(tag: str, payload: bytes) -> None:
        h.update(tag.encode("ascii"))
        h.update(len(payload).to_bytes(8, "little"))
        h.update(payload)

    feed("version", SCORING_VERSION.encode("ascii"))
    feed("specs", _canonical_json([_spec_dict(s) for s in specs]))
    feed("rule", _canonical_json(_rule_dict(rule)))
    feed("method", _canonical_json(method))
    feed("extra", _canonical_json(dict(extra)))
    feed("index", _labels_bytes(index))
    for j, s in enumerate(specs):
        feed("column", _canonical_json(s.key) + _floats_bytes(X[:, j]))
    if g is not None:
        feed("groups", _labels_bytes(g))
    return h.hexdigest()
