"""CLI commands of the kernel; ``app.create_app`` adds each domain's ``register_cli``."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from core import jobs
from core.extensions import db
from core.models import OutboxJob, Role, User

MIN_PASSWORD = 8


def register(app) -> None:
    app.cli.add_command(setup_db)
    app.cli.add_command(create_user)
    app.cli.add_command(worker)
    app.cli.add_command(jobs_group)
    app.cli.add_command(scheduler)
    app.cli.add_command(audit_group)


@click.command("setup-db")
@with_appcontext
def setup_db():
    """Create or upgrade the database schema to the newest migration."""
    from flask_migrate import upgrade

    upgrade()
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--region", default=None, help="6-digit 行政区划 code (regulators)")
@click.option("--name", "display_name", default="")
@with_appcontext
def create_user(username, role, password, region, display_name):
    """Create an admin, evaluation-body or regulator account.

    Enterprises register themselves on the site (their account needs an enterprise record).
    """
    from core.audit import acting_as, reset_actor

    username = username.strip()
    role = Role(role)
    if not username or len(username) > 80:
        raise click.BadParameter("1 to 80 characters", param_hint="USERNAME")
    if role is Role.ENTERPRISE:
        raise click.BadParameter(
            "enterprise accounts are created by registering the enterprise on the site",
            param_hint="--role",
        )
    if role is Role.REGULATOR and not (region and region.isdigit() and len(region) == 6):
        raise click.BadParameter(
            "regulators need a 6-digit 行政区划 code, e.g. 500000", param_hint="--region"
        )
    if region and role is not Role.REGULATOR:
        raise click.BadParameter("only regulators have a region", param_hint="--region")
    if len(password) < MIN_PASSWORD:
        raise click.BadParameter(f"at least {MIN_PASSWORD} characters", param_hint="--password")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise click.BadParameter(f"{username!r} is taken", param_hint="USERNAME")
    user = User(username=username, role=role, region_code=region, display_name=display_name)
    user.set_password(password)
    token = acting_as(None, "cli create-user")
    try:
        db.session.add(user)
        db.session.commit()
    finally:
        reset_actor(token)
    click.echo(f"created {role.value} {username}")


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option(
    "--fork/--no-fork",
    default=True,
    show_default=True,
    help="Run each job in a forked work horse (isolated: a crash or a leak ends with the job) "
    "or in the worker process itself (no fork, database connections stay open between jobs: "
    "for many short jobs, such as the ranking queue's preview regenerations).",
)
@with_appcontext
def worker(queues, burst, fork):
    """Run an RQ worker (needs REDIS_URL). Start as many as you like, on any host.

    QUEUES default to all of them; a job's outbox row in the database says how it went.
    Every few seconds an idle worker re-queues the jobs of workers that died and re-sends
    jobs left pending (core.workers); a Redis outage makes it wait and resume, not quit.
    """
    from core import workers

    names = list(queues) or list(jobs.QUEUES)
    unknown = set(names) - set(jobs.QUEUES)
    if unknown:
        raise click.BadParameter(
            f"unknown queues {sorted(unknown)}; known: {sorted(jobs.QUEUES)}", param_hint="QUEUES"
        )
    conn = _reachable_redis()
    if conn is None:
        raise click.UsageError("REDIS_URL is not set: jobs run inline, no worker needed")
    try:
        workers.timings(current_app.config)
        workers.dequeue_strategy(current_app.config)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    jobs.set_worker_app(current_app._get_current_object())
    db.session.remove()
    if fork:
        db.engine.dispose()  # no connection is shared with the forked work horses
    workers.serve(lambda: workers.build(names, fork), conn, burst=burst)


def _reachable_redis():
    """The Redis connection (None without REDIS_URL); a clear error when it does not answer."""
    from redis.exceptions import RedisError

    conn = jobs.redis_connection()
    if conn is None:
        return None
    try:
        conn.ping()
    except RedisError as exc:
        raise click.ClickException(
            f"cannot reach Redis at {jobs.redis_url_for_humans()} ({exc}). "
            "Start Redis or fix REDIS_URL; jobs wait in the outbox meanwhile."
        ) from None
    return conn


@click.group("jobs")
def jobs_group():
    """Inspect and resend outbox jobs."""


@jobs_group.command("flush")
@click.option(
    "--older-than", default=30, show_default=True, type=click.IntRange(min=0), help="seconds"
)
@with_appcontext
def jobs_flush(older_than):
    """Send jobs left pending (e.g. Redis was down when their write committed), jobs Redis
    lost, and jobs whose worker died (no heartbeat). Workers also do this every few seconds."""
    _reachable_redis()
    n = jobs.flush(timedelta(seconds=older_than))
    click.echo(f"dispatched {n} pending job(s)")


@jobs_group.command("ping")
@click.option("--queue", "queues", multiple=True, type=click.Choice(sorted(jobs.QUEUES)))
@with_appcontext
def jobs_ping(queues):
    """Send a ping job to each queue; `flask jobs status` then shows whether they ran."""
    from core import tasks
    from core.models import utcnow

    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    for name in queues or sorted(jobs.QUEUES):
        jobs.enqueue(tasks.ping, f"{name}:{stamp}", queue=name)
    db.session.commit()
    jobs.dispatch_pending()
    click.echo(f"ping {stamp} sent")


@jobs_group.command("status")
@with_appcontext
def jobs_status():
    """Outbox rows by status, and the latest failure."""
    counts = dict(
        db.session.execute(select(OutboxJob.status, func.count()).group_by(OutboxJob.status)).all()
    )
    for status in ("pending", "queued", "running", "retrying", "done", "failed"):
        click.echo(f"{status:9} {counts.get(status, 0)}")
    last = db.session.scalar(
        select(OutboxJob).where(OutboxJob.status == "failed").order_by(OutboxJob.id.desc()).limit(1)
    )
    if last is not None:
        click.echo(f"last failure: #{last.id} {last.func}{tuple(last.args)}\n{last.error or ''}")


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run what is due now, then exit (no loop).")
@click.option("--only", multiple=True, metavar="ID", help="Only these schedule ids.")
@click.option("--now", "now_text", default=None, metavar="ISO-TIME",
              help="With --once: run what is due at this time (e.g. a missed night).")
@click.option("--list", "list_only", is_flag=True, help="Show the schedule and exit.")
@with_appcontext
def scheduler(once, only, now_text, list_only):
    """Run the periodic jobs of core.schedule: one supervised process (systemd: qibiao-scheduler).

    Each due run is claimed by a unique (job, due time) row, so a second scheduler started
    by mistake runs nothing twice. Without REDIS_URL the jobs run inline in this process
    (make run); with it they go to the workers, and the outbox flush runs here.
    """
    import signal
    import threading
    from datetime import datetime, timezone

    from core import schedule
    from core.models import utcnow

    try:
        chosen = schedule.entries(only)
        schedule.check(chosen)
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None
    if list_only:
        now = utcnow()
        for entry in chosen:
            click.echo(f"{entry.id:24} {entry.when:18} next {entry.next_due(now).isoformat()}  "
                       f"{entry.handle}")
        return
    if now_text and not once:
        raise click.UsageError("--now needs --once")
    if once:
        try:
            now = datetime.fromisoformat(now_text) if now_text else utcnow()
        except ValueError:
            raise click.BadParameter("an ISO time, e.g. 2026-12-08T02:31+08:00",
                                     param_hint="--now") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        runs = schedule.run_due(now, chosen)
        click.echo(f"started {len(runs)} scheduled run(s): "
                   + ", ".join(f"{r.job_id}@{r.due_at.isoformat()}" for r in runs))
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"scheduler running {len(chosen)} job(s); jobs "
               + ("inline (REDIS_URL unset)" if jobs.redis_connection() is None else "to RQ"))
    schedule.serve(stop, chosen)
    click.echo("scheduler stopped")


@click.group("audit")
def audit_group():
    """The tamper-evident audit log: verify the hash chain, seal, anchor."""


@audit_group.command("verify")
@with_appcontext
def audit_verify():
    """Check the whole chain and the anchors; name the first broken link (exit 1)."""
    from core import audit_chain

    result = audit_chain.verify(db.session.connection())
    db.session.rollback()
    click.echo(result.describe())
    if not result.ok:
        raise SystemExit(1)


@audit_group.command("seal")
@with_appcontext
def audit_seal():
    """Chain audit rows written without the hook (e.g. restored from elsewhere)."""
    from core import audit_chain

    n = audit_chain.seal(db.session.connection())
    db.session.commit()
    click.echo(f"sealed {n} audit entr{'y' if n == 1 else 'ies'}")


@audit_group.command("anchor")
@click.option("--day", default=None, help="yyyy-mm-dd (default: today, Beijing time)")
@with_appcontext
def audit_anchor(day):
    """Store today's anchor now (the scheduler does it daily at 00:15)."""
    from core import tasks

    try:
        seq = tasks.audit_anchor(day)
    except ValueError:
        raise click.BadParameter("yyyy-mm-dd", param_hint="--day") from None
    db.session.commit()
    click.echo(f"anchored the audit chain at seq {seq}")
