"""The only place that writes rankings: plans, runs, publicity, objections, leader lists.

CONTRACT (shared by views, API, tasks and the perf harness; helpers implement the bodies).
Operations flush, never commit; refusals raise ``core.errors.ValidationFailed`` with dotted
field paths ("indicators.1.cuts", "leader_rule.n"), state errors use "_schema".

Plan data (from the form and the API):

    {
      "category_id": int, "year": int, "title": str,
      "composite_method": "anchored" | "topsis",
      "publicity_days": int,                               # default 10
      "entry_rules": {"exclude_mingshi_on_core": bool,      # default True
                      "require_references_valid": bool,     # default True
                      "inspection_window_days": int},       # default 1095 (3 years)
      "leader_rule": {"kind": "top_tier_all" | "best_n" | "best_share",
                      "n": int | None, "share": float | None, "star_cuts": [float, ...]},
      "indicators": [{"benchmark_indicator_id": int,
                      "floor_kind": "mandatory" | "recommended",
                      "floor": float | None,               # default: that benchmark value
                      "cut_mode": "values" | "percentiles",
                      "cuts": [float, ...],                # best first
                      "weight": float,
                      "best_reference": float | None}],    # default: the grade-1 threshold
    }

Functions:

    create_plan(evaluator, data) -> EvaluationPlan          # status draft, version 1
    update_plan(plan, data) -> EvaluationPlan               # draft: in place; active: new version
    activate_plan(plan) -> EvaluationPlan                   # previews start regenerating
    start_official_run(plan, user) -> OutboxJob             # job on the "ranking" queue
    start_publicity(run, start: date | None = None) -> RankingRun
    file_objection(run, *, name, contact, text, entry_id=None) -> Objection
    resolve_objection(objection, *, accept: bool, response: str, user) -> Objection
    publish_run(run, user) -> RankingRun                    # immutable afterwards
    record_removal(run, declaration_ids, reason) -> RankingRun   # dynamic management

Details callers rely on (added by the implementation; all extra parameters are optional):

- Ownership: only the evaluator who owns a plan changes it. Operations that take a ``user``
  (``update_plan``/``activate_plan``/``start_publicity`` accept ``user=`` too) refuse anyone
  else with ``werkzeug.exceptions.Forbidden`` (403). Callers check the role.
- Partial data for ``update_plan`` keeps the plan's current values for missing keys.
- ``build_run(plan, kind, user=None) -> RankingRun`` computes a run now (used by the jobs;
  previews switch the (plan_key, "preview") pointer in the same transaction). A preview whose
  inputs hash equals the current preview's is not written again (idempotent).
  ``build_previews(plans)`` does the same for many plans in one transaction (one read, grouped
  scoring, one COPY stream, every pointer switched together). Old previews are dropped by a
  job of their own (``enqueue_prune``/``prune_previews``), never inside a regeneration.
- ``enqueue_preview(plan)`` debounces on the leading edge (``RANKING_DEBOUNCE_SECONDS``): the
  first change runs at once, changes within the window join one trailing job.
- Run data: ``RunEntry.values`` / ``tiers`` are keyed by the indicator key = the benchmark code
  (``PlanIndicator.benchmark_code``). ``RankingRun.indicator_status[key]`` =
  {"ranked": bool, "reason": None | "all_equal" | "no_eligible", "name", "unit", "direction",
  "floor", "cut_mode", "cuts", "weight", "best_reference", "tier_ranges": {"1": [lo, hi], …}}.
  ``RunEntry.exclusion_reasons`` = [{"code", "detail"}] with the codes of
  ``ranking.eligibility.EXCLUSION_CODES``.
- Publicity runs from ``publicity_start`` to ``publicity_end`` inclusive (``publicity_days``
  days, never fewer than the ``PUBLICITY_DAYS`` setting). It starts no earlier than today and
  than the day the run was computed (a backdated start would skip the objection period).
  ``start_publicity(..., today=)``, ``file_objection(..., today=)`` and
  ``publish_run(..., today=)`` take the day (default: today in Beijing) so tests and the CLI
  can act on a given date. Accepting an objection re-runs
  the ranking at once: a new list version in a new publicity period, the old run superseded,
  the other open objections carried over to it.
- ``record_removal(..., reasons={declaration_id: reason})`` gives each removed leader its own
  visible reason; ``reason`` is the change reason of the new list version.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import math
import secrets
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, insert, literal, select, text
from werkzeug.exceptions import Forbidden

from benchmarks.models import BenchmarkIndicator, ProductCategory
from core import jobs
from core.errors import ValidationFailed
from core.extensions import db
from core.models import OutboxJob, Role, User, utcnow
from declare.queries import local_date, local_today
from ranking import eligibility, scoring
from ranking.models import (
    EvaluationPlan,
    LeaderboardPointer,
    Objection,
    ObjectionStatus,
    PlanIndicator,
    PlanStatus,
    RankingRun,
    RunEntry,
    RunKind,
    RunStatus,
)

__all__ = [
    "activate_plan",
    "build_previews",
    "build_run",
    "compute",
    "create_plan",
    "enqueue_dynamic_management",
    "enqueue_preview",
    "enqueue_prune",
    "file_objection",
    "plan_data",
    "plan_rule",
    "plan_specs",
    "prune_previews",
    "publish_run",
    "record_removal",
    "resolve_objection",
    "start_official_run",
    "start_publicity",
    "status_word",
    "update_plan",
]

GENERAL = "_schema"
MIN_CORE_INDICATORS = 3
PUBLICITY_DAYS = (1, 60)
YEARS = (2000, 2100)
MAX_WINDOW_DAYS = 3650
ENTRY_CHUNK = 2_000  # rows per chunk of the COPY stream (PostgreSQL) or per executemany
PREVIEW_KEEP = 3  # preview runs kept per plan (the current one and two before it)
FLOOR_KINDS = ("mandatory", "recommended")
CUT_MODES = ("values", "percentiles")


# --------------------------------------------------------------------------- helpers


class _Errors(dict):
    def add(self, field: str, message: str) -> None:
        messages = self.setdefault(field, [])
        if message not in messages:
            messages.append(message)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _number(value: Any) -> tuple[float | None, bool]:
    """(number, ok): None for empty; not ok for anything that is not a finite number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, True
    if isinstance(value, bool):
        return None, False
    try:
        number = float(Decimal(value.strip()) if isinstance(value, str) else value)
    except (TypeError, ValueError, InvalidOperation):
        return None, False
    return (number, True) if math.isfinite(number) else (None, False)


def _integer(value: Any) -> tuple[int | None, bool]:
    number, ok = _number(value)
    if not ok or number is None:
        return None, ok
    return (int(number), True) if number == int(number) else (None, False)


def _better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "higher" else a < b


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.10g}"


def _require_owner(plan: EvaluationPlan, user: User | None) -> None:
    if user is None:
        return
    if user.role is not Role.EVALUATOR or user.id != plan.evaluator_id:
        raise Forbidden(_("Only the evaluation body that owns this plan may change it."))


def _refuse(message: str, field: str = GENERAL) -> ValidationFailed:
    return ValidationFailed({field: [message]})


#: Plan, run and objection statuses as words inside a sentence ("this one is active"), so a
#: translated message never shows the stored English value.
STATUS_WORDS = {
    "draft": _l("draft"),
    "active": _l("active"),
    "superseded": _l("superseded"),
    "computed": _l("computed"),
    "publicity": _l("in publicity"),
    "published": _l("published"),
    "discarded": _l("discarded"),
    "open": _l("open"),
    "accepted": _l("accepted"),
    "rejected": _l("rejected"),
}


def status_word(status) -> str:
    """The translated word of a PlanStatus, RunStatus or ObjectionStatus."""
    value = getattr(status, "value", status)
    return str(STATUS_WORDS.get(value, value))


def _direction_words(direction: str) -> str:
    return _("higher is better") if direction == "higher" else _("lower is better")


# --------------------------------------------------------------------------- plan data


def plan_data(plan: EvaluationPlan) -> dict:
    """The plan as the contract's data dict (for forms, the API and partial updates)."""
    return {
        "category_id": plan.category_id,
        "year": plan.year,
        "title": plan.title,
        "notes": plan.notes or "",
        "composite_method": plan.composite_method,
        "publicity_days": plan.publicity_days,
        "entry_rules": eligibility.entry_rules_of(plan),
        "leader_rule": dict(plan.leader_rule or {}),
        "indicators": [
            {
                "benchmark_indicator_id": pi.benchmark_indicator_id,
                "floor_kind": pi.floor_kind,
                "floor": pi.floor,
                "cut_mode": pi.cut_mode,
                "cuts": list(pi.cuts or []),
                "weight": pi.weight,
                "best_reference": pi.best_reference,
            }
            for pi in plan.indicators
        ],
    }


def plan_specs(plan: EvaluationPlan) -> list[scoring.IndicatorSpec]:
    """The plan's core indicators as scoring specs (key = benchmark code), in plan order."""
    return [
        scoring.IndicatorSpec(
            key=pi.benchmark_code,
            direction=pi.direction,
            floor=float(pi.floor),
            cuts=tuple(float(c) for c in pi.cuts or ()),
            cut_mode=pi.cut_mode,
            weight=float(pi.weight),
            best_reference=None if pi.best_reference is None else float(pi.best_reference),
        )
        for pi in plan.indicators
    ]


