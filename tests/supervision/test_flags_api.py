"""The flag API: region list with filters and pagination, a declaration's flags, recompute;
bearer tokens, region scoping (403/404), 422 with field errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.extensions import db as _db
from core.models import OutboxJob, Role
from supervision.flags import operations as flag_store
from supervision.models import Complaint
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.factories import make_enterprise_user
from tests.supervision.test_flags_common import apf_row, commit_and_run, flags, publish_legacy

BASE = "/api/v1/supervision/flags"


@pytest.fixture
def flagged(db, catalogue, en_request):
    cq = make_enterprise_user(region="500112")
    bj = make_enterprise_user(region="110101")
    cq_version = publish_legacy(
        catalogue, cq.enterprise, rows=[apf_row(catalogue, 5.1, test_method="")]
    )
    bj_version = publish_legacy(
        catalogue, bj.enterprise, rows=[apf_row(catalogue, 5.2, test_method="")]
    )
    _db.session.add(
        Complaint(
            number="JB-2026-0200",
            enterprise_id=cq.enterprise.id,
            declaration_id=cq_version.declaration_id,
            region_code="500112",
            content="虚标",
        )
    )
    commit_and_run()
    flag_store.request_recompute([cq_version.declaration_id, bj_version.declaration_id])
    commit_and_run()
    return {"cq": cq, "bj": bj, "cq_decl": cq_version.declaration_id,
            "bj_decl": bj_version.declaration_id}  # fmt: skip


@pytest.fixture
def auth(make_user, token_for):
    def do(role, **kw):
        user = role if not isinstance(role, Role) else make_user(role, **kw)
        return token_for(user)

    return do


def test_region_list_is_scoped_filtered_and_paginated(client, auth, flagged):
    headers = auth(Role.REGULATOR, region_code="500000")
    resp = client.get(BASE + "/", headers=headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert {f["declaration_id"] for f in body} == {flagged["cq_decl"]}
    assert {f["code"] for f in body} == {"missing_test_method", "open_complaint"}
    assert body[0]["severity"] == "medium" and body[0]["region_code"] == "500112"
    complaint = next(f for f in body if f["code"] == "open_complaint")
    assert complaint["evidence"]["complaints"] == ["JB-2026-0200"]
    assert complaint["reason"] == "1 open complaint(s) (举报) about this declaration."
    assert complaint["standard_code"] == "Q/SJX 0001-2024" and complaint["enterprise"]
    assert json.loads(resp.headers["X-Pagination"])["total"] == 2

    one = client.get(BASE + "/?code=missing_test_method&page_size=1", headers=headers)
    assert [f["code"] for f in one.get_json()] == ["missing_test_method"]
    assert json.loads(one.headers["X-Pagination"])["total"] == 1

    district = client.get(BASE + "/?region=500112&status=all", headers=headers)
    assert len(district.get_json()) == 2


def test_bad_filters_answer_422_with_the_field(client, auth, flagged):
    headers = auth(Role.REGULATOR, region_code="500000")
    resp = client.get(
        BASE + "/?code=copy&severity=urgent&category_id=x&status=gone&region=50", headers=headers
    )
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]["query"]
    assert set(errors) == {"code", "severity", "category_id", "status", "region"}
    assert "below_mandatory" in errors["code"][0]  # the allowed values are listed
    assert "high, medium, low" in errors["severity"][0]
    assert "6 digits" in errors["region"][0]


def test_a_region_outside_the_callers_answers_403(client, auth, flagged):
    headers = auth(Role.REGULATOR, region_code="500000")
    resp = client.get(BASE + "/?region=110101", headers=headers)
    assert resp.status_code == 403
    assert "110101 is outside your region 500000" in resp.get_json()["message"]
    beijing = auth(Role.REGULATOR, region_code="110000")
    assert {f["declaration_id"] for f in client.get(BASE + "/", headers=beijing).get_json()} == {
        flagged["bj_decl"]
    }


def test_declaration_flags_for_its_regulator_and_its_enterprise_only(client, auth, flagged):
    url = f"{BASE}/declarations/{flagged['cq_decl']}"
    regulator = auth(Role.REGULATOR, region_code="500000")
    body = client.get(url, headers=regulator).get_json()
    assert body["declaration_id"] == flagged["cq_decl"] and body["region_code"] == "500112"
    assert {f["code"] for f in body["open"]} == {"missing_test_method", "open_complaint"}
    assert body["cleared"] == [] and body["risk_score"] == 4.0

    owner = auth(flagged["cq"])
    assert client.get(url, headers=owner).status_code == 200
    assert client.get(url, headers=auth(flagged["bj"])).status_code == 404
    other = client.get(url, headers=auth(Role.REGULATOR, region_code="110000"))
    assert other.status_code == 404
    assert other.get_json()["message"] == f"Declaration {flagged['cq_decl']} not found."
    assert client.get(url, headers=auth(Role.EVALUATOR)).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(BASE + "/", headers=owner).status_code == 403


def test_history_after_the_cause_went_away(client, auth, flagged, db):
    for row in db.session.scalars(select(Complaint)):
        row.status = "dismissed"
    commit_and_run()
    url = f"{BASE}/declarations/{flagged['cq_decl']}"
    body = client.get(url, headers=auth(flagged["cq"])).get_json()
    assert [f["code"] for f in body["open"]] == ["missing_test_method"]
    assert [(f["code"], f["cleared_reason"]) for f in body["cleared"]] == [
        ("open_complaint", "cause_removed")
    ]
    assert body["cleared"][0]["cleared_at"] is not None
    only_open = client.get(url + "?include_cleared=false", headers=auth(flagged["cq"]))
    assert only_open.get_json()["cleared"] == []


def test_recompute_by_a_regulator_of_the_region(client, auth, flagged, db):
    url = f"{BASE}/declarations/{flagged['cq_decl']}/recompute"
    resp = client.post(url, headers=auth(Role.REGULATOR, region_code="500000"))
    assert resp.status_code == 202
    body = resp.get_json()
    job = db.session.get(OutboxJob, body["job_id"])
    assert (job.func, job.queue, job.status) == (
        "supervision.flags.tasks.flags_for_declarations",
        "supervision",
        "done",
    )
    assert body["queue"] == "supervision"
    assert client.post(url, headers=auth(flagged["cq"])).status_code == 403
    assert client.post(url, headers=auth(Role.REGULATOR, region_code="110000")).status_code == 404
    assert len(flags(flagged["cq_decl"])) == 2  # recomputed, nothing changed


def test_the_openapi_document_lists_the_flag_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {
        "/api/v1/supervision/flags/",
        "/api/v1/supervision/flags/declarations/{declaration_id}",
        "/api/v1/supervision/flags/declarations/{declaration_id}/recompute",
    } <= set(paths)
