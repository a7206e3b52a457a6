"""Fixtures for the ranking tests: a category with three benchmark indicators, plans, and
published declarations with chosen values.

``ranked_catalogue`` adds two lower-is-better indicators to the room air conditioner of the
small catalogue (APF, higher is better): noise in dB(A) and standby power in W. The figures
are test data shaped like real grade tables, not quotations of a standard.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from benchmarks.models import BenchmarkIndicator
from core import jobs
from core.extensions import db as _db
from core.models import Role
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.declare import pdf_bytes, upload
from tests.factories import make_enterprise_user


@pytest.fixture
def ranked_catalogue(catalogue):
    """The small catalogue plus noise and standby power for room air conditioners."""
    ac = catalogue["room_ac"]
    noise = BenchmarkIndicator(
        category=ac,
        code="noise",
        name="室内机噪声",
        name_en="Indoor unit noise",
        unit="dB(A)",
        direction="lower",
        mandatory_limit=46.0,
        mandatory_source=catalogue["gb21455"],  # test data: a limit always names its standard
        recommended_value=42.0,
        grades=[["1级", 36.0], ["2级", 40.0], ["3级", 46.0]],
        valid_from=date(2020, 7, 1),
        citation="test data",
    )
    standby = BenchmarkIndicator(
        category=ac,
        code="standby",
        name="待机功率",
        name_en="Standby power",
        unit="W",
        direction="lower",
        mandatory_limit=1.0,
        mandatory_source=catalogue["gb21455"],
        recommended_value=None,
        grades=[["1级", 0.3], ["2级", 0.5], ["3级", 1.0]],
        valid_from=date(2020, 7, 1),
        citation="test data",
    )
    _db.session.add_all([noise, standby])
    _db.session.commit()
    return {**catalogue, "noise": noise, "standby": standby}


def plan_payload(cat: dict, **overrides) -> dict:
    """A valid plan for room air conditioners: APF, noise, standby power."""
    data = {
        "category_id": cat["room_ac"].id,
        "year": 2025,
        "title": "2025 房间空气调节器企业标准领跑者评估方案",
        "composite_method": "anchored",
        "publicity_days": 10,
        "leader_rule": {"kind": "top_tier_all", "star_cuts": []},
        "indicators": [
            {"benchmark_indicator_id": cat["apf"].id, "cuts": [5.0, 4.5], "weight": 2.0},
            {"benchmark_indicator_id": cat["noise"].id, "cuts": [36.0, 40.0]},
            {"benchmark_indicator_id": cat["standby"].id, "cuts": [0.3, 0.5]},
        ],
    }
    data.update(overrides)
    return data


def indicator_rows(cat: dict, apf=5.1, noise=38.0, standby=0.3, mingshi: dict | None = None):
    """Declared indicators; a value of None leaves that indicator out."""
    mingshi = mingshi or {}
    rows = []
    for key, op, unit, value in (
        ("apf", "ge", "W/W", apf),
        ("noise", "le", "dB(A)", noise),
        ("standby", "le", "W", standby),
    ):
        if value is None:
            continue
        rows.append(
            {
                "kind": "performance",
                "name": key,
                "benchmark_indicator_id": cat[key].id,
                "op": op,
                "value": value,
                "unit": unit,
                "test_method": "GB/T 7725-2022",
                "mingshi": mingshi.get(key, ""),
            }
        )
    return rows


def declaration_data(
    cat: dict, *, model: str = "KFR-35GW/A1", std_code: str = "Q/SJX 0001-2024", rows=None,
    **values,
) -> dict:
    return {
        "kind": "enterprise",
        "std_code": std_code,
        "std_name": "房间空气调节器",
        "disclosure": "full_text",
        "commitment_accepted": True,
        "approved_by": "张工",
        "products": [
            {"name": "挂壁式空调", "model": model, "category_id": cat["room_ac"].id},
        ],
        "indicators": rows if rows is not None else indicator_rows(cat, **values),
        # GB 21455-2019 (the test limits' source) is cited: an indicator left out is then
        # met "按 GB 21455-2019" (issue 9: every applicable benchmark applies).
        "reference_ids": [cat["gbt7725"].id, cat["gb21455"].id],
    }


def publish(cat: dict, enterprise=None, *, commit: bool = True, dispatch: bool = True, **kw):
    """Publish a room-AC declaration (a new enterprise unless given); returns the version."""
    from declare import operations

    enterprise = enterprise or make_enterprise_user().enterprise
    version = operations.create_draft(enterprise, declaration_data(cat, **kw))
    operations.attach_text(version, upload(pdf_bytes()))
    operations.publish(version)
    if commit:
        _db.session.commit()
        if dispatch:
            jobs.dispatch_pending()
    return version


def commit_and_run() -> None:
    """What a request does after its work: commit, then run (inline) the jobs it enqueued."""
    _db.session.commit()
    jobs.dispatch_pending()


@pytest.fixture
def evaluator(make_user):
    return make_user(Role.EVALUATOR)


@pytest.fixture
def make_plan(ranked_catalogue, evaluator, en_request):
    """Create (and by default activate) a plan; returns it committed."""
    from ranking import plans

    def make(activate: bool = True, user=None, **overrides):
        data = plan_payload(ranked_catalogue, **overrides)
        plan = plans.create_plan(user or evaluator, data)
        if activate:
            plans.activate_plan(plan)
        commit_and_run()
        return plan

    return make


def publicise_on(run, start: date, user=None):
    """Start the publicity of ``run`` as it was done on ``start`` (a past day, for tests of a
    period that has ended): the clock of that day, the run computed that morning. The service
    itself refuses a start before today or before the run (``start_publicity``)."""
    from declare.queries import local_zone
    from ranking import publicity

    run.created_at = datetime.combine(start, time(8), tzinfo=local_zone())
    return publicity.start_publicity(run, start, user=user, today=start)
