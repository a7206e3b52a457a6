"""Which benchmark rows apply to a product, and which benchmark a declared indicator names.

A benchmark row may apply to part of its category only: GB 21455-2019 gives APF for heat
pumps and SEER for cooling-only units, each per rated-cooling-capacity band (CC ≤ 4500 W,
4500 W < CC ≤ 7100 W, 7100 W < CC ≤ 14000 W). A row's ``applies`` holds its conditions; a
product's ``attributes`` hold the values that decide them. Both are plain JSON:

    applies    [{"attr": "ac_type", "values": ["heat_pump"]},
                {"attr": "rated_cooling_capacity", "unit": "W",
                 "min": 4500, "min_inclusive": false, "max": 7100, "max_inclusive": true}]
    attributes {"ac_type": "heat_pump", "rated_cooling_capacity": [3500, "W"]}

In a catalogue table the conditions are written as text, ``;``-separated:
``ac_type = heat_pump; rated_cooling_capacity (4500, 7100] W`` (an empty bound is open:
``rated_cooling_capacity (, 4500] W``). Quantities are compared after unit conversion
(benchmarks.units, pint), so a capacity given as 3.5 kW selects the same row as 3500 W.

Pure functions, no database: declare.comparison loads the rows and calls these.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from benchmarks import units

__all__ = [
    "ATTRIBUTES",
    "Attribute",
    "ConditionError",
    "applies_to",
    "clean_attributes",
    "condition_text",
    "conditions_text",
    "family_key",
    "match_score",
    "missing_attributes",
    "parse_conditions",
    "required_attributes",
]


@dataclass(frozen=True)
class Attribute:
    """A product attribute that benchmark conditions can test.

    A quantity has a ``unit`` (the one people usually give; any convertible unit is
    accepted); a choice has ``choices`` (code, label).
    """

    code: str
    label: Any
    unit: str | None = None
    choices: tuple[tuple[str, Any], ...] = ()

    @property
    def is_quantity(self) -> bool:
        return self.unit is not None


ATTRIBUTES: dict[str, Attribute] = {
    a.code: a
    for a in (
        Attribute(
            "ac_type",
            _l("Air-conditioner type (热泵型/单冷式)"),
            choices=(
                ("heat_pump", _l("Heat pump (热泵型)")),
                ("cooling_only", _l("Cooling only (单冷式)")),
            ),
        ),
        Attribute("rated_cooling_capacity", _l("Rated cooling capacity (额定制冷量)"), unit="W"),
    )
}


class ConditionError(ValueError):
    """A condition text or a product attribute that cannot be used; the message says why."""


# --------------------------------------------------------------------------- conditions

_RANGE = re.compile(
    r"^(?P<attr>[a-z][a-z0-9_]*)\s*(?P<open>[(\[])\s*(?P<min>[^,\s]*)\s*,\s*(?P<max>[^)\]\s]*)"
    r"\s*(?P<close>[)\]])\s*(?P<unit>\S.*)$"
)
_CHOICE = re.compile(r"^(?P<attr>[a-z][a-z0-9_]*)\s*=\s*(?P<values>[a-z0-9_|\s]+)$")


def _bound(text: str, attr: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConditionError(
            str(_l("'%(value)s' is not a number (condition on %(attr)s).", value=text, attr=attr))
        ) from None
    if not math.isfinite(value):
        raise ConditionError(str(_l("'%(value)s' is not a finite number.", value=text)))
    return value


def parse_conditions(text: str) -> list[dict]:
    """``"ac_type = heat_pump; rated_cooling_capacity (4500, 7100] W"`` → the JSON list."""
    out: list[dict] = []
    seen: set[str] = set()
    for part in (p.strip() for p in (text or "").split(";")):
        if not part:
            continue
        match = _CHOICE.match(part) or _RANGE.match(part)
        if match is None:
            raise ConditionError(
                str(
                    _l(
                        "'%(part)s' is not a condition; write attr = value (e.g. ac_type = "
                        "heat_pump) or attr (low, high] unit (e.g. rated_cooling_capacity "
                        "(4500, 7100] W), separated by ';'.",
                        part=part,
                    )
                )
            )
        attr = match["attr"]
        spec = ATTRIBUTES.get(attr)
        if spec is None:
            raise ConditionError(
                str(
                    _l(
                        "'%(attr)s' is not a product attribute; known: %(known)s.",
                        attr=attr,
                        known=", ".join(ATTRIBUTES),
                    )
                )
            )
        if attr in seen:
            raise ConditionError(str(_l("%(attr)s has two conditions.", attr=attr)))
        seen.add(attr)
        if "values" in match.groupdict():
            values = [v.strip() for v in match["values"].split("|") if v.strip()]
            codes = {c for c, _label in spec.choices}
            wrong = [v for v in values if v not in codes]
            if spec.is_quantity or wrong or not values:
                raise ConditionError(
                    str(
                        _l(
                            "%(attr)s takes one of %(codes)s.",
                            attr=attr,
                            codes=", ".join(sorted(codes)) or "(a quantity)",
                        )
                    )
                )
            out.append({"attr": attr, "values": values})
            continue
        if not spec.is_quantity:
            raise ConditionError(
                str(_l("%(attr)s is a choice: write %(attr)s = value.", attr=attr))
            )
        low, high = _bound(match["min"], attr), _bound(match["max"], attr)
        if low is None and high is None:
            raise ConditionError(str(_l("Give at least one bound of %(attr)s.", attr=attr)))
        if low is not None and high is not None and low >= high:
            raise ConditionError(
                str(_l("The lower bound of %(attr)s must be below the upper bound.", attr=attr))
            )
        unit = match["unit"].strip()
        try:
            units.convert(1.0, unit, spec.unit)
        except units.UnitError:
            raise ConditionError(
                str(
                    _l(
                        "%(unit)s is not a unit of %(attr)s (e.g. %(expected)s).",
                        unit=unit,
                        attr=attr,
                        expected=spec.unit,
                    )
                )
            ) from None
        out.append(
            {
                "attr": attr,
                "unit": unit,
                "min": low,
                "min_inclusive": match["open"] == "[",
                "max": high,
                "max_inclusive": match["close"] == "]",
            }
        )
    return out


def _num(value: float) -> str:
    return f"{value:g}"


def conditions_text(conditions: Sequence[Mapping]) -> str:
    """The catalogue-table text of ``conditions`` (``parse_conditions`` reads it back)."""
    parts = []
    for c in conditions or ():
        if "values" in c:
            parts.append(f"{c['attr']} = {'|'.join(c['values'])}")
        else:
            low = "" if c.get("min") is None else _num(c["min"])
            high = "" if c.get("max") is None else _num(c["max"])
            parts.append(
                f"{c['attr']} {'[' if c.get('min_inclusive') else '('}{low}, {high}"
                f"{']' if c.get('max_inclusive') else ')'} {c['unit']}"
            )
    return "; ".join(parts)


def condition_text(condition: Mapping) -> str:
    """A condition for people: ``4500 W < 额定制冷量 ≤ 7100 W``, ``热泵型``."""
    spec = ATTRIBUTES.get(condition["attr"])
    name = str(spec.label) if spec else condition["attr"]
    if "values" in condition:
        labels = dict(spec.choices) if spec else {}
        return " / ".join(str(labels.get(v, v)) for v in condition["values"])
    unit = condition["unit"]
    text = name
    if condition.get("min") is not None:
        sign = "≤" if condition.get("min_inclusive") else "<"
        text = f"{_num(condition['min'])} {unit} {sign} {text}"
    if condition.get("max") is not None:
        sign = "≤" if condition.get("max_inclusive") else "<"
        text = f"{text} {sign} {_num(condition['max'])} {unit}"
    return text


# --------------------------------------------------------------------------- attributes


def clean_attributes(raw: Any) -> tuple[dict, dict[str, str]]:
    """A product's attributes as stored, and a message per attribute code that is wrong.

    Quantities are ``[number, unit]`` (``{"value": …, "unit": …}`` and ``"3500 W"`` are
    accepted too); empty values are dropped.
    """
    if raw in (None, ""):
        return {}, {}
    if not isinstance(raw, Mapping):
        return {}, {"": str(_l("Expected the product's attributes as an object."))}
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for code, value in raw.items():
        spec = ATTRIBUTES.get(str(code))
        if spec is None:
            errors[str(code)] = str(
                _l(
                    "'%(attr)s' is not a product attribute; known: %(known)s.",
                    attr=code,
                    known=", ".join(ATTRIBUTES),
                )
            )
            continue
        if value in (None, "", [], {}):
            continue
        if not spec.is_quantity:
            codes = [c for c, _label in spec.choices]
            if value not in codes:
                errors[spec.code] = str(
                    _l("Choose %(attr)s from %(codes)s.", attr=spec.label, codes=", ".join(codes))
                )
            else:
                out[spec.code] = value
            continue
        number, unit = _quantity(value)
        if number is None:
            errors[spec.code] = str(
                _l(
                    "Give %(attr)s as a number with its unit, e.g. 3500 %(unit)s.",
                    attr=spec.label,
                    unit=spec.unit,
                )
            )
            continue
        unit = unit or spec.unit
        try:
            units.convert(1.0, unit, spec.unit)
        except units.UnitError:
            errors[spec.code] = str(
                _l(
                    "The unit %(unit)s cannot be converted to %(expected)s, the unit of %(attr)s.",
                    unit=unit,
                    expected=spec.unit,
                    attr=spec.label,
                )
            )
            continue
        if number <= 0:
            errors[spec.code] = str(_l("%(attr)s must be greater than zero.", attr=spec.label))
            continue
        out[spec.code] = [number, unit]
    return out, errors


def _quantity(value: Any) -> tuple[float | None, str]:
    if isinstance(value, Mapping):
        number, unit = value.get("value"), value.get("unit") or ""
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        number, unit = value
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        match = re.match(r"^([-+]?\d+(?:\.\d+)?)\s*(.*)$", text)
        if not match:
            return None, ""
        number, unit = match[1], match[2]
    else:
        number, unit = value, ""
    if isinstance(number, bool):
        return None, ""
    try:
        number = float(number)
    except (TypeError, ValueError):
        return None, ""
    if not math.isfinite(number):
        return None, ""
    return number, str(unit or "").strip()


def _value_in(attributes: Mapping, condition: Mapping) -> bool | None:
    """Whether the product meets one condition; None when it lacks the attribute."""
    value = (attributes or {}).get(condition["attr"])
    if value in (None, "", []):
        return None
    if "values" in condition:
        return value in condition["values"]
    number, unit = _quantity(value)
    if number is None:
        return None
    spec = ATTRIBUTES.get(condition["attr"])
    try:
        given = unit or (spec.unit if spec else "")
        number = float(units.convert(number, given, condition["unit"]))
    except units.UnitError:
        return None
    low, high = condition.get("min"), condition.get("max")
    if low is not None:
        if math.isclose(number, low, rel_tol=1e-9):
            if not condition.get("min_inclusive"):
                return False
        elif number < low:
            return False
    if high is not None:
        if math.isclose(number, high, rel_tol=1e-9):
            if not condition.get("max_inclusive"):
                return False
        elif number > high:
            return False
    return True


def applies_to(conditions: Sequence[Mapping], attributes: Mapping) -> bool | None:
    """True if every condition holds, False if one fails, None if undecided (a missing
    attribute and no failing condition)."""
    undecided = False
    for condition in conditions or ():
        result = _value_in(attributes, condition)
        if result is False:
            return False
        if result is None:
            undecided = True
    return None if undecided else True


def missing_attributes(conditions: Sequence[Mapping], attributes: Mapping) -> list[str]:
    """The attribute codes the conditions test that the product does not give."""
    return [c["attr"] for c in conditions or () if _value_in(attributes, c) is None]


def required_attributes(condition_lists: Sequence[Sequence[Mapping]]) -> list[str]:
    """Every attribute code the conditions of a category's rows test, in a stable order."""
    found: list[str] = []
    for conditions in condition_lists:
        for c in conditions or ():
            if c["attr"] not in found:
                found.append(c["attr"])
    return found


