"""Who may touch what through the API: A vs B (404), other roles (403), no token (401)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Role
from declare.models import DeclarationVersion, VersionStatus
from tests.declare.test_api import API, ac_draft, create, publish_new, upload_pdf


@pytest.fixture
def a(make_user):
    return make_user(Role.ENTERPRISE, name="重庆渝北甲电器有限公司")


@pytest.fixture
def b(make_user):
    return make_user(Role.ENTERPRISE, region="310115", name="上海浦东乙电器有限公司")


@pytest.fixture
def a_auth(a, token_for):
    return token_for(a)


@pytest.fixture
def b_auth(b, token_for):
    return token_for(b)


@pytest.fixture
def a_draft(client, catalogue, a_auth):
    """A's never-published draft."""
    return create(client, a_auth, ac_draft(catalogue))


@pytest.fixture
def a_published(client, catalogue, a_auth):
    """A's published declaration with an open revision draft."""
    v = publish_new(client, a_auth, catalogue)
    assert (
        client.post(f"{API}/declarations/{v['declaration_id']}/revise", headers=a_auth).status_code
        == 201
    )
    return v


def test_other_enterprise_cannot_read_a_draft(client, a_draft, b_auth):
    url = f"{API}/declarations/{a_draft['declaration_id']}"
    assert client.get(url, headers=b_auth).status_code == 404
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/draft", headers=b_auth).status_code == 404
    assert client.get(f"{url}/versions", headers=b_auth).status_code == 404
    assert client.get(f"{url}/versions/1", headers=b_auth).status_code == 404
    assert client.get(f"{url}/comparison", headers=b_auth).status_code == 404
    mine = client.get(f"{API}/declarations?mine=1", headers=b_auth).get_json()
    assert mine == []


def test_other_enterprise_sees_only_the_published_part(client, a_published, a_auth, b_auth):
    url = f"{API}/declarations/{a_published['declaration_id']}"
    seen_by_b = client.get(url, headers=b_auth).get_json()
    assert seen_by_b["version"]["version_no"] == 1
    assert "draft" not in seen_by_b
    assert [v["version_no"] for v in client.get(f"{url}/versions", headers=b_auth).get_json()] == [
        1
    ]
    assert client.get(f"{url}/versions/2", headers=b_auth).status_code == 404
    assert (
        client.get(f"{url}/comparison", headers=b_auth).get_json()["version_status"] == "published"
    )

    seen_by_a = client.get(url, headers=a_auth).get_json()
    assert seen_by_a["draft"]["version_no"] == 2
    assert [v["version_no"] for v in client.get(f"{url}/versions", headers=a_auth).get_json()] == [
        1,
        2,
    ]
    assert client.get(f"{url}/comparison", headers=a_auth).get_json()["version_status"] == "draft"


def test_other_enterprise_cannot_change_anything(client, db, catalogue, a_published, b_auth):
    decl_id = a_published["declaration_id"]
    url = f"{API}/declarations/{decl_id}"
    payload = ac_draft(catalogue, apf=5.5)
    payload["lock_version"] = 1
    attempts = [
        client.get(f"{url}/draft", headers=b_auth),
        client.put(f"{url}/draft", json=payload, headers=b_auth),
        upload_pdf(client, b_auth, decl_id),
        client.post(f"{url}/publish", headers=b_auth),
        client.post(f"{url}/revise", headers=b_auth),
        client.post(f"{url}/abolish", json={"reason": "恶意废止"}, headers=b_auth),
        client.delete(f"{url}/draft", headers=b_auth),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    versions = db.session.scalars(
        select(DeclarationVersion)
        .where(DeclarationVersion.declaration_id == decl_id)
        .order_by(DeclarationVersion.version_no)
    ).all()
    assert [v.status for v in versions] == [VersionStatus.PUBLISHED, VersionStatus.DRAFT]
    assert versions[1].indicators[0].value == 4.6
    assert versions[1].text_attachment_id == versions[0].text_attachment_id


@pytest.mark.parametrize("role", [Role.REGULATOR, Role.EVALUATOR, Role.ADMIN])
def test_other_roles_get_403_on_enterprise_endpoints(
    client, catalogue, a_published, make_user, token_for, role
):
    headers = token_for(make_user(role))
    url = f"{API}/declarations/{a_published['declaration_id']}"
    responses = [
        client.get(f"{API}/enterprises/me", headers=headers),
        client.post(f"{API}/declarations", json=ac_draft(catalogue), headers=headers),
        client.get(f"{API}/declarations?mine=1", headers=headers),
        client.get(f"{url}/draft", headers=headers),
        client.post(f"{url}/publish", headers=headers),
        client.post(f"{url}/abolish", json={"reason": "x"}, headers=headers),
    ]
    assert [r.status_code for r in responses] == [403] * len(responses)
    assert all(r.get_json()["code"] == 403 for r in responses)
    # They may still read what the public reads.
    assert client.get(url, headers=headers).status_code == 200
    assert "draft" not in client.get(url, headers=headers).get_json()


def test_no_token_is_401(client, catalogue, a_published):
    url = f"{API}/declarations/{a_published['declaration_id']}"
    responses = [
        client.get(f"{API}/enterprises/me"),
        client.post(f"{API}/declarations", json=ac_draft(catalogue)),
        client.get(f"{API}/declarations?mine=1"),
        client.get(f"{url}/draft"),
        client.put(f"{url}/draft", json={}),
        client.post(f"{url}/publish"),
        client.post(f"{url}/revise"),
        client.post(f"{url}/abolish", json={"reason": "x"}),
        client.delete(f"{url}/draft"),
    ]
    assert [r.status_code for r in responses] == [401] * len(responses)
    assert all(r.get_json()["code"] == 401 for r in responses)


def test_bad_or_revoked_token_is_401(client, db, a, token_for):
    assert (
        client.get(f"{API}/enterprises/me", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    headers = token_for(a)
    assert client.get(f"{API}/enterprises/me", headers=headers).status_code == 200
    from core.models import ApiToken, utcnow

    for tok in db.session.scalars(select(ApiToken).where(ApiToken.user_id == a.id)):
        tok.revoked_at = utcnow()
    db.session.commit()
    assert client.get(f"{API}/enterprises/me", headers=headers).status_code == 401


def test_session_cookie_does_not_authenticate_the_api(client, login_as):
    login_as(Role.ENTERPRISE)
    assert client.get(f"{API}/enterprises/me").status_code == 401
