"""Two real `flask scheduler` processes started at once run each due job once (Redis, the test
database); the looping scheduler stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from core import ROOT
from core.models import OutboxJob, ScheduledRun
from core.schedule import SCHEDULE
from tests.workers import worker_env

pytestmark = pytest.mark.slow
TIMEOUT = 60


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url}


def _scheduler(env: dict, log_path, *args: str) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115  (closed in _finish)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", *args],
        cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    proc.log_file = log  # type: ignore[attr-defined]
    return proc


def _finish(proc: subprocess.Popen) -> int:
    try:
        return proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.log_file.close()  # type: ignore[attr-defined]


def test_two_schedulers_started_at_once_run_each_due_job_once(db, _schema, redis_url, tmp_path):
    env = worker_env(_schema, redis_url, tmp_path)
    args = ("--once", "--now", "2026-12-08T02:31:10+08:00")
    procs = [_scheduler(env, tmp_path / f"s{i}.log", *args) for i in range(2)]
    codes = [_finish(p) for p in procs]
    logs = [(tmp_path / f"s{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], logs
    db.session.rollback()
    runs = db.session.execute(select(ScheduledRun.job_id, ScheduledRun.due_at)).all()
    assert len(runs) == len(set(runs)) == len(SCHEDULE), logs  # every job of the registry, once
    assert len({r.claimed_by for r in db.session.scalars(select(ScheduledRun))}) >= 1
    # The outbox jobs went to RQ once each; the flush ran in a scheduler process.
    funcs = db.session.scalars(select(OutboxJob.func)).all()
    assert sorted(funcs) == sorted(e.handle for e in SCHEDULE if not e.direct)
    assert set(db.session.scalars(select(OutboxJob.status))) == {"queued"}
    flush = db.session.scalar(select(ScheduledRun).where(ScheduledRun.job_id == "outbox-flush"))
    assert flush.status == "done", flush.error
    # Both processes reported; together they started every run.
    started = sum(int(log.split("started ")[1].split()[0]) for log in logs)
    assert started == len(SCHEDULE), logs


def test_two_looping_schedulers_claim_each_due_time_once_and_stop_on_sigterm(
    db, _schema, redis_url, tmp_path
):
    env = worker_env(_schema, redis_url, tmp_path)
    procs = [_scheduler(env, tmp_path / f"loop{i}.log", "--only", "outbox-flush")
             for i in range(2)]
    try:
        deadline = time.monotonic() + TIMEOUT
        count = 0
        while time.monotonic() < deadline:
            db.session.rollback()
            count = db.session.scalar(select(func.count()).select_from(ScheduledRun))
            if count:
                break
            time.sleep(0.2)
        time.sleep(1.5)  # both had time to try the same due time
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [_finish(p) for p in procs]
    logs = [(tmp_path / f"loop{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], logs
    assert all("scheduler stopped" in log for log in logs), logs
    db.session.rollback()
    dues = db.session.scalars(select(ScheduledRun.due_at)).all()
    assert dues and len(dues) == len(set(dues)), logs
