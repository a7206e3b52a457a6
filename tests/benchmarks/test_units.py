"""Unit spelling and conversion for benchmark comparison (benchmarks.units)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import units
from benchmarks.units import UnitError, convert, convert_many, normalise_unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L", "L"),
        ("  L\t", "L"),
        ("升", "L"),
        ("毫升", "mL"),
        ("瓦", "W"),
        ("千瓦", "kW"),
        ("℃", "degC"),
        ("°C", "degC"),
        ("°F", "degF"),
        ("摄氏度", "degC"),
        ("lm/W", "lm/W"),
        ("lm/w", "lm/W"),
        ("流明/瓦", "lm/W"),
        ("W/W", "W/W"),
        ("w/w", "W/W"),
        ("瓦/瓦", "W/W"),
        ("L/min", "L/min"),
        ("l/min", "L/min"),
        ("升/分钟", "L/min"),
        ("升每分钟", "L/min"),
        ("L / min", "L/min"),
        ("kWh/a", "kWh/a"),
        ("kwh/a", "kWh/a"),
        ("千瓦时/年", "kWh/a"),
        ("kW·h/a", "kWh/a"),
        ("kW•h/年", "kWh/a"),
        ("%", "%"),
        ("％", "%"),
        ("", ""),
        ("1", "1"),
        ("m³/h", "m**3/h"),
        ("m3/h", "m**3/h"),
        ("立方米/小时", "m**3/h"),
        ("㎡", "m**2"),
        ("s⁻¹", "s**-1"),
        ("dB(A)", "dBA"),
        ("dB (A)", "dBA"),
        ("分贝(A)", "dBA"),
        ("dBA", "dBA"),
        ("ｋＷ", "kW"),
    ],
)
def test_normalise_unit_maps_common_spellings(text: str, expected: str) -> None:
    assert normalise_unit(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("台", "台"),
        (" 升/台 ", "升/台"),
        ("widgets", "widgets"),
    ],
)
def test_normalise_unit_keeps_unknown_text_as_typed(text: str, expected: str) -> None:
    assert normalise_unit(text) == expected


def test_identical_units_return_the_value_itself_even_if_unknown() -> None:
    value = 4.5
    assert convert(value, "台", " 台") is value
    assert convert(7, "升", "L") == 7


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "expected"),
    [
        (3300.0, "mL", "L", 3.3),
        (6400.0, "毫升", "升", 6.4),
        (4.0, "L", "mL", 4000.0),
        (50.0, "%", "", 0.5),
        (50.0, "％", "1", 0.5),
        (0.5, "", "%", 50.0),
        (4.5, "W/W", "", 4.5),
        (4.5, "", "W/W", 4.5),
        (4.5, "1", "W/W", 4.5),
        (450.0, "%", "W/W", 4.5),
        (100.0, "℃", "degF", 212.0),
        (25.0, "degC", "K", 298.15),
        (6.0, "L/min", "m**3/h", 0.36),
        (1.0, "kWh/a", "MJ/a", 3.6),
        (1.0, "千瓦时/年", "kW*h/a", 1.0),
        (2.0, "kW", "瓦", 2000.0),
        (42.0, "dB(A)", "A_weighted_decibel", 42.0),
        (0.095, "lm/mW", "lm/W", 95.0),
    ],
)
def test_convert_real_values(value: float, from_unit: str, to_unit: str, expected: float) -> None:
    assert convert(value, from_unit, to_unit) == pytest.approx(expected, rel=1e-12)


def test_convert_returns_plain_float() -> None:
    result = convert(3300, "mL", "L")
    assert type(result) is float
    assert result == pytest.approx(3.3)


def test_incompatible_units_name_both_and_their_dimensions() -> None:
    with pytest.raises(UnitError) as info:
        convert(40.0, "dBA", "W")
    err = info.value
    assert err.reason == "incompatible"
    assert (err.declared_unit, err.expected_unit) == ("dBA", "W")
    assert "'dBA'" in str(err) and "'W'" in str(err)
    assert "[a_weighted_sound_level]" in str(err)
    assert isinstance(err, ValueError)


def test_dba_is_not_plain_decibel() -> None:
    with pytest.raises(UnitError) as info:
        convert(40.0, "dB(A)", "dB")
    assert info.value.reason == "incompatible"
    assert info.value.declared_unit == "dB(A)"


def test_pure_number_against_a_physical_unit() -> None:
    with pytest.raises(UnitError) as info:
        convert(50.0, "%", "lm/W")
    assert info.value.reason == "incompatible"
    assert "'%' (a pure number)" in str(info.value)


def test_volume_is_not_flow() -> None:
    with pytest.raises(UnitError) as info:
        convert(6.0, "升", "L/min")
    assert info.value.reason == "incompatible"
    assert "'升'" in str(info.value) and "'L/min'" in str(info.value)


def test_temperature_is_not_a_temperature_difference() -> None:
    with pytest.raises(UnitError) as info:
        convert(20.0, "℃", "delta_degC")
    assert info.value.reason == "incompatible"
    assert "pint refuses" in str(info.value)
    assert (info.value.declared_unit, info.value.expected_unit) == ("℃", "delta_degC")


@pytest.mark.parametrize(
    ("from_unit", "to_unit", "culprit"),
    [
        ("升/台", "L", "升/台"),
        ("L", "furlongs-ish", "furlongs-ish"),
        ("L)", "L", "L)"),
        ("L/", "L", "L/"),
        ("3 L", "L", "3 L"),
        ("dB/m", "dB/km", "dB/m"),
    ],
)
def test_unknown_units_are_named(from_unit: str, to_unit: str, culprit: str) -> None:
    with pytest.raises(UnitError) as info:
        convert(1.0, from_unit, to_unit)
    err = info.value
    assert err.reason == "unknown"
    assert (err.declared_unit, err.expected_unit) == (from_unit, to_unit)
    assert f"{culprit!r} is not a known unit" in str(err)
    assert f"from {from_unit!r} to {to_unit!r}" in str(err)


def test_registry_is_built_once_and_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(units, "_registry", None)
    first = units._ureg()
    assert units._registry is first
    assert units._ureg() is first
    assert first.Quantity(1, "dBA").to("dBA").magnitude == 1


def test_convert_many_identical_units_copies() -> None:
    values = np.array([1.0, 2.0])
    result = convert_many(values, "升", "L")
    assert result is not values
    np.testing.assert_array_equal(result, [1.0, 2.0])
    result[0] = 99.0
    assert values[0] == 1.0


def test_convert_many_scale() -> None:
    result = convert_many([3300, 6400, 0], "mL", "L")
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, [3.3, 6.4, 0.0], rtol=1e-12)


def test_convert_many_scale_and_offset() -> None:
    np.testing.assert_allclose(
        convert_many(np.array([-40.0, 0.0, 100.0]), "℃", "°F"), [-40.0, 32.0, 212.0], rtol=1e-12
    )


def test_convert_many_logarithmic_falls_back_to_pint() -> None:
    np.testing.assert_allclose(convert_many([0.0, 10.0, 20.0], "dB", ""), [1.0, 10.0, 100.0])
    np.testing.assert_allclose(convert_many([1.0, 10.0, 100.0], "", "dB"), [0.0, 10.0, 20.0])


def test_convert_many_affine_logarithmic_pair() -> None:
    np.testing.assert_allclose(convert_many([0.0, 30.0], "dBm", "dBW"), [-30.0, 0.0], atol=1e-9)


def test_convert_many_errors_propagate() -> None:
    with pytest.raises(UnitError) as info:
        convert_many([1.0], "dBA", "W")
    assert info.value.reason == "incompatible"
    with pytest.raises(UnitError) as info:
        convert_many([1.0], "台", "L")
    assert info.value.reason == "unknown"


UNIT_PAIRS = [
    ("mL", "L"),
    ("%", ""),
    ("W/W", "1"),
    ("degC", "degF"),
    ("L/min", "m**3/h"),
    ("kWh/a", "W"),
    ("dB", ""),
    ("dBm", "dBW"),
]
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.sampled_from(UNIT_PAIRS), st.lists(finite, min_size=1, max_size=20))
def test_convert_many_agrees_with_convert(pair: tuple[str, str], values: list[float]) -> None:
    from_unit, to_unit = pair
    if from_unit in ("dB", "dBm"):
        values = [v / 1e4 for v in values]
    many = convert_many(values, from_unit, to_unit)
    single = [convert(v, from_unit, to_unit) for v in values]
    np.testing.assert_allclose(many, single, rtol=1e-9, atol=1e-9)


@given(st.sampled_from(UNIT_PAIRS[:6]), finite)
def test_round_trip(pair: tuple[str, str], value: float) -> None:
    from_unit, to_unit = pair
    back = convert(convert(value, from_unit, to_unit), to_unit, from_unit)
    assert math.isclose(back, value, rel_tol=1e-9, abs_tol=1e-9)
