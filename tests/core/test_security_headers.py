"""Security headers on every response (core.security, Flask-Talisman): a page, an API answer,
a 404 and a static file carry the Content-Security-Policy without inline script, frame
refusal, ``nosniff`` and the referrer policy; a stored standard text keeps its own sandboxing
policy; HSTS, the HTTPS redirect and Secure cookies come only with ``FORCE_HTTPS``."""

from __future__ import annotations

import pytest

from core.extensions import db as _db
from declare import operations
from declare.uploads import TEXT_CSP
from tests.conftest import PASSWORD
from tests.declare import enterprise_data, pdf_bytes, upload
from tests.factories import make_enterprise_user


def _directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    out = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def _assert_site_headers(response) -> None:
    csp = _directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no nonce
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP, FORCE_HTTPS off


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/", 200),  # a page
        ("/api/v1/openapi.json", 200),  # the API
        ("/api/v1/ranking/leaderboards", 200),
        ("/no-such-page", 404),
        ("/api/v1/no-such-thing", 404),
        ("/static/css/app.css", 200),  # a static file
        ("/static/js/swagger-init.js", 200),
    ],
)
def test_every_kind_of_response_carries_the_headers(client, url, status):
    response = client.get(url)
    assert response.status_code == status, url
    _assert_site_headers(response)
    response.close()


def test_a_logged_in_page_and_a_form_error_carry_them_too(client, login_as):
    _assert_site_headers(client.post("/login", data={"username": "nobody", "password": "x"}))
    login_as("enterprise")
    _assert_site_headers(client.get("/my/declarations"))


def test_the_default_cookies_work_on_plain_http(app, client, make_user):
    assert app.config["FORCE_HTTPS"] is False
    user = make_user("regulator")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_a_stored_text_keeps_its_own_sandboxing_policy(app, client, catalogue):
    with app.test_request_context():
        owner = make_enterprise_user()
        version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
        operations.attach_text(version, upload(pdf_bytes(pages=1)))
        operations.publish(version)
        _db.session.commit()
        url = f"/declarations/{version.declaration_id}/versions/1/text"
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == TEXT_CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    response.close()


def test_a_cached_public_page_and_its_304_carry_them(app, client, catalogue):
    """Declaration pages come from the page cache (core.page_cache) after the first request."""
    with app.test_request_context():
        owner = make_enterprise_user()
        version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
        operations.attach_text(version, upload(pdf_bytes(pages=1)))
        operations.publish(version)
        _db.session.commit()
        url = f"/declarations/{version.declaration_id}"
    first, again = client.get(url), client.get(url)
    assert first.status_code == again.status_code == 200
    assert first.headers["ETag"] == again.headers["ETag"]
    not_modified = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304
    for response in (first, again, not_modified):
        _assert_site_headers(response)


class TestOverHttps:
    @pytest.fixture
    def app_config(self) -> dict:
        return {"FORCE_HTTPS": True}

    def test_plain_http_is_redirected_to_https(self, client):
        response = client.get("/declarations?q=GB")
        assert response.status_code == 302
        assert response.headers["Location"] == "https://localhost/declarations?q=GB"

    def test_hsts_and_secure_cookies_over_https(self, app, client, make_user):
        assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
        page = client.get("/", base_url="https://localhost")
        assert page.status_code == 200
        assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        _assert_csp_and_frames(page)
        user = make_user("regulator")
        login = client.post(
            "/login",
            data={"username": user.username, "password": PASSWORD},
            base_url="https://localhost",
        )
        assert login.status_code == 302
        assert "Secure" in login.headers["Set-Cookie"]

    def test_behind_a_tls_proxy(self, client):
        """The proxy terminates TLS and says so: no redirect loop, HSTS sent."""
        page = client.get("/", headers={"X-Forwarded-Proto": "https"})
        assert page.status_code == 200
        assert "Strict-Transport-Security" in page.headers


def _assert_csp_and_frames(response) -> None:
    csp = _directives(response)
    assert csp["script-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
