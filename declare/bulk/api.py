"""JSON API of bulk import, on declare's API blueprint (imported by declare.api).

``POST /api/v1/imports`` takes the workbook or ZIP (multipart ``file``) and runs the check or
the import as a job (202, then ``GET /api/v1/imports/{id}``); ``POST /api/v1/imports/json``
takes the same rows as JSON and answers at once: 422 with every bad cell by field path
(``declarations.3.products.0.barcode``), or 200 with what was written.
"""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.api_helpers import abort
from core.auth import api_user
from core.errors import ValidationFailed
from core.extensions import db
from core.models import Role
from declare.api import blp
from declare.bulk import batches, imports
from declare.bulk import workbook as wb
from declare.models import Enterprise
from declare.validators import USCCError, validate_uscc

importers_only = blp.roles_only(Role.ENTERPRISE, Role.ASSOCIATION)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_JSON_DECLARATIONS = 10_000


class ImportFileIn(Schema):
    file = Upload(required=True, metadata={"description": "the filled-in template (.xlsx, or .zip with the PDFs)"})


class ImportOptionsIn(Schema):
    dry_run = fields.Boolean(load_default=False, metadata={"description": "check only"})
    good_rows_only = fields.Boolean(load_default=False)
    enterprise_uscc = fields.String(load_default="", validate=validate.Length(max=40))


class ImportJsonIn(ImportOptionsIn):
    declarations = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(min=1, max=MAX_JSON_DECLARATIONS),
        metadata={
            "description": "rows of the declarations sheet by English field name, each with "
            "'products' and 'indicators' lists (rows of those sheets without row_key)"
        },
    )


class ImportErrorOut(Schema):
    sheet = fields.String()
    row = fields.Integer()
    column = fields.String()
    header = fields.String()
    message = fields.String()
    row_key = fields.String()


class ImportWrittenOut(Schema):
    row_key = fields.String()
    row = fields.Integer()
    declaration_id = fields.Integer()
    version_no = fields.Integer()
    outcome = fields.String()


class ImportReportOut(Schema):
    mode = fields.String()
    good_rows_only = fields.Boolean()
    declarations = fields.Integer()
    bad = fields.List(fields.String())
    errors = fields.List(fields.Nested(ImportErrorOut))
    file_errors = fields.List(fields.String())
    outcome = fields.Dict(keys=fields.String(), values=fields.String())
    written = fields.List(fields.Nested(ImportWrittenOut))
    wrote = fields.Boolean()


class ImportBatchOut(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "checking, checked, importing, imported or failed"})
    job_status = fields.String(allow_none=True)
    progress = fields.Float(allow_none=True)
    message = fields.String()
    declarations = fields.Integer()
    bad = fields.Integer()
    written = fields.Integer()
    report = fields.Nested(ImportReportOut, allow_none=True)


def _enterprise(raw: str) -> Enterprise | None:
    if not raw:
        return None
    try:
        code = validate_uscc(raw)[0]
    except USCCError as exc:
        raise ValidationFailed({"enterprise_uscc": [exc.message]}) from None
    found = db.session.scalar(select(Enterprise).where(Enterprise.uscc == code))
    if found is None:
        raise ValidationFailed({"enterprise_uscc": [_("No enterprise with this code has registered here.")]})
    return found


def _batch_out(batch) -> dict:
    return dict(batches.job_state(batch), report=batch.report)


def _owned_batch(batch_id: int):
    batch = batches.visible_to(api_user(), batch_id)
    if batch is None:
        abort(404, _("No such import."))
    return batch


@blp.route("/imports/template")
class ImportTemplate(MethodView):
    @importers_only
    @blp.response(200, content_type=XLSX)
    def get(self):
        """The import workbook (sheets declarations, products, indicators; lists; example row)."""
        return Response(imports.template_bytes(), mimetype=XLSX)


@blp.route("/imports")
class Imports(MethodView):
    @importers_only
    @blp.arguments(ImportOptionsIn, location="form")
    @blp.arguments(ImportFileIn, location="files")
    @blp.response(202, ImportBatchOut)
    @blp.documented(422)
    def post(self, options, files):
        """Upload a bulk-import file: checked (``dry_run``) or imported by a job; poll
        ``GET /imports/{id}`` for its progress and report."""
        user = api_user()
        enterprise = _enterprise(options["enterprise_uscc"])
        upload = files["file"]
        batch = batches.create(
            user,
            upload.read(),
            upload.filename or "",
            enterprise=enterprise,
            good_rows_only=options["good_rows_only"],
        )
        batches.start(batch, write=not options["dry_run"])
        return _batch_out(batch)


