"""Supervision notifications: a rectification order, its deadline 7 and 1 days ahead and
passed; a complaint's status to the complainant's e-mail; a publicised draw to the enterprises
it includes; a risk flag raised on one's declaration. Once per event, after the commit, never
on a rolled-back write."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from core import jobs
from core.extensions import db as _db
from core.models import Role, User
from core.notifications import Notification
from supervision.complaints import operations as complaints
from supervision.inspections import operations as inspections
from supervision.inspections import tasks as inspection_tasks
from supervision.models import DrawItem, RectificationStatus
from supervision.sampling import operations as draws
from tests.supervision.test_inspections_operations import (  # noqa: F401  (fixtures)
    en_request_fixture,
    result_data,
    world,
)
from tests.supervision.test_sampling_support import (  # noqa: F401  (fixtures)
    make_draw,
    make_plan,
    region_fixture,
)


def commit():
    _db.session.commit()
    jobs.dispatch_pending()


def of_kind(kind: str) -> list[Notification]:
    return list(_db.session.scalars(
        select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    ))


def order_nonconforming(world):
    insp = world["inspection"]
    inspections.record_result(insp, result_data("nonconforming", fail=["indicators_disclosed"]),
                              user=world["beijing"])
    return insp


def test_the_daily_run_is_one_job_per_kind(world):
    from core.models import OutboxJob

    insp = order_nonconforming(world)
    commit()
    before = _db.session.scalar(select(func.count(OutboxJob.id)))
    counts = inspections.deadline_reminders(insp.rectification.deadline - timedelta(days=3))
    commit()
    assert counts == {"due": 1, "passed": 0}
    assert _db.session.scalar(select(func.count(OutboxJob.id))) == before + 1


def test_a_rectification_order_notifies_the_enterprise_after_the_commit(world):
    insp = order_nonconforming(world)
    _db.session.flush()
    assert of_kind("rectification_ordered") == []
    commit()
    (note,) = of_kind("rectification_ordered")
    order = insp.rectification
    assert note.user_id == world["owner"].id
    assert note.params == {"number": insp.number, "deadline": order.deadline.isoformat(),
                           "order_id": order.id}


def test_a_rolled_back_result_orders_nothing_and_notifies_nobody(world):
    order_nonconforming(world)
    _db.session.rollback()
    jobs.discard_pending()
    commit()
    assert of_kind("rectification_ordered") == []


def test_deadline_reminders_seven_and_one_day_ahead_and_passed_each_once(world):
    insp = order_nonconforming(world)
    commit()
    order = insp.rectification
    deadline = order.deadline
    for days_before in (30, 8):  # too early: nothing
        inspections.deadline_reminders(deadline - timedelta(days=days_before))
        commit()
    assert of_kind("rectification_due") == []
    for day in (deadline - timedelta(days=7), deadline - timedelta(days=5),
                deadline - timedelta(days=1), deadline):
        inspections.deadline_reminders(day)
        commit()
    due = of_kind("rectification_due")
    assert [n.key.split(":")[2] for n in due] == ["d7", "d1"]  # day -5 and day 0: no repeat
    assert due[0].params["days"] == 7 and due[1].params["days"] == 1
    # Passed: the daily job and the nightly overdue marking name the same event.
    after = deadline + timedelta(days=1)
    inspections.mark_overdue(after)
    commit()
    inspection_tasks.deadline_reminders(after.isoformat())
    commit()
    _db.session.refresh(order)
    assert order.status is RectificationStatus.OVERDUE
    (passed,) = of_kind("rectification_overdue")
    assert passed.user_id == world["owner"].id and passed.key == f"order:{order.id}"
    # Long past (beyond the catch-up window): the daily run no longer looks at it.
    inspections.deadline_reminders(deadline + timedelta(days=inspections.CATCH_UP_DAYS + 1))
    commit()
    assert len(of_kind("rectification_overdue")) == 1


def test_an_extended_deadline_is_reminded_again(world):
    insp = order_nonconforming(world)
    commit()
    order = insp.rectification
    inspections.deadline_reminders(order.deadline - timedelta(days=7))
    commit()
    order.deadline += timedelta(days=14)
    commit()
    inspections.deadline_reminders(order.deadline - timedelta(days=7))
    commit()
    assert len(of_kind("rectification_due")) == 2


def test_the_complainant_hears_each_status_by_email(world, smtp_server):
    complaint = complaints.file_complaint(
        {"enterprise_id": world["enterprise"].id, "contact": "citizen@example.cn",
         "content": "该企业声明的 APF 值与产品能效标识不一致，疑似虚标。"})
    commit()
    (received,) = smtp_server.wait_for(1)
    assert received["To"] == "citizen@example.cn"
    assert received["Subject"] == (
        f"Complaint {complaint.number}: received and routed to the regulator")
    complaints.dismiss(complaint, "与能效标识一致", user=world["beijing"])
    commit()
    messages = smtp_server.wait_for(2)
    assert messages[1]["Subject"] == f"Complaint {complaint.number}: dismissed"
    assert [n.params["status"] for n in of_kind("complaint_status")] == ["open", "dismissed"]
    assert all(n.user_id is None for n in of_kind("complaint_status"))


def test_a_publicised_draw_notifies_the_enterprises_it_includes(region):
    plan = make_plan(region["regulator"])
    made = make_draw(plan, region["regulator"])
    items = list(_db.session.scalars(select(DrawItem).where(DrawItem.draw_id == made.id)))
    drawn = items[0].enterprise
    user = User(username="drawn", role=Role.ENTERPRISE, password_hash="x", enterprise=drawn)
    _db.session.add(user)
    commit()
    assert of_kind("draw_publicised") == []  # drawn, not yet public: nobody is told
    draws.publicise_draw(made, region["regulator"])
    commit()
    (note,) = of_kind("draw_publicised")
    assert (note.user_id, note.params["number"]) == (user.id, made.number)


def test_a_raised_flag_notifies_the_declaration_owner(world):
    from supervision.flags import operations as flags

    version = world["version"]
    # A complaint about the declaration raises "open_complaint" (the recompute job it starts).
    complaints.file_complaint({"declaration_id": version.declaration_id,
                               "content": "该企业声明的 APF 值与产品能效标识不一致，疑似虚标。"})
    commit()
    raised = flags.open_flags_of(version.declaration_id)
    assert "open_complaint" in {f.code for f in raised}
    notes = of_kind("flag_raised")
    assert {n.params["code"] for n in notes} == {f.code for f in raised}
    assert all(n.user_id == world["owner"].id for n in notes)
    assert notes[0].params["standard"] == version.number
    flags.recompute(declaration_ids=[version.declaration_id])  # nothing new: nothing more
    commit()
    assert len(of_kind("flag_raised")) == len(notes)
