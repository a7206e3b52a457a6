"""Daily reminders: the review reminder REVIEW_REMINDER_YEARS after publication, and
``flask notify reminders`` running every registered reminder (each event once)."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select, update

from core import jobs
from core.extensions import db as _db
from core.notifications import REMINDERS, Notification
from declare import tasks as declare_tasks
from declare.models import DeclarationVersion
from supervision.inspections import tasks as inspection_tasks
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.declare import publish_enterprise
from tests.factories import make_enterprise_user


def reviews() -> list[Notification]:
    return list(_db.session.scalars(
        select(Notification).where(Notification.kind == "review_due")
    ))


def published_on(day: date, catalogue):
    user = make_enterprise_user()
    version = publish_enterprise(user.enterprise, catalogue)
    # Backdated behind the ORM (a published version is immutable through it).
    _db.session.execute(
        update(DeclarationVersion).where(DeclarationVersion.id == version.id)
        .values(published_at=datetime(day.year, day.month, day.day, 4, tzinfo=timezone.utc))
    )
    _db.session.commit()
    return version, user


def test_the_reminders_are_registered():
    assert inspection_tasks.deadline_reminders in REMINDERS
    assert declare_tasks.review_reminders in REMINDERS


def test_review_reminder_after_the_configured_years_once(app, db, catalogue, en_request):
    app.config["REVIEW_REMINDER_YEARS"] = 3
    old, owner = published_on(date(2023, 12, 7), catalogue)
    recent, _ = published_on(date(2023, 12, 8), catalogue)
    assert declare_tasks.review_reminders("2026-12-07") == 1
    _db.session.commit()
    jobs.dispatch_pending()
    (note,) = reviews()
    assert (note.user_id, note.params["declaration_id"]) == (owner.id, old.declaration_id)
    assert note.params["published"] == "2023-12-07" and note.params["years"] == 3
    declare_tasks.review_reminders("2026-12-08")  # the next day: the recent one only
    _db.session.commit()
    jobs.dispatch_pending()
    assert sorted(n.params["declaration_id"] for n in reviews()) == sorted(
        [old.declaration_id, recent.declaration_id])


def test_flask_notify_reminders_runs_each_once(app, db, catalogue, en_request):
    app.config["REVIEW_REMINDER_YEARS"] = 3
    published_on(date(2020, 1, 1), catalogue)
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["notify", "reminders", "--day", "2026-12-07"])
        assert result.exit_code == 0, result.output
    assert "declare.tasks.review_reminders: 1" in result.output
    assert "supervision.inspections.tasks.deadline_reminders" in result.output
    assert len(reviews()) == 1
    bad = runner.invoke(args=["notify", "reminders", "--day", "7.12.2026"])
    assert bad.exit_code != 0 and "yyyy-MM-dd" in bad.output
