"""The admins' failed-jobs page (core.console): a failed job is listed with its error and
comes back with the retry button (inline runner here; a real RQ worker in
test_console_worker.py)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core import jobs
from core.models import OutboxJob, Role, User
from tests.conftest import CSRF_RE


def _failing_job(db, tmp_path, user) -> OutboxJob:
    marker = tmp_path / "marker"
    row = jobs.enqueue("tests.core.tasks.fail_until_file_exists", str(marker), user.id, "renamed")
    db.session.commit()
    jobs.dispatch_pending()
    db.session.expire_all()
    return db.session.get(OutboxJob, row.id)


def test_a_failed_inline_job_is_listed_and_succeeds_on_retry(db, client, login_as, tmp_path):
    admin = login_as(Role.ADMIN)
    row = _failing_job(db, tmp_path, admin)
    assert row.status == "failed" and "marker" in row.error and row.finished_at is not None

    page = client.get("/admin/jobs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'id="job-{row.id}"' in html
    assert "tests.core.tasks.fail_until_file_exists" in html
    assert "RuntimeError: marker" in html  # the error's last line is the summary

    (tmp_path / "marker").write_text("ok")
    resp = client.post(f"/admin/jobs/{row.id}/retry")
    assert resp.status_code == 302
    db.session.expire_all()
    again = db.session.get(OutboxJob, row.id)
    assert (again.status, again.error) == ("done", None)
    assert db.session.get(User, admin.id).display_name == "renamed"
    assert f'id="job-{row.id}"' not in client.get("/admin/jobs").get_data(as_text=True)
    # Retrying what is not failed (any more) does nothing.
    client.post(f"/admin/jobs/{row.id}/retry")
    assert db.session.get(OutboxJob, row.id).status == "done"


@pytest.mark.parametrize("role", [Role.REGULATOR, Role.EVALUATOR, Role.ENTERPRISE])
def test_only_admins_see_and_retry_jobs(db, client, login_as, tmp_path, role):
    row = _failing_job(db, tmp_path, login_as(role))
    assert client.get("/admin/jobs").status_code == 403
    assert client.post(f"/admin/jobs/{row.id}/retry").status_code == 403
    db.session.expire_all()
    assert db.session.get(OutboxJob, row.id).status == "failed"


def test_anonymous_visitors_are_sent_to_the_login(client):
    assert client.get("/admin/jobs").status_code == 302


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_the_retry_form_needs_its_csrf_token(self, db, client, make_user, tmp_path):
        admin = make_user(Role.ADMIN)
        login = client.get("/login").get_data(as_text=True)
        token = CSRF_RE.search(login).group(1)
        client.post("/login", data={"username": admin.username, "password": "correct horse 9",
                                    "csrf_token": token})
        row = _failing_job(db, tmp_path, admin)
        (tmp_path / "marker").write_text("ok")
        assert client.post(f"/admin/jobs/{row.id}/retry").status_code == 400
        db.session.expire_all()
        assert db.session.get(OutboxJob, row.id).status == "failed"
        html = client.get("/admin/jobs").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        assert client.post(f"/admin/jobs/{row.id}/retry",
                           data={"csrf_token": token}).status_code == 302
        db.session.expire_all()
        assert db.session.get(OutboxJob, row.id).status == "done"
        assert db.session.scalars(select(OutboxJob.status)).all() == ["done"]
