"""Flask-WTF forms of the catalogue pages, and translated messages for standard numbers.

``number_error_message`` and the two validators are meant for any package's forms
(declare/ uses them for Q/ numbers): ``benchmarks.numbers`` is pure and speaks English by
code; ``benchmarks.messages`` (re-exported here) turns a code into the user's language.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from benchmarks.importer import KINDS
from benchmarks.messages import number_error_message, number_help
from benchmarks.models import StandardKind, StandardStatus
from benchmarks.numbers import NumberError, parse_enterprise_number, parse_standard_number

__all__ = [
    "ImportForm",
    "StandardSearchForm",
    "ValidEnterpriseNumber",
    "ValidStandardNumber",
    "WithdrawForm",
    "number_error_message",
    "number_help",
]

KIND_LABELS = {
    StandardKind.NATIONAL_MANDATORY: _l("National mandatory"),
    StandardKind.NATIONAL_RECOMMENDED: _l("National recommended"),
    StandardKind.INDUSTRY: _l("Industry"),
    StandardKind.LOCAL: _l("Local"),
    StandardKind.GROUP: _l("Group"),
}
STATUS_LABELS = {
    StandardStatus.IN_FORCE: _l("In force"),
    StandardStatus.UPCOMING: _l("Upcoming"),
    StandardStatus.WITHDRAWN: _l("Withdrawn"),
}
IMPORT_KIND_LABELS = {
    "categories": _l("Product categories"),
    "standards": _l("Standards"),
    "indicators": _l("Benchmark indicators"),
}


class ValidStandardNumber:
    """WTForms validator: a catalogue standard number (GB, GB/T, QB/T, DBxx/T, T/xxx …)."""

    def __call__(self, form, field) -> None:
        if not field.data:
            return
        try:
            field.parsed = parse_standard_number(field.data)
        except NumberError as exc:
            raise ValidationError(number_error_message(exc)) from exc


class ValidEnterpriseNumber:
    """WTForms validator: an enterprise standard number (Q/…)."""

    def __call__(self, form, field) -> None:
        if not field.data:
            return
        try:
            field.parsed = parse_enterprise_number(field.data)
        except NumberError as exc:
            raise ValidationError(number_error_message(exc)) from exc


class StandardSearchForm(FlaskForm):
    """The browse filters; read from the query string, so no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(_l("Number or title"), validators=[Optional(), Length(max=100)])
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("", _l("All kinds"))]
        + [SelectChoice(k.value, label) for k, label in KIND_LABELS.items()],
        validators=[Optional()],
        default="",
    )
    status = SelectField(
        _l("Status today"),
        choices=[SelectChoice("", _l("Any status"))]
        + [SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()],
        validators=[Optional()],
        default="",
    )


class ImportForm(FlaskForm):
    kind = SelectField(
        _l("What the file holds"),
        choices=[SelectChoice(k, IMPORT_KIND_LABELS[k]) for k in KINDS],
        validators=[DataRequired()],
    )
    file = FileField(
        _l("CSV or Excel (.xlsx) file"),
        validators=[FileRequired(_l("Choose a CSV or .xlsx file to upload."))],
    )


class ConfirmImportForm(FlaskForm):
    """Confirm the import previewed: the upload kept under its SHA-256, and a digest of the
    changes shown, so a catalogue that changed since the preview is previewed again."""

    kind = HiddenField(validators=[DataRequired()])
    upload = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{64}$")])
    digest = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{64}$")])


class WithdrawForm(FlaskForm):
    withdrawn_date = DateField(_l("Withdrawal date (废止日期)"), validators=[Optional()])
    replaced_by = StringField(
        _l("Replaced by (standard number)"),
        validators=[Optional(), Length(max=60), ValidStandardNumber()],
    )

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if ok and not self.withdrawn_date.data and not (self.replaced_by.data or "").strip():
            self.withdrawn_date.errors.append(
                _("Give the withdrawal date, the replacing standard, or both.")
            )
            return False
        return ok
