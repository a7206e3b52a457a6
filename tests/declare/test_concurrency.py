"""Concurrent changes of one declaration: one winner, the others 409 with a message, never a 500.

Each request runs in its own thread with its own app context, session and connection. A
``threading.Barrier`` holds every request right after it has read the declaration (in
``queries.owned_declaration``, which the pages and the API both use), so all of them decide
on the same state and then race to write it: the interleaving the drill of issue 13 produced
8 times out of 8 (two ``revise`` → a unique-constraint error, two ``publish`` → a stale-data
error). Run on SQLite by default and on PostgreSQL with ``TEST_DATABASE_URL``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from core.models import AuditLog
from declare import operations, queries
from declare.models import (
    Declaration,
    DeclarationStatus,
    DeclarationVersion,
    Indicator,
    Product,
)
from tests.conftest import PASSWORD
from tests.declare import en_request_fixture, publish_enterprise  # noqa: F401
from tests.declare.test_views import own_standard_form
from tests.factories import make_enterprise_user

API = "/api/v1"
CHANGED = "changed by someone else"


def race(app, monkeypatch, *requests: Callable[[], object]) -> list:
    """Run ``requests`` at once, each in its own thread, held together once each has read the
    declaration; the results in order (a response, or the exception a request raised)."""
    barrier = threading.Barrier(len(requests), timeout=30)
    read = queries.owned_declaration
    local = threading.local()

    def held(*args, **kwargs):
        found = read(*args, **kwargs)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()
        return found

    monkeypatch.setattr(queries, "owned_declaration", held)
    results: list = [None] * len(requests)

    def run(i: int, request: Callable[[], object]) -> None:
        try:
            results[i] = request()
        except BaseException as exc:  # noqa: BLE001  (reported by the test, not the thread)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return results


def one_winner(results: list, *, won: int) -> object:
    """Exactly one response with status ``won``, every other a 409 that says what happened."""
    for r in results:
        assert not isinstance(r, BaseException), repr(r)
    codes = sorted(r.status_code for r in results)
    assert codes == sorted([won] + [409] * (len(results) - 1)), [
        (r.status_code, r.get_data(as_text=True)[:300]) for r in results
    ]
    for r in results:
        if r.status_code == 409:
            body = r.get_data(as_text=True)
            assert CHANGED in body and "Reload" in body, body[:500]
    return next(r for r in results if r.status_code == won)


@pytest.fixture
def owner(db, en_request):
    return make_enterprise_user()


@pytest.fixture
def published(db, owner, catalogue):
    """A published enterprise-standard declaration (version 1), committed."""
    version = publish_enterprise(owner.enterprise, catalogue)
    return version.declaration_id


@pytest.fixture
def token(owner, token_for):
    return token_for(owner)


def api_client(app, headers):
    """Makers of requests with the owner's token, each request with its own test client."""

    def post(url, **kw):
        return lambda: app.test_client().post(url, headers=headers, **kw)

    def put(url, **kw):
        return lambda: app.test_client().put(url, headers=headers, **kw)

    return post, put


def page_client(app, user):
    """A browser of the owner, logged in (each thread its own cookie jar)."""
    client = app.test_client()
    resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 302
    return client


def fresh(db, declaration_id: int) -> Declaration:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(Declaration, declaration_id)


def start_revision(db, declaration_id: int) -> DeclarationVersion:
    draft = operations.start_revision(db.session.get(Declaration, declaration_id))
    db.session.commit()
    return draft


def version_nos(declaration: Declaration) -> list[tuple[int, str]]:
    return [(v.version_no, v.status.value) for v in declaration.versions]


# --------------------------------------------------------------------------- the JSON API


def test_two_revisions_at_once_one_draft_and_a_409(app, db, monkeypatch, published, token):
    post, _put = api_client(app, token)
    url = f"{API}/declarations/{published}/revise"
    won = one_winner(race(app, monkeypatch, post(url), post(url)), won=201)
    assert won.get_json()["version_no"] == 2
    declaration = fresh(db, published)
    assert version_nos(declaration) == [(1, "published"), (2, "draft")]
    assert declaration.current_version.version_no == 1


