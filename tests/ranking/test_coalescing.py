"""Coalescing of the per-publication jobs through a real `flask worker` (RQ, with its
scheduler) running during the burst: 100 publications in one category (interleaved with a
few in a second category, each publication its own transaction, as requests would commit)
make a bounded number of preview regenerations per plan and of risk-flag jobs, and what
they leave behind reflects every publication.

The bound is structural, not a timing: a plan's first change runs at once (leading edge),
every change within ``RANKING_DEBOUNCE_SECONDS`` of it joins one trailing job; the flag jobs
likewise (``SUPERVISION_FLAGS_DEBOUNCE_SECONDS``, the ids merged into the waiting job). The
window is set long enough here for the burst to fit in it.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from core import jobs
from core.extensions import db as _db
from core.models import OutboxJob
from declare import operations
from ranking import plans, queries
from ranking.models import RunEntry, RunKind
from tests.declare import pdf_bytes, upload
from tests.factories import make_enterprise_user
from tests.ranking.conftest import declaration_data, plan_payload
from tests.workers import start_worker, stop_worker, worker_env

pytestmark = pytest.mark.usefixtures("en_request")

WINDOW = 12  # seconds: longer than the burst (100 + 20 publications) takes here
AC, TOILETS = 100, 20
TIMEOUT = 180
PREVIEW = "ranking.tasks.regenerate_preview"
PRUNE = "ranking.tasks.prune_previews"  # old previews, dropped 30 s later: not waited for
FLAGS = "supervision.flags.tasks.flags_for_declarations"


@pytest.fixture
def app_config(redis_url):
    return {
        "REDIS_URL": redis_url,
        "RANKING_DEBOUNCE_SECONDS": WINDOW,
        "SUPERVISION_FLAGS_DEBOUNCE_SECONDS": WINDOW,
    }


@pytest.fixture
def toilet_catalogue(ranked_catalogue):
    """Two more toilet indicators (test data shaped like grade tables), so that a toilet
    plan has the three core indicators a plan needs."""
    from datetime import date

    from benchmarks.models import BenchmarkIndicator

    cat = ranked_catalogue
    extra = {}
    for code, name, unit, limit, grades in (
        ("flush_noise", "冲水噪声", "dB(A)", 60.0, [["1级", 45.0], ["2级", 50.0], ["3级", 60.0]]),
        ("half_flush", "半冲水量", "L", 4.8, [["1级", 3.0], ["2级", 3.5], ["3级", 4.8]]),
    ):
        extra[code] = BenchmarkIndicator(
            category=cat["toilet"], code=code, name=name, name_en=code, unit=unit,
            direction="lower", mandatory_limit=limit, mandatory_source=cat["gb25502"],
            recommended_value=None, grades=grades, valid_from=date(2018, 8, 1),
            citation="test data",
        )
    _db.session.add_all(extra.values())
    _db.session.commit()
    return {**cat, **extra}


def _toilet_data(cat: dict, water: float) -> dict:
    return {
        "kind": "enterprise",
        "std_code": "Q/ZB 0001-2024",
        "std_name": "坐便器",
        "disclosure": "full_text",
        "commitment_accepted": True,
        "approved_by": "李工",
        "products": [{"name": "连体坐便器", "model": "ZB-100", "category_id": cat["toilet"].id}],
        "indicators": [
            {
                "kind": "performance",
                "name": key,
                "benchmark_indicator_id": cat[key].id,
                "op": "le",
                "value": value,
                "unit": unit,
                "test_method": "GB 25502-2017",
                "mingshi": "",
            }
            for key, unit, value in (
                ("avg_water", "L", water), ("flush_noise", "dB(A)", 48.0), ("half_flush", "L", 3.2)
            )
        ],
        "reference_ids": [cat["gb25502"].id],
    }


def _toilet_plan(cat: dict, evaluator):
    data = plan_payload(
        cat,
        category_id=cat["toilet"].id,
        title="2025 坐便器企业标准领跑者评估方案",
        indicators=[
            {"benchmark_indicator_id": cat["avg_water"].id, "cuts": [4.0, 5.0], "weight": 2.0},
            {"benchmark_indicator_id": cat["flush_noise"].id, "cuts": [45.0, 50.0]},
            {"benchmark_indicator_id": cat["half_flush"].id, "cuts": [3.0, 3.5]},
        ],
    )
    plan = plans.create_plan(evaluator, data)
    plans.activate_plan(plan)
    return plan


def _drafts(cat: dict) -> list[tuple[str, object]]:
    """The burst's drafts, made beforehand (a draft enqueues nothing): AC room-AC
    declarations with every fifth followed by a toilet one."""
    drafts = []
    toilets = 0
    for i in range(AC):
        data = declaration_data(cat, model=f"KFR-35GW/Q{i:03d}", apf=4.6 + (i % 7) / 10)
        drafts.append(("ac", data))
        if i % 5 == 4 and toilets < TOILETS:
            drafts.append(("toilet", _toilet_data(cat, 4.0 + (toilets % 5) / 5)))
            toilets += 1
    versions = []
    for kind, data in drafts:
        enterprise = make_enterprise_user().enterprise
        version = operations.create_draft(enterprise, data)
        operations.attach_text(version, upload(pdf_bytes()))
        versions.append((kind, version))
    _db.session.commit()
    return versions


def _wait_idle(db, proc, log, after_id: int) -> list[OutboxJob]:
    """Wait until every job enqueued after ``after_id`` is done (and none is added for a
    while); returns them."""
    deadline = time.monotonic() + TIMEOUT
    rows: list[OutboxJob] = []
    while time.monotonic() < deadline and proc.poll() is None:
        db.session.rollback()
        rows = list(
            db.session.scalars(
                select(OutboxJob)
                .where(OutboxJob.id > after_id, OutboxJob.func != PRUNE)
                .order_by(OutboxJob.id)
            )
        )
        if rows and all(r.status in ("done", "failed") for r in rows):
            break
        time.sleep(0.25)
    assert rows and all(r.status == "done" for r in rows), (
        [(r.id, r.func, r.status, r.error) for r in rows],
        log.read_text()[-4000:],
    )
    return rows


def test_a_burst_of_publications_makes_a_bounded_number_of_jobs_that_reflect_all_of_them(
    app, db, make_plan, toilet_catalogue, evaluator, _schema, redis_url, tmp_path
):
    cat = toilet_catalogue
    ac_plan = make_plan()
    toilet_plan = _toilet_plan(cat, evaluator)
    db.session.commit()
    jobs.dispatch_pending()
    versions = _drafts(cat)
    assert len(versions) == AC + TOILETS
    marker = db.session.scalar(select(func.max(OutboxJob.id)))

    log = tmp_path / "worker.log"
    proc = start_worker(
        worker_env(_schema, redis_url, tmp_path), log, "ranking", "supervision", "default"
    )
    try:
        _wait_idle(db, proc, log, 0)  # the plans' first previews
        marker = db.session.scalar(select(func.max(OutboxJob.id)))
        time.sleep(0.5)
        for _kind, version in versions:  # one transaction per publication, as requests
            operations.publish(db.session.get(type(version), version.id))
            db.session.commit()
            jobs.dispatch_pending()
        rows = _wait_idle(db, proc, log, marker)
    finally:
        stop_worker(proc)

    by_func: dict[str, list[OutboxJob]] = {}
    for row in rows:
        by_func.setdefault(row.func, []).append(row)
    previews = by_func.get(PREVIEW, [])
    per_plan = {
        plan.id: [r for r in previews if r.args == [plan.id]] for plan in (ac_plan, toilet_plan)
    }
    assert len(previews) == sum(len(v) for v in per_plan.values())
    # Leading edge + one trailing job per plan (a third only if the burst outlasted a window).
    assert all(1 <= len(v) <= 3 for v in per_plan.values()), {
        k: len(v) for k, v in per_plan.items()
    }
    flag_jobs = by_func.get(FLAGS, [])
    assert 1 <= len(flag_jobs) <= 3, [r.args for r in flag_jobs]

    # All of them reflected: the current previews rank every published declaration ...
    ac_ids = sorted(v.declaration_id for k, v in versions if k == "ac")
    toilet_ids = sorted(v.declaration_id for k, v in versions if k == "toilet")
    for plan, ids in ((ac_plan, ac_ids), (toilet_plan, toilet_ids)):
        run = queries.current_run(plan.plan_key, RunKind.PREVIEW)
        ranked = db.session.scalars(
            select(RunEntry.declaration_id).where(RunEntry.run_id == run.id)
        ).all()
        assert sorted(ranked) == ids
    # ... and the flag jobs covered every publication.
    flagged = {int(i) for r in flag_jobs for i in r.args[0]}
    assert flagged == set(ac_ids) | set(toilet_ids)
