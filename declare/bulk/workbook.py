"""The bulk-import file: the template, reading it (xlsx, or CSV files in a ZIP) and the report
workbook with the errors marked in a column. No database, no Flask request needed.

Layout: three sheets linked by a row key (行键):

* ``declarations`` — one row per declaration (the enterprise's USCC, kind, standard number …,
  the PDF of the standard text named in ``text_file``, found in the ZIP beside the workbook);
* ``products`` — one row per product, its declaration's row key first;
* ``indicators`` — one row per indicator, its declaration's row key first.

Header cells hold the Chinese name, a line break and the English field name; the English
name decides the column (so columns may be reordered). Rows whose row key starts with ``#``
(the example rows of the template) and empty rows are skipped.
"""

from __future__ import annotations

import csv
import io
import threading
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

SHEETS = ("declarations", "products", "indicators")

#: (English field name, Chinese header) per sheet, in template order.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "declarations": (
        ("row_key", "行键"),
        ("uscc", "企业统一社会信用代码"),
        ("kind", "声明类型"),
        ("standard_code", "标准编号"),
        ("std_name", "企业标准名称"),
        ("disclosure", "公开方式"),
        ("approved_by", "内部批准人"),
        ("approved_on", "批准日期"),
        ("implemented_on", "实施日期"),
        ("commitment_accepted", "自我声明承诺"),
        ("mingshi_fewer", "指标少于推荐性标准的明示"),
        ("reference_codes", "规范性引用文件"),
        ("text_file", "标准文本PDF文件名"),
    ),
    "products": (
        ("row_key", "行键"),
        ("name", "产品名称"),
        ("model", "型号"),
        ("category", "产品类别"),
        ("specification", "规格"),
        ("common_name", "通用名称"),
        ("brand", "品牌"),
        ("barcode", "商品条码"),
        ("attributes", "产品属性"),
    ),
    "indicators": (
        ("row_key", "行键"),
        ("kind", "指标类型"),
        ("name", "指标名称"),
        ("benchmark", "对标指标代码"),
        ("op", "比较方式"),
        ("value", "数值"),
        ("low", "下限"),
        ("high", "上限"),
        ("text_value", "文字要求"),
        ("unit", "单位"),
        ("test_method", "检验方法"),
        ("mingshi", "明示"),
    ),
}
ERROR_COLUMN = ("errors", "错误")
KINDS = ("enterprise", "catalogue")
DISCLOSURES = ("full_text", "indicators_only")
INDICATOR_KINDS = ("performance", "function")
OPS = ("ge", "le", "eq", "range")
YES_NO = ("是", "否")
#: "calamine" or "openpyxl" (perf/imports.py measures both).
READER = "calamine"
_LARGEST = "indicators"  # parsed in a thread of its own (``_read_xlsx``)


