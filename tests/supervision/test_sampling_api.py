"""The sampling JSON API: bearer tokens, region scoping (404) and roles (403), 422 with field
errors, draws with their recorded population, public sample lists and the public redo."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from core.models import Role
from supervision.sampling import method as sampling
from supervision.sampling import operations as draws
from supervision.models import Draw, Inspection, SamplingPlan
from tests.supervision.test_sampling_support import (  # noqa: F401  (fixtures)
    LAST_YEAR,
    LOTTERY,
    en_request_fixture,
    make_draw,
    make_plan,
    region_fixture,
)

API = "/api/v1/supervision/sampling"


def plan_json(**overrides) -> dict:
    data = {"name": "年度双随机抽查", "period_start": f"{LAST_YEAR}-01-01",
            "period_end": f"{LAST_YEAR + 1}-12-31", "size_ratio": 0.2,
            "stratification": "region"}
    data.update(overrides)
    return data


def test_a_regulator_makes_a_plan_and_draws_through_the_api(client, region, token_for):
    auth = token_for(region["regulator"])
    resp = client.post(f"{API}/plans", json=plan_json(), headers=auth)
    assert resp.status_code == 201, resp.json
    plan = resp.json
    assert plan["region_code"] == "500000" and plan["min_ratio"] == 0.05
    assert plan["exclude_drawn_years"] == 3 and plan["stratification"] == "region"

    resp = client.post(f"{API}/plans/{plan['id']}/draws", json={"seed_text": LOTTERY},
                       headers=auth)
    assert resp.status_code == 201, resp.json
    made = resp.json
    assert made["sample_size"] == 8 and made["seed_source"] == LOTTERY
    assert made["seed"] == str(sampling.seed_from_text(LOTTERY))
    assert made["params"]["method"] == sampling.METHOD and made["status"] == "drawn"

    items = client.get(f"{API}/draws/{made['id']}/items", headers=auth).json
    assert [i["position"] for i in items] == list(range(1, 9))
    assert {i["reason"] for i in items} == {"random"}
    assert all(len(i["inspector_ids"]) == 2 and i["inspection_id"] for i in items)
    assert all(0 < i["inclusion_probability"] < 1 for i in items)
    allocation = client.get(f"{API}/draws/{made['id']}/allocation", headers=auth).json
    assert {a["stratum"]: a["sample"] for a in allocation} == {"500112": 5, "500113": 3}

    population = client.get(f"{API}/draws/{made['id']}/population", headers=auth)
    assert population.status_code == 200 and population.mimetype == "application/gzip"
    frame = draws.read_population(population.data)
    assert sampling.population_hash(frame) == made["population_hash"]
    assert gzip.decompress(population.data).startswith(b"id,stratum,weight,risk,")

    listed = client.get(f"{API}/plans/{plan['id']}/draws", headers=auth).json
    assert [d["number"] for d in listed] == [made["number"]]


def test_redo_through_the_api_is_identical_twice(client, region, token_for):
    auth = token_for(region["regulator"])
    plan = make_plan(region["regulator"], size_ratio=0.25, stratification="region_category")
    made = make_draw(plan, region["regulator"])
    first = client.get(f"{API}/draws/{made.id}/redo", headers=auth)
    second = client.post(f"{API}/draws/{made.id}/redo", headers=auth)
    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    assert first.json["identical"] is True and first.json["hash_matches"] is True
    assert [r["id"] for r in first.json["sample"]] == [
        i["declaration_id"] for i in client.get(f"{API}/draws/{made.id}/items",
                                                headers=auth).json]


def test_the_public_redoes_a_publicised_draw_with_its_own_copies(client, region, token_for):
    plan = make_plan(region["regulator"], size_ratio=0.2)
    made = make_draw(plan, region["regulator"])
    # Not public yet: 404 for everyone but the region's regulators.
    for path in ("", "/items", "/redo", "/population", "/exclusions", "/allocation"):
        assert client.get(f"{API}/draws/{made.id}{path}").status_code == 404
    assert client.get(f"{API}/draws").json == []

    resp = client.post(f"{API}/draws/{made.id}/publicise", headers=token_for(region["regulator"]))
    assert resp.status_code == 200 and resp.json["status"] == "publicised"
    listed = client.get(f"{API}/draws").json
    assert [d["number"] for d in listed] == [made.number]

    items = client.get(f"{API}/draws/{made.id}/items").json
    assert items and "risk_score" not in items[0] and "inspector_ids" not in items[0]
    redo = client.get(f"{API}/draws/{made.id}/redo")
    assert redo.status_code == 200 and redo.json["identical"] is True

    population = client.get(f"{API}/draws/{made.id}/population").data
    params = json.dumps(made.params).encode()
    resp = client.post(
        f"{API}/draws/{made.id}/redo",
        data={"population": (io.BytesIO(population), "population.csv.gz"),
              "params": (io.BytesIO(params), "params.json")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200 and resp.json["identical"] is True
    plain = gzip.decompress(population)
    resp = client.post(f"{API}/draws/{made.id}/redo",
                       data={"population": (io.BytesIO(plain), "population.csv")},
                       content_type="multipart/form-data")
    assert resp.json["identical"] is True  # an unzipped copy reads the same

    tampered = plain.replace(b",1.0,0.0,0,,0\n", b",1.0,2.0,0,,0\n", 1)
    resp = client.post(f"{API}/draws/{made.id}/redo",
                       data={"population": (io.BytesIO(tampered), "population.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200
    assert resp.json["identical"] is False and resp.json["hash_matches"] is False
    assert resp.json["population_hash"] != made.population_hash
    assert "differs from the recorded" in resp.json["error"]

    resp = client.post(f"{API}/draws/{made.id}/redo",
                       data={"params": (io.BytesIO(b"{not json"), "params.json")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "params" in resp.json["errors"]["json"]
    resp = client.post(f"{API}/draws/{made.id}/redo",
                       data={"population": (io.BytesIO(b"a,b\n1,2\n"), "p.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "no column(s) id, stratum" in resp.json["errors"]["json"]["population"][0]


def test_bad_input_answers_422_with_field_errors(client, region, token_for):
    auth = token_for(region["regulator"])
    resp = client.post(f"{API}/plans", json=plan_json(size_ratio=0.01, inspectors_per_object=1,
                                                      region_code="310000"), headers=auth)
    assert resp.status_code == 422
    errors = resp.json["errors"]["json"]
    assert "minimum ratio 0.05" in errors["size_ratio"][0]
    assert "at least two" in errors["inspectors_per_object"][0]
    assert "outside your region" in errors["region_code"][0]
    resp = client.post(f"{API}/plans", json={"name": "x"}, headers=auth)
    assert resp.status_code == 422
    assert set(resp.json["errors"]["json"]) == {"period_start", "period_end"}
    resp = client.post(f"{API}/plans", json=plan_json(stratification="mood"), headers=auth)
    assert resp.status_code == 422 and "stratification" in resp.json["errors"]["json"]
    assert _db.session.scalar(select(func.count(SamplingPlan.id))) == 0

    plan = make_plan(region["regulator"])
    resp = client.post(f"{API}/plans/{plan.id}/draws", json={"seed": "12x"}, headers=auth)
    assert resp.status_code == 422 and "digits only" in resp.json["errors"]["json"]["seed"][0]
    resp = client.post(f"{API}/plans/{plan.id}/draws",
                       json={"seed": 5, "complaint_declaration_ids": [region["sh_declaration"].id]},
                       headers=auth)
    assert resp.status_code == 422
    assert "complaint_declaration_ids" in resp.json["errors"]["json"]
    assert _db.session.scalar(select(func.count(Draw.id))) == 0
    assert _db.session.scalar(select(func.count(Inspection.id))) == 0


def test_a_big_integer_seed_in_json(client, region, token_for):
    plan = make_plan(region["regulator"])
    seed = 2**127 + 12345
    resp = client.post(f"{API}/plans/{plan.id}/draws", json={"seed": seed},
                       headers=token_for(region["regulator"]))
    assert resp.status_code == 201 and resp.json["seed"] == str(seed)


def test_patch_and_put_a_plan(client, region, token_for):
    auth = token_for(region["regulator"])
    plan = make_plan(region["regulator"])
    resp = client.patch(f"{API}/plans/{plan.id}", json={"size_count": 7}, headers=auth)
    assert resp.status_code == 200 and resp.json["size_count"] == 7
    resp = client.put(f"{API}/plans/{plan.id}", json=plan_json(name="全部替换"), headers=auth)
    assert resp.status_code == 200 and resp.json["name"] == "全部替换"
    assert resp.json["size_ratio"] == 0.2
    make_draw(plan, region["regulator"])
    resp = client.patch(f"{API}/plans/{plan.id}", json={"size_count": 9}, headers=auth)
    assert resp.status_code == 422 and "_schema" in resp.json["errors"]["json"]


def test_region_scoping_and_roles(client, region, token_for, make_user):
    plan = make_plan(region["regulator"])
    made = make_draw(plan, region["regulator"])
    shanghai = token_for(region["other"])
    assert client.get(f"{API}/plans/{plan.id}", headers=shanghai).status_code == 404
    assert client.get(f"{API}/plans", headers=shanghai).json == []
    assert client.post(f"{API}/plans/{plan.id}/draws", json={"seed": 1},
                       headers=shanghai).status_code == 404
    assert client.get(f"{API}/draws/{made.id}", headers=shanghai).status_code == 404
    assert client.get(f"{API}/draws/{made.id}/redo", headers=shanghai).status_code == 404
    assert client.post(f"{API}/draws/{made.id}/publicise", headers=shanghai).status_code == 404
    assert client.get(f"{API}/plans").status_code == 401
    for role in (Role.ENTERPRISE, Role.EVALUATOR):
        auth = token_for(make_user(role))
        assert client.get(f"{API}/plans", headers=auth).status_code == 403
        assert client.get(f"{API}/inspectors", headers=auth).status_code == 403
        assert client.get(f"{API}/draws/{made.id}", headers=auth).status_code == 404


def test_inspector_pool_api(client, region, token_for):
    auth = token_for(region["regulator"])
    ent = region["enterprises"][0]
    resp = client.post(f"{API}/inspectors", json={
        "code": "CQ-9", "name": "赵六", "tied_usccs": [ent.uscc], "tied_region_codes": ["500113"],
    }, headers=auth)
    assert resp.status_code == 201, resp.json
    found = resp.json
    assert found["tied_enterprise_ids"] == [ent.id] and found["tied_region_codes"] == ["500113"]
    assert len(client.get(f"{API}/inspectors", headers=auth).json) == 7

    resp = client.patch(f"{API}/inspectors/{found['id']}", json={"active": False}, headers=auth)
    assert resp.status_code == 200 and resp.json["active"] is False
    resp = client.post(f"{API}/inspectors", json={"code": "CQ-9", "name": "重号"}, headers=auth)
    assert resp.status_code == 422 and "code" in resp.json["errors"]["json"]
    resp = client.post(f"{API}/inspectors", json={"code": "X", "name": "Y",
                                                  "tied_usccs": ["nonsense"]}, headers=auth)
    assert resp.status_code == 422 and "tied_usccs" in resp.json["errors"]["json"]

    shanghai = token_for(region["other"])
    assert client.get(f"{API}/inspectors/{found['id']}", headers=shanghai).status_code == 404
    assert client.patch(f"{API}/inspectors/{found['id']}", json={"name": "x"},
                        headers=shanghai).status_code == 404
    assert client.get(f"{API}/inspectors", headers=shanghai).json == []


def test_exclusions_through_the_api(client, region, token_for):
    auth = token_for(region["regulator"])
    plan = make_plan(region["regulator"], size_ratio=0.25)
    first = make_draw(plan, region["regulator"])
    second = make_draw(plan, region["regulator"], seed_text="second")
    rows = client.get(f"{API}/draws/{second.id}/exclusions", headers=auth)
    assert rows.status_code == 200 and len(rows.json) == second.excluded_count > 0
    assert all(first.number in r["reason_text"] for r in rows.json)
    assert all(r["reason"].startswith(f"drawn in draw {first.number} on ") for r in rows.json)
    assert json.loads(rows.headers["X-Pagination"])["total"] == second.excluded_count


def test_the_openapi_spec_documents_the_sampling_endpoints(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    redo = paths[f"{API}/draws/{{draw_id}}/redo"]
    assert set(redo) >= {"get", "post"}
    assert redo["get"]["security"] == [{}, {"bearer": []}]  # anyone, token optional
    assert "multipart/form-data" in redo["post"]["requestBody"]["content"]
    assert paths[f"{API}/draws"]["get"]["security"] == []
    assert "422" in paths[f"{API}/plans"]["post"]["responses"]
    assert "403" in paths[f"{API}/inspectors"]["get"]["responses"]
    for name in ("SamplingPlanIn", "SamplingDrawOut", "SamplingRedoOut", "SamplingInspectorOut"):
        assert name in spec["components"]["schemas"]


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "SAMPLING_REDO_RATE_LIMIT": "2 per minute"}]
)
def test_the_public_redo_is_rate_limited(client, region, app_config):
    plan = make_plan(region["regulator"])
    made = make_draw(plan, region["regulator"])
    draws.publicise_draw(made, region["regulator"])
    _db.session.commit()
    codes = [client.get(f"{API}/draws/{made.id}/redo").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    page = [client.get(f"/supervision/sampling/draws/{made.id}/redo").status_code
            for _ in range(3)]
    assert page == [200, 200, 429]  # the page counts on its own, with the same limit
