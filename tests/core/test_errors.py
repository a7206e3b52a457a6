"""Errors: JSON on the API, HTML pages in the visitor's language, 413 for big bodies."""

from __future__ import annotations

import pytest

from core.models import Role

# -- the API answers in JSON ---------------------------------------------------------------------


@pytest.fixture
def app_config():
    """These tests are about the Chinese default."""
    return {"BABEL_DEFAULT_LOCALE": "zh"}



@pytest.mark.parametrize(
    "url", ["/api/v1/no-such-thing", "/api/v1/auth/no-such-thing", "/api/v2/x"]
)
def test_api_404_is_json(client, url):
    resp = client.get(url)
    assert resp.status_code == 404
    assert resp.is_json
    assert resp.get_json()["code"] == 404 and resp.get_json()["status"] == "Not Found"


def test_api_401_is_json(client):
    resp = client.get("/api/v1/auth/me")
    assert resp.status_code == 401 and resp.is_json
    assert "Authorization: Bearer" in resp.get_json()["message"]


def test_api_403_is_json(client, probes, make_user, token_for):
    resp = client.get("/api/v1/_probe/admin-only", headers=token_for(make_user(Role.EVALUATOR)))
    assert resp.status_code == 403 and resp.is_json
    assert resp.get_json()["code"] == 403


def test_api_405_is_json_and_names_the_allowed_methods(client):
    resp = client.get("/api/v1/auth/tokens")
    assert resp.status_code == 405 and resp.is_json
    assert "POST" in resp.headers["Allow"]


def test_api_business_errors_are_json(client, probes):
    resp = client.get("/api/v1/_probe/validation")
    assert resp.status_code == 422
    assert resp.get_json()["errors"] == {"json": {"products.0.barcode": ["not an EAN-13 barcode"]}}
    resp = client.get("/api/v1/_probe/conflict")
    assert resp.status_code == 409
    assert resp.get_json() == {
        "code": 409,
        "status": "Conflict",
        "message": "edited meanwhile",
        "current_lock_version": 4,
    }


def test_api_500_is_json_without_internals(app, client, probes):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = client.get("/api/v1/_probe/boom")
    assert resp.status_code == 500 and resp.is_json
    assert "unexpected" not in resp.get_data(as_text=True)


def test_api_413_for_a_too_large_body(app, client, probes):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    assert client.post("/api/v1/_probe/echo", data=b"x" * 1000).get_json() == {"size": 1000}
    resp = client.post("/api/v1/_probe/echo", data=b"x" * 2048)
    assert resp.status_code == 413 and resp.is_json


def test_upload_limit_is_configured_with_room_for_the_form(tmp_path):
    from core.config import load

    cfg = load(tmp_path, {})
    assert cfg["MAX_CONTENT_LENGTH"] == cfg["MAX_UPLOAD_BYTES"] + 1024 * 1024


# -- pages answer in HTML, in the current language -----------------------------------------------


def test_page_404_is_html_in_chinese_by_default(client):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "<h1>404</h1>" in html


def test_page_404_in_english_on_request(client):
    resp = client.get("/no-such-page?lang=en")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404 and '<html lang="en">' in html
    assert "Not found." in html


def test_page_403_is_html(client, probes, login_as):
    login_as(Role.ENTERPRISE)
    client.get("/lang/en")
    resp = client.get("/_probe/admin-only")
    assert resp.status_code == 403 and resp.mimetype == "text/html"
    assert "You do not have permission to do this." in resp.get_data(as_text=True)


def test_page_413_for_a_too_large_form(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = client.post("/login?lang=en", data={"username": "x" * 4096, "password": "y"})
    assert resp.status_code == 413 and resp.mimetype == "text/html"
    assert "The upload is too large." in resp.get_data(as_text=True)


def test_page_405_is_html(client):
    resp = client.delete("/login")
    assert resp.status_code == 405 and resp.mimetype == "text/html"
    assert "GET" in resp.headers["Allow"]


def test_page_business_errors_render_the_messages(client, probes):
    resp = client.get("/_probe/validation?lang=en")
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "products.0.barcode" in html and "not an EAN-13 barcode" in html
    resp = client.get("/_probe/conflict")
    assert resp.status_code == 409 and "edited meanwhile" in resp.get_data(as_text=True)


def test_page_errors_go_json_for_clients_that_ask_for_json(client, probes):
    resp = client.get("/_probe/abort/404", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.is_json


def test_page_500_is_html(app, client, probes):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = client.get("/_probe/abort/500?lang=en")
    assert resp.status_code == 500 and resp.mimetype == "text/html"
    assert "Something went wrong on our side." in resp.get_data(as_text=True)


# -- language ------------------------------------------------------------------------------------


def test_default_language_is_chinese(client):
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)


def test_lang_link_switches_to_english_and_back(client):
    resp = client.get("/lang/en")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert 'lang="zh-CN">中文</a>' in html  # the way back
    client.get("/lang/zh")
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)


def test_lang_query_parameter_switches_one_page(client):
    assert '<html lang="en">' in client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)  # not remembered


def test_unknown_language_is_ignored(client):
    client.get("/lang/fr")
    assert '<html lang="zh-CN">' in client.get("/?lang=fr").get_data(as_text=True)


def test_lang_switch_returns_to_the_page_but_never_off_site(client):
    assert client.get("/lang/en?next=/login").headers["Location"] == "/login"
    for evil in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        assert client.get("/lang/en", query_string={"next": evil}).headers["Location"] == "/"
