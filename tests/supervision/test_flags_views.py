"""The flag pages: a regulator's region list (filters, counts, chart), a declaration's panel,
region scoping, an enterprise's own flags, the recompute button with CSRF, and the fixed number
of queries of the list page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, insert, select

from core.extensions import db as _db
from core.models import OutboxJob, Role, utcnow
from supervision.flags import operations as flag_store
from supervision.models import Complaint, RiskFlag
from tests.conftest import CSRF_RE, PASSWORD
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.factories import make_enterprise_user
from tests.supervision.test_flags_common import (
    apf_row,
    commit_and_run,
    flags,
    publish_legacy,
)


@pytest.fixture
def flagged(db, catalogue, en_request):
    """A Chongqing (500112) declaration with two open flags and a Beijing (110101) one."""
    cq = make_enterprise_user(region="500112", name="重庆某空调有限公司")
    bj = make_enterprise_user(region="110101", name="北京某空调有限公司")
    cq_version = publish_legacy(
        catalogue, cq.enterprise, rows=[apf_row(catalogue, 5.1, test_method="")]
    )
    bj_version = publish_legacy(
        catalogue, bj.enterprise, rows=[apf_row(catalogue, 5.2, test_method="")]
    )
    _db.session.add(
        Complaint(
            number="JB-2026-0100",
            enterprise_id=cq.enterprise.id,
            declaration_id=cq_version.declaration_id,
            region_code="500112",
            content="虚标能效",
        )
    )
    commit_and_run()
    flag_store.request_recompute([cq_version.declaration_id, bj_version.declaration_id])
    commit_and_run()
    return {"cq": cq, "bj": bj, "cq_decl": cq_version.declaration_id,
            "bj_decl": bj_version.declaration_id}  # fmt: skip


def text(resp) -> str:
    return resp.get_data(as_text=True)


def test_regulator_sees_the_region_list_with_counts_and_chart(client, login_as, flagged):
    login_as(Role.REGULATOR, region_code="500000")
    resp = client.get("/supervision/flags/")
    assert resp.status_code == 200
    html = text(resp)
    shown = set(re.findall(r'data-flag="(\d+)"', html))
    cq_ids = {str(f.id) for f in flags(flagged["cq_decl"])}
    assert shown == cq_ids and len(cq_ids) == 2  # the Beijing flag is not listed
    assert "重庆某空调有限公司" in html and "北京某空调有限公司" not in html
    assert "apf has no test method (检验方法)." in html
    assert "1 open complaint(s) (举报) about this declaration." in html
    # Counts: one table row per kind of flag and one SVG bar group per kind.
    row = re.search(r'<tr data-count="missing_test_method">(.*?)</tr>', html).group(1)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["0", "1", "0", "1"]
    assert html.count("<svg") == 1 and 'data-code="open_complaint"' in html
    chinese = client.get("/supervision/flags/?lang=zh")  # the default language renders too
    assert chinese.status_code == 200 and '<html lang="zh-CN">' in text(chinese)


def test_filters_narrow_the_list_and_bad_filters_answer_422(client, login_as, flagged):
    login_as(Role.REGULATOR, region_code="500000")
    resp = client.get("/supervision/flags/?code=open_complaint&severity=medium")
    html = text(resp)
    assert resp.status_code == 200
    assert re.findall(r'data-code="(\w+)"><td>', html) == []  # table rows use data-flag
    assert set(re.findall(r'<tr data-flag="\d+" data-code="(\w+)"', html)) == {"open_complaint"}

    bad = client.get("/supervision/flags/?code=copy&severity=urgent&status=closed&region=11")
    assert bad.status_code == 422
    page = text(bad)
    assert "Flag: “copy” is not a flag code; choose one of below_mandatory" in page
    assert "Severity: “urgent” is not a severity; choose one of high, medium, low." in page
    assert "Status: “closed” is not a status; choose one of open, cleared, all." in page
    assert "Region code: “11” is not a 行政区划 code; write its 6 digits" in page

    outside = client.get("/supervision/flags/?region=110101")
    assert outside.status_code == 422
    assert "Region code: 110101 is outside your region 500000" in text(outside)

    district = client.get("/supervision/flags/?region=500112&status=all")
    assert district.status_code == 200 and "重庆某空调有限公司" in text(district)


def test_a_regulator_of_another_region_sees_nothing_of_it(client, login_as, flagged):
    login_as(Role.REGULATOR, region_code="110000")
    html = text(client.get("/supervision/flags/"))
    assert "北京某空调有限公司" in html and "重庆某空调有限公司" not in html
    assert client.get(f"/supervision/flags/declarations/{flagged['cq_decl']}").status_code == 404
    assert (
        client.post(f"/supervision/flags/declarations/{flagged['cq_decl']}/recompute").status_code
        == 404
    )


def test_declaration_panel_shows_evidence_and_history(client, login_as, flagged, db):
    login_as(Role.REGULATOR, region_code="500000")
    for row in db.session.scalars(select(Complaint)):
        row.status = "closed"
    commit_and_run()
    resp = client.get(f"/supervision/flags/declarations/{flagged['cq_decl']}")
    assert resp.status_code == 200
    html = text(resp)
    open_part = html.split('id="open-flags"')[1].split("</table>")[0]
    cleared_part = html.split('id="cleared-flags"')[1].split("</table>")[0]
    assert 'data-code="missing_test_method"' in open_part
    assert 'data-code="open_complaint"' in cleared_part
    assert 'data-cleared-reason="cause_removed"' in cleared_part
    assert "Risk score: 2" in html  # one medium flag open


def test_enterprise_sees_only_its_own_flags(client, login_as, flagged):
    login_as(flagged["cq"])
    html = text(client.get("/supervision/flags/"))
    assert set(re.findall(r'data-flag="(\d+)"', html)) == {
        str(f.id) for f in flags(flagged["cq_decl"])
    }
    assert 'name="region"' not in html
    assert client.get(f"/supervision/flags/declarations/{flagged['cq_decl']}").status_code == 200
    assert client.get(f"/supervision/flags/declarations/{flagged['bj_decl']}").status_code == 404
    assert (
        client.post(f"/supervision/flags/declarations/{flagged['cq_decl']}/recompute").status_code
        == 403
    )


@pytest.mark.parametrize("role", [Role.EVALUATOR, Role.ADMIN])
def test_other_roles_are_refused(client, login_as, flagged, role):
    login_as(role)
    assert client.get("/supervision/flags/").status_code == 403
    assert client.get(f"/supervision/flags/declarations/{flagged['cq_decl']}").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, flagged):
    resp = client.get("/supervision/flags/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


class TestWithCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_recompute_needs_the_csrf_token_and_queues_a_job(self, client, make_user, flagged, db):
        user = make_user(Role.REGULATOR, region_code="500000")
        login = CSRF_RE.search(text(client.get("/login"))).group(1)
        resp = client.post(
            "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": login}
        )
        assert resp.status_code == 302
        url = f"/supervision/flags/declarations/{flagged['cq_decl']}"
        assert client.post(url + "/recompute").status_code == 400
        token = CSRF_RE.search(text(client.get(url))).group(1)
        before = db.session.scalar(select(OutboxJob.id).order_by(OutboxJob.id.desc()))
        resp = client.post(url + "/recompute", data={"csrf_token": token})
        assert resp.status_code == 302 and resp.headers["Location"].endswith(url)
        job = db.session.scalars(select(OutboxJob).order_by(OutboxJob.id.desc())).first()
        assert job.id > before
        assert (job.func, job.args, job.queue, job.status) == (
            "supervision.flags.tasks.flags_for_declarations",
            [[flagged["cq_decl"]]],
            "supervision",
            "done",
        )
        assert "are being recomputed" in text(client.get(url))


class CountQueries:
    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _count(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


# The logged-in user, the header's unread-notification count, the categories of the filter,
# the counts (one GROUP BY), the page's count and the page with its labels.
LIST_QUERIES = 6


def _many_flags(declaration_id: int, n: int) -> None:
    """``n`` stored flags on one declaration (rows as the jobs write them)."""
    sample = flags(declaration_id)[0]
    rows = [
        {
            "declaration_id": sample.declaration_id, "version_id": sample.version_id,
            "enterprise_id": sample.enterprise_id, "region_code": sample.region_code,
            "category_id": sample.category_id, "code": "implausible_value",
            "key": f"x{i}", "severity": ("high", "medium", "low")[i % 3],
            "evidence": {"indicator": f"x{i}", "value": float(i), "category_median": 1.0,
                         "robust_z": 9.0, "threshold": 3.5, "reason_id": "implausible_above"},
            "raised_at": utcnow(), "cleared_reason": "",
        }
        for i in range(n)
    ]  # fmt: skip
    _db.session.execute(insert(RiskFlag), rows)
    _db.session.commit()


def test_the_list_page_reads_a_fixed_number_of_queries(client, login_as, flagged, db):
    login_as(Role.REGULATOR, region_code="500000")
    counts = {}
    for label, extra in (("small", 3), ("big", 200)):
        _many_flags(flagged["cq_decl"], extra)
        db.session.expunge_all()
        with CountQueries(db.engine) as counter:
            resp = client.get("/supervision/flags/?page=1&status=all")
        assert resp.status_code == 200
        counts[label] = len(counter.statements)
        assert text(resp).count('<tr data-flag="') == (5 if label == "small" else 20)
    assert counts == {"small": LIST_QUERIES, "big": LIST_QUERIES}
