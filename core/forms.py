"""Forms of the kernel's pages, and the form fields and filters every package's forms share."""

from __future__ import annotations

import math
import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, Field, PasswordField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import TextInput


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)])


# --------------------------------------------------------------------------- shared fields


def strip(value):
    """Filter: the text without the spaces typed around it (other values unchanged)."""
    return value.strip() if isinstance(value, str) else value


def int_or_none(value) -> int | None:
    """A whole number from a form value, or None for empty or unreadable input."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class NumberField(Field):
    """A decimal typed by a person; full-width digits (４.５) are accepted."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.raw = ""

    def process_formdata(self, valuelist):
        self.raw = unicodedata.normalize("NFKC", valuelist[0] or "").strip() if valuelist else ""
        self.data = None
        if not self.raw:
            return
        try:
            number = float(self.raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(str(_l("Enter a number such as 4.50 (digits and one decimal point).")))
        self.data = number

    def _value(self) -> str:
        if self.raw:
            return self.raw
        if self.data is None:
            return ""
        text = repr(float(self.data))
        return text[:-2] if text.endswith(".0") else text


class DayField(DateField):
    """A date written YYYY-MM-DD, with a message that says so."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("Enter the date as YYYY-MM-DD, e.g. 2024-05-01."))) from exc
