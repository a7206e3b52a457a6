"""Draws through the operation layer (supervision.sampling.operations): the population, the record,
reproducibility, exclusions, the minimum ratio, risk, complaint-triggered objects, inspection
assignment and redo."""

from __future__ import annotations

import gzip
import math
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden

from core.clock import local_today
from core.errors import ValidationFailed
from core.extensions import db as _db
from core.models import utcnow
from declare.models import VersionStatus
from declare.queries import local_date
from supervision.sampling import method as sampling
from supervision.sampling import operations as draws
from supervision.models import (
    ComplaintStatus,
    Draw,
    DrawItem,
    DrawStatus,
    Inspection,
    InspectionOrigin,
    InspectionStatus,
)
from tests.supervision.test_sampling_support import (  # noqa: F401  (fixtures)
    LOTTERY,
    complaint,
    declaration,
    en_request_fixture,
    enterprise,
    flag,
    make_draw,
    make_plan,
    region_fixture,
    revise,
    years_ago,
)


def items_of(made: Draw) -> list[DrawItem]:
    return list(_db.session.scalars(
        select(DrawItem).where(DrawItem.draw_id == made.id).order_by(DrawItem.position)
    ))


def inspections_of(made: Draw) -> list[Inspection]:
    return list(_db.session.scalars(
        select(Inspection).join(DrawItem, DrawItem.id == Inspection.draw_item_id)
        .where(DrawItem.draw_id == made.id).order_by(DrawItem.position)
    ))


# --------------------------------------------------------------------------- population


def test_population_is_the_published_declarations_of_the_region_in_force_at_period_end(region):
    ac = region["catalogue"]["room_ac"]
    end = local_today() - timedelta(days=10)
    ent = region["enterprises"][0]
    later = declaration(ent, ac, published_at=utcnow() - timedelta(days=2))  # after period end
    draft = declaration(ent, ac, status=VersionStatus.DRAFT)
    revised = region["declarations"][0]
    old_version = revised.current_version_id
    revise(revised, utcnow() - timedelta(days=3))  # the old version was in force at the end
    _db.session.commit()
    plan = make_plan(region["regulator"], period_start=date(end.year - 1, 1, 1), period_end=end)

    population = draws.build_population(plan)
    frame = population.frame.set_index("id")
    ids = set(frame.index)
    expected = {d.id for d in region["declarations"]}
    assert ids == expected
    assert later.id not in ids and draft.id not in ids
    assert region["sh_declaration"].id not in ids  # another region
    assert int(frame.at[revised.id, "version_id"]) == old_version
    assert set(frame["stratum"]) == {"all"}
    assert not frame["excluded"].any() and not frame["forced"].any()


def test_categories_and_strata_follow_the_plan(region):
    cat = region["catalogue"]
    plan = make_plan(region["regulator"], category_ids=[cat["toilet"].id],
                     stratification="region_category")
    frame = draws.build_population(plan).frame
    toilets = {d.id for d in region["declarations"]
               if d.current_version.products[0].category_id == cat["toilet"].id}
    assert set(frame["id"]) == toilets and len(toilets) == 10
    assert set(frame["stratum"]) == {"500112/toilet", "500113/toilet"}

    by_region = make_plan(region["regulator"], stratification="region", region_code="500113")
    frame = draws.build_population(by_region).frame
    assert set(frame["stratum"]) == {"500113"} and len(frame) == 16


# --------------------------------------------------------------------------- the record


