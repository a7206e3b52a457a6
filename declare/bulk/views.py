"""Pages of bulk import (upload → preview report → confirm) and of the associations an
enterprise authorises; routes on declare's blueprint (imported by declare.views)."""

from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from core.auth import roles_required
from core.extensions import db
from core.models import Role, User, utcnow
from declare.bulk import batches, imports
from declare.bulk.forms import ConfirmForm, GrantForm, RevokeForm, UploadForm
from declare.models import AssociationGrant, Enterprise
from declare.validators import USCCError, validate_uscc
from declare.views import bp

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
importers_only = roles_required(Role.ENTERPRISE, Role.ASSOCIATION)
enterprise_only = roles_required(Role.ENTERPRISE)


def _batch_or_404(batch_id: int):
    batch = batches.visible_to(current_user, batch_id)
    if batch is None:
        abort(404)
    return batch


@bp.get("/my/imports/template.xlsx")
@importers_only
def import_template():
    return Response(
        imports.template_bytes(),
        mimetype=XLSX,
        headers={"Content-Disposition": 'attachment; filename="declarations-template.xlsx"'},
    )


@bp.route("/my/imports", methods=["GET", "POST"])
@importers_only
def imports_page():
    form = UploadForm()
    if form.validate_on_submit():
        enterprise = None
        raw = (form.uscc.data or "").strip()
        if raw:
            try:
                code = validate_uscc(raw)[0]
            except USCCError as exc:
                form.uscc.errors.append(exc.message)
                return _upload_page(form, 422)
            enterprise = db.session.scalar(select(Enterprise).where(Enterprise.uscc == code))
            if enterprise is None:
                form.uscc.errors.append(_("No enterprise with this code has registered here."))
                return _upload_page(form, 422)
        upload = form.file.data
        data = upload.read()
        batch = batches.create(current_user, data, upload.filename or "", enterprise=enterprise)
        batches.start(batch, write=False)
        return redirect(url_for("declare.import_batch", batch_id=batch.id))
    return _upload_page(form, 422 if form.errors else 200)


def _upload_page(form, status: int):
    return (
        render_template("declare/import.html", form=form, recent=batches.of_user(current_user)),
        status,
    )


@bp.get("/my/imports/<int:batch_id>")
@importers_only
def import_batch(batch_id: int):
    batch = _batch_or_404(batch_id)
    return render_template(
        "declare/import_report.html",
        batch=batch,
        state=batches.job_state(batch),
        report=batch.report or {},
        counts=imports.summary(batch.report or {}),
        form=ConfirmForm(),
    )


@bp.get("/my/imports/<int:batch_id>/state")
@importers_only
def import_state(batch_id: int):
    return jsonify(batches.job_state(_batch_or_404(batch_id)))


@bp.post("/my/imports/<int:batch_id>/confirm")
@importers_only
def import_confirm(batch_id: int):
    batch = _batch_or_404(batch_id)
    form = ConfirmForm()
    if not form.validate_on_submit() or batch.status != "checked":
        abort(409)
    batches.start(batch, write=True, good_rows_only=bool(form.good_rows_only.data))
    return redirect(url_for("declare.import_batch", batch_id=batch.id))


@bp.get("/my/imports/<int:batch_id>/report.xlsx")
@importers_only
def import_report(batch_id: int):
    batch = _batch_or_404(batch_id)
    if not batch.report:
        abort(404)
    data = imports.report_workbook(
        batches.file_of(batch).read_bytes(), batch.filename, batch.report
    )
    return Response(
        data,
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="import-{batch.id}-report.xlsx"'},
    )


# --------------------------------------------------------------------------- associations


def _grants(enterprise_id: int) -> list[AssociationGrant]:
    return list(
        db.session.scalars(
            select(AssociationGrant)
            .where(AssociationGrant.enterprise_id == enterprise_id)
            .order_by(AssociationGrant.id.desc())
        )
    )


@bp.route("/my/associations", methods=["GET", "POST"])
@enterprise_only
def associations():
    """The associations (行业协会/联盟) the enterprise authorises to import for it."""
    form = GrantForm()
    status = 200
    if form.validate_on_submit():
        name = form.username.data.strip()
        association = db.session.scalar(
            select(User).where(func.lower(User.username) == name.lower(), User.role == Role.ASSOCIATION)
        )
        if association is None:
            form.username.errors.append(_("No association account has this user name."))
            status = 422
        else:
            active = db.session.scalar(
                select(AssociationGrant).where(
                    AssociationGrant.enterprise_id == current_user.enterprise_id,
                    AssociationGrant.association_id == association.id,
                    AssociationGrant.revoked_at.is_(None),
                )
            )
            if active is None:
                db.session.add(
                    AssociationGrant(
                        enterprise_id=current_user.enterprise_id, association_id=association.id
                    )
                )
            flash(_("%(name)s may now import declarations for your enterprise.", name=association.display_name or association.username), "success")
            return redirect(url_for("declare.associations"))
    elif form.errors:
        status = 422
    return (
        render_template(
            "declare/import_associations.html",
            form=form,
            revoke_form=RevokeForm(),
            grants=_grants(current_user.enterprise_id),
        ),
        status,
    )


@bp.post("/my/associations/<int:grant_id>/revoke")
@enterprise_only
def revoke_association(grant_id: int):
    grant = db.session.get(AssociationGrant, grant_id)
    if grant is None or grant.enterprise_id != current_user.enterprise_id:
        abort(404)
    if not RevokeForm().validate_on_submit():
        abort(400)
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
    flash(_("The authorisation was revoked."), "success")
    return redirect(url_for("declare.associations"))


