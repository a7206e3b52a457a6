"""Fixtures shared by every test package.

The default run uses SQLite and inline jobs, so a fresh clone passes with no service.
``TEST_DATABASE_URL`` points the same suite at PostgreSQL; tests that need Redis or a browser
skip when it is missing, unless ``REQUIRE_SERVICES=1`` (CI), where a missing service fails.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from datetime import date

import pytest
from flask import g, request_started
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from app import create_app
from core.clock import local_today
from core.extensions import db as _db
from core.extensions import limiter
from core.models import Role, User

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
#: pytest-xdist's worker ("gw0", "gw1", …; empty in a serial run): each worker gets a database
#: and a Redis database of its own, since the fixtures empty them after every test.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_WORKER_NO = int(XDIST_WORKER[2:]) if XDIST_WORKER.startswith("gw") else 0
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - _WORKER_NO}")
PASSWORD = "correct horse 9"


def pytest_collection_modifyitems(config, items) -> None:
    """Mark tests by what they use, so CI can run each kind as its own step (see Makefile):
    ``db`` (any app or database fixture: pure tests lack it and need not run on PostgreSQL
    again) and ``services`` (a real Redis, and with it real worker processes)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if "app" in used:
            item.add_marker(pytest.mark.db)
        if "redis_url" in used:
            item.add_marker(pytest.mark.services)


def service_missing(what: str) -> None:
    """Skip (developer machine) or fail (CI, REQUIRE_SERVICES=1) when a service is absent."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return _worker_database(url) if XDIST_WORKER else url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def _worker_database(url: str) -> str:
    """``TEST_DATABASE_URL``'s database with the xdist worker's suffix, created if missing."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    mine = base.set(database=f"{base.database}_{XDIST_WORKER}")
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (mine.database,)
            ).scalar()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{mine.database}"')
    finally:
        engine.dispose()
    return mine.render_as_string(hide_password=False)


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


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(dbapi_connection, _record) -> None:
    """Test databases are thrown away: SQLite need not wait for the disk on every commit."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


@pytest.fixture
def app_config() -> dict:
    """Override in a test module to change settings (e.g. enable CSRF).

    Each distinct configuration gets one app for the whole session (``_apps``): building an app
    costs about 0.5 s (the OpenAPI spec of every blueprint) and its first request another second
    (templates), which a test per app would pay a thousand times over.
    """
    return {}


BASE_CONFIG = {
    "TESTING": True,
    "REDIS_URL": None,
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": False,
    "RATELIMIT_STORAGE_URI": "memory://",
    "SECRET_KEY": "test-secret",
    # Assertions read English messages; tests of the Chinese default set "zh" explicitly.
    "BABEL_DEFAULT_LOCALE": "en",
    # scrypt is the production default and costs 0.3-0.5 s a hash; one pbkdf2 round is enough
    # to exercise the same code.
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
}


def _fresh_request_globals(sender, **_extra) -> None:
    """Each test request starts with an empty ``g``, as in production. The test's own app
    context stays pushed, so requests would otherwise share it: a bearer token's user or
    Flask-Login's user cached by one request would answer for the next."""
    for name in list(g):
        g.pop(name, None)


@pytest.fixture(scope="session")
def _apps(_schema):
    """The session's apps, one per distinct ``app_config`` (its repr is the key)."""
    from tests.probes import register_probes

    built: dict[str, object] = {}

    def get(overrides: dict):
        key = repr(sorted(overrides.items()))
        if key not in built:
            application = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": _schema, **overrides})
            register_probes(application)
            request_started.connect(_fresh_request_globals, application)
            built[key] = (application, copy.deepcopy(dict(application.config)))
        return built[key]

    yield get
    for application, _ in built.values():
        with application.app_context():
            _db.engine.dispose()


@pytest.fixture
def app(_apps, tmp_path, app_config):
    application, pristine = _apps(app_config)
    if "UPLOAD_DIR" not in app_config:
        application.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    if "MAIL_FOLDER" not in app_config:
        application.config["MAIL_FOLDER"] = str(tmp_path / "mail")
    if "OPEN_DATA_DIR" not in app_config:
        application.config["OPEN_DATA_DIR"] = str(tmp_path / "opendata")
    # Flask-Limiter is one object for every app, switched on or off by the last init_app.
    limiter.enabled = application.config["RATELIMIT_ENABLED"]
    with application.app_context():
        try:
            yield application
        finally:
            _db.session.remove()
            _truncate_all()
            # Whatever the test changed in the config goes back; the limiter forgets its hits.
            application.config.clear()
            application.config.update(copy.deepcopy(pristine))
            limiter.reset()


@pytest.fixture(scope="module")
def module_db(_apps, tmp_path_factory):
    """The database kept for a whole module (e.g. the demo dataset, loaded once and then only
    read); emptied when the module ends. Its tests take this instead of ``app``/``db``, whose
    teardown empties the database after every test."""
    application, pristine = _apps({})
    application.config["UPLOAD_DIR"] = str(tmp_path_factory.mktemp("uploads"))
    limiter.enabled = False
    with application.app_context():
        try:
            yield _db
        finally:
            _db.session.remove()
            _truncate_all()
            application.config.clear()
            application.config.update(copy.deepcopy(pristine))


def _truncate_all() -> None:
    """Empty every table and restart the ids. On PostgreSQL, DELETE and setval: TRUNCATE of the
    31 tables costs about 0.8 s (new files for each), DELETE of a test's few rows about 25 ms.
    The DELETEs skip the foreign-key triggers (declarations and their versions point at each
    other), which takes a superuser; any other role gets TRUNCATE."""
    tables = list(reversed(_db.metadata.sorted_tables))
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            if conn.exec_driver_sql("SELECT usesuper FROM pg_user WHERE usename = current_user").scalar():
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                conn.exec_driver_sql("; ".join(f'DELETE FROM "{t.name}"' for t in tables))
                conn.exec_driver_sql(
                    "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"
                )
            else:
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for t in tables:
                conn.execute(t.delete())


@pytest.fixture
def probes(app):
    """The kernel's probe routes (``tests/probes.py``); every test app has them."""
    return app


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
def _smtp_process(tmp_path_factory):
    from tests.mail_server import SmtpServer

    server = SmtpServer(tmp_path_factory.mktemp("smtp") / "maildir")
    yield server
    server.stop()


@pytest.fixture
def smtp_server(_smtp_process, app, monkeypatch):
    """A real SMTP server process (aiosmtpd), its mailbox empty, the app's MAIL_URL on it."""
    _smtp_process.clear()
    monkeypatch.setitem(app.config, "MAIL_URL", _smtp_process.url)
    return _smtp_process


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which(
        "chromium-browser"
    )
    if not path:
        service_missing("Chromium (apt-get install chromium)")
    return path


def today() -> date:
    return local_today()


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
