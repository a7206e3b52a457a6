"""The declaration pages through their forms: registration, the lifecycle, public pages, uploads,
the live comparison endpoint and the query count of the public search."""

from __future__ import annotations

import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfWriter
from sqlalchemy import event, func, select
from stdnum import ean

from core.clock import local_today
from benchmarks.models import StandardStatus
from core.extensions import db as _db
from core.models import Role
from declare.models import (
    Attachment,
    Declaration,
    DeclarationStatus,
    DeclarationVersion,
    Enterprise,
    ReferenceFlag,
    VersionStatus,
)
from tests.factories import valid_uscc

MAX_UPLOAD = 20_000


@pytest.fixture
def app_config():
    # Small enough that a test can exceed it, large enough for the tiny PDFs of the others.
    return {"MAX_UPLOAD_BYTES": MAX_UPLOAD}


def make_pdf(padding: int = 0) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "Q/CQKT 0001-2024", "/Subject": "x" * padding})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


BARCODE = "690123456789" + ean.calc_check_digit("690123456789")


def own_standard_form(
    cat,
    *,
    value="3.0",
    mingshi="",
    action="save",
    lock=None,
    pdf: bytes | None = None,
    code="Q/CQKT 0001-2024",
    **extra,
) -> dict:
    """What a browser sends for an own-standard declaration, blank rows included.

    The first indicator row is left blank on purpose: refusals must still land on the row the
    user typed (form row 2 is the operation's indicator 0).
    """
    data = {
        "std_code": code,
        "std_name": "房间空气调节器企业标准",
        "implemented_on": "2024-06-01",
        "products-0-name": "分体式变频空调",
        "products-0-model": "KFR-35GW/BP3",
        "products-0-category_id": str(cat["room_ac"].id),
        "products-0-specification": "3.5 kW",
        "products-0-common_name": "空调",
        "products-0-brand": "山城",
        "products-0-barcode": BARCODE,
        "products-1-name": "",
        "products-1-model": "",
        "products-1-category_id": "",
        "indicators-0-kind": "performance",
        "indicators-0-op": "ge",
        "indicators-0-name": "",
        "indicators-0-benchmark_indicator_id": "",
        "indicators-1-kind": "performance",
        "indicators-1-name": "全年能源消耗效率 APF",
        "indicators-1-benchmark_indicator_id": str(cat["apf"].id),
        "indicators-1-op": "ge",
        "indicators-1-value": value,
        "indicators-1-unit": "W/W",
        "indicators-1-test_method": "GB 21455-2019 附录A",
        "indicators-1-mingshi": mingshi,
        "indicators-2-kind": "function",
        "indicators-2-name": "自清洁功能",
        "indicators-2-op": "eq",
        "indicators-2-text_value": "具备",
        "indicators-2-test_method": "GB/T 7725-2022 6.3",
        "references-0-standard_id": str(cat["gb21455"].id),
        "references-1-standard_id": "",
        "disclosure": "full_text",
        "commitment_accepted": "y",
        "approved_by": "张工",
        "approved_on": "2024-05-20",
        "action": action,
    }
    if lock is not None:
        data["lock_version"] = str(lock)
    if pdf is not None:
        data["text_pdf"] = (io.BytesIO(pdf), "标准文本.pdf", "application/pdf")
    data.update(extra)
    return data


def text(resp) -> str:
    return resp.get_data(as_text=True)


def only_declaration(db) -> Declaration:
    return db.session.scalars(select(Declaration)).one()


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def lock_of(db, declaration_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Declaration, declaration_id).draft.lock_version


@pytest.fixture
def enterprise(login_as, catalogue):
    return login_as(Role.ENTERPRISE)


def save_draft(client, cat, **kw):
    resp = client.post(
        "/my/declarations/new/enterprise",
        data=own_standard_form(cat, **kw),
        content_type="multipart/form-data",
    )
    return resp


def publish_own_standard(client, db, cat, *, code="Q/CQKT 0001-2024", value="4.8") -> int:
    resp = save_draft(client, cat, code=code, value=value, pdf=make_pdf(), action="publish")
    assert resp.status_code == 302, text(resp)[:3000]
    return int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


# --------------------------------------------------------------------------- registration


def _register(client, **overrides):
    data = {
        "uscc": "",
        "name": "重庆山城空调有限公司",
        "address": "重庆市渝北区",
        "contact_name": "李明",
        "contact_phone": "023-12345678",
        "username": "shancheng",
        "password": "long enough 1",
        "password2": "long enough 1",
    }
    data.update(overrides)
    return client.post("/register", data=data)


