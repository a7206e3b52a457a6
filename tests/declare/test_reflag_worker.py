"""The re-flagging job through a real `rq worker` process against Redis (service run)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import local_today
from benchmarks import operations as catalogue_ops
from core import jobs
from core.models import OutboxJob
from declare import operations
from declare.models import ReferenceFlag
from tests.declare import (
    catalogue_data,
    en_request_fixture,  # noqa: F401
    owner_fixture,  # noqa: F401
    publish_enterprise,
)
from tests.factories import make_enterprise_user
from tests.workers import start_worker, stop_worker, worker_env

pytestmark = pytest.mark.usefixtures("en_request")


@pytest.fixture
def app_config(redis_url):
    return {"REDIS_URL": redis_url}


def test_withdrawal_is_reflagged_by_a_real_worker(db, owner, catalogue, _schema, redis_url, tmp_path):
    cited = publish_enterprise(owner.enterprise, catalogue)
    followed = operations.create_draft(make_enterprise_user().enterprise, catalogue_data(catalogue))
    operations.publish(followed)
    db.session.commit()
    jobs.dispatch_pending()
    std = catalogue["gbt7725"]

    catalogue_ops.mark_withdrawn(std, withdrawn_date=local_today() - timedelta(days=1))
    db.session.commit()
    jobs.dispatch_pending()  # after the commit: handed to Redis, not run here
    row = db.session.scalars(
        select(OutboxJob).where(OutboxJob.func == "declare.tasks.reflag_references")
    ).one()
    assert row.status == "queued"
    assert db.session.scalars(select(ReferenceFlag)).all() == []
    outbox_id = row.id
    db.session.rollback()

    log = tmp_path / "worker.log"
    proc = start_worker(worker_env(_schema, redis_url, tmp_path), log, "default", "--burst")
    try:
        assert proc.wait(timeout=90) == 0, log.read_text()[-4000:]
    finally:
        stop_worker(proc)

    db.session.rollback()
    assert db.session.get(OutboxJob, outbox_id, populate_existing=True).status == "done"
    flags = db.session.execute(
        select(ReferenceFlag.version_id, ReferenceFlag.reason)
        .where(ReferenceFlag.standard_id == std.id, ReferenceFlag.cleared_at.is_(None))
        .order_by(ReferenceFlag.version_id)
    ).all()
    assert [tuple(f) for f in flags] == [(cited.id, "withdrawn"), (followed.id, "withdrawn")]
