"""Forms of the inspection pages: the result with its checklist, follow-up and the answer."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from core.forms import DayField
from core.forms import strip as _strip
from supervision.inspections import operations as inspections
from supervision.inspections.operations import CHECKLIST_LABELS, RESULT_LABELS
from supervision.models import CHECKLIST, InspectionResult

CHECK_LABELS = {"pass": _l("Pass"), "fail": _l("Fail"), "na": _l("Not applicable")}


class ActionForm(FlaskForm):
    """A button that changes state: nothing but the CSRF token."""


class RecordForm(FlaskForm):
    """The result with the checklist: one pass/fail/na choice and one finding per item.

    The fields only carry what was typed; ``inspections.record_result`` judges it and its
    messages come back on the field they are about (``apply_record_errors``).
    """

    result = RadioField(
        _lp("inspection", "Result"),
        choices=[SelectChoice(r.value, RESULT_LABELS[r.value]) for r in InspectionResult],
        validate_choice=False,
    )
    inspected_on = DayField(_l("Inspected on"), validators=[Optional()])
    requirements = TextAreaField(
        _l("Rectification requirements (does not conform only; empty: the failed findings)"),
        validators=[Optional(), Length(max=inspections.TEXT_MAX)],
        filters=[_strip],
        render_kw={"rows": 3},
    )
    rectification_days = StringField(
        _l("Rectification period in days (empty: the plan's or the default)"),
        validators=[Optional(), Length(max=5)],
        filters=[_strip],
        render_kw={"inputmode": "numeric"},
    )

    def check(self, item: str):
        return getattr(self, f"check_{item}")

    def finding(self, item: str):
        return getattr(self, f"finding_{item}")

    def to_data(self) -> dict:
        return {
            "result": self.result.data or "",
            "inspected_on": self.inspected_on.data,
            "requirements": self.requirements.data or "",
            "rectification_days": self.rectification_days.data or None,
            "checklist": {item: self.check(item).data or "" for item in CHECKLIST},
            "findings": [
                {"item": item, "text": self.finding(item).data}
                for item in CHECKLIST
                if self.finding(item).data
            ],
        }


for _item in CHECKLIST:
    setattr(
        RecordForm,
        f"check_{_item}",
        RadioField(
            CHECKLIST_LABELS[_item],
            choices=[SelectChoice(v, CHECK_LABELS[v]) for v in inspections.CHECK_VALUES],
            validate_choice=False,
        ),
    )
    setattr(
        RecordForm,
        f"finding_{_item}",
        TextAreaField(
            _l("Finding"),
            validators=[Optional(), Length(max=inspections.FINDING_MAX)],
            filters=[_strip],
            render_kw={"rows": 2},
        ),
    )


def apply_record_errors(form: RecordForm, errors: dict, findings: list[dict]) -> list[str]:
    """Put the operation's messages on the fields; return those that belong to none."""
    general = []
    for key, messages in errors.items():
        parts = key.split(".")
        target = None
        if parts[0] in ("result", "inspected_on", "requirements", "rectification_days"):
            target = getattr(form, parts[0])
        elif parts[0] == "checklist" and len(parts) == 2 and parts[1] in CHECKLIST:
            target = form.check(parts[1])
        elif parts[0] == "findings" and len(parts) >= 2 and parts[1].isdigit():
            pos = int(parts[1])
            if pos < len(findings):
                target = form.finding(findings[pos]["item"])
        if target is None:
            general.extend(messages)
        else:
            target.errors = list(target.errors) + list(messages)
    return general


class FollowUpForm(FlaskForm):
    follow_up = TextAreaField(
        _l("Follow-up (what was verified, or why the answer is not accepted)"),
        validators=[Optional(), Length(max=inspections.TEXT_MAX)],
        filters=[_strip],
        render_kw={"rows": 3},
    )


class AnswerForm(FlaskForm):
    answer = TextAreaField(
        _l("What was rectified"),
        validators=[Optional(), Length(max=inspections.TEXT_MAX)],
        filters=[_strip],
        render_kw={"rows": 4},
    )


def apply_errors(form: FlaskForm, errors: dict) -> list[str]:
    """Put an operation's messages on the fields they are about; return the others."""
    general = []
    for key, messages in errors.items():
        field = getattr(form, key.split(".")[0], None)
        if field is not None and hasattr(field, "errors") and key.split(".")[0] != "meta":
            field.errors = list(field.errors) + list(messages)
        else:
            general.extend(messages)
    return general
