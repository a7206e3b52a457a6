"""Evaluation plans (评价方案): validation of plan data, the plan lifecycle, and the jobs a plan
starts. With ``runs.py`` (building runs and previews), ``snapshot_io.py`` (the COPY stream of a
run's entries) and ``publicity.py`` (publicity, objections, publication, removals) it is the only
place that writes rankings.

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

Functions (plans.create_plan, …; runs.build_run, …; publicity.start_publicity, …):

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

import secrets
from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden

from benchmarks.models import BenchmarkIndicator, ProductCategory
from core import jobs
from core.clock import local_today
from core.errors import ValidationFailed
from core.extensions import db
from core.models import OutboxJob, Role, User, utcnow
from core.validation import Errors as _Errors
from core.validation import integer as _integer
from core.validation import number as _number
from core.validation import refuse as _refuse
from core.validation import text as _text
from ranking import eligibility, scoring
from ranking.models import EvaluationPlan, PlanIndicator, PlanStatus

__all__ = [
    "activate_plan",
    "create_plan",
    "enqueue_dynamic_management",
    "enqueue_preview",
    "plan_data",
    "plan_rule",
    "plan_specs",
    "start_official_run",
    "status_word",
    "update_plan",
]

GENERAL = "_schema"
MIN_CORE_INDICATORS = 3
PUBLICITY_DAYS = (1, 60)
YEARS = (2000, 2100)
MAX_WINDOW_DAYS = 3650
FLOOR_KINDS = ("mandatory", "recommended")
CUT_MODES = ("values", "percentiles")


# --------------------------------------------------------------------------- helpers


def min_publicity_days() -> int:
    """The shortest publicity period (公示) any list gets: ``PUBLICITY_DAYS`` (default 10)."""
    configured = int(current_app.config.get("PUBLICITY_DAYS", 10))
    return max(PUBLICITY_DAYS[0], min(configured, PUBLICITY_DAYS[1]))


def _better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "higher" else a < b


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.10g}"


def _require_owner(plan: EvaluationPlan, user: User | None) -> None:
    if user is None:
        return
    if user.role is not Role.EVALUATOR or user.id != plan.evaluator_id:
        raise Forbidden(_("Only the evaluation body that owns this plan may change it."))


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
    from ranking import tasks

    return jobs.enqueue(
        tasks.regenerate_preview,
        plan.id,
        dedupe_key=key,
        debounce=window,  # core.jobs.debounce_delay
    )


def enqueue_dynamic_management(plan: EvaluationPlan) -> OutboxJob:
    """Re-check the leaders of the plan's published list (after the commit)."""
    from ranking import tasks

    return jobs.enqueue(
        tasks.apply_dynamic_management,
        plan.id,
        dedupe_key=f"ranking:dynamic:{plan.plan_key}",
    )


def start_official_run(plan: EvaluationPlan, user: User) -> OutboxJob:
    """Queue an official run of an active plan; the evaluation body follows its progress."""
    _require_owner(plan, user)
    if user is None:
        raise Forbidden(_("Only the evaluation body that owns this plan may change it."))
    if plan.status is not PlanStatus.ACTIVE:
        raise _refuse(_("Activate the plan before running it officially."))
    from ranking import tasks

    return jobs.enqueue(
        tasks.official_run,
        plan.id,
        user.id,
        dedupe_key=f"ranking:official:{plan.plan_key}",
    )


