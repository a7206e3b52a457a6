"""The kernel's CLI: create-user, the worker's start-up checks, the outbox commands.

`flask setup-db` is not tested here: it runs the Alembic migrations and migrations/versions
has none yet.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from core import ROOT
from core.models import AuditLog, OutboxJob, Role, User
from tests.workers import worker_env


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kw: runner.invoke(args=list(args), **kw)


def test_create_user_makes_a_hashed_account(cli, db):
    result = cli(
        "create-user",
        "admin1",
        "--role",
        "admin",
        "--password",
        "s3cret pass",
        "--name",
        "平台运营",
    )
    assert result.exit_code == 0, result.output
    assert "created admin admin1" in result.output
    user = db.session.scalars(select(User).where(User.username == "admin1")).one()
    assert user.role is Role.ADMIN and user.display_name == "平台运营"
    assert user.password_hash != "s3cret pass" and user.check_password("s3cret pass")
    entry = db.session.scalars(select(AuditLog).where(AuditLog.entity == "users")).one()
    assert entry.actor_label == "cli create-user" and entry.after["password_hash"] == "***"


def test_create_user_prompts_for_the_password_twice(cli, db):
    result = cli(
        "create-user", "eval1", "--role", "evaluator", input="long enough 1\nlong enough 1\n"
    )
    assert result.exit_code == 0, result.output
    assert (
        db.session.scalars(select(User).where(User.username == "eval1"))
        .one()
        .check_password("long enough 1")
    )


def test_create_regulator_needs_a_region(cli, db):
    result = cli("create-user", "reg1", "--role", "regulator", "--password", "long enough 1")
    assert result.exit_code == 2
    assert "regulators need a 6-digit 行政区划 code" in result.output
    result = cli(
        "create-user",
        "reg1",
        "--role",
        "regulator",
        "--password",
        "long enough 1",
        "--region",
        "5001",
    )
    assert result.exit_code == 2
    result = cli(
        "create-user",
        "reg1",
        "--role",
        "regulator",
        "--password",
        "long enough 1",
        "--region",
        "500100",
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(User)).one().region_code == "500100"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "admin", "--password", "short"], "at least 8 characters"),
        (["--role", "enterprise", "--password", "long enough 1"], "registering the enterprise"),
        (
            ["--role", "admin", "--password", "long enough 1", "--region", "500000"],
            "only regulators",
        ),
        (["--role", "boss", "--password", "long enough 1"], "'boss' is not one of"),
    ],
)
def test_create_user_refuses_bad_input(cli, db, args, message):
    result = cli("create-user", "someone", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert db.session.scalars(select(User)).all() == []


def test_create_user_refuses_a_taken_name(cli, db, make_user):
    user = make_user(Role.ADMIN)
    result = cli("create-user", user.username, "--role", "admin", "--password", "long enough 1")
    assert result.exit_code == 2 and "is taken" in result.output


def test_worker_without_redis_url_says_jobs_run_inline(cli):
    result = cli("worker", "--burst")
    assert result.exit_code == 2
    assert "REDIS_URL is not set" in result.output


def test_worker_refuses_unknown_queues(cli, app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    result = cli("worker", "nightly")
    assert result.exit_code == 2
    assert "unknown queues ['nightly']" in result.output


def test_worker_reports_an_unreachable_redis_clearly(_schema, tmp_path):
    env = worker_env(_schema, "redis://:secret@127.0.0.1:1/0", tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "default", "--burst"],
        cwd=str(ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "cannot reach Redis at redis://:***@127.0.0.1:1/0" in proc.stderr
    assert "secret" not in proc.stderr and "Traceback" not in proc.stderr


def test_jobs_ping_status_and_flush(cli, db):
    result = cli("jobs", "ping", "--queue", "default")
    assert result.exit_code == 0, result.output
    row = db.session.scalars(select(OutboxJob)).one()
    assert (row.func, row.status) == ("core.tasks.ping", "done")  # inline: ran at once
    result = cli("jobs", "status")
    assert result.exit_code == 0 and "done      1" in result.output
    result = cli("jobs", "flush", "--older-than", "0")
    assert result.exit_code == 0 and "dispatched 0 pending job(s)" in result.output


def test_jobs_status_shows_the_last_failure(cli, db):
    from core import jobs

    jobs.enqueue("core.tasks.fail", "nightly-check")
    db.session.commit()
    jobs.dispatch_pending()
    result = cli("jobs", "status")
    assert "failed    1" in result.output
    assert "core.tasks.fail('nightly-check',)" in result.output
    assert "fails on purpose" in result.output


def test_jobs_flush_says_when_redis_is_still_down(cli, app):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    result = cli("jobs", "flush")
    assert result.exit_code == 1
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in result.output