class FileError(ValueError):
    """The file cannot be read as an import file at all (``code``: a message key)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code, self.detail = code, detail


class Row:
    """One data row: its sheet, its 1-based row number in the sheet, its cells. The cells are
    a tuple and the field → position map is shared by the sheet's rows, and repeated texts
    are one string object: 700,000 rows fit in a few hundred MB."""

    __slots__ = ("sheet", "number", "cells", "index", "key")

    def __init__(
        self, sheet: str, number: int, cells: tuple, index: Mapping[str, int], key: str | None = None
    ) -> None:
        self.sheet, self.number, self.cells, self.index = sheet, number, cells, index
        if key is None:
            at = index.get("row_key")
            key = cell_text(cells[at]) if at is not None else ""
        #: the row key as text (read many times per row: computed once)
        self.key = key

    def get(self, name: str) -> Any:
        i = self.index.get(name)
        return self.cells[i] if i is not None else None

    @property
    def values(self) -> dict[str, Any]:
        return {name: self.cells[i] for name, i in self.index.items()}


@dataclass
class ImportFile:
    rows: dict[str, list[Row]] = field(default_factory=lambda: {s: [] for s in SHEETS})
    pdfs: dict[str, bytes] = field(default_factory=dict)  # file name in the ZIP → content
    unknown_headers: list[tuple[str, str]] = field(default_factory=list)  # (sheet, header)


def header(field_name: str, chinese: str) -> str:
    return f"{chinese}\n{field_name}"


def cell_text(value: Any) -> str:
    """A cell as text: numbers without a spurious ``.0``, dates as yyyy-MM-dd."""
    if type(value) is str:  # the common case first; the same result as below
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _field_of(sheet: str, raw: Any) -> str | None:
    text = cell_text(raw)
    if not text:
        return None
    names = {en: en for en, _zh in COLUMNS[sheet]} | {zh: en for en, zh in COLUMNS[sheet]}
    for part in (text.splitlines()[-1].strip(), text.splitlines()[0].strip(), text):
        if part in names:
            return names[part]
    return ""


def _rows_of(sheet: str, table: Iterable[Iterable[Any]], out: ImportFile) -> None:
    it = iter(table)
    try:
        head = list(next(it))
    except StopIteration:
        return
    fields = [_field_of(sheet, h) for h in head]
    for raw, name in zip(head, fields):
        if name == "":
            out.unknown_headers.append((sheet, cell_text(raw)))
    wanted = [(i, name) for i, name in enumerate(fields) if name and name != "errors"]
    index = {name: k for k, (_i, name) in enumerate(wanted)}
    positions = [i for i, _name in wanted]
    key_at = index.get("row_key")
    texts: dict[str, str] = {}  # one object per distinct text
    one = texts.setdefault
    rows = out.rows[sheet]
    width = len(fields)
    for number, raw in enumerate(it, start=2):
        if len(raw) < width:
            raw = list(raw) + [None] * (width - len(raw))
        cells = tuple([one(value, value) if type(value) is str else value for value in map(raw.__getitem__, positions)])
        key = cells[key_at] if key_at is not None else None
        if type(key) is str:
            text = key.strip()
            if text.startswith("#"):
                continue  # an example row of the template
            if not text and _blank(cells):
                continue
            rows.append(Row(sheet, number, cells, index, text))
            continue
        if _blank(cells):
            continue
        if isinstance(key, str) and key.lstrip().startswith("#"):
            continue  # (a str subclass)
        rows.append(Row(sheet, number, cells, index))


def _blank(cells: tuple) -> bool:
    return all(value is None or (type(value) is str and not value.strip()) for value in cells)


def read(data: bytes, filename: str) -> ImportFile:
    """Read an import file: an ``.xlsx`` workbook, or a ZIP holding one workbook (or the CSV
    files ``declarations.csv``, ``products.csv``, ``indicators.csv``) and the PDFs."""
    out = ImportFile()
    name = (filename or "").lower()
    if data[:2] != b"PK":
        raise FileError("format")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except zipfile.BadZipFile:
        raise FileError("format") from None
    if "[Content_Types].xml" in names or name.endswith(".xlsx"):
        _read_xlsx(data, out)
        return out
    workbooks = [n for n in names if n.lower().endswith(".xlsx") and not n.startswith("__MACOSX")]
    csvs = {n.rsplit("/", 1)[-1].lower(): n for n in names if n.lower().endswith(".csv")}
    if len(workbooks) > 1:
        raise FileError("several_workbooks", ", ".join(workbooks))
    if workbooks:
        _read_xlsx(archive.read(workbooks[0]), out)
    elif all(f"{s}.csv" in csvs for s in SHEETS):
        for sheet in SHEETS:
            text = archive.read(csvs[f"{sheet}.csv"]).decode("utf-8-sig")
            _rows_of(sheet, csv.reader(io.StringIO(text)), out)
    else:
        raise FileError("no_sheets")
    for member in names:
        if member.lower().endswith(".pdf") and not member.startswith("__MACOSX"):
            out.pdfs[member.rsplit("/", 1)[-1]] = archive.read(member)
    return out


def _read_xlsx(data: bytes, out: ImportFile) -> None:
    """With python-calamine (Rust; measured ~10× faster than openpyxl's read-only mode on the
    100,000-declaration workbook of perf/imports.py) when installed, else openpyxl."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # pragma: no cover - calamine is a pinned dependency
        CalamineWorkbook = None
    if CalamineWorkbook is not None and READER == "calamine":
        try:
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        except Exception:  # noqa: BLE001  (a damaged or foreign file)
            raise FileError("format") from None
        missing = [s for s in SHEETS if s not in book.sheet_names]
        if missing:
            raise FileError("missing_sheets", ", ".join(missing))
        # calamine parses a sheet without holding the GIL: the largest sheet (indicators, six
        # rows a declaration) is parsed in a thread of its own, from a workbook object of its
        # own (one is not shared between threads), while this thread reads the other sheets
        # into rows. Rows are made row by row: a sheet is never one list of Python rows.
        loaded: dict[str, Any] = {}

        def load() -> None:
            try:
                other = CalamineWorkbook.from_filelike(io.BytesIO(data))
                loaded["sheet"] = other.get_sheet_by_name(_LARGEST)
            except BaseException as exc:  # noqa: BLE001  (raised again in this thread)
                loaded["error"] = exc

        worker = threading.Thread(target=load, name="import-read-sheet", daemon=True)
        worker.start()
        try:
            for sheet in SHEETS:
                if sheet != _LARGEST:
                    _rows_of(sheet, book.get_sheet_by_name(sheet).iter_rows(), out)
        finally:
            worker.join()
        if "error" in loaded:
            raise loaded["error"]
        sheet = loaded.pop("sheet")
        _rows_of(_LARGEST, sheet.iter_rows(), out)
        del sheet
        _trim_heap()
        return
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001  (openpyxl raises many types for a damaged file)
        raise FileError("format") from None
    try:
        missing = [s for s in SHEETS if s not in book.sheetnames]
        if missing:
            raise FileError("missing_sheets", ", ".join(missing))
        for sheet in SHEETS:
            _rows_of(sheet, book[sheet].iter_rows(values_only=True), out)
    finally:
        book.close()


