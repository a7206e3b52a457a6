"""Forms of the kernel's pages, the form fields and filters every package's forms share, and
the readers of whole numbers in a page's query string (``page_arg``, ``query_int``)."""

from __future__ import annotations

import math
import re

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, Field, PasswordField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import TextInput

from core.errors import ValidationFailed
from core.validation import DB_INT_MAX, PAGE_MAX, integer, number_text


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)])


# --------------------------------------------------------------------------- shared fields

_WHOLE = re.compile(r"[+-]?[0-9]{1,20}")


def strip(value):
    """Filter: the text without the spaces typed around it (other values unchanged)."""
    return value.strip() if isinstance(value, str) else value


def int_or_none(value) -> int | None:
    """A whole number from a form value (ASCII digits, within the database's integer), or None
    for empty or unreadable input: ``int`` alone takes "١٢" and numbers no column holds."""
    if value in (None, "") or (isinstance(value, str) and not _WHOLE.fullmatch(value.strip())):
        return None
    found, ok = integer(value)
    return found if ok else None


def query_int(name: str, default: int, *, low: int = 1, high: int = DB_INT_MAX) -> int:
    """A whole number from the query string, ``default`` when absent or empty; anything else
    outside ``low``..``high`` (or not ASCII digits) is a 422 naming the parameter and the range,
    the same answer a list gives on every page (not a silent default, not a database error)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if _WHOLE.fullmatch(raw) and low <= int(raw) <= high:
        return int(raw)
    raise ValidationFailed(
        {name: [_("Enter a whole number from %(low)d to %(high)d (digits 0-9).", low=low,
                  high=high)]}
    )


def page_arg(name: str = "page") -> int:
    """The page number of a paginated page: 1 when absent, 1..``PAGE_MAX`` else a 422."""
    return query_int(name, 1, low=1, high=PAGE_MAX)


class NumberField(Field):
    """A decimal typed by a person; full-width digits (４.５) are accepted, other non-ASCII
    digits ("²", "١٢") are not."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.raw = ""

    def process_formdata(self, valuelist):
        typed = (valuelist[0] or "").strip() if valuelist else ""
        self.raw = number_text(typed) or typed
        self.data = None
        if not self.raw:
            return
        number = float(self.raw) if number_text(typed) is not None else math.nan
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