def plan_rule(plan: EvaluationPlan) -> scoring.LeaderRule:
    rule = plan.leader_rule or {}
    return scoring.LeaderRule(
        kind=rule.get("kind", "top_tier_all"),
        n=rule.get("n"),
        share=rule.get("share"),
        star_cuts=tuple(rule.get("star_cuts") or ()),
    )


def N_(message: str) -> str:  # noqa: N802 - pybabel's marker: extracted, translated later
    return message


_SPEC_MESSAGES = {
    "cuts": N_(
        "Tier cut points must be numbers, best first, strictly ordered in the indicator's "
        "direction (%(direction)s) and each strictly better than the floor %(floor)s "
        "(percentiles: strictly increasing, between 0 and 100). Found: %(detail)s"
    ),
    "floor": N_("The floor must be a number (%(detail)s)."),
    "weight": N_("The weight must be a number greater than 0 (%(detail)s)."),
    "best_reference": N_(
        "The best reference (the value scoring 1.0) must be strictly better than "
        "the floor %(floor)s; it is required when the cuts are percentiles (%(detail)s)."
    ),
    "cut_mode": N_("Choose fixed values or percentiles for the cut points (%(detail)s)."),
}


def _spec_message(exc: scoring.SpecError, spec: scoring.IndicatorSpec | None) -> str:
    template = _SPEC_MESSAGES.get(exc.field)
    if template is None:
        return exc.message
    return _(
        template,
        direction=_direction_words(spec.direction) if spec else "",
        floor=_fmt(spec.floor) if spec else "",
        detail=exc.message,
    )


def _clean_entry_rules(raw: Any, errors: _Errors) -> dict:
    rules = dict(eligibility.DEFAULT_ENTRY_RULES)
    if raw in (None, ""):
        return rules
    if not isinstance(raw, Mapping):
        errors.add("entry_rules", _("Expected the entry requirements as named settings."))
        return rules
    for key, value in raw.items():
        path = f"entry_rules.{key}"
        if key not in rules:
            errors.add(
                path,
                _("Unknown entry requirement; known: %(known)s.",
                  known=", ".join(sorted(eligibility.DEFAULT_ENTRY_RULES))),
            )
        elif key == "inspection_window_days":
            days, ok = _integer(value)
            if not ok or days is None or not 0 <= days <= MAX_WINDOW_DAYS:
                errors.add(
                    path,
                    _("Enter the window in whole days from 0 (no check) to %(max)d.",
                      max=MAX_WINDOW_DAYS),
                )
            else:
                rules[key] = days
        elif isinstance(value, bool):
            rules[key] = value
        else:
            errors.add(path, _("Choose yes or no."))
    return rules


def _clean_rule(raw: Any, errors: _Errors) -> dict:
    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, Mapping):
        errors.add("leader_rule", _("Expected the leader rule as named settings."))
        return {"kind": "top_tier_all", "n": None, "share": None, "star_cuts": []}
    kind = _text(raw.get("kind")) or "top_tier_all"
    n, n_ok = _integer(raw.get("n"))
    share, share_ok = _number(raw.get("share"))
    stars_raw = raw.get("star_cuts") or []
    stars: list[float] = []
    if not isinstance(stars_raw, (list, tuple)):
        errors.add("leader_rule.star_cuts", _("Expected a list of composite scores."))
    else:
        for value in stars_raw:
            number, ok = _number(value)
            if not ok or number is None:
                errors.add(
                    "leader_rule.star_cuts",
                    _("Star levels are composite scores, e.g. 1.2, 1.0, highest first."),
                )
                break
            stars.append(number)
    if not n_ok:
        errors.add("leader_rule.n", _("Enter a whole number of leaders, e.g. 10."))
    if not share_ok:
        errors.add("leader_rule.share", _("Enter the share as a fraction, e.g. 0.2 for 20%."))
    # A value the kind does not use is dropped (forms send every field).
    n = n if kind == "best_n" else None
    share = share if kind == "best_share" else None
    rule = {"kind": kind, "n": n, "share": share, "star_cuts": stars}
    if any(k.startswith("leader_rule") for k in errors):
        return rule
    try:
        scoring.validate_rule(
            scoring.LeaderRule(kind=kind, n=n, share=share, star_cuts=tuple(stars))
        )
    except scoring.SpecError as exc:
        messages = {
            "kind": _("Choose the leader rule: top tier in every core indicator, the best N "
                      "or the best share by composite score."),
            "n": _("The best-N rule needs a whole number of leaders of at least 1."),
            "share": _("The best-share rule needs a share above 0 and at most 1, e.g. 0.2."),
            "star_cuts": _("Star levels must be composite scores in strictly descending "
                           "order, highest first."),
        }
        field = "leader_rule" if exc.field == "rule" else f"leader_rule.{exc.field}"
        errors.add(field, messages.get(exc.field, exc.message))
    return rule


def _clean_indicator(
    i: int,
    row: Any,
    category_id: int | None,
    benchmarks: dict[int, BenchmarkIndicator],
    seen_codes: dict[str, int],
    today: date,
    errors: _Errors,
) -> dict | None:
    path = f"indicators.{i}"
    if not isinstance(row, Mapping):
        errors.add(path, _("Expected the indicator's settings."))
        return None
    bid, ok = _integer(row.get("benchmark_indicator_id"))
    bench = benchmarks.get(bid) if ok and bid else None
    if bench is None:
        errors.add(
            f"{path}.benchmark_indicator_id",
            _("Choose a benchmark indicator of the plan's product category."),
        )
        return None
    if category_id is not None and bench.category_id != category_id:
        errors.add(
            f"{path}.benchmark_indicator_id",
            _("%(name)s is a benchmark of another product category; a core indicator must "
              "belong to the plan's category.", name=bench.name),
        )
        return None
    if bench.valid_to is not None and bench.valid_to < today:
        errors.add(
            f"{path}.benchmark_indicator_id",
            _("This edition of %(name)s ended on %(date)s; choose the edition in force.",
              name=bench.name, date=bench.valid_to.isoformat()),
        )
        return None
    if bench.code in seen_codes:
        errors.add(
            f"{path}.benchmark_indicator_id",
            _("%(name)s is already core indicator %(n)d; each benchmark indicator counts once.",
              name=bench.name, n=seen_codes[bench.code] + 1),
        )
        return None
    seen_codes[bench.code] = i
    direction = bench.direction

    floor_kind = _text(row.get("floor_kind")) or (
        "mandatory" if bench.mandatory_limit is not None else "recommended"
    )
    if floor_kind not in FLOOR_KINDS:
        errors.add(f"{path}.floor_kind", _("Choose the mandatory limit or the recommended value."))
        return None
    base = bench.mandatory_limit if floor_kind == "mandatory" else bench.recommended_value
    if base is None:
        errors.add(
            f"{path}.floor_kind",
            _("%(name)s has no mandatory limit; base the floor on its recommended value.",
              name=bench.name)
            if floor_kind == "mandatory"
            else _("%(name)s has no recommended value; base the floor on its mandatory limit.",
                   name=bench.name),
        )
        return None
    floor, ok = _number(row.get("floor"))
    if not ok:
        errors.add(f"{path}.floor", _("Enter the floor as a number, e.g. 4.0."))
        return None
    floor = float(base) if floor is None else floor
    if _better(float(base), floor, direction):
        errors.add(
            f"{path}.floor",
            _("The floor %(floor)s is worse than the %(kind)s %(base)s %(unit)s of %(name)s "
              "(%(direction)s); it may be stricter, never lower.",
              floor=_fmt(floor), base=_fmt(base), unit=bench.unit, name=bench.name,
              direction=_direction_words(direction),
              kind=_("mandatory limit") if floor_kind == "mandatory" else _("recommended value")),
        )
    elif bench.mandatory_limit is not None and _better(bench.mandatory_limit, floor, direction):
        errors.add(
            f"{path}.floor",
            _("The floor %(floor)s is below the mandatory limit %(base)s %(unit)s of %(name)s.",
              floor=_fmt(floor), base=_fmt(bench.mandatory_limit), unit=bench.unit,
              name=bench.name),
        )

    cut_mode = _text(row.get("cut_mode")) or "values"
    if cut_mode not in CUT_MODES:
        errors.add(f"{path}.cut_mode", _("Choose fixed values or percentiles for the cut points."))
        return None
    cuts_raw = row.get("cuts")
    cuts: list[float] = []
    if not isinstance(cuts_raw, (list, tuple)) or not cuts_raw:
        errors.add(f"{path}.cuts", _("Enter at least one tier cut point, best first."))
    else:
        for value in cuts_raw:
            number, ok = _number(value)
            if not ok or number is None:
                errors.add(f"{path}.cuts", _("Every cut point must be a number, e.g. 5.0."))
                cuts = []
                break
            cuts.append(number)
    weight, ok = _number(row.get("weight"))
    if not ok:
        errors.add(f"{path}.weight", _("Enter the weight as a number greater than 0."))
        weight = None
    weight = 1.0 if weight is None and ok else weight
    best_reference, ok = _number(row.get("best_reference"))
    if not ok:
        errors.add(f"{path}.best_reference", _("Enter the best reference as a number."))
    elif best_reference is None:
        best_reference = _best_grade(bench, floor)

    clean = {
        "benchmark": bench,
        "benchmark_indicator_id": bench.id,
        "benchmark_code": bench.code,
        "direction": direction,
        "unit": bench.unit,
        "floor": floor,
        "floor_kind": floor_kind,
        "cut_mode": cut_mode,
        "cuts": cuts,
        "weight": weight,
        "best_reference": best_reference,
    }
    if any(k == path or k.startswith(path + ".") for k in errors) or weight is None:
        return None
    spec = _spec(clean)
    try:
        scoring.validate_specs([spec])
    except scoring.SpecError as exc:
        field = {"key": "benchmark_indicator_id", "direction": "benchmark_indicator_id",
                 "specs": ""}.get(exc.field, exc.field)
        errors.add(f"{path}.{field}" if field else path, _spec_message(exc, spec))
        return None
    return clean


