"""Catalogue import (benchmarks.importer): every row checked, all or nothing, set-based writes."""

from __future__ import annotations

import io
import zipfile
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import event, func, select

from benchmarks import importer
from benchmarks.importer import COLUMNS, import_file, import_rows, read_table, to_csv, to_xlsx
from benchmarks.models import (
    BenchmarkIndicator,
    ProductCategory,
    Standard,
    StandardKind,
    StandardStatus,
)
from benchmarks.signals import catalogue_changed
from core.models import AuditLog

STD_HEADER = list(COLUMNS["standards"])
CAT_HEADER = list(COLUMNS["categories"])
IND_HEADER = list(COLUMNS["indicators"])


def std_row(code, title="房间空气调节器能效限定值及能效等级", status="现行", effective="2020-07-01",
            withdrawn="", replaced_by="", kind="", source="test source", title_en=""):
    return [code, kind, title, title_en, status, effective, withdrawn, replaced_by, source]


def ind_row(**kw):
    row = {
        "category": "room_ac",
        "code": "apf",
        "name": "全年能源消耗效率",
        "name_en": "APF",
        "unit": "W/W",
        "direction": "higher",
        "mandatory_limit": "3.30",
        "mandatory_source": "GB 21455-2019",
        "recommended_value": "4.50",
        "recommended_source": "GB 21455-2019",
        "grades": "1级:5.00|2级:4.50|3级:4.00|4级:3.50|5级:3.30",
        "valid_from": "2020-07-01",
        "valid_to": "",
        "citation": "GB 21455-2019 表",
        "source": "GB 21455-2019",
        "applies": "",
    }
    row.update(kw)
    return [row[c] for c in IND_HEADER]


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def base(db):
    """A category and two standards, imported through the importer itself."""
    cat = import_rows("categories", [CAT_HEADER, ["room_ac", "房间空气调节器", "Room AC", "GB 21455-2019 第1章"]])
    std = import_rows(
        "standards",
        [
            STD_HEADER,
            std_row("GB 21455-2019"),
            std_row("GB/T 7725-2022", title="房间空气调节器", effective="2023-05-01"),
        ],
    )
    assert cat.ok and std.ok, (cat.errors, std.errors)
    db.session.commit()


def test_good_standards_file_is_inserted_then_unchanged_then_updated(db):
    table = [
        STD_HEADER,
        std_row("GB 21455-2019", kind="national_mandatory"),
        std_row("GB 12021.3-2010", status="废止", effective="2010-06-01", withdrawn="2020-07-01",
                replaced_by="GB 21455-2019"),
        std_row("gb／t 7725－2022", title="房间空气调节器", status="in_force", effective="2023-05-01"),
        std_row("GB 7718-2025", title="预包装食品标签通则", status="即将实施", effective="2027-03-16"),
    ]
    report = import_rows("standards", table)
    assert report.ok, report.errors
    assert (report.inserted, report.updated, report.unchanged) == (4, 0, 0)
    db.session.commit()
    old = db.session.scalar(select(Standard).where(Standard.code == "GB 12021.3-2010"))
    assert old.status is StandardStatus.WITHDRAWN
    assert old.withdrawn_date == date(2020, 7, 1)
    assert old.replaced_by_code == "GB 21455-2019"
    assert (old.prefix, old.number, old.part, old.year) == ("GB", "12021", "3", 2010)
    gbt = db.session.scalar(select(Standard).where(Standard.number == "7725"))
    assert gbt.code == "GB/T 7725-2022"  # normalised from full-width, lowercase input
    assert gbt.kind is StandardKind.NATIONAL_RECOMMENDED

    again = import_rows("standards", table)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)

    table[1] = std_row("GB 21455-2019", title="新标题")
    preview = import_rows("standards", table)  # a change of an existing edition: shown first
    assert preview.needs_confirmation and not preview.written
    assert [(c["key"], c["field"], c["new"]) for c in preview.changes] == [
        ("GB 21455-2019", "title", "新标题")
    ]
    third = import_rows("standards", table, confirm=True)
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 3)
    assert third.changed_standard_ids == []  # a title is not a status change
    db.session.commit()
    assert db.session.scalar(select(Standard.title).where(Standard.number == "21455")) == "新标题"


