"""Reproducible "double random" (双随机) sampling for post-declaration supervision.

Pure and vectorised: no Flask, no database, no I/O. Everything a draw depends on is its seed and
its population table, so anyone holding both can redo the draw, with this module or by
following the recipe below, and get the identical sample.

Public API
==========

* :func:`seed_from_text` -- a public text (e.g. a lottery result) -> 128-bit integer seed.
* :func:`child_seed` -- the per-purpose sub-seed (one per stratum, one for inspectors).
* :func:`population_hash` -- canonical SHA-256 of a population table.
* :func:`sample_size` -- total sample size from a ratio or a count, with the minimum ratio.
* :func:`risk_weights` -- base weights raised by risk.
* :func:`inclusion_probabilities` -- pi_i proportional to w_i, summing to n, capped.
* :func:`draw` -- unequal-probability sampling without replacement with exactly those pi_i.
* :func:`allocate` -- per-stratum sample sizes (proportional / equal, largest remainder).
* :func:`stratified_draw` / :func:`redo` -- the whole draw, and its re-run from the record.
* :func:`assign_inspectors` -- random, recused, balanced inspector assignment.

Method: randomised systematic pi-ps sampling (Madow 1949, on a random order)
==========================================================================

Given inclusion probabilities ``0 <= pi_i <= 1`` with ``sum(pi) = n`` (an integer), the units
are put in a random order, their ``pi`` laid end to end on ``[0, n)`` (unit ``i`` covers
``[C_{i-1}, C_i)`` with ``C`` the cumulative sum), one uniform ``u`` in ``[0, 1)`` is drawn, and
the units covering the points ``u, u + 1, ..., u + n - 1`` are selected.

* **Exact first-order inclusion probabilities.** A unit's interval has length ``pi_i <= 1`` so
  it contains at most one point, and it contains one exactly when ``(u - C_{i-1}) mod 1 <
  pi_i``, which has probability ``pi_i`` for a uniform ``u``, whatever the order.
* **Fixed size** ``n``: exactly ``n`` points fall in ``[0, n)``. No duplicates, by construction.
* **O(N)** after the random order (an O(N log N) sort of random keys), fully vectorised.
* The random order (Goodman & Kish's "randomised systematic" variant) makes the joint
  inclusion probabilities of any two units positive in practice and removes any dependence on
  the order in which the population was listed.

Sampford or conditional Poisson sampling would also give exact ``pi_i`` (with tractable second
order probabilities), but they are rejective: the number of rejections grows quickly with ``n``
and with unequal ``pi`` and their running time is random. Systematic sampling is one pass,
its cost is fixed and a third party can redo it by hand from a spreadsheet, which matters more
here than variance estimation.

**Why not** ``numpy.random.Generator.choice(N, n, replace=False, p=p)``: numpy draws units one
after the other, each time with probability proportional to ``p`` among the units not yet drawn
(successive sampling). The resulting inclusion probabilities are *not* ``n * p_i``: large units
are included less often and small units more often than planned (with ``n * p_i`` close to 1 the
shortfall is tens of percentage points). ``tests/supervision/test_sampling_stats.py`` shows it
failing the same statistical check that :func:`draw` passes.

Risk without determinism
========================

:func:`risk_weights` multiplies a unit's base weight by ``1 + risk_factor * risk`` (optionally
capped at ``cap``). Weights only fix *relative* sizes: whether a risky unit's ``pi`` reaches 1
depends on ``n`` and on the other weights. :func:`stratified_draw` therefore computes the ``pi``
of every stratum with a ceiling ``max_inclusion`` (default 0.9 < 1): the excess of any unit
above the ceiling is redistributed proportionally over the others (the standard iterative
capping, at ``max_inclusion`` instead of 1). So no unit is certain to be drawn, however risky,
unless the plan sets ``max_inclusion=1.0``. The only exception is forced by arithmetic: a stratum
whose share ``n_h / N_h`` exceeds the ceiling gets ``pi = n_h / N_h`` for every unit (it is (almost)
a census). Risky units selected by the draw are labelled ``"risk_weighted"``, the others
``"random"``; complaint-triggered units are labelled ``"complaint"`` and are not drawn at all.

Recipe to redo a draw (format ``systematic-pps-random-order/v1``)
=================================================================

Inputs: the integer ``seed`` (or the public text it came from) and the recorded population.

1. ``seed_from_text(text)``: Unicode NFC, whitespace runs (including U+3000) collapsed to one
   ASCII space, leading/trailing whitespace removed; SHA-256 of the UTF-8 bytes; the first 16
   bytes read as a big-endian unsigned integer.
2. Population canonical form (see :func:`population_hash`): rows sorted by ``id``; stratum
   keys are ``str(value)``; ``weight`` defaults to 1, ``risk`` to 0, ``excluded`` and ``forced``
   to False.
3. ``forced`` rows are complaint-triggered and taken out of the random frame (even if also
   excluded); of the other rows, ``excluded`` ones are listed with their ``exclusion_reason``
   and taken out. The rest is the *frame*; ``N`` is its size.
4. ``n = min(N, sample_size(S, ratio=..., count=..., min_ratio=...))`` where ``S`` is the
   scope: the rows that are not ``forced``, excluded ones included (parameter
   ``size_base = "scope"``; a draw recorded without ``size_base`` used ``S = N``, the rule
   before 2026-12). When ``N`` is smaller than the required size the whole frame is taken.
   Then the per-stratum sizes
   ``n_h = allocate(n, N_h, ...)`` (exact integer largest-remainder rounding, ties by stratum
   key in code-point order).
5. For each stratum ``h`` in key order with ``n_h > 0``: its frame rows in canonical (id) order;
   weights ``w = weight * min(1 + risk_factor * risk, risk_cap)``;
   ``pi = inclusion_probabilities(w, n_h, cap=max(max_inclusion, n_h / N_h))``; a generator
   ``numpy.random.Generator(numpy.random.PCG64(s_h))`` with
   ``s_h = child_seed(seed, "stratum", key)`` = the first 16 bytes (big-endian) of
   ``SHA-256(UTF-8("qibiao/supervision/v1" US seed_decimal US "stratum" US key))`` where US is
   U+001F; then :func:`draw`: ``N_h`` raw 64-bit outputs of the PCG64 stream are the sort keys
   of the random order (stable sort, ties by canonical position), the next raw output ``r``
   gives ``u = (r >> 11) / 2**53``, and systematic selection as above, in the random order.
   Units with ``pi == 1`` (within 1e-9) are taken directly and the systematic pass runs on
   the others, with the last cumulative value set to the integer ``n_h - #certain`` (absorbs
   float rounding).
6. The sample lists the strata in key order, each in draw order, then the complaint-triggered
   rows in id order.

Only the PCG64 bit stream (``random_raw``) and numpy's ``SeedSequence`` seeding are used, both
covered by numpy's stream-compatibility policy (NEP 19); no ``Generator`` distribution method
whose algorithm could change between numpy versions is involved.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from numpy.random import PCG64, BitGenerator, Generator

__all__ = [
    "METHOD",
    "REASONS",
    "DrawResult",
    "allocate",
    "assign_inspectors",
    "child_seed",
    "draw",
    "inclusion_probabilities",
    "population_hash",
    "redo",
    "risk_weights",
    "sample_size",
    "seed_from_text",
    "stratified_draw",
]

METHOD = "systematic-pps-random-order/v1"
#: What the sample ratio is a share of: "scope" (every object but complaint checks, before
#: exclusions; recorded as ``size_base``) or "frame" (after exclusions: draws made before).
SIZE_BASES = ("scope", "frame")
POPULATION_FORMAT = "qibiao-population-v1"
SEED_DOMAIN = "qibiao/supervision/v1"
REASONS = ("random", "risk_weighted", "complaint")
ALLOCATIONS = ("proportional", "equal")
DEFAULT_MIN_RATIO = 0.05
DEFAULT_MAX_INCLUSION = 0.9

_US = "\x1f"
_TWO_POW_53 = 9007199254740992.0
# Sums of inclusion probabilities are floats; a sum within this (relative to N) of an integer
# is taken as that integer.
_SUM_RTOL = 1e-9
_ONE_TOL = 1e-12
# pi within this of 1 is taken as certain (well above the rounding of u + k for k < 1e7, so a
# unit below it can never cover two systematic points).
_CERTAIN_TOL = 1e-9

POPULATION_COLUMNS = ("id", "stratum", "weight", "risk", "excluded", "exclusion_reason", "forced")


# ---------------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------------


def seed_from_text(text: str) -> int:
    """A 128-bit seed from a public text, e.g. ``"2026-11-22 双色球 03 07 12 19 25 31 + 09"``.

    The text is normalised (Unicode NFC; runs of whitespace, including the ideographic space
    U+3000, become one ASCII space; leading/trailing whitespace removed) so that re-typing it
    does not change the seed; then ``int.from_bytes(sha256(utf8).digest()[:16], "big")``.
    """
    if not isinstance(text, str):
        raise ValueError(f"seed text must be a string, got {type(text).__name__}")
    normalised = " ".join(unicodedata.normalize("NFC", text).split())
    if not normalised:
        raise ValueError("seed text is empty: give the public source, e.g. a lottery result")
    return int.from_bytes(hashlib.sha256(normalised.encode("utf-8")).digest()[:16], "big")


def _seed_int(seed: Any, name: str = "seed") -> tuple[int, str | None]:
    """(integer seed, seed text or None) from an int seed or a public text."""
    if isinstance(seed, str):
        return seed_from_text(seed), seed
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise ValueError(
            f"{name} must be a non-negative integer or a public text, got {seed!r}"
        )
    value = int(seed)
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return value, None


def child_seed(seed: int, *parts: str) -> int:
    """Sub-seed for one purpose: first 16 bytes (big-endian) of
    ``sha256(UTF-8("qibiao/supervision/v1" US str(seed) US part1 US part2 ...))``, US = U+001F.

    ``child_seed(seed, "stratum", key)`` seeds the draw of one stratum;
    ``child_seed(seed, "inspectors")`` seeds the inspector assignment.
    """
    value, _ = _seed_int(seed)
    for part in parts:
        if not isinstance(part, str) or _US in part:
            raise ValueError(f"seed part {part!r} must be a string without U+001F")
    message = _US.join([SEED_DOMAIN, str(value), *parts]).encode("utf-8")
    return int.from_bytes(hashlib.sha256(message).digest()[:16], "big")


def _generator(seed: int) -> Generator:
    return Generator(PCG64(seed))


def _bitgen(rng: Generator | BitGenerator) -> BitGenerator:
    if isinstance(rng, Generator):
        return rng.bit_generator
    if isinstance(rng, BitGenerator):
        return rng
    raise ValueError(
        "rng must be a numpy Generator, e.g. numpy.random.Generator(numpy.random.PCG64(seed))"
    )


def _uniforms(bitgen: BitGenerator, size: int) -> np.ndarray:
    """``size`` doubles in [0, 1): the top 53 bits of successive raw 64-bit outputs."""
    raw = bitgen.random_raw(size)
    return (raw >> np.uint64(11)).astype(np.float64) / _TWO_POW_53


# ---------------------------------------------------------------------------------------------
# Sample size
# ---------------------------------------------------------------------------------------------


def _exact(value: Any, name: str) -> Fraction:
    """An exact rational from a ratio given as float, int, Decimal, Fraction or string.

    Floats are taken at their shortest decimal repr (0.05 means 5/100, not the binary value
    0.05000000000000000277...), strings may be decimals, fractions ("1/20") or percentages.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, Integral):
        return Fraction(int(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        return Fraction(value)
    if isinstance(value, str):
        text = value.strip()
        percent = text.endswith("%")
        if percent:
            text = text[:-1].strip()
        try:
            if "/" in text:
                result = Fraction(text)
            else:
                number = Decimal(text)
                if not number.is_finite():
                    raise InvalidOperation
                result = Fraction(number)
        except (InvalidOperation, ValueError, ZeroDivisionError):
            raise ValueError(
                f"{name}: {value!r} is not a number (use e.g. 0.05, '5%' or '1/20')"
            ) from None
        return result / 100 if percent else result
    if isinstance(value, Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        return Fraction(Decimal(repr(number)))
    raise ValueError(f"{name} must be a number, got {type(value).__name__} {value!r}")


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if int(value) < 0:
        raise ValueError(f"{name} must be >= 0, got {int(value)}")
    return int(value)


def _ratio_text(value: Any) -> str | None:
    """How a ratio is recorded in the draw parameters (exact, JSON-safe)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Real) and not isinstance(value, (Integral, Fraction, Decimal)):
        return repr(float(value))
    return str(value)


def sample_size(
    N: int,
    *,
    ratio: Any = None,
    count: int | None = None,
    min_ratio: Any = DEFAULT_MIN_RATIO,
) -> int:
    """Total sample size for a frame of ``N`` objects.

    * ``ratio`` (0 < ratio <= 1): ``ceil(ratio * N)`` computed exactly (5 % of 20 is 1, of 21
      is 2; 7 % of 100 is 7 although ``0.07 * 100 == 7.000000000000001``).
    * ``count``: that many, capped at ``N``.
    * never below ``ceil(min_ratio * N)`` (the minimum sample ratio, default 5 %): a smaller
      ratio or count is raised to it.
    * neither given: the minimum ratio.
    """
    N = _non_negative_int(N, "N (frame size)")
    floor_ratio = _exact(min_ratio, "min_ratio")
    if not 0 <= floor_ratio <= 1:
        raise ValueError(f"min_ratio must be between 0 and 1, got {min_ratio!r}")
    if ratio is not None and count is not None:
        raise ValueError(
            f"give either ratio or count, not both (got ratio={ratio!r}, count={count!r})"
        )
    minimum = math.ceil(floor_ratio * N)
    if count is not None:
        wanted = _non_negative_int(count, "count")
        return min(N, max(wanted, minimum))
    if ratio is None:
        if floor_ratio == 0:
            raise ValueError("give a ratio or a count (min_ratio is 0, so there is no default)")
        share = floor_ratio
    else:
        share = _exact(ratio, "ratio")
        if not 0 < share <= 1:
            raise ValueError(f"ratio must be greater than 0 and at most 1, got {ratio!r}")
    return min(N, max(math.ceil(share * N), minimum))


# ---------------------------------------------------------------------------------------------
# Inclusion probabilities and the draw
# ---------------------------------------------------------------------------------------------


def _float_vector(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] = {array[bad[0]]} is not a finite number")
    return array


def risk_weights(
    base: Any,
    risk_score: Any,
    *,
    risk_factor: float = 1.0,
    cap: float | None = None,
) -> np.ndarray:
    """Selection weights ``base * min(1 + risk_factor * risk_score, cap)``.

    ``risk_score >= 0`` (0 = no risk flag; e.g. the sum of flag severities, or a score in
    [0, 1]); ``risk_factor >= 0`` says how much one unit of risk raises the weight (0: equal
    probability); ``cap >= 1`` (None: no cap) bounds the multiplier so that one very risky
    entry cannot absorb the whole sample.

    Weights set relative sizes only. They never make a draw deterministic by themselves: the
    inclusion probabilities are computed with a ceiling (``inclusion_probabilities(..., cap=)``,
    ``stratified_draw(max_inclusion=0.9)``), so pi < 1 unless the plan configures a ceiling of 1.
    """
    base_w = _float_vector(base, "base")
    risk = _float_vector(risk_score, "risk_score")
    if base_w.shape != risk.shape:
        raise ValueError(
            f"base and risk_score must have the same length ({base_w.size} != {risk.size})"
        )
    if (base_w < 0).any():
        raise ValueError(f"base weights must be >= 0 (base[{np.argmax(base_w < 0)}] < 0)")
    if (risk < 0).any():
        raise ValueError(f"risk scores must be >= 0 (risk_score[{np.argmax(risk < 0)}] < 0)")
    return base_w * _risk_multiplier(risk, risk_factor, cap)


def _check_risk_params(risk_factor: Any, cap: Any) -> tuple[float, float | None]:
    if isinstance(risk_factor, bool) or not isinstance(risk_factor, Real):
        raise ValueError(f"risk_factor must be a number >= 0, got {risk_factor!r}")
    factor = float(risk_factor)
    if not math.isfinite(factor) or factor < 0:
        raise ValueError(f"risk_factor must be a finite number >= 0, got {risk_factor!r}")
    if cap is None:
        return factor, None
    if isinstance(cap, bool) or not isinstance(cap, Real):
        raise ValueError(f"risk cap must be a number >= 1 or None, got {cap!r}")
    ceiling = float(cap)
    if not math.isfinite(ceiling) or ceiling < 1:
        raise ValueError(f"risk cap must be a finite number >= 1 (a multiplier), got {cap!r}")
    return factor, ceiling


def _risk_multiplier(risk: np.ndarray, risk_factor: Any, cap: Any) -> np.ndarray:
    factor, ceiling = _check_risk_params(risk_factor, cap)
    multiplier = 1.0 + factor * risk
    if ceiling is not None:
        multiplier = np.minimum(multiplier, ceiling)
    return multiplier


def inclusion_probabilities(weights: Any, n: int, *, cap: float = 1.0) -> np.ndarray:
    """First-order inclusion probabilities ``pi_i`` proportional to ``w_i`` with ``sum = n``.

    Standard iterative capping: units whose proportional share would exceed ``cap`` (1 by
    default) get exactly ``cap`` and the rest of ``n`` is shared among the others in proportion
    to their weights, repeated until nobody exceeds ``cap``. Computed in one pass: with weights
    sorted in decreasing order, the ``k`` largest are capped for the smallest ``k`` such that
    ``(n - k * cap) * w_(k+1) <= cap * sum_{j > k} w_(j)``; equal weights are always treated
    alike. Zero weights get ``pi = 0``.

    Raises ValueError when ``n`` units cannot be included (fewer than ``n / cap`` positive
    weights).
    """
    w = _float_vector(weights, "weights")
    if (w < 0).any():
        raise ValueError(f"weights must be >= 0 (weights[{np.argmax(w < 0)}] < 0)")
    n = _non_negative_int(n, "n")
    if isinstance(cap, bool) or not isinstance(cap, Real) or not 0 < float(cap) <= 1:
        raise ValueError(f"cap must be a number in (0, 1], got {cap!r}")
    return _inclusion(w, n, float(cap))


def _inclusion(w: np.ndarray, n: int, cap: float) -> np.ndarray:
    """``inclusion_probabilities`` after its argument checks (``w``: finite float64 >= 0,
    ``n`` an int >= 0, ``cap`` a float in (0, 1]): the stratified draw calls it once per
    stratum, on weights it has checked already."""
    size = w.size
    pi = np.zeros(size)
    if n == 0:
        return pi
    positive = int(np.count_nonzero(w > 0))
    if n > positive * cap * (1 + _SUM_RTOL):
        limit = "" if cap == 1 else f" and none may exceed pi = {cap}"
        raise ValueError(
            f"cannot include n = {n} units: only {positive} of {size} have a positive "
            f"weight{limit}"
        )
    total = float(w.sum())
    if n * float(w.max()) <= cap * total:  # nobody reaches the cap: plain proportional
        return np.minimum(n * w / total, cap)
    order = np.argsort(-w, kind="stable")
    ws = w[order]
    tail = np.cumsum(ws[::-1])[::-1]  # tail[k] = sum of ws[k:]
    capped = np.arange(size, dtype=np.float64)
    remaining = n - capped * cap
    fits = (remaining <= 0) | (remaining * ws <= cap * tail)
    # fits[positive] is True when some weights are zero; otherwise fits[size - 1] unless n is
    # (within rounding) size * cap, in which case every unit is capped.
    k = int(np.argmax(fits)) if fits.any() else size
    rest = max(n - k * cap, 0.0)
    sorted_pi = np.empty(size)
    sorted_pi[:k] = cap
    if k < size and tail[k] > 0 and rest > 0:
        sorted_pi[k:] = np.minimum(rest * ws[k:] / tail[k], cap)
    else:
        sorted_pi[k:] = 0.0
    pi[order] = sorted_pi
    return pi


def draw(pi: Any, rng: Generator | BitGenerator) -> np.ndarray:
    """Select ``n = sum(pi)`` distinct indices so that index ``i`` is selected with probability
    exactly ``pi[i]``: randomised systematic pi-ps sampling (see the module docstring).

    ``pi`` must lie in [0, 1] and sum to an integer (up to float rounding). Units with
    ``pi == 1`` are always selected, units with ``pi == 0`` never. Uses ``len(pi) + 1`` raw
    outputs of ``rng``'s bit generator: ``len(pi)`` sort keys for the random order, then one
    for ``u``. Returns the indices in draw order (their order in the random permutation).
    """
    p = _float_vector(pi, "pi")
    if (p < 0).any() or (p > 1 + _ONE_TOL).any():
        bad = int(np.flatnonzero((p < 0) | (p > 1 + _ONE_TOL))[0])
        raise ValueError(f"pi[{bad}] = {p[bad]} is outside [0, 1]")
    return _systematic(p, _bitgen(rng))


def _systematic(p: np.ndarray, bitgen: BitGenerator) -> np.ndarray:
    """``draw`` after its argument checks (``p``: float64 in [0, 1]); the stratified draw
    calls it once per stratum with probabilities it computed itself."""
    size = p.size
    total = float(p.sum())
    n = int(round(total))
    if abs(total - n) > _SUM_RTOL * max(1.0, float(size)):
        raise ValueError(
            f"sum(pi) = {total!r} is not a whole number: systematic sampling gives a fixed "
            "sample size only when the inclusion probabilities sum to an integer"
        )
    certain = p >= 1 - _CERTAIN_TOL
    n_certain = int(np.count_nonzero(certain))
    q = np.where(certain, 0.0, p) if n_certain else p
    n_systematic = n - n_certain
    if n_systematic < 0:
        raise ValueError(f"sum(pi) = {total!r} is smaller than the number of units with pi = 1")
    # ``size`` sort keys, then the one output for ``u``: one call, the same stream as two
    raw = bitgen.random_raw(size + 1)
    keys = raw[:size]
    order = np.argsort(keys)
    if size > 1:
        ordered_keys = keys[order]
        if (ordered_keys[1:] == ordered_keys[:-1]).any():  # ~1e-12 for N = 4000
            order = np.argsort(keys, kind="stable")  # ties by position, as documented
    u = (int(raw[size]) >> 11) / _TWO_POW_53  # exact: 53 bits, divided by a power of two
    positions = np.flatnonzero(certain[order]) if n_certain else np.zeros(0, dtype=np.intp)
    if n_systematic > 0:
        ordered_q = q[order]
        cumulative = np.cumsum(ordered_q)
        last = int(np.flatnonzero(ordered_q > 0)[-1])
        cumulative[last:] = n_systematic  # absorb float rounding; keeps pi = 0 units out
        points = u + np.arange(n_systematic, dtype=np.float64)
        hits = np.searchsorted(cumulative, points, side="right")
        if hits.size > 1 and (hits[1:] == hits[:-1]).any():  # pragma: no cover - impossible
            raise RuntimeError("systematic sampling selected a unit twice (pi > 1?)")
        # hits are strictly increasing: with no certain unit they are the union already
        positions = np.union1d(positions, hits) if n_certain else hits
    return order[positions].astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Population: canonical form and hash
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Population:
    ids: np.ndarray  # int64 or object (str), sorted ascending
    id_kind: str  # "int" | "str"
    strata: list[str]  # stratum keys, sorted (code-point order)
    codes: np.ndarray  # int16/int32 stratum code per row (index into ``strata``)
    weight: np.ndarray
    risk: np.ndarray
    excluded: np.ndarray
    forced: np.ndarray
    reason: np.ndarray  # object: the exclusion reasons of the excluded rows, in row order

    @property
    def size(self) -> int:
        return int(self.ids.size)


def _bool_column(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    column = df[name]
    if column.dtype == bool:
        return column.to_numpy(dtype=bool)
    if column.isna().any():
        raise ValueError(f"population column {name!r} has missing values (must be True/False)")
    values = column.to_numpy(dtype=object)
    allowed = {True, False, 0, 1}
    try:
        ok = all(isinstance(v, (bool, np.bool_, Integral)) and v in allowed for v in values)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"population column {name!r} must be True/False (or 1/0)")
    return np.asarray(values, dtype=bool)


def _float_column(df: pd.DataFrame, name: str, default: float, *, positive: bool) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), default)
    try:
        values = df[name].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"population column {name!r} must be numbers") from None
    bad = np.flatnonzero(~np.isfinite(values) | ((values <= 0) if positive else (values < 0)))
    if bad.size:
        rule = "> 0" if positive else ">= 0"
        raise ValueError(
            f"population column {name!r}: row {int(bad[0])} has {values[bad[0]]!r}; "
            f"values must be finite and {rule}"
        )
    return values + 0.0  # -0.0 -> 0.0: one byte pattern per value


def _id_column(column: pd.Series, what: str) -> tuple[np.ndarray, str]:
    if column.isna().any():
        raise ValueError(f"{what} 'id' has missing values")
    if len(column) == 0:
        return np.zeros(0, dtype=np.int64), "int"
    kind = pd.api.types.infer_dtype(column, skipna=False)
    if kind == "integer":
        try:
            return column.to_numpy(dtype=np.int64), "int"
        except (OverflowError, TypeError, ValueError):
            raise ValueError(f"{what} ids must fit in 64-bit integers") from None
    if kind == "string":
        values = column.to_numpy(dtype=object)
        joined = "\n".join(values)
        if joined.count("\n") != len(values) - 1 or "\x00" in joined:
            raise ValueError(f"{what} ids must not contain line breaks or NUL characters")
        if any(v == "" for v in values):
            raise ValueError(f"{what} ids must not be empty strings")
        return values, "str"
    raise ValueError(
        f"{what} ids must be all integers or all strings, got {kind!r} values"
    )


def _show(value: Any) -> str:
    """repr of an id for messages (numpy scalars shown as plain Python values)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _sort_ids(ids: np.ndarray, kind: str, what: str) -> np.ndarray:
    """Stable ascending order of ids (numeric, or by code point); rejects duplicates."""
    # ids are unique (checked below), so an unstable sort gives the same order
    if kind == "int":
        if ids.size < 2 or bool((ids[1:] > ids[:-1]).all()):
            return np.arange(ids.size)  # already in order (e.g. ORDER BY id)
        order = np.argsort(ids)
    else:
        order = np.argsort(np.asarray(ids.tolist(), dtype=str))
    ordered = ids[order]
    if ordered.size > 1:
        dup = np.flatnonzero(ordered[1:] == ordered[:-1])
        if dup.size:
            raise ValueError(f"{what} id {_show(ordered[dup[0]])} appears more than once")
    return order


def _stratum_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Per-row index into the sorted list of stratum keys (``str(value)``), one hash pass."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        raw_codes = column.cat.codes.to_numpy()
        uniques = list(column.cat.categories)
    else:
        raw_codes, unique_values = pd.factorize(column.to_numpy(dtype=object))
        uniques = list(unique_values)
    if (raw_codes < 0).any():
        raise ValueError(f"population 'stratum' is missing in row {int(np.argmax(raw_codes < 0))}")
    labels = [str(value) for value in uniques]
    keys = sorted(set(labels))
    for key in keys:
        if key == "" or any(ord(ch) < 32 for ch in key):
            raise ValueError(f"stratum key {key!r} must be non-empty without control characters")
    position = {key: index for index, key in enumerate(keys)}
    dtype = np.int16 if len(keys) <= np.iinfo(np.int16).max else np.int32
    lookup = np.asarray([position[label] for label in labels], dtype=dtype)
    if lookup.size == 0:
        return np.zeros(column.size, dtype=dtype), keys
    return lookup[raw_codes], keys


def _canonical(population: pd.DataFrame) -> _Population:
    if not isinstance(population, pd.DataFrame):
        raise ValueError("population must be a pandas DataFrame")
    missing = [c for c in ("id", "stratum") if c not in population.columns]
    if missing:
        raise ValueError(
            f"population is missing column(s) {', '.join(map(repr, missing))} (required: id, "
            "stratum; optional: weight, risk, excluded, exclusion_reason, forced)"
        )
    ids, kind = _id_column(population["id"], "population")
    order = _sort_ids(ids, kind, "population")

    codes, keys = _stratum_codes(population["stratum"])
    weight = _float_column(population, "weight", 1.0, positive=True)
    risk = _float_column(population, "risk", 0.0, positive=False)
    excluded = _bool_column(population, "excluded")
    forced = _bool_column(population, "forced")
    given = np.zeros(0, dtype=object)
    if excluded.any():
        if "exclusion_reason" not in population.columns:
            raise ValueError("population has excluded rows but no 'exclusion_reason' column")
        given = population["exclusion_reason"].to_numpy(dtype=object)[excluded]
        for position, text in zip(np.flatnonzero(excluded), given, strict=True):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(
                    f"excluded population row id={_show(ids[position])} has no exclusion_reason "
                    "(say why, e.g. 'drawn 2025-03-01')"
                )
    ordered_excluded = excluded[order]
    reason = np.zeros(0, dtype=object)
    if given.size:
        reason = np.asarray(
            [text.strip() for text in population["exclusion_reason"].to_numpy(dtype=object)[
                order[ordered_excluded]]],
            dtype=object,
        )
    return _Population(
        ids=ids[order],
        id_kind=kind,
        strata=keys,
        codes=codes[order],
        weight=weight[order],
        risk=risk[order],
        excluded=ordered_excluded,
        forced=forced[order],
        reason=reason,
    )


def _hash(pop: _Population) -> str:
    digest = hashlib.sha256()

    def part(label: str, payload: bytes) -> None:
        digest.update(f"{label}\x00{len(payload)}\x00".encode("ascii"))
        digest.update(payload)

    def text_list(values: Iterable[str]) -> bytes:
        return json.dumps(list(values), ensure_ascii=False, separators=(",", ":")).encode()

    part("format", POPULATION_FORMAT.encode("ascii"))
    part("rows", str(pop.size).encode("ascii"))
    if pop.id_kind == "int":
        part("id:int64le", pop.ids.astype("<i8").tobytes())
    else:
        part("id:utf8-lines", "\n".join(pop.ids.tolist()).encode("utf-8"))
    part("strata:json", text_list(pop.strata))
    part("stratum:int64le", pop.codes.astype("<i8").tobytes())
    part("weight:float64le", pop.weight.astype("<f8").tobytes())
    part("risk:float64le", pop.risk.astype("<f8").tobytes())
    part("excluded:uint8", pop.excluded.astype(np.uint8).tobytes())
    part("exclusion_reason:json", text_list(pop.reason.tolist()))
    part("forced:uint8", pop.forced.astype(np.uint8).tobytes())
    return digest.hexdigest()


def population_hash(population: pd.DataFrame) -> str:
    """Canonical SHA-256 (hex) of a population table, independent of row and column order.

    Canonical form (format ``qibiao-population-v1``): the columns ``id``, ``stratum``,
    ``weight`` (default 1.0), ``risk`` (default 0.0), ``excluded`` (default False),
    ``exclusion_reason`` (only for excluded rows) and ``forced`` (default False), rows sorted by
    ``id`` (numerically for integer ids, by code point for string ids). Other columns do not
    take part in the draw and are ignored. The hash is over a sequence of length-prefixed
    parts ``label NUL len NUL payload``: format, row count, ids (int64 little-endian, or UTF-8
    lines), the sorted stratum keys (JSON) and each row's stratum index (int64 LE), weight and
    risk as IEEE-754 binary64 little-endian (exact: no decimal formatting involved; -0.0 is
    stored as 0.0), excluded as bytes 0/1, the reasons of the excluded rows (JSON), forced as
    bytes 0/1. Any change of any of these values in any row changes the hash.
    """
    return _hash(_canonical(population))


# ---------------------------------------------------------------------------------------------
# Allocation
# ---------------------------------------------------------------------------------------------


def allocate(
    n: int,
    sizes: Mapping[str, int],
    *,
    allocation: str = "proportional",
    min_per_stratum: int = 0,
) -> dict[str, int]:
    """Split a total sample size ``n`` over strata of the given frame sizes.

    ``proportional``: quota ``n * N_h / N``; ``equal``: ``n / H`` over the non-empty strata.
    Every quota is kept within ``[min(min_per_stratum, N_h), N_h]`` (strata pinned at a bound
    are fixed and the rest is re-shared among the others until no quota is out of bounds);
    the quotas are then rounded by the largest-remainder method in exact integer arithmetic
    (floor first, then one more to the largest remainders; ties by stratum key, code-point
    order), so the sizes sum to ``n`` exactly. If the minimums alone exceed ``n`` every stratum
    gets its minimum and the total grows to their sum (the per-stratum minimum wins).
    """
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {', '.join(ALLOCATIONS)}, got {allocation!r}")
    n = _non_negative_int(n, "n")
    minimum = _non_negative_int(min_per_stratum, "min_per_stratum")
    keys = sorted(sizes)
    frame = {key: _non_negative_int(sizes[key], f"size of stratum {key!r}") for key in keys}
    total = sum(frame.values())
    if n > total:
        raise ValueError(f"cannot draw {n} from strata holding only {total} objects")
    lower = {key: min(minimum, frame[key]) for key in keys}
    if sum(lower.values()) >= n:
        return dict(lower)
    measure = {
        key: (frame[key] if allocation == "proportional" else int(frame[key] > 0)) for key in keys
    }
    result: dict[str, int] = {key: 0 for key in keys if measure[key] == 0}
    free = [key for key in keys if measure[key] > 0]
    while True:
        left = n - sum(result.values())
        weight = sum(measure[key] for key in free)
        below = [key for key in free if left * measure[key] < lower[key] * weight]
        above = [key for key in free if left * measure[key] > frame[key] * weight]
        pinned = below or above
        if not pinned:
            break
        for key in pinned:
            result[key] = lower[key] if below else frame[key]
        free = [key for key in free if key not in result]
    if free:
        numerators = {key: left * measure[key] for key in free}
        floors = {key: numerators[key] // weight for key in free}
        short = left - sum(floors.values())
        ranked = sorted(free, key=lambda key: (-(numerators[key] % weight), key))
        for position, key in enumerate(ranked):
            result[key] = floors[key] + (1 if position < short else 0)
    return {key: result[key] for key in keys}


# ---------------------------------------------------------------------------------------------
# The stratified draw
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DrawResult:
    """The outcome of a draw.

    * ``sample``: columns ``id``, ``stratum``, ``reason`` ("random" | "risk_weighted" |
      "complaint"), ``pi`` (the unit's inclusion probability in its stratum; 1.0 for complaint
      checks, which are not drawn); strata in key order, each in draw order, then complaints.
    * ``excluded``: ``id``, ``stratum``, ``reason`` of the rows removed before the draw.
    * ``allocation``: per stratum ``population`` (frame size), ``sample`` (random share),
      ``excluded``, ``complaint``.
    * ``params``: everything :func:`redo` needs besides the population (JSON-safe).
    """

    sample: pd.DataFrame
    excluded: pd.DataFrame
    allocation: pd.DataFrame
    population_hash: str
    seed: int
    params: dict[str, Any]
    scope_size: int = 0  # objects the ratio applies to (before exclusions; no complaint checks)
    required_size: int = 0  # the random share the rules ask for (ratio of the scope)

    @property
    def short(self) -> bool:
        """The frame left after exclusions was smaller than the required sample: all taken."""
        return self.random_size < self.required_size

    @property
    def ids(self) -> list:
        return self.sample["id"].tolist()

    @property
    def random_size(self) -> int:
        return int((self.sample["reason"] != "complaint").sum())

    def equals(self, other: DrawResult) -> bool:
        return (
            isinstance(other, DrawResult)
            and self.population_hash == other.population_hash
            and self.seed == other.seed
            and self.params == other.params
            and self.sample.equals(other.sample)
            and self.excluded.equals(other.excluded)
            and self.allocation.equals(other.allocation)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (the 128-bit seed as a decimal string)."""
        params = dict(self.params)
        params["seed"] = str(params["seed"])
        return {
            "method": METHOD,
            "seed": str(self.seed),
            "population_hash": self.population_hash,
            "params": params,
            "sample": self.sample.to_dict(orient="records"),
            "excluded": self.excluded.to_dict(orient="records"),
            "allocation": self.allocation.to_dict(orient="records"),
        }


def _max_inclusion(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < float(value) <= 1:
        raise ValueError(f"max_inclusion must be a number in (0, 1], got {value!r}")
    return float(value)


def stratified_draw(
    population: pd.DataFrame,
    *,
    seed: int | str,
    ratio: Any = None,
    count: int | None = None,
    min_ratio: Any = DEFAULT_MIN_RATIO,
    risk_factor: float = 1.0,
    risk_cap: float | None = None,
    max_inclusion: float = DEFAULT_MAX_INCLUSION,
    allocation: str = "proportional",
    min_per_stratum: int = 0,
    size_base: str = "scope",
) -> DrawResult:
    """Stratified, risk-weighted, reproducible draw (recipe in the module docstring).

    ``population``: one row per object with ``id`` and ``stratum`` and optionally ``weight``
    (base weight, default 1), ``risk`` (risk score >= 0, default 0), ``excluded`` (bool) with
    ``exclusion_reason``, ``forced`` (bool: complaint-triggered). ``seed``: an integer or the
    public text it is derived from (:func:`seed_from_text`).

    Complaint-triggered (forced) objects are checked anyway: they are taken out of the frame
    before anything else and added to the sample labelled ``"complaint"``; they do not count
    in the random share. Excluded objects are listed with their reasons. The random share is
    ``sample_size(scope size, ratio=, count=, min_ratio=)``, the scope being every object but
    the complaint-triggered ones *before* exclusions (the minimum ratio is a share of the
    scope), taken from the frame left after the exclusions: all of the frame when it is
    smaller (``DrawResult.short``). ``size_base="frame"`` is the rule of draws recorded before
    (the ratio of the frame); :func:`redo` uses what a draw recorded. It is split over strata by
    :func:`allocate`; within each stratum, ``pi`` follows the risk weights with the ceiling
    ``max_inclusion`` and :func:`draw` selects the units.
    """
    return _stratified_draw(
        population,
        None,
        seed=seed,
        ratio=ratio,
        count=count,
        min_ratio=min_ratio,
        risk_factor=risk_factor,
        risk_cap=risk_cap,
        max_inclusion=max_inclusion,
        allocation=allocation,
        min_per_stratum=min_per_stratum,
        size_base=size_base,
    )


def _stratified_draw(
    population: pd.DataFrame,
    expect_hash: str | None,
    *,
    seed: int | str,
    ratio: Any = None,
    count: int | None = None,
    min_ratio: Any = DEFAULT_MIN_RATIO,
    risk_factor: float = 1.0,
    risk_cap: float | None = None,
    max_inclusion: float = DEFAULT_MAX_INCLUSION,
    allocation: str = "proportional",
    min_per_stratum: int = 0,
    size_base: str = "frame",
) -> DrawResult:
    seed_value, seed_text = _seed_int(seed)
    ceiling = _max_inclusion(max_inclusion)
    _check_risk_params(risk_factor, risk_cap)
    pop = _canonical(population)
    digest = _hash(pop)
    if expect_hash is not None and digest != expect_hash:
        raise ValueError(
            f"population hash {digest} differs from the recorded {expect_hash}: this is not "
            "the population the draw was made from"
        )

    forced = pop.forced
    excluded = pop.excluded & ~forced
    frame = ~(pop.excluded | forced)
    n_strata = len(pop.strata)
    frame_sizes = np.bincount(pop.codes[frame], minlength=n_strata)
    frame_total = int(frame_sizes.sum())
    if size_base not in SIZE_BASES:
        raise ValueError(f"size_base must be one of {SIZE_BASES}, got {size_base!r}")
    # The ratio ("不低于 5 %") is a share of the scope: every object of the plan's population
    # except the complaint-triggered ones, before exclusions. The draw takes that many from
    # the frame left after the exclusions, or all of it when the frame is smaller (``short``).
    scope_total = int((~forced).sum()) if size_base == "scope" else frame_total
    required = sample_size(scope_total, ratio=ratio, count=count, min_ratio=min_ratio)
    total = min(required, frame_total)
    shares = allocate(
        total,
        {key: int(frame_sizes[h]) for h, key in enumerate(pop.strata)},
        allocation=allocation,
        min_per_stratum=min_per_stratum,
    )

    multiplier = _risk_multiplier(pop.risk, risk_factor, risk_cap)
    weights = pop.weight * multiplier
    rows = np.flatnonzero(frame)
    rows = rows[np.argsort(pop.codes[rows], kind="stable")]
    bounds = np.concatenate(([0], np.cumsum(frame_sizes)))

    stratum_weights = weights[rows]
    quotas = np.asarray([shares[key] for key in pop.strata], dtype=np.int64)
    if np.isfinite(stratum_weights).all():
        chosen, sel_pi = _draw_strata(
            stratum_weights, frame_sizes.astype(np.int64), quotas, ceiling, pop.strata, seed_value
        )
        sel = rows[chosen]
    else:  # weights overflowed: the checked functions, stratum by stratum, raise their errors
        picked: list[np.ndarray] = []
        picked_pi: list[np.ndarray] = []
        for h, key in enumerate(pop.strata):
            n_h = shares[key]
            if n_h == 0:
                continue
            members = rows[bounds[h] : bounds[h + 1]]
            cap_h = max(ceiling, n_h / members.size)
            pi = inclusion_probabilities(weights[members], n_h, cap=min(cap_h, 1.0))
            drawn = draw(pi, _generator(child_seed(seed_value, "stratum", key)))
            picked.append(members[drawn])
            picked_pi.append(pi[drawn])
        sel = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
        sel_pi = np.concatenate(picked_pi) if picked_pi else np.zeros(0)
    complaint = np.flatnonzero(forced)

    strata = np.asarray(pop.strata, dtype=object)
    all_rows = np.concatenate((sel, complaint))
    reasons = np.where(multiplier[sel] > 1, "risk_weighted", "random").astype(object)
    sample = pd.DataFrame(
        {
            "id": _id_values(pop, all_rows),
            "stratum": strata[pop.codes[all_rows]] if all_rows.size else np.zeros(0, object),
            "reason": np.concatenate((reasons, np.full(complaint.size, "complaint", object))),
            "pi": np.concatenate((sel_pi, np.ones(complaint.size))),
        }
    )
    excluded_rows = np.flatnonzero(pop.excluded)  # pop.reason is aligned with these
    kept = ~forced[excluded_rows]
    out = excluded_rows[kept]
    excluded_table = pd.DataFrame(
        {
            "id": _id_values(pop, out),
            "stratum": strata[pop.codes[out]] if out.size else np.zeros(0, object),
            "reason": pop.reason[kept],
        }
    )
    allocation_table = pd.DataFrame(
        {
            "stratum": pd.Series(pop.strata, dtype=object),
            "population": frame_sizes.astype(np.int64),
            "sample": np.asarray([shares[key] for key in pop.strata], dtype=np.int64),
            "excluded": np.bincount(pop.codes[excluded], minlength=n_strata).astype(np.int64),
            "complaint": np.bincount(pop.codes[forced], minlength=n_strata).astype(np.int64),
        }
    )
    params = {
        "method": METHOD,
        "seed": seed_value,
        "seed_text": seed_text,
        "ratio": _ratio_text(ratio),
        "count": None if count is None else int(count),
        "min_ratio": _ratio_text(min_ratio),
        "risk_factor": float(risk_factor),
        "risk_cap": None if risk_cap is None else float(risk_cap),
        "max_inclusion": ceiling,
        "allocation": allocation,
        "min_per_stratum": int(min_per_stratum),
        "population_hash": digest,
    }
    if size_base != "frame":  # draws recorded before the scope rule have no size_base: frame
        params["size_base"] = size_base
    return DrawResult(
        sample=sample,
        excluded=excluded_table,
        allocation=allocation_table,
        population_hash=digest,
        seed=seed_value,
        params=params,
        scope_size=scope_total,
        required_size=required,
    )


def _draw_strata(
    w: np.ndarray,
    sizes: np.ndarray,
    quotas: np.ndarray,
    ceiling: float,
    keys: list[str],
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Step 5 of the recipe for every stratum: ``(positions in w, pi)`` of the selected units,
    strata in key order, each in draw order.

    ``w``: the finite, positive weights of the frame in stratum order (``sizes`` rows per
    stratum), ``quotas`` the ``n_h``. The result is exactly that of calling
    ``inclusion_probabilities(w_h, n_h, cap=...)`` and ``draw(pi_h, Generator(PCG64(s_h)))``
    per stratum, with the same floating-point operations in the same order, only without a
    dozen small numpy calls per stratum (a national draw has 10^4 strata): the proportional
    probabilities of all strata are one vectorised expression (each stratum's weight sum is
    still its own ``w_h.sum()``), strata that need capping go through ``_inclusion``, and
    each stratum is drawn from its own PCG64 stream with ``_systematic``'s arithmetic, its
    per-unit tests (certain units, zero probabilities) done for all strata at once. The keys
    are sorted stably: for distinct keys that is the order ``draw`` takes, and on a tie it is
    the stable order ``draw`` falls back to.
    """
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    active = np.flatnonzero(quotas > 0)
    if active.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    lo, hi = bounds[active], bounds[active + 1]
    n = quotas[active]
    cap = np.minimum(np.maximum(ceiling, n / (hi - lo)), 1.0)
    total = np.asarray([w[a:b].sum() for a, b in zip(lo.tolist(), hi.tolist())], dtype=np.float64)
    nonempty = np.flatnonzero(sizes > 0)
    top = np.zeros(sizes.size)
    top[nonempty] = np.maximum.reduceat(w, bounds[nonempty])  # exact: a maximum never rounds
    plain = n * top[active] <= cap * total  # nobody reaches the cap: plain proportional

    n_of, total_of, cap_of = np.zeros(sizes.size), np.ones(sizes.size), np.ones(sizes.size)
    n_of[active], total_of[active], cap_of[active] = n, total, cap
    is_plain = np.zeros(sizes.size, dtype=bool)
    is_plain[active[plain]] = True
    stratum = np.repeat(np.arange(sizes.size), sizes)
    pi = np.zeros(w.size)
    rows = np.flatnonzero(is_plain[stratum])
    of = stratum[rows]
    pi[rows] = np.minimum(n_of[of] * w[rows] / total_of[of], cap_of[of])
    for i in np.flatnonzero(~plain).tolist():
        a, b = int(lo[i]), int(hi[i])
        pi[a:b] = _inclusion(w[a:b], int(n[i]), float(cap[i]))

    # ``_systematic`` per stratum, its per-unit tests done for all strata at once
    certain = pi >= 1 - _CERTAIN_TOL
    n_certain = np.bincount(stratum[certain], minlength=sizes.size)[active].tolist()
    n_positive = np.bincount(stratum[pi > 0], minlength=sizes.size)[active].tolist()
    prefix = hashlib.sha256(_US.join([SEED_DOMAIN, str(seed), "stratum", ""]).encode("utf-8"))
    chosen: list[np.ndarray] = []
    hits_of: list[np.ndarray] = []
    for i, (h, a, b) in enumerate(zip(active.tolist(), lo.tolist(), hi.tolist())):
        size, p = b - a, pi[a:b]
        total_p = float(p.sum())
        n_h = int(round(total_p))
        if abs(total_p - n_h) > _SUM_RTOL * max(1.0, float(size)):
            raise ValueError(
                f"sum(pi) = {total_p!r} is not a whole number: systematic sampling gives a "
                "fixed sample size only when the inclusion probabilities sum to an integer"
            )
        n_systematic = n_h - n_certain[i]
        if n_systematic < 0:
            raise ValueError(
                f"sum(pi) = {total_p!r} is smaller than the number of units with pi = 1"
            )
        message = prefix.copy()  # child_seed(seed, "stratum", key), the prefix hashed once
        message.update(keys[h].encode("utf-8"))
        raw = PCG64(int.from_bytes(message.digest()[:16], "big")).random_raw(size + 1)
        # stable: the order of distinct keys, and ties by position as documented
        order = np.argsort(raw[:size], kind="stable")
        u = (int(raw[size]) >> 11) / _TWO_POW_53
        q = np.where(certain[a:b], 0.0, p) if n_certain[i] else p
        positions = np.flatnonzero(certain[a:b][order]) if n_certain[i] else None
        if n_systematic > 0:
            ordered_q = q[order]
            cumulative = np.cumsum(ordered_q)
            if n_certain[i] == 0 and n_positive[i] == size:
                last = size - 1  # every q > 0
            else:
                last = int(np.flatnonzero(ordered_q > 0)[-1])
            cumulative[last:] = n_systematic  # absorb float rounding; keeps pi = 0 units out
            points = u + np.arange(n_systematic, dtype=np.float64)
            hits = np.searchsorted(cumulative, points, side="right")
            hits_of.append(hits)
            positions = hits if positions is None else np.union1d(positions, hits)
        if positions is not None:
            chosen.append(order[positions] + a)
    if hits_of:  # a unit hit twice within a stratum: impossible with pi <= 1
        every = np.concatenate(hits_of)
        owner = np.repeat(np.arange(len(hits_of)), [len(x) for x in hits_of])
        if bool(((every[1:] == every[:-1]) & (owner[1:] == owner[:-1])).any()):
            raise RuntimeError("systematic sampling selected a unit twice (pi > 1?)")
    out = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    return out, pi[out]


def _id_values(pop: _Population, rows: np.ndarray) -> np.ndarray:
    if pop.id_kind == "int":
        return pop.ids[rows].astype(np.int64)
    return pop.ids[rows].astype(object)


_REDO_KEYS = {
    "seed",
    "seed_text",
    "ratio",
    "count",
    "min_ratio",
    "risk_factor",
    "risk_cap",
    "max_inclusion",
    "allocation",
    "min_per_stratum",
    "size_base",
}


def redo(population: pd.DataFrame, params: Mapping[str, Any]) -> DrawResult:
    """Re-run a recorded draw: same population and params -> identical result (same ids, same
    order). ``params`` is ``DrawResult.params`` (or its JSON round trip; the seed may be a
    decimal string). Refuses a population whose hash differs from the recorded one, a seed
    that does not match its recorded public text, and a different method version.
    """
    given = dict(params)
    method = given.pop("method", METHOD)
    if method != METHOD:
        raise ValueError(f"this draw used method {method!r}; this code implements {METHOD!r}")
    recorded_hash = given.pop("population_hash", None)
    unknown = sorted(set(given) - _REDO_KEYS)
    if unknown:
        raise ValueError(f"unknown draw parameter(s): {', '.join(unknown)}")
    if "seed" not in given:
        raise ValueError("the draw parameters have no seed")
    seed = given.pop("seed")
    if isinstance(seed, str):
        if not seed.strip().isdigit():
            raise ValueError(f"recorded seed must be a decimal integer, got {seed!r}")
        seed = int(seed)
    seed_value, _ = _seed_int(seed)
    seed_text = given.pop("seed_text", None)
    if seed_text is not None:
        if seed_from_text(seed_text) != seed_value:
            raise ValueError(
                f"recorded seed {seed_value} does not derive from the recorded text {seed_text!r}"
            )
        seed = seed_text
    return _stratified_draw(population, recorded_hash, seed=seed, **given)


# ---------------------------------------------------------------------------------------------
# Inspectors
# ---------------------------------------------------------------------------------------------


def _key(value: Any) -> str | None:
    """Enterprise ids and regions are compared as strings (12 and "12" are the same)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return str(value)


def _tied(value: Any, inspector: Any) -> set[str]:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return set()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(
            f"inspector {inspector!r}: tied_enterprise_ids must be a list of enterprise ids, "
            f"got {value!r}"
        )
    return {key for key in map(_key, value) if key is not None}


def assign_inspectors(
    objects: pd.DataFrame,
    inspectors: pd.DataFrame,
    *,
    per_object: int = 2,
    seed: int | str,
    recuse_same_region: bool = False,
) -> pd.DataFrame:
    """Assign ``per_object`` (>= 2) distinct inspectors to every object, at random.

    ``objects``: ``id``, ``enterprise_id``, ``region``; ``inspectors``: ``id``, ``region``,
    ``tied_enterprise_ids`` (a list). Returns ``object_id``, ``inspector_id`` sorted by object
    id, then inspector id.

    * **Recusal**: never an inspector tied to the object's enterprise; with
      ``recuse_same_region`` also never one from the object's region. Ids and regions are
      compared as strings.
    * **Random and reproducible**: the objects are taken in a random order and each gets the
      least-loaded eligible inspectors, ties broken at random (fresh random priorities per
      object, so pairings vary); all randomness comes from
      ``PCG64(child_seed(seed, "inspectors"))`` and the inputs are put in id order first, so
      the same seed and the same tables (in any row order) give the same assignment.
    * **Balanced load**: without recusal the greedy step keeps max load - min load <= 1 (every
      inspector has the fair share ``floor`` or ``ceil(per_object * objects / inspectors)``).
      With recusal a repair step then moves work along reassignment chains (object from A to
      B, another from B to C, ...) while an inspector can pass work to one with at least two
      objects less. When no such chain is left the loads are the most balanced any
      recusal-respecting assignment can achieve (minimum maximum, maximum minimum, minimum
      variance at once, as for any convex load cost); so max - min <= 1 whenever that is
      possible at all. Inspectors whose recusals leave them too few eligible objects (e.g. tied
      to every enterprise) necessarily stay below the fair share.
    * **Infeasible**: an object with fewer than ``per_object`` eligible inspectors raises a
      ValueError naming the object(s) and who is recused and why.
    """
    if isinstance(per_object, bool) or not isinstance(per_object, Integral) or per_object < 2:
        raise ValueError(f"per_object must be a whole number >= 2 (双随机), got {per_object!r}")
    per_object = int(per_object)
    seed_value, _ = _seed_int(seed)
    for table, name, columns in (
        (objects, "objects", ("id", "enterprise_id", "region")),
        (inspectors, "inspectors", ("id", "region", "tied_enterprise_ids")),
    ):
        if not isinstance(table, pd.DataFrame):
            raise ValueError(f"{name} must be a pandas DataFrame")
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ValueError(
                f"{name} is missing column(s) {', '.join(map(repr, missing))} "
                f"(required: {', '.join(columns)})"
            )
    obj_ids, obj_kind = _id_column(objects["id"], "objects")
    obj_order = _sort_ids(obj_ids, obj_kind, "objects")
    ins_ids, ins_kind = _id_column(inspectors["id"], "inspectors")
    ins_order = _sort_ids(ins_ids, ins_kind, "inspectors")
    obj_ids = obj_ids[obj_order]
    ins_ids = ins_ids[ins_order]
    obj_enterprise = [_key(v) for v in objects["enterprise_id"].to_numpy(dtype=object)[obj_order]]
    obj_region = [_key(v) for v in objects["region"].to_numpy(dtype=object)[obj_order]]
    ins_region = [_key(v) for v in inspectors["region"].to_numpy(dtype=object)[ins_order]]
    tied_lists = inspectors["tied_enterprise_ids"].to_numpy(dtype=object)[ins_order]
    ins_tied = [_tied(value, ins_ids[i]) for i, value in enumerate(tied_lists)]
    n_obj, n_ins = obj_ids.size, ins_ids.size
    if n_obj and n_ins < per_object:
        raise ValueError(
            f"cannot assign inspectors: the pool has {n_ins} inspector(s) but every object "
            f"needs {per_object}"
        )

    by_enterprise: dict[str, set[int]] = {}
    by_region: dict[str, set[int]] = {}
    for i in range(n_ins):
        for enterprise in ins_tied[i]:
            by_enterprise.setdefault(enterprise, set()).add(i)
        if ins_region[i] is not None:
            by_region.setdefault(ins_region[i], set()).add(i)

    recused: list[frozenset[int]] = []
    problems: list[str] = []
    for o in range(n_obj):
        tied = by_enterprise.get(obj_enterprise[o], set()) if obj_enterprise[o] else set()
        local = (
            by_region.get(obj_region[o], set())
            if recuse_same_region and obj_region[o] is not None
            else set()
        )
        blocked = frozenset(tied | local)
        recused.append(blocked)
        eligible = n_ins - len(blocked)
        if eligible < per_object:
            why = [f"{len(tied)} tied to enterprise {obj_enterprise[o]!r}"]
            if recuse_same_region:
                why.append(f"{len(local)} from the same region {obj_region[o]!r}")
            problems.append(
                f"object {_show(obj_ids[o])} (enterprise {obj_enterprise[o]!r}, region "
                f"{obj_region[o]!r}) has {max(eligible, 0)} eligible inspector(s) of {n_ins} "
                f"but needs {per_object}; recused: {', '.join(why)}"
            )
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ValueError("cannot assign inspectors: " + "; ".join(problems[:5]) + more)
    if n_obj == 0:
        return pd.DataFrame({"object_id": obj_ids[:0], "inspector_id": ins_ids[:0]})

    bitgen = PCG64(child_seed(seed_value, "inspectors"))
    visit = np.argsort(bitgen.random_raw(n_obj), kind="stable")
    loads = np.zeros(n_ins, dtype=np.int64)
    assigned: list[set[int]] = [set() for _ in range(n_obj)]
    blocked = [np.fromiter(team, dtype=np.int64, count=len(team)) for team in recused]
    block = max(1, 1_000_000 // n_ins)  # priorities for this many objects at a time
    for start in range(0, n_obj, block):
        batch = visit[start : start + block]
        priorities = _uniforms(bitgen, batch.size * n_ins).reshape(batch.size, n_ins)
        for o, priority in zip(batch.tolist(), priorities, strict=True):
            key = loads + priority  # least loaded first, ties at random
            if blocked[o].size:
                key[blocked[o]] = np.inf
            if per_object < n_ins:
                chosen = np.argpartition(key, per_object - 1)[:per_object]
            else:
                chosen = np.arange(n_ins)
            loads[chosen] += 1
            assigned[o] = set(chosen.tolist())

    if any(recused):
        _rebalance(loads, assigned, recused)

    pairs = sorted(
        (o, i) for o in range(n_obj) for i in assigned[o]
    )
    obj_index = np.fromiter((o for o, _ in pairs), dtype=np.int64, count=len(pairs))
    ins_index = np.fromiter((i for _, i in pairs), dtype=np.int64, count=len(pairs))
    return pd.DataFrame({"object_id": obj_ids[obj_index], "inspector_id": ins_ids[ins_index]})


def _rebalance(
    loads: np.ndarray, assigned: list[set[int]], recused: list[frozenset[int]]
) -> None:
    """Move work along reassignment chains until no inspector can pass work to one with at
    least two objects less (then the loads are optimal for every convex cost). In place."""
    n_ins = loads.size
    holder: list[set[int]] = [set() for _ in range(n_ins)]
    for o, team in enumerate(assigned):
        for i in team:
            holder[i].add(o)

    blocked_count = np.zeros(n_ins, dtype=np.int64)
    for team in recused:
        for i in team:
            blocked_count[i] += 1
    can_take = blocked_count < len(assigned)  # recused from every object: can never receive

    def find_chain(level: int) -> list[tuple[int, int, int]] | None:
        sources = [i for i in range(n_ins) if loads[i] == level]
        targets = [i for i in range(n_ins) if loads[i] <= level - 2 and can_take[i]]
        if not targets:
            return None
        parent: dict[int, tuple[int, int]] = {}
        unvisited = set(range(n_ins)) - set(sources) - set(targets)
        queue = deque(sources)
        while queue:
            a = queue.popleft()
            for o in sorted(holder[a]):
                blocked = recused[o] | assigned[o]
                hit = next((t for t in targets if t not in blocked), None)
                if hit is not None:
                    chain = [(a, hit, o)]
                    while chain[-1][0] in parent:
                        prev, obj = parent[chain[-1][0]]
                        chain.append((prev, chain[-1][0], obj))
                    return chain
                reached = sorted(b for b in unvisited if b not in blocked)
                for b in reached:
                    parent[b] = (a, o)
                    unvisited.discard(b)
                    queue.append(b)
        return None

    while True:
        moved = False
        for level in sorted(set(loads.tolist()), reverse=True):
            if level - 2 < loads.min():
                break
            chain = find_chain(level)
            if chain:
                for giver, taker, o in chain:
                    assigned[o].discard(giver)
                    assigned[o].add(taker)
                    holder[giver].discard(o)
                    holder[taker].add(o)
                    loads[giver] -= 1
                    loads[taker] += 1
                moved = True
                break
        if not moved:
            return
