"""The shared kernel: extensions, accounts, jobs, audit log, errors and API/validation helpers.

``make_app`` builds the Flask app with the kernel only; the composition root (``app``) adds the
domain packages. The kernel imports no domain package (tests/core/test_layering.py).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from flask import Flask, g, request, session
from flask_babel import lazy_gettext

ROOT = Path(__file__).resolve().parent.parent

# pandas 3 backs its string dtype with pyarrow whenever pyarrow is installed (the open-data
# release needs it) and with Python objects otherwise. The two differ in edge cases that the
# risk-flag frames met (near-identical and copying flags went missing once pyarrow arrived),
# so every process uses one storage, the one every figure and test was made with.
pd.set_option("mode.string_storage", "python")


def make_app(config: dict | None = None) -> Flask:
    """The app with the kernel: config, extensions, errors, one commit per request, template
    helpers, the kernel's pages, API and CLI. ``app.create_app`` adds the domains."""
    app = Flask(
        "qibiao",
        root_path=str(ROOT),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    from core import config as config_mod

    app.config.update(config_mod.load(Path(app.instance_path), config))

    from core import audit, auth, bounds, errors, mail, page_cache  # noqa: F401  (listeners)
    from core.extensions import api, babel, csrf, db, limiter, login_manager, migrate

    bounds.register(app)  # before any route: it bounds every <int:…>
    from core import security

    security.init_app(app)  # headers on every response; the HTTPS redirect before any page

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "core.login"
    login_manager.login_message = lazy_gettext("Please log in to access this page.")
    login_manager.localize_callback = str  # flash the text in the visitor's language, not a lazy
    login_manager.login_message_category = "warning"
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=_select_locale,
        default_translation_directories=str(ROOT / "translations"),
    )
    limiter.init_app(app)
    page_cache.init_app(app)  # rendered public pages (leaderboards, declaration details)
    mail.init_app(app)
    api.init_app(app)
    errors.register(app)

    from core.accounts_api import blp as accounts_api
    from core.accounts_views import bp as accounts_bp
    from core.api import blp as core_api
    from core.console import anchors_bp
    from core.console import bp as console_bp
    from core.notifications.views import bp as notifications_bp
    from core.views import bp as core_bp

    app.register_blueprint(core_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(anchors_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(notifications_bp)
    register_api(core_api)
    register_api(accounts_api)
    _register_commit(app)
    _register_template_helpers(app)

    from core import cli

    cli.register(app)
    from core.notifications import cli as notify_cli

    notify_cli.register(app)
    return app


def register_api(blp) -> None:
    """Add an API blueprint: bearer tokens only, so no CSRF token (see core.auth)."""
    from core.extensions import api, csrf

    api.register_blueprint(blp)
    csrf.exempt(blp)


def _select_locale() -> str:
    """The visitor's chosen language (?lang= or the session's language switch); an API client
    (or a request asking for JSON) also by its ``Accept-Language``; else the default (Chinese).
    Pages ignore ``Accept-Language``: a page is in the language its switch says, whatever the
    browser's. Jobs and CLI use the default."""
    from flask import current_app, has_request_context

    from core.errors import is_api_request

    langs = current_app.config["LANGUAGES"]
    if has_request_context():
        chosen = request.args.get("lang") or session.get("lang")
        if chosen in langs:
            return chosen
        if request.accept_languages and (
            is_api_request() or request.accept_mimetypes.best == "application/json"
        ):
            best = request.accept_languages.best_match(langs)
            if best:
                return best
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _register_commit(app: Flask) -> None:
    """One commit per request, here: success commits then dispatches jobs; errors roll back."""
    from core import jobs
    from core.extensions import db

    @app.after_request
    def _commit(response):
        if response.status_code < 400:
            db.session.commit()
            jobs.dispatch_pending()
        else:
            db.session.rollback()
            jobs.discard_pending()
        return response

    @app.teardown_request
    def _rollback(exc):
        if exc is not None:
            db.session.rollback()
            jobs.discard_pending()


def _register_template_helpers(app: Flask) -> None:
    from flask_babel import format_date, format_datetime, format_decimal, format_percent, get_locale

    from core.i18n import region_label, render_coded, role_label
    from core.models import Role

    # Dates as Chinese readers expect them (2026-11-22 14:05, Beijing time) in both languages.
    app.jinja_env.filters["datetimeformat"] = lambda v: format_datetime(v, "yyyy-MM-dd HH:mm") if v else ""
    app.jinja_env.filters["dateformat"] = lambda v: format_date(v, "yyyy-MM-dd") if v else ""
    app.jinja_env.filters["numberformat"] = lambda v, fmt=None: (
        "" if v is None else format_decimal(v, format=fmt)
    )
    # Generated reasons stored as codes (core.i18n.coded), and 行政区划 codes with their names.
    app.jinja_env.filters["reason"] = render_coded
    app.jinja_env.filters["region"] = region_label
    app.jinja_env.filters["role"] = role_label
    app.jinja_env.filters["percentformat"] = lambda v: "" if v is None else format_percent(v / 100, "#,##0.0%")

    @app.context_processor
    def _inject():
        return {"Role": Role, "current_locale": str(get_locale()), "g": g}
