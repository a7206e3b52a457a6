"""HTML pages of supervision: Sampling plans and draws (owned by one slice; see docs/CONVENTIONS.md)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sampling", __name__, url_prefix="/supervision/sampling")
