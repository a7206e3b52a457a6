"""supervision.inspections.operations: the three result grades and their rule, compliance records,
rectification deadlines and follow-up, the nightly overdue marking, publication, region checks
and complaint-triggered checks with their inspectors.

The builders at the top (``world``, ``make_inspection``, ``result_data``, ``add_inspectors``) are
shared with the other inspection and complaint test modules.
"""

from __future__ import annotations

import gzip
import itertools
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden

from core.errors import ValidationFailed
from core.extensions import db as _db
from core.models import AuditLog, OutboxJob, Role
from declare.models import ComplianceRecord
from declare.queries import local_today
from supervision.inspections import operations as inspections
from supervision.models import (
    CHECKLIST,
    Complaint,
    ComplaintStatus,
    Draw,
    DrawItem,
    Inspection,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    Inspector,
    RectificationOrder,
    RectificationStatus,
    SamplingPlan,
    SelectionReason,
)
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.declare import publish_enterprise
from tests.factories import make_enterprise_user

BEIJING = "110105"  # 北京市朝阳区
CHONGQING = "500112"  # 重庆市渝北区
_numbers = itertools.count(1)


# --------------------------------------------------------------------------- builders


def published_in(region: str, catalogue: dict, **kw):
    """A published enterprise-standard declaration of a new enterprise in ``region``."""
    user = make_enterprise_user(region=region, **kw)
    return publish_enterprise(user.enterprise, catalogue), user


def make_inspection(version, regulator, *, origin=InspectionOrigin.RANDOM, inspector_ids=(),
                    complaint=None, draw_item=None, commit: bool = True) -> Inspection:
    """An assigned inspection of ``version``, as the sampling slice creates them."""
    declaration = version.declaration
    enterprise = declaration.enterprise
    inspection = Inspection(
        number=f"{regulator.region_code}-2026-{next(_numbers):04d}",
        origin=origin,
        regulator_id=regulator.id,
        declaration_id=declaration.id,
        version_id=version.id,
        enterprise_id=enterprise.id,
        region_code=enterprise.region_code,
        inspector_ids=list(inspector_ids),
        complaint_id=complaint.id if complaint is not None else None,
        draw_item_id=draw_item.id if draw_item is not None else None,
        status=InspectionStatus.ASSIGNED,
    )
    _db.session.add(inspection)
    if commit:
        _db.session.commit()
    return inspection


def result_data(result: str = "conforming", *, fail=(), na=(), findings=None,
                inspected_on: date | None = None, **extra) -> dict:
    """A result; each failed item gets a finding unless ``findings`` is given."""
    checklist = {
        item: "fail" if item in fail else "na" if item in na else "pass" for item in CHECKLIST
    }
    if findings is None:
        findings = [{"item": item, "text": f"{item} 不符合要求"} for item in fail]
    return {
        "result": result,
        "checklist": checklist,
        "findings": findings,
        "inspected_on": inspected_on or local_today(),
        **extra,
    }


def add_inspectors(regulator, count: int, *, tied_enterprise_ids=(), tied_region_codes=(),
                   first_tied: int = 0) -> list[Inspector]:
    """``count`` active inspectors of the regulator's pool; the first ``first_tied`` carry the
    given ties."""
    rows = []
    for i in range(count):
        tied = i < first_tied
        rows.append(
            Inspector(
                regulator_id=regulator.id,
                code=f"J{regulator.id:02d}{i:03d}",
                name=f"检查员{i}",
                tied_enterprise_ids=list(tied_enterprise_ids) if tied else [],
                tied_region_codes=list(tied_region_codes) if tied else [],
            )
        )
    _db.session.add_all(rows)
    _db.session.commit()
    return rows


@pytest.fixture
def world(db, catalogue, make_user, en_request):
    """An enterprise in Beijing (110105) with a published declaration, the Beijing regulator
    (110000), the Chongqing regulator (500000) and an assigned inspection."""
    version, owner = published_in(BEIJING, catalogue)
    beijing = make_user(Role.REGULATOR, region_code="110000")
    chongqing = make_user(Role.REGULATOR, region_code="500000")
    inspection = make_inspection(version, beijing)
    return {
        "catalogue": catalogue,
        "version": version,
        "owner": owner,
        "enterprise": owner.enterprise,
        "beijing": beijing,
        "chongqing": chongqing,
        "inspection": inspection,
    }


