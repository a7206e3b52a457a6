"""The bulk-import job: check or import one batch in the job's one transaction."""

from __future__ import annotations

from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _

from core import jobs
from core.extensions import db
from core.models import User, utcnow
from declare.bulk import batches, imports
from declare.models import Enterprise, ImportBatch

__all__ = ["run_import_batch"]


@jobs.job("default")
def run_import_batch(batch_id: int, write: bool, locale: str = "zh") -> None:
    """Check the batch's file (``write`` False: the preview report) or import it. Progress
    (rows checked, rows written) goes to the job row as it runs; the writes, the report and
    the batch's status are committed together by the job runner, or not at all."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        return
    user = db.session.get(User, batch.user_id)
    enterprise = db.session.get(Enterprise, batch.enterprise_id) if batch.enterprise_id else None
    data = batches.file_of(batch).read_bytes()

    def progress(checked: int, written: int, total: int) -> None:
        with force_locale(locale):
            message = _(
                "%(checked)s of %(total)s declarations checked, %(written)s written",
                checked=format_decimal(checked),
                total=format_decimal(total),
                written=format_decimal(written),
            )
        done = (checked + written) / (2 * total if write else total) if total else 1.0
        jobs.report_progress(done, message)

    with force_locale(locale):
        report = imports.run(
            data,
            batch.filename,
            user=user,
            enterprise=enterprise,
            write=write,
            good_rows_only=batch.good_rows_only,
            progress=progress,
        )
    batch.report = report.as_dict()
    batch.rows_total = report.declarations
    batch.rows_bad = len(report.bad)
    batch.rows_written = len(report.written)
    batch.status = "imported" if report.wrote else "checked"
    batch.finished_at = utcnow()
