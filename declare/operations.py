"""The only place that writes declarations: business rules, flush, jobs after commit.

CONTRACT (helpers implement the bodies; signatures are shared by views, API and demo data).
Operations never commit: the request (or job/CLI) commits once. They flush, raise
``core.errors.ValidationFailed({field_path: [message, …]})`` for refused input, and
``core.errors.Conflict`` for stale edits. Field paths use dots for nested rows:
``"products.0.barcode"``, ``"indicators.2.mingshi"``.

Draft data (the same dict from forms and from the API schema):

    {
      "kind": "catalogue" | "enterprise",
      "standard_id": int | None,                     # catalogue kind: picked from the catalogue
      "std_code": str, "std_name": str,              # enterprise kind: Q/… number and name
      "disclosure": "full_text" | "indicators_only",
      "commitment_accepted": bool, "approved_by": str,
      "approved_on": date | None, "implemented_on": date | None, "revision_note": str,
      "products": [{"name", "model", "category_id", "specification", "common_name",
                    "brand", "barcode"}],
      "indicators": [{"kind": "function" | "performance", "name", "benchmark_indicator_id",
                      "op": "ge" | "le" | "eq" | "range", "value", "low", "high",
                      "text_value", "unit", "test_method", "mingshi"}],
      "reference_ids": [int],                        # normative references (standards.id)
    }

Saving a draft checks formats (number, barcode, units, ids exist and are usable); publishing
checks completeness and the benchmarks (violation refused, missing 明示 refused).

Functions:

    register_enterprise(*, uscc, name, username, password, address="", contact_name="",
                        contact_phone="") -> User
    create_draft(enterprise, data) -> DeclarationVersion          # new declaration, version 1
    update_draft(version, data, lock_version: int) -> DeclarationVersion   # Conflict if stale
    attach_text(version, file_storage) -> Attachment               # errors on field "text"
    discard_draft(version) -> None
    publish(version) -> DeclarationVersion
    start_revision(declaration) -> DeclarationVersion              # new draft, version_no + 1
    abolish(declaration, reason) -> DeclarationVersion             # 废止 by the enterprise
    revoke(declaration, reason) -> DeclarationVersion              # 撤销 by a regulator
    record_compliance(enterprise, *, kind, result, occurred_on, reference="", details="",
                      declaration=None) -> ComplianceRecord        # supervision's outcomes

Details callers rely on:

- Missing keys take their defaults (``""``, None, ``[]``, ``False``; disclosure full_text), so
  a partial dict is a partial draft. Numbers may be int, float, Decimal or numeric strings.
- Refusals that belong to no single input field use the key ``"_schema"`` (marshmallow's
  convention): editing a version that is not a draft, abolishing what is not published, …
  Upload refusals use ``"text"``; an abolition/revocation reason ``"reason"``.
- ``update_draft`` bumps ``lock_version`` on every successful save.
- Concurrent changes: every function that changes an existing declaration (``update_draft``,
  ``attach_text``, ``discard_draft``, ``publish``, ``start_revision``, ``abolish``, ``revoke``)
  first claims it (``_claim``: ``Declaration.lock_version`` moved from the value this
  transaction read, under the row's write lock), before it looks at the declaration's state.
  Of two requests that read the same state, the second to claim raises ``Conflict`` (409,
  "changed by someone else … reload") and its request rolls back: never a unique-constraint
  or stale-data error, never half a change. A new function that changes a declaration claims
  it the same way. A request that comes just after the change it raced with is a Conflict
  too where the state says so: a revision already in progress, a declaration already ended.
- A draft is checked in two steps: ``_parse`` (shape, types, formats; no query) and
  ``_check_rules`` (against the catalogue and the enterprise's other declarations).
- ``publish`` parses the stored draft again and runs the rules (the catalogue may have changed
  since the draft was saved; not a second time right after a save of the same content in the
  same transaction), then completeness, then the benchmark comparison on today's date (Beijing
  time), and reports every problem at once. It stores the comparison in ``Indicator.cmp_*``.
- ``start_revision`` copies products, indicators, references, text and commitment of the
  version in force; publishing the revision supersedes that version (status superseded,
  ``ended_at`` = the revision's ``published_at``), which stays readable unchanged.
- After ``abolish``/``revoke`` the declaration has no version in force; an open revision draft
  is discarded with it. Who may revoke (a regulator of the enterprise's region) is checked
  by the caller (``core.auth.region_covers``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from benchmarks.applicability import ATTRIBUTES, clean_attributes
from benchmarks.forms import number_error_message
from benchmarks.models import BenchmarkIndicator, ProductCategory, Standard, StandardStatus
from benchmarks.numbers import NumberError, parse_enterprise_number
from benchmarks.units import UnitError, convert
from core.clock import local_today
from core.errors import Conflict, ValidationFailed
from core.extensions import db
from core.models import Role, User, utcnow
from core.validation import Errors as _Errors
from core.validation import day as _date
from core.validation import number as _number
from core.validation import text as _text
from declare import uploads
from declare.comparison import auto_links, check_version_rules, memo, memo_active, memo_key
from declare.models import (
    Attachment,
    ComplianceRecord,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    DeclarationVersion,
    Disclosure,
    Enterprise,
    Indicator,
    NormativeReference,
    Product,
    VersionStatus,
)
from declare.validators import (
    BarcodeError,
    USCCError,
    normalise_uscc,
    validate_barcode,
    validate_uscc,
)

__all__ = [
    "DRAFT_LISTS",
    "MIN_PASSWORD_LENGTH",
    "abolish",
    "attach_text",
    "check_publishable",
    "create_draft",
    "data_of",
    "draft_fingerprint",
    "discard_draft",
    "draft_limits",
    "oversized",
    "publish",
    "publish_checked",
    "record_compliance",
    "register_enterprise",
    "revoke",
    "start_revision",
    "too_many_rows",
    "update_draft",
]

MIN_PASSWORD_LENGTH = 8
GENERAL = "_schema"
INDICATOR_KINDS = ("function", "performance")
OPS = ("ge", "le", "eq", "range")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{3,80}$")

# Column lengths, so a long value is refused with a message instead of a database error.
_PRODUCT_LIMITS = {
    "name": 200,
    "model": 120,
    "specification": 200,
    "common_name": 200,
    "brand": 120,
}
_INDICATOR_LIMITS = {"name": 200, "text_value": 300, "unit": 30, "test_method": 300}
# Free text kept in Text columns: bounded like the form's text areas.
LONG_TEXT = 4000

#: The lists of a draft and the config key of each one's maximum (defaults in core.config).
DRAFT_LISTS = {
    "products": "DRAFT_MAX_PRODUCTS",
    "indicators": "DRAFT_MAX_INDICATORS",
    "reference_ids": "DRAFT_MAX_REFERENCES",
}


# --------------------------------------------------------------------------- registration


def register_enterprise(
    *,
    uscc: str,
    name: str,
    username: str,
    password: str,
    address: str = "",
    contact_name: str = "",
    contact_phone: str = "",
) -> User:
    """Create an enterprise (its region from the USCC) and its one login account."""
    errors: dict[str, list[str]] = {}
    code = region = ""
    try:
        code, region = validate_uscc(uscc)
    except USCCError as exc:
        errors["uscc"] = [exc.message]
    name = (name or "").strip()
    username = (username or "").strip()
    if not name:
        errors["name"] = [_("Enter the enterprise's registered name.")]
    elif len(name) > 200:
        errors["name"] = [_("The name may have at most %(n)d characters.", n=200)]
    if not _USERNAME_RE.match(username):
        errors["username"] = [
            _("A user name has 3 to 80 characters: letters, digits and _ . @ - only.")
        ]
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors["password"] = [
            _("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
        ]
    for field, value, limit in (
        ("address", address, 300),
        ("contact_name", contact_name, 80),
        ("contact_phone", contact_phone, 40),
    ):
        if len((value or "").strip()) > limit:
            errors[field] = [_("At most %(n)d characters.", n=limit)]
    if code and db.session.scalar(select(Enterprise.id).where(Enterprise.uscc == code)):
        errors["uscc"] = [_uscc_taken(code)]
    if username and db.session.scalar(
        select(User.id).where(func.lower(User.username) == username.lower())
    ):
        errors["username"] = [_username_taken(username)]
    if errors:
        raise ValidationFailed(errors)

    enterprise = Enterprise(
        uscc=code,
        name=name,
        region_code=region,
        address=(address or "").strip(),
        contact_name=(contact_name or "").strip(),
        contact_phone=(contact_phone or "").strip(),
    )
    user = User(username=username, role=Role.ENTERPRISE, display_name=name, enterprise=enterprise)
    user.set_password(password)
    try:
        # A savepoint: a registration racing this one for the same USCC or user name loses on
        # the unique constraints and gets the same field error as the checks above give.
        with db.session.begin_nested():
            db.session.add_all([enterprise, user])
    except IntegrityError:
        if db.session.scalar(select(Enterprise.id).where(Enterprise.uscc == code)):
            raise ValidationFailed({"uscc": [_uscc_taken(code)]}) from None
        raise ValidationFailed({"username": [_username_taken(username)]}) from None
    return user


def _uscc_taken(code: str) -> str:
    return _(
        "An account for the unified social credit code %(code)s already exists; "
        "each enterprise has one account. Log in, or ask the platform to recover it.",
        code=code,
    )


def _username_taken(username: str) -> str:
    return _("The user name %(name)s is taken; choose another.", name=username)


def uscc_taken(text: str) -> bool:
    """Whether an account exists for this USCC however it is typed (for form hints)."""
    return bool(
        db.session.scalar(select(Enterprise.id).where(Enterprise.uscc == normalise_uscc(text)))
    )


# --------------------------------------------------------------------------- draft size


def draft_limits() -> dict[str, int]:
    """The longest list of each kind a draft may have (config ``DRAFT_MAX_*``)."""
    config = current_app.config
    return {key: int(config[name]) for key, name in DRAFT_LISTS.items()}


def too_many_rows(counts: Mapping[str, int]) -> dict[str, list[str]]:
    """A message per list of a draft that is longer than allowed, saying the maximum and how
    many rows it has; ``counts`` maps a list of ``DRAFT_LISTS`` to its length.

    The one rule for every way in: ``_parse`` applies it to the draft dict, the API's load
    schema to the JSON body and the pages to the rows a browser sent, each before any work per
    row, so a draft of 10,000 indicators costs no more to refuse than one of 501.
    """
    limits = draft_limits()
    errors: dict[str, list[str]] = {}
    for key, count in counts.items():
        limit = limits.get(key)
        if limit is not None and count > limit:
            errors[key] = [_too_many(key, limit, count)]
    return errors


def _too_many(key: str, limit: int, count: int) -> str:
    numbers = {"limit": format_decimal(limit), "count": format_decimal(count)}
    if key == "products":
        return _("At most %(limit)s products per draft; this draft has %(count)s.", **numbers)
    if key == "indicators":
        return _("At most %(limit)s indicators per draft; this draft has %(count)s.", **numbers)
    return _(
        "At most %(limit)s normative references per draft; this draft has %(count)s.", **numbers
    )


def oversized(data: Any) -> dict[str, list[str]]:
    """``too_many_rows`` of a draft dict (the operations' data or a JSON body), and the
    products whose ``attributes`` name more attributes than there are (each can be given
    once). Counts only: nothing in a row is read but its attributes' size."""
    if not isinstance(data, Mapping):
        return {}
    counts = {
        key: len(rows)
        for key in DRAFT_LISTS
        if isinstance(rows := data.get(key), (list, tuple))
    }
    errors = too_many_rows(counts)
    products = data.get("products")
    if "products" not in errors and isinstance(products, (list, tuple)):
        for i, row in enumerate(products):
            attributes = row.get("attributes") if isinstance(row, Mapping) else None
            if isinstance(attributes, Mapping) and len(attributes) > len(ATTRIBUTES):
                errors[f"products.{i}.attributes"] = [
                    _(
                        "A product has at most %(n)d attributes (%(known)s); this one has "
                        "%(count)s.",
                        n=len(ATTRIBUTES),
                        known=", ".join(ATTRIBUTES),
                        count=format_decimal(len(attributes)),
                    )
                ]
    return errors


# --------------------------------------------------------------------------- draft validation


def _int_id(value: Any) -> tuple[int | None, bool]:
    if value is None or value == "":
        return None, True
    if isinstance(value, bool):
        return None, False
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None, False
    return number, number > 0


def _rows(data: Mapping, key: str, errors: _Errors) -> list[Mapping]:
    rows = data.get(key) or []
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, Mapping) for r in rows):
        errors.add(key, _("Expected a list of rows."))
        return []
    return list(rows)


