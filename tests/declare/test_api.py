"""The declarations JSON API: every endpoint, shape errors, business refusals, 409, lifecycle."""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime

import pytest
from pypdf import PdfWriter
from sqlalchemy import select, update

from core.models import Role
from declare.models import Declaration, DeclarationVersion, VersionStatus
from tests.factories import valid_uscc

API = "/api/v1"


def tiny_pdf(text: str = "Q/GDMD 0012-2024") -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": text})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def ac_draft(catalogue, *, apf: float = 4.6, mingshi: str = "", code: str = "Q/GDMD 0012-2024"):
    """An enterprise-standard draft for an inverter room air conditioner (APF indicator)."""
    return {
        "kind": "enterprise",
        "std_code": code,
        "std_name": "房间空气调节器",
        "disclosure": "full_text",
        "commitment_accepted": True,
        "approved_by": "张建国",
        "approved_on": "2024-03-01",
        "implemented_on": "2024-04-01",
        "products": [
            {
                "name": "壁挂式变频空调",
                "model": "KFR-35GW/BP3DN1",
                "category_id": catalogue["room_ac"].id,
                "brand": "格美",
            }
        ],
        "indicators": [
            {
                "kind": "performance",
                "name": "全年能源消耗效率 APF",
                "benchmark_indicator_id": catalogue["apf"].id,
                "op": "ge",
                "value": apf,
                "unit": "W/W",
                "test_method": "按 GB 21455-2019 附录 A",
                "mingshi": mingshi,
            },
            {
                "kind": "function",
                "name": "自清洁功能",
                "op": "eq",
                "text_value": "具备",
                "test_method": "按 GB/T 7725-2022 6.3.25",
            },
        ],
        "reference_ids": [catalogue["gb21455"].id, catalogue["gbt7725"].id],
    }


def fetch_bytes(client, url: str, headers=None) -> tuple[int, bytes]:
    """GET a file and close the streamed response (send_file keeps the file open until then)."""
    resp = client.get(url, headers=headers)
    try:
        return resp.status_code, resp.get_data()
    finally:
        resp.close()


def errors_of(resp, location: str = "json") -> dict:
    body = resp.get_json()
    assert body["code"] == 422, body
    return body["errors"][location]


def flat_errors(errors: dict, prefix: str = "") -> dict[str, list[str]]:
    """{"products": {"0": {"model": [...]}}} → {"products.0.model": [...]}"""
    out: dict[str, list[str]] = {}
    for key, value in errors.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_errors(value, path + "."))
        else:
            out[path] = value if isinstance(value, list) else [value]
    return out


