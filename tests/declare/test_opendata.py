"""The daily open-data release (declare.opendata): files, schema and sums; immutability (a
re-run the same day is a no-op, yesterday's files untouched by today's job); the public page
and downloads; the job and the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from datetime import timedelta

import pyarrow.parquet as pq
import pytest

from declare import opendata, operations, queries
from declare.tasks import release_open_data
from tests.declare import en_request_fixture, publish_enterprise  # noqa: F401
from tests.factories import make_enterprise_user


@pytest.fixture
def released(app, db, en_request, catalogue, tmp_path):
    app.config["OPEN_DATA_DIR"] = str(tmp_path / "opendata")
    ent = make_enterprise_user(region="500112", name="重庆开放数据有限公司").enterprise
    a = publish_enterprise(ent, catalogue, std_code="Q/OD 0001-2024", std_name="空调器甲")
    b = publish_enterprise(ent, catalogue, std_code="Q/OD 0002-2024", std_name="空调器乙")
    ended = publish_enterprise(ent, catalogue, std_code="Q/OD 0003-2024", std_name="已废止")
    operations.abolish(ended.declaration, "停产")
    db.session.commit()
    return {"a": a, "b": b, "ended": ended, "root": tmp_path / "opendata"}


def _snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_release_files_schema_and_sums_verify(released):
    today = queries.local_today()
    result = release_open_data()
    assert result["written"] and result["rows"] == {"declarations": 2, "products": 2, "indicators": 4}
    folder = released["root"] / today.isoformat()
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([
        "SHA256SUMS", "declarations.csv", "declarations.parquet", "indicators.csv",
        "indicators.parquet", "products.csv", "products.parquet", "schema.json",
    ])
    sums = dict(
        reversed(line.split("  ")) for line in (folder / "SHA256SUMS").read_text().splitlines()
    )
    assert set(sums) == set(names) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    schema = json.loads((folder / "schema.json").read_text(encoding="utf-8"))
    for table, spec in schema["tables"].items():
        parquet = pq.read_table(folder / f"{table}.parquet")
        assert parquet.column_names == [c["name"] for c in spec["columns"]]
        assert [str(t) for t in parquet.schema.types] == [c["type"] for c in spec["columns"]]
        assert all(c["zh"] and c["en"] for c in spec["columns"])
        rows = list(csv.reader(io.StringIO((folder / f"{table}.csv").read_text("utf-8-sig"))))
        assert rows[0] == [c["name"] for c in spec["columns"]]
        assert len(rows) - 1 == parquet.num_rows == spec["rows"]
    decl = pq.read_table(folder / "declarations.parquet").to_pylist()
    assert sorted(r["standard_number"] for r in decl) == ["Q/OD 0001-2024", "Q/OD 0002-2024"]
    assert {r["enterprise"] for r in decl} == {"重庆开放数据有限公司"}
    assert not os.access(folder / "declarations.csv", os.W_OK) or os.geteuid() == 0


def test_a_second_run_the_same_day_changes_nothing(released, catalogue):
    release_open_data()
    folder = released["root"] / queries.local_today().isoformat()
    before = _snapshot(folder)
    ent = released["a"].declaration.enterprise
    publish_enterprise(ent, catalogue, std_code="Q/OD 0009-2024", std_name="新的")
    again = release_open_data()
    assert again["written"] is False
    assert _snapshot(folder) == before
    assert [p.name for p in released["root"].iterdir()] == [folder.name]  # no temp left


def test_yesterdays_files_are_unchanged_by_todays_job(released, catalogue):
    today = queries.local_today()
    yesterday = today - timedelta(days=1)
    first = release_open_data(yesterday.isoformat())
    assert first["written"] and first["rows"]["declarations"] == 0  # published today: not then
    old = _snapshot(released["root"] / yesterday.isoformat())
    result = release_open_data()
    assert result["written"] and result["rows"]["declarations"] == 2
    assert _snapshot(released["root"] / yesterday.isoformat()) == old


def test_a_future_day_is_refused(released):
    with pytest.raises(ValueError):
        opendata.release(queries.local_today() + timedelta(days=1))


def test_public_page_lists_days_and_serves_files(client, released):
    assert "No release yet" in client.get("/open-data").get_data(as_text=True)
    release_open_data()
    day = queries.local_today().isoformat()
    html = client.get("/open-data").get_data(as_text=True)
    assert day in html and "declarations.parquet" in html
    digest = hashlib.sha256(
        (released["root"] / day / "products.csv").read_bytes()).hexdigest()
    assert digest in html
    for name, mimetype in [("declarations.csv", "text/csv"),
                           ("declarations.parquet", "application/vnd.apache.parquet"),
                           ("schema.json", "application/json"),
                           ("SHA256SUMS", "text/plain")]:
        resp = client.get(f"/open-data/{day}/{name}")
        assert resp.status_code == 200, name
        assert resp.mimetype == mimetype
        assert resp.get_data() == (released["root"] / day / name).read_bytes()
        resp.close()
    assert client.get(f"/open-data/{day}/..%2Fsecret").status_code == 404
    assert client.get(f"/open-data/{day}/other.csv").status_code == 404
    assert client.get("/open-data/2001-01-01/schema.json").status_code == 404
    assert 'href="/open-data"' in client.get("/").get_data(as_text=True)


def test_cli_release_and_rerun(app, released):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["opendata", "release"])
    assert out.exit_code == 0 and "written" in out.output
    out = runner.invoke(args=["opendata", "release"])
    assert out.exit_code == 0 and "nothing changed" in out.output
    bad = runner.invoke(args=["opendata", "release", "--day", "2999-01-01"])
    assert bad.exit_code != 0 and "future" in bad.output
