"""core.notifications: delivered after the commit, once per event, never on a rollback; the
inbox (count, list, read, all read, ownership) and the e-mail choices (through a real SMTP
server process, in the recipient's language)."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from core import jobs
from core.extensions import db as _db
from core.models import Role
from core.notifications import (
    KINDS,
    Notification,
    NotificationSettings,
    notify,
    notify_address,
    notify_enterprises,
    render_in,
)


def commit():
    _db.session.commit()
    jobs.dispatch_pending()


def rows(user=None, kind=None):
    stmt = select(Notification)
    if user is not None:
        stmt = stmt.where(Notification.user_id == user.id)
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    return list(_db.session.scalars(stmt))


PARAMS = {"number": "110000-2026-0001", "deadline": "2026-12-31", "order_id": 1}


def test_delivered_after_the_commit_and_once_per_event(db, make_user):
    user = make_user(Role.ENTERPRISE)
    notify([user.id], "rectification_ordered", "order:1", **PARAMS)
    _db.session.flush()
    assert rows(user) == []  # nothing before the commit
    commit()
    (row,) = rows(user)
    assert (row.kind, row.key, row.params["number"]) == ("rectification_ordered", "order:1",
                                                         "110000-2026-0001")
    notify([user.id], "rectification_ordered", "order:1", **PARAMS)  # the same event again
    commit()
    assert len(rows(user)) == 1


def test_a_rolled_back_write_notifies_nobody(db, make_user):
    user = make_user(Role.ENTERPRISE)
    notify([user.id], "rectification_ordered", "order:2", **PARAMS)
    _db.session.rollback()
    jobs.discard_pending()
    commit()
    assert rows(user) == []


def test_enterprise_accounts_are_found_when_the_job_runs(db, make_user):
    owner = make_user(Role.ENTERPRISE)
    other = make_user(Role.ENTERPRISE)
    notify_enterprises([owner.enterprise_id], "draw_publicised", "draw:7",
                       number="500000-2026-007", draw_id=7)
    commit()
    assert [r.user_id for r in rows(kind="draw_publicised")] == [owner.id]
    assert rows(other) == []


def test_sub_accounts_are_notified_only_while_their_main_account_is_enabled(db, make_user):
    from core import accounts

    owner = make_user(Role.ENTERPRISE)
    clerk = accounts.create_sub_account(owner, {"username": "clerk01", "display_name": "经办人",
                                                "password": "correct horse 9",
                                                "confirm": "correct horse 9"})
    commit()
    notify_enterprises([owner.enterprise_id], "draw_publicised", "draw:8",
                       number="500000-2026-008", draw_id=8)
    commit()
    assert sorted(r.user_id for r in rows(kind="draw_publicised")) == sorted([owner.id, clerk.id])
    owner.is_active_account = False  # an admin disabled the enterprise's account
    commit()
    notify_enterprises([owner.enterprise_id], "draw_publicised", "draw:9",
                       number="500000-2026-009", draw_id=9)
    commit()
    assert [r.key for r in rows(clerk)] == ["draw:8"]


def test_unknown_kind_and_bad_key_are_refused_at_the_call_site(db, make_user):
    with pytest.raises(ValueError, match="unknown notification kind"):
        notify([1], "no_such_kind", "k")
    with pytest.raises(ValueError, match="key"):
        notify([1], "rectification_ordered", "", **PARAMS)
    with pytest.raises(TypeError):
        notify([1], "rectification_ordered", "k", when=object())


def test_stored_as_code_and_params_and_rendered_in_the_readers_language(db, make_user):
    subject_zh, _ = render_in("zh", "rectification_ordered", PARAMS)
    subject_en, body_en = render_in("en", "rectification_ordered", PARAMS)
    assert subject_en == "Rectification order after inspection 110000-2026-0001"
    assert "2026-12-31" in body_en
    with force_locale("zh"):  # the Chinese catalogue's text (pending/notify.po until merged)
        expected = gettext("Rectification order after inspection %(number)s",
                           number="110000-2026-0001")
    assert subject_zh == expected
    # Codes among the parameters are shown through their label.
    subject, _ = render_in("en", "complaint_status", {"number": "JB1", "status": "dismissed"})
    assert subject == "Complaint JB1: dismissed"


def test_every_kind_renders_with_its_documented_parameters():
    import re

    for kind in KINDS.values():
        names = set(re.findall(r"%\((\w+)\)s", str(kind.subject) + str(kind.body)))
        subject, body = render_in("en", kind.code, {n: "x" for n in names})
        assert subject and body, kind.code


# --------------------------------------------------------------------------- the inbox


def test_the_header_shows_the_unread_count_and_the_inbox_lists_them(client, login_as):
    user = login_as(Role.ENTERPRISE)
    for n in range(3):
        notify([user.id], "rectification_ordered", f"order:{n}", **{**PARAMS, "order_id": n})
    commit()
    page = client.get("/declarations/mine?lang=en").get_data(as_text=True)
    assert 'id="unread-badge"' in page and ">3</span>" in page
    inbox = client.get("/notifications/?lang=en").get_data(as_text=True)
    assert inbox.count("Rectification order after inspection 110000-2026-0001") == 3
    assert "3 unread" in inbox


def test_mark_read_and_all_read(client, login_as):
    user = login_as(Role.ENTERPRISE)
    for n in range(3):
        notify([user.id], "rectification_ordered", f"order:{n}", **{**PARAMS, "order_id": n})
    commit()
    first = rows(user)[0]
    assert client.post(f"/notifications/{first.id}/read").status_code == 302
    _db.session.expire_all()
    assert sum(r.read_at is None for r in rows(user)) == 2
    resp = client.post(f"/notifications/{rows(user)[1].id}/read", data={"open": "1"})
    assert resp.headers["Location"].endswith("/supervision/inspections/mine")
    client.post("/notifications/read-all")
    _db.session.expire_all()
    assert all(r.read_at is not None for r in rows(user))
    assert 'id="unread-badge"' not in client.get("/notifications/").get_data(as_text=True)


def test_the_inbox_is_paginated(client, login_as):
    user = login_as(Role.REGULATOR, region_code="110000")
    for n in range(25):
        notify([user.id], "complaint_status", f"c:{n}", number=f"JB{n:03d}", status="open")
    commit()
    first = client.get("/notifications/?lang=en").get_data(as_text=True)
    second = client.get("/notifications/?lang=en&page=2").get_data(as_text=True)
    assert "Complaint JB024" in first and "Complaint JB000" not in first
    assert "Complaint JB000" in second and "Page 2 of 2" in second


def test_nobody_reads_or_marks_another_users_notification(client, login_as, make_user):
    owner = make_user(Role.ENTERPRISE)
    notify([owner.id], "rectification_ordered", "order:9", **PARAMS)
    commit()
    (row,) = rows(owner)
    login_as(Role.ENTERPRISE)
    assert client.post(f"/notifications/{row.id}/read").status_code == 404
    assert "110000-2026-0001" not in client.get("/notifications/").get_data(as_text=True)
    client.post("/notifications/read-all")
    _db.session.expire_all()
    assert rows(owner)[0].read_at is None


def test_the_inbox_needs_a_login(client):
    assert client.get("/notifications/").status_code == 302
    assert client.post("/notifications/1/read").status_code == 302


# --------------------------------------------------------------------------- e-mail


def test_email_only_for_the_kinds_chosen_in_the_users_language(client, login_as, smtp_server):
    user = login_as(Role.ENTERPRISE)
    resp = client.post("/notifications/settings", data={
        "email": "boss@example.cn", "email_kinds": ["rectification_ordered"], "locale": "en",
    })
    assert resp.status_code == 302
    shown = client.get("/notifications/settings?lang=en").get_data(as_text=True)
    assert 'value="boss@example.cn"' in shown
    assert re.search(r'checked[^>]*value="rectification_ordered"|value="rectification_ordered"'
                     r'[^>]*checked', shown)
    assert not re.search(r'value="draw_publicised"[^>]*checked', shown)
    notify([user.id], "rectification_ordered", "order:1", **PARAMS)
    notify([user.id], "draw_publicised", "draw:1", number="D1", draw_id=1)  # inbox only
    commit()
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "boss@example.cn"
    assert message["Subject"] == "Rectification order after inspection 110000-2026-0001"
    assert len(rows(user)) == 2
    notify([user.id], "rectification_ordered", "order:1", **PARAMS)  # repeated: no 2nd mail
    commit()
    assert len(smtp_server.messages()) == 1
    emailed = rows(user, "rectification_ordered")[0]
    assert emailed.emailed_at is not None


def test_a_rollback_mails_nothing(db, make_user, smtp_server):
    user = make_user(Role.ENTERPRISE)
    _db.session.add(NotificationSettings(user_id=user.id, email="x@example.cn",
                                         email_kinds=["rectification_ordered"]))
    commit()
    notify([user.id], "rectification_ordered", "order:3", **PARAMS)
    _db.session.rollback()
    jobs.discard_pending()
    notify([user.id], "rectification_ordered", "order:4", **PARAMS)
    commit()
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "x@example.cn"
    assert len(smtp_server.messages()) == 1
    assert [r.key for r in rows(user)] == ["order:4"]


def test_settings_refuse_a_bad_address_and_kinds_without_one(client, login_as):
    login_as(Role.ENTERPRISE)
    resp = client.post("/notifications/settings?lang=en", data={
        "email": "not-an-address", "email_kinds": ["rectification_ordered"], "locale": "zh"})
    assert resp.status_code == 422
    assert "Enter an e-mail address" in resp.get_data(as_text=True)
    resp = client.post("/notifications/settings?lang=en", data={
        "email": "", "email_kinds": ["rectification_ordered"], "locale": "zh"})
    assert resp.status_code == 422
    assert "Enter the address the e-mails go to." in resp.get_data(as_text=True)
    assert _db.session.scalar(select(func.count()).select_from(NotificationSettings)) == 0


def test_an_address_without_an_account_gets_mail_once(app, db, smtp_server):
    with app.test_request_context("/?lang=en"):
        assert notify_address("citizen@example.cn", "complaint_status", "complaint:1:open",
                              number="JB1", status="open")
        assert not notify_address("13800138000", "complaint_status", "complaint:1:open",
                                  number="JB1", status="open")  # a phone number: nothing
        commit()
        notify_address("citizen@example.cn", "complaint_status", "complaint:1:open",
                       number="JB1", status="open")
        commit()
    (message,) = smtp_server.wait_for(1)
    assert message["Subject"] == "Complaint JB1: received and routed to the regulator"
    assert len(smtp_server.messages()) == 1


def test_the_console_lists_the_jobs_that_ran(client, login_as, make_user):
    user = make_user(Role.ENTERPRISE)
    notify([user.id], "rectification_ordered", "order:1", **PARAMS)
    commit()
    login_as(Role.ADMIN)
    page = client.get("/admin/jobs?status=done").get_data(as_text=True)
    assert "core.notifications.tasks.deliver" in page
    login_as(Role.ENTERPRISE)
    assert client.get("/admin/jobs?status=done").status_code == 403
