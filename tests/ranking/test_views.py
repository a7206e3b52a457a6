"""The 领跑者 pages: evaluation bodies' plans and runs (roles, ownership, form refusals), the
public leaderboards, publicity and objections, an enterprise's positions, and the query count
of the leaderboard for a category of 10,000 declarations.

The data builders at the top are shared with the other test modules of ranking's pages.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, insert, select

from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard, StandardKind
from core import jobs
from core.clock import local_today
from core.extensions import db as _db
from core.models import OutboxJob, Role
from declare.models import (
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeclarationVersion,
    Enterprise,
    Product,
    VersionStatus,
)
from ranking import plans, publicity, runs
from ranking.models import (
    EvaluationPlan,
    LeaderboardPointer,
    Objection,
    ObjectionStatus,
    PlanStatus,
    RankingRun,
    RunEntry,
    RunKind,
    RunStatus,
)
from tests.factories import make_enterprise_user
from tests.ranking.conftest import publicise_on

# --------------------------------------------------------------------------- data builders

APF_GRADES = [["1级", 5.0], ["2级", 4.5], ["3级", 4.0], ["4级", 3.5], ["5级", 3.3]]
NOISE_GRADES = [["1级", 35.0], ["2级", 40.0], ["3级", 45.0]]
STANDBY_GRADES = [["1级", 0.3], ["2级", 0.5], ["3级", 1.0]]

# name -> (apf W/W higher, noise dBA lower, standby W lower, 明示 on APF)
DEFAULT_DECLARATIONS = {
    "甲领跑空调有限公司": (5.2, 36.0, 0.5, ""),  # top tier in both ranked indicators: leader
    "乙标准空调有限公司": (4.6, 40.0, 0.5, ""),  # second tiers
    "丙能效空调有限公司": (5.1, 43.0, 0.5, ""),  # APF tier 1, noise tier 3
    "丁明示空调有限公司": (3.8, 40.0, 0.5, "低于推荐值，因采用定频压缩机"),  # excluded: 明示
}


def make_category() -> dict:
    """A category with three benchmark indicators: APF (higher is better, recommended 4.0),
    noise (lower), standby power (lower)."""
    gb = Standard(
        kind=StandardKind.NATIONAL_MANDATORY,
        prefix="GB",
        number="99001",
        part="",
        year=2020,
        code="GB 99001-2020",
        title="测试空调能效限定值及能效等级",
        effective_date=date(2020, 1, 1),
    )
    cat = ProductCategory(code="rk_ac", name="测试空调", name_en="Test air conditioner")
    _db.session.add_all([gb, cat])
    _db.session.flush()

    def bench(code, name, name_en, unit, direction, limit, grades, recommended=None):
        row = BenchmarkIndicator(
            category=cat,
            code=code,
            name=name,
            name_en=name_en,
            unit=unit,
            direction=direction,
            mandatory_limit=limit,
            mandatory_source=gb,
            recommended_value=recommended,
            recommended_source=gb if recommended is not None else None,
            grades=grades,
            valid_from=date(2020, 1, 1),
            citation="GB 99001-2020 表1",
        )
        _db.session.add(row)
        return row

    apf = bench("apf", "全年能源消耗效率", "APF", "W/W", "higher", 3.3, APF_GRADES, 4.0)
    noise = bench("noise", "噪声", "Noise", "dBA", "lower", 45.0, NOISE_GRADES)
    standby = bench("standby", "待机功率", "Standby power", "W", "lower", 1.0, STANDBY_GRADES)
    _db.session.commit()
    return {"category": cat, "apf": apf, "noise": noise, "standby": standby, "gb": gb}


def publish_declaration(user, cat: dict, values: tuple, n: int) -> DeclarationVersion:
    """An enterprise-standard declaration of ``user`` with the three indicators, published."""
    from declare import operations as declare_ops
    from tests.declare import pdf_bytes, upload

    apf, noise, standby, mingshi = values
    data = {
        "kind": "enterprise",
        "std_code": f"Q/RK{n:03d} 0001-2024",
        "std_name": "房间空气调节器",
        "disclosure": "full_text",
        "commitment_accepted": True,
        "approved_by": "张工",
        "products": [
            {"name": "分体式空调", "model": f"KFR-35GW/{n:03d}", "category_id": cat["category"].id}
        ],
        "indicators": [
            {"kind": "performance", "name": "APF", "benchmark_indicator_id": cat["apf"].id,
             "op": "ge", "value": apf, "unit": "W/W", "test_method": "GB 99001 附录A",
             "mingshi": mingshi},
            {"kind": "performance", "name": "噪声", "benchmark_indicator_id": cat["noise"].id,
             "op": "le", "value": noise, "unit": "dBA", "test_method": "GB/T 7725 附录B"},
            {"kind": "performance", "name": "待机功率",
             "benchmark_indicator_id": cat["standby"].id, "op": "le", "value": standby,
             "unit": "W", "test_method": "GB/T 7725 附录C"},
        ],
    }
    version = declare_ops.create_draft(user.enterprise, data)
    declare_ops.attach_text(version, upload(pdf_bytes()))
    declare_ops.publish(version)
    _db.session.commit()
    jobs.dispatch_pending()  # previews of active plans of the category regenerate (inline)
    return version


def make_declarations(cat: dict, rows: dict | None = None) -> dict[str, object]:
    """Enterprises (by name) each with one published declaration; returns name -> user."""
    users = {}
    for n, (name, values) in enumerate((rows or DEFAULT_DECLARATIONS).items(), start=1):
        user = make_enterprise_user(name=name)
        publish_declaration(user, cat, values, n)
        users[name] = user
    return users


def plan_data(cat: dict, **overrides) -> dict:
    data = {
        "category_id": cat["category"].id,
        "year": 2025,
        "title": "2025年度测试空调企业标准领跑者评估方案",
        "composite_method": "anchored",
        "publicity_days": 10,
        "entry_rules": {
            "exclude_mingshi_on_core": True,
            "require_references_valid": True,
            "inspection_window_days": 1095,
        },
        "leader_rule": {"kind": "top_tier_all", "n": None, "share": None, "star_cuts": []},
        "indicators": [
            {"benchmark_indicator_id": cat["apf"].id, "floor_kind": "mandatory", "floor": None,
             "cut_mode": "values", "cuts": [5.0, 4.5], "weight": 1.0, "best_reference": None},
            {"benchmark_indicator_id": cat["noise"].id, "floor_kind": "mandatory", "floor": None,
             "cut_mode": "values", "cuts": [38.0, 42.0], "weight": 1.0, "best_reference": None},
            {"benchmark_indicator_id": cat["standby"].id, "floor_kind": "mandatory",
             "floor": None, "cut_mode": "values", "cuts": [0.5], "weight": 1.0,
             "best_reference": None},
        ],
    }
    data.update(overrides)
    return data


def make_plan(evaluator, cat: dict, *, activate: bool = True, **overrides) -> EvaluationPlan:
    plan = plans.create_plan(evaluator, plan_data(cat, **overrides))
    if activate:
        plans.activate_plan(plan)
    _db.session.commit()
    jobs.dispatch_pending()  # the preview regeneration (inline: REDIS_URL is unset)
    return plan


def official_run(plan, evaluator, *, publicity_start: date | None = None,
                 publish: bool = False) -> RankingRun:
    """An official run of the plan; optionally under publicity from a given day (in the past:
    a period that has ended) and published."""
    run = runs.build_run(plan, RunKind.OFFICIAL, evaluator)
    _db.session.commit()  # each step in its own transaction, as the job and the pages do
    if publicity_start is not None or publish:
        start = publicity_start or local_today() - timedelta(days=plan.publicity_days + 1)
        publicise_on(run, start)
        _db.session.commit()
    if publish:
        publicity.publish_run(run, evaluator)
        _db.session.commit()
    return run


@pytest.fixture
def en(app):
    """Operations translate their messages: give them an English request."""
    with app.test_request_context("/?lang=en"):
        yield


@pytest.fixture
def world(db, make_user, en):
    """A category with 4 published declarations (one excluded), an evaluation body and its
    active plan with a preview leaderboard."""
    cat = make_category()
    users = make_declarations(cat)
    evaluator = make_user(Role.EVALUATOR)
    plan = make_plan(evaluator, cat)
    return {"cat": cat, "users": users, "evaluator": evaluator, "plan": plan}


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


def svg_count(html: str) -> int:
    return len(re.findall(r"<svg\b", html))


# --------------------------------------------------------------------------- roles, ownership


EVALUATOR_PAGES = [
    ("get", "/my/plans"),
    ("get", "/my/plans/new"),
]


@pytest.mark.parametrize(("method", "url"), EVALUATOR_PAGES)
def test_anonymous_is_sent_to_the_login_page(client, db, method, url):
    resp = getattr(client, method)(url)
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


@pytest.mark.parametrize("role", [Role.ENTERPRISE, Role.REGULATOR, Role.ADMIN])
def test_other_roles_get_403_on_evaluator_pages(client, login_as, world, role):
    login_as(role)
    plan = world["plan"]
    assert client.get("/my/plans").status_code == 403
    assert client.get("/my/plans/new").status_code == 403
    assert client.get(f"/my/plans/{plan.id}").status_code == 403
    assert client.post(f"/my/plans/{plan.id}/activate").status_code == 403


def test_evaluator_gets_403_on_the_enterprise_positions_page(client, login_as, db):
    login_as(Role.EVALUATOR)
    assert client.get("/my/rankings").status_code == 403


def test_another_evaluation_body_sees_404_for_a_plan_it_does_not_own(client, login_as, world):
    plan = world["plan"]
    run = official_run(plan, world["evaluator"])
    login_as(Role.EVALUATOR)
    assert client.get(f"/my/plans/{plan.id}").status_code == 404
    assert client.get(f"/my/plans/{plan.id}/edit").status_code == 404
    assert client.get(f"/my/plans/{plan.id}/jobs.json").status_code == 404
    assert client.post(f"/my/plans/{plan.id}/run").status_code == 404
    assert client.get(f"/my/runs/{run.id}").status_code == 404
    assert client.post(f"/my/runs/{run.id}/publicity", data={}).status_code == 404
    assert client.post(f"/my/runs/{run.id}/publish").status_code == 404
    # A computed (not yet public) official run is hidden from the public and other bodies.
    assert client.get(f"/leaderboards/runs/{run.id}/export.csv").status_code == 404
    assert _db.session.get(RankingRun, run.id).status is RunStatus.COMPUTED


def test_evaluator_lists_only_its_own_plans(client, login_as, world, make_user):
    other = make_user(Role.EVALUATOR)
    plans.create_plan(other, plan_data(world["cat"], title="别人的方案"))
    _db.session.commit()
    login_as(world["evaluator"])
    html = text_of(client.get("/my/plans"))
    assert world["plan"].title in html
    assert "别人的方案" not in html


# --------------------------------------------------------------------------- plan form


def form_data(cat: dict, **overrides) -> dict:
    data = {
        "category_id": str(cat["category"].id),
        "year": "2025",
        "title": "表单创建的评估方案",
        "indicators-0-benchmark_indicator_id": str(cat["apf"].id),
        "indicators-0-floor_kind": "mandatory",
        "indicators-0-cut_mode": "values",
        "indicators-0-cuts": "5.0, 4.5",
        "indicators-0-weight": "1",
        "indicators-1-benchmark_indicator_id": str(cat["noise"].id),
        "indicators-1-floor_kind": "mandatory",
        "indicators-1-cut_mode": "values",
        "indicators-1-cuts": "38，42",  # a Chinese comma is fine
        "indicators-1-weight": "1",
        "indicators-2-benchmark_indicator_id": str(cat["standby"].id),
        "indicators-2-floor_kind": "mandatory",
        "indicators-2-cut_mode": "values",
        "indicators-2-cuts": "0.5",
        "indicators-2-weight": "1",
        "exclude_mingshi_on_core": "y",
        "require_references_valid": "y",
        "inspection_window_days": "1095",
        "leader_kind": "top_tier_all",
        "composite_method": "anchored",
        "publicity_days": "10",
    }
    data.update(overrides)
    return data


def test_create_plan_through_the_form(client, login_as, db, make_user, en):
    cat = make_category()
    evaluator = login_as(Role.EVALUATOR)
    page = client.get("/my/plans/new")
    assert page.status_code == 200
    html = text_of(page)
    assert 'data-category="%d"' % cat["category"].id in html
    resp = client.post("/my/plans/new", data=form_data(cat))
    assert resp.status_code == 302, text_of(resp)[:2000]
    plan = _db.session.scalar(
        select(EvaluationPlan).where(EvaluationPlan.evaluator_id == evaluator.id)
    )
    assert plan.status is PlanStatus.DRAFT
    assert [pi.benchmark_code for pi in plan.indicators] == ["apf", "noise", "standby"]
    assert plan.indicators[1].cuts == [38.0, 42.0]
    assert plan.indicators[0].floor == 3.3  # the benchmark's mandatory limit by default
    assert resp.headers["Location"].endswith(f"/my/plans/{plan.id}")
    assert plan.title in text_of(client.get(resp.headers["Location"]))


def test_plan_with_two_indicators_is_refused_with_422(client, login_as, db, en):
    cat = make_category()
    login_as(Role.EVALUATOR)
    data = form_data(cat)
    for key in [k for k in data if k.startswith("indicators-2-")]:
        del data[key]
    resp = client.post("/my/plans/new", data=data)
    assert resp.status_code == 422
    html = text_of(resp)
    assert 'id="form-summary"' in html
    assert "3" in re.search(r'<p class="error" role="alert">([^<]*)</p>', html).group(1)
    assert _db.session.scalar(select(EvaluationPlan.id)) is None


def test_cuts_in_the_wrong_order_are_refused_on_their_row(client, login_as, db, en):
    cat = make_category()
    login_as(Role.EVALUATOR)
    resp = client.post("/my/plans/new", data=form_data(cat, **{"indicators-1-cuts": "42, 38"}))
    assert resp.status_code == 422
    html = text_of(resp)
    row = html.split('id="indicators-1-cuts"')[1].split("</fieldset>")[0]
    assert 'class="error"' in row
    assert _db.session.scalar(select(EvaluationPlan.id)) is None


def test_cuts_that_are_not_numbers_are_refused_by_the_form(client, login_as, db, en):
    cat = make_category()
    login_as(Role.EVALUATOR)
    resp = client.post("/my/plans/new", data=form_data(cat, **{"indicators-0-cuts": "5.0, abc"}))
    assert resp.status_code == 422
    assert "“abc” is not a number" in text_of(resp)


def test_leader_rule_errors_land_on_their_field(client, login_as, db, en):
    cat = make_category()
    login_as(Role.EVALUATOR)
    resp = client.post("/my/plans/new", data=form_data(cat, leader_kind="best_n", leader_n=""))
    assert resp.status_code == 422
    html = text_of(resp)
    block = html.split('id="leader_n"')[1].split("</div>")[0]
    assert 'class="error"' in block


def test_a_benchmark_of_another_category_is_refused(client, login_as, db, en, catalogue):
    cat = make_category()
    login_as(Role.EVALUATOR)
    data = form_data(cat, **{"indicators-2-benchmark_indicator_id": str(catalogue["apf"].id)})
    resp = client.post("/my/plans/new", data=data)
    assert resp.status_code == 422
    row = text_of(resp).split('id="indicators-2-benchmark_indicator_id"')[1].split("</fieldset>")[0]
    assert 'class="error"' in row


def test_edit_a_draft_plan(client, login_as, world, en):
    plan = plans.create_plan(world["evaluator"], plan_data(world["cat"], title="草稿"))
    _db.session.commit()
    login_as(world["evaluator"])
    page = text_of(client.get(f"/my/plans/{plan.id}/edit"))
    assert 'value="草稿"' in page and 'value="5, 4.5"' in page
    resp = client.post(
        f"/my/plans/{plan.id}/edit", data=form_data(world["cat"], title="改过的草稿")
    )
    assert resp.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(EvaluationPlan, plan.id).title == "改过的草稿"


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_forms_need_the_csrf_token(client, world, app_config):
    from tests.conftest import CSRF_RE, PASSWORD

    token = CSRF_RE.search(text_of(client.get("/login"))).group(1)
    resp = client.post("/login", data={"username": world["evaluator"].username,
                                       "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    plan_id = world["plan"].id
    assert client.post(f"/my/plans/{plan_id}/run").status_code == 400
    assert _db.session.scalar(
        select(OutboxJob.id).where(OutboxJob.func == "ranking.tasks.official_run")
    ) is None
    # The page's own form carries the token and works.
    token = CSRF_RE.search(text_of(client.get(f"/my/plans/{plan_id}"))).group(1)
    assert client.post(f"/my/plans/{plan_id}/run", data={"csrf_token": token}).status_code == 302
    # The public objection form is protected too.
    run = official_run(world["plan"], world["evaluator"], publicity_start=local_today())
    resp = client.post(f"/leaderboards/runs/{run.id}/publicity",
                       data={"name": "王五", "contact": "1", "text": "异议"})
    assert resp.status_code == 400


# --------------------------------------------------------------------------- lifecycle


def test_activate_run_publicise_object_and_publish(client, login_as, db, make_user, en):
    cat = make_category()
    make_declarations(cat)
    evaluator = make_user(Role.EVALUATOR)
    plan = make_plan(evaluator, cat, activate=False)
    login_as(evaluator)

    resp = client.post(f"/my/plans/{plan.id}/activate")
    assert resp.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(EvaluationPlan, plan.id).status is PlanStatus.ACTIVE

    resp = client.post(f"/my/plans/{plan.id}/run")
    assert resp.status_code == 302
    page = text_of(client.get(resp.headers["Location"]))
    assert 'id="job-table"' in page
    jobs = client.get(f"/my/plans/{plan.id}/jobs.json").get_json()
    official = [j for j in jobs["jobs"] if j["status"] == "done"]
    assert official and jobs["running"] is False
    run = _db.session.scalar(
        select(RankingRun).where(RankingRun.plan_id == plan.id, RankingRun.kind == RunKind.OFFICIAL)
    )
    assert run is not None and run.status is RunStatus.COMPUTED
    assert f"/my/runs/{run.id}" in text_of(client.get(f"/my/plans/{plan.id}"))

    html = text_of(client.get(f"/my/runs/{run.id}"))
    assert "甲领跑空调有限公司" in html
    assert "No ranking: all values are equal." in html  # standby: every value is 0.5
    assert 'data-reason="mingshi_on_core"' in html  # the excluded declaration, with why
    assert svg_count(html) == 4

    backdated = local_today() - timedelta(days=3)  # refused: it would shorten the period
    resp = client.post(f"/my/runs/{run.id}/publicity", data={"start": backdated.isoformat()})
    assert resp.status_code == 422
    assert f"choose {local_today().isoformat()} or later" in text_of(resp)
    start = local_today()
    resp = client.post(f"/my/runs/{run.id}/publicity", data={"start": start.isoformat()})
    assert resp.status_code == 302
    _db.session.expire_all()
    run = _db.session.get(RankingRun, run.id)
    assert run.status is RunStatus.PUBLICITY and run.publicity_start == start

    # The public objects (no login needed).
    client.post("/logout")
    resp = client.post(
        f"/leaderboards/runs/{run.id}/publicity",
        data={"name": "李四", "contact": "13800000000", "text": "丙公司的噪声数据有误"},
    )
    assert resp.status_code == 302
    objection = _db.session.scalar(select(Objection).where(Objection.run_id == run.id))
    assert objection.status is ObjectionStatus.OPEN
    resp = client.post(
        f"/leaderboards/runs/{run.id}/publicity", data={"name": "", "contact": "", "text": ""}
    )
    assert resp.status_code == 422

    login_as(evaluator)
    assert "丙公司的噪声数据有误" in text_of(client.get(f"/my/runs/{run.id}"))
    # Publishing with an open objection (and inside the period) is refused.
    resp = client.post(f"/my/runs/{run.id}/publish")
    assert resp.status_code == 422
    # A rejection needs its reason.
    resp = client.post(
        f"/my/objections/{objection.id}/resolve",
        data={f"o{objection.id}-decision": "reject", f"o{objection.id}-response": ""},
    )
    assert resp.status_code == 422
    resp = client.post(
        f"/my/objections/{objection.id}/resolve",
        data={f"o{objection.id}-decision": "reject",
              f"o{objection.id}-response": "经复核，检测报告数据无误"},
    )
    assert resp.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Objection, objection.id).status is ObjectionStatus.REJECTED

    # Still inside the publicity period: refused with the day it may be published.
    resp = client.post(f"/my/runs/{run.id}/publish")
    assert resp.status_code == 422
    assert "publish from" in text_of(resp)
    assert _db.session.get(RankingRun, run.id).status is RunStatus.PUBLICITY


def test_publish_after_the_publicity_period(client, login_as, world):
    plan, evaluator = world["plan"], world["evaluator"]
    run = official_run(plan, evaluator, publicity_start=local_today() - timedelta(days=30))
    login_as(evaluator)
    resp = client.post(f"/my/runs/{run.id}/publish")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/leaderboards/{plan.plan_key}")
    _db.session.expire_all()
    assert _db.session.get(RankingRun, run.id).status is RunStatus.PUBLISHED


def test_objections_after_the_period_are_refused(client, world):
    run = official_run(world["plan"], world["evaluator"],
                       publicity_start=local_today() - timedelta(days=30))
    resp = client.post(
        f"/leaderboards/runs/{run.id}/publicity",
        data={"name": "李四", "contact": "13800000000", "text": "迟到的异议"},
    )
    assert resp.status_code == 422
    assert "no longer accepted" in text_of(resp)
    assert _db.session.scalar(select(Objection.id)) is None


@pytest.mark.parametrize(
    "app_config", [{"RATELIMIT_ENABLED": True, "OBJECTION_RATE_LIMIT": "2 per minute"}]
)
def test_objections_are_rate_limited(client, world, app_config):
    run = official_run(world["plan"], world["evaluator"], publicity_start=local_today())
    url = f"/leaderboards/runs/{run.id}/publicity"
    data = {"name": "李四", "contact": "13800000000", "text": "异议"}
    assert [client.post(url, data=data).status_code for _ in range(3)] == [302, 302, 429]
    assert client.get(url).status_code == 200  # reading is not limited
    assert len(_db.session.scalars(select(Objection)).all()) == 2


def test_publicity_page_lists_the_entries_with_an_objection_link(client, world):
    run = official_run(world["plan"], world["evaluator"], publicity_start=local_today())
    html = text_of(client.get(f"/leaderboards/runs/{run.id}/publicity"))
    assert 'id="objection-form"' in html
    entry_id = re.search(r'data-entry="(\d+)"', html).group(1)
    assert f"/leaderboards/runs/{run.id}/publicity?entry={entry_id}#objection" in html
    page = text_of(client.get(f"/leaderboards/runs/{run.id}/publicity?entry={entry_id}"))
    assert f'name="entry_id" type="hidden" value="{entry_id}"' in page
    resp = client.post(f"/leaderboards/runs/{run.id}/publicity?entry={entry_id}",
                       data={"name": "李四", "contact": "1", "text": "数据有误",
                             "entry_id": entry_id})
    assert resp.status_code == 302
    assert _db.session.scalar(select(Objection.entry_id)) == int(entry_id)


def test_publicity_page_of_a_computed_run_is_404(client, world):
    run = official_run(world["plan"], world["evaluator"])
    assert client.get(f"/leaderboards/runs/{run.id}/publicity").status_code == 404


# --------------------------------------------------------------------------- public pages


def test_public_list_shows_official_and_preview_lists(client, world):
    plan = world["plan"]
    html = text_of(client.get("/leaderboards"))
    assert plan.title in html
    assert "Preview (unofficial)" in html
    assert "Not published yet" in html
    official_run(plan, world["evaluator"], publish=True)
    html = text_of(client.get("/leaderboards"))
    assert 'data-list-kind="official"' in html and 'data-list-kind="preview"' in html


def test_preview_leaderboard_is_labelled_unofficial(client, world):
    plan = world["plan"]
    resp = client.get(f"/leaderboards/{plan.plan_key}")
    assert resp.status_code == 200
    html = text_of(resp)
    assert 'id="preview-banner"' in html
    assert 'class="board preview"' in html
    assert 'id="official-banner"' not in html


def test_official_leaderboard_page(client, world):
    plan = world["plan"]
    official_run(plan, world["evaluator"], publish=True)
    resp = client.get(f"/leaderboards/{plan.plan_key}")
    html = text_of(resp)
    assert resp.status_code == 200
    assert 'id="official-banner"' in html and 'id="preview-banner"' not in html
    assert 'data-list-kind="official"' in html
    # The leader with its label data: enterprise, standard number, product and model, year.
    leaders = html.split('id="leaders"')[1].split("</table>")[0]
    assert "甲领跑空调有限公司" in leaders
    assert "Q/RK001 0001-2024" in leaders and "KFR-35GW/001" in leaders and "2025" in leaders
    assert "乙标准空调有限公司" not in leaders
    # Tiers per indicator, listed by enterprise name within a tier; no ranking for standby.
    apf = html.split('id="indicator-apf"')[1].split("</section>")[0]
    tier1 = apf.split('data-tier="1"')[1].split("</li>")[0]
    assert "Tier 1" in tier1 and "丙能效空调有限公司" in tier1 and "甲领跑空调有限公司" in tier1
    standby = html.split('id="indicator-standby"')[1].split("</section>")[0]
    assert "No ranking: all values are equal." in standby and 'data-tier="1"' not in standby
    assert "丁明示空调有限公司" not in html.split('id="composite"')[1]  # excluded: not ranked
    # Charts (server-side SVG) with a data table next to each.
    assert svg_count(html) == 4  # three indicators and the composite
    assert html.count('class="table chart-data"') == 4
    assert 'class="mark floor-line"' in html and "tier-band tier-1" in html


def test_tiers_list_entries_by_enterprise_name_not_by_value(client, world):
    plan = world["plan"]
    official_run(plan, world["evaluator"], publish=True)
    html = text_of(client.get(f"/leaderboards/{plan.plan_key}"))
    apf = html.split('id="indicator-apf"')[1].split("</section>")[0]
    tier1 = apf.split('data-tier="1"')[1].split("</li>")[0]
    names = re.findall(r"<span>([^<]+)</span>", tier1)
    assert names == sorted(names)
    assert set(names) == {"甲领跑空调有限公司", "丙能效空调有限公司"}


def test_unknown_plan_is_404(client, db):
    assert client.get("/leaderboards/nope").status_code == 404


def test_indicator_tier_page_lists_a_whole_tier(client, world):
    plan = world["plan"]
    run = official_run(plan, world["evaluator"], publish=True)
    resp = client.get(f"/leaderboards/runs/{run.id}/indicators/noise?tier=2")
    assert resp.status_code == 200
    table = text_of(resp).split('id="tier-entries"')[1].split("</table>")[0]
    assert "乙标准空调有限公司" in table and "甲领跑空调有限公司" not in table
    assert client.get(f"/leaderboards/runs/{run.id}/indicators/nope").status_code == 404


def test_removed_leader_is_shown_with_its_reason(client, world):
    plan, evaluator = world["plan"], world["evaluator"]
    run = official_run(plan, evaluator, publish=True)
    leader = world["users"]["甲领跑空调有限公司"]
    decl_id = _db.session.scalar(
        select(Declaration.id).where(Declaration.enterprise_id == leader.enterprise_id)
    )
    publicity.record_removal(run, [decl_id], "抽查不合格（2025-06-01）")
    _db.session.commit()
    html = text_of(client.get(f"/leaderboards/{plan.plan_key}"))
    removed = html.split('id="removed-leaders"')[1].split("</table>")[0]
    assert "甲领跑空调有限公司" in removed and "抽查不合格（2025-06-01）" in removed
    leaders = html.split('id="leaders"')[1].split("</table>")[0]
    # Not a leader any more, but marked removed where the leaders are listed (issue 9, 5).
    current = [row for row in leaders.split("<tr")[1:] if "data-leader=" in row]
    assert all("甲领跑空调有限公司" not in row for row in current)
    marked = leaders.split(f'data-leader-removed="{decl_id}"')[1].split("</tr>")[0]
    assert "甲领跑空调有限公司" in marked and "data-removed-mark" in marked
    composite = html.split('id="composite"')[1].split("</table>")[0]
    row = composite.split(f'data-removed="{decl_id}"')[1].split("</tr>")[0]
    assert "data-removed-mark" in row and "抽查不合格（2025-06-01）" in row


# --------------------------------------------------------------------------- enterprise


def test_enterprise_sees_its_positions_and_exclusion_reasons(client, login_as, world):
    official_run(world["plan"], world["evaluator"], publish=True)
    login_as(world["users"]["甲领跑空调有限公司"])
    html = text_of(client.get("/my/rankings"))
    assert "Leader" in html and "Tier 1" in html
    assert html.count("data-position=") == 2  # the preview and the official list

    login_as(world["users"]["丁明示空调有限公司"])
    html = text_of(client.get("/my/rankings"))
    assert 'data-reason="mingshi_on_core"' in html
    assert "明示" in html


# --------------------------------------------------------------------------- query count


def _next_id(model) -> int:
    return (_db.session.scalar(select(func.max(model.id))) or 0) + 1


def bulk_category_run(plan: EvaluationPlan, n: int) -> RankingRun:
    """A published official run of ``plan`` with ``n`` eligible entries, written with Core
    inserts (enterprises, declarations, versions, products, entries)."""
    cat_id = plan.category_id
    ent_start = _next_id(Enterprise)
    n_ent = max(1, n // 10)
    _db.session.execute(
        insert(Enterprise),
        [
            {"id": ent_start + i, "uscc": f"BULK{ent_start + i:014d}", "name": f"批量企业{i:05d}",
             "region_code": "500112"}
            for i in range(n_ent)
        ],
    )
    decl_start = _next_id(Declaration)
    _db.session.execute(
        insert(Declaration),
        [
            {"id": decl_start + i, "enterprise_id": ent_start + i % n_ent,
             "kind": DeclarationKind.ENTERPRISE, "status": DeclarationStatus.PUBLISHED}
            for i in range(n)
        ],
    )
    ver_start = _next_id(DeclarationVersion)
    _db.session.execute(
        insert(DeclarationVersion),
        [
            {"id": ver_start + i, "declaration_id": decl_start + i, "version_no": 1,
             "status": VersionStatus.PUBLISHED, "std_code": f"Q/BULK {i:05d}-2024",
             "std_name": "批量标准"}
            for i in range(n)
        ],
    )
    prod_start = _next_id(Product)
    _db.session.execute(
        insert(Product),
        [
            {"id": prod_start + i, "version_id": ver_start + i, "name": "空调",
             "model": f"M{i:05d}", "category_id": cat_id}
            for i in range(n)
        ],
    )
    run = RankingRun(
        plan_id=plan.id,
        kind=RunKind.OFFICIAL,
        status=RunStatus.PUBLICITY,
        inputs_hash="0" * 64,
        as_of=plan.created_at,
        entry_count=n,
        eligible_count=n,
        publicity_start=local_today(),
        publicity_end=local_today() + timedelta(days=9),
        indicator_status={
            "apf": {"ranked": True, "reason": None},
            "noise": {"ranked": True, "reason": None},
            "standby": {"ranked": False, "reason": "all_equal"},
        },
    )
    _db.session.add(run)
    _db.session.flush()
    rows = []
    for i in range(n):
        apf = 3.4 + (i % 200) / 100
        noise = 35.0 + (i % 90) / 10
        tiers = {"apf": 1 if apf >= 5.0 else 2 if apf >= 4.5 else 3,
                 "noise": 1 if noise <= 38 else 2 if noise <= 42 else 3, "standby": 1}
        rows.append(
            {"run_id": run.id, "declaration_id": decl_start + i, "version_id": ver_start + i,
             "enterprise_id": ent_start + i % n_ent, "eligible": True, "exclusion_reasons": [],
             "values": {"apf": apf, "noise": noise, "standby": 0.5}, "tiers": tiers,
             "composite": 1 - i / n, "composite_rank": i + 1, "is_leader": i < 10,
             "stars": 0, "product_id": prod_start + i, "removed_reason": ""}
        )
    for start in range(0, n, 2000):
        _db.session.execute(insert(RunEntry), rows[start : start + 2000])
    pointer = _db.session.scalar(
        select(LeaderboardPointer).where(
            LeaderboardPointer.plan_key == plan.plan_key,
            LeaderboardPointer.kind == RunKind.OFFICIAL,
        )
    )
    if pointer is None:
        _db.session.add(LeaderboardPointer(plan_key=plan.plan_key, kind=RunKind.OFFICIAL,
                                           run_id=run.id))
    else:
        pointer.run_id = run.id
    _db.session.commit()
    return run


class CountQueries:
    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _count(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


# The pointers, all eligible entries (tiers and charts), the plan's indicators, one page of
# the composite ranking (items and count) and its labels, the leaders and their labels.
LEADERBOARD_QUERIES = 8


def test_leaderboard_of_10000_declarations_uses_a_fixed_small_number_of_queries(
    client, db, make_user, en
):
    cat = make_category()
    evaluator = make_user(Role.EVALUATOR)
    small_plan = make_plan(evaluator, cat)
    big_plan = make_plan(evaluator, cat, title="一万条")
    keys = {"small": small_plan.plan_key, "big": big_plan.plan_key}
    bulk_category_run(small_plan, 200)
    run_id = bulk_category_run(big_plan, 10_000).id
    _db.session.expunge_all()  # nothing cached: the page reads what it needs

    counts = {}
    for key, plan_key in keys.items():
        with CountQueries(_db.engine) as counter:
            resp = client.get(f"/leaderboards/{plan_key}?page=3")
        assert resp.status_code == 200
        counts[key] = len(counter.statements)
    assert counts == {"small": LEADERBOARD_QUERIES, "big": LEADERBOARD_QUERIES}

    html = text_of(resp)
    assert "Page 3 of 200" in html  # 50 per page
    assert html.count("data-entry=") == 50
    assert 'data-entry="' in html and "批量企业" in html
    assert svg_count(html) == 4
    # Every tier lists a bounded number of names inline; the rest is one click away.
    apf = html.split('id="indicator-apf"')[1].split("</section>")[0]
    assert apf.count("<span>批量企业") <= 3 * 30
    assert f"/leaderboards/runs/{run_id}/indicators/apf?tier=1" in apf
