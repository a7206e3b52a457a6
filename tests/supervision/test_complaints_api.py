"""The complaints JSON API: a public POST (no token, rate-limited, 422 with the field), the
regulator's inbox routed by region, reading, dismissing and opening a check (404 outside the
region)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from core.models import Role
from supervision.models import Complaint, ComplaintStatus
from tests.supervision.test_inspections_operations import (  # noqa: F401  (fixtures)
    BEIJING,
    add_inspectors,
    en_request_fixture,
    world,
)

API = "/api/v1/supervision/inspections/complaints"
CONTENT = "声明的待机功率与实测值明显不符，请核查。"


@pytest.fixture
def headers(world, token_for):
    return {name: token_for(world[name]) for name in ("beijing", "chongqing", "owner")}


def post(client, **data):
    return client.post(API, json={"content": CONTENT, **data})


def test_anyone_files_a_complaint_and_gets_only_a_receipt(client, world):
    resp = post(client, enterprise_uscc=world["enterprise"].uscc, contact="13900000000")
    assert resp.status_code == 201, resp.get_json()
    receipt = resp.get_json()
    assert set(receipt) == {"number", "secret", "status", "submitted_at", "routed_to"}
    assert receipt["status"] == "open" and receipt["number"].startswith(f"JB{BEIJING}-")
    assert receipt["routed_to"] == "regulator" and len(receipt["secret"]) >= 16
    complaint = _db.session.scalar(select(Complaint))
    assert complaint.contact == "13900000000" and complaint.region_code == BEIJING
    assert receipt["secret"] not in json.dumps(
        {c.key: str(getattr(complaint, c.key)) for c in Complaint.__table__.columns}
    )  # only its digest is stored


def test_refusals_answer_422_with_the_field(client, world):
    resp = client.post(API, json={"enterprise_uscc": world["enterprise"].uscc})
    assert resp.status_code == 422 and "content" in resp.get_json()["errors"]["json"]
    resp = post(client, enterprise_uscc="91110105")
    errors = resp.get_json()["errors"]["json"]
    assert resp.status_code == 422 and "18 characters" in errors["enterprise_uscc"][0]
    resp = post(client, declaration_id="12")  # strict: a number, not a string
    assert resp.status_code == 422 and "declaration_id" in resp.get_json()["errors"]["json"]
    resp = post(client, enterprise_id=world["enterprise"].id, content="太短了")
    assert "you wrote 3" in resp.get_json()["errors"]["json"]["content"][0]
    assert _db.session.scalar(select(func.count(Complaint.id))) == 0


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "COMPLAINT_RATE_LIMIT": "2 per minute"}]
)
def test_public_posts_are_rate_limited(client, world, app_config):
    codes = [post(client, enterprise_id=world["enterprise"].id,
                  content=f"{CONTENT}（{i}）").status_code for i in range(3)]
    assert codes == [201, 201, 429]
    assert "Retry-After" in client.post(API, json={}).headers


def test_the_inbox_is_routed_by_region(client, world, headers, make_user, token_for):
    number = post(client, enterprise_id=world["enterprise"].id).get_json()["number"]
    resp = client.get(API, headers=headers["beijing"])
    assert [c["number"] for c in resp.get_json()] == [number]
    assert resp.get_json()[0]["contact"] == "" and resp.get_json()[0]["content"] == CONTENT
    assert json.loads(resp.headers["X-Pagination"])["total"] == 1
    assert client.get(API, headers=headers["chongqing"]).get_json() == []
    district = token_for(make_user(Role.REGULATOR, region_code="110105"))
    assert [c["number"] for c in client.get(API, headers=district).get_json()] == [number]
    assert client.get(API).status_code == 401
    assert client.get(API, headers=headers["owner"]).status_code == 403
    assert client.get(f"{API}?status=open", headers=headers["beijing"]).get_json()[0][
        "number"] == number
    assert client.get(f"{API}?status=dismissed", headers=headers["beijing"]).get_json() == []


def test_read_dismiss_and_open_check_within_the_region_only(client, world, headers):
    post(client, declaration_id=world["version"].declaration_id)
    post(client, enterprise_id=world["enterprise"].id, content=CONTENT + "（二）")
    first, second = _db.session.scalars(select(Complaint).order_by(Complaint.id)).all()
    chongqing = headers["chongqing"]
    assert client.get(f"{API}/{first.id}", headers=chongqing).status_code == 404
    assert client.post(f"{API}/{first.id}/dismiss", headers=chongqing,
                       json={"reason": "x"}).status_code == 404
    assert client.post(f"{API}/{first.id}/open-check", headers=chongqing,
                       json={}).status_code == 404

    beijing = headers["beijing"]
    got = client.get(f"{API}/{first.id}", headers=beijing).get_json()
    assert got["declaration_id"] == world["version"].declaration_id
    resp = client.post(f"{API}/{first.id}/open-check", headers=beijing, json={})
    assert resp.status_code == 422 and "inspectors" in resp.get_json()["errors"]["json"]
    add_inspectors(world["beijing"], 3)
    resp = client.post(f"{API}/{first.id}/open-check", headers=beijing, json={})
    assert resp.status_code == 201, resp.get_json()
    check = resp.get_json()
    assert check["origin"] == "complaint" and check["complaint_id"] == first.id
    assert len(check["inspector_ids"]) == 2 and check["status"] == "assigned"

    resp = client.post(f"{API}/{second.id}/dismiss", headers=beijing, json={"reason": ""})
    assert resp.status_code == 422 and "reason" in resp.get_json()["errors"]["json"]
    resp = client.post(f"{API}/{second.id}/dismiss", headers=beijing,
                       json={"reason": "举报内容与该企业无关"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "dismissed"
    _db.session.expire_all()
    assert (first.status, second.status) == (ComplaintStatus.CHECK_OPENED,
                                             ComplaintStatus.DISMISSED)