def test_two_publications_at_once_one_version_and_a_409(app, db, monkeypatch, published, token):
    start_revision(db, published)
    post, _put = api_client(app, token)
    url = f"{API}/declarations/{published}/publish"
    won = one_winner(race(app, monkeypatch, post(url), post(url)), won=200)
    assert won.get_json()["status"] == "published"
    declaration = fresh(db, published)
    assert version_nos(declaration) == [(1, "superseded"), (2, "published")]
    assert declaration.current_version.version_no == 2
    v1, v2 = declaration.versions
    assert v1.ended_at == v2.published_at
    # The history keeps both versions whole: products and indicators of each, once.
    for v in (v1, v2):
        assert len(v.products) == 1 and len(v.indicators) == 2


def test_two_abolitions_at_once_one_reason_and_a_409(app, db, monkeypatch, published, token):
    start_revision(db, published)  # an open revision goes with the abolition
    post, _put = api_client(app, token)
    url = f"{API}/declarations/{published}/abolish"
    results = race(
        app,
        monkeypatch,
        post(url, json={"reason": "产品停产"}),
        post(url, json={"reason": "标准合并"}),
    )
    won = one_winner(results, won=200)
    winner_reason = "产品停产" if won is results[0] else "标准合并"
    declaration = fresh(db, published)
    assert declaration.status is DeclarationStatus.ABOLISHED
    assert version_nos(declaration) == [(1, "abolished")]
    assert declaration.versions[0].end_reason == winner_reason


def test_two_draft_saves_at_once_one_content_and_a_409(
    app, db, monkeypatch, published, token, catalogue
):
    from tests.declare import enterprise_data

    draft = start_revision(db, published)
    lock = draft.lock_version
    _post, put = api_client(app, token)
    url = f"{API}/declarations/{published}/draft"

    def body(value: float) -> dict:
        data = enterprise_data(catalogue)
        data["indicators"][0]["value"] = value
        data["products"].append({**data["products"][0], "model": f"KFR-{value}"})
        return {**data, "lock_version": lock}

    results = race(app, monkeypatch, put(url, json=body(5.2)), put(url, json=body(5.3)))
    won = one_winner(results, won=200)
    value = 5.2 if won is results[0] else 5.3
    draft = fresh(db, published).draft
    assert draft.lock_version == lock + 1
    assert [i.value for i in draft.indicators][:1] == [value]
    assert [p.model for p in draft.products] == ["KFR-35GW/A1", f"KFR-{value}"]
    # Nothing of the loser's save is left behind: only the winner's rows exist for the draft.
    assert db.session.scalar(
        select(func.count(Product.id)).where(Product.version_id == draft.id)
    ) == 2
    assert db.session.scalar(
        select(func.count(Indicator.id)).where(Indicator.version_id == draft.id)
    ) == 2


def test_publish_and_save_of_the_same_draft_at_once(
    app, db, monkeypatch, published, token, catalogue
):
    from tests.declare import enterprise_data

    draft = start_revision(db, published)
    post, put = api_client(app, token)
    base = f"{API}/declarations/{published}"
    results = race(
        app,
        monkeypatch,
        post(f"{base}/publish"),
        put(
            f"{base}/draft",
            json={**enterprise_data(catalogue), "lock_version": draft.lock_version},
        ),
    )
    won = one_winner(results, won=200)
    declaration = fresh(db, published)
    if won is results[0]:  # published as it was; the save came too late
        assert version_nos(declaration) == [(1, "superseded"), (2, "published")]
    else:  # saved; the publication came too late and the draft stays a draft
        assert version_nos(declaration) == [(1, "published"), (2, "draft")]


