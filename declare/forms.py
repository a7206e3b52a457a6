"""Flask-WTF forms of the declaration pages.

The forms only parse what a browser sends (types, lengths, choices) into the draft dict of the
``declare.operations`` contract; the operations decide what is acceptable. Repeating rows
(products, indicators, references) are FieldLists with a fixed number of blank rows, so the
page works without JavaScript; blank rows are dropped and every kept row remembers its form
position, so an operation's ``"indicators.2.mingshi"`` lands on the row the user typed.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.utils import unset_value
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from core.forms import DayField, NumberField
from core.forms import int_or_none as _int_or_none
from core.forms import strip as _strip
from declare.operations import draft_limits

# Blank rows a page shows beyond the filled ones (the no-JavaScript fallback).
BLANK_PRODUCTS = 3
BLANK_INDICATORS = 5
BLANK_REFERENCES = 3

OPS = [
    SelectChoice("ge", "≥"),
    SelectChoice("le", "≤"),
    SelectChoice("eq", "="),
    SelectChoice("range", _l("range (low – high)")),
]
INDICATOR_KINDS = [
    SelectChoice("performance", _l("Performance indicator (性能指标)")),
    SelectChoice("function", _l("Function indicator (功能指标)")),
]
DISCLOSURES = [
    SelectChoice("full_text", _l("Disclose the full text")),
    SelectChoice("indicators_only", _l("Disclose the function and performance indicators only")),
]


# --------------------------------------------------------------------------- registration


class RegistrationForm(FlaskForm):
    """企业注册: the enterprise and its login in one step."""

    uscc = StringField(
        _l("Unified social credit code (统一社会信用代码)"),
        validators=[DataRequired(), Length(max=40)],
        filters=[_strip],
    )
    name = StringField(
        _l("Enterprise name"), validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)], filters=[_strip])
    contact_name = StringField(
        _l("Contact person"), validators=[Optional(), Length(max=80)], filters=[_strip]
    )
    contact_phone = StringField(
        _l("Contact phone"), validators=[Optional(), Length(max=40)], filters=[_strip]
    )
    username = StringField(
        _l("Username"), validators=[DataRequired(), Length(min=3, max=80)], filters=[_strip]
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=200)])
    password2 = PasswordField(
        _l("Password again"),
        validators=[
            DataRequired(),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )

    def validate_uscc(self, field) -> None:
        from declare.validators import USCCError, validate_uscc

        try:
            field.data, _region = validate_uscc(field.data)
        except USCCError as exc:
            raise ValidationError(exc.message) from None

    def to_kwargs(self) -> dict:
        return {
            name: getattr(self, name).data or ""
            for name in (
                "uscc",
                "name",
                "username",
                "password",
                "address",
                "contact_name",
                "contact_phone",
            )
        }


# --------------------------------------------------------------------------- declaration rows


class ProductRow(Form):
    name = StringField(
        _l("Product name"), validators=[Optional(), Length(max=200)], filters=[_strip]
    )
    model = StringField(
        _l("Model (型号)"), validators=[Optional(), Length(max=120)], filters=[_strip]
    )
    category_id = SelectField(_l("Category"), default="")
    specification = StringField(
        _l("Specification"), validators=[Optional(), Length(max=200)], filters=[_strip]
    )
    common_name = StringField(
        _l("Common name"), validators=[Optional(), Length(max=200)], filters=[_strip]
    )
    brand = StringField(_l("Brand"), validators=[Optional(), Length(max=120)], filters=[_strip])
    barcode = StringField(
        _l("Barcode (EAN-13)"), validators=[Optional(), Length(max=20)], filters=[_strip]
    )

    TEXT = ("name", "model", "specification", "common_name", "brand", "barcode")

    def is_blank(self) -> bool:
        return (
            not self.category_id.data
            and not any(getattr(self, f).data for f in self.TEXT)
            and not any(getattr(self, f).data for f in attribute_field_names())
        )

    def to_data(self) -> dict:
        data = {f: getattr(self, f).data or "" for f in self.TEXT}
        data["category_id"] = _int_or_none(self.category_id.data)
        data["attributes"] = attributes_of(self)
        return data


def attribute_field_names() -> list[str]:
    """The product-row fields of the attributes that select benchmark rows."""
    from benchmarks.applicability import ATTRIBUTES

    names = []
    for spec in ATTRIBUTES.values():
        names.append(f"attr_{spec.code}")
        if spec.is_quantity:
            names.append(f"attr_{spec.code}_unit")
    return names


def attributes_of(row: Form) -> dict:
    """A product row's attribute fields as the operations' ``attributes`` dict."""
    from benchmarks.applicability import ATTRIBUTES

    out: dict = {}
    for spec in ATTRIBUTES.values():
        value = getattr(row, f"attr_{spec.code}").data
        if value in (None, ""):
            continue
        if spec.is_quantity:
            out[spec.code] = [value, getattr(row, f"attr_{spec.code}_unit").data or spec.unit]
        else:
            out[spec.code] = value
    return out


def _add_attribute_fields() -> None:
    """One field per attribute (a number and its unit, or a choice) on every product row."""
    from benchmarks.applicability import ATTRIBUTES

    for spec in ATTRIBUTES.values():
        if spec.is_quantity:
            setattr(ProductRow, f"attr_{spec.code}", NumberField(spec.label))
            setattr(
                ProductRow,
                f"attr_{spec.code}_unit",
                StringField(
                    _l("Unit"),
                    validators=[Optional(), Length(max=30)],
                    filters=[_strip],
                    render_kw={"placeholder": spec.unit},
                ),
            )
        else:
            setattr(
                ProductRow,
                f"attr_{spec.code}",
                SelectField(
                    spec.label,
                    default="",
                    choices=[SelectChoice("", _l("— not applicable —"))]
                    + [SelectChoice(code, label) for code, label in spec.choices],
                ),
            )


_add_attribute_fields()


class IndicatorRow(Form):
    kind = SelectField(_l("Kind"), choices=INDICATOR_KINDS, default="performance")
    name = StringField(_l("Indicator"), validators=[Optional(), Length(max=200)], filters=[_strip])
    benchmark_indicator_id = SelectField(_l("Benchmark indicator"), default="")
    op = SelectField(_l("Comparison"), choices=OPS, default="ge")
    value = NumberField(_l("Value"))
    low = NumberField(_l("Low"))
    high = NumberField(_l("High"))
    text_value = StringField(
        _l("Requirement (text)"), validators=[Optional(), Length(max=300)], filters=[_strip]
    )
    unit = StringField(_l("Unit"), validators=[Optional(), Length(max=30)], filters=[_strip])
    test_method = StringField(
        _l("Test method (检验方法)"), validators=[Optional(), Length(max=300)], filters=[_strip]
    )
    mingshi = TextAreaField(
        _l("明示 statement (lower than a recommended standard, and why)"),
        validators=[Optional(), Length(max=4000)],
        filters=[_strip],
        render_kw={"rows": 2},
    )

    TEXT = ("name", "text_value", "unit", "test_method", "mingshi")
    NUMBERS = ("value", "low", "high")
    SELECTS = ("kind", "benchmark_indicator_id", "op")

    def is_blank(self) -> bool:
        return (
            not self.benchmark_indicator_id.data
            and not any(getattr(self, f).data for f in self.TEXT)
            and not any(getattr(self, f).raw for f in self.NUMBERS)
        )

    def to_data(self) -> dict:
        data = {f: getattr(self, f).data or "" for f in self.TEXT}
        data.update({f: getattr(self, f).data for f in self.NUMBERS})
        data["kind"] = self.kind.data or "performance"
        data["op"] = self.op.data or "ge"
        data["benchmark_indicator_id"] = _int_or_none(self.benchmark_indicator_id.data)
        return data


class ReferenceRow(Form):
    standard_id = SelectField(_l("Normative reference"), default="")

    def is_blank(self) -> bool:
        return not self.standard_id.data


class DraftRows(FieldList):
    """Repeating rows of a draft, as many as the draft may have (``operations.draft_limits``,
    from the config) plus the blank rows a page keeps.

    When a browser sends more rows than that, none is built (10,000 rows cost one pass over
    the field names) but they are counted: ``sent`` is how many rows arrived, and the view
    refuses the form with the operations' message (``operations.too_many_rows``) instead of
    dropping rows silently. A stored draft longer than today's limit (the limit was lowered)
    still opens.
    """

    def __init__(self, *args, list_key: str, blank: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.list_key, self.blank = list_key, blank
        self.sent = 0

    def process(self, formdata, data=unset_value, extra_filters=None):
        limit = draft_limits()[self.list_key]
        stored = len(data) if isinstance(data, (list, tuple)) else 0
        self.max_entries = max(limit, stored) + self.blank
        self.sent = len(set(self._extract_indices(self.name, formdata))) if formdata else 0
        if self.cut:
            formdata = None  # refused anyway (the view raises): build no row of it
        super().process(formdata, data, extra_filters)

    @property
    def cut(self) -> bool:
        """Whether more rows were sent than were built."""
        return self.sent > self.max_entries


# --------------------------------------------------------------------------- declaration forms


class _DeclarationForm(FlaskForm):
    """What both kinds share: the optimistic lock and the products."""

    lock_version = HiddenField()
    commitment_accepted = BooleanField(
        _l("We make the self-declaration commitment (自我声明承诺书) above.")
    )
    products = DraftRows(
        FormField(ProductRow),
        label=_l("Products"),
        min_entries=1,
        list_key="products",
        blank=BLANK_PRODUCTS,
    )

    ROWS: tuple[tuple[str, int], ...] = (("products", BLANK_PRODUCTS),)
    kind = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.list_errors: dict[str, list[str]] = {}

    def set_choices(self, choices: dict[str, list[SelectChoice]]) -> None:
        """Give every row its select options (categories, benchmarks, standards)."""
        self._choice_sets = choices
        for name, _blank in self.ROWS:
            for entry in getattr(self, name):
                self._fill_row_choices(entry.form)
        if hasattr(self, "standard_id"):
            self.standard_id.choices = choices["standards"]

    def _fill_row_choices(self, row: Form) -> None:
        sets = self._choice_sets
        if isinstance(row, ProductRow):
            row.category_id.choices = sets["categories"]
        elif isinstance(row, IndicatorRow):
            row.benchmark_indicator_id.choices = sets["benchmarks"]
        elif isinstance(row, ReferenceRow):
            row.standard_id.choices = sets["references"]

    def add_blank_rows(self) -> None:
        """Keep a few empty rows at the end of every list for users without JavaScript."""
        for name, blank in self.ROWS:
            rows = getattr(self, name)
            trailing = 0
            for entry in reversed(rows.entries):
                if not entry.form.is_blank():
                    break
                trailing += 1
            for _ in range(max(0, blank - trailing)):
                if len(rows.entries) >= rows.max_entries:
                    break
                self._fill_row_choices(rows.append_entry().form)

    def to_data(self) -> tuple[dict, dict[str, list[int]]]:
        """The draft dict of the operations contract, and where each kept row sits in the form."""
        positions: dict[str, list[int]] = {}
        products = []
        positions["products"] = []
        for i, entry in enumerate(self.products):
            if not entry.form.is_blank():
                products.append(entry.form.to_data())
                positions["products"].append(i)
        data = {
            "kind": self.kind,
            "products": products,
            "commitment_accepted": bool(self.commitment_accepted.data),
        }
        data.update(self._own_data(positions))
        return data, positions

    def _own_data(self, positions: dict[str, list[int]]) -> dict:
        return {}

    def rows_sent_beyond_limit(self) -> dict[str, int]:
        """How many rows a browser sent of each list it sent too many of (more than a draft
        may have, blank rows included), for ``operations.too_many_rows``."""
        return {
            rows.list_key: rows.sent
            for name, _blank in self.ROWS
            if (rows := getattr(self, name)).cut
        }

    def lock(self) -> int | None:
        return _int_or_none(self.lock_version.data)


class CatalogueDeclarationForm(_DeclarationForm):
    """Following a national, industry, local or group standard picked from the catalogue."""

    kind = "catalogue"
    standard_id = SelectField(
        _l("Standard followed"),
        default="",
        invalid_choice_message=_l("Pick the standard from the list of catalogue standards."),
    )

    def _own_data(self, positions):
        return {"standard_id": _int_or_none(self.standard_id.data)}


class EnterpriseDeclarationForm(_DeclarationForm):
    """Following the enterprise's own standard (Q/…), with indicators, text and commitment."""

    kind = "enterprise"
    ROWS = (
        ("products", BLANK_PRODUCTS),
        ("indicators", BLANK_INDICATORS),
        ("references", BLANK_REFERENCES),
    )

    std_code = StringField(
        _l("Standard number"),
        validators=[Optional(), Length(max=80)],
        filters=[_strip],
        render_kw={"placeholder": "Q/ABC 0001-2024"},
    )
    std_name = StringField(
        _l("Standard name"), validators=[Optional(), Length(max=300)], filters=[_strip]
    )
    indicators = DraftRows(
        FormField(IndicatorRow),
        label=_l("Function and performance indicators"),
        min_entries=1,
        list_key="indicators",
        blank=BLANK_INDICATORS,
    )
    references = DraftRows(
        FormField(ReferenceRow),
        label=_l("Normative references"),
        min_entries=1,
        list_key="reference_ids",
        blank=BLANK_REFERENCES,
    )
    text_pdf = FileField(_l("Standard text (PDF)"))
    disclosure = RadioField(
        _l("Disclosure"), choices=DISCLOSURES, default="full_text", validators=[InputRequired()]
    )
    approved_by = StringField(
        _l("Approved internally by"), validators=[Optional(), Length(max=120)], filters=[_strip]
    )
    approved_on = DayField(_l("Approved on"), validators=[Optional()])
    implemented_on = DayField(_l("Implemented on (实施日期)"), validators=[Optional()])
    revision_note = TextAreaField(
        _l("Revision note"), validators=[Optional(), Length(max=4000)], filters=[_strip]
    )
    mingshi_fewer = TextAreaField(
        _l("明示 statement: fewer indicators than a recommended standard (which, and why)"),
        validators=[Optional(), Length(max=4000)],
        filters=[_strip],
        render_kw={"rows": 2},
    )

    def _own_data(self, positions):
        indicators = []
        positions["indicators"] = []
        for i, entry in enumerate(self.indicators):
            if not entry.form.is_blank():
                indicators.append(entry.form.to_data())
                positions["indicators"].append(i)
        reference_ids: list[int] = []
        positions["reference_ids"] = []
        for i, entry in enumerate(self.references):
            ref = _int_or_none(entry.form.standard_id.data)
            if ref is not None and ref not in reference_ids:
                reference_ids.append(ref)
                positions["reference_ids"].append(i)
        return {
            "std_code": self.std_code.data or "",
            "std_name": self.std_name.data or "",
            "indicators": indicators,
            "reference_ids": reference_ids,
            "disclosure": self.disclosure.data or "full_text",
            "approved_by": self.approved_by.data or "",
            "approved_on": self.approved_on.data,
            "implemented_on": self.implemented_on.data,
            "revision_note": self.revision_note.data or "",
            "mingshi_fewer": self.mingshi_fewer.data or "",
        }


