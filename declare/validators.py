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
    "region_known",
    "validate_barcode",
    "validate_uscc",
]

USCC_LENGTH = 18
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
BARCODE_LENGTHS = (8, 12, 13, 14)  # GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN-13), GTIN-14

_SEPARATORS = re.compile(r"[\s\-]+")


class USCCError(ValueError):
    """A USCC that is not valid; ``code`` is ``empty``, ``length``, ``characters``,
    ``format``, ``checksum`` or ``region``."""

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
    not allowed (I, O, S, V, Z or punctuation), a check character that does not match, or
    characters 3–8 that are no administrative division code.
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
    region = number[2:8]
    if not region_known(region):
        raise USCCError(
            "region",
            _(
                "Characters 3–8 of %(code)s (%(region)s) are not an administrative division "
                "code (行政区划代码): the code has a typing error, or it was not issued by a "
                "Chinese registration authority.",
                code=number,
                region=region,
            ),
        )
    return number, region


def region_known(region: str) -> bool:
    """Whether ``region`` is a 6-digit administrative division code, past or present.

    python-stdnum ships the division table (``stdnum/cn/loc.dat``, read through
    ``numdb.get("cn/loc")``, the one ``stdnum.cn.ric`` uses for birth places): a code is known
    when both its province (digits 1–2) and its county (digits 3–6) are listed. Codes that were
    retired keep their entry there (``[1997-2025]渝北区``), so a USCC issued while its region
    existed stays valid.
    """
    if len(region) != 6 or not region.isascii() or not region.isdigit():
        return False
    from stdnum import numdb

    parts = numdb.get("cn/loc").info(region)
    return len(parts) >= 2 and all(props for _part, props in parts)


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
