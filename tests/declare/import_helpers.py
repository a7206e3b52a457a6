"""Build bulk-import files for the tests (openpyxl through declare.bulk.workbook)."""

from __future__ import annotations

import io
import zipfile

from declare.bulk import workbook as wb
from tests.declare import GOOD_BARCODE, pdf_bytes


def decl_row(key: str, uscc: str, number: str, **kw) -> dict:
    row = {
        "row_key": key,
        "uscc": uscc,
        "kind": "enterprise",
        "standard_code": number,
        "std_name": "房间空气调节器",
        "disclosure": "full_text",
        "approved_by": "张工",
        "commitment_accepted": "是",
        "reference_codes": "GB/T 7725-2022",
        "text_file": "std.pdf",
    }
    row.update(kw)
    return row


def product_row(key: str, model: str = "KFR-35GW/A1", **kw) -> dict:
    row = {"row_key": key, "name": "挂壁式空调", "model": model, "category": "room_ac", "barcode": GOOD_BARCODE}
    row.update(kw)
    return row


def indicator_row(key: str, **kw) -> dict:
    row = {
        "row_key": key,
        "kind": "performance",
        "name": "APF",
        "benchmark": "apf",
        "op": "ge",
        "value": 5.1,
        "unit": "W/W",
        "test_method": "GB/T 7725-2022 附录 C",
    }
    row.update(kw)
    return row


def clean_rows(uscc: str, n: int = 3) -> dict:
    keys = [f"D{i}" for i in range(1, n + 1)]
    return {
        "declarations": [decl_row(k, uscc, f"Q/SJX 00{i:02d}-2024") for i, k in enumerate(keys, 1)],
        "products": [product_row(k, f"KFR-{i}") for i, k in enumerate(keys, 1)],
        "indicators": [indicator_row(k) for k in keys],
    }


def zipped(rows: dict, pdfs: dict | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("declarations.xlsx", wb.workbook(rows))
        for name, data in (pdfs if pdfs is not None else {"std.pdf": pdf_bytes()}).items():
            archive.writestr(name, data)
    return out.getvalue()
