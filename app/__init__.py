"""The composition root: the kernel (``core``) and every domain package in one Flask app.

The only package that imports all the others (Indico's ``web/flask/app.py``): domain models
(every table known before create_all and migrations), their signal receivers, pages, API and
CLI, and the home page. ``wsgi.py`` is ``app = create_app()``.
"""

from __future__ import annotations

from flask import Flask

import core


def create_app(config: dict | None = None) -> Flask:
    from core import jobs

    app = core.make_app(config)
    _import_models_and_receivers()
    _install_kernel_hooks()
    _register_blueprints(app)
    _register_cli(app)
    jobs.set_app_factory(create_app)  # a job run outside any app context builds one
    return app


def _import_models_and_receivers() -> None:
    import benchmarks.models  # noqa: F401  (every table known before create_all/migrations)
    import declare.models  # noqa: F401
    import declare.receivers  # noqa: F401
    import declare.tasks  # noqa: F401  (registers its daily reminder, core.notifications)
    import ranking.models  # noqa: F401
    import ranking.receivers  # noqa: F401
    import supervision.models  # noqa: F401
    import supervision.receivers  # noqa: F401
    import supervision.inspections.tasks  # noqa: F401  (its daily reminder)


def _install_kernel_hooks() -> None:
    from core import accounts
    from declare.operations import register_enterprise

    # Admins create enterprise accounts through the same rules as the registration page.
    accounts.set_enterprise_registrar(register_enterprise)


def _register_blueprints(app: Flask) -> None:
    from benchmarks.api import blp as catalogue_api
    from benchmarks.views import bp as catalogue_bp
    from declare.api import blp as declare_api
    from declare.views import bp as declare_bp
    from declare.views import home
    from ranking.api import blp as ranking_api
    from ranking.views import bp as ranking_bp
    from supervision.complaints.api import blp as complaints_api
    from supervision.complaints.views import bp as complaints_bp
    from supervision.flags.api import blp as flags_api
    from supervision.flags.views import bp as flags_bp
    from supervision.inspections.api import blp as inspections_api
    from supervision.inspections.views import bp as inspections_bp
    from supervision.sampling.api import blp as sampling_api
    from supervision.sampling.views import bp as sampling_bp

    app.add_url_rule("/", endpoint="index", view_func=home)  # the kernel links to "index"
    for bp in (
        catalogue_bp,
        declare_bp,
        ranking_bp,
        flags_bp,
        sampling_bp,
        inspections_bp,
        complaints_bp,
    ):
        app.register_blueprint(bp)
    for blp in (
        catalogue_api,
        declare_api,
        ranking_api,
        flags_api,
        sampling_api,
        inspections_api,
        complaints_api,
    ):
        core.register_api(blp)


def _register_cli(app: Flask) -> None:
    from benchmarks.cli import register_cli as catalogue_cli
    from declare.cli import register_cli as declare_cli
    from ranking.cli import register_cli as ranking_cli
    from supervision.cli import register_cli as supervision_cli

    catalogue_cli(app)
    declare_cli(app)
    ranking_cli(app)  # after declare's: adds the 领跑者 part to `flask demo load`
    supervision_cli(app)