def _trim_heap() -> None:
    """Give the freed memory of calamine's sheets back to the system (glibc's
    ``malloc_trim``): the largest sheet was parsed in another thread, whose malloc arena keeps
    its ~450 MB (100,000 declarations) mapped after they are freed, where the rows that the
    import makes next cannot reuse them. No-op without glibc."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# --------------------------------------------------------------------------- writing


_HEAD_FONT = Font(bold=True)
_BAD_FILL = PatternFill("solid", fgColor="FFF2CC")


def _lists_sheet(book: Workbook, lists: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """A hidden sheet ``lists`` with one column per list; returns list → range reference."""
    sheet = book.create_sheet("lists")
    refs = {}
    for col, (name, values) in enumerate(lists.items(), start=1):
        values = list(values) or [""]
        letter = sheet.cell(row=1, column=col).column_letter
        sheet.cell(row=1, column=col, value=name)
        for i, value in enumerate(values, start=2):
            sheet.cell(row=i, column=col, value=value)
        refs[name] = f"lists!${letter}$2:${letter}${len(values) + 1}"
    sheet.sheet_state = "hidden"
    return refs


def template(
    *,
    categories: Iterable[str],
    units: Iterable[str],
    example: Mapping[str, Mapping[str, Any]] | None = None,
) -> bytes:
    """The empty import workbook: the three sheets with bilingual headers, drop-down lists
    (kinds, disclosure, categories, indicator kinds, comparison operators, units, yes/no) and
    an example row per sheet (row key ``#示例``: skipped on import)."""
    book = Workbook()
    book.remove(book.active)
    for sheet in SHEETS:
        ws = book.create_sheet(sheet)
        for col, (en, zh) in enumerate(COLUMNS[sheet], start=1):
            cell = ws.cell(row=1, column=col, value=header(en, zh))
            cell.font = _HEAD_FONT
            ws.column_dimensions[cell.column_letter].width = max(14, len(zh) * 2 + 2)
        ws.freeze_panes = "A2"
    refs = _lists_sheet(
        book,
        {
            "kind": KINDS,
            "disclosure": DISCLOSURES,
            "category": categories,
            "indicator_kind": INDICATOR_KINDS,
            "op": OPS,
            "unit": units,
            "yes_no": YES_NO,
        },
    )
    lists_of = {
        "declarations": {"kind": "kind", "disclosure": "disclosure", "commitment_accepted": "yes_no"},
        "products": {"category": "category"},
        "indicators": {"kind": "indicator_kind", "op": "op", "unit": "unit"},
    }
    for sheet, columns in lists_of.items():
        ws = book[sheet]
        order = [en for en, _zh in COLUMNS[sheet]]
        for field_name, list_name in columns.items():
            letter = ws.cell(row=1, column=order.index(field_name) + 1).column_letter
            # Units may be typed beyond the list (any convertible unit is accepted).
            strict = list_name != "unit"
            check = DataValidation(
                type="list", formula1=refs[list_name], allow_blank=True, showErrorMessage=strict
            )
            check.add(f"{letter}2:{letter}200000")
            ws.add_data_validation(check)
    for sheet, values in (example or {}).items():
        ws = book[sheet]
        order = [en for en, _zh in COLUMNS[sheet]]
        for col, name in enumerate(order, start=1):
            ws.cell(row=2, column=col, value=values.get(name))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def workbook(rows: Mapping[str, Iterable[Mapping[str, Any]]], *, errors: Mapping | None = None) -> bytes:
    """A workbook of the three sheets from rows (dicts by field name); with ``errors``
    ((sheet, row number) → messages) an extra column lists each row's errors, marked yellow."""
    book = Workbook(write_only=False)
    book.remove(book.active)
    for sheet in SHEETS:
        ws = book.create_sheet(sheet)
        order = [en for en, _zh in COLUMNS[sheet]]
        heads = [header(en, zh) for en, zh in COLUMNS[sheet]]
        if errors is not None:
            heads.append(header(*ERROR_COLUMN))
        ws.append(heads)
        for number, values in enumerate(rows.get(sheet, ()), start=2):
            number = values.get("_number", number)
            line = [values.get(name) for name in order]
            bad = (errors or {}).get((sheet, number))
            if errors is not None:
                line.append("\n".join(bad or ()))
            ws.append(line)
            if bad:
                for cell in ws[ws.max_row]:
                    cell.fill = _BAD_FILL
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

