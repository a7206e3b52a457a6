"""JSON API of supervision: Risk flags (/api/v1/supervision/flags)."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint(
    "api_flags", __name__, url_prefix="/api/v1/supervision/flags", description="Risk flags"
)
