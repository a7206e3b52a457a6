"""Forms of the bulk-import pages and of the association authorisations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length


class UploadForm(FlaskForm):
    file = FileField(
        _l("Import file (.xlsx, or a ZIP with the workbook and the PDFs)"),
        validators=[FileRequired(_l("Choose the filled-in template (.xlsx or .zip)."))],
    )
    uscc = StringField(
        _l("Unified social credit code for rows that give none"), validators=[Length(max=40)]
    )


class ConfirmForm(FlaskForm):
    good_rows_only = BooleanField(_l("Import the good declarations only (skip the bad ones)"))


class GrantForm(FlaskForm):
    username = StringField(
        _l("The association's user name"), validators=[DataRequired(), Length(max=80)]
    )


class RevokeForm(FlaskForm):
    """Revoking a grant: no fields, only the form's CSRF token (the grant is in the URL)."""
