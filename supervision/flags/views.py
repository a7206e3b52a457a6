"""HTML pages of the risk flags (风险标记): a regulator's region list, a declaration's panel.

Thin on purpose: parse the filters → ``supervision.flags`` reads → render. Who sees what:

* a regulator (市场监管部门) sees the flags of the enterprises of its own region
  (``core.auth.region_covers``) and may have a declaration re-flagged; a declaration of
  another region answers 404 (ids reveal nothing);
* an enterprise sees the flags of its own declarations, anyone else's answer 404;
* every other role gets 403, anonymous visitors the login page.

The list page reads a fixed number of SQL statements whatever the number of flags (pinned in
tests/supervision/test_flags_views.py): the categories of the filter, the counts by code and
severity (one GROUP BY), the page's count and the page itself with its labels.
Refused filters re-render the page with status 422 and say which field, what is wrong and what
is allowed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from benchmarks.models import ProductCategory
from core.auth import region_covers, roles_required
from core.extensions import db
from core.models import Role
from declare.models import Declaration
from supervision.flags import operations as flags
from supervision.flags import risk
from supervision.models import RiskFlag

bp = Blueprint("flags", __name__, url_prefix="/supervision/flags")

CODE_LABELS = {
    "below_mandatory": _l("Below a mandatory limit"),
    "below_recommended_without_mingshi": _l("Below a recommended value without 明示"),
    "reference_withdrawn": _l("Normative reference withdrawn or replaced"),
    "missing_test_method": _l("Indicator without a test method"),
    "implausible_value": _l("Implausible value for the category"),
    "near_identical": _l("Near-identical to another enterprise's standard"),
    "open_complaint": _l("Open complaint (举报)"),
    "leader": _l("Leader (领跑者): checked more often"),
}
SEVERITY_LABELS = {"high": _l("High"), "medium": _l("Medium"), "low": _l("Low")}
STATUS_LABELS = {"open": _l("Open"), "cleared": _l("Cleared"), "all": _l("Open and cleared")}
CLEAR_REASON_LABELS = {
    "cause_removed": _l("The cause went away"),
    "version_superseded": _l("A revision superseded this version"),
    "declaration_ended": _l("The declaration was abolished or revoked"),
    "duplicate": _l("Duplicate of another open flag"),
}
SUBJECT_LABELS = {"text": _l("standard text"), "indicator_table": _l("indicator table")}
SEVERITY_COLOURS = {"high": "#c62828", "medium": "#ef6c00", "low": "#90a4ae"}


def _label(table: dict, value) -> str:
    return str(table[value]) if value in table else str(value or "")


def reason_text(flag: RiskFlag) -> str:
    """The flag's evidence in words, in the reader's language (``risk.describe``)."""
    evidence = dict(flag.evidence or {})
    if "subject" in evidence:
        evidence["subject"] = _label(SUBJECT_LABELS, evidence["subject"])
    try:
        return risk.describe(flag.code, evidence, gettext=_)
    except (KeyError, TypeError, ValueError):
        return str(evidence.get("reason") or "")


def evidence_json(flag: RiskFlag) -> str:
    return json.dumps(flag.evidence or {}, ensure_ascii=False, indent=2, sort_keys=True)


@bp.context_processor
def _helpers() -> dict:
    return {
        "code_label": lambda c: _label(CODE_LABELS, c),
        "severity_label": lambda s: _label(SEVERITY_LABELS, s),
        "clear_reason_label": lambda r: _label(CLEAR_REASON_LABELS, r),
        "reason_text": reason_text,
        "evidence_json": evidence_json,
        "SEVERITIES": risk.SEVERITIES,
        "SEVERITY_COLOURS": SEVERITY_COLOURS,
    }


# --------------------------------------------------------------------------- forms


def _allowed(values) -> str:
    return ", ".join(values)


class FilterForm(FlaskForm):
    """The list's filters (GET, no CSRF); each refusal names the field and what it accepts."""

    class Meta:
        csrf = False

    code = SelectField(_l("Flag"), default="", validate_choice=False)
    severity = SelectField(_l("Severity"), default="", validate_choice=False)
    category_id = SelectField(_l("Product category"), default="", validate_choice=False)
    region = StringField(_l("Region code (行政区划)"), default="")
    status = SelectField(_l("Status"), default="open", validate_choice=False)

    def __init__(self, *args, categories=(), regulator_region: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.regulator_region = regulator_region
        self.code.choices = [SelectChoice("", _l("All flags"))] + [
            SelectChoice(c, CODE_LABELS[c]) for c in risk.FLAG_CODES
        ]
        self.severity.choices = [SelectChoice("", _l("All severities"))] + [
            SelectChoice(s, SEVERITY_LABELS[s]) for s in risk.SEVERITIES
        ]
        locale = str(get_locale() or "")
        self.category_id.choices = [SelectChoice("", _l("All categories"))] + [
            SelectChoice(str(c.id), c.label(locale)) for c in categories
        ]
        self.status.choices = [SelectChoice(s, STATUS_LABELS[s]) for s in flags.STATUSES]

    def validate_code(self, field) -> None:
        if field.data and field.data not in risk.FLAG_CODES:
            raise ValidationError(
                _(
                    "Flag: “%(value)s” is not a flag code; choose one of %(allowed)s.",
                    value=field.data,
                    allowed=_allowed(risk.FLAG_CODES),
                )
            )

    def validate_severity(self, field) -> None:
        if field.data and field.data not in risk.SEVERITIES:
            raise ValidationError(
                _(
                    "Severity: “%(value)s” is not a severity; choose one of %(allowed)s.",
                    value=field.data,
                    allowed=_allowed(risk.SEVERITIES),
                )
            )

    def validate_category_id(self, field) -> None:
        known = {c.value for c in self.category_id.choices if c.value}
        if field.data and field.data not in known:
            raise ValidationError(
                _(
                    "Product category: “%(value)s” is not a category id; choose a category from "
                    "the list.",
                    value=field.data,
                )
            )

    def validate_status(self, field) -> None:
        if field.data and field.data not in flags.STATUSES:
            raise ValidationError(
                _(
                    "Status: “%(value)s” is not a status; choose one of %(allowed)s.",
                    value=field.data,
                    allowed=_allowed(flags.STATUSES),
                )
            )

    def validate_region(self, field) -> None:
        value = (field.data or "").strip()
        field.data = value
        if not value:
            return
        if not (len(value) == 6 and value.isascii() and value.isdigit()):
            raise ValidationError(
                _(
                    "Region code: “%(value)s” is not a 行政区划 code; write its 6 digits, e.g. "
                    "500112.",
                    value=value,
                )
            )
        if self.regulator_region and not region_covers(self.regulator_region, value):
            raise ValidationError(
                _(
                    "Region code: %(value)s is outside your region %(region)s; choose a code "
                    "inside it.",
                    value=value,
                    region=self.regulator_region,
                )
            )

    def filters(self) -> dict:
        return {
            "code": self.code.data or None,
            "severity": self.severity.data or None,
            "category_id": int(self.category_id.data) if self.category_id.data else None,
            "status": self.status.data or "open",
        }


class RecomputeForm(FlaskForm):
    """A button that asks for a recompute: nothing but the CSRF token."""


# --------------------------------------------------------------------------- chart


@dataclass
class Bar:
    code: str
    label: str
    total: int
    segments: list[tuple[str, int, float, float]]  # severity, count, x, width


def count_chart(counts: dict[str, dict[str, int]], width: float = 360.0) -> list[Bar]:
    """Horizontal bars per flag code, split by severity, scaled to the largest code."""
    biggest = max((sum(v.values()) for v in counts.values()), default=0)
    bars = []
    for code in risk.FLAG_CODES:
        by_sev = counts.get(code, {})
        total = sum(by_sev.values())
        x, segments = 0.0, []
        for sev in risk.SEVERITIES:
            n = by_sev.get(sev, 0)
            w = width * n / biggest if biggest else 0.0
            segments.append((sev, n, round(x, 2), round(w, 2)))
            x += w
        bars.append(Bar(code, _label(CODE_LABELS, code), total, segments))
    return bars


# --------------------------------------------------------------------------- pages


def _categories() -> list[ProductCategory]:
    return list(db.session.scalars(select(ProductCategory).order_by(ProductCategory.code)))


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _regulator_region() -> str:
    region = current_user.region_code
    if not region:
        abort(403)
    return region


@bp.get("/")
@roles_required(Role.REGULATOR, Role.ENTERPRISE)
def index():
    """A regulator's region flags, or an enterprise's own, with filters and counts."""
    regulator = current_user.role is Role.REGULATOR
    region = _regulator_region() if regulator else None
    form = FilterForm(request.args, categories=_categories(), regulator_region=region)
    if not regulator:
        del form.region
    scope: dict = (
        {"region_code": region} if regulator else {"enterprise_id": current_user.enterprise_id}
    )
    if not form.validate():
        return render_template(
            "supervision/flags_list.html",
            form=form,
            page=None,
            bars=[],
            counts={},
            regulator=regulator,
            region=region,
            args={},
        ), 422
    filters = form.filters()
    if regulator and form.region.data:
        scope["region_code"] = form.region.data
    counts = flags.flag_counts(
        **scope, category_id=filters["category_id"], status=filters["status"]
    )
    page = flags.region_flags(
        **scope, **filters, page=_page_arg(), per_page=current_app.config["PAGE_SIZE"]
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "supervision/flags_list.html",
        form=form,
        page=page,
        bars=count_chart(counts),
        counts=counts,
        regulator=regulator,
        region=scope.get("region_code"),
        args=args,
    )


def _visible_declaration(declaration_id: int) -> Declaration:
    """Regulators of the enterprise's region and the enterprise itself; anyone else 404."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None:
        abort(404)
    if current_user.role is Role.REGULATOR:
        if not region_covers(current_user.region_code, declaration.enterprise.region_code):
            abort(404)
    elif current_user.enterprise_id != declaration.enterprise_id:
        abort(404)
    return declaration


@bp.get("/declarations/<int:declaration_id>")
@roles_required(Role.REGULATOR, Role.ENTERPRISE)
def declaration(declaration_id: int):
    """A declaration's flag panel: open flags with their evidence, then the cleared ones."""
    found = _visible_declaration(declaration_id)
    rows = flags.flags_of(found.id)
    open_rows = [f for f in rows if f.cleared_at is None]
    score = flags.risk_scores([found.id]).iloc[0]
    return render_template(
        "supervision/flags_declaration.html",
        declaration=found,
        version=found.current_version or found.latest,
        open_flags=open_rows,
        cleared=[f for f in rows if f.cleared_at is not None],
        score=score,
        form=RecomputeForm(),
        regulator=current_user.role is Role.REGULATOR,
    )


@bp.post("/declarations/<int:declaration_id>/recompute")
@roles_required(Role.REGULATOR)
def recompute(declaration_id: int):
    """Have the declaration re-flagged now (a job on the supervision queue)."""
    found = _visible_declaration(declaration_id)
    if not RecomputeForm().validate_on_submit():
        abort(400)
    rows = flags.request_recompute([found.id])
    db.session.flush()
    flash(
        _("The flags of this declaration are being recomputed (job %(id)s).", id=rows[0].id), "info"
    )
    return redirect(url_for("flags.declaration", declaration_id=found.id))
