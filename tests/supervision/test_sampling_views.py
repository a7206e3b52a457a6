"""The sampling pages: roles (403) and region scoping (404), forms re-rendered with 422 and
the message on the field, the draw page (reasons, pi, strata, exclusions, hash, download,
chart), publicity, the public sample lists and their redo, the inspector pool, CSRF."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from core.models import Role
from supervision.sampling import operations as draws
from supervision.models import Draw, Inspector, SamplingPlan
from supervision.sampling.views import stratum_chart
from tests.conftest import CSRF_RE, PASSWORD
from tests.supervision.test_sampling_support import (  # noqa: F401  (fixtures)
    LAST_YEAR,
    LOTTERY,
    CountQueries,
    en_request_fixture,
    make_draw,
    make_plan,
    region_fixture,
    regulator_user,
)

BASE = "/supervision/sampling"


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


def log_in(client, user) -> None:
    client.post("/logout")
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 302, text_of(resp)[:300]


def plan_form(**overrides) -> dict:
    data = {"name": "重庆市2025年企业标准抽查", "region_code": "500000",
            "period_start": f"{LAST_YEAR}-01-01", "period_end": f"{LAST_YEAR + 1}-12-31",
            "size_ratio": "0.2", "stratification": "region", "allocation": "proportional",
            "min_ratio": "0.05", "exclude_drawn_years": "3", "risk_factor": "1",
            "max_inclusion": "0.9", "inspectors_per_object": "2", "rectification_days": "30"}
    data.update(overrides)
    return data


def field_errors(html: str, field_id: str) -> str:
    """The error messages shown next to one field."""
    start = html.index(f'id="{field_id}"')
    end = html.find('<div class="field', start)
    return html[start:end if end > 0 else None]


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize("path", ["/plans", "/plans/new", "/inspectors", "/inspectors/new"])
def test_anonymous_is_sent_to_login_and_other_roles_get_403(client, region, make_user, path):
    resp = client.get(BASE + path)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    for role in (Role.ENTERPRISE, Role.EVALUATOR):
        log_in(client, make_user(role))
        assert client.get(BASE + path).status_code == 403


def test_another_region_gets_404(client, region):
    plan = make_plan(region["regulator"])
    made = make_draw(plan, region["regulator"])
    inspector = region["pool"][0]
    log_in(client, region["other"])
    for path in (f"/plans/{plan.id}", f"/plans/{plan.id}/edit", f"/draws/{made.id}",
                 f"/draws/{made.id}/redo", f"/draws/{made.id}/population.csv.gz",
                 f"/inspectors/{inspector.id}/edit", f"/public/{made.id}"):
        assert client.get(BASE + path).status_code == 404, path
    assert client.post(f"{BASE}/plans/{plan.id}/draws", data={"seed": "1"}).status_code == 404
    assert client.post(f"{BASE}/draws/{made.id}/publicise").status_code == 404
    assert client.post(f"{BASE}/inspectors/{inspector.id}/active").status_code == 404
    assert plan.name not in text_of(client.get(f"{BASE}/plans"))
    assert _db.session.scalar(select(func.count(Draw.id))) == 1


# --------------------------------------------------------------------------- plans


def test_make_a_plan_through_the_form(client, region):
    log_in(client, region["regulator"])
    html = text_of(client.get(f"{BASE}/plans/new"))
    assert 'value="500000"' in html and 'value="0.05"' in html  # defaults filled in
    resp = client.post(f"{BASE}/plans/new", data=plan_form(
        category_ids=[str(region["catalogue"]["toilet"].id)]))
    assert resp.status_code == 302
    plan = _db.session.scalar(select(SamplingPlan))
    assert resp.headers["Location"].endswith(f"/plans/{plan.id}")
    assert plan.category_ids == [region["catalogue"]["toilet"].id] and plan.size_ratio == 0.2
    html = text_of(client.get(f"{BASE}/plans"))
    assert f'data-plan="{plan.id}"' in html and "20.00 %" in html


def test_a_refused_plan_is_shown_again_with_422_and_the_message_on_the_field(client, region):
    log_in(client, region["regulator"])
    resp = client.post(f"{BASE}/plans/new", data=plan_form(
        size_ratio="0.01", region_code="310000", inspectors_per_object="1",
        period_end="someday"))
    assert resp.status_code == 422
    html = text_of(resp)
    assert "Nothing was saved" in html
    assert "from the minimum ratio 0.05" in field_errors(html, "size_ratio")
    assert "outside your region 500000" in field_errors(html, "region_code")
    assert "at least two" in field_errors(html, "inspectors_per_object")
    assert "YYYY-MM-DD" in field_errors(html, "period_end")
    assert 'value="重庆市2025年企业标准抽查"' in html  # what was typed is kept
    assert _db.session.scalar(select(func.count(SamplingPlan.id))) == 0


def test_edit_a_plan_before_any_draw(client, region):
    plan = make_plan(region["regulator"])
    log_in(client, region["regulator"])
    html = text_of(client.get(f"{BASE}/plans/{plan.id}/edit"))
    assert f'value="{plan.name}"' in html
    resp = client.post(f"{BASE}/plans/{plan.id}/edit", data=plan_form(name="改名"))
    assert resp.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(SamplingPlan, plan.id).name == "改名"
    make_draw(plan, region["regulator"])
    assert 'id="edit-plan"' not in text_of(client.get(f"{BASE}/plans/{plan.id}"))
    resp = client.post(f"{BASE}/plans/{plan.id}/edit", data=plan_form(name="再改"))
    assert resp.status_code == 422 and "make a new plan" in text_of(resp)


# --------------------------------------------------------------------------- draws


def test_draw_through_the_form_and_read_the_draw_page(client, region):
    plan = make_plan(region["regulator"], size_ratio=0.2, stratification="region")
    first = make_draw(plan, region["regulator"], seed_text="earlier")
    log_in(client, region["regulator"])
    forced = region["declarations"][0]
    resp = client.post(f"{BASE}/plans/{plan.id}/draws", data={
        "seed_text": LOTTERY, "complaint_declaration_ids": str(forced.id)})
    assert resp.status_code == 302, text_of(resp)[:2000]
    made = _db.session.scalar(select(Draw).where(Draw.seed_source == LOTTERY))
    assert resp.headers["Location"].endswith(f"/draws/{made.id}")

    html = text_of(client.get(f"{BASE}/draws/{made.id}"))
    assert made.number in html and made.population_hash in html and made.seed in html
    assert LOTTERY in html
    rows = re.findall(r'<tr data-declaration="(\d+)" data-reason="(\w+)">', html)
    assert len(rows) == made.sample_size
    assert (str(forced.id), "complaint") in rows
    assert {r for _d, r in rows} <= {"random", "risk_weighted", "complaint"}
    assert "Complaint-triggered" in html and "Random" in html
    assert html.count("data-pi=") == made.sample_size
    assert 'data-stratum="500112"' in html and 'data-stratum="500113"' in html
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'class="sample-bar"' in html
    # Exclusions with the earlier draw named.
    assert html.count("data-excluded=") == made.excluded_count > 0
    assert f"drawn in draw {first.number}" in html
    assert f"/draws/{made.id}/population.csv.gz" in html and f"/draws/{made.id}/redo" in html
    names = {i.name for i in region["pool"]}
    inspectors = re.findall(r'<td class="inspectors">([^<]*)</td>', html)
    assert inspectors and all(set(cell.split("、")) <= names for cell in inspectors)

    download = client.get(f"{BASE}/draws/{made.id}/population.csv.gz")
    assert download.status_code == 200 and download.data == made.population_csv_gz
    assert f'population-{made.number}.csv.gz' in download.headers["Content-Disposition"]

    redo = text_of(client.get(f"{BASE}/draws/{made.id}/redo"))
    assert 'data-identical="1"' in redo and made.population_hash in redo


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({}, "seed", "Give the seed"),
        ({"seed": "abc"}, "seed", "digits only"),
        ({"seed": "1", "seed_text": "x"}, "seed", "not both"),
        ({"seed": "1", "complaint_declaration_ids": "x1"}, "complaint_declaration_ids", "x1"),
    ],
)
def test_a_refused_draw_keeps_the_form_with_422(client, region, data, field, words):
    plan = make_plan(region["regulator"])
    log_in(client, region["regulator"])
    resp = client.post(f"{BASE}/plans/{plan.id}/draws", data=data)
    assert resp.status_code == 422
    html = text_of(resp)
    assert "No sample was drawn" in html and words in field_errors(html, field)
    assert _db.session.scalar(select(func.count(Draw.id))) == 0


def test_a_draw_without_enough_inspectors_says_so(client, region):
    for member in region["pool"][1:]:
        member.active = False
    _db.session.commit()
    plan = make_plan(region["regulator"])
    log_in(client, region["regulator"])
    resp = client.post(f"{BASE}/plans/{plan.id}/draws", data={"seed": "7"})
    assert resp.status_code == 422
    assert "1 active inspectors but every object needs 2" in text_of(resp)


def test_publicise_and_the_public_pages(client, region):
    plan = make_plan(region["regulator"], size_ratio=0.2)
    made = make_draw(plan, region["regulator"])
    assert client.get(f"{BASE}/public/{made.id}").status_code == 404
    assert client.get(f"{BASE}/draws/{made.id}/redo").status_code == 404
    assert made.number not in text_of(client.get(f"{BASE}/public"))

    log_in(client, region["regulator"])
    resp = client.post(f"{BASE}/draws/{made.id}/publicise")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/public/{made.id}")
    resp = client.post(f"{BASE}/draws/{made.id}/publicise")
    assert resp.status_code == 302  # refused with a message, nothing changes
    assert "already public" in text_of(client.get(f"{BASE}/draws/{made.id}"))

    client.post("/logout")
    listing = text_of(client.get(f"{BASE}/public"))
    assert made.number in listing and plan.name in listing
    html = text_of(client.get(f"{BASE}/public/{made.id}"))
    assert made.population_hash in html and made.seed in html
    assert len(re.findall(r'<tr data-declaration="\d+" data-reason="random">', html)) == 8
    assert "Risk score" not in html and 'class="inspectors"' not in html
    redo = text_of(client.get(f"{BASE}/draws/{made.id}/redo"))
    assert 'data-identical="1"' in redo
    assert len(re.findall(r'<tr data-declaration="\d+">', redo)) == 8
    download = client.get(f"{BASE}/draws/{made.id}/population.csv.gz")
    assert download.data == made.population_csv_gz


def test_the_draw_page_reads_a_fixed_number_of_statements(client, region):
    small = make_plan(region["regulator"], size_count=2, exclude_drawn_years=0)
    big = make_plan(region["regulator"], size_ratio=1.0, exclude_drawn_years=0)
    ids = {"small": make_draw(small, region["regulator"]).id,
           "big": make_draw(big, region["regulator"]).id}
    log_in(client, region["regulator"])
    counts = {}
    for key, draw_id in ids.items():
        _db.session.expunge_all()
        with CountQueries(_db.engine) as counter:
            assert client.get(f"{BASE}/draws/{draw_id}").status_code == 200
        counts[key] = len(counter.statements)
    assert counts["small"] == counts["big"], counts


# --------------------------------------------------------------------------- inspectors


def test_inspector_pool_pages(client, region):
    log_in(client, region["regulator"])
    ent = region["enterprises"][3]
    html = text_of(client.get(f"{BASE}/inspectors"))
    assert html.count("data-inspector=") == 6
    resp = client.post(f"{BASE}/inspectors/new", data={
        "code": "CQ-77", "name": "孙七", "tied_usccs": ent.uscc, "tied_region_codes": "500113",
        "active": "y"})
    assert resp.status_code == 302
    found = _db.session.scalar(select(Inspector).where(Inspector.code == "CQ-77"))
    assert found.tied_enterprise_ids == [ent.id] and found.tied_region_codes == ["500113"]
    html = text_of(client.get(f"{BASE}/inspectors"))
    assert ent.name in html and "500113" in html

    html = text_of(client.get(f"{BASE}/inspectors/{found.id}/edit"))
    assert ent.uscc in html
    resp = client.post(f"{BASE}/inspectors/{found.id}/edit", data={
        "code": "CQ00", "name": "孙七", "tied_usccs": "not-a-code"})
    assert resp.status_code == 422
    html = text_of(resp)
    assert "already has an inspector with the staff number CQ00" in field_errors(html, "code")
    assert "Not a valid unified social credit code" in field_errors(html, "tied_usccs")

    resp = client.post(f"{BASE}/inspectors/{found.id}/active")
    assert resp.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Inspector, found.id).active is False
    assert 'data-active="0"' in text_of(client.get(f"{BASE}/inspectors"))


# --------------------------------------------------------------------------- chart, CSRF


def test_stratum_chart_draws_the_shares():
    allocation = pd.DataFrame({"stratum": ["a", "b<c"], "population": [30, 10],
                               "sample": [3, 2], "excluded": [0, 0], "complaint": [0, 0]})
    chart = stratum_chart(allocation, chart_id="c", title="T", desc="D",
                          population_label="P", sample_label="S")
    assert [(r["stratum"], r["population_share"], r["sample_share"]) for r in chart.rows] == [
        ("a", 0.75, 0.6), ("b<c", 0.25, 0.4)]
    bars = re.findall(r'width="([\d.]+)" height="8" fill="#[0-9a-f]+" class="(population|sample)'
                      r'-bar" data-stratum="([^"]+)"', chart.svg)
    widths = {(kind, stratum): float(w) for w, kind, stratum in bars}
    assert widths[("population", "a")] == pytest.approx(430.0)  # the longest bar: full width
    assert widths[("sample", "a")] == pytest.approx(430.0 * 0.6 / 0.75, abs=0.01)
    assert widths[("population", "b&lt;c")] == pytest.approx(430.0 / 3, abs=0.01)
    assert "b&lt;c" in chart.svg and "b<c" not in chart.svg

    long_key = "500112/" + "x" * 33
    chart = stratum_chart(allocation.assign(stratum=[long_key, "b"]), chart_id="c", title="T",
                          desc="D", population_label="P", sample_label="S")
    label = re.search(rf'<text [^>]*data-stratum="{long_key}">([^<]+)</text>', chart.svg)
    assert label.group(1) == long_key[:21] + "…"


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_forms_need_the_csrf_token(client, region, app_config):
    token = CSRF_RE.search(text_of(client.get("/login"))).group(1)
    resp = client.post("/login", data={"username": region["regulator"].username,
                                       "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    plan = make_plan(region["regulator"])
    assert client.post(f"{BASE}/plans/{plan.id}/draws", data={"seed": "1"}).status_code == 400
    assert client.post(f"{BASE}/plans/new", data=plan_form()).status_code == 400
    assert _db.session.scalar(select(func.count(Draw.id))) == 0
    token = CSRF_RE.search(text_of(client.get(f"{BASE}/plans/{plan.id}"))).group(1)
    resp = client.post(f"{BASE}/plans/{plan.id}/draws", data={"seed": "1", "csrf_token": token})
    assert resp.status_code == 302
    made = _db.session.scalar(select(Draw))
    assert client.post(f"{BASE}/draws/{made.id}/publicise").status_code == 400


def test_the_plan_page_renders_in_the_default_chinese_locale(client, region, app):
    app.config["BABEL_DEFAULT_LOCALE"] = "zh"
    plan = make_plan(region["regulator"])
    make_draw(plan, region["regulator"])
    log_in(client, region["regulator"])
    html = text_of(client.get(f"{BASE}/plans/{plan.id}"))
    assert "<html lang=\"zh-CN\">" in html
    assert draws.plans_for(region["regulator"])[0].name in html
