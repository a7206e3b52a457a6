"""Ranking runs through build_run: tiers, ties, the all-equal indicator, floors, directions,
leaders tied to a product model, determinism, and the reads of a run."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.extensions import db as _db
from core.models import OutboxJob
from declare.models import Product
from ranking import plans, publicity, queries, runs
from ranking.models import (
    LeaderboardPointer,
    ObjectionStatus,
    PlanStatus,
    RankingRun,
    RunEntry,
    RunKind,
    RunStatus,
)
from tests.declare import QueryCounter
from tests.factories import make_enterprise_user
from tests.ranking.conftest import commit_and_run, plan_payload, publish

pytestmark = pytest.mark.usefixtures("en_request")


def entries(run: RankingRun) -> dict[int, RunEntry]:
    rows = _db.session.scalars(select(RunEntry).where(RunEntry.run_id == run.id))
    return {e.declaration_id: e for e in rows}


def snapshot_of(run: RankingRun) -> list[tuple]:
    return [
        (e.declaration_id, e.version_id, e.enterprise_id, e.eligible, e.exclusion_reasons,
         e.values, e.tiers, e.composite, e.composite_rank, e.is_leader, e.stars, e.product_id)
        for e in sorted(entries(run).values(), key=lambda e: e.declaration_id)
    ]


def official(plan) -> RankingRun:
    run = runs.build_run(plan, RunKind.OFFICIAL)
    commit_and_run()
    return run


def test_tiers_follow_each_indicators_direction_and_ties_share_a_tier(make_plan, ranked_catalogue):
    plan = make_plan(entry_rules={"exclude_mingshi_on_core": False})
    a = publish(ranked_catalogue, apf=5.1, noise=36.0, standby=0.2)
    b = publish(ranked_catalogue, apf=5.1, noise=38.0, standby=0.4)  # ties with a on APF
    c = publish(ranked_catalogue, apf=4.6, noise=41.0, standby=0.8)
    d = publish(ranked_catalogue, apf=4.0, noise=36.0, standby=0.3,
                mingshi={"apf": "APF 4.0，低于推荐值 4.5：定频机型"})
    run = official(plan)
    got = {e.declaration_id: e.tiers for e in entries(run).values()}
    # APF, higher is better: cuts 5.0, 4.5 -> tiers 1 / 2 / 3 (4.0 >= the floor 3.30).
    # Noise and standby, lower is better: cuts 36 / 40 and 0.3 / 0.5.
    assert got[a.declaration_id] == {"apf": 1, "noise": 1, "standby": 1}
    assert got[b.declaration_id] == {"apf": 1, "noise": 2, "standby": 2}
    assert got[c.declaration_id] == {"apf": 2, "noise": 3, "standby": 3}
    assert got[d.declaration_id] == {"apf": 3, "noise": 1, "standby": 1}
    assert run.status is RunStatus.COMPUTED and run.kind is RunKind.OFFICIAL
    assert (run.entry_count, run.eligible_count) == (4, 4)
    assert all(s["ranked"] for s in run.indicator_status.values())
    assert run.indicator_status["apf"]["tier_ranges"] == {"1": [5.1, 5.1], "2": [4.6, 4.6],
                                                          "3": [4.0, 4.0]}
    # top_tier_all: only a is in tier 1 everywhere; the label ties it to its product model.
    leaders = queries.leaders_of(run)
    assert [e.declaration_id for e in leaders] == [a.declaration_id]
    product = _db.session.get(Product, leaders[0].product_id)
    assert (product.version_id, product.model) == (a.id, "KFR-35GW/A1")
    ranks = {e.declaration_id: e.composite_rank for e in entries(run).values()}
    assert ranks[a.declaration_id] == 1 and ranks[c.declaration_id] == 4


def test_an_indicator_on_which_every_value_is_equal_is_not_ranked(make_plan, ranked_catalogue):
    plan = make_plan()
    for apf in (5.1, 4.6, 4.8):
        publish(ranked_catalogue, apf=apf, noise=38.0, standby=0.3)
    run = official(plan)
    status = run.indicator_status
    assert status["noise"]["ranked"] is False and status["noise"]["reason"] == "all_equal"
    assert status["apf"]["ranked"] is True and status["apf"]["reason"] is None
    board = queries.tiers_of(run, "noise")
    assert board == {"key": "noise", "ranked": False, "reason": "all_equal", "tiers": []}
    apf = queries.tiers_of(run, "apf")
    assert [(t["tier"], len(t["entries"])) for t in apf["tiers"]] == [(1, 1), (2, 2)]


def test_an_empty_category_ranks_nothing(make_plan):
    plan = make_plan()
    run = official(plan)
    assert (run.entry_count, run.eligible_count) == (0, 0)
    assert {s["reason"] for s in run.indicator_status.values()} == {"no_eligible"}


def test_a_floor_stricter_than_the_requirement_excludes_values_below_it(
    make_plan, ranked_catalogue
):
    indicators = plan_payload(ranked_catalogue)["indicators"]
    indicators[2].update(floor=0.6, cuts=[0.3, 0.5])  # lower is better: above 0.6 W is out
    plan = make_plan(indicators=indicators)
    ok = publish(ranked_catalogue, standby=0.6)  # exactly at the floor: still in, last tier
    out = publish(ranked_catalogue, standby=0.8)
    run = official(plan)
    got = entries(run)
    assert got[ok.declaration_id].eligible and got[ok.declaration_id].tiers["standby"] == 3
    assert not got[out.declaration_id].eligible
    assert got[out.declaration_id].exclusion_reasons == [
        {"code": "below_floor", "detail": "standby: 0.8 (floor 0.6)"}
    ]
    assert got[out.declaration_id].tiers == {} and got[out.declaration_id].composite is None
    assert got[out.declaration_id].values == {"apf": 5.1, "noise": 38.0, "standby": 0.8}
    assert [e.declaration_id for e in queries.exclusions_of(run)] == [out.declaration_id]


def test_best_n_leaders_and_stars(make_plan, ranked_catalogue):
    plan = make_plan(leader_rule={"kind": "best_n", "n": 2, "star_cuts": [0.9, 0.5]})
    best = publish(ranked_catalogue, apf=5.0, noise=36.0, standby=0.3)  # the references: 1.0
    second = publish(ranked_catalogue, apf=4.5, noise=40.0, standby=0.5)
    publish(ranked_catalogue, apf=4.5, noise=41.0, standby=0.9)
    run = official(plan)
    leaders = {e.declaration_id: e.stars for e in queries.leaders_of(run)}
    assert set(leaders) == {best.declaration_id, second.declaration_id}
    assert leaders[best.declaration_id] == 2
    assert entries(run)[best.declaration_id].composite == pytest.approx(1.0)


def test_the_same_inputs_give_the_same_run_and_hash(make_plan, ranked_catalogue):
    plan = make_plan(composite_method="topsis")
    for apf, noise in ((5.1, 36.0), (4.6, 38.0), (4.7, 41.0), (4.6, 38.0)):
        publish(ranked_catalogue, apf=apf, noise=noise)
    publish(ranked_catalogue, standby=None)  # an exclusion is part of the inputs too
    first = official(plan)
    second = official(plan)
    assert first.id != second.id
    assert first.inputs_hash == second.inputs_hash and len(first.inputs_hash) == 64
    assert snapshot_of(first) == snapshot_of(second)
    publish(ranked_catalogue, apf=4.9)
    third = official(plan)
    assert third.inputs_hash != first.inputs_hash


def test_a_preview_switches_the_pointer_and_is_not_rewritten_for_the_same_inputs(
    make_plan, ranked_catalogue, db
):
    plan = make_plan()  # activation regenerated an (empty) preview inline
    first = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    assert first is not None and first.entry_count == 0
    version = publish(ranked_catalogue)  # the receiver regenerates it after the commit
    second = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    assert second.id != first.id and [e.declaration_id for e in entries(second).values()] == [
        version.declaration_id
    ]
    db.session.refresh(first)
    assert first.status is RunStatus.SUPERSEDED
    again = runs.build_run(plan, RunKind.PREVIEW)
    commit_and_run()
    assert again.id == second.id  # same inputs: nothing written
    assert db.session.scalar(select(func.count(LeaderboardPointer.id))) == 1
    jobs = db.session.scalars(select(OutboxJob).order_by(OutboxJob.id)).all()
    assert {j.status for j in jobs} == {"done"} and all(j.progress == 1.0 for j in jobs)
    assert queries.current_run(plan.plan_key, RunKind.OFFICIAL) is None


def test_old_preview_snapshots_are_pruned(make_plan, ranked_catalogue, db):
    plan = make_plan()
    for apf in (4.6, 4.7, 4.8, 4.9, 5.0):
        publish(ranked_catalogue, apf=apf)
    previews = db.session.scalars(
        select(RankingRun).where(RankingRun.kind == RunKind.PREVIEW)
    ).all()
    assert len(previews) == runs.PREVIEW_KEEP
    current = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    assert current.id == max(r.id for r in previews) and current.entry_count == 5
    run_ids = set(db.session.scalars(select(RunEntry.run_id).distinct()))
    assert run_ids <= {r.id for r in previews}


def test_run_pages_take_a_fixed_number_of_queries(make_plan, ranked_catalogue, db):
    plan = make_plan()
    for i in range(12):
        publish(ranked_catalogue, apf=4.5 + i / 20, standby=None if i == 3 else 0.3)
    run = official(plan)
    db.session.expire_all()
    run = db.session.get(RankingRun, run.id)
    with QueryCounter(db.engine) as counter:
        page = queries.run_entries(run, page=1, per_page=5)
        items = list(page.items)
    assert counter.count == 2  # the page and the count, whatever the size of the run
    assert page.total == 12 and page.pages == 3
    assert [e.composite_rank for e in items] == [1, 2, 3, 4, 5]
    last = queries.run_entries(run, page=3, per_page=5).items
    assert [e.eligible for e in last] == [True, False]  # excluded entries come last
    by_tier = queries.run_entries(run, page=1, per_page=20, indicator_key="apf").items
    tiers = [e.tiers["apf"] for e in by_tier if e.eligible]
    assert tiers == sorted(tiers)
    with pytest.raises(ValueError):
        queries.run_entries(run, indicator_key="nope")


def test_an_enterprise_sees_its_positions_and_its_exclusions(make_plan, ranked_catalogue, db):
    plan = make_plan()
    user = make_enterprise_user()
    ranked = publish(ranked_catalogue, user.enterprise, apf=5.1)
    excluded = publish(ranked_catalogue, user.enterprise, standby=None, std_code="Q/SJX 0002-2024")
    publish(ranked_catalogue, apf=4.6)  # somebody else
    run = runs.build_run(plan, RunKind.OFFICIAL)
    publicity.start_publicity(run)
    commit_and_run()
    positions = queries.positions_of(user.enterprise)
    got = sorted((p.run.kind.value, p.entry.declaration_id, p.entry.eligible) for p in positions)
    assert got == sorted([
        ("preview", ranked.declaration_id, True),
        ("preview", excluded.declaration_id, False),
        ("official", ranked.declaration_id, True),
        ("official", excluded.declaration_id, False),
    ])
    reasons = {p.entry.declaration_id: p.entry.exclusion_reasons for p in positions}
    assert reasons[excluded.declaration_id] == [{"code": "missing_value", "detail": "standby"}]
    assert all(p.plan.id == plan.id for p in positions)


def test_refusals_name_the_status_in_words_of_the_interface(make_plan, ranked_catalogue):
    """Status words go through the catalogue like the sentence around them (the stored
    values are English identifiers); here in English, the Chinese is in the catalogue."""
    from core.errors import ValidationFailed

    plan = make_plan()
    with pytest.raises(ValidationFailed) as info:
        plans.activate_plan(plan)
    assert info.value.errors["_schema"] == [
        "Only a draft plan can be activated; this one is active."
    ]
    run = official(plan)
    with pytest.raises(ValidationFailed) as info:
        publicity.publish_run(run, None)
    assert info.value.errors["_schema"] == [
        "This run is computed; that step is not possible now."
    ]
    assert plans.status_word(RunStatus.PUBLICITY) == "in publicity"
    assert set(plans.STATUS_WORDS) == {
        s.value for enum in (RunStatus, PlanStatus, ObjectionStatus) for s in enum
    }
