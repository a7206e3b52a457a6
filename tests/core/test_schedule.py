"""The scheduler's registry (core.schedule): next-run arithmetic, one run per due time, the
outcome recorded, inline runs without Redis (as `make run` does)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core import schedule
from core.jobs import JobPing
from core.models import OutboxJob, ScheduledRun

BJ = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
NIGHTLY = schedule.Entry("nightly", "core.tasks.ping", cron="30 2 * * *", args=("n",))


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BJ)


@pytest.mark.parametrize(
    ("now", "last", "nxt"),
    [
        (bj(2026, 12, 8, 1, 0), bj(2026, 12, 7, 2, 30), bj(2026, 12, 8, 2, 30)),
        (bj(2026, 12, 8, 2, 30), bj(2026, 12, 8, 2, 30), bj(2026, 12, 9, 2, 30)),
        (bj(2026, 12, 8, 2, 30, 59), bj(2026, 12, 8, 2, 30), bj(2026, 12, 9, 2, 30)),
        (bj(2026, 12, 8, 2, 29, 59), bj(2026, 12, 7, 2, 30), bj(2026, 12, 8, 2, 30)),
        (bj(2026, 12, 31, 23, 0), bj(2026, 12, 31, 2, 30), bj(2027, 1, 1, 2, 30)),
    ],
)
def test_cron_due_times_are_in_beijing_time(app, now, last, nxt):
    assert NIGHTLY.last_due(now.astimezone(UTC)) == last
    assert NIGHTLY.next_due(now.astimezone(UTC)) == nxt
    assert NIGHTLY.last_due(now).tzinfo == UTC  # stored in UTC


def test_interval_due_times_are_aligned_so_every_scheduler_agrees():
    every = schedule.Entry("e", "core.tasks.ping", every=60)
    now = datetime(2026, 12, 7, 21, 20, 42, 500, tzinfo=UTC)
    assert every.last_due(now) == datetime(2026, 12, 7, 21, 20, tzinfo=UTC)
    assert every.next_due(now) == datetime(2026, 12, 7, 21, 21, tzinfo=UTC)
    exact = datetime(2026, 12, 7, 21, 21, tzinfo=UTC)
    assert every.last_due(exact) == exact and every.next_due(exact) == exact + timedelta(minutes=1)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"cron": "30 2 * * *", "every": 60}, {"cron": "not cron"}, {"every": 0}],
)
def test_an_entry_needs_one_valid_schedule(kwargs):
    with pytest.raises(ValueError):
        schedule.Entry("x", "core.tasks.ping", **kwargs)


def test_the_registry_lists_the_periodic_jobs_and_every_handle_resolves(app):
    ids = [e.id for e in schedule.SCHEDULE]
    assert {"outbox-flush", "rectifications-overdue", "risk-flags-nightly", "preview-prune",
            "audit-anchor"} <= set(ids)
    schedule.check(schedule.entries())
    with pytest.raises(ValueError, match="unknown schedule ids"):
        schedule.entries(["nope"])
    with pytest.raises(ValueError):
        schedule.check([schedule.Entry("x", "core.tasks.no_such_job", every=5)])


def test_a_due_job_runs_once_inline_and_its_outcome_is_recorded(db):
    now = bj(2026, 12, 8, 3, 0)
    started = schedule.run_due(now, [NIGHTLY])
    assert [(r.job_id, r.due_at) for r in started] == [("nightly", bj(2026, 12, 8, 2, 30))]
    # Again at the same or a later time before the next due time: nothing.
    assert schedule.run_due(now, [NIGHTLY]) == []
    assert schedule.run_due(now + timedelta(hours=20), [NIGHTLY]) == []
    assert db.session.scalar(select(func.count()).select_from(JobPing)) == 1  # ran inline
    run = db.session.scalar(select(ScheduledRun))
    outbox = db.session.get(OutboxJob, run.outbox_id)
    assert (outbox.func, outbox.status) == ("core.tasks.ping", "done")
    # The next night runs again.
    assert len(schedule.run_due(bj(2026, 12, 9, 2, 31), [NIGHTLY])) == 1


def test_a_second_claim_of_the_same_due_time_loses(db):
    due = bj(2026, 12, 8, 2, 30).astimezone(UTC)
    assert schedule.claim(NIGHTLY, due) is not None
    assert schedule.claim(NIGHTLY, due) is None  # the unique (job, due time) row
    assert db.session.scalar(select(func.count()).select_from(ScheduledRun)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxJob)) == 1


def test_a_direct_job_records_its_failure_and_the_status_shows_it(db):
    failing = schedule.Entry("boom", "core.tasks.fail", every=60, args=("k",), direct=True)
    now = datetime(2026, 12, 7, 21, 0, 30, tzinfo=UTC)
    schedule.run_due(now, [failing])
    run = db.session.scalar(select(ScheduledRun))
    assert run.status == "failed" and "fails on purpose" in run.error
    assert run.finished_at is not None and run.outbox_id is None


def test_the_outbox_flush_runs_in_the_scheduler(db, monkeypatch):
    seen = []
    monkeypatch.setattr("core.jobs.flush", lambda age, **kw: seen.append(age) or 0)
    [flush] = schedule.entries(["outbox-flush"])
    schedule.run_due(datetime(2026, 12, 7, 21, 0, 30, tzinfo=UTC), [flush])
    assert seen == [timedelta(seconds=15)]
    assert db.session.scalar(select(ScheduledRun.status)) == "done"


def test_status_shows_last_and_next_runs(db, monkeypatch):
    monkeypatch.setattr(schedule, "SCHEDULE", (NIGHTLY,))
    now = bj(2026, 12, 8, 3, 0)
    [before] = schedule.status(now)
    assert before.outcome == "never" and before.next_due == bj(2026, 12, 9, 2, 30)
    assert before.late  # 02:30 passed half an hour ago without a run
    assert not schedule.status(bj(2026, 12, 8, 2, 31))[0].late  # within the grace
    schedule.run_due(now, [NIGHTLY])
    [after] = schedule.status(now)
    assert after.last.due_at == bj(2026, 12, 8, 2, 30) and after.outcome == "done"
    assert not after.late


def test_the_scheduler_command_once_with_a_time(app, db, monkeypatch):
    monkeypatch.setattr(schedule, "SCHEDULE", (NIGHTLY,))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["scheduler", "--once", "--now", "2026-12-08T02:31+08:00"])
    assert out.exit_code == 0, out.output
    assert "started 1 scheduled run(s): nightly@2026-12-07T18:30:00+00:00" in out.output
    out = runner.invoke(args=["scheduler", "--once", "--now", "2026-12-08T02:31+08:00"])
    assert "started 0" in out.output
    assert runner.invoke(args=["scheduler", "--list"]).output.startswith("nightly")
    assert runner.invoke(args=["scheduler", "--only", "nope"]).exit_code == 2
    assert runner.invoke(args=["scheduler", "--once", "--now", "yesterday"]).exit_code == 2


def test_old_run_records_are_pruned_but_each_jobs_latest_is_kept(db):
    from core import tasks

    old = datetime(2026, 1, 1, tzinfo=UTC)
    for i, job_id in enumerate(["a", "a", "b"]):
        db.session.add(ScheduledRun(job_id=job_id, due_at=old + timedelta(minutes=i),
                                    claimed_at=old, status="done"))
    db.session.add(ScheduledRun(job_id="a", due_at=datetime.now(UTC), status="done"))
    db.session.commit()
    assert tasks.prune_scheduled_runs() == 2  # both old "a" rows; "b"'s only run stays
    db.session.commit()
    left = db.session.execute(select(ScheduledRun.job_id, ScheduledRun.claimed_at)).all()
    assert sorted(j for j, _ in left) == ["a", "b"]
