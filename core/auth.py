"""Who may do what: session login for pages, bearer tokens for the API, role checks.

Pages use the Flask-Login session (with CSRF on every form). The API accepts only bearer
tokens, never the session cookie, so it needs no CSRF token and a malicious page cannot
ride a logged-in browser against it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, g, request
from flask_login import current_user
from sqlalchemy import select

from core.extensions import db, login_manager
from core.models import ApiToken, Role, User, utcnow


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def issue_token(user: User, name: str = "", days: int | None = None) -> str:
    """Create an API token; the plain value is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    days = days if days is not None else current_app.config["API_TOKEN_DAYS"]
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
    """The user behind the request's bearer token, or None."""
    if "api_user" in g:
        return g.api_user
    user = None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        digest = ApiToken.digest(header[7:].strip())
        tok = db.session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
        now = utcnow()
        if (
            tok is not None
            and tok.revoked_at is None
            and (tok.expires_at is None or tok.expires_at > now)
            and tok.user.is_active
        ):
            user = tok.user
    g.api_user = user
    return user


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
                abort(401)
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return deco


def region_prefix(region_code: str) -> str:
    """The prefix of division codes a 行政区划 code covers: 500000 → "50", 500100 → "5001"."""
    if region_code.endswith("0000"):
        return region_code[:2]
    if region_code.endswith("00"):
        return region_code[:4]
    return region_code


def region_covers(regulator_region: str | None, region_code: str | None) -> bool:
    """A province or city regulator covers every division inside it."""
    if not regulator_region or not region_code:
        return False
    return region_code.startswith(region_prefix(regulator_region))
