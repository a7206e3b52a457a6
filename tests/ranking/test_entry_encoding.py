"""How a snapshot's entries are encoded for the bulk writer (COPY text on PostgreSQL,
executemany elsewhere): numbers read back exactly, JSON parses back, COPY escaping holds."""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ranking.snapshot_io import EntryColumns, _float_text, _number_texts

SHORT_DECIMALS = st.decimals(min_value=-10**6, max_value=10**6, places=6,
                             allow_nan=False, allow_infinity=False).map(float)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(SHORT_DECIMALS, st.floats(allow_nan=False, allow_infinity=False)),
                min_size=1, max_size=40))
@example([4.6, 38.0, 0.1 + 0.2, -0.0, 1e-07, 1e16, 5e-324, 1.7976931348623157e308])
def test_every_number_reads_back_as_exactly_the_same_float(values):
    texts = _float_text(np.array(values)).tolist()
    assert [json.loads(t) for t in texts] == values
    assert [float(t) for t in _number_texts(np.array(values), "null")] == values


def test_short_decimals_look_as_declared_and_nan_is_null():
    assert _float_text(np.array([4.6, 38.0, 0.05, -3.25, 1234567.0])).tolist() == [
        "4.6", "38.0", "0.05", "-3.25", "1234567.0"
    ]
    assert _number_texts(np.array([np.nan, 2.5, np.nan]), "null").tolist() == [
        "null", "2.5", "null"
    ]


def _entries(keys: list[str]) -> EntryColumns:
    """Two entries of one plan, one eligible and one excluded, with awkward text."""
    e = EntryColumns.__new__(EntryColumns)
    e.spans = [(0, 2, keys)]
    e.n = 2
    e.eligible = np.array([True, False])
    e.run_id = np.array([7, 7])
    e.declaration_id = np.array([11, 12])
    e.version_id = np.array([21, 22])
    e.enterprise_id = np.array([31, 32])
    e.product_id = np.array([41, 0])
    e.composite = np.array([0.8734512093, np.nan])
    e.rank = np.array([1, 0])
    e.leader = np.array([True, False])
    e.stars = np.array([2, 0])
    e.reasons = np.array(
        ["[]", json.dumps([{"code": "number_invalid", "detail": 'Q/A\\B "1"-2024\t%s'}],
                          ensure_ascii=False)],
        dtype=np.dtypes.StringDType(),
    )
    e.values = np.array([[5.1, 36.0], [np.nan, 40.5]])
    e.tiers = np.array([[1, 2], [0, 0]])
    return e


KEYS = ['apf', 'k"ey\\%s 噪声']


def _unescape(field: str) -> str | None:
    if field == "\\N":
        return None
    return field.replace("\\\\", "\\")


def test_copy_lines_parse_back_to_the_entries():
    lines = _entries(KEYS).copy_lines(0, 2)
    assert all(line.endswith("\n") for line in lines)
    rows = [[_unescape(f) for f in line[:-1].split("\t")] for line in lines]
    assert all(len(r) == 14 for r in rows)
    ok, out = rows
    assert ok[:5] == ["7", "11", "21", "31", "t"] and out[:5] == ["7", "12", "22", "32", "f"]
    assert json.loads(ok[5]) == [] and json.loads(out[5])[0]["detail"] == 'Q/A\\B "1"-2024\t%s'
    assert json.loads(ok[6]) == {KEYS[0]: 5.1, KEYS[1]: 36.0}
    assert json.loads(out[6]) == {KEYS[0]: None, KEYS[1]: 40.5}
    assert json.loads(ok[7]) == {KEYS[0]: 1, KEYS[1]: 2} and json.loads(out[7]) == {}
    assert float(ok[8]) == 0.8734512093 and out[8] is None
    assert ok[9:] == ["1", "t", "2", "41", ""]
    assert out[9:] == [None, "f", "0", None, ""]


def test_parameter_tuples_carry_the_same_entries():
    a, b = _entries(KEYS).tuples(0, 2)
    assert a[:5] == (7, 11, 21, 31, True) and b[:5] == (7, 12, 22, 32, False)
    assert json.loads(a[6]) == {KEYS[0]: 5.1, KEYS[1]: 36.0}
    assert json.loads(b[6]) == {KEYS[0]: None, KEYS[1]: 40.5}
    assert json.loads(a[7]) == {KEYS[0]: 1, KEYS[1]: 2} and b[7] == "{}"
    assert json.loads(b[5])[0]["code"] == "number_invalid" and a[5] == "[]"
    assert a[8] == 0.8734512093 and b[8] is None and not math.isnan(a[8])
    assert a[9:] == (1, True, 2, 41, "") and b[9:] == (None, False, 0, None, "")
