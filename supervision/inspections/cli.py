"""``flask supervision inspections mark-overdue``: the nightly overdue marking of rectification
orders (cron), run now or enqueued on the ``supervision`` queue."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext

inspections_group = click.Group("inspections", help="Inspections and rectification orders.")


@inspections_group.command("mark-overdue")
@click.option("--day", default=None, help="Judge deadlines as of this day (YYYY-MM-DD); "
              "default: today in Beijing.")
@click.option("--enqueue", is_flag=True, help="Run as a job on the supervision queue.")
@with_appcontext
def mark_overdue_command(day: str | None, enqueue: bool) -> None:
    """Open orders whose deadline has passed become overdue."""
    from core import jobs
    from core.extensions import db
    from supervision.inspections import operations as inspections
    from supervision.inspections import tasks

    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise click.BadParameter("use YYYY-MM-DD, e.g. 2026-11-22", param_hint="--day")
    if enqueue:
        job = jobs.enqueue(tasks.rectifications_overdue, day)
        db.session.commit()
        jobs.dispatch_pending()
        click.echo(f"enqueued job {job.id}")
        return
    ids = inspections.mark_overdue(date.fromisoformat(day) if day else None)
    db.session.commit()
    click.echo(f"{len(ids)} rectification order(s) marked overdue")