def _best_grade(bench: BenchmarkIndicator, floor: float) -> float | None:
    """The best grade threshold (grade 1), when it is strictly better than the floor."""
    values = []
    for grade in bench.grades or []:
        try:
            values.append(float(grade[1]))
        except (TypeError, ValueError, IndexError):
            continue
    if not values:
        return None
    best = max(values) if bench.direction == "higher" else min(values)
    return best if _better(best, floor, bench.direction) else None


def _spec(clean: Mapping) -> scoring.IndicatorSpec:
    return scoring.IndicatorSpec(
        key=clean["benchmark_code"],
        direction=clean["direction"],
        floor=clean["floor"],
        cuts=tuple(clean["cuts"]),
        cut_mode=clean["cut_mode"],
        weight=clean["weight"],
        best_reference=clean["best_reference"],
    )


def _clean_plan(data: Any) -> dict:
    """Check a plan's data; return the cleaned values or raise with every error at once."""
    if not isinstance(data, Mapping):
        raise _refuse(_("Expected the plan's fields."))
    errors = _Errors()
    out: dict[str, Any] = {}
    today = local_today()

    cid, ok = _integer(data.get("category_id"))
    category = db.session.get(ProductCategory, cid) if ok and cid else None
    if category is None:
        errors.add("category_id", _("Choose the product category from the list."))
    out["category_id"] = category.id if category is not None else None

    year, ok = _integer(data.get("year"))
    if not ok or year is None or not YEARS[0] <= year <= YEARS[1]:
        errors.add("year", _("Enter the evaluation year, e.g. %(year)d.", year=today.year))
    out["year"] = year

    title = _text(data.get("title"))
    if not title:
        errors.add("title", _("Enter the plan's title."))
    elif len(title) > 200:
        errors.add("title", _("At most %(n)d characters.", n=200))
    out["title"] = title
    out["notes"] = _text(data.get("notes"))

    method = _text(data.get("composite_method")) or "anchored"
    if method not in scoring.COMPOSITE_METHODS:
        errors.add(
            "composite_method",
            _("Choose the composite method: %(known)s.",
              known=", ".join(sorted(scoring.COMPOSITE_METHODS))),
        )
    out["composite_method"] = method

    days, ok = _integer(data.get("publicity_days"))
    shortest = min_publicity_days()
    days = shortest if ok and days is None else days
    if not ok or days is None or not shortest <= days <= PUBLICITY_DAYS[1]:
        errors.add(
            "publicity_days",
            _("The publicity period lasts %(lo)d to %(hi)d days.",
              lo=shortest, hi=PUBLICITY_DAYS[1]),
        )
    out["publicity_days"] = days
    out["entry_rules"] = _clean_entry_rules(data.get("entry_rules"), errors)
    out["leader_rule"] = _clean_rule(data.get("leader_rule"), errors)

    rows = data.get("indicators") or []
    if not isinstance(rows, (list, tuple)):
        errors.add("indicators", _("Expected a list of core indicators."))
        rows = []
    if len(rows) < MIN_CORE_INDICATORS:
        errors.add(
            "indicators",
            _("A plan needs at least %(min)d core indicators (quantifiable and gradable); it "
              "has %(n)d.", min=MIN_CORE_INDICATORS, n=len(rows)),
        )
    ids = set()
    for row in rows:
        if isinstance(row, Mapping):
            bid, ok = _integer(row.get("benchmark_indicator_id"))
            if ok and bid:
                ids.add(bid)
    benchmarks = (
        {b.id: b for b in db.session.scalars(
            select(BenchmarkIndicator).where(BenchmarkIndicator.id.in_(ids))
        )}
        if ids
        else {}
    )
    seen: dict[str, int] = {}
    cleaned = [
        _clean_indicator(i, row, out["category_id"], benchmarks, seen, today, errors)
        for i, row in enumerate(rows)
    ]
    out["indicators"] = cleaned
    if cleaned and all(c is not None for c in cleaned) and method in scoring.COMPOSITE_METHODS:
        specs = [_spec(c) for c in cleaned]
        try:
            scoring.validate_specs(specs, method=method)
        except scoring.SpecError as exc:
            if exc.field == "method":
                errors.add("composite_method", exc.message)
            elif exc.index is not None:
                field = {"key": "benchmark_indicator_id"}.get(exc.field, exc.field)
                errors.add(f"indicators.{exc.index}.{field}",
                           _spec_message(exc, specs[exc.index]))
            else:
                errors.add("indicators", exc.message)
    if errors:
        raise ValidationFailed(dict(errors))
    return out


_PLAN_FIELDS = (
    "category_id", "year", "title", "notes", "composite_method", "publicity_days",
    "entry_rules", "leader_rule",
)
_INDICATOR_FIELDS = (
    "benchmark_indicator_id", "benchmark_code", "direction", "unit", "floor", "floor_kind",
    "cut_mode", "cuts", "weight", "best_reference",
)


def _indicators(clean: dict) -> list[PlanIndicator]:
    return [
        PlanIndicator(position=i, **{k: row[k] for k in _INDICATOR_FIELDS})
        for i, row in enumerate(clean["indicators"])
    ]


# --------------------------------------------------------------------------- plans


def create_plan(evaluator: User, data: Mapping) -> EvaluationPlan:
    """A new plan (评估方案) of the evaluation body, as a draft, version 1."""
    if evaluator is None or evaluator.role is not Role.EVALUATOR:
        raise Forbidden(_("Only an evaluation body can write an evaluation plan."))
    clean = _clean_plan(data)
    plan = EvaluationPlan(
        plan_key=secrets.token_hex(8),
        version_no=1,
        evaluator=evaluator,
        status=PlanStatus.DRAFT,
        **{k: clean[k] for k in _PLAN_FIELDS},
    )
    plan.indicators.extend(_indicators(clean))
    db.session.add(plan)
    db.session.flush()
    return plan


def update_plan(plan: EvaluationPlan, data: Mapping, *, user: User | None = None) -> EvaluationPlan:
    """Change a plan: a draft in place; an active plan through a new version (the old one is
    superseded and keeps its runs). Missing keys keep the plan's values."""
    _require_owner(plan, user)
    if plan.status is PlanStatus.SUPERSEDED:
        newest = db.session.scalar(
            select(func.max(EvaluationPlan.version_no)).where(
                EvaluationPlan.plan_key == plan.plan_key
            )
        )
        raise _refuse(
            _("Version %(no)d of this plan was replaced by version %(new)d; edit the newest.",
              no=plan.version_no, new=newest or plan.version_no)
        )
    if not isinstance(data, Mapping):
        raise _refuse(_("Expected the plan's fields."))
    merged = {**plan_data(plan), **data}
    if plan.status is PlanStatus.ACTIVE:
        cid, ok = _integer(merged.get("category_id"))
        if cid != plan.category_id:
            raise _refuse(
                _("An active plan keeps its product category; write a new plan for another "
                  "category."),
                "category_id",
            )
    clean = _clean_plan(merged)
    if plan.status is PlanStatus.DRAFT:
        for key in _PLAN_FIELDS:
            setattr(plan, key, clean[key])
        plan.indicators.clear()
        db.session.flush()
        plan.indicators.extend(_indicators(clean))
        db.session.flush()
        return plan

    last_no = db.session.scalar(
        select(func.max(EvaluationPlan.version_no)).where(EvaluationPlan.plan_key == plan.plan_key)
    )
    new = EvaluationPlan(
        plan_key=plan.plan_key,
        version_no=(last_no or plan.version_no) + 1,
        evaluator_id=plan.evaluator_id,
        status=PlanStatus.ACTIVE,
        **{k: clean[k] for k in _PLAN_FIELDS},
    )
    new.indicators.extend(_indicators(clean))
    plan.status = PlanStatus.SUPERSEDED
    db.session.add(new)
    db.session.flush()
    enqueue_preview(new)
    return new


def activate_plan(plan: EvaluationPlan, *, user: User | None = None) -> EvaluationPlan:
    """Put a draft into use: its preview leaderboard starts regenerating."""
    _require_owner(plan, user)
    if plan.status is not PlanStatus.DRAFT:
        raise _refuse(_("Only a draft plan can be activated; this one is %(status)s.",
                        status=status_word(plan.status)))
    _clean_plan(plan_data(plan))  # the catalogue may have changed since it was saved
    plan.status = PlanStatus.ACTIVE
    db.session.flush()
    enqueue_preview(plan)
    return plan


