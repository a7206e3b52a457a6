"""Input cleaning shared by every package's operations: the error collector and the readers of
values typed by people or sent as JSON.

A reader answers ``(value, ok)``: ``(None, True)`` for empty input, ``(None, False)`` for input
that is not what was asked. Operations collect messages per field in ``Errors`` and raise
``ValidationFailed(errors)`` (field path → messages) once, with every problem at once.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import ValidationFailed

GENERAL = "_schema"  # the field of a message about the whole input

#: The largest id the database holds (PostgreSQL's ``integer``).
DB_INT_MAX = 2**31 - 1

__all__ = ["DB_INT_MAX", "GENERAL", "Errors", "day", "db_id", "integer", "number", "refuse", "text"]


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


def number(value: Any) -> tuple[float | None, bool]:
    """(number, ok): None for empty; not ok for anything that is not a finite number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, True
    if isinstance(value, bool):
        return None, False
    try:
        found = float(Decimal(value.strip()) if isinstance(value, str) else value)
    except (TypeError, ValueError, InvalidOperation):
        return None, False
    return (found, True) if math.isfinite(found) else (None, False)


def integer(value: Any) -> tuple[int | None, bool]:
    """(whole number, ok): 3, "3" and 3.0 are 3; 3.5 is not ok."""
    found, ok = number(value)
    if not ok or found is None:
        return None, ok
    return (int(found), True) if found == int(found) else (None, False)


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
