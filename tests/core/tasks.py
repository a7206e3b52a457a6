"""Job functions used only by the kernel tests (a ``tasks`` module, as core.jobs requires)."""

from __future__ import annotations

from core.extensions import db
from core.models import User


def rename_user(user_id: int, display_name: str) -> None:
    """An audited write made by a job."""
    db.session.get(User, user_id).display_name = display_name


def fail_until_file_exists(path: str, user_id: int, display_name: str) -> None:
    """Fails (like a job hitting a missing resource) until ``path`` exists, then writes."""
    import os

    if not os.path.exists(path):
        raise RuntimeError(f"marker {path} is missing")
    rename_user(user_id, display_name)
