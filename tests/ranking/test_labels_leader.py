"""The 领跑者 label (ranking.labels): PNG/PDF with the year, enterprise, standard, product and
model; its QR code leads to a verify page that stops verifying once the leader is removed."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from ranking import publicity, queries, runs
from ranking.models import RunEntry, RunKind
from tests.declare.test_labels import decode_qr
from tests.ranking.conftest import commit_and_run, publicise_on, publish

pytestmark = pytest.mark.usefixtures("en_request")


@pytest.fixture
def published(make_plan, ranked_catalogue, evaluator):
    plan = make_plan(leader_rule={"kind": "best_n", "n": 1, "star_cuts": [0.5]})
    first = publish(ranked_catalogue, apf=5.1, noise=36.0, standby=0.2)
    second = publish(ranked_catalogue, apf=4.6, noise=40.0, standby=0.6)
    run = runs.build_run(plan, RunKind.OFFICIAL, evaluator)
    publicise_on(run, date(2025, 3, 1))
    publicity.publish_run(run, evaluator, today=date(2025, 3, 11))
    commit_and_run()
    leader = queries.leaders_of(run)[0]
    assert leader.declaration_id == first.declaration_id
    other = next(e for e in queries.run_entries(run, per_page=10).items if not e.is_leader)
    return plan, run, leader, other, second


def test_leader_label_png_and_pdf(client, published):
    plan, run, leader, other, _second = published
    png = client.get(f"/leaderboards/runs/{run.id}/entries/{leader.id}/label.png")
    assert png.status_code == 200 and png.get_data().startswith(b"\x89PNG")
    assert decode_qr(png.get_data()) == f"http://localhost/leaders/verify/{leader.id}"
    pdf = client.get(f"/leaderboards/runs/{run.id}/entries/{leader.id}/label.pdf")
    text = PdfReader(io.BytesIO(pdf.get_data())).pages[0].extract_text()
    assert f"{plan.year} 年度企业标准“领跑者”" in text
    assert plan.title in text
    # not a leader, or the wrong run: no label
    assert client.get(f"/leaderboards/runs/{run.id}/entries/{other.id}/label.png").status_code == 404
    assert client.get(f"/leaderboards/runs/{run.id + 99}/entries/{leader.id}/label.png").status_code == 404


def test_leader_label_linked_from_the_leaderboard(client, published):
    plan, run, leader, _other, _second = published
    html = client.get(f"/leaderboards/{plan.plan_key}").get_data(as_text=True)
    assert f"/leaderboards/runs/{run.id}/entries/{leader.id}/label.pdf" in html


def test_verify_page_says_removed_with_date_and_reason_after_a_removal(
    client, db, published, evaluator
):
    plan, run, leader, other, _second = published
    page = client.get(f"/leaders/verify/{leader.id}")
    assert page.status_code == 200
    assert 'data-state="valid"' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    new = publicity.record_removal(run, [leader.declaration_id], "抽查不合格（2025-06-01）",
                                   user=evaluator)
    commit_and_run()
    html = client.get(f"/leaders/verify/{leader.id}").get_data(as_text=True)
    assert 'data-state="removed"' in html and 'data-state="valid"' not in html
    assert "抽查不合格（2025-06-01）" in html
    assert new.created_at.astimezone(queries_zone()).date().isoformat() in html
    # The old list version's label is no longer made for a superseded list.
    assert client.get(f"/leaderboards/runs/{run.id}/entries/{leader.id}/label.png").status_code == 404
    moved = db.session.scalar(select(RunEntry).where(
        RunEntry.run_id == new.id, RunEntry.declaration_id == leader.declaration_id))
    assert client.get(f"/leaders/verify/{moved.id}").status_code == 200
    # an entry that never was a leader has no verify page
    assert client.get(f"/leaders/verify/{other.id}").status_code == 404


def queries_zone():
    from core.clock import local_zone

    return local_zone()
