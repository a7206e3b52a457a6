"""The only place that writes spot-check sampling (双随机): plans, draws, inspectors.

CONTRACT (shared by the pages, the API, the CLI and the inspections slice). Operations flush,
never commit; refusals raise ``core.errors.ValidationFailed`` with the field that is wrong
("size_ratio", "tied_region_codes", "_schema" for the state of a record). Operations that take
a ``user`` refuse anyone who is not a regulator covering the record's region with
``werkzeug.exceptions.Forbidden``; the pages and the API look records up with the scoped reads
below (``plan_for``, ``draw_for``, ``inspector_for``), which answer None (404) outside the
caller's region, so nobody learns that another region's record exists.

Plan data (the form and the API send this; missing keys take the defaults)::

    {"name": str, "region_code": "500112",          # inside the regulator's 行政区划 (default: it)
     "category_ids": [int, ...],                    # empty: every category
     "period_start": date, "period_end": date,      # declarations in force at period end
     "size_ratio": float | None, "size_count": int | None,   # one of them, or neither (= min)
     "min_ratio": float,                            # >= SAMPLING_MIN_RATIO (0.05), <= 1
     "stratification": "none" | "region" | "category" | "region_category",
     "allocation": "proportional" | "equal",
     "exclude_drawn_years": int,                    # 0..10, default SAMPLING_EXCLUDE_YEARS (3)
     "risk_factor": float,                          # >= 0: weight = 1 + factor x risk score
     "max_inclusion": float,                        # (0, 1]: no entry is certain (default 0.9)
     "inspectors_per_object": int,                  # 2..10 (双随机: at least two)
     "rectification_days": int}                     # 1..365, default 30

Functions::

    create_plan(regulator, data) -> SamplingPlan              # check_plan: the same, no write
    update_plan(plan, data, *, user, replace=False) -> SamplingPlan   # while it has no draw
    build_population(plan, *, forced=(), now=None) -> Population          # reads only
    compute_draw(plan, *, seed, forced=(), now=None) -> (Population, DrawResult)  # reads only
    create_draw(plan, user, *, seed=None, seed_text=None,
                complaint_declaration_ids=(), complaint_ids=(), now=None) -> Draw
    publicise_draw(draw, user) -> Draw                        # 抽查名单公示
    redo_draw(draw, *, population=None, params=None) -> RedoReport       # reads only
    create_inspector(regulator, data) / update_inspector(inspector, data, *, user, replace)
    set_inspector_active(inspector, active, *, user)

Settings (app config, DOMAIN.md "configurable"; read with these defaults when absent):
``SAMPLING_MIN_RATIO`` 0.05 (the lowest minimum ratio a plan may set), ``SAMPLING_EXCLUDE_YEARS``
3, ``RECTIFICATION_DAYS`` 30 (shared with supervision.inspections), ``SUPERVISION_RISK`` (the
severity weights of ``risk.risk_score``, shared with supervision.flags), and for the pages and
the API ``SAMPLING_REDO_RATE_LIMIT`` "10 per minute" (the public redo recomputes a draw).

How a draw is made (``create_draw``):

1. **Population**, in ONE set-based select: every declaration whose version was in force at
   the plan's period end (or now, if the period has not ended yet) and whose enterprise is in the
   plan's region, with a product in one of the plan's categories (when it names some). The
   stratum follows the plan: the enterprise's county code, the declaration's category code
   (its first product category in scope), both as "500112/room_ac", or "all".
2. **Exclusions**, one select: enterprises with an object drawn at random (not complaint
   checks) in the last ``exclude_drawn_years`` years, by any regulator; the reason names the
   latest such draw ("drawn in draw 500000-2025-002 on 2025-03-01"). The text is part of the
   recorded population and of its hash, so it is language-neutral; pages translate it.
3. **Risk**, one select: the open risk flags (``cleared_at`` NULL) of the region, scored per
   declaration by ``supervision.flags.risk.risk_score`` (each flag code counts once, at its most
   severe). Weight = ``1 + risk_factor x score``; ``max_inclusion`` keeps every pi below 1.
4. **Complaint-triggered objects** (``forced``) come from the caller: declarations, or open
   complaints of the region (a complaint about an enterprise forces each of its declarations
   in the population). They are checked outside the random draw and labelled "complaint".
5. ``method.stratified_draw`` with the seed: an integer, or a public text such as
   a lottery result (``seed_from_text``). The draw records the seed and its text, the
   population as gzip'd canonical CSV (``population_csv``: the columns the draw uses, rows in
   id order, floats in shortest round-trip form, gzip without a timestamp, so the same
   population always gives the same bytes), the parameters ``sampling.redo`` takes, and the
   population hash. The number is "<plan region>-<year>-<seq>", e.g. "500000-2026-003".
6. ``DrawItem`` per object (reason, pi, stratum, risk score) and, per object, an
   ``Inspection`` (ASSIGNED, origin = the reason) with inspectors from the regulator's active
   pool: ``sampling.assign_inspectors`` seeded by the draw's seed, recused from tied
   enterprises and from enterprises in tied regions (a tie to 500100 covers every county of
   it), balanced. Items and inspections are written with Core executemany.

Synchronous, not a job, and what that costs. ``create_draw`` runs in the request that asks for
it: the regulator sees the recorded draw, or the refusal with its field errors, at once, and
there is no half-made draw to poll for. Measured on the development machine (2 cores shared by
six test runs, load average 5-7) for a region of 50,000 published declarations with 5,000 open
flags and 20,000 excluded by earlier draws, drawing 5 % (about 1,500-1,900 objects, as many
inspections, 40 inspectors): median wall time 2.2-2.7 s on SQLite and 2.2-3.4 s on
PostgreSQL, process CPU time about 1.0 s (SQLite, database work included) and 0.8 s (PostgreSQL,
client side). The population select is about 40 % of it, the executemany of items and
inspections 25 %, the rest the draw, the CSV and the inspector assignment. That is not "well
under a second" on this machine, so it is the first thing to move if regions of that size
draw often: ``core.jobs`` only runs functions of a module named ``tasks``, so the job needs a
``supervision.sampling.tasks.make_draw(plan_id, user_id, request)`` that calls ``create_draw`` with
``core.jobs.report_progress`` between the steps above (population, draw, record, inspectors).
County and city regions (a few thousand declarations) draw in a fraction of the time.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
from flask import current_app
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import and_, func, insert, null, or_, select, true
from sqlalchemy.exc import IntegrityError
from stdnum.cn import uscc as uscc_mod
from werkzeug.exceptions import Forbidden

from benchmarks.models import ProductCategory
from core.auth import region_covers, region_prefix
from core.clock import local_date, local_today, local_zone
from core.errors import ValidationFailed
from core.extensions import db
from core.models import Role, User, utcnow
from core.notifications import notify_address, notify_enterprises
from core.validation import Errors as _Errors
from core.validation import day as _day
from core.validation import integer as _integer
from core.validation import number as _number
from core.validation import refuse as _refuse
from core.validation import text as _text
from declare.models import Declaration, DeclarationVersion, Enterprise, Product, VersionStatus
from supervision.flags import risk
from supervision.models import (
    Complaint,
    ComplaintStatus,
    Draw,
    DrawItem,
    DrawStatus,
    Inspection,
    InspectionOrigin,
    InspectionStatus,
    Inspector,
    RiskFlag,
    SamplingPlan,
    SelectionReason,
    Stratification,
)
from supervision.sampling import method as sampling

__all__ = [
    "Population",
    "RedoReport",
    "allocation_of",
    "build_population",
    "check_plan",
    "compute_draw",
    "create_draw",
    "create_inspector",
    "create_plan",
    "draw_for",
    "draws_for",
    "excluded_of",
    "exclusion_parts",
    "inspector_for",
    "inspectors_of",
    "plan_data",
    "plan_defaults",
    "plan_for",
    "plans_for",
    "population_csv",
    "public_draw",
    "publicise_draw",
    "read_population",
    "redo_draw",
    "set_inspector_active",
    "stored_population",
    "update_inspector",
    "update_plan",
]

GENERAL = "_schema"
DEFAULT_MIN_RATIO = 0.05  # SAMPLING_MIN_RATIO: the national floor of the sample ratio
DEFAULT_EXCLUDE_YEARS = 3  # SAMPLING_EXCLUDE_YEARS
DEFAULT_MAX_INCLUSION = 0.9
DEFAULT_RECTIFICATION_DAYS = 30  # RECTIFICATION_DAYS (shared with supervision.inspections)
MAX_EXCLUDE_YEARS = 10
MAX_RISK_FACTOR = 100.0
INSPECTORS_PER_OBJECT = (2, 10)
RECTIFICATION_DAYS = (1, 365)
YEARS = (2000, 2100)
MAX_SEED_TEXT = 1000
SEED_LIMIT = 2**128  # seeds are 128-bit (sampling.seed_from_text gives that many bits)
SEED_DIGITS = len(str(SEED_LIMIT - 1))  # 39: the longest seed written in digits
INSERT_CHUNK = 2000
PUBLIC_STATUSES = (DrawStatus.PUBLICISED, DrawStatus.CLOSED)
ALLOCATIONS = sampling.ALLOCATIONS
STRATA = tuple(s.value for s in Stratification)
ALL_STRATUM = "all"
NO_CATEGORY = "uncategorised"
POPULATION_COLUMNS = sampling.POPULATION_COLUMNS
_EXCLUSION_RE = re.compile(r"^drawn in draw (?P<number>\S+) on (?P<day>\d{4}-\d{2}-\d{2})$")
_SPLIT = re.compile(r"[\s,;，；、]+")


# --------------------------------------------------------------------------- helpers


def _percent(value: float) -> str:
    return f"{value * 100:.4g} %"


def _config(key: str, default):
    return current_app.config.get(key, default)


def min_ratio_floor() -> float:
    """The lowest minimum sample ratio a plan may set (SAMPLING_MIN_RATIO, default 5 %)."""
    return float(_config("SAMPLING_MIN_RATIO", DEFAULT_MIN_RATIO))


def plan_defaults() -> dict:
    """What a new plan starts with (the configurable ones from the app config)."""
    return {
        "min_ratio": min_ratio_floor(),
        "exclude_drawn_years": int(_config("SAMPLING_EXCLUDE_YEARS", DEFAULT_EXCLUDE_YEARS)),
        "risk_factor": 1.0,
        "max_inclusion": DEFAULT_MAX_INCLUSION,
        "inspectors_per_object": INSPECTORS_PER_OBJECT[0],
        "rectification_days": int(
            _config("RECTIFICATION_DAYS", DEFAULT_RECTIFICATION_DAYS)
        ),
    }


def _is_regulator(user: User | None) -> bool:
    return user is not None and user.role is Role.REGULATOR and bool(user.region_code)


def _covers(user: User | None, region_code: str | None) -> bool:
    return _is_regulator(user) and region_covers(user.region_code, region_code)


def _require_region(user: User | None, region_code: str) -> None:
    if not _covers(user, region_code):
        raise Forbidden(_("Only a regulator of this region may do this."))


def _list(value: Any) -> list:
    """A list from a list, or from text separated by commas, spaces or 、."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part for part in _SPLIT.split(value.strip()) if part]
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


