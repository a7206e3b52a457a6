"""The 领跑者 part of the demo: a plan of the demo evaluation body, a preview leaderboard and a
published official list, made through ranking.operations on the demo declarations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from benchmarks.importer import load_directory
from core import jobs
from core.models import Role, User
from declare import demo as declare_demo
from declare.cli import demo_loaders
from declare.models import ComplianceRecord, Enterprise
from declare.queries import local_date, local_today
from ranking import demo, queries
from ranking.cli import register_cli
from ranking.models import (
    EvaluationPlan,
    LeaderboardPointer,
    Objection,
    ObjectionStatus,
    PlanStatus,
    RankingRun,
    RunEntry,
    RunKind,
    RunStatus,
)


@pytest.fixture(scope="module")
def loaded(module_db):
    """The demo, loaded once for the tests that read it (they come first in this module)."""
    db = module_db
    reports = load_directory()
    assert all(r.ok for r in reports), [r.summary() for r in reports]
    db.session.commit()
    declare_demo.load_demo(2026)
    counts = demo.load_ranking_demo(2026)
    db.session.commit()
    jobs.discard_pending()  # the queued preview would find the same inputs (tested below)
    return counts


def _plan(db) -> EvaluationPlan:
    return db.session.scalars(select(EvaluationPlan)).one()


def _entries(db, run: RankingRun) -> list[RunEntry]:
    return db.session.scalars(
        select(RunEntry).where(RunEntry.run_id == run.id).order_by(RunEntry.declaration_id)
    ).all()


def test_deterministic_for_a_seed(db):
    assert all(r.ok for r in load_directory())
    db.session.commit()

    def snapshot():
        run = db.session.scalar(
            select(RankingRun).where(
                RankingRun.kind == RunKind.OFFICIAL, RankingRun.status == RunStatus.PUBLISHED
            )
        )
        names = dict(db.session.execute(select(Enterprise.id, Enterprise.uscc)).all())
        # By USCC, not by id: PostgreSQL does not hand ids back on rollback (the inputs hash
        # names declarations by id, so it differs there although the content is the same).
        return sorted(
            (
                names[e.enterprise_id],
                e.eligible,
                e.values,
                e.tiers,
                e.is_leader,
                e.stars,
                e.composite_rank,
                e.exclusion_reasons,
            )
            for e in _entries(db, run)
        )

    declare_demo.load_demo(7)
    demo.load_ranking_demo(7)
    first = snapshot()
    db.session.rollback()
    assert db.session.scalar(select(func.count(RankingRun.id))) == 0
    declare_demo.load_demo(7)
    demo.load_ranking_demo(7)
    assert snapshot() == first
    db.session.rollback()


def test_refuses_without_the_demo_evaluation_body(db):
    assert all(r.ok for r in load_directory())
    db.session.commit()
    with pytest.raises(declare_demo.DemoError, match="evaluator"):
        demo.load_ranking_demo(2026)


def test_skipped_when_nobody_declares_in_the_category(db, make_user):
    """Demo data loaded before gas water heaters were in the catalogue: no empty plan."""
    assert all(r.ok for r in load_directory())
    db.session.commit()
    make_user(Role.EVALUATOR, username=demo.EVALUATOR)
    result = demo.load_ranking_demo(2026)
    assert result["already_loaded"] is False and "gas_water_heater" in result["skipped"]
    assert db.session.scalar(select(func.count(EvaluationPlan.id))) == 0


def test_cli_demo_load_runs_the_registered_ranking_part(app, db, client):
    register_cli(app)  # what core.cli.register does at app creation
    register_cli(app)  # registering again replaces, never doubles
    assert list(demo_loaders(app)) == ["ranking"]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "published: " in result.output and "ranking.leaders: " in result.output
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0
    assert "declarations: demo data already loaded" in again.output
    assert "ranking: demo data already loaded" in again.output
    assert db.session.scalar(select(func.count(LeaderboardPointer.id))) == 2

    # The public pages show the published list, and the preview on request.
    plan = _plan(db)
    listing = client.get("/leaderboards")
    assert listing.status_code == 200 and plan.title in listing.get_data(as_text=True)
    board = client.get(f"/leaderboards/{plan.plan_key}")
    assert board.status_code == 200
    page = board.get_data(as_text=True)
    official = queries.current_run(plan.plan_key, RunKind.OFFICIAL)
    leader_names = db.session.scalars(
        select(Enterprise.name)
        .join(RunEntry, RunEntry.enterprise_id == Enterprise.id)
        .where(RunEntry.run_id == official.id, RunEntry.is_leader.is_(True))
    ).all()
    assert leader_names and all(name in page for name in leader_names)
    assert "<svg" in page  # the indicators' distribution charts
    assert client.get(f"/leaderboards/{plan.plan_key}?list=preview").status_code == 200


# The tests below share one demo load (the module-scoped ``loaded``); they come last, so the
# tests above, which load into an empty database of their own, never see it.


def test_plan_preview_and_published_list(module_db, loaded):
    db = module_db
    plan = _plan(db)
    evaluator = db.session.scalar(select(User).where(User.username == demo.EVALUATOR))
    assert plan.evaluator_id == evaluator.id and plan.status is PlanStatus.ACTIVE
    assert plan.category.code == demo.CATEGORY == "gas_water_heater"
    assert [pi.benchmark_code for pi in plan.indicators] == ["eta_rated", "eta_half", "nox"]
    assert [pi.floor for pi in plan.indicators] == [86.0, 82.0, 260.0]  # the mandatory limits
    assert plan.year == local_today().year

    preview = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    official = queries.current_run(plan.plan_key, RunKind.OFFICIAL)
    assert preview.kind is RunKind.PREVIEW and official.kind is RunKind.OFFICIAL
    assert official.status is RunStatus.PUBLISHED and official.list_version == 1
    assert official.publicity_end == local_today() - timedelta(days=1)
    assert official.publicity_end - official.publicity_start == timedelta(days=9)
    assert local_date(official.published_at) == local_today()
    assert official.inputs_hash == preview.inputs_hash  # same declarations, same day
    assert loaded == {
        "already_loaded": False,
        "plan": plan.title,
        "plan_key": plan.plan_key,
        "candidates": 16,
        "eligible": official.eligible_count,
        "leaders": loaded["leaders"],
        "preview_run": preview.id,
        "published_run": official.id,
        "objections": 1,
    }
    assert all(status["ranked"] for status in official.indicator_status.values())

    entries = _entries(db, official)
    assert len(entries) == official.entry_count == 16
    eligible = [e for e in entries if e.eligible]
    leaders = [e for e in entries if e.is_leader]
    assert len(eligible) == official.eligible_count >= 10
    assert 1 <= len(leaders) == loaded["leaders"] < len(eligible)
    # top_tier_all: every leader is in tier 1 of every core indicator, with its label product.
    assert all(set(e.tiers.values()) == {1} and e.product_id for e in leaders)
    assert any(e.stars for e in leaders)
    # Equal values share a tier (排名不分先后): some value is declared by several entries.
    eta = [e.values["eta_rated"] for e in eligible]
    assert len(set(eta)) < len(eta)
    for value in set(eta):
        assert len({e.tiers["eta_rated"] for e in eligible if e.values["eta_rated"] == value}) == 1

    reasons = {r["code"] for e in entries if not e.eligible for r in e.exclusion_reasons}
    assert {"mingshi_on_core", "nonconforming_inspection"} <= reasons
    inspected = db.session.scalars(select(ComplianceRecord)).one()
    assert [
        r["code"]
        for e in entries
        if e.enterprise_id == inspected.enterprise_id
        for r in e.exclusion_reasons
    ] == ["nonconforming_inspection"]

    objection = db.session.scalars(select(Objection)).one()
    assert objection.run_id == official.id and objection.status is ObjectionStatus.REJECTED
    assert objection.response and objection.entry_id in {e.id for e in leaders}
    assert official.publicity_start <= local_date(objection.created_at) <= official.publicity_end
    assert local_date(objection.created_at) <= local_date(objection.resolved_at)


def test_idempotent_and_the_queued_preview_writes_nothing(module_db, loaded):
    db = module_db
    runs = db.session.scalar(select(func.count(RankingRun.id)))
    assert demo.load_ranking_demo(2026) == {"already_loaded": True}
    db.session.commit()
    assert db.session.scalar(select(func.count(RankingRun.id))) == runs

    # The preview job activate_plan queued runs later (a worker): same inputs, no new run.
    plan = _plan(db)
    from ranking import tasks

    before = queries.current_run(plan.plan_key, RunKind.PREVIEW).id
    assert tasks.regenerate_preview(plan.id) == before
    db.session.commit()
    assert db.session.scalar(select(func.count(RankingRun.id))) == runs
