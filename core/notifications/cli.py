"""``flask notify reminders``: run every registered daily reminder now (the scheduler runs
them daily; this is the same by hand)."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import AppGroup

from core import jobs
from core.extensions import db
from core.notifications import REMINDERS

notify_group = AppGroup("notify", help="Notifications: reminders.")


@notify_group.command("reminders")
@click.option("--day", default=None, help="Run as of this day (yyyy-MM-dd); default today.")
@click.option("--enqueue", is_flag=True, help="Enqueue the jobs instead of running them here.")
def reminders(day, enqueue):
    """Deadline and review reminders (each event notifies once, however often this runs)."""
    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter("a date as yyyy-MM-dd", param_hint="--day") from None
    for func in REMINDERS:
        if enqueue:
            jobs.enqueue(func, day)
            db.session.commit()
            jobs.dispatch_pending()
            click.echo(f"{func.job_path}: enqueued")
            continue
        result = func(day)
        db.session.commit()
        jobs.dispatch_pending()
        click.echo(f"{func.job_path}: {result}")


def register(app) -> None:
    app.cli.add_command(notify_group)
