"""Complaints (举报) from the public, routed to the regulator of the enterprise's region.

The only place that writes complaints. Operations flush, never commit; refused input raises
``core.errors.ValidationFailed`` with the field it is about; a regulator outside the complaint's
region gets ``werkzeug.exceptions.Forbidden`` (pages and the API answer 404 before that).

CONTRACT:

    file_complaint(data, *, fingerprint="") -> Complaint   # .secret: shown once, not stored
    status_of(number, secret) -> Complaint | None          # the complainant's status lookup
    routed_to(region_code) -> "regulator" | "admins"
    unrouted() -> Select                                   # the admins' queue
    fingerprint(remote_addr) -> str
    complaints_for(user, *, status=None) -> Select          # the regulator's inbox
    dismiss(complaint, reason, *, user) -> Complaint
    open_check(complaint, *, user, declaration_id=None, seed=None) -> Inspection

Complaint data (the public form and the API):

    {"enterprise_uscc": str,          # the enterprise by its 统一社会信用代码, or
     "enterprise_id": int | None,     # by its id (links from the platform's pages), and/or
     "declaration_id": int | None,    # one of its published declarations (optional)
     "content": str,                  # CONTENT_MIN..CONTENT_MAX characters
     "contact": str}                  # optional, never shown publicly

Routing is by data, not by choice: ``region_code`` is the enterprise's, and a regulator's inbox
is a ``LIKE prefix%`` filter on it, so a complaint about an enterprise in 110105 reaches the
regulators of 110105, 110100 and 110000 and no one else. When no active regulator covers the
region, the complaint is in the platform admins' queue (``unrouted``) until one does: it
always reaches someone. The complainant gets the receipt number and a secret (only its
SHA-256 is kept) with which the public status page and API show its status. Abuse is limited by the callers (per-IP
rate limit with Flask-Limiter) and here (the same text about the same enterprise from the same
client while it is still open is refused as a duplicate). Only a keyed hash of the client's
address is kept (``fingerprint``), never the address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import joinedload

from core.clock import local_today
from core.errors import ValidationFailed
from core.extensions import db
from core.auth import region_prefix
from core.models import Role, User, utcnow
from core.validation import Errors as _Errors
from core.validation import text as _text
from declare.models import Declaration, DeclarationStatus, Enterprise
from declare.validators import USCCError, validate_uscc
from supervision.inspections import operations as inspections
from supervision.models import Complaint, ComplaintStatus, Inspection

__all__ = [
    "CONTACT_MAX",
    "CONTENT_MAX",
    "CONTENT_MIN",
    "complaints_for",
    "dismiss",
    "file_complaint",
    "fingerprint",
    "open_check",
]

GENERAL = "_schema"
CONTENT_MIN = 10
CONTENT_MAX = 4000
CONTACT_MAX = 200
REASON_MAX = 2000
SECRET_BYTES = 12  # the complainant's secret: 16 URL-safe characters


def _id(value: Any) -> tuple[int | None, bool]:
    if value is None or value == "":
        return None, True
    if isinstance(value, bool):
        return None, False
    try:
        return int(str(value).strip()), True
    except ValueError:
        return None, False


def fingerprint(remote_addr: str | None) -> str:
    """A keyed SHA-256 of the client's address: enough to spot repeats, useless to identify."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, (remote_addr or "").encode(), hashlib.sha256).hexdigest()


def _public_declaration(declaration_id: int) -> Declaration | None:
    """A declaration the public can see (ever published); drafts do not exist for them."""
    declaration = db.session.get(Declaration, declaration_id)
    if declaration is None or declaration.status is DeclarationStatus.DRAFT:
        return None
    return declaration


