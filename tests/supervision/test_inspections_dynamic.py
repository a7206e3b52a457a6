"""A leader that fails a spot check (不符合) leaves the published 领跑者 list, visibly and with
the reason (dynamic management), and is excluded from new rankings within the plan's window.

The list is built through ``ranking.runs`` and ``ranking.publicity`` exactly as tests/ranking does
(its fixtures are reused); the result is recorded through the regulator's page, published, and the public pages
are read: the results page shows it, the leaderboard no longer lists the leader.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.extensions import db as _db
from core.i18n import render_coded
from core.models import Role
from declare.queries import local_today
from ranking import eligibility, publicity, queries, runs
from ranking.models import RunEntry, RunKind, RunStatus
from supervision.inspections import operations as inspections
from supervision.models import Inspection, InspectionResult, InspectionStatus
from tests.ranking.conftest import (  # noqa: F401  (fixtures)
    commit_and_run,
    publicise_on,
    en_request_fixture,
    evaluator,
    make_plan,
    publish,
    ranked_catalogue,
)
from tests.supervision.test_inspections_operations import make_inspection, result_data

pytestmark = pytest.mark.usefixtures("en_request")


@pytest.fixture
def leaders(make_plan, ranked_catalogue, evaluator):
    """A published official list with two leaders (best 2 by composite) and a third entry;
    the enterprises are in 500112 (the ranking factories' default region)."""
    plan = make_plan(leader_rule={"kind": "best_n", "n": 2, "star_cuts": []})
    first = publish(ranked_catalogue, apf=5.1, noise=36.0, standby=0.2)
    second = publish(ranked_catalogue, apf=4.8, noise=37.0, standby=0.3)
    third = publish(ranked_catalogue, apf=4.6, noise=40.0, standby=0.6)
    run = runs.build_run(plan, RunKind.OFFICIAL, evaluator)
    publicise_on(run, date(2025, 3, 1))
    publicity.publish_run(run, evaluator, today=date(2025, 3, 11))
    commit_and_run()
    assert {e.declaration_id for e in queries.leaders_of(run)} == {
        first.declaration_id, second.declaration_id
    }
    return plan, run, first, second, third


def _entries(run) -> dict[int, RunEntry]:
    return {e.declaration_id: e for e in _db.session.scalars(
        select(RunEntry).where(RunEntry.run_id == run.id))}


def test_a_nonconforming_result_removes_the_leader_with_the_reason(leaders, make_user, client,
                                                                   login_as):
    plan, run, first, second, _third = leaders
    regulator = make_user(Role.REGULATOR, region_code="500000")
    inspection = make_inspection(first, regulator)

    login_as(regulator)
    form = {"result": "nonconforming", "inspected_on": local_today().isoformat()}
    for item in result_data()["checklist"]:
        form[f"check_{item}"] = "pass"
    form["check_mandatory_requirements"] = "fail"
    form["finding_mandatory_requirements"] = "APF 实测 3.1，低于 GB 21455-2019 限定值 3.30"
    resp = client.post(f"/supervision/inspections/{inspection.id}/record?lang=en", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    _db.session.expire_all()
    assert inspection.result is InspectionResult.NONCONFORMING
    assert inspection.rectification is not None

    # Dynamic management ran (inline jobs): a new list version without that leader.
    current = queries.current_run(plan.plan_key, RunKind.OFFICIAL)
    assert current.id != run.id and current.previous_run_id == run.id
    assert current.status is RunStatus.PUBLISHED and current.list_version == 2
    removed = _entries(current)[first.declaration_id]
    assert not removed.is_leader
    assert "non-conforming inspection" in render_coded(removed.removed_reason)
    assert inspection.number in render_coded(removed.removed_reason)
    assert _entries(current)[second.declaration_id].is_leader

    # Excluded from new rankings within the plan's window.
    matrix, exclusions = eligibility.eligible(plan)
    assert first.declaration_id not in matrix.index
    assert [r["code"] for r in exclusions.at[first.declaration_id, "reasons"]] == [
        "nonconforming_inspection"
    ]

    # Published: the public results page shows it; the leaderboard no longer lists the leader.
    resp = client.post(f"/supervision/inspections/{inspection.id}/publish")
    assert resp.status_code == 302
    client.post("/logout")
    html = client.get("/supervision/inspections/results?lang=en").get_data(as_text=True)
    assert inspection.number in html and "Does not conform (不符合)" in html
    assert "APF 实测 3.1" in html
    board = client.get(f"/leaderboards/{plan.plan_key}?lang=en").get_data(as_text=True)
    leaders_table = board[board.index('id="leaders"'):]
    leaders_table = leaders_table[: leaders_table.index("</table>")]
    assert f'data-leader="{first.declaration_id}"' not in leaders_table
    assert f'data-leader="{second.declaration_id}"' in leaders_table
    removed_table = board[board.index('id="removed-leaders"'):]
    row = removed_table[removed_table.index(f'data-removed="{first.declaration_id}"'):]
    row = row[: row.index("</tr>")]
    assert "non-conforming inspection" in row and inspection.number in row

def test_conforming_and_defects_results_leave_the_list_alone(leaders, make_user):
    plan, run, first, second, _third = leaders
    regulator = make_user(Role.REGULATOR, region_code="500000")
    inspections.record_result(make_inspection(first, regulator), result_data("conforming"),
                              user=regulator)
    inspections.record_result(
        make_inspection(second, regulator),
        result_data("defects", findings=[{"item": "drafting_format", "text": "格式瑕疵"}]),
        user=regulator,
    )
    commit_and_run()
    assert queries.current_run(plan.plan_key, RunKind.OFFICIAL).id == run.id
    matrix, _exclusions = eligibility.eligible(plan)
    assert {first.declaration_id, second.declaration_id} <= set(matrix.index)
    assert all(i.status is InspectionStatus.RECORDED
               for i in _db.session.scalars(select(Inspection)))
