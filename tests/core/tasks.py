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


def stall_first_run(path: str, key: str) -> None:
    """The first run writes its pid to ``path`` and hangs (a worker to be killed mid-job);
    any later run writes the JobPing ``key`` (with the pid of whoever ran it) and returns."""
    import os
    import time

    from core.jobs import JobPing

    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(300)
    db.session.add(JobPing(key=key, pid=os.getpid()))


def sleep_then_ping(seconds: float, key: str) -> None:
    """A job that takes a while (long enough for Redis to go away under it), then writes."""
    import os
    import time

    from core.jobs import JobPing

    time.sleep(seconds)
    db.session.add(JobPing(key=key, pid=os.getpid()))


def ping_each(ids: list[int]) -> None:
    """A job over a list of ids (as the risk-flag recompute): one JobPing per id."""
    from core.jobs import JobPing

    for i in ids:
        db.session.add(JobPing(key=f"id:{i}", pid=0))