def _enterprise(data: Mapping, errors: _Errors) -> tuple[Enterprise | None, Declaration | None]:
    """Who the complaint is about: from the declaration, the enterprise id or the USCC."""
    declaration = enterprise = None
    decl_id, ok = _id(data.get("declaration_id"))
    if not ok:
        errors.add("declaration_id", _("A declaration id is a whole number."))
    elif decl_id is not None:
        declaration = _public_declaration(decl_id)
        if declaration is None:
            errors.add(
                "declaration_id", _("No published declaration has the id %(id)s.", id=decl_id)
            )
    ent_id, ok = _id(data.get("enterprise_id"))
    if not ok:
        errors.add("enterprise_id", _("An enterprise id is a whole number."))
    elif ent_id is not None:
        enterprise = db.session.get(Enterprise, ent_id)
        if enterprise is None:
            errors.add("enterprise_id", _("No enterprise has the id %(id)s.", id=ent_id))
    uscc = _text(data.get("enterprise_uscc"))
    if uscc:
        try:
            code, _region = validate_uscc(uscc)
        except USCCError as exc:
            errors.add("enterprise_uscc", exc.message)
        else:
            by_code = db.session.scalar(select(Enterprise).where(Enterprise.uscc == code))
            if by_code is None:
                errors.add(
                    "enterprise_uscc",
                    _("No enterprise with the code %(code)s is registered on the platform; "
                      "check the code.", code=code),
                )
            elif enterprise is not None and by_code.id != enterprise.id:
                errors.add("enterprise_uscc", _("The code belongs to another enterprise."))
            else:
                enterprise = by_code
    if declaration is not None:
        if enterprise is not None and declaration.enterprise_id != enterprise.id:
            errors.add(
                "declaration_id",
                _("The declaration belongs to another enterprise than the one named."),
            )
        enterprise = declaration.enterprise
    if enterprise is None and not errors:
        errors.add(
            "enterprise_uscc",
            _("Name the enterprise: its 18-character unified social credit code (USCC)."),
        )
    return enterprise, declaration


def file_complaint(data: Mapping, *, fingerprint: str = "") -> Complaint:
    """File a complaint; it goes to the regulators of the enterprise's region."""
    errors = _Errors()
    enterprise, declaration = _enterprise(data, errors)
    content = _text(data.get("content"))
    if not CONTENT_MIN <= len(content) <= CONTENT_MAX:
        errors.add(
            "content",
            _("Describe the problem in %(min)d to %(max)d characters; you wrote %(n)d.",
              min=CONTENT_MIN, max=CONTENT_MAX, n=len(content)),
        )
    contact = _text(data.get("contact"))
    if len(contact) > CONTACT_MAX:
        errors.add(
            "contact",
            _("The contact has at most %(n)d characters (a phone number or an e-mail address).",
              n=CONTACT_MAX),
        )
    if errors:
        raise ValidationFailed(dict(errors))
    if fingerprint:
        duplicate = db.session.scalar(
            select(Complaint.number).where(
                Complaint.enterprise_id == enterprise.id,
                Complaint.submitter_fingerprint == fingerprint,
                Complaint.content == content,
                Complaint.status.in_((ComplaintStatus.OPEN, ComplaintStatus.CHECK_OPENED)),
            ).limit(1)
        )
        if duplicate is not None:
            raise ValidationFailed(
                {"content": [_("You already filed this complaint (%(number)s); it is being "
                               "handled.", number=duplicate)]}
            )
    complaint = Complaint(
        number=inspections.unique_placeholder(),
        enterprise_id=enterprise.id,
        declaration_id=declaration.id if declaration is not None else None,
        region_code=enterprise.region_code,
        content=content,
        contact=contact,
        submitter_fingerprint=fingerprint,
        status=ComplaintStatus.OPEN,
    )
    db.session.add(complaint)
    db.session.flush()
    complaint.number = f"JB{complaint.region_code}-{local_today().year}-{complaint.id:06d}"
    secret = secrets.token_urlsafe(SECRET_BYTES)
    complaint.secret_sha256 = _digest(secret)
    db.session.flush()
    complaint.secret = secret  # shown once, with the receipt; only its digest is stored
    complaint.routed_to = routed_to(complaint.region_code)
    inspections.notify_complainant(complaint)
    inspections.request_flag_recompute(inspections.complaint_declarations(complaint))
    return complaint


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _regulator_prefixes() -> list[str]:
    """The 行政区划 prefixes of the active regulator accounts (a few hundred at most)."""
    prefixes = set()
    for code in db.session.scalars(
        select(User.region_code).where(
            User.role == Role.REGULATOR, User.is_active_account.is_(True)
        ).distinct()
    ):
        try:
            prefixes.add(region_prefix(code or ""))
        except ValueError:
            continue  # an account without a valid region covers nothing
    return sorted(prefixes)


def routed_to(region_code: str) -> str:
    """Who handles a complaint about an enterprise of ``region_code``: "regulator" when an
    active regulator's region covers it, else "admins" (the platform operators' queue), so a
    complaint always reaches someone."""
    return "regulator" if any(region_code.startswith(p) for p in _regulator_prefixes()) else (
        "admins"
    )