# --------------------------------------------------------------------------- scoped reads


def plans_for(user: User) -> list[SamplingPlan]:
    """The plans of the regions the regulator covers, newest first (one query)."""
    if not _is_regulator(user):
        return []
    return list(
        db.session.scalars(
            select(SamplingPlan)
            .where(_in_region(SamplingPlan.region_code, user.region_code))
            .order_by(SamplingPlan.created_at.desc(), SamplingPlan.id.desc())
        )
    )


def plan_for(user: User, plan_id: int) -> SamplingPlan | None:
    """A plan the regulator may see and act on (its region covers the plan's), else None."""
    plan = db.session.get(SamplingPlan, plan_id)
    return plan if plan is not None and _covers(user, plan.region_code) else None


def draw_for(user: User | None, draw_id: int) -> Draw | None:
    """A draw of the regulator's region, else None."""
    found = db.session.get(Draw, draw_id)
    return found if found is not None and _covers(user, found.plan.region_code) else None


def public_draw(draw_id: int) -> Draw | None:
    """A draw whose sample list is public (publicised or closed), else None."""
    found = db.session.get(Draw, draw_id)
    return found if found is not None and found.status in PUBLIC_STATUSES else None


def draws_for(plan: SamplingPlan) -> list[Draw]:
    return list(
        db.session.scalars(
            select(Draw)
            .where(Draw.plan_id == plan.id)
            .order_by(Draw.drawn_at.desc(), Draw.id.desc())
        )
    )


def inspectors_of(user: User, *, active_only: bool = False) -> list[Inspector]:
    """The regulator's own inspector pool, by code."""
    if not _is_regulator(user):
        return []
    stmt = select(Inspector).where(Inspector.regulator_id == user.id)
    if active_only:
        stmt = stmt.where(Inspector.active.is_(True))
    return list(db.session.scalars(stmt.order_by(Inspector.code, Inspector.id)))


def inspector_for(user: User, inspector_id: int) -> Inspector | None:
    """One inspector of the regulator's own pool, else None."""
    found = db.session.get(Inspector, inspector_id)
    if found is None or not _is_regulator(user) or found.regulator_id != user.id:
        return None
    return found


# --------------------------------------------------------------------------- plans


def plan_data(plan: SamplingPlan) -> dict:
    """The plan as the contract's data dict (forms, the API, partial updates)."""
    return {
        "name": plan.name,
        "region_code": plan.region_code,
        "category_ids": list(plan.category_ids or []),
        "period_start": plan.period_start,
        "period_end": plan.period_end,
        "size_ratio": plan.size_ratio,
        "size_count": plan.size_count,
        "min_ratio": plan.min_ratio,
        "stratification": plan.stratification.value,
        "allocation": plan.allocation,
        "exclude_drawn_years": plan.exclude_drawn_years,
        "risk_factor": plan.risk_factor,
        "max_inclusion": plan.max_inclusion,
        "inspectors_per_object": plan.inspectors_per_object,
        "rectification_days": plan.rectification_days,
    }


def _clean_scope(data: Mapping, regulator: User, errors: _Errors, out: dict) -> None:
    region = _text(data.get("region_code")) or (regulator.region_code or "")
    if not (len(region) == 6 and region.isascii() and region.isdigit()):
        errors.add(
            "region_code",
            _("Enter the 6-digit 行政区划 code of the area to check, e.g. %(code)s.",
              code=regulator.region_code or "500112"),
        )
    elif not region_covers(regulator.region_code, region):
        errors.add(
            "region_code",
            _("%(code)s is outside your region %(own)s: a plan may only cover your own region "
              "or an area inside it.", code=region, own=regulator.region_code),
        )
    out["region_code"] = region

    raw = _list(data.get("category_ids"))
    ids: list[int] = []
    for value in raw:
        number, ok = _integer(value)
        if not ok or number is None or number <= 0:
            errors.add("category_ids",
                       _("Product categories are chosen from the list (ids); “%(value)s” is "
                         "not one.", value=value))
            continue
        if number not in ids:
            ids.append(number)
    if ids:
        known = set(
            db.session.scalars(select(ProductCategory.id).where(ProductCategory.id.in_(ids)))
        )
        unknown = [str(i) for i in ids if i not in known]
        if unknown:
            errors.add("category_ids",
                       _("Unknown product categories: %(ids)s. Choose categories from the list, "
                         "or none for every category.", ids=", ".join(unknown)))
    out["category_ids"] = sorted(ids)

    start, ok_start = _day(data.get("period_start"))
    end, ok_end = _day(data.get("period_end"))
    for name, value, ok in (("period_start", start, ok_start), ("period_end", end, ok_end)):
        if not ok or value is None:
            errors.add(name, _("Enter the date as YYYY-MM-DD, e.g. %(day)s.",
                               day=date(local_today().year, 12, 31).isoformat()))
        elif not YEARS[0] <= value.year <= YEARS[1]:
            errors.add(name, _("Enter a date between the years %(lo)d and %(hi)d.",
                               lo=YEARS[0], hi=YEARS[1]))
    if start and end and ok_start and ok_end and start > end:
        errors.add("period_end",
                   _("The period ends on %(end)s, before it starts on %(start)s: the end must "
                     "be on or after the start.", end=end.isoformat(), start=start.isoformat()))
    out["period_start"], out["period_end"] = start, end


