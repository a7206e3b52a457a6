"""The notification journey in a real browser (issue #12): a regulator records 不符合 (a
rectification order with its deadline); the enterprise logs in, sees the unread count in the
header and the notification with the deadline, opens it and answers the order; the regulator
closes the order; an admin opens the console and sees the jobs that ran (the delivery of the
notification among them). CSRF is on, as in production; jobs run inline after each commit."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.extensions import db as _db
from core.models import Role
from supervision.models import CHECKLIST, RectificationOrder, RectificationStatus
from tests.conftest import PASSWORD
from tests.supervision.test_inspections_operations import (  # noqa: F401  (fixtures)
    en_request_fixture,
    world,
)

pytestmark = pytest.mark.browser

FINDING = "未公开性能指标的检验方法"


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


def log_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def log_out(page) -> None:
    page.click("header form[action$='/logout'] button")
    page.wait_for_url(re.compile(r".*/$"))


def test_order_notified_answered_closed_and_the_console_shows_the_jobs(
    live_server, page, world, make_user
):
    inspection_id = world["inspection"].id
    number = world["inspection"].number
    regulator = world["beijing"].username
    enterprise = world["owner"].username
    admin = make_user(Role.ADMIN).username

    # The regulator records 不符合: a mandatory item fails, with its finding.
    log_in(page, live_server, regulator)
    page.goto(f"{live_server}/supervision/inspections/{inspection_id}")
    for item in CHECKLIST:
        outcome = "fail" if item == "mandatory_requirements" else "pass"
        page.check(f"#record-form input[name='check_{item}'][value='{outcome}']")
    page.fill("#record-form textarea[name='finding_mandatory_requirements']", FINDING)
    page.check("#record-form input[name='result'][value='nonconforming']")
    page.click("#record-result")
    page.wait_for_selector("#rectification [data-deadline]")
    _db.session.expire_all()
    order = _db.session.scalars(select(RectificationOrder)).one()
    deadline, order_id = order.deadline.isoformat(), order.id
    log_out(page)

    # The enterprise: one unread notification in the header, with the deadline in the inbox.
    log_in(page, live_server, enterprise)
    assert page.locator("#unread-badge").inner_text().strip() == "1"
    page.click("header a.inbox-link")
    page.wait_for_url(re.compile(r".*/notifications/$"))
    note = page.locator("li.notification[data-kind='rectification_ordered']")
    assert note.count() == 1 and "unread" in note.get_attribute("class")
    text = note.inner_text()
    assert number in text and deadline in text
    note.locator("button[name='open']").click()
    page.wait_for_url(re.compile(r".*/supervision/inspections/mine$"))
    assert page.locator("#unread-badge").count() == 0  # opened: read
    page.fill(f"#order-{order_id} textarea[name='o{order_id}-answer']", "已补充公开检验方法并更新标准文本")
    page.click(f"#order-{order_id} .answer-form button[type=submit]")
    page.wait_for_selector(".flash-success")
    _db.session.expire_all()
    assert _db.session.get(RectificationOrder, order_id).status is RectificationStatus.ANSWERED
    log_out(page)

    # The regulator closes the order after the follow-up.
    log_in(page, live_server, regulator)
    page.goto(f"{live_server}/supervision/inspections/{inspection_id}")
    page.fill("#follow-up-form textarea[name='follow_up']", "复核答复，整改到位")
    page.click("#close-order")
    page.wait_for_load_state()
    _db.session.expire_all()
    assert _db.session.get(RectificationOrder, order_id).status is RectificationStatus.CLOSED
    log_out(page)

    # The admin's console: the jobs that ran, the notification's delivery among them.
    log_in(page, live_server, admin)
    page.goto(f"{live_server}/admin/jobs")
    page.click("#jobs-done")
    page.wait_for_url(re.compile(r".*/admin/jobs\?status=done$"))
    ran = page.locator("#failed-jobs").inner_text()
    assert "core.notifications.tasks.deliver" in ran
