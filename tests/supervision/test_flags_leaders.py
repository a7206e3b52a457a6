"""The leader flag (领跑者: checked more often) follows the published official lists: raised when
a list is published, cleared when dynamic management removes the leader (a 不符合 result)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.models import OutboxJob
from declare import operations as declare_ops
from declare.queries import local_today
from ranking import publicity, queries, runs
from ranking.models import RunKind
from supervision.models import RiskFlag
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.ranking.conftest import (  # noqa: F401  (fixtures)
    commit_and_run,
    publicise_on,
    evaluator,
    make_plan,
    publish,
    ranked_catalogue,
)
from tests.supervision.test_flags_common import flags

pytestmark = pytest.mark.usefixtures("en_request")


def leader_flags(declaration_id: int, *, open_only: bool = True) -> list[RiskFlag]:
    return [f for f in flags(declaration_id, open_only=open_only) if f.code == "leader"]


@pytest.fixture
def published_list(make_plan, ranked_catalogue, evaluator):  # noqa: F811  (fixtures)
    plan = make_plan(leader_rule={"kind": "best_n", "n": 1, "star_cuts": []})
    first = publish(ranked_catalogue, apf=5.1, noise=36.0, standby=0.2)
    second = publish(ranked_catalogue, apf=4.8, noise=37.0, standby=0.3)
    run = runs.build_run(plan, RunKind.OFFICIAL, evaluator)
    publicise_on(run, date(2025, 3, 1))
    commit_and_run()
    assert leader_flags(first.declaration_id) == []  # under publicity: not a leader yet
    publicity.publish_run(run, evaluator, today=date(2025, 3, 11))
    commit_and_run()
    return plan, run, first, second


def test_publishing_the_list_flags_its_leaders(published_list, db):
    plan, run, first, second = published_list
    [flag] = leader_flags(first.declaration_id)
    assert (flag.key, flag.severity) == ("", "low")
    assert flag.evidence["lists"] == [
        {"run_id": run.id, "plan_id": plan.id, "plan": plan.title, "year": 2025}
    ]
    assert flag.evidence["reason"] == (
        "The declaration is a 领跑者 (leader): leaders are checked more often."
    )
    assert leader_flags(second.declaration_id) == []
    job = db.session.scalars(
        select(OutboxJob).where(OutboxJob.func == "supervision.flags.tasks.flags_for_leader_lists")
    ).one()
    assert job.args == [[run.id]] and job.status == "done"


def test_a_leader_removed_after_a_nonconforming_inspection_loses_the_flag(published_list, db):
    plan, run, first, _second = published_list
    declare_ops.record_compliance(
        first.declaration.enterprise,
        kind="inspection",
        result="nonconforming",
        occurred_on=local_today(),
        reference="JC-2026-0001",
    )
    commit_and_run()  # ranking removes the leader (new list version); the hook re-flags
    current = queries.current_run(plan.plan_key, RunKind.OFFICIAL)
    assert current.id != run.id  # dynamic management wrote a new list version
    assert leader_flags(first.declaration_id) == []
    [cleared] = leader_flags(first.declaration_id, open_only=False)
    assert cleared.cleared_reason == "cause_removed" and cleared.cleared_at is not None