def _clean_size(data: Mapping, errors: _Errors, out: dict) -> None:
    floor = min_ratio_floor()
    min_ratio, ok = _number(data.get("min_ratio"))
    if not ok or (min_ratio is not None and not floor <= min_ratio <= 1):
        errors.add("min_ratio",
                   _("The minimum sample ratio is a fraction from %(floor)s to 1 (e.g. 0.05 for "
                     "5 %%); the rules do not allow less than %(floor)s.", floor=floor))
        min_ratio = floor
    min_ratio = floor if min_ratio is None else min_ratio
    out["min_ratio"] = min_ratio

    ratio, ok_ratio = _number(data.get("size_ratio"))
    count, ok_count = _integer(data.get("size_count"))
    if not ok_ratio:
        errors.add("size_ratio", _("Enter the sample ratio as a fraction, e.g. 0.1 for %(pct)s.",
                                   pct="10 %"))
    elif ratio is not None and not min_ratio <= ratio <= 1:
        errors.add("size_ratio",
                   _("The sample ratio %(ratio)s is outside what is allowed: from the minimum "
                     "ratio %(min)s (%(pct)s) to 1.", ratio=ratio, min=min_ratio,
                     pct=_percent(min_ratio)))
    if not ok_count:
        errors.add("size_count", _("Enter the number of objects as a whole number, e.g. 20."))
    elif count is not None and count < 1:
        errors.add("size_count",
                   _("The number of objects must be at least 1 (it is raised to the minimum "
                     "ratio when that needs more)."))
    if ratio is not None and count is not None:
        errors.add("size_count",
                   _("Give either a sample ratio or a number of objects, not both (leave both "
                     "empty to draw the minimum ratio)."))
    out["size_ratio"], out["size_count"] = ratio, count


def _clean_rules(data: Mapping, errors: _Errors, out: dict) -> None:
    strata = _text(data.get("stratification")) or Stratification.NONE.value
    if strata not in STRATA:
        errors.add("stratification",
                   _("Choose the strata: none, by region, by category, or by region and "
                     "category (%(known)s).", known=", ".join(STRATA)))
    out["stratification"] = strata

    allocation = _text(data.get("allocation")) or "proportional"
    if allocation not in ALLOCATIONS:
        errors.add("allocation",
                   _("Choose how the sample is shared among strata: proportional or equal."))
    out["allocation"] = allocation

    years, ok = _integer(data.get("exclude_drawn_years"))
    years = int(_config("SAMPLING_EXCLUDE_YEARS", DEFAULT_EXCLUDE_YEARS)) if ok and years is None \
        else years
    if not ok or years is None or not 0 <= years <= MAX_EXCLUDE_YEARS:
        errors.add("exclude_drawn_years",
                   _("Enter the exclusion window in whole years from 0 (no exclusion) to "
                     "%(max)d; the default is %(default)d.", max=MAX_EXCLUDE_YEARS,
                     default=DEFAULT_EXCLUDE_YEARS))
    out["exclude_drawn_years"] = years

    factor, ok = _number(data.get("risk_factor"))
    factor = 1.0 if ok and factor is None else factor
    if not ok or factor is None or not 0 <= factor <= MAX_RISK_FACTOR:
        errors.add("risk_factor",
                   _("The risk factor is a number from 0 (risk does not count) to %(max)s; "
                     "each point of risk score multiplies the weight by 1 + factor × score.",
                     max=f"{MAX_RISK_FACTOR:g}"))
    out["risk_factor"] = factor

    ceiling, ok = _number(data.get("max_inclusion"))
    ceiling = DEFAULT_MAX_INCLUSION if ok and ceiling is None else ceiling
    if not ok or ceiling is None or not 0 < ceiling <= 1:
        errors.add("max_inclusion",
                   _("The highest inclusion probability is a number above 0 and at most 1 "
                     "(0.9 keeps every draw random, however risky an entry is)."))
    out["max_inclusion"] = ceiling

    per_object, ok = _integer(data.get("inspectors_per_object"))
    per_object = 2 if ok and per_object is None else per_object
    lo, hi = INSPECTORS_PER_OBJECT
    if not ok or per_object is None or not lo <= per_object <= hi:
        errors.add("inspectors_per_object",
                   _("Each object is checked by %(lo)d to %(hi)d inspectors (at least two: "
                     "双随机).", lo=lo, hi=hi))
    out["inspectors_per_object"] = per_object

    days, ok = _integer(data.get("rectification_days"))
    days = int(_config("RECTIFICATION_DAYS", DEFAULT_RECTIFICATION_DAYS)) \
        if ok and days is None else days
    lo, hi = RECTIFICATION_DAYS
    if not ok or days is None or not lo <= days <= hi:
        errors.add("rectification_days",
                   _("The rectification deadline is %(lo)d to %(hi)d days; the default is "
                     "%(default)d.", lo=lo, hi=hi, default=DEFAULT_RECTIFICATION_DAYS))
    out["rectification_days"] = days


def _clean_plan(data: Any, regulator: User) -> dict:
    """Check a plan's data; return the cleaned values or raise with every error at once."""
    if not isinstance(data, Mapping):
        raise _refuse(pgettext("sampling", "Expected the plan's fields."))
    errors = _Errors()
    out: dict[str, Any] = {}
    name = _text(data.get("name"))
    if not name:
        errors.add("name", _("Enter a name for the plan, e.g. “2026 enterprise standards spot "
                             "check”."))
    elif len(name) > 200:
        errors.add("name", _("At most %(n)d characters.", n=200))
    out["name"] = name
    _clean_scope(data, regulator, errors, out)
    _clean_size(data, errors, out)
    _clean_rules(data, errors, out)
    if errors:
        raise ValidationFailed(dict(errors))
    out["stratification"] = Stratification(out["stratification"])
    return out


def check_plan(regulator: User, data: Mapping) -> None:
    """Raise ``ValidationFailed`` with every refusal of the plan data; write nothing (forms
    use it to show the rule errors together with their own parse errors)."""
    if not _is_regulator(regulator):
        raise Forbidden(_("Only a regulator with a region can make a sampling plan."))
    _clean_plan(data, regulator)


def create_plan(regulator: User, data: Mapping) -> SamplingPlan:
    """A regulator's spot-check plan (抽查计划) for its own region."""
    if not _is_regulator(regulator):
        raise Forbidden(_("Only a regulator with a region can make a sampling plan."))
    clean = _clean_plan(data, regulator)
    plan = SamplingPlan(regulator_id=regulator.id, **clean)
    db.session.add(plan)
    db.session.flush()
    return plan


def update_plan(
    plan: SamplingPlan, data: Mapping, *, user: User, replace: bool = False
) -> SamplingPlan:
    """Change a plan that has not been drawn from yet: missing keys keep their values, or
    take the defaults with ``replace`` (a full replacement, e.g. HTTP PUT).

    A draw records the rules it used, so a plan with draws is left as it is: make a new plan.
    """
    _require_region(user, plan.region_code)
    if not isinstance(data, Mapping):
        raise _refuse(pgettext("sampling", "Expected the plan's fields."))
    if db.session.scalar(select(func.count(Draw.id)).where(Draw.plan_id == plan.id)):
        raise _refuse(_("Samples were already drawn with this plan and record its rules; make a "
                        "new plan to change them."))
    merged = dict(data) if replace else {**plan_data(plan), **data}
    owner = db.session.get(User, plan.regulator_id)
    clean = _clean_plan(merged, owner if _is_regulator(owner) else user)
    if not region_covers(user.region_code, clean["region_code"]):
        raise _refuse(_("%(code)s is outside your region %(own)s: a plan may only cover your own "
                        "region or an area inside it.", code=clean["region_code"],
                        own=user.region_code), "region_code")
    for key, value in clean.items():
        setattr(plan, key, value)
    db.session.flush()
    return plan


# --------------------------------------------------------------------------- population


@dataclass
class Population:
    """The objects of one draw, one row per declaration, in id order.

    ``frame`` holds the canonical columns (``POPULATION_COLUMNS``: id, stratum, weight, risk,
    excluded, exclusion_reason, forced) and, for the record, version_id, enterprise_id and
    region_code. ``as_of`` is the moment whose versions in force were taken. ``complaints``
    maps a forced declaration id to the complaint that forced it (None: forced directly).
    """

    frame: pd.DataFrame
    as_of: datetime
    complaints: dict[int, int | None] = field(default_factory=dict)

    def canonical(self) -> pd.DataFrame:
        return self.frame.loc[:, list(POPULATION_COLUMNS)]


