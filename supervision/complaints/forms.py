"""Forms of the complaint pages: filing one (public) and the regulator's decisions."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from core.forms import strip as _strip
from supervision.complaints import operations as complaints


class ComplaintForm(FlaskForm):
    """举报: anyone may file one; only the regulators of the enterprise's region read it."""

    enterprise_uscc = StringField(
        _l("Unified social credit code (统一社会信用代码) of the enterprise"),
        validators=[Optional(), Length(max=40)],
        filters=[_strip],
    )
    content = TextAreaField(
        _l("What is wrong (%(min)d to %(max)d characters)", min=complaints.CONTENT_MIN,
           max=complaints.CONTENT_MAX),
        validators=[Optional(), Length(max=complaints.CONTENT_MAX + 1000)],
        filters=[_strip],
        render_kw={"rows": 6},
    )
    contact = StringField(
        _l("Your contact (optional; only the regulator sees it)"),
        validators=[Optional(), Length(max=complaints.CONTACT_MAX)],
        filters=[_strip],
    )
    enterprise_id = HiddenField()
    declaration_id = HiddenField()


class DismissForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for dismissing"),
        validators=[Optional(), Length(max=complaints.REASON_MAX)],
        filters=[_strip],
        render_kw={"rows": 3},
    )


class OpenCheckForm(FlaskForm):
    declaration_id = SelectField(_l("Declaration to check"), validate_choice=False)


class ComplaintStatusForm(FlaskForm):
    """The complainant's lookup: the receipt number and the secret given with it."""

    number = StringField(_l("Receipt number"), validators=[Optional(), Length(max=40)],
                         filters=[_strip])
    secret = StringField(_l("Secret"), validators=[Optional(), Length(max=200)],
                         filters=[_strip])
