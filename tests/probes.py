"""Probe routes for the kernel tests: views that enqueue jobs, raise, or check roles.

They are registered on every test app when it is built (``tests/conftest.py``), before its
first request, so the kernel is exercised through real requests (commit hook, error handlers,
locale) without depending on the pages of other packages. Test apps are shared between tests,
so the probes cannot be added later: Flask refuses new routes after the first request.
"""

from __future__ import annotations

import os

from flask import Blueprint, abort, request

from core.auth import api_roles_required, roles_required
from core.errors import Conflict, ValidationFailed
from core.models import Role


def build_probes() -> tuple[Blueprint, Blueprint]:
    pages = Blueprint("probe", __name__, url_prefix="/_probe")
    api = Blueprint("api_probe", __name__, url_prefix="/api/v1/_probe")

    @pages.post("/enqueue/<int:status>")
    def enqueue(status: int):
        """A business write (a marker row) plus a job, answered with ``status``."""
        from core import jobs
        from core.extensions import db
        from core.jobs import JobPing

        key = request.args["key"]
        db.session.add(JobPing(key=f"write:{key}", pid=os.getpid()))
        jobs.enqueue(request.args.get("func", "core.tasks.ping"), key)
        return "ok", status

    @pages.post("/enqueue-then-raise")
    def enqueue_then_raise():
        from core import jobs

        jobs.enqueue("core.tasks.ping", request.args["key"])
        raise RuntimeError("the view failed after enqueueing")

    @pages.get("/admin-only")
    @roles_required(Role.ADMIN)
    def admin_only():
        return "admin page"

    @pages.get("/validation")
    def validation():
        raise ValidationFailed({"products.0.barcode": "not an EAN-13 barcode"})

    @pages.get("/conflict")
    def conflict():
        raise Conflict("edited meanwhile", current_version=4)

    @pages.get("/abort/<int:code>")
    def page_abort(code: int):
        abort(code)

    @api.get("/admin-only")
    @api_roles_required(Role.ADMIN)
    def api_admin_only():
        return {"ok": True}

    @api.get("/validation")
    def api_validation():
        raise ValidationFailed({"products.0.barcode": "not an EAN-13 barcode"})

    @api.get("/conflict")
    def api_conflict():
        raise Conflict("edited meanwhile", current_version=4)

    @api.get("/boom")
    def api_boom():
        raise RuntimeError("unexpected")

    @api.post("/echo")
    def api_echo():
        return {"size": len(request.get_data())}

    return pages, api


def register_probes(app) -> None:
    for bp in build_probes():
        app.register_blueprint(bp)