def test_a_refused_loser_leaves_no_audit_trace(app, db, monkeypatch, published, token):
    post, _put = api_client(app, token)
    url = f"{API}/declarations/{published}/revise"
    before = db.session.scalar(select(func.count(AuditLog.id)))
    one_winner(race(app, monkeypatch, post(url), post(url)), won=201)
    db.session.rollback()
    inserted = db.session.scalar(
        select(func.count(AuditLog.id)).where(
            AuditLog.id > 0,
            AuditLog.entity == "declaration_versions",
            AuditLog.action == "insert",
        )
    )
    assert inserted == 2  # version 1 at setup, the winner's version 2; not the loser's
    assert db.session.scalar(select(func.count(AuditLog.id))) > before


def test_two_text_uploads_at_once_one_text_and_a_409(app, db, monkeypatch, published, token):
    import io

    from tests.declare import pdf_bytes

    draft = start_revision(db, published)
    before = draft.text_attachment_id
    post, _put = api_client(app, token)
    url = f"{API}/declarations/{published}/draft/text"

    def send(title: str):
        body = {"file": (io.BytesIO(pdf_bytes(text=title)), f"{title}.pdf", "application/pdf")}
        return post(url, data=body, content_type="multipart/form-data")

    results = race(app, monkeypatch, send("first"), send("second"))
    won = one_winner(results, won=200)
    name = "first.pdf" if won is results[0] else "second.pdf"
    draft = fresh(db, published).draft
    assert draft.text_attachment_id != before and draft.text_attachment.filename == name


# --------------------------------------------------------------------------- the pages


def test_pages_two_revisions_at_once(app, db, monkeypatch, published, owner):
    a, b = page_client(app, owner), page_client(app, owner)
    url = f"/my/declarations/{published}/revise?lang=en"
    won = one_winner(race(app, monkeypatch, lambda: a.post(url), lambda: b.post(url)), won=302)
    assert won.headers["Location"].endswith(f"/my/declarations/{published}/draft")
    assert version_nos(fresh(db, published)) == [(1, "published"), (2, "draft")]


def test_pages_two_publications_at_once(app, db, monkeypatch, published, owner):
    draft = start_revision(db, published)
    a, b = page_client(app, owner), page_client(app, owner)
    url = f"/my/declarations/{published}/publish?lang=en"
    form = {"lock_version": str(draft.lock_version)}
    one_winner(
        race(app, monkeypatch, lambda: a.post(url, data=form), lambda: b.post(url, data=form)),
        won=302,
    )
    assert version_nos(fresh(db, published)) == [(1, "superseded"), (2, "published")]


def test_pages_two_abolitions_at_once(app, db, monkeypatch, published, owner):
    a, b = page_client(app, owner), page_client(app, owner)
    url = f"/my/declarations/{published}/abolish?lang=en"
    form = {"reason": "产品停产", "confirm": "y"}
    one_winner(
        race(app, monkeypatch, lambda: a.post(url, data=form), lambda: b.post(url, data=form)),
        won=302,
    )
    declaration = fresh(db, published)
    assert version_nos(declaration) == [(1, "abolished")]


def test_pages_two_draft_saves_at_once(app, db, monkeypatch, published, owner, catalogue):
    draft = start_revision(db, published)
    a, b = page_client(app, owner), page_client(app, owner)
    url = f"/my/declarations/{published}/draft?lang=en"

    def save(client, value):
        data = own_standard_form(catalogue, value=value, lock=draft.lock_version)
        return lambda: client.post(url, data=data, content_type="multipart/form-data")

    results = race(app, monkeypatch, save(a, "5.2"), save(b, "5.3"))
    won = one_winner(results, won=302)
    value = 5.2 if won is results[0] else 5.3
    draft = fresh(db, published).draft
    assert [i.value for i in draft.indicators if i.value is not None] == [value]
    assert version_nos(draft.declaration) == [(1, "published"), (2, "draft")]


# --------------------------------------------------------------------------- just after


