"""Probe routes for the kernel tests: views that enqueue jobs, raise, or check roles.

They are registered on the test's app before its first request, so the kernel is exercised
through real requests (commit hook, error handlers, locale) without depending on the pages of
other packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Blueprint, abort, request

from core import ROOT
from core.auth import api_roles_required, roles_required
from core.errors import Conflict, ValidationFailed
from core.models import Role


def _build_probes() -> tuple[Blueprint, Blueprint]:
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


@pytest.fixture
def probes(app):
    """Register the probe routes (call before the app's first request)."""
    for bp in _build_probes():
        app.register_blueprint(bp)
    return app


def worker_env(database_url: str, redis_url: str, tmp_path: Path, **extra: str) -> dict:
    """Environment for a real `flask worker` process on the test database and Redis."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"JOB_RETRY_INTERVALS", "RATELIMIT_STORAGE_URI", "FLASK_APP"}
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="test-secret",
        UPLOAD_DIR=str(tmp_path / "uploads"),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_worker(env: dict, log_path: Path, *args: str) -> subprocess.Popen:
    """`flask --app wsgi worker …` in its own process group (worker, scheduler, horses)."""
    log = open(log_path, "w")  # noqa: SIM115  (closed by stop_worker)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *args],
        cwd=str(ROOT),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_file = log  # type: ignore[attr-defined]
    return proc


def stop_worker(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Warm shutdown (SIGTERM, as an operator would), then SIGKILL the group if it hangs."""
    import signal

    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
    finally:
        proc.log_file.close()  # type: ignore[attr-defined]
