"""JSON API of supervision: Sampling plans and draws (/api/v1/supervision/sampling)."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint(
    "api_sampling", __name__, url_prefix="/api/v1/supervision/sampling", description="Sampling plans and draws"
)
