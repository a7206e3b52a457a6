"""The shared kernel: the app factory, extensions, accounts, jobs, audit log and errors."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request, session
from flask_babel import lazy_gettext

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        "qibiao",
        root_path=str(ROOT),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    from core import config as config_mod

    app.config.update(config_mod.load(Path(app.instance_path), config))

    from core import audit, auth, errors  # noqa: F401  (audit and auth register listeners)
    from core.extensions import api, babel, csrf, db, limiter, login_manager, migrate

    import benchmarks.models  # noqa: F401  (every table known before create_all/migrations)
    import declare.models  # noqa: F401
    import declare.receivers  # noqa: F401
    import ranking.models  # noqa: F401
    import ranking.receivers  # noqa: F401
    import supervision.models  # noqa: F401
    import supervision.receivers  # noqa: F401

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
    api.init_app(app)
    errors.register(app)
    _register_blueprints(app, api, csrf)
    _register_commit(app)
    _register_template_helpers(app)

    from core import cli

    cli.register(app)
    return app


def _select_locale() -> str:
    """The visitor's chosen language (?lang= or the session); jobs and CLI use the default."""
    from flask import current_app, has_request_context

    langs = current_app.config["LANGUAGES"]
    if has_request_context():
        chosen = request.args.get("lang") or session.get("lang")
        if chosen in langs:
            return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _register_blueprints(app: Flask, api, csrf) -> None:
    from benchmarks.api import blp as catalogue_api
    from benchmarks.views import bp as catalogue_bp
    from core.api import blp as core_api
    from core.console import bp as console_bp
    from core.views import bp as core_bp
    from declare.api import blp as declare_api
    from declare.views import bp as declare_bp
    from ranking.api import blp as ranking_api
    from ranking.views import bp as ranking_bp
    from supervision.flag_api import blp as flags_api
    from supervision.flag_views import bp as flags_bp
    from supervision.inspection_api import blp as inspections_api
    from supervision.inspection_views import bp as inspections_bp
    from supervision.sampling_api import blp as sampling_api
    from supervision.sampling_views import bp as sampling_bp

    for bp in (core_bp, catalogue_bp, declare_bp, ranking_bp, flags_bp, sampling_bp, inspections_bp):
        app.register_blueprint(bp)
    app.register_blueprint(console_bp)
    for blp in (
        core_api,
        catalogue_api,
        declare_api,
        ranking_api,
        flags_api,
        sampling_api,
        inspections_api,
    ):
        api.register_blueprint(blp)
        csrf.exempt(blp)  # bearer tokens only; see core.auth


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

    from core.models import Role

    # Dates as Chinese readers expect them (2026-11-22 14:05, Beijing time) in both languages.
    app.jinja_env.filters["datetimeformat"] = lambda v: format_datetime(v, "yyyy-MM-dd HH:mm") if v else ""
    app.jinja_env.filters["dateformat"] = lambda v: format_date(v, "yyyy-MM-dd") if v else ""
    app.jinja_env.filters["numberformat"] = lambda v, fmt=None: (
        "" if v is None else format_decimal(v, format=fmt)
    )
    app.jinja_env.filters["percentformat"] = lambda v: "" if v is None else format_percent(v / 100, "#,##0.0%")

    @app.context_processor
    def _inject():
        return {"Role": Role, "current_locale": str(get_locale()), "g": g}
