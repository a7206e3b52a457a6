"""USCC (GB 32100-2015) and barcode (GTIN/EAN-13) checks."""

from __future__ import annotations

import pytest

from declare.validators import (
    BarcodeError,
    USCCError,
    normalise_uscc,
    validate_barcode,
    validate_uscc,
)
from tests.declare import GOOD_BARCODE, en_request_fixture  # noqa: F401
from tests.factories import valid_uscc

pytestmark = pytest.mark.usefixtures("en_request")

# Real-looking codes of large registered companies (public on their licences).
REAL = {
    "91110000600037341L": "110000",  # Beijing
    "9144030071526726XG": "440300",  # Shenzhen
    "91310000MA1FL4B24G": "310000",  # Shanghai
}


@pytest.mark.parametrize("code,region", sorted(REAL.items()))
def test_real_codes_are_valid_with_their_region(code, region):
    assert validate_uscc(code) == (code, region)


def test_factory_codes_are_valid_and_region_is_characters_3_to_8():
    code = valid_uscc("500112")
    assert validate_uscc(code) == (code, "500112")


@pytest.mark.parametrize(
    "typed",
    [
        "9144030071526726xg",  # lower case
        " 9144 0300 7152 6726 XG ",  # spaces
        "９１４４０３００７１５２６７２６ＸＧ",  # full-width
        "914403007152\u30006726-XG",  # ideographic space and a dash
    ],
)
def test_typing_variants_are_normalised(typed):
    assert normalise_uscc(typed) == "9144030071526726XG"
    assert validate_uscc(typed) == ("9144030071526726XG", "440300")


def test_wrong_length_says_how_many_characters():
    with pytest.raises(USCCError) as err:
        validate_uscc("9144030071526726X")
    assert err.value.code == "length"
    assert "18 characters" in err.value.message and "has 17" in err.value.message


@pytest.mark.parametrize("bad_char", ["I", "O", "S", "V", "Z"])
def test_forbidden_letters_are_named(bad_char):
    code = "91440300" + bad_char + "1526726XG"
    with pytest.raises(USCCError) as err:
        validate_uscc(code)
    assert err.value.code == "characters"
    assert f"Character 9 of {code} is {bad_char}" in err.value.message
    assert "I, O, S, V and Z" in err.value.message


def test_punctuation_is_refused_as_a_character():
    with pytest.raises(USCCError) as err:
        validate_uscc("91440300715267#6XG")
    assert err.value.code == "characters"
    assert "(#)" in err.value.message


def test_letter_in_region_part_is_refused():
    with pytest.raises(USCCError) as err:
        validate_uscc("9144A30071526726XG")
    assert err.value.code == "format"
    assert "character 5" in err.value.message


def test_check_character_mismatch():
    with pytest.raises(USCCError) as err:
        validate_uscc("9144030071526726XH")
    assert err.value.code == "checksum"
    assert "check character" in err.value.message


def test_empty_uscc_is_refused():
    with pytest.raises(USCCError) as err:
        validate_uscc("   ")
    assert err.value.code == "empty"


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        validate_uscc("123")
    with pytest.raises(ValueError):
        validate_barcode("123")


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_barcode_is_optional(empty):
    assert validate_barcode(empty) == ""


@pytest.mark.parametrize(
    "typed,expected",
    [
        (GOOD_BARCODE, GOOD_BARCODE),
        ("978-7-115-42802-8", "9787115428028"),
        ("６９０１２３４５６７８９２", GOOD_BARCODE),
        ("96385074", "96385074"),  # GTIN-8
    ],
)
def test_valid_barcodes(typed, expected):
    assert validate_barcode(typed) == expected


def test_barcode_check_digit_mismatch():
    with pytest.raises(BarcodeError) as err:
        validate_barcode("6901234567893")
    assert err.value.code == "checksum"
    assert "check digit" in err.value.message


def test_barcode_length_and_characters():
    with pytest.raises(BarcodeError) as err:
        validate_barcode("69012345678")
    assert err.value.code == "length" and "has 11" in err.value.message
    with pytest.raises(BarcodeError) as err:
        validate_barcode("69012345678AB")
    assert err.value.code == "characters"
