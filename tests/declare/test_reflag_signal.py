"""Re-flagging tells the packages to the right: one ``declaration_changed`` per batch.

A standard withdrawn in the catalogue opens ReferenceFlags on the declarations relying on it;
the rankings exclude a declaration with an open flag (entry requirement "references valid"),
so the job must send the signal for the preview leaderboards to follow at once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import local_today
from benchmarks import operations as catalogue_ops
from benchmarks.importer import load_directory
from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard
from core import jobs
from core.models import OutboxJob, Role
from declare import operations, tasks
from declare.signals import declaration_changed
from tests.declare import (
    catalogue_data,
    en_request_fixture,  # noqa: F401
    owner_fixture,  # noqa: F401
    pdf_bytes,
    publish_enterprise,
    upload,
)
from tests.factories import make_enterprise_user

pytestmark = pytest.mark.usefixtures("en_request")

REFLAG = "declare.tasks.reflag_references"
PREVIEW = "ranking.tasks.regenerate_preview"


def commit_and_run_jobs(db) -> None:
    """What the request teardown does: commit, then run the outbox (inline: REDIS_URL unset)."""
    db.session.commit()
    jobs.dispatch_pending()


@pytest.fixture
def sent():
    """Every ``declaration_changed`` sent while the test runs, as its keyword arguments."""
    calls: list[dict] = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    with declaration_changed.connected_to(receiver):
        yield calls


def test_one_signal_for_the_batch_only_when_flags_change(db, owner, catalogue, sent):
    cited = publish_enterprise(owner.enterprise, catalogue)
    other = make_enterprise_user()
    followed = operations.create_draft(other.enterprise, catalogue_data(catalogue))
    operations.publish(followed)
    db.session.commit()
    std = catalogue["gbt7725"]
    sent.clear()  # the publications' own signals

    std.withdrawn_date = local_today() - timedelta(days=1)
    db.session.commit()
    assert tasks.reflag_references([std.id]) == {"opened": 2, "cleared": 0}
    assert sent == [
        {
            "declaration_ids": sorted([cited.declaration_id, followed.declaration_id]),
            "enterprise_ids": sorted([owner.enterprise.id, other.enterprise.id]),
            "category_ids": [catalogue["room_ac"].id],
            "status": "reflagged",
            "standard_ids": [std.id],
        }
    ]
    db.session.commit()

    # Nothing changed: nothing to tell (the nightly run re-checks everything).
    assert tasks.reflag_references([std.id]) == {"opened": 0, "cleared": 0}
    assert tasks.reflag_all() == {"opened": 0, "cleared": 0}
    assert len(sent) == 1

    # Restored (a catalogue correction): the cleared flags are news too.
    std.withdrawn_date = None
    db.session.commit()
    assert tasks.reflag_references([std.id]) == {"opened": 0, "cleared": 2}
    assert len(sent) == 2
    assert sent[1]["declaration_ids"] == sent[0]["declaration_ids"]
    assert sent[1]["status"] == "reflagged"


def test_only_the_declarations_whose_flags_changed_are_named(db, owner, catalogue, sent):
    cites_old_ac = publish_enterprise(owner.enterprise, catalogue)
    toilet = publish_enterprise(
        make_enterprise_user().enterprise,
        catalogue,
        std_code="Q/CC 0002-2024",
        std_name="坐便器",
        products=[{"name": "连体坐便器", "model": "C-1", "category_id": catalogue["toilet"].id}],
        indicators=[
            {
                "kind": "performance",
                "name": "平均用水量",
                "benchmark_indicator_id": catalogue["avg_water"].id,
                "op": "le",
                "value": 4.0,
                "unit": "L",
                "test_method": "GB 25502-2017 附录 A",
            }
        ],
        reference_ids=[catalogue["gb25502"].id],
    )
    sent.clear()
    catalogue["gb25502"].replaced_by_code = "GB 25502-2024"
    db.session.commit()
    tasks.reflag_references([catalogue["gb25502"].id, catalogue["gbt7725"].id])
    assert len(sent) == 1
    assert sent[0]["declaration_ids"] == [toilet.declaration_id]
    assert sent[0]["category_ids"] == [catalogue["toilet"].id]
    assert cites_old_ac.declaration_id not in sent[0]["declaration_ids"]


# --------------------------------------------------------------------------- with rankings


def _gas_declaration(enterprise, benches: dict, refs: list[int], n: int, values: dict):
    rows = [
        {
            "kind": "performance",
            "name": code,
            "benchmark_indicator_id": benches[code].id,
            "op": "le" if benches[code].direction == "lower" else "ge",
            "value": value,
            "unit": benches[code].unit,
            "test_method": "按 GB 20665-2015 规定的试验方法",
        }
        for code, value in values.items()
    ]
    category = db_category("gas_water_heater")
    version = operations.create_draft(
        enterprise,
        {
            "kind": "enterprise",
            "std_code": f"Q/RS{'ABC'[n]} 0001-2025",
            "std_name": "家用燃气快速热水器",
            "commitment_accepted": True,
            "approved_by": "王工",
            "products": [
                {"name": "燃气快速热水器", "model": f"JSQ25-13A{n:02d}", "category_id": category.id}
            ],
            "indicators": rows,
            "reference_ids": refs,
        },
    )
    operations.attach_text(version, upload(pdf_bytes()))
    operations.publish(version)
    return version


def db_category(code: str) -> ProductCategory:
    from core.extensions import db

    return db.session.scalar(select(ProductCategory).where(ProductCategory.code == code))


def test_preview_leaderboard_excludes_a_declaration_whose_reference_is_withdrawn(db, make_user):
    """Withdrawing a cited standard in the catalogue re-ranks the preview through the
    re-flagging job's signal (ranking does not listen to the catalogue itself)."""
    from ranking import plans as ranking_plans
    from ranking import queries as ranking_queries
    from ranking.models import RunKind

    assert all(r.ok for r in load_directory())
    db.session.commit()
    category = db_category("gas_water_heater")
    benches = {
        b.code: b
        for b in db.session.scalars(
            select(BenchmarkIndicator).where(BenchmarkIndicator.category_id == category.id)
        )
    }
    codes = {s.code: s.id for s in db.session.scalars(select(Standard))}
    base = [codes["GB 6932-2015"], codes["GB 20665-2015"]]
    values = [
        {"eta_rated": 99, "eta_half": 95, "nox": 60},
        {"eta_rated": 92, "eta_half": 88, "nox": 90},
        {"eta_rated": 90, "eta_half": 86, "nox": 120},
    ]
    versions = [
        _gas_declaration(
            make_enterprise_user().enterprise,
            benches,
            base + ([codes["GB/T 2828.1-2012"]] if i == 0 else []),
            i,
            v,
        )
        for i, v in enumerate(values)
    ]
    evaluator = make_user(Role.EVALUATOR)
    plan = ranking_plans.create_plan(
        evaluator,
        {
            "category_id": category.id,
            "year": local_today().year,
            "title": "燃气快速热水器领跑者评估方案",
            "leader_rule": {"kind": "top_tier_all"},
            "indicators": [
                {"benchmark_indicator_id": benches["eta_rated"].id, "cuts": [98, 89]},
                {"benchmark_indicator_id": benches["eta_half"].id, "cuts": [94, 85]},
                {"benchmark_indicator_id": benches["nox"].id, "cuts": [70, 150]},
            ],
        },
    )
    ranking_plans.activate_plan(plan)
    commit_and_run_jobs(db)
    before = ranking_queries.current_run(plan.plan_key, RunKind.PREVIEW)
    assert before is not None and before.eligible_count == 3
    leader = versions[0].declaration_id

    sampling = db.session.get(Standard, codes["GB/T 2828.1-2012"])
    catalogue_ops.mark_withdrawn(sampling, withdrawn_date=local_today() - timedelta(days=1))
    commit_and_run_jobs(db)

    reflag = db.session.scalars(select(OutboxJob).where(OutboxJob.func == REFLAG)).all()
    assert [j.status for j in reflag] == ["done"]
    previews = db.session.scalars(
        select(OutboxJob).where(OutboxJob.func == PREVIEW).order_by(OutboxJob.id)
    ).all()
    assert previews[-1].id > reflag[0].id and previews[-1].status == "done"

    after = ranking_queries.current_run(plan.plan_key, RunKind.PREVIEW)
    assert after.id != before.id and after.eligible_count == 2
    entries = {e.declaration_id: e for e in ranking_queries.run_entries(after).items}
    assert entries[leader].eligible is False and entries[leader].is_leader is False
    assert [r["code"] for r in entries[leader].exclusion_reasons] == ["reference_invalid"]
    assert all(entries[v.declaration_id].eligible for v in versions[1:])