def _withdrawn_message(std: Standard, today: date) -> str | None:
    if std.status_on(today) is not StandardStatus.WITHDRAWN:
        return None
    when = std.withdrawn_date.isoformat() if std.withdrawn_date else ""
    if std.replaced_by_code:
        return _(
            "%(code)s was withdrawn on %(date)s and replaced by %(new)s; pick the edition in "
            "force.",
            code=std.code,
            date=when or _("an earlier date"),
            new=std.replaced_by_code,
        )
    return _(
        "%(code)s was withdrawn on %(date)s and may no longer be declared or cited.",
        code=std.code,
        date=when or _("an earlier date"),
    )


def _number_message(exc: NumberError) -> str:
    """benchmarks' translated message for a refused number (what is wrong, what is allowed)."""
    return number_error_message(exc)


class _Draft:
    """A draft's values as parsed, the errors found so far, and what the rules need of the
    input that the values do not keep."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.errors = _Errors()
        self.reference_at: list[tuple[int, int]] = []  # (position in the input, id)
        self.qualitative: list[bool] = []  # per indicator: a requirement in words only
        self.checked = ""  # the fingerprint of the values the rules passed on

    def fingerprint(self) -> str:
        """The values that a save stores, as text: the same after a save and a re-read."""
        v = self.values
        return repr((
            v["kind"],
            [v[k] for k in _VERSION_FIELDS],
            [[p[k] for k in _PRODUCT_FIELDS] for p in v["products"]],
            [[row[k] for k in _INDICATOR_FIELDS] for row in v["indicators"]],
            list(v["reference_ids"]),
        ))


def _clean(
    enterprise: Enterprise,
    data: Mapping,
    *,
    today: date,
    declaration: Declaration | None = None,
) -> _Draft:
    """Check a draft: its shape and types (``_parse``), then the rules against the catalogue
    and the enterprise's other declarations (``_check_rules``); return it or raise
    ValidationFailed with every error found."""
    draft = _parse(data, declaration=declaration)
    _check_rules(enterprise, draft, today=today, declaration=declaration)
    if draft.errors:
        raise ValidationFailed(_in_form_order(draft.errors))
    draft.checked = draft.fingerprint()  # before saving can change anything
    return draft


_FORM_ORDER = (
    GENERAL, "kind", "standard_id", "std_code", "std_name", "disclosure", "approved_by",
    "revision_note", "approved_on", "implemented_on", "products", "indicators", "reference_ids",
)


def _in_form_order(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Errors by field in the order of the form (section, then row), whatever step found
    them; messages of one field keep their order."""

    def key(field: str) -> tuple[int, int]:
        head, _dot, rest = field.partition(".")
        section = _FORM_ORDER.index(head) if head in _FORM_ORDER else len(_FORM_ORDER)
        row = rest.partition(".")[0]
        return section, int(row) if row.isdigit() else -1

    return {field: list(errors[field]) for field in sorted(errors, key=key)}


