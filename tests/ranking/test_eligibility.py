"""Entry requirements: a set-based read (two queries whatever the size), every exclusion
reason with its code, the same split for one plan or many read together."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from benchmarks.numbers import NumberError, parse_enterprise_number
from core.extensions import db as _db
from declare import operations as declare_ops
from declare.models import DeclarationVersion, Indicator, ReferenceFlag
from declare.queries import local_today
from ranking import eligibility
from tests.declare import QueryCounter
from tests.factories import make_enterprise_user
from tests.ranking.conftest import commit_and_run, indicator_rows, plan_payload, publish

pytestmark = pytest.mark.usefixtures("en_request")


def codes(exclusions, declaration_id) -> list[str]:
    return [r["code"] for r in exclusions.at[declaration_id, "reasons"]]


def test_the_candidates_are_read_in_two_queries(make_plan, ranked_catalogue, db, monkeypatch):
    """The candidates with their facts, then their indicator values (long, pivoted in
    numpy): two statements, whatever the number of declarations. (On PostgreSQL they run on
    the raw connection, aggregated, past SQLAlchemy's events: counted there.)"""
    plan = make_plan()
    for i in range(5):
        publish(ranked_catalogue, apf=4.6 + i / 10)
    _db.session.expire_all()
    plan = _db.session.get(type(plan), plan.id)
    plan.indicators  # noqa: B018  (the plan itself is loaded by the caller)
    raw = []
    run_aggregated = eligibility._run_aggregated
    monkeypatch.setattr(eligibility, "_run_aggregated",
                        lambda conn, sql: raw.append(sql) or run_aggregated(conn, sql))
    with QueryCounter(_db.engine) as counter:
        matrix, exclusions = eligibility.eligible(plan)
    assert counter.count + len(raw) == 2, (counter.statements, raw)
    assert list(matrix.columns) == ["apf", "noise", "standby"]
    assert len(matrix) == 5 and exclusions.empty
    assert matrix.index.is_monotonic_increasing
    assert matrix["apf"].tolist() == pytest.approx([4.6, 4.7, 4.8, 4.9, 5.0])


def test_declarations_of_other_categories_and_drafts_are_not_candidates(
    make_plan, ranked_catalogue, db
):
    plan = make_plan()
    kept = publish(ranked_catalogue)
    draft = declare_ops.create_draft(
        make_enterprise_user().enterprise,
        {"kind": "catalogue", "standard_id": ranked_catalogue["gbt7725"].id,
         "commitment_accepted": True,
         "products": [{"name": "空调", "model": "X", "category_id": ranked_catalogue["room_ac"].id}]},
    )
    toilet = declare_ops.create_draft(
        make_enterprise_user().enterprise,
        {"kind": "catalogue", "standard_id": ranked_catalogue["gb25502"].id,
         "commitment_accepted": True,
         "products": [
             {"name": "坐便器", "model": "T1", "category_id": ranked_catalogue["toilet"].id}
         ]},
    )
    declare_ops.publish(toilet)
    commit_and_run()
    snap = eligibility.snapshot(plan)
    assert snap.candidates.index.tolist() == [kept.declaration_id]
    assert draft.declaration_id not in snap.candidates.index


def test_several_indicators_of_one_code_count_with_the_worst_value(make_plan, ranked_catalogue):
    plan = make_plan()
    rows = indicator_rows(ranked_catalogue, apf=5.1, noise=38.0, standby=0.3)
    rows += indicator_rows(ranked_catalogue, apf=4.6, noise=39.0, standby=0.2)
    version = publish(ranked_catalogue, rows=rows)
    matrix, _ = eligibility.eligible(plan)
    assert matrix.loc[version.declaration_id].tolist() == pytest.approx([4.6, 39.0, 0.3])


def test_every_exclusion_reason_has_its_code(make_plan, ranked_catalogue, db):
    indicators = plan_payload(ranked_catalogue)["indicators"]
    indicators[0].update(floor=4.8, cuts=[5.0, 4.9])  # stricter than the mandatory 3.30
    plan = make_plan(indicators=indicators)

    good = publish(ranked_catalogue)
    abolished = publish(ranked_catalogue)
    invalid_number = publish(ranked_catalogue)
    flagged = publish(ranked_catalogue)
    violation = publish(ranked_catalogue)
    mingshi = publish(ranked_catalogue, noise=44.0, mingshi={"noise": "噪声 44 dB(A)，低于推荐值：压缩机选型"})
    inspected = publish(ranked_catalogue)
    missing = publish(ranked_catalogue, standby=None)
    below = publish(ranked_catalogue, apf=4.6)  # meets the recommended 4.5, below the floor 4.8

    declare_ops.abolish(abolished.declaration, "停产")
    # Facts found after publication (the published content itself never changes).
    _db.session.execute(
        update(DeclarationVersion.__table__)
        .where(DeclarationVersion.id == invalid_number.id)
        .values(std_code="QSJX-2024")
    )
    _db.session.add(ReferenceFlag(version_id=flagged.id, standard_id=ranked_catalogue["gbt7725"].id,
                                  reason="withdrawn"))
    _db.session.execute(
        update(Indicator.__table__)
        .where(Indicator.version_id == violation.id, Indicator.name == "standby")
        .values(cmp_status="violation")
    )
    declare_ops.record_compliance(
        inspected.declaration.enterprise, kind="inspection", result="nonconforming",
        occurred_on=local_today() - timedelta(days=30), reference="抽查 2025-001",
    )
    commit_and_run()

    matrix, exclusions = eligibility.eligible(plan)
    assert matrix.index.tolist() == [good.declaration_id]
    expected = {
        abolished: ["not_published"],
        invalid_number: ["number_invalid"],
        flagged: ["reference_invalid"],
        violation: ["violation"],
        mingshi: ["mingshi_on_core"],
        inspected: ["nonconforming_inspection"],
        missing: ["missing_value"],
        below: ["below_floor"],
    }
    for version, wanted in expected.items():
        assert codes(exclusions, version.declaration_id) == wanted
    details = {
        code: exclusions.at[v.declaration_id, "reasons"][0]["detail"]
        for v, (code,) in expected.items()
    }
    assert details["not_published"] == "abolished"
    assert details["number_invalid"] == "QSJX-2024"
    assert details["reference_invalid"] == "1"
    assert details["mingshi_on_core"] == "noise"
    assert details["nonconforming_inspection"] == (local_today() - timedelta(days=30)).isoformat()
    assert details["missing_value"] == "standby"
    assert details["below_floor"] == "apf: 4.6 (floor 4.8)"


def test_entry_rules_switch_requirements_off(make_plan, ranked_catalogue):
    plan = make_plan(entry_rules={"exclude_mingshi_on_core": False,
                                  "require_references_valid": False,
                                  "inspection_window_days": 0})
    mingshi = publish(ranked_catalogue, noise=44.0, mingshi={"noise": "低于推荐值：成本"})
    flagged = publish(ranked_catalogue)
    _db.session.add(ReferenceFlag(version_id=flagged.id, standard_id=ranked_catalogue["gbt7725"].id,
                                  reason="withdrawn"))
    declare_ops.record_compliance(
        flagged.declaration.enterprise, kind="inspection", result="nonconforming",
        occurred_on=local_today(),
    )
    commit_and_run()
    matrix, exclusions = eligibility.eligible(plan)
    assert sorted(matrix.index) == sorted([mingshi.declaration_id, flagged.declaration_id])
    assert exclusions.empty


def test_an_old_inspection_outside_the_window_does_not_exclude(make_plan, ranked_catalogue):
    plan = make_plan(entry_rules={"inspection_window_days": 365})
    version = publish(ranked_catalogue)
    declare_ops.record_compliance(
        version.declaration.enterprise, kind="inspection", result="serious",
        occurred_on=local_today() - timedelta(days=400),
    )
    declare_ops.record_compliance(
        version.declaration.enterprise, kind="inspection", result="defects",
        occurred_on=local_today(),
    )
    commit_and_run()
    matrix, exclusions = eligibility.eligible(plan)
    assert matrix.index.tolist() == [version.declaration_id] and exclusions.empty


# -- the standard number's canonical form -------------------------------------------------

_CANONICAL_LIKE = st.builds(
    lambda code, space, seq, suffix, year: f"Q/{code}{space}{seq}{suffix}-{year}",
    st.text("ABCQSXZ019 ", min_size=0, max_size=24),
    st.sampled_from(["", " ", "  "]),
    st.text("0123456789", min_size=0, max_size=22),
    st.text("ABSZ", max_size=4),
    st.integers(1900, 2100),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_CANONICAL_LIKE, st.text("Qq/ -–ABS019\t", max_size=30)))
