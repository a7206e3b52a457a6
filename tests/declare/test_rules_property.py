"""Issue 9: whatever a declaration says (values, units, links or none, capacity bands,
references), no path publishes one whose product violates a mandatory limit in force.

The oracle is written independently of the code under test: GB 21455-2019's rows by type and
rated cooling capacity band, and "an indicator speaks of APF/SEER" by its name. Paths: a first
publication and a revision (both end in operations.publish, as the form and the API do).
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard
from core.errors import ValidationFailed
from core.extensions import db as _db
from declare import operations
from declare.models import Attachment
from tests.factories import make_enterprise_user

LIMITS = {
    "apf": 3.30,
    "apf_cc7100": 3.20,
    "apf_cc14000": 3.10,
    "seer": 3.70,
    "seer_cc7100": 3.60,
    "seer_cc14000": 3.50,
}  # GB 21455-2019, 能效限定值 (5级) per type and band, as in benchmarks/data/indicators.csv


def applicable_row(ac_type: str | None, watts: float | None) -> str | None:
    if ac_type is None or watts is None or watts > 14000:
        return None
    family = "apf" if ac_type == "heat_pump" else "seer"
    if watts <= 4500:
        return family
    return f"{family}_cc7100" if watts <= 7100 else f"{family}_cc14000"


NAMES = ["全年能源消耗效率 APF", "APF", "能效 apf（实测）", "制冷季节能源消耗效率 SEER", "噪声", "额定功率"]
UNITS = ["W/W", "W/W", "W/W", "kW/kW", "", "dB"]
LINKS = [None] * 8 + [*LIMITS]


@pytest.fixture
def world(db):
    from benchmarks.importer import load_directory

    assert all(r.ok for r in load_directory())
    db.session.commit()
    user = make_enterprise_user()
    attachment = Attachment(
        sha256="0" * 64,
        size=1,
        filename="std.pdf",
        content_type="application/pdf",
        enterprise_id=user.enterprise.id,
    )
    db.session.add(attachment)
    db.session.commit()
    ac = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "room_ac"))
    rows = {
        b.code: b.id
        for b in db.session.scalars(
            select(BenchmarkIndicator).where(BenchmarkIndicator.category_id == ac.id)
        )
    }
    stds = {s.code: s.id for s in db.session.scalars(select(Standard))}
    return {
        "enterprise_id": user.enterprise.id,
        "attachment_id": attachment.id,
        "ac": ac.id,
        "rows": rows,
        "std": stds,
    }


declared = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES),
        "value": st.floats(1.0, 7.0).map(lambda v: round(v, 2)),
        "unit": st.sampled_from(UNITS),
        "link": st.sampled_from(LINKS),
        "op": st.sampled_from(["ge", "ge", "ge", "eq", "range", "le"]),
    }
)
declarations = st.fixed_dictionaries(
    {
        "ac_type": st.sampled_from(["heat_pump", "heat_pump", "cooling_only", None]),
        "watts": st.sampled_from([None, 2600, 3500, 4500, 4501, 5000, 7100, 7200, 9000, 14000,
                                  16000]),
        "in_kw": st.booleans(),
        "indicators": st.lists(declared, min_size=1, max_size=3),
        "refs": st.sampled_from(
            [{"GB 21455-2019"}, {"GB 21455-2019", "GB/T 7725-2022"}, {"GB/T 7725-2022"}, set()]
        ),
        "path": st.sampled_from(["publish", "revise"]),
    }
)


def _data(world, d, indicators, *, code: str) -> dict:
    attributes = {}
    if d["ac_type"]:
        attributes["ac_type"] = d["ac_type"]
    if d["watts"] is not None:
        attributes["rated_cooling_capacity"] = (
            [d["watts"] / 1000, "kW"] if d["in_kw"] else [d["watts"], "W"]
        )
    rows = []
    for ind in indicators:
        row = {
            "kind": "performance",
            "name": ind["name"],
            "benchmark_indicator_id": world["rows"].get(ind["link"]) if ind["link"] else None,
            "op": ind["op"],
            "unit": ind["unit"],
            "test_method": "按 GB 21455-2019 附录 A",
            "mingshi": "低于节能评价值，原因：经济型机型。",
        }
        if ind["op"] == "range":
            row.update(low=ind["value"], high=ind["value"] + 0.5)
        else:
            row["value"] = ind["value"]
        rows.append(row)
    return {
        "kind": "enterprise",
        "std_code": code,
        "std_name": "房间空气调节器",
        "commitment_accepted": True,
        "approved_by": "张工",
        "products": [
            {"name": "房间空调器", "model": "KFR-X", "category_id": world["ac"],
             "attributes": attributes}
        ],
        "indicators": rows,
        "reference_ids": [world["std"][c] for c in sorted(d["refs"])],
    }


def violates(d) -> bool:
    """The oracle: an indicator that speaks of the applicable row, in a unit of W/W, promises a
    value below that row's mandatory limit."""
    row = applicable_row(d["ac_type"], d["watts"])
    if row is None:
        return False
    family = row.split("_")[0]
    for ind in d["indicators"]:
        if ind["unit"] not in ("W/W", "kW/kW") or ind["op"] == "le":
            continue
        speaks = ind["link"] == row or (ind["link"] is None and family in ind["name"].lower())
        if speaks and ind["value"] < LIMITS[row] - 1e-9:
            return True
    return False


