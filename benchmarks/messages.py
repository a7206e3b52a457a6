"""Standard-number errors in the user's language.

``benchmarks.numbers`` is pure and explains a refused number in English, with a stable ``reason``
and the ``params`` a message needs; this module turns that into the visitor's language. It sits
apart from ``benchmarks.forms`` so that operations and the importer can use it without importing
the forms (which import the importer).
"""

from __future__ import annotations

from flask_babel import gettext as _

from benchmarks.numbers import NumberError

__all__ = ["number_error_message", "number_help"]


def number_help(kind: str) -> str:
    """What an allowed number looks like, in the user's language."""
    if kind == "enterprise":
        return _(
            "An enterprise standard number is Q/ + enterprise code + sequence number + - + "
            "a four-digit year, e.g. Q/SJX 0001S-2020."
        )
    return _(
        "A standard number is a prefix, a number (optionally .part), - and a four-digit year, "
        "e.g. GB/T 18883-2022, GB 12021.2-2015, DB50/T 1234-2022, T/CAS 123-2020."
    )


def _problem(exc: NumberError) -> str:
    """What is wrong with the number, by ``reason`` (falling back to the coarser ``code``)."""
    text, p = exc.text, exc.params
    reason = exc.reason
    if reason == "empty":
        if exc.kind == "enterprise":
            return _("Enter the enterprise standard number.")
        return _("Enter the standard number.")
    if reason == "enterprise":
        return _(
            "%(text)s is an enterprise standard; the catalogue holds national, industry, "
            "local and group standards only.",
            text=text,
        )
    if reason == "unknown_prefix":
        return _(
            "%(text)s does not start with a known prefix (GB, GB/T, GB/Z, an industry code "
            "such as QB/T, DBxx or DBxx/T, T/xxx).",
            text=text,
        )
    if reason == "region":
        return _(
            "DB%(region)s in %(text)s is not a local-standard prefix: DB is followed by a "
            "2-digit province code (e.g. DB50 for Chongqing) or a 4- or 6-digit administrative "
            "division code.",
            region=p.get("region", ""),
            text=text,
        )
    if reason == "incomplete_prefix":
        return _(
            "%(text)s: the prefix %(prefix)s is incomplete.", text=text, prefix=p.get("prefix", "")
        )
    if reason == "not_a_prefix":
        return _("%(text)s is not a standard prefix.", text=text)
    if reason == "enterprise_prefix":
        return _("Q/ is the prefix of enterprise standards, which are not in the catalogue.")
    if reason == "no_number":
        return _(
            "%(text)s: after the prefix %(prefix)s come a number, an optional .part, - and the "
            "year.",
            text=text,
            prefix=p.get("prefix", ""),
        )
    if reason == "too_long" and "max_number" in p:
        return _(
            "%(text)s: the number may have at most %(max_number)d digits and the part at most "
            "%(max_part)d characters.",
            text=text,
            max_number=p["max_number"],
            max_part=p["max_part"],
        )
    if reason == "no_year":
        return _(
            "%(text)s has no year: end the number with - and the four-digit year of "
            "publication, e.g. %(example)s.",
            text=text,
            example=p.get("example", ""),
        )
    if reason == "short_year":
        if p.get("suggestion"):
            return _(
                "The year in %(text)s must have four digits: write %(year)s, not %(digits)s.",
                text=text,
                year=p["suggestion"],
                digits=p.get("digits", ""),
            )
        return _(
            "The year in %(text)s must have four digits, e.g. %(example)s.",
            text=text,
            example=p.get("example", ""),
        )
    if reason == "year_range" and "year" in p:
        return _(
            "The year %(year)s in %(text)s is not possible: it must be between %(first)s and "
            "%(last)s.",
            year=p["year"],
            text=text,
            first=p["min_year"],
            last=p["max_year"],
        )
    if reason == "no_q":
        if p.get("looks_catalogue"):
            return _(
                "%(text)s must start with Q/. It looks like a national, industry, local or "
                "group standard: choose it from the catalogue instead.",
                text=text,
            )
        return _("%(text)s must start with Q/.", text=text)
    if reason == "no_sequence":
        return _(
            "%(text)s has no sequence number: after the enterprise code put the sequence digits "
            "(optionally a letter such as S), then - and the year.",
            text=text,
        )
    if reason == "no_code":
        return _("%(text)s has no enterprise code between Q/ and the sequence number.", text=text)
    if reason == "bad_code" and "code" in p:
        return _(
            "The enterprise code %(code)s in %(text)s may contain only letters and digits (at "
            "most %(n)d characters).",
            code=p["code"],
            text=text,
            n=p["max_length"],
        )
    if reason == "sequence_too_long" and "max_length" in p:
        return _(
            "The sequence number in %(text)s is too long (at most %(n)d characters).",
            text=text,
            n=p["max_length"],
        )
    # A reason this module does not know yet: say it by code.
    if exc.code == "empty":
        return _("Enter the number.")
    if exc.code == "prefix":
        if exc.kind == "enterprise":
            return _("%(text)s must start with Q/.", text=text)
        return _("%(text)s does not start with a known prefix.", text=text)
    if exc.code == "year":
        return _("The year in %(text)s is missing or not a possible four-digit year.", text=text)
    return _("%(text)s is not written the way standard numbers are.", text=text)


def number_error_message(exc: NumberError) -> str:
    """A translated message for a NumberError: what is wrong and what is allowed."""
    return _(
        "%(problem)s %(allowed)s", problem=_problem(exc), allowed=number_help(exc.kind)
    )
