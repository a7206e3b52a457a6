"""Input cleaning shared by every package's operations: the error collector and the readers of
values typed by people or sent as JSON.

A reader answers ``(value, ok)``: ``(None, True)`` for empty input, ``(None, False)`` for input
that is not what was asked. Operations collect messages per field in ``Errors`` and raise
``ValidationFailed(errors)`` (field path → messages) once, with every problem at once.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import ValidationFailed

GENERAL = "_schema"  # the field of a message about the whole input

#: The largest id the database holds (PostgreSQL's ``integer``).
DB_INT_MAX = 2**31 - 1
#: The smallest whole number an ``integer`` column holds.
DB_INT_MIN = -(2**31)
#: The highest page number any list accepts (API and pages): the offset it implies still fits
#: a 64-bit integer at the largest page size, so a page past the end is an empty page.
PAGE_MAX = DB_INT_MAX

#: A number as people and clients write it, in ASCII only: ``Decimal`` and ``int`` also take
#: "١٢", "²" (int refuses it, ``str.isdigit`` does not) and "1_000".
_ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
#: Full-width digits, point and signs (typed with a Chinese input method) and their ASCII: the
#: only non-ASCII forms a number may take (NFKC would also turn "²" into "2").
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．＋－", "0123456789.+-")
#: More characters than any number this service takes (parsing 100 KB of digits costs time).
_NUMBER_MAX_CHARS = 64

__all__ = [
    "DB_INT_MAX", "DB_INT_MIN", "GENERAL", "PAGE_MAX", "Errors", "day", "db_id", "integer",
    "number", "number_text", "refuse", "text",
]


class Errors(dict):
    """Messages per field path, each message once."""

    def add(self, field: str, message: str) -> None:
        messages = self.setdefault(field, [])
        if message not in messages:
            messages.append(message)


def db_id(value: Any) -> int | None:
    """An id typed or sent as text: ASCII digits only (``str.isdigit`` also takes "²" and
    other digits that ``int`` refuses) and within the database's integer, else None, so a
    lookup with it finds nothing instead of failing."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= DB_INT_MAX else None
    raw = str(value if value is not None else "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    number = int(raw)
    return number if 0 < number <= DB_INT_MAX else None


def refuse(message: str, field: str = GENERAL) -> ValidationFailed:
    """The error to raise for one message (``raise refuse(...)``)."""
    return ValidationFailed({field: [message]})


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def number_text(value: str) -> str | None:
    """The text of a number in ASCII (full-width digits folded), or None when it is not one:
    digits 0-9 with an optional sign, decimal point and exponent, at most 64 characters."""
    raw = value.strip().translate(_FULL_WIDTH)
    if len(raw) > _NUMBER_MAX_CHARS or not _ASCII_NUMBER.fullmatch(raw):
        return None
    return raw


def number(value: Any) -> tuple[float | None, bool]:
    """(number, ok): None for empty; not ok for anything that is not a finite number. Text
    takes ASCII digits only (an optional sign, a decimal point, an exponent)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, True
    if isinstance(value, bool):
        return None, False
    if isinstance(value, str):
        raw = number_text(value)
        if raw is None:
            return None, False
        value = Decimal(raw)
    try:
        found = float(value)
    except (TypeError, ValueError, InvalidOperation, OverflowError):
        return None, False
    return (found, True) if math.isfinite(found) else (None, False)


def integer(value: Any) -> tuple[int | None, bool]:
    """(whole number, ok): 3, "3" and 3.0 are 3; 3.5 is not ok, nor a number outside the
    database's ``integer`` (every whole number the operations take is an id, a count, a year
    or a number of days stored in one)."""
    if isinstance(value, int) and not isinstance(value, bool):
        found: float | int | None = value
    else:
        found, ok = number(value)
        if not ok or found is None:
            return None, ok
        if found != int(found):
            return None, False
    whole = int(found)
    return (whole, True) if DB_INT_MIN <= whole <= DB_INT_MAX else (None, False)


def day(value: Any) -> tuple[date | None, bool]:
    """(date, ok) from a date, a datetime (its date) or YYYY-MM-DD text."""
    if value is None or value == "":
        return None, True
    if isinstance(value, datetime):
        return value.date(), True
    if isinstance(value, date):
        return value, True
    try:
        return date.fromisoformat(str(value).strip()), True
    except ValueError:
        return None, False