def enqueue_preview(plan: EvaluationPlan) -> OutboxJob:
    """One preview regeneration per plan (after the commit, on the ranking queue), debounced
    on the leading edge with a window of ``RANKING_DEBOUNCE_SECONDS``.

    The first change after a quiet window runs at once: a lone publication is visible as
    soon as its regeneration has run, not a window later. A change while a job waits joins
    it (the job reads the data when it starts). A change less than a window after the plan's
    last job was due (enqueued, or scheduled) while that job has already started gets one
    trailing job, due a window after it, which the following changes join: a burst makes
    one job per window (its first change at once), never one per change.
    """
    key = f"ranking:preview:{plan.plan_key}"
    window = float(current_app.config.get("RANKING_DEBOUNCE_SECONDS", 2))
    return jobs.enqueue(
        "ranking.tasks.regenerate_preview",
        plan.id,
        queue="ranking",
        dedupe_key=key,
        delay=_debounce_delay(key, window),
    )


def _debounce_delay(dedupe_key: str, window: float) -> float | None:
    """Seconds until the next job of this key may start: None (at once) when the last one
    was due a window ago or more (or there is none), else the rest of that window."""
    if window <= 0:
        return None
    with db.session.no_autoflush:
        last = db.session.execute(
            select(OutboxJob.created_at, OutboxJob.not_before)
            .where(OutboxJob.dedupe_key == dedupe_key)
            .order_by(OutboxJob.id.desc())
            .limit(1)
        ).first()
    if last is None:
        return None
    due = last.not_before or last.created_at
    wait = (due - utcnow()).total_seconds() + window
    return wait if wait > 0 else None


def enqueue_dynamic_management(plan: EvaluationPlan) -> OutboxJob:
    """Re-check the leaders of the plan's published list (after the commit)."""
    return jobs.enqueue(
        "ranking.tasks.apply_dynamic_management",
        plan.id,
        queue="ranking",
        dedupe_key=f"ranking:dynamic:{plan.plan_key}",
    )


def start_official_run(plan: EvaluationPlan, user: User) -> OutboxJob:
    """Queue an official run of an active plan; the evaluation body follows its progress."""
    _require_owner(plan, user)
    if user is None:
        raise Forbidden(_("Only the evaluation body that owns this plan may change it."))
    if plan.status is not PlanStatus.ACTIVE:
        raise _refuse(_("Activate the plan before running it officially."))
    return jobs.enqueue(
        "ranking.tasks.official_run",
        plan.id,
        user.id,
        queue="ranking",
        dedupe_key=f"ranking:official:{plan.plan_key}",
    )


# --------------------------------------------------------------------------- runs

#: Columns of a run entry as the snapshot writer sends them (COPY / executemany).
ENTRY_COLUMNS = (
    "run_id", "declaration_id", "version_id", "enterprise_id", "eligible",
    "exclusion_reasons", "values", "tiers", "composite", "composite_rank", "is_leader",
    "stars", "product_id", "removed_reason",
)


def _entry_sql(dialect) -> tuple[str, str]:
    """(COPY statement, INSERT statement) for the entry columns, quoted for ``dialect``
    ("values" is a reserved word)."""
    quote = dialect.identifier_preparer.quote
    table = quote(RunEntry.__tablename__)
    names = ", ".join(quote(c) for c in ENTRY_COLUMNS)
    marks = ", ".join("?" * len(ENTRY_COLUMNS))
    return (f"COPY {table} ({names}) FROM STDIN",
            f"INSERT INTO {table} ({names}) VALUES ({marks})")


def _pointer(plan_key: str, kind: RunKind, *, lock: bool = False) -> LeaderboardPointer | None:
    stmt = select(LeaderboardPointer).where(
        LeaderboardPointer.plan_key == plan_key, LeaderboardPointer.kind == kind
    )
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def _switch(plan_key: str, kind: RunKind, run: RankingRun) -> bool:
    """Point (plan_key, kind) at ``run``; a preview never replaces a newer snapshot."""
    pointer = _pointer(plan_key, kind, lock=True)
    if pointer is None:
        db.session.add(LeaderboardPointer(plan_key=plan_key, kind=kind, run_id=run.id))
        return True
    if pointer.run_id == run.id:
        return True
    if kind is RunKind.PREVIEW:
        old = db.session.get(RankingRun, pointer.run_id)
        if old is not None and old.as_of > run.as_of:
            run.status = RunStatus.SUPERSEDED  # a later job already wrote a fresher one
            return False
        if old is not None and old.status is RunStatus.COMPUTED:
            old.status = RunStatus.SUPERSEDED
    pointer.run_id = run.id
    pointer.switched_at = utcnow()
    return True


def _switch_previews(written: list[tuple[EvaluationPlan, RankingRun]]) -> None:
    """``_switch`` for many previews at once: the pointers locked and the runs they point to
    read in one statement each, whatever the number of plans."""
    keys = sorted({plan.plan_key for plan, _ in written})
    pointers = {
        p.plan_key: p
        for p in db.session.scalars(
            select(LeaderboardPointer)
            .where(LeaderboardPointer.plan_key.in_(keys),
                   LeaderboardPointer.kind == RunKind.PREVIEW)
            .order_by(LeaderboardPointer.id)
            .with_for_update()
        )
    }
    old_ids = [p.run_id for p in pointers.values()]
    old_runs = {
        r.id: r
        for r in db.session.scalars(select(RankingRun).where(RankingRun.id.in_(old_ids)))
    } if old_ids else {}
    now = utcnow()
    for plan, run in written:
        pointer = pointers.get(plan.plan_key)
        if pointer is None:
            pointers[plan.plan_key] = pointer = LeaderboardPointer(
                plan_key=plan.plan_key, kind=RunKind.PREVIEW, run_id=run.id
            )
            db.session.add(pointer)
            continue
        old = old_runs.get(pointer.run_id)
        if old is not None and old.as_of > run.as_of:
            run.status = RunStatus.SUPERSEDED
            continue
        if old is not None and old.status is RunStatus.COMPUTED:
            old.status = RunStatus.SUPERSEDED
        pointer.run_id = run.id
        pointer.switched_at = now


def _plan_key_runs(plan_key: str):
    return (
        select(RankingRun.id)
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(EvaluationPlan.plan_key == plan_key)
    )


def prune_previews(plan_keys: Iterable[str] | None = None, keep: int = PREVIEW_KEEP) -> int:
    """Drop old preview snapshots (never a current one) of the given plans (None: of every
    plan): previews regenerate often. Returns how many runs were dropped.

    A job of its own (``enqueue_prune``), not part of the regeneration: deleting thousands of
    entries (and PostgreSQL's per-row check of the objections that could reference them)
    would otherwise sit between a publication and its visibility.
    """
    newest_first = func.row_number().over(
        partition_by=EvaluationPlan.plan_key, order_by=RankingRun.id.desc()
    )
    ranked = (
        select(RankingRun.id.label("id"), newest_first.label("n"))
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(RankingRun.kind == RunKind.PREVIEW)
    )
    if plan_keys is not None:
        ranked = ranked.where(EvaluationPlan.plan_key.in_(sorted(set(plan_keys))))
    ranked = ranked.subquery("ranked")
    ids = list(
        db.session.scalars(
            select(ranked.c.id)
            .where(ranked.c.n > keep, ranked.c.id.not_in(select(LeaderboardPointer.run_id)))
            .order_by(ranked.c.id)
        )
    )
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        db.session.execute(delete(RunEntry.__table__).where(RunEntry.run_id.in_(chunk)))
        db.session.execute(delete(RankingRun.__table__).where(RankingRun.id.in_(chunk)))
    gone = set(ids)
    for run in [r for r in db.session.identity_map.values() if isinstance(r, RankingRun)]:
        if run.id in gone:
            db.session.expunge(run)
    return len(ids)


def _previews_to_prune(plan_keys: Iterable[str], keep: int = PREVIEW_KEEP) -> bool:
    """Whether one of these plans holds more than ``keep`` preview runs."""
    counts = (
        select(func.count(RankingRun.id).label("n"))
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(RankingRun.kind == RunKind.PREVIEW,
               EvaluationPlan.plan_key.in_(sorted(set(plan_keys))))
        .group_by(EvaluationPlan.plan_key)
        .subquery("preview_counts")
    )
    return (db.session.scalar(select(func.max(counts.c.n))) or 0) > keep


def enqueue_prune(plan_key: str | None = None) -> OutboxJob:
    """Prune old previews soon (debounced: one job per plan, or one for all, per window)."""
    args = (plan_key,) if plan_key is not None else ()
    return jobs.enqueue(
        "ranking.tasks.prune_previews",
        *args,
        queue="ranking",
        dedupe_key=f"ranking:prune:{plan_key or '*'}",
        delay=float(current_app.config.get("RANKING_PRUNE_DELAY_SECONDS", 30)),
    )


# -- reading and scoring -------------------------------------------------------------------


