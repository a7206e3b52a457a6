"""Evaluation plans: validation with field paths, defaults from the catalogue, versions,
ownership."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden

from core.errors import ValidationFailed
from core.models import OutboxJob, Role
from ranking import plans, queries
from ranking.models import EvaluationPlan, PlanStatus
from tests.ranking.conftest import commit_and_run, plan_payload

pytestmark = pytest.mark.usefixtures("en_request")


def refused(evaluator, data) -> dict:
    with pytest.raises(ValidationFailed) as info:
        plans.create_plan(evaluator, data)
    return info.value.errors


def test_a_valid_plan_takes_direction_unit_floor_and_reference_from_the_catalogue(
    ranked_catalogue, evaluator
):
    plan = plans.create_plan(evaluator, plan_payload(ranked_catalogue))
    assert plan.status is PlanStatus.DRAFT and plan.version_no == 1 and plan.plan_key
    apf, noise, standby = plan.indicators
    assert (apf.benchmark_code, apf.direction, apf.unit) == ("apf", "higher", "W/W")
    assert (noise.benchmark_code, noise.direction, noise.unit) == ("noise", "lower", "dB(A)")
    # Floor: the mandatory limit by default; best reference: the grade-1 threshold.
    assert (apf.floor_kind, apf.floor, apf.best_reference) == ("mandatory", 3.30, 5.0)
    assert (standby.floor, standby.best_reference) == (1.0, 0.3)
    assert apf.weight == 2.0 and noise.weight == 1.0
    assert plan.entry_rules == {
        "exclude_mingshi_on_core": True,
        "require_references_valid": True,
        "inspection_window_days": 1095,
    }
    assert plan.publicity_days == 10
    assert plan.leader_rule == {"kind": "top_tier_all", "n": None, "share": None, "star_cuts": []}


def test_recommended_floor_and_a_stricter_floor(ranked_catalogue, evaluator):
    data = plan_payload(ranked_catalogue)
    data["indicators"][0].update(floor_kind="recommended", cuts=[5.0, 4.8])
    data["indicators"][1].update(floor=44.0)  # stricter than the mandatory 46 (lower is better)
    plan = plans.create_plan(evaluator, data)
    assert (plan.indicators[0].floor_kind, plan.indicators[0].floor) == ("recommended", 4.5)
    assert plan.indicators[1].floor == 44.0


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d, c: d.update(indicators=d["indicators"][:2]), "indicators", "at least 3"),
        (
            lambda d, c: d["indicators"][1].update(benchmark_indicator_id=c["avg_water"].id),
            "indicators.1.benchmark_indicator_id",
            "another product category",
        ),
        (
            lambda d, c: d["indicators"][2].update(benchmark_indicator_id=c["apf"].id),
            "indicators.2.benchmark_indicator_id",
            "already core indicator 1",
        ),
        (
            lambda d, c: d["indicators"][0].update(floor=3.0),
            "indicators.0.floor",
            "never lower",
        ),
        (  # lower is better: a floor above the mandatory 46 dB(A) is below the requirement
            lambda d, c: d["indicators"][1].update(floor=48.0),
            "indicators.1.floor",
            "never lower",
        ),
        (
            lambda d, c: d["indicators"][0].update(floor_kind="recommended", floor=4.0),
            "indicators.0.floor",
            "recommended value 4.5",
        ),
        (
            lambda d, c: d["indicators"][2].update(floor_kind="recommended"),
            "indicators.2.floor_kind",
            "no recommended value",
        ),
        (
            lambda d, c: d["indicators"][0].update(cuts=[4.5, 5.0]),
            "indicators.0.cuts",
            "best first",
        ),
        (  # lower is better: cuts must ascend
            lambda d, c: d["indicators"][2].update(cuts=[0.5, 0.3]),
            "indicators.2.cuts",
            "lower is better",
        ),
        (
            lambda d, c: d["indicators"][0].update(cuts=[5.0, 3.3]),
            "indicators.0.cuts",
            "strictly better than the floor 3.3",
        ),
        (lambda d, c: d["indicators"][0].update(cuts=[]), "indicators.0.cuts", "at least one"),
        (lambda d, c: d["indicators"][0].update(cuts=["x"]), "indicators.0.cuts", "number"),
        (lambda d, c: d["indicators"][1].update(weight=0), "indicators.1.weight", "greater than 0"),
        (
            lambda d, c: d["indicators"][0].update(cut_mode="percentiles", cuts=[10, 30],
                                                   best_reference=3.0),
            "indicators.0.best_reference",
            "strictly better than the floor",
        ),
        (
            lambda d, c: d["indicators"][0].update(cut_mode="percentiles", cuts=[30, 10]),
            "indicators.0.cuts",
            "strictly increasing",
        ),
        (lambda d, c: d.update(publicity_days=9), "publicity_days", "10 to 60"),
        (lambda d, c: d.update(publicity_days=61), "publicity_days", "10 to 60"),
        (lambda d, c: d.update(leader_rule={"kind": "best_n"}), "leader_rule.n", "at least 1"),
        (
            lambda d, c: d.update(leader_rule={"kind": "best_share", "share": 1.5}),
            "leader_rule.share",
            "at most 1",
        ),
        (lambda d, c: d.update(leader_rule={"kind": "best_of"}), "leader_rule.kind", "Choose"),
        (
            lambda d, c: d.update(leader_rule={"kind": "top_tier_all", "star_cuts": [1.0, 1.2]}),
            "leader_rule.star_cuts",
            "descending",
        ),
        (
            lambda d, c: d.update(entry_rules={"inspection_window_days": -1}),
            "entry_rules.inspection_window_days",
            "0 (no check)",
        ),
        (
            lambda d, c: d.update(entry_rules={"exclude_violation": True}),
            "entry_rules.exclude_violation",
            "Unknown entry requirement",
        ),
        (lambda d, c: d.update(composite_method="ahp"), "composite_method", "anchored"),
        (lambda d, c: d.update(category_id=10**6), "category_id", "Choose"),
        (lambda d, c: d.update(title=" "), "title", "title"),
        (lambda d, c: d.update(year="soon"), "year", "year"),
    ],
)
def test_a_plan_that_breaks_a_rule_is_refused_with_the_field_path(
    ranked_catalogue, evaluator, change, field, words
):
    data = copy.deepcopy(plan_payload(ranked_catalogue))
    change(data, ranked_catalogue)
    errors = refused(evaluator, data)
    assert field in errors, errors
    assert any(words in m for m in errors[field]), errors[field]


def test_every_problem_is_reported_at_once(ranked_catalogue, evaluator):
    data = plan_payload(ranked_catalogue, publicity_days=99)
    data["indicators"][0]["cuts"] = [4.5, 5.0]
    data["indicators"][2]["weight"] = -1
    errors = refused(evaluator, data)
    assert {"publicity_days", "indicators.0.cuts", "indicators.2.weight"} <= set(errors)


def test_only_an_evaluation_body_writes_plans(ranked_catalogue, make_user):
    with pytest.raises(Forbidden):
        plans.create_plan(make_user(Role.ADMIN), plan_payload(ranked_catalogue))


def test_editing_a_draft_changes_it_in_place(make_plan, ranked_catalogue, evaluator):
    plan = make_plan(activate=False)
    same = plans.update_plan(plan, {"title": "修订后的方案", "publicity_days": 15},
                                  user=evaluator)
    commit_and_run()
    assert same.id == plan.id and same.version_no == 1
    assert (same.title, same.publicity_days, len(same.indicators)) == ("修订后的方案", 15, 3)


def test_editing_an_active_plan_makes_a_new_version(make_plan, ranked_catalogue, evaluator, db):
    plan = make_plan()
    data = plan_payload(ranked_catalogue)
    data["indicators"][0]["cuts"] = [5.2, 4.6]
    new = plans.update_plan(plan, data, user=evaluator)
    commit_and_run()
    assert new.id != plan.id
    assert (new.plan_key, new.version_no, new.status) == (plan.plan_key, 2, PlanStatus.ACTIVE)
    assert plan.status is PlanStatus.SUPERSEDED
    assert plan.indicators[0].cuts == [5.0, 4.5]  # the old version is kept as it was
    assert [p.version_no for p in queries.plan_versions(plan.plan_key)] == [1, 2]
    assert queries.plans_of(evaluator) == [new]
    with pytest.raises(ValidationFailed) as info:
        plans.update_plan(plan, data, user=evaluator)
    assert "replaced by version 2" in info.value.errors["_schema"][0]
    with pytest.raises(ValidationFailed) as info:
        plans.update_plan(new, {"category_id": ranked_catalogue["toilet"].id},
                               user=evaluator)
    assert "category_id" in info.value.errors


def test_only_the_owner_changes_a_plan(make_plan, make_user):
    plan = make_plan(activate=False)
    other = make_user(Role.EVALUATOR)
    with pytest.raises(Forbidden):
        plans.update_plan(plan, {"title": "x"}, user=other)
    with pytest.raises(Forbidden):
        plans.activate_plan(plan, user=other)
    with pytest.raises(Forbidden):
        plans.start_official_run(plan, other)


def test_activation_queues_one_preview_regeneration(make_plan, db):
    plan = make_plan()
    assert plan.status is PlanStatus.ACTIVE
    rows = db.session.scalars(select(OutboxJob)).all()
    assert [(r.func, r.args, r.queue, r.dedupe_key) for r in rows] == [
        ("ranking.tasks.regenerate_preview", [plan.id], "ranking",
         f"ranking:preview:{plan.plan_key}")
    ]
    with pytest.raises(ValidationFailed):
        plans.activate_plan(plan)
    assert queries.public_plans() == [plan]
    assert db.session.scalar(select(func.count(EvaluationPlan.id))) == 1
