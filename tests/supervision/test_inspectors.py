"""supervision.sampling.assign_inspectors: random, reproducible, recused, balanced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervision.sampling.method import assign_inspectors

LOTTERY = "2026-11-22 双色球 03 07 12 19 25 31 + 09"


def make_objects(count: int = 40, *, enterprises: int = 12, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(100, 100 + count),
            "enterprise_id": [f"E{e}" for e in rng.integers(0, enterprises, count)],
            "region": rng.choice(["R1", "R2", "R3"], count),
        }
    )


def make_inspectors(count: int = 7, *, enterprises: int = 12, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": [f"I{i:02d}" for i in range(count)],
            "region": rng.choice(["R1", "R2", "R3"], count),
            "tied_enterprise_ids": [
                [f"E{e}" for e in rng.choice(enterprises, 2, replace=False)] for _ in range(count)
            ],
        }
    )


def loads(assignment: pd.DataFrame, inspectors: pd.DataFrame) -> pd.Series:
    counts = assignment["inspector_id"].value_counts()
    return counts.reindex(inspectors["id"], fill_value=0)


def check_recusal(assignment, objects, inspectors, *, same_region: bool = False) -> None:
    obj = objects.set_index("id")
    ins = inspectors.set_index("id")
    for row in assignment.itertuples():
        enterprise = str(obj.at[row.object_id, "enterprise_id"])
        assert enterprise not in {str(e) for e in ins.at[row.inspector_id, "tied_enterprise_ids"]}
        if same_region:
            assert obj.at[row.object_id, "region"] != ins.at[row.inspector_id, "region"]


def test_every_object_gets_two_distinct_inspectors_with_recusal_and_balance():
    objects, inspectors = make_objects(), make_inspectors()
    result = assign_inspectors(objects, inspectors, seed=LOTTERY)
    assert list(result.columns) == ["object_id", "inspector_id"]
    per_object = result.groupby("object_id")["inspector_id"].agg(["size", "nunique"])
    assert set(per_object.index) == set(objects["id"])
    assert (per_object["size"] == 2).all() and (per_object["nunique"] == 2).all()
    check_recusal(result, objects, inspectors)
    load = loads(result, inspectors)
    assert load.max() - load.min() <= 1
    assert load.max() == int(np.ceil(2 * len(objects) / len(inspectors)))  # fair share


def test_reproducible_in_any_row_order_and_different_for_another_seed():
    objects, inspectors = make_objects(), make_inspectors()
    first = assign_inspectors(objects, inspectors, seed=LOTTERY)
    again = assign_inspectors(
        objects.sample(frac=1, random_state=1), inspectors.sample(frac=1, random_state=2),
        seed=LOTTERY,
    )
    pd.testing.assert_frame_equal(first, again)
    other = assign_inspectors(objects, inspectors, seed=LOTTERY + "!")
    assert not first.equals(other)


def test_same_region_recusal_is_a_flag():
    objects, inspectors = make_objects(60), make_inspectors(12)
    without = assign_inspectors(objects, inspectors, seed=1)
    obj_region = objects.set_index("id")["region"]
    ins_region = inspectors.set_index("id")["region"]
    same = (obj_region[without["object_id"]].to_numpy() == ins_region[without["inspector_id"]])
    assert same.any()  # allowed without the flag
    with_flag = assign_inspectors(objects, inspectors, seed=1, recuse_same_region=True)
    check_recusal(with_flag, objects, inspectors, same_region=True)
    assert (with_flag.groupby("object_id").size() == 2).all()


def test_three_per_object_and_ids_compared_as_strings():
    objects = pd.DataFrame({"id": [1, 2, 3, 4], "enterprise_id": [12, 12, 13, 14], "region": "R"})
    inspectors = pd.DataFrame(
        {"id": [10, 11, 12, 13, 14], "region": "R", "tied_enterprise_ids": [["12"], [], [], [], []]}
    )
    result = assign_inspectors(objects, inspectors, per_object=3, seed=9)
    assert (result.groupby("object_id").size() == 3).all()
    tied = result[(result["inspector_id"] == 10) & result["object_id"].isin([1, 2])]
    assert tied.empty  # "12" in the tie list recuses from enterprise 12 (an int)
    load = loads(result, inspectors)
    assert load.max() - load.min() <= 1


def test_balance_is_restored_when_recusal_concentrates_work():
    # four objects of enterprise X can only go to A and B; the other six to anyone.
    # Balanced (5 each) is possible but only if A and B take few of the others.
    objects = pd.DataFrame(
        {
            "id": range(10),
            "enterprise_id": ["X"] * 4 + [f"Y{i}" for i in range(6)],
            "region": "R",
        }
    )
    inspectors = pd.DataFrame(
        {"id": ["A", "B", "C", "D"], "region": "R", "tied_enterprise_ids": [[], [], ["X"], ["X"]]}
    )
    for seed in range(40):
        result = assign_inspectors(objects, inspectors, seed=seed)
        check_recusal(result, objects, inspectors)
        assert loads(result, inspectors).tolist() == [5, 5, 5, 5]


def test_an_inspector_recused_from_everything_gets_nothing_and_the_rest_are_balanced():
    objects = make_objects(30, enterprises=5)
    inspectors = make_inspectors(6, enterprises=5)
    everything = [f"E{e}" for e in range(5)]
    inspectors.loc[5, "tied_enterprise_ids"] = everything
    result = assign_inspectors(objects, inspectors, seed=3)
    check_recusal(result, objects, inspectors)
    load = loads(result, inspectors)
    assert load["I05"] == 0
    others = load.drop("I05")
    assert others.max() - others.min() <= 1


def test_infeasible_object_is_named_with_the_reason():
    objects = pd.DataFrame(
        {"id": [1, 2], "enterprise_id": ["E1", "E2"], "region": ["R1", "R2"]}
    )
    inspectors = pd.DataFrame(
        {
            "id": ["A", "B", "C"],
            "region": ["R2", "R2", "R2"],
            "tied_enterprise_ids": [["E1"], ["E1"], []],
        }
    )
    with pytest.raises(ValueError) as info:
        assign_inspectors(objects, inspectors, seed=1)
    message = str(info.value)
    assert "object 1 (enterprise 'E1', region 'R1') has 1 eligible inspector(s) of 3" in message
    assert "needs 2" in message and "2 tied to enterprise 'E1'" in message
    assert "object 2" not in message
    with pytest.raises(ValueError, match=r"object 2 .*0 eligible.*3 from the same region 'R2'"):
        assign_inspectors(objects, inspectors, seed=1, recuse_same_region=True)


@pytest.mark.parametrize(
    ("kwargs", "objects", "inspectors", "message"),
    [
        ({"per_object": 1}, None, None, "per_object must be a whole number >= 2"),
        ({}, None, make_inspectors(1), "the pool has 1 inspector"),
        ({}, make_objects().drop(columns="region"), None, "objects is missing column.*'region'"),
        (
            {},
            None,
            make_inspectors().assign(tied_enterprise_ids="E1"),
            "tied_enterprise_ids must be a list",
        ),
        ({}, pd.concat([make_objects(3), make_objects(3)]), None, "appears more than once"),
    ],
)
def test_bad_input(kwargs, objects, inspectors, message):
    objects = make_objects() if objects is None else objects
    inspectors = make_inspectors() if inspectors is None else inspectors
    with pytest.raises(ValueError, match=message):
        assign_inspectors(objects, inspectors, seed=1, **kwargs)


def test_no_objects():
    result = assign_inspectors(make_objects(0), make_inspectors(), seed=1)
    assert result.empty and list(result.columns) == ["object_id", "inspector_id"]


@settings(max_examples=150, deadline=None)
@given(
    n_objects=st.integers(min_value=1, max_value=25),
    n_inspectors=st.integers(min_value=3, max_value=9),
    n_enterprises=st.integers(min_value=1, max_value=6),
    ties=st.integers(min_value=0, max_value=3),
    per_object=st.integers(min_value=2, max_value=3),
    seed=st.integers(min_value=0, max_value=2**64),
)
def test_assignment_properties(n_objects, n_inspectors, n_enterprises, ties, per_object, seed):
    rng = np.random.default_rng(seed % 2**32)
    objects = pd.DataFrame(
        {
            "id": np.arange(n_objects),
            "enterprise_id": rng.integers(0, n_enterprises, n_objects),
            "region": "R",
        }
    )
    tied = [
        list(rng.choice(n_enterprises, min(ties, n_enterprises), replace=False))
        for _ in range(n_inspectors)
    ]
    inspectors = pd.DataFrame(
        {"id": np.arange(n_inspectors), "region": "R", "tied_enterprise_ids": tied}
    )
    eligible = {
        o: {i for i in range(n_inspectors) if e not in tied[i]}
        for o, e in enumerate(objects["enterprise_id"])
    }
    if min(len(s) for s in eligible.values()) < per_object:
        with pytest.raises(ValueError, match="cannot assign inspectors"):
            assign_inspectors(objects, inspectors, per_object=per_object, seed=seed)
        return
    result = assign_inspectors(objects, inspectors, per_object=per_object, seed=seed)
    teams = result.groupby("object_id")["inspector_id"].apply(set)
    assert len(teams) == n_objects
    for o, team in teams.items():
        assert len(team) == per_object and team <= eligible[o]
    load = loads(result, inspectors)
    # most balanced possible: no single reassignment can move work from an inspector to one
    # with two or more objects less
    for a in range(n_inspectors):
        for b in range(n_inspectors):
            if load[a] >= load[b] + 2:
                assert not any(
                    a in team and b not in team and b in eligible[o] for o, team in teams.items()
                )
    if ties == 0:
        assert load.max() - load.min() <= 1
    assert result.equals(
        assign_inspectors(objects, inspectors, per_object=per_object, seed=seed)
    )
