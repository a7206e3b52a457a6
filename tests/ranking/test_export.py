"""Exports of a ranking run: CSV (UTF-8 with a byte-order mark, so Excel opens it) and Excel
(.xlsx, openpyxl), with Chinese headers, every entry, its values, tiers, composite, leader
status and exclusion reasons."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from core.extensions import db as _db
from core.models import Role
from ranking import export
from tests.ranking.test_views import en, official_run, world  # noqa: F401  (fixtures)

HEADER = ["序号", "企业名称", "统一社会信用代码", "标准编号", "标准名称", "产品名称", "型号"]


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "CSV must start with the UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_csv_has_a_bom_and_quotes_what_needs_quoting():
    body = export.to_csv(["名称", "值"], [["甲,乙\"丙\"", 1.5], ["换\n行", None], ["整数", 5.0]])
    rows = read_csv(body)
    assert rows == [["名称", "值"], ['甲,乙"丙"', "1.5"], ["换\n行", ""], ["整数", "5"]]
    assert b"\r\n" in body


def test_xlsx_keeps_numbers_as_numbers_and_the_header_bold():
    body = export.to_xlsx(["名称", "值"], [["甲", 1.5], ["乙", None]], title="测试/方案:2025")
    wb = load_workbook(io.BytesIO(body))
    ws = wb.active
    assert ws.title == "测试方案2025"  # characters Excel forbids in sheet names are dropped
    rows = list(ws.iter_rows(values_only=True))
    assert rows == [("名称", "值"), ("甲", 1.5), ("乙", None)]
    assert ws["A1"].font.bold and ws.freeze_panes == "A2"


def test_tier_names_and_reasons_in_chinese():
    assert export.tier_name(1) == "第一档" and export.tier_name(3) == "第三档"
    assert export.tier_name(12) == "第12档" and export.tier_name(0) == ""
    text = export.reasons_text(
        [{"code": "mingshi_on_core", "detail": "apf"}, {"code": "violation", "detail": "2"}]
    )
    assert text == "核心指标存在明示（低于推荐性标准）：apf；指标低于强制性标准限定值：2 项"


def _columns(header: list[str]) -> dict[str, int]:
    return {name: i for i, name in enumerate(header)}


def test_csv_export_of_a_published_run(client, login_as, world):
    run = official_run(world["plan"], world["evaluator"], publish=True)
    login_as(world["evaluator"])
    resp = client.get(f"/leaderboards/runs/{run.id}/export.csv")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert f"run{run.id}.csv" in resp.headers["Content-Disposition"]
    rows = read_csv(resp.data)
    header, body = rows[0], rows[1:]
    assert header[: len(HEADER)] == HEADER
    assert "全年能源消耗效率（W/W）" in header and "全年能源消耗效率档次" in header
    assert header[-7:] == ["综合得分", "综合排名", "是否领跑者", "星级", "是否入围", "未入围原因", "移出原因"]
    assert len(body) == 4  # every entry, eligible or not
    col = _columns(header)
    by_name = {r[col["企业名称"]]: r for r in body}
    leader = by_name["甲领跑空调有限公司"]
    assert leader[col["是否领跑者"]] == "是" and leader[col["综合排名"]] == "1"
    assert leader[col["全年能源消耗效率（W/W）"]] == "5.2"
    assert leader[col["全年能源消耗效率档次"]] == "第一档"
    assert leader[col["标准编号"]] == "Q/RK001 0001-2024" and leader[col["型号"]] == "KFR-35GW/001"
    assert float(leader[col["综合得分"]]) > float(by_name["乙标准空调有限公司"][col["综合得分"]])
    excluded = by_name["丁明示空调有限公司"]
    assert excluded[col["是否入围"]] == "否"
    assert "核心指标存在明示" in excluded[col["未入围原因"]]
    assert body[-1][col["企业名称"]] == "丁明示空调有限公司"  # the excluded come last
    assert [r[0] for r in body] == ["1", "2", "3", "4"]

    # The public's copy says who is not in the ranking, not why.
    client.post("/logout")
    public = read_csv(client.get(f"/leaderboards/runs/{run.id}/export.csv").data)
    excluded = next(r for r in public[1:] if r[col["企业名称"]] == "丁明示空调有限公司")
    assert excluded[col["是否入围"]] == "否" and excluded[col["未入围原因"]] == ""
    assert public[1] == body[0]


def test_xlsx_export_of_a_published_run(client, world):
    run = official_run(world["plan"], world["evaluator"], publish=True)
    resp = client.get(f"/leaderboards/runs/{run.id}/export.xlsx")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.iter_rows(values_only=True))
    header, body = list(rows[0]), rows[1:]
    col = _columns(header)
    assert header[: len(HEADER)] == HEADER and len(body) == 4
    leader = next(r for r in body if r[col["企业名称"]] == "甲领跑空调有限公司")
    assert leader[col["全年能源消耗效率（W/W）"]] == 5.2  # a number, not text
    assert leader[col["噪声（dBA）"]] == 36.0
    assert leader[col["噪声档次"]] == "第一档"
    assert isinstance(leader[col["综合得分"]], float)
    assert leader[col["是否领跑者"]] == "是"


def test_export_of_a_computed_run_is_for_its_evaluation_body_only(client, login_as, world):
    run = official_run(world["plan"], world["evaluator"])
    assert client.get(f"/leaderboards/runs/{run.id}/export.csv").status_code == 404
    login_as(Role.EVALUATOR)
    assert client.get(f"/leaderboards/runs/{run.id}/export.xlsx").status_code == 404
    login_as(world["evaluator"])
    resp = client.get(f"/leaderboards/runs/{run.id}/export.csv")
    assert resp.status_code == 200 and len(read_csv(resp.data)) == 5


def test_preview_export_is_public(client, world):
    from ranking import queries
    from ranking.models import RunKind

    preview = queries.current_run(world["plan"].plan_key, RunKind.PREVIEW)
    resp = client.get(f"/leaderboards/runs/{preview.id}/export.csv")
    assert resp.status_code == 200
    assert "preview" in resp.headers["Content-Disposition"]
    _db.session.rollback()