def compliance_of(enterprise) -> list[ComplianceRecord]:
    return list(
        _db.session.scalars(
            select(ComplianceRecord).where(ComplianceRecord.enterprise_id == enterprise.id)
        )
    )


# --------------------------------------------------------------------------- the three grades


def test_conforming_result_goes_onto_the_compliance_record_without_an_order(world):
    insp = world["inspection"]
    inspections.record_result(insp, result_data("conforming"), user=world["beijing"])
    _db.session.commit()
    assert (insp.status, insp.result) == (InspectionStatus.RECORDED, InspectionResult.CONFORMING)
    assert insp.checklist == dict.fromkeys(CHECKLIST, "pass") and insp.findings == []
    assert insp.recorded_at is not None and insp.inspected_on == local_today()
    [record] = compliance_of(world["enterprise"])
    assert (record.kind, record.result, record.reference) == ("inspection", "conforming",
                                                              insp.number)
    assert record.declaration_id == insp.declaration_id and insp.compliance_record_id == record.id
    assert insp.rectification is None


def test_defects_allow_a_failed_formal_item_and_need_a_finding(world):
    insp = world["inspection"]
    data = result_data("defects", fail=["drafting_format"], findings=[
        {"item": "drafting_format", "text": "前言缺少起草单位"},
        {"item": "number_and_name", "text": "标准名称与封面不一致"},  # a passed item may have a remark
    ])
    inspections.record_result(insp, data, user=world["beijing"])
    _db.session.commit()
    assert insp.result is InspectionResult.DEFECTS
    assert [f["item"] for f in insp.findings] == ["drafting_format", "number_and_name"]
    [record] = compliance_of(world["enterprise"])
    assert record.result == "defects" and "前言缺少起草单位" in record.details
    assert insp.rectification is None


def test_nonconforming_orders_rectification_with_the_default_deadline(world):
    insp = world["inspection"]
    today = local_today()
    data = result_data("nonconforming", fail=["mandatory_requirements"],
                       inspected_on=today - timedelta(days=0))
    inspections.record_result(insp, data, user=world["beijing"])
    _db.session.commit()
    order = insp.rectification
    assert insp.result is InspectionResult.NONCONFORMING
    assert (order.status, order.ordered_on, order.deadline) == (
        RectificationStatus.OPEN, today, today + timedelta(days=30))
    assert order.enterprise_id == world["enterprise"].id
    assert "mandatory_requirements 不符合要求" in order.requirements  # default: the findings
    [record] = compliance_of(world["enterprise"])
    assert (record.result, record.reference) == ("nonconforming", insp.number)


def test_formal_failures_alone_may_be_judged_nonconforming(world):
    insp = world["inspection"]
    inspections.record_result(
        insp, result_data("nonconforming", fail=["references_valid", "drafting_format"]),
        user=world["beijing"],
    )
    assert insp.result is InspectionResult.NONCONFORMING and insp.rectification is not None


REFUSALS = [
    # (result, fail, na, findings, the error key, a phrase of its message)
    ("conforming", ["drafting_format"], [], None, "result", "no item failed"),
    ("conforming", [], [], [{"item": "drafting_format", "text": "x"}], "result", "no findings"),
    ("defects", ["product_conformity"], [], None, "result", "A mandatory item failed"),
    ("defects", [], [], [], "findings", "at least one finding"),
    ("nonconforming", [], [], [{"item": "drafting_format", "text": "x"}], "result",
     "at least one failed checklist item"),
    ("nonconforming", ["mingshi_present"], [], [], "checklist.mingshi_present",
     "add a finding"),
    ("defects", [], ["mingshi_present"], [{"item": "mingshi_present", "text": "x"}],
     "findings.0.item", "not applicable"),
    ("defects", [], [], [{"item": "colour", "text": "x"}], "findings.0.item",
     "Tie the finding to a checklist item"),
    ("defects", [], [], [{"item": "drafting_format", "text": "  "}], "findings.0.text",
     "finding is empty"),
    ("excellent", [], [], [], "result", "Choose the result"),
]


@pytest.mark.parametrize("result,fail,na,findings,key,phrase", REFUSALS)
def test_results_inconsistent_with_the_checklist_are_refused(world, result, fail, na,
                                                             findings, key, phrase):
    insp = world["inspection"]
    with pytest.raises(ValidationFailed) as info:
        inspections.record_result(
            insp, result_data(result, fail=fail, na=na, findings=findings), user=world["beijing"]
        )
    assert key in info.value.errors, info.value.errors
    assert any(phrase in m for m in info.value.errors[key]), info.value.errors[key]
    _db.session.rollback()
    assert _db.session.get(Inspection, insp.id).status is InspectionStatus.ASSIGNED
    assert compliance_of(world["enterprise"]) == []


