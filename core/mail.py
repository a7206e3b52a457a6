"""E-mail: one function to send a message, through SMTP or into a folder.

``MAIL_URL`` names the SMTP server (``smtp://user:password@host:587?starttls=1``, or
``smtps://…`` for SMTP over TLS). Without it every message is written to ``MAIL_FOLDER`` (one
``.eml``-like file per message, Flask-Mailman's file backend), so the demo and a fresh clone
show what would have been sent without a mail server.

Mail is never sent inside a request's transaction: ``send_later`` enqueues the ``deliver``
job, which runs after the commit (inline without Redis), so a rolled-back write sends nothing
and a slow SMTP server never holds a request. ``send_mail`` is for jobs that already run
after the commit.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app
from flask_mailman import EmailMultiAlternatives, Mail

mail = Mail()

SCHEMES = ("smtp", "smtps")


def smtp_settings(url: str) -> dict:
    """The SMTP backend's keyword arguments for ``MAIL_URL``; ValueError names what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"MAIL_URL must start with smtp:// or smtps://, got {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("MAIL_URL has no host (smtp://host:port)")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    ssl = parts.scheme == "smtps"
    return {
        "host": parts.hostname,
        "port": parts.port or (465 if ssl else 25),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "use_ssl": ssl,
        "use_tls": not ssl and query.get("starttls", "0") in ("1", "true", "yes"),
        "timeout": float(query.get("timeout", 10)),
    }


def init_app(app) -> None:
    """Check ``MAIL_URL`` at start-up (a typo fails the start, not the first mail)."""
    url = app.config.get("MAIL_URL")
    if url:
        smtp_settings(url)
    app.config.setdefault("MAIL_BACKEND", "smtp" if url else "file")
    app.config.setdefault("MAIL_FILE_PATH", app.config["MAIL_FOLDER"])
    mail.init_app(app)


def _connection():
    """A backend for the app's current settings (read per message, so a test or an operator
    may point ``MAIL_URL`` elsewhere without a restart)."""
    url = current_app.config.get("MAIL_URL")
    if url:
        return mail.get_connection(backend="smtp", **smtp_settings(url))
    folder = Path(current_app.config["MAIL_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    return mail.get_connection(backend="file", file_path=str(folder))


def send_mail(to: str | list[str], subject: str, body: str, html: str | None = None) -> None:
    """Send one message now (plain text, with an HTML alternative when given). Raises on an
    SMTP failure, so the job that called it is retried."""
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        return
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=current_app.config["MAIL_FROM"],
        to=recipients,
        connection=_connection(),
    )
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


def send_later(to: str | list[str], subject: str, body: str, html: str | None = None):
    """Send after the current transaction commits (the ``core.tasks.deliver_mail`` job)."""
    from core import jobs, tasks

    return jobs.enqueue(tasks.deliver_mail, to, subject, body, html)


#: What Flask-Mailman's file backend writes after each message.
_SEPARATOR = b"\n" + b"-" * 79 + b"\n"


@dataclass(frozen=True)
class FolderMail:
    """One message written to ``MAIL_FOLDER`` (what would have been sent without MAIL_URL)."""

    written_at: datetime
    to: str
    subject: str
    body: str


def folder_mail(limit: int = 50) -> list[FolderMail]:
    """The newest messages in ``MAIL_FOLDER``, newest first: the demo's "sent" mail."""
    folder = Path(current_app.config["MAIL_FOLDER"])
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    out: list[FolderMail] = []
    for path in files:
        written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        for raw in reversed([r for r in path.read_bytes().split(_SEPARATOR) if r.strip()]):
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            part = msg.get_body(("plain",)) if msg.is_multipart() else msg
            body = part.get_content() if part is not None else ""
            out.append(FolderMail(written, str(msg["To"] or ""), str(msg["Subject"] or ""), body))
            if len(out) >= limit:
                return out
    return out