class _PlanRows:
    """One plan's rows in a ``Candidates`` read: where they are, which are eligible, the
    plan's scoring specs and the hash of its inputs."""

    def __init__(self, plan: EvaluationPlan, cand: eligibility.Candidates, reasons: np.ndarray):
        self.plan = plan
        self.start, self.stop = cand.bounds[plan.id]
        self.specs = plan_specs(plan)
        self.rule = plan_rule(plan)
        self.keys = [s.key for s in self.specs]
        rows = np.arange(self.start, self.stop)
        self.eligible = rows[~cand.excluded[self.start : self.stop]]
        self.digest = self._digest(cand, reasons)

    @property
    def count(self) -> int:
        return self.stop - self.start

    def matrix(self, cand: eligibility.Candidates, index=None) -> pd.DataFrame:
        """The eligible rows' values (index: row numbers, or the given labels)."""
        return pd.DataFrame(
            cand.values[self.eligible][:, : len(self.keys)],
            index=self.eligible if index is None else index,
            columns=self.keys,
        )

    def _digest(self, cand: eligibility.Candidates, reasons: np.ndarray) -> str:
        """The run's inputs hash: the eligible matrix, specs, rule and method (scoring's
        own canonical hash) plus, as one SHA-256 of their bytes, every candidate's
        declaration, version, label product and values and every exclusion with its reasons."""
        a, b = self.start, self.stop
        entries = hashlib.sha256()
        for column in (cand.declaration_id, cand.version_id, cand.product_id):
            entries.update(np.ascontiguousarray(column[a:b], dtype="<i8").tobytes())
        values = np.ascontiguousarray(cand.values[a:b, : len(self.keys)], dtype="<f8") + 0.0
        entries.update(np.where(np.isnan(values), np.nan, values).tobytes())
        excluded = a + np.flatnonzero(cand.excluded[a:b])
        entries.update("\0".join(reasons[excluded].tolist()).encode("utf-8"))
        extra = {
            "plan_id": self.plan.id,
            "plan_version": self.plan.version_no,
            "entry_rules": eligibility.entry_rules_of(self.plan),
            "entries": entries.hexdigest(),
        }
        matrix = self.matrix(cand, index=pd.Index(cand.declaration_id[self.eligible]))
        return scoring.inputs_hash(matrix, self.specs, self.rule, self.plan.composite_method,
                                   extra)


class _Scores:
    """Tiers, composite, ranks, leaders and stars of every eligible row of a read, filled
    plan group by plan group (rows of excluded entries keep zeros and NaN)."""

    def __init__(self, cand: eligibility.Candidates):
        n, width = cand.n, max(cand.width, 1)
        self.tiers = np.zeros((n, width), dtype=np.int64)
        self.composite = np.full(n, np.nan)
        self.rank = np.zeros(n, dtype=np.int64)
        self.leader = np.zeros(n, dtype=bool)
        self.stars = np.zeros(n, dtype=np.int64)
        self.ranked: dict[int, dict[str, bool]] = {}


def _score(cand: eligibility.Candidates, members: list[_PlanRows]) -> _Scores:
    """Rank the plans' eligible rows: one ``scoring.rank`` call per group of plans with the
    same specs, leader rule and method (grouped by plan), so many plans cost a few calls."""
    scores = _Scores(cand)
    groups: dict[tuple, list[_PlanRows]] = {}
    for pr in members:
        groups.setdefault((tuple(pr.specs), pr.rule, pr.plan.composite_method), []).append(pr)
    for (specs, rule, method), group in groups.items():
        rows = np.concatenate([pr.eligible for pr in group])
        keys = [s.key for s in specs]
        matrix = pd.DataFrame(cand.values[rows][:, : len(keys)], index=rows, columns=keys)
        if len(group) == 1:
            result = scoring.rank(matrix, list(specs), rule, method=method)
        else:
            labels = pd.Series(cand.plan_idx[rows], index=rows)
            result = scoring.rank(matrix, list(specs), rule, method=method, groups=labels)
        at = result.tiers.index.to_numpy()
        scores.tiers[at, : len(keys)] = result.tiers.to_numpy()
        scores.composite[at] = result.composite.to_numpy()
        scores.rank[at] = result.composite_rank.to_numpy()
        scores.leader[at] = result.leaders.to_numpy()
        scores.stars[at] = result.stars.to_numpy()
        plan_of_row = cand.plan_idx[at]
        for pr in group:
            mine = plan_of_row == cand.index_of[pr.plan.id]
            flags = {}
            for key in keys:
                r = result.ranked[key]
                flags[key] = bool(r) if isinstance(r, (bool, np.bool_)) else bool(
                    np.all(np.asarray(r)[mine])
                )
            scores.ranked[pr.plan.id] = flags
    return scores


def _indicator_status(pr: _PlanRows, scores: _Scores, ranges: dict) -> dict:
    status = {}
    n_eligible = len(pr.eligible)
    for pi, spec in zip(pr.plan.indicators, pr.specs):
        ranked = bool(scores.ranked.get(pr.plan.id, {}).get(spec.key)) if n_eligible else False
        status[spec.key] = {
            "ranked": ranked,
            "reason": None if ranked else ("all_equal" if n_eligible else "no_eligible"),
            "name": pi.benchmark.name if pi.benchmark is not None else spec.key,
            "unit": pi.unit,
            "direction": spec.direction,
            "floor": spec.floor,
            "cut_mode": spec.cut_mode,
            "cuts": list(spec.cuts),
            "weight": spec.weight,
            "best_reference": spec.best_reference,
            "tier_ranges": ranges.get(spec.key, {}),
        }
    return status


def _tier_ranges(
    cand: eligibility.Candidates, scores: _Scores, members: list[_PlanRows]
) -> dict[int, dict[str, dict]]:
    """{plan id: {key: {tier: [lowest, highest value]}}} of the eligible entries (chart
    bands), for every plan at once: one scatter-min/max per indicator column."""
    out: dict[int, dict[str, dict]] = {pr.plan.id: {} for pr in members}
    rows = np.concatenate([pr.eligible for pr in members]) if members else np.zeros(0, int)
    if not len(rows):
        return out
    plan_i = cand.plan_idx[rows]
    width = max(len(pr.keys) for pr in members)
    for j in range(width):
        tiers = scores.tiers[rows, j]
        values = cand.values[rows, j]
        ok = tiers > 0
        top = int(tiers.max(initial=0)) + 1
        slot = plan_i[ok] * top + tiers[ok]
        size = len(cand.plans) * top
        lo = np.full(size, np.inf)
        hi = np.full(size, -np.inf)
        np.fmin.at(lo, slot, values[ok])
        np.fmax.at(hi, slot, values[ok])
        seen = np.bincount(slot, minlength=size) > 0
        for pr in members:
            if j >= len(pr.keys):
                continue
            base = cand.index_of[pr.plan.id] * top
            out[pr.plan.id][pr.keys[j]] = {
                str(t): [float(lo[base + t]), float(hi[base + t])]
                for t in range(1, top)
                if seen[base + t]
            }
    return out


# -- writing entries -----------------------------------------------------------------------

_STR = np.dtypes.StringDType()
_NULL = "\\N"  # NULL in COPY's text format
_SMALL_INTS = np.array([str(i) for i in range(256)], dtype=object)


