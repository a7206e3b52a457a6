"""Standard numbers (benchmarks.numbers): valid, invalid and normalised input."""

from __future__ import annotations


import pytest

from core.clock import local_today
from benchmarks.models import StandardKind
from benchmarks.numbers import (
    ENTERPRISE_NUMBER_HELP,
    NUMBER_HELP,
    STANDARD_NUMBER_HELP,
    EnterpriseNumber,
    NumberError,
    StandardNumber,
    kind_for_prefix,
    parse_enterprise_number,
    parse_standard_number,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GB 21455-2019", StandardNumber("GB", "21455", "", 2019, "GB 21455-2019")),
        ("GB/T 18883-2022", StandardNumber("GB/T", "18883", "", 2022, "GB/T 18883-2022")),
        ("GB 12021.2-2015", StandardNumber("GB", "12021", "2", 2015, "GB 12021.2-2015")),
        ("GB/T 1.1-2020", StandardNumber("GB/T", "1", "1", 2020, "GB/T 1.1-2020")),
        ("GB/Z 41305-2022", StandardNumber("GB/Z", "41305", "", 2022, "GB/Z 41305-2022")),
        ("DB50/T 1234-2022", StandardNumber("DB50/T", "1234", "", 2022, "DB50/T 1234-2022")),
        ("DB3301/T 65-2020", StandardNumber("DB3301/T", "65", "", 2020, "DB3301/T 65-2020")),
        ("DB11/ 501-2017", StandardNumber("DB11/", "501", "", 2017, "DB11/ 501-2017")),
        ("DB11 501-2017", StandardNumber("DB11/", "501", "", 2017, "DB11/ 501-2017")),
        ("DB11/554.5-2010", StandardNumber("DB11/", "554", "5", 2010, "DB11/ 554.5-2010")),
        ("DB11/T 1764.28-2021", StandardNumber("DB11/T", "1764", "28", 2021, "DB11/T 1764.28-2021")),
        ("T/CHEAA 0011.1-2020", StandardNumber("T/CHEAA", "0011", "1", 2020, "T/CHEAA 0011.1-2020")),
        ("T/CAS 123-2020", StandardNumber("T/CAS", "123", "", 2020, "T/CAS 123-2020")),
        ("QB/T 1334-2013", StandardNumber("QB/T", "1334", "", 2013, "QB/T 1334-2013")),
        ("JGJ 16-2008", StandardNumber("JGJ", "16", "", 2008, "JGJ 16-2008")),
        ("GB 8978-1996", StandardNumber("GB", "8978", "", 1996, "GB 8978-1996")),
    ],
)
def test_parse_standard_number_valid(text, expected):
    assert parse_standard_number(text) == expected


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("GB／T 18883－2022", "GB/T 18883-2022"),  # full-width slash and hyphen
        ("ＧＢ／Ｔ　１８８８３－２０２２", "GB/T 18883-2022"),  # full-width letters, digits, space
        ("GB/T 18883—2022", "GB/T 18883-2022"),  # em dash, as printed on the standard
        ("GB/T 18883–2022", "GB/T 18883-2022"),  # en dash
        ("gb/t18883-2022", "GB/T 18883-2022"),  # lowercase, no space
        ("  GB  21455 - 2019 ", "GB 21455-2019"),  # extra spaces
        ("GB / T 18883-2022", "GB/T 18883-2022"),
        ("db50/t 1234-2022", "DB50/T 1234-2022"),
        ("T/CAS123-2020", "T/CAS 123-2020"),
        ("GB12021.2-2015", "GB 12021.2-2015"),
    ],
)
def test_parse_standard_number_normalises(typed, canonical):
    assert parse_standard_number(typed).text == canonical


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("", "empty", "Enter a standard number"),
        ("   ", "empty", "Enter a standard number"),
        ("Q/SJX 0001S-2020", "prefix", "enterprise standard"),
        ("ABCDE 1-2020", "prefix", "known prefix"),
        ("1234-2020", "prefix", "known prefix"),
        ("DB99/T 1-2020", "prefix", "province code"),
        ("GB 8978-96", "year", "write 1996, not 96"),
        ("GB 21455-19", "year", "write 2019, not 19"),
        ("GB 21455", "year", "has no year"),
        ("GB 21455-", "year", "has no year"),
        ("GB 21455-1890", "year", "between 1949"),
        ("GB 21455-2019a", "format", "expected a number"),
        ("GB/T ABC-2019", "format", "expected a number"),
        ("GB/X 1-2019", "format", "expected a number"),
    ],
)
def test_parse_standard_number_invalid(text, code, fragment):
    with pytest.raises(NumberError) as info:
        parse_standard_number(text)
    assert info.value.code == code
    assert fragment in info.value.message
    assert info.value.kind == "standard"
    assert info.value.help == STANDARD_NUMBER_HELP


def test_future_year_refused():
    with pytest.raises(NumberError) as info:
        parse_standard_number(f"GB 1-{local_today().year + 2}")
    assert info.value.code == "year"


