"""Issue 9, finding 1: the benchmarks apply to the product, whatever the form links.

Every path that publishes (the API, the form, a revision) runs ``comparison.check_version_rules``
through ``operations.publish``. The catalogue is the shipped seed (benchmarks/data), so the
figures are the real ones: APF of heat pumps ≤ 4500 W has the limit 3.30 (GB 21455-2019), the
thermal efficiency η1 of a gas water heater 86 % (GB 20665-2015).
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfWriter
from sqlalchemy import select

from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard
from declare.models import Declaration, DeclarationVersion, Indicator, VersionStatus

API = "/api/v1"


def tiny_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.fixture
def seed(db):
    """The shipped seed catalogue, plus one benchmark with a recommended value only (a test
    figure, not from a standard: the seed has none of that kind)."""
    from benchmarks.importer import load_directory

    reports = load_directory()
    assert all(r.ok for r in reports), [r.errors for r in reports]
    db.session.commit()
    cats = {c.code: c for c in db.session.scalars(select(ProductCategory))}
    stds = {s.code: s for s in db.session.scalars(select(Standard))}
    bench = {
        (b.category.code, b.code): b for b in db.session.scalars(select(BenchmarkIndicator))
    }
    return {"cat": cats, "std": stds, "bench": bench}


def add_recommended_only(db, seed) -> BenchmarkIndicator:
    row = BenchmarkIndicator(
        category=seed["cat"]["room_ac"],
        code="noise_test",
        name="室内机噪声（测试用推荐值）",
        name_en="Indoor noise (test figure)",
        unit="dB",
        direction="lower",
        recommended_value=40.0,
        recommended_source=seed["std"]["GB/T 7725-2022"],
        grades=[],
        valid_from=date(2023, 5, 1),
        source="test figure",
        applies=[],
    )
    db.session.add(row)
    db.session.commit()
    return row


def ac_product(seed, capacity=3500, unit="W", ac_type="heat_pump", **kw) -> dict:
    attributes = {"ac_type": ac_type}
    if capacity is not None:
        attributes["rated_cooling_capacity"] = [capacity, unit]
    return {
        "name": "壁挂式房间空调器",
        "model": kw.pop("model", "KFR-35GW/A1"),
        "category_id": seed["cat"]["room_ac"].id,
        "attributes": attributes,
        **kw,
    }


def indicator(name, value, unit, *, link=None, op="ge", mingshi="") -> dict:
    return {
        "kind": "performance",
        "name": name,
        "benchmark_indicator_id": link,
        "op": op,
        "value": value,
        "unit": unit,
        "test_method": "按 GB 21455-2019 附录 A",
        "mingshi": mingshi,
    }


def draft(products, indicators, refs=(), mingshi_fewer="", code="Q/RULE 0001-2024") -> dict:
    return {
        "kind": "enterprise",
        "std_code": code,
        "std_name": "企业标准",
        "commitment_accepted": True,
        "approved_by": "张工",
        "products": products,
        "indicators": indicators,
        "reference_ids": [r.id for r in refs],
        "mingshi_fewer": mingshi_fewer,
    }


@pytest.fixture
def ent(make_user, token_for):
    user = make_user()
    return token_for(user)


def api_publish(client, headers, payload) -> tuple[int, dict, int]:
    resp = client.post(f"{API}/declarations", json=payload, headers=headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    declaration_id = resp.get_json()["declaration_id"]
    up = client.post(
        f"{API}/declarations/{declaration_id}/draft/text",
        data={"file": (io.BytesIO(tiny_pdf()), "std.pdf", "application/pdf")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert up.status_code == 200, up.get_data(as_text=True)
    resp = client.post(f"{API}/declarations/{declaration_id}/publish", headers=headers)
    return resp.status_code, resp.get_json(), declaration_id


def flat(errors: dict, prefix="") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in errors.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def api_errors(body) -> dict[str, list[str]]:
    assert body["code"] == 422, body
    return flat(body["errors"]["json"])


def all_text(errors: dict) -> str:
    return " ".join(m for ms in errors.values() for m in ms)


# --------------------------------------------------------------------------- the API


def test_api_unlinked_apf_below_the_limit_is_refused(client, seed, ent):
    payload = draft(
        [ac_product(seed)],
        [indicator("全年能源消耗效率 APF", 2.0, "W/W")],  # no benchmark chosen
        refs=[seed["std"]["GB 21455-2019"]],
    )
    status, body, _id = api_publish(client, ent, payload)
    assert status == 422
    errors = api_errors(body)
    message = " ".join(errors["indicators.0.value"])
    assert "GB 21455-2019" in message and "3.30" in message and "2.00" in message


def test_api_unlinked_gas_water_heater_at_80_percent_is_refused(client, seed, ent):
    product = {
        "name": "燃气快速热水器",
        "model": "JSQ25-13A",
        "category_id": seed["cat"]["gas_water_heater"].id,
    }
    payload = draft(
        [product],
        [indicator("热效率 η1", 80, "%")],
        refs=[seed["std"]["GB 20665-2015"], seed["std"]["GB 6932-2015"]],
    )
    status, body, _id = api_publish(client, ent, payload)
    assert status == 422
    message = " ".join(api_errors(body)["indicators.0.value"])
    assert "GB 20665-2015" in message and "86" in message and "80" in message


def test_api_wrong_capacity_band_is_refused_naming_both_rows(client, seed, ent):
    wrong = seed["bench"][("room_ac", "apf_cc7100")]
    payload = draft(
        [ac_product(seed, capacity=3.5, unit="kW")],
        [indicator("全年能源消耗效率 APF", 4.6, "W/W", link=wrong.id)],
        refs=[seed["std"]["GB 21455-2019"]],
    )
    status, body, _id = api_publish(client, ent, payload)
    assert status == 422
    message = " ".join(api_errors(body)["indicators.0.benchmark_indicator_id"])
    # benchmark names in the reader's language (the tests run in English)
    assert "4500 W < rated cooling capacity ≤ 7100 W" in message  # the row linked
    assert "rated cooling capacity ≤ 4500 W" in message.split("its row is")[1]  # the right one
    assert "3.50 kW" in message or "3.5 kW" in message


def test_api_missing_capacity_is_a_field_error(client, seed, ent):
    payload = draft(
        [ac_product(seed, capacity=None)],
        [indicator("全年能源消耗效率 APF", 4.6, "W/W")],
        refs=[seed["std"]["GB 21455-2019"]],
    )
    status, body, _id = api_publish(client, ent, payload)
    assert status == 422
    errors = api_errors(body)
    assert "products.0.attributes.rated_cooling_capacity" in errors


def test_api_missing_mandatory_indicator_needs_the_mandatory_standard(client, db, seed, ent):
    noise = [indicator("室内机噪声", 38, "dB", op="le")]
    status, body, _id = api_publish(client, ent, draft([ac_product(seed)], noise))
    assert status == 422
    message = " ".join(api_errors(body)["indicators"])
    assert "GB 21455-2019" in message and "3.30" in message

    ok = draft(
        [ac_product(seed, model="KFR-26GW")],
        noise,
        refs=[seed["std"]["GB 21455-2019"]],
        code="Q/RULE 0002-2024",
    )
    status, body, declaration_id = api_publish(client, ent, ok)
    assert status == 200, body
    page = client.get(f"/declarations/{declaration_id}").get_data(as_text=True)
    assert "按 GB 21455-2019" in page
    # The jobs that follow a publication cope with a declaration whose indicators are all
    # unlinked (the risk flags' frame once failed on its empty benchmark column).
    from core.models import OutboxJob

    failed = db.session.scalars(select(OutboxJob).where(OutboxJob.status != "done")).all()
    assert [(j.func, j.status) for j in failed] == []


def test_api_missing_recommended_indicator_needs_mingshi(client, db, seed, ent):
    add_recommended_only(db, seed)
    rows = [indicator("全年能源消耗效率 APF", 4.6, "W/W")]
    refs = [seed["std"]["GB 21455-2019"]]
    status, body, _id = api_publish(client, ent, draft([ac_product(seed)], rows, refs))
    assert status == 422
    errors = api_errors(body)
    assert "GB/T 7725-2022" in " ".join(errors["mingshi_fewer"])

    statement = "本标准未规定室内机噪声，少于 GB/T 7725-2022 的要求：噪声按整机型式试验控制。"
    ok = draft([ac_product(seed)], rows, refs, mingshi_fewer=statement, code="Q/RULE 0003-2024")
    status, body, declaration_id = api_publish(client, ent, ok)
    assert status == 200, body
    assert body["mingshi_fewer"] == statement


def test_api_automatic_link_that_the_enterprise_changes(client, db, seed, ent):
    gas = seed["cat"]["gas_water_heater"]
    rated, half = seed["bench"][("gas_water_heater", "eta_rated")], seed["bench"][
        ("gas_water_heater", "eta_half")
    ]
    product = {"name": "燃气快速热水器", "model": "JSQ30-16B", "category_id": gas.id}
    payload = draft([product], [indicator("热效率 η1", 90, "%")])
    resp = client.post(f"{API}/declarations", json=payload, headers=ent)
    assert resp.status_code == 201
    version = resp.get_json()
    assert version["indicators"][0]["benchmark_indicator_id"] == rated.id  # linked for them

    # The enterprise says the figure is η2: it may choose another benchmark of the category.
    changed = dict(payload, lock_version=version["lock_version"])
    changed["indicators"] = [indicator("热效率 η1", 90, "%", link=half.id)]
    changed["reference_ids"] = [seed["std"]["GB 6932-2015"].id]
    declaration_id = version["declaration_id"]
    resp = client.put(f"{API}/declarations/{declaration_id}/draft", json=changed, headers=ent)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["indicators"][0]["benchmark_indicator_id"] == half.id

    client.post(
        f"{API}/declarations/{declaration_id}/draft/text",
        data={"file": (io.BytesIO(tiny_pdf()), "std.pdf", "application/pdf")},
        headers=ent,
        content_type="multipart/form-data",
    )
    resp = client.post(f"{API}/declarations/{declaration_id}/publish", headers=ent)
    assert resp.status_code == 422  # η1 still applies: declared by nobody, GB 20665 not cited
    assert "GB 20665-2015" in " ".join(api_errors(resp.get_json())["indicators"])

    # Choosing "none" is not possible: the indicator is linked again.
    unlinked = dict(changed, lock_version=resp.get_json() and _lock(db, declaration_id))
    unlinked["indicators"] = [indicator("热效率 η1", 90, "%", link=None)]
    resp = client.put(f"{API}/declarations/{declaration_id}/draft", json=unlinked, headers=ent)
    assert resp.status_code == 200
    assert resp.get_json()["indicators"][0]["benchmark_indicator_id"] == rated.id


def _lock(db, declaration_id: int) -> int:
    db.session.expire_all()
    declaration = db.session.get(Declaration, declaration_id)
    return declaration.draft.lock_version


def test_revision_runs_the_same_rules(client, db, seed, ent):
    refs = [seed["std"]["GB 21455-2019"]]
    good = draft([ac_product(seed)], [indicator("全年能源消耗效率 APF", 4.6, "W/W")], refs)
    status, body, declaration_id = api_publish(client, ent, good)
    assert status == 200, body
    stored = db.session.scalars(select(Indicator).where(Indicator.version_id == body["id"])).one()
    assert stored.benchmark_indicator_id == seed["bench"][("room_ac", "apf")].id
    assert stored.cmp_status == "exceeds" and stored.cmp_grade == "2级"

    resp = client.post(f"{API}/declarations/{declaration_id}/revise", headers=ent)
    assert resp.status_code == 201
    revision = dict(good, lock_version=resp.get_json()["lock_version"])
    revision["indicators"] = [indicator("APF", 3.0, "W/W")]
    resp = client.put(f"{API}/declarations/{declaration_id}/draft", json=revision, headers=ent)
    assert resp.status_code == 200
    resp = client.post(f"{API}/declarations/{declaration_id}/publish", headers=ent)
    assert resp.status_code == 422
    assert "3.30" in " ".join(api_errors(resp.get_json())["indicators.0.value"])


def test_api_preview_judges_the_products(client, seed, ent):
    resp = client.post(
        f"{API}/comparison",
        json={
            "products": [ac_product(seed)],
            "indicators": [indicator("APF", 2.0, "W/W")],
        },
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["publishable"] is False
    assert body["auto_linked"] == [0]
    assert body["checks"][0]["comparison"]["status"] == "violation"
    assert body["checks"][0]["comparison"]["distance"]["kind"] == "mandatory"


# --------------------------------------------------------------------------- the form


def form_data(seed, *, name="全年能源消耗效率 APF", value="2.0", link="", capacity="3500",
              refs=("GB 21455-2019",), fewer="", action="publish", **extra) -> dict:
    data = {
        "std_code": "Q/FORM 0001-2024",
        "std_name": "房间空调器企业标准",
        "products-0-name": "壁挂式房间空调器",
        "products-0-model": "KFR-35GW/F1",
        "products-0-category_id": str(seed["cat"]["room_ac"].id),
        "products-0-attr_ac_type": "heat_pump",
        "products-0-attr_rated_cooling_capacity": capacity,
        "products-0-attr_rated_cooling_capacity_unit": "W",
        "indicators-0-kind": "performance",
        "indicators-0-name": name,
        "indicators-0-benchmark_indicator_id": link,
        "indicators-0-op": "ge",
        "indicators-0-value": value,
        "indicators-0-unit": "W/W",
        "indicators-0-test_method": "GB 21455-2019 附录A",
        "disclosure": "full_text",
        "commitment_accepted": "y",
        "approved_by": "张工",
        "mingshi_fewer": fewer,
        "text_pdf": (io.BytesIO(tiny_pdf()), "std.pdf", "application/pdf"),
        "action": action,
    }
    for i, code in enumerate(refs):
        data[f"references-{i}-standard_id"] = str(seed["std"][code].id)
    data.update(extra)
    return data


def post_form(client, data):
    return client.post(
        "/my/declarations/new/enterprise", data=data, content_type="multipart/form-data"
    )


def published(db) -> list[DeclarationVersion]:
    return list(
        db.session.scalars(
            select(DeclarationVersion).where(DeclarationVersion.status == VersionStatus.PUBLISHED)
        )
    )


def test_form_unlinked_violation_is_refused_and_the_link_shown(client, db, seed, login_as):
    login_as()
    resp = post_form(client, form_data(seed))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "GB 21455-2019" in page and "3.30" in page and "2.00" in page
    apf = seed["bench"][("room_ac", "apf")]
    assert f'<option selected value="{apf.id}"' in page or f'value="{apf.id}" selected' in page
    assert published(db) == []


def test_form_wrong_band_is_refused(client, db, seed, login_as):
    login_as()
    wrong = seed["bench"][("room_ac", "apf_cc14000")]
    resp = post_form(client, form_data(seed, value="4.6", link=str(wrong.id)))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "7100 W &lt; rated cooling capacity ≤ 14000 W" in page
    assert "rated cooling capacity ≤ 4500 W" in page
    assert published(db) == []


def test_form_missing_mandatory_then_referenced(client, db, seed, login_as):
    login_as()
    data = form_data(seed, name="室内机噪声", value="38", refs=())
    data["indicators-0-op"], data["indicators-0-unit"] = "le", "dB"
    resp = post_form(client, data)
    assert resp.status_code == 422
    assert "cite GB 21455-2019 among the normative references" in resp.get_data(as_text=True)
    data = form_data(seed, name="室内机噪声", value="38")
    data["indicators-0-op"], data["indicators-0-unit"] = "le", "dB"
    resp = post_form(client, data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    assert len(published(db)) == 1


def test_form_missing_recommended_needs_mingshi(client, db, seed, login_as):
    add_recommended_only(db, seed)
    login_as()
    resp = post_form(client, form_data(seed, value="4.6"))
    assert resp.status_code == 422
    assert "fewer indicators than GB/T 7725-2022" in resp.get_data(as_text=True)
    resp = post_form(client, form_data(seed, value="4.6", fewer="不规定噪声，原因：……"))
    assert resp.status_code == 302
    assert published(db)[0].mingshi_fewer == "不规定噪声，原因：……"


def test_form_automatic_link_the_enterprise_changes(client, db, seed, login_as):
    login_as()
    resp = post_form(client, form_data(seed, value="4.6", action="save"))
    assert resp.status_code == 302
    version = db.session.scalars(select(DeclarationVersion)).one()
    apf = seed["bench"][("room_ac", "apf")]
    assert version.indicators[0].benchmark_indicator_id == apf.id
    edit = client.get(f"/my/declarations/{version.declaration_id}/draft").get_data(as_text=True)
    assert f'<option selected value="{apf.id}"' in edit

    # Changed to SEER (cooling-only units): it does not apply to a heat pump.
    seer = seed["bench"][("room_ac", "seer")]
    data = form_data(seed, value="4.6", link=str(seer.id), lock_version=str(version.lock_version))
    resp = client.post(
        f"/my/declarations/{version.declaration_id}/draft",
        data=data,
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "which does not apply to" in page and "rated cooling capacity ≤ 4500 W" in page
    assert published(db) == []


def test_live_comparison_wording(client, seed, login_as):
    """Finding 8: a violation reads as how far below the limit, not a negative margin."""
    login_as()
    resp = client.post(
        "/declarations/compare",
        json={
            "indicators": [
                {"kind": "performance", "name": "APF", "op": "ge", "value": "2.0", "unit": "W/W"},
                {"kind": "performance", "name": "APF", "op": "ge", "value": "4.2", "unit": "W/W"},
                {"kind": "performance", "name": "APF", "op": "ge", "value": "4.7", "unit": "W/W"},
            ],
            "products": [
                {
                    "category_id": str(seed["cat"]["room_ac"].id),
                    "attr_ac_type": "heat_pump",
                    "attr_rated_cooling_capacity": "3500",
                }
            ],
        },
    )
    assert resp.status_code == 200
    rows = resp.get_json()["rows"]
    assert [r["status"] for r in rows] == ["violation", "below_recommended", "exceeds"]
    assert all(r["auto_linked"] for r in rows)
    assert rows[0]["distance_text"] == "39.4% below the mandatory limit 3.30 W/W"
    assert rows[1]["distance_text"] == "6.7% below the recommended value 4.50 W/W"
    assert rows[2]["distance_text"] == "4.4% above the threshold 4.50 W/W of grade 2级"
    assert "Margin" not in resp.get_data(as_text=True)


def test_live_comparison_lower_is_better(client, seed, login_as):
    login_as()
    resp = client.post(
        "/declarations/compare",
        json={
            "indicators": [
                {"kind": "performance", "name": "烟气中 NOx 排放", "op": "le", "value": "300",
                 "unit": "mg/kWh"},
            ],
            "products": [{"category_id": str(seed["cat"]["gas_water_heater"].id)}],
        },
    )
    row = resp.get_json()["rows"][0]
    assert row["status"] == "violation"
    assert row["distance_text"].endswith("above the mandatory limit 260 mg/kWh")
    problems = resp.get_json()["problems"]
    assert any("GB 20665-2015" in p for p in problems)  # η1 and η2 apply, not declared
