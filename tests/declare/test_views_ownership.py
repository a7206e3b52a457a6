"""Enterprises touch only their own declarations; other roles cannot use enterprise pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.models import AuditLog, Role
from declare.models import Declaration, DeclarationStatus, DeclarationVersion, VersionStatus
from tests.conftest import PASSWORD
from tests.declare.test_views import make_pdf, own_standard_form


@pytest.fixture
def two_enterprises(client, db, make_user, catalogue):
    """Enterprise A with a published declaration (plus a revision draft) and a first draft."""
    a, b = make_user(Role.ENTERPRISE), make_user(Role.ENTERPRISE)
    client.post("/login", data={"username": a.username, "password": PASSWORD})
    published = client.post(
        "/my/declarations/new/enterprise",
        data=own_standard_form(catalogue, value="4.8", pdf=make_pdf(), action="publish"),
        content_type="multipart/form-data",
    )
    assert published.status_code == 302
    draft_only = client.post(
        "/my/declarations/new/enterprise",
        data=own_standard_form(catalogue, value="4.8", pdf=make_pdf(), code="Q/CQKT 0002-2024"),
        content_type="multipart/form-data",
    )
    assert draft_only.status_code == 302
    rows = db.session.scalars(select(Declaration).order_by(Declaration.id)).all()
    pub, draft = rows
    assert client.post(f"/my/declarations/{pub.id}/revise").status_code == 302
    client.post("/logout")
    return {"a": a, "b": b, "published": pub.id, "draft": draft.id}


def snapshot(db) -> list:
    db.session.expire_all()
    versions = db.session.scalars(select(DeclarationVersion).order_by(DeclarationVersion.id)).all()
    return [
        (v.id, v.status, v.lock_version, v.std_code, [i.value for i in v.indicators])
        for v in versions
    ] + [db.session.scalar(select(func.count(AuditLog.id)))]


def test_another_enterprise_gets_404_everywhere(client, db, two_enterprises, catalogue):
    ids = two_enterprises
    before = snapshot(db)
    client.post("/login", data={"username": ids["b"].username, "password": PASSWORD})
    for declaration_id in (ids["published"], ids["draft"]):
        base = f"/my/declarations/{declaration_id}"
        assert client.get(base).status_code == 404
        assert client.get(f"{base}/draft").status_code == 404
        assert client.get(f"{base}/abolish").status_code == 404
        edit = client.post(
            f"{base}/draft",
            data=own_standard_form(catalogue, value="9.9", action="publish", lock=1),
            content_type="multipart/form-data",
        )
        assert edit.status_code == 404
        for action in ("publish", "discard", "revise"):
            assert client.post(f"{base}/{action}", data={"lock_version": "1"}).status_code == 404
        abolish = client.post(f"{base}/abolish", data={"reason": "hostile", "confirm": "y"})
        assert abolish.status_code == 404
    # The public side: the draft-only declaration does not exist for B, nor A's drafts.
    assert client.get(f"/declarations/{ids['draft']}").status_code == 404
    assert client.get(f"/declarations/{ids['draft']}/versions/1").status_code == 404
    assert client.get(f"/declarations/{ids['published']}/versions/2").status_code == 404
    assert client.get(f"/declarations/{ids['published']}/versions/2/text").status_code == 404
    history = client.get(f"/declarations/{ids['published']}/history")
    assert history.status_code == 200 and "/versions/2" not in history.get_data(as_text=True)
    assert client.get(f"/declarations/{ids['published']}").status_code == 200
    assert snapshot(db) == before
    assert db.session.get(Declaration, ids["published"]).status is DeclarationStatus.PUBLISHED


def test_my_list_shows_only_my_declarations(client, db, two_enterprises):
    ids = two_enterprises
    client.post("/login", data={"username": ids["b"].username, "password": PASSWORD})
    page = client.get("/my/declarations").get_data(as_text=True)
    body = page[page.index('id="my-declarations"') :]
    assert "Q/CQKT" not in body and "No declarations yet." in body
    client.post("/logout")
    client.post("/login", data={"username": ids["a"].username, "password": PASSWORD})
    body = client.get("/my/declarations").get_data(as_text=True)
    assert "Q/CQKT 0001-2024" in body and "Q/CQKT 0002-2024" in body
    assert 'class="badge published"' in body and 'class="badge draft"' in body
    assert body.count("Edit draft") == 2  # the revision draft and the first draft


def test_the_owner_sees_the_draft_preview_others_do_not(client, db, two_enterprises):
    ids = two_enterprises
    client.post("/login", data={"username": ids["a"].username, "password": PASSWORD})
    preview = client.get(f"/declarations/{ids['published']}/versions/2")
    assert preview.status_code == 200
    assert "nobody else can see it" in preview.get_data(as_text=True)
    client.post("/logout")
    assert client.get(f"/declarations/{ids['published']}/versions/2").status_code == 404


@pytest.mark.parametrize("role", [Role.REGULATOR, Role.EVALUATOR, Role.ADMIN])
def test_other_roles_get_403_on_enterprise_pages(client, db, login_as, two_enterprises, role):
    ids = two_enterprises
    login_as(role)
    before = snapshot(db)
    base = f"/my/declarations/{ids['published']}"
    for url in ("/my/declarations", "/my/declarations/new", "/my/declarations/new/enterprise",
                base, f"{base}/draft", f"{base}/abolish", "/my/standard-options"):
        assert client.get(url).status_code == 403, url
    for url in (f"{base}/publish", f"{base}/discard", f"{base}/revise", f"{base}/abolish"):
        assert client.post(url, data={"reason": "x", "confirm": "y"}).status_code == 403, url
    assert client.post("/declarations/compare", json={"indicators": []}).status_code == 403
    assert snapshot(db) == before


def test_anonymous_is_sent_to_login(client, two_enterprises):
    resp = client.get("/my/declarations")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    resp = client.post(f"/my/declarations/{two_enterprises['published']}/abolish", data={})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert client.post("/declarations/compare", json={"indicators": []}).status_code in (302, 401)


def test_version_statuses_after_setup(db, two_enterprises):
    statuses = db.session.scalars(
        select(DeclarationVersion.status).order_by(DeclarationVersion.id)
    ).all()
    assert statuses == [VersionStatus.PUBLISHED, VersionStatus.DRAFT, VersionStatus.DRAFT]