FORMS = {"catalogue": CatalogueDeclarationForm, "enterprise": EnterpriseDeclarationForm}


def version_form_data(version) -> dict:
    """A stored draft as form data (the edit page starts from it)."""
    data = {
        "lock_version": version.lock_version,
        "products": [
            {
                "name": p.name,
                "model": p.model,
                "category_id": str(p.category_id),
                "specification": p.specification,
                "common_name": p.common_name,
                "brand": p.brand,
                "barcode": p.barcode,
                **_attribute_form_data(p.attributes or {}),
            }
            for p in version.products
        ],
        "standard_id": str(version.standard_id) if version.standard_id else "",
        "std_code": version.std_code,
        "std_name": version.std_name,
        "indicators": [
            {
                "kind": i.kind,
                "name": i.name,
                "benchmark_indicator_id": str(i.benchmark_indicator_id or ""),
                "op": i.op,
                "value": i.value,
                "low": i.low,
                "high": i.high,
                "text_value": i.text_value,
                "unit": i.unit,
                "test_method": i.test_method,
                "mingshi": i.mingshi,
            }
            for i in version.indicators
        ],
        "references": [{"standard_id": str(r.standard_id)} for r in version.references],
        "disclosure": version.disclosure.value,
        "commitment_accepted": version.commitment_accepted,
        "approved_by": version.approved_by,
        "approved_on": version.approved_on,
        "implemented_on": version.implemented_on,
        "revision_note": version.revision_note,
        "mingshi_fewer": version.mingshi_fewer,
    }
    return data


