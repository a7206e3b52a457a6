"""The spot-check journey in a real browser (headless Chromium through Playwright), issue #4:
a regulator writes a sampling plan, draws a sample with a public seed text, records a 不符合
result for the declaration of a 领跑者 and publishes it; the public, without logging in, finds
the result on the results page, and the leaderboard no longer lists that leader (it shows it
as removed, with the reason).

Set up server-side and committed, as the pages would leave it: the published official list of
the ranking tests (甲领跑空调有限公司 is its only leader; every enterprise is in 500112), a
regulator of 500000 (which covers 500112) and its pool of three inspectors. Everything after
that goes through the browser, with CSRF on, as in production.

The plan draws the whole population (ratio 1, highest inclusion probability 1), so the leader's
declaration is in the sample whatever the seed: the test is about the journey, the statistics
of the draw are tested in tests/supervision/test_sampling_*.py.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.extensions import db as _db
from core.models import Role
from declare.models import Declaration
from declare.queries import local_today
from supervision.sampling import operations as draws
from supervision.models import CHECKLIST
from tests.conftest import PASSWORD
from tests.ranking.test_views import (  # noqa: F401  (fixture "en")
    en,
    make_category,
    make_declarations,
    make_plan,
    official_run,
)

pytestmark = pytest.mark.browser

LEADER = "甲领跑空调有限公司"
SEED_TEXT = "中国福利彩票双色球 2025001期 开奖号码 03 07 12 19 25 31 + 09"
FINDING = "APF 实测 3.1 W/W，低于 GB 99001-2020 能效限定值 3.3"


@pytest.fixture
def app_config() -> dict:
    """The browser posts real forms: keep CSRF on, as in production."""
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def world(db, make_user, en):  # noqa: F811
    """A published official 领跑者 list whose only leader is 甲; a regulator of 500000 with
    three inspectors (every object needs two). Returns plain values: the browser's requests
    run in other threads, the test only reads what it needs before they start."""
    cat = make_category()
    users = make_declarations(cat)  # four enterprises of 500112, one declaration each
    evaluator = make_user(Role.EVALUATOR)
    plan = make_plan(evaluator, cat)
    official_run(plan, evaluator, publish=True)
    regulator = make_user(Role.REGULATOR, region_code="500000",
                          display_name="重庆市市场监督管理局（测试）")
    for n, name in enumerate(("张检查", "李检查", "王检查"), start=1):
        draws.create_inspector(regulator, {"code": f"CQ-{n:03d}", "name": name,
                                           "organisation": "重庆市市场监督管理局"})
    _db.session.commit()
    leader_declaration = _db.session.scalar(
        select(Declaration.id).where(
            Declaration.enterprise_id == users[LEADER].enterprise_id
        )
    )
    return {
        "category_id": cat["category"].id,
        "plan_key": plan.plan_key,
        "leader_declaration": leader_declaration,
        "regulator": regulator.username,
        "inspectors": {"张检查", "李检查", "王检查"},
    }


def test_regulator_draws_records_nonconforming_and_publishes_leader_leaves_the_list(
    live_server, page, world
):
    board_url = f"{live_server}/leaderboards/{world['plan_key']}"
    public = page.context.browser.new_context(locale="zh-CN").new_page()
    public.set_default_timeout(15000)

    # Before: the public leaderboard lists 甲 as a leader.
    public.goto(board_url)
    assert LEADER in public.locator("#leaders").inner_text()
    assert public.locator("#removed-leaders").count() == 0

    # The regulator logs in.
    page.goto(live_server + "/login")
    page.fill("#username", world["regulator"])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))

    # A sampling plan for its region, the category and this year, drawing every declaration.
    page.goto(live_server + "/supervision/sampling/plans/new")
    assert page.locator("#region_code").input_value() == "500000"
    year = local_today().year  # the period is in Beijing time, as the draw reads it
    page.fill("#name", f"{year}年度企业标准自我声明公开双随机抽查（测试空调）")
    page.fill("#region_code", "500000")
    page.select_option("#category_ids", str(world["category_id"]))
    page.fill("#period_start", f"{year}-01-01")
    page.fill("#period_end", f"{year}-12-31")
    page.fill("#size_ratio", "1")
    page.fill("#max_inclusion", "1")
    page.click("#save-plan")
    page.wait_for_url(re.compile(r".*/supervision/sampling/plans/\d+$"))
    assert "500000" in page.locator("#plan-facts").inner_text()

    # The draw, seeded by a public text (e.g. a lottery result).
    page.fill("#seed_text", SEED_TEXT)
    page.click("#draw-button")
    page.wait_for_url(re.compile(r".*/supervision/sampling/draws/\d+$"))
    assert page.locator("#seed-source").inner_text().strip() == SEED_TEXT
    assert re.fullmatch(r"\d+", page.locator("#draw-seed").inner_text().strip())
    assert re.fullmatch(r"[0-9a-f]{64}", page.locator("#population-hash").inner_text().strip())
    assert page.locator("#draw-status").get_attribute("data-status") == "drawn"

    # Each sampled object with why it is there and its inclusion probability (π).
    rows = page.locator("#item-table tbody tr")
    assert rows.count() == 4  # the four published declarations of the category
    for i in range(rows.count()):
        row = rows.nth(i)
        assert row.get_attribute("data-reason") in ("random", "risk_weighted")
        assert row.locator("span.reason").inner_text().strip()
        assert float(row.locator("td[data-pi]").get_attribute("data-pi")) == 1.0
    leader_row = page.locator(f"#item-table tr[data-declaration='{world['leader_declaration']}']")
    assert LEADER in leader_row.inner_text()
    assert leader_row.locator("td[data-pi]").inner_text().strip() == "1.0000"
    assigned = leader_row.locator("td.inspectors").inner_text().split("、")
    assert len(assigned) == 2 and set(assigned) <= world["inspectors"]

    # Anyone can redo it from the seed and the recorded population: the identical sample.
    page.click("#redo-link")
    page.wait_for_selector("#verdict")
    assert page.locator("#verdict").get_attribute("data-identical") == "1"

    # The inspection of the leader's declaration.
    page.goto(live_server + "/supervision/inspections/")
    row = page.locator("#inspections tbody tr", has_text=LEADER)
    assert row.count() == 1
    number = row.locator("a").first.inner_text().strip()
    row.locator("a").first.click()
    page.wait_for_url(re.compile(r".*/supervision/inspections/\d+$"))
    assert LEADER in page.locator("#inspection-facts").inner_text()
    assert page.locator("#inspection-facts dd[data-status]").get_attribute("data-status") == (
        "assigned"
    )

    # Checklist: a mandatory item fails, with its finding; the result is 不符合.
    for item in CHECKLIST:
        outcome = "fail" if item == "mandatory_requirements" else "pass"
        page.check(f"#record-form input[name='check_{item}'][value='{outcome}']")
    page.fill("#record-form textarea[name='finding_mandatory_requirements']", FINDING)
    page.check("#record-form input[name='result'][value='nonconforming']")
    assert page.locator("#inspected_on").input_value()  # today, filled in by the page
    page.click("#record-result")
    page.wait_for_selector("#publish-result")
    assert page.locator("#inspection-facts span.result").get_attribute("data-result") == (
        "nonconforming"
    )
    failed = page.locator("#checklist tr[data-item='mandatory_requirements']")
    assert failed.locator("td.fail").count() == 1 and FINDING in failed.inner_text()
    assert page.locator("#rectification [data-deadline]").count() == 1  # 整改 ordered

    # Publish (一公开).
    page.click("#publish-result")
    page.wait_for_selector("#inspection-facts dd[data-status='published']")
    assert page.locator("#publish-result").count() == 0

    # The public, without logging in: the results page shows the enterprise with 不符合.
    public.goto(live_server + "/supervision/inspections/results")
    result_row = public.locator(f"#results tr[data-inspection='{number}']")
    assert result_row.count() == 1
    text = result_row.inner_text()
    assert LEADER in text and "不符合" in text and FINDING in text
    assert result_row.locator("span.result").get_attribute("data-result") == "nonconforming"
    counts = public.locator("#result-counts tr[data-result='nonconforming'] td.num")
    assert counts.inner_text().strip() == "1"

    # The leaderboard no longer lists 甲 among the leaders; it shows it removed, with why.
    public.goto(board_url)
    assert public.locator("#official-banner").is_visible()
    assert LEADER not in " ".join(public.locator("#leaders tr[data-leader]").all_inner_texts())
    marked = public.locator(f"#leaders tr[data-leader-removed='{world['leader_declaration']}']")
    assert LEADER in marked.inner_text() and marked.locator("[data-removed-mark]").count() == 1
    removed = public.locator(f"#removed-leaders tr[data-removed='{world['leader_declaration']}']")
    assert removed.count() == 1
    assert LEADER in removed.inner_text()
    assert number in removed.locator("td.reason").inner_text()
    public.context.close()