def unrouted() -> Select:
    """Complaints about enterprises of a region no active regulator covers (the admins'
    queue), newest first. A regulator created for the region later finds them in its inbox."""
    stmt = select(Complaint)
    prefixes = _regulator_prefixes()
    if prefixes:
        stmt = stmt.where(~or_(*[Complaint.region_code.startswith(p) for p in prefixes]))
    return stmt.options(joinedload(Complaint.enterprise), joinedload(Complaint.declaration)).order_by(
        Complaint.submitted_at.desc(), Complaint.id.desc()
    )


def status_of(number: Any, secret: Any) -> Complaint | None:
    """The complaint with this receipt number whose secret matches (None otherwise: the same
    answer for a wrong number and a wrong secret). The secret is compared as its digest, in
    constant time."""
    number, secret = _text(number).upper(), _text(secret)
    if not number or not secret or len(number) > 40 or len(secret) > 200:
        return None
    complaint = db.session.scalar(select(Complaint).where(Complaint.number == number))
    if complaint is None or not complaint.secret_sha256:
        _digest(secret)  # about the same time as a real comparison
        return None
    if not hmac.compare_digest(complaint.secret_sha256, _digest(secret)):
        return None
    complaint.routed_to = routed_to(complaint.region_code)
    return complaint


def complaints_for(user: User, *, status: str | None = None) -> Select:
    """The regulator's inbox: complaints about enterprises in its region, newest first; for
    an admin, the complaints no regulator covers (``unrouted``)."""
    if user is not None and user.role is Role.ADMIN:
        stmt = unrouted()
    else:
        stmt = (
            select(Complaint)
            .where(Complaint.region_code.startswith(inspections.regulator_prefix(user)))
            .options(joinedload(Complaint.enterprise), joinedload(Complaint.declaration))
            .order_by(Complaint.submitted_at.desc(), Complaint.id.desc())
        )
    if status in {s.value for s in ComplaintStatus}:
        stmt = stmt.where(Complaint.status == ComplaintStatus(status))
    return stmt


def dismiss(complaint: Complaint, reason: str, *, user: User) -> Complaint:
    """Not substantiated: closed with the reason (kept with the complaint)."""
    inspections.require_regulator(user, complaint.region_code)
    errors = _Errors()
    if complaint.status is not ComplaintStatus.OPEN:
        errors.add(
            GENERAL,
            _("Complaint %(number)s is not open (%(status)s); only an open complaint is "
              "dismissed.", number=complaint.number, status=complaint.status.value),
        )
    reason = _text(reason)
    if not reason:
        errors.add("reason", _("Give the reason for dismissing the complaint."))
    elif len(reason) > REASON_MAX:
        errors.add("reason", _("At most %(n)d characters.", n=REASON_MAX))
    if errors:
        raise ValidationFailed(dict(errors))
    complaint.status = ComplaintStatus.DISMISSED
    complaint.resolution = reason
    complaint.handled_by_id = user.id
    complaint.handled_at = utcnow()
    db.session.flush()
    inspections.notify_complainant(complaint)
    inspections.request_flag_recompute(inspections.complaint_declarations(complaint))
    return complaint


def open_check(
    complaint: Complaint,
    *,
    user: User,
    declaration_id: int | str | None = None,
    seed: int | None = None,
) -> Inspection:
    """Open a complaint-triggered check (see ``inspections.open_complaint_check``)."""
    inspections.require_regulator(user, complaint.region_code)
    declaration = None
    decl_id, ok = _id(declaration_id)
    if not ok:
        raise ValidationFailed({"declaration_id": [_("A declaration id is a whole number.")]})
    if decl_id is not None:
        declaration = db.session.get(Declaration, decl_id)
        if declaration is None or declaration.enterprise_id != complaint.enterprise_id:
            raise ValidationFailed(
                {"declaration_id": [_("Choose a declaration of %(name)s.",
                                      name=complaint.enterprise.name)]}
            )
    return inspections.open_complaint_check(
        complaint, user=user, declaration=declaration, seed=seed
    )


def checkable_declarations(complaint: Complaint) -> list[Declaration]:
    """The enterprise's declarations in force, for the regulator's choice of what to check."""
    return list(
        db.session.scalars(
            select(Declaration)
            .where(
                Declaration.enterprise_id == complaint.enterprise_id,
                Declaration.status == DeclarationStatus.PUBLISHED,
            )
            .options(joinedload(Declaration.current_version))
            .order_by(Declaration.id)
        )
    )
