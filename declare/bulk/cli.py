"""``flask declare import FILE``: check and import a bulk file from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext


@click.group("declare")
def declare_group():
    """Declarations: bulk import."""


@declare_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--enterprise", "uscc", default="", help="USCC of the enterprise for rows that give none.")
@click.option("--as", "username", default="", help="Import as this enterprise or association account (its rights apply).")
@click.option("--good-rows-only", is_flag=True, help="Write the good declarations even when others are bad.")
@click.option("--dry-run", is_flag=True, help="Check only: write nothing, print the report.")
@with_appcontext
def import_command(file: Path, uscc: str, username: str, good_rows_only: bool, dry_run: bool):
    """Check every row of FILE (.xlsx, or a ZIP of the workbook or CSVs with the PDFs) by the
    rules of the form and the API, print the bad cells, and import it in one transaction
    (nothing when any row is bad, unless --good-rows-only)."""
    from sqlalchemy import func, select

    from core import jobs
    from core.audit import acting_as
    from core.extensions import db
    from core.models import User
    from declare.bulk import imports
    from declare.models import Enterprise
    from declare.validators import USCCError, validate_uscc

    enterprise = user = None
    if uscc:
        try:
            code = validate_uscc(uscc)[0]
        except USCCError as exc:
            raise click.BadParameter(exc.message, param_hint="--enterprise") from None
        enterprise = db.session.scalar(select(Enterprise).where(Enterprise.uscc == code))
        if enterprise is None:
            raise click.BadParameter(f"no enterprise with USCC {code}", param_hint="--enterprise")
    if username:
        user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
        if user is None:
            raise click.BadParameter(f"no account {username}", param_hint="--as")

    data = file.read_bytes()
    token = acting_as(user.id if user is not None else None, f"cli:declare import {file.name}")
    try:
        with click.progressbar(length=1, label="declarations", show_pos=True) as bar:
            state = {"done": 0}

            def progress(checked: int, written: int, total: int) -> None:
                bar.length = total * (1 if dry_run else 2) or 1
                done = checked + written
                bar.update(done - state["done"])
                state["done"] = done

            report = imports.run(
                data,
                file.name,
                user=user,
                enterprise=enterprise,
                write=not dry_run,
                good_rows_only=good_rows_only,
                progress=progress,
            )
        if report.wrote:
            db.session.commit()
        else:
            db.session.rollback()
            jobs.discard_pending()
    except BaseException:
        db.session.rollback()
        jobs.discard_pending()
        raise
    finally:
        token.var.reset(token)
    jobs.dispatch_pending()

    for message in report.file_errors:
        click.echo(f"file: {message}", err=True)
    for e in report.errors:
        click.echo(f"{e['sheet']}!{e['row']} {e['column']} ({e['header']}): {e['message']}", err=True)
    counts = imports.summary(report.as_dict())
    click.echo(
        f"declarations: {report.declarations}; bad: {counts['bad']}; new: {counts['new']}; "
        f"revisions: {counts['revision']}; unchanged: {counts['unchanged']}; drafts: {counts['draft']}; "
        f"written: {len(report.written) if report.wrote else 0}"
    )
    if not report.ok and not (good_rows_only and report.wrote):
        raise SystemExit(1)
