"""supervision's reactions to declare's and the catalogue's signals (imported by create_app)."""

from __future__ import annotations
