"""Standard texts (标准文本) as PDF: checked by content, stored by SHA-256, sent back by policy.

The declared type and the file name are whatever the browser says, so neither is trusted: a
file is a PDF when its first bytes are ``%PDF-`` (``filetype``) *and* pypdf can open it. The
size is counted while streaming, so a lying Content-Length cannot get a larger file onto the
disk. Content is written to a temporary file in the upload directory and renamed into place
(``ab/cd/<sha256>.pdf``) only once every check passed; a refusal leaves nothing behind.

A file renamed into place belongs to the transaction that stores its ``Attachment`` row: when
that transaction rolls back (a request refused after the upload was stored), the files it
created are removed again (``_forget_files_of_rolled_back_transaction``), so no orphan stays
on disk. A file that was already there (same content uploaded before) is never removed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
import warnings
from pathlib import Path
from typing import BinaryIO

import filetype
from flask import abort, current_app, send_file
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from core.extensions import db
from core.models import Role
from declare.models import Attachment, DeclarationVersion, Disclosure, Enterprise

__all__ = [
    "PDF_MIME",
    "UploadError",
    "attachment_path",
    "can_read_text",
    "path_of",
    "send_attachment",
    "store_pdf",
]

PDF_MIME = "application/pdf"
CHUNK = 64 * 1024
_MAGIC = b"%PDF-"
_BOM = b"\xef\xbb\xbf"


class UploadError(ValueError):
    """A refused upload; ``code`` is ``empty``, ``too_large``, ``not_pdf`` or ``unreadable``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


def attachment_path(sha256: str) -> Path:
    """Where the content with this digest lives: ``UPLOAD_DIR/ab/cd/<sha256>.pdf``."""
    return _upload_dir() / sha256[:2] / sha256[2:4] / f"{sha256}.pdf"


def path_of(attachment: Attachment) -> Path:
    """The file on disk holding ``attachment``'s content."""
    return attachment_path(attachment.sha256)


