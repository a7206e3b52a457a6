"""JSON API of enterprises and their declarations (自我声明公开), under /api/v1.

Thin: parse with a load schema, call ``declare.operations`` / ``declare.queries``, dump with
the schema of the audience. Bearer tokens only (core.auth). Another enterprise's records
answer 404, never 403, so ids do not reveal what exists; other roles get 403 on
enterprise-only endpoints.
"""

from __future__ import annotations

from datetime import date

import flask_smorest
from flask import after_this_request, current_app, jsonify
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import Schema, fields
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from core.api_helpers import Blueprint, abort
from core.auth import api_user
from core.extensions import db, limiter
from core.models import Role
from declare import comparison, exports, operations, queries, search, uploads
from declare.models import (
    Declaration,
    DeclarationStatus,
    DeclarationVersion,
    Enterprise,
    VersionStatus,
)
from declare.schemas import (
    AsOfArgs,
    CheckArgs,
    ChecksOut,
    ComparisonPreviewIn,
    DeclarationListArgs,
    DeclarationListItemOut,
    DeclarationOut,
    DraftIn,
    DraftUpdateIn,
    EnterpriseOwnOut,
    EnterprisePublicOut,
    EnterpriseRegistrationIn,
    ReasonIn,
    RegistrationOut,
    TextUploadIn,
    VersionOwnerOut,
    VersionPublicOut,
    VersionSummaryOut,
)

blp = Blueprint(
    "api_declare",
    __name__,
    url_prefix="/api/v1",
    description="Enterprises and their declared standards (自我声明公开)",
)


class ConflictOut(Schema):
    code = fields.Integer()
    status = fields.String()
    message = fields.String()
    current_lock_version = fields.Integer(allow_none=True)


_documented = blp.documented
enterprise_only = blp.roles_only(Role.ENTERPRISE)
public = blp.public


# --------------------------------------------------------------------------- helpers


def _caller_enterprise_id() -> int | None:
    user = api_user()
    if user is None or user.role is not Role.ENTERPRISE:
        return None
    return user.enterprise_id


def _is_owner(declaration: Declaration) -> bool:
    ent_id = _caller_enterprise_id()
    return ent_id is not None and ent_id == declaration.enterprise_id


def _draft_of(declaration: Declaration) -> DeclarationVersion | None:
    return declaration.draft