def test_every_checklist_item_needs_a_valid_value(world):
    data = result_data("conforming")
    del data["checklist"]["drafting_format"]
    data["checklist"]["number_and_name"] = "maybe"
    data["checklist"]["colour"] = "pass"
    with pytest.raises(ValidationFailed) as info:
        inspections.record_result(world["inspection"], data, user=world["beijing"])
    errors = info.value.errors
    assert "checklist.drafting_format" in errors and "checklist.number_and_name" in errors
    assert "Unknown checklist item(s): colour" in errors["checklist"][0]


def test_the_inspection_date_is_neither_in_the_future_nor_before_publication(world):
    insp = world["inspection"]
    with pytest.raises(ValidationFailed) as info:
        inspections.record_result(
            insp, result_data(inspected_on=local_today() + timedelta(days=1)),
            user=world["beijing"])
    assert "cannot be in the future" in info.value.errors["inspected_on"][0]
    with pytest.raises(ValidationFailed) as info:
        inspections.record_result(
            insp, result_data(inspected_on=date(2020, 1, 1)), user=world["beijing"])
    assert "before the inspected version was published" in info.value.errors["inspected_on"][0]
    with pytest.raises(ValidationFailed) as info:
        inspections.record_result(insp, result_data(inspected_on="22/11/2026"),
                                  user=world["beijing"])
    assert "yyyy-MM-dd" in info.value.errors["inspected_on"][0]


def test_a_recorded_result_is_final(world):
    insp = world["inspection"]
    inspections.record_result(insp, result_data("conforming"), user=world["beijing"])
    with pytest.raises(ValidationFailed) as info:
        inspections.record_result(insp, result_data("nonconforming", fail=["drafting_format"]),
                                  user=world["beijing"])
    assert "already recorded" in info.value.errors["_schema"][0]


# --------------------------------------------------------------------------- deadlines


def _draw_item(version, regulator, *, rectification_days: int) -> DrawItem:
    plan = SamplingPlan(
        regulator_id=regulator.id, name="2026 年企业标准抽查", region_code="110000",
        period_start=date(2026, 1, 1), period_end=date(2026, 12, 31),
        rectification_days=rectification_days,
    )
    draw = Draw(
        plan=plan, number=f"110000-2026-{next(_numbers):03d}", seed="1", method="test",
        params={}, population_hash="0" * 64, population_csv_gz=gzip.compress(b"id\n"),
        population_size=1, sample_size=1, drawn_by_id=regulator.id,
    )
    declaration = version.declaration
    item = DrawItem(
        draw=draw, position=0, declaration_id=declaration.id, version_id=version.id,
        enterprise_id=declaration.enterprise_id, region_code=declaration.enterprise.region_code,
        reason=SelectionReason.RANDOM, inclusion_probability=0.05,
    )
    _db.session.add_all([plan, draw, item])
    _db.session.commit()
    return item


def test_the_deadline_comes_from_the_sampling_plan_or_the_order(world):
    version, beijing = world["version"], world["beijing"]
    today = local_today()
    planned = make_inspection(version, beijing,
                              draw_item=_draw_item(version, beijing, rectification_days=45))
    inspections.record_result(planned, result_data("nonconforming", fail=["drafting_format"]),
                              user=beijing)
    assert planned.rectification.deadline == today + timedelta(days=45)

    inspections.record_result(
        world["inspection"],
        result_data("nonconforming", fail=["drafting_format"], rectification_days=10,
                    requirements="十日内修改标准文本并重新公开"),
        user=beijing,
    )
    order = world["inspection"].rectification
    assert order.deadline == today + timedelta(days=10)
    assert order.requirements == "十日内修改标准文本并重新公开"


@pytest.mark.parametrize("days", [0, 366, "ten"])
def test_a_rectification_period_out_of_range_is_refused(world, days):
    with pytest.raises(ValidationFailed) as info:
        inspections.record_result(
            world["inspection"],
            result_data("nonconforming", fail=["drafting_format"], rectification_days=days),
            user=world["beijing"],
        )
    assert "from 1 to 365" in info.value.errors["rectification_days"][0]


