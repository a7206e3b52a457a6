"""Standard texts (标准文本) as PDF: checked by content, stored by SHA-256, sent back by policy.

The declared type and the file name are whatever the browser says, so neither is trusted: a
file is a PDF when its first bytes are ``%PDF-`` (``filetype``) *and* pypdf can open it. The
size is counted while streaming, so a lying Content-Length cannot get a larger file onto the
disk. Content is written to a temporary file in the upload directory and renamed into place
(``ab/cd/<sha256>.pdf``) only once every check passed; a refusal leaves nothing behind.

Work as well as bytes: pypdf reads a page's text by parsing every operator and operand of its
content streams, at about 150,000 a second, so 17 KB of compressed ``(a) Tj`` repeated a
million times costs minutes in the flags job. ``measure_text_cost`` counts what extraction
would parse (decoded content-stream bytes and tokens, form XObjects once per invocation,
a stream shared by several pages once per page) without parsing it, at C speed, and
``store_pdf`` refuses a file over ``PDF_TEXT_BUDGET`` (``text_budget``) with the reason. The
flags job runs the same measurement before it extracts, under a hard time limit besides
(``supervision.flags.extraction``).

A file renamed into place belongs to the transaction that stores its ``Attachment`` row: when
that transaction rolls back (a request refused after the upload was stored), the files it
created are removed again (``_forget_files_of_rolled_back_transaction``), so no orphan stays
on disk. A file that was already there (same content uploaded before) is never removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

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
    "TEXT_BUDGET_DEFAULTS",
    "TextCost",
    "UploadError",
    "attachment_path",
    "can_read_text",
    "content_disposition",
    "measure_text_cost",
    "path_of",
    "send_attachment",
    "store_pdf",
    "text_budget",
]

PDF_MIME = "application/pdf"
CHUNK = 64 * 1024
_MAGIC = b"%PDF-"
_BOM = b"\xef\xbb\xbf"


class UploadError(ValueError):
    """A refused upload; ``code`` is ``empty``, ``too_large``, ``not_pdf``, ``unreadable``,
    ``active_content`` or ``too_complex`` (over ``PDF_TEXT_BUDGET``)."""

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
    """pypdf must read the document structure and every page reference, without a password;
    nothing in the document may act (``_active_content``), and reading its text must fit
    ``PDF_TEXT_BUDGET`` (``_check_cost``)."""
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
            budget = text_budget()
            if pages > budget["pages"]:  # before walking every page for active content
                raise _over_budget(TextCost(pages, 0, 0, "pages"), budget)
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
    _check_cost(reader)


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


# --------------------------------------------------------------------------- work budget

MIB = 1024 * 1024

#: What the text of one standard may cost (``PDF_TEXT_BUDGET`` overrides any of these):
#: ``pages``; ``content_bytes`` and ``content_tokens``, the decoded content streams and their
#: operators and operands as text extraction parses them (about 150,000 tokens a second on
#: one core, so 3,000,000 is about 20 s; a 200-page standard typed in a word processor holds
#: 200,000-600,000); ``seconds`` and ``memory_mb``, the hard limits of the extraction process
#: in the flags job (``supervision.flags.extraction``).
TEXT_BUDGET_DEFAULTS: dict[str, int] = {
    "pages": 2000,
    "content_bytes": 48 * MIB,
    "content_tokens": 3_000_000,
    "seconds": 60,
    "memory_mb": 1024,
}

#: Delimiters that start a token of a content stream even without white space before them.
_DELIMITERS = (b"(", b")", b"<", b">", b"[", b"]", b"/")
_SPLIT_CHUNK = MIB  # tokens are counted per MiB: bounded memory, an error of one per MiB
#: pypdf's own bound on form XObject invocations per page extraction
#: (``Configuration.xform_maximum_invocations_per_extraction``).
_MAX_FORM_INVOCATIONS = 5000
_MAX_FORM_DEPTH = 32  # nesting followed this deep; each form is measured once per depth


def text_budget(config: Mapping[str, Any] | None = None) -> dict[str, int]:
    """``PDF_TEXT_BUDGET`` (``config``, else the app's) over ``TEXT_BUDGET_DEFAULTS``; an
    unknown key or a value that is not a positive integer is a configuration error."""
    given = dict(
        (current_app.config.get("PDF_TEXT_BUDGET") if config is None else config) or {}
    )
    unknown = sorted(set(given) - set(TEXT_BUDGET_DEFAULTS))
    if unknown:
        allowed = sorted(TEXT_BUDGET_DEFAULTS)
        raise ValueError(f"PDF_TEXT_BUDGET: unknown setting(s) {unknown}; allowed: {allowed}")
    budget = {**TEXT_BUDGET_DEFAULTS, **given}
    for key, value in budget.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"PDF_TEXT_BUDGET[{key!r}] must be a positive integer, got {value!r}")
    return budget


@dataclass(frozen=True)
class TextCost:
    """What extracting the text of a PDF would parse. ``over`` names the first limit passed
    (``pages``, ``content_bytes`` or ``content_tokens``) when the count stopped early."""

    pages: int
    content_bytes: int
    content_tokens: int
    over: str | None = None


def _tokens(data: bytes) -> int:
    """Operators and operands in a decoded content stream, counted without parsing it: the
    white-space separated words plus the delimiters that open or close an object. Strings
    with spaces count once per word, so this errs on the high side, never the low one."""
    words = sum(
        len(data[i : i + _SPLIT_CHUNK].split()) for i in range(0, len(data), _SPLIT_CHUNK)
    )
    return words + sum(data.count(d) for d in _DELIMITERS)


_DO = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s+Do(?![^\s/\[\]()<>{}%])")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def _drawn_names(content: bytes) -> dict[str, int]:
    """``/Name`` → how often ``content`` draws it with ``Do`` (``#xx`` escapes decoded, as
    pypdf decodes them; each count capped at pypdf's bound on invocations)."""
    counts: dict[str, int] = {}
    for raw in _DO.findall(content):
        name = "/" + _NAME_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), raw).decode("latin-1")
        counts[name] = min(counts.get(name, 0) + 1, _MAX_FORM_INVOCATIONS)
    return counts


