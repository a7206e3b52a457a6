"""Bulk import (declare.bulk.imports): every row checked by the rules of the form and API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.models import Role
from declare.bulk import imports
from declare.models import Declaration, DeclarationVersion, VersionStatus
from tests.declare import en_request_fixture, owner_fixture  # noqa: F401
from tests.declare.import_helpers import clean_rows, decl_row, indicator_row, product_row, zipped
from tests.factories import valid_uscc

pytestmark = pytest.mark.usefixtures("en_request")


def count(model) -> int:
    from core.extensions import db

    return db.session.scalar(select(func.count()).select_from(model))


def run(owner, rows, *, write=True, pdfs=None, **kw):
    from core.extensions import db

    report = imports.run(zipped(rows, pdfs), "import.zip", user=owner, write=write, **kw)
    db.session.commit()
    return report


def test_clean_file_is_imported_and_published(db, owner, catalogue):
    report = run(owner, clean_rows(owner.enterprise.uscc))
    assert report.ok and report.wrote, report.errors
    assert count(Declaration) == 3
    versions = db.session.scalars(select(DeclarationVersion)).all()
    assert {v.status for v in versions} == {VersionStatus.PUBLISHED}
    assert {v.submitted_by_id for v in versions} == {owner.id}
    assert {v.via_association_id for v in versions} == {None}
    assert sorted(w["outcome"] for w in report.written) == ["new"] * 3


def test_check_only_writes_nothing(db, owner, catalogue):
    report = run(owner, clean_rows(owner.enterprise.uscc), write=False)
    assert report.ok and not report.wrote
    assert report.outcome == {"D1": "new", "D2": "new", "D3": "new"}
    assert count(Declaration) == 0


def bad_file(owner_uscc: str) -> tuple[dict, dict]:
    """One bad cell of each kind, one declaration each, and the cell each should name."""
    rows = clean_rows(owner_uscc, 11)
    d, p, i = rows["declarations"], rows["products"], rows["indicators"]
    d[0]["uscc"] = owner_uscc[:-1] + ("0" if owner_uscc[-1] != "0" else "1")  # bad check char
    d[1]["standard_code"] = "Q/SJX 0002"  # a number without its year
    p[2]["category"] = "washing_machine"  # unknown category
    i[3]["unit"] = "kg"  # incompatible with W/W
    i[4]["value"] = 3.0  # below the mandatory limit 3.30
    i[5]["value"] = 4.0  # below the recommended 4.50, no 明示
    i[6]["test_method"] = ""  # Art. 12
    p[7]["barcode"] = "6901234567890"  # wrong check digit
    d[9]["row_key"] = "D9"  # a duplicate row key (its products/indicators stay with D10? no: D10 has none)
    d[10]["text_file"] = "fake.pdf"  # not a PDF
    expected = {
        ("declarations", 2, "uscc"),
        ("declarations", 3, "standard_code"),
        ("products", 4, "category"),
        ("indicators", 5, "unit"),
        ("indicators", 6, "value"),
        ("indicators", 7, "mingshi"),
        ("indicators", 8, "test_method"),
        ("products", 9, "barcode"),
        ("declarations", 11, "row_key"),
        ("declarations", 12, "text_file"),
    }
    return rows, expected


def test_one_bad_cell_of_each_kind_gives_one_line_each_and_writes_nothing(db, owner, catalogue):
    rows, expected = bad_file(owner.enterprise.uscc)
    pdfs = {"std.pdf": __import__("tests.declare", fromlist=["pdf_bytes"]).pdf_bytes(), "fake.pdf": b"hello, not a pdf"}
    report = run(owner, rows, pdfs=pdfs)
    cells = [(e["sheet"], e["row"], e["column"]) for e in report.errors]
    # D10's products and indicators lose their declaration (its key is now D9): named too.
    orphans = {("products", 11, "row_key"), ("indicators", 11, "row_key")}
    assert set(cells) - orphans == expected, report.errors
    assert len([c for c in cells if c not in orphans]) == len(expected)  # one line each
    assert not report.wrote and count(Declaration) == 0
    assert all(e["message"] for e in report.errors)


def test_good_rows_only_writes_exactly_the_good_ones(db, owner, catalogue):
    rows = clean_rows(owner.enterprise.uscc, 3)
    rows["indicators"][1]["value"] = 3.0  # D2 violates the mandatory limit
    report = run(owner, rows, good_rows_only=True)
    assert report.wrote
    assert sorted(w["row_key"] for w in report.written) == ["D1", "D3"]
    assert report.bad == {"D2"}
    assert count(Declaration) == 2


def test_reimport_is_a_no_op_and_a_changed_row_becomes_a_revision(db, owner, catalogue):
    rows = clean_rows(owner.enterprise.uscc, 2)
    run(owner, rows)
    versions = count(DeclarationVersion)
    again = run(owner, rows)
    assert again.ok and again.outcome == {"D1": "unchanged", "D2": "unchanged"}
    assert count(DeclarationVersion) == versions and count(Declaration) == 2

    rows["indicators"][0]["value"] = 5.3
    changed = run(owner, rows)
    assert changed.outcome == {"D1": "revision", "D2": "unchanged"}, changed.errors
    assert count(Declaration) == 2 and count(DeclarationVersion) == versions + 1
    first = db.session.scalars(
        select(DeclarationVersion).where(DeclarationVersion.version_no == 1).order_by(DeclarationVersion.id)
    ).first()
    assert first.status is VersionStatus.SUPERSEDED
    assert first.indicators[0].value == 5.1  # the old version is kept as it was


def test_association_needs_the_enterprise_s_authorisation(db, owner, catalogue, make_user):
    from core.extensions import db as _db
    from declare.models import AssociationGrant

    association = make_user(Role.ASSOCIATION)
    refused = run(association, clean_rows(owner.enterprise.uscc, 1))
    assert [e["column"] for e in refused.errors] == ["uscc"]
    assert "authorised" in refused.errors[0]["message"]
    assert count(Declaration) == 0

    _db.session.add(AssociationGrant(enterprise_id=owner.enterprise.id, association_id=association.id))
    _db.session.commit()
    report = run(association, clean_rows(owner.enterprise.uscc, 1))
    assert report.ok and report.wrote
    version = _db.session.scalars(select(DeclarationVersion)).one()
    assert version.submitted_by_id == association.id and version.via_association_id == association.id


def test_an_enterprise_cannot_import_for_another(db, owner, catalogue):
    report = run(owner, clean_rows(valid_uscc(), 1))
    assert [e["column"] for e in report.errors] == ["uscc"]
    assert count(Declaration) == 0


def test_template_has_the_sheets_lists_and_an_example_row(db, catalogue):
    from io import BytesIO

    from openpyxl import load_workbook

    book = load_workbook(BytesIO(imports.template_bytes()))
    assert {"declarations", "products", "indicators", "lists"} <= set(book.sheetnames)
    assert book["declarations"]["A1"].value == "行键\nrow_key"
    assert book["declarations"]["A2"].value == "#示例"
    assert book["products"].data_validations.dataValidation
    assert "room_ac" in [c.value for c in book["lists"]["C"]]


def test_bulk_written_declaration_equals_one_made_by_the_operations(db, owner, catalogue, client):
    """What the executemany path writes is what create_draft + attach_text + publish write:
    same version fields, products, indicators with links and comparison, references; and
    the public search finds it."""
    from declare import operations
    from tests.declare import enterprise_data, pdf_bytes, upload

    run(owner, clean_rows(owner.enterprise.uscc, 1))
    bulk = db.session.scalars(select(DeclarationVersion)).one()
    data = enterprise_data(catalogue, std_code="Q/SJX 0999-2024")
    data["products"][0].update(model="KFR-1", name="挂壁式空调", brand="")
    data["indicators"] = data["indicators"][:1]
    data["indicators"][0]["name"] = "APF"
    one = operations.create_draft(owner.enterprise, data)
    operations.attach_text(one, upload(pdf_bytes()))
    operations.publish(one)
    db.session.commit()

    def shape(v):
        return (
            v.status, v.version_no, v.std_name, v.std_enterprise_code, v.std_year, v.disclosure,
            v.commitment_accepted, v.approved_by, v.declaration.status, v.declaration.current_version_id == v.id,
            [(p.name, p.model, p.category_id, p.barcode, p.attributes) for p in v.products],
            [(i.kind, i.name, i.benchmark_indicator_id, i.op, i.value, i.unit, i.test_method,
              i.cmp_status, i.cmp_grade, i.cmp_margin_pct, i.cmp_guaranteed) for i in v.indicators],
            [r.standard_id for r in v.references], v.text_attachment is not None,
        )

    assert shape(bulk) == shape(one)
    assert bulk.indicators[0].cmp_grade  # compared, graded
    found = client.get("/api/v1/declarations", query_string={"q": "Q/SJX 0001-2024"}).get_json()
    assert [d["id"] for d in found] == [bulk.declaration_id]


def test_csv_files_in_a_zip_are_read_like_the_workbook(db, owner, catalogue):
    import csv
    import io
    import zipfile

    from declare.bulk import workbook as wb
    from tests.declare import pdf_bytes

    rows = clean_rows(owner.enterprise.uscc, 2)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for sheet in wb.SHEETS:
            text = io.StringIO()
            writer = csv.writer(text)
            order = [en for en, _zh in wb.COLUMNS[sheet]]
            writer.writerow([wb.header(en, zh) for en, zh in wb.COLUMNS[sheet]])
            for values in rows[sheet]:
                writer.writerow(["" if values.get(c) is None else values.get(c) for c in order])
            z.writestr(f"{sheet}.csv", text.getvalue().encode("utf-8-sig"))
        z.writestr("std.pdf", pdf_bytes())
    from core.extensions import db as _db

    report = imports.run(archive.getvalue(), "import.zip", user=owner, write=True)
    _db.session.commit()
    assert report.ok and report.wrote, report.errors
    assert count(Declaration) == 2


def test_a_file_that_is_not_a_workbook_is_refused_with_a_file_error(db, owner, catalogue):
    report = imports.run(b"name,model\n", "x.csv", user=owner, write=True)
    assert report.file_errors and not report.wrote


def test_a_revision_in_progress_is_reported_not_overwritten(db, owner, catalogue):
    from declare import operations

    rows = clean_rows(owner.enterprise.uscc, 1)
    run(owner, rows)
    declaration = db.session.scalars(select(Declaration)).one()
    operations.start_revision(declaration)
    db.session.commit()
    rows["indicators"][0]["value"] = 5.3
    report = run(owner, rows)
    assert [(e["sheet"], e["column"]) for e in report.errors] == [("declarations", "standard_code")]
    assert not report.wrote and count(DeclarationVersion) == 2
