"""The API reference page works offline: vendored, pinned swagger-ui, no external host."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import flask_smorest

from core import ROOT

VENDOR = ROOT / "static" / "vendor" / "swagger-ui"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css")


def _pinned() -> tuple[str, dict[str, str]]:
    lines = (VENDOR / "VERSION").read_text().splitlines()
    sums = {}
    for line in lines[1:]:
        if line and not line.startswith("#"):
            digest, name = line.split()
            sums[name] = digest
    return lines[0].strip(), sums


def test_vendored_swagger_ui_is_pinned_and_intact():
    version, sums = _pinned()
    assert re.fullmatch(r"5\.\d+\.\d+", version)
    assert set(sums) == set(ASSETS)
    for name in ASSETS:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sums[name], name
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    assert version in (VENDOR / "swagger-ui-bundle.js").read_text()


def test_flask_smorest_template_asks_for_exactly_the_vendored_files():
    template = Path(flask_smorest.__file__).parent / "spec" / "templates" / "swagger_ui.html"
    wanted = set(re.findall(r"\{\{\s*swagger_ui_url\s*\}\}([\w.-]+)", template.read_text()))
    assert wanted == set(ASSETS)
    assert all((VENDOR / name).is_file() for name in wanted)


def test_docs_page_loads_only_local_assets(app, client):
    assert app.config["OPENAPI_SWAGGER_UI_URL"] == "/static/vendor/swagger-ui/"
    resp = client.get("/api/v1/docs")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "://" not in html  # no CDN, no other host: the page works offline
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    # swagger-ui's start-up script is a file of ours (the CSP runs no inline script)
    assert sorted(refs) == sorted(
        [f"/static/vendor/swagger-ui/{n}" for n in ASSETS] + ["/static/js/swagger-init.js"]
    )
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    assert "<script>" not in html
    for ref in refs:
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.content_length and (asset.content_length > 10_000 or "/js/" in ref)
        asset.close()


def test_openapi_spec_documents_bearer_tokens(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert "/api/v1/auth/tokens" in spec["paths"]
    assert spec["paths"]["/api/v1/auth/tokens"]["post"]["security"] == []  # login needs no token
    assert "/api/v1/auth/me" in spec["paths"]


def test_every_page_links_to_the_api_reference(client):
    assert 'href="/api/v1/docs"' in client.get("/").get_data(as_text=True)