def _visible_declaration(declaration_id: int) -> Declaration:
    """A declaration the caller may read: published at least once, or the caller's own."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None:
        abort(404, _("Declaration %(id)d not found.", id=declaration_id))
    if not _is_owner(declaration) and queries.shown_version(declaration) is None:
        abort(404, _("Declaration %(id)d not found.", id=declaration_id))
    return declaration


def _owned_declaration(declaration_id: int) -> Declaration:
    """The caller's own declaration; 404 for anyone else's (queries.owned_declaration)."""
    return queries.owned_declaration(declaration_id, api_user())


def _owned_draft(declaration: Declaration) -> DeclarationVersion:
    draft = _draft_of(declaration)
    if draft is None:
        abort(
            404,
            _(
                "Declaration %(id)d has no open draft; start a revision (POST …/revise) to "
                "change it.",
                id=declaration.id,
            ),
        )
    return draft


def _published_count(enterprise_id: int) -> int:
    return db.session.scalar(
        select(func.count(Declaration.id)).where(
            Declaration.enterprise_id == enterprise_id,
            Declaration.status == DeclarationStatus.PUBLISHED,
        )
    )


def _enterprise_dict(ent: Enterprise, *, own: bool) -> dict:
    out = {
        "id": ent.id,
        "name": ent.name,
        "uscc": ent.uscc,
        "region_code": ent.region_code,
        "published_count": _published_count(ent.id),
    }
    if own:
        out.update(
            address=ent.address,
            contact_name=ent.contact_name,
            contact_phone=ent.contact_phone,
            created_at=ent.created_at,
            username=ent.user.username if ent.user is not None else None,
        )
    return out


def _declaration_dict(declaration: Declaration, version, *, draft=None, as_of=None) -> dict:
    out = {
        "id": declaration.id,
        "kind": declaration.kind.value,
        "status": declaration.status.value,
        "enterprise": declaration.enterprise,
        "as_of": as_of,
        "version": version,
    }
    if draft is not None:
        out["draft"] = draft
    return out


def _load_products(versions: list[DeclarationVersion]) -> None:
    """Products of a page of versions in one statement (no query per row)."""
    ids = [v.id for v in versions]
    if ids:
        db.session.scalars(
            select(DeclarationVersion)
            .where(DeclarationVersion.id.in_(ids))
            .options(selectinload(DeclarationVersion.products))
        ).all()


def _refuse_unsearchable_status(status: str | None) -> None:
    """422 for a status the public search does not list (drafts are only for mine=1)."""
    if status and status not in search.SEARCHABLE_STATUSES:
        smorest_abort(
            422,
            errors={
                "query": {
                    "status": [
                        _("The public search lists published, abolished or revoked "
                          "declarations; drafts only with mine=1.")
                    ]
                }
            },
        )


def _list_item(declaration: Declaration, version, *, mine: bool) -> dict:
    out = {
        "id": declaration.id,
        "kind": declaration.kind.value,
        "status": declaration.status.value,
        "enterprise": declaration.enterprise,
        "version_no": version.version_no if version is not None else None,
        "number": version.number if version is not None else "",
        "title": version.title if version is not None else "",
        "published_at": version.published_at if version is not None else None,
        "products": version.products if version is not None else [],
    }
    if mine:
        out["has_draft"] = _draft_of(declaration) is not None
    return out


def _checks(version: DeclarationVersion | None, checks, on: date | None) -> dict:
    """``checks`` is a comparison.DeclarationCheck (the rules) or a list of indicator checks."""
    rules = checks if isinstance(checks, comparison.DeclarationCheck) else None
    rows = list(rules.indicators if rules is not None else checks)
    problems = list(rules.problems) if rules is not None else []
    if on is None and version is not None:
        published = version.published_at
        on = queries.local_date(published) if published is not None else queries.local_today()
    return {
        "declaration_id": version.declaration_id if version is not None else None,
        "version_no": version.version_no if version is not None else None,
        "version_status": version.status.value if version is not None else None,
        "on": on,
        "publishable": not problems and not any(c.blocks_publication for c in rows),
        "checks": rows,
        "problems": problems,
        "auto_linked": sorted(rules.auto_linked) if rules is not None else [],
        "by_reference": (
            [{"benchmark_id": b.benchmark.id, "source": b.source} for b in rules.by_reference]
            if rules is not None
            else []
        ),
    }


def _owner_version_response(version: DeclarationVersion, status: int = 200):
    resp = jsonify(VersionOwnerOut().dump(version))
    resp.status_code = status
    return resp


# --------------------------------------------------------------------------- enterprises


@blp.route("/enterprises", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@public
@blp.arguments(EnterpriseRegistrationIn)
@blp.response(201, RegistrationOut)
@_documented(429)
def register_enterprise(args):
    """Register an enterprise (企业注册) and its login account.

    The USCC must be valid (GB 32100-2015); the region comes from it. Get a token with
    POST /api/v1/auth/tokens afterwards.
    """
    user = operations.register_enterprise(**args)
    return {"enterprise": _enterprise_dict(user.enterprise, own=True), "username": user.username}


@blp.route("/enterprises/me")
class EnterpriseMe(MethodView):
    @enterprise_only
    @blp.response(200, EnterpriseOwnOut)
    def get(self):
        """The calling enterprise's own profile."""
        return _enterprise_dict(api_user().enterprise, own=True)


@blp.route("/enterprises/<int:enterprise_id>")
class EnterpriseProfile(MethodView):
    @public
    @blp.response(200, EnterprisePublicOut)
    @_documented(404)
    def get(self, enterprise_id: int):
        """Public profile: name, USCC, region and how many declarations are published."""
        ent = db.session.get(Enterprise, enterprise_id)
        if ent is None:
            abort(404, _("Enterprise %(id)d not found.", id=enterprise_id))
        return _enterprise_dict(ent, own=False)


# --------------------------------------------------------------------------- declarations


