"""Words for the flag codes, severities and reasons, shared by the pages, forms and the API."""

from __future__ import annotations

import json

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

from supervision.flags import risk
from supervision.models import RiskFlag

CODE_LABELS = {
    "below_mandatory": _l("Below a mandatory limit"),
    "below_recommended_without_mingshi": _l("Below a recommended value without 明示"),
    "reference_withdrawn": _l("Normative reference withdrawn or replaced"),
    "missing_test_method": _l("Indicator without a test method"),
    "implausible_value": _l("Implausible value for the category"),
    "near_identical": _l("Near-identical to another enterprise's standard"),
    "open_complaint": _l("Open complaint (举报)"),
    "leader": _l("Leader (领跑者): checked more often"),
    "text_unchecked": _l("Standard text not read automatically: compare by hand"),
}
SEVERITY_LABELS = {
    "high": _lp("severity", "High"),
    "medium": _lp("severity", "Medium"),
    "low": _lp("severity", "Low"),
}
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
