"""The shipped seed catalogue (benchmarks/data): loads cleanly and holds the real figures."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import func, select

from core.clock import local_today
from benchmarks import queries
from benchmarks.compare import Declared, compare
from benchmarks.importer import SEED_DIR, load_directory
from benchmarks.models import (
    BenchmarkIndicator,
    ProductCategory,
    Standard,
    StandardKind,
    StandardStatus,
)
from benchmarks.numbers import parse_standard_number


@pytest.fixture
def seed(db):
    reports = load_directory()
    assert all(r.ok for r in reports), [(r.kind, r.errors) for r in reports]
    db.session.commit()
    return reports


def std(db, code: str) -> Standard:
    parsed = parse_standard_number(code)
    row = db.session.scalar(
        select(Standard).where(
            Standard.prefix == parsed.prefix,
            Standard.number == parsed.number,
            Standard.part == parsed.part,
            Standard.year == parsed.year,
        )
    )
    assert row is not None, code
    return row


def indicator(db, category: str, code: str, valid_from: date | None = None) -> BenchmarkIndicator:
    stmt = (
        select(BenchmarkIndicator)
        .join(BenchmarkIndicator.category)
        .where(ProductCategory.code == category, BenchmarkIndicator.code == code)
    )
    if valid_from:
        stmt = stmt.where(BenchmarkIndicator.valid_from == valid_from)
    return db.session.scalars(stmt).one()


def test_seed_loads_with_zero_errors_and_is_idempotent(db, seed):
    counts = {r.kind: r.inserted for r in seed}
    assert counts == {"categories": 7, "standards": 34, "indicators": 15}
    again = load_directory()
    assert all(r.ok for r in again)
    assert all((r.inserted, r.updated) == (0, 0) for r in again)


def test_every_seed_row_names_its_source():
    for name in ("standards", "categories", "indicators"):
        with open(SEED_DIR / f"{name}.csv", encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows, name
        for row in rows:
            assert row["source"].strip(), (name, row)


def test_room_air_conditioner_apf(db, seed):
    apf = indicator(db, "room_ac", "apf")
    assert apf.unit == "W/W" and apf.direction == "higher"
    assert apf.grades == [["1级", 5.0], ["2级", 4.5], ["3级", 4.0], ["4级", 3.5], ["5级", 3.3]]
    assert apf.mandatory_limit == 3.30 and apf.mandatory_source.code == "GB 21455-2019"
    assert apf.recommended_value == 4.50 and apf.recommended_source.code == "GB 21455-2019"
    assert apf.valid_from == date(2020, 7, 1)
    gb = std(db, "GB 21455-2019")
    assert gb.kind is StandardKind.NATIONAL_MANDATORY and gb.effective_date == date(2020, 7, 1)
    for old in ("GB 12021.3-2010", "GB 21455-2013"):
        row = std(db, old)
        assert row.status is StandardStatus.WITHDRAWN
        assert row.withdrawn_date == date(2020, 7, 1)
        assert row.replaced_by_code == "GB 21455-2019"


def test_led_toilet_faucet_refrigerator_water_heater(db, seed):
    led = indicator(db, "led_downlight", "efficacy")
    assert (led.unit, led.direction, led.mandatory_limit, led.recommended_value) == ("lm/W", "higher", 60, 80)
    assert led.grades == [["1级", 95.0], ["2级", 80.0], ["3级", 60.0]]
    assert led.mandatory_source.code == "GB 30255-2019"

    toilet = indicator(db, "toilet", "avg_water")
    assert (toilet.unit, toilet.direction, toilet.mandatory_limit, toilet.recommended_value) == ("L", "lower", 6.4, 5.0)
    assert toilet.grades == [["1级", 4.0], ["2级", 5.0], ["3级", 6.4]]
    assert toilet.valid_from == date(2018, 8, 1)
    assert std(db, "GB 25502-2017").effective_date == date(2018, 8, 1)
    assert std(db, "GB 25502-2010").replaced_by_code == "GB 25502-2017"

    faucet = indicator(db, "faucet", "flow_rate")
    assert (faucet.unit, faucet.direction, faucet.mandatory_limit, faucet.recommended_value) == ("L/min", "lower", 7.5, 6.0)
    assert faucet.grades == [["1级", 5.0], ["2级", 6.0], ["3级", 7.5]]
    assert "待核实" in faucet.source  # the 1级 figure is flagged as unverified

    fridge = indicator(db, "refrigerator", "eei")
    assert (fridge.unit, fridge.direction, fridge.mandatory_limit, fridge.recommended_value) == ("%", "lower", 80, 50)
    assert [g[1] for g in fridge.grades] == [40, 50, 60, 70, 80]
    assert fridge.mandatory_source.code == "GB 12021.2-2015"

    loss = indicator(db, "storage_water_heater", "standby_loss")
    assert [g[1] for g in loss.grades] == [0.6, 0.7, 0.8, 0.9, 1.0]
    assert (loss.mandatory_limit, loss.recommended_value, loss.direction) == (1.0, 0.7, "lower")
    output = indicator(db, "storage_water_heater", "hot_water_output")
    # 3级 and 4级 share 55 %: merged, so a value of 55 % reaches 3级.
    assert output.grades == [["1级", 70.0], ["2级", 60.0], ["3级", 55.0], ["5级", 50.0]]
    assert "合并" in output.source
    assert (output.mandatory_limit, output.recommended_value, output.direction) == (50, 60, "higher")


def test_mandatory_limits_come_from_mandatory_standards(db, seed):
    for row in db.session.scalars(select(BenchmarkIndicator)):
        if row.mandatory_limit is not None:
            assert row.mandatory_source.kind is StandardKind.NATIONAL_MANDATORY


def test_each_kind_of_standard_is_represented(db, seed):
    kinds = set(db.session.scalars(select(Standard.kind).distinct()))
    assert kinds == set(StandardKind)
    for code in ("GB/T 7725-2022", "GB/T 6952-2015", "GB/T 18883-2022", "QB/T 1334-2013"):
        std(db, code)
    assert std(db, "GB/T 7725-2004").replaced_by_code == "GB/T 7725-2022"


def test_upcoming_edition_does_not_retire_the_one_it_replaces(db, seed):
    old, new = std(db, "GB 7718-2011"), std(db, "GB 7718-2025")
    assert new.effective_date == date(2027, 3, 16)
    assert old.replaced_by_code == "GB 7718-2025"
    before = date(2027, 3, 15)
    assert old.status_on(before) is StandardStatus.IN_FORCE
    assert new.status_on(before) is StandardStatus.UPCOMING
    assert old.status_on(date(2027, 3, 16)) is StandardStatus.WITHDRAWN
    assert new.status_on(date(2027, 3, 16)) is StandardStatus.IN_FORCE
    in_force = queries.search_standards("7718", status="in_force", status_on=before)
    assert [s.code for s in in_force.items] == ["GB 7718-2011"]
    upcoming = queries.search_standards("7718", status="upcoming", status_on=before)
    assert [s.code for s in upcoming.items] == ["GB 7718-2025"]


def test_benchmarks_follow_editions_over_time(db, seed):
    toilet = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "toilet"))
    assert [b.code for b in queries.benchmarks_on(toilet.id, date(2020, 1, 1))] == ["avg_water"]
    # GB 25502-2024 replaced the 2017 edition on 2025-05-01; its figures are not in the seed.
    assert queries.benchmarks_on(toilet.id, date(2025, 5, 1)) == []
    assert queries.benchmarks_on(toilet.id, date(2018, 7, 31)) == []


def test_seed_figures_judge_declared_values(db, seed):
    apf = queries.to_compare_benchmark(indicator(db, "room_ac", "apf"))
    assert compare(Declared(op="ge", unit="W/W", value=5.1), apf).grade == "1级"
    assert compare(Declared(op="ge", unit="W/W", value=3.2), apf).status == "violation"
    toilet = queries.to_compare_benchmark(indicator(db, "toilet", "avg_water"))
    result = compare(Declared(op="le", unit="升", value=5.5), toilet)
    assert result.status == "below_recommended" and result.grade == "3级"
    assert result.mandatory_source == "GB 25502-2017"


def test_seed_totals(db, seed):
    assert db.session.scalar(select(func.count(ProductCategory.id))) == 7


def test_two_categories_have_three_benchmarks_in_force(db, seed):
    """An evaluation plan needs at least 3 core indicators of one category (ranking)."""
    today = local_today()
    counts = {
        c.code: len(queries.benchmarks_on(c.id, today)) for c in queries.categories()
    }
    assert counts["room_ac"] == 6
    assert counts["gas_water_heater"] == 3
    assert sorted(code for code, n in counts.items() if n >= 3) == ["gas_water_heater", "room_ac"]


def test_room_air_conditioner_capacity_bands_and_cooling_only(db, seed):
    """GB 21455-2019 grades heat pumps by APF and cooling-only units by SEER, per capacity band."""
    expected = {
        "apf": [5.00, 4.50, 4.00, 3.50, 3.30],
        "apf_cc7100": [4.50, 4.00, 3.50, 3.30, 3.20],
        "apf_cc14000": [4.20, 3.70, 3.30, 3.20, 3.10],
        "seer": [5.80, 5.40, 5.00, 3.90, 3.70],
        "seer_cc7100": [5.50, 5.10, 4.40, 3.80, 3.60],
        "seer_cc14000": [5.20, 4.70, 4.00, 3.70, 3.50],
    }
    for code, grades in expected.items():
        row = indicator(db, "room_ac", code)
        assert [g[1] for g in row.grades] == grades, code
        assert [g[0] for g in row.grades] == ["1级", "2级", "3级", "4级", "5级"]
        assert (row.unit, row.direction) == ("W/W", "higher")
        assert row.mandatory_limit == grades[-1] and row.recommended_value == grades[1]
        assert row.mandatory_source.code == row.recommended_source.code == "GB 21455-2019"
        assert row.valid_from == date(2020, 7, 1) and row.valid_to is None
        assert "未核对" in row.source  # the table numbers are not checked against the text
    large = queries.to_compare_benchmark(indicator(db, "room_ac", "apf_cc14000"))
    assert compare(Declared(op="ge", unit="W/W", value=3.75), large).grade == "2级"
    assert compare(Declared(op="ge", unit="W/W", value=3.05), large).status == "violation"


def test_gas_water_heater(db, seed):
    eta1 = indicator(db, "gas_water_heater", "eta_rated")
    assert (eta1.unit, eta1.direction) == ("%", "higher")
    assert (eta1.mandatory_limit, eta1.recommended_value) == (86, 89)
    assert eta1.grades == [["1级", 98.0], ["2级", 89.0], ["3级", 86.0]]
    eta2 = indicator(db, "gas_water_heater", "eta_half")
    assert (eta2.unit, eta2.direction) == ("%", "higher")
    assert (eta2.mandatory_limit, eta2.recommended_value) == (82, 85)
    assert eta2.grades == [["1级", 94.0], ["2级", 85.0], ["3级", 82.0]]
    for row in (eta1, eta2):
        assert row.mandatory_source.code == row.recommended_source.code == "GB 20665-2015"
        assert "待核实" in row.source
    nox = indicator(db, "gas_water_heater", "nox")
    assert (nox.unit, nox.direction) == ("mg/kWh", "lower")
    assert (nox.mandatory_limit, nox.recommended_value) == (260, None)
    # NOx classes count the other way round: class 5 is the cleanest.
    assert nox.grades == [
        ["5级", 70.0], ["4级", 100.0], ["3级", 150.0], ["2级", 200.0], ["1级", 260.0]
    ]
    assert nox.mandatory_source.code == "GB 6932-2015" and "待核实" in nox.source
    for old, new in (("GB 20665-2006", "GB 20665-2015"), ("GB 6932-2001", "GB 6932-2015")):
        assert std(db, old).replaced_by_code == new
        assert std(db, old).status_on(local_today()) is StandardStatus.WITHDRAWN
        assert std(db, new).status_on(local_today()) is StandardStatus.IN_FORCE

    low_nox = compare(Declared(op="le", unit="mg/kWh", value=65), queries.to_compare_benchmark(nox))
    assert low_nox.grade == "5级" and low_nox.status != "violation"
    eta = queries.to_compare_benchmark(eta1)
    assert compare(Declared(op="ge", unit="%", value=87), eta).status == "below_recommended"
    assert compare(Declared(op="ge", unit="%", value=85), eta).status == "violation"


def test_cli_load_prints_the_report_and_imports(app, db):
    result = app.test_cli_runner().invoke(args=["catalogue", "load"])
    assert result.exit_code == 0, result.output
    assert "standards: 34 row(s): 34 inserted" in result.output
    assert "indicators: 15 row(s): 15 inserted" in result.output
    assert db.session.scalar(select(func.count(Standard.id))) == 34


def test_cli_load_with_a_bad_dir_exits_non_zero_and_writes_nothing(app, db, tmp_path):
    for name in ("categories", "standards", "indicators"):
        (tmp_path / f"{name}.csv").write_bytes((SEED_DIR / f"{name}.csv").read_bytes())
    lines = (tmp_path / "indicators.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("W/W", "blorb")
    (tmp_path / "indicators.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["catalogue", "load", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "row 2, unit" in result.output
    assert db.session.scalar(select(func.count(Standard.id))) == 0
    assert db.session.scalar(select(func.count(ProductCategory.id))) == 0


def test_cli_import_one_table(app, db, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("code,name,source\nfan,电风扇,GB 12021.9\n", encoding="utf-8")
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["catalogue", "import", "categories", str(path)])
    assert ok.exit_code == 0 and "1 inserted" in ok.output
    path.write_text("code,name\nfan,电风扇\n", encoding="utf-8")
    bad = runner.invoke(args=["catalogue", "import", "categories", str(path)])
    assert bad.exit_code == 1 and "Missing column 'source'" in bad.output


def test_benchmark_for_and_standard_by_code(db, seed):
    apf = indicator(db, "room_ac", "apf")
    found = queries.benchmark_for(apf.id)
    assert found is not None and found.code == "apf" and found.mandatory_source.code == "GB 21455-2019"
    assert queries.benchmark_for(999999) is None
    assert queries.standard_by_code("gb21455—2019").id == std(db, "GB 21455-2019").id
    assert queries.standard_by_code("GB 1-2001") is None
    assert queries.standard_by_code("not a number") is None
    codes = [c.code for c in queries.categories()]
    assert codes[:3] == ["faucet", "gas_water_heater", "led_downlight"]
