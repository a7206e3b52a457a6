"""The complaint pages: the public form (no login, CSRF, rate-limited per client address, 422
with the message on the field), the regulator's inbox (routing by region) and a complaint's page
(dismiss, open a check), with 404 outside the region."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from core.models import Role
from supervision.complaints import operations as complaints
from supervision.models import Complaint, ComplaintStatus, Inspection, InspectionOrigin
from tests.conftest import CSRF_RE
from tests.supervision.test_inspections_operations import (  # noqa: F401  (fixtures)
    BEIJING,
    add_inspectors,
    en_request_fixture,
    published_in,
    world,
)

URL = "/supervision/inspections/complaints"
CONTENT = "产品铭牌标注的噪声值高于其声明的企业标准。"


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


def count() -> int:
    return _db.session.scalar(select(func.count(Complaint.id)))


def file(world, **extra) -> Complaint:
    complaint = complaints.file_complaint(
        {"enterprise_id": world["enterprise"].id, "content": CONTENT, **extra})
    _db.session.commit()
    return complaint


# --------------------------------------------------------------------------- public form


def test_anyone_files_a_complaint_by_uscc(client, world):
    assert client.get(f"{URL}/new").status_code == 200
    resp = client.post(f"{URL}/new", data={
        "enterprise_uscc": world["enterprise"].uscc, "content": CONTENT, "contact": "a@b.cn"})
    assert resp.status_code == 302
    complaint = _db.session.scalar(select(Complaint))
    assert (complaint.enterprise_id, complaint.region_code) == (world["enterprise"].id, BEIJING)
    assert complaint.contact == "a@b.cn" and len(complaint.submitter_fingerprint) == 64
    html = text_of(client.get(resp.headers["Location"]))
    assert complaint.number in html  # the receipt number, flashed once


def test_a_link_from_a_declaration_names_what_the_complaint_is_about(client, world):
    declaration = world["version"].declaration
    html = text_of(client.get(f"{URL}/new?declaration={declaration.id}"))
    assert 'id="complaint-subject"' in html and world["enterprise"].name in html
    assert world["version"].number in html and 'name="enterprise_uscc"' not in html
    resp = client.post(f"{URL}/new?declaration={declaration.id}", data={
        "declaration_id": str(declaration.id), "content": CONTENT})
    assert resp.status_code == 302
    assert _db.session.scalar(select(Complaint.declaration_id)) == declaration.id


def test_bad_input_re_renders_with_the_message_on_the_field(client, world):
    resp = client.post(f"{URL}/new?lang=en", data={"enterprise_uscc": "91110105MA", "content": "短"})
    assert resp.status_code == 422
    html = text_of(resp)
    assert "A unified social credit code has 18 characters" in html
    resp = client.post(f"{URL}/new?lang=en", data={
        "enterprise_uscc": world["enterprise"].uscc, "content": "短"})
    assert resp.status_code == 422
    html = text_of(resp)
    field = html[html.index('name="content"') - 400:]
    assert "10 to 4000 characters; you wrote 1" in field[:1500]
    assert 'value="%s"' % world["enterprise"].uscc in html  # what was typed is kept
    assert count() == 0


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "COMPLAINT_RATE_LIMIT": "2 per minute"}]
)
def test_complaints_are_rate_limited_per_client(client, world, app_config):
    data = {"enterprise_uscc": world["enterprise"].uscc}
    codes = [client.post(f"{URL}/new", data={**data, "content": f"{CONTENT}（第{i}次）"}).status_code
             for i in range(3)]
    assert codes == [302, 302, 429]
    assert client.get(f"{URL}/new").status_code == 200  # reading is not limited
    other = client.post(f"{URL}/new", data={**data, "content": CONTENT + "（另一地址）"},
                        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 302  # another client has its own allowance
    assert count() == 3


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_public_form_needs_its_csrf_token(client, world, app_config):
    data = {"enterprise_uscc": world["enterprise"].uscc, "content": CONTENT}
    assert client.post(f"{URL}/new", data=data).status_code == 400
    token = CSRF_RE.search(text_of(client.get(f"{URL}/new"))).group(1)
    assert client.post(f"{URL}/new", data={**data, "csrf_token": token}).status_code == 302
    assert count() == 1


# --------------------------------------------------------------------------- inbox


def test_the_inbox_of_the_enterprise_region_shows_the_complaint(client, world, login_as,
                                                                make_user):
    complaint = file(world)
    login_as(world["beijing"])
    html = text_of(client.get(URL))
    assert complaint.number in html and CONTENT in html
    login_as(make_user(Role.REGULATOR, region_code="110105"))
    assert complaint.number in text_of(client.get(URL))
    login_as(world["chongqing"])
    html = text_of(client.get(URL))
    assert complaint.number not in html and CONTENT not in html
    assert client.get(f"{URL}/{complaint.id}").status_code == 404
    assert client.post(f"{URL}/{complaint.id}/dismiss",
                       data={"reason": "不属实"}).status_code == 404
    assert client.post(f"{URL}/{complaint.id}/open-check").status_code == 404
    _db.session.expire_all()
    assert complaint.status is ComplaintStatus.OPEN


def test_the_inbox_filters_by_status(client, world, login_as):
    kept = file(world)
    dismissed = file(world, content=CONTENT + "（重复）")
    complaints.dismiss(dismissed, "重复举报", user=world["beijing"])
    _db.session.commit()
    login_as(world["beijing"])
    html = text_of(client.get(f"{URL}?status=open"))
    assert kept.number in html and dismissed.number not in html


def test_the_regulator_dismisses_with_a_reason(client, world, login_as):
    complaint = file(world)
    login_as(world["beijing"])
    html = text_of(client.get(f"{URL}/{complaint.id}"))
    assert "id=\"dismiss\"" in html and "id=\"open-check\"" in html
    resp = client.post(f"{URL}/{complaint.id}/dismiss", data={"reason": ""})
    assert resp.status_code == 422 and "Give the reason" in text_of(resp)
    resp = client.post(f"{URL}/{complaint.id}/dismiss", data={"reason": "经查不属实"})
    assert resp.status_code == 302
    _db.session.expire_all()
    assert complaint.status is ComplaintStatus.DISMISSED


def test_the_regulator_opens_a_complaint_triggered_check(client, world, login_as):
    complaint = file(world)
    login_as(world["beijing"])
    declaration_id = world["version"].declaration_id
    resp = client.post(f"{URL}/{complaint.id}/open-check",
                       data={"declaration_id": str(declaration_id)})
    assert resp.status_code == 422 and "at least 2 inspectors" in text_of(resp)
    add_inspectors(world["beijing"], 4)
    html = text_of(client.get(f"{URL}/{complaint.id}"))
    assert f'<option value="{declaration_id}"' in html
    resp = client.post(f"{URL}/{complaint.id}/open-check",
                       data={"declaration_id": str(declaration_id)})
    assert resp.status_code == 302
    check = _db.session.scalar(select(Inspection).where(Inspection.complaint_id == complaint.id))
    assert resp.headers["Location"].endswith(f"/supervision/inspections/{check.id}")
    assert check.origin is InspectionOrigin.COMPLAINT and check.complaint_id == complaint.id
    html = text_of(client.get(f"/supervision/inspections/{check.id}?lang=en"))
    assert "Complaint-triggered (outside the random draw)" in html and complaint.number in html
    assert 'id="record-form"' in html
