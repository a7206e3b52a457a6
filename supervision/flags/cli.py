"""``flask supervision flags ...``: risk-flag commands.

``flask supervision flags recompute`` brings every declaration's flags up to date (the nightly
run: limits come into force with the date, category medians drift); ``--region`` or
``--category`` narrow it. It runs in this process by default and prints what changed; with
``--enqueue`` it hands the job to the ``supervision`` queue instead (what cron should do, so
a worker runs it and its progress shows on the job).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

flags_group = click.Group("flags", help="Risk flags of declarations.")


def _region(ctx, param, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not (len(value) == 6 and value.isascii() and value.isdigit()):
        raise click.BadParameter(
            f"{value!r} is not a 行政区划 code: write its 6 digits, e.g. 500000 (a province) "
            "or 500112 (a district)"
        )
    return value


@flags_group.command("recompute")
@click.option(
    "--region",
    callback=_region,
    default=None,
    help="Only the enterprises of this 行政区划 code and its sub-regions.",
)
@click.option(
    "--category",
    "category_id",
    type=click.IntRange(min=1),
    default=None,
    help="Only the declarations with a product in this category (id).",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="Queue the job on the supervision queue instead of running it here.",
)
@with_appcontext
def recompute_cmd(region: str | None, category_id: int | None, enqueue: bool) -> None:
    """Recompute the risk flags (all declarations unless narrowed)."""
    from benchmarks.models import ProductCategory
    from core import jobs
    from core.audit import acting_as, reset_actor
    from core.extensions import db
    from supervision.flags import tasks

    if region and category_id:
        raise click.UsageError("give --region or --category, not both")
    if category_id is not None and db.session.get(ProductCategory, category_id) is None:
        raise click.BadParameter(
            f"no product category with id {category_id}", param_hint="--category"
        )
    if region:
        func, args = tasks.flags_for_region, (region,)
    elif category_id is not None:
        func, args = tasks.flags_for_category, (category_id,)
    else:
        func, args = tasks.recompute_all, ()

    if enqueue:
        row = jobs.enqueue(
            func,
            *args,
            dedupe_key="supervision:flags:" + ":".join([func.job_path, *map(str, args)]),
        )
        db.session.commit()
        jobs.dispatch_pending()
        click.echo(f"queued job {row.id}: {func.job_path}{args}")
        return

    token = acting_as(None, "cli:supervision flags recompute")
    try:
        result = func(*args)
        db.session.commit()
    except Exception:
        db.session.rollback()
        jobs.discard_pending()
        raise
    finally:
        reset_actor(token)
    jobs.dispatch_pending()
    click.echo(
        f"{result['declarations']} declarations in force; flags opened {result['opened']}, "
        f"cleared {result['cleared']}, updated {result['updated']}"
    )
    for code, n in result["by_code"].items():
        click.echo(f"  opened {code}: {n}")
