"""Product labels (declare.labels): PNG and PDF valid, the QR code decodes to the declaration
as of the day the label was made, and that page still shows the old version after a revision."""

from __future__ import annotations

import io
from datetime import timedelta

import cv2
import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from core.extensions import db
from declare import labels, operations, queries
from tests.declare import (  # noqa: F401
    en_request_fixture,
    enterprise_data,
    publish_enterprise,
    shanghai,
)
from tests.factories import make_enterprise_user


def decode_qr(png: bytes) -> str:
    """The text of the QR code in a PNG (OpenCV's detector, offline)."""
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(img)
    assert points is not None
    return text


@pytest.fixture
def published(db, en_request, catalogue):
    ent = make_enterprise_user(region="500112", name="重庆标签电器有限公司").enterprise
    return publish_enterprise(ent, catalogue, std_code="Q/BQ 0001-2024", std_name="空调器")


def test_png_label_is_valid_and_its_qr_opens_the_declaration_as_of_today(client, published):
    product = published.products[0]
    today = queries.local_today().isoformat()
    url = f"/declarations/{published.declaration_id}/products/{product.id}/label.png"
    resp = client.get(url)
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    png = resp.get_data()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(png)).size[0] > 300
    assert decode_qr(png) == (
        f"http://localhost/declarations/{published.declaration_id}?as_of={today}"
    )


def test_pdf_label_parses_and_carries_the_number_and_the_chinese_text(client, published):
    product = published.products[0]
    resp = client.get(
        f"/declarations/{published.declaration_id}/products/{product.id}/label.pdf"
    )
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    pdf = resp.get_data()
    assert pdf.startswith(b"%PDF-")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Q/BQ 0001-2024" in text
    assert "企业标准自我声明公开" in text and "重庆标签电器有限公司" in text
    assert f"as_of={queries.local_today().isoformat()}" in text  # the URL printed under the QR


def test_label_of_a_product_not_in_force_is_404(client, published, catalogue):
    other = make_enterprise_user().enterprise
    theirs = publish_enterprise(other, catalogue, std_code="Q/BQ 0002-2024")
    url = f"/declarations/{published.declaration_id}/products/{theirs.products[0].id}/label.png"
    assert client.get(url).status_code == 404
    draft = operations.create_draft(other, enterprise_data(catalogue, std_code="Q/BQ 0003-2024"))
    db.session.commit()
    assert client.get(
        f"/declarations/{draft.declaration_id}/products/{draft.products[0].id}/label.pdf"
    ).status_code == 404


def test_as_of_of_an_old_label_shows_the_old_version_after_a_revision(
    client, db, en_request, catalogue, monkeypatch
):
    clock = [shanghai(2026, 3, 1, 10)]
    monkeypatch.setattr(operations, "utcnow", lambda: clock[0])
    ent = make_enterprise_user().enterprise
    v1 = publish_enterprise(ent, catalogue, std_code="Q/BQ 0010-2024")
    day = clock[0].date()
    label = labels.product_label(v1.declaration, v1.products[0].id, day)
    assert label.url.endswith(f"/declarations/{v1.declaration_id}?as_of=2026-03-01")
    png = labels.render_png(label)
    assert decode_qr(png) == label.url

    v2 = operations.start_revision(v1.declaration)
    data = enterprise_data(catalogue, std_code="Q/BQ 0010-2024")
    data["products"][0]["model"] = "KFR-NEW-2"
    operations.update_draft(v2, data, lock_version=v2.lock_version)
    clock[0] = shanghai(2026, 5, 1, 10)
    operations.publish(v2)
    db.session.commit()

    path = label.url.removeprefix("http://localhost")
    old = client.get(path).get_data(as_text=True)
    assert "KFR-35GW/A1" in old and "KFR-NEW-2" not in old
    now = client.get(f"/declarations/{v1.declaration_id}").get_data(as_text=True)
    assert "KFR-NEW-2" in now
    # v1's product has no label after its version ended; v2's has.
    assert labels.product_label(v1.declaration, v1.products[0].id, day + timedelta(days=90)) is None
    assert labels.product_label(v1.declaration, v2.products[0].id, day + timedelta(days=90))


def test_labels_page_lists_products_and_is_linked(client, published):
    page = client.get(f"/declarations/{published.declaration_id}/labels")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"/products/{published.products[0].id}/label.pdf" in html
    detail = client.get(f"/declarations/{published.declaration_id}").get_data(as_text=True)
    assert f"/declarations/{published.declaration_id}/labels" in detail


def test_png_without_a_cjk_font_keeps_the_ascii_lines(app, published, monkeypatch):
    monkeypatch.setattr(labels, "FONT_CANDIDATES", ())
    labels._cjk_font_path.cache_clear()
    app.config["LABEL_FONT"] = None
    label = labels.Label("企业标准", ("Q/BQ 0001-2024", "中文"), "http://localhost/x")
    png = labels.render_png(label)
    assert png.startswith(b"\x89PNG") and decode_qr(png) == "http://localhost/x"
    labels._cjk_font_path.cache_clear()
