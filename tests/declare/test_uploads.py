"""Standard-text uploads: checked by content, size-limited while streaming, content-addressed."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from core.errors import ValidationFailed
from core.models import Role, User
from declare import operations, uploads
from declare.models import Attachment, Disclosure
from tests.declare import (
    en_request_fixture,  # noqa: F401
    enterprise_data,
    owner_fixture,  # noqa: F401
    pdf_bytes,
    publish_enterprise,
    upload,
)
from tests.factories import make_enterprise_user

pytestmark = pytest.mark.usefixtures("en_request")

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def app_config():
    return {"MAX_UPLOAD_BYTES": 64 * 1024}


@pytest.fixture
def draft(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
    db.session.commit()
    return version


def stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def attachment_count(db) -> int:
    return db.session.scalar(select(func.count(Attachment.id)))


def test_good_pdf_is_stored_by_sha256(app, db, draft):
    data = pdf_bytes(pages=2)
    attachment = operations.attach_text(draft, upload(data, filename="C:\\docs\\企业标准.pdf"))
    db.session.commit()
    digest = hashlib.sha256(data).hexdigest()
    assert (attachment.sha256, attachment.size) == (digest, len(data))
    assert attachment.filename == "企业标准.pdf" and attachment.content_type == "application/pdf"
    assert draft.text_attachment is attachment
    path = Path(app.config["UPLOAD_DIR"]) / digest[:2] / digest[2:4] / f"{digest}.pdf"
    assert stored_files(app) == [path]
    assert path.read_bytes() == data


def test_same_content_is_stored_once_on_disk(app, db, draft):
    data = pdf_bytes()
    first = operations.attach_text(draft, upload(data))
    second = operations.attach_text(draft, upload(data, filename="again.pdf"))
    db.session.commit()
    assert first.sha256 == second.sha256
    assert len(stored_files(app)) == 1


def test_a_rolled_back_upload_leaves_no_file(app, db, draft):
    """The request that stored the file was refused later: its new file goes with its row."""
    operations.attach_text(draft, upload(pdf_bytes(pages=3)))
    assert len(stored_files(app)) == 1
    db.session.rollback()
    assert stored_files(app) == [] and attachment_count(db) == 0


def test_a_rollback_keeps_a_file_another_attachment_already_had(app, db, draft):
    data = pdf_bytes()
    operations.attach_text(draft, upload(data))
    db.session.commit()
    operations.attach_text(draft, upload(data, filename="again.pdf"))
    db.session.rollback()
    assert len(stored_files(app)) == 1 and attachment_count(db) == 1


@pytest.mark.parametrize(
    "data,filename,mimetype,expected",
    [
        (PNG, "standard.pdf", "application/pdf", "image/png"),
        (
            "这是一份标准文本".encode() * 10,
            "standard.pdf",
            "application/pdf",
            "an unknown or text format",
        ),
        (b"PK\x03\x04" + b"\x00" * 200, "standard.pdf", "application/pdf", "application/zip"),
    ],
    ids=["png renamed", "text renamed", "zip renamed"],
)
def test_wrong_content_is_refused_whatever_name_and_type(
    app, db, draft, data, filename, mimetype, expected
):
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(data, filename=filename, mimetype=mimetype))
    message = err.value.errors["text"][0]
    assert "must be a PDF" in message and expected in message
    assert stored_files(app) == [] and attachment_count(db) == 0
    assert draft.text_attachment_id is None


def test_pdf_header_without_a_pdf_is_refused(app, db, draft):
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(b"%PDF-1.7\n" + b"garbage " * 100))
    assert "cannot be opened" in err.value.errors["text"][0]
    assert stored_files(app) == [] and attachment_count(db) == 0


def _hostile_pdf(kind: str) -> bytes:
    """A one-page PDF carrying active content of ``kind``, made with pypdf."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    if kind == "open_action_js":
        writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
            {NameObject("/S"): NameObject("/JavaScript"),
             NameObject("/JS"): TextStringObject("app.alert('hi');")}
        )
    elif kind == "launch":
        writer._root_object[NameObject("/OpenAction")] = DictionaryObject(
            {NameObject("/S"): NameObject("/Launch"),
             NameObject("/F"): TextStringObject("calc.exe")}
        )
    elif kind == "page_js":
        action = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                   NameObject("/JS"): TextStringObject("app.alert(1)")})
        writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): action})
    elif kind == "embedded":
        writer.add_attachment("payload.exe", b"MZ" + b"\x00" * 64)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "kind, word",
    [("open_action_js", "JavaScript"), ("launch", "launch action"), ("page_js", "JavaScript"),
     ("embedded", "embedded files")],
)
def test_a_pdf_that_would_act_is_refused(app, db, draft, kind, word):
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(_hostile_pdf(kind)))
    message = err.value.errors["text"][0]
    assert word in message and "plain PDF" in message
    assert stored_files(app) == [] and attachment_count(db) == 0


def test_over_the_size_limit_is_refused_while_streaming(app, db, draft):
    big = pdf_bytes() + b"%" + b"x" * (64 * 1024)  # valid start, too long in total
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(big))
    assert "larger than 0.0625 MB" in err.value.errors["text"][0]
    assert stored_files(app) == [] and attachment_count(db) == 0


def test_empty_file_is_refused(app, db, draft):
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(b""))
    assert "empty" in err.value.errors["text"][0]
    assert stored_files(app) == []


def test_text_of_a_published_version_cannot_be_replaced(app, db, owner, catalogue):
    version = publish_enterprise(owner.enterprise, catalogue)
    with pytest.raises(ValidationFailed):
        operations.attach_text(version, upload(pdf_bytes(pages=3)))
    assert attachment_count(db) == 1


# --------------------------------------------------------------------------- sending back


def fetch(version, user):
    response = uploads.send_attachment(version, user)
    response.direct_passthrough = False
    return response


def test_full_text_is_public_once_published(app, db, owner, catalogue):
    version = publish_enterprise(owner.enterprise, catalogue)
    response = fetch(version, AnonymousUserMixin())
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF-")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_indicators_only_text_is_for_the_owner_and_supervisors(app, db, owner, catalogue):
    version = publish_enterprise(
        owner.enterprise, catalogue, disclosure=Disclosure.INDICATORS_ONLY.value
    )
    for outsider in (
        None,
        AnonymousUserMixin(),
        make_enterprise_user(),
        _user(db, Role.REGULATOR, "440000"),
    ):
        with pytest.raises(NotFound):
            uploads.send_attachment(version, outsider)
    for insider in (owner, _user(db, Role.REGULATOR, "500000"), _user(db, Role.ADMIN, None)):
        response = fetch(version, insider)
        assert response.status_code == 200
        assert "no-store" in response.headers["Cache-Control"]
        response.close()


def test_draft_text_is_not_public(app, db, owner, draft):
    operations.attach_text(draft, upload(pdf_bytes()))
    db.session.commit()
    with pytest.raises(NotFound):
        uploads.send_attachment(draft, None)
    fetch(draft, owner).close()


def test_missing_text_is_404(app, db, owner, draft):
    with pytest.raises(NotFound):
        uploads.send_attachment(draft, owner)


def _user(db, role: Role, region: str | None) -> User:
    user = User(username=f"{role.value}-{region}", role=role, region_code=region)
    user.set_password("correct horse 9")
    db.session.add(user)
    db.session.commit()
    return user
