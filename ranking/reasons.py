"""Reasons the ranking writes on its own (dynamic management's removals, the list version an
accepted objection or a removal made), stored as a code with parameters
(``core.i18n.coded``) and rendered in the reader's language (``core.i18n.render_coded``, the
``reason`` template filter). A reason typed by a person, and the texts of rows written before
the codes, are shown as they are.

Codes (``ranking.``…) and their parameters:

* ``removed.abolished`` / ``removed.revoked``: ``date`` (yyyy-MM-dd), ``reason`` (the
  enterprise's or the office's own words)
* ``removed.record``: ``result`` ("nonconforming" or "serious"), ``date``, ``ref`` (the
  inspection or record number, may be "")
* ``removed.not_declared``: ``indicator``, ``indicator_en``
* ``removed.below_floor``: ``indicator``, ``indicator_en``, ``value``, ``floor``, ``unit``
* ``dynamic``: ``n`` leaders removed
* ``objection_accepted``: ``id``, ``text`` (the objection), ``response`` (may be "")

The exclusion reasons of a run's entries (``ranking.eligibility``) are already codes with a
detail; ``ranking.boards.exclusion_text`` renders them.
"""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _

from core.i18n import coded, reason_renderer

__all__ = ["abolished", "below_floor", "dynamic", "not_declared", "objection_accepted",
           "record", "revoked"]


def _indicator(params: dict) -> str:
    english = str(get_locale()) == "en" and params.get("indicator_en")
    return str(params["indicator_en"] if english else params["indicator"])


@reason_renderer("ranking.removed.abolished")
def _abolished(p: dict) -> str:
    return _("The enterprise abolished the standard (废止) on %(date)s: %(reason)s",
             date=p["date"], reason=p.get("reason", ""))


@reason_renderer("ranking.removed.revoked")
def _revoked(p: dict) -> str:
    return _("The declaration was revoked (撤销) on %(date)s: %(reason)s",
             date=p["date"], reason=p.get("reason", ""))


@reason_renderer("ranking.removed.record")
def _record(p: dict) -> str:
    what = (_("a non-conforming inspection result") if p["result"] == "nonconforming"
            else _("a serious compliance record"))
    ref = p.get("ref") or ""
    return _("The enterprise has %(what)s of %(date)s %(ref)s", what=what, date=p["date"],
             ref=f"({ref})" if ref else "").strip()


@reason_renderer("ranking.removed.not_declared")
def _not_declared(p: dict) -> str:
    return _("The declaration was revised: %(indicator)s is no longer declared.",
             indicator=_indicator(p))


@reason_renderer("ranking.removed.below_floor")
def _below_floor(p: dict) -> str:
    return _("The declaration was revised: %(indicator)s %(value)s %(unit)s is below "
             "the plan's floor %(floor)s %(unit)s.", indicator=_indicator(p),
             value=p["value"], floor=p["floor"], unit=p.get("unit", ""))


@reason_renderer("ranking.dynamic")
def _dynamic(p: dict) -> str:
    return _("Dynamic management: %(n)d leader(s) removed.", n=int(p["n"]))


@reason_renderer("ranking.objection_accepted")
def _objection_accepted(p: dict) -> str:
    text = _("Objection %(id)d accepted: %(text)s", id=int(p["id"]), text=p["text"])
    return text + ("\n" + p["response"] if p.get("response") else "")


# -- the stored forms ----------------------------------------------------------------------


def abolished(date: str, reason: str) -> str:
    return coded("ranking.removed.abolished", date=date, reason=reason)


def revoked(date: str, reason: str) -> str:
    return coded("ranking.removed.revoked", date=date, reason=reason)


def record(result: str, date: str, ref: str) -> str:
    return coded("ranking.removed.record", result=result, date=date, ref=ref)


def not_declared(indicator: str, indicator_en: str) -> str:
    return coded("ranking.removed.not_declared", indicator=indicator, indicator_en=indicator_en)


def below_floor(indicator: str, indicator_en: str, value: str, floor: str, unit: str) -> str:
    return coded("ranking.removed.below_floor", indicator=indicator, indicator_en=indicator_en,
                 value=value, floor=floor, unit=unit)


def dynamic(n: int) -> str:
    return coded("ranking.dynamic", n=n)


def objection_accepted(objection_id: int, text: str, response: str) -> str:
    return coded("ranking.objection_accepted", id=objection_id, text=text, response=response)