def _parse(data: Mapping, *, declaration: Declaration | None = None) -> _Draft:
    """The shape and types of a draft (kinds, numbers, dates, lengths, formats, ids that are
    ids): no query. Refuses at once only input that is not a mapping and lists longer than a
    draft may have (``oversized``: not worth reading row by row)."""
    if not isinstance(data, Mapping):
        raise ValidationFailed({GENERAL: [_("Expected the draft's fields.")]})
    too_many = oversized(data)
    if too_many:
        raise ValidationFailed(too_many)
    draft = _Draft()
    errors, out = draft.errors, draft.values

    kind_raw = data.get("kind")
    if declaration is not None and kind_raw in (None, ""):
        kind_raw = declaration.kind.value
    try:
        kind = DeclarationKind(getattr(kind_raw, "value", kind_raw))
    except ValueError:
        errors.add(
            "kind",
            _(
                "Choose what the declaration follows: a catalogue standard or your own enterprise standard."
            ),
        )
        kind = None
    if declaration is not None and kind is not None and kind is not declaration.kind:
        errors.add(
            "kind",
            _(
                "A declaration keeps its kind; start a new declaration to follow another kind of standard."
            ),
        )
    out["kind"] = kind

    # -- the standard followed
    out.update(
        standard_id=None,
        std_code="",
        std_enterprise_code="",
        std_sequence="",
        std_year=None,
        std_name="",
    )
    if kind is DeclarationKind.CATALOGUE:
        std_id, ok = _int_id(data.get("standard_id"))
        if ok and std_id:
            out["standard_id"] = std_id  # the rules look it up
        else:
            errors.add("standard_id", _pick_standard())
    elif kind is DeclarationKind.ENTERPRISE:
        try:
            parsed = parse_enterprise_number(_text(data.get("std_code")))
        except NumberError as exc:
            errors.add("std_code", _number_message(exc))
        else:
            out.update(
                std_code=parsed.text,
                std_enterprise_code=parsed.enterprise_code,
                std_sequence=parsed.sequence + parsed.suffix,
                std_year=parsed.year,
            )
        name = _text(data.get("std_name"))
        if not name:
            errors.add("std_name", _("Enter the name of the enterprise standard."))
        elif len(name) > 300:
            errors.add("std_name", _("At most %(n)d characters.", n=300))
        out["std_name"] = name

    # -- declaration details
    disclosure_raw = data.get("disclosure") or Disclosure.FULL_TEXT.value
    try:
        out["disclosure"] = Disclosure(getattr(disclosure_raw, "value", disclosure_raw))
    except ValueError:
        errors.add("disclosure", _("Choose full-text disclosure or indicators only."))
        out["disclosure"] = Disclosure.FULL_TEXT
    out["commitment_accepted"] = bool(data.get("commitment_accepted"))
    out["approved_by"] = _text(data.get("approved_by"))
    if len(out["approved_by"]) > 120:
        errors.add("approved_by", _("At most %(n)d characters.", n=120))
    out["revision_note"] = _text(data.get("revision_note"))
    out["mingshi_fewer"] = _text(data.get("mingshi_fewer"))
    for key in ("revision_note", "mingshi_fewer"):
        if len(out[key]) > LONG_TEXT:
            errors.add(key, _("At most %(n)d characters.", n=LONG_TEXT))
    for key in ("approved_on", "implemented_on"):
        out[key], ok = _date(data.get(key))
        if not ok:
            errors.add(key, _("Enter a date as yyyy-MM-dd."))

    # -- products
    out["products"] = []
    for i, row in enumerate(_rows(data, "products", errors)):
        path = f"products.{i}"
        clean = {key: _text(row.get(key)) for key in _PRODUCT_LIMITS}
        for key, limit in _PRODUCT_LIMITS.items():
            if len(clean[key]) > limit:
                errors.add(f"{path}.{key}", _("At most %(n)d characters.", n=limit))
        if not clean["name"]:
            errors.add(f"{path}.name", _("Enter the product name."))
        if not clean["model"]:
            errors.add(f"{path}.model", _("Enter the product model (型号)."))
        cid, ok = _int_id(row.get("category_id"))
        if cid is None or not ok:
            errors.add(f"{path}.category_id", _pick_category())
        clean["category_id"] = cid
        clean["attributes"], problems = clean_attributes(row.get("attributes"))
        for code, message in problems.items():
            errors.add(f"{path}.attributes{'.' + code if code else ''}", message)
        try:
            clean["barcode"] = validate_barcode(_text(row.get("barcode")))
        except BarcodeError as exc:
            errors.add(f"{path}.barcode", exc.message)
            clean["barcode"] = ""
        out["products"].append(clean)

    # -- indicators
    out["indicators"] = []
    for i, row in enumerate(_rows(data, "indicators", errors)):
        clean, qualitative = _parse_indicator(i, row, errors)
        out["indicators"].append(clean)
        draft.qualitative.append(qualitative)

    # -- normative references
    raw_refs = data.get("reference_ids") or []
    ref_ids: list[int] = []
    if not isinstance(raw_refs, (list, tuple)):
        errors.add("reference_ids", _("Expected a list of catalogue standards."))
        raw_refs = []
    for i, raw in enumerate(raw_refs):
        rid, ok = _int_id(raw)
        if not ok or rid is None:
            errors.add(f"reference_ids.{i}", _("Pick the cited standard from the catalogue."))
            continue
        draft.reference_at.append((i, rid))
        if rid not in ref_ids:
            ref_ids.append(rid)
    out["reference_ids"] = ref_ids
    return draft


def _pick_standard() -> str:
    return _(
        "Pick the national, industry, local or group standard from the catalogue "
        "(its number is not typed by hand)."
    )


def _pick_category() -> str:
    return _("Choose the product category from the list.")


def _pick_benchmark() -> str:
    return _("Choose the benchmark indicator from the list.")


#: The inputs of one indicator row that ``_parse_indicator`` reads.
_INDICATOR_INPUT = (
    *_INDICATOR_LIMITS, "mingshi", "kind", "value", "low", "high", "op", "benchmark_indicator_id",
)


def _parse_indicator(i: int, row: Mapping, errors: _Errors) -> tuple[dict, bool]:
    """One indicator's values and whether it is a requirement in words only.

    It depends on the row's values alone, so while the catalogue look-ups are memoised (a bulk
    import: the same indicator rows recur in thousands of declarations) its result is kept
    per distinct input and only the field paths are made per row."""
    key = memo_key(row.get(k) for k in _INDICATOR_INPUT) if memo_active() else None
    if key is None:
        return _parse_indicator_at(i, row, errors)

    def compute():
        found = _Errors()
        clean, qualitative = _parse_indicator_at(0, row, found)
        return clean, qualitative, [
            (field.partition(".")[2].partition(".")[2], message)
            for field, messages in found.items()
            for message in messages
        ]

    clean, qualitative, found = memo(("indicator", key), compute)
    for field, message in found:
        errors.add(f"indicators.{i}.{field}", message)
    return dict(clean), qualitative


def _parse_indicator_at(i: int, row: Mapping, errors: _Errors) -> tuple[dict, bool]:
    path = f"indicators.{i}"
    clean: dict[str, Any] = {key: _text(row.get(key)) for key in _INDICATOR_LIMITS}
    for key, limit in _INDICATOR_LIMITS.items():
        if len(clean[key]) > limit:
            errors.add(f"{path}.{key}", _("At most %(n)d characters.", n=limit))
    clean["mingshi"] = _text(row.get("mingshi"))
    if len(clean["mingshi"]) > LONG_TEXT:
        errors.add(f"{path}.mingshi", _("At most %(n)d characters.", n=LONG_TEXT))
    clean["kind"] = _text(row.get("kind")) or "performance"
    if clean["kind"] not in INDICATOR_KINDS:
        errors.add(f"{path}.kind", _("Choose function (功能) or performance (性能) indicator."))
    if not clean["name"]:
        errors.add(f"{path}.name", _("Enter the indicator name."))

    numbers = {}
    for key in ("value", "low", "high"):
        numbers[key], ok = _number(row.get(key))
        if not ok:
            errors.add(f"{path}.{key}", _("Enter a number, e.g. 4.5."))
    clean.update(numbers)
    op = _text(row.get("op")) or ("eq" if clean["text_value"] else "")
    clean["op"] = op
    value, low, high = numbers["value"], numbers["low"], numbers["high"]
    qualitative = bool(clean["text_value"]) and value is None and low is None and high is None
    if op not in OPS:
        errors.add(f"{path}.op", _("Choose the comparison: ≥, ≤, = or a range."))
    elif op == "range":
        if low is None:
            errors.add(f"{path}.low", _("A range needs its lower bound."))
        if high is None:
            errors.add(f"{path}.high", _("A range needs its upper bound."))
        if low is not None and high is not None and low > high:
            errors.add(
                f"{path}.low", _("The lower bound must not be greater than the upper bound.")
            )
        if value is not None:
            errors.add(
                f"{path}.value", _("A range has a lower and an upper bound, not a single value.")
            )
        clean["value"] = None
    elif op in ("ge", "le"):
        if value is None:
            errors.add(f"{path}.value", _("Enter the value."))
        if low is not None or high is not None:
            errors.add(f"{path}.low", _("Only a range has a lower and an upper bound."))
    else:  # eq
        if value is None and not qualitative:
            errors.add(
                f"{path}.value",
                _("Enter the value, or the requirement in words for a function indicator."),
            )
        if low is not None or high is not None:
            errors.add(f"{path}.low", _("Only a range has a lower and an upper bound."))

    bid, ok = _int_id(row.get("benchmark_indicator_id"))
    clean["benchmark_indicator_id"] = bid if ok else None  # the rules look it up
    if not ok:
        errors.add(f"{path}.benchmark_indicator_id", _pick_benchmark())
    return clean, qualitative


