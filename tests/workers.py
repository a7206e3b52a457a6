"""Start and stop real `flask worker` processes (RQ, forked work horses) for service tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core import ROOT


#: core.workers' timings for test workers: a dead worker's job is noticed in ~4 s, an idle
#: worker runs maintenance every second (production: 5/15/10/15 s). The mechanisms are the
#: same; a test waits for them seconds, not half a minute.
TEST_TIMINGS = {
    "JOB_HEARTBEAT_SECONDS": "1",
    "JOB_DEAD_AFTER_SECONDS": "4",
    "JOB_MAINTENANCE_SECONDS": "1",
    "JOB_FLUSH_AFTER_SECONDS": "2",
}


def worker_env(database_url: str, redis_url: str, tmp_path: Path, **extra: str) -> dict:
    """Environment for a real `flask worker` process on the test database and Redis, with
    short job timings (``TEST_TIMINGS``; ``extra`` overrides any of them)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"JOB_RETRY_INTERVALS", "RATELIMIT_STORAGE_URI", "FLASK_APP"}
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="test-secret",
        UPLOAD_DIR=str(tmp_path / "uploads"),
        MAIL_FOLDER=str(tmp_path / "mail"),
        OPEN_DATA_DIR=str(tmp_path / "opendata"),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        PYTHONUNBUFFERED="1",
        **TEST_TIMINGS,
    )
    env.update(extra)
    return env


def start_worker(env: dict, log_path: Path, *args: str) -> subprocess.Popen:
    """`flask --app wsgi worker …` in its own process group (worker, scheduler, horses)."""
    log = open(log_path, "w")  # noqa: SIM115  (closed by stop_worker)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *args],
        cwd=str(ROOT),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_file = log  # type: ignore[attr-defined]
    return proc


def stop_worker(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Warm shutdown (SIGTERM, as an operator would), then SIGKILL the group if it hangs."""
    import signal

    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
    finally:
        proc.log_file.close()  # type: ignore[attr-defined]
