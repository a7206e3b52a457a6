"""Sampling plans and the inspector pool through supervision.sampling.operations: defaults, refusals with
the field that is wrong, region scoping, edits."""

from __future__ import annotations

from datetime import date

import pytest
from werkzeug.exceptions import Forbidden

from core.errors import ValidationFailed
from core.extensions import db as _db
from core.models import Role
from supervision.sampling import operations as draws
from supervision.models import Stratification
from tests.supervision.test_sampling_support import (  # noqa: F401  (fixtures)
    en_request_fixture,
    enterprise,
    make_draw,
    make_plan,
    plan_payload,
    region_fixture,
    regulator_user,
)


def refused(regulator, **overrides) -> dict:
    with pytest.raises(ValidationFailed) as info:
        draws.create_plan(regulator, plan_payload(**overrides))
    return info.value.errors


def test_defaults_of_a_plan(region):
    plan = draws.create_plan(region["regulator"], {
        "name": "抽查", "period_start": "2026-01-01", "period_end": "2026-12-31"})
    assert plan.region_code == "500000"  # the regulator's own region
    assert plan.category_ids == []
    assert (plan.size_ratio, plan.size_count, plan.min_ratio) == (None, None, 0.05)
    assert plan.stratification is Stratification.NONE and plan.allocation == "proportional"
    assert plan.exclude_drawn_years == 3
    assert (plan.risk_factor, plan.max_inclusion) == (1.0, 0.9)
    assert (plan.inspectors_per_object, plan.rectification_days) == (2, 30)
    assert plan.period_start == date(2026, 1, 1) and plan.regulator_id == region["regulator"].id


def test_a_full_plan(region):
    toilet = region["catalogue"]["toilet"]
    plan = make_plan(region["regulator"], region_code="500112", category_ids=[toilet.id],
                     size_ratio=0.1, stratification="category", allocation="equal",
                     exclude_drawn_years=5, risk_factor=2.5, max_inclusion=0.8,
                     inspectors_per_object=3, rectification_days=15, min_ratio=0.08)
    assert plan.category_ids == [toilet.id] and plan.size_ratio == 0.1
    assert plan.stratification is Stratification.CATEGORY and plan.allocation == "equal"
    assert (plan.exclude_drawn_years, plan.risk_factor, plan.max_inclusion) == (5, 2.5, 0.8)
    assert (plan.inspectors_per_object, plan.rectification_days, plan.min_ratio) == (3, 15, 0.08)


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"name": "  "}, "name", "Enter a name"),
        ({"region_code": "310101"}, "region_code", "outside your region 500000"),
        ({"region_code": "5001"}, "region_code", "6-digit"),
        ({"category_ids": [987654]}, "category_ids", "Unknown product categories: 987654"),
        ({"category_ids": ["air"]}, "category_ids", "“air” is not one"),
        ({"period_start": date(2026, 5, 1), "period_end": date(2026, 4, 1)}, "period_end",
         "before it starts"),
        ({"period_end": "31/12/2026"}, "period_end", "YYYY-MM-DD"),
        ({"size_ratio": 0.01}, "size_ratio", "from the minimum ratio 0.05 (5 %) to 1"),
        ({"size_ratio": 1.5}, "size_ratio", "outside what is allowed"),
        ({"size_ratio": "a tenth"}, "size_ratio", "as a fraction"),
        ({"size_ratio": 0.1, "size_count": 5}, "size_count", "not both"),
        ({"size_count": 0}, "size_count", "at least 1"),
        ({"size_count": 2.5}, "size_count", "whole number"),
        ({"min_ratio": 0.01}, "min_ratio", "do not allow less than 0.05"),
        ({"stratification": "by_mood"}, "stratification", "Choose the strata"),
        ({"allocation": "neyman"}, "allocation", "proportional or equal"),
        ({"exclude_drawn_years": -1}, "exclude_drawn_years", "from 0 (no exclusion) to 10"),
        ({"exclude_drawn_years": 11}, "exclude_drawn_years", "from 0 (no exclusion) to 10"),
        ({"risk_factor": -0.5}, "risk_factor", "from 0 (risk does not count)"),
        ({"max_inclusion": 0}, "max_inclusion", "above 0 and at most 1"),
        ({"max_inclusion": 1.2}, "max_inclusion", "above 0 and at most 1"),
        ({"inspectors_per_object": 1}, "inspectors_per_object", "at least two"),
        ({"rectification_days": 0}, "rectification_days", "1 to 365 days"),
    ],
)
def test_refusals_name_the_field_what_is_wrong_and_what_is_allowed(region, overrides, field,
                                                                   words):
    errors = refused(region["regulator"], **overrides)
    assert field in errors, errors
    assert words in " ".join(errors[field])


def test_every_error_is_reported_at_once(region):
    errors = refused(region["regulator"], name="", size_ratio=2, inspectors_per_object=1,
                     region_code="110000")
    assert set(errors) == {"name", "size_ratio", "inspectors_per_object", "region_code"}


