"""Catalogue JSON API (/api/v1/catalogue): public reads, admin-only import."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from sqlalchemy import func, select

from core.clock import local_today
from benchmarks.importer import COLUMNS, load_directory, to_xlsx
from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard
from core.models import Role

API = "/api/v1/catalogue"


@pytest.fixture
def seed(db):
    assert all(r.ok for r in load_directory())
    db.session.commit()


def test_list_filters_and_paginates_without_a_token(client, seed):
    resp = client.get(f"{API}/standards", query_string={"page_size": 10})
    assert resp.status_code == 200
    meta = json.loads(resp.headers["X-Pagination"])
    assert meta["total"] == 34 and meta["total_pages"] == 4 and meta["next_page"] == 2
    assert len(resp.json) == 10
    page3 = client.get(f"{API}/standards", query_string={"page_size": 10, "page": 3}).json
    assert len(page3) == 10
    assert not {s["id"] for s in page3} & {s["id"] for s in resp.json}

    found = client.get(f"{API}/standards", query_string={"q": "ＧＢ／Ｔ 7725"}).json
    assert {s["code"] for s in found} == {"GB/T 7725-2022", "GB/T 7725-2004"}
    local = client.get(f"{API}/standards", query_string={"kind": "local"}).json
    assert {s["code"] for s in local} == {"DB11/T 1764.28-2021", "DB11/ 554.5-2010"}
    upcoming = client.get(
        f"{API}/standards", query_string={"status": "upcoming", "on": "2027-01-01"}
    ).json
    assert [s["code"] for s in upcoming] == ["GB 7718-2025"]
    assert upcoming[0]["status"] == "upcoming"


def test_bad_filters_are_422(client, seed):
    assert client.get(f"{API}/standards", query_string={"kind": "x"}).status_code == 422
    assert client.get(f"{API}/standards", query_string={"on": "2027/01/01"}).status_code == 422
    assert client.get(f"{API}/standards", query_string={"page_size": 1000}).status_code == 422


def test_get_one_standard(client, db, seed):
    old = db.session.scalar(select(Standard).where(Standard.code == "GB 21455-2013"))
    body = client.get(f"{API}/standards/{old.id}").json
    assert body["code"] == "GB 21455-2013"
    assert body["status"] == "withdrawn" and body["status_today"] == "withdrawn"
    assert body["withdrawn_date"] == "2020-07-01" and body["replaced_by"] == "GB 21455-2019"
    assert body["kind"] == "national_mandatory" and body["source"]
    assert client.get(f"{API}/standards/999999").status_code == 404


def test_categories(client, seed):
    body = client.get(f"{API}/categories").json
    assert {"room_ac", "led_downlight", "toilet", "faucet", "refrigerator", "storage_water_heater"} <= {
        c["code"] for c in body
    }


def test_benchmarks_by_date_pick_the_right_edition(client, db, seed):
    ac = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "room_ac"))
    gb = db.session.scalar(select(Standard).where(Standard.code == "GB 21455-2019"))
    # A hypothetical next edition with stricter thresholds from 2030 on.
    db.session.add(
        BenchmarkIndicator(
            category_id=ac.id, code="apf", name="APF", unit="W/W", direction="higher",
            mandatory_limit=3.5, mandatory_source_id=gb.id, grades=[["1级", 5.5], ["2级", 5.0]],
            valid_from=date(2030, 1, 1), citation="test", source="test",
        )
    )
    db.session.commit()

    def apf_on(day: str) -> dict | None:
        resp = client.get(f"{API}/categories/{ac.id}/benchmarks", query_string={"on": day})
        assert resp.status_code == 200
        assert resp.json["on"] == day
        rows = [b for b in resp.json["benchmarks"] if b["code"] == "apf"]
        return rows[0] if rows else None

    assert apf_on("2020-06-30") is None
    before = apf_on("2029-12-31")
    assert before["mandatory_limit"] == 3.3 and before["valid_from"] == "2020-07-01"
    assert before["grades"][0] == {"label": "1级", "threshold": 5.0}
    assert before["mandatory_source"] == "GB 21455-2019"
    assert before["recommended_source"] == "GB 21455-2019"
    after = apf_on("2030-01-01")
    assert after["mandatory_limit"] == 3.5 and after["valid_from"] == "2030-01-01"
    assert after["recommended_source"] is None

    toilet = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "toilet"))
    gone = client.get(f"{API}/categories/{toilet.id}/benchmarks", query_string={"on": "2025-05-01"})
    assert gone.json["benchmarks"] == []
    today = client.get(f"{API}/categories/{ac.id}/benchmarks").json
    assert today["on"] == local_today().isoformat()
    assert client.get(f"{API}/categories/999999/benchmarks").status_code == 404


def _post_import(client, kind: str, data: bytes, headers: dict | None = None):
    return client.post(
        f"{API}/import",
        data={"kind": kind, "file": (io.BytesIO(data), "upload.bin")},
        content_type="multipart/form-data",
        headers=headers or {},
    )


CATEGORY_CSV = "code,name,name_en,source\nfan,电风扇,Fan,GB 12021.9-2008\n".encode()


def test_import_needs_an_admin_token(client, db, make_user, token_for):
    assert _post_import(client, "categories", CATEGORY_CSV).status_code == 401
    for role in (Role.ENTERPRISE, Role.REGULATOR, Role.EVALUATOR):
        headers = token_for(make_user(role))
        assert _post_import(client, "categories", CATEGORY_CSV, headers).status_code == 403
    assert db.session.scalar(select(func.count(ProductCategory.id))) == 0


def test_admin_import_good_and_bad(client, db, make_user, token_for):
    headers = token_for(make_user(Role.ADMIN))
    resp = _post_import(client, "categories", CATEGORY_CSV, headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["ok"] is True and resp.json["inserted"] == 1 and resp.json["written"] is True
    assert db.session.scalar(select(func.count(ProductCategory.id))) == 1

    header = list(COLUMNS["standards"])
    xlsx = to_xlsx(
        [
            header,
            ["GB 21455-2019", "", "房间空调", "", "现行", "2020-07-01", "", "", "src"],
            ["GB 21455-19", "", "x", "", "现行", "", "", "", "src"],
            ["GB/T 7725-2022", "", "y", "", "废止", "", "", "", "src"],
        ]
    )
    bad = _post_import(client, "standards", xlsx, headers)
    assert bad.status_code == 422
    assert bad.json["ok"] is False and bad.json["written"] is False
    assert {(e["row"], e["column"]) for e in bad.json["errors"]} == {
        (3, "code"),
        (4, "withdrawn_date"),
    }
    assert db.session.scalar(select(func.count(Standard.id))) == 0

    wrong = _post_import(client, "standards", b"%PDF-1.5\n", headers)
    assert wrong.status_code == 422 and wrong.json["errors"][0]["column"] == "file"

    no_kind = client.post(
        f"{API}/import",
        data={"kind": "products", "file": (io.BytesIO(CATEGORY_CSV), "x.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert no_kind.status_code == 422


def test_openapi_marks_reads_public(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["paths"]["/api/v1/catalogue/standards"]["get"]["security"] == []
    assert spec["paths"]["/api/v1/catalogue/categories/{category_id}/benchmarks"]["get"]["security"] == []
    assert "security" not in spec["paths"]["/api/v1/catalogue/import"]["post"]
