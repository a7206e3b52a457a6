"""Words for draw reasons, statuses, strata and exclusions, shared by the pages and the reads."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

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


def percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f} %"
