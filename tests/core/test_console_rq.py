"""The console's queues and workers with a real `flask worker` (Redis): the worker is listed
with its queues, a queued job is counted, and the job it ran shows as done with its duration."""

from __future__ import annotations

import re
import time

import pytest

from core import jobs
from core.models import OutboxJob, Role
from tests.workers import start_worker, stop_worker, worker_env

TIMEOUT = 60


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url, "JOB_RETRY_INTERVALS": []}


def _wait(predicate, what: str):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_queues_and_a_real_worker_are_shown(db, client, login_as, _schema, redis_url, tmp_path):
    login_as(Role.ADMIN)
    row = jobs.enqueue("core.tasks.ping", "rq-console")
    db.session.commit()
    jobs.dispatch_pending()
    html = client.get("/admin/console").get_data(as_text=True)
    waiting = re.search(r'id="queue-default"><td><code>default</code></td><td class="num">(\d+)', html)
    assert waiting and waiting.group(1) == "1"
    assert 'id="no-workers"' in html

    log = tmp_path / "worker.log"
    proc = start_worker(worker_env(_schema, redis_url, tmp_path), log, "default")
    try:
        def listed():
            page = client.get("/admin/console").get_data(as_text=True)
            return page if 'class="worker"' in page and "default" in page else None

        page = _wait(listed, "the worker on the console")

        def done():
            db.session.expire_all()
            return db.session.get(OutboxJob, row.id).status == "done"

        _wait(done, "the job to run")
        page = client.get("/admin/console").get_data(as_text=True)
    finally:
        stop_worker(proc)
    assert f'id="recent-{row.id}" data-status="done"' in page, log.read_text()[-3000:]
    assert re.search(r'id="queue-default"><td><code>default</code></td><td class="num">0<', page)
