"""With CSRF on (as in production) page forms need the token; the bearer-only API does not."""

from __future__ import annotations

import pytest

from core.models import Role
from tests.conftest import CSRF_RE, PASSWORD


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def test_login_form_without_csrf_token_is_refused(client, make_user):
    user = make_user(Role.ADMIN)
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 400  # CSRFProtect refuses before the view runs
    assert client.get("/account/tokens").status_code == 302  # not logged in


def test_login_form_with_csrf_token_works(client, make_user):
    user = make_user(Role.ADMIN)
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    resp = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302


def test_logout_needs_the_csrf_token(client, make_user):
    user = make_user(Role.ADMIN)
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert client.post("/logout").status_code == 400  # a cross-site form cannot log you out
    assert client.get("/account/tokens").status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def test_api_needs_no_csrf_token(client, make_user):
    user = make_user(Role.ADMIN)
    resp = client.post(
        "/api/v1/auth/tokens", json={"username": user.username, "password": PASSWORD}
    )
    assert resp.status_code == 201
