"""The 领跑者 label of a leader and its verification.

The label (PNG or PDF, drawn by ``declare.labels``) shows the year, the enterprise, the
standard, the product and its model, and a QR code of a verify URL
(``/leaders/verify/<entry id>``). The verify page answers from the *current* official list of
the plan, not from the list the label was made from: a leader removed later by dynamic
management (``ranking.publicity.record_removal``) stops verifying and the page says so, with
the day of the removal and its reason; a leader that is no longer on the current list at all
(a re-run after an objection) does not verify either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from sqlalchemy import func, select

from core.extensions import db
from declare.labels import Label
from declare.queries import DeclarationLabel, declaration_labels
from ranking import queries
from ranking.models import EvaluationPlan, RankingRun, RunEntry, RunKind, RunStatus

__all__ = ["Verification", "leader_label", "verify"]


def _labelled(entry_id: int):
    """(entry, run, DeclarationLabel) of an entry, in one query; None if unknown."""
    row = db.session.execute(
        declaration_labels(
            select(RunEntry, RankingRun).join(RankingRun, RankingRun.id == RunEntry.run_id),
            enterprise_id=RunEntry.enterprise_id,
            version_id=RunEntry.version_id,
            product_id=RunEntry.product_id,
        ).where(RunEntry.id == entry_id)
    ).first()
    if row is None:
        return None
    return row[0], row[1], DeclarationLabel.of(row)


def leader_label(entry_id: int) -> Label | None:
    """The label of a leader of a published official list; None for any other entry."""
    found = _labelled(entry_id)
    if found is None:
        return None
    entry, run, label = found
    if (
        run.kind is not RunKind.OFFICIAL
        or run.status is not RunStatus.PUBLISHED
        or not entry.is_leader
    ):
        return None
    return Label(
        title=f"{run.plan.year} 年度企业标准“领跑者”",
        lines=(
            label.enterprise,
            f"{label.standard_code} {label.standard_title}".strip(),
            label.product,
            label.model,
            run.plan.title,
        ),
        url=url_for("ranking.verify_leader", entry_id=entry.id, _external=True),
    )


@dataclass(frozen=True)
class Verification:
    """What the verify page says: ``state`` is "valid", "removed" or "not_leader"."""

    state: str
    year: int
    plan_title: str
    label: DeclarationLabel
    removed_on: datetime | None = None
    reason: str = ""
    current_run_id: int | None = None


def verify(entry_id: int) -> Verification | None:
    """The state today of the leader a label was made for; None if no such leader label."""
    found = _labelled(entry_id)
    if found is None:
        return None
    entry, run, label = found
    if run.kind is not RunKind.OFFICIAL or not (entry.is_leader or entry.removed_reason):
        return None
    plan = run.plan
    current = queries.current_run(plan.plan_key, RunKind.OFFICIAL)
    now = None
    if current is not None:
        now = db.session.scalar(
            select(RunEntry).where(
                RunEntry.run_id == current.id, RunEntry.declaration_id == entry.declaration_id
            )
        )
    base = {"year": plan.year, "plan_title": plan.title, "label": label,
            "current_run_id": current.id if current is not None else None}
    if now is not None and now.is_leader and current.status is RunStatus.PUBLISHED:
        return Verification("valid", **base)
    if now is not None and now.removed_reason:
        removed_on = db.session.scalar(
            select(func.min(RankingRun.created_at))
            .join(RunEntry, RunEntry.run_id == RankingRun.id)
            .join(EvaluationPlan, EvaluationPlan.id == RankingRun.plan_id)
            .where(
                EvaluationPlan.plan_key == plan.plan_key,
                RankingRun.kind == RunKind.OFFICIAL,
                RunEntry.declaration_id == entry.declaration_id,
                RunEntry.removed_reason != "",
            )
        )
        return Verification("removed", removed_on=removed_on, reason=now.removed_reason, **base)
    return Verification("not_leader", **base)
