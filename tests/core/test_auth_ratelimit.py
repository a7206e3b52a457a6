"""Login attempts are rate limited per client (LOGIN_RATE_LIMIT), on the page and the API."""

from __future__ import annotations

import pytest

from core.models import Role
from tests.conftest import PASSWORD


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}


def test_fourth_login_post_in_a_minute_gets_429(client, make_user):
    user = make_user(Role.ADMIN)
    for _ in range(3):
        resp = client.post("/login?lang=en", data={"username": user.username, "password": "nope"})
        assert resp.status_code == 422
    resp = client.post("/login?lang=en", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 429  # even with the right password: the limit comes first
    assert resp.mimetype == "text/html"
    assert "Too many attempts" in resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) > 0
    assert client.get("/login").status_code == 200  # only POSTs count


def test_fourth_token_request_in_a_minute_gets_429_json(client, make_user):
    user = make_user(Role.ADMIN)
    body = {"username": user.username, "password": "nope"}
    for _ in range(3):
        assert client.post("/api/v1/auth/tokens", json=body).status_code == 401
    resp = client.post("/api/v1/auth/tokens", json={**body, "password": PASSWORD})
    assert resp.status_code == 429
    assert resp.get_json()["code"] == 429
    assert "Retry-After" in resp.headers
