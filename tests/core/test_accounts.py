"""Accounts: change password, reset by e-mail through a real SMTP server, lock-out."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from core import accounts
from core.models import ApiToken, AuditLog, Role
from tests.conftest import PASSWORD

NEW = "a much better one 7"
LINK_RE = re.compile(r"http://localhost(/password/reset/\S+)")


def _login(client, username, password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


# --------------------------------------------------------------------------- change


def test_change_password_logs_out_other_sessions_and_revokes_tokens(
    app, client, make_user, token_for, db
):
    user = make_user(Role.EVALUATOR)
    other_device = app.test_client()
    assert _login(other_device, user.username).status_code == 302
    headers = token_for(user)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert _login(client, user.username).status_code == 302

    resp = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW, "confirm": NEW},
    )
    assert resp.status_code == 302

    assert client.get("/account").status_code == 200  # this session goes on
    assert other_device.get("/account").status_code == 302  # the other one is logged out
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert db.session.scalar(select(ApiToken.revoked_at)) is not None
    assert _login(app.test_client(), user.username).status_code == 422  # old password gone
    assert _login(app.test_client(), user.username, NEW).status_code == 302


def test_change_password_names_each_wrong_field(client, login_as):
    user = login_as(Role.REGULATOR)
    resp = client.post(
        "/account/password",
        data={"current_password": "wrong one!", "new_password": "short", "confirm": "other"},
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "The current password is wrong." in page
    assert "at least 8 characters" in page
    assert "The two new passwords differ." in page
    assert user.check_password(PASSWORD)


def test_account_pages_need_a_login(client):
    for url in ("/account", "/account/password", "/account/sub-accounts", "/admin/accounts"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], url


def test_setting_an_email_checks_it_and_its_uniqueness(client, login_as, make_user, db):
    make_user(Role.EVALUATOR, username="holder")
    holder = db.session.scalar(select(accounts.User).where(accounts.User.username == "holder"))
    holder.email = "taken@example.cn"
    db.session.commit()
    user = login_as(Role.EVALUATOR)
    bad = client.post("/account", data={"email": "not an address", "current_password": PASSWORD})
    assert bad.status_code == 422 and "Enter an e-mail address" in bad.get_data(as_text=True)
    taken = client.post(
        "/account", data={"email": "Taken@Example.cn", "current_password": PASSWORD}
    )
    assert taken.status_code == 422
    assert "Another account uses this e-mail address." in taken.get_data(as_text=True)
    ok = client.post("/account", data={"email": " Me@Example.cn ", "current_password": PASSWORD})
    assert ok.status_code == 302
    db.session.refresh(user)
    assert user.email == "me@example.cn"


# --------------------------------------------------------------------------- reset


def _with_email(db, user, email="ent@example.cn"):
    user.email = email
    db.session.commit()
    return user


def _reset_link(message) -> str:
    body = message.get_body(("plain",)).get_content()
    found = LINK_RE.search(body)
    assert found, body
    return found.group(1)


def test_reset_by_email_works_once(app, client, make_user, db, smtp_server):
    user = _with_email(db, make_user(Role.ENTERPRISE))
    resp = client.post("/password/forgot", data={"email": "ENT@example.cn"})
    assert resp.status_code == 302
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "ent@example.cn"
    link = _reset_link(message)

    page = client.get(link)
    assert page.status_code == 200 and user.username in page.get_data(as_text=True)
    done = client.post(link, data={"new_password": NEW, "confirm": NEW})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert _login(app.test_client(), user.username, NEW).status_code == 302

    again = client.post(link, data={"new_password": "yet another 99", "confirm": "yet another 99"})
    assert again.status_code == 400  # used: the password it was signed for is gone
    assert _login(app.test_client(), user.username, NEW).status_code == 302
    # The audit log names the account itself as the one who reset it.
    row = db.session.scalars(
        select(AuditLog)
        .where(AuditLog.entity == "users", AuditLog.action == "update")
        .order_by(AuditLog.id)
    ).all()[-1]
    assert row.actor_id == user.id and row.after["password_hash"] == "***"


def test_forgot_password_never_reveals_whether_an_account_exists(app, client, make_user, db,
                                                                 smtp_server):
    _with_email(db, make_user(Role.EVALUATOR), "known@example.cn")
    answers = []
    for email in ("known@example.cn", "nobody@example.cn", "nobody"):
        resp = client.post("/password/forgot", data={"email": email})
        page = client.get(resp.headers["Location"]).get_data(as_text=True)
        answers.append((resp.status_code, resp.headers["Location"],
                        re.findall(r'class="flash flash-info"[^>]*>([^<]*)<', page)))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 302 and answers[0][2]
    smtp_server.wait_for(1)
    assert [m["To"] for m in smtp_server.messages()] == ["known@example.cn"]


def test_reset_link_expires(app, client, make_user, db, smtp_server, monkeypatch):
    app.config["PASSWORD_RESET_MAX_AGE"] = 600
    _with_email(db, make_user(Role.EVALUATOR))
    client.post("/password/forgot", data={"email": "ent@example.cn"})
    link = _reset_link(smtp_server.wait_for(1)[0])
    assert client.get(link).status_code == 200
    later = time.time() + 601
    monkeypatch.setattr(accounts, "_clock", lambda: later)
    resp = client.post(link, data={"new_password": NEW, "confirm": NEW})
    assert resp.status_code == 400
    assert "This link no longer works" in resp.get_data(as_text=True)


def test_reset_link_fails_after_a_password_change(app, client, make_user, db, smtp_server):
    user = _with_email(db, make_user(Role.EVALUATOR))
    client.post("/password/forgot", data={"email": "ent@example.cn"})
    link = _reset_link(smtp_server.wait_for(1)[0])
    assert _login(client, user.username).status_code == 302
    assert client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW, "confirm": NEW},
    ).status_code == 302
    assert client.get(link).status_code == 400
    assert client.get("/password/reset/not-a-token").status_code == 400


def test_a_refused_reset_request_sends_nothing(app, client, smtp_server):
    resp = client.post("/password/forgot", data={"email": ""})
    assert resp.status_code == 422
    assert smtp_server.messages() == []


# --------------------------------------------------------------------------- lock-out


def test_repeated_wrong_passwords_lock_the_page_and_the_api(app, client, make_user, login_as):
    app.config["LOGIN_LOCK_THRESHOLD"] = 3
    user = make_user(Role.EVALUATOR)
    for _i in range(2):
        resp = _login(client, user.username, "wrong password")
        assert "Wrong username or password." in resp.get_data(as_text=True)
    resp = _login(client, user.username, "wrong password")
    assert resp.status_code == 422 and "locked until" in resp.get_data(as_text=True)
    # The right password does not open a locked account, on the page nor the token API.
    resp = _login(client, user.username)
    assert resp.status_code == 422 and "locked until" in resp.get_data(as_text=True)
    api = client.post("/api/v1/auth/tokens", json={"username": user.username, "password": PASSWORD})
    assert api.status_code == 401 and "locked until" in api.get_json()["message"]

    admin_client = app.test_client()
    admin = make_user(Role.ADMIN)
    assert _login(admin_client, admin.username).status_code == 302
    assert admin_client.post(f"/admin/accounts/{user.id}/unlock").status_code == 302
    assert _login(client, user.username).status_code == 302


def test_a_lock_ends_by_itself_and_a_success_resets_the_count(app, client, make_user, db):
    from datetime import timedelta

    from core.models import utcnow

    app.config["LOGIN_LOCK_THRESHOLD"] = 3
    user = make_user(Role.EVALUATOR)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    _login(client, user.username, "wrong password")
    _login(client, user.username, "wrong password")
    assert _login(client, user.username).status_code == 302
    db.session.refresh(user)
    assert user.failed_logins == 0 and user.locked_until is None
    client.post("/logout")
    _login(client, user.username, "wrong password")
    _login(client, user.username, "wrong password")
    assert _login(client, user.username).status_code == 302  # 2 again, not 4: no lock


def test_unknown_accounts_are_told_the_same_as_wrong_passwords(client, make_user):
    user = make_user(Role.EVALUATOR)
    wrong = _login(client, user.username, "wrong password").get_data(as_text=True)
    unknown = _login(client, "nobody-here", "wrong password").get_data(as_text=True)
    assert "Wrong username or password." in wrong and "Wrong username or password." in unknown
