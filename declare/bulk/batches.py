"""Import batches: the uploaded file kept on disk, the job that checks or imports it, and
the state pages and the API show (rows checked and written, the report)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from flask_babel import get_locale
from sqlalchemy import select

from core import jobs
from core.extensions import db
from core.models import OutboxJob, User
from declare.models import Enterprise, ImportBatch

__all__ = ["create", "file_of", "job_state", "start", "visible_to"]


def _dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "imports"


def file_of(batch: ImportBatch) -> Path:
    return _dir() / f"{batch.id}.bin"


def create(
    user: User,
    data: bytes,
    filename: str,
    *,
    enterprise: Enterprise | None = None,
    good_rows_only: bool = False,
) -> ImportBatch:
    """A batch for the uploaded file (written to disk once the batch has its id)."""
    batch = ImportBatch(
        user_id=user.id,
        enterprise_id=enterprise.id if enterprise is not None else user.enterprise_id,
        filename=(filename or "import.xlsx")[-255:],
        good_rows_only=good_rows_only,
        status="uploaded",
    )
    db.session.add(batch)
    db.session.flush()
    path = file_of(batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return batch


def start(batch: ImportBatch, *, write: bool, good_rows_only: bool | None = None) -> OutboxJob:
    """Enqueue the check (``write=False``) or the import of the batch; runs after commit."""
    from declare.bulk import tasks

    if good_rows_only is not None:
        batch.good_rows_only = good_rows_only
    batch.status = "importing" if write else "checking"
    try:
        locale = str(get_locale() or "zh")
    except RuntimeError:
        locale = "zh"
    row = jobs.enqueue(tasks.run_import_batch, batch.id, bool(write), locale)
    db.session.flush()
    batch.job_id = row.id
    return row


def job_state(batch: ImportBatch) -> dict:
    """What the page polls: the batch's status, its job's status and progress, the counts."""
    job = db.session.get(OutboxJob, batch.job_id) if batch.job_id else None
    status = batch.status
    if job is not None and job.status == "failed" and status in ("checking", "importing"):
        status = "failed"
    return {
        "id": batch.id,
        "status": status,
        "job_status": job.status if job is not None else None,
        "progress": job.progress if job is not None else None,
        "message": (job.progress_message or "") if job is not None else "",
        "declarations": batch.rows_total,
        "bad": batch.rows_bad,
        "written": batch.rows_written,
    }


def visible_to(user: User, batch_id: int) -> ImportBatch | None:
    """The batch if ``user`` uploaded it (or it is for the user's enterprise)."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        return None
    if batch.user_id == user.id:
        return batch
    if user.enterprise_id is not None and batch.enterprise_id == user.enterprise_id:
        return batch
    return None


def of_user(user: User, limit: int = 20) -> list[ImportBatch]:
    return list(
        db.session.scalars(
            select(ImportBatch)
            .where(ImportBatch.user_id == user.id)
            .order_by(ImportBatch.id.desc())
            .limit(limit)
        )
    )