def test_a_draw_records_seed_population_hash_params_items_and_inspections(region):
    plan = make_plan(region["regulator"], size_ratio=0.2, stratification="region")
    made = make_draw(plan, region["regulator"])

    assert made.number == f"500000-{local_today().year}-001"
    assert made.seed == str(sampling.seed_from_text(LOTTERY))
    assert made.seed_source == LOTTERY
    assert made.method == sampling.METHOD == made.params["method"]
    assert made.params["seed"] == made.seed and made.params["seed_text"] == LOTTERY
    assert made.population_size == 40 and made.excluded_count == 0
    population = draws.stored_population(made)
    assert made.population_hash == sampling.population_hash(population)
    assert made.params["population_hash"] == made.population_hash
    # 20 % of 24 and 16, rounded up over the whole frame (8), allocated proportionally.
    items = items_of(made)
    assert made.sample_size == len(items) == 8
    assert sorted(i.stratum for i in items) == ["500112"] * 5 + ["500113"] * 3
    assert [i.position for i in items] == list(range(1, 9))
    assert all(i.reason.value == "random" and 0 < i.inclusion_probability < 1 for i in items)

    inspections = inspections_of(made)
    assert len(inspections) == 8
    for item, inspection in zip(items, inspections, strict=True):
        assert inspection.status is InspectionStatus.ASSIGNED
        assert inspection.origin is InspectionOrigin.RANDOM
        assert inspection.declaration_id == item.declaration_id
        assert inspection.version_id == item.version_id
        assert inspection.region_code == item.region_code
        assert inspection.regulator_id == region["regulator"].id
        assert inspection.number == f"{made.number}-{item.position:04d}"
        assert len(set(inspection.inspector_ids)) == 2


def test_the_recorded_population_is_canonical_gzip_csv(region):
    plan = make_plan(region["regulator"], stratification="category")
    made = make_draw(plan, region["regulator"])
    text = gzip.decompress(made.population_csv_gz).decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "id,stratum,weight,risk,excluded,exclusion_reason,forced"
    ids = [int(line.split(",")[0]) for line in lines[1:]]
    assert ids == sorted(ids) and len(ids) == 40
    assert lines[1].split(",")[1:] in (["room_ac", "1.0", "0.0", "0", "", "0"],
                                      ["toilet", "1.0", "0.0", "0", "", "0"])
    # Same rows, same bytes (no timestamp in the gzip header).
    population = draws.build_population(plan)
    assert draws.population_csv(population.frame) == draws.population_csv(population.frame)


def test_draw_numbers_count_up_per_region_and_year(region):
    plan = make_plan(region["regulator"], exclude_drawn_years=0)
    numbers = [make_draw(plan, region["regulator"], seed_text=f"第{i}次").number for i in range(3)]
    year = local_today().year
    assert numbers == [f"500000-{year}-001", f"500000-{year}-002", f"500000-{year}-003"]
    county = make_plan(region["regulator"], region_code="500113")
    assert make_draw(county, region["regulator"]).number == f"500113-{year}-001"


def test_an_integer_seed_and_a_text_seed(region):
    plan = make_plan(region["regulator"], exclude_drawn_years=0)
    made = draws.create_draw(plan, region["regulator"], seed="20261122")
    assert made.seed == "20261122" and made.seed_source == "" and made.params["seed_text"] is None
    big = draws.create_draw(plan, region["regulator"], seed=str(2**128 - 1))
    assert big.seed == str(2**128 - 1)


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({}, "seed", "Give the seed"),
        ({"seed": "12", "seed_text": "x"}, "seed", "not both"),
        ({"seed": "-3"}, "seed", "0 to 2^128 - 1"),
        ({"seed": "12a"}, "seed", "digits only"),
        ({"seed": str(2**128)}, "seed", "0 to 2^128 - 1"),
        ({"seed_text": "x" * 1001}, "seed_text", "At most 1000"),
    ],
)
def test_bad_seeds_are_refused_with_the_field(region, kwargs, field, words):
    plan = make_plan(region["regulator"])
    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(plan, region["regulator"], **kwargs)
    assert words in " ".join(info.value.errors[field])


# --------------------------------------------------------------------------- reproducibility


