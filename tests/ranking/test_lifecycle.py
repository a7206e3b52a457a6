"""Computed -> publicity (objections) -> published, and a published list never changes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden

from core.errors import ValidationFailed
from core.extensions import db as _db
from core.models import OutboxJob, Role
from core.clock import local_today, local_zone
from ranking import plans, publicity, queries
from ranking.models import (
    ImmutableRunError,
    ObjectionStatus,
    RankingRun,
    RunEntry,
    RunKind,
    RunStatus,
)
from tests.ranking.conftest import commit_and_run, publicise_on, publish

pytestmark = pytest.mark.usefixtures("en_request")

START = date(2025, 3, 1)


@pytest.fixture
def computed(make_plan, ranked_catalogue, evaluator, db):
    """An official run computed by the job the evaluation body started."""
    plan = make_plan()
    leader = publish(ranked_catalogue, apf=5.1, noise=36.0, standby=0.2)
    other = publish(ranked_catalogue, apf=4.6, noise=38.0, standby=0.4)
    job = plans.start_official_run(plan, evaluator)
    commit_and_run()
    job = db.session.get(OutboxJob, job.id)
    assert (job.func, job.status, job.progress) == ("ranking.tasks.official_run", "done", 1.0)
    assert job.started_at is not None and job.finished_at is not None
    assert job in queries.plan_jobs(plan)
    run = db.session.scalars(
        select(RankingRun).where(RankingRun.kind == RunKind.OFFICIAL)
    ).one()
    assert (run.status, run.created_by_id) == (RunStatus.COMPUTED, evaluator.id)
    return run, leader, other


def entry_of(run, version) -> RunEntry:
    return _db.session.scalars(
        select(RunEntry).where(RunEntry.run_id == run.id,
                               RunEntry.declaration_id == version.declaration_id)
    ).one()


def test_publicity_objections_and_publication(computed, evaluator, db):
    run, leader, other = computed
    with pytest.raises(ValidationFailed):  # objections only during publicity
        publicity.file_objection(run, name="张三", contact="13800000000", text="数据有误")

    publicise_on(run, START, user=evaluator)
    commit_and_run()
    assert run.status is RunStatus.PUBLICITY and run.list_version == 1
    assert (run.publicity_start, run.publicity_end) == (START, START + timedelta(days=9))
    assert queries.current_run(run.plan.plan_key, RunKind.OFFICIAL).id == run.id

    with pytest.raises(ValidationFailed) as info:
        publicity.file_objection(run, name="", contact="", text="", today=START)
    assert set(info.value.errors) == {"name", "contact", "text"}
    with pytest.raises(ValidationFailed) as info:
        publicity.file_objection(run, name="张三", contact="x", text="y",
                                  today=START + timedelta(days=10))
    assert "2025-03-10" in info.value.errors["_schema"][0]

    accepted = publicity.file_objection(
        run, name="李四", contact="li@example.com", text="领跑者的噪声值与检测报告不符",
        entry_id=entry_of(run, leader).id, today=START + timedelta(days=2),
    )
    carried = publicity.file_objection(
        run, name="王五", contact="wang@example.com", text="第二名的待机功率有误",
        entry_id=entry_of(run, other).id, today=START + timedelta(days=3),
    )
    commit_and_run()

    # Accepting re-runs the ranking: a new list version in a new publicity period.
    publicity.resolve_objection(accepted, accept=True, response="已核实，重新计算",
                                 user=evaluator, today=START + timedelta(days=4))
    commit_and_run()
    assert accepted.status is ObjectionStatus.ACCEPTED
    new = db.session.get(RankingRun, accepted.resolved_run_id)
    assert (new.kind, new.status, new.list_version) == (RunKind.OFFICIAL, RunStatus.PUBLICITY, 2)
    assert new.previous_run_id == run.id and "领跑者的噪声值与检测报告不符" in new.change_reason
    assert new.publicity_start == START + timedelta(days=4)
    assert run.status is RunStatus.SUPERSEDED
    assert queries.current_run(run.plan.plan_key, RunKind.OFFICIAL).id == new.id
    # The other open objection continues on the new version, on the same declaration's entry.
    assert carried.run_id == new.id and carried.entry_id == entry_of(new, other).id

    with pytest.raises(ValidationFailed) as info:  # a rejection needs its reason
        publicity.resolve_objection(carried, accept=False, response=" ", user=evaluator)
    assert "response" in info.value.errors
    with pytest.raises(ValidationFailed) as info:  # open objections block publication
        publicity.publish_run(new, evaluator, today=new.publicity_end + timedelta(days=1))
    assert "still open" in info.value.errors["_schema"][0]
    publicity.resolve_objection(carried, accept=False, response="检测报告与声明一致",
                                 user=evaluator)
    commit_and_run()
    assert (carried.status, carried.response) == (ObjectionStatus.REJECTED, "检测报告与声明一致")

    with pytest.raises(ValidationFailed) as info:  # not before the publicity period ends
        publicity.publish_run(new, evaluator, today=new.publicity_end)
    assert (new.publicity_end + timedelta(days=1)).isoformat() in info.value.errors["_schema"][0]
    publicity.publish_run(new, evaluator, today=new.publicity_end + timedelta(days=1))
    commit_and_run()
    assert new.status is RunStatus.PUBLISHED and new.published_at is not None
    assert queries.current_run(run.plan.plan_key, RunKind.OFFICIAL).id == new.id
    assert [e.declaration_id for e in queries.leaders_of(new)] == [leader.declaration_id]


def test_only_the_owner_moves_a_run_through_its_lifecycle(computed, make_user, evaluator):
    run, _, _ = computed
    other = make_user(Role.EVALUATOR)
    with pytest.raises(Forbidden):
        publicise_on(run, START, user=other)
    publicise_on(run, START, user=evaluator)
    objection = publicity.file_objection(run, name="a", contact="b", text="c", today=START)
    with pytest.raises(Forbidden):
        publicity.resolve_objection(objection, accept=False, response="no", user=other)
    with pytest.raises(Forbidden):
        publicity.publish_run(run, other, today=START + timedelta(days=30))


def test_a_preview_is_never_publicised(make_plan, evaluator):
    plan = make_plan()
    preview = queries.current_run(plan.plan_key, RunKind.PREVIEW)
    with pytest.raises(ValidationFailed) as info:
        publicise_on(preview, START, user=evaluator)
    assert "unofficial" in info.value.errors["_schema"][0]


def test_a_published_run_is_immutable(computed, evaluator, db):
    run, leader, _ = computed
    publicise_on(run, START, user=evaluator)
    publicity.publish_run(run, evaluator, today=START + timedelta(days=10))
    commit_and_run()
    run_id = run.id

    run.change_reason = "edited afterwards"
    with pytest.raises(ImmutableRunError):
        db.session.flush()
    db.session.rollback()

    run = db.session.get(RankingRun, run_id)
    run.status = RunStatus.COMPUTED
    with pytest.raises(ImmutableRunError):
        db.session.flush()
    db.session.rollback()

    entry = entry_of(db.session.get(RankingRun, run_id), leader)
    entry.is_leader = False
    with pytest.raises(ImmutableRunError):
        db.session.flush()
    db.session.rollback()

    entry = entry_of(db.session.get(RankingRun, run_id), leader)
    db.session.delete(entry)
    with pytest.raises(ImmutableRunError):
        db.session.flush()
    db.session.rollback()

    run = db.session.get(RankingRun, run_id)
    db.session.add(RunEntry(run_id=run_id, declaration_id=leader.declaration_id,
                            version_id=leader.id, enterprise_id=entry_of(run, leader).enterprise_id,
                            eligible=True))
    with pytest.raises(ImmutableRunError):
        db.session.flush()
    db.session.rollback()

    run = db.session.get(RankingRun, run_id)
    run.status = RunStatus.SUPERSEDED  # the one change a published list allows
    db.session.commit()
    assert db.session.get(RankingRun, run_id).status is RunStatus.SUPERSEDED
    assert entry_of(run, leader).is_leader is True
    assert db.session.scalar(select(func.count(RunEntry.id)).where(RunEntry.run_id == run_id)) == 2


def test_publicity_cannot_be_backdated_nor_cut_short(computed, evaluator, db, app):
    """Issue 9, finding 4: the period starts no earlier than today and than the run, lasts at
    least PUBLICITY_DAYS, and publication before its end is refused with the first day."""
    run, _, _ = computed
    today = local_today()
    with pytest.raises(ValidationFailed) as info:
        publicity.start_publicity(run, today - timedelta(days=21), user=evaluator)
    assert today.isoformat() in info.value.errors["start"][0]
    assert run.status is RunStatus.COMPUTED

    # Before the day the run was computed (a clock set back does not help either).
    computed_on = today + timedelta(days=3)
    run.created_at = datetime.combine(computed_on, time(8), tzinfo=local_zone())
    with pytest.raises(ValidationFailed) as info:
        publicity.start_publicity(run, today + timedelta(days=1), user=evaluator, today=today)
    assert computed_on.isoformat() in info.value.errors["start"][0]

    # At least PUBLICITY_DAYS, whatever the plan says.
    app.config["PUBLICITY_DAYS"] = 15
    publicity.start_publicity(run, computed_on, user=evaluator, today=today)
    assert run.publicity_end == computed_on + timedelta(days=14)
    db.session.commit()
    with pytest.raises(ValidationFailed) as info:
        publicity.publish_run(run, evaluator, today=computed_on + timedelta(days=14))
    first_day = (computed_on + timedelta(days=15)).isoformat()
    assert first_day in info.value.errors["_schema"][0]
    assert publicity.publish_run(run, evaluator, today=computed_on + timedelta(days=15)).status \
        is RunStatus.PUBLISHED


def test_a_plan_cannot_ask_for_less_than_the_configured_publicity(make_plan, app):
    app.config["PUBLICITY_DAYS"] = 20
    with pytest.raises(ValidationFailed) as info:
        make_plan(publicity_days=10)
    assert "20 to 60" in info.value.errors["publicity_days"][0]
