"""Domain errors and how they reach users: field errors in forms, 422/409 JSON on the API.

Everything under ``/api/`` answers in JSON (also for URLs no route matches, where Flask knows
no blueprint); pages answer with the HTML error page in the visitor's language.

A dependency that fails (the database unreachable or restarting, Redis gone where a request
needs it) is not the request's fault nor a bug: it answers 503 with ``Retry-After``
(``UNAVAILABLE_RETRY_AFTER`` seconds), also when the failure comes from the commit after the
view (Flask reports that as a 500 whose ``original_exception`` is the driver's error). The
engine pings pooled connections before use (``pool_pre_ping``, core/config.py), so once the
database is back the next request reconnects without restarting gunicorn.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from core.extensions import db
from core.i18n import translate_errors

log = logging.getLogger(__name__)


class ValidationFailed(Exception):
    """A business rule refused the input. ``errors`` maps a field path to its messages."""

    def __init__(self, errors: dict[str, list[str] | str]):
        self.errors = {k: [v] if isinstance(v, str) else list(v) for k, v in errors.items()}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


class Conflict(Exception):
    """The client edited a stale version of a record (optimistic locking)."""

    def __init__(self, message: str, current_version: int | None = None):
        self.message, self.current_version = message, current_version
        super().__init__(message)


HTTP_CODES = (400, 401, 403, 404, 405, 413, 429)


def _database_errors() -> tuple[type[BaseException], ...]:
    """Errors meaning "the database is not answering now": connection refused or dropped,
    server restarting, pool exhausted. (SQLAlchemy wraps psycopg's; the bare ones are listed
    for code that talks to the driver directly.)"""
    import psycopg
    from sqlalchemy import exc

    return (
        exc.OperationalError,
        exc.InterfaceError,
        exc.DisconnectionError,
        exc.TimeoutError,  # the pool waited in vain for a free connection
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis import exceptions

    return (exceptions.ConnectionError, exceptions.TimeoutError)


def unavailable_cause(exc: BaseException | None) -> str | None:
    """"database" or "redis" when ``exc`` (or what it wraps) is an outage of that dependency."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, _database_errors()):
            return "database"
        if isinstance(exc, _redis_errors()):
            return "redis"
        exc = getattr(exc, "original_exception", None) or exc.__cause__
        seen += 1
    return None

#: SQLSTATE of a unique violation (PostgreSQL); SQLite says it in the message.
UNIQUE_VIOLATION = "23505"


def is_concurrent_write(exc: BaseException | None) -> bool:
    """Whether a database error means that another transaction wrote the same rows first: a
    stale optimistic-lock UPDATE/DELETE, or a unique key inserted meanwhile. Any other
    integrity error (a NOT NULL, a foreign key) is a bug, not a conflict."""
    if isinstance(exc, StaleDataError):
        return True
    if not isinstance(exc, IntegrityError):
        return False
    state = getattr(exc.orig, "sqlstate", None)  # psycopg 3
    if state is not None:
        return state == UNIQUE_VIOLATION
    return "UNIQUE constraint failed" in str(exc.orig)  # sqlite3


def changed_meanwhile() -> Conflict:
    """The 409 of a write that lost a race the operation did not foresee."""
    return Conflict(
        _(
            "This was changed by someone else at the same moment; nothing of your change "
            "was saved. Reload the page and try again."
        )
    )


def is_api_request() -> bool:
    if request.blueprint and request.blueprint.startswith("api"):
        return True
    prefix = current_app.config.get("OPENAPI_URL_PREFIX") or "/api"
    return request.path.startswith(prefix.rstrip("/") + "/") or request.path.startswith("/api/")


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return str(code)


def register(app) -> None:
    @app.errorhandler(ValidationFailed)
    def _validation(exc: ValidationFailed):
        body = {"code": 422, "status": _phrase(422), "errors": {"json": exc.errors}}
        if is_api_request():
            return jsonify(body), 422
        return render_template("errors/error.html", code=422, errors=exc.errors), 422

    @app.errorhandler(Conflict)
    def _conflict(exc: Conflict):
        body = {
            "code": 409,
            "status": _phrase(409),
            "message": exc.message,
            "current_lock_version": exc.current_version,
        }
        if is_api_request():
            return jsonify(body), 409
        return render_template("errors/error.html", code=409, message=exc.message), 409

    def _lost_race(exc: Exception):
        """The safety net under the operations' own claims (``declare.operations._claim``):
        a write that lost a race to a unique key or an optimistic lock is a 409 with a message,
        never a 500. The session is rolled back first, so the page can still be rendered."""
        if not is_concurrent_write(exc):
            raise exc  # a bug: the 500 page, and the traceback in the log
        current_app.logger.warning("concurrent write refused with 409: %s", exc)
        db.session.rollback()
        return _conflict(changed_meanwhile())

    app.register_error_handler(StaleDataError, _lost_race)
    app.register_error_handler(IntegrityError, _lost_race)

    for code in HTTP_CODES:
        app.register_error_handler(code, _http_error(code))
    app.register_error_handler(422, _unprocessable)
    server_error = _http_error(500)

    def _server_error(exc):
        """What reached Flask as a 500: a race lost at the request's commit (after the view
        returned, so Flask reports a 500 whose ``original_exception`` is the database error)
        is a 409; an outage of the database or Redis is a 503; anything else is a bug."""
        original = getattr(exc, "original_exception", None)
        if is_concurrent_write(original):
            current_app.logger.warning("concurrent write refused at commit with 409: %s", original)
            db.session.rollback()
            return _conflict(changed_meanwhile())
        cause = unavailable_cause(exc)
        return _unavailable(cause, exc) if cause else server_error(exc)

    app.register_error_handler(500, _server_error)
    for error_class in _database_errors() + _redis_errors():
        app.register_error_handler(error_class, _server_error)


