"""Accounts: passwords (change, reset by e-mail), lock-out, admin management, sub-accounts.

Operations flush, never commit (the request's hook commits; a refused write rolls back). Two
exceptions, both on purpose: a wrong password is counted in a transaction of its own, because
the login answers 401/422 and its request rolls back; and mail goes out after the commit
(``core.mail.send_later``), so a rolled-back write sends nothing.

Sessions name their account *and* its ``session_epoch`` (``User.get_id``); every password
change bumps the epoch and revokes the account's API tokens, so the other devices are logged
out. A reset link is signed (itsdangerous) with the account's password fingerprint inside: it
expires after ``PASSWORD_RESET_MAX_AGE`` seconds and stops working once the password changed,
which also makes it single-use.

An enterprise's sub-accounts (经办人) carry its ``enterprise_id`` (so every ownership check that
compares ``current_user.enterprise_id`` lets them act for it, and only for it) and the main
account as ``parent_id``; they log in and are audited as themselves and cannot manage
sub-accounts. The kernel imports no domain package: creating an enterprise account goes through
the registrar the composition root installs (``set_enterprise_registrar``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta

from flask import current_app, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, lazyload

from core.errors import ValidationFailed
from core.extensions import db
from core.models import ApiToken, Role, User, utcnow
from core.validation import Errors, text

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{3,80}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_RE = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")
MAX_EMAIL_LENGTH = 254
RESET_SALT = "qibiao.password-reset"

_enterprise_registrar: Callable[..., User] | None = None


def set_enterprise_registrar(registrar: Callable[..., User]) -> None:
    """The function that creates an enterprise and its main account
    (``declare.operations.register_enterprise``: uscc, name, username, password)."""
    global _enterprise_registrar
    _enterprise_registrar = registrar


# --------------------------------------------------------------------------- checks


def clean_email(raw, errors: Errors, field: str = "email", *, account: User | None = None):
    """The address lower-cased, or None when empty; a message in ``errors`` when it is not an
    address or another account has it."""
    value = text(raw).lower()
    if not value:
        return None
    if len(value) > MAX_EMAIL_LENGTH or not EMAIL_RE.match(value):
        errors.add(field, _("Enter an e-mail address such as name@example.cn."))
        return None
    stmt = select(User.id).where(User.email == value)
    if account is not None and account.id is not None:
        stmt = stmt.where(User.id != account.id)
    if db.session.scalar(stmt) is not None:
        errors.add(field, _("Another account uses this e-mail address."))
        return None
    return value


def check_new_password(errors: Errors, password, confirm, field: str = "new_password") -> None:
    password = password if isinstance(password, str) else ""
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.add(
            field, _("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
        )
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.add(field, _("At most %(n)d characters.", n=MAX_PASSWORD_LENGTH))
    if confirm is not None and password != confirm:
        errors.add("confirm", _("The two new passwords differ."))


def _clean_username(raw, errors: Errors) -> str:
    username = text(raw)
    if not USERNAME_RE.match(username):
        errors.add(
            "username", _("A user name has 3 to 80 characters: letters, digits and _ . @ - only.")
        )
    elif db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        errors.add("username", _("The user name %(name)s is taken; choose another.", name=username))
    return username


def _clean_display_name(raw, errors: Errors) -> str:
    name = text(raw)
    if len(name) > 200:
        errors.add("display_name", _("At most %(n)d characters.", n=200))
    if "\x00" in name:
        errors.add("display_name", _("Remove the control characters."))
    return name


# --------------------------------------------------------------------------- passwords


def set_password(user: User, password: str) -> None:
    """Every password change goes here: a new hash, a new session epoch (other devices are
    logged out), the account's API tokens revoked and any lock lifted."""
    now = utcnow()
    user.set_password(password)
    user.session_epoch = (user.session_epoch or 0) + 1
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    if user.id is not None:
        for token in db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        ):
            token.revoked_at = now


def change_password(user: User, current: str, new: str, confirm: str) -> None:
    errors = Errors()
    if not user.check_password(current or ""):
        errors.add("current_password", _("The current password is wrong."))
    check_new_password(errors, new, confirm)
    if errors:
        raise ValidationFailed(errors)
    set_password(user, new)


def change_email(user: User, email: str, current: str) -> None:
    errors = Errors()
    if not user.check_password(current or ""):
        errors.add("current_password", _("The current password is wrong."))
    value = clean_email(email, errors, account=user)
    if errors:
        raise ValidationFailed(errors)
    user.email = value


def _clock() -> float:
    """Seconds since the epoch for the reset links' timestamps (tests move it)."""
    return time.time()


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(_clock())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT, signer=_Signer)