def _float_text(x: np.ndarray) -> np.ndarray:
    """Each float as a decimal that reads back as exactly the same float (NaN: "nan").

    The declared values are short decimals (4.6, 38.0): for those the text is built with
    integer arithmetic, vectorised (``k / 10**d == x`` means ``x`` is the double nearest to
    the decimal ``k·10^-d``, so the text reads back as ``x``); the others (composite scores)
    go through ``repr``, the shortest exact form.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.full(len(x), "nan", dtype=_STR)
    todo = np.isfinite(x)
    for d in range(7):
        if not todo.any():
            break
        scale = 10.0**d
        hit = todo & (np.abs(x) < 2.0**53 / scale)  # k = x·10^d is an exact integer double
        k = np.zeros(len(x))
        k[hit] = np.rint(x[hit] * scale)
        hit[hit] = (k[hit] / scale) == x[hit]
        if hit.any():
            n = np.abs(k[hit]).astype(np.int64)
            sign = np.where(np.signbit(x[hit]), "-", "").astype(_STR)
            whole = (n // 10**d).astype(_STR)
            frac = np.strings.zfill((n % 10**d).astype(_STR), d) if d else "0"
            out[hit] = np.strings.add(np.strings.add(np.strings.add(sign, whole), "."), frac)
            todo &= ~hit
    rest = np.flatnonzero(todo)
    if len(rest):
        out[rest] = [repr(v) for v in x[rest].tolist()]
    return out


def _number_texts(x: np.ndarray, null: str) -> np.ndarray:
    """``_float_text`` of each value (``null`` for NaN) as an object array, formatting each
    distinct value once: declared values repeat (they are rounded to what the standard
    prints), so a column of millions has a few thousand of them."""
    codes, uniques = pd.factorize(np.asarray(x, dtype=np.float64), use_na_sentinel=True)
    texts = np.append(_float_text(np.asarray(uniques, dtype=np.float64)).astype(object), null)
    return texts[np.where(codes >= 0, codes, len(texts) - 1)]


def _int_texts(a: np.ndarray, null: str | None = None) -> np.ndarray:
    """Integers as text (object array); with ``null``, that text where the value is <= 0."""
    a = np.asarray(a, dtype=np.int64)
    if len(a) and 0 <= a.min() and a.max() < len(_SMALL_INTS):
        out = _SMALL_INTS[a]
    else:
        out = np.array(list(map(str, a.tolist())), dtype=object)
    if null is not None:
        out = np.where(a > 0, out, null)
    return out


class _EntryColumns:
    """The run entries of the written plans (rows in plan, declaration order), encoded for
    the writer: COPY text lines on PostgreSQL, parameter tuples elsewhere.

    Numbers are turned into text column-wise (each distinct value once); each line is then
    one ``%`` formatting with a template per plan, which carries the plan's indicator keys:
    the JSON of values and tiers is part of the line template, not built separately.
    """

    def __init__(self, cand, scores: _Scores, written: list[tuple[_PlanRows, int]],
                 reasons: np.ndarray):
        self.spans = []  # (first, stop, keys) of each plan's rows in this object's order
        first = 0
        for pr, _run_id in written:
            self.spans.append((first, first + pr.count, pr.keys))
            first += pr.count
        rows = np.concatenate([np.arange(pr.start, pr.stop) for pr, _ in written]) \
            if written else np.zeros(0, dtype=np.int64)
        self.n = len(rows)
        run_of_plan = np.zeros(len(cand.plans), dtype=np.int64)
        for pr, run_id in written:
            run_of_plan[cand.index_of[pr.plan.id]] = run_id
        ok = ~cand.excluded[rows]
        self.eligible = ok
        self.run_id = run_of_plan[cand.plan_idx[rows]]
        self.declaration_id = cand.declaration_id[rows]
        self.version_id = cand.version_id[rows]
        self.enterprise_id = cand.enterprise_id[rows]
        self.product_id = cand.product_id[rows]
        self.composite = np.where(ok, scores.composite[rows], np.nan)
        self.rank = np.where(ok, scores.rank[rows], 0)
        self.leader = ok & scores.leader[rows] & (self.product_id > 0)
        self.stars = np.where(ok, scores.stars[rows], 0)
        self.reasons = reasons[rows]
        width = max((len(keys) for _, _, keys in self.spans), default=0)
        self.values = cand.values[rows, :width]
        self.tiers = scores.tiers[rows, :width]

    def __len__(self) -> int:
        return self.n

    def _plan_slices(self, a: int, b: int):
        for first, stop, keys in self.spans:
            lo, hi = max(first, a), min(stop, b)
            if lo < hi:
                yield lo, hi, keys

    def copy_lines(self, a: int, b: int) -> list[str]:
        """COPY text lines of rows a..b (NULL as \\N). Only JSON text can hold a backslash
        (keys, reasons); JSON holds no tab, newline or other control character, so doubling
        those backslashes is all the escaping COPY's text format needs."""
        lines = np.empty(b - a, dtype=object)
        for lo, hi, keys in self._plan_slices(a, b):
            k = len(keys)
            quoted = [json.dumps(key, ensure_ascii=False).replace("\\", "\\\\")
                      .replace("%", "%%") for key in keys]
            obj = "{" + ", ".join(f"{q}: %s" for q in quoted) + "}"
            head = "%s\t%s\t%s\t%s\t"
            ok_line = head + "t\t[]\t" + obj + "\t" + obj + "\t%s\t%s\t%s\t%s\t%s\t\n"
            out_line = head + "f\t%s\t" + obj + "\t{}\t\\N\t\\N\tf\t0\t%s\t\n"
            s = slice(lo, hi)
            ok = self.eligible[s]
            ids = [self.run_id[s].tolist(), self.declaration_id[s].tolist(),
                   self.version_id[s].tolist(), self.enterprise_id[s].tolist()]
            values = [_number_texts(self.values[s, j], "null") for j in range(k)]
            product = _int_texts(self.product_id[s], _NULL)
            at = np.flatnonzero(ok)
            if len(at):
                cols = [np.asarray(c)[at].tolist() for c in ids]
                cols += [v[at].tolist() for v in values]
                cols += [_int_texts(self.tiers[s][at, j]).tolist() for j in range(k)]
                cols += [_number_texts(self.composite[s][at], _NULL).tolist(),
                         _int_texts(self.rank[s][at], _NULL).tolist(),
                         np.where(self.leader[s][at], "t", "f").tolist(),
                         _int_texts(self.stars[s][at]).tolist(), product[at].tolist()]
                lines[at + lo - a] = [ok_line % t for t in zip(*cols)]
            at = np.flatnonzero(~ok)
            if len(at):
                reasons = self.reasons[s][at].tolist()
                if "\\" in "".join(reasons):
                    reasons = [t.replace("\\", "\\\\") for t in reasons]
                cols = [np.asarray(c)[at].tolist() for c in ids] + [reasons]
                cols += [v[at].tolist() for v in values] + [product[at].tolist()]
                lines[at + lo - a] = [out_line % t for t in zip(*cols)]
        return lines.tolist()

    def tuples(self, a: int, b: int) -> list[tuple]:
        """Rows a..b as DB-API parameters (executemany), the JSON columns as text."""
        out: list[tuple] = []
        for lo, hi, keys in self._plan_slices(a, b):
            obj = "{" + ", ".join(
                f"{json.dumps(key, ensure_ascii=False).replace('%', '%%')}: %s" for key in keys
            ) + "}"
            s = slice(lo, hi)
            values = [_number_texts(self.values[s, j], "null").tolist() for j in range(len(keys))]
            tiers = [_int_texts(self.tiers[s, j]).tolist() for j in range(len(keys))]
            for i, ok in enumerate(self.eligible[s].tolist()):
                r = lo + i
                composite = float(self.composite[r])
                out.append((
                    int(self.run_id[r]), int(self.declaration_id[r]), int(self.version_id[r]),
                    int(self.enterprise_id[r]), ok, self.reasons[r] if not ok else "[]",
                    obj % tuple(v[i] for v in values),
                    obj % tuple(t[i] for t in tiers) if ok else "{}",
                    None if math.isnan(composite) else composite,
                    int(self.rank[r]) or None, bool(self.leader[r]), int(self.stars[r]),
                    int(self.product_id[r]) if self.product_id[r] > 0 else None, "",
                ))
        return out


#: The COPY the current ``_insert_entries`` streams into (PostgreSQL), None elsewhere.
_entry_stream: contextvars.ContextVar = contextvars.ContextVar("entry_stream", default=None)


def _insert_chunk(rows: list) -> None:
    """Write one chunk of entries inside the session's transaction: into the open COPY on
    PostgreSQL (``rows`` are its text lines), one executemany elsewhere (parameter tuples)."""
    stream = _entry_stream.get()
    if stream is not None:
        stream.write("".join(rows))
        return
    conn = db.session.connection()
    conn.exec_driver_sql(_entry_sql(conn.dialect)[1], rows)


def _insert_entries(entries: _EntryColumns) -> None:
    """All entries in chunks of ``ENTRY_CHUNK`` rows (never ORM objects: a category holds
    thousands of declarations, a full regeneration millions).

    On PostgreSQL one COPY streams every chunk; psycopg's queued writer sends them from a
    thread of its own, so PostgreSQL inserts a chunk while the next one is being encoded
    (two cores: the encoding costs little more than the insert alone). A failure aborts the
    COPY and, with it, the transaction: nothing of the snapshot stays.
    """
    conn = db.session.connection()
    bounds = [(a, min(a + ENTRY_CHUNK, len(entries))) for a in range(0, len(entries), ENTRY_CHUNK)]
    if conn.dialect.name != "postgresql":
        for a, b in bounds:
            _insert_chunk(entries.tuples(a, b))
        return
    from psycopg.copy import QueuedLibpqWriter

    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(
        _entry_sql(conn.dialect)[0], writer=QueuedLibpqWriter(cur)
    ) as copy:
        token = _entry_stream.set(copy)
        try:
            for a, b in bounds:
                _insert_chunk(entries.copy_lines(a, b))
        finally:
            _entry_stream.reset(token)


def _reason_texts(cand: eligibility.Candidates) -> np.ndarray:
    """The exclusion reasons of every row as the JSON the entry stores ("[]": eligible)."""
    return cand.reason_texts


def _next_list_version(plan_key: str) -> int:
    last = db.session.scalar(
        select(func.max(RankingRun.list_version))
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(
            EvaluationPlan.plan_key == plan_key,
            RankingRun.kind == RunKind.OFFICIAL,
            RankingRun.status.in_(
                [RunStatus.PUBLICITY, RunStatus.PUBLISHED, RunStatus.SUPERSEDED]
            ),
        )
    )
    return (last or 0) + 1


