"""API authentication: exchange a username and password for a bearer token."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from core.auth import issue_token
from core.extensions import db, limiter
from core.models import User

blp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth", description="Authentication")


class TokenRequest(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    name = fields.String(load_default="api", validate=validate.Length(max=80))


class TokenResponse(Schema):
    token = fields.String(required=True)
    role = fields.String(required=True)
    username = fields.String(required=True)


@blp.route("/tokens", methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@blp.arguments(TokenRequest)
@blp.response(201, TokenResponse)
@blp.doc(security=[])
def create_token(args):
    """Log in and get a bearer token (send it as `Authorization: Bearer <token>`)."""
    user = db.session.scalar(select(User).where(User.username == args["username"].strip()))
    if user is None or not user.is_active or not user.check_password(args["password"]):
        abort(401, message="wrong username or password")
    token = issue_token(user, args["name"])
    return {"token": token, "role": user.role.value, "username": user.username}
