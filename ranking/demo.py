"""The 企业标准"领跑者" part of the demo: a plan, its preview leaderboard, a published list.

``flask demo load`` runs ``load_ranking_demo`` after ``declare.demo`` has published the
declarations (``ranking.cli`` registers it with ``declare.cli.register_demo_loader``; declare
never imports ranking). Everything goes through the operations (``ranking.plans``, ``runs``,
``publicity``), as the service does:

1. ``create_plan`` — the demo evaluation body (``evaluator``) writes this year's plan for
   household gas water heaters, the category the declare demo fills for it: three core
   indicators (η1 and η2 of GB 20665-2015, NOx of GB 6932-2015), floors at the mandatory
   limits, tier cut points at the grade thresholds, leaders = top tier in every indicator;
2. ``activate_plan`` — previews start regenerating; the preview is also built here at once
   (``build_run``, the body of ``ranking.tasks.regenerate_preview``), so the demo shows it
   even before a worker runs; the queued job then finds the same inputs and writes nothing;
3. the official run — ``build_run(plan, "official")``, the body of the
   ``ranking.tasks.official_run`` job that ``start_official_run`` queues; done at once
   because the list is publicised and published in the same load;
4. ``start_publicity`` — the only backdating, through its clock (``today=``, the day the
   publicity began) after dating the official run to that morning (the service refuses a
   start before today or before the run): the publicity period began ``publicity_days`` days
   ago and ended yesterday; one objection was
   filed during it (``file_objection(..., today=)``) and rejected with the reason
   (``resolve_objection``); their timestamps are set to those days, as declare.demo dates its
   drafts;
5. ``publish_run`` — today, after the period: the official list is published and immutable.

The runs themselves are computed now (``as_of`` = now): the declarations they rank are the
ones in force today. Deterministic for a seed; idempotent (a plan of the demo evaluator for
the category means the part is loaded).
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from benchmarks.models import ProductCategory
from benchmarks.queries import benchmarks_on
from core.clock import local_today, local_zone
from core.errors import ValidationFailed
from core.extensions import db
from core.models import Role, User
from declare.demo import STAFF_ACCOUNTS, DemoError
from declare.models import Declaration, DeclarationStatus, Enterprise, Product
from ranking import plans, publicity, runs
from ranking.models import EvaluationPlan, RankingRun, RunEntry, RunKind

__all__ = ["CATEGORY", "PLAN_INDICATORS", "load_ranking_demo"]

CATEGORY = "gas_water_heater"
EVALUATOR = next(u for u, role, *_rest in STAFF_ACCOUNTS if role is Role.EVALUATOR)
PUBLICITY_DAYS = 10

#: Core indicators: benchmark code, floor kind, tier cut points (best first), weight. The cut
#: points are the grade thresholds of the catalogue plus one between grades 1 and 2.
PLAN_INDICATORS: tuple[tuple[str, str, list[float], float], ...] = (
    ("eta_rated", "mandatory", [98.0, 92.0, 89.0], 0.4),  # 1级 / - / 2级; floor 3级 86 %
    ("eta_half", "mandatory", [94.0, 88.0, 85.0], 0.3),  # 1级 / - / 2级; floor 3级 82 %
    ("nox", "mandatory", [70.0, 100.0, 150.0], 0.3),  # 5级 / 4级 / 3级; floor 1级 260
)
#: Stars for leaders by anchored composite (1.0 = grade 1 reached on every indicator).
STAR_CUTS = [1.2, 1.1]

OBJECTION = (
    "陈先生",
    "13912345678",
    "该型号宣传页标注的 NOx 排放数值与企业标准声明值不一致，请核实其排放数据的来源。",
)
OBJECTION_RESPONSE = (
    "经核查，企业标准声明值与第三方检测报告一致；宣传页数值为旧型号数据，企业已更正。"
    "异议不成立，维持公示结果。"
)


def _evaluator() -> User:
    user = db.session.scalar(select(User).where(User.username == EVALUATOR))
    if user is None or user.role is not Role.EVALUATOR:
        raise DemoError(
            f"the account {EVALUATOR!r} is missing or not an evaluation body; the 领跑者 demo "
            "needs the demo evaluation body (declare.demo.STAFF_ACCOUNTS)"
        )
    return user


def _plan_data(category: ProductCategory, today: date) -> dict:
    benches = {b.code: b for b in benchmarks_on(category.id, today)}
    missing = [code for code, *_rest in PLAN_INDICATORS if code not in benches]
    if missing:
        raise DemoError(
            f"the catalogue has no benchmark {CATEGORY}/{', '.join(missing)} in force; "
            "run `flask catalogue load` to update it from the shipped seed"
        )
    return {
        "category_id": category.id,
        "year": today.year,
        "title": f"{today.year} 年度家用燃气快速热水器企业标准“领跑者”评估方案（演示）",
        "notes": (
            "核心指标：额定热负荷热效率 η1、50% 额定热负荷热效率 η2（GB 20665-2015）和烟气中 NOx "
            "排放（GB 6932-2015），底线为各自的能效/排放限定值，分档切点取等级阈值。"
            "领跑者：三项核心指标均进入第一档；综合得分 ≥ 1.2 为二星、≥ 1.1 为一星。演示数据。"
        ),
        "composite_method": "anchored",
        "publicity_days": PUBLICITY_DAYS,
        "leader_rule": {"kind": "top_tier_all", "star_cuts": list(STAR_CUTS)},
        "indicators": [
            {
                "benchmark_indicator_id": benches[code].id,
                "floor_kind": floor_kind,
                "cut_mode": "values",
                "cuts": list(cuts),
                "weight": weight,
            }
            for code, floor_kind, cuts, weight in PLAN_INDICATORS
        ],
    }


def _moment(rng: random.Random, day: date) -> datetime:
    """Office hours in Beijing on ``day``."""
    return datetime.combine(day, time(rng.randint(9, 17), rng.randint(0, 59)), tzinfo=local_zone())


def _objection(rng: random.Random, run: RankingRun, evaluator: User) -> int:
    """One objection against a leader, filed and rejected during the publicity period."""
    entry = db.session.scalar(
        select(RunEntry)
        .join(Enterprise, Enterprise.id == RunEntry.enterprise_id)
        .where(RunEntry.run_id == run.id, RunEntry.is_leader.is_(True))
        .order_by(Enterprise.name, RunEntry.id)
        .limit(1)
    )
    if entry is None:
        return 0
    name, contact, text = OBJECTION
    filed_on = run.publicity_start + timedelta(days=2)
    objection = publicity.file_objection(
        run, name=name, contact=contact, text=text, entry_id=entry.id, today=filed_on
    )
    publicity.resolve_objection(
        objection, accept=False, response=OBJECTION_RESPONSE, user=evaluator
    )
    objection.created_at = _moment(rng, filed_on)
    objection.resolved_at = _moment(rng, filed_on + timedelta(days=3))
    return 1


def load_ranking_demo(seed: int = 2026) -> dict:
    """Write the demo plan, its preview and its published list; flushes, the caller commits.

    Does nothing when the demo evaluation body already has a plan for the category, and
    skips (saying why) when nobody declares in it (demo data loaded before the category was
    in the catalogue). Raises ``DemoError`` (naming the step) when an operation refuses.
    """
    evaluator = _evaluator()
    category = db.session.scalar(select(ProductCategory).where(ProductCategory.code == CATEGORY))
    if category is None:
        raise DemoError(
            f"the catalogue has no product category {CATEGORY!r}; run `flask catalogue load`"
        )
    exists = db.session.scalar(
        select(EvaluationPlan.id)
        .where(
            EvaluationPlan.evaluator_id == evaluator.id, EvaluationPlan.category_id == category.id
        )
        .limit(1)
    )
    if exists is not None:
        return {"already_loaded": True}
    if not _has_declarations(category):
        # A demo loaded before the category existed: a plan over nothing would show nothing.
        return {
            "already_loaded": False,
            "skipped": f"no published declaration of {CATEGORY}: load the demo into a new "
            "database to see the 领跑者 rankings",
        }
    rng = random.Random(seed)
    today = local_today()
    step = "create the plan"
    try:
        plan = plans.create_plan(evaluator, _plan_data(category, today))
        step = "activate the plan"
        plans.activate_plan(plan, user=evaluator)
        step = "build the preview leaderboard"
        preview = runs.build_run(plan, RunKind.PREVIEW)
        step = "compute the official run"
        official = runs.build_run(plan, RunKind.OFFICIAL, evaluator)
        step = "publicise the official list"
        start = today - timedelta(days=plan.publicity_days)
        official.created_at = datetime.combine(start, time(9), tzinfo=local_zone())
        publicity.start_publicity(official, start, user=evaluator, today=start)
        step = "file and resolve an objection"
        objections = _objection(rng, official, evaluator)
        step = "publish the official list"
        publicity.publish_run(official, evaluator, today=today)
    except ValidationFailed as exc:
        raise DemoError(f"ranking demo: could not {step}: {exc}") from exc
    db.session.flush()
    return {
        "already_loaded": False,
        "plan": plan.title,
        "plan_key": plan.plan_key,
        "candidates": official.entry_count,
        "eligible": official.eligible_count,
        "leaders": _count_leaders(official),
        "preview_run": preview.id,
        "published_run": official.id,
        "objections": objections,
    }


def _has_declarations(category: ProductCategory) -> bool:
    return (
        db.session.scalar(
            select(Declaration.id)
            .join(Product, Product.version_id == Declaration.current_version_id)
            .where(
                Declaration.status == DeclarationStatus.PUBLISHED,
                Product.category_id == category.id,
            )
            .limit(1)
        )
        is not None
    )


def _count_leaders(run: RankingRun) -> int:
    return db.session.scalar(
        select(func.count(RunEntry.id)).where(
            RunEntry.run_id == run.id, RunEntry.is_leader.is_(True)
        )
    )