def test_bad_rows_are_each_reported_and_nothing_is_written(db):
    table = [
        STD_HEADER,
        std_row("GB 21455-2019"),  # row 2: fine
        std_row("ABCDE 1-2020"),  # row 3: prefix
        std_row("GB 8978-96"),  # row 4: 2-digit year
        std_row("GB/T 1-2020", status="maybe"),  # row 5: status
        std_row("GB/T 2-2020", status="废止"),  # row 6: withdrawn without date/replacement
        std_row("GB/T 3-2020", kind="national_mandatory"),  # row 7: kind vs prefix
        std_row("GB/T 4-2020", effective="2020/07/01"),  # row 8: date format
        std_row("GB/T 5-2020", replaced_by="GB/T 999-2024"),  # row 9: unknown replacement
        std_row("GB 21455-2019"),  # row 10: duplicate of row 2
        std_row("GB/T 6-2020", status="即将实施", effective=""),  # row 11: upcoming without date
        std_row("GB/T 7-2020", source=""),  # row 12: no source
        std_row("GB/T 8-2020", effective="2021-01-01", withdrawn="2020-01-01"),  # row 13: order
        std_row("GB/T 9-2020", replaced_by="GB/T 9-2020"),  # row 14: replaces itself
    ]
    report = import_rows("standards", table)
    assert not report.ok and not report.written
    got = {(e.row, e.column) for e in report.errors}
    assert got == {
        (3, "code"),
        (4, "code"),
        (5, "status"),
        (6, "withdrawn_date"),
        (7, "kind"),
        (8, "effective_date"),
        (9, "replaced_by"),
        (10, "code"),
        (11, "effective_date"),
        (12, "source"),
        (13, "withdrawn_date"),
        (14, "replaced_by"),
    }
    messages = {(e.row, e.column): e.message for e in report.errors}
    assert "write 1996" in messages[(4, "code")]
    assert "row 2" in messages[(10, "code")]
    assert "national_recommended" in messages[(7, "kind")]
    assert "YYYY-MM-DD" in messages[(8, "effective_date")]
    assert count(db, Standard) == 0
    assert count(db, AuditLog) == 0


def test_indicator_rows_are_checked_against_direction_units_and_sources(db, base):
    table = [
        IND_HEADER,
        ind_row(),  # 2: fine
        ind_row(code="a", grades="1级:4.00|2级:4.50"),  # 3: not ordered for "higher"
        ind_row(code="b", recommended_value="3.00"),  # 4: recommended worse than mandatory
        ind_row(code="c", unit="blorb/W"),  # 5: unknown unit
        ind_row(code="d", mandatory_source="GB 99999-2020"),  # 6: source not in catalogue
        ind_row(code="e", mandatory_source="GB/T 7725-2022"),  # 7: limit from a recommended std
        ind_row(code="f", category="nope"),  # 8: unknown category
        ind_row(code="g", direction="sideways"),  # 9: direction
        ind_row(code="h", grades="1级:5.00|2级:5.00"),  # 10: equal thresholds
        ind_row(code="i", grades="1级:5.00|2级:3.00"),  # 11: grade below the mandatory limit
        ind_row(),  # 12: duplicate key of row 2
        ind_row(code="j", mandatory_source=""),  # 13: limit without its standard
        ind_row(code="k", valid_from="2020-13-01"),  # 14: bad date
        ind_row(code="l", mandatory_limit="abc"),  # 15: not a number
        ind_row(code="m", valid_to="2019-01-01"),  # 16: valid_to before valid_from
        ind_row(code="n", grades="1级=5"),  # 17: grade syntax
    ]
    report = import_rows("indicators", table)
    got = {(e.row, e.column) for e in report.errors}
    assert got == {
        (3, "grades"),
        (4, "recommended_value"),
        (5, "unit"),
        (6, "mandatory_source"),
        (7, "mandatory_source"),
        (8, "category"),
        (9, "direction"),
        (10, "grades"),
        (11, "grades"),
        (12, "code"),
        (13, "mandatory_source"),
        (14, "valid_from"),
        (15, "mandatory_limit"),
        (16, "valid_to"),
        (17, "grades"),
    }
    assert count(db, BenchmarkIndicator) == 0


