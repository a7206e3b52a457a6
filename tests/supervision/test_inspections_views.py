"""The inspection pages: the regulator's list and result form (region-scoped, 422 with the
message on the field), publication, rectification follow-up, the enterprise's findings page,
and the public results page with its chart (no login, a fixed number of queries)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core import jobs
from core.extensions import db as _db
from declare.queries import local_date, local_today
from supervision.inspections import operations as inspections
from supervision.inspections.views import result_chart
from supervision.models import (
    CHECKLIST,
    Inspection,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    RectificationStatus,
)
from tests.conftest import CSRF_RE
from tests.declare import QueryCounter
from tests.supervision.test_inspections_operations import (  # noqa: F401  (fixtures)
    BEIJING,
    CHONGQING,
    en_request_fixture,
    make_inspection,
    published_in,
    result_data,
    world,
)

URL = "/supervision/inspections"


def text_of(resp) -> str:
    return resp.get_data(as_text=True)


def record_form(result="conforming", *, fail=(), findings=None, **extra) -> dict:
    form = {"result": result, "inspected_on": local_today().isoformat()}
    for item in CHECKLIST:
        form[f"check_{item}"] = "fail" if item in fail else "pass"
    for item, text in (findings or {item: f"{item} 不合格" for item in fail}).items():
        form[f"finding_{item}"] = text
    form.update(extra)
    return form


def recorded(world, result="nonconforming", *, publish=False, version=None, fail=(
        "mandatory_requirements",)) -> Inspection:
    insp = make_inspection(version or world["version"], world["beijing"])
    data = result_data(result, fail=fail if result == "nonconforming" else ())
    inspections.record_result(insp, data, user=world["beijing"])
    if publish:
        inspections.publish_result(insp, user=world["beijing"])
    _db.session.commit()
    jobs.dispatch_pending()  # what a request does after its commit (inline jobs)
    return insp


# --------------------------------------------------------------------------- regulator


def test_the_regulator_lists_only_its_region(client, world, login_as):
    cq_version, _ = published_in(CHONGQING, world["catalogue"])
    cq = make_inspection(cq_version, world["chongqing"])
    login_as(world["beijing"])
    html = text_of(client.get(f"{URL}/"))
    assert world["inspection"].number in html and cq.number not in html
    assert f'data-inspection="{world["inspection"].id}"' in html
    login_as(world["chongqing"])
    html = text_of(client.get(f"{URL}/"))
    assert cq.number in html and world["inspection"].number not in html


def test_another_region_gets_404_on_every_page_of_an_inspection(client, world, login_as):
    insp = recorded(world)
    order = insp.rectification
    login_as(world["chongqing"])
    assert client.get(f"{URL}/{insp.id}").status_code == 404
    assert client.post(f"{URL}/{world['inspection'].id}/record",
                       data=record_form()).status_code == 404
    assert client.post(f"{URL}/{insp.id}/publish").status_code == 404
    assert client.post(f"{URL}/rectifications/{order.id}/close",
                       data={"follow_up": "x"}).status_code == 404
    assert client.post(f"{URL}/rectifications/{order.id}/overdue").status_code == 404
    _db.session.expire_all()
    assert world["inspection"].status is InspectionStatus.ASSIGNED
    assert insp.status is InspectionStatus.RECORDED and order.status is RectificationStatus.OPEN


def test_other_roles_are_refused(client, world, login_as):
    login_as(world["owner"])
    assert client.get(f"{URL}/").status_code == 403
    assert client.get(f"{URL}/{world['inspection'].id}").status_code == 403
    assert client.get(f"{URL}/complaints").status_code == 403
    client.post("/logout")
    assert client.get(f"{URL}/").status_code == 302  # to the login page


def test_the_result_form_shows_the_checklist_and_records_a_result(client, world, login_as):
    login_as(world["beijing"])
    insp = world["inspection"]
    html = text_of(client.get(f"{URL}/{insp.id}"))
    assert 'id="record-form"' in html
    for item in CHECKLIST:
        assert f'name="check_{item}"' in html and f'name="finding_{item}"' in html
    resp = client.post(f"{URL}/{insp.id}/record", data=record_form(
        "defects", fail=["drafting_format"]))
    assert resp.status_code == 302
    _db.session.expire_all()
    assert insp.result is InspectionResult.DEFECTS
    assert insp.findings == [{"item": "drafting_format", "text": "drafting_format 不合格"}]
    html = text_of(client.get(resp.headers["Location"]))
    assert 'id="record-form"' not in html and 'id="checklist"' in html
    assert 'id="publish-result"' in html


def test_an_inconsistent_result_re_renders_with_the_message_on_the_field(client, world,
                                                                         login_as):
    login_as(world["beijing"])
    insp = world["inspection"]
    form = record_form("defects", fail=["product_conformity"],
                       findings={"product_conformity": "", "drafting_format": ""})
    form["inspected_on"] = (local_today() + timedelta(days=3)).isoformat()
    resp = client.post(f"{URL}/{insp.id}/record", data=form)
    assert resp.status_code == 422
    html = text_of(resp)
    assert "cannot be in the future" in html
    # The missing finding is reported next to the failed item, the grade next to the result.
    block = html[html.index('<div class="record-item has-error" data-item="product_conformity"'):]
    block = block[: block.index('name="result"')]
    assert "failed: add a finding" in block
    assert "A mandatory item failed" in html
    assert 'checked id="check_product_conformity-1"' in block  # "fail" is kept
    _db.session.expire_all()
    assert insp.status is InspectionStatus.ASSIGNED and insp.result is None


def test_a_nonconforming_result_orders_rectification_and_is_published(client, world,
                                                                      login_as):
    login_as(world["beijing"])
    insp = world["inspection"]
    resp = client.post(f"{URL}/{insp.id}/record", data=record_form(
        "nonconforming", fail=["indicators_disclosed"], rectification_days="15"))
    assert resp.status_code == 302
    _db.session.expire_all()
    assert insp.rectification.deadline == local_today() + timedelta(days=15)
    html = text_of(client.get(f"{URL}/{insp.id}"))
    assert f'data-deadline="{insp.rectification.deadline.isoformat()}"' in html
    assert client.post(f"{URL}/{insp.id}/publish").status_code == 302
    _db.session.expire_all()
    assert insp.status is InspectionStatus.PUBLISHED
    resp = client.post(f"{URL}/{insp.id}/publish")  # twice: refused, shown on the page
    assert resp.status_code == 422 and "already published" in text_of(resp)


def test_the_regulator_closes_or_marks_overdue(client, world, login_as):
    insp = recorded(world)
    order = insp.rectification
    login_as(world["beijing"])
    html = text_of(client.get(f"{URL}/{insp.id}"))
    assert 'id="close-order"' in html and 'id="mark-overdue"' not in html  # not late yet
    resp = client.post(f"{URL}/rectifications/{order.id}/overdue", data={})
    assert resp.status_code == 422 and "has not passed yet" in text_of(resp)
    resp = client.post(f"{URL}/rectifications/{order.id}/close", data={"follow_up": ""})
    assert resp.status_code == 422 and "Say what the follow-up found" in text_of(resp)
    resp = client.post(f"{URL}/rectifications/{order.id}/close",
                       data={"follow_up": "复查：已重新公开性能指标"})
    assert resp.status_code == 302
    _db.session.expire_all()
    assert order.status is RectificationStatus.CLOSED


def test_an_overdue_order_can_be_marked_from_the_page(client, world, login_as):
    insp = recorded(world)
    order = insp.rectification
    order.ordered_on = local_today() - timedelta(days=40)
    order.deadline = local_today() - timedelta(days=10)
    _db.session.commit()
    login_as(world["beijing"])
    assert 'id="mark-overdue"' in text_of(client.get(f"{URL}/{insp.id}"))
    assert client.post(f"{URL}/rectifications/{order.id}/overdue").status_code == 302
    _db.session.expire_all()
    assert order.status is RectificationStatus.OVERDUE


# --------------------------------------------------------------------------- enterprise


def test_an_enterprise_sees_only_its_own_findings_and_answers_its_orders(client, world,
                                                                         login_as):
    mine = recorded(world)
    other_version, other_owner = published_in(BEIJING, world["catalogue"])
    theirs = recorded(world, version=other_version)
    unrecorded = world["inspection"]  # assigned: not yet shown to the enterprise
    login_as(world["owner"])
    html = text_of(client.get(f"{URL}/mine"))
    assert mine.number in html and theirs.number not in html and unrecorded.number not in html
    assert "mandatory_requirements 不符合要求" in html
    resp = client.post(f"{URL}/mine/rectifications/{theirs.rectification.id}/answer",
                       data={f"o{theirs.rectification.id}-answer": "不是我的"})
    assert resp.status_code == 404
    order = mine.rectification
    resp = client.post(f"{URL}/mine/rectifications/{order.id}/answer",
                       data={f"o{order.id}-answer": ""})
    assert resp.status_code == 422 and "the answer is empty" in text_of(resp)
    resp = client.post(f"{URL}/mine/rectifications/{order.id}/answer",
                       data={f"o{order.id}-answer": "已修订标准并重新公开"})
    assert resp.status_code == 302
    _db.session.expire_all()
    assert order.status is RectificationStatus.ANSWERED and order.answer == "已修订标准并重新公开"
    assert theirs.rectification.answer == ""
    login_as(other_owner)
    assert mine.number not in text_of(client.get(f"{URL}/mine"))


def test_an_enterprise_without_findings_is_told_so(client, world, login_as):
    login_as(world["owner"])
    assert 'id="no-findings"' in text_of(client.get(f"{URL}/mine"))


# --------------------------------------------------------------------------- public results


def test_the_public_results_page_lists_published_results_with_a_chart(client, world):
    published = recorded(world, publish=True)
    unpublished = recorded(world, "conforming")
    recorded(world, "conforming", publish=True)
    resp = client.get(f"{URL}/results?lang=en")  # no login
    assert resp.status_code == 200
    html = text_of(resp)
    assert published.number in html and unpublished.number not in html
    assert world["enterprise"].name in html and world["version"].number in html
    assert "Does not conform (不符合)" in html and "mandatory_requirements 不符合要求" in html
    assert local_date(published.published_at).isoformat() in html  # the publication date
    # The chart: one bar per grade with its count, and the same numbers in the table.
    bars = dict(re.findall(r'data-result="(\w+)" data-count="(\d+)"', html))
    assert bars == {"conforming": "1", "defects": "0", "nonconforming": "1"}
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'role="img"' in html
    filtered = text_of(client.get(f"{URL}/results?result=conforming"))
    assert published.number not in filtered
    searched = text_of(client.get(f"{URL}/results?q={published.number}"))
    assert 'data-inspection="%s"' % published.number in searched


def test_the_results_page_reads_a_fixed_number_of_queries(client, world, db):
    for _ in range(3):
        recorded(world, publish=True)
    with QueryCounter(db.engine) as few:
        assert client.get(f"{URL}/results").status_code == 200
    for _ in range(6):
        version, _owner = published_in(BEIJING, world["catalogue"])
        recorded(world, publish=True, version=version)
    with QueryCounter(db.engine) as many:
        assert client.get(f"{URL}/results").status_code == 200
    assert many.count == few.count


def test_the_chart_escapes_its_labels_and_scales_the_bars():
    chart = result_chart(
        {"conforming": 4, "defects": 2, "nonconforming": 0},
        labels={"conforming": "<b>符合</b>", "defects": "瑕疵", "nonconforming": "不符合"},
        title="T & T", desc="d",
    )
    assert "<b>" not in chart.svg and "&lt;b&gt;符合&lt;/b&gt;" in chart.svg
    assert "T &amp; T" in chart.svg
    widths = {b.result: b.width for b in chart.bars}
    assert widths["conforming"] == 2 * widths["defects"] and widths["nonconforming"] == 0
    assert chart.total == 6


# --------------------------------------------------------------------------- CSRF


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_the_result_form_needs_its_csrf_token(client, world, app_config):
    from tests.conftest import PASSWORD

    page = text_of(client.get("/login"))
    token = CSRF_RE.search(page).group(1)
    client.post("/login", data={"username": world["beijing"].username, "password": PASSWORD,
                                "csrf_token": token})
    insp = world["inspection"]
    resp = client.post(f"{URL}/{insp.id}/record", data=record_form())
    assert resp.status_code == 400
    token = CSRF_RE.search(text_of(client.get(f"{URL}/{insp.id}"))).group(1)
    resp = client.post(f"{URL}/{insp.id}/record", data={**record_form(), "csrf_token": token})
    assert resp.status_code == 302
    _db.session.expire_all()
    assert insp.status is InspectionStatus.RECORDED


def test_a_complaint_check_is_labelled_on_the_pages(client, world, login_as):
    insp = make_inspection(world["version"], world["beijing"], origin=InspectionOrigin.COMPLAINT)
    login_as(world["beijing"])
    html = text_of(client.get(f"{URL}/?lang=en"))
    assert 'data-origin="complaint"' in html
    assert "Complaint-triggered (outside the random draw)" in html
    only = text_of(client.get(f"{URL}/?origin=complaint"))
    assert insp.number in only and world["inspection"].number not in only
