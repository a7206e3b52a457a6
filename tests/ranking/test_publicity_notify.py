"""Leader-list notifications: a leader's enterprise hears of the publicity, the publication and
its removal (with the reason); an objector hears the outcome by e-mail. Once per event, after
the commit, never on a rolled-back write."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core import jobs
from core.extensions import db as _db
from core.models import User
from core.notifications import Notification
from ranking import publicity
from ranking.models import RankingRun, RunKind
from tests.ranking.conftest import commit_and_run, publicise_on, publish
from tests.ranking.test_lifecycle import computed  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("en_request")

START = date(2025, 3, 1)


def of_kind(kind: str) -> list[Notification]:
    return list(_db.session.scalars(
        select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    ))


def owner_of(version) -> User:
    return _db.session.scalars(
        select(User).where(User.enterprise_id == version.declaration.enterprise_id)
    ).one()


def test_leaders_hear_of_publicity_and_publication_once(computed, evaluator):  # noqa: F811
    run, leader, other = computed
    publicise_on(run, START, user=evaluator)
    assert of_kind("leader_publicised") == []  # not before the commit
    commit_and_run()
    (note,) = of_kind("leader_publicised")
    assert note.user_id == owner_of(leader).id  # the leader only, not the runner-up
    assert note.params["standard"] == leader.number and note.params["run_id"] == run.id
    assert note.params["end"] == (START + timedelta(days=9)).isoformat()

    publicity.publish_run(run, evaluator, today=run.publicity_end + timedelta(days=1))
    commit_and_run()
    (published,) = of_kind("leader_published")
    assert published.user_id == owner_of(leader).id
    from core.notifications import notify_enterprises

    notify_enterprises([leader.declaration.enterprise_id], "leader_published", published.key,
                       **published.params)
    commit_and_run()
    assert len(of_kind("leader_published")) == 1


def test_a_removed_leader_hears_the_reason(computed, evaluator):  # noqa: F811
    run, leader, _ = computed
    publicise_on(run, START, user=evaluator)
    commit_and_run()
    publicity.publish_run(run, evaluator, today=run.publicity_end + timedelta(days=1))
    commit_and_run()
    new = publicity.record_removal(run, [leader.declaration_id], "抽查不合格", user=evaluator)
    commit_and_run()
    (removed,) = of_kind("leader_removed")
    assert removed.user_id == owner_of(leader).id
    assert (removed.params["reason"], removed.params["run_id"]) == ("抽查不合格", new.id)


def test_a_rolled_back_publication_notifies_nobody(computed, evaluator):  # noqa: F811
    run, _, _ = computed
    publicise_on(run, START, user=evaluator)
    _db.session.rollback()
    jobs.discard_pending()
    commit_and_run()
    assert of_kind("leader_publicised") == []


def test_the_objector_hears_the_outcome_by_email(computed, evaluator, smtp_server):  # noqa: F811
    run, leader, _ = computed
    publicise_on(run, START, user=evaluator)
    commit_and_run()
    by_mail = publicity.file_objection(run, name="李四", contact="li@example.com",
                                       text="数据有误", today=START + timedelta(days=1))
    by_phone = publicity.file_objection(run, name="王五", contact="13800000000",
                                        text="数据有误", today=START + timedelta(days=1))
    commit_and_run()
    publicity.resolve_objection(by_mail, accept=False, response="检测报告与声明一致",
                                user=evaluator)
    publicity.resolve_objection(by_phone, accept=False, response="检测报告与声明一致",
                                user=evaluator)
    commit_and_run()
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "li@example.com"
    assert message["Subject"] == f"Your objection {by_mail.id} was rejected"
    assert "检测报告与声明一致" in message.get_body(("plain",)).get_content()
    assert len(of_kind("objection_outcome")) == 1  # the telephone contact gets nothing
    assert len(smtp_server.messages()) == 1


def test_an_accepted_objection_publicises_the_new_version(computed, evaluator):  # noqa: F811
    run, leader, _ = computed
    publicise_on(run, START, user=evaluator)
    commit_and_run()
    objection = publicity.file_objection(run, name="李四", contact="li@example.com",
                                         text="数据有误", today=START + timedelta(days=1))
    commit_and_run()
    publicity.resolve_objection(objection, accept=True, response="重新计算", user=evaluator,
                                today=START + timedelta(days=2))
    commit_and_run()
    new = _db.session.get(RankingRun, objection.resolved_run_id)
    assert new.kind is RunKind.OFFICIAL
    assert [n.params["run_id"] for n in of_kind("leader_publicised")] == [run.id, new.id]
    (outcome,) = of_kind("objection_outcome")
    assert outcome.params["outcome"] == "accepted" and outcome.user_id is None