def _attribute_form_data(attributes: dict) -> dict:
    out = {}
    for code, value in attributes.items():
        if isinstance(value, (list, tuple)) and len(value) == 2:
            out[f"attr_{code}"], out[f"attr_{code}_unit"] = value
        else:
            out[f"attr_{code}"] = value
    return out


# Keys an operation may use that are named differently in the form.
_FIELD_ALIASES = {
    "reference_ids": ("references", "standard_id"),
    "references": ("references", "standard_id"),
    "text_attachment_id": ("text_pdf", None),
    "text_attachment": ("text_pdf", None),
    "text": ("text_pdf", None),
    "file": ("text_pdf", None),
}
GENERAL_KEYS = {"_schema", "kind", "__all__"}


def apply_errors(
    form: _DeclarationForm, errors: dict[str, list[str]], positions: dict[str, list[int]]
) -> list[tuple[str, str]]:
    """Put each ``ValidationFailed`` message on its field; return (where, message) for the top.

    ``"indicators.2.mingshi"`` means the third indicator *sent to the operation*; ``positions``
    turns that back into the form row, since blank rows were dropped on the way. Messages
    about a whole list (``"products"``) go to ``form.list_errors``, the others that match no
    field to ``form.list_errors["__all__"]``.
    """
    summary: list[tuple[str, str]] = []
    for key, messages in errors.items():
        field, where = _locate(form, key, positions)
        for message in messages:
            if isinstance(field, Field):
                field.errors = list(field.errors or []) + [message]
            else:
                form.list_errors.setdefault(field or "__all__", []).append(message)
            summary.append((where, message))
    return summary


