"""Forms of the sampling pages: plans, draws, the inspector pool and state-changing buttons."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from core.forms import DayField, NumberField
from core.forms import strip as _strip
from supervision.models import SamplingPlan
from supervision.sampling import operations as draws
from supervision.sampling.labels import ALLOCATION_CHOICES, STRATIFICATION_CHOICES


class PlanForm(FlaskForm):
    """抽查计划: scope, size, strata, exclusions, risk weight, inspectors."""

    name = StringField(_l("Plan name"), validators=[DataRequired(), Length(max=200)],
                       filters=[_strip])
    region_code = StringField(_l("Region (行政区划 code)"), validators=[Length(max=6)],
                              filters=[_strip])
    category_ids = SelectMultipleField(_l("Product categories (none chosen: all)"), choices=[],
                                       validate_choice=False)
    period_start = DayField(_l("Period starts"), validators=[Optional()])
    period_end = DayField(_l("Period ends (declarations in force on this day)"),
                          validators=[Optional()])
    size_ratio = NumberField(_l("Sample ratio (e.g. 0.1 for one tenth)"))
    size_count = NumberField(_l("Or a number of objects"))
    min_ratio = NumberField(_l("Minimum sample ratio"))
    stratification = SelectField(_l("Strata"), choices=STRATIFICATION_CHOICES, default="none")
    allocation = SelectField(_l("Sample shared among strata"), choices=ALLOCATION_CHOICES,
                             default="proportional")
    exclude_drawn_years = NumberField(_l("Exclude enterprises drawn in the last (years)"))
    risk_factor = NumberField(_l("Risk factor (0: risk does not count)"))
    max_inclusion = NumberField(_l("Highest inclusion probability"))
    inspectors_per_object = NumberField(_l("Inspectors per object"))
    rectification_days = NumberField(_l("Rectification deadline (days)"))

    NUMBERS = ("size_ratio", "size_count", "min_ratio", "exclude_drawn_years", "risk_factor",
               "max_inclusion", "inspectors_per_object", "rectification_days")

    def to_data(self) -> dict:
        data = {
            "name": self.name.data or "",
            "region_code": self.region_code.data or "",
            "category_ids": list(self.category_ids.data or []),
            "period_start": self.period_start.data,
            "period_end": self.period_end.data,
            "stratification": self.stratification.data,
            "allocation": self.allocation.data,
        }
        for name in self.NUMBERS:
            data[name] = getattr(self, name).data
        return data


def plan_form_data(plan: SamplingPlan) -> dict:
    data = draws.plan_data(plan)
    data["category_ids"] = [str(c) for c in data["category_ids"]]
    return data


class DrawForm(FlaskForm):
    """The seed of a draw and the complaint-triggered objects checked with it."""

    seed = StringField(_l("Seed (a whole number)"), validators=[Length(max=40)],
                       filters=[_strip])
    seed_text = TextAreaField(
        _l("Or a public seed text, e.g. a lottery result"),
        validators=[Length(max=draws.MAX_SEED_TEXT)], filters=[_strip], render_kw={"rows": 2},
    )
    complaint_declaration_ids = StringField(
        _l("Complaint-triggered declarations (ids, separated by commas)"), filters=[_strip]
    )
    complaint_ids = StringField(_l("Complaints to check (ids, separated by commas)"),
                                filters=[_strip])


class InspectorForm(FlaskForm):
    """A member of the inspector pool (执法检查人员库) with the ties they are recused for."""

    code = StringField(_l("Staff number"), validators=[DataRequired(), Length(max=40)],
                       filters=[_strip])
    name = StringField(_lp("person", "Name"), validators=[DataRequired(), Length(max=80)],
                       filters=[_strip])
    organisation = StringField(_l("Organisation"), validators=[Length(max=200)],
                               filters=[_strip])
    speciality = StringField(_l("Speciality"), validators=[Length(max=200)], filters=[_strip])
    tied_usccs = TextAreaField(
        _l("Recused from enterprises (unified social credit codes)"), filters=[_strip],
        render_kw={"rows": 2},
    )
    tied_region_codes = StringField(_l("Recused from regions (行政区划 codes)"),
                                    filters=[_strip])
    active = BooleanField(_l("In the pool drawn from"), default=True)

    def to_data(self) -> dict:
        return {
            "code": self.code.data or "",
            "name": self.name.data or "",
            "organisation": self.organisation.data or "",
            "speciality": self.speciality.data or "",
            "tied_usccs": self.tied_usccs.data or "",
            "tied_region_codes": self.tied_region_codes.data or "",
            "active": bool(self.active.data),
        }


class ActionForm(FlaskForm):
    """A button that changes state: nothing but the CSRF token."""


def apply_errors(form: FlaskForm, errors: dict[str, list[str]]) -> list[str]:
    """Put each message on its field; return the messages that match no field."""
    other = []
    aliases = {"tied_enterprise_ids": "tied_usccs"}
    for key, messages in errors.items():
        field = getattr(form, aliases.get(key, key), None)
        if isinstance(field, Field) and key != "meta":
            field.errors = list(field.errors or []) + list(messages)
        else:
            other.extend(messages)
    return other