def _fingerprint(user: User) -> str:
    """Changes with every password change (the hash has a fresh salt, the epoch moves)."""
    raw = f"{user.id}:{user.session_epoch or 0}:{user.password_hash}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def reset_token(user: User) -> str:
    return _serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def user_for_reset(token: str) -> User | None:
    """The active account a reset link is for; None when the link is forged, expired, used,
    or the password changed since it was sent."""
    try:
        data = _serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"])
    except BadSignature:  # SignatureExpired and BadTimeSignature are BadSignatures
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or not user.is_active or data.get("f") != _fingerprint(user):
        return None
    return user


def reset_password(user: User, new: str, confirm: str) -> None:
    errors = Errors()
    check_new_password(errors, new, confirm)
    if errors:
        raise ValidationFailed(errors)
    set_password(user, new)


def send_reset_mail(user: User) -> None:
    """The reset link by mail, sent after the commit (nothing on a rollback)."""
    from core.mail import send_later

    if not user.email:
        raise ValidationFailed(
            {"email": [_("This account has no e-mail address; set one first.")]}
        )
    link = url_for("accounts.reset_password", token=reset_token(user), _external=True)
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    subject = _("Reset your password")
    body = _(
        "Someone asked to reset the password of the account %(username)s.\n\n"
        "Open this link within %(minutes)d minutes to choose a new password; it works once:\n"
        "%(link)s\n\n"
        "If you did not ask for this, ignore this message: your password stays as it is.",
        username=user.username,
        minutes=minutes,
        link=link,
    )
    send_later(user.email, subject, body)


def request_reset(email: str) -> None:
    """Send a reset link when an active account has this address; say nothing either way."""
    value = text(email).lower()
    if not value or len(value) > MAX_EMAIL_LENGTH or not EMAIL_RE.match(value):
        return
    user = db.session.scalar(select(User).where(User.email == value))
    if user is not None and user.is_active:
        send_reset_mail(user)


# --------------------------------------------------------------------------- log-in, lock-out


class LoginRefused(Exception):
    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def _locked_message(user: User) -> str:
    from flask_babel import format_datetime

    return _(
        "Too many wrong passwords: this account is locked until %(until)s. Try again later, "
        "reset the password by e-mail, or ask the platform to unlock it.",
        until=format_datetime(user.locked_until, "yyyy-MM-dd HH:mm"),
    )


def authenticate(username, password) -> User:
    """The account for a username and password (the login page and the token API alike), or
    ``LoginRefused`` with the message to show. A wrong password counts towards the lock."""
    wrong = _("Wrong username or password.")
    name = text(username)
    if not name or "\x00" in name or not isinstance(password, str):
        raise LoginRefused(wrong)
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None or not user.is_active:
        raise LoginRefused(wrong)
    if user.locked():
        raise LoginRefused(_locked_message(user))
    if not user.check_password(password):
        locked = record_failed_login(user.id)
        if locked:
            db.session.refresh(user)
            raise LoginRefused(_locked_message(user))
        raise LoginRefused(wrong)
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None
    return user


def record_failed_login(user_id: int) -> bool:
    """Count a wrong password in a transaction of its own (the refused login rolls its own
    back); lock the account once ``LOGIN_LOCK_THRESHOLD`` are reached. True when it locked."""
    cfg = current_app.config
    with Session(db.engine) as session:
        user = session.scalar(
            select(User)
            .where(User.id == user_id)
            .options(lazyload(User.enterprise))  # no outer join under FOR UPDATE
            .with_for_update()
        )
        if user is None:
            return False
        user.failed_logins = (user.failed_logins or 0) + 1
        locked = user.failed_logins >= cfg["LOGIN_LOCK_THRESHOLD"]
        if locked:
            user.failed_logins = 0
            user.locked_until = utcnow() + timedelta(minutes=cfg["LOGIN_LOCK_MINUTES"])
        session.commit()
    return locked