def _resolved(obj):
    return obj.get_object() if obj is not None and hasattr(obj, "get_object") else obj


def _stream_key(ref, obj) -> tuple:
    return ("ref", ref.idnum, ref.generation) if hasattr(ref, "idnum") else ("obj", id(obj))


def measure_text_cost(
    reader, *, max_pages: int | None = None, budget: Mapping[str, int] | None = None
) -> TextCost:
    """Count what pypdf's ``extract_text`` would parse on the first ``max_pages`` pages (all
    when None): each page's content streams and the form XObjects it draws, a form once per
    ``Do`` of its name (up to pypdf's bound), a stream shared by pages once per page, as
    pypdf parses it again for each. Streams are decoded by pypdf within its own output limits
    and each only once. With ``budget``, counting stops as soon as a limit is passed."""
    limit = dict(budget or {})
    pages = len(reader.pages)
    if "pages" in limit and pages > limit["pages"]:
        return TextCost(pages, 0, 0, over="pages")
    seen: dict[tuple, tuple[int, int, bytes]] = {}  # stream → (bytes, tokens, data)
    total_bytes = total_tokens = 0

    def stream(ref) -> tuple[int, int, bytes]:
        obj = _resolved(ref)
        key = _stream_key(ref, obj)
        if key not in seen:
            data = obj.get_data() if hasattr(obj, "get_data") else b""
            seen[key] = (len(data), _tokens(data), data)
        return seen[key]

    drawn_forms: dict[tuple, tuple[int, int]] = {}  # (form, depth) → its (bytes, tokens)

    def forms(resources, content: bytes, depth: int) -> tuple[int, int]:
        """(bytes, tokens) of the forms drawn from ``content``, nested ones included; each
        form measured once per depth, so a lattice of forms costs its size, not its paths."""
        xobjects = _resolved((_resolved(resources) or {}).get("/XObject"))
        if not xobjects or depth > _MAX_FORM_DEPTH:
            return 0, 0
        size = tokens = 0
        for name, uses in _drawn_names(content).items():
            if name not in xobjects:
                continue
            ref = xobjects.raw_get(name)
            obj = _resolved(ref)
            if not hasattr(obj, "get") or obj.get("/Subtype") != "/Form":
                continue
            memo = (_stream_key(ref, obj), depth)
            if memo not in drawn_forms:
                form_size, form_tokens, data = stream(ref)
                inner_size, inner_tokens = forms(obj.get("/Resources"), data, depth + 1)
                drawn_forms[memo] = (form_size + inner_size, form_tokens + inner_tokens)
            size += uses * drawn_forms[memo][0]
            tokens += uses * drawn_forms[memo][1]
        return size, tokens

    for page in reader.pages[: max_pages if max_pages is not None else pages]:
        contents = page.raw_get("/Contents") if "/Contents" in page else None
        listed = _resolved(contents)
        refs = list(listed) if isinstance(listed, list) else [contents]
        drawn = []
        for ref in refs:
            if ref is None:
                continue
            size, tokens, data = stream(ref)
            total_bytes += size
            total_tokens += tokens
            drawn.append(data)
        size, tokens = forms(page.get("/Resources"), b" ".join(drawn), 0)
        total_bytes += size
        total_tokens += tokens
        for key in ("content_bytes", "content_tokens"):
            measured = total_bytes if key == "content_bytes" else total_tokens
            if key in limit and measured > limit[key]:
                return TextCost(pages, total_bytes, total_tokens, over=key)
    return TextCost(pages, total_bytes, total_tokens)


