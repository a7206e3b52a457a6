"""Issue 9, finding 6: a complaint always reaches someone (the region's regulators, or the
admins' queue when no regulator covers the region), and the complainant follows it with the
receipt number and the secret (public page and API)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.extensions import db as _db
from core.models import Role
from supervision.complaints import operations as complaints
from supervision.models import Complaint
from tests.conftest import PASSWORD
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.factories import make_enterprise_user

URL = "/supervision/inspections/complaints"
API = "/api/v1/supervision/inspections/complaints"
CONTENT = "声明的待机功率与实测值明显不符，请核查。"
SHANGHAI = "310104"  # no regulator account covers Shanghai here

pytestmark = pytest.mark.usefixtures("en_request")


@pytest.fixture
def regions(db, make_user):
    return {
        "beijing": make_user(Role.REGULATOR, region_code="110000"),
        "covered": make_enterprise_user(region="110105").enterprise,
        "uncovered": make_enterprise_user(region=SHANGHAI).enterprise,
        "admin": make_user(Role.ADMIN),
    }


def inbox(user) -> list[str]:
    return [c.number for c in _db.session.scalars(complaints.complaints_for(user))]


def test_a_complaint_no_regulator_covers_goes_to_the_admins_queue(regions, make_user):
    covered = complaints.file_complaint({"enterprise_id": regions["covered"].id,
                                         "content": CONTENT})
    lost = complaints.file_complaint({"enterprise_id": regions["uncovered"].id,
                                      "content": CONTENT})
    _db.session.commit()
    assert (covered.routed_to, lost.routed_to) == ("regulator", "admins")
    assert inbox(regions["beijing"]) == [covered.number]
    assert inbox(regions["admin"]) == [lost.number]  # never nobody

    # A regulator created for the region later finds it in its inbox; the queue empties.
    shanghai = make_user(Role.REGULATOR, region_code="310000")
    assert inbox(shanghai) == [lost.number]
    assert inbox(regions["admin"]) == []
    # An inactive account covers nothing.
    shanghai.is_active_account = False
    _db.session.commit()
    assert inbox(regions["admin"]) == [lost.number]


def test_every_complaint_reaches_someone(regions):
    filed = [
        complaints.file_complaint({"enterprise_id": ent.id, "content": CONTENT})
        for ent in (regions["covered"], regions["uncovered"],
                    make_enterprise_user(region="440305").enterprise)
    ]
    _db.session.commit()
    reached = set(inbox(regions["beijing"])) | set(inbox(regions["admin"]))
    assert reached == {c.number for c in filed}


def _login(client, user):
    client.post("/logout")
    assert client.post("/login", data={"username": user.username,
                                       "password": PASSWORD}).status_code == 302


def test_admins_see_their_queue_and_regulators_do_not(client, regions):
    lost = complaints.file_complaint({"enterprise_id": regions["uncovered"].id,
                                      "content": CONTENT})
    _db.session.commit()
    _login(client, regions["admin"])
    html = client.get(f"{URL}/unrouted").get_data(as_text=True)
    assert lost.number in html and 'id="admin-queue-note"' in html
    detail = client.get(f"{URL}/unrouted/{lost.id}")
    assert detail.status_code == 200 and CONTENT in detail.get_data(as_text=True)
    _login(client, regions["beijing"])
    assert client.get(f"{URL}/unrouted").status_code == 403
    assert client.get(f"{URL}/{lost.id}").status_code == 404  # not Beijing's


def test_the_receipt_and_the_status_page(client, regions):
    resp = client.post(f"{URL}/new", data={"enterprise_uscc": regions["uncovered"].uscc,
                                           "content": CONTENT})
    assert resp.status_code == 302
    receipt = client.get(resp.headers["Location"])
    html = receipt.get_data(as_text=True)
    complaint = _db.session.scalar(select(Complaint))
    assert complaint.number in html and 'data-routed="admins"' in html
    secret = html.split('id="receipt-secret">', 1)[1].split("<", 1)[0]
    assert len(secret) >= 16 and secret not in complaint.secret_sha256
    # Shown once: the receipt page does not show it again.
    assert secret not in client.get(f"{URL}/receipt", follow_redirects=True).get_data(
        as_text=True)

    found = client.post(f"{URL}/status", data={"number": complaint.number, "secret": secret})
    assert found.status_code == 200
    assert 'id="complaint-status"' in found.get_data(as_text=True)
    assert 'data-status="open"' in found.get_data(as_text=True)
    for number, wrong in ((complaint.number, secret + "x"), ("JB000000-2026-999999", secret),
                          (complaint.number, "")):
        refused = client.post(f"{URL}/status", data={"number": number, "secret": wrong})
        assert refused.status_code == 404
        assert 'id="complaint-status"' not in refused.get_data(as_text=True)


def test_the_status_api(client, regions):
    filed = client.post(API, json={"enterprise_id": regions["covered"].id, "content": CONTENT})
    receipt = filed.get_json()
    resp = client.post(f"{API}/status", json={"number": receipt["number"],
                                              "secret": receipt["secret"]})
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["number"], body["status"], body["routed_to"]) == (
        receipt["number"], "open", "regulator")
    assert "content" not in body and "contact" not in body
    complaint = _db.session.scalar(select(Complaint))
    complaints.dismiss(complaint, "经核查，数据无误", user=regions["beijing"])
    _db.session.commit()
    body = client.post(f"{API}/status", json={"number": receipt["number"],
                                              "secret": receipt["secret"]}).get_json()
    assert body["status"] == "dismissed" and body["resolution"] == "经核查，数据无误"
    wrong = client.post(f"{API}/status", json={"number": receipt["number"], "secret": "nope"})
    assert wrong.status_code == 404
