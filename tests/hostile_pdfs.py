"""Hostile PDFs for the upload and flags tests, written object by object (valid PDF syntax).

``text_bomb`` is the drill of issue 13: a few KB of compressed ``(a) Tj`` repeated 900,000
times in ONE content stream that every page shares, so each page makes pypdf parse the whole
stream again (~20 s a page). ``form_bomb`` hides the repetition in a form XObject drawn many
times. ``plain_text_pdf`` is an ordinary text of the same shape, for comparison.
"""

from __future__ import annotations

import io
import zlib


def pdf_of(objects: list[bytes]) -> bytes:
    """Objects 1..n (1 is the catalog) with their cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(data, 9)
    return (
        b"<< /Length " + str(len(packed)).encode() + b" /Filter /FlateDecode " + extra + b">>\n"
        b"stream\n" + packed + b"\nendstream"
    )


def _document(pages: int, contents: list[bytes], resources: bytes, more: list[bytes]) -> bytes:
    """Catalog (1), page tree (2), font (3), the content streams (4..), ``more`` objects, then
    the pages; page i draws stream ``i % len(contents)``."""
    first_stream = 4
    first_page = first_stream + len(contents) + len(more)
    kids = " ".join(f"{first_page + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        *[_stream(c) for c in contents],
        *more,
    ]
    for i in range(pages):
        stream = first_stream + i % len(contents)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            + f"/Contents {stream} 0 R ".encode()
            + b"/Resources "
            + resources
            + b" >>"
        )
    return pdf_of(objects)


FONT = b"<< /Font << /F1 3 0 R >> >>"


def text_bomb(operators: int = 900_000, pages: int = 3, distinct: int = 1) -> bytes:
    """``operators`` times ``(a) Tj`` in a content stream shared by ``pages`` pages (with
    ``distinct`` > 1, that many such streams taking turns). 900,000 × 3 pages is the drill's
    17.5 KB file (this writer's is about 10 KB)."""
    body = b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj " * operators + b"ET"
    contents = [body + b" " * i for i in range(distinct)]  # distinct objects, same work
    return _document(pages, contents, FONT, [])


def form_bomb(form_operators: int, draws: int, *, escaped: bool = False) -> bytes:
    """One page drawing the form XObject /X0 ``draws`` times (spelt ``/X#30`` with
    ``escaped``); the form shows ``(a) Tj`` ``form_operators`` times."""
    form = _stream(
        b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj " * form_operators + b"ET",
        b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources " + FONT + b" ",
    )
    content = (b"/X#30 Do " if escaped else b"/X0 Do ") * draws
    resources = b"<< /Font << /F1 3 0 R >> /XObject << /X0 5 0 R >> >>"
    return _document(1, [content], resources, [form])


def plain_text_pdf(pages: int = 3, lines: int = 40) -> bytes:
    """An ordinary text: ``lines`` lines a page, each its own ``Tj``."""
    contents = []
    for page in range(pages):
        shown = b" ".join(
            b"(Clause %d.%d: the product shall meet the requirement of this standard.) Tj T*"
            % (page + 1, line + 1)
            for line in range(lines)
        )
        contents.append(b"BT /F1 9 Tf 40 800 Td 11 TL " + shown + b" ET")
    return _document(pages, contents, FONT, [])


def form_lattice(width: int, depth: int, leaf_operators: int = 10) -> bytes:
    """Forms in ``depth`` levels of ``width``, each drawing every form of the next level:
    width ** depth paths to the leaves, through width * depth objects."""
    first = 5  # objects 1-3 as usual, 4 is the page's content stream
    number = {(level, i): first + level * width + i for level in range(depth) for i in range(width)}
    forms = []
    for level in range(depth):
        for i in range(width):
            if level == depth - 1:
                body = b"BT /F1 12 Tf " + b"(a) Tj " * leaf_operators + b"ET"
                resources = FONT
            else:
                body = b" ".join(b"/N%d Do" % j for j in range(width))
                inner = b" ".join(b"/N%d %d 0 R" % (j, number[(level + 1, j)])
                                  for j in range(width))  # fmt: skip
                resources = b"<< /Font << /F1 3 0 R >> /XObject << " + inner + b" >> >>"
            forms.append(_stream(body, b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] "
                                       b"/Resources " + resources + b" "))  # fmt: skip
    top = b" ".join(b"/N%d %d 0 R" % (j, number[(0, j)]) for j in range(width))
    content = b" ".join(b"/N%d Do" % j for j in range(width))
    resources = b"<< /Font << /F1 3 0 R >> /XObject << " + top + b" >> >>"
    return _document(1, [content], resources, forms)
