"""ranking's reactions to declare's signals (imported once by app.create_app).

Receivers run inside the transaction that changed the declaration and only enqueue jobs;
the outbox hands them over after the commit. Regenerations are debounced: one waiting job per
plan (``dedupe_key``), held ``RANKING_DEBOUNCE_SECONDS`` in RQ, so a burst of publications
makes one regeneration.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from core.extensions import db
from declare.models import Declaration, DeclarationStatus, DeclarationVersion, Product
from declare.signals import compliance_changed, declaration_changed
from ranking import eligibility, plans
from ranking.models import EvaluationPlan, PlanStatus, RankingRun, RunEntry, RunKind, RunStatus


def _active_plans(category_ids: Iterable[int]) -> list[EvaluationPlan]:
    ids = sorted({int(c) for c in category_ids or ()})
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(EvaluationPlan)
            .where(EvaluationPlan.status == PlanStatus.ACTIVE, EvaluationPlan.category_id.in_(ids))
            .order_by(EvaluationPlan.id)
        )
    )


def _plans_with_leaders(*conditions) -> list[EvaluationPlan]:
    """Plans whose official list that is not final yet (computed, under publicity) or
    published has a leader matching ``conditions``: dynamic management covers every list a
    leader may still be on, not only the published one."""
    plan_ids = db.session.scalars(
        select(RankingRun.plan_id)
        .join(RunEntry, RunEntry.run_id == RankingRun.id)
        .where(
            RankingRun.kind == RunKind.OFFICIAL,
            RankingRun.status.in_(
                (RunStatus.COMPUTED, RunStatus.PUBLICITY, RunStatus.PUBLISHED)
            ),
            RunEntry.is_leader.is_(True),
            *conditions,
        )
        .distinct()
    ).all()
    if not plan_ids:
        return []
    return list(
        db.session.scalars(
            select(EvaluationPlan)
            .where(EvaluationPlan.id.in_(plan_ids))
            .order_by(EvaluationPlan.id)
        )
    )


def _enqueue_previews(changed: Iterable[EvaluationPlan]) -> None:
    seen = set()
    for plan in changed:
        if plan.plan_key not in seen:
            seen.add(plan.plan_key)
            plans.enqueue_preview(plan)


def _enqueue_dynamic(changed: Iterable[EvaluationPlan]) -> None:
    seen = set()
    for plan in changed:
        if plan.plan_key not in seen:
            seen.add(plan.plan_key)
            plans.enqueue_dynamic_management(plan)


@declaration_changed.connect
def _on_declaration_changed(
    sender, declaration_ids=(), category_ids=(), status="", **extra
) -> None:
    """Re-rank the previews of the affected categories; an ended declaration, or one revised
    (perhaps below a plan's floor), is re-checked on the lists it leads (dynamic management:
    the job removes only leaders that lost their place)."""
    _enqueue_previews(_active_plans(category_ids))
    ids = sorted({int(i) for i in declaration_ids or ()})
    if status in ("ended", "published") and ids:
        _enqueue_dynamic(_plans_with_leaders(RunEntry.declaration_id.in_(ids)))


@compliance_changed.connect
def _on_compliance_changed(sender, enterprise_id=None, result="", **extra) -> None:
    """A non-conforming inspection or serious record excludes the enterprise (for the window)
    and removes its leaders from published lists."""
    if enterprise_id is None or result not in eligibility.BAD_RESULTS:
        return
    categories = db.session.scalars(
        select(Product.category_id)
        .join(DeclarationVersion, DeclarationVersion.id == Product.version_id)
        .join(Declaration, Declaration.current_version_id == DeclarationVersion.id)
        .where(
            Declaration.enterprise_id == enterprise_id,
            Declaration.status == DeclarationStatus.PUBLISHED,
        )
        .distinct()
    ).all()
    _enqueue_previews(_active_plans(categories))
    _enqueue_dynamic(_plans_with_leaders(RunEntry.enterprise_id == int(enterprise_id)))