def smorest_abort(code: int, **kwargs):
    """An error with field errors (``errors={"query": {field: [message]}}``), the shape of
    the schema's own 422s."""
    flask_smorest.abort(code, **kwargs)


def _mark_approximate(response):
    response.headers["X-Total-Approximate"] = "1"
    return response


@blp.route("/declarations")
class Declarations(MethodView):
    @blp.doc(security=[{}, {"bearer": []}])
    @blp.arguments(DeclarationListArgs, location="query")
    @blp.response(200, DeclarationListItemOut(many=True))
    @blp.paginate(page_size=20)
    @_documented(401, 403)
    def get(self, args, pagination_parameters):
        """Search published declarations, or with ``mine=1`` list your own (token needed).

        Filters: ``q`` (number, name, product, model, enterprise), ``category_id``, ``kind``,
        ``region`` (行政区划 code or its prefix). Pagination metadata is in ``X-Pagination``.
        """
        page, per_page = pagination_parameters.page, pagination_parameters.page_size
        if args["mine"]:
            user = api_user()
            if user is None:
                abort(401, _("mine=1 needs the bearer token of an enterprise account."))
            if user.role is not Role.ENTERPRISE:
                abort(403, _("mine=1 lists the declarations of an enterprise account."))
            rows = list(queries.declarations_of(user.enterprise, status=args["status"]))
            pagination_parameters.item_count = len(rows)
            shown = [
                (d, queries.shown_version(d) or _draft_of(d))
                for d in rows[(page - 1) * per_page : page * per_page]
            ]
            _load_products([v for _d, v in shown if v is not None])
            return [_list_item(d, v, mine=True) for d, v in shown]
        _refuse_unsearchable_status(args["status"])
        try:
            found = queries.published_versions(
                q=args["q"],
                category_id=args["category_id"],
                kind=args["kind"],
                region=args["region"] or "",
                status=args["status"],
                page=page,
                per_page=per_page,
            )
        except search.SearchTimeout:
            smorest_abort(
                422,
                errors={
                    "query": {
                        "q": [
                            _("This search took too long (over %(seconds)s s). Add words or "
                              "choose a category or region to narrow it.",
                              seconds=current_app.config.get(
                                  "SEARCH_TIMEOUT_MS", search.DEFAULT_TIMEOUT_MS) / 1000)
                        ]
                    }
                },
            )
        pagination_parameters.item_count = found.total
        if found.approximate:  # X-Pagination's total is the planner's estimate ("约 N 项")
            after_this_request(_mark_approximate)
        return [_list_item(v.declaration, v, mine=False) for v in found.items]

    @enterprise_only
    @blp.arguments(DraftIn)
    @blp.response(201, VersionOwnerOut)
    def post(self, data):
        """Create a declaration as a draft; the answer carries its ``lock_version``."""
        return operations.create_draft(api_user().enterprise, data)


@blp.route("/declarations/export.<any(csv, xlsx):fmt>")
class DeclarationsExport(MethodView):
    decorators = [limiter.limit(lambda: current_app.config["EXPORT_RATE_LIMIT"])]

    @blp.doc(
        security=[{}, {"bearer": []}],
        responses={"200": {"description": "CSV (UTF-8 with BOM) or XLSX, every row",
                           "content": {"text/csv": {}, exports.TYPES["xlsx"]: {}}}},
    )
    @blp.arguments(DeclarationListArgs, location="query")
    @_documented(401, 403)
    def get(self, args, fmt: str):
        """Every declaration the search finds (``q``, ``category_id``, ``kind``, ``region``,
        ``status``), or with ``mine=1`` your own (drafts included; token needed), as CSV or
        Excel: streamed, no page and no row limit."""
        day = queries.local_today().isoformat()
        if args["mine"]:
            user = api_user()
            if user is None:
                abort(401, _("mine=1 needs the bearer token of an enterprise account."))
            if user.role is not Role.ENTERPRISE:
                abort(403, _("mine=1 lists the declarations of an enterprise account."))
            rows = exports.enterprise_rows(user.enterprise_id)
            return exports.response(rows, exports.OWN_COLUMNS, fmt, f"my-declarations-{day}")
        _refuse_unsearchable_status(args["status"])
        rows = exports.search_rows(
            q=args["q"], category_id=args["category_id"], kind=args["kind"],
            region=args["region"] or "", status=args["status"],
        )
        return exports.response(rows, exports.COLUMNS, fmt, f"declarations-{day}")