def _safe_filename(name: str | None) -> str:
    """The client's file name without any path, control characters or excess length."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    if not base:
        base = "standard.pdf"
    if not base.lower().endswith(".pdf"):
        base += ".pdf"
    if len(base) > 255:
        base = base[: 255 - 4] + ".pdf"
    return base


def _max_bytes() -> int:
    return int(current_app.config.get("MAX_UPLOAD_BYTES") or 20 * 1024 * 1024)


def _too_large(limit: int) -> UploadError:
    return UploadError(
        "too_large",
        _(
            "The file is larger than %(mb)s MB, the most a standard text may have. "
            "Reduce it (e.g. lower the scan resolution) and upload it again.",
            mb=f"{limit / (1024 * 1024):g}",
        ),
    )


def _stream_to_temp(stream: BinaryIO, tmp: BinaryIO, limit: int) -> tuple[str, int, bytes]:
    """Copy ``stream`` into ``tmp``; returns (sha256, size, first bytes). Stops past ``limit``."""
    digest, size, head = hashlib.sha256(), 0, b""
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if len(head) < 262:
            head += chunk[: 262 - len(head)]
        digest.update(chunk)
        tmp.write(chunk)
    return digest.hexdigest(), size, head


def _check_magic(head: bytes) -> None:
    kind = filetype.guess(head) if head else None
    body = head.removeprefix(_BOM)
    if kind is None or kind.mime != PDF_MIME or not body.startswith(_MAGIC):
        found = kind.mime if kind is not None else _("an unknown or text format")
        raise UploadError(
            "not_pdf",
            _(
                "The standard text must be a PDF file; this file is %(found)s, whatever its "
                "name says. Export or print the standard as PDF and upload that.",
                found=found,
            ),
        )


def _check_opens(path: str) -> None:
    """pypdf must read the document structure and every page reference, without a password."""
    from pypdf import PdfReader

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise UploadError(
                    "unreadable",
                    _(
                        "The PDF is protected by a password, so it cannot be disclosed. "
                        "Upload it without a password."
                    ),
                )
            pages = len(reader.pages)
            active = _active_content(reader)
    except UploadError:
        raise
    except Exception:  # noqa: BLE001  (pypdf raises many types for damaged files: all mean "cannot open")
        raise UploadError(
            "unreadable",
            _(
                "The file starts like a PDF but cannot be opened as one: it is damaged or incomplete."
            ),
        ) from None
    if pages < 1:
        raise UploadError("unreadable", _("The PDF has no pages."))
    if active:
        raise UploadError(
            "active_content",
            _(
                "The PDF contains %(what)s, which a standard text must not carry (it would run "
                "in the reader's viewer). Export or print the document to a plain PDF and "
                "upload that.",
                what=", ".join(_active_word(code) for code in sorted(active)),
            ),
        )


#: Actions that run something in the reader's viewer instead of showing the text.
_ACTIVE_ACTIONS = {"/JavaScript": "javascript", "/Launch": "launch"}


def _active_word(code: str) -> str:
    return {
        "javascript": _("JavaScript"),
        "launch": _("a launch action"),
        "embedded": _("embedded files"),
    }[code]


def _active_content(reader) -> set[str]:
    """Codes of what in the document would act rather than show: JavaScript (document names,
    open action, additional actions of the document, its pages, annotations and form fields),
    launch actions, embedded files. pypdf has already decoded escaped names
    (``/J#61vaScript``), so a disguised name is found too."""
    found: set[str] = set()

    def action(obj, depth: int = 0) -> None:
        obj = obj.get_object() if obj is not None and hasattr(obj, "get_object") else obj
        if not hasattr(obj, "get") or depth > 8:
            return
        kind = obj.get("/S")
        if kind in _ACTIVE_ACTIONS:
            found.add(_ACTIVE_ACTIONS[kind])
        if "/JS" in obj:
            found.add("javascript")
        nxt = obj.get("/Next")
        for item in (nxt if isinstance(nxt, list) else [nxt] if nxt is not None else []):
            action(item, depth + 1)

    def additional(holder) -> None:
        aa = holder.get("/AA") if hasattr(holder, "get") else None
        aa = aa.get_object() if aa is not None else None
        for key in (aa or {}):
            action(aa[key])

    root = reader.trailer["/Root"].get_object()
    names = root.get("/Names")
    names = names.get_object() if names is not None else {}
    if "/JavaScript" in names:
        found.add("javascript")
    if "/EmbeddedFiles" in names:
        found.add("embedded")
    action(root.get("/OpenAction"))
    additional(root)
    form = root.get("/AcroForm")
    for field in ((form.get_object().get("/Fields") or []) if form is not None else []):
        field = field.get_object()
        additional(field)
        action(field.get("/A"))
    for page in reader.pages:
        additional(page)
        for annot in page.get("/Annots") or []:
            annot = annot.get_object()
            action(annot.get("/A"))
            additional(annot)
            if annot.get("/Subtype") == "/FileAttachment":
                found.add("embedded")
    return found


_NEW_FILES = "declare.uploads.new_files"


@event.listens_for(Session, "after_commit")
def _keep_files_of_committed_transaction(session: Session) -> None:
    session.info.pop(_NEW_FILES, None)


@event.listens_for(Session, "after_rollback")
def _forget_files_of_rolled_back_transaction(session: Session) -> None:
    for path in session.info.pop(_NEW_FILES, ()):
        path.unlink(missing_ok=True)


def store_pdf(file_storage: FileStorage, enterprise: Enterprise) -> Attachment:
    """Check and store an uploaded standard text; returns the new (flushed) Attachment.

    Raises UploadError (``code`` and a translated ``message``) and leaves no file on refusal.
    Identical content is stored once on disk, whichever enterprise uploads it.
    """
    if file_storage is None or file_storage.stream is None:
        raise UploadError("empty", _("Choose the PDF file of the standard text."))
    limit = _max_bytes()
    declared_length = file_storage.content_length
    if declared_length and declared_length > limit:
        raise _too_large(limit)

    root = _upload_dir()
    tmp_dir = root / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as tmp:
            sha256, size, head = _stream_to_temp(file_storage.stream, tmp, limit)
            tmp.flush()
            os.fsync(tmp.fileno())
        if size == 0:
            raise UploadError("empty", _("The file is empty. Choose the PDF of the standard text."))
        _check_magic(head)
        _check_opens(tmp_path)
        final = attachment_path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp_path, 0o640)
        if not final.exists():
            db.session.info.setdefault(_NEW_FILES, []).append(final)
        os.replace(tmp_path, final)  # atomic; same content may already be there, that's fine
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)

    attachment = Attachment(
        sha256=sha256,
        size=size,
        filename=_safe_filename(file_storage.filename),
        content_type=PDF_MIME,
        enterprise_id=enterprise.id,
    )
    db.session.add(attachment)
    db.session.flush()
    return attachment


def _is_owner(user, enterprise_id: int) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "enterprise_id", None) == enterprise_id
    )


def _is_supervisor(user, region_code: str) -> bool:
    from core.auth import region_covers

    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role is Role.ADMIN:
        return True
    return user.role is Role.REGULATOR and region_covers(user.region_code, region_code)


def can_read_text(version: DeclarationVersion, user=None) -> bool:
    """Who may read the standard text of ``version``.

    The owner always; the regulator of the enterprise's region and admins always (they check
    the text); anyone else only for a non-draft version disclosed in full text. Drafts and
    "indicators only" texts are not public.
    """
    enterprise = version.declaration.enterprise
    if _is_owner(user, enterprise.id) or _is_supervisor(user, enterprise.region_code):
        return True
    return not version.is_draft and version.disclosure is Disclosure.FULL_TEXT


def send_attachment(version: DeclarationVersion, user=None):
    """The response sending the standard text of ``version`` to ``user`` (None: public).

    404 when there is no text or ``user`` may not read it, so a hidden text is
    indistinguishable from a missing one.
    """
    attachment = version.text_attachment
    if attachment is None or not can_read_text(version, user):
        abort(404)
    path = path_of(attachment)
    if not path.is_file():
        current_app.logger.error("attachment %s missing on disk at %s", attachment.id, path)
        abort(404)
    public = not version.is_draft and version.disclosure is Disclosure.FULL_TEXT
    response = send_file(
        path,
        mimetype=PDF_MIME,
        as_attachment=False,
        download_name=attachment.filename,
        etag=attachment.sha256,
        conditional=True,
        max_age=3600 if public else 0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not public:
        response.headers["Cache-Control"] = "private, no-store"
    return response
