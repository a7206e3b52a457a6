"""Account pages: one's own account (password, e-mail), the reset by e-mail, an enterprise's
sub-accounts (经办人) and the admins' account list (/admin/accounts). Rules: core.accounts."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from core import accounts
from core.accounts_forms import (
    AccountEditForm,
    AccountForm,
    ChangePasswordForm,
    EmailForm,
    ForgotPasswordForm,
    ResetPasswordForm,
    SubAccountForm,
)
from core.audit import acting_as, reset_actor
from core.auth import roles_required
from core.errors import ValidationFailed
from core.extensions import db, limiter
from core.forms import page_arg
from core.models import Role, User
from core.validation import text

bp = Blueprint("accounts", __name__)


def _apply(form, exc: ValidationFailed) -> None:
    """The operation's messages next to their fields (the rest above the form)."""
    for key, messages in exc.errors.items():
        target = getattr(form, key, None)
        if target is not None and hasattr(target, "errors") and hasattr(target, "data"):
            target.errors = list(target.errors) + messages
        else:
            form.form_errors.extend(messages)


def _status(form) -> int:
    return 422 if form.is_submitted() else 200


# --------------------------------------------------------------------------- own account


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = EmailForm(obj=None if request.method == "POST" else current_user)
    if form.validate_on_submit():
        try:
            accounts.change_email(current_user, form.email.data, form.current_password.data)
        except ValidationFailed as exc:
            _apply(form, exc)
        else:
            flash(_("E-mail address saved."), "success")
            return redirect(url_for("accounts.account"))
    return render_template(
        "auth/account.html",
        form=form,
        may_manage=accounts.may_manage_sub_accounts(current_user),
    ), _status(form)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            accounts.change_password(
                user, form.current_password.data, form.new_password.data, form.confirm.data
            )
        except ValidationFailed as exc:
            _apply(form, exc)
        else:
            login_user(user)  # this session carries the new epoch; the others end
            flash(
                _("Password changed. Your other sessions and your API tokens no longer work."),
                "success",
            )
            return redirect(url_for("accounts.account"))
    return render_template("auth/password_change.html", form=form), _status(form)


# --------------------------------------------------------------------------- reset by e-mail


def _reset_limit() -> str:
    return current_app.config["PASSWORD_RESET_RATE_LIMIT"]


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        accounts.request_reset(form.email.data)
        # The same answer whether or not an account has this address.
        flash(
            _(
                "If an account has this e-mail address, a link to choose a new password is on "
                "its way. It works once, within %(minutes)d minutes.",
                minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60,
            ),
            "info",
        )
        return redirect(url_for("core.login"))
    return render_template("auth/password_forgot.html", form=form), _status(form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = accounts.user_for_reset(token)
    if user is None:
        return render_template("auth/password_reset_invalid.html"), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        actor = acting_as(user.id, user.username)  # the account resets its own password
        try:
            accounts.reset_password(user, form.new_password.data, form.confirm.data)
            db.session.flush()
        except ValidationFailed as exc:
            _apply(form, exc)
        else:
            flash(_("Your password is changed. Log in with the new one."), "success")
            return redirect(url_for("core.login"))
        finally:
            reset_actor(actor)
    return render_template("auth/password_reset.html", form=form, user=user), _status(form)


# --------------------------------------------------------------------------- sub-accounts


def _sub_account_owner() -> User:
    user = current_user._get_current_object()
    if not accounts.may_manage_sub_accounts(user):
        abort(403)
    return user


@bp.route("/account/sub-accounts", methods=["GET", "POST"])
@roles_required(Role.ENTERPRISE)
def sub_accounts():
    owner = _sub_account_owner()
    form = SubAccountForm()
    if form.validate_on_submit():
        try:
            sub = accounts.create_sub_account(owner, form.data)
        except ValidationFailed as exc:
            _apply(form, exc)
        else:
            flash(_("Sub-account %(name)s added.", name=sub.username), "success")
            return redirect(url_for("accounts.sub_accounts"))
    return render_template(
        "auth/sub_accounts.html", form=form, rows=accounts.sub_accounts_of(owner)
    ), _status(form)


@bp.post("/account/sub-accounts/<int:user_id>/<any(disable, enable):action>")
@roles_required(Role.ENTERPRISE)
def sub_account_state(user_id: int, action: str):
    sub = accounts.sub_account(_sub_account_owner(), user_id)
    if sub is None:
        abort(404)
    sub.is_active_account = action == "enable"
    flash(
        _("Sub-account %(name)s enabled.", name=sub.username)
        if action == "enable"
        else _("Sub-account %(name)s disabled.", name=sub.username),
        "info",
    )
    return redirect(url_for("accounts.sub_accounts"))


# --------------------------------------------------------------------------- admin


@bp.get("/admin/accounts")
@roles_required(Role.ADMIN)
def admin_accounts():
    role = text(request.args.get("role"))
    if role and role not in {r.value for r in Role}:
        raise ValidationFailed(
            {"role": [_("Choose a role: %(roles)s.", roles=", ".join(r.value for r in Role))]}
        )
    q = text(request.args.get("q"))[:200]
    page = db.paginate(
        accounts.accounts_query(role or None, q),
        page=page_arg(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    return render_template(
        "admin/accounts.html", page=page, role=role, q=q, roles=list(Role),
    )


@bp.route("/admin/accounts/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_account_new():
    form = AccountForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_account(form.data)
        except ValidationFailed as exc:
            _apply(form, exc)
        else:
            flash(_("Account %(name)s created.", name=user.username), "success")
            return redirect(url_for("accounts.admin_accounts", q=user.username))
    return render_template("admin/accounts_new.html", form=form), _status(form)


@bp.route("/admin/accounts/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_account_edit(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = AccountEditForm(obj=None if request.method == "POST" else user)
    if form.validate_on_submit():
        data = {"display_name": form.display_name.data, "email": form.email.data}
        if user.role is Role.REGULATOR:
            data["region_code"] = form.region_code.data
        try:
            accounts.update_account(user, data)
        except ValidationFailed as exc:
            _apply(form, exc)
        else:
            flash(_("Account %(name)s saved.", name=user.username), "success")
            return redirect(url_for("accounts.admin_accounts", q=user.username))
    return render_template("admin/accounts_edit.html", form=form, user=user), _status(form)


@bp.post("/admin/accounts/<int:user_id>/<any(disable, enable, unlock, reset):action>")
@roles_required(Role.ADMIN)
def admin_account_action(user_id: int, action: str):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    back = url_for("accounts.admin_accounts", q=user.username)
    try:
        if action in ("disable", "enable"):
            accounts.set_active(current_user, user, action == "enable")
            message = (
                _("Account %(name)s enabled.", name=user.username)
                if action == "enable"
                else _("Account %(name)s disabled.", name=user.username)
            )
        elif action == "unlock":
            accounts.unlock(user)
            message = _("Account %(name)s unlocked.", name=user.username)
        else:
            accounts.send_reset_mail(user)
            message = _("A reset link was sent to %(email)s.", email=user.email)
    except ValidationFailed as exc:
        flash(" ".join(m for ms in exc.errors.values() for m in ms), "error")
        return redirect(back)
    flash(message, "success")
    return redirect(back)
