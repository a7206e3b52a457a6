"""A job made to fail in a real `rq worker` is listed on the admins' failed-jobs page and
succeeds when retried from there (service run: Redis)."""

from __future__ import annotations

import pytest

from core import jobs
from core.models import OutboxJob, Role, User
from tests.workers import start_worker, stop_worker, worker_env

TIMEOUT = 60


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url, "JOB_RETRY_INTERVALS": []}


def _burst(_schema, redis_url, tmp_path, name):
    log = tmp_path / f"{name}.log"
    env = worker_env(_schema, redis_url, tmp_path, JOB_RETRY_INTERVALS="")
    proc = start_worker(env, log, "default", "--burst")
    try:
        assert proc.wait(timeout=TIMEOUT) == 0, log.read_text()[-4000:]
    finally:
        stop_worker(proc)
    return log


def test_a_job_failed_in_a_worker_is_listed_and_retried(
    db, client, login_as, _schema, redis_url, tmp_path
):
    admin = login_as(Role.ADMIN)
    marker = tmp_path / "marker"
    row = jobs.enqueue("tests.core.tasks.fail_until_file_exists", str(marker), admin.id, "w")
    db.session.commit()
    jobs.dispatch_pending()
    outbox_id = row.id
    db.session.rollback()

    log = _burst(_schema, redis_url, tmp_path, "first")
    db.session.rollback()
    failed = db.session.get(OutboxJob, outbox_id, populate_existing=True)
    assert failed.status == "failed", log.read_text()[-4000:]
    assert "no retry left" in failed.error and "marker" in failed.error
    html = client.get("/admin/jobs").get_data(as_text=True)
    assert f'id="job-{outbox_id}"' in html

    marker.write_text("ok")
    assert client.post(f"/admin/jobs/{outbox_id}/retry").status_code == 302
    db.session.rollback()
    assert db.session.get(OutboxJob, outbox_id, populate_existing=True).status == "queued"
    log = _burst(_schema, redis_url, tmp_path, "second")
    db.session.rollback()
    done = db.session.get(OutboxJob, outbox_id, populate_existing=True)
    assert (done.status, done.error) == ("done", None), log.read_text()[-4000:]
    assert db.session.get(User, admin.id, populate_existing=True).display_name == "w"