def _check_rules(
    enterprise: Enterprise,
    draft: _Draft,
    *,
    today: date,
    declaration: Declaration | None = None,
) -> None:
    """The rules of a parsed draft against the catalogue on ``today`` and the enterprise's
    other declarations: the standard and the references exist and are in force, the number is
    not declared twice, the categories exist, each benchmark exists, belongs to a declared
    product's category and can be compared (a number, a convertible unit). One query per
    table, whatever the number of rows; adds to ``draft.errors``."""
    errors, out = draft.errors, draft.values

    # -- the standard followed
    if out["kind"] is DeclarationKind.CATALOGUE and out["standard_id"] is not None:
        std = db.session.get(Standard, out["standard_id"])
        if std is None:
            errors.add("standard_id", _pick_standard())
            out["standard_id"] = None
        else:
            problem = _withdrawn_message(std, today)
            if problem:
                errors.add("standard_id", problem)
    elif out["kind"] is DeclarationKind.ENTERPRISE and out["std_code"]:
        other = _duplicate_number(enterprise, out["std_code"], declaration)
        if other is not None:
            errors.add(
                "std_code",
                _(
                    "You already declared %(code)s (declaration %(id)d); revise that "
                    "declaration instead of declaring the number again.",
                    code=out["std_code"],
                    id=other,
                ),
            )

    # -- products
    wanted = {p["category_id"] for p in out["products"] if p["category_id"]}
    wanted = {c for c in wanted if c > 0}
    categories = (
        memo(
            ("categories", tuple(sorted(wanted))),
            lambda: set(
                db.session.scalars(
                    select(ProductCategory.id).where(ProductCategory.id.in_(wanted))
                )
            ),
        )
        if wanted
        else set()
    )
    for i, clean in enumerate(out["products"]):
        cid = clean["category_id"]
        if cid is not None and cid > 0 and cid not in categories:
            errors.add(f"products.{i}.category_id", _pick_category())

    # -- indicators
    bench_ids = {row["benchmark_indicator_id"] for row in out["indicators"]} - {None}
    benchmarks = (
        memo(
            ("benchmarks", tuple(sorted(bench_ids))),
            lambda: {
                b.id: b
                for b in db.session.scalars(
                    select(BenchmarkIndicator).where(BenchmarkIndicator.id.in_(bench_ids))
                )
            },
        )
        if bench_ids
        else {}
    )
    product_categories = {p["category_id"] for p in out["products"] if p["category_id"]}
    for i, clean in enumerate(out["indicators"]):
        _check_indicator_rules(
            i, clean, draft.qualitative[i], benchmarks, product_categories, errors
        )

    # -- normative references
    ids = {rid for _i, rid in draft.reference_at}
    refs = (
        memo(
            ("standards", tuple(sorted(ids))),
            lambda: {
                s.id: s for s in db.session.scalars(select(Standard).where(Standard.id.in_(ids)))
            },
        )
        if ids
        else {}
    )
    for i, rid in draft.reference_at:
        std = refs.get(rid)
        if std is None:
            errors.add(f"reference_ids.{i}", _("Pick the cited standard from the catalogue."))
            continue
        problem = _withdrawn_message(std, today)
        if problem:
            errors.add(f"reference_ids.{i}", problem)


def _check_indicator_rules(
    i: int,
    clean: dict,
    qualitative: bool,
    benchmarks: dict[int, BenchmarkIndicator],
    product_categories: set[int],
    errors: _Errors,
) -> None:
    path = f"indicators.{i}"
    bid = clean["benchmark_indicator_id"]
    if bid is None:
        return
    bench = benchmarks.get(bid)
    if bench is None:
        errors.add(f"{path}.benchmark_indicator_id", _pick_benchmark())
        clean["benchmark_indicator_id"] = None
        return
    if product_categories and bench.category_id not in product_categories:
        errors.add(
            f"{path}.benchmark_indicator_id",
            _(
                "The benchmark indicator %(name)s belongs to a product category that "
                "none of the declared products is in.",
                name=bench.name,
            ),
        )
    if qualitative:
        errors.add(
            f"{path}.benchmark_indicator_id",
            _(
                "A requirement in words cannot be compared with a benchmark; enter a number."
            ),
        )
    elif not clean["unit"]:
        errors.add(
            f"{path}.unit",
            _(
                "Enter the unit; the benchmark %(name)s is in %(unit)s.",
                name=bench.name,
                unit=bench.unit,
            ),
        )
    else:
        try:
            convert(1.0, clean["unit"], bench.unit)
        except UnitError:
            errors.add(
                f"{path}.unit",
                _(
                    "The unit %(unit)s cannot be converted to %(expected)s, the unit of "
                    "the benchmark %(name)s.",
                    unit=clean["unit"],
                    expected=bench.unit,
                    name=bench.name,
                ),
            )


def _normalised_number_key(text: str):
    return func.upper(func.replace(text, " ", ""))


def _duplicate_number(
    enterprise: Enterprise, code: str, declaration: Declaration | None
) -> int | None:
    """Another live declaration of the enterprise with the same enterprise-standard number."""
    if enterprise.id is None:
        return None
    wanted = code.replace(" ", "").upper()
    if memo_active():
        # One query per enterprise instead of one per draft (bulk import, which refuses a
        # number given twice in its file itself, so the numbers it writes meanwhile are new).
        numbers = memo(("live_numbers", enterprise.id), lambda: _live_numbers(enterprise.id))
        others = [i for i in numbers.get(wanted, ()) if declaration is None or i != declaration.id]
        return others[0] if others else None
    stmt = (
        select(Declaration.id)
        .join(DeclarationVersion, DeclarationVersion.declaration_id == Declaration.id)
        .where(
            Declaration.enterprise_id == enterprise.id,
            Declaration.status.in_([DeclarationStatus.DRAFT, DeclarationStatus.PUBLISHED]),
            DeclarationVersion.status.in_([VersionStatus.DRAFT, VersionStatus.PUBLISHED]),
            _normalised_number_key(DeclarationVersion.std_code) == code.replace(" ", "").upper(),
        )
        .limit(1)
    )
    if declaration is not None and declaration.id is not None:
        stmt = stmt.where(Declaration.id != declaration.id)
    return db.session.scalar(stmt)


def _live_numbers(enterprise_id: int) -> dict[str, list[int]]:
    """Normalised enterprise-standard number → live declarations of the enterprise."""
    rows = db.session.execute(
        select(_normalised_number_key(DeclarationVersion.std_code), Declaration.id)
        .join(DeclarationVersion, DeclarationVersion.declaration_id == Declaration.id)
        .where(
            Declaration.enterprise_id == enterprise_id,
            Declaration.status.in_([DeclarationStatus.DRAFT, DeclarationStatus.PUBLISHED]),
            DeclarationVersion.status.in_([VersionStatus.DRAFT, VersionStatus.PUBLISHED]),
            DeclarationVersion.std_code != "",
        )
    )
    numbers: dict[str, list[int]] = {}
    for key, declaration_id in rows:
        if declaration_id not in numbers.setdefault(key, []):
            numbers[key].append(declaration_id)
    return numbers


# --------------------------------------------------------------------------- drafts


_VERSION_FIELDS = (
    "standard_id",
    "std_code",
    "std_enterprise_code",
    "std_sequence",
    "std_year",
    "std_name",
    "disclosure",
    "commitment_accepted",
    "approved_by",
    "approved_on",
    "implemented_on",
    "revision_note",
    "mingshi_fewer",
)
_PRODUCT_FIELDS = (
    "name",
    "model",
    "category_id",
    "specification",
    "common_name",
    "brand",
    "barcode",
    "attributes",
)
_INDICATOR_FIELDS = (
    "kind",
    "name",
    "benchmark_indicator_id",
    "op",
    "value",
    "low",
    "high",
    "text_value",
    "unit",
    "test_method",
    "mingshi",
)
_LINK_AT = _INDICATOR_FIELDS.index("benchmark_indicator_id")


