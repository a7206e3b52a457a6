"""Standard numbers (标准编号): parse, normalise and classify them.

A number is a version key (``GB/T 1234-2019`` and ``GB/T 1234-2024`` are two documents), so it is
split into prefix, number, part and year. People type numbers from PDFs and Word files, with
full-width characters (``GB／T 18883－2022``), em dashes (the official ``GB/T 18883—2022``),
lowercase and odd spacing; all of that is tolerated. What is not tolerated is a missing year, a
two-digit year, or an enterprise ``Q/`` number where a catalogue standard is expected (and the
reverse).

Pure module: no Flask, no session. Errors carry a stable ``code``, a finer ``reason`` with its
``params`` (the values a message needs) and an English ``message`` for logs and the CLI; whatever
shows an error to a user translates it by reason (``benchmarks.messages.number_error_message``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from core.clock import local_today
from benchmarks.models import StandardKind

__all__ = [
    "ENTERPRISE_NUMBER_HELP",
    "NUMBER_HELP",
    "STANDARD_NUMBER_HELP",
    "EnterpriseNumber",
    "NumberError",
    "StandardNumber",
    "kind_for_prefix",
    "normalise_number_text",
    "parse_enterprise_number",
    "parse_standard_number",
]

NumberErrorCode = Literal["empty", "prefix", "format", "year"]
NumberErrorReason = Literal[
    "empty",  # nothing typed
    "enterprise",  # a Q/ number where a catalogue standard is expected
    "unknown_prefix",  # no known prefix at the start
    "region",  # DBxx with an impossible province/division code; params: region
    "incomplete_prefix",  # "DB" alone; params: prefix
    "not_a_prefix",  # kind_for_prefix: not a standard prefix
    "enterprise_prefix",  # kind_for_prefix: Q/
    "no_number",  # nothing usable after the prefix; params: prefix
    "too_long",  # number or part longer than the columns; params: max_number, max_part
    "no_year",  # params: example
    "short_year",  # params: digits, suggestion ("" unless two digits), example
    "year_range",  # params: year, min_year, max_year
    "no_q",  # enterprise number without Q/; params: looks_catalogue
    "no_sequence",  # enterprise number without sequence digits
    "no_code",  # enterprise number without enterprise code
    "bad_code",  # params: code, max_length
    "sequence_too_long",  # params: max_length
]
NumberKind = Literal["standard", "enterprise"]

STANDARD_NUMBER_HELP = (
    "A standard number is a prefix, a number (optionally .part), '-' and a four-digit year, "
    "e.g. GB 21455-2019, GB/T 18883-2022, GB 12021.2-2015, QB/T 1334-2013, DB50/T 1234-2022, "
    "T/CAS 123-2020."
)
ENTERPRISE_NUMBER_HELP = (
    "An enterprise standard number is Q/ + enterprise code + sequence number + '-' + a "
    "four-digit year, e.g. Q/SJX 0001S-2020 or Q/SGMW02586-2020."
)
NUMBER_HELP: dict[str, str] = {
    "standard": STANDARD_NUMBER_HELP,
    "enterprise": ENTERPRISE_NUMBER_HELP,
}
"""What an allowed number looks like, by kind ("standard" = catalogue, "enterprise" = Q/…)."""

MIN_YEAR = 1949
MAX_NUMBER_LEN = 20  # Standard.number column
MAX_PART_LEN = 10  # Standard.part column
MAX_ENTERPRISE_CODE_LEN = 40  # DeclarationVersion.std_enterprise_code
MAX_SEQUENCE_LEN = 20  # DeclarationVersion.std_sequence

# 行政区划 province-level codes, the two digits after "DB".
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)


class NumberError(ValueError):
    """A standard number that cannot be accepted.

    ``code`` is one of ``empty``, ``prefix``, ``format``, ``year``; ``reason`` says exactly what
    is wrong (see ``NumberErrorReason``) and ``params`` holds the values a message about it needs;
    ``kind`` says which help applies (``standard`` or ``enterprise``); ``text`` is the input after
    normalisation. ``message`` is English, for logs and the CLI; pages translate by ``reason``.
    """

    def __init__(
        self,
        code: NumberErrorCode,
        message: str,
        *,
        kind: NumberKind,
        text: str = "",
        reason: NumberErrorReason | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code: NumberErrorCode = code
        self.message = message
        self.kind: NumberKind = kind
        self.text = text
        self.reason: str = reason or code
        self.params: dict[str, Any] = dict(params or {})

    @property
    def help(self) -> str:
        return NUMBER_HELP[self.kind]


@dataclass(frozen=True)
class StandardNumber:
    """A catalogue standard's number split into its parts; ``text`` is the canonical form."""

    prefix: str
    number: str
    part: str
    year: int
    text: str

    @property
    def key(self) -> tuple[str, str, str, int]:
        """The natural key of an edition (unique in ``standards``)."""
        return (self.prefix, self.number, self.part, self.year)

    @property
    def kind(self) -> StandardKind:
        return kind_for_prefix(self.prefix)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class EnterpriseNumber:
    """An enterprise standard number (Q/…); ``text`` is the input, trimmed and half-width."""

    enterprise_code: str
    sequence: str
    suffix: str
    year: int
    text: str

    def __str__(self) -> str:
        return self.text