def _as_of(plan: SamplingPlan, now: datetime | None) -> datetime:
    """The end of the period in Beijing time, or now if the period has not ended yet."""
    now = now or utcnow()
    end = datetime.combine(plan.period_end + timedelta(days=1), time.min, tzinfo=local_zone())
    return min(end - timedelta(microseconds=1), now)


def _in_region(column, region_code: str):
    """``column`` inside the 行政区划 ``region_code`` as an index-friendly range (codes are
    digits, and ":" sorts right after "9"), unlike LIKE on SQLite and PostgreSQL."""
    prefix = region_prefix(region_code)
    return and_(column >= prefix, column < prefix + ":")


def _in_force(V, moment: datetime):
    return and_(
        V.status != VersionStatus.DRAFT,
        V.published_at.is_not(None),
        V.published_at <= moment,
        or_(V.ended_at.is_(None), V.ended_at > moment),
    )


def _population_rows(plan: SamplingPlan, moment: datetime) -> pd.DataFrame:
    """Declarations in force at ``moment`` in the plan's region and categories: one select.

    The category (the smallest category id among the version's products in scope) is read
    only when the plan filters or stratifies by category: it is a correlated lookup per row.
    """
    V = DeclarationVersion
    cats = [int(c) for c in plan.category_ids or []]
    by_category = plan.stratification in (Stratification.CATEGORY, Stratification.REGION_CATEGORY)
    if cats or by_category:
        in_scope = Product.category_id.in_(cats) if cats else true()
        category = (
            select(func.min(Product.category_id))
            .where(Product.version_id == V.id, in_scope)
            .correlate(V)
            .scalar_subquery()
        )
    else:
        category = null()
    inner = (
        select(
            V.declaration_id.label("id"),
            V.id.label("version_id"),
            Declaration.enterprise_id.label("enterprise_id"),
            Enterprise.region_code.label("region_code"),
            category.label("category_id"),
        )
        .join(Declaration, Declaration.id == V.declaration_id)
        .join(Enterprise, Enterprise.id == Declaration.enterprise_id)
        .where(_in_region(Enterprise.region_code, plan.region_code), _in_force(V, moment))
    )
    if cats:
        found = inner.subquery("population")
        stmt = select(*found.c).where(found.c.category_id.is_not(None))
    else:
        stmt = inner
    names = ["id", "version_id", "enterprise_id", "region_code", "category_id"]
    frame = _frame(stmt, names)
    frame = frame.astype({"id": "int64", "version_id": "int64", "enterprise_id": "int64"})
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def _frame(stmt, names: list[str]) -> pd.DataFrame:
    """A Core select as a DataFrame, column by column (no ORM rows, no per-row objects)."""
    rows = db.session.connection().execute(stmt).all()
    columns = list(zip(*rows)) if rows else [() for _ in names]
    return pd.DataFrame({name: pd.Series(col, dtype=object) for name, col in
                         zip(names, columns, strict=True)})


def _strata(plan: SamplingPlan, frame: pd.DataFrame) -> pd.Series:
    kind = plan.stratification
    if kind is Stratification.NONE or frame.empty:
        return pd.Series(ALL_STRATUM, index=frame.index, dtype=object)
    region = frame["region_code"].astype(str)
    if kind is Stratification.REGION:
        return region
    codes = dict(db.session.execute(select(ProductCategory.id, ProductCategory.code)).all())
    category = frame["category_id"].map(codes).fillna(NO_CATEGORY).astype(str)
    if kind is Stratification.CATEGORY:
        return category.astype(object)
    return (region + "/" + category).astype(object)


def _window_start(years: int, now: datetime) -> datetime:
    """The same day ``years`` years ago, at midnight in Beijing (29 Feb → 28 Feb)."""
    today = local_date(now)
    try:
        day = today.replace(year=today.year - years)
    except ValueError:
        day = today.replace(year=today.year - years, day=28)
    return datetime.combine(day, time.min, tzinfo=local_zone())


def _earlier_draws(plan: SamplingPlan, now: datetime) -> pd.DataFrame:
    """(enterprise_id, reason) of enterprises drawn at random within the exclusion window."""
    years = plan.exclude_drawn_years or 0
    if years <= 0:
        return pd.DataFrame({"enterprise_id": pd.Series(dtype="int64"),
                             "reason": pd.Series(dtype=object)})
    stmt = (
        select(DrawItem.enterprise_id, Draw.number, Draw.drawn_at)
        .join(Draw, Draw.id == DrawItem.draw_id)
        .where(
            Draw.drawn_at >= _window_start(years, now),
            Draw.drawn_at <= now,
            DrawItem.reason != SelectionReason.COMPLAINT,
            _in_region(DrawItem.region_code, plan.region_code),
        )
        .order_by(DrawItem.enterprise_id, Draw.drawn_at.desc(), Draw.id.desc())
    )
    frame = _frame(stmt, ["enterprise_id", "number", "drawn_at"])
    frame = frame.drop_duplicates("enterprise_id", keep="first")
    days = {}  # one conversion per draw, not per item
    for number, at in zip(frame["number"], frame["drawn_at"], strict=True):
        if number not in days:
            days[number] = exclusion_reason(number, local_date(_aware(at)))
    frame["reason"] = frame["number"].map(days)
    return frame.loc[:, ["enterprise_id", "reason"]].astype({"enterprise_id": "int64"})