def test_register_form_renders(client):
    resp = client.get("/register")
    assert resp.status_code == 200
    assert 'name="uscc"' in text(resp) and 'name="password2"' in text(resp)


def test_register_normalises_the_uscc_and_logs_in(client, db):
    code = valid_uscc("500112")
    typed = " ".join([code[:6], code[6:12].lower(), code[12:]])
    resp = _register(client, uscc=typed)
    assert resp.status_code == 302, text(resp)[:2000]
    assert resp.headers["Location"].endswith("/my/declarations")
    ent = db.session.scalars(select(Enterprise)).one()
    assert ent.uscc == code and ent.region_code == "500112"
    page = client.get("/my/declarations")
    assert page.status_code == 200
    assert "500112 重庆市 渝北区" in text(page)  # the region, from the USCC, in the flash


def test_register_bad_uscc_names_the_problem(client, db):
    code = valid_uscc("500112")
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    resp = _register(client, uscc=wrong)
    assert resp.status_code == 422
    body = text(resp)
    assert "check character" in body and wrong in body
    assert count(db, Enterprise) == 0


def test_register_shows_region_and_each_error_at_its_field(client, db):
    resp = _register(client, uscc=valid_uscc("110105"), password2="something else")
    assert resp.status_code == 422
    body = text(resp)
    assert "110105 北京市 朝阳区" in body
    assert "The two passwords are not the same." in body
    assert count(db, Enterprise) == 0


def test_register_duplicate_uscc(client, db, make_user):
    existing = make_user(Role.ENTERPRISE)
    resp = _register(client, uscc=existing.enterprise.uscc.lower())
    assert resp.status_code == 422
    assert "already exists" in text(resp)
    assert count(db, Enterprise) == 1


# --------------------------------------------------------------------------- the lifecycle


def test_new_declaration_pages(client, enterprise, catalogue):
    assert "/my/declarations/new/catalogue" in text(client.get("/my/declarations/new"))
    page = client.get("/my/declarations/new/enterprise")
    assert page.status_code == 200
    body = text(page)
    # blank rows for use without JavaScript, the commitment text, two separate buttons
    assert 'name="products-2-name"' in body and 'name="indicators-2-name"' in body
    assert "mandatory national standards" in body
    assert 'value="save"' in body and 'value="publish"' in body
    assert "declaration-form.js" in body
    # the catalogue pickers list usable standards only
    assert "GB 21455-2019" in body and "GB/T 7725-2004" not in body


