"""Every kind of notification and its message, in one place.

A notification is stored as a kind code and JSON parameters, never as rendered text: it is
rendered when read (the inbox: the reader's language; the mail: the recipient's ``locale``).
Parameter values listed in ``VALUE_LABELS`` are codes shown through their translated label.
``endpoint``/``link`` name the page that shows the object (an endpoint string, so the kernel
imports no domain package).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext


@dataclass(frozen=True)
class Kind:
    code: str
    label: object  # lazy string: the preference page's checkbox
    subject: object  # lazy string with %(param)s placeholders
    body: object  # lazy string with %(param)s placeholders
    endpoint: str | None = None
    link: Callable[[dict], dict] = field(default=lambda p: {})
    for_users: bool = True  # False: sent to an address only (anonymous objector/complainant)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    if kind.code in KINDS:
        raise ValueError(f"notification kind {kind.code!r} registered twice")
    KINDS[kind.code] = kind
    return kind


VALUE_LABELS: dict[str, dict[str, object]] = {
    "outcome": {"accepted": _l("accepted"), "rejected": _l("rejected")},
    "status": {
        "open": _l("received and routed to the regulator"),
        "check_opened": _l("an inspection was opened"),
        "dismissed": _l("dismissed"),
        "closed": _l("closed: the inspection was recorded"),
    },
    "severity": {
        "high": lazy_pgettext("severity", "high"),
        "medium": lazy_pgettext("severity", "medium"),
        "low": lazy_pgettext("severity", "low"),
    },
}

register(Kind(
    "rectification_ordered",
    _l("A rectification order to my enterprise"),
    _l("Rectification order after inspection %(number)s"),
    _l("Inspection %(number)s found non-conformities. Rectify them and answer by "
       "%(deadline)s."),
    "inspections.mine",
))
register(Kind(
    "rectification_due",
    _l("A rectification deadline approaching (7 and 1 days before)"),
    _l("Rectification deadline %(deadline)s approaching"),
    _l("The rectification order of inspection %(number)s is due on %(deadline)s "
       "(in %(days)s day(s)). Answer it before the deadline."),
    "inspections.mine",
))
register(Kind(
    "rectification_overdue",
    _l("A rectification deadline passed"),
    _l("Rectification deadline %(deadline)s passed"),
    _l("The deadline (%(deadline)s) of the rectification order of inspection %(number)s "
       "passed without an accepted answer."),
    "inspections.mine",
))
register(Kind(
    "flag_raised",
    _l("A risk flag raised on my declaration"),
    _l("Risk flag on your declaration %(standard)s"),
    _l("A risk flag (severity: %(severity)s) was raised on your declaration %(standard)s. "
       "The regulator of your region sees it too."),
    "flags.declaration",
    lambda p: {"declaration_id": p["declaration_id"]},
))
register(Kind(
    "leader_publicised",
    _l("My declaration on a leader list in publicity"),
    _l("Leader list in publicity: %(plan)s"),
    _l("Your declaration %(standard)s is a leader on the list %(plan)s, in publicity until "
       "%(end)s."),
    "ranking.run_board",
    lambda p: {"run_id": p["run_id"]},
))
register(Kind(
    "leader_published",
    _l("My declaration on a published leader list"),
    _l("Leader list published: %(plan)s"),
    _l("The list %(plan)s is published with your declaration %(standard)s as a leader."),
    "ranking.run_board",
    lambda p: {"run_id": p["run_id"]},
))
register(Kind(
    "leader_removed",
    _l("My declaration removed from a leader list"),
    _l("Removed from the leader list %(plan)s"),
    _l("Your declaration %(standard)s was removed from the leader list %(plan)s. Reason: "
       "%(reason)s"),
    "ranking.run_board",
    lambda p: {"run_id": p["run_id"]},
))
register(Kind(
    "objection_outcome",
    _l("The outcome of my objection"),
    _l("Your objection %(id)s was %(outcome)s"),
    _l("Your objection %(id)s to the leader list %(plan)s was %(outcome)s. %(response)s"),
    for_users=False,
))
register(Kind(
    "draw_publicised",
    _l("A spot-check draw that includes my enterprise"),
    _l("Spot-check draw %(number)s includes your enterprise"),
    _l("The spot-check draw %(number)s, now public, includes your enterprise; the inspectors "
       "will contact you."),
    "sampling.public_draw",
    lambda p: {"draw_id": p["draw_id"]},
))
register(Kind(
    "complaint_status",
    _l("The status of my complaint"),
    _l("Complaint %(number)s: %(status)s"),
    _l("The status of your complaint %(number)s is now: %(status)s. Look it up with its "
       "receipt number and secret."),
    "complaints.receipt",
    for_users=False,
))
register(Kind(
    "review_due",
    _l("A declaration due for review"),
    _l("Review your declaration %(standard)s"),
    _l("Your declaration %(standard)s was published on %(published)s, %(years)s year(s) ago. "
       "Review the standard and declare a new version if it changed."),
    "declare.detail",
    lambda p: {"declaration_id": p["declaration_id"]},
))
