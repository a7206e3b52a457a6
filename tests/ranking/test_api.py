"""The 领跑者 JSON API (/api/v1/ranking): plans, runs, publicity, objections, publication,
public leaderboards and an enterprise's positions; 401/403/404 and 422 with field errors."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import local_today
from core.extensions import db as _db
from core.models import Role
from ranking.models import EvaluationPlan, Objection, RankingRun, RunStatus
from tests.ranking.test_views import (  # noqa: F401  (en, world: fixtures)
    en,
    make_category,
    official_run,
    plan_data,
    world,
)

API = "/api/v1/ranking"


@pytest.fixture
def evaluator_headers(world, token_for):
    return token_for(world["evaluator"])


def test_create_get_list_and_update_a_plan(client, db, make_user, token_for, en):
    cat = make_category()
    evaluator = make_user(Role.EVALUATOR)
    headers = token_for(evaluator)
    resp = client.post(f"{API}/plans", json=plan_data(cat), headers=headers)
    assert resp.status_code == 201, resp.get_json()
    plan = resp.get_json()
    assert plan["status"] == "draft" and plan["version_no"] == 1
    assert [i["key"] for i in plan["indicators"]] == ["apf", "noise", "standby"]
    assert plan["indicators"][0]["direction"] == "higher" and plan["indicators"][0]["floor"] == 3.3

    got = client.get(f"{API}/plans/{plan['id']}", headers=headers)
    assert got.status_code == 200 and got.get_json()["title"] == plan["title"]

    listed = client.get(f"{API}/plans", headers=headers)
    assert [p["id"] for p in listed.get_json()] == [plan["id"]]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1

    changed = plan_data(cat, title="改名后的方案")
    resp = client.put(f"{API}/plans/{plan['id']}", json=changed, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["title"] == "改名后的方案"
    assert resp.get_json()["id"] == plan["id"]  # a draft changes in place

    resp = client.patch(f"{API}/plans/{plan['id']}", json={"publicity_days": 15},
                        headers=headers)
    assert resp.status_code == 200
    assert resp.get_json()["publicity_days"] == 15
    assert resp.get_json()["title"] == "改名后的方案"  # the other fields keep their values
    resp = client.patch(f"{API}/plans/{plan['id']}", json={"publicity_days": 0},
                        headers=headers)
    assert resp.status_code == 422 and "publicity_days" in resp.get_json()["errors"]["json"]

    resp = client.post(f"{API}/plans/{plan['id']}/activate", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "active"
    # Editing an active plan makes a new version.
    resp = client.put(f"{API}/plans/{plan['id']}", json=plan_data(cat, title="第二版"),
                      headers=headers)
    assert resp.status_code == 200
    assert resp.get_json()["version_no"] == 2 and resp.get_json()["id"] != plan["id"]


def test_plan_refusals_answer_422_with_field_paths(client, db, make_user, token_for, en):
    cat = make_category()
    headers = token_for(make_user(Role.EVALUATOR))
    two = plan_data(cat)
    two["indicators"] = two["indicators"][:2]
    resp = client.post(f"{API}/plans", json=two, headers=headers)
    assert resp.status_code == 422
    assert "indicators" in resp.get_json()["errors"]["json"]

    bad_order = plan_data(cat)
    bad_order["indicators"][1]["cuts"] = [42.0, 38.0]  # noise: lower is better, best first
    resp = client.post(f"{API}/plans", json=bad_order, headers=headers)
    assert resp.status_code == 422
    assert "indicators.1.cuts" in resp.get_json()["errors"]["json"]

    best_n = plan_data(cat, leader_rule={"kind": "best_n", "n": None, "star_cuts": []})
    resp = client.post(f"{API}/plans", json=best_n, headers=headers)
    assert resp.status_code == 422
    assert "leader_rule.n" in resp.get_json()["errors"]["json"]

    # Shape errors come from the schema, also 422 with the field.
    resp = client.post(f"{API}/plans", json={"year": "soon"}, headers=headers)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]["json"]
    assert {"category_id", "title", "indicators", "year"} <= set(errors)
    assert _db.session.scalar(select(EvaluationPlan.id)) is None


def test_roles_and_ownership(client, world, make_user, token_for):
    plan = world["plan"]
    assert client.get(f"{API}/plans").status_code == 401
    ent = token_for(world["users"]["甲领跑空调有限公司"])
    assert client.get(f"{API}/plans", headers=ent).status_code == 403
    assert client.post(f"{API}/plans/{plan.id}/runs", headers=ent).status_code == 403
    other = token_for(make_user(Role.EVALUATOR))
    assert client.get(f"{API}/plans/{plan.id}", headers=other).status_code == 404
    assert client.put(f"{API}/plans/{plan.id}", json=plan_data(world["cat"]),
                      headers=other).status_code == 404
    assert client.post(f"{API}/plans/{plan.id}/runs", headers=other).status_code == 404
    assert client.get(f"{API}/plans", headers=other).get_json() == []
    run = official_run(plan, world["evaluator"])
    assert client.get(f"{API}/runs/{run.id}", headers=other).status_code == 404
    assert client.get(f"{API}/runs/{run.id}").status_code == 404  # computed: not public
    assert client.get(f"{API}/runs/{run.id}/exclusions", headers=other).status_code == 404
    assert client.post(f"{API}/runs/{run.id}/publicity", json={},
                       headers=other).status_code == 404
    assert client.post(f"{API}/runs/{run.id}/publish", headers=other).status_code == 404
    assert client.get(f"{API}/positions/me", headers=other).status_code == 403


def test_official_run_through_the_api(client, world, evaluator_headers):
    plan = world["plan"]
    resp = client.post(f"{API}/plans/{plan.id}/runs", headers=evaluator_headers)
    assert resp.status_code == 202
    job = resp.get_json()
    assert job["id"] and job["func"] == "ranking.tasks.official_run"

    jobs = client.get(f"{API}/plans/{plan.id}/jobs", headers=evaluator_headers).get_json()
    assert next(j for j in jobs if j["id"] == job["id"])["status"] == "done"  # ran inline

    runs = client.get(f"{API}/plans/{plan.id}/runs", headers=evaluator_headers).get_json()
    assert len(runs) == 1 and runs[0]["status"] == "computed" and runs[0]["official"]
    run_id = runs[0]["id"]
    run = client.get(f"{API}/runs/{run_id}", headers=evaluator_headers).get_json()
    assert run["entry_count"] == 4 and run["eligible_count"] == 3
    assert run["indicator_status"]["standby"]["ranked"] is False
    assert len(run["inputs_hash"]) == 64

    entries = client.get(f"{API}/runs/{run_id}/entries?page_size=2", headers=evaluator_headers)
    assert entries.status_code == 200
    assert json.loads(entries.headers["X-Pagination"])["total"] == 4
    first = entries.get_json()[0]
    assert first["composite_rank"] == 1 and first["enterprise"] == "甲领跑空调有限公司"
    assert first["tiers"] == {"apf": 1, "noise": 1, "standby": 1}
    assert first["values"] == {"apf": 5.2, "noise": 36.0, "standby": 0.5}

    by_noise = client.get(f"{API}/runs/{run_id}/entries?indicator_key=noise",
                          headers=evaluator_headers).get_json()
    eligible = [e for e in by_noise if e["eligible"]]
    assert [e["tiers"]["noise"] for e in eligible] == sorted(e["tiers"]["noise"] for e in eligible)
    bad = client.get(f"{API}/runs/{run_id}/entries?indicator_key=nope", headers=evaluator_headers)
    assert bad.status_code == 422

    tiers = client.get(f"{API}/runs/{run_id}/tiers", headers=evaluator_headers).get_json()
    by_key = {t["key"]: t for t in tiers}
    assert by_key["standby"]["ranked"] is False and by_key["standby"]["tiers"] == []
    assert by_key["standby"]["reason"] == "all_equal"
    apf_tier1 = by_key["apf"]["tiers"][0]
    assert apf_tier1["tier"] == 1 and apf_tier1["count"] == 2
    names = [e["enterprise"] for e in apf_tier1["entries"]]
    assert names == sorted(names)  # 排名不分先后: by name, not by value
    assert (apf_tier1["low"], apf_tier1["high"]) == (5.1, 5.2)

    leaders = client.get(f"{API}/runs/{run_id}/leaders", headers=evaluator_headers).get_json()
    assert [(x["enterprise"], x["standard_code"], x["model"], x["year"], x["removed"])
            for x in leaders] == [("甲领跑空调有限公司", "Q/RK001 0001-2024", "KFR-35GW/001",
                                   2025, False)]

    excl = client.get(f"{API}/runs/{run_id}/exclusions", headers=evaluator_headers)
    assert excl.status_code == 200
    (row,) = excl.get_json()
    assert row["enterprise"] == "丁明示空调有限公司"
    assert [r["code"] for r in row["reasons"]] == ["mingshi_on_core"]
    assert "明示" in row["reasons"][0]["detail"]


def test_publicity_objection_and_publication(client, world, evaluator_headers):
    plan = world["plan"]
    run = official_run(plan, world["evaluator"])
    # Backdated (issue 9, finding 4): refused, with the first possible day.
    backdated = local_today() - timedelta(days=21)
    resp = client.post(f"{API}/runs/{run.id}/publicity",
                       json={"start": backdated.isoformat()}, headers=evaluator_headers)
    assert resp.status_code == 422
    assert local_today().isoformat() in json.dumps(resp.get_json(), ensure_ascii=False)
    assert _db.session.get(RankingRun, run.id).status is RunStatus.COMPUTED
    start = local_today()
    resp = client.post(f"{API}/runs/{run.id}/publicity", json={"start": start.isoformat()},
                       headers=evaluator_headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "publicity" and body["publicity_start"] == start.isoformat()
    assert body["publicity_end"] == (start + timedelta(days=9)).isoformat()

    # Public now: anyone reads it and may object, without a token.
    assert client.get(f"{API}/runs/{run.id}").status_code == 200
    resp = client.post(f"{API}/runs/{run.id}/objections", json={"name": "李四"})
    assert resp.status_code == 422
    assert {"contact", "text"} <= set(resp.get_json()["errors"]["json"])
    resp = client.post(
        f"{API}/runs/{run.id}/objections",
        json={"name": "李四", "contact": "li@example.com", "text": "丙公司噪声数据有误",
              "entry_id": 999999},
    )
    assert resp.status_code == 422 and "entry_id" in resp.get_json()["errors"]["json"]
    resp = client.post(
        f"{API}/runs/{run.id}/objections",
        json={"name": "李四", "contact": "li@example.com", "text": "丙公司噪声数据有误"},
    )
    assert resp.status_code == 201
    filed = resp.get_json()
    assert filed["status"] == "open" and "contact" not in filed

    listed = client.get(f"{API}/runs/{run.id}/objections", headers=evaluator_headers).get_json()
    assert [(o["id"], o["contact"]) for o in listed] == [(filed["id"], "li@example.com")]
    assert client.get(f"{API}/runs/{run.id}/objections").status_code == 401

    # Publishing during the period, with an open objection, is refused.
    resp = client.post(f"{API}/runs/{run.id}/publish", headers=evaluator_headers)
    assert resp.status_code == 422

    resp = client.post(f"{API}/objections/{filed['id']}/resolve",
                       json={"accept": False, "response": ""}, headers=evaluator_headers)
    assert resp.status_code == 422
    resp = client.post(f"{API}/objections/{filed['id']}/resolve",
                       json={"accept": False, "response": "经复核，数据无误"},
                       headers=evaluator_headers)
    assert resp.status_code == 200 and resp.get_json()["status"] == "rejected"
    assert _db.session.get(Objection, filed["id"]).response == "经复核，数据无误"


def test_publish_after_the_period(client, world, evaluator_headers):
    run = official_run(world["plan"], world["evaluator"],
                       publicity_start=local_today() - timedelta(days=20))
    resp = client.post(f"{API}/runs/{run.id}/publish", headers=evaluator_headers)
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "published" and resp.get_json()["published_at"]
    _db.session.expire_all()
    assert _db.session.get(RankingRun, run.id).status is RunStatus.PUBLISHED
    # Published: objections are closed.
    resp = client.post(f"{API}/runs/{run.id}/objections",
                       json={"name": "a", "contact": "b", "text": "c"})
    assert resp.status_code == 422


def test_accepting_an_objection_reruns_the_list(client, world, evaluator_headers):
    run = official_run(world["plan"], world["evaluator"], publicity_start=local_today())
    filed = client.post(f"{API}/runs/{run.id}/objections",
                        json={"name": "王五", "contact": "1", "text": "请复核"}).get_json()
    resp = client.post(f"{API}/objections/{filed['id']}/resolve",
                       json={"accept": True, "response": "已复核并重新计算"},
                       headers=evaluator_headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "accepted" and body["resolved_run_id"] != run.id
    new = client.get(f"{API}/runs/{body['resolved_run_id']}").get_json()
    assert new["status"] == "publicity" and new["list_version"] == run.list_version + 1


def test_public_leaderboards(client, world):
    plan = world["plan"]
    boards = client.get(f"{API}/leaderboards")
    assert boards.status_code == 200
    (board,) = boards.get_json()
    assert board["plan"]["plan_key"] == plan.plan_key
    assert board["official"] is None and board["preview"]["kind"] == "preview"

    run = official_run(plan, world["evaluator"], publish=True)
    board = client.get(f"{API}/leaderboards/{plan.plan_key}").get_json()
    assert board["official"]["id"] == run.id and board["official"]["status"] == "published"
    assert board["preview"]["official"] is False
    leaders = client.get(f"{API}/runs/{run.id}/leaders").get_json()
    assert [x["enterprise"] for x in leaders] == ["甲领跑空调有限公司"]
    public_entries = client.get(f"{API}/runs/{run.id}/entries").get_json()
    assert len(public_entries) == 4
    excluded = [e for e in public_entries if not e["eligible"]]
    assert excluded and excluded[0]["exclusion_reasons"] == []  # why: not the public's business
    # Exclusions name enterprises and reasons: the evaluation body's, not the public's.
    assert client.get(f"{API}/runs/{run.id}/exclusions").status_code == 401
    assert client.get(f"{API}/leaderboards/nope").status_code == 404


def test_positions_of_an_enterprise(client, world, token_for):
    official_run(world["plan"], world["evaluator"], publish=True)
    leader = token_for(world["users"]["甲领跑空调有限公司"])
    positions = client.get(f"{API}/positions/me", headers=leader).get_json()
    kinds = sorted(p["run_kind"] for p in positions)
    assert kinds == ["official", "preview"]
    official = next(p for p in positions if p["run_kind"] == "official")
    assert official["entry"]["is_leader"] and official["entry"]["tiers"]["apf"] == 1
    assert official["entry"]["composite_rank"] == 1

    excluded = token_for(world["users"]["丁明示空调有限公司"])
    positions = client.get(f"{API}/positions/me", headers=excluded).get_json()
    assert positions and all(not p["entry"]["eligible"] for p in positions)
    assert positions[0]["entry"]["exclusion_reasons"][0]["code"] == "mingshi_on_core"
    assert client.get(f"{API}/positions/me").status_code == 401


def test_openapi_documents_the_ranking_api(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path in (
        "/api/v1/ranking/plans",
        "/api/v1/ranking/plans/{plan_id}/runs",
        "/api/v1/ranking/runs/{run_id}/entries",
        "/api/v1/ranking/runs/{run_id}/objections",
        "/api/v1/ranking/leaderboards/{plan_key}",
        "/api/v1/ranking/positions/me",
    ):
        assert path in paths, path
    assert "202" in paths["/api/v1/ranking/plans/{plan_id}/runs"]["post"]["responses"]
    assert paths["/api/v1/ranking/leaderboards"]["get"].get("security") == []


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "OBJECTION_RATE_LIMIT": "2 per minute"}]
)
def test_public_objections_are_rate_limited(client, world, app_config):
    run = official_run(world["plan"], world["evaluator"], publicity_start=local_today())
    body = {"name": "李四", "contact": "1", "text": "异议"}
    codes = [client.post(f"{API}/runs/{run.id}/objections", json=body).status_code
             for _ in range(3)]
    assert codes == [201, 201, 429]
    assert client.get(f"{API}/runs/{run.id}").status_code == 200
