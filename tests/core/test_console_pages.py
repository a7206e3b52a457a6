"""The operator's console (inline runner: no Redis) and the audit log page with its filters."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update

from core import jobs, schedule
from core.models import AuditLog, OutboxJob, Role, User
from tests.conftest import PASSWORD


def _html(client, url: str, status: int = 200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)[:2000]
    return resp.get_data(as_text=True)


def test_console_without_redis_shows_recent_jobs_and_the_schedule(db, client, login_as, tmp_path):
    admin = login_as(Role.ADMIN)
    ok = jobs.enqueue("core.tasks.ping", "console")
    bad = jobs.enqueue("tests.core.tasks.fail_until_file_exists", str(tmp_path / "m"), admin.id,
                       "x")
    db.session.commit()
    jobs.dispatch_pending()
    schedule.run_due(datetime(2026, 12, 7, 21, 0, 5, tzinfo=timezone.utc),
                     schedule.entries(["outbox-flush"]))
    html = _html(client, "/admin/console")
    assert 'id="rq-inline"' in html  # "Redis not configured"
    assert f'id="recent-{ok.id}" data-status="done"' in html
    assert f'id="recent-{bad.id}" data-status="failed"' in html and "RuntimeError: " in html
    assert " s</td>" in html  # durations
    assert 'id="schedule-outbox-flush"' in html and 'id="schedule-risk-flags-nightly"' in html
    only_failed = _html(client, "/admin/console?status=failed")
    assert f'id="recent-{bad.id}"' in only_failed and f'id="recent-{ok.id}"' not in only_failed
    assert client.get("/admin/console?status=nope").status_code == 422


def _entry_for(db, username: str) -> AuditLog:
    user_id = db.session.scalar(select(User.id).where(User.username == username))
    return db.session.scalar(select(AuditLog).where(AuditLog.entity == "users",
                                                    AuditLog.entity_id == str(user_id)))


@pytest.fixture
def audited(db, client, login_as):
    login_as(Role.ADMIN, username="boss")
    for name in ("alice", "bob"):
        user = User(username=name, role=Role.REGULATOR, region_code="500000")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
    bob = db.session.scalar(select(User).where(User.username == "bob"))
    bob.display_name = "Bob B."
    db.session.commit()
    # An old entry, to filter by day.
    alice = _entry_for(db, "alice")
    db.session.execute(update(AuditLog).where(AuditLog.id == alice.id)
                       .values(at=datetime(2026, 1, 10, 12, tzinfo=timezone.utc)))
    db.session.commit()
    return {"alice": alice.id, "bob": bob.id}


def _ids(html: str) -> set[str]:
    import re

    return set(re.findall(r'id="audit-(\d+)"', html))


def test_the_audit_log_filters_and_shows_before_and_after(db, client, audited):
    everything = _ids(_html(client, "/admin/audit"))
    assert len(everything) >= 3
    updates = _html(client, "/admin/audit?action=update&entity=users")
    assert len(_ids(updates)) == 1
    assert '<code>display_name</code></td><td class="audit-value"><code>""</code></td>' in updates
    assert '<td class="audit-value"><code>"Bob B."</code></td>' in updates  # before / after
    by_object = _ids(_html(client, f"/admin/audit?entity=users&entity_id={audited['bob']}"))
    assert len(by_object) == 2  # bob's insert and update
    old = _ids(_html(client, "/admin/audit?since=2026-01-10&until=2026-01-10"))
    assert old == {str(audited["alice"])}
    assert str(audited["alice"]) not in _ids(_html(client, "/admin/audit?since=2026-01-11"))
    assert _ids(_html(client, "/admin/audit?actor=nobody")) == set()
    # Tests write as "system" (no request); a request's writes carry the user.
    assert _ids(_html(client, "/admin/audit?actor=system")) == everything


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=2026-13-01", "YYYY-MM-DD"),
        ("since=2026-02-01&until=2026-01-01", "before"),
        ("action=drop", "insert, update, delete"),
        ("entity=secrets", "not an audited table"),
        ("page=0", "whole number"),
    ],
)
def test_bad_filters_are_refused_with_the_fields_message(client, audited, query, message):
    assert message in _html(client, f"/admin/audit?{query}", 422)


def test_the_audit_log_is_paginated(db, client, login_as, monkeypatch):
    login_as(Role.ADMIN)
    monkeypatch.setattr("core.console.AUDIT_PER_PAGE", 2)
    for i in range(3):
        db.session.add(User(username=f"p{i}", role=Role.ADMIN, password_hash="x"))
        db.session.commit()
    first, second = _html(client, "/admin/audit"), _html(client, "/admin/audit?page=2")
    assert len(_ids(first)) == 2 and len(_ids(second)) >= 1
    assert not _ids(first) & _ids(second)
    assert "page=2" in first


@pytest.mark.parametrize("role", [Role.REGULATOR, Role.EVALUATOR, Role.ENTERPRISE])
def test_the_console_is_for_admins_only(client, login_as, role):
    login_as(role)
    for url in ("/admin/console", "/admin/audit", "/admin/jobs"):
        assert client.get(url).status_code == 403


def test_anonymous_visitors_go_to_the_login_but_read_the_anchors(client):
    assert client.get("/admin/console").status_code == 302
    assert client.get("/admin/audit").status_code == 302
    assert "anchors" in _html(client, "/open/audit-anchors")


def test_a_failed_job_listed_on_the_console_succeeds_on_retry(db, client, login_as, tmp_path):
    admin = login_as(Role.ADMIN)
    marker = tmp_path / "marker"
    row = jobs.enqueue("tests.core.tasks.fail_until_file_exists", str(marker), admin.id, "ok")
    db.session.commit()
    jobs.dispatch_pending()
    assert f'id="recent-{row.id}" data-status="failed"' in _html(client, "/admin/console")
    marker.write_text("ok")
    assert client.post(f"/admin/jobs/{row.id}/retry").status_code == 302
    db.session.expire_all()
    assert db.session.get(OutboxJob, row.id).status == "done"
    assert f'id="recent-{row.id}" data-status="done"' in _html(client, "/admin/console")
