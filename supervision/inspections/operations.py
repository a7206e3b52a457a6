"""Inspections (检查), their results, rectification (整改) and complaint-triggered checks.

The only place that writes them. Operations flush, never commit (the request, job or CLI commits
once); refused input raises ``core.errors.ValidationFailed`` with field paths
(``"checklist.drafting_format"``, ``"findings.1.text"``), state errors use ``"_schema"``; an actor
outside the object's region or enterprise gets ``werkzeug.exceptions.Forbidden`` (views and the
API answer 404 before that, so ids reveal nothing).

CONTRACT (views, API, jobs and tests share these signatures):

    record_result(inspection, data, *, user, today=None) -> Inspection
    publish_result(inspection, *, user) -> Inspection                       # 一公开
    answer_rectification(order, answer, *, enterprise) -> RectificationOrder
    close_rectification(order, follow_up, *, user) -> RectificationOrder
    mark_order_overdue(order, *, user, follow_up="", today=None) -> RectificationOrder
    mark_overdue(today=None) -> list[int]        # nightly: open orders past their deadline
    open_complaint_check(complaint, *, user, declaration=None, seed=None) -> Inspection
    consistency_errors(result, checklist, findings) -> dict[str, list[str]]   # pure

Result data (the same dict from the record form and the API):

    {"result": "conforming" | "defects" | "nonconforming",
     "checklist": {item: "pass" | "fail" | "na"} for every item of models.CHECKLIST,
     "findings": [{"item": <checklist item>, "text": str}],
     "inspected_on": date | "yyyy-mm-dd",
     "requirements": str,                  # rectification requirements (不符合); default: findings
     "rectification_days": int | None}     # default: the sampling plan's, else RECTIFICATION_DAYS

The three grades (the rule ``consistency_errors`` enforces)
-----------------------------------------------------------

Checklist items are *mandatory* (a failure means the declared standard or the product breaks a
binding rule: technical requirements below a mandatory standard, function/performance indicators
not disclosed, a missing 明示, products that do not meet the declared standard) or *formal*
(number and name, normative references, drafting format: corrected without the standard being
wrong in substance). Every finding is tied to one checked item (not "na"); every failed item has
at least one finding saying what is wrong. Then:

* **符合 (conforming)**: no failed item and no finding.
* **符合但存在瑕疵 (defects)**: at least one finding; no *mandatory* item failed (formal items may).
* **不符合 (nonconforming)**: at least one failed item (hence a finding tied to a failed item).
  A failed mandatory item always means 不符合. Formal failures alone may also be judged 不符合.

Consequences: every result goes onto the enterprise's compliance record
(``declare.operations.record_compliance``, kind "inspection", result = the grade), which ranking
reads: a 不符合 removes the enterprise's leaders from published lists (dynamic management) and
excludes it from new runs for the plan's window. A 不符合 also orders rectification with a
deadline. A complaint-triggered check closes its complaint when its result is recorded.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import pandas as pd
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.orm import contains_eager, joinedload
from werkzeug.exceptions import Forbidden

from core.auth import region_covers, region_prefix
from core.clock import local_date, local_today
from core.errors import ValidationFailed
from core.extensions import db
from core.models import AuditLog, Role, User, utcnow
from core.notifications import notify_address, notify_each, notify_enterprises
from core.validation import Errors as _Errors
from core.validation import day as _date
from core.validation import text as _text
from declare import operations as declare_ops
from declare.models import Declaration, DeclarationStatus, DeclarationVersion, Enterprise
from supervision.flags import operations as flags
from supervision.sampling import method as sampling
from supervision.models import (
    CHECKLIST,
    Complaint,
    ComplaintStatus,
    Inspection,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    Inspector,
    RectificationOrder,
    RectificationStatus,
)

__all__ = [
    "CHECK_VALUES",
    "FORMAL_ITEMS",
    "MANDATORY_ITEMS",
    "answer_rectification",
    "close_rectification",
    "complaint_declarations",
    "consistency_errors",
    "findings_of",
    "in_region",
    "inspections_for",
    "inspector_names",
    "mark_order_overdue",
    "mark_overdue",
    "open_complaint_check",
    "publish_result",
    "published_results",
    "record_result",
    "rectification_days_for",
    "regulator_prefix",
    "result_counts",
    "request_flag_recompute",
    "require_regulator",
    "unique_placeholder",
]

GENERAL = "_schema"
CHECK_VALUES = ("pass", "fail", "na")
MANDATORY_ITEMS = (
    "mandatory_requirements",
    "indicators_disclosed",
    "mingshi_present",
    "product_conformity",
)
FORMAL_ITEMS = tuple(item for item in CHECKLIST if item not in MANDATORY_ITEMS)
DEFAULT_RECTIFICATION_DAYS = 30
RECTIFICATION_DAYS_RANGE = (1, 365)
FINDING_MAX = 1000
MAX_FINDINGS = 50
TEXT_MAX = 4000
INSPECTORS_PER_CHECK = 2

# Labels shared by the pages, the API's error messages and the compliance details.
CHECKLIST_LABELS = {
    "mandatory_requirements": _l("Technical requirements not below mandatory standards"),
    "number_and_name": _l("Standard number and name valid"),
    "indicators_disclosed": _l("Function and performance indicators disclosed"),
    "mingshi_present": _l("明示 present where an indicator is below a recommended standard"),
    "references_valid": _l("Normative references valid"),
    "drafting_format": _l("Drafting format (GB/T 1.1)"),
    "product_conformity": _l("Products conform to the declared standard"),
}
RESULT_LABELS = {
    "conforming": _l("Conforms (符合)"),
    "defects": _l("Conforms with defects (符合但存在瑕疵)"),
    "nonconforming": _l("Does not conform (不符合)"),
}


def _label(item: str) -> str:
    return str(CHECKLIST_LABELS.get(item, item))


def _items_text(items: Iterable[str]) -> str:
    return "; ".join(_label(i) for i in items)


def require_regulator(user: User | None, region_code: str) -> None:
    """Only a regulator whose region covers the object acts on it."""
    if not in_region(user, region_code):
        raise Forbidden(_("Only a regulator of the object's region may do this."))


def request_flag_recompute(declaration_ids: Iterable[int | None]) -> None:
    """Have these declarations re-flagged after the commit (the "open complaint" risk flag).

    ``supervision.flags.request_recompute`` enqueues the job; it reuses a waiting one.
    """
    ids = sorted({int(i) for i in declaration_ids if i is not None})
    if ids:
        flags.request_recompute(ids)


def complaint_declarations(complaint: Complaint) -> list[int]:
    """The declarations a complaint's risk flag sits on: the one it names, else every
    declaration in force of the enterprise (as ``supervision.flags.operations`` counts them)."""
    if complaint.declaration_id is not None:
        return [complaint.declaration_id]
    return list(
        db.session.scalars(
            select(Declaration.id).where(
                Declaration.enterprise_id == complaint.enterprise_id,
                Declaration.status == DeclarationStatus.PUBLISHED,
            )
        )
    )


# --------------------------------------------------------------------------- the result rule


def _clean_checklist(raw: Any, errors: _Errors) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        errors.add(
            "checklist",
            _("Give pass, fail or not applicable (na) for every checklist item: %(items)s.",
              items=", ".join(CHECKLIST)),
        )
        return {}
    unknown = sorted(str(k) for k in raw if k not in CHECKLIST)
    if unknown:
        errors.add(
            "checklist",
            _("Unknown checklist item(s): %(unknown)s; the items are: %(items)s.",
              unknown=", ".join(unknown), items=", ".join(CHECKLIST)),
        )
    checklist = {}
    for item in CHECKLIST:
        value = _text(raw.get(item)).lower()
        if value not in CHECK_VALUES:
            errors.add(
                f"checklist.{item}",
                _("Choose pass, fail or na (not applicable) for “%(item)s”.", item=_label(item)),
            )
        else:
            checklist[item] = value
    return checklist


def _clean_findings(raw: Any, errors: _Errors) -> list[dict]:
    if raw is None or raw == "":
        return []
    if not isinstance(raw, list | tuple):
        errors.add("findings", _("Findings are a list of {item, text}."))
        return []
    if len(raw) > MAX_FINDINGS:
        errors.add("findings", _("At most %(n)d findings.", n=MAX_FINDINGS))
    findings = []
    for i, row in enumerate(raw[:MAX_FINDINGS]):
        if not isinstance(row, Mapping):
            errors.add(f"findings.{i}", _("A finding has an item and a text."))
            continue
        item, text = _text(row.get("item")), _text(row.get("text"))
        ok = True
        if item not in CHECKLIST:
            errors.add(
                f"findings.{i}.item",
                _("Tie the finding to a checklist item: %(items)s.", items=", ".join(CHECKLIST)),
            )
            ok = False
        if not text:
            errors.add(f"findings.{i}.text", _("Say what is wrong (the finding is empty)."))
            ok = False
        elif len(text) > FINDING_MAX:
            errors.add(
                f"findings.{i}.text",
                _("A finding has at most %(n)d characters; this one has %(m)d.",
                  n=FINDING_MAX, m=len(text)),
            )
            ok = False
        if ok:
            findings.append({"item": item, "text": text, "position": i})
    return findings


def consistency_errors(
    result: str, checklist: Mapping[str, str], findings: list[Mapping]
) -> dict[str, list[str]]:
    """What makes a result inconsistent with its checklist and findings (the module's rule).

    ``checklist`` holds a valid value for every item; ``findings`` rows carry ``item`` and
    optionally their ``position`` in the submitted list (for the error path).
    """
    errors = _Errors()
    failed = [i for i in CHECKLIST if checklist.get(i) == "fail"]
    with_finding = {f["item"] for f in findings}
    for n, finding in enumerate(findings):
        if checklist.get(finding["item"]) == "na":
            errors.add(
                f"findings.{finding.get('position', n)}.item",
                _("“%(item)s” is marked not applicable; tie the finding to an item that was "
                  "checked.", item=_label(finding["item"])),
            )
    for item in failed:
        if item not in with_finding:
            errors.add(
                f"checklist.{item}",
                _("“%(item)s” failed: add a finding saying what is wrong.", item=_label(item)),
            )
    failed_mandatory = [i for i in failed if i in MANDATORY_ITEMS]
    if result == InspectionResult.CONFORMING.value:
        if failed:
            errors.add(
                "result",
                _("Conforms (符合) means no item failed, but these failed: %(items)s. Choose "
                  "“conforms with defects” or “does not conform”.", items=_items_text(failed)),
            )
        if findings:
            errors.add(
                "result",
                _("A conforming result has no findings; with findings choose “conforms with "
                  "defects” (or remove the findings)."),
            )
    elif result == InspectionResult.DEFECTS.value:
        if not findings:
            errors.add(
                "findings",
                _("Conforms with defects (符合但存在瑕疵) needs at least one finding tied to a "
                  "checklist item."),
            )
        if failed_mandatory:
            errors.add(
                "result",
                _("A mandatory item failed (%(items)s): the result is “does not conform” "
                  "(不符合), not “conforms with defects”.", items=_items_text(failed_mandatory)),
            )
    elif result == InspectionResult.NONCONFORMING.value:
        if not failed:
            errors.add(
                "result",
                _("Does not conform (不符合) needs at least one failed checklist item with its "
                  "finding."),
            )
    return dict(errors)


def rectification_days_for(inspection: Inspection) -> int:
    """The deadline in days: the sampling plan's, else the configured default (30)."""
    item = inspection.draw_item
    if item is not None and item.draw is not None and item.draw.plan is not None:
        days = item.draw.plan.rectification_days
        if days:
            return int(days)
    return int(current_app.config.get("RECTIFICATION_DAYS", DEFAULT_RECTIFICATION_DAYS))


def _clean_days(raw: Any, errors: _Errors) -> int | None:
    if raw is None or raw == "":
        return None
    low, high = RECTIFICATION_DAYS_RANGE
    try:
        days = int(str(raw).strip()) if not isinstance(raw, bool) else None
    except ValueError:
        days = None
    if days is None or not low <= days <= high:
        errors.add(
            "rectification_days",
            _("The rectification period is a whole number of days from %(low)d to %(high)d.",
              low=low, high=high),
        )
        return None
    return days


def _clean_result(inspection: Inspection, data: Mapping, today: date) -> dict:
    errors = _Errors()
    result = _text(data.get("result"))
    if result not in {r.value for r in InspectionResult}:
        errors.add(
            "result",
            _("Choose the result: conforming (符合), defects (符合但存在瑕疵) or nonconforming "
              "(不符合)."),
        )
    checklist = _clean_checklist(data.get("checklist"), errors)
    findings = _clean_findings(data.get("findings"), errors)
    day, ok = _date(data.get("inspected_on"))
    if not ok or day is None:
        errors.add("inspected_on", _("Enter the inspection date as yyyy-MM-dd."))
    elif day > today:
        errors.add(
            "inspected_on",
            _("The inspection date cannot be in the future (today is %(today)s).",
              today=today.isoformat()),
        )
    else:
        published = inspection.version.published_at if inspection.version is not None else None
        if published is not None:
            first = local_date(published)
            if day < first:
                errors.add(
                    "inspected_on",
                    _("The inspection date cannot be before the inspected version was "
                      "published (%(day)s).", day=first.isoformat()),
                )
    requirements = _text(data.get("requirements"))
    if len(requirements) > TEXT_MAX:
        errors.add("requirements", _("At most %(n)d characters.", n=TEXT_MAX))
    days = _clean_days(data.get("rectification_days"), errors)
    if result and len(checklist) == len(CHECKLIST) and not any(
        k.startswith("findings.") and k.endswith(".item") for k in errors
    ):
        for key, messages in consistency_errors(result, checklist, findings).items():
            for message in messages:
                errors.add(key, message)
    if errors:
        raise ValidationFailed(dict(errors))
    return {
        "result": InspectionResult(result),
        "checklist": checklist,
        "findings": [{"item": f["item"], "text": f["text"]} for f in findings],
        "inspected_on": day,
        "requirements": requirements,
        "rectification_days": days,
    }


def _details(findings: list[dict]) -> str:
    """The findings in one line for the compliance record (its reader has no checklist)."""
    return "; ".join(f"{_label(f['item'])}: {f['text']}" for f in findings)[:TEXT_MAX]


# --------------------------------------------------------------------------- operations


def record_result(
    inspection: Inspection, data: Mapping, *, user: User, today: date | None = None
) -> Inspection:
    """Record the result of an assigned inspection (see the module docstring for the rule).

    Writes the compliance record (ranking reacts to 不符合), orders rectification for 不符合
    and closes the complaint of a complaint-triggered check. A recorded result is final.
    """
    require_regulator(user, inspection.region_code)
    today = today or local_today()
    if inspection.status is not InspectionStatus.ASSIGNED:
        raise ValidationFailed(
            {GENERAL: [_("The result of inspection %(number)s is already recorded; a recorded "
                         "result is not changed.", number=inspection.number)]}
        )
    clean = _clean_result(inspection, data, today)
    inspection.result = clean["result"]
    inspection.checklist = clean["checklist"]
    inspection.findings = clean["findings"]
    inspection.inspected_on = clean["inspected_on"]
    inspection.status = InspectionStatus.RECORDED
    inspection.recorded_at = utcnow()
    record = declare_ops.record_compliance(
        inspection.enterprise,
        kind="inspection",
        result=clean["result"].value,
        occurred_on=clean["inspected_on"],
        reference=inspection.number,
        details=_details(clean["findings"]),
        declaration=inspection.declaration,
    )
    inspection.compliance_record_id = record.id
    if clean["result"] is InspectionResult.NONCONFORMING:
        _order_rectification(inspection, clean, today)
    if inspection.complaint is not None and inspection.complaint.status is (
        ComplaintStatus.CHECK_OPENED
    ):
        complaint = inspection.complaint
        complaint.status = ComplaintStatus.CLOSED
        complaint.handled_at = utcnow()
        note = _("Check %(number)s recorded: %(result)s.",
                 number=inspection.number, result=str(RESULT_LABELS[clean["result"].value]))
        complaint.resolution = f"{complaint.resolution}\n{note}".strip()
    db.session.flush()
    if inspection.rectification is not None:
        notify_order(inspection.rectification, "rectification_ordered")
    if inspection.complaint is not None:
        notify_complainant(inspection.complaint)
        request_flag_recompute(complaint_declarations(inspection.complaint))
    return inspection


def notify_order(order: RectificationOrder, kind: str, key: str | None = None, **extra) -> None:
    """Tell the enterprise's accounts about its rectification order (after the commit)."""
    notify_enterprises(
        [order.enterprise_id], kind, key or f"order:{order.id}",
        number=order.inspection.number, deadline=order.deadline.isoformat(),
        order_id=order.id, **extra,
    )


def notify_complainant(complaint: Complaint) -> None:
    """E-mail the complaint's new status to the contact it left (if an e-mail address)."""
    notify_address(complaint.contact, "complaint_status",
                   f"complaint:{complaint.id}:{complaint.status.value}",
                   number=complaint.number, status=complaint.status.value)


def _order_rectification(inspection: Inspection, clean: dict, today: date) -> RectificationOrder:
    days = clean["rectification_days"] or rectification_days_for(inspection)
    failed = [f for f in clean["findings"] if inspection.checklist.get(f["item"]) == "fail"]
    requirements = clean["requirements"] or "\n".join(
        f"{_label(f['item'])}: {f['text']}" for f in failed
    )
    order = RectificationOrder(
        inspection=inspection,
        enterprise_id=inspection.enterprise_id,
        requirements=requirements[:TEXT_MAX],
        ordered_on=today,
        deadline=today + timedelta(days=days),
        status=RectificationStatus.OPEN,
    )
    db.session.add(order)
    return order


def publish_result(inspection: Inspection, *, user: User) -> Inspection:
    """Put a recorded result on the public results page (一公开), dated now."""
    require_regulator(user, inspection.region_code)
    if inspection.status is InspectionStatus.PUBLISHED:
        raise ValidationFailed(
            {GENERAL: [_("Inspection %(number)s is already published.", number=inspection.number)]}
        )
    if inspection.status is not InspectionStatus.RECORDED:
        raise ValidationFailed(
            {GENERAL: [_("Record the result before publishing it.")]}
        )
    inspection.status = InspectionStatus.PUBLISHED
    inspection.published_at = utcnow()
    db.session.flush()
    return inspection


def answer_rectification(
    order: RectificationOrder, answer: str, *, enterprise: Enterprise
) -> RectificationOrder:
    """The enterprise reports what it changed. It may revise its answer until the order is
    closed; a late answer (after the deadline, or once marked overdue) is still recorded and
    its date shows it was late."""
    if enterprise is None or order.enterprise_id != enterprise.id:
        raise Forbidden(_("Only the enterprise the order is addressed to may answer it."))
    answer = _text(answer)
    errors = _Errors()
    if order.status is RectificationStatus.CLOSED:
        errors.add(GENERAL, _("This rectification order is closed; it takes no more answers."))
    if not answer:
        errors.add("answer", _("Describe what was rectified (the answer is empty)."))
    elif len(answer) > TEXT_MAX:
        errors.add("answer", _("At most %(n)d characters.", n=TEXT_MAX))
    if errors:
        raise ValidationFailed(dict(errors))
    order.answer = answer
    order.answered_at = utcnow()
    order.status = RectificationStatus.ANSWERED
    db.session.flush()
    return order


def _follow_up(text: Any, *, required: bool, errors: _Errors) -> str:
    text = _text(text)
    if required and not text:
        errors.add("follow_up", _("Say what the follow-up found (required)."))
    elif len(text) > TEXT_MAX:
        errors.add("follow_up", _("At most %(n)d characters.", n=TEXT_MAX))
    return text


def close_rectification(
    order: RectificationOrder, follow_up: str, *, user: User
) -> RectificationOrder:
    """The follow-up verified the rectification (on the answer or on site): the order closes."""
    require_regulator(user, order.inspection.region_code)
    errors = _Errors()
    if order.status is RectificationStatus.CLOSED:
        errors.add(GENERAL, _("This rectification order is already closed."))
    text = _follow_up(follow_up, required=True, errors=errors)
    if errors:
        raise ValidationFailed(dict(errors))
    order.follow_up = text
    order.status = RectificationStatus.CLOSED
    order.closed_at = utcnow()
    db.session.flush()
    return order


def mark_order_overdue(
    order: RectificationOrder, *, user: User, follow_up: str = "", today: date | None = None
) -> RectificationOrder:
    """The deadline passed without an accepted answer. Marking an *answered* order overdue
    rejects the answer, so it needs the reason."""
    require_regulator(user, order.inspection.region_code)
    today = today or local_today()
    errors = _Errors()
    if order.status not in (RectificationStatus.OPEN, RectificationStatus.ANSWERED):
        errors.add(
            GENERAL,
            _("Only an open or answered order can be marked overdue (this one is %(status)s).",
              status=order.status.value),
        )
    elif order.deadline >= today:
        errors.add(
            GENERAL,
            _("The deadline (%(day)s) has not passed yet.", day=order.deadline.isoformat()),
        )
    answered = order.status is RectificationStatus.ANSWERED
    text = _follow_up(follow_up, required=answered, errors=errors)
    if errors:
        raise ValidationFailed(dict(errors))
    order.status = RectificationStatus.OVERDUE
    if text:
        order.follow_up = text
    db.session.flush()
    notify_order(order, "rectification_overdue")
    return order


def mark_overdue(today: date | None = None) -> list[int]:
    """Every open order whose deadline passed before ``today`` becomes overdue (set-based).

    Meant for a nightly job; idempotent. Answered orders wait for the regulator's follow-up and
    are left alone. Bulk writes bypass the audit flush hook, so one summary row is logged.
    """
    today = today or local_today()
    ids = list(
        db.session.scalars(
            select(RectificationOrder.id)
            .where(
                RectificationOrder.status == RectificationStatus.OPEN,
                RectificationOrder.deadline < today,
            )
            .order_by(RectificationOrder.id)
        )
    )
    if not ids:
        return []
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        db.session.execute(
            update(RectificationOrder)
            .where(
                RectificationOrder.id.in_(chunk),
                RectificationOrder.status == RectificationStatus.OPEN,
            )
            .values(status=RectificationStatus.OVERDUE)
            .execution_options(synchronize_session="fetch")
        )
    db.session.execute(
        insert(AuditLog).values(
            at=utcnow(),
            actor_id=None,
            actor_label="job:supervision.inspections.mark_overdue",
            action="update",
            entity=RectificationOrder.__tablename__,
            entity_id="bulk",
            before={"status": "open"},
            after={"status": "overdue", "ids": ids[:200], "count": len(ids),
                   "today": today.isoformat()},
        )
    )
    notify_each("rectification_overdue", [
        _order_event(order, f"order:{order.id}")
        for start in range(0, len(ids), 1000)
        for order in db.session.scalars(
            select(RectificationOrder).where(RectificationOrder.id.in_(ids[start : start + 1000]))
            .options(joinedload(RectificationOrder.inspection))
        )
    ])
    return ids


REMIND_DAYS = (7, 1)  # days before the deadline
CATCH_UP_DAYS = 7  # a deadline passed this many days ago is still announced (a missed run)


def _order_event(order: RectificationOrder, key: str, **extra) -> tuple[int, str, dict]:
    return (order.enterprise_id, key, {"number": order.inspection.number,
                                       "deadline": order.deadline.isoformat(),
                                       "order_id": order.id, **extra})


def deadline_reminders(today: date | None = None) -> dict[str, int]:
    """Remind enterprises of open rectification deadlines 7 and 1 days ahead, and of those
    passed (up to ``CATCH_UP_DAYS`` ago). Run daily; an event notifies once (the key of a
    reminder holds the deadline, so an extended deadline is reminded again), and a day missed
    is caught up on the next run. One job per kind, however many orders."""
    today = today or local_today()
    due, passed = [], []
    orders = db.session.scalars(
        select(RectificationOrder)
        .where(
            RectificationOrder.status.in_(
                [RectificationStatus.OPEN, RectificationStatus.OVERDUE]
            ),
            RectificationOrder.deadline <= today + timedelta(days=max(REMIND_DAYS)),
            RectificationOrder.deadline >= today - timedelta(days=CATCH_UP_DAYS),
        )
        .options(joinedload(RectificationOrder.inspection))
        .order_by(RectificationOrder.id)
    )
    for order in orders:
        left = (order.deadline - today).days
        if left < 0:
            passed.append(_order_event(order, f"order:{order.id}"))
        elif order.status is RectificationStatus.OPEN:
            step = min(d for d in REMIND_DAYS if left <= d)
            due.append(_order_event(
                order, f"order:{order.id}:d{step}:{order.deadline.isoformat()}", days=left))
    return {"due": notify_each("rectification_due", due),
            "passed": notify_each("rectification_overdue", passed)}


# --------------------------------------------------------------------------- complaint checks


def _pool(user: User, region_code: str) -> tuple[pd.DataFrame, int]:
    """The regulator's active inspectors who may check an object in ``region_code``.

    Inspectors tied to the object's region (or a region containing it) are taken out here;
    ties to the enterprise are left to ``sampling.assign_inspectors``. Returns the table and
    how many were recused by region.
    """
    rows = db.session.execute(
        select(Inspector.id, Inspector.tied_enterprise_ids, Inspector.tied_region_codes)
        .where(Inspector.regulator_id == user.id, Inspector.active.is_(True))
        .order_by(Inspector.id)
    ).all()
    keep = [
        (i, list(tied or []))
        for i, tied, regions in rows
        if not any(region_covers(str(r), region_code) for r in (regions or []))
    ]
    frame = pd.DataFrame(
        {
            "id": [i for i, _tied in keep],
            "region": [None] * len(keep),
            "tied_enterprise_ids": [tied for _i, tied in keep],
        }
    )
    return frame, len(rows) - len(keep)


def _assign(user: User, enterprise: Enterprise, seed: int) -> list[int]:
    inspectors, recused_by_region = _pool(user, enterprise.region_code)
    tied = sum(
        1 for ties in inspectors["tied_enterprise_ids"]
        if str(enterprise.id) in {str(t) for t in ties}
    )
    eligible = len(inspectors) - tied
    if eligible < INSPECTORS_PER_CHECK:
        raise ValidationFailed(
            {"inspectors": [_(
                "A check needs at least %(n)d inspectors; your active pool has %(eligible)d who "
                "may check this enterprise (%(recused)d recused: tied to the enterprise or its "
                "region). Add inspectors to the pool.",
                n=INSPECTORS_PER_CHECK, eligible=max(eligible, 0),
                recused=tied + recused_by_region,
            )]}
        )
    objects = pd.DataFrame(
        {"id": [0], "enterprise_id": [enterprise.id], "region": [enterprise.region_code]}
    )
    assignment = sampling.assign_inspectors(
        objects, inspectors, per_object=INSPECTORS_PER_CHECK, seed=seed
    )
    return sorted(int(i) for i in assignment["inspector_id"])


def _checkable(complaint: Complaint, declaration: Declaration | None) -> Declaration:
    declaration = declaration or complaint.declaration
    if declaration is None:
        raise ValidationFailed(
            {"declaration_id": [_("The complaint names no declaration: choose the declaration of "
                                  "%(name)s to check.", name=complaint.enterprise.name)]}
        )
    if declaration.enterprise_id != complaint.enterprise_id:
        raise ValidationFailed(
            {"declaration_id": [_("The declaration belongs to another enterprise; choose one of "
                                  "%(name)s.", name=complaint.enterprise.name)]}
        )
    if declaration.status is not DeclarationStatus.PUBLISHED or declaration.current_version is None:
        raise ValidationFailed(
            {"declaration_id": [_("The declaration is not in force (%(status)s); choose one in "
                                  "force or dismiss the complaint.",
                                  status=declaration.status.value)]}
        )
    return declaration


def unique_placeholder() -> str:
    """A temporary unique number; the real one is made from the row id after the insert, so
    two concurrent requests never compute the same number."""
    return uuid.uuid4().hex


def open_complaint_check(
    complaint: Complaint,
    *,
    user: User,
    declaration: Declaration | None = None,
    seed: int | None = None,
) -> Inspection:
    """A complaint-triggered check (举报触发): outside any random draw and labelled so.

    Inspects the declaration the complaint names (or ``declaration``, one of the enterprise's
    declarations in force), with ``INSPECTORS_PER_CHECK`` inspectors drawn from the regulator's
    active pool by ``sampling.assign_inspectors`` (random, recused from the enterprise and from
    their tied regions). The seed (random unless given) is written into the complaint's
    resolution so the assignment can be redone.
    """
    require_regulator(user, complaint.region_code)
    if complaint.status is not ComplaintStatus.OPEN:
        raise ValidationFailed(
            {GENERAL: [_("Complaint %(number)s is not open (%(status)s); a check is opened only "
                         "for an open complaint.", number=complaint.number,
                         status=complaint.status.value)]}
        )
    declaration = _checkable(complaint, declaration)
    seed = secrets.randbits(64) if seed is None else int(seed)
    inspector_ids = _assign(user, complaint.enterprise, seed)
    inspection = Inspection(
        number=unique_placeholder(),
        origin=InspectionOrigin.COMPLAINT,
        complaint_id=complaint.id,
        regulator_id=user.id,
        declaration_id=declaration.id,
        version_id=declaration.current_version_id,
        enterprise_id=complaint.enterprise_id,
        region_code=complaint.enterprise.region_code,
        inspector_ids=inspector_ids,
        status=InspectionStatus.ASSIGNED,
    )
    db.session.add(inspection)
    db.session.flush()
    inspection.number = f"JC{complaint.region_code}-{local_today().year}-{inspection.id:06d}"
    complaint.status = ComplaintStatus.CHECK_OPENED
    notify_complainant(complaint)
    complaint.handled_by_id = user.id
    complaint.handled_at = utcnow()
    complaint.resolution = _(
        "Complaint-triggered check %(number)s opened (outside the random draw); inspectors "
        "drawn at random with seed %(seed)s.", number=inspection.number, seed=seed,
    )
    db.session.flush()
    request_flag_recompute(complaint_declarations(complaint))
    return inspection


# --------------------------------------------------------------------------- reads


def regulator_prefix(user: User | None) -> str:
    """The 行政区划 prefix a regulator's lists are filtered by ("11" for 110000)."""
    if user is None or user.role is not Role.REGULATOR:
        raise Forbidden(_("Only a regulator may do this."))
    try:
        return region_prefix(user.region_code or "")
    except ValueError:
        raise Forbidden(
            _("Your account has no valid region (行政区划 code); ask the platform operator.")
        ) from None


def in_region(user: User | None, region_code: str | None) -> bool:
    return (
        user is not None
        and user.role is Role.REGULATOR
        and region_covers(user.region_code, region_code)
    )


def inspections_for(
    user: User,
    *,
    status: str | None = None,
    result: str | None = None,
    origin: str | None = None,
) -> Select:
    """The inspections of the regulator's region, newest first (a ``LIKE prefix%`` filter on
    the indexed region code), with enterprise and version loaded in the same query."""
    stmt = (
        select(Inspection)
        .where(Inspection.region_code.startswith(regulator_prefix(user)))
        .options(
            joinedload(Inspection.enterprise),
            joinedload(Inspection.version).joinedload(DeclarationVersion.standard),
            joinedload(Inspection.rectification),
        )
        .order_by(Inspection.created_at.desc(), Inspection.id.desc())
    )
    if status in {s.value for s in InspectionStatus}:
        stmt = stmt.where(Inspection.status == InspectionStatus(status))
    if result in {r.value for r in InspectionResult}:
        stmt = stmt.where(Inspection.result == InspectionResult(result))
    if origin in {o.value for o in InspectionOrigin}:
        stmt = stmt.where(Inspection.origin == InspectionOrigin(origin))
    return stmt


def findings_of(enterprise: Enterprise) -> list[Inspection]:
    """The recorded and published results against one enterprise, with their orders."""
    return list(
        db.session.scalars(
            select(Inspection)
            .where(
                Inspection.enterprise_id == enterprise.id,
                Inspection.status.in_((InspectionStatus.RECORDED, InspectionStatus.PUBLISHED)),
            )
            .options(
                joinedload(Inspection.version).joinedload(DeclarationVersion.standard),
                joinedload(Inspection.rectification),
            )
            .order_by(Inspection.recorded_at.desc(), Inspection.id.desc())
        ).unique()
    )


def published_results(*, result: str | None = None, q: str | None = None) -> Select:
    """Published results (一公开), newest publication first; ``q`` matches the enterprise name,
    its USCC or the inspection number."""
    stmt = (
        select(Inspection)
        .join(Enterprise, Enterprise.id == Inspection.enterprise_id)
        .where(Inspection.status == InspectionStatus.PUBLISHED)
        .options(
            contains_eager(Inspection.enterprise),
            joinedload(Inspection.version).joinedload(DeclarationVersion.standard),
        )
        .order_by(Inspection.published_at.desc(), Inspection.id.desc())
    )
    if result in {r.value for r in InspectionResult}:
        stmt = stmt.where(Inspection.result == InspectionResult(result))
    q = _text(q)[:100]
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(
            or_(Enterprise.name.like(like), Enterprise.uscc.like(like),
                Inspection.number.like(like))
        )
    return stmt


def result_counts() -> dict[str, int]:
    """Published results by grade, in one GROUP BY (every grade present, zeros included)."""
    rows = db.session.execute(
        select(Inspection.result, func.count(Inspection.id))
        .where(Inspection.status == InspectionStatus.PUBLISHED)
        .group_by(Inspection.result)
    ).all()
    counts = {r.value: 0 for r in InspectionResult}
    for result, n in rows:
        if result is not None:
            counts[result.value] = int(n)
    return counts


def inspector_names(inspections: Iterable[Inspection]) -> dict[int, str]:
    """Names of the inspectors of these inspections, in one query."""
    ids = {int(i) for insp in inspections for i in (insp.inspector_ids or [])}
    if not ids:
        return {}
    rows = db.session.execute(
        select(Inspector.id, Inspector.name, Inspector.code).where(Inspector.id.in_(ids))
    )
    return {i: f"{name} ({code})" for i, name, code in rows}
