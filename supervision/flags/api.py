"""JSON API of the risk flags (/api/v1/supervision/flags).

Bearer tokens only (core.auth). A regulator lists the flags of its own region (and of any
sub-region it covers; another region answers 403) and reads or recomputes the flags of a
declaration of its region (another region's answers 404: ids reveal nothing). An enterprise
reads the flags of its own declarations. Other roles get 403. Refused filters answer 422 with
the field that is wrong and what it accepts (marshmallow messages).
"""

from __future__ import annotations

from flask_babel import gettext as _

from core.api_helpers import Blueprint, abort
from core.auth import api_roles_required, api_user, region_covers
from core.extensions import db
from core.models import Role
from declare.models import Declaration
from supervision.flags import operations as flags
from supervision.flags.labels import reason_text
from supervision.flags.schemas import (
    DeclarationRiskFlagArgs,
    DeclarationRiskFlagsOut,
    FlagRecomputeOut,
    RiskFlagArgs,
    RiskFlagOut,
)

blp = Blueprint(
    "api_flags",
    __name__,
    url_prefix="/api/v1/supervision/flags",
    description="Risk flags (风险标记) of declarations: by region for regulators, per declaration "
    "for regulators and the enterprise itself",
)


_documented = blp.documented


def _flag_dict(flag, row=None) -> dict:
    return {
        "id": flag.id,
        "declaration_id": flag.declaration_id,
        "version_id": flag.version_id,
        "enterprise_id": flag.enterprise_id,
        "enterprise": row.enterprise if row is not None else None,
        "standard_code": row.standard_code if row is not None else None,
        "region_code": flag.region_code,
        "category_id": flag.category_id,
        "code": flag.code,
        "severity": flag.severity,
        "key": flag.key,
        "reason": reason_text(flag),
        "evidence": flag.evidence or {},
        "raised_at": flag.raised_at,
        "cleared_at": flag.cleared_at,
        "cleared_reason": flag.cleared_reason or "",
    }


# --------------------------------------------------------------------------- endpoints


@blp.route("/", methods=["GET"])
@api_roles_required(Role.REGULATOR)
@blp.arguments(RiskFlagArgs, location="query")
@blp.response(200, RiskFlagOut(many=True))
@blp.paginate(page_size=50, max_page_size=500)
@_documented(401, 403, 422)
def region_flags(args, pagination_parameters):
    """The flags of the caller's region (a regulator's), most severe and newest first.

    ``region`` narrows to a sub-region the caller covers; one outside answers 403.
    """
    user = api_user()
    if not user.region_code:
        abort(403, _("Your account has no region; ask the platform operator to set it."))
    region = args.get("region") or user.region_code
    if not region_covers(user.region_code, region):
        abort(
            403,
            _(
                "region: %(region)s is outside your region %(own)s.",
                region=region,
                own=user.region_code,
            ),
        )
    page = flags.region_flags(
        region_code=region,
        code=args.get("code"),
        severity=args.get("severity"),
        category_id=args.get("category_id"),
        status=args["status"],
        page=pagination_parameters.page,
        per_page=pagination_parameters.page_size,
    )
    pagination_parameters.item_count = page.total
    return [_flag_dict(row.flag, row) for row in page.items]


def _visible_declaration(declaration_id: int) -> Declaration:
    user = api_user()
    declaration = db.session.get(Declaration, declaration_id)
    visible = declaration is not None and (
        (user.role is Role.REGULATOR
         and region_covers(user.region_code, declaration.enterprise.region_code))
        or (user.role is Role.ENTERPRISE and user.enterprise_id == declaration.enterprise_id)
    )  # fmt: skip
    if not visible:
        abort(404, _("Declaration %(id)d not found.", id=declaration_id))
    return declaration


@blp.route("/declarations/<int:declaration_id>", methods=["GET"])
@api_roles_required(Role.REGULATOR, Role.ENTERPRISE)
@blp.arguments(DeclarationRiskFlagArgs, location="query")
@blp.response(200, DeclarationRiskFlagsOut)
@_documented(401, 403, 404, 422)
def declaration_flags(args, declaration_id: int):
    """A declaration's open flags with their evidence (and its cleared ones, the history):
    for a regulator of its region or the enterprise itself."""
    declaration = _visible_declaration(declaration_id)
    rows = flags.flags_of(declaration.id, include_cleared=args["include_cleared"])
    return {
        "declaration_id": declaration.id,
        "region_code": declaration.enterprise.region_code,
        "risk_score": float(flags.risk_scores([declaration.id]).iloc[0]),
        "open": [_flag_dict(f) for f in rows if f.cleared_at is None],
        "cleared": [_flag_dict(f) for f in rows if f.cleared_at is not None],
    }


@blp.route("/declarations/<int:declaration_id>/recompute", methods=["POST"])
@api_roles_required(Role.REGULATOR)
@blp.response(202, FlagRecomputeOut)
@_documented(401, 403, 404)
def recompute_declaration(declaration_id: int):
    """Recompute a declaration's flags now (a job on the ``supervision`` queue, run after this
    request commits): for a regulator of its region."""
    declaration = _visible_declaration(declaration_id)
    [row] = flags.request_recompute([declaration.id])
    db.session.flush()
    return {"job_id": row.id, "status": row.status, "queue": row.queue}