def _aware(moment: datetime) -> datetime:
    """Core reads of UTCDateTime columns on SQLite come back naive: they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def exclusion_reason(number: str, day: date) -> str:
    """The recorded (language-neutral) reason of an exclusion; pages translate it."""
    return f"drawn in draw {number} on {day.isoformat()}"


def exclusion_parts(reason: str) -> dict | None:
    """{"number", "day"} of a recorded exclusion reason, or None for another text."""
    match = _EXCLUSION_RE.match(reason or "")
    return match.groupdict() if match else None


def _risk(plan: SamplingPlan, ids: pd.Series) -> pd.Series:
    """Risk score per declaration from its open flags: one select, scored by risk_score."""
    stmt = select(RiskFlag.declaration_id, RiskFlag.code, RiskFlag.severity).where(
        RiskFlag.cleared_at.is_(None),
        _in_region(RiskFlag.region_code, plan.region_code),
    )
    flags = _frame(stmt, ["declaration_id", "code", "severity"])
    flags = flags[flags["declaration_id"].isin(ids)]
    # The severity weights the flag pages use (SUPERVISION_RISK, as supervision.flags reads it).
    config = risk.RiskConfig.coerce(_config("SUPERVISION_RISK", None) or None)
    score = risk.risk_score(flags, config=config)
    return ids.map(score).fillna(0.0).astype(float)


def build_population(
    plan: SamplingPlan,
    *,
    forced: Mapping[int, int | None] | Iterable[int] = (),
    now: datetime | None = None,
) -> Population:
    """The plan's population with strata, risk, exclusions and complaint-triggered objects.

    ``forced``: declaration ids (or a mapping declaration id → complaint id) checked outside
    the random draw; each must be in the population (else ``ValidationFailed`` on
    "complaint_declaration_ids").
    """
    now = now or utcnow()
    moment = _as_of(plan, now)
    frame = _population_rows(plan, moment)
    frame["stratum"] = _strata(plan, frame)
    frame["weight"] = 1.0
    frame["risk"] = _risk(plan, frame["id"]) if len(frame) else pd.Series(dtype=float)
    earlier = _earlier_draws(plan, now)
    reason = frame["enterprise_id"].map(earlier.set_index("enterprise_id")["reason"])
    excluded = reason.notna().to_numpy(dtype=bool)
    frame["excluded"] = excluded
    frame["exclusion_reason"] = np.where(excluded, reason.astype(object), "").astype(object)
    complaints = dict(forced) if isinstance(forced, Mapping) else {int(d): None for d in forced}
    missing = sorted(set(complaints) - set(frame["id"].tolist()))
    if missing:
        by_complaint = all(complaints[d] is not None for d in missing)
        raise _refuse(
            _("Declarations %(ids)s are not in this plan's population: only a declaration of "
              "the plan's region and categories in force on %(day)s can be checked in this "
              "draw.", ids=", ".join(map(str, missing)), day=local_date(moment).isoformat()),
            "complaint_ids" if by_complaint else "complaint_declaration_ids",
        )
    frame["forced"] = frame["id"].isin(list(complaints)).to_numpy(dtype=bool)
    return Population(frame=frame.reset_index(drop=True), as_of=moment, complaints=complaints)


# --------------------------------------------------------------------------- the draw


def _seed(seed: Any, seed_text: Any) -> int | str:
    """The seed to draw with: a whole number in [0, 2^128) or a non-empty public text."""
    text = _text(seed_text)
    raw = _text(seed)
    if raw and text:
        raise _refuse(_("Give either a seed number or a public seed text, not both."), "seed")
    if text:
        if len(text) > MAX_SEED_TEXT:
            raise _refuse(_("At most %(n)d characters.", n=MAX_SEED_TEXT), "seed_text")
        return text
    if not raw:
        raise _refuse(
            _("Give the seed: a whole number, or a public text such as a lottery result (e.g. "
              "“2026-11-22 双色球 03 07 12 19 25 31 + 09”) in the seed text."),
            "seed",
        )
    # ASCII digits only, and no more than 2^128 - 1 has: "²".isdigit() is true but int()
    # refuses it, and int() of a 5,000-digit string fails (or costs time) instead of answering.
    if isinstance(seed, bool) or not (
        isinstance(seed, int) or (raw.isascii() and raw.isdigit() and len(raw) <= SEED_DIGITS)
    ):
        raise _refuse(_("The seed is a whole number from 0 to 2^128 - 1 (digits only, at most "
                        "%(n)d of them); put other text in the seed text.", n=SEED_DIGITS), "seed")
    value = seed if isinstance(seed, int) else int(raw)
    if not 0 <= value < SEED_LIMIT:
        raise _refuse(_("The seed is a whole number from 0 to 2^128 - 1 (digits only, at most "
                        "%(n)d of them); put other text in the seed text.", n=SEED_DIGITS), "seed")
    return value


def _forced_objects(
    plan: SamplingPlan, declaration_ids: Iterable[Any], complaint_ids: Iterable[Any], now: datetime
) -> dict[int, int | None]:
    """Declaration id → complaint id (or None) of the complaint-triggered objects."""
    out: dict[int, int | None] = {}
    for name, values in (("complaint_declaration_ids", declaration_ids),
                         ("complaint_ids", complaint_ids)):
        for value in _list(values):
            number, ok = _integer(value)
            if not ok or number is None or number <= 0:
                raise _refuse(_("Expected ids (whole numbers); “%(value)s” is not one.",
                                value=value), name)
    for value in _list(declaration_ids):
        out.setdefault(int(_integer(value)[0]), None)
    ids = sorted({int(_integer(v)[0]) for v in _list(complaint_ids)})
    if not ids:
        return out
    found = {
        c.id: c
        for c in db.session.scalars(
            select(Complaint).where(Complaint.id.in_(ids),
                                    _in_region(Complaint.region_code, plan.region_code))
        )
    }
    unknown = [str(i) for i in ids if i not in found]
    if unknown:
        raise _refuse(_("Complaints %(ids)s were not found in this plan's region.",
                        ids=", ".join(unknown)), "complaint_ids")
    closed = [found[i].number for i in ids if found[i].status is not ComplaintStatus.OPEN]
    if closed:
        raise _refuse(_("Complaints %(numbers)s are no longer open: only an open complaint can "
                        "trigger a check.", numbers=", ".join(closed)), "complaint_ids")
    by_enterprise = [found[i] for i in ids if found[i].declaration_id is None]
    for complaint in (found[i] for i in ids if found[i].declaration_id is not None):
        out[complaint.declaration_id] = complaint.id
    if by_enterprise:
        moment = _as_of(plan, now)
        V = DeclarationVersion
        rows = db.session.execute(
            select(V.declaration_id, Declaration.enterprise_id)
            .join(Declaration, Declaration.id == V.declaration_id)
            .where(
                Declaration.enterprise_id.in_([c.enterprise_id for c in by_enterprise]),
                _in_force(V, moment),
            )
        ).all()
        of_enterprise: dict[int, list[int]] = {}
        for declaration_id, enterprise_id in rows:
            of_enterprise.setdefault(enterprise_id, []).append(declaration_id)
        for complaint in by_enterprise:
            declarations = of_enterprise.get(complaint.enterprise_id, [])
            if not declarations:
                raise _refuse(_("Complaint %(number)s is about an enterprise with no declaration "
                                "in force on %(day)s: there is nothing to check in this draw.",
                                number=complaint.number, day=local_date(moment).isoformat()),
                              "complaint_ids")
            for declaration_id in declarations:
                out[declaration_id] = complaint.id
    return out


def _draw_kwargs(plan: SamplingPlan) -> dict:
    return {
        "ratio": plan.size_ratio,
        "count": plan.size_count,
        "min_ratio": plan.min_ratio,
        "risk_factor": float(plan.risk_factor),
        "max_inclusion": float(plan.max_inclusion),
        "allocation": plan.allocation,
    }


def size_rule(draw: Draw, frame: int) -> dict[str, Any]:
    """How big the random share of a recorded draw had to be: ``scope`` (what the ratio is a
    share of), ``required`` (the rules' size), ``frame`` (left after exclusions) and ``short``
    (the frame was smaller than required, so all of it was drawn). Draws recorded before the
    scope rule (no ``size_base``) had the frame as their scope."""
    params = draw.params or {}
    scope = frame + int(draw.excluded_count) if params.get("size_base") == "scope" else frame
    required = sampling.sample_size(
        scope,
        ratio=params.get("ratio"),
        count=params.get("count"),
        min_ratio=params.get("min_ratio", sampling.DEFAULT_MIN_RATIO),
    )
    return {"scope": scope, "required": required, "frame": frame, "short": frame < required}


def compute_draw(
    plan: SamplingPlan,
    *,
    seed: int | str,
    forced: Mapping[int, int | None] | Iterable[int] = (),
    now: datetime | None = None,
    population: Population | None = None,
) -> tuple[Population, sampling.DrawResult]:
    """The population and the draw's result, without writing anything."""
    population = population or build_population(plan, forced=forced, now=now)
    try:
        result = sampling.stratified_draw(population.canonical(), seed=seed, **_draw_kwargs(plan))
    except ValueError as exc:
        raise _refuse(_("The sample cannot be drawn with these rules: %(detail)s",
                        detail=str(exc))) from exc
    return population, result


def population_csv(frame: pd.DataFrame) -> bytes:
    """The population in canonical CSV, gzip'd without a timestamp (same rows → same bytes).

    Columns ``id,stratum,weight,risk,excluded,exclusion_reason,forced``; rows in id order;
    floats in Python's shortest round-trip form (``repr``), so reading them back gives the
    same binary64 values and the same hash; booleans as 1/0; UTF-8, RFC 4180 quoting.
    """
    canon = frame.loc[:, list(POPULATION_COLUMNS)].sort_values("id", kind="stable")
    excluded = canon["excluded"].astype(bool).to_numpy()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(POPULATION_COLUMNS)
    writer.writerows(
        zip(
            canon["id"].tolist(),
            canon["stratum"].astype(str).tolist(),
            _float_texts(canon["weight"]),
            _float_texts(canon["risk"]),
            excluded.astype(np.int8).tolist(),
            np.where(excluded, canon["exclusion_reason"].fillna("").astype(str), "").tolist(),
            canon["forced"].astype(bool).to_numpy().astype(np.int8).tolist(),
            strict=True,
        )
    )
    return gzip.compress(out.getvalue().encode("utf-8"), compresslevel=6, mtime=0)


def _float_texts(column: pd.Series) -> list[str]:
    """Each value in shortest round-trip form (``repr``; -0.0 as 0.0), formatted once per
    distinct value: weights and risk scores take few values."""
    values, index = np.unique(column.to_numpy(dtype=np.float64) + 0.0, return_inverse=True)
    texts = np.asarray([repr(float(v)) for v in values], dtype=object)
    return texts[index.ravel()].tolist()


_TRUE = {"1", "true", "True", "TRUE"}
_FALSE = {"0", "false", "False", "FALSE", ""}


def read_population(data: bytes) -> pd.DataFrame:
    """A population CSV (gzip'd or plain) as the DataFrame ``sampling.redo`` takes.

    Raises ValueError naming the column and the row of a value that cannot be read.
    """
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"the gzip file is damaged: {exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the population file is not UTF-8 text") from None
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_values=[],
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"the population file is not CSV: {exc}") from None
    missing = [c for c in ("id", "stratum") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the population file has no column(s) {', '.join(missing)} "
            f"(expected {','.join(POPULATION_COLUMNS)})"
        )
    out = pd.DataFrame({"id": _ints(frame["id"], "id"), "stratum": frame["stratum"]})
    for name, default in (("weight", 1.0), ("risk", 0.0)):
        out[name] = _floats(frame[name], name) if name in frame.columns else default
    for name in ("excluded", "forced"):
        out[name] = _bools(frame[name], name) if name in frame.columns else False
    out["exclusion_reason"] = (
        frame["exclusion_reason"] if "exclusion_reason" in frame.columns else ""
    )
    return out


