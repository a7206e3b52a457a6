"""Risk flags for declarations of every shape: a catalogue standard (no indicators), an own
standard with benchmark-linked indicators, with unlinked ones only, with both, and a legacy
one without any indicator. Each shape alone and all together make no failed job (issue 9,
finding 2: the merge of an all-None benchmark column crashed the job)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import OutboxJob
from declare import operations
from supervision.flags import operations as flag_store
from tests.declare import catalogue_data
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.factories import make_enterprise_user
from tests.supervision.test_flags_common import (
    apf_row,
    codes,
    commit_and_run,
    extra_rows,
    publish,
    publish_legacy,
)

pytestmark = pytest.mark.usefixtures("en_request")

NOISE = {"kind": "performance", "name": "室内机噪声", "op": "le", "value": 40, "unit": "dB(A)",
         "test_method": "按 GB/T 7725-2022 附录 D"}
SHAPES = ("catalogue", "own", "unlinked", "mixed", "no_indicators")


def make(shape: str, catalogue: dict, *, run: bool = True) -> int:
    """Publish a declaration of ``shape``; returns its declaration id."""
    if shape == "catalogue":
        version = operations.create_draft(make_enterprise_user().enterprise,
                                          catalogue_data(catalogue))
        operations.publish(version)
        if run:
            commit_and_run()
        return version.declaration_id
    if shape == "no_indicators":  # a migrated record: published without any indicator
        return publish_legacy(catalogue, rows=[]).declaration_id
    rows = {
        "own": [apf_row(catalogue, 5.2)],
        "unlinked": [NOISE, *extra_rows(n=2)],
        "mixed": [apf_row(catalogue, 5.2), NOISE, *extra_rows(n=2)],
    }[shape]
    # Without APF among its indicators, an own standard must cite the mandatory standard
    # (GB 21455-2019) to be published at all (issue 9, finding 1).
    refs = None if shape != "unlinked" else [catalogue["gbt7725"].id, catalogue["gb21455"].id]
    return publish(catalogue, rows=rows, std_code=f"Q/SJX 00{SHAPES.index(shape)}1-2024",
                   reference_ids=refs, run=run).declaration_id


def flag_jobs(db) -> list[tuple[str, str | None]]:
    return db.session.execute(
        select(OutboxJob.status, OutboxJob.error)
        .where(OutboxJob.func.like("supervision.%"))
        .order_by(OutboxJob.id)
    ).all()


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_alone_is_flagged_without_a_failed_job(db, catalogue, shape):
    decl = make(shape, catalogue)
    flag_store.recompute(declaration_ids=[decl])
    commit_and_run()
    jobs = flag_jobs(db)
    assert all(status == "done" for status, _ in jobs), jobs
    if shape == "no_indicators":
        assert "missing_test_method" not in codes(decl)


def test_every_shape_in_one_job(db, catalogue):
    ids = [make(shape, catalogue) for shape in SHAPES]
    result = flag_store.recompute(declaration_ids=ids)
    assert result.declarations == len(ids)
    flag_store.recompute()  # the nightly run over everything
    flag_store.recompute(category_id=catalogue["room_ac"].id)
    commit_and_run()
    assert all(status == "done" for status, _ in flag_jobs(db))


class TestWorker:
    """The same through a real `rq worker` on the supervision queue (service run)."""

    @pytest.fixture
    def app_config(self, redis_url):
        return {"REDIS_URL": redis_url}

    def test_a_worker_flags_every_shape_without_a_failed_job(
        self, db, catalogue, _schema, redis_url, tmp_path
    ):
        from tests.workers import start_worker, stop_worker, worker_env

        ids = [make(shape, catalogue) for shape in SHAPES]
        flag_store.request_recompute(ids)
        commit_and_run()
        queued = [r for r in flag_jobs(db)]
        assert queued and all(status == "queued" for status, _ in queued), queued
        db.session.rollback()
        log = tmp_path / "worker.log"
        proc = start_worker(worker_env(_schema, redis_url, tmp_path), log, "supervision",
                            "--burst")
        try:
            assert proc.wait(timeout=120) == 0, log.read_text()[-4000:]
        finally:
            stop_worker(proc)
        db.session.rollback()
        jobs = flag_jobs(db)
        assert jobs and all(status == "done" for status, _ in jobs), (jobs, log.read_text()[-4000:])
