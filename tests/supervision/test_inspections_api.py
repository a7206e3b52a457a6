"""The inspections JSON API (/api/v1/supervision/inspections): list, read, record, publish,
rectification answer and follow-up, public results; region scoping (404), roles (401/403) and
422 with the field each refusal is about."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core.extensions import db as _db
from core.models import Role
from declare.queries import local_today
from supervision.models import CHECKLIST, InspectionStatus, RectificationStatus
from tests.supervision.test_inspections_operations import (  # noqa: F401  (fixtures)
    BEIJING,
    CHONGQING,
    en_request_fixture,
    make_inspection,
    published_in,
    world,
)

API = "/api/v1/supervision/inspections"


def body(result="conforming", *, fail=(), findings=None, **extra) -> dict:
    data = {
        "result": result,
        "checklist": {item: "fail" if item in fail else "pass" for item in CHECKLIST},
        "findings": findings if findings is not None
        else [{"item": item, "text": f"{item}：问题"} for item in fail],
        "inspected_on": local_today().isoformat(),
    }
    data.update(extra)
    return data


@pytest.fixture
def headers(world, token_for):
    return {name: token_for(world[name]) for name in ("beijing", "chongqing", "owner")}


def test_record_read_and_publish(client, world, headers):
    insp = world["inspection"]
    resp = client.post(f"{API}/{insp.id}/result", headers=headers["beijing"], json=body(
        "nonconforming", fail=["mingshi_present"], rectification_days=20))
    assert resp.status_code == 200, resp.get_json()
    got = resp.get_json()
    assert (got["status"], got["result"]) == ("recorded", "nonconforming")
    assert got["findings"] == [{"item": "mingshi_present", "text": "mingshi_present：问题"}]
    assert got["rectification"]["deadline"] == (local_today() + timedelta(days=20)).isoformat()
    assert got["rectification"]["status"] == "open" and got["compliance_record_id"]
    assert got["enterprise"] == world["enterprise"].name
    assert got["standard_code"] == world["version"].number

    read = client.get(f"{API}/{insp.id}", headers=headers["beijing"]).get_json()
    assert read["number"] == insp.number and read["checklist"]["mingshi_present"] == "fail"
    resp = client.post(f"{API}/{insp.id}/publish", headers=headers["beijing"])
    assert resp.status_code == 200 and resp.get_json()["status"] == "published"
    assert resp.get_json()["published_at"]
    resp = client.post(f"{API}/{insp.id}/publish", headers=headers["beijing"])
    assert resp.status_code == 422 and "_schema" in resp.get_json()["errors"]["json"]


def test_refusals_answer_422_with_the_field(client, world, headers):
    insp = world["inspection"]
    resp = client.post(f"{API}/{insp.id}/result", headers=headers["beijing"], json=body(
        "conforming", fail=["drafting_format"]))
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]["json"]
    assert "no item failed" in errors["result"][0]
    resp = client.post(f"{API}/{insp.id}/result", headers=headers["beijing"], json=body(
        "defects", findings=[{"item": "drafting_format", "text": "x" * 1001}]))
    assert "at most 1000 characters" in resp.get_json()["errors"]["json"]["findings.0.text"][0]
    resp = client.post(f"{API}/{insp.id}/result", headers=headers["beijing"],
                       json={"result": "conforming"})  # the schema: required fields
    errors = resp.get_json()["errors"]["json"]
    assert resp.status_code == 422 and {"checklist", "inspected_on"} <= set(errors)
    resp = client.post(f"{API}/{insp.id}/result", headers=headers["beijing"],
                       json=body(rectification_days="30"))
    assert resp.status_code == 422 and "rectification_days" in resp.get_json()["errors"]["json"]
    _db.session.expire_all()
    assert insp.status is InspectionStatus.ASSIGNED


def test_the_list_is_scoped_to_the_region_and_filtered(client, world, headers):
    cq_version, _ = published_in(CHONGQING, world["catalogue"])
    cq = make_inspection(cq_version, world["chongqing"])
    resp = client.get(API, headers=headers["beijing"])
    assert resp.status_code == 200
    assert [i["number"] for i in resp.get_json()] == [world["inspection"].number]
    assert json.loads(resp.headers["X-Pagination"])["total"] == 1
    resp = client.get(API, headers=headers["chongqing"])
    assert [i["number"] for i in resp.get_json()] == [cq.number]
    assert client.get(f"{API}?status=recorded", headers=headers["beijing"]).get_json() == []
    resp = client.get(f"{API}?status=finished", headers=headers["beijing"])
    assert resp.status_code == 422 and "status" in resp.get_json()["errors"]["query"]


def test_another_region_gets_404_and_changes_nothing(client, world, headers):
    insp = world["inspection"]
    chongqing = headers["chongqing"]
    assert client.get(f"{API}/{insp.id}", headers=chongqing).status_code == 404
    resp = client.post(f"{API}/{insp.id}/result", headers=chongqing, json=body())
    assert resp.status_code == 404 and resp.get_json()["message"]
    assert client.post(f"{API}/{insp.id}/publish", headers=chongqing).status_code == 404
    client.post(f"{API}/{insp.id}/result", headers=headers["beijing"], json=body(
        "nonconforming", fail=["drafting_format"]))
    _db.session.expire_all()
    order = insp.rectification
    for action in ("close", "overdue"):
        resp = client.post(f"{API}/rectifications/{order.id}/{action}", headers=chongqing,
                           json={"follow_up": "x"})
        assert resp.status_code == 404
    _db.session.expire_all()
    assert order.status is RectificationStatus.OPEN


def test_roles_and_tokens(client, world, headers, make_user, token_for):
    insp = world["inspection"]
    assert client.get(API).status_code == 401
    assert client.get(API, headers=headers["owner"]).status_code == 403
    evaluator = token_for(make_user(Role.EVALUATOR))
    assert client.post(f"{API}/{insp.id}/result", headers=evaluator,
                       json=body()).status_code == 403
    # The session cookie never counts on the API.
    client.post("/login", data={"username": world["beijing"].username,
                                "password": "correct horse 9"})
    assert client.get(API).status_code == 401


def test_the_enterprise_reads_and_answers_only_its_own(client, world, headers, token_for):
    insp = world["inspection"]
    owner = headers["owner"]
    assert client.get(f"{API}/{insp.id}", headers=owner).status_code == 404  # not recorded yet
    client.post(f"{API}/{insp.id}/result", headers=headers["beijing"], json=body(
        "nonconforming", fail=["product_conformity"]))
    got = client.get(f"{API}/{insp.id}", headers=owner).get_json()
    assert got["result"] == "nonconforming"
    assert "complaint_id" not in got and "inspector_ids" not in got
    mine = client.get(f"{API}/mine", headers=owner).get_json()
    assert [i["number"] for i in mine] == [insp.number]
    order_id = mine[0]["rectification"]["id"]

    _version, stranger = published_in(BEIJING, world["catalogue"])
    other = token_for(stranger)
    assert client.get(f"{API}/{insp.id}", headers=other).status_code == 404
    assert client.get(f"{API}/mine", headers=other).get_json() == []
    resp = client.post(f"{API}/rectifications/{order_id}/answer", headers=other,
                       json={"answer": "不是我的"})
    assert resp.status_code == 404

    resp = client.post(f"{API}/rectifications/{order_id}/answer", headers=owner,
                       json={"answer": " "})
    assert resp.status_code == 422 and "answer" in resp.get_json()["errors"]["json"]
    resp = client.post(f"{API}/rectifications/{order_id}/answer", headers=owner,
                       json={"answer": "产品已召回并按标准整改"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "answered"
    resp = client.post(f"{API}/rectifications/{order_id}/close", headers=headers["beijing"],
                       json={})
    assert resp.status_code == 422 and "follow_up" in resp.get_json()["errors"]["json"]
    resp = client.post(f"{API}/rectifications/{order_id}/close", headers=headers["beijing"],
                       json={"follow_up": "抽样复检合格"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "closed"
    resp = client.post(f"{API}/rectifications/{order_id}/overdue", headers=headers["beijing"],
                       json={})
    assert resp.status_code == 422 and "_schema" in resp.get_json()["errors"]["json"]


def test_public_results_and_counts_need_no_token(client, world, headers):
    insp = world["inspection"]
    client.post(f"{API}/{insp.id}/result", headers=headers["beijing"], json=body(
        "defects", findings=[{"item": "drafting_format", "text": "目次缺失"}]))
    assert client.get(f"{API}/results").get_json() == []  # recorded, not yet published
    client.post(f"{API}/{insp.id}/publish", headers=headers["beijing"])
    resp = client.get(f"{API}/results")
    assert resp.status_code == 200
    [row] = resp.get_json()
    assert (row["number"], row["result"], row["enterprise"]) == (
        insp.number, "defects", world["enterprise"].name)
    assert row["findings"] == [{"item": "drafting_format", "text": "目次缺失"}]
    assert row["standard_code"] == world["version"].number and row["published_at"]
    assert "contact" not in row and "inspector_ids" not in row
    counts = client.get(f"{API}/results/counts").get_json()
    assert counts == {"conforming": 0, "defects": 1, "nonconforming": 0, "total": 1}
    assert client.get(f"{API}/results?result=conforming").get_json() == []
    assert client.get(f"{API}/results?result=bad").status_code == 422


def test_the_openapi_spec_marks_the_public_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert paths[f"{API}/results"]["get"]["security"] == []
    assert paths[f"{API}/results/counts"]["get"]["security"] == []
    assert paths[f"{API}/complaints"]["post"]["security"] == []
    assert "security" not in paths[f"{API}/complaints"]["get"]  # the default: a bearer token
    assert {"401", "403", "404", "422"} <= set(paths[f"{API}/{{inspection_id}}/result"]["post"][
        "responses"])
