"""With CSRF on (as in production), a POST without the token is refused and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.models import AuditLog, Role
from declare.models import Declaration, Enterprise
from tests.conftest import CSRF_RE, PASSWORD
from tests.declare.test_views import own_standard_form
from tests.factories import valid_uscc


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def token_from(client, url: str) -> str:
    match = CSRF_RE.search(client.get(url).get_data(as_text=True))
    assert match, f"no csrf_token field on {url}"
    return match.group(1)


def meta_token(client, url: str) -> str:
    body = client.get(url).get_data(as_text=True)
    marker = '<meta name="csrf-token" content="'
    start = body.index(marker) + len(marker)
    return body[start : body.index('"', start)]


def log_in(client, user) -> None:
    token = token_from(client, "/login")
    resp = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302


def audit_rows(db) -> int:
    return db.session.scalar(select(func.count(AuditLog.id)))


def registration(**extra) -> dict:
    return {
        "uscc": valid_uscc("500112"),
        "name": "重庆山城空调有限公司",
        "username": "shancheng",
        "password": "long enough 1",
        "password2": "long enough 1",
        **extra,
    }


def test_registration_without_token_is_refused(client, db):
    resp = client.post("/register", data=registration())
    assert resp.status_code == 400
    assert db.session.scalar(select(func.count(Enterprise.id))) == 0
    assert audit_rows(db) == 0


def test_registration_with_token_works(client, db):
    token = token_from(client, "/register")
    resp = client.post("/register", data=registration(csrf_token=token))
    assert resp.status_code == 302
    assert db.session.scalar(select(func.count(Enterprise.id))) == 1


def test_declaration_post_without_token_is_refused(client, db, make_user, catalogue):
    log_in(client, make_user(Role.ENTERPRISE))
    before = audit_rows(db)
    resp = client.post(
        "/my/declarations/new/enterprise",
        data=own_standard_form(catalogue, value="4.8"),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400
    assert db.session.scalar(select(func.count(Declaration.id))) == 0
    assert audit_rows(db) == before
    # The same form with the page's token is accepted.
    token = token_from(client, "/my/declarations/new/enterprise")
    ok = client.post(
        "/my/declarations/new/enterprise",
        data=own_standard_form(catalogue, value="4.8", csrf_token=token),
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302
    declaration = db.session.scalars(select(Declaration)).one()
    # Lifecycle buttons are forms too: no token, no abolish/revise/discard.
    for action in ("discard", "publish", "revise"):
        resp = client.post(
            f"/my/declarations/{declaration.id}/{action}", data={"lock_version": "1"}
        )
        assert resp.status_code == 400, action
    assert db.session.get(Declaration, declaration.id) is not None


def test_live_compare_needs_the_header_token(client, make_user, catalogue):
    log_in(client, make_user(Role.ENTERPRISE))
    rows = {"indicators": [{"name": "APF", "benchmark_indicator_id": catalogue["apf"].id,
                            "op": "ge", "value": "4.8", "unit": "W/W"}]}
    refused = client.post(
        "/declarations/compare", json=rows, headers={"Accept": "application/json"}
    )
    assert refused.status_code == 400
    token = meta_token(client, "/my/declarations/new/enterprise")
    ok = client.post("/declarations/compare", json=rows, headers={"X-CSRFToken": token})
    assert ok.status_code == 200 and ok.get_json()["rows"][0]["status"] == "exceeds"