def create(client, headers, payload) -> dict:
    resp = client.post(f"{API}/declarations", json=payload, headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def upload_pdf(client, headers, declaration_id: int, data: bytes | None = None, name="std.pdf"):
    return client.post(
        f"{API}/declarations/{declaration_id}/draft/text",
        data={
            "file": (io.BytesIO(data if data is not None else tiny_pdf()), name, "application/pdf")
        },
        headers=headers,
        content_type="multipart/form-data",
    )


_numbers = itertools.count(100)


def publish_new(client, headers, catalogue, **kw) -> dict:
    """Create, upload the text and publish; returns the published version."""
    kw.setdefault("code", f"Q/GDMD {next(_numbers):04d}-2024")
    version = create(client, headers, ac_draft(catalogue, **kw))
    assert upload_pdf(client, headers, version["declaration_id"]).status_code == 200
    resp = client.post(f"{API}/declarations/{version['declaration_id']}/publish", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


@pytest.fixture
def ent(make_user):
    return make_user(Role.ENTERPRISE)


@pytest.fixture
def auth(ent, token_for):
    return token_for(ent)


# --------------------------------------------------------------------------- enterprises


def test_register_enterprise_then_token_and_profile(client, db):
    uscc = valid_uscc("310115")
    resp = client.post(
        f"{API}/enterprises",
        json={
            "uscc": uscc,
            "name": "上海浦澜照明科技有限公司",
            "username": "pulan",
            "password": "long enough pw 1",
            "contact_name": "李娜",
        },
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["username"] == "pulan"
    assert body["enterprise"]["uscc"] == uscc
    assert body["enterprise"]["region_code"] == "310115"
    assert "password" not in json.dumps(body)

    tok = client.post(
        f"{API}/auth/tokens", json={"username": "pulan", "password": "long enough pw 1"}
    )
    assert tok.status_code == 201
    me = client.get(
        f"{API}/enterprises/me", headers={"Authorization": f"Bearer {tok.get_json()['token']}"}
    )
    assert me.status_code == 200
    assert me.get_json()["name"] == "上海浦澜照明科技有限公司"
    assert me.get_json()["contact_name"] == "李娜"

    public = client.get(f"{API}/enterprises/{body['enterprise']['id']}")
    assert public.status_code == 200
    assert public.get_json() == {
        "id": body["enterprise"]["id"],
        "name": "上海浦澜照明科技有限公司",
        "uscc": uscc,
        "region_code": "310115",
        "published_count": 0,
    }


def test_register_shape_errors(client):
    resp = client.post(f"{API}/enterprises", json={"uscc": 123, "password": "short", "x": 1})
    assert resp.status_code == 422
    assert errors_of(resp) == {
        "uscc": ["Not a valid string."],
        "name": ["Missing data for required field."],
        "username": ["Missing data for required field."],
        "x": ["Unknown field."],
    }


def test_register_business_refusals(client, ent):
    bad = valid_uscc("500112")
    bad = bad[:-1] + ("0" if bad[-1] != "0" else "1")
    resp = client.post(
        f"{API}/enterprises?lang=en",
        json={
            "uscc": bad,
            "name": "重庆渝川卫浴有限公司",
            "username": "yuchuan",
            "password": "long enough pw 1",
        },
    )
    assert resp.status_code == 422
    assert "check character" in " ".join(errors_of(resp)["uscc"])

    resp = client.post(
        f"{API}/enterprises?lang=en",
        json={
            "uscc": ent.enterprise.uscc.lower(),
            "name": "重复企业有限公司",
            "username": "dupe",
            "password": "long enough pw 1",
        },
    )
    assert resp.status_code == 422
    assert "already exists" in " ".join(errors_of(resp)["uscc"])

    resp = client.post(
        f"{API}/enterprises?lang=en",
        json={
            "uscc": valid_uscc("330106"),
            "name": "杭州西湖某某电器有限公司",
            "username": "x",
            "password": "short",
        },
    )
    assert resp.status_code == 422
    errors = errors_of(resp)
    assert "at least 8 characters" in errors["password"][0]
    assert "3 to 80 characters" in errors["username"][0]


def test_enterprise_profile_404(client):
    resp = client.get(f"{API}/enterprises/999999")
    assert resp.status_code == 404
    assert resp.get_json()["code"] == 404


class TestRegistrationRateLimit:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "2 per minute"}

    def test_registration_is_rate_limited(self, client):
        from core.extensions import limiter

        limiter.reset()
        codes = [
            client.post(f"{API}/enterprises", json={"uscc": "x"}).status_code for _ in range(3)
        ]
        limiter.reset()
        assert codes == [422, 422, 429]


# --------------------------------------------------------------------------- drafts


def test_create_draft_returns_version_with_lock(client, catalogue, auth):
    body = create(client, auth, ac_draft(catalogue))
    assert body["status"] == "draft"
    assert body["version_no"] == 1
    assert isinstance(body["lock_version"], int)
    assert body["number"] == "Q/GDMD 0012-2024"
    assert body["approved_on"] == "2024-03-01"
    apf = body["indicators"][0]
    assert apf["value"] == 4.6 and isinstance(apf["value"], float)
    assert apf["test_method"] == "按 GB 21455-2019 附录 A"
    assert [r["code"] for r in body["references"]] == ["GB 21455-2019", "GB/T 7725-2022"]
    assert body["products"][0]["category"]["code"] == "room_ac"
    assert body["text_url"] is None

    draft = client.get(f"{API}/declarations/{body['declaration_id']}/draft", headers=auth)
    assert draft.status_code == 200
    assert draft.get_json()["lock_version"] == body["lock_version"]


def test_create_draft_shape_errors(client, catalogue, auth):
    payload = ac_draft(catalogue)
    payload["kind"] = "national"
    del payload["products"][0]["model"]
    payload["products"][0]["category_id"] = "abc"
    payload["indicators"][0]["op"] = "gt"
    payload["indicators"][0]["value"] = "high"
    payload["approved_on"] = "01/03/2024"
    payload["surprise"] = 1
    resp = client.post(f"{API}/declarations", json=payload, headers=auth)
    assert resp.status_code == 422
    errors = flat_errors(errors_of(resp))
    assert errors["kind"] == ["Must be one of: catalogue, enterprise."]
    assert errors["products.0.model"] == ["Missing data for required field."]
    assert errors["products.0.category_id"] == [
        "An id is a whole number from 1 to 2147483647 (digits 0-9)."
    ]
    assert errors["indicators.0.op"] == ["Must be one of: ge, le, eq, range."]
    assert errors["indicators.0.value"] == ["Not a valid number."]
    assert errors["approved_on"] == ["Not a valid date."]
    assert errors["surprise"] == ["Unknown field."]
    assert client.get(f"{API}/declarations?mine=1", headers=auth).get_json() == []


def test_create_draft_business_refusal(client, catalogue, auth):
    payload = ac_draft(catalogue, code="GB 21455-2019")
    payload["products"][0]["barcode"] = "6901234567891"
    resp = client.post(f"{API}/declarations?lang=en", json=payload, headers=auth)
    assert resp.status_code == 422
    errors = errors_of(resp)
    assert "Q/" in " ".join(errors["std_code"])
    assert "check digit" in " ".join(errors["products.0.barcode"])
    assert client.get(f"{API}/declarations?mine=1", headers=auth).get_json() == []


def test_update_draft_and_stale_lock_gives_409(client, db, catalogue, auth):
    body = create(client, auth, ac_draft(catalogue))
    url = f"{API}/declarations/{body['declaration_id']}/draft"
    first = ac_draft(catalogue, apf=4.8)
    first["lock_version"] = body["lock_version"]
    resp = client.put(url, json=first, headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    updated = resp.get_json()
    assert updated["indicators"][0]["value"] == 4.8
    assert updated["lock_version"] > body["lock_version"]

    stale = ac_draft(catalogue, apf=5.2)
    stale["std_name"] = "被覆盖的名称"
    stale["lock_version"] = body["lock_version"]
    resp = client.put(url, json=stale, headers=auth)
    assert resp.status_code == 409
    conflict = resp.get_json()
    assert conflict["current_lock_version"] == updated["lock_version"]

    again = client.get(url, headers=auth).get_json()
    assert again["indicators"][0]["value"] == 4.8
    assert again["std_name"] == "房间空气调节器"
    assert again["lock_version"] == updated["lock_version"]


def test_update_draft_needs_lock_version(client, catalogue, auth):
    body = create(client, auth, ac_draft(catalogue))
    resp = client.put(
        f"{API}/declarations/{body['declaration_id']}/draft", json=ac_draft(catalogue), headers=auth
    )
    assert resp.status_code == 422
    assert errors_of(resp)["lock_version"] == ["Missing data for required field."]


def test_discard_draft(client, db, catalogue, auth):
    body = create(client, auth, ac_draft(catalogue))
    url = f"{API}/declarations/{body['declaration_id']}/draft"
    assert client.delete(url, headers=auth).status_code == 204
    assert client.get(url, headers=auth).status_code == 404
    assert client.get(f"{API}/declarations?mine=1", headers=auth).get_json() == []


def test_upload_rejects_non_pdf(client, catalogue, auth):
    body = create(client, auth, ac_draft(catalogue))
    resp = upload_pdf(
        client, auth, body["declaration_id"], data=b"MZ\x90\x00 not a pdf", name="x.pdf"
    )
    assert resp.status_code == 422
    assert "PDF" in " ".join(errors_of(resp)["text"])

    missing = client.post(
        f"{API}/declarations/{body['declaration_id']}/draft/text",
        data={},
        headers=auth,
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422
    assert errors_of(missing, "files") == {"file": ["Missing data for required field."]}


# --------------------------------------------------------------------------- publishing


def test_publish_refuses_violation_with_field_message(client, catalogue, auth):
    body = create(client, auth, ac_draft(catalogue, apf=3.0))
    upload_pdf(client, auth, body["declaration_id"])
    resp = client.post(f"{API}/declarations/{body['declaration_id']}/publish?lang=en", headers=auth)
    assert resp.status_code == 422
    errors = errors_of(resp)
    keys = [k for k in errors if k.startswith("indicators.0")]
    assert keys, errors
    text = " ".join(m for k in keys for m in errors[k])
    assert "3.00" in text and "3.30" in text and "GB 21455-2019" in text
    assert "mandatory limit" in text
    draft = client.get(f"{API}/declarations/{body['declaration_id']}/draft", headers=auth)
    assert draft.get_json()["status"] == "draft"


def test_publish_refuses_missing_mingshi_then_accepts_it(client, catalogue, auth):
    body = create(client, auth, ac_draft(catalogue, apf=4.2))
    upload_pdf(client, auth, body["declaration_id"])
    url = f"{API}/declarations/{body['declaration_id']}"
    resp = client.post(f"{url}/publish?lang=en", headers=auth)
    assert resp.status_code == 422
    errors = errors_of(resp)
    assert "indicators.0.mingshi" in errors, errors
    message = " ".join(errors["indicators.0.mingshi"])
    assert "4.20" in message and "4.50" in message and "明示" in message

    draft = client.get(f"{url}/draft", headers=auth).get_json()
    fixed = ac_draft(
        catalogue,
        apf=4.2,
        mingshi="APF 4.2 低于 GB 21455-2019 2级 4.50：本型号为经济型定频替代机型，成本受限。",
    )
    fixed["lock_version"] = draft["lock_version"]
    assert client.put(f"{url}/draft", json=fixed, headers=auth).status_code == 200
    resp = client.post(f"{url}/publish", headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["indicators"][0]["cmp_status"] == "below_recommended"


def test_publish_requires_text_for_enterprise_standard(client, catalogue, auth):
    body = create(client, auth, ac_draft(catalogue))
    resp = client.post(f"{API}/declarations/{body['declaration_id']}/publish", headers=auth)
    assert resp.status_code == 422
    assert any("text" in k for k in errors_of(resp)), errors_of(resp)


def test_catalogue_kind_declaration(client, catalogue, auth):
    payload = {
        "kind": "catalogue",
        "standard_id": catalogue["gbt7725"].id,
        "commitment_accepted": True,
        "products": [
            {"name": "立式空调", "model": "KFR-72LW/A1", "category_id": catalogue["room_ac"].id}
        ],
    }
    body = create(client, auth, payload)
    assert body["number"] == "GB/T 7725-2022"
    resp = client.post(f"{API}/declarations/{body['declaration_id']}/publish", headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["standard"]["code"] == "GB/T 7725-2022"


def test_whole_lifecycle(client, db, catalogue, auth, ent):
    body = create(client, auth, ac_draft(catalogue))
    decl_id = body["declaration_id"]
    url = f"{API}/declarations/{decl_id}"

    up = upload_pdf(client, auth, decl_id)
    assert up.status_code == 200, up.get_data(as_text=True)
    assert up.get_json()["text_attachment"]["content_type"] == "application/pdf"
    pdf_url = up.get_json()["text_url"]
    assert fetch_bytes(client, pdf_url, auth)[1].startswith(b"%PDF")

    checks = client.get(f"{url}/comparison", headers=auth).get_json()
    assert checks["version_status"] == "draft"
    apf = checks["checks"][0]
    assert apf["comparison"]["grade"] == "2级"
    assert apf["comparison"]["status"] == "exceeds"
    assert apf["comparison"]["guaranteed"] == pytest.approx(4.6)

    v1 = client.post(f"{url}/publish", headers=auth)
    assert v1.status_code == 200, v1.get_data(as_text=True)
    assert v1.get_json()["status"] == "published"
    public = client.get(url).get_json()
    assert public["status"] == "published"
    assert public["version"]["version_no"] == 1
    assert "draft" not in public
    assert fetch_bytes(client, pdf_url)[1].startswith(b"%PDF")  # full text: public

    rev = client.post(f"{url}/revise", headers=auth)
    assert rev.status_code == 201, rev.get_data(as_text=True)
    assert rev.get_json()["version_no"] == 2 and rev.get_json()["status"] == "draft"
    payload = ac_draft(catalogue, apf=5.1, code="Q/GDMD 0012-2025")
    payload["revision_note"] = "APF 提高到 1 级"
    payload["lock_version"] = rev.get_json()["lock_version"]
    assert client.put(f"{url}/draft", json=payload, headers=auth).status_code == 200
    assert upload_pdf(client, auth, decl_id).status_code == 200

    owner_view = client.get(url, headers=auth).get_json()
    assert owner_view["version"]["version_no"] == 1
    assert owner_view["draft"]["version_no"] == 2
    assert client.get(url).get_json()["version"]["indicators"][0]["value"] == 4.6

    v2 = client.post(f"{url}/publish", headers=auth)
    assert v2.status_code == 200, v2.get_data(as_text=True)
    assert v2.get_json()["indicators"][0]["cmp_grade"] == "1级"

    versions = client.get(f"{url}/versions").get_json()
    assert [(v["version_no"], v["status"]) for v in versions] == [
        (1, "superseded"),
        (2, "published"),
    ]
    assert client.get(f"{url}/versions/1").get_json()["number"] == "Q/GDMD 0012-2024"
    assert client.get(f"{url}/versions/2").get_json()["number"] == "Q/GDMD 0012-2025"

    # Spread the history over the calendar so as_of can pick each version.
    t1 = datetime(2024, 1, 10, 2, 0, tzinfo=UTC)
    t2 = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    ids = {
        v.version_no: v.id
        for v in db.session.scalars(
            select(DeclarationVersion).where(DeclarationVersion.declaration_id == decl_id)
        )
    }
    db.session.execute(
        update(DeclarationVersion)
        .where(DeclarationVersion.id == ids[1])
        .values(published_at=t1, ended_at=t2)
    )
    db.session.execute(
        update(DeclarationVersion).where(DeclarationVersion.id == ids[2]).values(published_at=t2)
    )
    db.session.commit()
    db.session.expire_all()
    assert client.get(f"{url}?as_of=2024-06-01").get_json()["version"]["version_no"] == 1
    assert client.get(f"{url}?as_of=2025-06-02").get_json()["version"]["version_no"] == 2
    old = client.get(f"{url}?as_of=2023-12-31&lang=en")
    assert old.status_code == 404
    assert "2023-12-31" in old.get_json()["message"]
    bad_day = client.get(f"{url}?as_of=yesterday")
    assert bad_day.status_code == 422
    assert errors_of(bad_day, "query")["as_of"] == ["Not a valid date."]

    ab = client.post(f"{url}/abolish", json={"reason": "产品停产"}, headers=auth)
    assert ab.status_code == 200, ab.get_data(as_text=True)
    assert ab.get_json()["status"] == "abolished"
    versions = client.get(f"{url}/versions").get_json()
    assert [v["status"] for v in versions] == ["superseded", "abolished"]
    assert versions[-1]["end_reason"] == "产品停产"
    assert client.get(f"{url}?as_of=2024-06-01").get_json()["version"]["version_no"] == 1
    assert client.get(url).get_json()["status"] == "abolished"

    listed = client.get(f"{API}/declarations").get_json()
    assert decl_id not in [d["id"] for d in listed]
    assert db.session.get(Declaration, decl_id).status.value == "abolished"


def test_abolish_needs_reason(client, catalogue, auth):
    v = publish_new(client, auth, catalogue)
    resp = client.post(
        f"{API}/declarations/{v['declaration_id']}/abolish", json={"reason": "  "}, headers=auth
    )
    assert resp.status_code == 422
    assert errors_of(resp)["reason"] == ["Length must be between 1 and 2000."]


def test_revise_twice_is_refused(client, catalogue, auth):
    v = publish_new(client, auth, catalogue)
    url = f"{API}/declarations/{v['declaration_id']}/revise"
    assert client.post(url, headers=auth).status_code == 201
    again = client.post(url, headers=auth)
    assert again.status_code in (409, 422)


def test_publish_without_draft_is_404(client, catalogue, auth):
    v = publish_new(client, auth, catalogue)
    resp = client.post(f"{API}/declarations/{v['declaration_id']}/publish?lang=en", headers=auth)
    assert resp.status_code == 404
    assert "no open draft" in resp.get_json()["message"]


# --------------------------------------------------------------------------- reading


def test_public_list_filters_and_pagination(client, db, catalogue, auth, make_user, token_for):
    for apf in (4.6, 4.7, 4.8):
        publish_new(client, auth, catalogue, apf=apf)
    other = make_user(Role.ENTERPRISE, region="110105", name="北京朝晖电器有限公司")
    publish_new(client, token_for(other), catalogue)
    create(client, auth, ac_draft(catalogue))  # a draft never shows publicly

    resp = client.get(f"{API}/declarations?page_size=2")
    assert resp.status_code == 200
    meta = json.loads(resp.headers["X-Pagination"])
    assert meta["total"] == 4 and meta["total_pages"] == 2
    assert len(resp.get_json()) == 2
    item = resp.get_json()[0]
    assert set(item) >= {"id", "number", "title", "enterprise", "published_at", "products"}
    assert "has_draft" not in item

    by_region = client.get(f"{API}/declarations?region=110105").get_json()
    assert [d["enterprise"]["name"] for d in by_region] == ["北京朝晖电器有限公司"]
    assert (
        client.get(f"{API}/declarations?region=11").get_json()[0]["enterprise"]["region_code"]
        == "110105"
    )
    by_q = client.get(f"{API}/declarations", query_string={"q": "朝晖"}).get_json()
    assert len(by_q) == 1
    assert client.get(f"{API}/declarations?kind=catalogue").get_json() == []
    assert (
        len(client.get(f"{API}/declarations?category_id={catalogue['room_ac'].id}").get_json()) == 4
    )
    assert client.get(f"{API}/declarations?category_id={catalogue['toilet'].id}").get_json() == []

    bad = client.get(f"{API}/declarations?kind=x&region=abc&page=0")
    assert bad.status_code == 422
    query_errors = errors_of(bad, "query")
    assert query_errors["kind"] == ["Must be one of: catalogue, enterprise."]
    assert "region" in query_errors


def test_mine_lists_own_declarations_with_drafts(client, catalogue, auth, make_user, token_for):
    publish_new(client, auth, catalogue)
    create(client, auth, ac_draft(catalogue))
    publish_new(client, token_for(make_user(Role.ENTERPRISE)), catalogue)
    resp = client.get(f"{API}/declarations?mine=1", headers=auth)
    assert resp.status_code == 200
    rows = resp.get_json()
    assert sorted(r["status"] for r in rows) == ["draft", "published"]
    assert sorted(r["has_draft"] for r in rows) == [False, True]
    assert json.loads(resp.headers["X-Pagination"])["total"] == 2
    drafts = client.get(f"{API}/declarations?mine=1&status=draft", headers=auth).get_json()
    assert [r["status"] for r in drafts] == ["draft"]


def test_enterprise_published_count(client, catalogue, auth, ent):
    publish_new(client, auth, catalogue)
    publish_new(client, auth, catalogue, apf=4.9)
    assert client.get(f"{API}/enterprises/{ent.enterprise_id}").get_json()["published_count"] == 2
    assert client.get(f"{API}/enterprises/me", headers=auth).get_json()["published_count"] == 2


def test_indicators_only_text_is_not_public(client, db, catalogue, auth):
    payload = ac_draft(catalogue)
    payload["disclosure"] = "indicators_only"
    body = create(client, auth, payload)
    url = f"{API}/declarations/{body['declaration_id']}"
    owner_url = upload_pdf(client, auth, body["declaration_id"]).get_json()["text_url"]
    assert client.post(f"{url}/publish", headers=auth).status_code == 200
    public = client.get(f"{url}/versions/1").get_json()
    assert public["text_url"] is None
    assert "text_attachment" not in public and "lock_version" not in public
    assert public["indicators"][0]["value"] == 4.6
    assert fetch_bytes(client, owner_url)[0] == 404
    assert fetch_bytes(client, owner_url, auth)[1].startswith(b"%PDF")


def test_comparison_of_published_version_is_public(client, catalogue, auth):
    v = publish_new(client, auth, catalogue, apf=5.05)
    resp = client.get(f"{API}/declarations/{v['declaration_id']}/comparison")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["version_status"] == "published"
    assert body["checks"][0]["comparison"]["grade"] == "1级"
    assert body["checks"][0]["comparison"]["margin_pct"] == pytest.approx((5.05 - 4.5) / 4.5 * 100)


def test_comparison_preview_writes_nothing(client, db, catalogue):
    before = db.session.scalar(select(DeclarationVersion.id).limit(1))
    resp = client.post(
        f"{API}/comparison",
        json={
            "indicators": [
                {
                    "name": "APF",
                    "benchmark_indicator_id": catalogue["apf"].id,
                    "op": "ge",
                    "value": 3.1,
                    "unit": "W/W",
                },
                {
                    "name": "APF",
                    "benchmark_indicator_id": catalogue["apf"].id,
                    "op": "ge",
                    "value": 4.2,
                    "unit": "W/W",
                },
                {
                    "name": "平均用水量",
                    "benchmark_indicator_id": catalogue["avg_water"].id,
                    "op": "le",
                    "value": 3900,
                    "unit": "mL",
                },
            ]
        },
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    statuses = [
        c["comparison"]["status"] if c["comparison"] else c["problem"] for c in body["checks"]
    ]
    assert statuses == ["violation", "below_recommended", "exceeds"]
    assert body["checks"][2]["comparison"]["grade"] == "1级"
    assert body["checks"][2]["comparison"]["guaranteed"] == pytest.approx(3.9)
    assert body["publishable"] is False
    assert before is None and db.session.scalar(select(DeclarationVersion.id).limit(1)) is None


def test_comparison_preview_shape_errors(client, catalogue):
    resp = client.post(f"{API}/comparison", json={"indicators": []})
    assert resp.status_code == 422
    assert "indicators" in errors_of(resp)
    resp = client.post(
        f"{API}/comparison", json={"indicators": [{"name": "APF", "op": "ge", "value": True}]}
    )
    assert resp.status_code == 422
    assert flat_errors(errors_of(resp))["indicators.0.value"] == ["Not a valid number."]


def test_unknown_declaration_is_404_json(client):
    resp = client.get(f"{API}/declarations/424242")
    assert resp.status_code == 404
    assert resp.get_json()["code"] == 404


# --------------------------------------------------------------------------- OpenAPI


def test_openapi_document_lists_every_endpoint(client):
    resp = client.get(f"{API}/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]
    paths = spec["paths"]
    expected = {
        "/api/v1/enterprises": {"post"},
        "/api/v1/enterprises/me": {"get"},
        "/api/v1/enterprises/{enterprise_id}": {"get"},
        "/api/v1/declarations": {"get", "post"},
        "/api/v1/declarations/{declaration_id}": {"get"},
        "/api/v1/declarations/{declaration_id}/draft": {"get", "put", "delete"},
        "/api/v1/declarations/{declaration_id}/draft/text": {"post"},
        "/api/v1/declarations/{declaration_id}/publish": {"post"},
        "/api/v1/declarations/{declaration_id}/revise": {"post"},
        "/api/v1/declarations/{declaration_id}/abolish": {"post"},
        "/api/v1/declarations/{declaration_id}/versions": {"get"},
        "/api/v1/declarations/{declaration_id}/versions/{version_no}": {"get"},
        "/api/v1/declarations/{declaration_id}/versions/{version_no}/text": {"get"},
        "/api/v1/declarations/{declaration_id}/comparison": {"get"},
        "/api/v1/comparison": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    schemas = spec["components"]["schemas"]
    assert {"DraftIn", "DraftUpdateIn", "VersionOwnerOut", "VersionPublicOut", "ChecksOut"} <= set(
        schemas
    )
    assert "bearer" in spec["components"]["securitySchemes"]

    def resolve(ref: str):
        node = spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node

    for path, item in paths.items():
        for name, param in [(n, p) for p in item.get("parameters", []) for n in [p.get("name")]]:
            assert param["in"] in {"path", "query", "header", "cookie"}, (path, name)
        for method, op in item.items():
            if method == "parameters":
                continue
            assert op["responses"], (path, method)
            for code, response in op["responses"].items():
                assert code == "default" or 100 <= int(code) < 600
                target = resolve(response["$ref"]) if "$ref" in response else response
                assert "description" in target, (path, method, code)
            refs = json.dumps(op)
            for ref in [chunk.split('"')[0] for chunk in refs.split('"$ref": "')[1:]]:
                resolve(ref)  # every reference resolves
            # Path templating: each {param} of the path is declared as a path parameter.
            declared = {
                p["name"]
                for p in item.get("parameters", []) + op.get("parameters", [])
                if p["in"] == "path"
            }
            assert declared == set(_path_params(path)), (path, declared)

    draft_put = paths["/api/v1/declarations/{declaration_id}/draft"]["put"]
    assert "409" in draft_put["responses"] and "422" in draft_put["responses"]
    upload = paths["/api/v1/declarations/{declaration_id}/draft/text"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert paths["/api/v1/declarations"]["get"]["responses"]["200"]["headers"]["X-Pagination"]
    assert paths["/api/v1/enterprises"]["post"]["security"] == []
    assert "401" in paths["/api/v1/enterprises/me"]["get"]["responses"]


def _path_params(path: str) -> list[str]:
    import re

    return re.findall(r"{([^}]+)}", path)


def test_swagger_ui_page(client):
    resp = client.get(f"{API}/docs")
    assert resp.status_code == 200
    assert b"swagger" in resp.data.lower()


def test_draft_status_in_db_after_create(db, client, catalogue, auth):
    body = create(client, auth, ac_draft(catalogue))
    version = db.session.get(DeclarationVersion, body["id"])
    assert version.status is VersionStatus.DRAFT
    assert version.indicators[0].test_method == "按 GB 21455-2019 附录 A"


@pytest.fixture
def count_queries(db):
    """A context manager counting the SQL statements run inside it."""
    from contextlib import contextmanager

    from sqlalchemy import event

    @contextmanager
    def counting():
        seen: list[str] = []

        def before(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", before)
        try:
            yield seen
        finally:
            event.remove(db.engine, "before_cursor_execute", before)

    return counting


def test_list_pages_run_a_fixed_number_of_queries(client, catalogue, auth, count_queries):
    def counts() -> tuple[int, int]:
        with count_queries() as public:
            assert client.get(f"{API}/declarations").status_code == 200
        with count_queries() as mine:
            assert client.get(f"{API}/declarations?mine=1", headers=auth).status_code == 200
        return len(public), len(mine)

    publish_new(client, auth, catalogue)
    create(client, auth, ac_draft(catalogue, code="Q/GDMD 0900-2024"))
    few = counts()
    for apf in (4.7, 4.8, 4.9, 5.0):
        publish_new(client, auth, catalogue, apf=apf)
    create(client, auth, ac_draft(catalogue, code="Q/GDMD 0901-2024"))
    assert counts() == few
