"""Unit handling for benchmark comparison (对标).

Declared values and benchmarks are typed by people, so the same unit arrives as ``升``, ``L`` or
``l`` and ``℃`` or ``°C``. We normalise the spelling, then let pint do every conversion: the
domain rule is "a units library, not a table of hand-written factors", and refuse where no
conversion exists.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pint

__all__ = ["UnitError", "convert", "convert_many", "normalise_unit"]

UnitErrorReason = Literal["unknown", "incompatible"]


class UnitError(ValueError):
    """A declared unit cannot be turned into the benchmark unit."""

    def __init__(
        self, message: str, *, declared_unit: str, expected_unit: str, reason: UnitErrorReason
    ) -> None:
        super().__init__(message)
        self.declared_unit = declared_unit
        self.expected_unit = expected_unit
        self.reason: UnitErrorReason = reason


_EXTRA_DEFINITIONS = (
    # A-weighted sound level is not convertible to any physical unit, nor to pint's plain dB.
    "A_weighted_decibel = [a_weighted_sound_level] = dBA",
)

_registry: pint.UnitRegistry | None = None
_registry_lock = threading.Lock()


def _ureg() -> pint.UnitRegistry:
    """The one registry; built on first use because loading pint's definitions is slow."""
    global _registry
    with _registry_lock:
        if _registry is None:
            registry = pint.UnitRegistry()
            for definition in _EXTRA_DEFINITIONS:
                registry.define(definition)
            _registry = registry
        return _registry


_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile(r"[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")

# Longest first, so 毫升 wins over 升 and 千瓦时 over 千瓦.
_CHINESE = {
    "千瓦时": "kWh",
    "千瓦": "kW",
    "瓦特": "W",
    "瓦": "W",
    "毫升": "mL",
    "升": "L",
    "流明": "lm",
    "分钟": "min",
    "小时": "h",
    "秒": "s",
    "天": "d",
    "年": "a",
    "摄氏度": "degC",
    "分贝": "dB",
    "立方米": "m**3",
    "平方米": "m**2",
    "毫米": "mm",
    "厘米": "cm",
    "米": "m",
    "千克": "kg",
    "公斤": "kg",
    "克": "g",
    "千帕": "kPa",
    "兆帕": "MPa",
    "帕": "Pa",
    "伏": "V",
    "赫兹": "Hz",
    "每": "/",
}
_CHINESE_RE = re.compile("|".join(sorted(map(re.escape, _CHINESE), key=len, reverse=True)))

_TEXT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[·•⋅∙×]"), "*"),
    (re.compile(r"\s*([/*()])\s*"), r"\1"),
    (re.compile(r"°C"), "degC"),
    (re.compile(r"°F"), "degF"),
    (re.compile(r"\bdB\(A\)", re.IGNORECASE), "dBA"),
    (re.compile(r"\bkW\*h\b"), "kWh"),
    (re.compile(r"(?<![A-Za-z])([kcdm]?m)([23])(?![\w.])"), r"\1**\2"),
)

# Case slips on the most common spellings, e.g. "lm/w", "kwh/a"; only exact whole strings.
_CANONICAL = {
    text.casefold(): text
    for text in ("L", "mL", "W", "kW", "kWh", "degC", "dBA", "lm/W", "W/W", "L/min", "kWh/a")
}


@functools.lru_cache(maxsize=1024)
def normalise_unit(text: str) -> str:
    """The spelling pint understands (``升/分钟`` -> ``L/min``), or the trimmed input.

    A rewrite is kept only if pint can parse it, so an unknown unit reaches the error message
    exactly as the enterprise typed it.
    """
    trimmed = text.strip()
    candidate = _SUPERSCRIPT_RUN.sub(lambda m: "**" + m.group().translate(_SUPERSCRIPTS), trimmed)
    candidate = unicodedata.normalize("NFKC", candidate)
    candidate = _CHINESE_RE.sub(lambda m: _CHINESE[m.group()], candidate)
    for pattern, replacement in _TEXT_RULES:
        candidate = pattern.sub(replacement, candidate)
    candidate = _CANONICAL.get(candidate.casefold(), candidate)
    if candidate == trimmed:
        return trimmed
    try:
        _parse(candidate)
    except _ParseFailure:
        return trimmed
    return candidate


