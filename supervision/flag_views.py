"""HTML pages of supervision: Risk flags (owned by one slice; see docs/CONVENTIONS.md)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("flags", __name__, url_prefix="/supervision/flags")
