"""Words for draw reasons, statuses, strata and exclusions, shared by the pages and the reads."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from core.i18n import region_label

from supervision.sampling import operations as draws


REASON_LABELS = {
    "random": _l("Random"),
    "risk_weighted": _l("Risk-weighted"),
    "complaint": _l("Complaint-triggered (举报)"),
}
STRATIFICATION_CHOICES = [
    SelectChoice("none", _l("No strata")),
    SelectChoice("region", _l("By region (county)")),
    SelectChoice("category", _l("By product category")),
    SelectChoice("region_category", _l("By region and product category")),
]
ALLOCATION_CHOICES = [
    SelectChoice("proportional", _l("Proportional to the stratum's size")),
    SelectChoice("equal", _l("Equal for every stratum")),
]
DRAW_STATUS_LABELS = {
    "drawn": _l("Drawn (not yet public)"),
    "publicised": _l("Sample list publicised (公示)"),
    "closed": _l("Closed"),
}


def _label(table: dict, value) -> str:
    value = getattr(value, "value", value)
    return str(table[value]) if value in table else str(value or "")


def reason_label(reason) -> str:
    return _label(REASON_LABELS, reason)


def exclusion_text(reason: str) -> str:
    """A recorded exclusion reason in the reader's language."""
    parts = draws.exclusion_parts(reason)
    if parts is None:
        return reason
    return _("The enterprise was drawn in draw %(number)s on %(day)s, within the exclusion "
             "window.", number=parts["number"], day=parts["day"])


def _category_names() -> dict[str, str]:
    """Product category code -> name in the reader's language (one query per request)."""
    from flask import g, has_request_context

    from benchmarks.models import ProductCategory
    from core.extensions import db

    cached = g.get("_sampling_category_names") if has_request_context() else None
    if cached is None:
        locale = str(get_locale())
        cached = {c.code: c.label(locale) for c in db.session.scalars(select(ProductCategory))}
        if has_request_context():
            g._sampling_category_names = cached
    return cached


def stratum_label(key) -> str:
    """A stratum key in words: 重庆市 渝北区 (500112), 水嘴, or both (``500112/faucet``)."""
    key = str(key if key is not None else "")
    if key == draws.ALL_STRATUM:
        return _("All (one stratum)")
    words = []
    for part in key.split("/"):
        if part == draws.NO_CATEGORY:
            words.append(_("No product category"))
        elif part.isdigit():
            words.append(region_label(part))
        else:
            words.append(_category_names().get(part, part))
    return " · ".join(words)


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f} %"