def _claim(declaration: Declaration) -> None:
    """Take the declaration for this transaction's change, or raise Conflict when someone
    else changed it after this transaction read it.

    One statement does both: ``UPDATE declarations SET lock_version = read + 1 WHERE id = …
    AND lock_version = read``. On PostgreSQL the UPDATE takes the row lock (what ``SELECT …
    FOR UPDATE`` would), so a second writer waits until the first commits and then matches no
    row, because the counter moved; on SQLite it takes the database's write lock, with the same
    outcome after the busy wait. Called before any check of the declaration's state, so no
    decision is taken on a state that is no longer the current one, and the writes that follow
    (a new version number, a status) cannot collide with another request's. Claiming twice in
    one transaction (save, then publish) is fine: the second claim reads the first's value.
    """
    if declaration.id is None or declaration in db.session.new:
        return  # not in the database yet: nobody else can see it
    read = declaration.lock_version
    claimed = db.session.execute(
        update(Declaration)
        .where(Declaration.id == declaration.id, Declaration.lock_version == read)
        .values(lock_version=read + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict(_changed_elsewhere(declaration), current_version=None)
    set_committed_value(declaration, "lock_version", read + 1)


def _changed_elsewhere(declaration: Declaration) -> str:
    return _(
        "Declaration %(id)d was changed by someone else (in another window or by a colleague) "
        "while you were working on it; nothing was changed now. Reload it and try again.",
        id=declaration.id,
    )


def _require_draft(version: DeclarationVersion) -> None:
    if not version.is_draft:
        raise ValidationFailed(
            {
                GENERAL: [
                    _(
                        "Version %(no)d is %(status)s and cannot change; start a revision "
                        "to declare changes.",
                        no=version.version_no,
                        status=version.status.value,
                    )
                ]
            }
        )


def _fill(version: DeclarationVersion, clean: dict, *, replace_children: bool) -> None:
    for key in _VERSION_FIELDS:
        setattr(version, key, clean[key])
    version.updated_at = utcnow()  # also bumps lock_version: every save is a new edit
    if replace_children and (version.products or version.indicators or version.references):
        version.products.clear()
        version.indicators.clear()
        version.references.clear()
        db.session.flush()  # delete before insert: references are unique per version
    version.products.extend(
        Product(**{k: p[k] for k in _PRODUCT_FIELDS}) for p in clean["products"]
    )
    for i, bid in auto_links(clean, local_today()).items():
        clean["indicators"][i]["benchmark_indicator_id"] = bid  # the form then shows the link
    version.indicators.extend(
        Indicator(position=i, **{k: row[k] for k in _INDICATOR_FIELDS})
        for i, row in enumerate(clean["indicators"])
    )
    version.references.extend(NormativeReference(standard_id=sid) for sid in clean["reference_ids"])


def create_draft(enterprise: Enterprise, data: Mapping) -> DeclarationVersion:
    """A new declaration with its first version as a draft."""
    today = local_today()
    draft = _clean(enterprise, data, today=today)
    clean = draft.values
    declaration = Declaration(
        enterprise=enterprise, kind=clean["kind"], status=DeclarationStatus.DRAFT
    )
    version = DeclarationVersion(declaration=declaration, version_no=1, status=VersionStatus.DRAFT)
    _fill(version, clean, replace_children=False)
    db.session.add_all([declaration, version])
    db.session.flush()
    _rules_passed(version, draft, today)
    return version


def update_draft(
    version: DeclarationVersion, data: Mapping, lock_version: int
) -> DeclarationVersion:
    """Replace a draft's content (products, indicators and references wholesale).

    ``lock_version`` is the value the editor read; if the draft changed since, Conflict (409)
    and nothing is written.
    """
    _claim(version.declaration)
    _require_draft(version)
    try:
        stale = int(lock_version) != version.lock_version
    except (TypeError, ValueError):
        stale = True
    if stale:
        raise Conflict(
            _(
                "This draft was changed elsewhere since you opened it (your copy is edit "
                "%(yours)s, the saved one is edit %(current)d). Reload it, then apply your "
                "changes again.",
                yours=lock_version,
                current=version.lock_version,
            ),
            current_version=version.lock_version,
        )
    today = local_today()
    draft = _clean(
        version.declaration.enterprise, data, today=today, declaration=version.declaration
    )
    clean = draft.values
    try:
        _fill(version, clean, replace_children=True)
        db.session.flush()
    except StaleDataError:
        raise Conflict(
            _(
                "This draft was changed elsewhere while you saved it. Reload it, then apply your changes again."
            ),
            current_version=None,
        ) from None
    _rules_passed(version, draft, today)
    return version


def attach_text(version: DeclarationVersion, file_storage) -> Attachment:
    """Store the standard text PDF and attach it to the draft (errors on field ``text``)."""
    _claim(version.declaration)
    _require_draft(version)
    try:
        attachment = uploads.store_pdf(file_storage, version.declaration.enterprise)
    except uploads.UploadError as exc:
        raise ValidationFailed({"text": [exc.message]}) from None
    version.text_attachment = attachment
    version.updated_at = utcnow()
    db.session.flush()
    return attachment


def discard_draft(version: DeclarationVersion) -> None:
    """Delete a draft; a declaration that was never published goes with it."""
    _claim(version.declaration)
    _require_draft(version)
    declaration = version.declaration
    others = [v for v in declaration.versions if v is not version]
    db.session.delete(version)
    if declaration in db.session and not others:
        db.session.delete(declaration)
    db.session.flush()
    if others and version in declaration.versions:
        declaration.versions.remove(version)


# --------------------------------------------------------------------------- publication


def _data_of(version: DeclarationVersion) -> dict:
    return {
        "kind": version.declaration.kind,
        **{key: getattr(version, key) for key in _VERSION_FIELDS},
        "products": [{k: getattr(p, k) for k in _PRODUCT_FIELDS} for p in version.products],
        "indicators": [
            {k: getattr(row, k) for k in _INDICATOR_FIELDS} for row in version.indicators
        ],
        "reference_ids": [r.standard_id for r in version.references],
    }


def data_of(version: DeclarationVersion) -> dict:
    """A stored version as the draft dict of the CONTRACT (what a save of it would take)."""
    return _data_of(version)


def draft_fingerprint(data: Mapping, today: date) -> str | None:
    """The content a save of the draft dict ``data`` stores (with the automatic benchmark
    links a save makes), as text; None when it does not parse. Two drafts with the same
    fingerprint save the same version: bulk import leaves such a declaration unchanged."""
    try:
        draft = _parse(data)
    except ValidationFailed:
        return None
    if draft.errors:
        return None
    for i, bid in auto_links(draft.values, today).items():
        draft.values["indicators"][i]["benchmark_indicator_id"] = bid
    return draft.fingerprint()


_RULES_PASSED = "declare.rules_passed"


def _rules_passed(version: DeclarationVersion, draft: _Draft, today: date) -> None:
    """Remember that the rules passed for this content today, in this transaction: publishing
    it right after the save (save and publish) does not run them a second time."""
    session = db.session()
    passed = session.info.setdefault(_RULES_PASSED, {})
    passed[version] = (session.get_transaction(), today, draft.checked)


def _rules_passed_before(version: DeclarationVersion, draft: _Draft, today: date) -> bool:
    """Whether a save in this same transaction checked the rules on this content today (the
    catalogue cannot have changed in between; after a commit it may have)."""
    session = db.session()
    seen = session.info.get(_RULES_PASSED, {}).pop(version, None)
    if seen is None or draft.errors:
        return False
    transaction, day, fingerprint = seen
    current = session.get_transaction()
    return current is not None and transaction is current and day == today and (
        fingerprint == draft.fingerprint()
    )


def _completeness(version: DeclarationVersion, errors: _Errors) -> None:
    _complete(
        version.declaration.kind,
        version,
        has_text=version.text_attachment_id is not None or version.text_attachment is not None,
        errors=errors,
    )


def _complete(kind: DeclarationKind, version: Any, *, has_text: bool, errors: _Errors) -> None:
    """What a publication needs besides valid values (a version, or a parsed draft's values
    through ``_Values``): products, the commitment, and for an enterprise standard a
    performance indicator, every test method, the text and the approver."""
    if not version.products:
        errors.add("products", _("Add at least one product or service that follows the standard."))
    if not version.commitment_accepted:
        errors.add(
            "commitment_accepted",
            _("Accept the self-declaration commitment (自我声明承诺书) before publishing."),
        )
    if kind is not DeclarationKind.ENTERPRISE:
        return
    if not any(row.kind == "performance" for row in version.indicators):
        errors.add(
            "indicators",
            _(
                "An enterprise standard must disclose at least one performance indicator (性能指标)."
            ),
        )
    for i, row in enumerate(version.indicators):
        if not (row.test_method or "").strip():
            errors.add(
                f"indicators.{i}.test_method",
                _("Give the test method (检验方法) of %(name)s (Art. 12).", name=row.name or i + 1),
            )
    if not has_text:
        errors.add("text", _("Upload the text of the standard as PDF."))
    if not (version.approved_by or "").strip():
        errors.add("approved_by", _("Name who approved the standard inside the enterprise."))


class _Values:
    """A parsed draft's values read as attributes (products and indicators too), so the
    completeness rules of a stored version apply to a draft that is not stored."""

    def __init__(self, values: Mapping) -> None:
        self._values = values

    def __getattr__(self, key: str) -> Any:
        value = self._values[key]
        if isinstance(value, list):
            value = [_Values(v) if isinstance(v, Mapping) else v for v in value]
        setattr(self, key, value)  # read once: the rules read a list several times
        return value


class Checked:
    """What ``check_publishable`` found: errors by field path (form order), the parsed values
    (None when the draft did not parse) and the benchmark comparison (None then too)."""

    def __init__(self, errors: dict[str, list[str]], values: dict | None, rules=None) -> None:
        self.errors, self.values, self.rules = errors, values, rules
        self.stored: tuple | None = None

    def compact(self) -> Checked:
        """Keep only what ``publish_checked`` writes, as tuples in column order (the links
        and comparison figures, not the messages and objects of the check): a bulk import
        holds 100,000 of them. ``values`` and ``rules`` are dropped."""
        if self.stored is not None:
            return self
        if self.errors or self.values is None or self.rules is None:
            raise ValueError("only a draft that passed check_publishable can be published")
        values, rules = self.values, self.rules
        figures = {}
        for c in rules.indicators:
            cmp = c.comparison
            figures[c.position] = (
                (cmp.status, cmp.grade, cmp.margin_pct, cmp.guaranteed) if cmp else None
            )
        indicators = []
        for i, row in enumerate(values["indicators"]):
            fields = tuple(row[k] for k in _INDICATOR_FIELDS)
            link = rules.links.get(i, row["benchmark_indicator_id"])
            indicators.append((fields, link, figures.get(i) or (None, None, None, None)))
        self.stored = (
            values["kind"],
            tuple(values[k] for k in _VERSION_FIELDS),
            tuple(tuple(p[k] for k in _PRODUCT_FIELDS) for p in values["products"]),
            tuple(indicators),
            tuple(values["reference_ids"]),
        )
        self.values = self.rules = None
        return self

    def __iter__(self):  # errors, values = check_publishable(...)
        return iter((self.errors, self.values))


def check_publishable(
    enterprise: Enterprise,
    data: Mapping,
    *,
    has_text: bool,
    today: date | None = None,
    declaration: Declaration | None = None,
) -> Checked:
    """Every refusal that ``create_draft`` then ``publish`` (or, with ``declaration``, a
    revision of it) would give this draft dict, without writing anything: the formats
    (``_parse``), the rules against the catalogue (``_check_rules``), completeness and the
    benchmark comparison (``check_declaration``). Returns (errors by field path in form order,
    the parsed values or None). Bulk import checks each row with it."""
    today = today or local_today()
    try:
        draft = _parse(data, declaration=declaration)
    except ValidationFailed as exc:
        return Checked(dict(exc.errors), None)
    _check_rules(enterprise, draft, today=today, declaration=declaration)
    errors = _Errors()
    for field, messages in _in_form_order(draft.errors).items():
        for message in messages:
            errors.add(field, message)
    values = draft.values
    if values["kind"] is None:
        return Checked(_in_form_order(dict(errors)), None)
    _complete(values["kind"], _Values(values), has_text=has_text, errors=errors)
    from declare.comparison import check_declaration

    rules = check_declaration(
        kind=values["kind"],
        products=values["products"],
        indicators=values["indicators"],
        reference_ids=values["reference_ids"],
        mingshi_fewer=values["mingshi_fewer"],
        on=today,
    )
    found = set(errors)
    for field, message in rules.errors():
        if field not in found:
            errors.add(field, message)
    return Checked(_in_form_order(dict(errors)), values, rules)


def publish_checked(
    items: Sequence[tuple[int, Checked, int | None]],
    *,
    submitted_by_id: int | None = None,
    via_association_id: int | None = None,
    actor_label: str = "bulk import",
) -> list[tuple[int, int]]:
    """Publish new declarations that ``check_publishable`` passed (no errors), written with
    executemany instead of one ORM flush each: the bulk import of many thousands.

    ``items``: (enterprise id, its ``Checked``, its text attachment id or None). Writes what
    ``create_draft`` + ``publish`` write for a first version (declaration, version 1
    published now, products, indicators with the links and comparison of the check,
    references), records who submitted it, writes their search rows (``_index_checked``),
    re-flags at once what follows or cites a replaced standard, sends ``declaration_changed``
    per chunk of declarations with ``search_indexed=True`` (its receivers enqueue one job per
    plan/category), and one audit summary row (Core
    writes bypass the audit flush hook). Returns (declaration id, version id) per item.
    """
    from sqlalchemy import insert

    from core.models import AuditLog

    stored = [(eid, checked.compact().stored, text_id) for eid, checked, text_id in items]
    if not stored:
        return []
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        out = _copy_checked(stored, now, submitted_by_id, via_association_id)
    else:
        out = _insert_checked(stored, now, submitted_by_id, via_association_id)

    _index_checked(stored, out, now)
    _after_bulk_publish(stored, out)
    db.session.execute(
        insert(AuditLog).values(
            at=now,
            actor_id=submitted_by_id,
            actor_label=actor_label[:120],
            action="insert",
            entity=Declaration.__tablename__,
            entity_id="bulk",
            before=None,
            after={
                "published": len(out),
                "declaration_ids": [d for d, _v in out[:200]],
                "via_association_id": via_association_id,
            },
        )
    )
    return out


def _insert_checked(
    stored: Sequence[tuple], now: datetime, submitted_by_id: int | None, via_association_id: int | None
) -> list[tuple[int, int]]:
    """``publish_checked``'s writes with multi-row INSERT … RETURNING and executemany (any
    database; PostgreSQL takes ``_copy_checked``)."""
    from sqlalchemy import insert

    declarations = Declaration.__table__
    versions = DeclarationVersion.__table__
    out: list[tuple[int, int]] = []
    for start in range(0, len(stored), _BULK_CHUNK):
        chunk = stored[start : start + _BULK_CHUNK]
        decl_ids = [
            row.id
            for row in db.session.execute(
                insert(declarations).returning(declarations.c.id, sort_by_parameter_order=True),
                [
                    {
                        "enterprise_id": eid,
                        "kind": kept[0],
                        "status": DeclarationStatus.PUBLISHED,
                        "lock_version": 1,
                        "created_at": now,
                    }
                    for eid, kept, _t in chunk
                ],
            )
        ]
        version_ids = [
            row.id
            for row in db.session.execute(
                insert(versions).returning(versions.c.id, sort_by_parameter_order=True),
                [
                    _version_row(did, kept, text_id, now, submitted_by_id, via_association_id)
                    for did, (_eid, kept, text_id) in zip(decl_ids, chunk)
                ],
            )
        ]
        db.session.execute(
            update(Declaration).execution_options(synchronize_session=False),
            [{"id": did, "current_version_id": vid} for did, vid in zip(decl_ids, version_ids)],
        )
        products, indicators, references = [], [], []
        for vid, (_eid, kept, _t) in zip(version_ids, chunk):
            _kind, _version, kept_products, kept_indicators, reference_ids = kept
            products += [
                {"version_id": vid, **dict(zip(_PRODUCT_FIELDS, p))} for p in kept_products
            ]
            for i, (fields, link, figures) in enumerate(kept_indicators):
                indicators.append(
                    {
                        "version_id": vid,
                        "position": i,
                        **dict(zip(_INDICATOR_FIELDS, fields)),
                        "benchmark_indicator_id": link,
                        "cmp_status": figures[0],
                        "cmp_grade": figures[1],
                        "cmp_margin_pct": figures[2],
                        "cmp_guaranteed": figures[3],
                    }
                )
            references += [{"version_id": vid, "standard_id": sid} for sid in reference_ids]
        for table, rows in (
            (Product.__table__, products),
            (Indicator.__table__, indicators),
            (NormativeReference.__table__, references),
        ):
            if rows:
                db.session.execute(insert(table), rows)
        out += list(zip(decl_ids, version_ids))

    return out


def _version_row(
    did: int, kept: tuple, text_id: int | None, now: datetime, submitted_by_id, via_association_id
) -> dict:
    """A first published version's row, as the bulk write stores it (INSERT or COPY)."""
    return {
        "declaration_id": did,
        "version_no": 1,
        "status": VersionStatus.PUBLISHED,
        "lock_version": 1,
        **dict(zip(_VERSION_FIELDS, kept[1])),
        "text_attachment_id": text_id,
        "submitted_by_id": submitted_by_id,
        "via_association_id": via_association_id,
        "created_at": now,
        "updated_at": now,
        "published_at": now,
        "ended_at": None,
        "end_reason": "",
    }


def _ids(table, count: int) -> list[int]:
    """``count`` fresh ids of ``table``'s serial column (PostgreSQL), in one query."""
    from sqlalchemy import text as sql

    return list(
        db.session.scalars(
            sql(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        )
    )


def _copy(cursor, table, columns: Sequence[str], rows) -> None:
    """COPY ``rows`` (tuples in ``columns`` order, Python values) into ``table``; each value
    goes through its column type's bind processor (enums as stored, JSON as text, UTC
    timestamps), exactly what an INSERT of the same values stores.

    Enum, boolean and timestamp values are processed once per distinct value (a bulk import
    repeats a handful of them in 100,000 rows); floats go as they are (the Float processor
    returns a float unchanged). psycopg's queued writer sends the rows from a thread of its
    own, so PostgreSQL stores a chunk on the other core while the next one is encoded."""
    from psycopg.copy import QueuedLibpqWriter

    dialect = db.session.get_bind().dialect
    processors = []
    for i, name in enumerate(columns):
        column = table.c[name]
        processor = column.type.bind_processor(dialect)
        if isinstance(column.type, db.JSON):
            import json

            dumps = getattr(dialect, "_json_serializer", None) or json.dumps
            processor = (lambda v, dumps=dumps: None if v is None else dumps(v))
        elif processor is not None and isinstance(column.type, db.Float):
            processor = _float_processor(processor)
        elif processor is not None:
            processor = _once_per_value(processor)
        if processor is not None:
            processors.append((i, processor))
    quoted = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    with cursor.copy(
        f"COPY {dialect.identifier_preparer.quote(table.name)} ({quoted}) FROM STDIN",
        writer=QueuedLibpqWriter(cursor),
    ) as copy:
        write = copy.write_row
        if not processors:
            for row in rows:
                write(row)
            return
        for row in rows:
            row = list(row)
            for i, processor in processors:
                row[i] = processor(row[i])
            write(row)


def _float_processor(processor):
    """The Float column's processor, skipped for a float or None (it returns them as given)."""

    def process(value):
        if value is None or type(value) is float:
            return value
        return processor(value)

    return process


def _once_per_value(processor):
    """``processor`` remembered per distinct (hashable) value and its type."""
    seen: dict = {}

    def process(value):
        try:
            key = (type(value), value)
            return seen[key]
        except KeyError:
            seen[key] = found = processor(value)
            return found
        except TypeError:  # not hashable
            return processor(value)

    return process


def _copy_checked(
    stored: Sequence[tuple], now: datetime, submitted_by_id: int | None, via_association_id: int | None
) -> list[tuple[int, int]]:
    """``publish_checked``'s writes on PostgreSQL: ids taken from the sequences in one query
    per table, every row sent with COPY, and the declarations pointed at their versions by one
    UPDATE … FROM. Same rows and values as ``_insert_checked``."""
    from sqlalchemy import text as sql

    declarations = Declaration.__table__
    versions = DeclarationVersion.__table__
    decl_ids = _ids(declarations, len(stored))
    version_ids = _ids(versions, len(stored))
    cursor = db.session.connection().connection.driver_connection.cursor()
    try:
        _copy(
            cursor,
            declarations,
            ("id", "enterprise_id", "kind", "status", "lock_version", "created_at"),
            (
                (did, eid, kept[0], DeclarationStatus.PUBLISHED, 1, now)
                for did, (eid, kept, _t) in zip(decl_ids, stored)
            ),
        )
        version_columns = (
            "id", "declaration_id", "version_no", "status", "lock_version", *_VERSION_FIELDS,
            "text_attachment_id", "submitted_by_id", "via_association_id", "created_at",
            "updated_at", "published_at", "ended_at", "end_reason",
        )
        _copy(
            cursor,
            versions,
            version_columns,
            (
                (vid, did, 1, VersionStatus.PUBLISHED, 1, *kept[1], text_id, submitted_by_id,
                 via_association_id, now, now, now, None, "")
                for vid, did, (_eid, kept, text_id) in zip(version_ids, decl_ids, stored)
            ),
        )
        _copy(
            cursor,
            Product.__table__,
            ("version_id", *_PRODUCT_FIELDS),
            (
                (vid, *p)
                for vid, (_eid, kept, _t) in zip(version_ids, stored)
                for p in kept[2]
            ),
        )
        _copy(
            cursor,
            Indicator.__table__,
            ("version_id", "position", *_INDICATOR_FIELDS, "cmp_status", "cmp_grade",
             "cmp_margin_pct", "cmp_guaranteed"),
            (
                # the link the rules made replaces the one typed (as in _insert_checked)
                (vid, i, *fields[:_LINK_AT], link, *fields[_LINK_AT + 1 :], *figures)
                for vid, (_eid, kept, _t) in zip(version_ids, stored)
                for i, (fields, link, figures) in enumerate(kept[3])
            ),
        )
        _copy(
            cursor,
            NormativeReference.__table__,
            ("version_id", "standard_id"),
            ((vid, sid) for vid, (_eid, kept, _t) in zip(version_ids, stored) for sid in kept[4]),
        )
    finally:
        cursor.close()
    db.session.execute(
        sql(
            "UPDATE declarations AS d SET current_version_id = v.id FROM declaration_versions AS v "
            "WHERE v.declaration_id = d.id AND d.id BETWEEN :low AND :high "
            "AND d.current_version_id IS NULL AND v.id = ANY(:versions)"
        ),
        {"low": min(decl_ids), "high": max(decl_ids), "versions": version_ids},
    )
    return list(zip(decl_ids, version_ids))


_BULK_CHUNK = 2000


def _index_checked(stored: Sequence[tuple], written: list[tuple[int, int]], now: datetime) -> None:
    """The search rows of the declarations ``publish_checked`` wrote, built from what it holds
    (one query for the enterprises' names, one for the catalogue standards' numbers and
    titles) instead of ``search.refresh`` reading back all it wrote."""
    from declare import search

    standard_at = _VERSION_FIELDS.index("standard_id")
    code_at, name_at = _VERSION_FIELDS.index("std_code"), _VERSION_FIELDS.index("std_name")
    pname, pcommon, pbrand, pmodel, pcategory = (
        _PRODUCT_FIELDS.index(k) for k in ("name", "common_name", "brand", "model", "category_id")
    )
    enterprises = {
        row.id: row
        for row in db.session.execute(
            select(Enterprise.id, Enterprise.name, Enterprise.uscc, Enterprise.region_code).where(
                Enterprise.id.in_({eid for eid, _k, _t in stored})
            )
        )
    }
    standard_ids = {kept[1][standard_at] for _e, kept, _t in stored} - {None}
    standards = (
        {
            row.id: row
            for row in db.session.execute(
                select(Standard.id, Standard.code, Standard.title).where(Standard.id.in_(standard_ids))
            )
        }
        if standard_ids
        else {}
    )

    def items():
        for (did, vid), (eid, kept, _t) in zip(written, stored):
            version = kept[1]
            std = standards.get(version[standard_at])
            ent = enterprises[eid]
            # as _documents' coalesce(standard's, version's own)
            number = std.code if std is not None and std.code is not None else version[code_at]
            title = std.title if std is not None and std.title is not None else version[name_at]
            yield (
                search.DocumentHead(
                    did, kept[0], vid, VersionStatus.PUBLISHED, now, number, title,
                    ent.name, ent.uscc, ent.region_code,
                ),
                [
                    search.DocumentProduct(p[pname], p[pcommon], p[pbrand], p[pmodel], p[pcategory])
                    for p in kept[2]
                ],
            )

    search.index_new(items())


def _after_bulk_publish(stored: Sequence[tuple], written: list[tuple[int, int]]) -> None:
    """``_after_publish`` for many new declarations at once: one re-flag job for the replaced
    standards they follow or cite, one ``declaration_changed`` per chunk of declarations."""
    from core import jobs
    from declare import tasks
    from declare.signals import declaration_changed

    standard_at = _VERSION_FIELDS.index("standard_id")
    category_at = _PRODUCT_FIELDS.index("category_id")
    items = stored
    standard_ids = set()
    for _eid, kept, _t in stored:
        standard_ids.update(kept[4])
        if kept[1][standard_at]:
            standard_ids.add(kept[1][standard_at])
    if standard_ids:
        flagged = sorted(
            db.session.scalars(
                select(Standard.id).where(
                    Standard.id.in_(standard_ids), Standard.replaced_by_code.is_not(None),
                    Standard.replaced_by_code != "",
                )
            )
        )
        if flagged:
            jobs.enqueue(tasks.reflag_references, flagged)
    for start in range(0, len(items), 1000):
        part = items[start : start + 1000]
        ids = written[start : start + 1000]
        declaration_changed.send(
            None,
            declaration_ids=[d for d, _v in ids],
            enterprise_ids=sorted({eid for eid, _c, _t in part}),
            category_ids=sorted(
                {
                    p[category_at]
                    for _e, kept, _t in part
                    for p in kept[2]
                    if p[category_at] is not None
                }
            ),
            status="published",
            search_indexed=True,  # _index_checked wrote their search rows
        )


def publish(version: DeclarationVersion) -> DeclarationVersion:
    """Publish a draft (现行有效) after every check; a revision supersedes the version in force."""
    _claim(version.declaration)
    _require_draft(version)
    declaration = version.declaration
    today = local_today()
    errors = _Errors()
    draft = _parse(_data_of(version), declaration=declaration)  # no query
    if not _rules_passed_before(version, draft, today):  # the catalogue may have changed
        _check_rules(declaration.enterprise, draft, today=today, declaration=declaration)
    for field, messages in _in_form_order(draft.errors).items():
        for message in messages:
            errors.add(field, message)
    _completeness(version, errors)
    rules = check_version_rules(version, today)  # the one place the rules run
    found = set(errors)  # a field the format checks refused needs no second message
    for field, message in rules.errors():
        if field not in found:
            errors.add(field, message)
    if errors:
        raise ValidationFailed(dict(errors))

    by_position = {c.position: c for c in rules.indicators}
    for i, row in enumerate(version.indicators):
        if i in rules.links and row.benchmark_indicator_id != rules.links[i]:
            row.benchmark_indicator_id = rules.links[i]  # the link made, or the edition used
        result = by_position.get(i)
        comparison = result.comparison if result is not None else None
        row.cmp_status = comparison.status if comparison else None
        row.cmp_grade = comparison.grade if comparison else None
        row.cmp_margin_pct = comparison.margin_pct if comparison else None
        row.cmp_guaranteed = comparison.guaranteed if comparison else None

    now = utcnow()
    previous = declaration.current_version
    if (
        previous is not None
        and previous is not version
        and previous.status is VersionStatus.PUBLISHED
    ):
        previous.status = VersionStatus.SUPERSEDED
        previous.ended_at = now
        _close_flags(previous, now)
    version.status = VersionStatus.PUBLISHED
    version.published_at = now
    declaration.status = DeclarationStatus.PUBLISHED
    declaration.current_version = version
    db.session.flush()
    _after_publish(version)
    return version


def _after_publish(version: DeclarationVersion) -> None:
    """Work that follows a publication, enqueued to run after the commit.

    Re-flags the version at once when it follows or cites a standard already announced as
    replaced. The ranking package extends this hook (re-rank the categories of the version's
    products); keep additions as ``core.jobs.enqueue`` calls taking ids.
    """
    from core import jobs
    from declare import tasks

    standards = [r.standard for r in version.references]
    if version.standard is not None:
        standards.append(version.standard)
    flagged = sorted({s.id for s in standards if s is not None and s.replaced_by_code})
    if flagged:
        jobs.enqueue(tasks.reflag_references, flagged)
    # The version it replaced may have had products in other categories: re-rank those too.
    earlier = [
        v
        for v in version.declaration.versions
        if v.version_no < version.version_no and v.status is not VersionStatus.DRAFT
    ]
    _send_changed(version, "published", earlier[-1:])


def _send_changed(
    version: DeclarationVersion, status: str, others: Sequence[DeclarationVersion] = ()
) -> None:
    """Tell other packages (ranking) that a declaration was published or ended."""
    from declare.signals import declaration_changed

    categories = {p.category_id for v in (version, *others) for p in v.products}
    declaration = version.declaration
    declaration_changed.send(
        None,
        declaration_ids=[declaration.id],
        enterprise_ids=[declaration.enterprise_id],
        category_ids=sorted(c for c in categories if c is not None),
        status=status,
    )


def _close_flags(version: DeclarationVersion, when: datetime) -> None:
    """A version no longer in force keeps its flags as history, closed when it ended."""
    for flag in version.reference_flags:
        if flag.cleared_at is None:
            flag.cleared_at = when


def _after_end(version: DeclarationVersion) -> None:
    """Work that follows an abolition or revocation: ranking re-ranks and drops the leader."""
    _send_changed(version, "ended")


# --------------------------------------------------------------------------- revision and end


def start_revision(declaration: Declaration) -> DeclarationVersion:
    """A new draft (修订) copied from the version in force, numbered one higher.

    A revision already in progress is a Conflict (409), like a claim lost to it: a second
    "revise" that arrives just after the first one committed is the same race, only later.
    """
    _claim(declaration)
    current = declaration.current_version
    if declaration.status is not DeclarationStatus.PUBLISHED or current is None:
        raise ValidationFailed({GENERAL: [_("Only a published declaration can be revised.")]})
    if declaration.draft is not None:
        raise Conflict(
            _(
                "A revision (version %(no)d) is already in progress; edit or discard it.",
                no=declaration.draft.version_no,
            ),
            current_version=None,
        )
    last_no = max(v.version_no for v in declaration.versions)
    with db.session.no_autoflush:
        draft = DeclarationVersion(
            version_no=last_no + 1,
            status=VersionStatus.DRAFT,
            text_attachment_id=current.text_attachment_id,
            **{key: getattr(current, key) for key in _VERSION_FIELDS if key != "revision_note"},
        )
        draft.revision_note = ""
        draft.products.extend(
            Product(**{k: getattr(p, k) for k in _PRODUCT_FIELDS}) for p in current.products
        )
        draft.indicators.extend(
            Indicator(position=row.position, **{k: getattr(row, k) for k in _INDICATOR_FIELDS})
            for row in current.indicators
        )
        draft.references.extend(
            NormativeReference(standard_id=r.standard_id) for r in current.references
        )
        db.session.add(draft)
        draft.declaration = declaration
    db.session.flush()
    return draft


def _end(
    declaration: Declaration,
    reason: str,
    version_status: VersionStatus,
    declaration_status: DeclarationStatus,
) -> DeclarationVersion:
    _claim(declaration)
    if declaration.status in (DeclarationStatus.ABOLISHED, DeclarationStatus.REVOKED):
        # Ended a moment ago by another request (or long ago): the same race as a lost claim.
        raise Conflict(
            _(
                "Declaration %(id)d has already ended (abolished or revoked); nothing was "
                "changed now.",
                id=declaration.id,
            ),
            current_version=None,
        )
    reason = _text(reason)
    errors = _Errors()
    if not reason:
        errors.add("reason", _("Give the reason; it is shown with the declaration."))
    current = declaration.current_version
    if declaration.status is not DeclarationStatus.PUBLISHED or current is None:
        errors.add(GENERAL, _("Only a published declaration can be abolished or revoked."))
    if errors:
        raise ValidationFailed(dict(errors))
    draft = declaration.draft
    if draft is not None:
        discard_draft(draft)
    current.status = version_status
    current.ended_at = utcnow()
    current.end_reason = reason
    _close_flags(current, current.ended_at)
    declaration.status = declaration_status
    db.session.flush()
    _after_end(current)
    return current


def abolish(declaration: Declaration, reason: str) -> DeclarationVersion:
    """废止 by the enterprise: the version in force ends now, with the reason."""
    return _end(declaration, reason, VersionStatus.ABOLISHED, DeclarationStatus.ABOLISHED)


def revoke(declaration: Declaration, reason: str) -> DeclarationVersion:
    """撤销 by a regulator (publicised): the version in force ends now, with the reason."""
    return _end(declaration, reason, VersionStatus.REVOKED, DeclarationStatus.REVOKED)


# --------------------------------------------------------------------------- compliance

COMPLIANCE_KINDS = ("inspection", "violation", "credit")
COMPLIANCE_RESULTS = ("conforming", "defects", "nonconforming", "serious")


def record_compliance(
    enterprise: Enterprise,
    *,
    kind: str,
    result: str,
    occurred_on: date,
    reference: str = "",
    details: str = "",
    declaration: Declaration | None = None,
) -> ComplianceRecord:
    """Record an inspection result, violation or credit record of an enterprise.

    Supervision writes its outcomes here; ``compliance_changed`` tells ranking, which drops
    leaders of an enterprise with a non-conforming or serious record (dynamic management).
    """
    errors = _Errors()
    kind = _text(kind)
    result = _text(result)
    if kind not in COMPLIANCE_KINDS:
        errors.add("kind", _("Choose the kind of record: inspection, violation or credit."))
    if result not in COMPLIANCE_RESULTS:
        errors.add(
            "result",
            _("Choose the result: conforming, defects, nonconforming or serious."),
        )
    day, ok = _date(occurred_on)
    if not ok or day is None:
        errors.add("occurred_on", _("Enter a date as yyyy-MM-dd."))
    elif day > local_today():
        errors.add("occurred_on", _("The date cannot be in the future."))
    reference = _text(reference)
    if len(reference) > 120:
        errors.add("reference", _("At most %(n)d characters.", n=120))
    if declaration is not None and declaration.enterprise_id != enterprise.id:
        errors.add("declaration_id", _("The declaration belongs to another enterprise."))
    if errors:
        raise ValidationFailed(dict(errors))
    record = ComplianceRecord(
        enterprise=enterprise,
        declaration_id=declaration.id if declaration is not None else None,
        kind=kind,
        result=result,
        occurred_on=day,
        reference=reference,
        details=_text(details),
    )
    db.session.add(record)
    db.session.flush()
    from declare.signals import compliance_changed

    compliance_changed.send(
        None,
        enterprise_id=enterprise.id,
        record_id=record.id,
        result=result,
        declaration_id=record.declaration_id,
    )
    return record
