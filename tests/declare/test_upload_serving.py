"""Every route that serves a stored standard text answers with the verified content type,
``nosniff``, a Content-Security-Policy that runs nothing, and a safe Content-Disposition (RFC
5987 for Chinese names) — never ``text/html``, whatever the stored row says."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from core.extensions import db
from declare import operations, uploads
from tests.declare import enterprise_data, pdf_bytes, upload
from tests.factories import make_enterprise_user

#: endpoint → URL; the first test checks that no other route serves texts, so a new one has
#: to be added here.
ROUTES = {
    "declare.version_text": "/declarations/{d}/versions/{n}/text",
    "api_declare.version_text": "/api/v1/declarations/{d}/versions/{n}/text",
}
CHINESE_NAME = '企业标准 "2024".pdf'


@pytest.fixture
def published(app, db, catalogue):
    with app.test_request_context("/?lang=en"):
        owner = make_enterprise_user()
        version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
        operations.attach_text(version, upload(pdf_bytes(pages=2), filename=CHINESE_NAME))
        operations.publish(version)
        db.session.commit()
        return version


def get(client, endpoint: str, version, **kw):
    """The response, read and closed (the file it streams is not left open)."""
    url = ROUTES[endpoint].format(d=version.declaration_id, n=version.version_no)
    with client.get(url, **kw) as response:
        response.get_data()
    return response


def test_the_routes_listed_are_every_route_serving_a_text(app):
    serving = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.endswith("/text") and "GET" in rule.methods
    }
    assert serving == set(ROUTES)


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_a_text_is_served_as_a_pdf_that_runs_nothing(client, published, endpoint):
    response = get(client, endpoint, published)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = [d.strip() for d in response.headers["Content-Security-Policy"].split(";")]
    assert "default-src 'none'" in csp and "sandbox" in csp
    assert not any("script" in d for d in csp)  # nothing re-allows scripts
    assert response.headers["Content-Disposition"] == (
        "inline; filename=\"standard.pdf\"; filename*=UTF-8''" + quote(CHINESE_NAME, safe="")
    )
    assert response.get_data().startswith(b"%PDF-")


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_a_row_claiming_html_is_still_never_served_as_html(client, published, endpoint):
    published.text_attachment.content_type = "text/html"
    db.session.commit()
    response = get(client, endpoint, published)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment; ")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_a_conditional_request_keeps_the_policy(client, published, endpoint):
    first = get(client, endpoint, published)
    again = get(client, endpoint, published, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in again.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "stored, header",
    [
        ("standard.pdf", 'inline; filename="standard.pdf"'),
        ('std "v1".pdf', 'inline; filename="std \\"v1\\".pdf"'),
        ("a\\b.pdf", 'inline; filename="b.pdf"'),  # a path never reaches the header
        ("line\r\nX-Evil: 1.pdf", 'inline; filename="lineX-Evil: 1.pdf"'),
        ("企业标准.pdf", "inline; filename=\"standard.pdf\"; filename*=UTF-8''"
                         "%E4%BC%81%E4%B8%9A%E6%A0%87%E5%87%86.pdf"),
    ],
)
def test_the_file_name_is_safe_in_the_header(stored, header):
    assert uploads.content_disposition(stored) == header
