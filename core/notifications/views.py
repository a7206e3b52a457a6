"""The inbox (every signed-in role): list, mark read, mark all read; the e-mail preferences.

Nobody reads another's notifications: a notification id that is not the reader's is 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select, update
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from core.extensions import db
from core.forms import page_arg, strip
from core.models import utcnow
from core.notifications import (
    EMAIL,
    KINDS,
    Notification,
    NotificationSettings,
    link,
    render,
    unread_count,
)
from core.paging import PageNumbers

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
PER_PAGE = 20


@dataclass
class InboxPage(PageNumbers):
    rows: list
    total: int
    page: int
    per_page: int


@bp.app_context_processor
def _unread():
    """``unread_notifications()`` for the header (a query only where the header asks)."""

    def unread_notifications() -> int:
        if not current_user.is_authenticated:
            return 0
        return unread_count(current_user.id)

    return {"unread_notifications": unread_notifications}


def _mine(notification_id: int) -> Notification:
    row = db.session.get(Notification, notification_id)
    if row is None or row.user_id != current_user.id:
        abort(404)
    return row


@bp.get("/")
@login_required
def inbox():
    page = page_arg()
    mine = Notification.user_id == current_user.id
    total = db.session.scalar(select(func.count(Notification.id)).where(mine)) or 0
    rows = db.session.scalars(
        select(Notification).where(mine).order_by(Notification.id.desc())
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    items = [(n, *render(n.kind, n.params or {}), link(n)) for n in rows]
    return render_template(
        "notifications/inbox.html",
        page=InboxPage(rows=items, total=total, page=page, per_page=PER_PAGE),
        unread=unread_count(current_user.id),
    )


@bp.post("/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    row = _mine(notification_id)
    if row.read_at is None:
        db.session.execute(
            update(Notification).where(Notification.id == row.id).values(read_at=utcnow())
        )
    if request.form.get("open"):
        return redirect(link(row) or url_for("notifications.inbox"))
    return redirect(url_for("notifications.inbox", page=request.form.get("page", 1, type=int)))


@bp.post("/read-all")
@login_required
def mark_all_read():
    db.session.execute(
        update(Notification)
        .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    flash(_("All notifications are marked read."), "info")
    return redirect(url_for("notifications.inbox"))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SettingsForm(FlaskForm):
    email = StringField(
        _l("E-mail address for notifications"),
        filters=[strip],
        validators=[Optional(), Length(max=254),
                    Regexp(EMAIL, message=_l("Enter an e-mail address such as name@example.cn."))],
    )
    email_kinds = MultiCheckboxField(_l("Send me an e-mail too for"), choices=[])
    locale = SelectField(_l("Language of the e-mails"), choices=[])


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    row = db.session.get(NotificationSettings, current_user.id)
    form = SettingsForm(
        data=None if request.method == "POST" else {
            "email": row.email if row else "",
            "email_kinds": list(row.email_kinds) if row else [],
            "locale": getattr(current_user, "locale", None) or "zh",
        }
    )
    form.email_kinds.choices = [(k.code, str(k.label)) for k in KINDS.values() if k.for_users]
    form.locale.choices = [("zh", "中文"), ("en", "English")]
    if form.validate_on_submit():
        if form.email_kinds.data and not (form.email.data or getattr(current_user, "email", None)):
            form.email.errors.append(_("Enter the address the e-mails go to."))
        else:
            if row is None:
                row = NotificationSettings(user_id=current_user.id)
                db.session.add(row)
            row.email = form.email.data or ""
            row.email_kinds = sorted(form.email_kinds.data)
            current_user.locale = form.locale.data
            flash(_("Notification settings saved."), "success")
            return redirect(url_for("notifications.settings"))
    status = 422 if request.method == "POST" else 200
    return render_template("notifications/settings.html", form=form), status
