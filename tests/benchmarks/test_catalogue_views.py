"""Catalogue pages: anonymous browsing, admin-only import and withdrawal."""

from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from benchmarks.importer import COLUMNS, load_directory
from benchmarks.models import ProductCategory, Standard, StandardStatus
from benchmarks.signals import catalogue_changed
from core.models import Role
from tests.conftest import CSRF_RE, PASSWORD


@pytest.fixture
def seed(db):
    assert all(r.ok for r in load_directory())
    db.session.commit()


def upload(client, kind: str, data: bytes, name: str = "upload.csv", **extra):
    return client.post(
        "/catalogue/admin/import",
        data={"kind": kind, "file": (io.BytesIO(data), name), **extra},
        content_type="multipart/form-data",
    )


def test_browse_standards_anonymously(client, seed):
    resp = client.get("/catalogue/standards")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "GB 21455-2019" in page
    assert 'class="pager"' in page  # 30 standards, 20 a page


def test_search_by_number_title_kind_and_status(client, seed):
    page = client.get("/catalogue/standards", query_string={"q": "gb／t18883"}).get_data(as_text=True)
    assert "GB/T 18883-2022" in page and "GB/T 18883-2002" in page and "GB 21455-2019" not in page
    page = client.get("/catalogue/standards", query_string={"q": "坐便器"}).get_data(as_text=True)
    assert "GB 25502-2017" in page and "GB 21455-2019" not in page
    page = client.get("/catalogue/standards", query_string={"kind": "group"}).get_data(as_text=True)
    assert "T/CHEAA 0011.1-2020" in page and "GB 21455-2019" not in page
    page = client.get(
        "/catalogue/standards", query_string={"q": "21455", "status": "withdrawn"}
    ).get_data(as_text=True)
    assert "GB 21455-2013" in page and "GB 12021.3-2010" not in page
    assert page.count('<td><a href="/catalogue/standards/') == 1  # GB 21455-2019 is in force


def test_second_page(client, seed):
    resp = client.get("/catalogue/standards", query_string={"page": 2})
    assert resp.status_code == 200
    assert "T/CNHA 1027-2020" in resp.get_data(as_text=True)


def test_unknown_filter_value_is_shown_and_ignored(client, seed):
    resp = client.get("/catalogue/standards", query_string={"kind": "bogus"})
    assert resp.status_code == 200
    assert 'role="alert"' in resp.get_data(as_text=True)


def test_standard_detail_shows_status_dates_and_replacement(client, db, seed):
    old = db.session.scalar(select(Standard).where(Standard.code == "GB 12021.3-2010"))
    page = client.get(f"/catalogue/standards/{old.id}").get_data(as_text=True)
    assert "2020-07-01" in page and "GB 21455-2019" in page
    assert 'name="replaced_by"' not in page  # the withdrawal form is for admins only
    new = db.session.scalar(select(Standard).where(Standard.code == "GB 21455-2019"))
    page = client.get(f"/catalogue/standards/{new.id}").get_data(as_text=True)
    assert "GB 12021.3-2010" in page and "GB 21455-2013" in page  # what it replaces
    assert client.get("/catalogue/standards/999999").status_code == 404


def test_categories_and_benchmarks_with_sources(client, db, seed):
    page = client.get("/catalogue/categories?lang=zh").get_data(as_text=True)
    assert "房间空气调节器" in page and "储水式电热水器" in page
    page = client.get("/catalogue/categories?lang=en").get_data(as_text=True)
    assert "Room air conditioner" in page
    ac = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "room_ac"))
    page = client.get(f"/catalogue/categories/{ac.id}", query_string={"on": "2021-01-01"}).get_data(as_text=True)
    for text in ("4.5", "3.3", "GB 21455-2019", "1级", "节能评价值"):
        assert text in page
    toilet = db.session.scalar(select(ProductCategory).where(ProductCategory.code == "toilet"))
    page = client.get(f"/catalogue/categories/{toilet.id}", query_string={"on": "2026-01-01"}).get_data(as_text=True)
    assert "No benchmark of this category is in force on that date." in page
    assert client.get(f"/catalogue/categories/{toilet.id}", query_string={"on": "01/01/2026"}).status_code == 422
    assert client.get("/catalogue/categories/999999").status_code == 404


def test_import_page_redirects_anonymous_to_login(client):
    resp = client.get("/catalogue/admin/import")
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]
    resp = upload(client, "categories", b"code,name,source\na,b,c\n")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("role", [Role.ENTERPRISE, Role.REGULATOR, Role.EVALUATOR])
def test_import_page_refuses_non_admins(client, db, login_as, role):
    login_as(role)
    assert client.get("/catalogue/admin/import").status_code == 403
    assert upload(client, "categories", b"code,name,source\na,b,c\n").status_code == 403
    assert db.session.scalar(select(func.count(ProductCategory.id))) == 0


def test_admin_bad_upload_shows_the_report_and_writes_nothing(client, db, login_as):
    login_as(Role.ADMIN)
    assert client.get("/catalogue/admin/import").status_code == 200
    header = ",".join(COLUMNS["standards"])
    body = "\n".join(
        [
            header,
            "GB 21455-2019,,房间空调,,现行,2020-07-01,,,src",
            "GB 8978-96,,污水综合排放标准,,现行,,,,src",
            "GB/T 1-2020,,x,,废止,,,,src",
        ]
    ).encode("utf-8")
    resp = upload(client, "standards", body)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'id="import-report"' in page
    assert "write 1996" in page
    assert "<td class=\"num\">3</td><td>code</td>" in page
    assert "<td class=\"num\">4</td><td>withdrawn_date</td>" in page
    assert db.session.scalar(select(func.count(Standard.id))) == 0


