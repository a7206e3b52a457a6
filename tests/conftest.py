"""Fixtures shared by every test package.

The default run uses SQLite and inline jobs, so a fresh clone passes with no service.
``TEST_DATABASE_URL`` points the same suite at PostgreSQL; tests that need Redis or a browser
skip when it is missing, unless ``REQUIRE_SERVICES=1`` (CI), where a missing service fails.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import date

import pytest
from sqlalchemy import text

from app import create_app
from core.extensions import db as _db
from core.models import Role, User

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct horse 9"


def service_missing(what: str) -> None:
    """Skip (developer machine) or fail (CI, REQUIRE_SERVICES=1) when a service is absent."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None}
    )
    with app.app_context():
        _db.drop_all()
        _db.create_all()
        _db.session.remove()
        _db.engine.dispose()
    return database_url


@pytest.fixture
def app_config(tmp_path) -> dict:
    """Override in a test module to change settings (e.g. enable CSRF)."""
    return {}


@pytest.fixture
def app(_schema, tmp_path, app_config):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _schema,
        "REDIS_URL": None,
        "WTF_CSRF_ENABLED": False,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SECRET_KEY": "test-secret",
        # Assertions read English messages; tests of the Chinese default set "zh" explicitly.
        "BABEL_DEFAULT_LOCALE": "en",
    }
    config.update(app_config)
    application = create_app(config)
    with application.app_context():
        yield application
        _db.session.remove()
        _truncate_all()
        _db.engine.dispose()


def _truncate_all() -> None:
    tables = list(reversed(_db.metadata.sorted_tables))
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for t in tables:
                conn.execute(t.delete())


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(db):
    """Create an account of any role; enterprises get an Enterprise with a valid USCC."""
    from tests.factories import make_enterprise_user

    counter = {"n": 0}

    def factory(role: Role | str = Role.ENTERPRISE, **kw) -> User:
        role = Role(role)
        counter["n"] += 1
        if role is Role.ENTERPRISE:
            return make_enterprise_user(**kw)
        user = User(
            username=kw.get("username", f"{role.value}{counter['n']}"),
            role=role,
            region_code=kw.get("region_code", "500000" if role is Role.REGULATOR else None),
            display_name=kw.get("display_name", f"{role.value} {counter['n']}"),
        )
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def login_as(client, make_user):
    """Log the test client in as a new user of ``role`` (or as a given user)."""

    def do(role_or_user: Role | str | User = Role.ENTERPRISE, **kw) -> User:
        user = role_or_user if isinstance(role_or_user, User) else make_user(role_or_user, **kw)
        client.post("/logout")
        resp = client.post("/login", data={"username": user.username, "password": PASSWORD})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return user

    return do


@pytest.fixture
def token_for(db):
    """A bearer header for a user: ``client.get(url, headers=token_for(user))``."""
    from core.auth import issue_token

    def do(user: User) -> dict:
        token = issue_token(user, "test")
        db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return do


@pytest.fixture
def catalogue(db):
    """A small real catalogue: room air conditioners (APF) and toilets (water use)."""
    from tests.factories import seed_small_catalogue

    return seed_small_catalogue()


@pytest.fixture
def redis_url():
    """A reachable Redis (database 15, flushed), or skip/fail per REQUIRE_SERVICES."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        conn = Redis.from_url(TEST_REDIS_URL)
        conn.ping()
    except RedisError:
        service_missing(f"Redis at {TEST_REDIS_URL}")
    conn.flushdb()
    yield TEST_REDIS_URL
    conn.flushdb()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which(
        "chromium-browser"
    )
    if not path:
        service_missing("Chromium (apt-get install chromium)")
    return path


def today() -> date:
    return date.today()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def live_server(app):
    """The app served on a free localhost port in a thread, for browser tests."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def page(chromium_path):
    """A Playwright page in headless Debian Chromium (Playwright never downloads a browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(locale="zh-CN")
        pg = context.new_page()
        pg.set_default_timeout(15000)
        try:
            yield pg
        finally:
            context.close()
            browser.close()
