"""Catalogue pages: public browsing of standards and benchmarks; admin import and withdrawal."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from core.clock import local_today
from benchmarks import importer, operations, queries
from benchmarks.forms import (
    IMPORT_KIND_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    ConfirmImportForm,
    ImportForm,
    StandardSearchForm,
    WithdrawForm,
)
from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard
from core.auth import roles_required
from core.errors import ValidationFailed
from core.extensions import db
from core.forms import page_arg
from core.models import Role

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")


@bp.context_processor
def _labels():
    return {
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        "import_kind_labels": IMPORT_KIND_LABELS,
        "today": local_today(),
    }


@bp.get("/standards")
def standards():
    form = StandardSearchForm(request.args)
    form.validate()  # an unknown kind or status is shown as an error and ignored
    filters = {
        name: getattr(form, name).data
        for name in ("q", "kind", "status")
        if getattr(form, name).data and not getattr(form, name).errors
    }
    page = queries.search_standards(
        q=filters.get("q", ""),
        kind=filters.get("kind"),
        status=filters.get("status"),
        page=page_arg(),
        per_page=current_app.config.get("PAGE_SIZE", 20),
    )
    return render_template("benchmarks/standards.html", form=form, page=page, filters=filters)


def _standard_or_404(standard_id: int) -> Standard:
    standard = db.session.get(Standard, standard_id)
    if standard is None:
        abort(404)
    return standard


def _render_standard(standard: Standard, form: WithdrawForm | None, status: int = 200):
    replacement = (
        queries.standard_by_code(standard.replaced_by_code) if standard.replaced_by_code else None
    )
    replaces = db.session.scalars(
        select(Standard).where(Standard.replaced_by_code == standard.code).order_by(Standard.code)
    ).all()
    used_by = db.session.scalars(
        select(BenchmarkIndicator)
        .where(
            or_(
                BenchmarkIndicator.mandatory_source_id == standard.id,
                BenchmarkIndicator.recommended_source_id == standard.id,
            )
        )
        .join(BenchmarkIndicator.category)
        .order_by(ProductCategory.code, BenchmarkIndicator.code, BenchmarkIndicator.valid_from)
    ).all()
    return (
        render_template(
            "benchmarks/standard.html",
            standard=standard,
            replacement=replacement,
            replaces=replaces,
            used_by=used_by,
            form=form,
        ),
        status,
    )


def _is_admin() -> bool:
    from flask_login import current_user

    return current_user.is_authenticated and current_user.role is Role.ADMIN


@bp.get("/standards/<int:standard_id>")
def standard(standard_id: int):
    std = _standard_or_404(standard_id)
    return _render_standard(std, WithdrawForm() if _is_admin() else None)


@bp.post("/standards/<int:standard_id>/withdraw")
@roles_required(Role.ADMIN)
def withdraw(standard_id: int):
    std = _standard_or_404(standard_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            operations.mark_withdrawn(
                std,
                withdrawn_date=form.withdrawn_date.data,
                replaced_by=form.replaced_by.data,
            )
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                getattr(form, name, form.withdrawn_date).errors.extend(messages)
        else:
            flash(_("%(code)s is recorded as withdrawn or replaced.", code=std.code), "success")
            return redirect(url_for("catalogue.standard", standard_id=std.id))
    return _render_standard(std, form, 422)


@bp.get("/categories")
def categories():
    rows = queries.categories()
    counts = dict(
        db.session.execute(
            select(BenchmarkIndicator.category_id, func.count(BenchmarkIndicator.id)).group_by(
                BenchmarkIndicator.category_id
            )
        ).all()
    )
    return render_template("benchmarks/categories.html", categories=rows, counts=counts)


@bp.get("/categories/<int:category_id>")
def category(category_id: int):
    cat = db.session.get(ProductCategory, category_id)
    if cat is None:
        abort(404)
    on = local_today()
    raw_on = request.args.get("on", "")
    on_error = None
    if raw_on:
        try:
            on = date.fromisoformat(raw_on)
        except ValueError:
            on_error = _("%(value)s is not a date; use YYYY-MM-DD.", value=raw_on)
    current = queries.benchmarks_on(cat.id, on)
    editions = queries.category_editions(cat.id)
    return render_template(
        "benchmarks/category.html",
        category=cat,
        on=on,
        on_error=on_error,
        current=current,
        current_ids={b.id for b in current},
        editions=editions,
    ), (422 if on_error else 200)


@bp.route("/admin/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_import():
    """Upload → check every row → preview the changes to existing rows → confirm → write.

    New rows alone are written at once. An upload that changes existing standard editions or
    benchmark thresholds is kept (by SHA-256, in the instance folder) and shown as a preview:
    each change old → new and the declarations in force whose comparison it changes; the
    admin confirms it on the preview page, and the import runs again then, all or nothing.
    """
    form = ImportForm()
    confirm = ConfirmImportForm(prefix="confirm")
    report = None
    if "confirm-upload" in request.form:
        if confirm.validate_on_submit() and confirm.kind.data in importer.KINDS:
            data = _kept_upload(confirm.upload.data)
            if data is None:
                flash(_("The previewed file is no longer kept; upload it again."), "error")
                return redirect(url_for("catalogue.admin_import"))
            kind = confirm.kind.data
            preview = importer.import_file(kind, data, write=False)
            if preview.ok and _digest(preview) == confirm.digest.data:
                report = importer.import_file(kind, data, confirm=True)
                if report.ok and report.written:
                    _forget_upload(confirm.upload.data)
                    return _imported(kind, report)
            else:
                report = preview
                form.kind.data = kind
                flash(
                    _("The catalogue changed since the preview; check the changes again."),
                    "warning",
                )
                return _preview_page(form, kind, report, data)
        abort(400)
    if form.validate_on_submit():
        data = form.file.data.read()
        report = importer.import_file(form.kind.data, data)
        if report.ok and report.written:
            return _imported(form.kind.data, report)
        if report.ok and report.needs_confirmation:
            return _preview_page(form, form.kind.data, report, data)
    status = 422 if request.method == "POST" else 200
    return (
        render_template(
            "benchmarks/admin_import.html",
            form=form,
            report=report,
            columns=importer.COLUMNS,
            required=importer.REQUIRED,
            confirm_form=None,
        ),
        status,
    )


def _imported(kind: str, report):
    flash(
        _(
            "%(kind)s imported: %(inserted)s inserted, %(updated)s updated, "
            "%(unchanged)s unchanged.",
            kind=IMPORT_KIND_LABELS[kind],
            inserted=report.inserted,
            updated=report.updated,
            unchanged=report.unchanged,
        ),
        "success",
    )
    return redirect(url_for("catalogue.admin_import"))


def _digest(report) -> str:
    import hashlib
    import json

    text = json.dumps(report.changes, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _upload_dir():
    from pathlib import Path

    path = Path(current_app.instance_path) / "catalogue-previews"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _keep_upload(data: bytes) -> str:
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    (_upload_dir() / f"{sha}.bin").write_bytes(data)
    return sha


def _kept_upload(sha: str) -> bytes | None:
    path = _upload_dir() / f"{sha}.bin"
    return path.read_bytes() if path.is_file() else None


def _forget_upload(sha: str) -> None:
    (_upload_dir() / f"{sha}.bin").unlink(missing_ok=True)


def _preview_page(form, kind: str, report, data: bytes):
    """Nothing written yet: every change old → new, and a button to confirm."""
    confirm = ConfirmImportForm(prefix="confirm")
    confirm.kind.data = kind
    confirm.upload.data = _keep_upload(data)
    confirm.digest.data = _digest(report)
    by_key: dict[str, list[dict]] = {}
    for change in report.changes:
        by_key.setdefault(change["key"], []).append(change)
    return render_template(
        "benchmarks/admin_import.html",
        form=form,
        report=report,
        columns=importer.COLUMNS,
        required=importer.REQUIRED,
        confirm_form=confirm,
        changes_by_key=by_key,
        kind_label=IMPORT_KIND_LABELS[kind],
    )


@bp.get("/admin/history")
@roles_required(Role.ADMIN)
def admin_history():
    """Every change of standard editions and benchmark thresholds: who, when, old → new."""
    from benchmarks.models import CatalogueChange

    page = db.paginate(
        select(CatalogueChange).order_by(CatalogueChange.at.desc(), CatalogueChange.id.desc()),
        page=page_arg(),
        per_page=100,
        error_out=False,
    )
    return render_template("benchmarks/admin_history.html", page=page, history_word=_history_word)


#: Words the catalogue history stores as codes: the actor of a job or command, how a row changed.
HISTORY_WORDS = {
    "system": _l("system (a job or a command)"),
    "anonymous": _l("anonymous"),
    "import": _l("import"),
    "mark_withdrawn": _l("marked withdrawn"),
}


def _history_word(value: str | None) -> str:
    """A stored actor label or reason in the reader's language (a user name as it is)."""
    return str(HISTORY_WORDS.get(value or "", value or ""))


@bp.get("/admin/export/<kind>.csv")
@roles_required(Role.ADMIN)
def admin_export(kind: str):
    if kind not in importer.KINDS:
        abort(404)
    body = importer.to_csv(importer.export_rows(kind))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={kind}.csv"},
    )