def _over_budget(cost: TextCost, budget: Mapping[str, int]) -> UploadError:
    advice = _(
        "Export or print the document to a plain PDF (its text as text, without the repeated "
        "drawing) and upload that."
    )
    if cost.over == "pages":
        what = _(
            "The PDF has %(found)s pages; a standard text may have at most %(limit)s.",
            found=cost.pages,
            limit=budget["pages"],
        )
        advice = _("Upload the standard itself, without annexed material.")
    elif cost.over == "content_bytes":
        what = _(
            "The pages of the PDF hold more than %(limit)s MB of drawing instructions, far "
            "more than a standard text needs: reading its text would take too long.",
            limit=f"{budget['content_bytes'] / MIB:g}",
        )
    else:
        what = _(
            "The pages of the PDF hold more than %(limit)s drawing instructions (operators "
            "and their operands), far more than a standard text needs: reading its text "
            "would take too long.",
            limit=f"{budget['content_tokens']:,}",
        )
    return UploadError("too_complex", f"{what} {advice}")


def _check_cost(reader) -> None:
    """Refuse a text whose extraction would exceed ``PDF_TEXT_BUDGET`` (see the module doc)."""
    budget = text_budget()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cost = measure_text_cost(reader, budget=budget)
    except Exception as exc:  # noqa: BLE001  (pypdf's limits and damaged streams)
        from pypdf.errors import LimitReachedError

        if isinstance(exc, LimitReachedError):  # a stream decodes past pypdf's own bound
            cost = TextCost(len(reader.pages), budget["content_bytes"] + 1, 0, "content_bytes")
        else:
            return  # a damaged content stream: viewers skip it, and so does the extraction
    if cost.over:
        raise _over_budget(cost, budget)


_NEW_FILES = "declare.uploads.new_files"


@event.listens_for(Session, "after_commit")
def _keep_files_of_committed_transaction(session: Session) -> None:
    session.info.pop(_NEW_FILES, None)


@event.listens_for(Session, "after_rollback")
def _forget_files_of_rolled_back_transaction(session: Session) -> None:
    for path in session.info.pop(_NEW_FILES, ()):
        path.unlink(missing_ok=True)


def check_pdf(data: bytes) -> None:
    """The checks ``store_pdf`` makes (size, a PDF by its content, opens, nothing active,
    text within budget) on bytes, storing nothing; raises UploadError (bulk import's check)."""
    limit = _max_bytes()
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise UploadError("empty", _("The file is empty. Choose the PDF of the standard text."))
    _check_magic(data[:262])
    fd, tmp_path = tempfile.mkstemp(prefix="check-", suffix=".pdf")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        _check_opens(tmp_path)
    finally:
        os.unlink(tmp_path)


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


#: Sent with every stored text: no script, style, frame or form of the document runs on
#: the site's origin whatever a viewer makes of it (``sandbox`` gives the response an opaque
#: origin). Chromium's PDF viewer still shows it: it is the browser's own, not the page's.
TEXT_CSP = "default-src 'none'; object-src 'self'; sandbox"


def content_disposition(filename: str, *, inline: bool = True) -> str:
    """``inline`` (or ``attachment``) with the stored file name, safe whatever it holds: an
    ASCII ``filename`` (quotes and backslashes escaped; a name that is not ASCII falls back
    to "standard.pdf") and, for any other name, RFC 5987's ``filename*=UTF-8''...``."""
    name = _safe_filename(filename)
    kind = "inline" if inline else "attachment"
    if name.isascii():
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'{kind}; filename="{escaped}"'
    return f"{kind}; filename=\"standard.pdf\"; filename*=UTF-8''{quote(name, safe='')}"


def send_attachment(version: DeclarationVersion, user=None):
    """The response sending the standard text of ``version`` to ``user`` (None: public).

    404 when there is no text or ``user`` may not read it, so a hidden text is
    indistinguishable from a missing one. The content type is the one verified at upload
    (never a browser's guess, never HTML: anything else is sent as a download of bytes),
    with ``nosniff``, a Content-Security-Policy that runs nothing (``TEXT_CSP``) and a
    Content-Disposition whose file name is safe (``content_disposition``).
    """
    attachment = version.text_attachment
    if attachment is None or not can_read_text(version, user):
        abort(404)
    path = path_of(attachment)
    if not path.is_file():
        current_app.logger.error("attachment %s missing on disk at %s", attachment.id, path)
        abort(404)
    public = not version.is_draft and version.disclosure is Disclosure.FULL_TEXT
    verified = attachment.content_type == PDF_MIME
    response = send_file(
        path,
        mimetype=PDF_MIME if verified else "application/octet-stream",
        as_attachment=not verified,
        etag=attachment.sha256,
        conditional=True,
        max_age=3600 if public else 0,
    )
    response.headers["Content-Disposition"] = content_disposition(
        attachment.filename, inline=verified
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = TEXT_CSP
    if not public:
        response.headers["Cache-Control"] = "private, no-store"
    return response
