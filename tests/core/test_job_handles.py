"""Jobs registered by handle: ``@jobs.job(queue)`` on a tasks function, ``enqueue(func, ...)``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import jobs, tasks
from core.jobs import JobPing
from core.models import OutboxJob


def test_a_registered_job_carries_its_dotted_path_and_queue():
    from ranking import tasks as ranking_tasks
    from supervision.flags import tasks as supervision_tasks

    assert tasks.ping.job_path == "core.tasks.ping" and tasks.ping.job_queue == "default"
    assert ranking_tasks.regenerate_preview.job_queue == "ranking"
    assert supervision_tasks.flags_for_category.job_path == "supervision.flags.tasks.flags_for_category"
    assert supervision_tasks.flags_for_category.job_queue == "supervision"


def test_enqueue_by_handle_stores_the_path_on_the_registered_queue_and_runs(app, db):
    row = jobs.enqueue(tasks.ping, "by-handle")
    assert (row.func, row.queue) == ("core.tasks.ping", "default")
    db.session.commit()
    jobs.dispatch_pending()  # inline: no REDIS_URL
    db.session.rollback()
    assert db.session.get(OutboxJob, row.id).status == "done"
    assert db.session.scalar(select(JobPing.key).where(JobPing.key == "by-handle"))


def test_a_queue_given_at_the_call_site_wins(app, db):
    from supervision.flags import tasks as supervision_tasks

    assert jobs.enqueue(tasks.ping, "elsewhere", queue="ranking").queue == "ranking"
    assert jobs.enqueue(supervision_tasks.recompute_all).queue == "supervision"
    db.session.rollback()


def test_only_registered_functions_and_known_queues_are_jobs(app, db):
    def loose(): ...

    with pytest.raises(TypeError, match="not a job"):
        jobs.enqueue(loose)
    with pytest.raises(ValueError, match="unknown queue 'nightly'"):
        jobs.job("nightly")
    with pytest.raises(ValueError, match="tasks module"):
        jobs.job("default")(loose)
    db.session.rollback()


def test_a_job_outside_an_app_context_uses_the_factory_the_app_passed_in(monkeypatch):
    built = []
    monkeypatch.setattr(jobs, "_app", None)
    monkeypatch.setattr(jobs, "_app_factory", lambda: built.append(1) or "the app")
    assert jobs._worker_app() == "the app" and built == [1]
    monkeypatch.setattr(jobs, "_app", None)
    monkeypatch.setattr(jobs, "_app_factory", None)
    with pytest.raises(RuntimeError, match="flask --app wsgi worker"):
        jobs._worker_app()
