"""Bulk import of declarations (批量导入): check every row by the rules of the form and the API,
report every bad cell, and write all the good declarations in the caller's one transaction.

Each declaration row (with its products and indicators) becomes the draft dict of the
``declare.operations`` CONTRACT, after the names a person types are looked up in the catalogue
(standard numbers, categories, benchmark codes). It is then checked by
``operations.check_publishable`` — the same functions ``create_draft`` and ``publish`` run — and
its PDF by ``uploads.check_pdf``; written through ``create_draft``/``attach_text``/``publish``
(a new declaration) or ``start_revision``/``update_draft``/``publish`` (a changed one, which
becomes a new version, never an overwrite). A declaration is matched by its standard number
(own enterprise standards) or by the catalogue standard and its product models; one whose
content is the same is left unchanged, so importing a file twice changes nothing.

Nothing here commits: the job, the page or the CLI commits once per file, so a failure
mid-way leaves nothing half-written. Publications send ``declaration_changed`` as any
publication does; its receivers collect ids and enqueue one job per plan/category at commit.
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard
from core.clock import local_today
from core.extensions import db
from core.models import Role, User
from declare import operations, uploads
from declare.bulk import workbook as wb
from declare.models import (
    AssociationGrant,
    Declaration,
    DeclarationStatus,
    DeclarationVersion,
    Enterprise,
)
from declare.validators import USCCError, validate_uscc

__all__ = ["Report", "authorised_enterprise_ids", "run", "template_bytes"]

_SPLIT = re.compile(r"[,，;；、\n]+")
_OPS = {"≥": "ge", ">=": "ge", "≤": "le", "<=": "le", "=": "eq", "范围": "range", "～": "range"}
_KINDS = {"企业标准": "enterprise", "目录标准": "catalogue"}
_YES = {"是", "yes", "y", "true", "1", "√", "x"}

# Field path of the operations → column of the sheet.
_DECLARATION_COLUMNS = {
    "standard_id": "standard_code",
    "std_code": "standard_code",
    "reference_ids": "reference_codes",
    "text": "text_file",
    "_schema": "row_key",
    "products": "row_key",
    "indicators": "row_key",
}


@dataclass
class Report:
    """What a check or an import found; ``as_dict`` is stored on the batch as JSON."""

    mode: str = "check"  # check | import
    good_rows_only: bool = False
    declarations: int = 0
    bad: set[str] = field(default_factory=set)  # row keys
    errors: list[dict] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    outcome: dict[str, str] = field(default_factory=dict)  # row key → new/revision/unchanged/draft
    written: list[dict] = field(default_factory=list)
    wrote: bool = False

    def cell(self, sheet: str, row: int, column: str, message: str, key: str = "") -> None:
        heads = dict(wb.COLUMNS.get(sheet, ()))
        self.errors.append(
            {
                "sheet": sheet,
                "row": row,
                "column": column,
                "header": heads.get(column, column),
                "message": message,
                "row_key": key,
            }
        )
        if key:
            self.bad.add(key)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.file_errors

    def as_dict(self) -> dict:
        return {
            "mode": self.mode,
            "good_rows_only": self.good_rows_only,
            "declarations": self.declarations,
            "bad": sorted(self.bad),
            "errors": self.errors,
            "file_errors": self.file_errors,
            "outcome": self.outcome,
            "written": self.written,
            "wrote": self.wrote,
        }


# --------------------------------------------------------------------------- who may import


def authorised_enterprise_ids(user: User) -> set[int]:
    """Enterprises an association may import for: those whose grant is not revoked."""
    return set(
        db.session.scalars(
            select(AssociationGrant.enterprise_id).where(
                AssociationGrant.association_id == user.id, AssociationGrant.revoked_at.is_(None)
            )
        )
    )


def _file_message(exc: wb.FileError) -> str:
    if exc.code == "missing_sheets":
        return _(
            "The workbook lacks the sheets %(sheets)s; download the template and keep its "
            "sheets declarations, products and indicators.",
            sheets=exc.detail,
        )
    if exc.code == "several_workbooks":
        return _("The ZIP holds several workbooks (%(names)s); put exactly one in it.", names=exc.detail)
    if exc.code == "no_sheets":
        return _(
            "The ZIP holds neither a workbook (.xlsx) nor the files declarations.csv, "
            "products.csv and indicators.csv."
        )
    return _(
        "The file is not an Excel workbook (.xlsx) or a ZIP; download the template and fill "
        "that in."
    )


# --------------------------------------------------------------------------- catalogue look-ups


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text or "").upper()


@dataclass
class _Catalogue:
    standards: dict[str, int]
    categories: dict[str, int]
    category_names: list[str]
    benchmarks: dict[tuple[int, str], int]
    benchmark_codes: dict[int, list[str]]

    @classmethod
    def load(cls) -> _Catalogue:
        standards = {_norm(code): sid for sid, code in db.session.execute(select(Standard.id, Standard.code))}
        categories: dict[str, int] = {}
        names = []
        for cid, code, name, name_en in db.session.execute(
            select(ProductCategory.id, ProductCategory.code, ProductCategory.name, ProductCategory.name_en)
        ):
            names.append(code)
            for label in (code, name, name_en):
                if label:
                    categories[_norm(label)] = cid
        benchmarks: dict[tuple[int, str], int] = {}
        codes: dict[int, list[str]] = defaultdict(list)
        for bid, cid, code in db.session.execute(
            select(BenchmarkIndicator.id, BenchmarkIndicator.category_id, BenchmarkIndicator.code)
            .order_by(BenchmarkIndicator.valid_from)
        ):
            benchmarks[(cid, _norm(code))] = bid  # the newest edition wins; the rules pick the one in force
            if code not in codes[cid]:
                codes[cid].append(code)
        return cls(standards, categories, sorted(names), benchmarks, codes)


def _allowed(values: list[str], limit: int = 12) -> str:
    shown = ", ".join(values[:limit])
    return shown + (" …" if len(values) > limit else "")


# --------------------------------------------------------------------------- rows → draft dicts


def _text(row: wb.Row, name: str) -> str:
    """``wb.cell_text`` of the cell (read directly: called millions of times in an import)."""
    i = row.index.get(name)
    value = row.cells[i] if i is not None else None
    if type(value) is str:
        return value.strip()
    return wb.cell_text(value)


def _raw(row: wb.Row, name: str) -> Any:
    i = row.index.get(name)
    value = row.cells[i] if i is not None else None
    if isinstance(value, str):
        value = value.strip()
    return None if value == "" else value


def _draft_of(
    decl: wb.Row, products: list[wb.Row], indicators: list[wb.Row], cat: _Catalogue, report: Report
) -> tuple[dict, set[tuple[str, int, str]]]:
    """The draft dict of one declaration and the cells whose look-up failed (reported)."""
    key = decl.key
    failed: set[tuple[str, int, str]] = set()

    def bad(row: wb.Row, column: str, message: str) -> None:
        failed.add((row.sheet, row.number, column))
        report.cell(row.sheet, row.number, column, message, key)

    kind = _text(decl, "kind")
    kind = _KINDS.get(kind, kind.lower())
    data: dict[str, Any] = {
        "kind": kind,
        "disclosure": _text(decl, "disclosure") or "full_text",
        "std_name": _text(decl, "std_name"),
        "approved_by": _text(decl, "approved_by"),
        "approved_on": _raw(decl, "approved_on"),
        "implemented_on": _raw(decl, "implemented_on"),
        "commitment_accepted": _text(decl, "commitment_accepted").lower() in _YES,
        "mingshi_fewer": _text(decl, "mingshi_fewer"),
    }
    for day in ("approved_on", "implemented_on"):
        if hasattr(data[day], "date"):
            data[day] = data[day].date()
    number = _text(decl, "standard_code")
    if kind == "catalogue":
        sid = cat.standards.get(_norm(number))
        if number and sid is None:
            bad(
                decl,
                "standard_code",
                _(
                    "%(code)s is not in the catalogue; give a national, industry, local or "
                    "group standard number as the catalogue lists it, e.g. GB/T 7725-2022.",
                    code=number,
                ),
            )
        data["standard_id"] = sid
    else:
        data["std_code"] = number
    refs = []
    for i, code in enumerate(c.strip() for c in _SPLIT.split(_text(decl, "reference_codes"))):
        if not code:
            continue
        sid = cat.standards.get(_norm(code))
        if sid is None:
            bad(
                decl,
                "reference_codes",
                _("The cited standard %(code)s is not in the catalogue.", code=code),
            )
        else:
            refs.append(sid)
    data["reference_ids"] = refs

    data["products"] = []
    for row in products:
        label = _text(row, "category")
        cid = cat.categories.get(_norm(label)) if label else None
        if label and cid is None:
            bad(
                row,
                "category",
                _(
                    "Unknown product category %(name)s; allowed: %(allowed)s.",
                    name=label,
                    allowed=_allowed(cat.category_names),
                ),
            )
        attributes: Any = _text(row, "attributes") or None
        if attributes:
            try:
                attributes = json.loads(attributes)
            except ValueError:
                pass  # clean_attributes says what is wrong
        data["products"].append(
            {
                "name": _text(row, "name"),
                "model": _text(row, "model"),
                "category_id": cid,
                "specification": _text(row, "specification"),
                "common_name": _text(row, "common_name"),
                "brand": _text(row, "brand"),
                "barcode": _text(row, "barcode"),
                "attributes": attributes,
            }
        )
    product_categories = [p["category_id"] for p in data["products"] if p["category_id"]]

    data["indicators"] = []
    for row in indicators:
        code = _text(row, "benchmark")
        bid = None
        if code:
            bid = next(
                (
                    cat.benchmarks[(c, _norm(code))]
                    for c in product_categories
                    if (c, _norm(code)) in cat.benchmarks
                ),
                None,
            )
            categories_failed = any(
                (r.sheet, r.number, "category") in failed for r in products
            )
            if bid is None and not categories_failed:
                allowed = sorted({x for c in product_categories for x in cat.benchmark_codes.get(c, [])})
                bad(
                    row,
                    "benchmark",
                    _(
                        "No benchmark indicator %(code)s in the products' categories; allowed: "
                        "%(allowed)s.",
                        code=code,
                        allowed=_allowed(allowed) or _("none"),
                    ),
                )
        op = _text(row, "op")
        data["indicators"].append(
            {
                "kind": _text(row, "kind"),
                "name": _text(row, "name"),
                "benchmark_indicator_id": bid,
                "op": _OPS.get(op, op.lower()),
                "value": _raw(row, "value"),
                "low": _raw(row, "low"),
                "high": _raw(row, "high"),
                "text_value": _text(row, "text_value"),
                "unit": _text(row, "unit"),
                "test_method": _text(row, "test_method"),
                "mingshi": _text(row, "mingshi"),
            }
        )
    return data, failed


def _cell_of(
    path: str, decl: wb.Row, products: list[wb.Row], indicators: list[wb.Row]
) -> tuple[wb.Row, str]:
    head, _dot, rest = path.partition(".")
    index, _dot, sub = rest.partition(".")
    if head in ("products", "indicators") and index.isdigit():
        rows = products if head == "products" else indicators
        i = int(index)
        if i < len(rows):
            column = sub.partition(".")[0] or "row_key"
            column = {"category_id": "category", "benchmark_indicator_id": "benchmark"}.get(column, column)
            return rows[i], column
    column = _DECLARATION_COLUMNS.get(head, head)
    if column not in dict(wb.COLUMNS["declarations"]):
        column = "row_key"
    return decl, column


# --------------------------------------------------------------------------- the run


@dataclass
class _Planned:
    key: str
    decl: wb.Row
    enterprise: Enterprise
    data: dict
    pdf: bytes | None
    existing: Declaration | None
    outcome: str
    checked: operations.Checked


def _matches(enterprise_ids: set[int]) -> dict[tuple, Declaration]:
    """Live declarations of these enterprises by match key, in one query: an own standard by
    (enterprise, "q", number); a catalogue standard by (enterprise, "c", standard, models)."""
    if not enterprise_ids:
        return {}
    rows = db.session.scalars(
        select(Declaration)
        .where(
            Declaration.enterprise_id.in_(enterprise_ids),
            Declaration.status.in_([DeclarationStatus.DRAFT, DeclarationStatus.PUBLISHED]),
        )
    ).all()
    found: dict[tuple, Declaration] = {}
    for declaration in rows:
        version = declaration.draft if declaration.status is DeclarationStatus.DRAFT else declaration.current_version
        if version is None:
            continue
        found[_key_of(declaration.enterprise_id, declaration.kind.value, version.std_code, version.standard_id, [p.model for p in version.products])] = declaration
    return found


def _key_of(enterprise_id: int, kind: str, std_code: str, standard_id: int | None, models) -> tuple:
    if kind == "enterprise":
        return (enterprise_id, "q", _norm(std_code))
    return (enterprise_id, "c", standard_id, tuple(sorted(_norm(m) for m in models)))


def _same(declaration: Declaration, data: dict, pdf: bytes | None, today: date) -> bool:
    published = declaration.status is DeclarationStatus.PUBLISHED
    version = declaration.current_version if published else declaration.draft
    if version is None or (published and declaration.draft is not None):
        return False  # a revision in progress: not what the file says
    if pdf is not None:
        attachment = version.text_attachment
        if attachment is None or attachment.sha256 != hashlib.sha256(pdf).hexdigest():
            return False
    stored = operations.data_of(version)
    stored["revision_note"] = ""
    mine = dict(data, revision_note="")
    return operations.draft_fingerprint(mine, today) == operations.draft_fingerprint(stored, today)


def run(*args, **kwargs) -> Report:
    """``_run`` with the catalogue look-ups of the rules made once per distinct value."""
    from declare.comparison import memoised_catalogue

    try:
        with memoised_catalogue():
            return _run(*args, **kwargs)
    finally:
        gc.unfreeze()


def _run(
    data: bytes,
    filename: str,
    *,
    user: User | None,
    enterprise: Enterprise | None = None,
    write: bool,
    good_rows_only: bool = False,
    progress: Callable[[int, int, int], None] | None = None,
) -> Report:
    """Check the import file and, with ``write``, write its declarations (all of them, or with
    ``good_rows_only`` the good ones; none when any is bad otherwise). ``user`` is who submits
    (an enterprise: its own declarations only; an association: for the enterprises that
    authorised it; None: the platform's CLI, any enterprise). ``enterprise`` fills a blank
    USCC cell. ``progress(checked, written, total)`` is called as rows go."""
    report = Report(mode="import" if write else "check", good_rows_only=good_rows_only)
    try:
        parsed = wb.read(data, filename)
    except wb.FileError as exc:
        report.file_errors.append(_file_message(exc))
        return report
    # The file's rows (up to ~800,000 objects, no cycles among them) leave the cyclic
    # collector's generations: its passes no longer walk them again and again as the check
    # allocates (``run`` unfreezes them at the end).
    gc.collect()
    gc.freeze()
    today = local_today()
    cat = _Catalogue.load()
    decls = parsed.rows["declarations"]
    report.declarations = len(decls)

    # -- row keys: unique, and every product/indicator row belongs to a declaration
    first_at: dict[str, int] = {}
    for row in decls:
        if not row.key:
            report.cell(row.sheet, row.number, "row_key", _("Give the row key that links the products and indicators to this declaration."), f"#row{row.number}")
        elif row.key in first_at:
            report.cell(
                row.sheet,
                row.number,
                "row_key",
                _(
                    "The row key %(key)s is already used on row %(row)d; each declaration needs its own.",
                    key=row.key,
                    row=first_at[row.key],
                ),
                row.key,
            )
        else:
            first_at[row.key] = row.number
    children: dict[str, dict[str, list[wb.Row]]] = defaultdict(lambda: {"products": [], "indicators": []})
    for sheet in ("products", "indicators"):
        for row in parsed.rows[sheet]:
            if row.key not in first_at:
                report.cell(
                    sheet,
                    row.number,
                    "row_key",
                    _("No declaration has the row key %(key)s.", key=row.key or "—"),
                    row.key or f"#{sheet}{row.number}",
                )
            else:
                children[row.key][sheet].append(row)
        # From here the rows live in ``children`` only; each declaration's are let go once it
        # is checked, so what the write keeps (``fresh``) grows as they shrink.
        parsed.rows[sheet] = []

    # -- enterprises and who may import for them (one query each)
    default = enterprise
    if user is not None and user.role is Role.ENTERPRISE:
        default = user.enterprise
    usccs = {}
    checked_usccs: dict[str, str | USCCError] = {}  # few distinct codes in 100,000 rows
    for row in decls:
        text = _text(row, "uscc")
        if text:
            if text not in checked_usccs:
                try:
                    checked_usccs[text] = validate_uscc(text)[0]
                except USCCError as exc:
                    checked_usccs[text] = exc
            found = checked_usccs[text]
            if isinstance(found, USCCError):
                report.cell(row.sheet, row.number, "uscc", found.message, row.key)
            else:
                usccs[row.number] = found
    codes = set(usccs.values())
    enterprises = (
        {e.uscc: e for e in db.session.scalars(select(Enterprise).where(Enterprise.uscc.in_(codes)))}
        if codes
        else {}
    )
    granted = authorised_enterprise_ids(user) if user is not None and user.role is Role.ASSOCIATION else set()

    planned: list[_Planned] = []
    fresh: list[tuple] = []
    enterprise_of: dict[int, Enterprise] = {}
    pdf_checked: dict[str, str | None] = {}
    for row in decls:
        if row.key in report.bad:
            continue
        if row.number in usccs:
            ent = enterprises.get(usccs[row.number])
            if ent is None:
                report.cell(row.sheet, row.number, "uscc", _("No enterprise with the unified social credit code %(code)s has registered here.", code=usccs[row.number]), row.key)
                continue
        elif _text(row, "uscc"):
            continue  # its format was reported
        else:
            ent = default
            if ent is None:
                report.cell(row.sheet, row.number, "uscc", _("Give the enterprise's unified social credit code."), row.key)
                continue
        if user is not None and user.role is Role.ENTERPRISE and ent.id != user.enterprise_id:
            report.cell(row.sheet, row.number, "uscc", _("You may import only your own enterprise's declarations (%(code)s).", code=user.enterprise.uscc), row.key)
            continue
        if user is not None and user.role is Role.ASSOCIATION and ent.id not in granted:
            report.cell(
                row.sheet,
                row.number,
                "uscc",
                _("%(name)s (%(code)s) has not authorised your association to import for it; it grants that on its own pages.", name=ent.name, code=ent.uscc),
                row.key,
            )
            continue
        if user is not None and user.role not in (Role.ENTERPRISE, Role.ASSOCIATION):
            report.cell(row.sheet, row.number, "uscc", _("Only an enterprise or an association it authorised may import declarations."), row.key)
            continue
        enterprise_of[row.number] = ent

    matches = _matches({e.id for e in enterprise_of.values()})
    seen_keys: dict[tuple, int] = {}
    total = len(decls)
    for n, row in enumerate(decls, start=1):
        ent = enterprise_of.get(row.number)
        if ent is None or row.key in report.bad:
            continue
        linked = children.pop(row.key, None) or {"products": [], "indicators": []}
        products = linked["products"]
        indicators = linked["indicators"]
        data, failed = _draft_of(row, products, indicators, cat, report)
        pdf = None
        name = _text(row, "text_file")
        if name:
            pdf = parsed.pdfs.get(name.rsplit("/", 1)[-1])
            if pdf is None:
                report.cell(row.sheet, row.number, "text_file", _("The file %(name)s is not in the ZIP; put the PDF beside the workbook in one ZIP file.", name=name), row.key)
                failed.add((row.sheet, row.number, "text_file"))
            else:
                digest = hashlib.sha256(pdf).hexdigest()
                if digest not in pdf_checked:
                    try:
                        uploads.check_pdf(pdf)
                        pdf_checked[digest] = None
                    except uploads.UploadError as exc:
                        pdf_checked[digest] = exc.message
                if pdf_checked[digest]:
                    report.cell(row.sheet, row.number, "text_file", pdf_checked[digest], row.key)
                    failed.add((row.sheet, row.number, "text_file"))
        match = _key_of(ent.id, data["kind"], data.get("std_code", ""), data.get("standard_id"), [p["model"] for p in data["products"]])
        if match in seen_keys:
            report.cell(row.sheet, row.number, "standard_code", _("Row %(row)d declares the same standard with the same products; declare it once.", row=seen_keys[match]), row.key)
            continue
        seen_keys[match] = row.number
        existing = matches.get(match)
        if (
            existing is not None
            and existing.status is DeclarationStatus.PUBLISHED
            and existing.draft is not None
        ):
            report.cell(
                row.sheet,
                row.number,
                "standard_code",
                _(
                    "A revision of this declaration (%(id)d) is in progress; publish or discard "
                    "it before importing a change.",
                    id=existing.id,
                ),
                row.key,
            )
            continue
        # Without a text the enterprise standard is saved as a draft: the text is uploaded later.
        has_text = pdf is not None or name != "" or (
            existing is not None and existing.current_version is not None and existing.current_version.text_attachment_id is not None
        )
        draft_only = data["kind"] == "enterprise" and not has_text
        checked = operations.check_publishable(
            ent, data, has_text=has_text or draft_only, today=today, declaration=existing
        )
        errors = checked.errors
        for path, messages in errors.items():
            target, column = _cell_of(path, row, products, indicators)
            if (target.sheet, target.number, column) in failed:
                continue  # its look-up failed and was reported
            for message in messages:
                report.cell(target.sheet, target.number, column, message, row.key)
        if row.key in report.bad:
            continue
        if existing is not None and _same(existing, data, pdf, today):
            outcome = "unchanged"
        elif draft_only:
            outcome = "draft"
        else:
            outcome = "revision" if existing is not None and existing.status is DeclarationStatus.PUBLISHED else "new"
        report.outcome[row.key] = outcome
        if not write:
            pass  # the check keeps nothing per row but the report
        elif outcome == "new":
            # Only what publish_checked writes, as tuples: 100,000 fit in memory.
            fresh.append((row.key, row.number, ent, checked.compact(), pdf, row))
        else:
            planned.append(_Planned(row.key, row, ent, data, pdf, existing, outcome, checked))
        if progress is not None and (n % 200 == 0 or n == total):
            progress(n, 0, total)
    if progress is not None:
        progress(total, 0, total)
    for key in report.bad:
        report.outcome.pop(key, None)

    if not write or (report.bad and not good_rows_only) or report.file_errors:
        return report
    # The write needs the declaration rows (file names) and what the check kept, not the
    # products' and indicators' rows of declarations it skipped: let them go.
    children.clear()
    attachments: dict[tuple[int, str], int] = {}
    written = 0
    todo = [item for item in planned if item.key not in report.bad]
    # New declarations: executemany for all of them (operations.publish_checked).
    fresh = [item for item in fresh if item[0] not in report.bad]
    bulk = [
        (ent.id, checked, _attachment(ent, pdf, decl, attachments))
        for _key, _number, ent, checked, pdf, decl in fresh
    ]
    for (key, number, *_rest), (declaration_id, _version_id) in zip(
        fresh,
        operations.publish_checked(
            bulk,
            submitted_by_id=user.id if user is not None else None,
            via_association_id=user.id if user is not None and user.role is Role.ASSOCIATION else None,
            actor_label=f"bulk import by {user.username if user is not None else 'cli'}",
        ),
    ):
        report.written.append(
            {
                "row_key": key,
                "row": number,
                "declaration_id": declaration_id,
                "version_no": 1,
                "outcome": "new",
            }
        )
        written += 1
        if progress is not None and written % 2000 == 0:
            progress(total, written, total)
    # Revisions, drafts and unchanged ones: one at a time through the operations.
    for item in todo:
        if item.outcome == "new":
            continue
        version = _write(item, user, attachments)
        written += 1
        if version is not None:
            report.written.append(
                {
                    "row_key": item.key,
                    "row": item.decl.number,
                    "declaration_id": version.declaration_id,
                    "version_no": version.version_no,
                    "outcome": item.outcome,
                }
            )
        if progress is not None and written % 200 == 0:
            progress(total, written, total)
    if progress is not None:
        progress(total, total, total)
    report.wrote = True
    return report


def _file(pdf: bytes, decl: wb.Row) -> FileStorage:
    name = wb.cell_text(decl.get("text_file")).rsplit("/", 1)[-1]
    return FileStorage(stream=io.BytesIO(pdf), filename=name, content_type="application/pdf")


def _attachment(
    enterprise: Enterprise, pdf: bytes | None, decl: wb.Row, attachments: dict
) -> int | None:
    """The stored text of a new declaration: each distinct PDF stored once per enterprise
    (``uploads.store_pdf``; the file itself once whoever uploads it)."""
    if pdf is None:
        return None
    key = (enterprise.id, hashlib.sha256(pdf).hexdigest())
    if key not in attachments:
        attachments[key] = uploads.store_pdf(_file(pdf, decl), enterprise).id
    return attachments[key]


def _write(item: _Planned, user: User | None, attachments: dict) -> DeclarationVersion | None:
    if item.outcome == "unchanged":
        return None
    existing = item.existing
    if existing is None:
        version = operations.create_draft(item.enterprise, item.data)
    elif existing.status is DeclarationStatus.DRAFT:
        version = existing.draft
        operations.update_draft(version, item.data, version.lock_version)
    else:
        version = operations.start_revision(existing)
        operations.update_draft(version, item.data, version.lock_version)
    if user is not None:
        version.submitted_by_id = user.id
        version.via_association_id = user.id if user.role is Role.ASSOCIATION else None
    if item.pdf is not None:
        digest = hashlib.sha256(item.pdf).hexdigest()
        cached = attachments.get((item.enterprise.id, digest))
        if cached is not None:
            version.text_attachment_id = cached
            db.session.flush()
        else:
            stored = operations.attach_text(version, _file(item.pdf, item.decl))
            attachments[(item.enterprise.id, digest)] = stored.id
    if item.outcome != "draft":
        operations.publish(version)
    return version


# --------------------------------------------------------------------------- the template


def template_bytes() -> bytes:
    """The import workbook with the catalogue's categories and units in its lists."""
    categories = list(db.session.scalars(select(ProductCategory.code).order_by(ProductCategory.code)))
    units = sorted(set(db.session.scalars(select(BenchmarkIndicator.unit).distinct())) - {"", "1"})
    example = {
        "declarations": {
            "row_key": "#示例",
            "uscc": "91500112MA0000001X",
            "kind": "enterprise",
            "standard_code": "Q/ABC 0001-2025",
            "std_name": "房间空气调节器",
            "disclosure": "full_text",
            "approved_by": "张工",
            "commitment_accepted": "是",
            "reference_codes": "GB/T 7725-2022",
            "text_file": "Q-ABC-0001-2025.pdf",
        },
        "products": {
            "row_key": "#示例",
            "name": "挂壁式空调",
            "model": "KFR-35GW/A1",
            "category": categories[0] if categories else "",
            "barcode": "6901234567892",
        },
        "indicators": {
            "row_key": "#示例",
            "kind": "performance",
            "name": "全年能源消耗效率 APF",
            "benchmark": "apf",
            "op": "ge",
            "value": 5.1,
            "unit": "W/W",
            "test_method": "GB/T 7725-2022 附录 C",
        },
    }
    return wb.template(categories=categories, units=units, example=example)


def report_workbook(data: bytes, filename: str, report: Mapping) -> bytes:
    """The imported file's rows as a workbook with the errors of each row in a column."""
    parsed = wb.read(data, filename)
    errors: dict[tuple[str, int], list[str]] = defaultdict(list)
    for e in report.get("errors", []):
        errors[(e["sheet"], e["row"])].append(f"{e['header']}: {e['message']}")
    rows = {
        sheet: [dict(r.values, _number=r.number) for r in parsed.rows[sheet]]
        for sheet in wb.SHEETS
    }
    return wb.workbook(rows, errors=errors)


def summary(report: Mapping) -> Counter:
    """Declarations by outcome (new, revision, unchanged, draft) and bad."""
    counts = Counter(report.get("outcome", {}).values())
    counts["bad"] = len(report.get("bad", []))
    return counts

