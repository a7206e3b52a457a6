"""Declared indicators against the benchmarks in force (对标), with messages for people.

``benchmarks.compare`` judges one value; this module finds, for every declared indicator that
is mapped to a benchmark indicator, the *edition* of that benchmark valid on the given day
(thresholds change between editions), runs the comparison and says in words what is wrong:
a violation of a mandatory limit, a shortfall against a recommended value without 明示, a unit
that cannot be converted, a bound on the wrong side, or a malformed value.

All benchmarks of a declaration are loaded in one query, whatever the number of indicators.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased, joinedload

from benchmarks import compare as cmp
from benchmarks.models import BenchmarkIndicator
from benchmarks.queries import to_compare_benchmark
from benchmarks.units import UnitError
from core.extensions import db

__all__ = [
    "ByReference",
    "DeclarationCheck",
    "DeclarationProblem",
    "IndicatorCheck",
    "auto_links",
    "benchmarks_in_force",
    "check_declaration",
    "check_version_rules",
    "distance_text",
    "Problem",
    "check_indicators",
    "check_version",
    "format_number",
    "load_benchmarks_on",
    "memo",
    "memo_active",
    "memo_key",
    "memoised_catalogue",
]

Problem = Literal["violation", "mingshi_missing", "unit", "unbounded", "invalid"]
BLOCKING: frozenset[str] = frozenset(
    {"violation", "mingshi_missing", "unit", "unbounded", "invalid"}
)


@dataclass(frozen=True)
class IndicatorCheck:
    """The verdict on one declared indicator.

    ``position`` is the indicator's index in the declaration's list and ``field`` the dotted
    path of the form field to point at (``"indicators.1.mingshi"``). ``benchmark_id`` is the
    benchmark edition actually used (it may be a newer edition than the one mapped), None when
    no edition is in force that day. ``problem`` is None when the indicator may be published;
    ``message`` always says what was found.
    """

    position: int
    name: str
    benchmark_id: int | None
    comparison: cmp.Comparison | None
    problem: Problem | None
    message: str
    field: str

    @property
    def blocks_publication(self) -> bool:
        return self.problem in BLOCKING


def format_number(value: float | None, *others: float | None) -> str:
    """A figure as standards print it: 3.1 next to 3.30 reads ``3.10``; integers stay integers.

    Uses the decimals of the most precise of ``value`` and ``others`` (at least two when any
    has decimals, at most six), so a value and the limit it is compared with line up.
    """
    if value is None:
        return ""
    decimals = 0
    for x in (value, *others):
        if x is None or not math.isfinite(x):
            continue
        text = f"{x:.6f}".rstrip("0").rstrip(".")
        if "." in text:
            decimals = max(decimals, len(text.split(".")[1]), 2)
    return f"{value:.{decimals}f}"


def distance_text(distance: cmp.Distance | None, unit: str) -> str:
    """``distance`` in words: "39.4% below the mandatory limit 3.30 W/W", "2.2% above the
    threshold 4.50 W/W of grade 2级", "at the recommended value 5.0 L" (see compare.Distance)."""
    if distance is None:
        return ""
    figures = {
        "threshold": format_number(distance.threshold),
        "unit": unit if unit != "1" else "",
        "grade": distance.label or "",
        "pct": "" if distance.pct is None else f"{distance.pct:.1f}%",
    }
    texts = {
        ("mandatory", "above"): _(
            "%(pct)s above the mandatory limit %(threshold)s %(unit)s", **figures
        ),
        ("mandatory", "below"): _(
            "%(pct)s below the mandatory limit %(threshold)s %(unit)s", **figures
        ),
        ("mandatory", "at"): _("at the mandatory limit %(threshold)s %(unit)s", **figures),
        ("recommended", "above"): _(
            "%(pct)s above the recommended value %(threshold)s %(unit)s", **figures
        ),
        ("recommended", "below"): _(
            "%(pct)s below the recommended value %(threshold)s %(unit)s", **figures
        ),
        ("recommended", "at"): _("at the recommended value %(threshold)s %(unit)s", **figures),
        ("grade", "above"): _(
            "%(pct)s above the threshold %(threshold)s %(unit)s of grade %(grade)s", **figures
        ),
        ("grade", "below"): _(
            "%(pct)s below the threshold %(threshold)s %(unit)s of grade %(grade)s", **figures
        ),
        ("grade", "at"): _(
            "at the threshold %(threshold)s %(unit)s of grade %(grade)s", **figures
        ),
    }
    return " ".join(texts[(distance.kind, distance.side)].split())


