"""CLI of the declare package: ``flask demo load``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


def register_cli(app) -> None:
    app.cli.add_command(demo_group)


@click.group("demo")
def demo_group():
    """Demo data for trying the service (enterprises, declarations, accounts)."""


@demo_group.command("load")
@click.option("--seed", default=2026, show_default=True, help="Seed of the demo generator.")
@with_appcontext
def demo_load(seed: int):
    """Load demo enterprises, accounts and declarations; prints counts and the passwords.

    Loads the shipped seed catalogue first when it is missing (same as `flask catalogue
    load`). Idempotent: does nothing when the demo data is already there.
    """
    from core import jobs
    from core.audit import acting_as
    from core.extensions import db
    from declare import demo

    token = acting_as(None, "cli:demo load")  # the audit log names who wrote the rows
    try:
        counts = demo.load_demo(seed)
        db.session.commit()
    except demo.DemoError as exc:
        db.session.rollback()
        jobs.discard_pending()
        raise click.ClickException(str(exc)) from None
    finally:
        token.var.reset(token)
    jobs.dispatch_pending()  # e.g. flag references replaced since they were declared

    if counts.get("already_loaded"):
        click.echo("demo data already loaded: nothing to do")
    else:
        for key, value in counts.items():
            if key != "already_loaded":
                click.echo(f"{key}: {value}")
    click.echo("")
    click.echo("demo accounts (change or delete them on any shared installation):")
    for username, role, password, note in demo.demo_accounts():
        click.echo(f"  {username:<12} {role:<11} {password:<20} {note}")