@blp.route("/declarations/<int:declaration_id>")
class DeclarationResource(MethodView):
    @blp.doc(security=[{}, {"bearer": []}])
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, DeclarationOut)
    @_documented(404)
    def get(self, args, declaration_id: int):
        """The version in force (or in force on ``as_of``); the owner also gets the draft."""
        declaration = _visible_declaration(declaration_id)
        owner = _is_owner(declaration)
        day = args["as_of"]
        if day is not None:
            version = queries.version_as_of(declaration, day)
            if version is None:
                abort(
                    404,
                    _(
                        "Declaration %(id)d had no version in force on %(day)s.",
                        id=declaration_id,
                        day=day.isoformat(),
                    ),
                )
            return _declaration_dict(declaration, version, as_of=day)
        draft = _draft_of(declaration) if owner else None
        return _declaration_dict(declaration, queries.shown_version(declaration), draft=draft)


@blp.route("/declarations/<int:declaration_id>/draft")
class DraftResource(MethodView):
    @enterprise_only
    @blp.response(200, VersionOwnerOut)
    @_documented(404)
    def get(self, declaration_id: int):
        """Your open draft with its ``lock_version``."""
        return _owned_draft(_owned_declaration(declaration_id))

    @enterprise_only
    @blp.arguments(DraftUpdateIn)
    @blp.response(200, VersionOwnerOut)
    @blp.alt_response(
        409, schema=ConflictOut, description="lock_version is stale: re-read and retry"
    )
    @_documented(404)
    def put(self, args, declaration_id: int):
        """Replace the draft's content; send the ``lock_version`` you read (409 when stale)."""
        draft = _owned_draft(_owned_declaration(declaration_id))
        return operations.update_draft(draft, args["data"], args["lock_version"])

    @enterprise_only
    @blp.response(204)
    @_documented(404)
    def delete(self, declaration_id: int):
        """Discard the open draft (a never-published declaration goes with it)."""
        operations.discard_draft(_owned_draft(_owned_declaration(declaration_id)))


@blp.route("/declarations/<int:declaration_id>/draft/text", methods=["POST"])
class DraftText(MethodView):
    @enterprise_only
    @blp.arguments(TextUploadIn, location="files")
    @blp.response(200, VersionOwnerOut)
    @_documented(404, 413)
    def post(self, files, declaration_id: int):
        """Upload the standard text (PDF, multipart field ``file``) to the draft."""
        draft = _owned_draft(_owned_declaration(declaration_id))
        operations.attach_text(draft, files["file"])
        return draft


@blp.route("/declarations/<int:declaration_id>/publish", methods=["POST"])
class Publish(MethodView):
    @enterprise_only
    @blp.response(200, VersionOwnerOut)
    @blp.alt_response(409, schema=ConflictOut, description="the declaration changed meanwhile")
    @_documented(404, 422)
    def post(self, declaration_id: int):
        """Publish the draft (现行有效). 422 lists every refusal by field, e.g. a value below
        the mandatory limit or a missing 明示 statement."""
        draft = _owned_draft(_owned_declaration(declaration_id))
        operations.publish(draft)
        return draft


@blp.route("/declarations/<int:declaration_id>/revise", methods=["POST"])
class Revise(MethodView):
    @enterprise_only
    @blp.response(201, VersionOwnerOut)
    @blp.alt_response(409, schema=ConflictOut, description="a revision is already in progress")
    @_documented(404, 422)
    def post(self, declaration_id: int):
        """Start a revision (修订): a new draft copied from the version in force (409 when a
        revision is already in progress or the declaration changed meanwhile)."""
        return operations.start_revision(_owned_declaration(declaration_id))


