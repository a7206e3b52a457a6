"""API authentication: exchange a username and password for a bearer token."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.accounts import LoginRefused, authenticate
from core.auth import api_roles_required, api_token, api_user, issue_token, login_attempts
from core.extensions import db
from core.models import ApiToken, utcnow

blp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth", description="Authentication")


class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=200)
    )
    name = fields.String(load_default="api", validate=validate.Length(max=80))


class TokenResponse(Schema):
    token = fields.String(required=True)
    role = fields.String(required=True)
    username = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)


class MeResponse(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    role = fields.String(required=True)
    display_name = fields.String()
    region_code = fields.String(allow_none=True)


@blp.route("/tokens", methods=["POST"])
@login_attempts
@blp.arguments(TokenRequest)
@blp.response(201, TokenResponse)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(429, description="Too many attempts")
@blp.doc(security=[])
def create_token(args):
    """Log in and get a bearer token (send it as `Authorization: Bearer <token>`)."""
    try:
        user = authenticate(args["username"], args["password"])
    except LoginRefused as exc:
        abort(401, message=exc.message)
    g.api_user = user  # authenticated by password: the audit log names them as the actor
    token = issue_token(user, args["name"])
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_sha256 == ApiToken.digest(token)))
    return {
        "token": token,
        "role": user.role.value,
        "username": user.username,
        "expires_at": row.expires_at,
    }


@blp.route("/tokens/current", methods=["DELETE"])
@api_roles_required()
@blp.response(204)
@blp.alt_response(401, description="No valid bearer token")
def revoke_current_token():
    """Revoke the token this request is sent with (log out of the API)."""
    api_token().revoked_at = utcnow()


@blp.route("/me", methods=["GET"])
@api_roles_required()
@blp.response(200, MeResponse)
@blp.alt_response(401, description="No valid bearer token")
def me():
    """The account behind the bearer token."""
    user = api_user()
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role.value,
        "display_name": user.display_name,
        "region_code": user.region_code,
    }
