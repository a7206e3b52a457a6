"""Who may do what: session login for pages, bearer tokens for the API, role checks.

Pages use the Flask-Login session (with CSRF on every form). The API accepts only bearer
tokens, never the session cookie, so it needs no CSRF token and a malicious page cannot
ride a logged-in browser against it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, g, request, request_started
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import WWWAuthenticate

from core.extensions import db, limiter, login_manager
from core.models import ApiToken, Role, User, utcnow
from core.validation import db_id


@request_started.connect
def _forget_previous_request_user(sender, **extra) -> None:
    """Every request finds its own user from its own cookie or token.

    Flask-Login and ``api_user`` cache the user in ``g``, which lives in the app context. A
    fresh context per request makes that safe; an app context held across requests (tests,
    a shell) would otherwise hand one client's user to the next request.
    """
    for key in ("_login_user", "api_user", "api_token"):
        g.pop(key, None)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """A deactivated account loses its open sessions too, not only the next login; so does
    every session opened before the last password change (the id carries the account's
    ``session_epoch``, see ``User.get_id``)."""
    raw_id, _sep, raw_epoch = str(user_id).partition(":")
    ident = db_id(raw_id)
    try:
        epoch = int(raw_epoch or 0)
    except ValueError:
        return None
    user = db.session.get(User, ident) if ident is not None else None
    if user is None or not user.is_active or epoch != (user.session_epoch or 0):
        return None
    return user


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _attempted_account() -> str:
    """The account a login attempt names (the form's or the JSON body's ``username``),
    normalised; the client address when it names none."""
    name = request.form.get("username")
    if name is None and request.is_json:
        body = request.get_json(silent=True)
        name = body.get("username") if isinstance(body, dict) else None
    name = name.strip().lower() if isinstance(name, str) else ""
    return f"account:{name}" if name else f"address:{request.remote_addr}"


#: Password attempts are counted in two buckets that the login page and the token API share:
#: one per client address (``LOGIN_RATE_LIMIT``: 10 a minute by default, whichever door) and
#: one per account named (the same limit, from any address), so neither switching between the
#: page and the API nor spreading the guesses over addresses buys more tries.
login_attempts_by_address = limiter.shared_limit(
    _login_limit, scope="login:address", methods=["POST"]
)
login_attempts_by_account = limiter.shared_limit(
    _login_limit, scope="login:account", key_func=_attempted_account, methods=["POST"]
)


def login_attempts(view):
    """Both login buckets on a view (the page's POST, the token API)."""
    return login_attempts_by_address(login_attempts_by_account(view))


def issue_token(user: User, name: str = "", days: int | None = None) -> str:
    """Create an API token; the plain value is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    days = days if days is not None else current_app.config["API_TOKEN_DAYS"]
    if days <= 0:
        raise ValueError(f"a token must live at least one day, got {days}")
    db.session.add(
        ApiToken(
            user=user,
            name=name,
            token_sha256=ApiToken.digest(token),
            expires_at=utcnow() + timedelta(days=days),
        )
    )
    return token


def api_user() -> User | None:
    """The user behind the request's bearer token, or None (the session cookie never counts)."""
    if "api_user" in g:
        return g.api_user
    user, token = None, None
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        digest = ApiToken.digest(value)
        tok = db.session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
        now = utcnow()
        if (
            tok is not None
            and tok.revoked_at is None
            and (tok.expires_at is None or tok.expires_at > now)
            and tok.user.is_active
        ):
            user, token = tok.user, tok
    g.api_user, g.api_token = user, token
    return user


def api_token() -> ApiToken | None:
    """The ApiToken row this API request authenticated with, or None."""
    api_user()
    return g.get("api_token")


def actor() -> User | None:
    """The authenticated user of this request: bearer token on the API, session on pages."""
    if request.blueprint and request.blueprint.startswith("api"):
        return api_user()
    return current_user if current_user.is_authenticated else None


def roles_required(*roles: Role):
    """Page decorator: login required (redirect) and one of ``roles`` (403)."""

    def deco(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return deco


def api_roles_required(*roles: Role):
    """API decorator: a valid bearer token (401) and one of ``roles`` (403)."""

    def deco(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = api_user()
            if user is None:
                abort(
                    401,
                    description=_(
                        "A valid bearer token is required: Authorization: Bearer <token> "
                        "(POST /api/v1/auth/tokens gives one). Expired and revoked tokens are "
                        "refused."
                    ),
                    www_authenticate=WWWAuthenticate("bearer"),
                )
            if roles and user.role not in roles:
                allowed = ", ".join(r.value for r in roles)
                abort(
                    403,
                    description=_(
                        "This needs the role(s): %(allowed)s; your role is %(role)s.",
                        allowed=allowed,
                        role=user.role.value,
                    ),
                )
            return view(*args, **kwargs)

        return wrapper

    return deco


def _is_division_code(code: str | None) -> bool:
    return bool(code) and len(code) == 6 and code.isascii() and code.isdigit()


def region_prefix(region_code: str) -> str:
    """The prefix of division codes a 行政区划 code covers: 500000 → "50", 500100 → "5001"."""
    if not _is_division_code(region_code):
        raise ValueError(f"a 行政区划 code has 6 digits, got {region_code!r}")
    if region_code.endswith("0000"):
        return region_code[:2]
    if region_code.endswith("00"):
        return region_code[:4]
    return region_code


def region_covers(regulator_region: str | None, region_code: str | None) -> bool:
    """A province or city regulator covers every division inside it."""
    if not _is_division_code(regulator_region) or not _is_division_code(region_code):
        return False
    return region_code.startswith(region_prefix(regulator_region))
