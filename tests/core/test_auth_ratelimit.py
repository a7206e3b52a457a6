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


def test_the_page_and_the_api_share_one_bucket_per_address(client, make_user):
    user = make_user(Role.ADMIN)
    other = make_user(Role.ADMIN)
    assert client.post("/login", data={"username": user.username, "password": "x"}).status_code == 422
    body = {"username": other.username, "password": "x"}
    assert client.post("/api/v1/auth/tokens", json=body).status_code == 401
    assert client.post("/login", data={"username": "nobody", "password": "x"}).status_code == 422
    # The fourth attempt from this address, whichever door and whichever account.
    resp = client.post("/api/v1/auth/tokens", json={**body, "password": PASSWORD})
    assert resp.status_code == 429


def test_one_account_gets_the_limit_from_any_number_of_addresses(client, make_user):
    user = make_user(Role.ADMIN)
    for n in range(3):
        resp = client.post("/login", data={"username": user.username, "password": "x"},
                           environ_base={"REMOTE_ADDR": f"127.0.0.{n + 10}"})
        assert resp.status_code == 422
    resp = client.post("/api/v1/auth/tokens", json={"username": f" {user.username.upper()} ",
                                                    "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "127.0.0.99"})
    assert resp.status_code == 429  # the account's bucket, though this address is fresh
    other = make_user(Role.ADMIN)
    resp = client.post("/login", data={"username": other.username, "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "127.0.0.98"})
    assert resp.status_code == 302  # another account from another address is not held back