def _tune_read() -> None:
    """On PostgreSQL: no JIT for this transaction's reads. The candidate reads are simple
    scans and joins whose estimated cost passes ``jit_above_cost`` on large data; compiling
    them took longer than running them (~0.5 s per plan, measured with EXPLAIN ANALYZE)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL jit = off"))


def compute(plan: EvaluationPlan, *, as_of=None):
    """Read and score a plan without writing: (snapshot, specs, rule, result, inputs hash)."""
    cand = eligibility.read([plan], as_of=as_of)
    pr = _PlanRows(plan, cand, _reason_texts(cand))
    snap = cand.snapshot(plan)
    result = scoring.rank(pr.matrix(cand, index=snap.matrix.index), pr.specs, pr.rule,
                          method=plan.composite_method)
    return snap, pr.specs, pr.rule, result, pr.digest


def _new_run(pr: _PlanRows, cand, kind: RunKind, status: dict, user: User | None, *,
             list_version: int = 1, previous: RankingRun | None = None,
             change_reason: str = "") -> RankingRun:
    return RankingRun(
        plan_id=pr.plan.id,
        kind=kind,
        status=RunStatus.COMPUTED,
        list_version=list_version,
        previous_run_id=previous.id if previous is not None else None,
        change_reason=change_reason,
        inputs_hash=pr.digest,
        as_of=cand.as_of,
        entry_count=pr.count,
        eligible_count=len(pr.eligible),
        indicator_status=status,
        created_by_id=user.id if user is not None else None,
    )


def build_run(
    plan: EvaluationPlan,
    kind: RunKind | str,
    user: User | None = None,
    *,
    previous: RankingRun | None = None,
    change_reason: str = "",
) -> RankingRun:
    """Compute a complete run now and write it (run + all entries) in this transaction.

    Preview: the (plan_key, "preview") pointer switches to it in the same transaction; the
    same inputs as the current preview write nothing and return that run. Official: status
    computed, the next list version (``previous``: the run it replaces, +1).
    """
    kind = RunKind(kind)
    jobs.report_progress(0.05, _("Reading the declarations"))
    _tune_read()
    cand = eligibility.read([plan])
    reasons = _reason_texts(cand)
    pr = _PlanRows(plan, cand, reasons)
    if kind is RunKind.PREVIEW:
        pointer = _pointer(plan.plan_key, RunKind.PREVIEW)
        if pointer is not None:
            current = db.session.get(RankingRun, pointer.run_id)
            if current is not None and current.plan_id == plan.id and current.inputs_hash == pr.digest:
                jobs.report_progress(0.95, _("Unchanged since the last preview"))
                return current
    scores = _score(cand, [pr])
    jobs.report_progress(0.5, _("Writing %(n)d entries", n=pr.count))
    status = _indicator_status(pr, scores, _tier_ranges(cand, scores, [pr])[plan.id])
    if kind is RunKind.OFFICIAL:
        list_version = previous.list_version + 1 if previous else _next_list_version(plan.plan_key)
    else:
        list_version = 1
    run = _new_run(pr, cand, kind, status, user, list_version=list_version, previous=previous,
                   change_reason=change_reason)
    db.session.add(run)
    db.session.flush()
    _insert_entries(_EntryColumns(cand, scores, [(pr, run.id)], reasons))
    if kind is RunKind.PREVIEW:
        _switch(plan.plan_key, RunKind.PREVIEW, run)
        db.session.flush()
        if _previews_to_prune([plan.plan_key]):
            enqueue_prune(plan.plan_key)
    db.session.flush()
    return run


def build_previews(plans: Iterable[EvaluationPlan]) -> dict[int, RankingRun]:
    """Regenerate the previews of many plans in this transaction (e.g. all active plans).

    The same result as ``build_run(plan, "preview")`` for each plan, at a fraction of the
    cost: one read of every plan's candidates, one ``scoring.rank`` call per group of plans
    with the same specs, one stream of COPY chunks for every entry, every pointer locked and
    switched together (readers see all old or all new leaderboards: one transaction). A plan
    whose inputs did not change writes nothing. Returns {plan id: its current preview}.
    """
    plans = sorted({p.id: p for p in plans}.values(), key=lambda p: p.id)
    if not plans:
        return {}
    jobs.report_progress(0.05, _("Reading the declarations"))
    _tune_read()
    cand = eligibility.read(plans)
    reasons = _reason_texts(cand)
    members = [_PlanRows(plan, cand, reasons) for plan in plans]
    current = {
        plan_key: (run_id, plan_id, digest)
        for plan_key, run_id, plan_id, digest in db.session.execute(
            select(LeaderboardPointer.plan_key, RankingRun.id, RankingRun.plan_id,
                   RankingRun.inputs_hash)
            .join(RankingRun, RankingRun.id == LeaderboardPointer.run_id)
            .where(LeaderboardPointer.kind == RunKind.PREVIEW,
                   LeaderboardPointer.plan_key.in_(sorted({p.plan_key for p in plans})))
        )
    }
    out: dict[int, RankingRun] = {}
    changed = []
    for pr in members:
        now = current.get(pr.plan.plan_key)
        if now is not None and now[1] == pr.plan.id and now[2] == pr.digest:
            out[pr.plan.id] = db.session.get(RankingRun, now[0])
        else:
            changed.append(pr)
    if not changed:
        jobs.report_progress(0.95, _("Unchanged since the last preview"))
        return out
    scores = _score(cand, changed)
    ranges = _tier_ranges(cand, scores, changed)
    total = sum(pr.count for pr in changed)
    jobs.report_progress(0.5, _("Writing %(n)d entries", n=total))
    runs = [
        _new_run(pr, cand, RunKind.PREVIEW, _indicator_status(pr, scores, ranges[pr.plan.id]),
                 None)
        for pr in changed
    ]
    db.session.add_all(runs)
    db.session.flush()
    _insert_entries(
        _EntryColumns(cand, scores, [(pr, run.id) for pr, run in zip(changed, runs)], reasons)
    )
    _switch_previews([(pr.plan, run) for pr, run in zip(changed, runs)])
    db.session.flush()
    if _previews_to_prune(pr.plan.plan_key for pr in changed):
        enqueue_prune(None)
    out.update({pr.plan.id: run for pr, run in zip(changed, runs)})
    return out


# --------------------------------------------------------------------------- lifecycle


def _official_run(run: RankingRun, *states: RunStatus) -> None:
    if run.kind is not RunKind.OFFICIAL:
        raise _refuse(_("A preview leaderboard is unofficial; only official runs are "
                        "publicised and published."))
    if states and run.status not in states:
        raise _refuse(_("This run is %(status)s; that step is not possible now.",
                        status=status_word(run.status)))


def min_publicity_days() -> int:
    """The shortest publicity period (公示) any list gets: ``PUBLICITY_DAYS`` (default 10)."""
    configured = int(current_app.config.get("PUBLICITY_DAYS", 10))
    return max(PUBLICITY_DAYS[0], min(configured, PUBLICITY_DAYS[1]))


def publicity_end(plan: EvaluationPlan, start: date) -> date:
    """The last day of a publicity period starting on ``start`` (inclusive): the plan's days,
    never fewer than ``PUBLICITY_DAYS``."""
    return start + timedelta(days=max(plan.publicity_days, min_publicity_days()) - 1)


def start_publicity(
    run: RankingRun,
    start: date | None = None,
    *,
    user: User | None = None,
    today: date | None = None,
) -> RankingRun:
    """公示: the computed official run becomes the public official list; objections open.

    The period starts no earlier than today (``today``: the clock, default the local date)
    nor than the day the run was computed, and lasts ``publicity_end`` days: a backdated start
    would shorten or skip the time the public has to object."""
    _require_owner(run.plan, user)
    _official_run(run, RunStatus.COMPUTED)
    plan = run.plan
    other = db.session.scalar(
        _plan_key_runs(plan.plan_key).where(
            RankingRun.status == RunStatus.PUBLICITY, RankingRun.id != run.id
        )
    )
    if other is not None:
        raise _refuse(_("Run %(id)d of this plan is in publicity; publish it, or accept an "
                        "objection, before publicising another.", id=other))
    today = today or local_today()
    start = start or today
    if not isinstance(start, date):
        raise _refuse(_("Enter a date as yyyy-MM-dd."), "start")
    if start < today:
        raise _refuse(_("Publicity cannot start in the past: choose %(today)s or later.",
                        today=today.isoformat()), "start")
    computed = local_date(run.created_at) if run.created_at is not None else today
    if start < computed:
        raise _refuse(_("Publicity cannot start before the run it publicises was computed "
                        "(%(day)s).", day=computed.isoformat()), "start")
    next_version = _next_list_version(plan.plan_key)
    run.status = RunStatus.PUBLICITY
    run.publicity_start = start
    run.publicity_end = publicity_end(plan, start)
    if run.previous_run_id is None:  # a fresh run: the next version of the official list
        run.list_version = next_version
    db.session.flush()
    _switch(plan.plan_key, RunKind.OFFICIAL, run)
    db.session.flush()
    return _without_lost_leaders(run, user)


def _without_lost_leaders(run: RankingRun, user: User | None) -> RankingRun:
    """Dynamic management before publication: a leader of a list that is not final whose
    declaration ended, was revised below the floor or whose enterprise failed a check since the
    run was computed leaves it now (a new list version, the reason shown); else ``run``."""
    from ranking.tasks import leaders_to_remove, remove_leaders

    removals = leaders_to_remove(run)
    return remove_leaders(run, removals, user) if removals else run


def file_objection(
    run: RankingRun,
    *,
    name: str,
    contact: str,
    text: str,
    entry_id: int | None = None,
    today: date | None = None,
) -> Objection:
    """异议: anyone may object to a list in publicity, until its last day."""
    today = today or local_today()
    if (
        run.kind is not RunKind.OFFICIAL
        or run.status is not RunStatus.PUBLICITY
        or run.publicity_start is None
        or not run.publicity_start <= today <= run.publicity_end
    ):
        if run.status is RunStatus.PUBLICITY and run.publicity_end is not None:
            raise _refuse(_("Objections can be filed from %(start)s to %(end)s.",
                            start=run.publicity_start.isoformat(),
                            end=run.publicity_end.isoformat()))
        raise _refuse(_("Objections can be filed only while a list is in publicity."))
    errors = _Errors()
    clean = {}
    for field, value, limit, message in (
        ("name", name, 120, _("Enter your name or your organisation's name.")),
        ("contact", contact, 120, _("Enter a telephone number or e-mail address for the reply.")),
        ("text", text, 5000, _("Describe the objection: which entry, what is wrong, why.")),
    ):
        clean[field] = _text(value)
        if not clean[field]:
            errors.add(field, message)
        elif len(clean[field]) > limit:
            errors.add(field, _("At most %(n)d characters.", n=limit))
    entry = None
    if entry_id not in (None, ""):
        eid, ok = _integer(entry_id)
        entry = db.session.get(RunEntry, eid) if ok and eid else None
        if entry is None or entry.run_id != run.id:
            errors.add("entry_id", _("Choose an entry of this list."))
    if errors:
        raise ValidationFailed(dict(errors))
    objection = Objection(run_id=run.id, entry_id=entry.id if entry else None, **clean)
    db.session.add(objection)
    db.session.flush()
    return objection


def _carry_objections(old: RankingRun, new: RankingRun, exclude: int) -> None:
    """Open objections of a replaced run continue on its re-run (same declaration's entry)."""
    rows = db.session.execute(
        select(Objection.id, RunEntry.declaration_id)
        .outerjoin(RunEntry, RunEntry.id == Objection.entry_id)
        .where(
            Objection.run_id == old.id,
            Objection.status == ObjectionStatus.OPEN,
            Objection.id != exclude,
        )
    ).all()
    if not rows:
        return
    decl_ids = {d for _, d in rows if d is not None}
    mapping = dict(
        db.session.execute(
            select(RunEntry.declaration_id, RunEntry.id).where(
                RunEntry.run_id == new.id, RunEntry.declaration_id.in_(decl_ids)
            )
        ).all()
    ) if decl_ids else {}
    for objection_id, decl_id in rows:
        objection = db.session.get(Objection, objection_id)
        objection.run_id = new.id
        objection.entry_id = mapping.get(decl_id) if decl_id is not None else None


def resolve_objection(
    objection: Objection,
    *,
    accept: bool,
    response: str,
    user: User,
    today: date | None = None,
) -> Objection:
    """Accept (re-run now: a new list version in a new publicity period) or reject (with the
    reason, required) an open objection."""
    run = objection.run
    _require_owner(run.plan, user)
    if objection.status is not ObjectionStatus.OPEN:
        raise _refuse(_("This objection was already %(status)s.",
                        status=status_word(objection.status)))
    _official_run(run, RunStatus.PUBLICITY)
    response = _text(response)
    if not accept and not response:
        raise _refuse(
            _("Give the reason for rejecting the objection; it is kept with the list."),
            "response",
        )
    now = utcnow()
    objection.response = response
    objection.resolved_at = now
    if not accept:
        objection.status = ObjectionStatus.REJECTED
        db.session.flush()
        return objection

    reason = _("Objection %(id)d accepted: %(text)s", id=objection.id, text=objection.text)
    if response:
        reason += "\n" + response
    new = build_run(run.plan, RunKind.OFFICIAL, user, previous=run, change_reason=reason)
    start = today or local_today()
    new.status = RunStatus.PUBLICITY
    new.publicity_start = start
    new.publicity_end = publicity_end(run.plan, start)
    run.status = RunStatus.SUPERSEDED
    objection.status = ObjectionStatus.ACCEPTED
    objection.resolved_run_id = new.id
    db.session.flush()
    _carry_objections(run, new, exclude=objection.id)
    _switch(run.plan.plan_key, RunKind.OFFICIAL, new)
    db.session.flush()
    return objection


def publish_run(run: RankingRun, user: User, *, today: date | None = None) -> RankingRun:
    """发布: after the publicity period, with every objection resolved. Immutable afterwards."""
    _require_owner(run.plan, user)
    _official_run(run, RunStatus.PUBLICITY)
    today = today or local_today()
    if run.publicity_end is None or today <= run.publicity_end:
        raise _refuse(_("The publicity period ends on %(end)s; publish from %(next)s.",
                        end=run.publicity_end.isoformat() if run.publicity_end else "",
                        next=(run.publicity_end + timedelta(days=1)).isoformat()
                        if run.publicity_end else ""))
    open_count = db.session.scalar(
        select(func.count(Objection.id)).where(
            Objection.run_id == run.id, Objection.status == ObjectionStatus.OPEN
        )
    )
    if open_count:
        raise _refuse(_("%(n)d objection(s) are still open; accept or reject each first.",
                        n=open_count))
    run = _without_lost_leaders(run, user)  # never published with a leader that lost its place
    for old in db.session.scalars(
        select(RankingRun).where(
            RankingRun.id.in_(_plan_key_runs(run.plan.plan_key)),
            RankingRun.kind == RunKind.OFFICIAL,
            RankingRun.status == RunStatus.PUBLISHED,
            RankingRun.id != run.id,
        )
    ):
        old.status = RunStatus.SUPERSEDED
    run.status = RunStatus.PUBLISHED
    run.published_at = utcnow()
    db.session.flush()
    _switch(run.plan.plan_key, RunKind.OFFICIAL, run)
    db.session.flush()
    return run


def record_removal(
    run: RankingRun,
    declaration_ids: Iterable[int],
    reason: str,
    *,
    reasons: Mapping[int, str] | None = None,
    user: User | None = None,
) -> RankingRun:
    """动态管理: a new list version without the given leaders, shown removed with their
    reason; the old version is superseded and the official pointer moves (one transaction).
    A published list gets a new published version; a list under publicity a new version
    under publicity with the same period and its open objections. ``reasons`` gives each
    declaration its own reason (default ``reason``)."""
    _require_owner(run.plan, user)
    _official_run(run, RunStatus.PUBLISHED, RunStatus.PUBLICITY)
    in_publicity = run.status is RunStatus.PUBLICITY
    reason = _text(reason)
    if not reason:
        raise _refuse(_("Give the reason; it is shown on the list."), "reason")
    ids = sorted({int(i) for i in declaration_ids})
    leaders = set(
        db.session.scalars(
            select(RunEntry.declaration_id).where(
                RunEntry.run_id == run.id,
                RunEntry.declaration_id.in_(ids),
                RunEntry.is_leader.is_(True),
            )
        )
    ) if ids else set()
    if not leaders:
        raise _refuse(_("None of these declarations is a leader on this list."),
                      "declaration_ids")
    per_entry = {i: _text((reasons or {}).get(i)) or reason for i in sorted(leaders)}
    now = utcnow()
    digest = hashlib.sha256(
        (run.inputs_hash + json.dumps(sorted(per_entry.items()), ensure_ascii=False)).encode()
    ).hexdigest()
    new = RankingRun(
        plan_id=run.plan_id,
        kind=RunKind.OFFICIAL,
        status=RunStatus.PUBLICITY if in_publicity else RunStatus.PUBLISHED,
        list_version=run.list_version + 1,
        previous_run_id=run.id,
        change_reason=reason,
        inputs_hash=digest,
        as_of=run.as_of,
        entry_count=run.entry_count,
        eligible_count=run.eligible_count,
        indicator_status=run.indicator_status,
        created_by_id=user.id if user is not None else None,
        publicity_start=run.publicity_start,
        publicity_end=run.publicity_end,
        published_at=None if in_publicity else now,
    )
    db.session.add(new)
    db.session.flush()
    removed = RunEntry.declaration_id.in_(sorted(leaders))
    copied = [
        c.key for c in RunEntry.__table__.columns if c.key not in ("id", "run_id")
    ]
    overrides = {
        "is_leader": case((removed, False), else_=RunEntry.is_leader),
        "stars": case((removed, 0), else_=RunEntry.stars),
        "removed_reason": case(per_entry, value=RunEntry.declaration_id,
                               else_=RunEntry.removed_reason),
    }
    source = select(
        literal(new.id).label("run_id"),
        *[overrides.get(c, RunEntry.__table__.c[c]).label(c) for c in copied],
    ).where(RunEntry.run_id == run.id).order_by(RunEntry.id)
    db.session.execute(
        insert(RunEntry.__table__).from_select(["run_id", *copied], source)
    )
    run.status = RunStatus.SUPERSEDED
    db.session.flush()
    if in_publicity:  # the objections continue on the list version that replaces it
        _carry_objections(run, new, exclude=0)
    pointer = _pointer(run.plan.plan_key, RunKind.OFFICIAL, lock=True)
    if pointer is None or pointer.run_id == run.id:
        _switch(run.plan.plan_key, RunKind.OFFICIAL, new)
    db.session.flush()
    return new

