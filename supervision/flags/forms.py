"""Forms of the risk-flag pages: the list's filters and the recompute button."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from core.auth import region_covers
from supervision.flags import operations as flags
from supervision.flags import risk
from supervision.flags.labels import CODE_LABELS, SEVERITY_LABELS, STATUS_LABELS


def _allowed(values) -> str:
    return ", ".join(values)


class FilterForm(FlaskForm):
    """The list's filters (GET, no CSRF); each refusal names the field and what it accepts."""

    class Meta:
        csrf = False

    code = SelectField(_l("Flag"), default="", validate_choice=False)
    severity = SelectField(_l("Severity"), default="", validate_choice=False)
    category_id = SelectField(_l("Product category"), default="", validate_choice=False)
    region = StringField(_l("Region code (行政区划)"), default="")
    status = SelectField(_l("Status"), default="open", validate_choice=False)

    def __init__(self, *args, categories=(), regulator_region: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.regulator_region = regulator_region
        self.code.choices = [SelectChoice("", _l("All flags"))] + [
            SelectChoice(c, CODE_LABELS[c]) for c in risk.FLAG_CODES
        ]
        self.severity.choices = [SelectChoice("", _l("All severities"))] + [
            SelectChoice(s, SEVERITY_LABELS[s]) for s in risk.SEVERITIES
        ]
        locale = str(get_locale() or "")
        self.category_id.choices = [SelectChoice("", _l("All categories"))] + [
            SelectChoice(str(c.id), c.label(locale)) for c in categories
        ]
        self.status.choices = [SelectChoice(s, STATUS_LABELS[s]) for s in flags.STATUSES]

    def validate_code(self, field) -> None:
        if field.data and field.data not in risk.FLAG_CODES:
            raise ValidationError(
                _(
                    "Flag: “%(value)s” is not a flag code; choose one of %(allowed)s.",
                    value=field.data,
                    allowed=_allowed(risk.FLAG_CODES),
                )
            )

    def validate_severity(self, field) -> None:
        if field.data and field.data not in risk.SEVERITIES:
            raise ValidationError(
                _(
                    "Severity: “%(value)s” is not a severity; choose one of %(allowed)s.",
                    value=field.data,
                    allowed=_allowed(risk.SEVERITIES),
                )
            )

    def validate_category_id(self, field) -> None:
        known = {c.value for c in self.category_id.choices if c.value}
        if field.data and field.data not in known:
            raise ValidationError(
                _(
                    "Product category: “%(value)s” is not a category id; choose a category from "
                    "the list.",
                    value=field.data,
                )
            )

    def validate_status(self, field) -> None:
        if field.data and field.data not in flags.STATUSES:
            raise ValidationError(
                _(
                    "Status: “%(value)s” is not a status; choose one of %(allowed)s.",
                    value=field.data,
                    allowed=_allowed(flags.STATUSES),
                )
            )

    def validate_region(self, field) -> None:
        value = (field.data or "").strip()
        field.data = value
        if not value:
            return
        if not (len(value) == 6 and value.isascii() and value.isdigit()):
            raise ValidationError(
                _(
                    "Region code: “%(value)s” is not a 行政区划 code; write its 6 digits, e.g. "
                    "500112.",
                    value=value,
                )
            )
        if self.regulator_region and not region_covers(self.regulator_region, value):
            raise ValidationError(
                _(
                    "Region code: %(value)s is outside your region %(region)s; choose a code "
                    "inside it.",
                    value=value,
                    region=self.regulator_region,
                )
            )

    def filters(self) -> dict:
        return {
            "code": self.code.data or None,
            "severity": self.severity.data or None,
            "category_id": int(self.category_id.data) if self.category_id.data else None,
            "status": self.status.data or "open",
        }


class RecomputeForm(FlaskForm):
    """A button that asks for a recompute: nothing but the CSRF token."""
