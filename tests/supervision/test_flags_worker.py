"""A real `rq worker` process on the ``supervision`` queue computes the flags after a publish
(service run: Redis, and PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import OutboxJob
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.supervision.test_flags_common import apf_row, extra_rows, flags, publish
from tests.workers import start_worker, stop_worker, worker_env

pytestmark = pytest.mark.usefixtures("en_request")

TIMEOUT = 120


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url}


def test_a_worker_flags_a_copied_standard_after_its_publication(
    db, catalogue, _schema, redis_url, tmp_path
):
    rows = [apf_row(catalogue, 5.3), *extra_rows(n=5)]
    original = publish(catalogue, rows=rows)
    copy = publish(catalogue, rows=rows, std_code="Q/ABC 0007-2025")
    queued = db.session.scalars(
        select(OutboxJob)
        .where(OutboxJob.func == "supervision.flags.tasks.flags_for_declarations")
        .order_by(OutboxJob.id)
    ).all()
    # The second publication joined the job still waiting for a worker: one job, both ids.
    assert [(r.args, r.queue, r.status) for r in queued] == [
        ([sorted([original.declaration_id, copy.declaration_id])], "supervision", "queued"),
    ]
    assert flags() == []  # handed to Redis after the commits, not run here
    ids = [r.id for r in queued]
    db.session.rollback()

    log = tmp_path / "worker.log"
    proc = start_worker(worker_env(_schema, redis_url, tmp_path), log, "supervision", "--burst")
    try:
        assert proc.wait(timeout=TIMEOUT) == 0, log.read_text()[-4000:]
    finally:
        stop_worker(proc)

    db.session.rollback()
    done = [db.session.get(OutboxJob, i, populate_existing=True) for i in ids]
    assert [(r.status, r.progress) for r in done] == [("done", 1.0)], (
        log.read_text()[-4000:]
    )
    assert [(f.code, f.key) for f in flags(copy.declaration_id)] == [
        ("near_identical", f"indicator_table:{original.declaration_id}")
    ]
    assert [(f.code, f.key) for f in flags(original.declaration_id)] == [
        ("near_identical", f"indicator_table:{copy.declaration_id}")
    ]
    evidence = flags(copy.declaration_id)[0].evidence
    assert evidence["similarity"] == 1.0 and "near-identical" in evidence["reason"]