def test_same_seed_and_population_give_the_same_sample_twice(region):
    plan = make_plan(region["regulator"], size_ratio=0.25, stratification="region_category",
                     exclude_drawn_years=0)
    first = make_draw(plan, region["regulator"])
    second = make_draw(plan, region["regulator"])
    assert first.population_hash == second.population_hash
    one = [(i.declaration_id, i.stratum, i.reason, i.inclusion_probability)
           for i in items_of(first)]
    two = [(i.declaration_id, i.stratum, i.reason, i.inclusion_probability)
           for i in items_of(second)]
    assert one == two and len(one) == 10
    # The inspectors are drawn from the same seed too.
    assert [i.inspector_ids for i in inspections_of(first)] == \
        [i.inspector_ids for i in inspections_of(second)]
    # Another seed, another sample (of the same size).
    third = make_draw(plan, region["regulator"], seed_text="another public text")
    assert [i.declaration_id for i in items_of(third)] != [d for d, *_ in one]


def test_redo_from_the_record_is_identical_twice(region):
    flag(region["declarations"][3])
    _db.session.commit()
    plan = make_plan(region["regulator"], size_ratio=0.2, stratification="region")
    made = make_draw(plan, region["regulator"])
    reports = [draws.redo_draw(made) for _ in range(2)]
    for report in reports:
        assert report.identical and report.hash_matches and not report.error
        assert report.sample["id"].tolist() == [i.declaration_id for i in items_of(made)]
    assert reports[0].to_dict() == reports[1].to_dict()
    # The inspector draw is redone too, from the recorded pool and the same seed.
    assert made.inspector_pool["per_object"] == plan.inspectors_per_object
    assert {i["id"] for i in made.inspector_pool["inspectors"]}
    assert reports[0].inspectors_identical is True and reports[0].inspectors_changed == []


def test_redo_names_an_inspection_whose_inspectors_were_changed(region):
    plan = make_plan(region["regulator"], size_ratio=0.2)
    made = make_draw(plan, region["regulator"])
    first = inspections_of(made)[0]
    stored = sorted(first.inspector_ids)
    pool = [i["id"] for i in made.inspector_pool["inspectors"]]
    first.inspector_ids = sorted(set(pool) - set(stored))[: len(stored)]  # swapped afterwards
    _db.session.flush()
    report = draws.redo_draw(made)
    assert report.identical  # the sample itself is unchanged
    assert report.inspectors_identical is False
    assert report.inspectors_changed == [
        {"id": first.declaration_id, "stored": sorted(first.inspector_ids), "redone": stored}
    ]
    _db.session.rollback()


def test_redo_reports_what_differs(region):
    plan = make_plan(region["regulator"], size_ratio=0.2)
    made = make_draw(plan, region["regulator"])
    items = items_of(made)

    items[0].inclusion_probability = 0.5  # a stored record changed afterwards
    _db.session.flush()
    report = draws.redo_draw(made)
    assert not report.identical
    assert report.changed == [{"id": items[0].declaration_id, "field": "pi", "stored": 0.5,
                               "redone": report.sample["pi"].iloc[0]}]
    _db.session.rollback()

    other_seed = {**made.params, "seed": str(sampling.seed_from_text("x")), "seed_text": "x"}
    report = draws.redo_draw(made, params=other_seed)
    assert not report.identical and report.hash_matches
    assert report.only_stored or report.order_differs

    population = draws.stored_population(made)
    population.loc[0, "risk"] = 3.0  # a tampered copy of the population
    report = draws.redo_draw(made, population=population)
    assert not report.identical and not report.hash_matches
    assert "differs from the recorded" in report.error and report.sample is None


# --------------------------------------------------------------------------- size


def test_a_count_below_the_minimum_ratio_is_raised_to_it(region):
    ac = region["catalogue"]["room_ac"]
    declaration(region["enterprises"][0], ac)  # 41 declarations: 5 % is 2.05 → 3
    _db.session.commit()
    plan = make_plan(region["regulator"], size_count=1)
    made = make_draw(plan, region["regulator"])
    assert made.sample_size == 3 == math.ceil(0.05 * 41)


