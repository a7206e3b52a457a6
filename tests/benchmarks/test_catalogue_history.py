"""Issue 9, finding 9: catalogue changes are deliberate and kept.

An import that changes an existing edition or a benchmark threshold lists each change
(old → new) and the declarations whose comparison it changes, writes only when confirmed
(importer ``confirm``, CLI ``--confirm``, admin page preview → confirm, API ``confirm``), and
keeps every change as history, so a declaration's comparison is explained with the figures of
its day.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from benchmarks import history
from benchmarks.importer import export_rows, import_file, to_csv
from benchmarks.models import BenchmarkIndicator, CatalogueChange
from core.models import Role
from tests.declare.test_rules import (  # noqa: F401  (seed is a fixture)
    ac_product,
    api_publish,
    draft,
    indicator,
    seed,
)

APF_KEY = "room_ac/apf@2020-07-01"


def stricter_apf() -> bytes:
    """The seed's indicators with the first APF band's limit raised to 3.50 (a test figure)."""
    rows = export_rows("indicators")
    header = rows[0]
    for row in rows[1:]:
        if row[header.index("category")] == "room_ac" and row[header.index("code")] == "apf":
            row[header.index("mandatory_limit")] = "3.5"
            row[header.index("grades")] = "1级:5|2级:4.5|3级:4|4级:3.5"
    return to_csv(rows)


def apf(db) -> BenchmarkIndicator:
    db.session.expire_all()
    return db.session.scalar(select(BenchmarkIndicator).where(BenchmarkIndicator.code == "apf"))


@pytest.fixture
def published(client, db, seed, make_user, token_for):  # noqa: F811
    """One declaration in force with APF 3.40 (grade 5级, 明示 of the shortfall): a limit of
    3.50 would make it a violation."""
    headers = token_for(make_user())
    payload = draft(
        [ac_product(seed)],
        [indicator("全年能源消耗效率 APF", 3.4, "W/W", mingshi="经济型机型，低于节能评价值。")],
        refs=[seed["std"]["GB 21455-2019"]],
    )
    status, body, declaration_id = api_publish(client, headers, payload)
    assert status == 200, body
    return declaration_id


def test_import_previews_changes_and_writes_only_when_confirmed(db, published):
    report = import_file("indicators", stricter_apf())
    assert report.ok and report.needs_confirmation and not report.written
    changes = {(c["key"], c["field"]): (c["old"], c["new"]) for c in report.changes}
    assert changes[(APF_KEY, "mandatory_limit")] == (3.3, 3.5)
    assert (APF_KEY, "grades") in changes
    assert report.affected == {APF_KEY: 1}  # the one declaration's comparison changes
    db.session.commit()
    assert apf(db).mandatory_limit == 3.3  # nothing written

    done = import_file("indicators", stricter_apf(), confirm=True)
    assert done.written and done.updated == 1
    db.session.commit()
    assert apf(db).mandatory_limit == 3.5


def test_every_change_is_history_and_the_old_figures_explain_old_declarations(
    client, db, published
):
    from declare.models import Declaration

    moment = db.session.get(Declaration, published).current_version.published_at
    assert import_file("indicators", stricter_apf(), confirm=True).written
    db.session.commit()

    row = apf(db)
    changes = history.changes_of("benchmark_indicators", row.id)
    created = [c for c in changes if c.field == "*"]
    limit = [c for c in changes if c.field == "mandatory_limit"]
    assert len(created) == 1 and created[0].new["mandatory_limit"] == 3.3
    assert [(c.old, c.new) for c in limit] == [(3.3, 3.5)]
    then = history.as_of(row, moment)
    assert then["mandatory_limit"] == 3.3 and then["grades"][-1] == ["5级", 3.3]
    assert history.as_of(row, created[0].at - timedelta(seconds=1)) is None

    page = client.get(f"/declarations/{published}").get_data(as_text=True)
    assert "figures in force when it was published: mandatory limit 3.3" in page


def test_cli_needs_confirm(app, db, published, tmp_path):
    path = tmp_path / "indicators.csv"
    path.write_bytes(stricter_apf())
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["catalogue", "import", "indicators", str(path)])
    assert shown.exit_code != 0
    assert "mandatory_limit: 3.3 → 3.5" in shown.output
    assert f"{APF_KEY}: comparison of 1 declaration(s) in force changes" in shown.output
    assert apf(db).mandatory_limit == 3.3

    done = runner.invoke(args=["catalogue", "import", "indicators", str(path), "--confirm"])
    assert done.exit_code == 0, done.output
    assert apf(db).mandatory_limit == 3.5
    entry = db.session.scalar(
        select(CatalogueChange).where(CatalogueChange.field == "mandatory_limit")
    )
    assert entry.actor_label == "cli:catalogue import indicators"


def test_admin_page_preview_then_confirm(client, db, published, login_as):
    admin = login_as(Role.ADMIN)
    resp = client.post(
        "/catalogue/admin/import",
        data={"kind": "indicators", "file": (io.BytesIO(stricter_apf()), "indicators.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'id="import-preview"' in page and APF_KEY in page
    assert "<code>3.3</code>" in page and "<code>3.5</code>" in page
    assert apf(db).mandatory_limit == 3.3

    hidden = dict(re.findall(r'name="(confirm-\w+)" type="hidden" value="([^"]*)"', page))
    assert set(hidden) >= {"confirm-kind", "confirm-upload", "confirm-digest"}
    resp = client.post("/catalogue/admin/import", data=hidden)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert apf(db).mandatory_limit == 3.5
    entry = db.session.scalar(
        select(CatalogueChange).where(CatalogueChange.field == "mandatory_limit")
    )
    assert entry.actor_id == admin.id

    listing = client.get("/catalogue/admin/history").get_data(as_text=True)
    assert APF_KEY in listing and "mandatory_limit" in listing


def test_api_answers_409_until_confirmed(client, db, published, make_user, token_for):
    headers = token_for(make_user(Role.ADMIN))

    def post(**extra):
        return client.post(
            "/api/v1/catalogue/import",
            data={"kind": "indicators", "file": (io.BytesIO(stricter_apf()), "i.csv"), **extra},
            content_type="multipart/form-data",
            headers=headers,
        )

    resp = post()
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["needs_confirmation"] and not body["written"]
    assert body["affected"] == {APF_KEY: 1}
    assert apf(db).mandatory_limit == 3.3
    resp = post(confirm="true")
    assert resp.status_code == 200 and resp.get_json()["written"]
    assert apf(db).mandatory_limit == 3.5


def test_new_rows_alone_need_no_confirmation(db, seed):  # noqa: F811
    rows = export_rows("indicators")
    header = rows[0]
    extra = list(rows[1])
    extra[header.index("code")] = "apf_new"
    extra[header.index("valid_from")] = "2030-01-01"
    report = import_file("indicators", to_csv([header, extra]))
    assert report.written and report.inserted == 1 and not report.needs_confirmation