def unlock(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None


# --------------------------------------------------------------------------- admin


def accounts_query(role: str | None = None, q: str | None = None):
    """Accounts for the admin list, newest last; ``q`` matches user name, name or e-mail."""
    stmt = select(User).order_by(User.id)
    if role:
        stmt = stmt.where(User.role == Role(role))
    term = text(q)
    if term:
        like = "%" + term.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        stmt = stmt.where(
            or_(
                User.username.ilike(like, escape="\\"),
                User.display_name.ilike(like, escape="\\"),
                User.email.ilike(like, escape="\\"),
            )
        )
    return stmt


def create_account(data: dict) -> User:
    """An account of any role, by an admin. Without a password, a random one is set and the
    account gets a reset link by mail (so an e-mail address is then required)."""
    errors = Errors()
    role_raw = text(data.get("role"))
    role = None
    try:
        role = Role(role_raw)
    except ValueError:
        errors.add("role", _("Choose a role: %(roles)s.", roles=", ".join(r.value for r in Role)))
    username = _clean_username(data.get("username"), errors)
    display_name = _clean_display_name(data.get("display_name"), errors)
    email = clean_email(data.get("email"), errors)
    password = data.get("password") or ""
    invite = not password
    if invite:
        if email is None and "email" not in errors:
            errors.add(
                "email",
                _("Give a password, or an e-mail address to send the account a reset link."),
            )
        password = secrets.token_urlsafe(24)
    else:
        check_new_password(errors, password, None, field="password")
    region = text(data.get("region_code"))
    if role is Role.REGULATOR:
        if not (len(region) == 6 and region.isascii() and region.isdigit()):
            errors.add(
                "region_code", _("A regulator needs a 6-digit 行政区划 code, e.g. 500000.")
            )
    if role is Role.ENTERPRISE:
        if not text(data.get("uscc")):
            errors.add("uscc", _("Enter the enterprise's unified social credit code."))
        if not text(data.get("enterprise_name")):
            errors.add("enterprise_name", _("Enter the enterprise's registered name."))
    if errors:
        raise ValidationFailed(errors)

    if role is Role.ENTERPRISE:
        if _enterprise_registrar is None:  # pragma: no cover  (the app always installs it)
            raise RuntimeError("no enterprise registrar installed (core.accounts)")
        try:
            user = _enterprise_registrar(
                uscc=text(data.get("uscc")),
                name=text(data.get("enterprise_name")),
                username=username,
                password=password,
            )
        except ValidationFailed as exc:
            renamed = {("enterprise_name" if k == "name" else k): v for k, v in exc.errors.items()}
            raise ValidationFailed(renamed) from None
        if display_name:
            user.display_name = display_name
    else:
        user = User(
            username=username,
            role=role,
            display_name=display_name or username,
            region_code=region if role is Role.REGULATOR else None,
        )
        user.set_password(password)
        db.session.add(user)
    user.email = email
    user.password_changed_at = utcnow()
    db.session.flush()
    if invite:
        send_reset_mail(user)
    return user


def update_account(user: User, data: dict) -> None:
    """An admin corrects an account's name, e-mail address or (regulators) region; only the
    keys given change."""
    errors = Errors()
    changes = {}
    if "display_name" in data:
        changes["display_name"] = _clean_display_name(data.get("display_name"), errors)
    if "email" in data:
        changes["email"] = clean_email(data.get("email"), errors, account=user)
    if "region_code" in data and user.role is Role.REGULATOR:
        region = text(data.get("region_code"))
        if not (len(region) == 6 and region.isascii() and region.isdigit()):
            errors.add(
                "region_code", _("A regulator needs a 6-digit 行政区划 code, e.g. 500000.")
            )
        changes["region_code"] = region
    if errors:
        raise ValidationFailed(errors)
    for key, value in changes.items():
        setattr(user, key, value)


def set_active(admin: User, user: User, active: bool) -> None:
    if not active and user.id == admin.id:
        raise ValidationFailed({"_schema": [_("You cannot disable your own account.")]})
    user.is_active_account = active


# --------------------------------------------------------------------------- sub-accounts


def may_manage_sub_accounts(user) -> bool:
    """Only an enterprise's main account manages its sub-accounts."""
    return (
        getattr(user, "role", None) is Role.ENTERPRISE
        and user.enterprise_id is not None
        and user.parent_id is None
    )


def sub_accounts_of(owner: User) -> list[User]:
    return list(
        db.session.scalars(select(User).where(User.parent_id == owner.id).order_by(User.id))
    )


def create_sub_account(owner: User, data: dict) -> User:
    if not may_manage_sub_accounts(owner):
        raise PermissionError("only an enterprise's main account manages sub-accounts")
    errors = Errors()
    username = _clean_username(data.get("username"), errors)
    display_name = _clean_display_name(data.get("display_name"), errors)
    email = clean_email(data.get("email"), errors)
    check_new_password(errors, data.get("password"), data.get("confirm"), field="password")
    if errors:
        raise ValidationFailed(errors)
    user = User(
        username=username,
        role=Role.ENTERPRISE,
        display_name=display_name or username,
        enterprise_id=owner.enterprise_id,
        parent_id=owner.id,
        email=email,
        password_changed_at=utcnow(),
    )
    user.set_password(data["password"])
    db.session.add(user)
    db.session.flush()
    return user


def sub_account(owner: User, user_id: int) -> User | None:
    """``owner``'s sub-account with this id, or None (another enterprise's is not found)."""
    user = db.session.get(User, user_id)
    if user is None or user.parent_id != owner.id or not may_manage_sub_accounts(owner):
        return None
    return user
