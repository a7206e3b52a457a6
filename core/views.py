"""Pages every role shares: login/logout, language switch, API tokens.

They send visitors to the ``index`` endpoint, the home page the composition root registers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    request_started,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from core.accounts import LoginRefused, authenticate
from core.auth import issue_token, login_attempts
from core.extensions import db
from core.forms import LoginForm, TokenForm
from core.models import ApiToken, utcnow

bp = Blueprint("core", __name__)


@request_started.connect
def _fresh_locale(sender, **extra) -> None:
    """Choose the language per request (Flask-Babel caches it in ``g``; see core.auth)."""
    g.pop("_flask_babel", None)


def _safe_next(target: str | None) -> str | None:
    """A local path to return to, or None: never another host (open redirect).

    Browsers read ``/\\evil.example`` and ``//evil.example`` as another host, so both are refused.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
@login_attempts
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data)
        except LoginRefused as exc:
            form.password.errors.append(exc.message)
        else:
            login_user(user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")) or url_for("index"))
    status = 422 if request.method == "POST" else 200
    return render_template("core/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("index"))


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")) or url_for("index"))


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        new_token = issue_token(current_user, form.name.data.strip())
        flash(_("Copy the token now: it is shown only once."), "info")
    rows = db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == current_user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    ).all()
    status = 422 if request.method == "POST" and new_token is None else 200
    return render_template("core/tokens.html", form=form, tokens=rows, new_token=new_token), status


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    tok = db.session.get(ApiToken, token_id)
    if tok is None or tok.user_id != current_user.id:
        abort(404)
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
    flash(_("Token revoked."), "info")
    return redirect(url_for("core.tokens"))