def _locate(form, key: str, positions) -> tuple[Field | str | None, str]:
    if key in GENERAL_KEYS:
        return None, ""
    parts = key.split(".")
    head = parts[0]
    list_name, sub = _FIELD_ALIASES.get(head, (head, None))
    container = getattr(form, list_name, None)
    if isinstance(container, FieldList):
        list_label = str(container.label.text)
        index = _int_or_none(parts[1]) if len(parts) > 1 else None
        rows = positions.get(head) or positions.get(list_name) or []
        if index is None or index >= len(rows) or rows[index] >= len(container.entries):
            return list_name, list_label
        row_no = rows[index]
        row = container.entries[row_no].form
        field_name = parts[2] if len(parts) > 2 else sub
        if field_name == "attributes" and len(parts) > 3:
            field_name = f"attr_{parts[3]}"  # products.0.attributes.rated_cooling_capacity
        field = getattr(row, field_name, None) if field_name else None
        where = str(_l("%(list)s, row %(n)s", list=list_label, n=row_no + 1))
        if isinstance(field, Field):
            return field, f"{where}: {field.label.text}"
        return next(iter(row)), where  # a message about the whole row: on its first field
    if isinstance(container, Field):
        return container, str(container.label.text)
    return None, key


class AbolishForm(FlaskForm):
    """废止: the enterprise withdraws its declaration; the reason is published."""

    reason = TextAreaField(
        _l("Reason for abolishing"),
        validators=[DataRequired(), Length(max=2000)],
        filters=[_strip],
        render_kw={"rows": 3},
    )
    confirm = BooleanField(
        _l("I understand that the standard stops being in force now, visibly to everyone."),
        validators=[
            DataRequired(message=_l("Tick the box to confirm that you want to abolish it."))
        ],
    )


REGION_RE = r"^\d{2,6}$"


class SearchForm(Form):
    """The public search (GET, no CSRF): every filter optional."""

    q = StringField(
        _l("Search"), validators=[Optional(), Length(max=100)], filters=[_strip]
    )
    category_id = SelectField(_l("Product category"), default="")
    kind = SelectField(
        _l("Kind"),
        default="",
        choices=[
            SelectChoice("", _l("All kinds")),
            SelectChoice("enterprise", _l("Own enterprise standard")),
            SelectChoice("catalogue", _l("Follows a catalogue standard")),
        ],
    )
    region = StringField(
        _l("Region code"),
        validators=[
            Optional(),
            Regexp(
                REGION_RE,
                message=_l(
                    "Region is the 行政区划 code or its start: 2 to 6 digits, e.g. 50 or 500112."
                ),
            ),
        ],
        filters=[_strip],
    )

    def filters(self) -> dict:
        return {
            "q": self.q.data or "",
            "category_id": _int_or_none(self.category_id.data),
            "kind": self.kind.data or None,
            "region": self.region.data or None,
        }