@pytest.mark.parametrize("app_config", [{"RECTIFICATION_DAYS": 20}])
def test_the_default_deadline_is_configurable(world, app_config):
    inspections.record_result(
        world["inspection"], result_data("nonconforming", fail=["drafting_format"]),
        user=world["beijing"])
    assert world["inspection"].rectification.deadline == local_today() + timedelta(days=20)


# --------------------------------------------------------------------------- follow-up


@pytest.fixture
def ordered(world):
    insp = world["inspection"]
    inspections.record_result(insp, result_data("nonconforming", fail=["indicators_disclosed"]),
                              user=world["beijing"])
    _db.session.commit()
    return insp.rectification


def test_the_enterprise_answers_its_own_order_and_the_regulator_closes_it(world, ordered):
    other = make_enterprise_user(region=BEIJING).enterprise
    with pytest.raises(Forbidden):
        inspections.answer_rectification(ordered, "已修改", enterprise=other)
    with pytest.raises(ValidationFailed) as info:
        inspections.answer_rectification(ordered, "  ", enterprise=world["enterprise"])
    assert "answer" in info.value.errors
    inspections.answer_rectification(ordered, "已补充公开性能指标", enterprise=world["enterprise"])
    assert (ordered.status, ordered.answer) == (RectificationStatus.ANSWERED, "已补充公开性能指标")
    assert ordered.answered_at is not None
    with pytest.raises(ValidationFailed) as info:
        inspections.close_rectification(ordered, "", user=world["beijing"])
    assert "follow_up" in info.value.errors
    with pytest.raises(Forbidden):
        inspections.close_rectification(ordered, "核查属实", user=world["chongqing"])
    inspections.close_rectification(ordered, "现场核查，已整改到位", user=world["beijing"])
    assert ordered.status is RectificationStatus.CLOSED and ordered.closed_at is not None
    with pytest.raises(ValidationFailed) as info:
        inspections.answer_rectification(ordered, "再次答复", enterprise=world["enterprise"])
    assert "closed" in info.value.errors["_schema"][0]


def test_an_order_is_marked_overdue_only_after_its_deadline(world, ordered):
    beijing = world["beijing"]
    with pytest.raises(ValidationFailed) as info:
        inspections.mark_order_overdue(ordered, user=beijing)
    assert "has not passed yet" in info.value.errors["_schema"][0]
    after = ordered.deadline + timedelta(days=1)
    inspections.answer_rectification(ordered, "已整改", enterprise=world["enterprise"])
    with pytest.raises(ValidationFailed) as info:  # rejecting an answer needs the reason
        inspections.mark_order_overdue(ordered, user=beijing, today=after)
    assert "follow_up" in info.value.errors
    inspections.mark_order_overdue(ordered, user=beijing, today=after,
                                   follow_up="答复未附修改后的标准文本")
    assert ordered.status is RectificationStatus.OVERDUE
    assert ordered.follow_up == "答复未附修改后的标准文本"
    # A late answer is still recorded.
    inspections.answer_rectification(ordered, "补充提交修改后的文本", enterprise=world["enterprise"])
    assert ordered.status is RectificationStatus.ANSWERED


def test_mark_overdue_marks_open_orders_past_their_deadline_in_one_statement(world, ordered):
    beijing, catalogue = world["beijing"], world["catalogue"]
    answered_version, answered_owner = published_in(BEIJING, catalogue)
    answered = make_inspection(answered_version, beijing)
    inspections.record_result(answered, result_data("nonconforming", fail=["drafting_format"]),
                              user=beijing)
    inspections.answer_rectification(answered.rectification, "已整改",
                                     enterprise=answered_owner.enterprise)
    _db.session.commit()
    deadline = ordered.deadline

    assert inspections.mark_overdue(deadline) == []  # the deadline day itself is still in time
    assert inspections.mark_overdue(deadline + timedelta(days=1)) == [ordered.id]
    _db.session.commit()
    statuses = dict(
        _db.session.execute(select(RectificationOrder.id, RectificationOrder.status)).all())
    assert statuses == {ordered.id: RectificationStatus.OVERDUE,
                        answered.rectification.id: RectificationStatus.ANSWERED}
    assert inspections.mark_overdue(deadline + timedelta(days=2)) == []  # idempotent
    audit = _db.session.scalar(
        select(AuditLog).where(AuditLog.actor_label == "job:supervision.inspections.mark_overdue"))
    assert audit.after["ids"] == [ordered.id] and audit.after["status"] == "overdue"


