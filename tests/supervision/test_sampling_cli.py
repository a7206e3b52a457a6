"""``flask supervision draw redo``: the same sample from the recorded seed and population,
twice, and from copies of the population and parameters held outside the database."""

from __future__ import annotations

import gzip
import json

from tests.supervision.test_sampling_support import (  # noqa: F401  (fixtures)
    en_request_fixture,
    make_draw,
    make_plan,
    region_fixture,
)


def sample_lines(output: str) -> list[str]:
    lines = output.splitlines()
    start = lines.index("position\tdeclaration\tstratum\treason\tpi")
    return lines[start + 1 :]


def stored(made) -> list[int]:
    return [i.declaration_id for i in sorted(made.items, key=lambda i: i.position)]


def test_redo_prints_identical_and_the_sample_twice(app, region):
    plan = make_plan(region["regulator"], size_ratio=0.2, stratification="region")
    made = make_draw(plan, region["regulator"])
    runner = app.test_cli_runner()
    outputs = [runner.invoke(args=["supervision", "draw", "redo", made.number]) for _ in range(2)]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0] == "identical"
        assert made.population_hash in result.output
        rows = [line.split("\t") for line in sample_lines(result.output)]
        assert [int(r[1]) for r in rows] == stored(made)
        assert {r[3] for r in rows} == {"random"}
        by_id = {i.declaration_id: i for i in made.items}
        assert all(float(r[4]) == by_id[int(r[1])].inclusion_probability for r in rows)
    assert outputs[0].output == outputs[1].output


def test_redo_from_exported_files(app, region, tmp_path):
    plan = make_plan(region["regulator"], size_ratio=0.25, stratification="region_category")
    made = make_draw(plan, region["regulator"])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["supervision", "draw", "export", made.number,
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    population = tmp_path / f"population-{made.number}.csv.gz"
    params = tmp_path / f"params-{made.number}.json"
    assert population.read_bytes() == made.population_csv_gz
    assert json.loads(params.read_text()) == made.params

    args = ["supervision", "draw", "redo", made.number, "--population", str(population),
            "--params", str(params)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0 and result.output.startswith("identical\n")
    assert [int(line.split("\t")[1]) for line in sample_lines(result.output)] == stored(made)

    # An unzipped copy works too.
    plain = tmp_path / "population.csv"
    plain.write_bytes(gzip.decompress(population.read_bytes()))
    result = runner.invoke(args=["supervision", "draw", "redo", made.number,
                                 "--population", str(plain)])
    assert result.exit_code == 0 and result.output.startswith("identical\n")


def test_redo_says_different_with_another_seed_or_a_changed_population(app, region, tmp_path):
    plan = make_plan(region["regulator"], size_ratio=0.2)
    made = make_draw(plan, region["regulator"])
    runner = app.test_cli_runner()
    params = {**made.params, "seed": "42", "seed_text": None}
    other = tmp_path / "params.json"
    other.write_text(json.dumps(params))
    result = runner.invoke(args=["supervision", "draw", "redo", made.number, "--params",
                                 str(other)])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "different"

    text = gzip.decompress(made.population_csv_gz).decode()
    changed = tmp_path / "changed.csv"
    changed.write_text(text.replace(",all,1.0,0.0,", ",all,2.0,0.0,", 1))
    result = runner.invoke(args=["supervision", "draw", "redo", made.number, "--population",
                                 str(changed)])
    assert result.exit_code == 1 and result.output.startswith("different\n")
    assert "differs from the recorded" in result.output


def test_unknown_draw_and_unreadable_files(app, region, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["supervision", "draw", "redo", "500000-1999-001"])
    assert result.exit_code == 1 and "no draw numbered '500000-1999-001'" in result.output
    plan = make_plan(region["regulator"])
    made = make_draw(plan, region["regulator"])
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = runner.invoke(args=["supervision", "draw", "redo", made.number, "--params",
                                 str(bad)])
    assert result.exit_code == 2 and "expected a JSON object" in result.output