def _unavailable(cause: str, exc: BaseException):
    """503 with Retry-After; the page must not touch the database that just failed."""
    original = getattr(exc, "original_exception", None) or exc
    first_line = (str(original).splitlines() or [type(original).__name__])[0][:300]
    log.warning("503: %s unavailable: %s", cause, first_line)
    try:
        from core.extensions import db

        db.session.rollback()
    except Exception:  # noqa: BLE001  (the connection is gone; the pool replaces it)
        log.debug("rollback after an outage failed", exc_info=True)
    seconds = int(current_app.config.get("UNAVAILABLE_RETRY_AFTER", 10))
    if cause == "database":
        message = _(
            "The database is temporarily unavailable; please try again in %(seconds)d seconds.",
            seconds=seconds,
        )
    else:
        message = _(
            "The job queue is temporarily unavailable; please try again in %(seconds)d seconds.",
            seconds=seconds,
        )
    headers = [("Retry-After", str(seconds))]
    if is_api_request() or request.accept_mimetypes.best == "application/json":
        body = {"code": 503, "status": _phrase(503), "message": message}
        return jsonify(body), 503, headers
    from core.extensions import login_manager

    # base.html asks current_user: an expired or unloaded user would query the database.
    g._login_user = login_manager.anonymous_user()
    try:
        page = render_template("errors/error.html", code=503, message=message)
    except Exception:  # noqa: BLE001  (a page that fails too: plain text in the same words)
        log.exception("the 503 page failed to render")
        page = f"<!doctype html><title>503</title><h1>503</h1><p>{escape(message)}</p>"
    return page, 503, headers




def _passed_headers(exc) -> list[tuple[str, str]]:
    """Headers the exception carries (Allow on 405, Retry-After on 429), minus its own body's."""
    get_headers = getattr(exc, "get_headers", None)
    if get_headers is None:
        return []
    try:
        headers = get_headers()
    except Exception:  # noqa: BLE001  (a handler must never fail on the way out)
        return []
    return [(k, v) for k, v in headers if k.lower() != "content-type"]


def default_message(code: int) -> str:
    """What an error of ``code`` says when the view gave no message of its own (werkzeug's
    descriptions are English only), in the reader's language."""
    messages = {
        400: lambda: _("Bad request (the form may have expired; reload the page)."),
        401: lambda: _("Please log in."),
        403: lambda: _("You do not have permission to do this."),
        404: lambda: _("Not found."),
        405: lambda: _("This address does not accept the %(method)s method.",
                       method=request.method),
        413: lambda: _("The upload is too large."),
        422: lambda: _("The input was refused."),
        429: lambda: _("Too many attempts; please wait a minute and try again."),
    }
    return messages[code]() if code in messages else _("Something went wrong on our side.")


def _message_of(exc, code: int) -> str:
    """The view's own message (``abort(code, message=...)`` or a description it set), else the
    translated default: werkzeug's class descriptions and flask-limiter's limit text are
    English whatever the reader's language."""
    data = getattr(exc, "data", None) or {}
    if data.get("message"):
        return str(data["message"])
    description = getattr(exc, "description", None)
    if description and description != type(exc).description and code != 429:
        return str(description)
    return default_message(code)


def _http_error(code: int):
    def handler(exc):
        headers = _passed_headers(exc)
        if is_api_request() or request.accept_mimetypes.best == "application/json":
            data = getattr(exc, "data", None) or {}  # flask-smorest abort(..., message=...)
            body = {"code": code, "status": _phrase(code), "message": _message_of(exc, code)}
            if data.get("errors"):
                body["errors"] = translate_errors(data["errors"])
            return jsonify(body), code, headers
        message = default_message(code) if code == 405 else None
        return render_template("errors/error.html", code=code, message=message), code, headers

    return handler


def _unprocessable(exc):
    """422 from webargs (the request did not fit the endpoint's schema) or ``abort(422)``: the
    JSON body flask-smorest gives, with marshmallow's messages in the reader's language."""
    data = getattr(exc, "data", None) or {}
    body: dict = {"code": 422, "status": _phrase(422)}
    if data.get("message"):
        body["message"] = str(data["message"])
    errors = data.get("errors", data.get("messages"))
    if errors:
        body["errors"] = translate_errors(errors)
    headers = data.get("headers") or {}
    return jsonify(body), 422, headers
