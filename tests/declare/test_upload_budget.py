"""Uploaded texts bounded in work as well as bytes: the cheap count of what text extraction
would parse (``measure_text_cost``) and the refusal at upload of a text over the budget."""

from __future__ import annotations

import io
import time

import pytest
from pypdf import PdfReader

from core.errors import ValidationFailed
from declare import operations, uploads
from tests.declare import (
    en_request_fixture,  # noqa: F401
    enterprise_data,
    owner_fixture,  # noqa: F401
    upload,
)
from tests.declare.test_uploads import stored_files
from tests.hostile_pdfs import form_bomb, form_lattice, plain_text_pdf, text_bomb

pytestmark = pytest.mark.usefixtures("en_request")


@pytest.fixture
def draft(db, owner, catalogue):
    version = operations.create_draft(owner.enterprise, enterprise_data(catalogue))
    db.session.commit()
    return version


def cost(data: bytes, **kw) -> uploads.TextCost:
    return uploads.measure_text_cost(PdfReader(io.BytesIO(data)), **kw)


# --------------------------------------------------------------------------- the count


def test_a_stream_shared_by_pages_counts_once_per_page():
    """pypdf parses a shared stream again for every page that draws it."""
    one, three = cost(text_bomb(1000, pages=1)), cost(text_bomb(1000, pages=3))
    assert one.content_tokens == 4 * 1000 + 9  # "(a)", "(", ")", "Tj" each; BT…Td, ET
    assert three.content_tokens == 3 * one.content_tokens
    assert three.content_bytes == 3 * one.content_bytes and three.pages == 3


def test_a_form_counts_once_per_draw():
    single, drawn = cost(form_bomb(1000, draws=1)), cost(form_bomb(1000, draws=50))
    form_tokens = single.content_tokens - 3  # the page itself: "/X0", "/", "Do"
    assert drawn.content_tokens == 50 * form_tokens + 50 * 3


def test_a_form_name_spelt_with_escapes_is_still_counted():
    plain, escaped = cost(form_bomb(1000, 50)), cost(form_bomb(1000, 50, escaped=True))
    assert escaped.content_tokens == plain.content_tokens  # "/X#30" is one word like "/X0"


def test_a_lattice_of_forms_is_counted_by_its_paths_in_little_time():
    """12 levels of 12 forms each drawing the next level: 12**12 paths, 144 objects."""
    started = time.perf_counter()
    found = cost(form_lattice(width=12, depth=12))
    assert time.perf_counter() - started < 2
    assert found.content_tokens > 12**12


def test_the_count_stops_at_the_first_limit_passed():
    budget = {"pages": 500, "content_bytes": 10**9, "content_tokens": 1_000_000}
    started = time.perf_counter()
    found = cost(text_bomb(900_000, pages=200), budget=budget)
    assert found.over == "content_tokens" and found.content_tokens < 4_000_000
    assert time.perf_counter() - started < 5  # one page decoded and counted, not 200
    assert cost(text_bomb(10, pages=4), budget={"pages": 3}).over == "pages"
    assert cost(text_bomb(1000), budget={"content_bytes": 5000}).over == "content_bytes"
    assert cost(plain_text_pdf(), budget=uploads.TEXT_BUDGET_DEFAULTS).over is None


@pytest.mark.parametrize(
    "given, message",
    [
        ({"seconds": 0}, "PDF_TEXT_BUDGET['seconds'] must be a positive integer, got 0"),
        ({"pages": "many"}, "PDF_TEXT_BUDGET['pages'] must be a positive integer"),
        ({"tokens": 5}, "unknown setting(s) ['tokens']; allowed: ['content_bytes',"),
    ],
)
def test_a_bad_budget_setting_is_named(given, message):
    with pytest.raises(ValueError) as err:
        uploads.text_budget(given)
    assert message in str(err.value)


def test_the_budget_defaults_and_overrides(app):
    assert uploads.text_budget() == uploads.TEXT_BUDGET_DEFAULTS
    app.config["PDF_TEXT_BUDGET"] = {"seconds": 5}
    assert uploads.text_budget()["seconds"] == 5
    assert uploads.text_budget()["content_tokens"] == 3_000_000


# --------------------------------------------------------------------------- at upload


def test_the_drill_pdf_is_refused_at_upload(app, db, draft):
    """900,000 text operators in one stream shared by 3 pages: ~10 KB, minutes to read."""
    data = text_bomb(900_000, pages=3)
    assert len(data) < 20_000
    started = time.perf_counter()
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(data))
    assert time.perf_counter() - started < 5
    [message] = err.value.errors["text"]
    assert "more than 3,000,000 drawing instructions (operators and their operands)" in message
    assert "reading its text would take too long" in message and "plain PDF" in message
    assert stored_files(app) == [] and draft.text_attachment_id is None


def test_its_200_page_variant_is_refused_as_fast(app, db, draft):
    started = time.perf_counter()
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(text_bomb(900_000, pages=200)))
    assert time.perf_counter() - started < 5
    assert "drawing instructions" in err.value.errors["text"][0]


def test_a_text_over_the_page_limit_is_refused(app, db, draft):
    app.config["PDF_TEXT_BUDGET"] = {"pages": 3}
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(plain_text_pdf(pages=4)))
    assert err.value.errors["text"] == [
        "The PDF has 4 pages; a standard text may have at most 3. "
        "Upload the standard itself, without annexed material."
    ]
    operations.attach_text(draft, upload(plain_text_pdf(pages=3)))  # at the limit: stored


def test_a_text_over_the_content_bytes_is_refused(app, db, draft):
    app.config["PDF_TEXT_BUDGET"] = {"content_bytes": 2 * 1024 * 1024}
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(text_bomb(400_000, pages=1)))  # 2.8 MB decoded
    assert "more than 2 MB of drawing instructions" in err.value.errors["text"][0]


def test_drawing_repeated_through_a_form_is_refused(app, db, draft):
    with pytest.raises(ValidationFailed) as err:
        operations.attach_text(draft, upload(form_bomb(20_000, draws=5000)))
    assert "drawing instructions" in err.value.errors["text"][0]


def test_an_ordinary_text_is_stored(app, db, draft):
    attachment = operations.attach_text(draft, upload(plain_text_pdf(pages=20)))
    db.session.commit()
    assert draft.text_attachment is attachment and len(stored_files(app)) == 1


def test_the_api_answers_422_with_the_field(app, client, owner, draft, token_for):
    response = client.post(
        f"/api/v1/declarations/{draft.declaration_id}/draft/text?lang=en",
        headers=token_for(owner),
        data={"file": (io.BytesIO(text_bomb()), "bomb.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "drawing instructions" in str(response.get_json())
