"""JSON API of account management (/api/v1/admin/accounts), admins only.

Thin: parse with a load schema, call ``core.accounts``, dump the account. The same rules as
the admin page (/admin/accounts); every change is audited by the flush hooks.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from core import accounts
from core.api_helpers import Blueprint, abort, paginated
from core.auth import api_user
from core.extensions import db
from core.models import Role, User
from core.schemas import TrimmedSchema

blp = Blueprint(
    "api_accounts",
    __name__,
    url_prefix="/api/v1/admin/accounts",
    description="Accounts of every role: list, create, disable, enable, unlock, send a reset link "
    "(admins only)",
)
admin_only = blp.roles_only(Role.ADMIN)
ROLES = [r.value for r in Role]


class AccountArgs(TrimmedSchema):
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))
    q = fields.String(load_default=None, validate=validate.Length(max=200))


class AccountIn(TrimmedSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    display_name = fields.String(load_default="", validate=validate.Length(max=200))
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=254))
    password = fields.String(
        load_default=None,
        allow_none=True,
        load_only=True,
        validate=validate.Length(max=200),
        metadata={"description": "Empty: a random one, and a reset link is mailed to `email`."},
    )
    region_code = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=6),
        metadata={"description": "Regulators: their 6-digit 行政区划 code."},
    )
    uscc = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=40),
        metadata={"description": "Enterprises: the 统一社会信用代码 of the enterprise to create."},
    )
    enterprise_name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=200)
    )


class AccountOut(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    role = fields.Function(lambda u: u.role.value)
    display_name = fields.String()
    email = fields.String(allow_none=True)
    region_code = fields.String(allow_none=True)
    enterprise_id = fields.Integer(allow_none=True)
    parent_id = fields.Integer(allow_none=True, metadata={"description": "Sub-accounts (经办人): "
                                                          "the enterprise's main account."})
    active = fields.Boolean(attribute="is_active_account")
    locked_until = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()


class AccountPatch(TrimmedSchema):
    display_name = fields.String(validate=validate.Length(max=200))
    email = fields.String(allow_none=True, validate=validate.Length(max=254))
    region_code = fields.String(validate=validate.Length(max=6),
                                metadata={"description": "Regulators only."})


def _account(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, _("Account %(id)d not found.", id=user_id))
    return user


@blp.route("")
class Accounts(MethodView):
    @admin_only
    @blp.arguments(AccountArgs, location="query")
    @blp.response(200, AccountOut(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    def get(self, args, pagination_parameters):
        """Accounts, oldest first; ``role`` and ``q`` (user name, name or e-mail) filter."""
        return paginated(accounts.accounts_query(args["role"], args["q"]), pagination_parameters)

    @admin_only
    @blp.arguments(AccountIn)
    @blp.response(201, AccountOut)
    @blp.documented(422)
    def post(self, data):
        """Create an account of any role (an enterprise account creates its enterprise)."""
        return accounts.create_account(data)


@blp.route("/<int:user_id>", methods=["PATCH"])
@admin_only
@blp.arguments(AccountPatch)
@blp.response(200, AccountOut)
@blp.documented(404, 422)
def update_account(data, user_id: int):
    """Correct an account's name, e-mail address or (regulators) region."""
    user = _account(user_id)
    accounts.update_account(user, data)
    return user


@blp.route("/<int:user_id>/<any(disable, enable, unlock, reset):action>", methods=["POST"])
@admin_only
@blp.response(200, AccountOut)
@blp.documented(404, 422)
def account_action(user_id: int, action: str):
    """Disable or enable an account, lift its lock-out, or mail it a password-reset link."""
    user = _account(user_id)
    if action in ("disable", "enable"):
        accounts.set_active(api_user(), user, action == "enable")
    elif action == "unlock":
        accounts.unlock(user)
    else:
        accounts.send_reset_mail(user)
    return user