@blp.route("/declarations/<int:declaration_id>/abolish", methods=["POST"])
class Abolish(MethodView):
    @enterprise_only
    @blp.arguments(ReasonIn)
    @blp.response(200, DeclarationOut)
    @blp.alt_response(409, schema=ConflictOut, description="already ended, or changed meanwhile")
    @_documented(404)
    def post(self, args, declaration_id: int):
        """Abolish (废止) the declaration; its versions stay readable (409 when it has
        already ended or changed meanwhile)."""
        declaration = _owned_declaration(declaration_id)
        operations.abolish(declaration, args["reason"])
        return _declaration_dict(declaration, queries.shown_version(declaration))


@blp.route("/declarations/<int:declaration_id>/versions")
class Versions(MethodView):
    @blp.doc(security=[{}, {"bearer": []}])
    @blp.response(200, VersionSummaryOut(many=True))
    @_documented(404)
    def get(self, declaration_id: int):
        """Every version, oldest first (the owner also sees the open draft)."""
        declaration = _visible_declaration(declaration_id)
        return queries.version_history(declaration, include_drafts=_is_owner(declaration))


def _version_or_404(declaration: Declaration, version_no: int) -> DeclarationVersion:
    version = next((v for v in declaration.versions if v.version_no == version_no), None)
    if version is None or (version.status is VersionStatus.DRAFT and not _is_owner(declaration)):
        abort(404, _("Declaration %(id)d has no version %(no)d.", id=declaration.id, no=version_no))
    return version


@blp.route("/declarations/<int:declaration_id>/versions/<int:version_no>")
class VersionResource(MethodView):
    @blp.doc(security=[{}, {"bearer": []}])
    @blp.response(200, VersionPublicOut)
    @_documented(404)
    def get(self, declaration_id: int, version_no: int):
        """One version as published (the owner gets the owner's view, drafts included)."""
        declaration = _visible_declaration(declaration_id)
        version = _version_or_404(declaration, version_no)
        if _is_owner(declaration):
            return _owner_version_response(version)
        return version


@blp.route(
    "/declarations/<int:declaration_id>/versions/<int:version_no>/text",
    endpoint="version_text",
)
class VersionText(MethodView):
    @blp.doc(
        security=[{}, {"bearer": []}],
        responses={"200": {"description": "the PDF", "content": {"application/pdf": {}}}},
    )
    @_documented(404)
    def get(self, declaration_id: int, version_no: int):
        """The standard text (PDF): public when disclosed in full; always for the owner, the
        regulator of the enterprise's region and admins."""
        declaration = _visible_declaration(declaration_id)
        return uploads.send_attachment(_version_or_404(declaration, version_no), api_user())


@blp.route("/declarations/<int:declaration_id>/comparison")
class DeclarationComparison(MethodView):
    @blp.doc(security=[{}, {"bearer": []}])
    @blp.arguments(CheckArgs, location="query")
    @blp.response(200, ChecksOut)
    @_documented(404)
    def get(self, args, declaration_id: int):
        """Benchmark checks (对标) of the version in force; the owner gets its draft's checks."""
        declaration = _visible_declaration(declaration_id)
        own_draft = _draft_of(declaration) if _is_owner(declaration) else None
        version = own_draft or queries.shown_version(declaration)
        if version is None:
            abort(404, _("Declaration %(id)d has nothing to compare.", id=declaration_id))
        on = args["on"]
        return _checks(version, comparison.check_version_rules(version, on=on), on)


@blp.route("/comparison", methods=["POST"])
class ComparisonPreview(MethodView):
    @public
    @blp.arguments(ComparisonPreviewIn)
    @blp.response(200, ChecksOut)
    def post(self, args):
        """Judge indicators against the benchmarks without saving anything (preview)."""
        on = args["on"] or queries.local_today()
        rules = comparison.check_declaration(
            kind="enterprise" if args["products"] else "catalogue",
            products=args["products"],
            indicators=args["indicators"],
            reference_ids=args["reference_ids"],
            mingshi_fewer=args["mingshi_fewer"],
            on=on,
        )
        return _checks(None, rules, on)


from declare.bulk import api as _bulk_api  # noqa: E402,F401  (bulk import endpoints on this blueprint)