def _publish(world, data):
    from declare.models import Enterprise

    enterprise = _db.session.get(Enterprise, world["enterprise_id"])
    version = operations.create_draft(enterprise, data)
    version.text_attachment_id = world["attachment_id"]
    return operations.publish(version)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(d=declarations)
def test_no_path_publishes_a_mandatory_violation(world, d):
    savepoint = _db.session.begin_nested()
    try:
        if d["path"] == "revise":
            base = dict(d, indicators=[])
            base_data = _data(world, base, [], code="Q/PROP 0001-2024")
            base_data["indicators"] = [
                {"kind": "performance", "name": "噪声", "op": "le", "value": 40, "unit": "dB",
                 "test_method": "GB/T 7725"}
            ]
            base_data["reference_ids"] = [world["std"]["GB 21455-2019"]]
            try:
                first = _publish(world, base_data)
            except ValidationFailed:
                assume(False)  # the product itself is incomplete (no type or capacity)
            draft = operations.start_revision(first.declaration)
            data = _data(world, d, d["indicators"], code="Q/PROP 0001-2024")

            def attempt():
                operations.update_draft(draft, data, draft.lock_version)
                return operations.publish(draft)

        else:
            data = _data(world, d, d["indicators"], code="Q/PROP 0002-2024")

            def attempt():
                return _publish(world, data)

        try:
            version = attempt()
        except ValidationFailed:
            event("refused, a violation" if violates(d) else "refused, no violation")
            return  # refused (on saving the draft or on publishing): nothing published
        event("published")
        assert not violates(d), f"published a violation: {d}"
        row = applicable_row(d["ac_type"], d["watts"])
        for ind, stored in zip(d["indicators"], version.indicators):
            assert stored.cmp_status != "violation"
            if row and ind["link"] is None and row.split("_")[0] in ind["name"].lower() and (
                ind["unit"] in ("W/W", "kW/kW")
            ):
                assert stored.benchmark_indicator_id == world["rows"][row]  # linked, not escaped
    finally:
        savepoint.rollback()


def test_oracle_band_table_matches_the_seed(world):
    """The oracle's rows and limits are the seed's."""
    rows = {
        b.code: b
        for b in _db.session.scalars(
            select(BenchmarkIndicator).where(BenchmarkIndicator.category_id == world["ac"])
        )
    }
    assert {code: rows[code].mandatory_limit for code in LIMITS} == LIMITS
    assert rows["apf_cc7100"].applies[1]["min"] == 4500 and date(2020, 7, 1) == (
        rows["apf"].valid_from
    )