def test_good_indicator_file_stores_grades_best_first_and_sources(db, base):
    table = [
        IND_HEADER,
        ind_row(),
        ind_row(code="noise", name="噪声", unit="dB", direction="越小越好", mandatory_limit="",
                mandatory_source="", recommended_value="", recommended_source="",
                grades="1级：40；2级：45"),
    ]
    report = import_rows("indicators", table)
    assert report.ok, report.errors
    db.session.commit()
    apf = db.session.scalar(select(BenchmarkIndicator).where(BenchmarkIndicator.code == "apf"))
    assert apf.grades == [["1级", 5.0], ["2级", 4.5], ["3级", 4.0], ["4级", 3.5], ["5级", 3.3]]
    assert apf.mandatory_source.code == "GB 21455-2019"
    assert apf.recommended_value == 4.5
    noise = db.session.scalar(select(BenchmarkIndicator).where(BenchmarkIndicator.code == "noise"))
    assert noise.direction == "lower" and noise.grades == [["1级", 40.0], ["2级", 45.0]]
    assert noise.mandatory_limit is None and noise.mandatory_source_id is None


def test_header_problems_are_reported_on_row_one(db):
    report = import_rows("categories", [["code", "name", "colour"], ["a", "b", "c"]])
    got = {(e.row, e.column) for e in report.errors}
    assert got == {(1, "source"), (1, "colour")}
    empty = import_rows("categories", [CAT_HEADER])
    assert [(e.row, e.message) for e in empty.errors] == [(2, "The file has a header but no rows.")]


def test_chinese_headers_are_accepted(db):
    table = [["标准号", "标准名称", "状态", "实施日期", "来源"], ["GB 21455-2019", "房间空调", "现行", "2020-07-01", "封面"]]
    report = import_rows("standards", table)
    assert report.ok, report.errors
    assert count(db, Standard) == 1


def test_encodings_utf8_with_and_without_bom_and_gb18030(db):
    text = "code,name,name_en,source\nroom_ac,房间空气调节器,Room AC,GB 21455-2019 第1章\n"
    assert import_file("categories", text.encode("utf-8")).ok
    assert import_file("categories", b"\xef\xbb\xbf" + text.encode("utf-8")).ok
    gb = import_file("categories", text.replace("房间空气调节器", "坐便器").encode("gb18030"))
    assert gb.ok and gb.updated == 1
    assert db.session.scalar(select(ProductCategory.name)) == "坐便器"
    bad = import_file("categories", b"code,name\n\xff\xfe\xfa\xfb\x81\x20,x\n")
    assert [(e.row, e.column) for e in bad.errors] == [(0, "file")]
    assert "UTF-8" in bad.errors[0].message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "not a CSV or .xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".xls"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"),
        (b"", "empty"),
    ],
)
def test_wrong_file_type_is_recognised_by_content(db, data, fragment):
    report = import_file("standards", data)
    assert not report.ok
    assert report.errors[0].row == 0 and report.errors[0].column == "file"
    assert fragment in report.errors[0].message
    assert count(db, Standard) == 0


def test_a_zip_that_is_not_a_workbook_is_refused(db):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("standards.csv", "code\n")
    report = import_file("standards", buf.getvalue())
    assert "zip archive" in report.errors[0].message


