"""Security headers on every response (Flask-Talisman).

A Content-Security-Policy that runs only the site's own files: no inline script, no inline
style, no ``eval``, nothing from another host (pages work offline: swagger-ui is vendored);
frames refused (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), ``nosniff``, a
referrer policy that sends only the origin to other sites. Over HTTPS (``FORCE_HTTPS``: behind
a TLS proxy that sets ``X-Forwarded-Proto``) plain HTTP is redirected, HSTS is sent and the
session and remember-me cookies are ``Secure``; off by default so ``make run`` works on
http://127.0.0.1.

A response whose view set a policy of its own keeps it: a stored standard text is sent with a
stricter, sandboxing one (``declare.uploads.TEXT_CSP``).
"""

from __future__ import annotations

from flask import Flask
from flask_talisman import Talisman

#: Only the site's own files; ``data:`` images for swagger-ui's icons (CSS backgrounds).
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

REFERRER_POLICY = "strict-origin-when-cross-origin"


class _Talisman(Talisman):
    """Talisman that leaves a Content-Security-Policy a view set itself in place (Talisman
    would overwrite it with the site-wide one)."""

    def _set_content_security_policy_headers(self, headers, options):
        own = headers.get("Content-Security-Policy")
        super()._set_content_security_policy_headers(headers, options)
        if own is not None:
            headers["Content-Security-Policy"] = own


def init_app(app: Flask) -> Talisman:
    """One Talisman per app (it keeps its settings on itself: a module-wide instance would
    carry one test app's settings into another)."""
    https = bool(app.config["FORCE_HTTPS"])
    talisman = _Talisman(
        app,
        force_https=https,
        strict_transport_security=https,
        strict_transport_security_max_age=app.config["HSTS_SECONDS"],
        strict_transport_security_include_subdomains=False,
        # Cookies: core.config sets SESSION_/REMEMBER_COOKIE_SECURE (FORCE_HTTPS or their
        # own switches); Talisman would force the session cookie Secure on plain HTTP too.
        session_cookie_secure=False,
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy=REFERRER_POLICY,
        x_content_type_options=True,
    )
    app.extensions["talisman"] = talisman
    return talisman