def _ints(column: pd.Series, name: str) -> np.ndarray:
    bad = ~column.str.fullmatch(r"-?\d+")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"column {name!r}, row {row + 1}: {column.iloc[row]!r} is not a whole number"
        )
    return column.astype("int64").to_numpy()


def _floats(column: pd.Series, name: str) -> np.ndarray:
    values = []
    for row, text in enumerate(column.tolist()):
        try:
            values.append(float(text))
        except ValueError:
            raise ValueError(f"column {name!r}, row {row + 1}: {text!r} is not a number") from None
    return np.asarray(values, dtype=np.float64)


def _bools(column: pd.Series, name: str) -> np.ndarray:
    values = column.str.strip()
    bad = ~values.isin(_TRUE | _FALSE)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"column {name!r}, row {row + 1}: {column.iloc[row]!r} is not 1/0")
    return values.isin(_TRUE).to_numpy(dtype=bool)


def stored_population(draw: Draw) -> pd.DataFrame:
    """The population the draw recorded, read back from its gzip'd CSV."""
    return read_population(draw.population_csv_gz)


def _next_number(region: str, year: int) -> str:
    prefix = f"{region}-{year}-"
    numbers = db.session.scalars(select(Draw.number).where(Draw.number.like(f"{prefix}%"))).all()
    seqs = [int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()]
    return f"{prefix}{max(seqs, default=0) + 1:03d}"


def _insert(table, rows: list[dict]) -> None:
    """Core executemany in chunks (psycopg pipelines it; never ORM objects for thousands of
    rows). Multi-row VALUES with RETURNING measured slower on psycopg: it parses the long
    statement client-side."""
    for start in range(0, len(rows), INSERT_CHUNK):
        db.session.execute(insert(table), rows[start : start + INSERT_CHUNK])


def _pool(plan: SamplingPlan) -> pd.DataFrame:
    rows = db.session.execute(
        select(Inspector.id, Inspector.tied_enterprise_ids, Inspector.tied_region_codes).where(
            Inspector.regulator_id == plan.regulator_id, Inspector.active.is_(True)
        )
    ).all()
    return pd.DataFrame(rows, columns=["id", "tied_enterprise_ids", "tied_region_codes"])


def _assign(
    plan: SamplingPlan, objects: pd.DataFrame, seed: int
) -> tuple[dict[int, list[int]], dict]:
    """Declaration id → inspector ids: random, balanced, recused from tied enterprises and
    from enterprises in tied regions (expanded here into enterprise ties). Also returns the
    pool as it was used (``Draw.inspector_pool``), so the assignment can be redone."""
    if objects.empty:
        return {}, {}
    pool = _pool(plan)
    per_object = plan.inspectors_per_object
    if len(pool) < per_object:
        raise _refuse(
            _("The inspector pool has %(n)d active inspectors but every object needs %(k)d: add "
              "inspectors to the pool (执法检查人员库) first.", n=len(pool), k=per_object),
            "inspectors",
        )
    regions = objects["region_code"].astype(str)
    ties = []
    for enterprises, codes in zip(pool["tied_enterprise_ids"], pool["tied_region_codes"],
                                  strict=True):
        tied = {str(e) for e in (enterprises or [])}
        for code in codes or []:
            try:
                covered = regions.str.startswith(region_prefix(str(code)))
            except ValueError:
                continue
            tied |= set(objects.loc[covered.to_numpy(), "enterprise_id"].astype(str))
        ties.append(sorted(tied))
    recorded = {
        "per_object": per_object,
        "inspectors": [
            {"id": int(i), "tied_enterprise_ids": tied}
            for i, tied in zip(pool["id"].tolist(), ties, strict=True)
        ],
    }
    try:
        grouped = assign_recorded(recorded, objects, seed)
    except ValueError as exc:
        raise _refuse(_("Inspectors cannot be assigned with the recusals of the pool: %(detail)s",
                        detail=str(exc)), "inspectors") from exc
    return grouped, recorded


def assign_recorded(pool: Mapping, objects: pd.DataFrame, seed: int) -> dict[int, list[int]]:
    """The inspector draw from a recorded pool (``Draw.inspector_pool``): declaration id →
    inspector ids. ``objects`` has ``id``, ``enterprise_id``, ``region_code``."""
    inspectors = pd.DataFrame({
        "id": [int(i["id"]) for i in pool["inspectors"]],
        "region": None,
        "tied_enterprise_ids": [list(i["tied_enterprise_ids"]) for i in pool["inspectors"]],
    })
    table = pd.DataFrame({
        "id": objects["id"].astype("int64"),
        "enterprise_id": objects["enterprise_id"].astype(str),
        "region": objects["region_code"].astype(str),
    })
    pairs = sampling.assign_inspectors(
        table, inspectors, per_object=int(pool["per_object"]), seed=seed
    )
    grouped: dict[int, list[int]] = {}
    for object_id, inspector_id in zip(pairs["object_id"].tolist(),
                                       pairs["inspector_id"].tolist(), strict=True):
        grouped.setdefault(int(object_id), []).append(int(inspector_id))
    return grouped


def create_draw(
    plan: SamplingPlan,
    user: User,
    *,
    seed: Any = None,
    seed_text: Any = None,
    complaint_declaration_ids: Iterable[Any] = (),
    complaint_ids: Iterable[Any] = (),
    now: datetime | None = None,
) -> Draw:
    """Draw a sample with the plan, record it, and assign inspectors (see the module doc)."""
    _require_region(user, plan.region_code)
    chosen = _seed(seed, seed_text)
    now = now or utcnow()
    forced = _forced_objects(plan, complaint_declaration_ids, complaint_ids, now)
    population = build_population(plan, forced=forced, now=now)
    frame = population.frame
    if frame.empty:
        raise _refuse(_("The population is empty: no published declaration of region %(code)s "
                        "(and the plan's categories) was in force on %(day)s.",
                        code=plan.region_code, day=local_date(population.as_of).isoformat()))
    population, result = compute_draw(plan, seed=chosen, population=population)
    sample = result.sample
    if sample.empty:
        raise _refuse(_("Nothing to draw: every declaration of the population is excluded "
                        "(%(n)d drawn in the last %(years)d years)."
                        , n=int(frame["excluded"].sum()), years=plan.exclude_drawn_years))
    info = frame.set_index("id").loc[sample["id"].astype("int64").to_numpy()]
    objects = pd.DataFrame({
        "id": info.index.to_numpy(),
        "enterprise_id": info["enterprise_id"].to_numpy(),
        "region_code": info["region_code"].to_numpy(),
    })
    assignment, pool = _assign(plan, objects, result.seed)
    params = {**result.params, "seed": str(result.seed)}  # JSON-safe: the 128-bit seed as text
    draw = _insert_draw(plan, user, result, population, params, chosen, now, pool)
    _insert_items(draw, plan, sample, info, assignment, population.complaints)
    _open_complaints(population.complaints, user, now)
    return draw


