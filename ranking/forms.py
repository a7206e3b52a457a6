"""Flask-WTF forms of the 领跑者 pages.

The forms parse what a browser sends (types, lengths, choices) into the plan dict of the
``ranking.plans`` contract; the operations decide what is acceptable and answer with
dotted field paths (``"indicators.1.cuts"``, ``"leader_rule.n"``), which :func:`apply_errors`
puts back on the field the user typed in. Core indicators are a FieldList with blank rows, so
the page works without JavaScript; blank rows are dropped and kept rows remember their position.
"""

from __future__ import annotations

import math
import re
import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from core.forms import DayField, NumberField
from core.forms import int_or_none as _int_or_none
from core.forms import strip as _strip

MIN_INDICATORS = 3
BLANK_INDICATORS = 2  # empty rows beyond the filled ones (and at least 3 + 2 on a new plan)
MAX_INDICATORS = 20

COMPOSITE_METHODS = [
    SelectChoice("anchored", _l("Benchmark-anchored (stable when new declarations arrive)")),
    SelectChoice("topsis", "TOPSIS"),
]
LEADER_KINDS = [
    SelectChoice("top_tier_all", _l("Top tier in every core indicator")),
    SelectChoice("best_n", _l("Best N by composite score")),
    SelectChoice("best_share", _l("Best share by composite score")),
]
FLOOR_KINDS = [
    SelectChoice("mandatory", _l("Mandatory limit (限定值)")),
    SelectChoice("recommended", _l("Recommended value")),
]
CUT_MODES = [
    SelectChoice("values", _l("Fixed values")),
    SelectChoice("percentiles", _l("Fixed percentiles")),
]
DECISIONS = [
    SelectChoice("accept", _l("Accept (re-run the ranking)")),
    SelectChoice("reject", _l("Reject")),
]

_LIST_SPLIT = re.compile(r"[,;\s]+")


class NumberListField(NumberField):
    """Numbers separated by commas (``5.0, 4.5, 4.0``); full-width digits and ，/、 accepted."""

    def process_formdata(self, valuelist):
        raw = unicodedata.normalize("NFKC", valuelist[0] or "") if valuelist else ""
        self.raw = raw.strip()
        self.data = []
        text = self.raw.replace("、", ",")
        for part in _LIST_SPLIT.split(text):
            if not part:
                continue
            try:
                number = float(part)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                self.data = []
                raise ValueError(
                    str(
                        _l(
                            "“%(part)s” is not a number: write the numbers separated by commas, "
                            "e.g. 5.0, 4.5, 4.0.",
                            part=part,
                        )
                    )
                )
            self.data.append(number)

    def process_data(self, value):
        self.data = list(value or [])

    def _value(self) -> str:
        if self.raw:
            return self.raw
        return ", ".join(_number_text(v) for v in self.data or [])


def _number_text(value) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


# --------------------------------------------------------------------------- plans


class PlanIndicatorRow(Form):
    """One core indicator (核心指标) of a plan."""

    benchmark_indicator_id = SelectField(_l("Benchmark indicator"), default="")
    floor_kind = SelectField(_l("Floor from"), choices=FLOOR_KINDS, default="mandatory")
    floor = NumberField(_l("Floor value (empty: the benchmark's)"))
    cut_mode = SelectField(_l("Tier cuts are"), choices=CUT_MODES, default="values")
    cuts = NumberListField(_l("Tier cut points, best first"))
    weight = NumberField(_l("Weight"), default=1.0)
    best_reference = NumberField(_l("Best reference (empty: the grade-1 threshold)"))

    NUMBERS = ("floor", "weight", "best_reference")

    def is_blank(self) -> bool:
        return not self.benchmark_indicator_id.data and not self.cuts.raw and not any(
            getattr(self, f).raw for f in ("floor", "best_reference")
        )

    def to_data(self) -> dict:
        return {
            "benchmark_indicator_id": _int_or_none(self.benchmark_indicator_id.data),
            "floor_kind": self.floor_kind.data or "mandatory",
            "floor": self.floor.data,
            "cut_mode": self.cut_mode.data or "values",
            "cuts": list(self.cuts.data or []),
            "weight": 1.0 if self.weight.data is None else self.weight.data,
            "best_reference": self.best_reference.data,
        }