# --------------------------------------------------------------------------- publication


def test_publish_needs_a_recorded_result_and_happens_once(world):
    insp, beijing = world["inspection"], world["beijing"]
    with pytest.raises(ValidationFailed) as info:
        inspections.publish_result(insp, user=beijing)
    assert "Record the result before publishing" in info.value.errors["_schema"][0]
    inspections.record_result(insp, result_data("conforming"), user=beijing)
    inspections.publish_result(insp, user=beijing)
    assert insp.status is InspectionStatus.PUBLISHED and insp.published_at is not None
    with pytest.raises(ValidationFailed) as info:
        inspections.publish_result(insp, user=beijing)
    assert "already published" in info.value.errors["_schema"][0]


# --------------------------------------------------------------------------- region scoping


def test_a_regulator_of_another_region_cannot_act(world, make_user):
    insp, chongqing = world["inspection"], world["chongqing"]
    with pytest.raises(Forbidden):
        inspections.record_result(insp, result_data(), user=chongqing)
    with pytest.raises(Forbidden):
        inspections.publish_result(insp, user=chongqing)
    with pytest.raises(Forbidden):  # an enterprise account is not a regulator
        inspections.record_result(insp, result_data(), user=world["owner"])
    district = make_user(Role.REGULATOR, region_code="110105")  # the district itself may
    inspections.record_result(insp, result_data(), user=district)
    assert insp.status is InspectionStatus.RECORDED


def test_lists_are_scoped_by_region(world, make_user):
    version, _ = published_in(CHONGQING, world["catalogue"])
    make_inspection(version, world["chongqing"])
    beijing_ids = _db.session.scalars(inspections.inspections_for(world["beijing"])).all()
    chongqing_ids = _db.session.scalars(inspections.inspections_for(world["chongqing"])).all()
    assert [i.region_code for i in beijing_ids] == [BEIJING]
    assert [i.region_code for i in chongqing_ids] == [CHONGQING]
    tianjin = make_user(Role.REGULATOR, region_code="120000")
    assert _db.session.scalars(inspections.inspections_for(tianjin)).all() == []
    with pytest.raises(Forbidden):
        inspections.inspections_for(make_user(Role.REGULATOR, region_code=None))


# --------------------------------------------------------------------------- complaint checks


def make_complaint(enterprise, declaration=None) -> Complaint:
    complaint = Complaint(
        number=f"JB-{next(_numbers):05d}", enterprise_id=enterprise.id,
        declaration_id=declaration.id if declaration is not None else None,
        region_code=enterprise.region_code, content="能效标识与声明的指标不一致",
    )
    _db.session.add(complaint)
    _db.session.commit()
    return complaint


def test_a_complaint_check_is_labelled_and_gets_two_recused_inspectors(world):
    beijing, enterprise = world["beijing"], world["enterprise"]
    pool = add_inspectors(beijing, 6, tied_enterprise_ids=[enterprise.id], first_tied=2)
    pool[2].tied_region_codes = ["110100"]  # covers 110105: recused by region
    pool[3].active = False
    _db.session.commit()
    complaint = make_complaint(enterprise, world["version"].declaration)
    check = inspections.open_complaint_check(complaint, user=beijing, seed=20261122)
    _db.session.commit()
    assert check.origin is InspectionOrigin.COMPLAINT and check.complaint_id == complaint.id
    assert check.draw_item_id is None  # outside any draw
    assert check.number.startswith(f"JC{BEIJING}-")
    assert check.status is InspectionStatus.ASSIGNED
    assert (check.declaration_id, check.version_id) == (world["version"].declaration_id,
                                                        world["version"].id)
    assert len(check.inspector_ids) == 2 and set(check.inspector_ids) == {pool[4].id, pool[5].id}
    assert complaint.status is ComplaintStatus.CHECK_OPENED
    assert complaint.handled_by_id == beijing.id and "20261122" in complaint.resolution


