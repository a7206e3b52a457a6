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
- Run data: ``RunEntry.values`` / ``tiers`` are keyed by the indicator key = the benchmark code
  (``PlanIndicator.benchmark_code``). ``RankingRun.indicator_status[key]`` =
  {"ranked": bool, "reason": None | "all_equal" | "no_eligible", "name", "unit", "direction",
  "floor", "cut_mode", "cuts", "weight", "best_reference", "tier_ranges": {"1": [lo, hi], …}}.
  ``RunEntry.exclusion_reasons`` = [{"code", "detail"}] with the codes of
  ``ranking.eligibility.EXCLUSION_CODES``.
- Publicity runs from ``publicity_start`` to ``publicity_end`` inclusive (``publicity_days``
  days). ``file_objection(..., today=)`` and ``publish_run(..., today=)`` take the day (default:
  today in Beijing) so tests and the CLI can act on a given date. Accepting an objection re-runs
  the ranking at once: a new list version in a new publicity period, the old run superseded,
  the other open objections carried over to it.
- ``record_removal(..., reasons={declaration_id: reason})`` gives each removed leader its own
  visible reason; ``reason`` is the change reason of the new list version.
"""

from __future__ import annotations

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
from sqlalchemy import case, delete, func, insert, literal, select
from werkzeug.exceptions import Forbidden

from benchmarks.models import BenchmarkIndicator, ProductCategory
from core import jobs
from core.errors import ValidationFailed
from core.extensions import db
from core.models import OutboxJob, Role, User, utcnow
from declare.queries import local_today
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
    "build_run",
    "compute",
    "create_plan",
    "enqueue_dynamic_management",
    "enqueue_preview",
    "file_objection",
    "plan_data",
    "plan_rule",
    "plan_specs",
    "publish_run",
    "record_removal",
    "resolve_objection",
    "start_official_run",
    "start_publicity",
    "update_plan",
]

GENERAL = "_schema"
MIN_CORE_INDICATORS = 3
PUBLICITY_DAYS = (1, 60)
YEARS = (2000, 2100)
MAX_WINDOW_DAYS = 3650
ENTRY_CHUNK = 2000  # rows per executemany of run entries
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
    days = 10 if ok and days is None else days
    if not ok or days is None or not PUBLICITY_DAYS[0] <= days <= PUBLICITY_DAYS[1]:
        errors.add(
            "publicity_days",
            _("The publicity period lasts %(lo)d to %(hi)d days.",
              lo=PUBLICITY_DAYS[0], hi=PUBLICITY_DAYS[1]),
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
                        status=plan.status.value))
    _clean_plan(plan_data(plan))  # the catalogue may have changed since it was saved
    plan.status = PlanStatus.ACTIVE
    db.session.flush()
    enqueue_preview(plan)
    return plan


def enqueue_preview(plan: EvaluationPlan) -> OutboxJob:
    """One debounced preview regeneration per plan (after the commit, on the ranking queue)."""
    return jobs.enqueue(
        "ranking.tasks.regenerate_preview",
        plan.id,
        queue="ranking",
        dedupe_key=f"ranking:preview:{plan.plan_key}",
        delay=float(current_app.config.get("RANKING_DEBOUNCE_SECONDS", 2)),
    )


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


def _plan_key_runs(plan_key: str):
    return (
        select(RankingRun.id)
        .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
        .where(EvaluationPlan.plan_key == plan_key)
    )


def _prune_previews(plan_key: str, keep: int = PREVIEW_KEEP) -> None:
    """Drop old preview snapshots (never the current one): previews regenerate often."""
    ids = list(
        db.session.scalars(
            _plan_key_runs(plan_key)
            .where(RankingRun.kind == RunKind.PREVIEW)
            .order_by(RankingRun.id.desc())
            .offset(keep)
        )
    )
    current = _pointer(plan_key, RunKind.PREVIEW)
    ids = [i for i in ids if current is None or i != current.run_id]
    if ids:
        db.session.execute(delete(RunEntry.__table__).where(RunEntry.run_id.in_(ids)))
        db.session.execute(delete(RankingRun.__table__).where(RankingRun.id.in_(ids)))
        for run in [r for r in db.session.identity_map.values() if isinstance(r, RankingRun)]:
            if run.id in ids:
                db.session.expunge(run)


def _none_if_nan(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _indicator_status(
    plan: EvaluationPlan, specs, result: scoring.RankingResult, n_eligible: int
) -> dict:
    status = {}
    for pi, spec in zip(plan.indicators, specs):
        ranked = bool(np.all(result.ranked[spec.key])) if n_eligible else False
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
            "tier_ranges": {},
        }
    return status


def _tier_ranges(matrix: pd.DataFrame, tiers: pd.DataFrame, key: str) -> dict:
    """{tier: [lowest, highest value]} of the eligible entries (chart bands)."""
    if matrix.empty:
        return {}
    frame = pd.DataFrame({"tier": tiers[key], "value": matrix[key].reindex(tiers.index)})
    frame = frame[frame["tier"] > 0]
    grouped = frame.groupby("tier")["value"].agg(["min", "max"])
    return {str(int(t)): [float(lo), float(hi)] for t, (lo, hi) in grouped.iterrows()}


def _entry_rows(
    run_id: int, snap: eligibility.Snapshot, result: scoring.RankingResult
) -> list[dict]:
    """One row per candidate, sorted by declaration id: eligible ones with tiers and scores,
    excluded ones with their reasons."""
    cand = snap.candidates
    keys = snap.keys
    values = np.column_stack([cand[k].to_numpy(dtype="float64") for k in keys]) if keys else None
    eligible_ids = set(snap.matrix.index.tolist())
    tiers = result.tiers
    tier_values = {k: tiers[k].to_dict() for k in keys} if len(tiers) else {k: {} for k in keys}
    composite = result.composite.to_dict()
    comp_rank = result.composite_rank.to_dict()
    leaders = result.leaders.to_dict()
    stars = result.stars.to_dict()
    reasons = snap.exclusions["reasons"].to_dict() if len(snap.exclusions) else {}
    rows = []
    for pos, (decl_id, version_id, enterprise_id, product_id) in enumerate(
        zip(
            cand.index.tolist(),
            cand["version_id"].tolist(),
            cand["enterprise_id"].tolist(),
            cand["product_id"].tolist(),
        )
    ):
        vals = {k: _none_if_nan(float(values[pos, j])) for j, k in enumerate(keys)}
        ok = decl_id in eligible_ids
        product = None if product_id is None or pd.isna(product_id) else int(product_id)
        rank = int(comp_rank.get(decl_id, 0)) if ok else None
        rows.append(
            {
                "run_id": run_id,
                "declaration_id": int(decl_id),
                "version_id": int(version_id),
                "enterprise_id": int(enterprise_id),
                "eligible": ok,
                "exclusion_reasons": [] if ok else list(reasons.get(decl_id, [])),
                "values": vals,
                "tiers": {k: int(tier_values[k][decl_id]) for k in keys} if ok else {},
                "composite": _none_if_nan(composite.get(decl_id)) if ok else None,
                "composite_rank": rank if rank else None,
                "is_leader": bool(leaders.get(decl_id, False)) and product is not None,
                "stars": int(stars.get(decl_id, 0)) if ok else 0,
                "product_id": product,
                "removed_reason": "",
            }
        )
    return rows


def _insert_chunk(rows: list[dict]) -> None:
    db.session.execute(insert(RunEntry.__table__), rows)


def _insert_entries(rows: list[dict]) -> None:
    """Core executemany in chunks (never ORM objects for thousands of rows)."""
    for start in range(0, len(rows), ENTRY_CHUNK):
        _insert_chunk(rows[start : start + ENTRY_CHUNK])


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


def compute(plan: EvaluationPlan, *, as_of=None):
    """Read and score a plan without writing: (snapshot, specs, rule, result, inputs hash)."""
    snap = eligibility.snapshot(plan, as_of=as_of)
    specs = plan_specs(plan)
    rule = plan_rule(plan)
    method = plan.composite_method
    result = scoring.rank(snap.matrix, specs, rule, method=method)
    cand = snap.candidates
    eligible = cand.loc[snap.matrix.index]
    extra = {
        "plan_id": plan.id,
        "plan_version": plan.version_no,
        "entry_rules": eligibility.entry_rules_of(plan),
        "eligible": [
            [int(d), int(v), None if pd.isna(p) else int(p)]
            for d, v, p in zip(
                eligible.index.tolist(),
                eligible["version_id"].tolist(),
                eligible["product_id"].tolist(),
            )
        ],
        "exclusions": [
            [int(d), int(cand.at[d, "version_id"]), reasons]
            for d, reasons in snap.exclusions["reasons"].items()
        ],
    }
    digest = scoring.inputs_hash(snap.matrix, specs, rule, method, extra)
    return snap, specs, rule, result, digest


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
    snap, specs, rule, result, digest = compute(plan)
    if kind is RunKind.PREVIEW:
        pointer = _pointer(plan.plan_key, RunKind.PREVIEW)
        if pointer is not None:
            current = db.session.get(RankingRun, pointer.run_id)
            if current is not None and current.plan_id == plan.id and current.inputs_hash == digest:
                jobs.report_progress(0.95, _("Unchanged since the last preview"))
                return current
    jobs.report_progress(0.5, _("Writing %(n)d entries", n=len(snap.candidates)))
    n_eligible = len(snap.matrix)
    status = _indicator_status(plan, specs, result, n_eligible)
    for spec in specs:
        status[spec.key]["tier_ranges"] = _tier_ranges(snap.matrix, result.tiers, spec.key)
    if kind is RunKind.OFFICIAL:
        list_version = previous.list_version + 1 if previous else _next_list_version(plan.plan_key)
    else:
        list_version = 1
    run = RankingRun(
        plan_id=plan.id,
        kind=kind,
        status=RunStatus.COMPUTED,
        list_version=list_version,
        previous_run_id=previous.id if previous is not None else None,
        change_reason=change_reason,
        inputs_hash=digest,
        as_of=snap.as_of,
        entry_count=len(snap.candidates),
        eligible_count=n_eligible,
        indicator_status=status,
        created_by_id=user.id if user is not None else None,
    )
    db.session.add(run)
    db.session.flush()
    _insert_entries(_entry_rows(run.id, snap, result))
    if kind is RunKind.PREVIEW:
        _switch(plan.plan_key, RunKind.PREVIEW, run)
        db.session.flush()
        _prune_previews(plan.plan_key)
    db.session.flush()
    return run


# --------------------------------------------------------------------------- lifecycle


def _official_run(run: RankingRun, *states: RunStatus) -> None:
    if run.kind is not RunKind.OFFICIAL:
        raise _refuse(_("A preview leaderboard is unofficial; only official runs are "
                        "publicised and published."))
    if states and run.status not in states:
        raise _refuse(_("This run is %(status)s; that step is not possible now.",
                        status=run.status.value))


def start_publicity(
    run: RankingRun, start: date | None = None, *, user: User | None = None
) -> RankingRun:
    """公示: the computed official run becomes the public official list; objections open."""
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
    start = start or local_today()
    if not isinstance(start, date):
        raise _refuse(_("Enter a date as yyyy-MM-dd."), "start")
    next_version = _next_list_version(plan.plan_key)
    run.status = RunStatus.PUBLICITY
    run.publicity_start = start
    run.publicity_end = start + timedelta(days=plan.publicity_days - 1)
    if run.previous_run_id is None:  # a fresh run: the next version of the official list
        run.list_version = next_version
    db.session.flush()
    _switch(plan.plan_key, RunKind.OFFICIAL, run)
    db.session.flush()
    return run


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
        raise _refuse(_("This objection was already %(status)s.", status=objection.status.value))
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
    new.publicity_end = start + timedelta(days=run.plan.publicity_days - 1)
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
    """动态管理: a new published list version without the given leaders, shown removed with
    their reason; the old version is superseded and the official pointer moves (one
    transaction). ``reasons`` gives each declaration its own reason (default ``reason``)."""
    _require_owner(run.plan, user)
    _official_run(run, RunStatus.PUBLISHED)
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
        status=RunStatus.PUBLISHED,
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
        published_at=now,
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
    pointer = _pointer(run.plan.plan_key, RunKind.OFFICIAL, lock=True)
    if pointer is None or pointer.run_id == run.id:
        _switch(run.plan.plan_key, RunKind.OFFICIAL, new)
    db.session.flush()
    return new

