"""Import the reference catalogue from CSV or Excel: validate every row, then write all or nothing.

Three kinds of table, loaded in this order when they depend on each other:

- ``categories``: code, name, name_en, source
- ``standards``: code, kind, title, title_en, status, effective_date, withdrawn_date,
  replaced_by, source
- ``indicators``: category, code, name, name_en, unit, direction, mandatory_limit,
  mandatory_source, recommended_value, recommended_source, grades, valid_from, valid_to,
  citation, source, applies (optional: which products of the category the row applies to,
  ``ac_type = heat_pump; rated_cooling_capacity (4500, 7100] W``, see benchmarks.applicability)

Headers may also be the Chinese column names in ``COLUMN_ALIASES``. The upload is recognised by
its content, never by its name: an ``.xlsx`` is a zip holding ``[Content_Types].xml``; anything
else must be text in UTF-8 (with or without BOM) or GB18030. Every row is checked and every
problem reported as (row, column, message), with rows numbered as a spreadsheet shows them
(header = row 1). If anything is wrong nothing is written.

Messages are in the user's language (Flask-Babel; the CLI gets the default locale). Column names
in them stay as in the file's header (``code``, ``valid_from`` …): that is what the user edits.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from flask_babel import gettext as _
from sqlalchemy import select

from benchmarks import applicability, operations
from benchmarks.messages import number_error_message
from benchmarks.models import (
    BenchmarkIndicator,
    ProductCategory,
    Standard,
    StandardKind,
    StandardStatus,
)
from benchmarks.numbers import NumberError, kind_for_prefix, parse_standard_number
from benchmarks.units import UnitError, convert
from core.extensions import db

__all__ = [
    "COLUMNS",
    "KINDS",
    "SEED_DIR",
    "ImportFileError",
    "ImportReport",
    "RowError",
    "export_rows",
    "import_file",
    "import_rows",
    "load_directory",
    "read_table",
    "to_csv",
    "to_xlsx",
]

ImportKind = Literal["categories", "standards", "indicators"]
KINDS: tuple[ImportKind, ...] = ("categories", "standards", "indicators")
SEED_DIR = Path(__file__).resolve().parent / "data"

COLUMNS: dict[str, tuple[str, ...]] = {
    "categories": ("code", "name", "name_en", "source"),
    "standards": (
        "code",
        "kind",
        "title",
        "title_en",
        "status",
        "effective_date",
        "withdrawn_date",
        "replaced_by",
        "source",
    ),
    "indicators": (
        "category",
        "code",
        "name",
        "name_en",
        "unit",
        "direction",
        "mandatory_limit",
        "mandatory_source",
        "recommended_value",
        "recommended_source",
        "grades",
        "valid_from",
        "valid_to",
        "citation",
        "source",
        "applies",
    ),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "categories": ("code", "name", "source"),
    "standards": ("code", "title", "status", "source"),
    "indicators": ("category", "code", "name", "unit", "direction", "valid_from", "source"),
}
COLUMN_ALIASES: dict[str, str] = {
    "标准号": "code",
    "标准编号": "code",
    "类别": "kind",
    "标准类别": "kind",
    "标准名称": "title",
    "英文名称": "title_en",
    "状态": "status",
    "实施日期": "effective_date",
    "废止日期": "withdrawn_date",
    "代替标准": "replaced_by",
    "被代替为": "replaced_by",
    "来源": "source",
    "出处": "source",
    "代码": "code",
    "名称": "name",
    "英文名": "name_en",
    "产品类别": "category",
    "单位": "unit",
    "方向": "direction",
    "限定值": "mandatory_limit",
    "限定值来源": "mandatory_source",
    "推荐值": "recommended_value",
    "推荐值来源": "recommended_source",
    "等级": "grades",
    "生效日期": "valid_from",
    "失效日期": "valid_to",
    "引用条款": "citation",
    "适用条件": "applies",
}
STATUS_VALUES: dict[str, StandardStatus] = {
    "in_force": StandardStatus.IN_FORCE,
    "现行": StandardStatus.IN_FORCE,
    "现行有效": StandardStatus.IN_FORCE,
    "upcoming": StandardStatus.UPCOMING,
    "即将实施": StandardStatus.UPCOMING,
    "withdrawn": StandardStatus.WITHDRAWN,
    "废止": StandardStatus.WITHDRAWN,
    "被代替": StandardStatus.WITHDRAWN,
}
KIND_VALUES: dict[str, StandardKind] = {k.value: k for k in StandardKind} | {
    "强制性国家标准": StandardKind.NATIONAL_MANDATORY,
    "推荐性国家标准": StandardKind.NATIONAL_RECOMMENDED,
    "行业标准": StandardKind.INDUSTRY,
    "地方标准": StandardKind.LOCAL,
    "团体标准": StandardKind.GROUP,
}
DIRECTION_VALUES = {
    "higher": "higher",
    "越大越好": "higher",
    "越高越好": "higher",
    "lower": "lower",
    "越小越好": "lower",
    "越低越好": "lower",
}
MAX_LEN = {
    ("standards", "title"): 300,
    ("standards", "title_en"): 300,
    ("categories", "code"): 40,
    ("categories", "name"): 120,
    ("categories", "name_en"): 120,
    ("indicators", "code"): 40,
    ("indicators", "name"): 120,
    ("indicators", "name_en"): 120,
    ("indicators", "unit"): 30,
    ("indicators", "grades"): 2000,
    ("indicators", "applies"): 2000,
}
_UNIT_PROBE = "kg"  # any known unit: converting to it tells "unknown" from "other quantity"


class ImportFileError(ValueError):
    """The upload as a whole cannot be read (wrong type, encoding, no header)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RowError:
    """One problem: spreadsheet row (header = 1; 0 = the file itself), column, message."""

    row: int
    column: str
    message: str


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_standard_ids: list[int] = field(default_factory=list)
    written: bool = False
    # What the import changes in existing standard editions and benchmark rows (old → new) and
    # how many declarations in force each changed row's comparison touches: shown, and written
    # only when confirmed.
    changes: list[dict] = field(default_factory=list)
    affected: dict[str, int] = field(default_factory=dict)
    needs_confirmation: bool = False
    new_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, row: int, column: str, message: str) -> None:
        self.errors.append(RowError(row, column, message))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def summary(self) -> str:
        if self.errors:
            return (
                f"{self.kind}: {len(self.errors)} error(s) in {self.rows} row(s); "
                "nothing written"
            )
        if self.needs_confirmation and not self.written:
            rows = len({c["key"] for c in self.changes})
            return (
                f"{self.kind}: {len(self.changes)} change(s) to {rows} existing row(s), "
                f"{sum(self.affected.values())} declaration comparison(s) affected; nothing "
                "written until confirmed (--confirm)"
            )
        return (
            f"{self.kind}: {self.rows} row(s): {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )


# ---------------------------------------------------------------- reading files


def _is_xlsx(data: bytes) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "[Content_Types].xml" in zf.namelist()
    except zipfile.BadZipFile:
        return False


def _wrong_type_message(data: bytes) -> str:
    """Why a binary upload is refused, naming what it is (recognised by content)."""
    import filetype

    kind = filetype.guess(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return _(
            "This is an old Excel 97-2003 (.xls) or other OLE file, not a CSV or .xlsx file; "
            "save it as .xlsx or CSV."
        )
    if data.startswith(b"PK\x03\x04"):
        return _(
            "This is a zip archive that is not an Excel workbook, not a CSV or .xlsx file; "
            "upload the workbook (.xlsx) or a CSV file."
        )
    if kind is not None:
        return _(
            "This is a file of type %(type)s, not a CSV or .xlsx file; upload the table as .xlsx "
            "or CSV.",
            type=kind.mime,
        )
    return _("This is binary data, not a CSV or .xlsx file; upload the table as .xlsx or CSV.")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value).strip()


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise ImportFileError(
            "xlsx",
            _(
                "The Excel file cannot be read (%(detail)s); open it in Excel, save it again as "
                ".xlsx, or save it as CSV (UTF-8).",
                detail=exc,
            ),
        ) from exc
    try:
        ws = wb.worksheets[0]
        return [[_cell(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                "encoding",
                _(
                    "The file starts with a UTF-8 byte order mark but is not valid UTF-8 "
                    "(%(detail)s); save it again as CSV (UTF-8).",
                    detail=exc,
                ),
            ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            "encoding",
            _("The file is neither UTF-8 nor GB18030 text; save it as CSV (UTF-8) or as .xlsx."),
        ) from exc


def read_table(data: bytes) -> list[list[str]]:
    """The cells of an upload (first worksheet of an .xlsx, or CSV), header first."""
    if not data:
        raise ImportFileError(
            "empty", _("The file is empty; upload a CSV or .xlsx file with a header row.")
        )
    if _is_xlsx(data):
        return _read_xlsx(data)
    if b"\x00" in data[:8192] or data.startswith((b"\xd0\xcf\x11\xe0", b"PK\x03\x04", b"%PDF")):
        raise ImportFileError("type", _wrong_type_message(data))
    text = _decode(data)
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]


def _records(kind: str, table: list[list[str]], report: ImportReport) -> list[tuple[int, dict]]:
    """Rows as (spreadsheet row number, {column: value}), blank rows skipped."""
    known = COLUMNS[kind]
    if not table or not any(table[0]):
        report.add(
            1,
            "",
            _(
                "The header row is missing: the first row must name the columns (%(columns)s).",
                columns=", ".join(known),
            ),
        )
        return []
    header = []
    for name in table[0]:
        key = (name or "").strip().lstrip("\ufeff")
        key = COLUMN_ALIASES.get(key, key.lower())
        header.append(key)
    for col in REQUIRED[kind]:
        if col not in header:
            report.add(
                1,
                col,
                _(
                    "Missing column '%(column)s'; the columns are: %(columns)s.",
                    column=col,
                    columns=", ".join(known),
                ),
            )
    for name in header:
        if name and name not in known:
            report.add(
                1,
                name,
                _(
                    "Unknown column '%(column)s'; the columns are: %(columns)s.",
                    column=name,
                    columns=", ".join(known),
                ),
            )
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            report.add(
                1, name, _("Column '%(column)s' appears twice in the header.", column=name)
            )
        seen.add(name)
    if report.errors:
        return []
    out = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        record = {col: "" for col in known}
        for i, value in enumerate(cells):
            if i < len(header) and header[i]:
                record[header[i]] = value.strip()
            elif value.strip():
                report.add(
                    number,
                    f"#{i + 1}",
                    _(
                        "Cell %(position)d of this row has a value but the header names no "
                        "column there; remove the value or name the column.",
                        position=i + 1,
                    ),
                )
        out.append((number, record))
    return out


# ---------------------------------------------------------------- validation helpers


class _Row:
    """Collects the errors of one row while its values are converted."""

    def __init__(self, kind: str, number: int, record: dict, report: ImportReport) -> None:
        self.kind, self.number, self.record, self.report = kind, number, record, report
        self.bad = False

    def error(self, column: str, message: str) -> None:
        self.bad = True
        self.report.add(self.number, column, message)

    def text(self, column: str, required: bool = False) -> str:
        value = self.record.get(column, "").strip()
        if required and not value:
            self.error(column, _("%(column)s is required: fill in this cell.", column=column))
        limit = MAX_LEN.get((self.kind, column))
        if limit and len(value) > limit:
            self.error(
                column,
                _(
                    "%(column)s is %(length)d characters long; at most %(limit)d are allowed.",
                    column=column,
                    length=len(value),
                    limit=limit,
                ),
            )
        return value

    def day(self, column: str, required: bool = False) -> date | None:
        value = self.text(column, required)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.error(
                column,
                _(
                    "'%(value)s' is not a date; write it as YYYY-MM-DD, e.g. 2020-07-01.",
                    value=value,
                ),
            )
            return None

    def number_value(self, column: str) -> float | None:
        value = self.text(column)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            self.error(
                column,
                _(
                    "'%(value)s' is not a number; write digits with an optional decimal point, "
                    "e.g. 3.30.",
                    value=value,
                ),
            )
            return None
        if not math.isfinite(number):
            self.error(column, _("'%(value)s' is not a finite number.", value=value))
            return None
        return number


def _standard_keys_in_db() -> dict[tuple, tuple[int, Standard | None]]:
    rows = db.session.execute(
        select(Standard.id, Standard.prefix, Standard.number, Standard.part, Standard.year,
               Standard.kind, Standard.code)
    )
    return {(r.prefix, r.number, r.part, r.year): (r.id, r) for r in rows}


# ---------------------------------------------------------------- per kind


def _validate_categories(records, report: ImportReport) -> list[dict]:
    cleaned, seen = [], {}
    for number, record in records:
        row = _Row("categories", number, record, report)
        code = row.text("code", required=True)
        if code and not all(ch.isascii() and (ch.isalnum() or ch in "_-.") for ch in code):
            row.error(
                "code",
                _(
                    "'%(code)s': a category code may contain only ASCII letters, digits, '_', '-' "
                    "and '.'.",
                    code=code,
                ),
            )
        if code in seen:
            row.error(
                "code",
                _(
                    "Category %(code)s already appears in row %(row)d.",
                    code=code,
                    row=seen[code],
                ),
            )
        elif code:
            seen[code] = number
        data = {
            "code": code,
            "name": row.text("name", required=True),
            "name_en": row.text("name_en"),
            "source": row.text("source", required=True),
        }
        if not row.bad:
            cleaned.append(data)
    return cleaned


def _validate_standards(records, report: ImportReport) -> list[dict]:
    in_db = _standard_keys_in_db()
    parsed_rows: list[tuple[_Row, Any]] = []
    in_file: dict[tuple, int] = {}
    for number, record in records:
        row = _Row("standards", number, record, report)
        code = row.text("code", required=True)
        parsed = None
        if code:
            try:
                parsed = parse_standard_number(code)
            except NumberError as exc:
                row.error("code", number_error_message(exc))
        if parsed is not None:
            if parsed.key in in_file:
                row.error(
                    "code",
                    _(
                        "%(code)s already appears in row %(row)d.",
                        code=parsed.text,
                        row=in_file[parsed.key],
                    ),
                )
            else:
                in_file[parsed.key] = number
        parsed_rows.append((row, parsed))

    cleaned = []
    for row, parsed in parsed_rows:
        kind = None
        if parsed is not None:
            kind = kind_for_prefix(parsed.prefix)
            given = row.text("kind")
            if given:
                stated = KIND_VALUES.get(given) or KIND_VALUES.get(given.lower())
                if stated is None:
                    row.error(
                        "kind",
                        _(
                            "'%(value)s' is not a kind; use one of %(kinds)s (or leave the cell "
                            "empty: the prefix tells the kind).",
                            value=given,
                            kinds=", ".join(k.value for k in StandardKind),
                        ),
                    )
                elif stated is not kind:
                    row.error(
                        "kind",
                        _(
                            "%(code)s is a %(kind)s standard by its prefix %(prefix)s, "
                            "not %(stated)s.",
                            code=parsed.text,
                            kind=kind.value,
                            prefix=parsed.prefix,
                            stated=stated.value,
                        ),
                    )
        title = row.text("title", required=True)
        raw_status = row.text("status", required=True)
        status = STATUS_VALUES.get(raw_status) or STATUS_VALUES.get(raw_status.lower())
        if raw_status and status is None:
            row.error(
                "status",
                _(
                    "'%(value)s' is not a status; use 现行/in_force, 即将实施/upcoming or "
                    "废止/withdrawn.",
                    value=raw_status,
                ),
            )
        effective = row.day("effective_date")
        withdrawn = row.day("withdrawn_date")
        replaced_raw = row.text("replaced_by")
        replaced_code = None
        if replaced_raw:
            try:
                replacement = parse_standard_number(replaced_raw)
            except NumberError as exc:
                row.error("replaced_by", number_error_message(exc))
            else:
                replaced_code = replacement.text
                if parsed is not None and replacement.key == parsed.key:
                    row.error("replaced_by", _("A standard cannot replace itself."))
                elif replacement.key not in in_file and replacement.key not in in_db:
                    row.error(
                        "replaced_by",
                        _(
                            "%(code)s is neither in this file nor in the catalogue; add the "
                            "replacing edition too.",
                            code=replacement.text,
                        ),
                    )
        if status is StandardStatus.WITHDRAWN and withdrawn is None and not replaced_raw:
            row.error(
                "withdrawn_date",
                _("A withdrawn standard needs its withdrawal date or the number replacing it."),
            )
        if status is StandardStatus.UPCOMING and effective is None:
            row.error("effective_date", _("An upcoming standard needs its effective date."))
        if effective and withdrawn and withdrawn < effective:
            row.error(
                "withdrawn_date",
                _(
                    "The withdrawal date %(withdrawn)s is before the effective date "
                    "%(effective)s; a standard cannot be withdrawn before it takes effect.",
                    withdrawn=withdrawn.isoformat(),
                    effective=effective.isoformat(),
                ),
            )
        if parsed is not None and effective and effective.year < parsed.year:
            row.error(
                "effective_date",
                _(
                    "The effective date %(effective)s is before the year in its number "
                    "(%(year)s).",
                    effective=effective.isoformat(),
                    year=parsed.year,
                ),
            )
        source = row.text("source", required=True)
        if row.bad or parsed is None:
            continue
        cleaned.append(
            {
                "prefix": parsed.prefix,
                "number": parsed.number,
                "part": parsed.part,
                "year": parsed.year,
                "kind": kind,
                "code": parsed.text,
                "title": title,
                "title_en": row.text("title_en"),
                "status": status,
                "effective_date": effective,
                "withdrawn_date": withdrawn,
                "replaced_by_code": replaced_code,
                "source": source,
            }
        )
    return cleaned


def _unit_known(unit: str) -> bool:
    """Whether ``unit`` is a unit benchmarks.units understands (of any quantity)."""
    try:
        convert(1.0, unit, _UNIT_PROBE)
    except UnitError as exc:
        return exc.reason != "unknown"
    return True


def _parse_grades(row: _Row, direction: str | None) -> list[list] | None:
    raw = row.text("grades")
    if not raw:
        return []
    grades: list[list] = []
    labels: set[str] = set()
    for part in raw.replace("｜", "|").replace(";", "|").replace("；", "|").split("|"):
        part = part.strip()
        if not part:
            continue
        label, sep, value = part.replace("：", ":").rpartition(":")
        label = label.strip()
        if not sep or not label:
            row.error(
                "grades",
                _(
                    "'%(grade)s': write each grade as label:threshold, separated by |, "
                    "e.g. 1级:5.00|2级:4.50.",
                    grade=part,
                ),
            )
            return None
        try:
            threshold = float(value)
        except ValueError:
            row.error(
                "grades",
                _(
                    "'%(grade)s': the threshold '%(value)s' is not a number.",
                    grade=part,
                    value=value.strip(),
                ),
            )
            return None
        if not math.isfinite(threshold):
            row.error(
                "grades", _("'%(grade)s': the threshold is not a finite number.", grade=part)
            )
            return None
        if label in labels:
            row.error("grades", _("Grade '%(label)s' appears twice.", label=label))
            return None
        labels.add(label)
        grades.append([label, threshold])
    if direction is not None:
        sign = 1 if direction == "higher" else -1
        for (better, b), (worse, w) in zip(grades, grades[1:]):
            if not sign * b > sign * w:
                values = {"better": better, "b": f"{b:g}", "worse": worse, "w": f"{w:g}"}
                if sign > 0:
                    message = _(
                        "Grades must go from best to worst with strictly decreasing thresholds "
                        "(higher is better): %(better)s %(b)s then %(worse)s %(w)s. Merge grades "
                        "that share a threshold.",
                        **values,
                    )
                else:
                    message = _(
                        "Grades must go from best to worst with strictly increasing thresholds "
                        "(lower is better): %(better)s %(b)s then %(worse)s %(w)s. Merge grades "
                        "that share a threshold.",
                        **values,
                    )
                row.error("grades", message)
                return None
    return grades


def _validate_indicators(records, report: ImportReport) -> list[dict]:
    categories = {
        code: cid
        for cid, code in db.session.execute(select(ProductCategory.id, ProductCategory.code))
    }
    standards = _standard_keys_in_db()
    seen: dict[tuple, int] = {}
    cleaned = []
    for number, record in records:
        row = _Row("indicators", number, record, report)
        category = row.text("category", required=True)
        category_id = categories.get(category)
        if category and category_id is None:
            row.error(
                "category",
                _(
                    "Unknown category '%(code)s'; import it in categories first.", code=category
                ),
            )
        code = row.text("code", required=True)
        unit = row.text("unit", required=True)
        if unit and not _unit_known(unit):
            row.error(
                "unit",
                _(
                    "'%(unit)s' is not a unit the comparison knows; write it as a symbol such as "
                    "W, kWh, W/W, L/min, m³/h or dB(A).",
                    unit=unit,
                ),
            )
        raw_direction = row.text("direction", required=True)
        direction = DIRECTION_VALUES.get(raw_direction.lower()) if raw_direction else None
        if raw_direction and direction is None:
            row.error(
                "direction",
                _(
                    "'%(value)s' is not a direction; use higher (越大越好) or lower (越小越好), "
                    "whichever values are better.",
                    value=raw_direction,
                ),
            )
        valid_from = row.day("valid_from", required=True)
        valid_to = row.day("valid_to")
        if valid_from and valid_to and valid_to <= valid_from:
            row.error(
                "valid_to",
                _(
                    "valid_to (%(end)s) must be after valid_from (%(start)s).",
                    end=valid_to.isoformat(),
                    start=valid_from.isoformat(),
                ),
            )
        key = (category, code, valid_from)
        if category and code and valid_from:
            if key in seen:
                row.error(
                    "code",
                    _(
                        "%(category)s/%(code)s from %(day)s already appears in row %(row)d.",
                        category=category,
                        code=code,
                        day=valid_from.isoformat(),
                        row=seen[key],
                    ),
                )
            else:
                seen[key] = number

        def source_id(value_col: str, source_col: str, value: float | None) -> int | None:
            raw = row.text(source_col)
            if value is not None and not raw:
                row.error(
                    source_col,
                    _(
                        "%(source)s is empty: name the standard that sets %(column)s.",
                        source=source_col,
                        column=value_col,
                    ),
                )
                return None
            if raw and value is None:
                row.error(
                    value_col,
                    _(
                        "%(source)s is given but %(column)s is empty.",
                        source=source_col,
                        column=value_col,
                    ),
                )
            if not raw:
                return None
            try:
                parsed = parse_standard_number(raw)
            except NumberError as exc:
                row.error(source_col, number_error_message(exc))
                return None
            found = standards.get(parsed.key)
            if found is None:
                row.error(
                    source_col,
                    _(
                        "%(code)s is not in the catalogue; import it in standards first.",
                        code=parsed.text,
                    ),
                )
                return None
            if value_col == "mandatory_limit" and not operations.is_binding_prefix(
                parsed.prefix, kind_for_prefix(parsed.prefix)
            ):
                row.error(
                    source_col,
                    _(
                        "%(code)s is a recommended (or group) standard; a mandatory limit "
                        "(限定值) must come from a mandatory standard such as GB.",
                        code=parsed.text,
                    ),
                )
            return found[0]

        mandatory = row.number_value("mandatory_limit")
        recommended = row.number_value("recommended_value")
        mandatory_source_id = source_id("mandatory_limit", "mandatory_source", mandatory)
        recommended_source_id = source_id("recommended_value", "recommended_source", recommended)
        grades = _parse_grades(row, direction)
        if direction and mandatory is not None and recommended is not None:
            sign = 1 if direction == "higher" else -1
            if sign * recommended < sign * mandatory:
                values = {"value": f"{recommended:g}", "limit": f"{mandatory:g}"}
                if sign > 0:
                    message = _(
                        "The recommended value %(value)s is lower than the mandatory limit "
                        "%(limit)s, but higher is better: a recommended value must not be "
                        "worse than the limit.",
                        **values,
                    )
                else:
                    message = _(
                        "The recommended value %(value)s is higher than the mandatory limit "
                        "%(limit)s, but lower is better: a recommended value must not be "
                        "worse than the limit.",
                        **values,
                    )
                row.error("recommended_value", message)
        if direction and mandatory is not None and grades:
            sign = 1 if direction == "higher" else -1
            below = [g for g in grades if sign * g[1] < sign * mandatory]
            if below:
                row.error(
                    "grades",
                    _(
                        "Grade %(grade)s (%(value)s) is worse than the mandatory limit "
                        "%(limit)s: no product may be sold at that level.",
                        grade=below[0][0],
                        value=f"{below[0][1]:g}",
                        limit=f"{mandatory:g}",
                    ),
                )
        source = row.text("source", required=True)
        applies: list = []
        if row.text("applies"):
            try:
                applies = applicability.parse_conditions(row.text("applies"))
            except applicability.ConditionError as exc:
                row.error("applies", str(exc))
        data = {
            "category_id": category_id,
            "code": code,
            "name": row.text("name", required=True),
            "name_en": row.text("name_en"),
            "unit": unit,
            "direction": direction,
            "mandatory_limit": mandatory,
            "mandatory_source_id": mandatory_source_id,
            "recommended_value": recommended,
            "recommended_source_id": recommended_source_id,
            "grades": grades,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "citation": row.text("citation"),
            "source": source,
            "applies": applies,
        }
        if not row.bad:
            cleaned.append(data)
    return cleaned


_VALIDATORS = {
    "categories": _validate_categories,
    "standards": _validate_standards,
    "indicators": _validate_indicators,
}
_WRITERS = {
    "categories": operations.upsert_categories,
    "standards": operations.upsert_standards,
    "indicators": operations.upsert_indicators,
}


# ---------------------------------------------------------------- entry points


def import_rows(
    kind: str, table: list[list[str]], *, write: bool = True, confirm: bool = False
) -> ImportReport:
    """Validate a table (header first) of ``kind``; if every row is good and ``write``, upsert.

    An import that changes existing standard editions or benchmark rows lists the changes
    (``report.changes``, with ``report.affected``) and writes only with ``confirm``; new rows
    alone need no confirmation. Every write is kept as history (benchmarks.history)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    report = ImportReport(kind=kind)
    records = _records(kind, table, report)
    report.rows = len(records)
    if report.errors:
        return report
    if not records:
        report.add(2, "", _("The file has a header but no rows."))
        return report
    cleaned = _VALIDATORS[kind](records, report)
    if report.errors:
        return report
    plan = operations.planned_changes(kind, cleaned)
    report.changes = [
        {"key": c.key, "field": c.field, "old": c.old, "new": c.new, "table": c.table}
        for c in plan.changes
    ]
    report.affected = dict(plan.affected)
    report.needs_confirmation = plan.needs_confirmation
    report.new_rows = len(plan.new)
    if not write or (plan.needs_confirmation and not confirm):
        return report
    result = _WRITERS[kind](cleaned)
    report.inserted, report.updated, report.unchanged = (
        result.inserted,
        result.updated,
        result.unchanged,
    )
    report.changed_standard_ids = result.changed_standard_ids
    report.written = True
    return report


def import_file(
    kind: str, data: bytes, *, write: bool = True, confirm: bool = False
) -> ImportReport:
    """Read an upload (CSV or .xlsx, recognised by content) and import it all-or-nothing."""
    try:
        table = read_table(data)
    except ImportFileError as exc:
        report = ImportReport(kind=kind)
        report.add(0, "file", exc.message)
        return report
    return import_rows(kind, table, write=write, confirm=confirm)


def load_directory(
    directory: Path | str | None = None, *, confirm: bool = False
) -> list[ImportReport]:
    """Load categories.csv, standards.csv and indicators.csv from ``directory`` in that order.

    The caller commits when every report is ok, and rolls back otherwise: indicators refer to
    standards of the same load, so the earlier files are flushed before the later are checked.
    A later file is not written once an earlier one failed or waits for confirmation.
    """
    directory = Path(directory) if directory else SEED_DIR
    reports = []
    failed = False
    for kind in ("categories", "standards", "indicators"):
        path = directory / f"{kind}.csv"
        if not path.exists():
            report = ImportReport(kind=kind)
            report.add(0, "file", _("%(path)s does not exist.", path=str(path)))
            reports.append(report)
            failed = True
            continue
        report = import_file(kind, path.read_bytes(), write=not failed, confirm=confirm)
        failed = failed or not report.ok or (report.needs_confirmation and not report.written)
        reports.append(report)
    return reports


# ---------------------------------------------------------------- export


def export_rows(kind: str) -> list[list[str]]:
    """The catalogue table of ``kind`` in import format (header first); importing it is a no-op."""
    header = list(COLUMNS[kind])
    rows: list[list[str]] = [header]
    if kind == "categories":
        for c in db.session.scalars(select(ProductCategory).order_by(ProductCategory.code)):
            rows.append([c.code, c.name, c.name_en, c.source])
    elif kind == "standards":
        for s in db.session.scalars(select(Standard).order_by(Standard.code)):
            rows.append(
                [
                    s.code,
                    s.kind.value,
                    s.title,
                    s.title_en,
                    s.status.value,
                    _cell(s.effective_date),
                    _cell(s.withdrawn_date),
                    s.replaced_by_code or "",
                    s.source,
                ]
            )
    elif kind == "indicators":
        codes = dict(db.session.execute(select(Standard.id, Standard.code)).all())
        cats = dict(db.session.execute(select(ProductCategory.id, ProductCategory.code)).all())
        stmt = select(BenchmarkIndicator).order_by(
            BenchmarkIndicator.category_id, BenchmarkIndicator.code, BenchmarkIndicator.valid_from
        )
        for i in db.session.scalars(stmt):
            rows.append(
                [
                    cats[i.category_id],
                    i.code,
                    i.name,
                    i.name_en,
                    i.unit,
                    i.direction,
                    _num(i.mandatory_limit),
                    codes.get(i.mandatory_source_id, ""),
                    _num(i.recommended_value),
                    codes.get(i.recommended_source_id, ""),
                    "|".join(f"{label}:{_num(value)}" for label, value in i.grades or ()),
                    _cell(i.valid_from),
                    _cell(i.valid_to),
                    i.citation,
                    i.source,
                    applicability.conditions_text(i.applies or []),
                ]
            )
    else:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return rows


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def to_csv(rows: Sequence[Sequence[str]], *, bom: bool = True) -> bytes:
    """CSV bytes in UTF-8 (with a BOM by default, so Excel opens Chinese text correctly)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" if bom else "").encode() + buf.getvalue().encode("utf-8")


def to_xlsx(rows: Iterable[Sequence[Any]], title: str = "catalogue") -> bytes:
    """An .xlsx workbook with one sheet holding ``rows``."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    for row in rows:
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