def test_lifecycle_through_the_forms(client, db, enterprise, catalogue):
    cat = catalogue
    # 1. Save a draft with a violating APF and the standard text.
    resp = save_draft(client, cat, value="3.0", pdf=make_pdf())
    assert resp.status_code == 302, text(resp)[:3000]
    declaration = only_declaration(db)
    draft = declaration.draft
    assert draft.status is VersionStatus.DRAFT and draft.text_attachment is not None
    assert [i.name for i in draft.indicators] == ["全年能源消耗效率 APF", "自清洁功能"]
    assert [p.barcode for p in draft.products] == [BARCODE]
    manage = client.get(resp.headers["Location"])
    body = text(manage)
    assert 'class="badge violation"' in body
    assert "GB 21455-2019" in body and "3.30" in body
    assert "Q/CQKT 0001-2024" in body

    # 2. The edit page shows the comparison under the row and in the table.
    edit = client.get(f"/my/declarations/{declaration.id}/draft")
    assert edit.status_code == 200
    assert 'id="comparison-table"' in text(edit) and 'class="badge violation"' in text(edit)
    lock = lock_of(db, declaration.id)

    # 3. Publish refused: the violation names standard, limit and value; nothing changes.
    refused = client.post(
        f"/my/declarations/{declaration.id}/draft",
        data=own_standard_form(cat, value="3.0", action="publish", lock=lock),
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    body = text(refused)
    summary = body[body.index('id="form-summary"') :]
    assert "Function and performance indicators, row 2: Value" in summary
    assert "3.00" in summary and "3.30" in summary and "GB 21455-2019" in summary
    assert "cannot be published" in summary
    assert lock_of(db, declaration.id) == lock
    assert db.session.get(Declaration, declaration.id).status is DeclarationStatus.DRAFT

    # 4. Refused without 明示: 4.2 is below the recommended 4.50.
    refused = client.post(
        f"/my/declarations/{declaration.id}/draft",
        data=own_standard_form(cat, value="4.2", action="publish", lock=lock),
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    body = text(refused)
    assert "明示" in body and "4.50" in body
    assert "Function and performance indicators, row 2: 明示 statement" in body
    assert 'class="badge below_recommended"' in body
    # the message sits at the mingshi field of form row 2
    field = body[body.index('id="indicators-1-mingshi"') :]
    assert field.index("state it explicitly") < field.index('id="indicators-2-')

    # 5. With the statement it publishes and redirects to the public page with a flash.
    published = client.post(
        f"/my/declarations/{declaration.id}/draft",
        data=own_standard_form(
            cat, value="4.2", mingshi="变频低温工况优化，APF 低于推荐值", action="publish", lock=lock
        ),
        content_type="multipart/form-data",
    )
    assert published.status_code == 302, text(published)[:3000]
    assert published.headers["Location"].endswith(f"/declarations/{declaration.id}")
    public = client.get(published.headers["Location"])
    body = text(public)
    assert "is published" in body
    assert 'class="badge below_recommended"' in body and "3级" in body
    assert "变频低温工况优化" in body
    assert 'id="text-link"' in body

    # 6. Anyone can read it, and the PDF (full-text disclosure).
    client.post("/logout")
    public = client.get(f"/declarations/{declaration.id}")
    assert public.status_code == 200 and "Q/CQKT 0001-2024" in text(public)
    with client.get(f"/declarations/{declaration.id}/versions/1/text") as pdf:
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    client.post(
        "/login", data={"username": enterprise.username, "password": "correct horse 9"}
    )

    # 7. Revise: a draft copied from version 1; publish 4.6 with a revision note.
    revise = client.post(f"/my/declarations/{declaration.id}/revise")
    assert revise.status_code == 302
    assert revise.headers["Location"].endswith(f"/my/declarations/{declaration.id}/draft")
    edit = text(client.get(revise.headers["Location"]))
    assert "变频低温工况优化" in edit and 'name="revision_note"' in edit
    lock = lock_of(db, declaration.id)
    revised = client.post(
        f"/my/declarations/{declaration.id}/draft",
        data=own_standard_form(
            cat, value="4.6", action="publish", lock=lock, revision_note="APF 提高到 4.6"
        ),
        content_type="multipart/form-data",
    )
    assert revised.status_code == 302, text(revised)[:3000]
    db.session.expire_all()
    versions = db.session.scalars(
        select(DeclarationVersion).order_by(DeclarationVersion.version_no)
    ).all()
    assert [v.status for v in versions] == [VersionStatus.SUPERSEDED, VersionStatus.PUBLISHED]
    assert versions[1].text_attachment_id == versions[0].text_attachment_id

    # 8. History lists both with their dates; each version stays readable.
    history = text(client.get(f"/declarations/{declaration.id}/history"))
    assert f"/declarations/{declaration.id}/versions/1" in history
    assert f"/declarations/{declaration.id}/versions/2" in history
    beijing = ZoneInfo("Asia/Shanghai")
    for moment in (versions[0].published_at, versions[0].ended_at, versions[1].published_at):
        assert moment.astimezone(beijing).strftime("%Y-%m-%d %H:%M") in history
    assert 'class="badge superseded"' in history and 'class="badge published"' in history
    old = client.get(f"/declarations/{declaration.id}/versions/1")
    assert old.status_code == 200 and "superseded" in text(old).lower()
    assert 'class="badge exceeds"' in text(client.get(f"/declarations/{declaration.id}"))

    # 9. as_of: today → version 2; long ago → a clear message; a bad date → 400 with the format.
    today = local_today() + timedelta(days=1)
    shown = client.get(f"/declarations/{declaration.id}?as_of={today.isoformat()}")
    assert shown.status_code == 200 and 'id="as-of-shown"' in text(shown)
    none = client.get(f"/declarations/{declaration.id}?as_of=2001-01-01")
    assert none.status_code == 200 and 'id="as-of-none"' in text(none)
    bad = client.get(f"/declarations/{declaration.id}?as_of=2024-13-45")
    assert bad.status_code == 400 and "YYYY-MM-DD" in text(bad)
    assert client.get(f"/declarations/{declaration.id}?as_of=20240501").status_code == 400

    # 10. Abolish: the reason is required and confirmed; then the public page says so.
    form = client.get(f"/my/declarations/{declaration.id}/abolish")
    assert form.status_code == 200
    missing = client.post(f"/my/declarations/{declaration.id}/abolish", data={"reason": ""})
    assert missing.status_code == 422
    unconfirmed = client.post(
        f"/my/declarations/{declaration.id}/abolish", data={"reason": "产品停产"}
    )
    assert unconfirmed.status_code == 422 and "Tick the box" in text(unconfirmed)
    assert db.session.get(Declaration, declaration.id).status is DeclarationStatus.PUBLISHED
    done = client.post(
        f"/my/declarations/{declaration.id}/abolish", data={"reason": "产品停产", "confirm": "y"}
    )
    assert done.status_code == 302
    page = text(client.get(done.headers["Location"]))
    assert 'id="ended-banner"' in page and "产品停产" in page
    listing = text(client.get("/my/declarations"))
    assert 'class="badge abolished"' in listing


def test_stale_lock_version_is_a_409_and_overwrites_nothing(client, db, enterprise, catalogue):
    save_draft(client, catalogue, value="4.8")
    declaration = only_declaration(db)
    lock = lock_of(db, declaration.id)
    first = client.post(
        f"/my/declarations/{declaration.id}/draft",
        data=own_standard_form(catalogue, value="4.9", lock=lock),
        content_type="multipart/form-data",
    )
    assert first.status_code == 302
    stale = client.post(
        f"/my/declarations/{declaration.id}/draft",
        data=own_standard_form(catalogue, value="5.5", lock=lock),
        content_type="multipart/form-data",
    )
    assert stale.status_code == 409
    assert "changed elsewhere" in text(stale)
    db.session.expire_all()
    assert db.session.get(Declaration, declaration.id).draft.indicators[0].value == 4.9
    # The publish button of the overview carries the lock too.
    stale_publish = client.post(
        f"/my/declarations/{declaration.id}/publish", data={"lock_version": str(lock)}
    )
    assert stale_publish.status_code == 409


def test_publish_from_the_overview_maps_refusals_to_the_form(client, db, enterprise, catalogue):
    save_draft(client, catalogue, value="3.0")  # no PDF, and a violation
    declaration = only_declaration(db)
    lock = lock_of(db, declaration.id)
    resp = client.post(f"/my/declarations/{declaration.id}/publish", data={"lock_version": lock})
    assert resp.status_code == 422
    body = text(resp)
    assert "Upload the text of the standard as PDF." in body
    assert "cannot be published" in body
    assert 'name="indicators-0-value"' in body
    # the re-rendered form saves through the edit page, not through the publish button
    assert f'action="/my/declarations/{declaration.id}/draft"' in body
    assert only_declaration(db).status is DeclarationStatus.DRAFT


def test_discard_a_first_draft_removes_the_declaration(client, db, enterprise, catalogue):
    save_draft(client, catalogue, value="4.8")
    declaration = only_declaration(db)
    lock = lock_of(db, declaration.id)
    resp = client.post(f"/my/declarations/{declaration.id}/discard", data={"lock_version": lock})
    assert resp.status_code == 302
    assert count(db, Declaration) == 0


def test_form_type_errors_come_back_with_422(client, db, enterprise, catalogue):
    resp = save_draft(
        client, catalogue, value="four point two", **{"approved_on": "20/05/2024"}
    )
    assert resp.status_code == 422
    body = text(resp)
    assert "Enter a number such as 4.50" in body
    assert "YYYY-MM-DD" in body
    assert 'value="four point two"' in body  # the typed text is kept
    assert count(db, Declaration) == 0


def test_operation_refusals_land_on_their_rows(client, db, enterprise, catalogue):
    resp = save_draft(
        client,
        catalogue,
        code="CQKT 0001-2024",
        **{"products-0-barcode": "6901234567890", "products-0-model": ""},
    )
    assert resp.status_code == 422
    body = text(resp)
    assert "Products, row 1: Barcode (EAN-13)" in body
    assert "Products, row 1: Model (型号)" in body
    assert "Standard number" in body
    assert count(db, Declaration) == 0


def test_catalogue_kind_declaration(client, db, enterprise, catalogue):
    page = client.get("/my/declarations/new/catalogue")
    assert page.status_code == 200
    body = text(page)
    assert "GB/T 7725-2022" in body and "GB/T 7725-2004" not in body
    assert 'name="std_code"' not in body and 'name="text_pdf"' not in body
    data = {
        "standard_id": str(catalogue["gbt7725"].id),
        "products-0-name": "窗式空调",
        "products-0-model": "KC-25",
        "products-0-category_id": str(catalogue["room_ac"].id),
        "commitment_accepted": "y",
        "action": "publish",
    }
    resp = client.post("/my/declarations/new/catalogue", data=data)
    assert resp.status_code == 302, text(resp)[:3000]
    public = text(client.get(resp.headers["Location"]))
    assert "GB/T 7725-2022" in public and "窗式空调" in public
    version = only_declaration(db).current_version
    assert version.standard_id == catalogue["gbt7725"].id
    assert version.status is VersionStatus.PUBLISHED


def test_catalogue_kind_refuses_a_withdrawn_standard(client, db, enterprise, catalogue):
    data = {
        "standard_id": str(catalogue["gbt7725_old"].id),
        "products-0-name": "窗式空调",
        "products-0-model": "KC-25",
        "products-0-category_id": str(catalogue["room_ac"].id),
        "action": "save",
    }
    resp = client.post("/my/declarations/new/catalogue", data=data)
    assert resp.status_code == 422
    body = text(resp)
    assert "GB/T 7725-2004 was withdrawn on 2023-05-01 and replaced by GB/T 7725-2022" in body
    assert count(db, Declaration) == 0


# --------------------------------------------------------------------------- public pages


def test_drafts_are_never_public(client, db, enterprise, catalogue):
    save_draft(client, catalogue, value="4.8", pdf=make_pdf())
    declaration = only_declaration(db)
    client.post("/logout")
    assert client.get(f"/declarations/{declaration.id}").status_code == 404
    assert client.get(f"/declarations/{declaration.id}/versions/1").status_code == 404
    assert client.get(f"/declarations/{declaration.id}/versions/1/text").status_code == 404
    assert client.get(f"/declarations/{declaration.id}/history").status_code == 404
    assert "Q/CQKT 0001-2024" not in text(client.get("/declarations?q=CQKT"))


def test_public_page_warns_about_withdrawn_and_replaced_references(
    client, db, enterprise, catalogue
):
    declaration_id = publish_own_standard(client, db, catalogue)
    version = db.session.get(Declaration, declaration_id).current_version
    cited = catalogue["gb21455"]
    db.session.add(
        ReferenceFlag(
            version_id=version.id,
            standard_id=cited.id,
            reason="replaced",
            replaced_by_code="GB 21455-2030",
        )
    )
    cited.status, cited.replaced_by_code = StandardStatus.WITHDRAWN, "GB 21455-2030"
    db.session.commit()
    client.post("/logout")
    page = text(client.get(f"/declarations/{declaration_id}"))
    warnings = page[page.index('id="reference-flags"') :]
    assert "GB 21455-2019" in warnings and "replaced by GB 21455-2030" in warnings
    references = page[page.index('id="references"') :]
    assert 'class="badge withdrawn"' in references


def test_indicators_only_disclosure_hides_the_text(client, db, enterprise, catalogue):
    resp = save_draft(
        client, catalogue, value="4.8", pdf=make_pdf(), action="publish",
        disclosure="indicators_only",
    )
    assert resp.status_code == 302, text(resp)[:3000]
    declaration = only_declaration(db)
    client.post("/logout")
    page = text(client.get(f"/declarations/{declaration.id}"))
    assert 'id="text-link"' not in page and "indicators only" in page
    assert client.get(f"/declarations/{declaration.id}/versions/1/text").status_code == 404


def test_search_filters_and_chinese_text(client, db, enterprise, catalogue):
    publish_own_standard(client, db, catalogue)
    client.post("/logout")
    assert "Q/CQKT 0001-2024" in text(client.get("/declarations"))
    assert "Q/CQKT 0001-2024" in text(client.get("/declarations", query_string={"q": "变频"}))
    assert "Q/CQKT 0001-2024" in text(client.get("/declarations", query_string={"q": "测试企业"}))
    assert "Q/CQKT 0001-2024" not in text(
        client.get("/declarations", query_string={"q": "坐便器"})
    )
    by_cat = client.get("/declarations", query_string={"category_id": catalogue["toilet"].id})
    assert "Q/CQKT 0001-2024" not in text(by_cat)
    assert "Q/CQKT 0001-2024" in text(
        client.get("/declarations", query_string={"kind": "enterprise", "region": "50"})
    )
    assert "Q/CQKT 0001-2024" not in text(
        client.get("/declarations", query_string={"region": "11"})
    )
    bad = client.get("/declarations", query_string={"region": "Chongqing"})
    assert bad.status_code == 400 and "2 to 6 digits" in text(bad)


def test_search_page_query_count_does_not_grow_with_rows(client, db, enterprise, catalogue, app):
    def statements(url: str) -> int:
        seen = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(_db.engine, "before_cursor_execute", listener)
        try:
            resp = client.get(url)
        finally:
            event.remove(_db.engine, "before_cursor_execute", listener)
        assert resp.status_code == 200
        return len(seen)

    for n in range(30):
        publish_own_standard(client, db, catalogue, code=f"Q/CQKT {n + 1:04d}-2024")
    client.post("/logout")
    app.config["PAGE_SIZE"] = 30
    page = client.get("/declarations")
    assert text(page).count('href="/declarations/') >= 30
    many = statements("/declarations")
    few = statements("/declarations?q=Q/CQKT 0001-2024")
    assert many == few
    assert many <= 5  # categories, count, page, products


# --------------------------------------------------------------------------- uploads


def test_upload_refused_when_not_a_pdf(client, db, enterprise, catalogue):
    resp = client.post(
        "/my/declarations/new/enterprise",
        data=own_standard_form(catalogue, value="4.8")
        | {"text_pdf": (io.BytesIO(b"GIF89a not a pdf" * 10), "standard.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    body = text(resp)
    assert "must be a PDF" in body
    assert "Standard text (PDF)" in body[body.index('id="form-summary"') :]
    assert count(db, Attachment) == 0 and count(db, Declaration) == 0


def test_upload_refused_when_too_big(client, db, enterprise, catalogue, app):
    big = make_pdf(padding=MAX_UPLOAD + 1000)
    assert len(big) > MAX_UPLOAD
    resp = save_draft(client, catalogue, value="4.8", pdf=big)
    assert resp.status_code == 422
    assert "larger than" in text(resp)
    assert count(db, Attachment) == 0 and count(db, Declaration) == 0
    uploads = app.config["UPLOAD_DIR"]
    import os

    stored = [f for _r, _d, files in os.walk(uploads) for f in files if f.endswith(".pdf")]
    assert stored == []


def test_replacing_the_text_on_a_draft(client, db, enterprise, catalogue):
    save_draft(client, catalogue, value="4.8", pdf=make_pdf())
    declaration = only_declaration(db)
    first = declaration.draft.text_attachment_id
    lock = lock_of(db, declaration.id)
    resp = client.post(
        f"/my/declarations/{declaration.id}/draft",
        data=own_standard_form(catalogue, value="4.8", lock=lock, pdf=make_pdf(padding=50)),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Declaration, declaration.id).draft.text_attachment_id != first
    edit = text(client.get(f"/my/declarations/{declaration.id}/draft"))
    assert 'id="current-text"' in edit and "标准文本.pdf" in edit


# --------------------------------------------------------------------------- live comparison


def test_live_compare_endpoint(client, enterprise, catalogue):
    rows = [
        {"name": "APF", "benchmark_indicator_id": str(catalogue["apf"].id), "op": "ge",
         "value": "3.0", "unit": "W/W"},
        {"name": "", "op": "ge", "kind": "performance"},
        {"name": "APF", "benchmark_indicator_id": str(catalogue["apf"].id), "op": "ge",
         "value": "5.2", "unit": "W/W"},
        {"name": "平均用水量", "benchmark_indicator_id": str(catalogue["avg_water"].id),
         "op": "le", "value": "4.8", "unit": "L", "mingshi": ""},
        {"name": "APF", "benchmark_indicator_id": str(catalogue["apf"].id), "op": "ge",
         "value": "abc", "unit": "W/W"},
        {"name": "APF", "benchmark_indicator_id": str(catalogue["apf"].id), "op": "ge",
         "value": "4.2", "unit": "W/W"},
    ]
    resp = client.post(
        "/declarations/compare", json={"indicators": rows}, headers={"Accept": "application/json"}
    )
    assert resp.status_code == 200
    out = resp.get_json()["rows"]
    assert [r["row"] for r in out] == [0, 1, 2, 3, 4, 5]
    assert out[0]["status"] == "violation" and out[0]["problem"] == "violation"
    assert "3.30" in out[0]["message"] and "GB 21455-2019" in out[0]["message"]
    assert out[1] == {"row": 1, "blank": True}
    assert out[2]["status"] == "exceeds" and out[2]["grade"] == "1级"
    assert out[2]["margin_pct"] == pytest.approx((5.2 - 4.5) / 4.5 * 100)
    assert out[3]["status"] == "exceeds" and out[3]["grade"] == "2级"
    assert out[4]["problem"] == "input" and "Enter a number" in out[4]["message"]
    assert out[5]["status"] == "below_recommended" and out[5]["problem"] == "mingshi_missing"
    bar = out[0]["bar"]
    kinds = {m["kind"] for m in bar["marks"]}
    assert kinds == {"value", "mandatory", "recommended", "grade"}
    value_x = next(m["x"] for m in bar["marks"] if m["kind"] == "value")
    assert value_x < bar["bad_until"]  # left of the mandatory limit: in the red zone
    # lower is better (water): the better value sits further right
    water = {m["kind"]: m["x"] for m in out[3]["bar"]["marks"]}
    assert water["value"] > water["recommended"] > water["mandatory"]


def test_live_compare_refuses_bad_bodies_and_other_roles(client, login_as, catalogue):
    login_as(Role.ENTERPRISE)
    bad = client.post("/declarations/compare", data="not json", content_type="text/plain")
    assert bad.status_code == 400 and "indicators" in bad.get_json()["message"]
    login_as(Role.REGULATOR)
    assert client.post("/declarations/compare", json={"indicators": []}).status_code == 403


def test_standard_options_search(client, enterprise, catalogue):
    found = client.get("/my/standard-options", query_string={"q": "7725"}).get_json()
    assert [f["label"].split(" ")[0] for f in found] == ["GB/T"]
    assert "GB/T 7725-2022" in found[0]["label"]


# --------------------------------------------------------------------------- in a real browser


def test_form_script_rows_and_live_comparison(live_server, page, make_user, catalogue):
    """declaration-form.js: blank rows trimmed, Add/Remove renumber, badges appear as you type."""
    from playwright.sync_api import expect

    user = make_user(Role.ENTERPRISE)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server + "/login")
    page.fill("#username", user.username)
    page.fill("#password", "correct horse 9")
    page.click("button.primary[type=submit]")
    page.goto(live_server + "/my/declarations/new/enterprise")

    indicators = page.locator("#indicator-rows [data-row]")
    expect(indicators).to_have_count(1)  # the server sent 5 blank rows; one is enough with JS
    page.select_option("#products-0-category_id", str(catalogue["room_ac"].id))
    page.fill("#indicators-0-name", "APF")
    page.select_option("#indicators-0-benchmark_indicator_id", str(catalogue["apf"].id))
    page.fill("#indicators-0-unit", "W/W")
    page.fill("#indicators-0-value", "3.1")
    first = indicators.nth(0).locator("[data-cmp]")
    expect(first.locator(".badge")).to_have_attribute("data-status", "violation")
    expect(first).to_contain_text("3.30")
    expect(first.locator("svg.cmp-bar circle")).to_have_count(1)

    page.click("[data-add-row=indicators]")
    expect(indicators).to_have_count(2)
    expect(page.locator("#indicators-1-name")).to_have_value("")
    page.fill("#indicators-1-name", "APF 2")
    page.select_option("#indicators-1-benchmark_indicator_id", str(catalogue["apf"].id))
    page.fill("#indicators-1-unit", "W/W")
    page.fill("#indicators-1-value", "5.1")
    second = indicators.nth(1).locator("[data-cmp]")
    expect(second.locator(".badge")).to_have_attribute("data-status", "exceeds")
    expect(second).to_contain_text("1级")

    # Removing the first row renumbers the second to index 0, names included.
    indicators.nth(0).locator("[data-remove-row]").click()
    expect(indicators).to_have_count(1)
    expect(page.locator("#indicators-0-name")).to_have_value("APF 2")
    assert page.locator("[name=indicators-0-value]").input_value() == "5.1"

    # A range shows low/high instead of the single value.
    page.select_option("#indicators-0-op", "range")
    expect(page.locator("#indicators-0-low")).to_be_visible()
    expect(page.locator("#indicators-0-value")).to_be_hidden()
    assert errors == []