_DASHES = re.compile(r"[\u2010-\u2015\u2212\u2E3A\u2E3B\uFE58\uFE63\uFF0D~～]")
_SPACES = re.compile(r"\s+")
_AROUND_PUNCT = re.compile(r"\s*([/\-.])\s*")


def normalise_number_text(text: str) -> str:
    """Half-width (NFKC), every dash as ``-``, single spaces, none around ``/ - .``; trimmed."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _DASHES.sub("-", text)
    text = text.replace("\u3000", " ")
    text = _SPACES.sub(" ", text).strip()
    return _AROUND_PUNCT.sub(r"\1", text)


def _max_year() -> int:
    # A number's year is its publication year; allow next year for standards published ahead.
    return local_today().year + 1


def _check_year(raw: str | None, *, kind: NumberKind, text: str, example: str) -> int:
    if not raw:
        raise NumberError(
            "year",
            f"{text!r} has no year: end the number with '-' and the four-digit year of "
            f"publication, e.g. {example}.",
            kind=kind,
            text=text,
            reason="no_year",
            params={"example": example},
        )
    if len(raw) != 4:
        hint = suggestion = ""
        if len(raw) == 2:
            century = "19" if int(raw) > local_today().year % 100 else "20"
            suggestion = f"{century}{raw}"
            hint = f" (write {suggestion}, not {raw})"
        raise NumberError(
            "year",
            f"The year in {text!r} must have four digits{hint}, e.g. {example}.",
            kind=kind,
            text=text,
            reason="short_year",
            params={"digits": raw, "suggestion": suggestion, "example": example},
        )
    year = int(raw)
    if not MIN_YEAR <= year <= _max_year():
        raise NumberError(
            "year",
            f"The year {year} in {text!r} is not possible: it must be between {MIN_YEAR} "
            f"and {_max_year()}.",
            kind=kind,
            text=text,
            reason="year_range",
            params={"year": year, "min_year": MIN_YEAR, "max_year": _max_year()},
        )
    return year


# Prefixes of catalogue standards, tried in order on the upper-cased, normalised text.
_PREFIX_RE = re.compile(
    r"""
    (?P<gb>GB(?:/[TZ])?|GBZ(?:/T)?)(?![A-Z])
    | DB(?:(?P<dbt>\d{2,6})/T|(?P<dbs>\d{2,6})/(?=\d)|(?P<dbm>\d{2,6})(?=\s)|(?P<dbm2>\d{2}))
    | T/(?P<group>[A-Z]{2,12})(?=\s|\d)
    | (?P<industry>[A-Z]{2,4}(?:/[TZ])?)(?![A-Z/])
    """,
    re.VERBOSE,
)
_BODY_RE = re.compile(r"\s?(?P<number>\d+)(?:\.(?P<part>\d+(?:\.\d+)*))?(?:-(?P<year>\d*))?")


def parse_standard_number(text: str) -> StandardNumber:
    """Parse a catalogue standard's number (national, industry, local, group).

    ``"gb／t18883－2022"`` → ``StandardNumber("GB/T", "18883", "", 2022, "GB/T 18883-2022")``.
    Raises NumberError for anything else, saying what is wrong and what is allowed.
    """
    norm = normalise_number_text(text)
    if not norm:
        raise NumberError(
            "empty", "Enter a standard number, e.g. GB/T 18883-2022.", kind="standard"
        )
    upper = norm.upper()
    if upper.startswith("Q/") or upper.startswith("Q "):
        raise NumberError(
            "prefix",
            f"{norm!r} is an enterprise standard (Q/…); the catalogue holds national, "
            "industry, local and group standards only. " + STANDARD_NUMBER_HELP,
            kind="standard",
            text=norm,
            reason="enterprise",
        )
    m = _PREFIX_RE.match(upper)
    if m is None:
        raise NumberError(
            "prefix",
            f"{norm!r} does not start with a known prefix (GB, GB/T, GB/Z, an industry code "
            "such as QB/T, DBxx or DBxx/T, T/xxx). " + STANDARD_NUMBER_HELP,
            kind="standard",
            text=norm,
            reason="unknown_prefix",
        )
    if m.group("gb"):
        prefix = m.group("gb")
    elif m.group("dbt") or m.group("dbs") or m.group("dbm") or m.group("dbm2"):
        region = m.group("dbt") or m.group("dbs") or m.group("dbm") or m.group("dbm2")
        if len(region) % 2 or region[:2] not in PROVINCE_CODES:
            raise NumberError(
                "prefix",
                f"'DB{region}' in {norm!r} is not a local-standard prefix: DB is followed by a "
                "2-digit province code (e.g. DB50 for Chongqing) or a 4/6-digit division code.",
                kind="standard",
                text=norm,
                reason="region",
                params={"region": region},
            )
        # Mandatory local standards are written "DB11/ 501-2017" (GB/T 1.1); "DB11 501-2017"
        # is the same document.
        prefix = f"DB{region}/T" if m.group("dbt") else f"DB{region}/"
    elif m.group("group"):
        prefix = f"T/{m.group('group')}"
    else:
        prefix = m.group("industry")
        if prefix == "DB":
            raise NumberError(
                "prefix",
                f"{norm!r}: the prefix {prefix!r} is incomplete. " + STANDARD_NUMBER_HELP,
                kind="standard",
                text=norm,
                reason="incomplete_prefix",
                params={"prefix": prefix},
            )
    body = upper[m.end() :]
    b = _BODY_RE.fullmatch(body)
    if b is None:
        raise NumberError(
            "format",
            f"{norm!r}: after the prefix {prefix} expected a number, an optional .part, '-' "
            "and the year. " + STANDARD_NUMBER_HELP,
            kind="standard",
            text=norm,
            reason="no_number",
            params={"prefix": prefix},
        )
    number, part = b.group("number"), b.group("part") or ""
    if len(number) > MAX_NUMBER_LEN or len(part) > MAX_PART_LEN:
        raise NumberError(
            "format",
            f"{norm!r}: the number or part is too long. " + STANDARD_NUMBER_HELP,
            kind="standard",
            text=norm,
            reason="too_long",
            params={"max_number": MAX_NUMBER_LEN, "max_part": MAX_PART_LEN},
        )
    example = f"{prefix} {number}{'.' + part if part else ''}-2020"
    year = _check_year(b.group("year"), kind="standard", text=norm, example=example)
    canonical = f"{prefix} {number}{'.' + part if part else ''}-{year}"
    return StandardNumber(prefix=prefix, number=number, part=part, year=year, text=canonical)


def kind_for_prefix(prefix: str) -> StandardKind:
    """The kind of standard a prefix denotes: GB mandatory, GB/T and GB/Z recommended, …

    ``GBZ`` (national occupational-health standards) counts as national mandatory, ``GBZ/T``
    as recommended. Raises NumberError for enterprise (Q/) or malformed prefixes.
    """
    p = normalise_number_text(prefix).upper().replace(" ", "")
    if p in ("GB", "GBZ"):
        return StandardKind.NATIONAL_MANDATORY
    if p in ("GB/T", "GB/Z", "GBZ/T"):
        return StandardKind.NATIONAL_RECOMMENDED
    if re.fullmatch(r"DB\d{2,6}(/T?)?", p):
        return StandardKind.LOCAL
    if re.fullmatch(r"T/[A-Z]{2,12}", p):
        return StandardKind.GROUP
    if p.startswith("Q/") or p == "Q":
        raise NumberError(
            "prefix",
            "Q/ is the prefix of enterprise standards, which are not in the catalogue.",
            kind="standard",
            text=prefix,
            reason="enterprise_prefix",
        )
    if re.fullmatch(r"[A-Z]{2,4}(/[TZ])?", p) and p != "DB":
        return StandardKind.INDUSTRY
    raise NumberError(
        "prefix",
        f"{prefix!r} is not a standard prefix. " + STANDARD_NUMBER_HELP,
        kind="standard",
        text=prefix,
        reason="not_a_prefix",
    )


_ENTERPRISE_RE = re.compile(
    r"(?P<code>[^-]*?)\s?(?P<seq>\d+)(?P<suffix>[A-Z]{0,3})(?:-(?P<year>\d*))?"
)
_ENTERPRISE_CODE_RE = re.compile(r"[A-Z0-9]+(?: [A-Z0-9]+)*")


def parse_enterprise_number(text: str) -> EnterpriseNumber:
    """Parse an enterprise standard number: ``Q/`` + code + sequence (+ suffix) + ``-`` + year.

    Lenient about spaces, case and full-width characters; strict about the ``Q/`` prefix, a
    non-empty enterprise code, a numeric sequence and a four-digit year. ``text`` keeps the
    input as typed, only trimmed, half-width, with single spaces and none around ``/`` or ``-``.
    """
    norm = normalise_number_text(text)
    if not norm:
        raise NumberError(
            "empty",
            "Enter the enterprise standard number. " + ENTERPRISE_NUMBER_HELP,
            kind="enterprise",
        )
    upper = norm.upper()
    if not upper.startswith("Q/"):
        try:
            parsed = parse_standard_number(norm)
            looks_catalogue = parsed.kind is not StandardKind.INDUSTRY or "/" in parsed.prefix
        except NumberError:
            looks_catalogue = False
        extra = (
            " This looks like a national, industry, local or group standard: pick it from "
            "the catalogue instead."
            if looks_catalogue
            else ""
        )
        raise NumberError(
            "prefix",
            f"{norm!r} must start with 'Q/'.{extra} " + ENTERPRISE_NUMBER_HELP,
            kind="enterprise",
            text=norm,
            reason="no_q",
            params={"looks_catalogue": looks_catalogue},
        )
    m = _ENTERPRISE_RE.fullmatch(upper[2:])
    if m is None:
        raise NumberError(
            "format",
            f"{norm!r} has no sequence number: after the enterprise code put the sequence "
            "digits (optionally a letter such as S), then '-' and the year. "
            + ENTERPRISE_NUMBER_HELP,
            kind="enterprise",
            text=norm,
            reason="no_sequence",
        )
    code = m.group("code").strip()
    if not code:
        raise NumberError(
            "format",
            f"{norm!r} has no enterprise code between 'Q/' and the sequence number. "
            + ENTERPRISE_NUMBER_HELP,
            kind="enterprise",
            text=norm,
            reason="no_code",
        )
    if not _ENTERPRISE_CODE_RE.fullmatch(code) or len(code) > MAX_ENTERPRISE_CODE_LEN:
        raise NumberError(
            "format",
            f"The enterprise code {code!r} in {norm!r} may contain only letters and digits "
            f"(at most {MAX_ENTERPRISE_CODE_LEN}). " + ENTERPRISE_NUMBER_HELP,
            kind="enterprise",
            text=norm,
            reason="bad_code",
            params={"code": code, "max_length": MAX_ENTERPRISE_CODE_LEN},
        )
    seq, suffix = m.group("seq"), m.group("suffix")
    if len(seq) + len(suffix) > MAX_SEQUENCE_LEN:
        raise NumberError(
            "format",
            f"The sequence number in {norm!r} is too long (at most {MAX_SEQUENCE_LEN} "
            "characters).",
            kind="enterprise",
            text=norm,
            reason="sequence_too_long",
            params={"max_length": MAX_SEQUENCE_LEN},
        )
    example = f"Q/{code} {seq}{suffix}-2020"
    year = _check_year(m.group("year"), kind="enterprise", text=norm, example=example)
    return EnterpriseNumber(
        enterprise_code=code, sequence=seq, suffix=suffix, year=year, text=norm
    )
