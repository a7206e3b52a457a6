"""Issue 11 (speed): the bulk import writes the search rows of its new declarations from what it
holds (``operations._index_checked`` → ``search.index_new``, COPY on PostgreSQL) instead of
``search.refresh`` reading them back; the rows are exactly those ``refresh`` writes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from declare import search
from declare.bulk import imports
from declare.models import Declaration
from tests.declare import en_request_fixture, owner_fixture  # noqa: F401
from tests.declare.import_helpers import clean_rows, decl_row, indicator_row, product_row, zipped

pytestmark = pytest.mark.usefixtures("en_request")

COLUMNS = (
    "declaration_id", "version_id", "status", "kind", "region_code", "published_at",
    "number_key", "heads", "body", "filters",
)


def _rows() -> list[tuple]:
    from core.extensions import db

    table = search.SearchDocument.__table__
    return [
        tuple(r)
        for r in db.session.execute(
            select(*(table.c[c] for c in COLUMNS)).order_by(table.c.declaration_id)
        )
    ]


def test_bulk_search_rows_are_the_rows_refresh_writes(db, owner, catalogue, client):
    rows = clean_rows(owner.enterprise.uscc, 3)
    # a second product with a common name and a brand; a catalogue declaration
    rows["products"].append(
        product_row("D2", "ＫＦＲ－72LW/B", name="柜式空调", common_name="立式空调器", brand="海尔Haier")
    )
    rows["declarations"].append(
        decl_row("C1", owner.enterprise.uscc, "GB/T 7725-2022", kind="catalogue", std_name="", text_file="")
    )
    rows["products"].append(product_row("C1", "KFR-99", brand="美的"))
    rows["indicators"].append(indicator_row("C1"))
    report = imports.run(zipped(rows), "import.zip", user=owner, write=True)
    assert report.ok and report.wrote, report.errors
    db.session.commit()
    ids = list(db.session.scalars(select(Declaration.id).order_by(Declaration.id)))
    assert len(ids) == 4
    written = _rows()
    assert [r[0] for r in written] == ids
    assert {r[3] for r in written} == {"enterprise", "catalogue"}
    assert search.refresh(ids) == 4  # what the per-declaration path writes for them
    db.session.commit()
    assert _rows() == written
    # and the public search finds them by a model typed with full-width letters
    found = client.get("/api/v1/declarations", query_string={"q": "KFR-72LW"}).get_json()
    assert [d["id"] for d in found] == [ids[1]]
