"""CLI commands of the kernel; each domain package adds its own through ``register_cli``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from core import jobs
from core.extensions import db
from core.models import Role, User


def register(app) -> None:
    app.cli.add_command(setup_db)
    app.cli.add_command(create_user)
    app.cli.add_command(worker)
    app.cli.add_command(jobs_group)
    from benchmarks.cli import register_cli as catalogue_cli
    from declare.cli import register_cli as declare_cli

    catalogue_cli(app)
    declare_cli(app)


@click.command("setup-db")
@with_appcontext
def setup_db():
    """Create or upgrade the database schema to the newest migration."""
    upgrade()
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--region", default=None, help="6-digit region code (regulators)")
@click.option("--name", "display_name", default="")
@with_appcontext
def create_user(username, role, password, region, display_name):
    """Create an admin, evaluation-body or regulator account."""
    if Role(role) is Role.REGULATOR and not (region and region.isdigit() and len(region) == 6):
        raise click.BadParameter("regulators need --region with a 6-digit 行政区划 code")
    user = User(username=username, role=Role(role), region_code=region, display_name=display_name)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"created {role} {username}")


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@with_appcontext
def worker(queues, burst):
    """Run an RQ worker (needs REDIS_URL). Start as many as you like, on any host."""
    from rq import Queue, Worker

    conn = jobs.redis_connection()
    if conn is None:
        raise click.UsageError("REDIS_URL is not set: jobs run inline, no worker needed")
    conn.ping()
    names = list(queues) or list(jobs.QUEUES)
    unknown = set(names) - set(jobs.QUEUES)
    if unknown:
        raise click.BadParameter(f"unknown queues {sorted(unknown)}; known: {sorted(jobs.QUEUES)}")
    jobs.set_worker_app(current_app._get_current_object())
    db.engine.dispose()  # no connection is shared with the forked work horses
    w = Worker([Queue(n, connection=conn) for n in names], connection=conn)
    w.work(burst=burst, with_scheduler=True)


@click.group("jobs")
def jobs_group():
    """Inspect and resend outbox jobs."""


@jobs_group.command("flush")
@click.option("--older-than", default=30, show_default=True, help="seconds")
@with_appcontext
def jobs_flush(older_than):
    """Send jobs left pending (e.g. Redis was down when their write committed)."""
    from datetime import timedelta

    n = jobs.flush(timedelta(seconds=older_than))
    click.echo(f"dispatched {n} pending job(s)")