def test_xlsx_import_and_round_trip(db):
    rows = [
        CAT_HEADER,
        ["room_ac", "房间空气调节器", "Room AC", "GB 21455-2019"],
    ]
    assert import_file("categories", to_xlsx(rows)).ok
    standards = [
        STD_HEADER,
        std_row("GB 21455-2019"),
        std_row("GB 12021.3-2010", status="withdrawn", effective="2010-06-01",
                withdrawn="2020-07-01", replaced_by="GB 21455-2019"),
    ]
    xlsx = to_xlsx(standards)
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zf:
        assert "[Content_Types].xml" in zf.namelist()
    report = import_file("standards", xlsx)
    assert report.ok and report.inserted == 2, report.errors
    indicators = import_file("indicators", to_xlsx([IND_HEADER, ind_row()]))
    assert indicators.ok, indicators.errors
    db.session.commit()

    for kind in ("categories", "standards", "indicators"):
        exported = importer.export_rows(kind)
        again = import_file(kind, to_xlsx(exported))
        assert again.ok, again.errors
        assert (again.inserted, again.updated) == (0, 0), kind
        csv_again = import_file(kind, to_csv(exported))
        assert (csv_again.inserted, csv_again.updated) == (0, 0), kind


def test_xlsx_date_and_number_cells_are_read(db, base):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(IND_HEADER)
    row = ind_row()
    row[IND_HEADER.index("valid_from")] = date(2020, 7, 1)
    row[IND_HEADER.index("mandatory_limit")] = 3.3
    row[IND_HEADER.index("recommended_value")] = 4.5
    ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    report = import_file("indicators", buf.getvalue())
    assert report.ok, report.errors
    db.session.commit()
    apf = db.session.scalar(select(BenchmarkIndicator))
    assert apf.valid_from == date(2020, 7, 1) and apf.mandatory_limit == 3.3


@contextmanager
def counting_queries(db):
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def test_import_is_set_based_not_a_query_per_row(db):
    def table(n):
        return [STD_HEADER] + [std_row(f"GB/T {1000 + i}-2020") for i in range(n)]

    with counting_queries(db) as small:
        assert import_rows("standards", table(3)).ok
    db.session.rollback()
    with counting_queries(db) as large:
        assert import_rows("standards", table(60)).ok
    assert len(large) == len(small)
    db.session.rollback()
    assert import_rows("standards", table(60)).ok
    db.session.commit()
    def changed(n):
        rows = table(n)
        for row in rows[1:]:
            row[2] = "changed"
        return rows

    with counting_queries(db) as few:
        assert import_rows("standards", changed(3), confirm=True).updated == 3
    db.session.rollback()
    with counting_queries(db) as updates:
        report = import_rows("standards", changed(60), confirm=True)
    assert report.updated == 60
    assert len(updates) == len(few)  # preview, impact, update and history: set-based


def test_status_changes_send_catalogue_changed_and_are_audited(db):
    received: list[list[int]] = []

    def receiver(sender, standard_ids=(), **kw):
        received.append(list(standard_ids))

    table = [STD_HEADER, std_row("GB 21455-2019"), std_row("GB 12021.3-2010", effective="2010-06-01")]
    with catalogue_changed.connected_to(receiver):
        assert import_rows("standards", table).ok
        db.session.commit()
        assert received == []  # inserts change no declaration
        table[2] = std_row("GB 12021.3-2010", status="废止", effective="2010-06-01",
                           withdrawn="2020-07-01", replaced_by="GB 21455-2019")
        report = import_rows("standards", table, confirm=True)
        db.session.commit()
    old_id = db.session.scalar(select(Standard.id).where(Standard.number == "12021"))
    assert report.changed_standard_ids == [old_id]
    assert received == [[old_id]]
    log = db.session.scalars(
        select(AuditLog).where(AuditLog.entity == "standards", AuditLog.action == "update")
    ).all()
    assert len(log) == 1
    assert log[0].entity_id == str(old_id)
    assert log[0].after["status"] == "withdrawn"
    assert log[0].before["status"] == "in_force"
    assert count(db, AuditLog) == 3  # two inserts and one update


def test_read_table_reads_csv_cells_trimmed(db):
    assert read_table("a, b\n c ,d\n".encode()) == [["a", "b"], ["c", "d"]]


def test_unknown_kind_is_a_programming_error(db):
    with pytest.raises(ValueError):
        import_rows("products", [["x"]])
