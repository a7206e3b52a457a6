"""Entry requirements: one set-based read, every exclusion reason with its code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

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


def test_the_candidates_are_read_in_one_query(make_plan, ranked_catalogue, db):
    plan = make_plan()
    for i in range(5):
        publish(ranked_catalogue, apf=4.6 + i / 10)
    _db.session.expire_all()
    plan = _db.session.get(type(plan), plan.id)
    plan.indicators  # noqa: B018  (the plan itself is loaded by the caller)
    with QueryCounter(_db.engine) as counter:
        matrix, exclusions = eligibility.eligible(plan)
    assert counter.count == 1, counter.statements
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
