"""Identity numbers typed by enterprises: the USCC (统一社会信用代码) and product barcodes.

Both checks are python-stdnum's (GB 32100-2015 mod-31 and GS1 mod-10); this module only
normalises what people paste (full-width characters, spaces, lower case) and turns the
library's exceptions into messages that say what is wrong and what is allowed.
"""

from __future__ import annotations

import re
import unicodedata

from flask_babel import gettext as _
from stdnum import ean as ean_mod
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc as uscc_mod

__all__ = [
    "BarcodeError",
    "USCCError",
    "normalise_barcode",
    "normalise_uscc",
    "validate_barcode",
    "validate_uscc",
]

USCC_LENGTH = 18
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
BARCODE_LENGTHS = (8, 12, 13, 14)  # GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN-13), GTIN-14

_SEPARATORS = re.compile(r"[\s\-]+")


class USCCError(ValueError):
    """A USCC that is not valid; ``code`` is ``empty``, ``length``, ``characters``,
    ``format`` or ``checksum``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BarcodeError(ValueError):
    """A barcode that is not a valid GTIN; ``code`` is ``characters``, ``length`` or
    ``checksum``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _clean(text: str | None) -> str:
    """Half-width (NFKC: full-width letters, digits and the ideographic space) without
    separators."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or ""))


def normalise_uscc(text: str | None) -> str:
    """``"９１５００１１２ ma00000017"`` → ``"91500112MA00000017"``: half-width, no spaces or
    dashes, upper case. Does not validate."""
    return _clean(text).upper()


def validate_uscc(text: str | None) -> tuple[str, str]:
    """The normalised USCC and its region (characters 3–8, the 行政区划 code).

    Raises USCCError with a message naming the problem: wrong length, a character that is
    not allowed (I, O, S, V, Z or punctuation), or a check character that does not match.
    """
    number = normalise_uscc(text)
    if not number:
        raise USCCError("empty", _("Enter the 18-character unified social credit code (USCC)."))
    try:
        uscc_mod.validate(number)
    except stdnum_errors.InvalidLength:
        raise USCCError(
            "length",
            _(
                "A unified social credit code has 18 characters; %(code)s has %(n)d.",
                code=number,
                n=len(number),
            ),
        ) from None
    except stdnum_errors.InvalidFormat:
        raise _format_error(number) from None
    except stdnum_errors.InvalidChecksum:
        raise USCCError(
            "checksum",
            _(
                "The check character (the 18th) of %(code)s does not match the first 17: "
                "the code has a typing error.",
                code=number,
            ),
        ) from None
    except stdnum_errors.ValidationError:  # any future stdnum refusal
        raise USCCError(
            "format", _("%(code)s is not a valid unified social credit code.", code=number)
        ) from None
    return number, number[2:8]


def _format_error(number: str) -> USCCError:
    for pos, char in enumerate(number, start=1):
        if char not in USCC_ALPHABET:
            if char in "IOSVZ":
                return USCCError(
                    "characters",
                    _(
                        "Character %(pos)d of %(code)s is %(char)s, which a unified social "
                        "credit code never uses: only digits and capital letters other than "
                        "I, O, S, V and Z are allowed.",
                        pos=pos,
                        code=number,
                        char=char,
                    ),
                )
            return USCCError(
                "characters",
                _(
                    "Character %(pos)d of %(code)s (%(char)s) is not allowed: only digits and "
                    "capital letters other than I, O, S, V and Z are allowed.",
                    pos=pos,
                    code=number,
                    char=char,
                ),
            )
    for pos, char in enumerate(number[:8], start=1):
        if not char.isdigit():
            return USCCError(
                "format",
                _(
                    "Characters 1–8 of a unified social credit code (registration authority, "
                    "entity type and region code) are digits; character %(pos)d of %(code)s "
                    "is %(char)s.",
                    pos=pos,
                    code=number,
                    char=char,
                ),
            )
    return USCCError(
        "format", _("%(code)s is not a valid unified social credit code.", code=number)
    )


def normalise_barcode(text: str | None) -> str:
    return _clean(text)


def validate_barcode(text: str | None) -> str:
    """A GTIN (EAN-13, or GTIN-8/12/14) with a correct check digit, normalised; ``""`` when
    empty, because a barcode is optional."""
    number = normalise_barcode(text)
    if not number:
        return ""
    if not number.isascii() or not number.isdigit():
        raise BarcodeError(
            "characters",
            _(
                "A barcode (GTIN/EAN-13) has digits only; %(code)s has other characters.",
                code=number,
            ),
        )
    if len(number) not in BARCODE_LENGTHS:
        raise BarcodeError(
            "length",
            _(
                "A barcode (GTIN/EAN-13) has 13 digits (or 8, 12 or 14); %(code)s has %(n)d.",
                code=number,
                n=len(number),
            ),
        )
    try:
        return ean_mod.validate(number)
    except stdnum_errors.InvalidChecksum:
        raise BarcodeError(
            "checksum",
            _(
                "The check digit (the last) of barcode %(code)s does not match the other "
                "digits: the barcode has a typing error.",
                code=number,
            ),
        ) from None
    except stdnum_errors.ValidationError:
        raise BarcodeError(
            "characters", _("%(code)s is not a valid barcode (GTIN/EAN-13).", code=number)
        ) from None
