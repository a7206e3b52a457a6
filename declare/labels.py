"""Printable labels (PNG and PDF) with a QR code: the product label of a declaration, and the
drawing shared with the 领跑者 label (``ranking.labels``).

A product label carries the standard number, the enterprise, the product and its model, the
day it was made, and a QR code of the declaration's public page *as it stood that day*
(``/declarations/<id>?as_of=YYYY-MM-DD``): a revision published later does not change what a
label printed before it points at.

The QR matrix is made once (``qrcode``) and drawn as squares: into the PNG with Pillow, as
vector rectangles into the PDF with reportlab. Chinese in the PDF uses reportlab's built-in CID
font STSong-Light (the reader's viewer supplies the glyphs: nothing to download, nothing to
embed). A PNG needs a font file with Chinese glyphs: ``LABEL_FONT`` (a .ttf/.ttc/.otf path) or
one of the usual system fonts (``FONT_CANDIDATES``: WenQuanYi, Noto CJK); without one, the
PNG keeps the lines it can draw (numbers, models, dates, the URL) and leaves out the Chinese
ones rather than print empty boxes.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import date
from functools import cache

import qrcode
from flask import current_app, url_for
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from core.extensions import db
from declare import queries
from declare.models import Declaration, DeclarationVersion, Product

__all__ = [
    "Label",
    "product_label",
    "qr_matrix",
    "render",
    "render_pdf",
    "render_png",
]

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
PDF_FONT = "STSong-Light"
TYPES = {"png": "image/png", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Label:
    """What a label shows: a heading, lines of text and the URL of its QR code."""

    title: str
    lines: tuple[str, ...]
    url: str


def qr_matrix(data: str) -> list[list[bool]]:
    """The QR code of ``data`` (error correction M) as rows of dark/light modules, with the
    quiet zone of 4 modules around it."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code.get_matrix()


# --------------------------------------------------------------------------- PNG


@cache
def _cjk_font_path(configured: str | None) -> str | None:
    for path in (configured, *FONT_CANDIDATES):
        if path and os.path.isfile(path):
            return path
    return None


def _font(size: int, cjk: bool):
    if cjk:
        path = _cjk_font_path(current_app.config.get("LABEL_FONT"))
        return ImageFont.truetype(path, size) if path else None
    return ImageFont.load_default(size)


def _drawable(text: str, cjk_font) -> bool:
    return cjk_font is not None or text.isascii()


def render_png(label: Label, *, module: int = 6) -> bytes:
    """The label as a PNG: the QR code on the left, the heading and lines on the right."""
    matrix = qr_matrix(label.url)
    side = len(matrix) * module
    width, height = side + 560, max(side, 300)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                draw.rectangle(
                    [x * module, y * module, (x + 1) * module - 1, (y + 1) * module - 1], fill=0
                )
    cjk_title, cjk_text = _font(30, cjk=True), _font(20, cjk=True)
    latin_title, latin_text = _font(30, cjk=False), _font(20, cjk=False)
    top = 16
    for text, cjk, latin, step in [(label.title, cjk_title, latin_title, 44)] + [
        (line, cjk_text, latin_text, 30) for line in label.lines
    ]:
        if not _drawable(text, cjk):
            continue
        draw.text((side + 8, top), text, fill=0, font=cjk if cjk is not None else latin)
        top += step
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --------------------------------------------------------------------------- PDF


@cache
def _register_pdf_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    return PDF_FONT


def render_pdf(label: Label) -> bytes:
    """The label as a one-page PDF (100 × 60 mm): a vector QR code and the text."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    font = _register_pdf_font()
    out = io.BytesIO()
    width, height = 100 * mm, 60 * mm
    pdf = canvas.Canvas(out, pagesize=(width, height), pageCompression=1)
    pdf.setTitle(label.title)
    matrix = qr_matrix(label.url)
    cell = 38 * mm / len(matrix)
    origin_y = height - 4 * mm
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                pdf.rect(2 * mm + x * cell, origin_y - (y + 1) * cell, cell, cell,
                         stroke=0, fill=1)
    left = 42 * mm
    pdf.setFont(font, 11)
    pdf.drawString(left, height - 10 * mm, label.title)
    pdf.setFont(font, 7)
    top = height - 17 * mm
    for line in label.lines:
        pdf.drawString(left, top, line[:40])
        top -= 4.5 * mm
    pdf.setFont(font, 5)
    pdf.drawString(2 * mm, 3 * mm, label.url)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def render(label: Label, fmt: str) -> bytes:
    return render_png(label) if fmt == "png" else render_pdf(label)


# --------------------------------------------------------------------------- product labels


def product_label(declaration: Declaration, product_id: int, day: date) -> Label | None:
    """The label of a product of the version in force on ``day``; None when the product is
    not one of that version's (or nothing is in force that day)."""
    version = queries.version_as_of(declaration, day)
    if version is None:
        return None
    product = db.session.scalar(
        select(Product).where(Product.id == product_id, Product.version_id == version.id)
    )
    if product is None:
        return None
    return Label(
        title="企业标准自我声明公开",
        lines=(
            version.number,
            version.title,
            declaration.enterprise.name,
            f"{product.name} {product.model}".strip(),
            f"{declaration.enterprise.uscc}",
            f"{day.isoformat()}",
        ),
        url=url_for(
            "declare.detail", declaration_id=declaration.id, as_of=day.isoformat(), _external=True
        ),
    )


def labelled_products(version: DeclarationVersion) -> list[Product]:
    """The products of a version, the ones a label can be made for."""
    return list(version.products)
