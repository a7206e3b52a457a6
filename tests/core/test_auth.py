"""Accounts: session login for pages, bearer tokens for the API, roles and regions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from core.auth import issue_token, region_covers, region_prefix
from core.models import ApiToken, Role, User, utcnow
from tests.conftest import PASSWORD

# -- pages: login / logout ---------------------------------------------------------------------


def test_login_then_logout(client, make_user):
    user = make_user(Role.ADMIN)
    assert client.get("/account/tokens").status_code == 302  # anonymous

    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    page = client.get("/account/tokens")
    assert page.status_code == 200
    assert user.display_name in page.get_data(as_text=True)

    assert client.post("/logout").status_code == 302
    resp = client.get("/account/tokens")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_login_accepts_surrounding_spaces_in_the_username(client, make_user):
    user = make_user(Role.ADMIN)
    resp = client.post("/login", data={"username": f"  {user.username} ", "password": PASSWORD})
    assert resp.status_code == 302


def test_login_returns_to_a_local_next_page_only(client, make_user):
    user = make_user(Role.ADMIN)
    data = {"username": user.username, "password": PASSWORD}
    resp = client.post("/login?next=/account/tokens", data=data)
    assert resp.headers["Location"] == "/account/tokens"
    for evil in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "javascript:alert(1)",
    ):
        client.post("/logout")
        resp = client.post("/login", query_string={"next": evil}, data=data)
        assert resp.status_code == 302
        assert resp.headers["Location"] == "/", evil


def test_wrong_password_says_so_and_keeps_the_visitor_out(client, make_user):
    user = make_user(Role.ADMIN)
    resp = client.post("/login?lang=en", data={"username": user.username, "password": "nope"})
    assert resp.status_code == 422
    assert "Wrong username or password." in resp.get_data(as_text=True)
    resp = client.post("/login?lang=en", data={"username": "nobody", "password": PASSWORD})
    assert resp.status_code == 422
    assert "Wrong username or password." in resp.get_data(as_text=True)  # same message: no probing
    assert client.get("/account/tokens").status_code == 302


def test_login_form_requires_both_fields(client):
    resp = client.post("/login?lang=en", data={"username": "", "password": ""})
    assert resp.status_code == 422
    assert "This field is required." in resp.get_data(as_text=True)


def test_deactivated_account_cannot_log_in_and_loses_its_session(client, db, make_user, login_as):
    user = make_user(Role.ADMIN)
    login_as(user)
    assert client.get("/account/tokens").status_code == 200
    user.is_active_account = False
    db.session.commit()
    assert client.get("/account/tokens").status_code == 302  # the open session no longer counts
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 422


def test_passwords_are_stored_hashed(db, make_user):
    user = make_user(Role.ADMIN)
    stored = db.session.execute(
        text("SELECT password_hash FROM users WHERE id = :id"), {"id": user.id}
    ).scalar_one()
    assert PASSWORD not in stored
    assert stored.split(":", 1)[0] in {"scrypt", "pbkdf2"}  # werkzeug's salted KDFs
    assert user.check_password(PASSWORD) and not user.check_password(PASSWORD + "x")
    other = make_user(Role.ADMIN)
    assert other.password_hash != user.password_hash  # salted


# -- pages: roles --------------------------------------------------------------------------------


def test_roles_required_redirects_anonymous_visitors_to_login(client, probes):
    resp = client.get("/_probe/admin-only")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", [Role.ENTERPRISE, Role.EVALUATOR, Role.REGULATOR])
def test_roles_required_forbids_other_roles(client, probes, login_as, role):
    login_as(role)
    resp = client.get("/_probe/admin-only")
    assert resp.status_code == 403
    assert resp.mimetype == "text/html"


def test_roles_required_admits_the_role(client, probes, login_as):
    login_as(Role.ADMIN)
    resp = client.get("/_probe/admin-only")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "admin page"


# -- API tokens ----------------------------------------------------------------------------------


def _api_login(client, user, **extra):
    return client.post(
        "/api/v1/auth/tokens", json={"username": user.username, "password": PASSWORD, **extra}
    )


def test_api_token_is_issued_for_the_right_password(client, db, make_user):
    user = make_user(Role.EVALUATOR)
    resp = _api_login(client, user, name="ci")
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["role"] == "evaluator" and body["username"] == user.username
    token = body["token"]
    row = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert row.name == "ci"
    assert row.token_sha256 == ApiToken.digest(token) != token  # only the digest is kept
    days = (row.expires_at - utcnow()).days
    assert days in (89, 90)  # API_TOKEN_DAYS

    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.get_json()["username"] == user.username


def test_api_token_refused_for_a_wrong_password(client, make_user):
    user = make_user(Role.ADMIN)
    resp = client.post("/api/v1/auth/tokens", json={"username": user.username, "password": "nope"})
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Wrong username or password."
    resp = client.post("/api/v1/auth/tokens", json={"username": user.username})
    assert resp.status_code == 422
    assert "password" in resp.get_json()["errors"]["json"]


def test_session_cookie_alone_does_not_authenticate_the_api(client, login_as):
    login_as(Role.ADMIN)
    assert client.get("/account/tokens").status_code == 200  # the session is valid for pages
    resp = client.get("/api/v1/auth/me")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].lower().startswith("bearer")


@pytest.mark.parametrize(
    "header", ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "token-without-scheme"]
)
def test_malformed_or_unknown_tokens_are_refused(client, header):
    resp = client.get("/api/v1/auth/me", headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.is_json


def test_expired_token_is_refused(client, db, make_user):
    user = make_user(Role.ADMIN)
    token = issue_token(user, "old", days=1)
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    row = db.session.scalars(select(ApiToken)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_revoked_token_is_refused(client, db, make_user, token_for):
    headers = token_for(make_user(Role.ADMIN))
    row = db.session.scalars(select(ApiToken)).one()
    row.revoked_at = utcnow()
    db.session.commit()
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_token_of_a_deactivated_account_is_refused(client, db, make_user, token_for):
    user = make_user(Role.ADMIN)
    headers = token_for(user)
    user.is_active_account = False
    db.session.commit()
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_api_client_can_revoke_its_own_token(client, db, make_user, token_for):
    headers = token_for(make_user(Role.ADMIN))
    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert db.session.scalars(select(ApiToken)).one().revoked_at is not None


def test_api_roles(client, probes, make_user, token_for):
    assert client.get("/api/v1/_probe/admin-only").status_code == 401
    resp = client.get("/api/v1/_probe/admin-only", headers=token_for(make_user(Role.REGULATOR)))
    assert resp.status_code == 403
    assert resp.get_json()["message"] == "This needs the role(s): admin; your role is regulator."
    resp = client.get("/api/v1/_probe/admin-only", headers=token_for(make_user(Role.ADMIN)))
    assert resp.status_code == 200


def test_token_days_must_be_positive(app, make_user):
    with pytest.raises(ValueError, match="at least one day"):
        issue_token(make_user(Role.ADMIN), "x", days=0)


# -- the token page ------------------------------------------------------------------------------


def test_token_page_creates_a_token_shown_once(client, db, login_as):
    user = login_as(Role.EVALUATOR)
    resp = client.post("/account/tokens?lang=en", data={"name": "laptop"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Copy the token now: it is shown only once." in html
    token = html.split('<code id="new-token">', 1)[1].split("</code>", 1)[0]
    row = db.session.scalars(select(ApiToken)).one()
    assert (row.user_id, row.name, row.token_sha256) == (user.id, "laptop", ApiToken.digest(token))
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )

    again = client.get("/account/tokens").get_data(as_text=True)
    assert "laptop" in again and token not in again  # listed, never shown again


def test_token_page_requires_a_name(client, db, login_as):
    login_as(Role.EVALUATOR)
    resp = client.post("/account/tokens?lang=en", data={"name": ""})
    assert resp.status_code == 422
    assert "This field is required." in resp.get_data(as_text=True)
    assert db.session.scalars(select(ApiToken)).all() == []


def test_token_page_revokes_own_tokens_only(client, db, make_user, login_as, token_for):
    owner = login_as(Role.ADMIN)
    headers = token_for(owner)
    other_headers = token_for(make_user(Role.ADMIN))
    mine, theirs = db.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()

    assert client.post(f"/account/tokens/{theirs.id}/revoke").status_code == 404
    assert client.post("/account/tokens/999999/revoke").status_code == 404
    resp = client.post(f"/account/tokens/{mine.id}/revoke")
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/tokens"

    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert client.get("/api/v1/auth/me", headers=other_headers).status_code == 200
    assert "No tokens." in client.get("/account/tokens?lang=en").get_data(as_text=True)


def test_token_page_needs_login(client):
    resp = client.get("/account/tokens")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


# -- regions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regulator", "enterprise", "covered"),
    [
        ("500000", "500112", True),  # Chongqing covers its districts
        ("500000", "500000", True),
        ("500100", "500112", True),  # a city covers its districts
        ("500112", "500112", True),  # a district covers itself
        ("500112", "500113", False),
        ("500100", "500200", False),
        ("500000", "510104", False),  # another province
        ("110000", "500112", False),
        (None, "500112", False),
        ("500000", None, False),
        ("500000", "", False),
        ("50", "500112", False),  # not a 6-digit code
        ("500000", "50011X", False),
    ],
)
def test_region_covers(regulator, enterprise, covered):
    assert region_covers(regulator, enterprise) is covered


def test_region_prefix():
    assert region_prefix("500000") == "50"
    assert region_prefix("500100") == "5001"
    assert region_prefix("500112") == "500112"
    with pytest.raises(ValueError, match="6 digits"):
        region_prefix("5000")


def test_user_loader_ignores_garbage(app):
    from core.auth import _load_user

    assert _load_user("not-a-number") is None
    assert _load_user("424242") is None


def test_user_roles(make_user):
    user = make_user(Role.REGULATOR)
    assert user.has_role(Role.REGULATOR, Role.ADMIN) and not user.has_role(Role.ADMIN)
    assert isinstance(user, User) and user.region_code == "500000"
