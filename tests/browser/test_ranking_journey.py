"""The 领跑者 journey in a real browser (headless Chromium through Playwright): an evaluation
body logs in, writes a plan with three core indicators, activates it, runs it officially,
publicises the list (a backdated start is refused; publication waits for the end of the
period) and publishes it; the public leaderboard shows the tiers, the leaders and the charts;
a leader that then fails a spot check is marked removed in every part of the new version."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core import jobs
from core.clock import local_today
from core.extensions import db as _db
from core.models import Role
from declare import operations as declare_ops
from declare.models import Enterprise
from ranking.models import RankingRun
from tests.conftest import PASSWORD
from tests.ranking.test_views import en, make_category, make_declarations  # noqa: F401

pytestmark = pytest.mark.browser


def test_evaluation_body_plans_runs_publicises_and_publishes(
    live_server, page, db, make_user, en  # noqa: F811
):
    cat = make_category()
    make_declarations(cat)  # four published declarations, one of them with a 明示 on APF
    evaluator = make_user(Role.EVALUATOR, display_name="中国标准化研究院（测试）")

    page.goto(live_server + "/login")
    page.fill("#username", evaluator.username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))

    # A plan with three core indicators of the category.
    page.goto(live_server + "/my/plans/new")
    page.select_option("#category_id", str(cat["category"].id))
    page.fill("#year", "2025")
    page.fill("#title", "2025年度测试空调企业标准领跑者评估方案")
    rows = [
        (cat["apf"].id, "5.0, 4.5"),
        (cat["noise"].id, "38, 42"),
        (cat["standby"].id, "0.5"),
    ]
    for i, (bench_id, cuts) in enumerate(rows):
        page.select_option(f"#indicators-{i}-benchmark_indicator_id", str(bench_id))
        page.fill(f"#indicators-{i}-cuts", cuts)
    assert page.locator("#publicity_days").input_value() == "10"
    page.click("#save-plan")
    page.wait_for_url(re.compile(r".*/my/plans/\d+$"))
    assert page.locator("#plan-status").inner_text().strip() == "Draft"
    assert page.locator("#plan-indicators tbody tr").count() == 3

    # Activate (the preview regenerates), then run the official ranking (inline job).
    page.click("#activate-plan")
    page.wait_for_selector("#run-official")
    page.click("#run-official")
    page.wait_for_selector("#job-table tr[data-status=done]")
    run_link = page.locator("#runs a").first
    run_link.click()
    page.wait_for_url(re.compile(r".*/my/runs/\d+$"))
    assert page.locator("#run-status").get_attribute("data-status") == "computed"
    assert "丁明示空调有限公司" in page.locator("#exclusion-table").inner_text()

    # A publicity backdated 11 days would skip the objection period: refused, with the day.
    page.fill("#start", (local_today() - timedelta(days=11)).isoformat())
    page.click("#start-publicity")
    page.wait_for_selector("#start-publicity")
    assert local_today().isoformat() in page.content()
    assert page.locator("#run-status").get_attribute("data-status") == "computed"
    # From today: publication is refused until the 10 days are over...
    page.fill("#start", local_today().isoformat())
    page.click("#start-publicity")
    page.wait_for_selector("#publish-run")
    assert page.locator("#run-status").get_attribute("data-status") == "publicity"
    run_id = int(re.search(r"/my/runs/(\d+)", page.url).group(1))
    page.click("#publish-run")
    page.wait_for_selector("#publish-run")
    publish_from = (local_today() + timedelta(days=10)).isoformat()
    assert publish_from in page.content()
    # ... and, the clock moved on by 11 days (the period shifted into the past), accepted.
    _db.session.execute(
        update(RankingRun).where(RankingRun.id == run_id).values(
            publicity_start=local_today() - timedelta(days=11),
            publicity_end=local_today() - timedelta(days=2),
        )
    )
    _db.session.commit()
    page.goto(f"{live_server}/my/runs/{run_id}")
    page.click("#publish-run")
    page.wait_for_url(re.compile(r".*/leaderboards/[0-9a-f]+$"))
    public_url = page.url

    # The public, without logging in, sees the official list, its tiers, leaders and charts.
    anon = page.context.browser.new_context(locale="zh-CN").new_page()
    anon.goto(public_url)
    assert anon.locator("#official-banner").is_visible()
    assert anon.locator("#preview-banner").count() == 0
    leaders = anon.locator("#leaders").inner_text()
    assert "甲领跑空调有限公司" in leaders and "KFR-35GW/001" in leaders
    apf = anon.locator("#indicator-apf")
    assert apf.locator("li[data-tier]").count() == 2  # APF: 第一档 and 第二档
    assert "甲领跑空调有限公司" in apf.locator("li[data-tier='1']").inner_text()
    assert anon.locator("#indicator-standby [data-not-ranked]").is_visible()
    assert anon.locator("svg.chart").count() == 4
    assert anon.locator("#indicator-apf svg .floor-line").count() == 1
    assert anon.locator("#indicator-apf svg .tier-band").count() == 3
    assert anon.locator("table.chart-data").count() == 4
    assert anon.locator("#composite tbody tr[data-entry]").count() == 3

    # The preview stays available, clearly marked unofficial.
    anon.click("#show-preview")
    anon.wait_for_selector("#preview-banner")
    assert anon.locator(".list-kind.preview").first.is_visible()

    # The leader fails a spot check: the new list version marks it removed everywhere it
    # appears (leader table, composite table, the tiers), with the reason (dynamic management).
    leader = _db.session.scalar(select(Enterprise).where(Enterprise.name == "甲领跑空调有限公司"))
    declare_ops.record_compliance(leader, kind="inspection", result="nonconforming",
                                  occurred_on=local_today(), reference="2026-抽-088")
    _db.session.commit()
    jobs.dispatch_pending()
    anon.goto(public_url)
    removed = anon.locator("#leaders tr[data-leader-removed]")
    assert removed.count() == 1 and "甲领跑空调有限公司" in removed.inner_text()
    assert removed.locator("[data-removed-mark]").is_visible()
    row = anon.locator("#composite tr.removed")
    assert row.count() == 1 and row.locator("[data-removed-mark]").is_visible()
    assert "2026-抽-088" in row.inner_text()
    tier = anon.locator("#indicator-apf li[data-tier='1'] [data-removed-entry]")
    assert tier.count() == 1 and "甲领跑空调有限公司" in tier.inner_text()
    assert "2026-抽-088" in anon.locator("#removed-leaders").inner_text()
    anon.context.close()
