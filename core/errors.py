"""Domain errors and how they reach users: field errors in forms, 422/409 JSON on the API."""

from __future__ import annotations

from flask import jsonify, render_template, request


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


def _is_api() -> bool:
    return bool(request.blueprint and request.blueprint.startswith("api"))


def register(app) -> None:
    @app.errorhandler(ValidationFailed)
    def _validation(exc: ValidationFailed):
        body = {"code": 422, "status": "Unprocessable Entity", "errors": {"json": exc.errors}}
        if _is_api():
            return jsonify(body), 422
        return render_template("errors/error.html", code=422, errors=exc.errors), 422

    @app.errorhandler(Conflict)
    def _conflict(exc: Conflict):
        body = {
            "code": 409,
            "status": "Conflict",
            "message": exc.message,
            "current_lock_version": exc.current_version,
        }
        if _is_api():
            return jsonify(body), 409
        return render_template("errors/error.html", code=409, message=exc.message), 409

    for code in (400, 401, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _http_error(code))


def _http_error(code: int):
    def handler(exc):
        if _is_api() or request.accept_mimetypes.best == "application/json":
            description = getattr(exc, "description", None) or ""
            return jsonify({"code": code, "status": str(code), "message": description}), code
        return render_template("errors/error.html", code=code), code

    return handler
