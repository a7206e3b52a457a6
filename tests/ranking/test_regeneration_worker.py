"""A real `rq worker` (with its scheduler) regenerates the preview after a publication."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from core.models import OutboxJob
from ranking import queries
from ranking.models import RunEntry, RunKind
from tests.ranking.conftest import publish
from tests.workers import start_worker, stop_worker, worker_env

pytestmark = pytest.mark.usefixtures("en_request")

TIMEOUT = 90


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url, "RANKING_DEBOUNCE_SECONDS": 1}


def test_a_worker_regenerates_the_preview_after_a_publish(
    app, db, make_plan, ranked_catalogue, _schema, redis_url, tmp_path
):
    plan = make_plan()  # activation: a preview job, scheduled 1 s ahead in RQ
    first = publish(ranked_catalogue, apf=5.1)
    second = publish(ranked_catalogue, apf=4.6)  # same waiting job (debounced)
    rows = db.session.scalars(
        select(OutboxJob).where(OutboxJob.func == "ranking.tasks.regenerate_preview")
    ).all()
    assert [r.status for r in rows] == ["queued"]
    outbox_id = rows[0].id
    assert queries.current_run(plan.plan_key, RunKind.PREVIEW) is None  # nothing ran here
    db.session.rollback()

    log = tmp_path / "worker.log"
    # No --burst: the job is scheduled, and the worker's RQ scheduler enqueues it when due.
    proc = start_worker(worker_env(_schema, redis_url, tmp_path), log, "ranking")
    status = None
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            db.session.rollback()
            status = db.session.get(OutboxJob, outbox_id, populate_existing=True).status
            if status in ("done", "failed"):
                break
            time.sleep(0.2)
    finally:
        stop_worker(proc)
    assert status == "done", log.read_text()[-4000:]

    db.session.rollback()
    row = db.session.get(OutboxJob, outbox_id, populate_existing=True)
    assert row.progress == 1.0 and row.started_at is not None and row.finished_at is not None
    run = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    assert run is not None and run.entry_count == 2
    ranked = db.session.scalars(
        select(RunEntry.declaration_id)
        .where(RunEntry.run_id == run.id)
        .order_by(RunEntry.composite_rank)
    ).all()
    assert ranked == [first.declaration_id, second.declaration_id]