class _ParseFailure(Exception):
    pass


def _parse(unit: str) -> object:
    """The unit's dimensionality; computing it also rejects units pint parses but can't use."""
    try:
        return _ureg().parse_units(unit).dimensionality
    # pint's parser signals malformed text with AssertionError, TokenError, ValueError and
    # UndefinedUnitError alike; all of them mean "not a unit".
    except Exception as exc:
        raise _ParseFailure(unit) from exc


def _parse_pair(from_unit: str, to_unit: str, src: str, dst: str) -> None:
    """Refuse unknown units and units of different kinds before asking pint to convert."""
    dimensionalities = []
    for original, unit in ((from_unit, src), (to_unit, dst)):
        try:
            dimensionalities.append(_parse(unit))
        except _ParseFailure:
            raise UnitError(
                f"Cannot convert from {from_unit!r} to {to_unit!r}: "
                f"{original!r} is not a known unit.",
                declared_unit=from_unit,
                expected_unit=to_unit,
                reason="unknown",
            ) from None
    src_dim, dst_dim = dimensionalities
    if src_dim != dst_dim:
        raise UnitError(
            f"Cannot convert from {from_unit!r} ({_describe(src_dim)}) to {to_unit!r} "
            f"({_describe(dst_dim)}): they measure different quantities.",
            declared_unit=from_unit,
            expected_unit=to_unit,
            reason="incompatible",
        )


def _describe(dimensionality: object) -> str:
    text = str(dimensionality)
    return "a pure number" if text == "dimensionless" else text


def _pint_convert(
    values: float | np.ndarray, src: str, dst: str, from_unit: str, to_unit: str
) -> Any:
    _parse_pair(from_unit, to_unit, src, dst)
    try:
        return _ureg().Quantity(values, src).to(dst).magnitude
    # Same dimensionality yet refused, e.g. a temperature (℃) into a temperature difference.
    except pint.errors.PintError as exc:
        raise UnitError(
            f"Cannot convert from {from_unit!r} to {to_unit!r}: same dimensions, but pint "
            f"refuses ({exc}).",
            declared_unit=from_unit,
            expected_unit=to_unit,
            reason="incompatible",
        ) from exc


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit``; UnitError if no conversion exists."""
    src, dst = normalise_unit(from_unit), normalise_unit(to_unit)
    if src == dst:
        return value
    return float(_pint_convert(value, src, dst, from_unit, to_unit))


_AFFINE_PROBE = 1000.0


@functools.lru_cache(maxsize=256)
def _affine(src: str, dst: str, from_unit: str, to_unit: str) -> tuple[float, float] | None:
    """``(scale, offset)`` with ``to = scale * from + offset``, or None for logarithmic units.

    Every multiplicative or offset (℃) conversion is affine; probing three points tells them
    apart from dB-style conversions without reaching into pint's internals.
    """
    with np.errstate(all="ignore"):
        zero, one, probe = _pint_convert(
            np.array([0.0, 1.0, _AFFINE_PROBE]), src, dst, from_unit, to_unit
        )
    if not (math.isfinite(zero) and math.isfinite(probe)):
        return None
    scale = one if zero == 0.0 else (probe - zero) / _AFFINE_PROBE
    if not math.isclose(one, scale + zero, rel_tol=1e-9, abs_tol=1e-12 * abs(scale)):
        return None
    return float(scale), float(zero)


def convert_many(
    values: npt.ArrayLike, from_unit: str, to_unit: str
) -> npt.NDArray[np.float64]:
    """Vectorised ``convert`` for rankings over many declarations; always a new float array."""
    array = np.array(values, dtype=np.float64)
    src, dst = normalise_unit(from_unit), normalise_unit(to_unit)
    if src == dst:
        return array
    affine = _affine(src, dst, from_unit, to_unit)
    if affine is None:
        return np.asarray(_pint_convert(array, src, dst, from_unit, to_unit), dtype=np.float64)
    scale, offset = affine
    array *= scale
    if offset:
        array += offset
    return array
