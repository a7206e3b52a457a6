"""Synthetic enterprises, declarations, categories and indicator values for the perf harness.

Seeded and vectorised (numpy): 2,000,000 declarations x 6 indicators take a few seconds. The
values sit around the *real* thresholds of the seed catalogue (``benchmarks/data/
indicators.csv``): every synthetic category is built from the seed indicators, with their
direction (higher / lower is better, mixed), mandatory limit, recommended value and grades.

How the numbers are drawn, per declaration and indicator (R = recommended value, G = grade 1):

* "goodness" is measured from R towards G: ``log(v / R)`` for higher-is-better and
  ``log(R / v)`` for lower-is-better indicators (log-normal templates), or ``(v - R) / (G - R)``
  for percentage indicators (normal templates);
* within a category it is normal with its centre at ``m * G`` (``m`` a per-category factor
  around 1, so categories differ) and a spread such that about 1.5 % of a typical category is
  worse than R: those values carry a 明示 statement, as publication requires, and fall below
  the floor of plans whose floor is the recommended value ("a few below floor");
* nothing is worse than the mandatory limit (publication refuses a violation);
* values are rounded to the precision the standard prints (the decimals of its figures in the
  CSV: APF 0.01 W/W, toilet water use 0.1 L, efficacy 1 lm/W ...), which makes ties;
* about 0.1 % of values are missing (the indicator was not declared).

Categories are built from ``len(templates)`` plan templates ("families"): family ``f`` uses
the seed indicators ``f, f+1, ...`` (mod the number of seed indicators; the seven of
``TEMPLATE_CODES``), so with the 7 seed indicators and 6 indicators per category every category leaves one seed indicator out. All
categories of a family share their plan's indicator specs (floors, cuts, weights, leader rule,
composite method), which is what lets one grouped, vectorised call rank them together.

Around the values: category sizes are log-normal (a few large categories, many small ones);
enterprises hold about 6.7 declarations on average (the national platform: 3.17 M standards of
0.47 M enterprises), skewed; declarations are mostly published, some abolished, revoked or
never published, some revised (an older superseded version), a few cite a withdrawn standard,
and a few enterprises have a non-conforming inspection: each is a reason a ranking excludes a
declaration.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_SEED",
    "Dataset",
    "PlanIndicator",
    "PlanTemplate",
    "STATUS_NAMES",
    "Template",
    "USCC_ALPHABET",
    "generate",
    "TEMPLATE_CODES",
    "load_templates",
    "uscc_check_char",
]

SEED_INDICATORS = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "indicators.csv"
DEFAULT_SEED = 20261122

#: The seed indicators the synthetic categories are built from, in this order. Pinned, so the
#: harness keeps measuring the same data when the seed catalogue grows (it gained more
#: air-conditioner and gas-water-heater indicators): a figure is comparable with the last one.
TEMPLATE_CODES = ("apf", "efficacy", "avg_water", "flow_rate", "eei", "standby_loss",
                  "hot_water_output")

#: Declaration status codes used in :attr:`Dataset.status`.
STATUS_NAMES = ("published", "abolished", "revoked", "draft")
_STATUS_P = (0.955, 0.025, 0.005, 0.015)
REVISED_SHARE = 0.05  # published/ended declarations with an older, superseded version
WITHDRAWN_REFERENCE_SHARE = 0.005  # versions citing a withdrawn standard (open reference flag)
CITES_REFERENCE_SHARE = 0.30  # versions citing a valid catalogue standard
NONCONFORMING_SHARE = 0.003  # enterprises with a non-conforming inspection in the last 2 years
CONFORMING_SHARE = 0.01  # enterprises inspected without finding
MISSING_SHARE = 0.001  # indicator values not declared
DECLARATIONS_PER_ENTERPRISE = 6.7
BELOW_RECOMMENDED_Z = 2.17  # N(0,1) quantile: ~1.5 % of a typical category worse than R
CATEGORY_SPREAD = 0.2  # sigma of log(m), the per-category centre factor
PERCENTILE_CUTS = (5.0, 20.0, 50.0)
WEIGHTS = (3.0, 2.0, 2.0, 1.0, 1.0, 1.0)
NORMAL_UNITS = {"%"}  # percentage indicators are drawn normal, the others log-normal

# GB/T 2260 province-level codes: enterprises are spread over these (with city/county digits).
PROVINCES = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65",
)  # fmt: skip

#: GB 32100-2015 character set of the 统一社会信用代码 and its check weights.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])


@dataclass(frozen=True)
class Template:
    """A seed benchmark indicator: the thresholds synthetic values are drawn around."""

    category: str
    code: str
    name: str
    unit: str
    direction: str  # "higher" | "lower" is better
    mandatory_limit: float
    recommended_value: float
    grades: tuple[tuple[str, float], ...]  # best first
    decimals: int  # the precision the standard prints
    mandatory_source: str
    recommended_source: str

    @property
    def grade1(self) -> float:
        return self.grades[0][1]

    @property
    def normal(self) -> bool:
        return self.unit in NORMAL_UNITS


@dataclass(frozen=True)
class PlanIndicator:
    """A core indicator of a synthetic evaluation plan (mirrors ``ranking.scoring.IndicatorSpec``)."""

    key: str
    template: int
    direction: str
    floor: float
    floor_kind: str  # "mandatory" | "recommended"
    cut_mode: str  # "values" | "percentiles"
    cuts: tuple[float, ...]  # best first
    weight: float
    best_reference: float


@dataclass(frozen=True)
class PlanTemplate:
    """The plan shared by every category of one family."""

    family: int
    indicators: tuple[PlanIndicator, ...]
    leader_rule: dict
    composite_method: str  # "anchored" | "topsis"


@dataclass
class Dataset:
    """Generated data, as arrays. Declarations and enterprises are numbered from 1 in the DB;
    arrays are 0-based (row ``i`` is declaration ``i + 1``); categories are 0-based codes."""

    seed: int
    today: date
    templates: list[Template]
    plans: list[PlanTemplate]  # one per family
    category_family: np.ndarray  # (C,) family of each category
    category_size: np.ndarray  # (C,) declarations per category
    category: np.ndarray  # (n,) category code of each declaration
    enterprise: np.ndarray  # (n,) 0-based enterprise of each declaration
    status: np.ndarray  # (n,) index into STATUS_NAMES
    revised: np.ndarray  # (n,) has an older superseded version
    published_at: np.ndarray  # (n,) datetime64[s] UTC of the current version (NaT for drafts)
    values: np.ndarray  # (n, k) float64 in the benchmark unit; NaN = not declared
    mingshi: np.ndarray  # (n, k) value worse than the recommended value (明示 statement)
    cites_reference: np.ndarray  # (n,) cites a valid catalogue standard
    withdrawn_reference: np.ndarray  # (n,) cites a withdrawn standard (open reference flag)
    enterprise_region: np.ndarray  # (E,) 6-digit region code (str)
    enterprise_uscc: np.ndarray  # (E,) valid 统一社会信用代码 (str)
    enterprise_inspection: np.ndarray  # (E,) 0 none, 1 conforming, 2 non-conforming
    enterprise_inspected_on: np.ndarray  # (E,) datetime64[D] (NaT without inspection)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.category)

    @property
    def k(self) -> int:
        return self.values.shape[1]

    @property
    def n_categories(self) -> int:
        return len(self.category_family)

    @property
    def n_enterprises(self) -> int:
        return len(self.enterprise_region)

    def plan_of_category(self, c: int) -> PlanTemplate:
        return self.plans[int(self.category_family[c])]

    def family_rows(self, family: int) -> np.ndarray:
        """Row indices (ascending) of the declarations whose category is in ``family``."""
        return np.flatnonzero(self.category_family[self.category] == family)

    def template_of(self, family: int, position: int) -> Template:
        return self.templates[self.plans[family].indicators[position].template]


# ----------------------------------------------------------------------------- templates


def _decimals(text: str) -> int:
    text = text.strip()
    return len(text.split(".", 1)[1]) if "." in text else 0


def load_templates(
    path: Path | str = SEED_INDICATORS, codes: tuple[str, ...] | None = TEMPLATE_CODES
) -> list[Template]:
    """The seed benchmark indicators ``codes`` (None: every one, in file order), one template
    each, in that order."""
    out = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            grade_texts = [g.split(":", 1) for g in row["grades"].split("|") if g.strip()]
            figures = [row["mandatory_limit"], row["recommended_value"]] + [v for _, v in grade_texts]
            limit = float(row["mandatory_limit"])
            recommended = float(row["recommended_value"]) if row["recommended_value"] else limit
            out.append(
                Template(
                    category=row["category"],
                    code=row["code"],
                    name=row["name"],
                    unit=row["unit"],
                    direction=row["direction"],
                    mandatory_limit=limit,
                    recommended_value=recommended,
                    grades=tuple((label, float(v)) for label, v in grade_texts),
                    decimals=max(_decimals(f) for f in figures if f),
                    mandatory_source=row["mandatory_source"],
                    recommended_source=row["recommended_source"] or row["mandatory_source"],
                )
            )
    if codes is not None:
        by_code = {t.code: t for t in out}
        missing = [c for c in codes if c not in by_code]
        if missing:
            raise ValueError(f"seed indicators {missing} are not in {path}")
        out = [by_code[c] for c in codes]
    if not out:
        raise ValueError(f"no indicator templates in {path}")
    return out


def _better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "higher" else a < b


def _plan_indicator(t: Template, index: int, position: int, family: int, key: str) -> PlanIndicator:
    recommended_floor = position == 1 and family % 2 == 0
    floor = t.recommended_value if recommended_floor else t.mandatory_limit
    if position % 3 == 2:
        cut_mode, cuts = "percentiles", PERCENTILE_CUTS
    else:
        cut_mode = "values"
        step = 10.0 ** -t.decimals
        lead = round(t.grade1 * 1.05 if t.direction == "higher" else t.grade1 / 1.05, t.decimals)
        if not _better(lead, t.grade1, t.direction):  # rounding ate the 5 %
            lead = t.grade1 + step if t.direction == "higher" else t.grade1 - step
        grades = sorted(
            {v for _, v in t.grades if _better(v, floor, t.direction)},
            reverse=t.direction == "higher",
        )
        cuts = tuple([lead, *grades])
    return PlanIndicator(
        key=key,
        template=index,
        direction=t.direction,
        floor=floor,
        floor_kind="recommended" if recommended_floor else "mandatory",
        cut_mode=cut_mode,
        cuts=cuts,
        weight=WEIGHTS[position % len(WEIGHTS)],
        best_reference=t.grade1,
    )


def plan_templates(templates: list[Template], k: int, n_families: int) -> list[PlanTemplate]:
    """Family ``f`` ranks seed indicators ``f, f+1, ...``; keys repeat with a suffix past T."""
    n_t = len(templates)
    plans = []
    for f in range(n_families):
        inds = []
        for j in range(k):
            t = (f + j) % n_t
            key = templates[t].code if j < n_t else f"{templates[t].code}_{j // n_t + 1}"
            inds.append(_plan_indicator(templates[t], t, j, f, key))
        anchored = f % 2 == 0
        if f % 3 == 0:
            stars = [1.1, 1.0, 0.9] if anchored else [0.8, 0.7, 0.6]
            rule = {"kind": "best_share", "n": None, "share": 0.05, "star_cuts": stars}
        elif f % 3 == 1:
            rule = {"kind": "best_n", "n": 20, "share": None, "star_cuts": []}
        else:
            rule = {"kind": "top_tier_all", "n": None, "share": None, "star_cuts": []}
        plans.append(
            PlanTemplate(
                family=f,
                indicators=tuple(inds),
                leader_rule=rule,
                composite_method="anchored" if anchored else "topsis",
            )
        )
    return plans


# ----------------------------------------------------------------------------- generation


def _category_sizes(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    """Log-normal sizes summing to n, at least min(20, n // c) each."""
    floor = min(20, n // c)
    w = np.exp(rng.normal(0.0, 0.8, c))
    share = w / w.sum() * (n - floor * c)
    sizes = np.floor(share).astype(np.int64)
    rest = n - floor * c - int(sizes.sum())
    sizes[np.argsort(share - sizes)[::-1][:rest]] += 1
    return sizes + floor


def uscc_check_char(body: np.ndarray) -> np.ndarray:
    """Check characters (as alphabet indices) for (E, 17) alphabet-index arrays."""
    total = (body.astype(np.int64) * _USCC_WEIGHTS).sum(axis=1)
    return (31 - total % 31) % 31


def _usccs(rng: np.random.Generator, regions: np.ndarray) -> np.ndarray:
    """Valid, unique 统一社会信用代码: 9 (SAMR) 1 (enterprise), region, organisation code, check."""
    e = len(regions)
    idx = np.zeros((e, 18), dtype=np.int64)
    idx[:, 0], idx[:, 1] = 9, 1
    region_digits = np.frombuffer(regions.astype("S6").tobytes(), dtype=np.uint8).reshape(e, 6)
    idx[:, 2:8] = region_digits - ord("0")
    # A bijection of 0..31**9-1 (a is coprime with 31) keeps organisation codes unique.
    space = 31**9
    org = (np.arange(e, dtype=np.int64) * 7_368_787 + int(rng.integers(0, space))) % space
    for pos in range(16, 7, -1):
        idx[:, pos] = org % 31
        org //= 31
    idx[:, 17] = uscc_check_char(idx[:, :17])
    table = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
    chars = table[idx].astype(np.uint8)
    return chars.view("S18").ravel().astype(str)


def _draw_values(
    rng: np.random.Generator,
    templates: list[Template],
    plans: list[PlanTemplate],
    category_family: np.ndarray,
    category: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n, c = len(category), len(category_family)
    k = len(plans[0].indicators)
    tmpl_of = np.array([[p.indicators[j].template for j in range(k)] for p in plans])  # (F, k)
    arr = lambda f: np.array([f(t) for t in templates], dtype=np.float64)  # noqa: E731
    rec, lim, g1 = arr(lambda t: t.recommended_value), arr(lambda t: t.mandatory_limit), arr(
        lambda t: t.grade1
    )
    higher = np.array([t.direction == "higher" for t in templates])
    normal = np.array([t.normal for t in templates])
    scale = 10.0 ** np.array([t.decimals for t in templates], dtype=np.float64)
    # Goodness of grade 1 beyond R: log distance (log-normal) or 1 (normal, in units of G - R).
    log_g1 = np.where(higher, np.log(g1 / rec), np.log(rec / g1))
    log_g1 = np.where(log_g1 > 0, log_g1, 0.1)

    centre = np.exp(rng.normal(0.0, CATEGORY_SPREAD, (c, k)))  # per category and position
    values = np.empty((n, k), dtype=np.float64)
    fam = category_family[category]
    for j in range(k):
        t = tmpl_of[fam, j]
        z = rng.standard_normal(n)
        m = centre[category, j]
        lognormal_g = log_g1[t] * (m + z / BELOW_RECOMMENDED_Z)
        v_log = np.where(higher[t], rec[t] * np.exp(lognormal_g), rec[t] * np.exp(-lognormal_g))
        v_norm = rec[t] + (g1[t] - rec[t]) * (m + z / BELOW_RECOMMENDED_Z)
        v = np.where(normal[t], v_norm, v_log)
        v = np.where(higher[t], np.maximum(v, lim[t]), np.minimum(v, lim[t]))  # no violation
        values[:, j] = np.round(v * scale[t]) / scale[t]
    worse = np.zeros((n, k), dtype=bool)
    for j in range(k):
        t = tmpl_of[fam, j]
        worse[:, j] = np.where(higher[t], values[:, j] < rec[t], values[:, j] > rec[t])
    missing = rng.random((n, k)) < MISSING_SHARE
    values[missing] = np.nan
    return values, worse & ~missing


def generate(
    declarations: int = 2_000_000,
    indicators: int = 6,
    categories: int = 500,
    *,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    templates: list[Template] | None = None,
) -> Dataset:
    """Generate a dataset; the same arguments (and ``today``) always give the same data."""
    import time

    if declarations < 1 or categories < 1 or indicators < 1:
        raise ValueError("declarations, categories and indicators must be >= 1")
    if categories > declarations:
        raise ValueError(f"{categories} categories need at least as many declarations")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    today = today or date.today()
    templates = templates if templates is not None else load_templates()
    rng = np.random.default_rng(seed)
    n, c, k = declarations, categories, indicators
    n_families = min(len(templates), c)
    plans = plan_templates(templates, k, n_families)
    category_family = np.arange(c) % n_families
    sizes = _category_sizes(rng, n, c)
    category = rng.permutation(np.repeat(np.arange(c, dtype=np.int32), sizes))

    n_ent = max(1, round(n / DECLARATIONS_PER_ENTERPRISE))
    weight = np.exp(rng.normal(0.0, 1.0, n_ent))
    cdf = np.cumsum(weight)
    enterprise = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").astype(np.int32)
    enterprise = np.minimum(enterprise, n_ent - 1)

    status = rng.choice(len(STATUS_NAMES), size=n, p=_STATUS_P).astype(np.int8)
    draft = status == STATUS_NAMES.index("draft")
    revised = ~draft & (rng.random(n) < REVISED_SHARE)
    now = np.datetime64(today, "s") + np.timedelta64(8, "h")
    three_years = 3 * 365 * 86400
    published_at = now - rng.integers(3600, three_years, n).astype("timedelta64[s]")
    published_at[draft] = np.datetime64("NaT")
    withdrawn = ~draft & (rng.random(n) < WITHDRAWN_REFERENCE_SHARE)
    cites = (rng.random(n) < CITES_REFERENCE_SHARE) & ~withdrawn
    timings["declarations"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    values, mingshi = _draw_values(rng, templates, plans, category_family, category)
    timings["values"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    prov = np.array(PROVINCES)[rng.integers(0, len(PROVINCES), n_ent)]
    city = rng.integers(1, 13, n_ent)
    county = rng.integers(0, 12, n_ent)
    region = np.char.add(np.char.add(prov, np.char.zfill(city.astype(str), 2)),
                         np.char.zfill(county.astype(str), 2))
    uscc = _usccs(rng, region)
    u = rng.random(n_ent)
    inspection = np.where(u < NONCONFORMING_SHARE, 2,
                          np.where(u < NONCONFORMING_SHARE + CONFORMING_SHARE, 1, 0)).astype(np.int8)
    inspected_on = np.datetime64(today, "D") - rng.integers(1, 730, n_ent).astype("timedelta64[D]")
    inspected_on[inspection == 0] = np.datetime64("NaT")
    timings["enterprises"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0

    return Dataset(
        seed=seed,
        today=today,
        templates=templates,
        plans=plans,
        category_family=category_family,
        category_size=sizes,
        category=category,
        enterprise=enterprise,
        status=status,
        revised=revised,
        published_at=published_at,
        values=values,
        mingshi=mingshi,
        cites_reference=cites,
        withdrawn_reference=withdrawn,
        enterprise_region=region,
        enterprise_uscc=uscc,
        enterprise_inspection=inspection,
        enterprise_inspected_on=inspected_on,
        timings=timings,
    )


def describe(ds: Dataset) -> dict:
    """A few facts about a dataset, for the harness's header and results.json."""
    below = 0
    for f, plan in enumerate(ds.plans):
        rows = ds.family_rows(f)
        for j, ind in enumerate(plan.indicators):
            v = ds.values[rows, j]
            below += int(np.count_nonzero(v < ind.floor if ind.direction == "higher" else v > ind.floor))
    unique = np.mean([
        len(np.unique(ds.values[ds.category == 0, j][~np.isnan(ds.values[ds.category == 0, j])]))
        for j in range(ds.k)
    ]) if ds.n else 0
    return {
        "declarations": ds.n,
        "indicators": ds.k,
        "categories": ds.n_categories,
        "plan_templates": len(ds.plans),
        "enterprises": ds.n_enterprises,
        "category_size_min": int(ds.category_size.min()),
        "category_size_median": int(np.median(ds.category_size)),
        "category_size_max": int(ds.category_size.max()),
        "published": int(np.count_nonzero(ds.status == 0)),
        "revised": int(np.count_nonzero(ds.revised)),
        "values_below_floor_share": below / (ds.n * ds.k),
        "values_mingshi_share": float(ds.mingshi.mean()),
        "values_missing_share": float(np.isnan(ds.values).mean()),
        "distinct_values_per_indicator_in_category_0": float(unique),
        "generate_seconds": round(ds.timings.get("total", math.nan), 3),
    }


def date_of(ts: np.datetime64) -> date:
    return date(1970, 1, 1) + timedelta(days=int(ts.astype("datetime64[D]").astype(np.int64)))
