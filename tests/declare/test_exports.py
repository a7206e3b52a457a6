"""Exports of declarations (declare.exports): the public search with its filters and an
enterprise's own list, as streamed CSV and XLSX, every row, through the pages and the API."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from core.extensions import db
from declare import exports, queries
from tests.declare import catalogue_data, en_request_fixture, publish_enterprise  # noqa: F401
from tests.factories import make_enterprise_user


def _csv(resp) -> list[list[str]]:
    body = resp.get_data()
    assert body.startswith("\ufeff".encode())  # BOM: Excel reads UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def many(db, en_request, catalogue, monkeypatch):
    """Seven published declarations of two enterprises in two regions (the stream chunks are
    two rows each, so every export spans several chunks)."""
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    cq = make_enterprise_user(region="500112", name="重庆空调有限公司").enterprise
    sd = make_enterprise_user(region="370212", name="青岛洁具有限公司").enterprise
    made = []
    for i in range(4):
        made.append(publish_enterprise(
            cq, catalogue, std_code=f"Q/CQ {i + 1:04d}-2024", std_name=f"空调器{i}",
            products=[{"name": "变频空调", "model": f"KFR-{i}", "category_id": catalogue["room_ac"].id},
                      {"name": "柜机", "model": f"LW-{i}", "category_id": catalogue["room_ac"].id}],
        ))
    for i in range(3):
        made.append(publish_enterprise(
            sd, catalogue, std_code=f"Q/SD {i + 1:04d}-2024", std_name=f"空调器{i}",
            products=[{"name": "挂机", "model": f"GJ-{i}", "category_id": catalogue["room_ac"].id}],
        ))
    return {"cq": cq, "sd": sd, "versions": made}


def test_csv_export_has_every_row_of_the_search_in_its_order(client, many):
    resp = client.get("/declarations/export.csv")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert resp.is_streamed
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = _csv(resp)
    assert rows[0][0] == "声明ID declaration_id"
    assert len(rows) == 1 + 7
    page = queries.published_versions(per_page=100).items
    assert [int(r[0]) for r in rows[1:]] == [v.declaration_id for v in page]
    first = next(r for r in rows[1:] if r[4] == "Q/CQ 0001-2024")
    assert first[11] == "变频空调 KFR-0; 柜机 LW-0"  # both products, one row
    assert first[6] == "重庆空调有限公司" and first[2] == "现行有效"


@pytest.mark.parametrize("query,expected", [
    ({"region": "50"}, 4),
    ({"region": "370212"}, 3),
    ({"q": "重庆空调"}, 4),
    ({"q": "Q/SD 0002-2024"}, 1),
    ({"q": "GJ-1"}, 1),
    ({"kind": "catalogue"}, 0),
    ({"status": "abolished"}, 0),
])
def test_export_applies_the_page_filters(client, many, query, expected):
    rows = _csv(client.get("/declarations/export.csv", query_string=query))
    page = queries.published_versions(per_page=100, **query)
    assert len(rows) - 1 == expected == page.total
    assert [int(r[0]) for r in rows[1:]] == [v.declaration_id for v in page.items]


def test_bad_filter_re_renders_the_search_page(client, many):
    resp = client.get("/declarations/export.csv?region=abc")
    assert resp.status_code == 400
    assert "Region is the" in resp.get_data(as_text=True)
    assert client.get("/declarations/export.xlsx?status=draft").status_code == 400


def test_xlsx_export_opens_with_openpyxl(client, many):
    resp = client.get("/declarations/export.xlsx", query_string={"region": "50"})
    assert resp.status_code == 200
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(resp.get_data()), read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][4] == "标准编号 standard_number"
    assert sorted(r[4] for r in rows[1:]) == [f"Q/CQ {i:04d}-2024" for i in range(1, 5)]


def test_xlsx_continues_on_a_new_sheet_past_the_row_limit(app, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    data = b"".join(exports.xlsx_stream(([i, f"r{i}"] for i in range(5)), [("a", "甲"), ("b", "乙")]))
    wb = load_workbook(io.BytesIO(data), read_only=True)
    sheets = [list(ws.iter_rows(values_only=True)) for ws in wb.worksheets]
    assert [len(s) for s in sheets] == [3, 3, 2]  # header + 2 rows each: nothing cut
    assert [r[0] for s in sheets for r in s[1:]] == [0, 1, 2, 3, 4]


def test_enterprise_exports_only_its_own_declarations_with_drafts(client, many, login_as, catalogue):
    from declare import operations

    owner = many["cq"].user
    operations.create_draft(many["cq"], catalogue_data(catalogue))
    db.session.commit()
    login_as(owner)
    rows = _csv(client.get("/my/declarations/export.csv"))
    assert rows[0][2] == "声明状态 declaration_status"
    assert len(rows) - 1 == 5
    assert {r[7] for r in rows[1:]} == {"重庆空调有限公司"}
    assert sum(r[2] == "草稿" for r in rows[1:]) == 1
    wb = load_workbook(io.BytesIO(client.get("/my/declarations/export.xlsx").get_data()))
    assert wb.active.max_row == 6


def test_own_export_needs_an_enterprise(client, login_as):
    assert client.get("/my/declarations/export.csv").status_code in (302, 401)
    from core.models import Role

    login_as(Role.REGULATOR)
    assert client.get("/my/declarations/export.csv").status_code == 403


def test_api_export_of_search_and_of_own(client, many, token_for):
    resp = client.get("/api/v1/declarations/export.csv", query_string={"region": "37"})
    assert resp.status_code == 200
    assert len(_csv(resp)) - 1 == 3
    assert client.get("/api/v1/declarations/export.csv?region=x").status_code == 422
    assert client.get("/api/v1/declarations/export.csv?mine=1").status_code == 401
    headers = token_for(many["sd"].user)
    rows = _csv(client.get("/api/v1/declarations/export.csv?mine=1", headers=headers))
    assert len(rows) - 1 == 3 and {r[7] for r in rows[1:]} == {"青岛洁具有限公司"}
    xlsx = client.get("/api/v1/declarations/export.xlsx?mine=1", headers=headers)
    assert load_workbook(io.BytesIO(xlsx.get_data())).active.max_row == 4


def test_postgresql_copy_writes_what_python_writes(app, many, catalogue, monkeypatch):
    """On PostgreSQL the CSV comes from COPY; it must be byte for byte what the generic path
    writes (quotes, commas, empty fields, the Beijing day, the products). On SQLite both
    calls take the generic path."""
    ent = many["cq"]
    publish_enterprise(ent, catalogue, std_code="Q/CQ 0099-2024", std_name='带"引号", 逗号',
                       products=[{"name": "甲,乙", "model": 'M"1', "category_id": catalogue["room_ac"].id}])
    monkeypatch.setattr(exports, "CHUNK_BYTES", 64)
    for rows, cols in [(lambda: exports.search_rows(), exports.COLUMNS),
                       (lambda: exports.search_rows(q="重庆"), exports.COLUMNS),
                       (lambda: exports.enterprise_rows(ent.id), exports.OWN_COLUMNS)]:
        fast = b"".join(exports.csv_stream(rows(), cols))
        generic = b"".join(exports.csv_stream(list(rows()), cols))
        assert fast == generic
        assert len(list(csv.reader(io.StringIO(fast.decode("utf-8-sig"))))) > 4