def test_the_same_seed_gives_the_same_inspectors(world):
    beijing, enterprise = world["beijing"], world["enterprise"]
    add_inspectors(beijing, 8, tied_enterprise_ids=[enterprise.id], first_tied=1)
    picks = []
    for _ in range(2):
        complaint = make_complaint(enterprise, world["version"].declaration)
        check = inspections.open_complaint_check(complaint, user=beijing, seed=7)
        picks.append(check.inspector_ids)
    assert picks[0] == picks[1]
    seen = set()
    for seed in range(12):
        complaint = make_complaint(enterprise, world["version"].declaration)
        seen.update(inspections.open_complaint_check(complaint, user=beijing, seed=seed)
                    .inspector_ids)
    assert len(seen) > 2  # random: different seeds reach more of the pool


def test_a_complaint_check_without_enough_inspectors_is_refused(world):
    beijing, enterprise = world["beijing"], world["enterprise"]
    add_inspectors(beijing, 3, tied_enterprise_ids=[enterprise.id], first_tied=2)
    complaint = make_complaint(enterprise, world["version"].declaration)
    with pytest.raises(ValidationFailed) as info:
        inspections.open_complaint_check(complaint, user=beijing)
    message = info.value.errors["inspectors"][0]
    assert "at least 2 inspectors" in message and "has 1 who" in message and "2 recused" in message


def test_recording_a_complaint_check_closes_the_complaint(world):
    beijing, enterprise = world["beijing"], world["enterprise"]
    add_inspectors(beijing, 2)
    complaint = make_complaint(enterprise, world["version"].declaration)
    check = inspections.open_complaint_check(complaint, user=beijing, seed=1)
    inspections.record_result(check, result_data("defects", findings=[
        {"item": "drafting_format", "text": "格式不规范"}]), user=beijing)
    assert complaint.status is ComplaintStatus.CLOSED
    assert check.number in complaint.resolution and "defects" in complaint.resolution


@pytest.fixture
def recompute_calls(monkeypatch):
    """What is asked of ``supervision.flags.request_recompute`` (it enqueues the re-flagging
    job; the flags slice tests the job itself)."""
    from supervision.flags import operations as flags

    calls = []
    real = flags.request_recompute
    monkeypatch.setattr(flags, "request_recompute",
                        lambda ids: calls.append(sorted(ids)) or real(ids))
    return calls


def test_opening_and_closing_a_complaint_check_asks_for_flag_recomputation(world,
                                                                           recompute_calls):
    beijing, enterprise = world["beijing"], world["enterprise"]
    add_inspectors(beijing, 2)
    declaration_id = world["version"].declaration_id
    complaint = make_complaint(enterprise, world["version"].declaration)
    recompute_calls.clear()  # (the flags slice's commit hook saw the new complaint)
    check = inspections.open_complaint_check(complaint, user=beijing, seed=1)
    assert recompute_calls == [[declaration_id]]
    inspections.record_result(check, result_data(), user=beijing)
    assert recompute_calls[-1] == [declaration_id]  # the complaint closed
    _db.session.commit()
    jobs = _db.session.scalars(select(OutboxJob.args).where(
        OutboxJob.func == "supervision.flags.tasks.flags_for_declarations")).all()
    assert [declaration_id] in [args[0] for args in jobs]


def test_a_complaint_naming_no_declaration_flags_the_enterprise_declarations(world):
    second, _ = published_in(BEIJING, world["catalogue"])
    complaint = make_complaint(world["enterprise"])
    assert inspections.complaint_declarations(complaint) == [world["version"].declaration_id]
    complaint.declaration_id = second.declaration_id
    assert inspections.complaint_declarations(complaint) == [second.declaration_id]


def test_only_open_complaints_of_the_region_get_a_check(world):
    beijing, enterprise = world["beijing"], world["enterprise"]
    add_inspectors(beijing, 2)
    complaint = make_complaint(enterprise)  # names no declaration
    with pytest.raises(ValidationFailed) as info:
        inspections.open_complaint_check(complaint, user=beijing)
    assert "choose the declaration" in info.value.errors["declaration_id"][0]
    with pytest.raises(Forbidden):
        inspections.open_complaint_check(complaint, user=world["chongqing"],
                                         declaration=world["version"].declaration)
    inspections.open_complaint_check(complaint, user=beijing,
                                     declaration=world["version"].declaration)
    with pytest.raises(ValidationFailed) as info:
        inspections.open_complaint_check(complaint, user=beijing)
    assert "not open" in info.value.errors["_schema"][0]
    count = _db.session.scalar(select(func.count(Inspection.id)).where(
        Inspection.origin == InspectionOrigin.COMPLAINT))
    assert count == 1
