"""HTTP caching of public pages built from data that does not change: a ranking run (an
immutable snapshot), a published declaration version.

Why: such a page costs hundreds of milliseconds to build (a leaderboard reads thousands of
entries) yet is the same for every anonymous visitor until its data changes. So a page names
its data in a few columns read with one small query (the *validator parts*: run id and status,
version ids, the catalogue's last change, ...); from them, the language, the URL and the code
version comes a strong ETag. A visitor who holds that ETag gets 304; anyone else gets the body
rendered once and kept in the store (``core.extensions.cache``: Redis shared by the gunicorn
workers, an in-process SimpleCache for the embedded default), with ``Cache-Control: public``.

Nothing personal is ever stored or shared: only anonymous visitors without pending flash
messages take this path, and their pages are rendered without a CSRF token (none of these pages
has a form; the token would tie the body and a session cookie to one visitor). A logged-in user
gets the page rendered for them, ``Cache-Control: private, no-cache``, and no shared body.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path

from flask import Response, current_app, request, session
from flask_babel import get_locale
from flask_login import current_user

from core.extensions import cache

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
#: What a rendered page is made of besides its data: templates, translations, the code.
_CODE_GLOBS = ("templates/**/*.html", "translations/**/*.mo", "*/*.py", "*/*/*.py")
_STORED_BODY = "body:"


def init_app(app) -> None:
    """Bind the page store once per app (Flask-Caching reads the CACHE_* keys of core.config)."""
    if "cache" not in app.extensions or cache not in app.extensions["cache"]:
        cache.init_app(app)


def code_version() -> str:
    """``PAGE_CACHE_VERSION`` if set (e.g. the deployed commit), else a digest of the templates,
    compiled translations and Python sources, computed once per process: a deployment that
    changes how a page looks changes every ETag, so no browser keeps the old rendering."""
    configured = current_app.config.get("PAGE_CACHE_VERSION")
    if configured:
        return str(configured)
    known = current_app.extensions.setdefault("page_cache_version", {})
    if "digest" not in known:
        digest = hashlib.sha256()
        for pattern in _CODE_GLOBS:
            for path in sorted(ROOT.glob(pattern)):
                if ".venv" in path.parts or "tests" in path.parts:
                    continue
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
        known["digest"] = digest.hexdigest()[:16]
    return known["digest"]


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value) if not isinstance(value, (int, float, bool, type(None))) else value


def etag_of(kind: str, parts: Iterable) -> str:
    """The strong ETag of a page: its kind, its validator parts, the visitor's language, the
    URL as requested (the language switch links back to it) and the code version."""
    material = json.dumps(
        [
            kind,
            [_plain(p) for p in parts],
            str(get_locale()),
            request.script_root,
            request.full_path,
            code_version(),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def is_anonymous_visitor() -> bool:
    """A visitor whose page may be shared: not logged in and with no flash message waiting (a
    flash would be part of the body, and a 304 would hide it)."""
    return not current_user.is_authenticated and "_flashes" not in session


def _no_csrf_token() -> str:
    return ""


def render_shared(template: str, **context) -> str:
    """``render_template`` for a body shared by anonymous visitors: no CSRF token (it would
    create a session for the visitor and put it in a shared body)."""
    from flask import render_template

    return render_template(template, csrf_token=_no_csrf_token, **context)


def stored(key: str):
    """A body from the store, or None. A store that is down is a miss, never an error page."""
    try:
        return cache.get(_STORED_BODY + key)
    except Exception:  # noqa: BLE001 - redis errors, unpickling of an old entry
        log.warning("page cache read failed", exc_info=True)
        return None


def store(key: str, body, timeout: int | None = None) -> None:
    try:
        cache.set(_STORED_BODY + key, body, timeout=timeout)
    except Exception:  # noqa: BLE001
        log.warning("page cache write failed", exc_info=True)


def cached_fragment(key_parts: Iterable, build: Callable[[], object]):
    """A fragment shared by every visitor (e.g. a run's charts and tiers; any picklable
    value), built once per language and code version."""
    key = "fragment:" + hashlib.sha256(
        json.dumps([_plain(p) for p in key_parts] + [str(get_locale()), request.script_root,
                                                      code_version()],
                   ensure_ascii=False).encode()
    ).hexdigest()[:32]
    body = stored(key)
    if body is None:
        body = build()
        store(key, body)
    return body


def public_response(
    kind: str,
    parts: Iterable,
    render: Callable[[], str | bytes],
    *,
    max_age: int,
    storable: bool = True,
    mimetype: str = "text/html",
) -> Response:
    """The response of an anonymous visitor: 304 when ``If-None-Match`` holds the ETag, else
    the stored body, else ``render()`` (stored when ``storable``: the view passes False for URLs
    with unknown query arguments, so nobody can fill the store with variants)."""
    etag = etag_of(kind, parts)
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        body = stored(etag)
        if body is None:
            body = render()
            if storable:
                store(etag, body)
        response = Response(body, mimetype=mimetype)
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = max(int(max_age), 0)
    if max_age <= 0:
        response.cache_control.must_revalidate = True
    return response


def private_response(body, status: int = 200, mimetype: str = "text/html") -> Response:
    """A page rendered for one logged-in user: never kept by a shared cache."""
    response = body if isinstance(body, Response) else Response(body, status, mimetype=mimetype)
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response