# --------------------------------------------------------------------------- names

_TOKEN = re.compile(r"[a-zα-ω][a-z0-9α-ω]+")


def _normal(text: str) -> str:
    """NFKC, case-folded, without spaces: ``全年能源消耗效率 APF`` → ``全年能源消耗效率apf``."""
    return "".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def family_key(name: str) -> str:
    """The indicator a benchmark name is about, without the part of the category it applies
    to: ``全年能源消耗效率 APF（热泵型，CC ≤ 4500 W）`` → ``全年能源消耗效率apf``. Rows of the
    same category with the same key are bands of one indicator."""
    return _normal(unicodedata.normalize("NFKC", name or "").split("(")[0])


def match_score(declared_name: str, benchmark_name: str) -> int:
    """How surely a declared indicator's name names this benchmark: 2 when it contains the
    benchmark's name (without its parenthesis), 1 when it contains one of its symbols (APF,
    SEER, NOx, η1 — a letter then letters or digits) as a word, 0 otherwise."""
    declared = _normal(declared_name)
    if not declared:
        return 0
    stem = family_key(benchmark_name)
    if stem and stem in declared:
        return 2
    for token in set(_TOKEN.findall(stem)):
        if re.search(rf"(?<![a-z0-9α-ω]){re.escape(token)}(?![a-z0-9α-ω])", declared):
            return 1
    return 0