def test_a_ratio_is_rounded_up_and_the_default_is_the_minimum(region):
    plan = make_plan(region["regulator"], size_ratio=0.11, exclude_drawn_years=0)
    assert make_draw(plan, region["regulator"]).sample_size == 5  # 4.4 → 5
    minimum = make_plan(region["regulator"], exclude_drawn_years=0)
    assert make_draw(minimum, region["regulator"]).sample_size == 2  # 5 % of 40
    stricter = make_plan(region["regulator"], min_ratio=0.3, size_count=2, exclude_drawn_years=0)
    assert make_draw(stricter, region["regulator"]).sample_size == 12


# --------------------------------------------------------------------------- exclusions


def test_enterprises_drawn_in_the_window_are_excluded_with_the_earlier_draw_named(region):
    plan = make_plan(region["regulator"], size_ratio=0.25)
    first = make_draw(plan, region["regulator"])
    drawn = {i.enterprise_id for i in items_of(first)}
    second = make_draw(plan, region["regulator"], seed_text="second")

    excluded = draws.excluded_of(second)
    by_enterprise = {d.id: d.enterprise_id for d in region["declarations"]}
    assert {by_enterprise[i] for i in excluded["id"]} == drawn
    assert second.excluded_count == len(excluded) == sum(
        1 for d in region["declarations"] if d.enterprise_id in drawn)
    day = local_date(first.drawn_at).isoformat()
    assert set(excluded["exclusion_reason"]) == {f"drawn in draw {first.number} on {day}"}
    assert draws.exclusion_parts(excluded["exclusion_reason"].iloc[0]) == {
        "number": first.number, "day": day}
    assert not {i.enterprise_id for i in items_of(second)} & drawn


def test_the_ratio_applies_to_the_scope_before_exclusions(region, client, login_as):
    """Issue 9, finding 10: the plan's ratio is a share of the scope (every declaration of the
    population, excluded ones included), drawn from the frame left after the exclusions."""
    plan = make_plan(region["regulator"], size_ratio=0.25)
    first = make_draw(plan, region["regulator"])  # 10 of 40: their enterprises are excluded
    second = make_draw(plan, region["regulator"], seed_text="second")
    scope = second.population_size
    assert scope == 40 and second.excluded_count > 0
    random_part = [i for i in items_of(second) if i.reason.value != "complaint"]
    assert len(random_part) == math.ceil(0.25 * scope) == 10  # not ceil(0.25 × frame)
    frame = scope - second.excluded_count
    assert draws.size_rule(second, frame) == {
        "scope": 40, "required": 10, "frame": frame, "short": frame < 10}
    assert first.params["size_base"] == "scope"

    # A frame smaller than the required size: all of it, and the draw page says so.
    greedy = make_plan(region["regulator"], size_ratio=0.9)
    short = make_draw(greedy, region["regulator"], seed_text="third")
    frame = short.population_size - short.excluded_count
    assert short.sample_size == frame < math.ceil(0.9 * short.population_size)
    login_as(region["regulator"])
    html = client.get(f"/supervision/sampling/draws/{short.id}").get_data(as_text=True)
    assert 'id="frame-short"' in html and f'data-required="{math.ceil(0.9 * 40)}"' in html


def test_old_draws_and_complaint_checks_do_not_exclude(region):
    plan = make_plan(region["regulator"], size_ratio=0.25)
    old = make_draw(plan, region["regulator"])
    old.drawn_at = years_ago(3, days=1)  # just outside the 3-year window
    forced = region["declarations"][0]
    make_draw(plan, region["regulator"], seed_text="x", complaint_declaration_ids=[forced.id])
    # The complaint-triggered object's enterprise is not excluded by that check; the random
    # objects of the second draw are.
    third = make_draw(plan, region["regulator"], seed_text="third")
    excluded = set(draws.excluded_of(third)["id"])
    second_random = {
        i.enterprise_id for d in _db.session.scalars(select(Draw).where(Draw.seed_source == "x"))
        for i in items_of(d) if i.reason.value != "complaint"
    }
    by_enterprise = {d.id: d.enterprise_id for d in region["declarations"]}
    assert {by_enterprise[i] for i in excluded} == second_random
    assert forced.enterprise_id not in second_random or forced.id in excluded

    none = make_plan(region["regulator"], exclude_drawn_years=0)
    assert draws.build_population(none).frame["excluded"].sum() == 0


