"""Bulk import in a real browser: an enterprise downloads the template, fills it (openpyxl),
uploads it, sees the report with a bad row, fixes it, imports, and finds the declarations on
the public search."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import load_workbook

from core.models import Role
from declare.bulk import workbook as wb
from tests.declare import pdf_bytes
from tests.declare.import_helpers import clean_rows
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def _fill(template: bytes, rows: dict) -> bytes:
    book = load_workbook(io.BytesIO(template))
    for sheet in wb.SHEETS:
        ws = book[sheet]
        order = [en for en, _zh in wb.COLUMNS[sheet]]
        for i, values in enumerate(rows[sheet], start=3):  # row 2 keeps the example
            for col, name in enumerate(order, start=1):
                ws.cell(row=i, column=col, value=values.get(name))
    out = io.BytesIO()
    book.save(out)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("declarations.xlsx", out.getvalue())
        z.writestr("std.pdf", pdf_bytes())
    return archive.getvalue()


def test_template_fill_upload_fix_import_search(live_server, page, make_user, catalogue, tmp_path):
    user = make_user(Role.ENTERPRISE)
    page.goto(live_server + "/login")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.click("button.primary[type=submit]")

    page.goto(live_server + "/my/imports")
    with page.expect_download() as download:
        page.click("#template-link")
    template = (tmp_path / "template.xlsx")
    download.value.save_as(template)

    rows = clean_rows(user.enterprise.uscc, 2)
    rows["declarations"][0]["standard_code"] = "Q/BRW 0001-2025"
    rows["declarations"][1]["standard_code"] = "Q/BRW 0002-2025"
    rows["indicators"][1]["value"] = 3.0  # below the mandatory limit: refused
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_fill(template.read_bytes(), rows))
    page.set_input_files("#file", str(bad))
    page.click("#import-form button[type=submit]")
    page.locator("#import-errors").wait_for()
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 1 and "indicators" in errors.first.inner_text()

    rows["indicators"][1]["value"] = 5.2  # fixed
    good = tmp_path / "good.zip"
    good.write_bytes(_fill(template.read_bytes(), rows))
    page.goto(live_server + "/my/imports")
    page.set_input_files("#file", str(good))
    page.click("#import-form button[type=submit]")
    page.locator("#confirm-form").wait_for()
    page.click("#confirm-form button[type=submit]")
    page.locator("#import-written").wait_for()
    assert page.locator("#import-written li").count() == 2

    page.goto(live_server + "/declarations?q=Q/BRW")
    body = page.locator("main").inner_text()
    assert "Q/BRW 0001-2025" in body and "Q/BRW 0002-2025" in body
