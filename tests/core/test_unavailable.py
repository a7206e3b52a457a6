"""A failing dependency answers 503 with Retry-After, in the reader's language; never a 500.

The failures are real: the engine points at a closed port, a TCP proxy in front of PostgreSQL
drops every connection and comes back, backends are terminated, a rate limiter's Redis is a
closed port. Nothing is mocked.
"""

from __future__ import annotations

import os

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from app import create_app
from core.extensions import db as _db
from core.extensions import limiter
from tests.conftest import BASE_CONFIG, XDIST_WORKER, service_missing
from tests.core.outages import TcpProxy, free_port

CLOSED = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
DB_DOWN = (
    "The database is temporarily unavailable; please try again in %(seconds)d seconds."
)


@pytest.fixture
def fresh_app():
    """Build fresh apps (routes may still be added); afterwards close their connections and
    put back the one Flask-Limiter object that building an app re-initialises."""
    saved = dict(vars(limiter))
    built = []

    def build(database_url: str, **config):
        application = _app(database_url, **config)
        built.append(application)
        return application

    yield build
    for application in built:
        with application.app_context():
            _db.engine.dispose()
    vars(limiter).clear()
    vars(limiter).update(saved)


def _app(database_url: str, **config):
    application = create_app(
        {**BASE_CONFIG, "BABEL_DEFAULT_LOCALE": "zh", "SQLALCHEMY_DATABASE_URI": database_url,
         "PROPAGATE_EXCEPTIONS": False, **config}
    )

    @application.post("/_fault/write")
    def write():
        from core.jobs import JobPing

        _db.session.add(JobPing(key="fault", pid=0))  # committed after the view
        return "ok"

    @application.get("/_fault/redis")
    def redis_needed():
        from redis import Redis

        Redis(port=free_port(), socket_connect_timeout=0.5).ping()
        return "ok"

    return application


def _message(application, locale: str, msgid: str = DB_DOWN) -> str:
    with application.test_request_context(), force_locale(locale):
        return _(msgid, seconds=application.config["UNAVAILABLE_RETRY_AFTER"])


def test_api_answers_503_json_with_retry_after_when_the_database_refuses(fresh_app):
    application = fresh_app(CLOSED)
    resp = application.test_client().get("/api/v1/declarations/1")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == str(application.config["UNAVAILABLE_RETRY_AFTER"])
    assert resp.get_json() == {
        "code": 503,
        "status": "Service Unavailable",
        "message": _message(application, "zh"),
    }
    assert "psycopg" not in resp.get_data(as_text=True)  # no internals


def test_pages_answer_503_in_the_readers_language(fresh_app):
    application = fresh_app(CLOSED)
    client = application.test_client()
    resp = client.get("/declarations?q=x")
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    page = resp.get_data(as_text=True)
    assert _message(application, "zh") in page
    assert "首页" in page  # the Chinese default, with the site's own layout
    resp = client.get("/declarations?q=x&lang=en")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503
    assert "The database is temporarily unavailable" in page and "Home" in page


def test_a_commit_that_cannot_reach_the_database_is_503(fresh_app):
    """The write is committed after the view returned; its failure is a 503 too."""
    application = fresh_app(CLOSED)
    resp = application.test_client().post("/_fault/write", headers={"Accept": "application/json"})
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    assert resp.get_json()["message"] == _message(application, "zh")


def test_redis_unreachable_in_a_request_is_503(fresh_app, _schema):
    application = fresh_app(_schema)
    resp = application.test_client().get("/_fault/redis?lang=en")
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    assert "The job queue is temporarily unavailable" in resp.get_data(as_text=True)


def test_login_limits_still_count_when_the_limiter_redis_is_down(fresh_app, _schema):
    """Flask-Limiter falls back to memory storage (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED):
    no 500, and password guessing is still limited."""
    application = fresh_app(
        _schema,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",
        LOGIN_RATE_LIMIT="3 per minute",
    )
    limiter.enabled = True
    client = application.test_client()
    codes = [
        client.post("/login", data={"username": "nobody", "password": "wrong one"}).status_code
        for _ in range(5)
    ]
    assert 500 not in codes and 503 not in codes
    assert codes[-1] == 429, codes


# -- PostgreSQL goes away and comes back ------------------------------------------------------


#: Where the PostgreSQL failures are staged when the run itself is on SQLite (PostgreSQL is a
#: service the suite requires, like Redis).
POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def postgres_url(_schema) -> str:
    """A PostgreSQL database with the schema: the run's own on PostgreSQL; on SQLite a scratch
    database beside ``TEST_POSTGRES_URL``'s (these failures are PostgreSQL's own)."""
    if _schema.startswith("postgresql"):
        return _schema
    base = make_url(POSTGRES)
    scratch = base.set(database=f"{base.database}_outage_{XDIST_WORKER or 'main'}")
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            if not conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (scratch.database,)
            ).scalar():
                conn.exec_driver_sql(f'CREATE DATABASE "{scratch.database}"')
    except OperationalError:
        service_missing(f"PostgreSQL ({base.render_as_string()})")
    finally:
        admin.dispose()
    url = scratch.render_as_string(hide_password=False)
    saved = dict(vars(limiter))
    application = _app(url)
    with application.app_context():
        _db.drop_all()
        _db.create_all()
        _db.session.remove()
        _db.engine.dispose()
    vars(limiter).clear()
    vars(limiter).update(saved)
    return url


def test_database_outage_is_503_and_the_same_app_recovers(postgres_url, fresh_app):
    """A proxy in front of PostgreSQL drops every connection (a restart): 503 with
    Retry-After meanwhile; back up, the same app answers without a restart (pool_pre_ping)."""
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.up()
    application = fresh_app(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    client = application.test_client()
    try:
        assert client.get("/api/v1/declarations/1").status_code == 404  # up: a real answer
        proxy.down()
        for _attempt in range(3):
            resp = client.get("/api/v1/declarations/1")
            assert resp.status_code == 503 and resp.headers["Retry-After"]
        assert client.get("/declarations?q=x").status_code == 503
        proxy.up()
        assert client.get("/api/v1/declarations/1").status_code == 404
        assert client.get("/declarations?q=x").status_code == 200
    finally:
        proxy.down()


def test_terminated_backends_are_replaced_before_use(postgres_url, fresh_app):
    """pg_terminate_backend on every pooled connection (as a restart does): the next request
    reconnects instead of failing."""
    application = fresh_app(postgres_url)
    client = application.test_client()
    assert client.get("/api/v1/declarations/1").status_code == 404
    with application.app_context():
        assert _db.engine.pool.checkedin() >= 1  # the request's connection waits in the pool
    killer = create_engine(postgres_url, poolclass=NullPool)
    try:
        with killer.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
    finally:
        killer.dispose()
    assert killed >= 1
    for _attempt in range(3):
        assert client.get("/api/v1/declarations/1").status_code == 404
