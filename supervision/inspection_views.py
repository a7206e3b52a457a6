"""HTML pages of supervision: Inspections, rectification and complaints (owned by one slice; see docs/CONVENTIONS.md)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("inspections", __name__, url_prefix="/supervision/inspections")
