"""The operator's console: failed background jobs, with their error and a retry button.

A job that fails is never silent: RQ retries it (``core.jobs.RETRY_INTERVALS``), the inline
runner records the failure the same way, and whatever is still ``failed`` is listed here for
the admins. Retrying puts the same outbox row back to ``pending`` and hands it over again after
the request commits (to RQ, or inline without Redis); jobs are idempotent, so a retry is safe.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from core import jobs
from core.auth import roles_required
from core.extensions import db
from core.models import OutboxJob, Role

bp = Blueprint("console", __name__, url_prefix="/admin")

admin_only = roles_required(Role.ADMIN)
PAGE = 50
SHOWN_STATUSES = ("failed", "retrying", "done")  # done: the jobs that ran recently


def failed_jobs(status: str = "failed", limit: int = PAGE) -> list[OutboxJob]:
    """Outbox rows in ``status`` (failed: no attempt left; retrying: RQ will try again)."""
    return list(
        db.session.scalars(
            select(OutboxJob)
            .where(OutboxJob.status == status)
            .order_by(OutboxJob.id.desc())
            .limit(limit)
        )
    )


def job_counts() -> dict[str, int]:
    return dict(
        db.session.execute(select(OutboxJob.status, func.count()).group_by(OutboxJob.status)).all()
    )


def retry(outbox_id: int) -> OutboxJob | None:
    """Put a failed job back to ``pending`` in this transaction; ``jobs.dispatch_pending``
    (after the commit) hands it over again. None when the row is not failed (any more)."""
    row = db.session.get(OutboxJob, outbox_id, with_for_update=True)
    if row is None or row.status != "failed":
        return None
    _forget_rq_job(row.rq_job_id)
    db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == outbox_id, OutboxJob.status == "failed")
        .values(status="pending", rq_job_id=None, dispatched_at=None, started_at=None,
                finished_at=None, progress=None, progress_message=None, not_before=None)
    )
    db.session.refresh(row)
    # Dispatched after the request's commit, exactly like a job enqueued by the request.
    db.session.info.setdefault(jobs._PENDING_KEY, []).append(row)
    return row


def _forget_rq_job(rq_job_id: str | None) -> None:
    """Drop RQ's record of the failed attempt (its failed registry), so that the new attempt
    under the same job id starts clean. Nothing to do inline or when Redis is unreachable."""
    conn = jobs.redis_connection()
    if conn is None or not rq_job_id:
        return
    from redis.exceptions import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        Job.fetch(rq_job_id, connection=conn).delete()
    except (NoSuchJobError, RedisError):
        pass


@bp.get("/jobs")
@admin_only
def jobs_page():
    status = request.args.get("status", "failed")
    if status not in SHOWN_STATUSES:
        abort(404)
    return render_template(
        "core/console_jobs.html",
        rows=failed_jobs(status),
        counts=job_counts(),
        status=status,
        statuses=SHOWN_STATUSES,
    )


@bp.post("/jobs/<int:outbox_id>/retry")
@admin_only
def retry_job(outbox_id: int):
    row = retry(outbox_id)
    if row is None:
        flash(_("Job %(id)d is not failed; nothing to retry.", id=outbox_id), "warning")
    else:
        flash(_("Job %(id)d is queued again.", id=outbox_id), "success")
    return redirect(url_for("console.jobs_page"))
