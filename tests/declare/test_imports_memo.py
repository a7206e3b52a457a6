"""Issue 11 (speed): the bulk import keeps the results of the indicator rules per distinct
input (``comparison.memoised_catalogue``); a draft checked that way gets exactly the errors,
values, links and comparisons of the per-row path the form and the API run, for any input,
good or bad, and whatever was checked before it in the same import."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from benchmarks.models import BenchmarkIndicator, ProductCategory
from declare import operations
from declare.comparison import memo_key, memoised_catalogue
from declare.models import Enterprise
from tests.factories import make_enterprise_user

TODAY = date(2026, 12, 7)

# Cell values as a workbook or JSON gives them: numbers, numeric and non-numeric text,
# full-width digits, booleans, zeros of both signs, blanks.
values = st.one_of(
    st.none(),
    st.floats(-1e6, 1e6),  # (past ±1e300 a dB value overflows in pint: a separate matter)
    st.sampled_from([float("inf"), float("-inf"), float("nan")]),
    st.floats(-10, 10).map(lambda v: round(v, 2)),
    st.integers(-5, 10**6),
    st.booleans(),
    st.sampled_from(["", " ", "4.5", "４.５", "1e3", "abc", "5,1", "-0.0", "0", "1_000", "nan"]),
    st.just(-0.0),
    st.just(0.0),
)
indicator = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["performance", "function", "", "other"]),
        "name": st.sampled_from(["全年能源消耗效率 APF", "APF", "噪声", "", "x" * 201]),
        "benchmark": st.booleans(),
        "op": st.sampled_from(["ge", "le", "eq", "range", "", "gt"]),
        "value": values,
        "low": values,
        "high": values,
        "text_value": st.sampled_from(["", "具备"]),
        "unit": st.sampled_from(["W/W", "kW/kW", "", "parsec"]),  # dB: see the report (pint overflow)
        "test_method": st.sampled_from(["GB/T 7725-2022", ""]),
        "mingshi": st.sampled_from(["", "经济型机型"]),
    }
)


def _draft(ids, rows, n):
    return {
        "kind": "enterprise",
        "std_code": f"Q/MEMO {n:04d}-2025",
        "std_name": "房间空气调节器",
        "commitment_accepted": True,
        "approved_by": "张工",
        "products": [{"name": "空调", "model": f"KFR-{n}", "category_id": ids["ac"]}],
        "indicators": [
            {**{k: v for k, v in row.items() if k != "benchmark"},
             "benchmark_indicator_id": ids["apf"] if row["benchmark"] else None}
            for row in rows
        ],
    }


def _seen(checked):
    """What a check decides: errors, values, the links and each comparison's verdict."""
    rules = checked.rules
    return (
        checked.errors,
        repr(checked.values),
        None if rules is None else (
            rules.links,
            [(c.position, c.field, c.problem, c.message, c.comparison) for c in rules.indicators],
        ),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drafts=st.lists(st.lists(indicator, min_size=1, max_size=4), min_size=1, max_size=4))
def test_memoised_rules_agree_with_the_per_row_path(app, catalogue, drafts):
    from core.extensions import db

    user = db.session.scalar(select(Enterprise).limit(1))
    if user is None:
        user = make_enterprise_user().enterprise
    ids = {
        "ac": db.session.scalar(select(ProductCategory.id).where(ProductCategory.code == "room_ac")),
        "apf": db.session.scalar(select(BenchmarkIndicator.id).where(BenchmarkIndicator.code == "apf")),
    }
    data = [_draft(ids, rows, n) for n, rows in enumerate(drafts)]
    plain = [
        _seen(operations.check_publishable(user, d, has_text=True, today=TODAY)) for d in data
    ]
    with memoised_catalogue():
        # twice over, so the second pass answers from what the first kept
        memoised = [
            _seen(operations.check_publishable(user, d, has_text=True, today=TODAY))
            for d in data + data
        ]
    assert memoised == plain + plain


def test_memo_key_tells_apart_what_equality_does_not():
    assert memo_key([1]) != memo_key([1.0]) != memo_key([True])
    assert memo_key([0.0]) is None and memo_key([-0.0]) is None  # the sign of a zero
    assert memo_key([[1, 2]]) is None  # not hashable: no key, the rule runs
    assert memo_key(["4.5", 4.5, None]) == memo_key(["4.5", 4.5, None])
