"""The operator's console (admins only): queues and workers, recent jobs, failed jobs with a
retry, the scheduler's last and next runs, and the audit log with its chain verification. The
public list of the audit chain's daily anchors is here too (``anchors_bp``, /open/audit-anchors).

Failed jobs:

A job that fails is never silent: RQ retries it (``core.jobs.RETRY_INTERVALS``), the inline
runner records the failure the same way, and whatever is still ``failed`` is listed here for
the admins. Retrying puts the same outbox row back to ``pending`` and hands it over again after
the request commits (to RQ, or inline without Redis); jobs are idempotent, so a retry is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from sqlalchemy import func, select, update
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from core import audit_chain, jobs, schedule
from core.auth import roles_required
from core.clock import end_of_day
from core.extensions import db
from core.forms import DayField, page_arg, strip
from core.models import AuditAnchor, AuditLog, OutboxJob, Role, User

bp = Blueprint("console", __name__, url_prefix="/admin")
anchors_bp = Blueprint("audit_anchors", __name__, url_prefix="/open")

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


# ------------------------------------------------------------------ queues, workers, recent jobs

JOB_STATUSES = ("pending", "queued", "running", "retrying", "done", "failed")


@dataclass
class QueueInfo:
    name: str
    waiting: int
    running: int
    failed: int
    scheduled: int


@dataclass
class WorkerInfo:
    name: str
    state: str
    queues: list[str]
    current_job: str | None
    last_heartbeat: object
    birth: object
    done: int
    failed: int


@dataclass
class RqView:
    configured: bool
    reachable: bool = True
    error: str = ""
    queues: list[QueueInfo] = field(default_factory=list)
    workers: list[WorkerInfo] = field(default_factory=list)


def rq_view() -> RqView:
    """Each queue's length and RQ's registries (running, failed, scheduled), and the workers
    RQ knows (those registered with a live heartbeat). Nothing to show inline."""
    conn = jobs.redis_connection()
    if conn is None:
        return RqView(configured=False)
    from redis.exceptions import RedisError
    from rq import Queue, Worker
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    view = RqView(configured=True)
    try:
        for name in jobs.QUEUES:
            queue = Queue(name, connection=conn)
            view.queues.append(QueueInfo(
                name, queue.count, StartedJobRegistry(queue=queue).count,
                FailedJobRegistry(queue=queue).count, ScheduledJobRegistry(queue=queue).count,
            ))
        for worker in sorted(Worker.all(connection=conn), key=lambda w: w.name):
            view.workers.append(WorkerInfo(
                worker.name, worker.get_state(), worker.queue_names(),
                worker.get_current_job_id(), worker.last_heartbeat, worker.birth_date,
                worker.successful_job_count, worker.failed_job_count,
            ))
    except RedisError as exc:
        view.reachable, view.error = False, str(exc)
    return view


def recent_jobs(status: str | None, limit: int = PAGE) -> list[OutboxJob]:
    stmt = select(OutboxJob).order_by(OutboxJob.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(OutboxJob.status == status)
    return list(db.session.scalars(stmt))


def duration(row: OutboxJob) -> timedelta | None:
    if row.started_at is None or row.finished_at is None:
        return None
    return row.finished_at - row.started_at


@bp.get("/console")
@admin_only
def console_page():
    status = request.args.get("status", "")
    if status and status not in JOB_STATUSES:
        flash(_("Status: choose one of %(allowed)s.", allowed=", ".join(JOB_STATUSES)), "danger")
        return render_template(
            "core/console.html", rq=rq_view(), runs=schedule.status(), rows=[],
            counts=job_counts(), status="", statuses=JOB_STATUSES, duration=duration,
        ), 422
    return render_template(
        "core/console.html", rq=rq_view(), runs=schedule.status(), rows=recent_jobs(status),
        counts=job_counts(), status=status, statuses=JOB_STATUSES, duration=duration,
    )


@bp.get("/mail")
@admin_only
def mail_folder():
    """Without ``MAIL_URL`` every mail is written to ``MAIL_FOLDER``: the demo shows it here."""
    from core.mail import folder_mail

    return render_template("core/console_mail.html", mails=folder_mail(),
                           smtp=bool(current_app.config.get("MAIL_URL")))


# ------------------------------------------------------------------------------ the audit log

ACTIONS = ("insert", "update", "delete")
#: How each action reads (the stored value stays the English word the filter takes).
ACTION_WORDS = {
    "insert": _lp("audit action", "Created"),
    "update": _lp("audit action", "Changed"),
    "delete": _lp("audit action", "Deleted"),
}
AUDIT_PER_PAGE = 50


def audited_tables() -> list[str]:
    from core.audit import SKIP_TABLES

    return sorted(t.name for t in db.metadata.sorted_tables if t.name not in SKIP_TABLES)


class AuditFilterForm(FlaskForm):
    """The audit log's filters (GET, no CSRF); each refusal names the field and what it takes."""

    class Meta:
        csrf = False

    actor = StringField(_l("Who"), filters=[strip], validators=[Optional(), Length(max=120)])
    entity = SelectField(_l("Table"), default="", validate_choice=False)
    action = SelectField(_l("Action"), default="", validate_choice=False)
    entity_id = StringField(_l("Object id"), filters=[strip],
                            validators=[Optional(), Length(max=40)])
    since = DayField(_l("From"), validators=[Optional()])
    until = DayField(_l("Until"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.entity.choices = [SelectChoice("", _l("All tables"))] + [
            SelectChoice(t, t) for t in audited_tables()
        ]
        self.action.choices = [SelectChoice("", _l("All actions"))] + [
            SelectChoice(a, ACTION_WORDS[a]) for a in ACTIONS
        ]

    def validate_entity(self, fld) -> None:
        if fld.data and fld.data not in audited_tables():
            raise ValidationError(_("Table: “%(value)s” is not an audited table.", value=fld.data))

    def validate_action(self, fld) -> None:
        if fld.data and fld.data not in ACTIONS:
            raise ValidationError(
                _("Action: choose one of %(allowed)s.", allowed=", ".join(ACTIONS))
            )

    def validate_until(self, fld) -> None:
        if fld.data and self.since.data and fld.data < self.since.data:
            raise ValidationError(_("Until: the day must not be before “From”."))


def audit_query(form: AuditFilterForm):
    stmt = select(AuditLog).order_by(AuditLog.id.desc())
    if form.actor.data:
        stmt = stmt.where(AuditLog.actor_label.contains(form.actor.data, autoescape=True))
    if form.entity.data:
        stmt = stmt.where(AuditLog.entity == form.entity.data)
    if form.action.data:
        stmt = stmt.where(AuditLog.action == form.action.data)
    if form.entity_id.data:
        stmt = stmt.where(AuditLog.entity_id == form.entity_id.data)
    if form.since.data:
        stmt = stmt.where(AuditLog.at >= end_of_day(form.since.data - timedelta(days=1)))
    if form.until.data:
        stmt = stmt.where(AuditLog.at < end_of_day(form.until.data))
    return stmt


def changes(entry: AuditLog) -> list[tuple[str, object, object]]:
    """(column, before, after) of an entry: every column of an insert or delete, the changed
    ones of an update."""
    before, after = entry.before or {}, entry.after or {}
    return [(k, before.get(k), after.get(k)) for k in sorted(set(before) | set(after))]


@bp.get("/audit")
@admin_only
def audit_page():
    form = AuditFilterForm(request.args)
    if not form.validate():
        return render_template("core/console_audit.html", form=form, page=None, args={},
                               changes=changes, actors={}, action_words=ACTION_WORDS), 422
    page = db.paginate(audit_query(form), page=page_arg(), per_page=AUDIT_PER_PAGE,
                       error_out=False, count=True)
    ids = {e.actor_id for e in page.items if e.actor_id is not None}
    actors = dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
                  ) if ids else {}
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("core/console_audit.html", form=form, page=page, args=args,
                           changes=changes, actors=actors, action_words=ACTION_WORDS)


def verify_message(result: audit_chain.Result) -> str:
    if result.ok:
        return _("The audit chain is intact: %(n)d entries, head %(hash)s.", n=result.checked,
                 hash=result.head_hash)
    entry = (_("entry #%(id)d", id=result.entry_id) if result.entry_id is not None
             else _("an entry"))
    reasons = {
        "gap": _("the entries before it are missing (deleted): %(missing)s"),
        "link": _("its link to the previous entry does not match (the previous entry was "
                  "replaced or re-hashed)"),
        "content": _("its content no longer matches its hash (the row was changed after it "
                     "was written)"),
        "anchor_short": _("the anchor of %(day)s counts more entries than the chain holds "
                          "(the newest entries were deleted)"),
        "anchor_hash": _("it does not match the anchor of %(day)s (the chain was rewritten)"),
    }
    return _("The audit chain is broken at %(entry)s (seq %(seq)d): %(reason)s.", entry=entry,
             seq=result.seq, reason=reasons[result.code] % result.params)


@bp.post("/audit/verify")
@admin_only
def audit_verify():
    result = audit_chain.verify(db.session.connection())
    flash(verify_message(result), "success" if result.ok else "danger")
    return redirect(url_for("console.audit_page"))


@anchors_bp.get("/audit-anchors")
def audit_anchors():
    """Public: each day's chain head, so anyone can keep a copy and later detect a change."""
    anchors = list(db.session.scalars(
        select(AuditAnchor).order_by(AuditAnchor.day.desc()).limit(366)
    ))
    return render_template("core/audit_anchors.html", anchors=anchors)