@example("Q/1234-2024")  # no code: the parser's shortest code is empty
@example("Q/ABCDEFGHIJKLMNOPQRST1-2024")  # 21 characters before the year
@example("Q/SJX 0001-2099")  # a year the parser does not allow yet
def test_a_number_in_canonical_form_always_parses(text):
    """The set-based check may only accept what parse_enterprise_number accepts (the others
    go through the parser)."""
    if eligibility.canonical_numbers([text])[0]:
        parse_enterprise_number(text)  # raises NumberError if the fast path were wrong


def test_numbers_in_canonical_form_skip_the_parser_and_the_others_are_parsed():
    texts = ["Q/SJX 0001-2024", "Q/P0090466 1-2025", "Q/ABC123S-2020", "Q/A B1-2024",
             "q/sjx 0001-2024", "Q/SJX 0001 - 2024", "Q/1234-2024", "QSJX-2024", ""]
    assert eligibility.canonical_numbers(texts).tolist() == [
        True, True, True, True, False, False, False, False, False
    ]
    kinds = pd.Series(["enterprise"] * len(texts)).to_numpy(dtype=object)
    codes = pd.Series(texts).to_numpy(dtype=object)
    valid = eligibility._number_valid(kinds, codes, np.zeros(len(texts), dtype=bool))
    expected = []
    for text in texts:
        try:
            parse_enterprise_number(text)
            expected.append(True)
        except NumberError:
            expected.append(False)
    assert valid.tolist() == expected == [True] * 6 + [False] * 3