def test_everything_excluded_is_refused(region):
    plan = make_plan(region["regulator"], size_ratio=1.0)
    make_draw(plan, region["regulator"])
    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(plan, region["regulator"], seed_text="again")
    assert "every declaration of the population is excluded" in info.value.errors["_schema"][0]


def test_an_empty_population_is_refused(region):
    plan = make_plan(region["regulator"], region_code="500101")
    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(plan, region["regulator"], seed_text="x")
    assert "population is empty" in info.value.errors["_schema"][0]


# --------------------------------------------------------------------------- risk


def test_open_flags_raise_the_inclusion_probability_and_label_the_item(region):
    risky = region["declarations"][:4]
    for decl in risky:
        flag(decl, "high")
        flag(decl, "medium", code="missing_test_method")
    flag(region["declarations"][4], "high", cleared=True)  # cleared: no longer counts
    _db.session.commit()
    plan = make_plan(region["regulator"], size_ratio=0.25, risk_factor=1.0)
    population = draws.build_population(plan)
    score = population.frame.set_index("id")["risk"]
    assert score[risky[0].id] == 7.0  # high 5 + medium 2 (risk.risk_score)
    assert score[region["declarations"][4].id] == 0.0

    seen = {}
    for k in range(60):
        _pop, result = draws.compute_draw(plan, seed=k, population=population)
        seen.update(dict(zip(result.sample["id"], zip(result.sample["pi"],
                                                        result.sample["reason"], strict=True),
                             strict=True)))
    risky_pi = {seen[d.id][0] for d in risky if d.id in seen}
    plain_pi = {p for i, (p, _r) in seen.items() if i not in {d.id for d in risky}}
    assert risky_pi and plain_pi
    assert min(risky_pi) > max(plain_pi) * 4  # weight 8 against 1, capped at 0.9
    assert max(risky_pi) <= 0.9  # max_inclusion: never certain
    assert {seen[d.id][1] for d in risky if d.id in seen} == {"risk_weighted"}
    assert {r for i, (_p, r) in seen.items() if i not in {d.id for d in risky}} == {"random"}


def test_inclusion_probabilities_through_the_operation_layer(region):
    """Over many seeds each declaration is drawn as often as its recorded pi says (binomial
    tolerance 4.5 sigma), risk-weighted and stratified as the plan says."""
    for decl in region["declarations"][:6]:
        flag(decl, "medium", code="missing_test_method")
    flag(region["declarations"][20], "high")
    _db.session.commit()
    plan = make_plan(region["regulator"], size_ratio=0.2, risk_factor=0.5,
                     stratification="region")
    population = draws.build_population(plan)
    ids = population.frame["id"].tolist()
    position = {d: i for i, d in enumerate(ids)}
    runs = 1000
    counts = np.zeros(len(ids))
    pi = np.full(len(ids), np.nan)
    for seed in range(runs):
        _pop, result = draws.compute_draw(plan, seed=seed, population=population)
        rows = [position[d] for d in result.sample["id"]]
        counts[rows] += 1
        pi[rows] = result.sample["pi"].to_numpy()
    assert not np.isnan(pi).any()  # every declaration was drawn at least once
    strata = population.frame["stratum"].to_numpy()
    assert math.isclose(pi[strata == "500112"].sum(), 5) and math.isclose(
        pi[strata == "500113"].sum(), 3)
    f = counts / runs
    tolerance = 4.5 * np.sqrt(pi * (1 - pi) / runs)
    assert (np.abs(f - pi) <= tolerance).all(), np.abs(f - pi) / tolerance

    made = make_draw(plan, region["regulator"], seed_text="recorded")
    for item in items_of(made):
        assert item.inclusion_probability == pytest.approx(pi[position[item.declaration_id]],
                                                           rel=1e-12)


