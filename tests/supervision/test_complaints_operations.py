"""supervision.complaints.operations: filing (who it is about, content limits, duplicates), routing to the
regulators of the enterprise's region, dismissal and complaint-triggered checks."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.exceptions import Forbidden

from core.errors import ValidationFailed
from core.extensions import db as _db
from core.models import Role
from declare import operations as declare_ops
from declare.queries import local_today
from supervision.complaints import operations as complaints
from supervision.models import Complaint, ComplaintStatus, InspectionOrigin
from tests.declare import enterprise_data
from tests.factories import valid_uscc
from tests.supervision.test_inspections_operations import (  # noqa: F401  (fixtures)
    BEIJING,
    CHONGQING,
    add_inspectors,
    en_request_fixture,
    published_in,
    world,
)

CONTENT = "该企业声明的 APF 值与产品能效标识不一致，疑似虚标。"


def inbox(user) -> list[str]:
    return [c.number for c in _db.session.scalars(complaints.complaints_for(user))]


def test_a_complaint_by_uscc_is_routed_to_the_enterprise_region(world, make_user):
    enterprise = world["enterprise"]
    complaint = complaints.file_complaint(
        {"enterprise_uscc": enterprise.uscc.lower(), "content": CONTENT,
         "contact": "13800000000"},
        fingerprint="f" * 64,
    )
    _db.session.commit()
    assert complaint.region_code == BEIJING and complaint.enterprise_id == enterprise.id
    assert complaint.status is ComplaintStatus.OPEN and complaint.declaration_id is None
    assert complaint.number == f"JB{BEIJING}-{local_today().year}-{complaint.id:06d}"
    # Routing: Beijing (province), Chaoyang district and Beijing city see it; others do not.
    assert inbox(world["beijing"]) == [complaint.number]
    assert inbox(make_user(Role.REGULATOR, region_code="110105")) == [complaint.number]
    assert inbox(make_user(Role.REGULATOR, region_code="110100")) == [complaint.number]
    assert inbox(world["chongqing"]) == []
    assert inbox(make_user(Role.REGULATOR, region_code="110108")) == []  # another district
    assert inbox(make_user(Role.REGULATOR, region_code="120000")) == []  # Tianjin


def test_a_complaint_about_a_declaration_names_its_enterprise(world):
    declaration = world["version"].declaration
    complaint = complaints.file_complaint({"declaration_id": declaration.id, "content": CONTENT})
    assert (complaint.enterprise_id, complaint.declaration_id) == (
        declaration.enterprise_id, declaration.id)
    by_id = complaints.file_complaint({"enterprise_id": world["enterprise"].id,
                                       "content": CONTENT + "（补充）"})
    assert by_id.region_code == BEIJING and by_id.contact == ""


@pytest.mark.parametrize(
    "data,key,phrase",
    [
        ({"content": CONTENT}, "enterprise_uscc", "Name the enterprise"),
        ({"enterprise_uscc": "__typo__", "content": CONTENT}, "enterprise_uscc",
         "check character"),
        ({"enterprise_uscc": "123", "content": CONTENT}, "enterprise_uscc", "18 characters"),
        ({"enterprise_uscc": valid_uscc("110105", 999999), "content": CONTENT},
         "enterprise_uscc", "is registered on the platform"),
        ({"enterprise_id": 99999, "content": CONTENT}, "enterprise_id", "No enterprise"),
        ({"enterprise_id": "abc", "content": CONTENT}, "enterprise_id", "whole number"),
        ({"declaration_id": 99999, "content": CONTENT}, "declaration_id",
         "No published declaration"),
        ({"enterprise_id": "__own__", "content": "太短"}, "content", "10 to 4000 characters"),
        ({"enterprise_id": "__own__", "content": "长" * 4001}, "content", "you wrote 4001"),
        ({"enterprise_id": "__own__", "content": CONTENT, "contact": "1" * 201}, "contact",
         "at most 200 characters"),
    ],
)
def test_bad_complaints_are_refused_with_the_field(world, data, key, phrase):
    if data.get("enterprise_id") == "__own__":
        data = {**data, "enterprise_id": world["enterprise"].id}
    if data.get("enterprise_uscc") == "__typo__":  # a wrong check character
        code = world["enterprise"].uscc
        data = {**data, "enterprise_uscc": code[:-1] + ("1" if code[-1] != "1" else "2")}
    with pytest.raises(ValidationFailed) as info:
        complaints.file_complaint(data)
    assert key in info.value.errors, info.value.errors
    assert any(phrase in m for m in info.value.errors[key]), info.value.errors[key]


def test_the_declaration_must_belong_to_the_named_enterprise_and_be_public(world):
    other_version, other_owner = published_in(CHONGQING, world["catalogue"])
    with pytest.raises(ValidationFailed) as info:
        complaints.file_complaint({"enterprise_uscc": world["enterprise"].uscc,
                                   "declaration_id": other_version.declaration_id,
                                   "content": CONTENT})
    assert "another enterprise" in info.value.errors["declaration_id"][0]
    draft = declare_ops.create_draft(
        other_owner.enterprise, enterprise_data(world["catalogue"], std_code="Q/SJX 0002-2025"))
    _db.session.commit()
    with pytest.raises(ValidationFailed) as info:  # a draft is not public: it does not exist
        complaints.file_complaint({"declaration_id": draft.declaration_id, "content": CONTENT})
    assert "No published declaration" in info.value.errors["declaration_id"][0]


def test_the_same_complaint_from_the_same_client_is_a_duplicate(world):
    data = {"enterprise_id": world["enterprise"].id, "content": CONTENT}
    first = complaints.file_complaint(data, fingerprint=complaints.fingerprint("203.0.113.9"))
    with pytest.raises(ValidationFailed) as info:
        complaints.file_complaint(data, fingerprint=complaints.fingerprint("203.0.113.9"))
    assert first.number in info.value.errors["content"][0]
    complaints.file_complaint(data, fingerprint=complaints.fingerprint("198.51.100.7"))
    assert complaints.fingerprint("203.0.113.9") != "203.0.113.9"  # the address is not kept
    assert len(complaints.fingerprint("203.0.113.9")) == 64


def test_dismissal_needs_a_reason_and_the_region(world):
    complaint = complaints.file_complaint({"enterprise_id": world["enterprise"].id,
                                           "content": CONTENT})
    with pytest.raises(Forbidden):
        complaints.dismiss(complaint, "不属实", user=world["chongqing"])
    with pytest.raises(ValidationFailed) as info:
        complaints.dismiss(complaint, " ", user=world["beijing"])
    assert "reason" in info.value.errors
    complaints.dismiss(complaint, "经核查，能效标识与声明一致", user=world["beijing"])
    assert complaint.status is ComplaintStatus.DISMISSED
    assert complaint.resolution == "经核查，能效标识与声明一致"
    assert complaint.handled_by_id == world["beijing"].id and complaint.handled_at is not None
    with pytest.raises(ValidationFailed) as info:
        complaints.dismiss(complaint, "再次", user=world["beijing"])
    assert "not open" in info.value.errors["_schema"][0]


def test_open_check_takes_a_declaration_of_the_enterprise(world):
    add_inspectors(world["beijing"], 3)
    complaint = complaints.file_complaint({"enterprise_id": world["enterprise"].id,
                                           "content": CONTENT})
    other_version, _ = published_in(CHONGQING, world["catalogue"])
    with pytest.raises(ValidationFailed) as info:
        complaints.open_check(complaint, user=world["beijing"],
                              declaration_id=other_version.declaration_id)
    assert "Choose a declaration of" in info.value.errors["declaration_id"][0]
    assert [d.id for d in complaints.checkable_declarations(complaint)] == [
        world["version"].declaration_id]
    check = complaints.open_check(complaint, user=world["beijing"],
                                  declaration_id=str(world["version"].declaration_id))
    assert check.origin is InspectionOrigin.COMPLAINT and len(check.inspector_ids) == 2
    assert complaint.status is ComplaintStatus.CHECK_OPENED


def test_a_declaration_no_longer_in_force_cannot_be_checked(world):
    add_inspectors(world["beijing"], 2)
    declaration = world["version"].declaration
    complaint = complaints.file_complaint({"declaration_id": declaration.id, "content": CONTENT})
    declare_ops.abolish(declaration, "产品停产")
    with pytest.raises(ValidationFailed) as info:
        complaints.open_check(complaint, user=world["beijing"])
    assert "not in force (abolished)" in info.value.errors["declaration_id"][0]
    assert _db.session.scalar(select(Complaint.status)) is ComplaintStatus.OPEN
