"""Forms of the account pages (core.accounts_views); the rules live in core.accounts."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from core.forms import strip
from core.models import Role


def _role_choices():
    return [
        (Role.ENTERPRISE.value, _l("Enterprise")),
        (Role.EVALUATOR.value, _l("Evaluation body")),
        (Role.REGULATOR.value, _l("Regulator")),
        (Role.ASSOCIATION.value, _l("Industry association")),
        (Role.ADMIN.value, _l("Platform admin")),
    ]


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=200)]
    )
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("New password again"), validators=[DataRequired(), Length(max=200)]
    )


class EmailForm(FlaskForm):
    email = StringField(_l("E-mail address"), filters=[strip], validators=[Length(max=254)])
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=200)]
    )


class ForgotPasswordForm(FlaskForm):
    email = StringField(
        _l("E-mail address"), filters=[strip], validators=[DataRequired(), Length(max=254)]
    )


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("New password again"), validators=[DataRequired(), Length(max=200)]
    )


class SubAccountForm(FlaskForm):
    username = StringField(
        _l("Username"), filters=[strip], validators=[DataRequired(), Length(max=80)]
    )
    display_name = StringField(
        _l("Name of the person"), filters=[strip], validators=[Optional(), Length(max=200)]
    )
    email = StringField(_l("E-mail address"), filters=[strip], validators=[Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("Password again"), validators=[DataRequired(), Length(max=200)])


class AccountForm(FlaskForm):
    """An admin creates an account of any role."""

    role = SelectField(_l("Role"), choices=_role_choices, validators=[DataRequired()])
    username = StringField(
        _l("Username"), filters=[strip], validators=[DataRequired(), Length(max=80)]
    )
    display_name = StringField(
        _l("Display name"), filters=[strip], validators=[Optional(), Length(max=200)]
    )
    email = StringField(_l("E-mail address"), filters=[strip], validators=[Length(max=254)])
    password = PasswordField(
        _l("Initial password (empty: send a reset link by e-mail)"),
        validators=[Optional(), Length(max=200)],
    )
    region_code = StringField(
        _l("Region code (regulators, 6 digits)"), filters=[strip], validators=[Length(max=6)]
    )
    uscc = StringField(
        _l("Unified social credit code (enterprises)"),
        filters=[strip],
        validators=[Length(max=40)],
    )
    enterprise_name = StringField(
        _l("Enterprise name (enterprises)"), filters=[strip], validators=[Length(max=200)]
    )


class AccountEditForm(FlaskForm):
    """An admin corrects an account (the region only matters for regulators)."""

    display_name = StringField(
        _l("Display name"), filters=[strip], validators=[Optional(), Length(max=200)]
    )
    email = StringField(_l("E-mail address"), filters=[strip], validators=[Length(max=254)])
    region_code = StringField(
        _l("Region code (regulators, 6 digits)"), filters=[strip], validators=[Length(max=6)]
    )