# --------------------------------------------------------------------------- complaints


def test_complaint_triggered_declarations_are_added_and_labelled(region):
    plan = make_plan(region["regulator"], size_ratio=0.1)
    forced = [region["declarations"][1].id, region["declarations"][30].id]
    made = make_draw(plan, region["regulator"], complaint_declaration_ids=forced)
    items = items_of(made)
    complaint_items = [i for i in items if i.reason.value == "complaint"]
    assert [i.declaration_id for i in complaint_items] == sorted(forced)
    assert all(i.inclusion_probability == 1.0 for i in complaint_items)
    assert items[-2:] == complaint_items  # listed after the random draw
    assert len(items) == 4 + 2  # 10 % of the 38 others, rounded up, plus the two
    origins = {i.draw_item_id: i.origin for i in inspections_of(made)}
    assert {origins[i.id] for i in complaint_items} == {InspectionOrigin.COMPLAINT}


def test_complaints_force_their_objects_and_are_marked_as_check_opened(region):
    ents, decls = region["enterprises"], region["declarations"]
    about_standard = complaint(decls[5], ents[2], "JB-1")
    about_enterprise = complaint(None, ents[7], "JB-2")
    _db.session.commit()
    plan = make_plan(region["regulator"], size_ratio=0.1)
    made = make_draw(plan, region["regulator"],
                     complaint_ids=[about_standard.id, about_enterprise.id])
    forced = {i.declaration_id for i in items_of(made) if i.reason.value == "complaint"}
    assert forced == {decls[5].id} | {d.id for d in decls if d.enterprise_id == ents[7].id}
    links = {i.declaration_id: i.complaint_id for i in inspections_of(made)
             if i.origin is InspectionOrigin.COMPLAINT}
    assert links[decls[5].id] == about_standard.id
    assert {links[d.id] for d in decls if d.enterprise_id == ents[7].id} == {about_enterprise.id}
    _db.session.refresh(about_standard)
    assert about_standard.status is ComplaintStatus.CHECK_OPENED

    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(plan, region["regulator"], seed_text="y",
                          complaint_ids=[about_standard.id])
    assert "no longer open" in info.value.errors["complaint_ids"][0]


def test_complaint_objects_outside_the_population_are_refused(region):
    plan = make_plan(region["regulator"])
    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(plan, region["regulator"], seed_text="x",
                          complaint_declaration_ids=[region["sh_declaration"].id])
    assert "not in this plan's population" in info.value.errors["complaint_declaration_ids"][0]
    shanghai = complaint(region["sh_declaration"], region["sh_enterprise"], "JB-SH")
    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(plan, region["regulator"], seed_text="x", complaint_ids=[shanghai.id])
    assert "not found in this plan's region" in info.value.errors["complaint_ids"][0]
    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(plan, region["regulator"], seed_text="x", complaint_ids=["abc"])
    assert "abc" in info.value.errors["complaint_ids"][0]
    # A complaint about a declaration outside the plan's categories is named as such.
    toilet_decl = region["declarations"][3]
    about_toilet = complaint(toilet_decl, region["enterprises"][1], "JB-T")
    air_only = make_plan(region["regulator"], category_ids=[region["catalogue"]["room_ac"].id])
    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(air_only, region["regulator"], seed_text="x",
                          complaint_ids=[about_toilet.id])
    assert f"Declarations {toilet_decl.id} are not in" in info.value.errors["complaint_ids"][0]


# --------------------------------------------------------------------------- inspectors