def _insert_draw(plan, user, result, population, params, chosen, now, pool) -> Draw:
    """The Draw row with a fresh number; retried on the rare collision of two draws."""
    frame = population.frame
    year = local_date(now).year
    for _attempt in range(5):
        draw = Draw(
            plan_id=plan.id,
            number=_next_number(plan.region_code, year),
            seed=str(result.seed),
            seed_source=chosen if isinstance(chosen, str) else "",
            method=sampling.METHOD,
            params=params,
            population_hash=result.population_hash,
            population_csv_gz=population_csv(frame),
            population_size=len(frame),
            excluded_count=len(result.excluded),
            sample_size=len(result.sample),
            status=DrawStatus.DRAWN,
            drawn_at=now,
            drawn_by_id=user.id,
            inspector_pool=pool,
        )
        try:
            with db.session.begin_nested():
                db.session.add(draw)
                db.session.flush()
        except IntegrityError:
            continue
        return draw
    raise _refuse(_("Another draw took the same number at the same moment; draw again."))


def _insert_items(draw, plan, sample, info, assignment, complaints) -> None:
    """DrawItems and their Inspections (Core executemany); ``info`` is the population rows
    of the sample, in sample order."""
    now = draw.drawn_at
    reasons = {r.value: r for r in SelectionReason}
    rows = [
        {
            "draw_id": draw.id,
            "position": position,
            "declaration_id": declaration_id,
            "version_id": version_id,
            "enterprise_id": enterprise_id,
            "region_code": str(region),
            "stratum": str(stratum),
            "reason": reasons[reason],
            "inclusion_probability": float(pi),
            "risk_score": float(score),
        }
        for position, (declaration_id, version_id, enterprise_id, region, score, stratum, reason,
                       pi) in enumerate(
            zip(
                info.index.astype("int64").tolist(),
                info["version_id"].astype("int64").tolist(),
                info["enterprise_id"].astype("int64").tolist(),
                info["region_code"].tolist(),
                info["risk"].tolist(),
                sample["stratum"].tolist(),
                sample["reason"].tolist(),
                sample["pi"].tolist(),
                strict=True,
            ),
            start=1,
        )
    ]
    _insert(DrawItem.__table__, rows)
    item_ids = dict(
        db.session.execute(
            select(DrawItem.declaration_id, DrawItem.id).where(DrawItem.draw_id == draw.id)
        ).all()
    )
    inspections = [
        {
            "number": f"{draw.number}-{row['position']:04d}",
            "origin": InspectionOrigin(row["reason"].value),
            "draw_item_id": item_ids[row["declaration_id"]],
            "complaint_id": complaints.get(row["declaration_id"])
            if row["reason"] is SelectionReason.COMPLAINT else None,
            "regulator_id": plan.regulator_id,
            "declaration_id": row["declaration_id"],
            "version_id": row["version_id"],
            "enterprise_id": row["enterprise_id"],
            "region_code": row["region_code"],
            "inspector_ids": assignment.get(row["declaration_id"], []),
            "status": InspectionStatus.ASSIGNED,
            "checklist": {},
            "findings": [],
            "created_at": now,
        }
        for row in rows
    ]
    _insert(Inspection.__table__, inspections)


def _open_complaints(complaints: Mapping[int, int | None], user: User, now: datetime) -> None:
    """A complaint whose check was opened in this draw is no longer merely open."""
    ids = sorted({c for c in complaints.values() if c is not None})
    for complaint in db.session.scalars(select(Complaint).where(Complaint.id.in_(ids))):
        complaint.status = ComplaintStatus.CHECK_OPENED
        complaint.handled_by_id = user.id
        complaint.handled_at = now
        notify_address(complaint.contact, "complaint_status",
                       f"complaint:{complaint.id}:{complaint.status.value}",
                       number=complaint.number, status=complaint.status.value)
    if ids:
        db.session.flush()


def publicise_draw(draw: Draw, user: User, *, now: datetime | None = None) -> Draw:
    """Make the sample list public (抽查名单公示), with the seed, the hash and the population."""
    _require_region(user, draw.plan.region_code)
    if draw.status is not DrawStatus.DRAWN:
        raise _refuse(_("This sample list is already public (since %(day)s).",
                        day=local_date(draw.publicised_at).isoformat()
                        if draw.publicised_at else "—"))
    draw.status = DrawStatus.PUBLICISED
    draw.publicised_at = now or utcnow()
    db.session.flush()
    enterprises = db.session.scalars(
        select(DrawItem.enterprise_id).where(DrawItem.draw_id == draw.id).distinct()
    )
    notify_enterprises(enterprises, "draw_publicised", f"draw:{draw.id}",
                       number=draw.number, draw_id=draw.id)
    return draw


# --------------------------------------------------------------------------- reading a draw


