"""A published standard text opens in Chromium's own PDF viewer although it is served with a
Content-Security-Policy that sandboxes it and allows no script (declare.uploads.TEXT_CSP)."""

from __future__ import annotations

import pytest

from core.extensions import db
from declare import operations
from tests.declare import enterprise_data, pdf_bytes, upload
from tests.factories import make_enterprise_user

pytestmark = pytest.mark.browser

#: The page count Chromium's viewer shows (its toolbar, inside shadow roots).
VIEWER_PAGES = """() => {
  const viewer = document.querySelector('pdf-viewer');
  return viewer ? viewer.docLength_ ?? null : null;
}"""


def test_the_sandboxed_text_shows_in_the_pdf_viewer(app, catalogue, live_server, page):
    with app.test_request_context("/?lang=en"):
        owner = make_enterprise_user()
        version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
        operations.attach_text(version, upload(pdf_bytes(pages=3), filename="企业标准.pdf"))
        operations.publish(version)
        db.session.commit()
        url = f"{live_server}/declarations/{version.declaration_id}/versions/1/text"

    response = page.goto(url)
    headers = response.all_headers()  # .headers leaves out the security headers
    assert response.status == 200
    assert "sandbox" in headers["content-security-policy"]
    assert headers["content-type"] == "application/pdf"
    viewer = None  # the viewer's frame attaches and loads the document after the navigation
    for _ in range(50):
        viewer = next((f for f in page.frames if f.url.startswith("chrome-extension://")), None)
        if viewer is not None and viewer.evaluate(VIEWER_PAGES):
            break
        page.wait_for_timeout(200)
    assert viewer is not None, [f.url for f in page.frames]
    assert viewer.evaluate(VIEWER_PAGES) == 3
