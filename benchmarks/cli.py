"""``flask catalogue …``: load the shipped seed catalogue or import one table."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import with_appcontext

from benchmarks.importer import KINDS, SEED_DIR, ImportReport, import_file, load_directory


def register_cli(app) -> None:
    app.cli.add_command(catalogue)


@click.group("catalogue")
def catalogue():
    """The reference catalogue: standards, product categories, benchmark indicators."""


def _print(reports: list[ImportReport]) -> bool:
    """Print each report, every change to an existing row (old → new) with the declarations
    it affects; False when something is wrong or waits for --confirm."""
    ok = all(r.ok for r in reports)
    for report in reports:
        click.echo(report.summary())
        for e in report.errors:
            where = f"row {e.row}" if e.row else "file"
            click.echo(f"  {where}, {e.column or '-'}: {e.message}", err=True)
        for key in dict.fromkeys(c["key"] for c in report.changes):
            affected = report.affected.get(key, 0)
            click.echo(f"  {key}: comparison of {affected} declaration(s) in force changes")
            for c in report.changes:
                if c["key"] == key:
                    click.echo(f"    {c['field']}: {c['old']!r} → {c['new']!r}")
        if report.needs_confirmation and not report.written:
            ok = False
    if any(r.needs_confirmation and not r.written for r in reports) and all(r.ok for r in reports):
        click.echo(
            "Nothing written: the import changes existing editions or thresholds. Check the "
            "changes above and run the command again with --confirm.",
            err=True,
        )
    return ok


@contextmanager
def _actor(label: str):
    """Label the audit rows of this command (and forget the label afterwards)."""
    from core.audit import acting_as

    token = acting_as(None, label)
    try:
        yield
    finally:
        token.var.reset(token)


def _finish(ok: bool) -> None:
    from core import jobs
    from core.extensions import db

    if ok:
        db.session.commit()
        jobs.dispatch_pending()
    else:
        db.session.rollback()
        jobs.discard_pending()
        raise SystemExit(1)


@catalogue.command("load")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help=f"Folder with categories.csv, standards.csv, indicators.csv (default: {SEED_DIR}).",
)
@click.option(
    "--confirm",
    is_flag=True,
    help="Write changes to existing editions and thresholds (without it they are only shown).",
)
@with_appcontext
def load(directory: Path | None, confirm: bool):
    """Load categories, standards and indicators, all or nothing (re-running is safe).

    New rows are written at once; changes to existing editions or benchmark thresholds are
    listed (old → new, with the declarations whose comparison they change) and written only
    with --confirm. Every change is kept as catalogue history."""
    with _actor("cli:catalogue load"):
        _finish(_print(load_directory(directory, confirm=confirm)))


@catalogue.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--confirm",
    is_flag=True,
    help="Write changes to existing editions and thresholds (without it they are only shown).",
)
@with_appcontext
def import_(kind: str, file: Path, confirm: bool):
    """Import one table (CSV or .xlsx) of KIND; nothing is written if any row is bad, and
    changes to existing rows only with --confirm."""
    with _actor(f"cli:catalogue import {kind}"):
        _finish(_print([import_file(kind, file.read_bytes(), confirm=confirm)]))