def allocation_of(draw: Draw, population: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per stratum: population (the random frame), sample (drawn at random), excluded and
    complaint-triggered objects, from the recorded population and the stored items."""
    frame = population if population is not None else stored_population(draw)
    drawn = db.session.execute(
        select(DrawItem.stratum, func.count(DrawItem.id))
        .where(DrawItem.draw_id == draw.id, DrawItem.reason != SelectionReason.COMPLAINT)
        .group_by(DrawItem.stratum)
    ).all()
    forced = frame["forced"].astype(bool)
    excluded = frame["excluded"].astype(bool) & ~forced
    in_frame = ~(excluded | forced)
    table = pd.DataFrame({
        "population": frame[in_frame].groupby("stratum").size(),
        "excluded": frame[excluded].groupby("stratum").size(),
        "complaint": frame[forced].groupby("stratum").size(),
        "sample": pd.Series(dict(drawn), dtype="int64"),
    })
    table = table.fillna(0).astype("int64").sort_index()
    table.index.name = "stratum"
    return table.reset_index()


def excluded_of(draw: Draw, population: pd.DataFrame | None = None) -> pd.DataFrame:
    """The excluded objects (not complaint-triggered) with their recorded reasons, by id."""
    frame = population if population is not None else stored_population(draw)
    rows = frame[frame["excluded"].astype(bool) & ~frame["forced"].astype(bool)]
    return rows.loc[:, ["id", "stratum", "exclusion_reason"]].reset_index(drop=True)


@dataclass
class RedoReport:
    """The outcome of redoing a draw from a population and parameters.

    ``identical``: the recomputed sample equals the stored one (same objects, same order,
    same stratum, reason and pi). ``error`` says why the draw could not be redone at all
    (e.g. the population's hash differs from the recorded one).
    """

    draw_number: str
    identical: bool
    recorded_hash: str
    population_hash: str | None = None
    sample: pd.DataFrame | None = None
    only_stored: list = field(default_factory=list)
    only_redone: list = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    order_differs: bool = False
    error: str = ""
    # The inspector draw redone from the recorded pool and the seed: None when the draw has no
    # recorded pool (or the sample itself differs), else whether every object got the same
    # inspectors; ``inspectors_changed`` lists the objects that did not.
    inspectors_identical: bool | None = None
    inspectors_changed: list[dict] = field(default_factory=list)

    @property
    def hash_matches(self) -> bool:
        return self.population_hash == self.recorded_hash

    def to_dict(self) -> dict:
        return {
            "draw_number": self.draw_number,
            "identical": self.identical,
            "recorded_hash": self.recorded_hash,
            "population_hash": self.population_hash,
            "hash_matches": self.hash_matches,
            "error": self.error,
            "only_stored": [int(i) for i in self.only_stored],
            "only_redone": [int(i) for i in self.only_redone],
            "changed": self.changed,
            "order_differs": self.order_differs,
            "inspectors_identical": self.inspectors_identical,
            "inspectors_changed": self.inspectors_changed,
            "sample": [] if self.sample is None else [
                {"position": i, "id": int(r.id), "stratum": str(r.stratum),
                 "reason": str(r.reason), "pi": float(r.pi)}
                for i, r in enumerate(self.sample.itertuples(index=False), start=1)
            ],
        }


def stored_sample(draw: Draw) -> pd.DataFrame:
    """The stored items as a sample table (id, stratum, reason, pi), in draw order."""
    rows = db.session.execute(
        select(DrawItem.declaration_id, DrawItem.stratum, DrawItem.reason,
               DrawItem.inclusion_probability)
        .where(DrawItem.draw_id == draw.id)
        .order_by(DrawItem.position)
    ).all()
    return pd.DataFrame(
        [(d, s, r.value, p) for d, s, r, p in rows], columns=["id", "stratum", "reason", "pi"]
    )


def redo_draw(
    draw: Draw,
    *,
    population: pd.DataFrame | None = None,
    params: Mapping | None = None,
) -> RedoReport:
    """Recompute a draw (from its recorded population and parameters, or from copies a third
    party holds) and compare it with the stored sample. Reads only."""
    report = RedoReport(draw.number, False, draw.population_hash)
    try:
        frame = population if population is not None else stored_population(draw)
        report.population_hash = sampling.population_hash(frame)
        result = sampling.redo(frame, dict(params if params is not None else draw.params))
    except ValueError as exc:
        report.error = str(exc)
        return report
    redone = result.sample.loc[:, ["id", "stratum", "reason", "pi"]]
    report.sample = redone
    stored = stored_sample(draw)
    stored_ids, redone_ids = stored["id"].tolist(), redone["id"].tolist()
    report.only_stored = sorted(set(stored_ids) - set(redone_ids))
    report.only_redone = sorted(set(redone_ids) - set(stored_ids))
    report.order_differs = stored_ids != redone_ids and not (report.only_stored or
                                                             report.only_redone)
    mine = stored.set_index("id")
    for row in redone.itertuples(index=False):
        if row.id not in mine.index:
            continue
        kept = mine.loc[row.id]
        for name in ("stratum", "reason"):
            if str(kept[name]) != str(getattr(row, name)):
                report.changed.append({"id": int(row.id), "field": name,
                                       "stored": str(kept[name]),
                                       "redone": str(getattr(row, name))})
        if not math.isclose(float(kept["pi"]), float(row.pi), rel_tol=1e-12, abs_tol=1e-15):
            report.changed.append({"id": int(row.id), "field": "pi",
                                   "stored": float(kept["pi"]), "redone": float(row.pi)})
    report.identical = (
        stored_ids == redone_ids and not report.changed and report.hash_matches
    )
    if report.identical and (draw.inspector_pool or {}).get("inspectors"):
        _redo_inspectors(draw, report)
    return report


def _redo_inspectors(draw: Draw, report: RedoReport) -> None:
    """Redo the inspector draw from the recorded pool and seed; compare with the inspections."""
    rows = db.session.execute(
        select(DrawItem.declaration_id, DrawItem.enterprise_id, DrawItem.region_code,
               Inspection.inspector_ids)
        .join(Inspection, Inspection.draw_item_id == DrawItem.id)
        .where(DrawItem.draw_id == draw.id)
        .order_by(DrawItem.position)
    ).all()
    objects = pd.DataFrame(
        [(d, e, r) for d, e, r, _ids in rows], columns=["id", "enterprise_id", "region_code"]
    )
    stored = {int(d): sorted(int(i) for i in ids or []) for d, _e, _r, ids in rows}
    try:
        redone = assign_recorded(draw.inspector_pool, objects, int(draw.seed))
    except ValueError as exc:
        report.inspectors_identical = False
        report.error = str(exc)
        return
    for object_id, ids in stored.items():
        again = sorted(redone.get(object_id, []))
        if again != ids:
            report.inspectors_changed.append({"id": object_id, "stored": ids, "redone": again})
    report.inspectors_identical = not report.inspectors_changed


# --------------------------------------------------------------------------- inspectors


def inspector_data(inspector: Inspector) -> dict:
    return {
        "code": inspector.code,
        "name": inspector.name,
        "organisation": inspector.organisation,
        "speciality": inspector.speciality,
        "tied_enterprise_ids": list(inspector.tied_enterprise_ids or []),
        "tied_region_codes": list(inspector.tied_region_codes or []),
        "active": inspector.active,
    }


def _clean_ties(data: Mapping, errors: _Errors) -> tuple[list[int], list[str]]:
    ids: set[int] = set()
    for value in _list(data.get("tied_enterprise_ids")):
        number, ok = _integer(value)
        if not ok or number is None or number <= 0:
            errors.add("tied_enterprise_ids",
                       _("Enterprise ids are whole numbers; “%(value)s” is not one.", value=value))
        else:
            ids.add(number)
    usccs = [str(v).strip().upper() for v in _list(data.get("tied_usccs"))]
    bad = [code for code in usccs if not uscc_mod.is_valid(code)]
    if bad:
        errors.add("tied_usccs",
                   _("Not a valid unified social credit code (18 characters, GB 32100): "
                     "%(codes)s.", codes=", ".join(bad)))
    good = [code for code in usccs if code not in bad]
    if good:
        found = dict(db.session.execute(
            select(Enterprise.uscc, Enterprise.id).where(Enterprise.uscc.in_(good))
        ).all())
        unknown = [code for code in good if code not in found]
        if unknown:
            errors.add("tied_usccs",
                       _("No enterprise is registered with the code(s) %(codes)s.",
                         codes=", ".join(unknown)))
        ids |= set(found.values())
    if ids:
        known = set(db.session.scalars(select(Enterprise.id).where(Enterprise.id.in_(ids))))
        unknown_ids = sorted(ids - known)
        if unknown_ids:
            errors.add("tied_enterprise_ids",
                       _("No enterprise has the id(s) %(ids)s.",
                         ids=", ".join(map(str, unknown_ids))))
    regions: list[str] = []
    for value in _list(data.get("tied_region_codes")):
        code = str(value).strip()
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            errors.add("tied_region_codes",
                       _("A 行政区划 code has 6 digits, e.g. 500112; “%(value)s” is not one.",
                         value=value))
        elif code not in regions:
            regions.append(code)
    return sorted(ids), sorted(regions)


def _clean_inspector(data: Any, regulator: User, current: Inspector | None = None) -> dict:
    if not isinstance(data, Mapping):
        raise _refuse(_("Expected the inspector's fields."))
    errors = _Errors()
    out: dict[str, Any] = {}
    for name, limit, required in (("code", 40, True), ("name", 80, True),
                                  ("organisation", 200, False), ("speciality", 200, False)):
        value = _text(data.get(name))
        if required and not value:
            errors.add(name, _("Enter the staff number (执法证号 or staff code).") if name == "code"
                       else _("Enter the inspector's name."))
        elif len(value) > limit:
            errors.add(name, _("At most %(n)d characters.", n=limit))
        out[name] = value
    if out["code"]:
        taken = db.session.scalar(
            select(Inspector.id).where(
                Inspector.regulator_id == regulator.id,
                Inspector.code == out["code"],
                Inspector.id != (current.id if current is not None else -1),
            )
        )
        if taken:
            errors.add("code", _("Your pool already has an inspector with the staff number "
                                 "%(code)s; staff numbers are unique in a pool.", code=out["code"]))
    out["tied_enterprise_ids"], out["tied_region_codes"] = _clean_ties(data, errors)
    active = data.get("active", True)
    if not isinstance(active, bool):
        errors.add("active", _("Choose yes or no."))
    out["active"] = bool(active)
    if errors:
        raise ValidationFailed(dict(errors))
    return out


def create_inspector(regulator: User, data: Mapping) -> Inspector:
    """Add an inspector to the regulator's pool, with the ties they are recused for."""
    if not _is_regulator(regulator):
        raise Forbidden(_("Only a regulator with a region keeps an inspector pool."))
    clean = _clean_inspector(data, regulator)
    inspector = Inspector(regulator_id=regulator.id, **clean)
    db.session.add(inspector)
    db.session.flush()
    return inspector


def _require_pool_owner(inspector: Inspector, user: User) -> None:
    if not _is_regulator(user) or inspector.regulator_id != user.id:
        raise Forbidden(_("Only the regulator whose pool this is may change it."))


def update_inspector(
    inspector: Inspector, data: Mapping, *, user: User, replace: bool = False
) -> Inspector:
    """Change an inspector: missing keys keep their values, or take the defaults with
    ``replace``. Ties apply to later draws; inspections already assigned keep their
    inspectors."""
    _require_pool_owner(inspector, user)
    if not isinstance(data, Mapping):
        raise _refuse(_("Expected the inspector's fields."))
    merged = dict(data) if replace else {**inspector_data(inspector), **data}
    if "tied_usccs" in data and "tied_enterprise_ids" not in data:
        merged["tied_enterprise_ids"] = []  # the codes replace the ties
    clean = _clean_inspector(merged, user, inspector)
    for key, value in clean.items():
        setattr(inspector, key, value)
    db.session.flush()
    return inspector


def set_inspector_active(inspector: Inspector, active: bool, *, user: User) -> Inspector:
    """Take an inspector out of (or back into) the pool drawn from. Inspectors are never
    deleted: the inspections they were assigned to name them."""
    _require_pool_owner(inspector, user)
    inspector.active = bool(active)
    db.session.flush()
    return inspector