def test_messages_say_what_is_allowed():
    with pytest.raises(NumberError) as info:
        parse_standard_number("XYZWV 1-2020")
    assert "GB/T 18883-2022" in info.value.message
    assert NUMBER_HELP == {"standard": STANDARD_NUMBER_HELP, "enterprise": ENTERPRISE_NUMBER_HELP}


def test_key_and_kind():
    n = parse_standard_number("GB 12021.2-2015")
    assert n.key == ("GB", "12021", "2", 2015)
    assert n.kind is StandardKind.NATIONAL_MANDATORY
    assert str(n) == "GB 12021.2-2015"


@pytest.mark.parametrize(
    ("prefix", "kind"),
    [
        ("GB", StandardKind.NATIONAL_MANDATORY),
        ("gb", StandardKind.NATIONAL_MANDATORY),
        ("GB/T", StandardKind.NATIONAL_RECOMMENDED),
        ("GB／T", StandardKind.NATIONAL_RECOMMENDED),
        ("GB/Z", StandardKind.NATIONAL_RECOMMENDED),
        ("DB50", StandardKind.LOCAL),
        ("DB11/", StandardKind.LOCAL),
        ("DB50/T", StandardKind.LOCAL),
        ("T/CAS", StandardKind.GROUP),
        ("QB/T", StandardKind.INDUSTRY),
        ("JB/T", StandardKind.INDUSTRY),
        ("HG/T", StandardKind.INDUSTRY),
        ("JGJ", StandardKind.INDUSTRY),
    ],
)
def test_kind_for_prefix(prefix, kind):
    assert kind_for_prefix(prefix) is kind


@pytest.mark.parametrize("prefix", ["Q/", "Q", "", "T/", "12", "DB"])
def test_kind_for_prefix_refuses(prefix):
    with pytest.raises(NumberError) as info:
        kind_for_prefix(prefix)
    assert info.value.code == "prefix"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Q/SJX 0001S-2020", EnterpriseNumber("SJX", "0001", "S", 2020, "Q/SJX 0001S-2020")),
        ("Q/SGMW02586-2020", EnterpriseNumber("SGMW", "02586", "", 2020, "Q/SGMW02586-2020")),
        ("Q/320581ABC 001-2019", EnterpriseNumber("320581ABC", "001", "", 2019, "Q/320581ABC 001-2019")),
        ("Q/JD 12 0003-2021", EnterpriseNumber("JD 12", "0003", "", 2021, "Q/JD 12 0003-2021")),
    ],
)
def test_parse_enterprise_number_valid(text, expected):
    assert parse_enterprise_number(text) == expected


@pytest.mark.parametrize(
    ("typed", "text", "code", "sequence", "suffix"),
    [
        ("Q／SJX 0001S－2020", "Q/SJX 0001S-2020", "SJX", "0001", "S"),
        ("  Q/SJX   0001S-2020 ", "Q/SJX 0001S-2020", "SJX", "0001", "S"),
        ("Q / SJX 0001S - 2020", "Q/SJX 0001S-2020", "SJX", "0001", "S"),
        ("Q/SJX 0001S—2020", "Q/SJX 0001S-2020", "SJX", "0001", "S"),
        # Lenient about case for the parts; the text keeps the case as typed.
        ("q/sjx 0001s-2020", "q/sjx 0001s-2020", "SJX", "0001", "S"),
    ],
)
def test_parse_enterprise_number_normalises(typed, text, code, sequence, suffix):
    n = parse_enterprise_number(typed)
    assert (n.text, n.enterprise_code, n.sequence, n.suffix, n.year) == (
        text,
        code,
        sequence,
        suffix,
        2020,
    )


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("", "empty", "Enter the enterprise standard number"),
        ("SJX 0001-2020", "prefix", "must start with 'Q/'"),
        ("Q SJX 0001-2020", "prefix", "must start with 'Q/'"),
        ("GB 21455-2019", "prefix", "pick it from the catalogue"),
        ("Q/0001-2020", "format", "no enterprise code"),
        ("Q/SJX-2020", "format", "no sequence number"),
        ("Q/SJX 0001-20", "year", "four digits"),
        ("Q/SJX 0001", "year", "has no year"),
        ("Q/SJX 0001-1800", "year", "between 1949"),
        ("Q/SJX# 0001-2020", "format", "only letters and digits"),
    ],
)
def test_parse_enterprise_number_invalid(text, code, fragment):
    with pytest.raises(NumberError) as info:
        parse_enterprise_number(text)
    assert info.value.code == code
    assert fragment in info.value.message
    assert info.value.kind == "enterprise"
    assert info.value.help == ENTERPRISE_NUMBER_HELP


def test_enterprise_messages_say_what_is_allowed():
    with pytest.raises(NumberError) as info:
        parse_enterprise_number("Q/SJX")
    assert "Q/SJX 0001S-2020" in info.value.message


def test_number_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_standard_number("nonsense")