def _get(row: Any, key: str, default: Any = None) -> Any:
    if type(row) is dict or isinstance(row, Mapping):  # a dict first: no ABC check
        return row.get(key, default)
    return getattr(row, key, default)


def _as_float(value: Any) -> float | None:
    """Declared numbers arrive as float, int, Decimal or numeric strings from forms."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value  # type: ignore[return-value]  # compare refuses it as "not finite"
    try:
        return float(value)
    except (TypeError, ValueError):
        return value  # compare reports it as not a finite number


_MEMO: ContextVar[dict | None] = ContextVar("declare_catalogue_memo", default=None)


@contextmanager
def memoised_catalogue() -> Iterator[None]:
    """Within the block the rules' catalogue look-ups (benchmarks in force, editions,
    categories, cited standards) are made once per distinct argument and reused: a bulk
    import checks 100,000 declarations against a handful of categories. For code that does
    not change the catalogue inside the block (the same transaction reads it anyway)."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def memo_active() -> bool:
    return _MEMO.get() is not None


def memo(key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, cached under ``key`` while ``memoised_catalogue`` is active."""
    cache = _MEMO.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


_KEY_TYPES = frozenset({str, int, float, bool, type(None), date, datetime})


def memo_key(values) -> tuple | None:
    """A cache key for rule inputs that tells apart what ``==`` does not (1, 1.0 and True by
    their types; a zero, whose sign ``==`` ignores, gives no key), or None when a value
    cannot be a key (a list or a Decimal sent as JSON)."""
    values = tuple(values)
    types = tuple(map(type, values))
    if not _KEY_TYPES.issuperset(types) or (float in types and 0 in values):
        return None
    return types, values


def load_benchmarks_on(
    benchmark_ids: Iterable[int], on: date
) -> dict[int, BenchmarkIndicator | None]:
    """For each mapped benchmark id, the edition of the same category and code valid on ``on``.

    One query. Maps every id that exists to its edition in force (None if no edition is valid
    that day); ids that do not exist are absent from the result.
    """
    ids = sorted({int(i) for i in benchmark_ids})
    if not ids:
        return {}
    return dict(memo(("editions", tuple(ids), on), lambda: _load_benchmarks_on(ids, on)))


def _load_benchmarks_on(ids: list[int], on: date) -> dict[int, BenchmarkIndicator | None]:
    mapped = aliased(BenchmarkIndicator)
    edition = aliased(BenchmarkIndicator)
    stmt = (
        select(mapped.id, edition)
        .outerjoin(
            edition,
            and_(
                edition.category_id == mapped.category_id,
                edition.code == mapped.code,
                edition.valid_from <= on,
                or_(edition.valid_to.is_(None), edition.valid_to > on),
            ),
        )
        .where(mapped.id.in_(ids))
        .options(
            joinedload(edition.mandatory_source),
            joinedload(edition.recommended_source),
        )
    )
    found: dict[int, BenchmarkIndicator | None] = {}
    for mapped_id, row in db.session.execute(stmt).unique():
        best = found.get(mapped_id)
        if row is not None and (best is None or row.valid_from > best.valid_from):
            found[mapped_id] = row
        else:
            found.setdefault(mapped_id, None)
    return found


def _guaranteed_field(op: str, direction: str) -> str:
    if op == "range":
        return "low" if direction == "higher" else "high"
    return "value"


def _label(row: Any, index: int) -> str:
    name = (_get(row, "name") or "").strip()
    return name or _("indicator %(n)d", n=index + 1)


def _source(code: str | None) -> str:
    return code or _("the benchmark")


def _check_one(index: int, row: Any, bench: BenchmarkIndicator | None) -> IndicatorCheck:
    """The verdict on one indicator. It depends only on the indicator's name, comparison,
    unit, figures and 明示 and the benchmark edition: while ``memoised_catalogue`` is active
    (a bulk import) it is computed once per distinct input and placed at ``index``."""
    if bench is None or not memo_active():
        return _check_one_at(index, row, bench)
    key = memo_key(
        (_label(row, index), *(_get(row, k) for k in ("op", "unit", "value", "low", "high", "mingshi")))
    )
    if key is None:
        return _check_one_at(index, row, bench)
    found = memo(("check_one", bench.id, key), lambda: _check_one_at(index, row, bench))
    return IndicatorCheck(
        index, found.name, found.benchmark_id, found.comparison, found.problem, found.message,
        f"indicators.{index}.{found.field.split('.', 2)[2]}",
    )


def _check_one_at(index: int, row: Any, bench: BenchmarkIndicator | None) -> IndicatorCheck:
    name = _label(row, index)
    path = f"indicators.{index}"
    if bench is None:
        return IndicatorCheck(
            position=index,
            name=name,
            benchmark_id=None,
            comparison=None,
            problem=None,
            message=_(
                "No benchmark for %(name)s is in force on this date; not compared.", name=name
            ),
            field=f"{path}.benchmark_indicator_id",
        )
    op = _get(row, "op") or ""
    declared_unit = (_get(row, "unit") or "").strip()
    declared = cmp.Declared(
        op=op,
        unit=declared_unit,
        value=_as_float(_get(row, "value")),
        low=_as_float(_get(row, "low")),
        high=_as_float(_get(row, "high")),
    )
    benchmark = memo(("compare", bench.id), lambda: to_compare_benchmark(bench))

    def check(problem, message, field, comparison=None) -> IndicatorCheck:
        return IndicatorCheck(
            index, name, bench.id, comparison, problem, message, f"{path}.{field}"
        )

    if not declared_unit:
        return check(
            "unit",
            _(
                "Give the unit of %(name)s; the benchmark is in %(unit)s.",
                name=name,
                unit=benchmark.unit,
            ),
            "unit",
        )
    try:
        result = cmp.compare(declared, benchmark)
    except UnitError:
        return check(
            "unit",
            _(
                "The unit %(declared)s of %(name)s cannot be converted to %(unit)s, the unit of "
                "its benchmark: declare it in %(unit)s or a unit of the same quantity.",
                declared=declared_unit,
                name=name,
                unit=benchmark.unit,
            ),
            "unit",
        )
    except cmp.DeclarationError as exc:
        return _declaration_error(check, exc, name, benchmark.direction)

    unit = benchmark.unit
    value = result.guaranteed
    if result.status == "violation":
        return check(
            "violation",
            _(
                "%(name)s %(value)s %(unit)s is worse than the mandatory limit %(limit)s "
                "%(unit)s of %(source)s: this declaration cannot be published.",
                name=name,
                value=format_number(value, result.mandatory_limit),
                limit=format_number(result.mandatory_limit, value),
                unit=unit,
                source=_source(result.mandatory_source),
            ),
            _guaranteed_field(op, benchmark.direction),
            result,
        )
    if result.status == "below_recommended":
        figures = {
            "name": name,
            "value": format_number(value, result.recommended_value),
            "recommended": format_number(result.recommended_value, value),
            "unit": unit,
            "source": _source(result.recommended_source),
        }
        if not (_get(row, "mingshi") or "").strip():
            if benchmark.direction == "higher":
                text = _(
                    "%(name)s %(value)s %(unit)s is below the recommended value %(recommended)s "
                    "%(unit)s of %(source)s: state it explicitly (明示) with a reason.",
                    **figures,
                )
            else:
                text = _(
                    "%(name)s %(value)s %(unit)s is above the recommended value %(recommended)s "
                    "%(unit)s of %(source)s: state it explicitly (明示) with a reason.",
                    **figures,
                )
            return check("mingshi_missing", text, "mingshi", result)
        return check(
            None,
            _(
                "%(name)s %(value)s %(unit)s is worse than the recommended value %(recommended)s "
                "%(unit)s of %(source)s; stated explicitly (明示).",
                **figures,
            ),
            "mingshi",
            result,
        )
    baseline_source = (
        result.recommended_source
        if result.baseline_kind == "recommended"
        else result.mandatory_source
    )
    if result.grade:
        text = _(
            "%(name)s %(value)s %(unit)s meets %(source)s, grade %(grade)s.",
            name=name,
            value=format_number(value, result.baseline),
            unit=unit,
            source=_source(baseline_source),
            grade=result.grade,
        )
    else:
        text = _(
            "%(name)s %(value)s %(unit)s meets %(source)s.",
            name=name,
            value=format_number(value, result.baseline),
            unit=unit,
            source=_source(baseline_source),
        )
    return check(None, text, _guaranteed_field(op, benchmark.direction), result)


def _declaration_error(
    check, exc: cmp.DeclarationError, name: str, direction: str
) -> IndicatorCheck:
    if exc.code == "unbounded":
        if direction == "higher":
            text = _(
                "%(name)s: higher is better, so '≤' promises nothing about how low the value may "
                "be; declare it as '≥', '=' or a range.",
                name=name,
            )
        else:
            text = _(
                "%(name)s: lower is better, so '≥' promises nothing about how high the value may "
                "be; declare it as '≤', '=' or a range.",
                name=name,
            )
        return check("unbounded", text, "op")
    if exc.code == "required":
        text = _("%(name)s: enter the value for this comparison.", name=name)
    elif exc.code == "order":
        text = _("%(name)s: the lower bound must not be greater than the upper bound.", name=name)
    elif exc.code == "not_finite":
        text = _("%(name)s: the value must be a finite number.", name=name)
    else:
        text = _(
            "%(name)s: the comparison must be one of ≥, ≤, = or a range.",
            name=name,
        )
    return check("invalid", text, exc.field)


def check_indicators(indicators: list[Any], on: date) -> list[IndicatorCheck]:
    """Checks for the indicators (dicts of the CONTRACT shape, or Indicator rows) that are
    mapped to a benchmark indicator, in list order; unmapped ones are not compared.

    A mapped id that does not exist gives an ``invalid`` check on ``benchmark_indicator_id``.
    """
    mapped = [
        (i, row, _get(row, "benchmark_indicator_id"))
        for i, row in enumerate(indicators)
        if _get(row, "benchmark_indicator_id") not in (None, "")
    ]
    if not mapped:
        return []
    editions = load_benchmarks_on([int(bid) for _i, _r, bid in mapped], on)
    checks = []
    for index, row, bid in mapped:
        if int(bid) not in editions:
            name = _label(row, index)
            checks.append(
                IndicatorCheck(
                    index,
                    name,
                    None,
                    None,
                    "invalid",
                    _(
                        "%(name)s is mapped to a benchmark indicator that does not exist.",
                        name=name,
                    ),
                    f"indicators.{index}.benchmark_indicator_id",
                )
            )
            continue
        checks.append(_check_one(index, row, editions[int(bid)]))
    return checks


def check_version(version, on: date | None = None) -> list[IndicatorCheck]:
    """Checks for a version's indicators on ``on``: by default the day it was published
    (Beijing time), or today for a draft; with the links the rules make (check_version_rules)."""
    return check_version_rules(version, on).indicators


# --------------------------------------------------------------------------- the rules
#
# What follows is the one check every publication runs (declare.operations.publish calls
# check_version_rules; the form, the API, revisions and the demo all publish through it). The
# benchmarks apply to the *products*: every benchmark row in force for a product's category and
# applicable to it (benchmarks.applicability) is compared with the indicator that declares it,
# whether or not the enterprise linked one.


RuleProblem = Literal[
    "attribute_missing", "not_applicable", "mandatory_missing", "recommended_missing"
]


@dataclass(frozen=True)
class DeclarationProblem:
    """A refusal about the declaration as a whole (or a product), not one indicator's value."""

    code: RuleProblem
    field: str
    message: str


@dataclass(frozen=True)
class ByReference:
    """An applicable benchmark that is not declared but whose mandatory standard is cited:
    the page says "按 GB 21455-2019"."""

    benchmark: BenchmarkIndicator
    source: str


@dataclass
class DeclarationCheck:
    """Everything the rules found: per-indicator checks (with the links they were made with),
    problems of the declaration, benchmarks met by reference or stated as omitted (明示)."""

    indicators: list[IndicatorCheck]
    problems: list[DeclarationProblem]
    links: dict[int, int]
    auto_linked: set[int]
    by_reference: list[ByReference]
    omitted: list[BenchmarkIndicator]

    @property
    def publishable(self) -> bool:
        return not self.problems and not any(c.blocks_publication for c in self.indicators)

    def errors(self) -> list[tuple[str, str]]:
        """(field, message) of every refusal, declaration problems first."""
        out = [(p.field, p.message) for p in self.problems]
        out += [(c.field, c.message) for c in self.indicators if c.blocks_publication]
        return out


def benchmarks_in_force(category_ids: Iterable[int], on: date) -> list[BenchmarkIndicator]:
    """The benchmark rows of the categories in force on ``on``, the newest edition of each
    code; one query, ordered by category and code."""
    ids = sorted({int(c) for c in category_ids if c is not None})
    if not ids:
        return []
    return list(memo(("in_force", tuple(ids), on), lambda: _benchmarks_in_force(ids, on)))


def _benchmarks_in_force(ids: list[int], on: date) -> list[BenchmarkIndicator]:
    stmt = (
        select(BenchmarkIndicator)
        .where(
            BenchmarkIndicator.category_id.in_(ids),
            BenchmarkIndicator.valid_from <= on,
            or_(BenchmarkIndicator.valid_to.is_(None), BenchmarkIndicator.valid_to > on),
        )
        .options(
            joinedload(BenchmarkIndicator.mandatory_source),
            joinedload(BenchmarkIndicator.recommended_source),
        )
        .order_by(
            BenchmarkIndicator.category_id,
            BenchmarkIndicator.code,
            BenchmarkIndicator.valid_from.desc(),
        )
    )
    latest: dict[tuple[int, str], BenchmarkIndicator] = {}
    for row in db.session.scalars(stmt).unique():
        latest.setdefault((row.category_id, row.code), row)
    return list(latest.values())


def _product_label(row: Any, index: int) -> str:
    text = " ".join(
        part for part in ((_get(row, "name") or "").strip(), (_get(row, "model") or "").strip())
        if part
    )
    return text or _("product %(n)d", n=index + 1)


def attributes_text(attributes: Mapping) -> str:
    """A product's attributes for people: ``热泵型，额定制冷量 3500 W``."""
    from benchmarks.applicability import ATTRIBUTES

    parts = []
    for code, value in (attributes or {}).items():
        spec = ATTRIBUTES.get(code)
        label = str(spec.label) if spec else code
        if isinstance(value, (list, tuple)) and len(value) == 2:
            parts.append(f"{label} {format_number(float(value[0]))} {value[1]}")
        elif spec is not None and spec.choices:
            parts.append(str(dict(spec.choices).get(value, value)))
        else:
            parts.append(f"{label} {value}")
    return "，".join(parts) or _("no attributes given")


def _locale() -> str:
    """The request's language for benchmark names ("zh" outside a request)."""
    try:
        from flask_babel import get_locale

        return str(get_locale() or "zh")
    except (RuntimeError, AttributeError):
        return "zh"


def _has_number(row: Any) -> bool:
    if type(row) is dict:  # the draft dicts of a bulk import: no call per key
        get = row.get
        return not (
            get("value") in (None, "") and get("low") in (None, "") and get("high") in (None, "")
        )
    return any(_get(row, key) not in (None, "") for key in ("value", "low", "high"))


def _unit_fits(unit: str, bench: BenchmarkIndicator) -> bool:
    if not unit:
        return True
    try:
        from benchmarks.units import convert

        convert(1.0, unit, bench.unit)
    except UnitError:
        return False
    return True


def check_declaration(
    *,
    kind: Any,
    products: list[Any],
    indicators: list[Any],
    reference_ids: Iterable[int] = (),
    mingshi_fewer: str = "",
    on: date,
) -> DeclarationCheck:
    """The rules of 对标 for one declaration (dicts of the operations CONTRACT, or rows).

    1. A product's category decides which benchmark rows apply; a row with conditions needs
       the product attribute they test (refused on ``products.N.attributes.CODE``).
    2. An indicator linked to a row that applies to none of the products (wrong capacity band,
       wrong type) is refused naming both rows.
    3. An unlinked indicator whose name names an applicable benchmark (``match_score``) with a
       compatible unit is linked to it automatically; the enterprise may choose another row
       of the category, never none.
    4. Every indicator so linked is compared (``check_indicators``).
    5. Of an own enterprise standard, every applicable benchmark not declared needs its
       mandatory standard among the references (if it has a mandatory limit) or a 明示 that
       the standard has fewer indicators (if it has only a recommended value).

    A declaration following a catalogue standard takes that standard's requirements as they
    are: only its indicators, if any, are compared.
    """
    from benchmarks.applicability import (
        ATTRIBUTES,
        applies_to,
        family_key,
        match_score,
        required_attributes,
    )

    kind_value = getattr(kind, "value", kind)
    if kind_value != "enterprise":
        return DeclarationCheck(check_indicators(list(indicators), on), [], {}, set(), [], [])

    problems: list[DeclarationProblem] = []
    products = list(products)
    indicators = list(indicators)
    attrs_of = [dict(_get(p, "attributes") or {}) for p in products]
    cats_of = [_get(p, "category_id") for p in products]
    benches = benchmarks_in_force([c for c in cats_of if c], on)
    by_category: dict[int, list[BenchmarkIndicator]] = {}
    for bench in benches:
        by_category.setdefault(bench.category_id, []).append(bench)

    # 1. which rows apply to which product (True / False / None = attribute missing)
    applies: dict[int, list[tuple[int, bool | None]]] = {b.id: [] for b in benches}
    for i, (cat, attrs) in enumerate(zip(cats_of, attrs_of)):
        rows = by_category.get(cat, [])
        for bench in rows:
            applies[bench.id].append((i, applies_to(bench.applies or [], attrs)))
        for code in required_attributes([b.applies or [] for b in rows]):
            if attrs.get(code) in (None, "", []):
                spec = ATTRIBUTES.get(code)
                deciding = sorted(
                    {b.mandatory_source.code for b in rows if b.mandatory_source is not None}
                    | {b.recommended_source.code for b in rows if b.recommended_source is not None}
                )
                problems.append(
                    DeclarationProblem(
                        "attribute_missing",
                        f"products.{i}.attributes.{code}",
                        _(
                            "Give %(attribute)s of %(product)s: it decides which rows of "
                            "%(sources)s apply to the product.",
                            attribute=str(spec.label) if spec else code,
                            product=_product_label(products[i], i),
                            sources=", ".join(deciding) or _("the benchmarks"),
                        ),
                    )
                )

    def verdicts(bench: BenchmarkIndicator) -> list[bool | None]:
        return [r for _i, r in applies.get(bench.id, [])]

    links: dict[int, int] = {}
    auto: set[int] = set()
    covered: set[tuple[int, str]] = set()

    # 2. explicit links
    chosen = {
        i: _get(row, "benchmark_indicator_id")
        for i, row in enumerate(indicators)
        if _get(row, "benchmark_indicator_id") not in (None, "")
    }
    editions = load_benchmarks_on([int(b) for b in chosen.values()], on) if chosen else {}
    for i, raw in chosen.items():
        edition = editions.get(int(raw))
        if edition is None:
            links[i] = int(raw)
            continue
        links[i] = edition.id
        covered.add((edition.category_id, edition.code))
        found = verdicts(edition)
        if found and all(r is False for r in found):
            name = _label(indicators[i], i)
            first = next(pi for pi, _r in applies[edition.id])
            right = [
                b.label(_locale())
                for b in by_category.get(edition.category_id, [])
                if family_key(b.name) == family_key(edition.name)
                and applies_to(b.applies or [], attrs_of[first]) is True
            ]
            figures = {
                "name": name,
                "linked": edition.label(_locale()),
                "product": _product_label(products[first], first),
                "attributes": attributes_text(attrs_of[first]),
            }
            if right:
                text = _(
                    "%(name)s is linked to %(linked)s, which does not apply to %(product)s "
                    "(%(attributes)s): its row is %(right)s.",
                    right=" / ".join(right),
                    **figures,
                )
            else:
                text = _(
                    "%(name)s is linked to %(linked)s, which does not apply to %(product)s "
                    "(%(attributes)s); choose the benchmark that applies to the product.",
                    **figures,
                )
            problems.append(
                DeclarationProblem(
                    "not_applicable", f"indicators.{i}.benchmark_indicator_id", text
                )
            )

    # 3. automatic links
    for i, row in enumerate(indicators):
        if i in chosen or not _has_number(row):
            continue
        name = _get(row, "name") or ""
        unit = (_get(row, "unit") or "").strip()
        scored = []
        for bench in benches:
            found = verdicts(bench)
            if not found or all(r is False for r in found):
                continue
            score = memo(
                ("score", name, bench.id),
                lambda: max(match_score(name, bench.name), match_score(name, bench.name_en or "")),
            )
            if score and memo(("fits", unit, bench.id), lambda: _unit_fits(unit, bench)):
                scored.append((score, bench, any(r is True for r in found)))
        if not scored:
            continue
        best = max(s for s, _b, _a in scored)
        top = [(b, decided) for s, b, decided in scored if s == best]
        decided = [b for b, d in top if d]
        pick = None
        if decided and len(decided) == len(top):
            fresh = [b for b in decided if (b.category_id, b.code) not in covered]
            pick = fresh[0] if fresh else decided[0]
        elif len(top) == 1:
            pick = top[0][0]
        if pick is not None:
            links[i] = pick.id
            auto.add(i)
            covered.add((pick.category_id, pick.code))

    # 4. the comparison of every linked indicator
    effective = []
    for i, row in enumerate(indicators):
        if type(row) is dict:
            get = row.get
            data = {key: get(key) for key in _ROW_KEYS}
        else:
            data = {key: _get(row, key) for key in _ROW_KEYS}
        data["benchmark_indicator_id"] = links.get(i)
        effective.append(data)
    checks = check_indicators(effective, on)

    # 5. applicable benchmarks not declared
    refs = {int(r) for r in reference_ids or ()}
    by_reference: list[ByReference] = []
    omitted: list[BenchmarkIndicator] = []
    for bench in benches:
        targets = [pi for pi, r in applies.get(bench.id, []) if r is True]
        if not targets or (bench.category_id, bench.code) in covered:
            continue
        names = "、".join(_product_label(products[pi], pi) for pi in targets)
        unit = "" if bench.unit == "1" else bench.unit
        if bench.mandatory_limit is not None:
            source = bench.mandatory_source.code if bench.mandatory_source else ""
            if bench.mandatory_source_id in refs:
                by_reference.append(ByReference(bench, source))
                continue
            problems.append(
                DeclarationProblem(
                    "mandatory_missing",
                    "indicators",
                    _(
                        "%(benchmark)s applies to %(products)s (mandatory limit %(limit)s "
                        "%(unit)s, %(source)s) but is not declared: declare it as an "
                        "indicator, or cite %(source)s among the normative references.",
                        benchmark=bench.label(_locale()),
                        products=names,
                        limit=format_number(bench.mandatory_limit),
                        unit=unit,
                        source=source or _("the mandatory standard"),
                    ),
                )
            )
        elif bench.recommended_value is not None:
            if (mingshi_fewer or "").strip():
                omitted.append(bench)
                continue
            source = bench.recommended_source.code if bench.recommended_source else ""
            problems.append(
                DeclarationProblem(
                    "recommended_missing",
                    "mingshi_fewer",
                    _(
                        "%(benchmark)s applies to %(products)s (recommended value %(value)s "
                        "%(unit)s, %(source)s) but is not declared: declare it, or state "
                        "explicitly (明示) that the standard has fewer indicators than "
                        "%(source)s, and why.",
                        benchmark=bench.label(_locale()),
                        products=names,
                        value=format_number(bench.recommended_value),
                        unit=unit,
                        source=source or _("the recommended standard"),
                    ),
                )
            )
    return DeclarationCheck(checks, problems, links, auto, by_reference, omitted)


_ROW_KEYS = ("name", "op", "value", "low", "high", "unit", "mingshi", "text_value", "kind")


def check_version_rules(version, on: date | None = None) -> DeclarationCheck:
    """``check_declaration`` of a version on ``on``: by default the day it was published
    (Beijing time), or today for a draft."""
    from core.clock import local_date, local_today

    if on is None:
        on = local_date(version.published_at) if version.published_at else local_today()
    return check_declaration(
        kind=version.declaration.kind,
        products=list(version.products),
        indicators=list(version.indicators),
        reference_ids=[r.standard_id for r in version.references],
        mingshi_fewer=version.mingshi_fewer or "",
        on=on,
    )


def auto_links(data: Mapping, on: date) -> dict[int, int]:
    """Position → benchmark id of the indicators of a draft dict that get linked automatically
    (declare.operations stores them when a draft is saved, so the form shows the link)."""
    if getattr(data.get("kind"), "value", data.get("kind")) != "enterprise":
        return {}
    result = check_declaration(
        kind="enterprise",
        products=list(data.get("products") or []),
        indicators=list(data.get("indicators") or []),
        reference_ids=data.get("reference_ids") or [],
        mingshi_fewer=data.get("mingshi_fewer") or "",
        on=on,
    )
    return {i: result.links[i] for i in result.auto_linked}


# --------------------------------------------------------------------------- catalogue impact


def catalogue_impact(changes) -> dict[str, int]:
    """For a planned catalogue import (benchmarks.history.Change list): per changed row, the
    number of declarations in force whose comparison it changes.

    A benchmark row: the declarations whose stored comparison (status, grade) of an indicator
    linked to it comes out different with the new figures; when its unit, direction,
    applicability or validity changes, every declaration compared with it. A standard edition:
    every declaration in force that follows it, cites it or is compared with a benchmark it
    sets (its title, dates and status are part of what those show).
    """
    from benchmarks.history import THRESHOLD_FIELDS
    from declare.models import (
        DeclarationVersion,
        Indicator,
        NormativeReference,
        VersionStatus,
    )

    by_row: dict[tuple[str, int], dict[str, Any]] = {}
    keys: dict[tuple[str, int], str] = {}
    for change in changes:
        by_row.setdefault((change.table, change.row_id), {})[change.field] = change.new
        keys[(change.table, change.row_id)] = change.key
    in_force = DeclarationVersion.status == VersionStatus.PUBLISHED
    out: dict[str, int] = {keys[k]: 0 for k in by_row}

    # Standard editions: three set-based queries (follow, cite, compared with a benchmark).
    std_ids = sorted(row_id for table, row_id in by_row if table == "standards")
    if std_ids:
        pairs: set[tuple[int, int]] = set()
        pairs |= set(
            tuple(r) for r in db.session.execute(
                select(DeclarationVersion.standard_id, DeclarationVersion.declaration_id).where(
                    in_force, DeclarationVersion.standard_id.in_(std_ids)
                )
            ).all()
        )
        pairs |= set(
            tuple(r) for r in db.session.execute(
                select(NormativeReference.standard_id, DeclarationVersion.declaration_id)
                .join(DeclarationVersion, NormativeReference.version_id == DeclarationVersion.id)
                .where(in_force, NormativeReference.standard_id.in_(std_ids))
            ).all()
        )
        sources = (BenchmarkIndicator.mandatory_source_id, BenchmarkIndicator.recommended_source_id)
        for source in sources:
            pairs |= set(
                tuple(r) for r in db.session.execute(
                    select(source, DeclarationVersion.declaration_id)
                    .join(Indicator, Indicator.benchmark_indicator_id == BenchmarkIndicator.id)
                    .join(DeclarationVersion, Indicator.version_id == DeclarationVersion.id)
                    .where(in_force, source.in_(std_ids))
                ).all()
            )
        for std_id in std_ids:
            out[keys[("standards", std_id)]] = len({d for s, d in pairs if s == std_id})

    # Benchmark rows whose thresholds change: the linked indicators in one query, re-judged.
    bench_ids = sorted(
        row_id
        for (table, row_id), new in by_row.items()
        if table == "benchmark_indicators" and set(new) & set(THRESHOLD_FIELDS)
    )
    if not bench_ids:
        return out
    benches = {
        b.id: b
        for b in db.session.scalars(
            select(BenchmarkIndicator).where(BenchmarkIndicator.id.in_(bench_ids))
        )
    }
    linked: dict[int, list[tuple[Any, int]]] = {}
    for ind, declaration_id in db.session.execute(
        select(Indicator, DeclarationVersion.declaration_id)
        .join(DeclarationVersion, Indicator.version_id == DeclarationVersion.id)
        .where(in_force, Indicator.benchmark_indicator_id.in_(bench_ids))
    ).all():
        linked.setdefault(ind.benchmark_indicator_id, []).append((ind, declaration_id))
    for row_id in bench_ids:
        new = by_row[("benchmark_indicators", row_id)]
        rows = linked.get(row_id, [])
        bench = benches.get(row_id)
        structural = set(new) & {"unit", "direction", "applies", "valid_from", "valid_to"}
        changed: set[int] = set()
        if structural or bench is None:
            changed = {declaration_id for _ind, declaration_id in rows}
        else:
            try:
                benchmark = cmp.Benchmark(
                    direction=bench.direction,  # type: ignore[arg-type]
                    unit=bench.unit,
                    mandatory_limit=new.get("mandatory_limit", bench.mandatory_limit),
                    recommended_value=new.get("recommended_value", bench.recommended_value),
                    grades=tuple(
                        cmp.Grade(str(label), float(value))
                        for label, value in new.get("grades", bench.grades) or ()
                    ),
                )
            except ValueError:
                benchmark = None
            for ind, declaration_id in rows:
                if benchmark is None:
                    changed.add(declaration_id)
                    continue
                declared = cmp.Declared(
                    op=ind.op, unit=ind.unit, value=ind.value, low=ind.low, high=ind.high
                )
                try:
                    result = cmp.compare(declared, benchmark)
                except (cmp.DeclarationError, UnitError):
                    changed.add(declaration_id)
                    continue
                if (result.status, result.grade) != (ind.cmp_status, ind.cmp_grade):
                    changed.add(declaration_id)
        out[keys[("benchmark_indicators", row_id)]] = len(changed)
    return out
