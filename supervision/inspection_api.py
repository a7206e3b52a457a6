"""JSON API of supervision: Inspections, rectification and complaints (/api/v1/supervision/inspections)."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint(
    "api_inspections", __name__, url_prefix="/api/v1/supervision/inspections", description="Inspections, rectification and complaints"
)