def test_a_larger_minimum_moves_the_ratio_floor(region):
    errors = refused(region["regulator"], min_ratio=0.2, size_ratio=0.1)
    assert "from the minimum ratio 0.2" in errors["size_ratio"][0]


def test_only_regulators_with_a_region_make_plans(region, make_user):
    with pytest.raises(Forbidden):
        draws.create_plan(make_user(Role.EVALUATOR), plan_payload())
    with pytest.raises(Forbidden):
        draws.create_plan(regulator_user("noregion", None), plan_payload())


def test_a_county_plan_inside_the_province_and_scoping(region):
    regulator = region["regulator"]
    county = make_plan(regulator, region_code="500112")
    city = regulator_user("city", "500100")
    province_plan = make_plan(regulator)
    assert draws.plan_for(city, county.id) is county  # 500112 is inside 500100
    assert draws.plan_for(city, province_plan.id) is None  # 500000 is not
    assert [p.id for p in draws.plans_for(city)] == [county.id]
    assert {p.id for p in draws.plans_for(regulator)} == {county.id, province_plan.id}
    assert draws.plans_for(region["other"]) == []
    assert draws.plan_for(region["other"], county.id) is None


def test_update_a_plan_until_it_is_drawn_from(region):
    regulator = region["regulator"]
    plan = make_plan(regulator)
    draws.update_plan(plan, {"size_ratio": 0.2, "name": "改过"}, user=regulator)
    assert (plan.size_ratio, plan.name, plan.min_ratio) == (0.2, "改过", 0.05)
    with pytest.raises(ValidationFailed) as info:
        draws.update_plan(plan, {"size_ratio": 0.01}, user=regulator)
    assert "size_ratio" in info.value.errors
    _db.session.rollback()
    with pytest.raises(Forbidden):
        draws.update_plan(plan, {"name": "x"}, user=region["other"])
    make_draw(plan, regulator)
    with pytest.raises(ValidationFailed) as info:
        draws.update_plan(plan, {"name": "again"}, user=regulator)
    assert "make a new plan" in info.value.errors["_schema"][0]


# --------------------------------------------------------------------------- inspector pool


def test_an_inspector_with_ties_by_code_and_region(region):
    regulator = region["regulator"]
    ent = region["enterprises"][0]
    found = draws.create_inspector(regulator, {
        "code": "CQ-100", "name": "李明", "organisation": "重庆市市场监管局",
        "tied_usccs": f"{ent.uscc.lower()}，{region['enterprises'][1].uscc}",
        "tied_region_codes": "500113, 500113 500101",
    })
    assert found.tied_enterprise_ids == sorted([ent.id, region["enterprises"][1].id])
    assert found.tied_region_codes == ["500101", "500113"]
    assert found.active and found.regulator_id == regulator.id
    assert draws.inspector_for(regulator, found.id) is found
    assert draws.inspector_for(region["other"], found.id) is None

    draws.update_inspector(found, {"tied_usccs": [ent.uscc]}, user=regulator)
    assert found.tied_enterprise_ids == [ent.id]  # the codes replace the ties
    draws.set_inspector_active(found, False, user=regulator)
    assert not found.active
    assert found not in draws.inspectors_of(regulator, active_only=True)
    with pytest.raises(Forbidden):
        draws.set_inspector_active(found, True, user=region["other"])


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"code": ""}, "code", "staff number"),
        ({"name": ""}, "name", "name"),
        ({"code": "CQ00"}, "code", "already has an inspector with the staff number CQ00"),
        ({"tied_usccs": "91500112MA000000IO"}, "tied_usccs", "Not a valid unified social"),
        ({"tied_enterprise_ids": [99999]}, "tied_enterprise_ids", "No enterprise has the id"),
        ({"tied_region_codes": ["50011"]}, "tied_region_codes", "6 digits"),
        ({"organisation": "x" * 201}, "organisation", "At most 200"),
    ],
)
def test_inspector_refusals(region, data, field, words):
    payload = {"code": "NEW", "name": "王五", **data}
    with pytest.raises(ValidationFailed) as info:
        draws.create_inspector(region["regulator"], payload)
    assert words in " ".join(info.value.errors[field])


def test_unknown_uscc_is_named(region):
    code = enterprise("500112").uscc
    _db.session.rollback()  # a valid code nobody registered
    with pytest.raises(ValidationFailed) as info:
        draws.create_inspector(region["regulator"], {"code": "X", "name": "Y", "tied_usccs": code})
    assert code in info.value.errors["tied_usccs"][0]


def test_staff_numbers_are_unique_per_pool_only(region):
    draws.create_inspector(region["other"], {"code": "CQ00", "name": "上海的同号检查员"})
    assert len(draws.inspectors_of(region["other"])) == 1
    assert len(draws.inspectors_of(region["regulator"])) == 6
