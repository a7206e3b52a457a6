"""The public declaration page's validator (declare.views.detail, core.page_cache): the same
versions give the same ETag and 304; a revision, an abolition, a reference flag or the
language give another; owners get their own, private page; drafts stay hidden."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from core.extensions import db as _db
from declare import operations
from declare.models import ReferenceFlag
from tests.ranking.test_views import en, make_category, publish_declaration  # noqa: F401
from tests.factories import make_enterprise_user


@pytest.fixture
def published(db, en):  # noqa: F811
    cat = make_category()
    user = make_enterprise_user(name="重庆缓存空调有限公司")
    version = publish_declaration(user, cat, (5.2, 36.0, 0.5, ""), 1)
    return {"cat": cat, "user": user, "version": version,
            "url": f"/declarations/{version.declaration_id}"}


def test_same_versions_same_etag_and_304(client, published):
    url = published["url"]
    first = client.get(url)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert client.get(url).headers["ETag"] == etag
    assert "public" in first.headers["Cache-Control"] and "max-age=0, must-revalidate" in first.headers[
        "Cache-Control"]
    repeat = client.get(url, headers={"If-None-Match": etag})
    assert repeat.status_code == 304 and repeat.get_data() == b""

    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", seen)
    try:
        assert client.get(url).status_code == 200  # from the store
    finally:
        event.remove(_db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1  # the validator


def test_a_revision_gives_a_new_etag(client, published):
    url, version = published["url"], published["version"]
    before = client.get(url)
    draft = operations.start_revision(version.declaration)
    _db.session.commit()
    # A draft is nobody else's business: the public page does not change.
    assert client.get(url, headers={"If-None-Match": before.headers["ETag"]}).status_code == 304
    draft.revision_note = "提高能效"
    operations.publish(draft)
    _db.session.commit()
    after = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert "提高能效" in after.get_data(as_text=True)


def test_abolition_gives_a_new_etag(client, published):
    url = published["url"]
    before = client.get(url)
    operations.abolish(published["version"].declaration, "产品停产")
    _db.session.commit()
    after = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and 'id="ended-banner"' in after.get_data(as_text=True)


def test_a_reference_flag_gives_a_new_etag(client, published):
    url = published["url"]
    before = client.get(url)
    _db.session.add(ReferenceFlag(version_id=published["version"].id,
                                  standard_id=published["cat"]["gb"].id, reason="withdrawn"))
    _db.session.commit()
    after = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]


def test_the_language_gives_another_etag(client, published):
    url = published["url"]
    english = client.get(url + "?lang=en")
    chinese = client.get(url + "?lang=zh")
    assert english.headers["ETag"] != chinese.headers["ETag"]
    assert english.get_data() != chinese.get_data()


def test_the_owner_gets_a_private_page_that_is_never_shared(client, published):
    url, user = published["url"], published["user"]
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user.id)
        sess["_fresh"] = True
    own = client.get(url)
    assert own.status_code == 200
    assert "private" in own.headers["Cache-Control"] and "ETag" not in own.headers
    assert "Manage (your declaration)" in own.get_data(as_text=True)
    client.post("/logout")
    public = client.get(url)
    assert "public" in public.headers["Cache-Control"]
    assert "Manage (your declaration)" not in public.get_data(as_text=True)


def test_drafts_stay_hidden_and_bad_days_are_not_kept(client, published):
    cat = published["cat"]
    draft = operations.create_draft(published["user"].enterprise, {
        "kind": "enterprise",
        "std_code": "Q/RK009 0001-2024",
        "std_name": "房间空气调节器",
        "products": [{"name": "分体式空调", "model": "KFR-26GW/009",
                      "category_id": cat["category"].id}],
    })
    _db.session.commit()
    assert client.get(f"/declarations/{draft.declaration_id}").status_code == 404
    assert client.get("/declarations/999999").status_code == 404
    bad = client.get(published["url"] + "?as_of=2024-13-01")
    assert bad.status_code == 400 and "ETag" not in bad.headers
    dated = client.get(published["url"] + "?as_of=2000-01-01")
    assert dated.status_code == 200 and 'id="as-of-none"' in dated.get_data(as_text=True)