def test_inspectors_are_recused_from_tied_enterprises_and_regions(region):
    regulator, pool = region["regulator"], region["pool"]
    ents = region["enterprises"]
    pool[0].tied_enterprise_ids = [e.id for e in ents[:10]]
    pool[1].tied_region_codes = ["500113"]
    pool[2].tied_region_codes = ["500100"]  # the city: every county of it
    _db.session.commit()
    plan = make_plan(regulator, size_ratio=0.5, exclude_drawn_years=0, inspectors_per_object=2)
    made = make_draw(plan, regulator)
    inspections = inspections_of(made)
    assert len(inspections) == 20
    region_of = {e.id: e.region_code for e in ents}
    loads = {i.id: 0 for i in pool}
    for inspection in inspections:
        team = inspection.inspector_ids
        assert len(team) == len(set(team)) == 2
        if inspection.enterprise_id in {e.id for e in ents[:10]}:
            assert pool[0].id not in team
        if region_of[inspection.enterprise_id] == "500113":
            assert pool[1].id not in team
        assert pool[2].id not in team
        for member in team:
            loads[member] += 1
    assert loads[pool[2].id] == 0
    free = [loads[i.id] for i in pool[3:]]
    # 40 assignments; the three unrestricted inspectors and the partly recused ones share them
    # as evenly as the recusals allow.
    assert sum(loads.values()) == 40 and max(free) - min(free) <= 1


def test_balanced_loads_without_recusal(region):
    plan = make_plan(region["regulator"], size_ratio=0.5, inspectors_per_object=3)
    made = make_draw(plan, region["regulator"])
    counts = {}
    for inspection in inspections_of(made):
        assert len(set(inspection.inspector_ids)) == 3
        for member in inspection.inspector_ids:
            counts[member] = counts.get(member, 0) + 1
    assert sorted(counts) == sorted(i.id for i in region["pool"])
    assert max(counts.values()) - min(counts.values()) <= 1  # 60 over 6: 10 each


def test_inactive_inspectors_and_a_too_small_pool(region):
    for member in region["pool"][1:]:
        member.active = False
    _db.session.commit()
    plan = make_plan(region["regulator"])
    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(plan, region["regulator"], seed_text="x")
    assert "1 active inspectors but every object needs 2" in info.value.errors["inspectors"][0]
    assert _db.session.scalar(select(func.count(Draw.id))) == 0


def test_recusal_that_leaves_too_few_inspectors_is_refused(region):
    for member in region["pool"][:5]:
        member.tied_region_codes = ["500000"]
    _db.session.commit()
    plan = make_plan(region["regulator"])
    with pytest.raises(ValidationFailed) as info:
        draws.create_draw(plan, region["regulator"], seed_text="x")
    assert "cannot be assigned" in info.value.errors["inspectors"][0]


# --------------------------------------------------------------------------- publicity, scope


def test_publicise_once(region):
    plan = make_plan(region["regulator"])
    made = make_draw(plan, region["regulator"])
    assert draws.public_draw(made.id) is None
    draws.publicise_draw(made, region["regulator"])
    assert made.status is DrawStatus.PUBLICISED and made.publicised_at is not None
    assert draws.public_draw(made.id) is made
    with pytest.raises(ValidationFailed) as info:
        draws.publicise_draw(made, region["regulator"])
    assert "already public" in info.value.errors["_schema"][0]


def test_another_region_cannot_see_or_act(region):
    plan = make_plan(region["regulator"])
    made = make_draw(plan, region["regulator"])
    other = region["other"]
    assert draws.plan_for(other, plan.id) is None and draws.draw_for(other, made.id) is None
    assert draws.plans_for(other) == []
    with pytest.raises(Forbidden):
        draws.create_draw(plan, other, seed_text="x")
    with pytest.raises(Forbidden):
        draws.publicise_draw(made, other)
    assert draws.draw_for(region["regulator"], made.id) is made


def test_allocation_counts_per_stratum(region):
    plan = make_plan(region["regulator"], size_ratio=0.25, stratification="region",
                     exclude_drawn_years=0)
    made = make_draw(plan, region["regulator"],
                     complaint_declaration_ids=[region["declarations"][39].id])
    table = draws.allocation_of(made).set_index("stratum")
    assert table.loc["500112"].to_dict() == {"population": 24, "excluded": 0, "complaint": 0,
                                             "sample": 6}
    assert table.loc["500113"].to_dict() == {"population": 15, "excluded": 0, "complaint": 1,
                                             "sample": 4}
