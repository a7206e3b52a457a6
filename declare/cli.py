"""CLI of the declare package: ``flask demo load`` and ``flask search rebuild``.

The demo command loads declare's own data (enterprises, accounts, declarations), then every
loader that packages to the right of declare registered with ``register_demo_loader`` at app
creation (ranking adds its evaluation plan and leader list). declare never imports them: the
registry is how they join in, like the signals of ``declare.signals``.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import current_app
from flask.cli import with_appcontext

DemoLoader = Callable[[int], dict]
"""``loader(seed) -> counts``: flushes, never commits; idempotent (``{"already_loaded": True}``
when its part is there); raises ``declare.demo.DemoError`` to abort the whole load."""

_LOADERS_KEY = "demo_loaders"


def register_cli(app) -> None:
    from declare.bulk.cli import declare_group

    app.cli.add_command(demo_group)
    app.cli.add_command(search_group)
    app.cli.add_command(opendata_group)
    app.cli.add_command(declare_group)


def register_demo_loader(app, name: str, loader: DemoLoader) -> None:
    """Run ``loader`` after the declarations in ``flask demo load``, in the same transaction.

    Loaders run in the order they were registered; registering a name again replaces its
    loader (an app factory may run more than once in a process).
    """
    app.extensions.setdefault(_LOADERS_KEY, {})[name] = loader


def demo_loaders(app) -> dict[str, DemoLoader]:
    return dict(app.extensions.get(_LOADERS_KEY, {}))


@click.group("demo")
def demo_group():
    """Demo data for trying the service (enterprises, declarations, accounts)."""


@demo_group.command("load")
@click.option("--seed", default=2026, show_default=True, help="Seed of the demo generator.")
@with_appcontext
def demo_load(seed: int):
    """Load demo enterprises, accounts and declarations; prints counts and the passwords.

    Loads the shipped seed catalogue first when it is missing (same as `flask catalogue
    load`), then the parts other packages registered (e.g. the 领跑者 rankings). Idempotent:
    each part does nothing when its data is already there. One transaction: if any part
    fails, nothing is written.
    """
    from core import jobs
    from core.audit import acting_as
    from core.extensions import db
    from declare import demo

    token = acting_as(None, "cli:demo load")  # the audit log names who wrote the rows
    try:
        parts = {"declarations": demo.load_demo(seed)}
        for name, loader in demo_loaders(current_app).items():
            parts[name] = loader(seed)
        db.session.commit()
    except demo.DemoError as exc:
        db.session.rollback()
        jobs.discard_pending()
        raise click.ClickException(str(exc)) from None
    finally:
        token.var.reset(token)
    jobs.dispatch_pending()  # e.g. flag references replaced since they were declared

    for name, counts in parts.items():
        if counts.get("already_loaded"):
            click.echo(f"{name}: demo data already loaded: nothing to do")
            continue
        for key, value in counts.items():
            if key != "already_loaded":
                label = key if name == "declarations" else f"{name}.{key}"
                click.echo(f"{label}: {value}")
    click.echo("")
    click.echo("demo accounts (change or delete them on any shared installation):")
    for username, role, password, note in demo.demo_accounts():
        click.echo(f"  {username:<12} {role:<11} {password:<20} {note}")


@click.group("search")
def search_group():
    """The public search index (declaration_search)."""


@search_group.command("rebuild")
@click.option(
    "--batch-size", default=5000, show_default=True, type=click.IntRange(100, 100_000),
    help="Declarations read, tokenised and written per transaction.",
)
@with_appcontext
def search_rebuild(batch_size: int):
    """Rebuild the search index from every published or ended declaration.

    Needed after loading data that bypassed the operations (bulk SQL, a restored dump) or
    after changing the tokeniser; the write path keeps it current otherwise. Commits per
    batch and prints progress on stderr; searches meanwhile see a partial index.
    """
    from declare import search

    done = search.rebuild(batch_size=batch_size, progress=search.progress_printer())
    click.echo(f"search index rebuilt: {done} declarations")


@click.group("opendata")
def opendata_group():
    """The daily open-data release (开放数据)."""


@opendata_group.command("release")
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day to release (YYYY-MM-DD); default today (Beijing time).")
@with_appcontext
def opendata_release(day):
    """Write OPEN_DATA_DIR/YYYY-MM-DD/ unless it exists (the files of a day never change)."""
    from declare.tasks import release_open_data

    try:
        result = release_open_data(day.date().isoformat() if day else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--day") from None
    if result["written"]:
        counts = ", ".join(f"{k} {v:,}" for k, v in result["rows"].items())
        click.echo(f"open data {result['day']}: written ({counts})")
    else:
        click.echo(f"open data {result['day']}: already released, nothing changed")