def test_a_revision_just_after_another_is_a_409_too(app, db, published, token):
    """The loser of a race that reads after the winner's commit finds a revision in progress:
    the same conflict, with what to do."""
    client = app.test_client()
    url = f"{API}/declarations/{published}/revise?lang=en"
    assert client.post(url, headers=token).status_code == 201
    again = client.post(url, headers=token)
    assert again.status_code == 409
    assert "already in progress; edit or discard it" in again.get_json()["message"]
    assert version_nos(fresh(db, published)) == [(1, "published"), (2, "draft")]


def test_an_abolition_just_after_another_is_a_409_too(app, db, published, token):
    client = app.test_client()
    url = f"{API}/declarations/{published}/abolish?lang=en"
    assert client.post(url, json={"reason": "产品停产"}, headers=token).status_code == 200
    again = client.post(url, json={"reason": "标准合并"}, headers=token)
    assert again.status_code == 409
    assert "has already ended" in again.get_json()["message"]
    assert fresh(db, published).versions[0].end_reason == "产品停产"


def test_pages_a_revision_just_after_another_shows_the_overview_with_409(
    app, db, published, owner
):
    browser = page_client(app, owner)
    url = f"/my/declarations/{published}/revise?lang=en"
    assert browser.post(url).status_code == 302
    again = browser.post(url)
    assert again.status_code == 409
    assert "already in progress; edit or discard it" in again.get_data(as_text=True)


# --------------------------------------------------------------------------- the safety net


@pytest.mark.parametrize("action", ["revise", "publish"])
def test_a_race_no_claim_foresaw_is_still_a_409(app, db, monkeypatch, published, token, action):
    """core.errors turns the database's own refusal (a unique key, a stale optimistic lock)
    into the 409, should a write path ever forget to claim the declaration."""
    monkeypatch.setattr(operations, "_claim", lambda declaration: None)
    if action == "publish":
        start_revision(db, published)
    post, _put = api_client(app, token)
    url = f"{API}/declarations/{published}/{action}"
    results = race(app, monkeypatch, post(url), post(url))
    one_winner(results, won=201 if action == "revise" else 200)
    loser = next(r for r in results if r.status_code == 409)
    assert "at the same moment" in loser.get_json()["message"]
    declaration = fresh(db, published)
    assert len(declaration.versions) == 2


def _integrity_error(orig: Exception):
    from sqlalchemy.exc import IntegrityError

    return IntegrityError("INSERT …", {}, orig)


def test_only_unique_and_stale_errors_count_as_a_lost_race():
    import sqlite3

    import psycopg.errors
    from sqlalchemy.orm.exc import StaleDataError

    from core.errors import is_concurrent_write

    assert is_concurrent_write(StaleDataError("0 rows matched"))
    assert is_concurrent_write(_integrity_error(psycopg.errors.UniqueViolation("dup")))
    assert is_concurrent_write(
        _integrity_error(sqlite3.IntegrityError("UNIQUE constraint failed: t.a, t.b"))
    )
    # A NOT NULL or a foreign key is a bug, not somebody else's write: it stays a 500.
    assert not is_concurrent_write(_integrity_error(psycopg.errors.NotNullViolation("null")))
    assert not is_concurrent_write(
        _integrity_error(sqlite3.IntegrityError("NOT NULL constraint failed: t.a"))
    )
    assert not is_concurrent_write(None)
    assert not is_concurrent_write(ValueError("x"))


def test_a_race_lost_at_the_commit_is_a_409_not_a_500(app):
    """The request's commit runs after the view: Flask reports its failure as a 500 whose
    original exception is the database error; the 500 handler answers 409 for a lost race."""
    from sqlalchemy.orm.exc import StaleDataError
    from werkzeug.exceptions import InternalServerError

    handler = app.error_handler_spec[None][500][InternalServerError]
    with app.test_request_context(f"{API}/declarations/1/publish?lang=en", method="POST"):
        lost = handler(InternalServerError(original_exception=StaleDataError("0 rows")))
        bug = handler(InternalServerError(original_exception=ValueError("bug")))
    response, status = lost
    assert status == 409 and "at the same moment" in response.get_json()["message"]
    assert bug[1] == 500