@blp.route("/imports/<int:batch_id>")
class ImportBatchView(MethodView):
    @importers_only
    @blp.response(200, ImportBatchOut)
    @blp.documented(404)
    def get(self, batch_id: int):
        """An import's state, progress and report."""
        return _batch_out(_owned_batch(batch_id))


@blp.route("/imports/<int:batch_id>/confirm", methods=["POST"])
class ImportConfirm(MethodView):
    @importers_only
    @blp.arguments(ImportOptionsIn, location="json")
    @blp.response(202, ImportBatchOut)
    @blp.documented(404, 409)
    def post(self, options, batch_id: int):
        """Import a checked file (after a ``dry_run``)."""
        batch = _owned_batch(batch_id)
        if batch.status != "checked":
            abort(409, _("Only a checked import can be confirmed."))
        batches.start(batch, write=True, good_rows_only=options["good_rows_only"])
        return _batch_out(batch)


def _rows_of(declarations: list[dict]) -> tuple[dict, dict[tuple[str, int], str]]:
    """The sheets' rows of the JSON body, and (sheet, row number) → its JSON path."""
    rows: dict[str, list[dict]] = {sheet: [] for sheet in wb.SHEETS}
    paths: dict[tuple[str, int], str] = {}
    columns = {sheet: {en for en, _zh in wb.COLUMNS[sheet]} for sheet in wb.SHEETS}

    def scalar(value):
        return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)

    for i, item in enumerate(declarations):
        key = str(item.get("row_key") or f"{i + 1}")
        row = {k: scalar(v) for k, v in item.items() if k in columns["declarations"]}
        row["row_key"] = key
        rows["declarations"].append(row)
        paths[("declarations", len(rows["declarations"]) + 1)] = f"declarations.{i}"
        for sheet in ("products", "indicators"):
            children = item.get(sheet) or []
            if not isinstance(children, list):
                raise ValidationFailed({f"declarations.{i}.{sheet}": [_("Expected a list of rows.")]})
            for j, child in enumerate(children):
                if not isinstance(child, dict):
                    raise ValidationFailed({f"declarations.{i}.{sheet}.{j}": [_("Expected a row (an object).")]})
                values = {k: scalar(v) for k, v in child.items() if k in columns[sheet]}
                if isinstance(child.get("attributes"), dict):
                    import json

                    values["attributes"] = json.dumps(child["attributes"], ensure_ascii=False)
                values["row_key"] = key
                rows[sheet].append(values)
                paths[(sheet, len(rows[sheet]) + 1)] = f"declarations.{i}.{sheet}.{j}"
    return rows, paths


@blp.route("/imports/json", methods=["POST"])
class ImportJson(MethodView):
    @importers_only
    @blp.arguments(ImportJsonIn, location="json")
    @blp.response(200, ImportReportOut)
    @blp.documented(422)
    def post(self, body):
        """Check (``dry_run``) or import declarations given as JSON, at once, by the same
        rules as the file. Refused: 422 with every bad cell by path. Own enterprise
        standards come without their text here: they are saved as drafts, and the text is
        uploaded per declaration (``/declarations/{id}/draft/text``) before publishing."""
        rows, paths = _rows_of(body["declarations"])
        for row in rows["declarations"]:
            row.pop("text_file", None)
        report = imports.run(
            wb.workbook(rows),
            "import.xlsx",
            user=api_user(),
            enterprise=_enterprise(body["enterprise_uscc"]),
            write=not body["dry_run"],
            good_rows_only=body["good_rows_only"],
        )
        if report.file_errors:
            raise ValidationFailed({"declarations": report.file_errors})
        if report.errors and not report.wrote:
            errors: dict[str, list[str]] = {}
            for e in report.errors:
                base = paths.get((e["sheet"], e["row"]), f"{e['sheet']}.{e['row']}")
                errors.setdefault(f"{base}.{e['column']}", []).append(e["message"])
            raise ValidationFailed(errors)
        return report.as_dict()