def test_admin_wrong_file_type(client, db, login_as):
    login_as(Role.ADMIN)
    resp = upload(client, "standards", b"%PDF-1.4\n%\xe2\xe3\n", name="standards.csv")
    assert resp.status_code == 422
    assert "not a CSV or .xlsx" in resp.get_data(as_text=True)


def test_admin_good_upload_is_written(client, db, login_as):
    login_as(Role.ADMIN)
    resp = upload(client, "categories", "code,name,name_en,source\nfan,电风扇,Fan,GB 12021.9\n".encode())
    assert resp.status_code == 302
    follow = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "1 inserted" in follow
    assert db.session.scalar(select(ProductCategory.name)) == "电风扇"


def test_admin_upload_without_file_is_422(client, login_as):
    login_as(Role.ADMIN)
    resp = client.post("/catalogue/admin/import", data={"kind": "standards"})
    assert resp.status_code == 422
    assert "Choose a CSV or .xlsx file" in resp.get_data(as_text=True)


def test_admin_export_downloads_csv(client, seed, login_as):
    login_as(Role.ADMIN)
    resp = client.get("/catalogue/admin/export/standards.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "GB 21455-2019" in resp.get_data().decode("utf-8-sig")
    assert client.get("/catalogue/admin/export/nope.csv").status_code == 404


def test_admin_marks_a_standard_replaced_and_the_signal_fires(client, db, seed, login_as):
    login_as(Role.ADMIN)
    received = []

    def receiver(sender, standard_ids=(), **kw):
        received.append(list(standard_ids))

    target = db.session.scalar(select(Standard).where(Standard.code == "GB 21519-2008"))
    page = client.get(f"/catalogue/standards/{target.id}").get_data(as_text=True)
    assert 'name="replaced_by"' in page
    with catalogue_changed.connected_to(receiver):
        resp = client.post(
            f"/catalogue/standards/{target.id}/withdraw",
            data={"withdrawn_date": "2025-01-01", "replaced_by": "GB 21455-2019"},
        )
    assert resp.status_code == 302
    assert received == [[target.id]]
    db.session.expire_all()
    target = db.session.get(Standard, target.id)
    assert target.status is StandardStatus.WITHDRAWN
    assert target.withdrawn_date == date(2025, 1, 1)
    assert target.replaced_by_code == "GB 21455-2019"


def test_withdraw_form_errors_are_422_and_change_nothing(client, db, seed, login_as):
    login_as(Role.ADMIN)
    target = db.session.scalar(select(Standard).where(Standard.code == "GB 21519-2008"))
    resp = client.post(f"/catalogue/standards/{target.id}/withdraw", data={})
    assert resp.status_code == 422
    assert "Give the withdrawal date" in resp.get_data(as_text=True)
    resp = client.post(f"/catalogue/standards/{target.id}/withdraw", data={"replaced_by": "GB 1-2001"})
    assert resp.status_code == 422
    assert "not in the catalogue" in resp.get_data(as_text=True)
    resp = client.post(f"/catalogue/standards/{target.id}/withdraw", data={"replaced_by": "Q/SJX 0001-2020"})
    assert resp.status_code == 422
    assert "enterprise standard" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Standard, target.id).status is StandardStatus.IN_FORCE


def test_withdraw_is_admin_only(client, db, seed, login_as):
    target = db.session.scalar(select(Standard).where(Standard.code == "GB 21519-2008"))
    assert client.post(f"/catalogue/standards/{target.id}/withdraw", data={}).status_code == 302
    login_as(Role.ENTERPRISE)
    assert client.post(f"/catalogue/standards/{target.id}/withdraw", data={}).status_code == 403


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_import_needs_the_csrf_token(self, client, db, make_user):
        admin = make_user(Role.ADMIN)
        token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
        resp = client.post(
            "/login",
            data={"username": admin.username, "password": PASSWORD, "csrf_token": token},
        )
        assert resp.status_code == 302
        body = "code,name,source\nfan,电风扇,src\n".encode()
        assert upload(client, "categories", body).status_code == 400
        token = CSRF_RE.search(client.get("/catalogue/admin/import").get_data(as_text=True)).group(1)
        assert upload(client, "categories", body, csrf_token=token).status_code == 302
        assert db.session.scalar(select(func.count(ProductCategory.id))) == 1


def _queries_for(client, db, url: str) -> int:
    from sqlalchemy import event

    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return len(statements)


def test_list_pages_use_a_fixed_number_of_queries(client, db, seed):
    """No N+1: a page of 20 standards or a category's benchmarks take a few queries each."""
    assert _queries_for(client, db, "/catalogue/standards") <= 3
    assert _queries_for(client, db, "/catalogue/categories") <= 3
    heater = db.session.scalar(
        select(ProductCategory).where(ProductCategory.code == "storage_water_heater")
    )
    assert _queries_for(client, db, f"/catalogue/categories/{heater.id}?on=2020-01-01") <= 7
