"""JSON API of the reference catalogue under /api/v1/catalogue.

Reads are public (no token). Importing is for admins with a bearer token; a bad file answers
422 with the row-by-row report and writes nothing.
"""

from __future__ import annotations

from http import HTTPStatus

from flask_babel import gettext as _
from flask_smorest import abort

from core.clock import local_today
from benchmarks import importer, queries
from benchmarks.models import ProductCategory, Standard
from benchmarks.schemas import (
    CatalogueBenchmarksArgs,
    CatalogueBenchmarksOut,
    CatalogueCategoryOut,
    CatalogueImportFileIn,
    CatalogueImportFormIn,
    CatalogueImportReportOut,
    CatalogueStandardArgs,
    CatalogueStandardOut,
)
from core.api_helpers import Blueprint  # its paginate bounds the page
from core.auth import api_roles_required
from core.extensions import db
from core.models import Role

blp = Blueprint(
    "api_catalogue",
    __name__,
    url_prefix="/api/v1/catalogue",
    description="Reference catalogue: standards by edition, product categories, benchmarks",
)


@blp.route("/standards", methods=["GET"])
@blp.arguments(CatalogueStandardArgs, location="query")
@blp.response(200, CatalogueStandardOut(many=True))
@blp.paginate(page_size=20, max_page_size=200)
@blp.doc(security=[])
def list_standards(args, pagination_parameters):
    """Search catalogue editions by number or title, kind and status on a day."""
    page = queries.search_standards(
        q=args.get("q", ""),
        kind=args.get("kind"),
        status=args.get("status"),
        status_on=args.get("on"),
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
    )
    pagination_parameters.item_count = page.total
    return page.items


@blp.route("/standards/<int:standard_id>", methods=["GET"])
@blp.response(200, CatalogueStandardOut)
@blp.alt_response(404, response=HTTPStatus.NOT_FOUND.name)
@blp.doc(security=[])
def get_standard(standard_id: int):
    """One catalogue edition with its status and replacement."""
    standard = db.session.get(Standard, standard_id)
    if standard is None:
        abort(404, message=_("There is no standard %(id)d in the catalogue.", id=standard_id))
    return standard


@blp.route("/categories", methods=["GET"])
@blp.response(200, CatalogueCategoryOut(many=True))
@blp.doc(security=[])
def list_categories():
    """All product categories."""
    return queries.categories()


@blp.route("/categories/<int:category_id>/benchmarks", methods=["GET"])
@blp.arguments(CatalogueBenchmarksArgs, location="query")
@blp.response(200, CatalogueBenchmarksOut)
@blp.alt_response(404, response=HTTPStatus.NOT_FOUND.name)
@blp.doc(security=[])
def category_benchmarks(args, category_id: int):
    """The benchmark editions of a category valid on ``on`` (default today), one per code."""
    category = db.session.get(ProductCategory, category_id)
    if category is None:
        abort(
            404, message=_("There is no product category %(id)d in the catalogue.", id=category_id)
        )
    on = args.get("on") or local_today()
    return {"category": category, "on": on, "benchmarks": queries.benchmarks_on(category.id, on)}


@blp.route("/import", methods=["POST"])
@api_roles_required(Role.ADMIN)
@blp.arguments(CatalogueImportFormIn, location="form")
@blp.arguments(CatalogueImportFileIn, location="files")
@blp.response(200, CatalogueImportReportOut)
@blp.alt_response(422, schema=CatalogueImportReportOut, description="Rows refused; nothing written")
@blp.alt_response(
    409,
    schema=CatalogueImportReportOut,
    description="Changes existing editions or thresholds: listed, nothing written; send confirm",
)
@blp.alt_response(401, response=HTTPStatus.UNAUTHORIZED.name)
@blp.alt_response(403, response=HTTPStatus.FORBIDDEN.name)
def import_table(form, files):
    """Import categories, standards or indicators (multipart: ``kind`` and ``file``).

    Every row is checked; if any is wrong the answer is 422 with each problem's row and
    column, and nothing is written. An import that changes existing standard editions or
    benchmark thresholds answers 409 with every change (old → new) and the number of
    declarations whose comparison it changes, and writes only when sent again with
    ``confirm=true``; every change is kept as catalogue history.
    """
    report = importer.import_file(form["kind"], files["file"].read(), confirm=form["confirm"])
    if report.ok and report.needs_confirmation and not report.written:
        return report, 409
    return report, (200 if report.ok else 422)