class PlanForm(FlaskForm):
    """评估方案: category, year, core indicators, entry requirements, leader rule, publicity."""

    category_id = SelectField(_l("Product category"), default="")
    year = IntegerField(
        _l("Year"),
        validators=[InputRequired(), NumberRange(min=2000, max=2100)],
    )
    title = StringField(
        _l("Plan title"), validators=[DataRequired(), Length(max=200)], filters=[_strip]
    )
    indicators = FieldList(
        FormField(PlanIndicatorRow),
        label=_l("Core indicators"),
        min_entries=MIN_INDICATORS,
        max_entries=MAX_INDICATORS,
    )
    exclude_mingshi_on_core = BooleanField(
        _l("Exclude declarations with a 明示 on a core indicator"), default=True
    )
    require_references_valid = BooleanField(
        _l("Require every normative reference to be valid (not withdrawn)"), default=True
    )
    inspection_window_days = IntegerField(
        _l("No non-conforming inspection within (days)"),
        default=1095,
        validators=[InputRequired(), NumberRange(min=0, max=36500)],
    )
    leader_kind = SelectField(_l("Leader rule"), choices=LEADER_KINDS, default="top_tier_all")
    leader_n = IntegerField(_l("N (best N)"), validators=[Optional()])
    leader_share = NumberField(_l("Share (best share, e.g. 0.1 for 10%)"))
    star_cuts = NumberListField(_l("Star cuts on the composite score, highest first"))
    composite_method = SelectField(
        _l("Composite method"), choices=COMPOSITE_METHODS, default="anchored"
    )
    publicity_days = IntegerField(
        _l("Publicity period (days)"),
        default=10,
        validators=[InputRequired(), NumberRange(min=1, max=365)],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.list_errors: dict[str, list[str]] = {}
        self._benchmark_choices: list[SelectChoice] = []

    def set_choices(self, categories: list[SelectChoice], benchmarks: list[SelectChoice]) -> None:
        self.category_id.choices = categories
        self._benchmark_choices = benchmarks
        for entry in self.indicators:
            entry.form.benchmark_indicator_id.choices = benchmarks

    def add_blank_rows(self) -> None:
        rows = self.indicators
        trailing = 0
        for entry in reversed(rows.entries):
            if not entry.form.is_blank():
                break
            trailing += 1
        wanted = max(BLANK_INDICATORS - trailing, MIN_INDICATORS + BLANK_INDICATORS - len(rows))
        for _ in range(max(0, wanted)):
            if len(rows.entries) >= MAX_INDICATORS:
                break
            rows.append_entry().form.benchmark_indicator_id.choices = self._benchmark_choices

    def to_data(self) -> tuple[dict, list[int]]:
        """The plan dict of the operations contract and the form row of each kept indicator."""
        indicators, positions = [], []
        for i, entry in enumerate(self.indicators):
            if not entry.form.is_blank():
                indicators.append(entry.form.to_data())
                positions.append(i)
        kind = self.leader_kind.data or "top_tier_all"
        data = {
            "category_id": _int_or_none(self.category_id.data),
            "year": self.year.data,
            "title": self.title.data or "",
            "composite_method": self.composite_method.data or "anchored",
            "publicity_days": self.publicity_days.data,
            "entry_rules": {
                "exclude_mingshi_on_core": bool(self.exclude_mingshi_on_core.data),
                "require_references_valid": bool(self.require_references_valid.data),
                "inspection_window_days": self.inspection_window_days.data,
            },
            "leader_rule": {
                "kind": kind,
                "n": self.leader_n.data if kind == "best_n" else None,
                "share": self.leader_share.data if kind == "best_share" else None,
                "star_cuts": list(self.star_cuts.data or []),
            },
            "indicators": indicators,
        }
        return data, positions


def plan_form_data(plan) -> dict:
    """Form data of a saved plan (the edit page)."""
    rule = plan.leader_rule or {}
    rules = plan.entry_rules or {}
    return {
        "category_id": str(plan.category_id),
        "year": plan.year,
        "title": plan.title,
        "composite_method": plan.composite_method,
        "publicity_days": plan.publicity_days,
        "exclude_mingshi_on_core": rules.get("exclude_mingshi_on_core", True),
        "require_references_valid": rules.get("require_references_valid", True),
        "inspection_window_days": rules.get("inspection_window_days", 1095),
        "leader_kind": rule.get("kind", "top_tier_all"),
        "leader_n": rule.get("n"),
        "leader_share": rule.get("share"),
        "star_cuts": rule.get("star_cuts") or [],
        "indicators": [
            {
                "benchmark_indicator_id": str(pi.benchmark_indicator_id),
                "floor_kind": pi.floor_kind,
                "floor": pi.floor,
                "cut_mode": pi.cut_mode,
                "cuts": pi.cuts or [],
                "weight": pi.weight,
                "best_reference": pi.best_reference,
            }
            for pi in plan.indicators
        ],
    }


# Where an operation's field path lands on the plan form.
_PLAN_FIELDS = {
    "leader_rule": "leader_kind",
    "leader_rule.kind": "leader_kind",
    "leader_rule.n": "leader_n",
    "leader_rule.share": "leader_share",
    "leader_rule.star_cuts": "star_cuts",
    "entry_rules": "inspection_window_days",
}


def apply_errors(form: PlanForm, errors: dict[str, list[str]], positions: list[int]) -> None:
    """Put each ``ValidationFailed`` message on its field.

    ``"indicators.1.cuts"`` is the second indicator *sent to the operation*; ``positions``
    turns it back into the form row. Messages about the whole list go to
    ``form.list_errors["indicators"]``, messages that match no field to ``"__all__"``.
    """
    for key, messages in errors.items():
        field = _locate(form, key, positions)
        for message in messages:
            if isinstance(field, Field):
                field.errors = list(field.errors or []) + [message]
            else:
                form.list_errors.setdefault(field, []).append(message)


def _locate(form: PlanForm, key: str, positions: list[int]) -> Field | str:
    parts = key.split(".")
    if parts[0] == "indicators":
        index = _int_or_none(parts[1]) if len(parts) > 1 else None
        if index is None or index >= len(positions):
            return "indicators"
        row = form.indicators.entries[positions[index]].form
        name = parts[2] if len(parts) > 2 else "benchmark_indicator_id"
        name = {"benchmark_code": "benchmark_indicator_id", "direction": "benchmark_indicator_id",
                "unit": "benchmark_indicator_id"}.get(name, name)
        return getattr(row, name, None) or row.benchmark_indicator_id
    name = _PLAN_FIELDS.get(key)
    if name is None and parts[0] == "entry_rules" and len(parts) > 1:
        name = parts[1]
    if name is None and parts[0] == "leader_rule":
        name = "leader_kind"
    if name is None:
        name = key
    field = getattr(form, name, None)
    return field if isinstance(field, Field) and name not in ("indicators", "meta") else "__all__"


# --------------------------------------------------------------------------- lifecycle


class ActionForm(FlaskForm):
    """A button that changes state: nothing but the CSRF token."""


class PublicityForm(FlaskForm):
    start = DayField(_l("Publicity starts on (empty: today)"), validators=[Optional()])


class ObjectionForm(FlaskForm):
    """异议: anyone may object to a list under publicity."""

    name = StringField(
        _l("Your name or organisation"),
        validators=[DataRequired(), Length(max=120)],
        filters=[_strip],
    )
    contact = StringField(
        _l("Contact (phone or e-mail)"),
        validators=[DataRequired(), Length(max=120)],
        filters=[_strip],
    )
    text = TextAreaField(
        _l("Objection and its grounds"),
        validators=[DataRequired(), Length(max=4000)],
        filters=[_strip],
        render_kw={"rows": 5},
    )
    entry_id = HiddenField()  # set from the "object to this entry" link (?entry=…)

    def entry(self) -> int | None:
        return _int_or_none(self.entry_id.data)


class ResolveForm(FlaskForm):
    """The evaluation body's answer to an objection: accept (re-run) or reject, with a reason."""

    decision = RadioField(_l("Decision"), choices=DECISIONS, validators=[InputRequired()])
    response = TextAreaField(
        _l("Reason (shown to the objector)"),
        validators=[DataRequired(), Length(max=4000)],
        filters=[_strip],
        render_kw={"rows": 3},
    )
