"""Accounts: the admin page (/admin/accounts), enterprise sub-accounts (经办人), CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.models import AuditLog, Role, User
from tests.conftest import CSRF_RE, PASSWORD
from tests.factories import valid_uscc


def _login(client, username, password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def _user(db, username) -> User:
    return db.session.scalar(select(User).where(User.username == username))


# --------------------------------------------------------------------------- admin


@pytest.mark.parametrize("role", [Role.ENTERPRISE, Role.EVALUATOR, Role.REGULATOR])
def test_non_admins_get_403(client, login_as, make_user, role):
    other = make_user(Role.EVALUATOR)
    login_as(role)
    assert client.get("/admin/accounts").status_code == 403
    assert client.get("/admin/accounts/new").status_code == 403
    assert client.post("/admin/accounts/new", data={"role": "admin", "username": "x_admin",
                                                    "password": "long enough 1"}).status_code == 403
    for action in ("disable", "enable", "unlock", "reset"):
        assert client.post(f"/admin/accounts/{other.id}/{action}").status_code == 403


def test_admin_lists_and_filters_accounts(client, login_as, make_user, app):
    app.config["PAGE_SIZE"] = 2
    make_user(Role.REGULATOR, username="reg_chongqing")
    make_user(Role.EVALUATOR, username="eval_one")
    make_user(Role.EVALUATOR, username="eval_two")
    login_as(Role.ADMIN)
    regs = client.get("/admin/accounts?role=regulator").get_data(as_text=True)
    assert "reg_chongqing" in regs and "eval_one" not in regs
    found = client.get("/admin/accounts?q=EVAL_T").get_data(as_text=True)
    assert "eval_two" in found and "eval_one" not in found
    first = client.get("/admin/accounts").get_data(as_text=True)
    assert "Page 1 of 2" in first
    assert client.get("/admin/accounts?role=king").status_code == 422


def test_admin_creates_accounts_of_every_role(client, login_as, db, smtp_server):
    login_as(Role.ADMIN)
    reg = client.post("/admin/accounts/new", data={
        "role": "regulator", "username": "reg_new", "display_name": "重庆市市场监管局",
        "password": "long enough 1", "region_code": "500000",
    })
    assert reg.status_code == 302
    assert _user(db, "reg_new").region_code == "500000"

    uscc = valid_uscc("500112")
    ent = client.post("/admin/accounts/new", data={
        "role": "enterprise", "username": "ent_new", "email": "ent_new@example.cn",
        "uscc": uscc, "enterprise_name": "重庆新企业有限公司",
    })
    assert ent.status_code == 302
    user = _user(db, "ent_new")
    assert user.role is Role.ENTERPRISE and user.enterprise.uscc == uscc
    assert user.enterprise.region_code == "500112" and user.enterprise.user.id == user.id
    # No password given: the account is sent a reset link.
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "ent_new@example.cn" and "/password/reset/" in message.get_body(
        ("plain",)).get_content()

    for role in ("evaluator", "admin"):
        resp = client.post("/admin/accounts/new", data={
            "role": role, "username": f"{role}_new", "password": "long enough 1"})
        assert resp.status_code == 302
        assert _user(db, f"{role}_new").role is Role(role)
    rows = db.session.scalars(select(AuditLog).where(AuditLog.entity == "users",
                                                     AuditLog.action == "insert")).all()
    assert {r.after["username"] for r in rows} >= {"reg_new", "ent_new", "evaluator_new",
                                                    "admin_new"}


def test_admin_create_refuses_with_field_messages(client, login_as, make_user, db):
    taken = make_user(Role.ENTERPRISE)
    login_as(Role.ADMIN)
    resp = client.post("/admin/accounts/new", data={
        "role": "regulator", "username": "x", "password": "", "region_code": "50"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "3 to 80 characters" in page
    assert "6-digit" in page
    assert "Give a password, or an e-mail address" in page
    dup = client.post("/admin/accounts/new", data={
        "role": "enterprise", "username": "ent_dup", "password": "long enough 1",
        "uscc": taken.enterprise.uscc, "enterprise_name": "重复"})
    assert dup.status_code == 422 and "already exists" in dup.get_data(as_text=True)
    assert _user(db, "ent_dup") is None


def test_admin_disables_enables_and_sends_a_reset(app, client, login_as, make_user, db,
                                                  smtp_server):
    target = make_user(Role.EVALUATOR)
    target.email = "eval@example.cn"
    db.session.commit()
    device = app.test_client()
    assert _login(device, target.username).status_code == 302
    admin = login_as(Role.ADMIN)

    assert client.post(f"/admin/accounts/{target.id}/disable").status_code == 302
    assert device.get("/account").status_code == 302  # its open session ends
    assert _login(app.test_client(), target.username).status_code == 422
    assert client.post(f"/admin/accounts/{target.id}/enable").status_code == 302
    assert _login(app.test_client(), target.username).status_code == 302

    assert client.post(f"/admin/accounts/{target.id}/reset").status_code == 302
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "eval@example.cn"

    client.post(f"/admin/accounts/{admin.id}/disable")
    db.session.refresh(admin)
    assert admin.is_active_account  # never oneself
    assert client.post("/admin/accounts/999999/disable").status_code == 404
    actions = db.session.scalars(select(AuditLog).where(
        AuditLog.entity == "users", AuditLog.entity_id == str(target.id),
        AuditLog.action == "update", AuditLog.actor_id == admin.id).order_by(AuditLog.id)).all()
    assert [r.after.get("is_active_account") for r in actions] == [False, True]


# --------------------------------------------------------------------------- sub-accounts


@pytest.fixture
def two_enterprises(db, make_user, catalogue):
    from tests.supervision.test_sampling_support import declaration
    from declare.models import VersionStatus

    mine, theirs = make_user(Role.ENTERPRISE), make_user(Role.ENTERPRISE)
    my_draft = declaration(mine.enterprise, catalogue["room_ac"], status=VersionStatus.DRAFT)
    their_draft = declaration(theirs.enterprise, catalogue["room_ac"],
                              status=VersionStatus.DRAFT)
    db.session.commit()
    return mine, theirs, my_draft, their_draft


def _add_sub(client, username="clerk_one"):
    return client.post("/account/sub-accounts", data={
        "username": username, "display_name": "张经办", "password": "clerk pass 1",
        "confirm": "clerk pass 1"})


def test_sub_account_acts_for_its_enterprise_only(app, client, login_as, db, two_enterprises):
    mine, theirs, my_draft, their_draft = two_enterprises
    login_as(mine)
    assert _add_sub(client).status_code == 302
    clerk = _user(db, "clerk_one")
    assert clerk.enterprise_id == mine.enterprise_id and clerk.parent_id == mine.id
    assert mine.enterprise.user.id == mine.id  # the main account stays the enterprise's

    sub = app.test_client()
    assert _login(sub, "clerk_one", "clerk pass 1").status_code == 302
    assert sub.get(f"/my/declarations/{my_draft.id}").status_code == 200
    assert sub.get(f"/my/declarations/{their_draft.id}").status_code == 404
    lock = {"lock_version": str(my_draft.lock_version)}
    assert sub.post(f"/my/declarations/{their_draft.id}/discard", data=lock).status_code == 404
    assert sub.post(f"/my/declarations/{my_draft.id}/discard", data=lock).status_code == 302
    # Its own audit trail: the write names the sub-account, not the main account.
    row = db.session.scalars(select(AuditLog).where(
        AuditLog.entity == "declarations", AuditLog.entity_id == str(my_draft.id)
    ).order_by(AuditLog.id)).all()[-1]
    assert (row.actor_id, row.actor_label) == (clerk.id, "clerk_one")


def test_sub_account_over_the_api_sees_its_enterprise_only(client, login_as, db, token_for,
                                                         two_enterprises):
    mine, theirs, my_draft, their_draft = two_enterprises
    login_as(mine)
    _add_sub(client)
    headers = token_for(_user(db, "clerk_one"))
    me = client.get("/api/v1/enterprises/me", headers=headers)
    assert me.status_code == 200 and me.get_json()["id"] == mine.enterprise_id
    assert me.get_json()["username"] == mine.username  # the enterprise's main account
    own = client.get(f"/api/v1/declarations/{my_draft.id}/draft", headers=headers)
    other = client.get(f"/api/v1/declarations/{their_draft.id}/draft", headers=headers)
    assert own.status_code == 200 and other.status_code == 404


def test_sub_accounts_cannot_manage_sub_accounts(app, client, login_as, db, two_enterprises):
    mine, theirs, *_ = two_enterprises
    login_as(mine)
    _add_sub(client)
    clerk = _user(db, "clerk_one")
    sub = app.test_client()
    _login(sub, "clerk_one", "clerk pass 1")
    assert sub.get("/account/sub-accounts").status_code == 403
    assert _add_sub(sub, "clerk_two").status_code == 403
    assert sub.post(f"/account/sub-accounts/{clerk.id}/disable").status_code == 403
    assert _user(db, "clerk_two") is None
    # Another enterprise's main account does not find this one's sub-account.
    login_as(theirs)
    assert client.post(f"/account/sub-accounts/{clerk.id}/disable").status_code == 404
    db.session.refresh(clerk)
    assert clerk.is_active_account


def test_main_account_disables_a_sub_account(app, client, login_as, db, two_enterprises):
    mine, *_ = two_enterprises
    login_as(mine)
    _add_sub(client)
    clerk = _user(db, "clerk_one")
    sub = app.test_client()
    assert _login(sub, "clerk_one", "clerk pass 1").status_code == 302
    assert client.post(f"/account/sub-accounts/{clerk.id}/disable").status_code == 302
    assert sub.get("/my/declarations").status_code == 302  # logged out
    assert _login(app.test_client(), "clerk_one", "clerk pass 1").status_code == 422
    page = client.get("/account/sub-accounts").get_data(as_text=True)
    assert "clerk_one" in page and "Disabled" in page
    assert client.post(f"/account/sub-accounts/{clerk.id}/enable").status_code == 302
    assert _login(app.test_client(), "clerk_one", "clerk pass 1").status_code == 302


def test_sub_account_form_refuses_bad_input(client, login_as, db, two_enterprises):
    login_as(two_enterprises[0])
    resp = client.post("/account/sub-accounts", data={
        "username": "a b", "email": "nope", "password": "short", "confirm": "shorter"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for text in ("3 to 80 characters", "Enter an e-mail address", "at least 8 characters",
                 "The two new passwords differ."):
        assert text in page, text


def test_other_roles_have_no_sub_accounts(client, login_as):
    login_as(Role.REGULATOR)
    assert client.get("/account/sub-accounts").status_code == 403


# --------------------------------------------------------------------------- CSRF


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_account_forms_need_the_csrf_token(self, client, make_user):
        user = make_user(Role.ADMIN)
        login_page = client.get("/login").get_data(as_text=True)
        token = CSRF_RE.search(login_page).group(1)
        assert client.post("/login", data={"username": user.username, "password": PASSWORD,
                                           "csrf_token": token}).status_code == 302
        for url, data in (
            ("/account/password", {"current_password": PASSWORD, "new_password": "x" * 10,
                                   "confirm": "x" * 10}),
            ("/admin/accounts/new", {"role": "admin", "username": "csrf_admin",
                                     "password": "long enough 1"}),
            ("/password/forgot", {"email": "a@example.cn"}),
            (f"/admin/accounts/{user.id}/unlock", {}),
        ):
            resp = client.post(url, data=data)
            assert resp.status_code == 400, url
        page = client.get("/account/password").get_data(as_text=True)
        token = CSRF_RE.search(page).group(1)
        resp = client.post("/account/password", data={
            "current_password": PASSWORD, "new_password": "x" * 10, "confirm": "x" * 10,
            "csrf_token": token})
        assert resp.status_code == 302
        assert re.search(r"/account$", resp.headers["Location"])


# --------------------------------------------------------------------------- API


def test_api_is_for_admins_only(client, make_user, token_for):
    for role in (Role.ENTERPRISE, Role.EVALUATOR, Role.REGULATOR):
        headers = token_for(make_user(role))
        assert client.get("/api/v1/admin/accounts", headers=headers).status_code == 403
        assert client.post("/api/v1/admin/accounts", headers=headers, json={
            "role": "admin", "username": "api_admin", "password": "long enough 1"}
        ).status_code == 403
    assert client.get("/api/v1/admin/accounts").status_code == 401


def test_api_creates_lists_and_changes_accounts(client, make_user, token_for, db, smtp_server):
    admin = make_user(Role.ADMIN)
    headers = token_for(admin)
    resp = client.post("/api/v1/admin/accounts", headers=headers, json={
        "role": "regulator", "username": "api_reg", "region_code": "500100",
        "email": "reg@example.cn"})
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["role"] == "regulator" and created["region_code"] == "500100"
    assert "password" not in created
    (message,) = smtp_server.wait_for(1)  # no password given: a reset link
    assert message["To"] == "reg@example.cn"

    bad = client.post("/api/v1/admin/accounts", headers=headers, json={
        "role": "regulator", "username": "api_reg", "password": "short"})
    assert bad.status_code == 422
    errors = bad.get_json()["errors"]["json"]
    assert {"username", "password", "region_code"} <= set(errors)

    listed = client.get("/api/v1/admin/accounts?role=regulator", headers=headers).get_json()
    assert [a["username"] for a in listed] == ["api_reg"]
    uid = created["id"]
    off = client.post(f"/api/v1/admin/accounts/{uid}/disable", headers=headers)
    assert off.status_code == 200 and off.get_json()["active"] is False
    on = client.post(f"/api/v1/admin/accounts/{uid}/enable", headers=headers)
    assert on.get_json()["active"] is True
    assert client.post(f"/api/v1/admin/accounts/{admin.id}/disable",
                       headers=headers).status_code == 422
    assert client.post("/api/v1/admin/accounts/99999/unlock", headers=headers).status_code == 404


def test_disabling_the_main_account_stops_its_sub_accounts(app, client, login_as, make_user,
                                                          db, token_for, two_enterprises):
    mine, *_ = two_enterprises
    login_as(mine)
    _add_sub(client)
    clerk = _user(db, "clerk_one")
    headers = token_for(clerk)
    sub = app.test_client()
    assert _login(sub, "clerk_one", "clerk pass 1").status_code == 302
    admin = app.test_client()
    assert _login(admin, make_user(Role.ADMIN).username).status_code == 302
    assert admin.post(f"/admin/accounts/{mine.id}/disable").status_code == 302
    assert sub.get("/my/declarations").status_code == 302  # its session ends
    assert client.get("/api/v1/enterprises/me", headers=headers).status_code == 401
    assert _login(app.test_client(), "clerk_one", "clerk pass 1").status_code == 422
    assert admin.post(f"/admin/accounts/{mine.id}/enable").status_code == 302
    assert _login(app.test_client(), "clerk_one", "clerk pass 1").status_code == 302


class TestResetRateLimit:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "PASSWORD_RESET_RATE_LIMIT": "2 per minute"}

    def test_reset_requests_are_rate_limited_per_address(self, client):
        codes = [client.post("/password/forgot", data={"email": f"x{i}@example.cn"}).status_code
                 for i in range(3)]
        assert codes == [302, 302, 429]


def test_admin_corrects_an_account(client, login_as, make_user, db, token_for):
    reg = make_user(Role.REGULATOR)
    other = make_user(Role.EVALUATOR)
    other.email = "other@example.cn"
    db.session.commit()
    admin = login_as(Role.ADMIN)
    assert client.get(f"/admin/accounts/{reg.id}").status_code == 200
    bad = client.post(f"/admin/accounts/{reg.id}", data={
        "display_name": "x", "email": "OTHER@example.cn", "region_code": "5000"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Another account uses this e-mail address." in page and "6-digit" in page
    ok = client.post(f"/admin/accounts/{reg.id}", data={
        "display_name": "重庆市局", "email": "reg@example.cn", "region_code": "500100"})
    assert ok.status_code == 302
    db.session.refresh(reg)
    assert (reg.display_name, reg.email, reg.region_code) == ("重庆市局", "reg@example.cn",
                                                              "500100")
    assert client.get("/admin/accounts/99999").status_code == 404
    patched = client.patch(f"/api/v1/admin/accounts/{reg.id}", headers=token_for(admin),
                           json={"email": None, "region_code": "500000"})
    assert patched.status_code == 200
    assert patched.get_json()["email"] is None and patched.get_json()["region_code"] == "500000"
