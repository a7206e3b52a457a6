"""The main enterprise journey in a real browser (headless Chromium through Playwright):
register → declare an own standard → see the live comparison → publish (refused, then fixed)
→ read the public page."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter

from tests.factories import valid_uscc

pytestmark = pytest.mark.browser


def _pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_register_declare_compare_publish_public_page(live_server, page, catalogue, tmp_path):
    uscc = valid_uscc("500112")
    pdf = tmp_path / "Q_CQKF_0001-2026.pdf"
    pdf.write_bytes(_pdf_bytes())

    # Register the enterprise (USCC typed in lower case with spaces: it is normalised).
    page.goto(live_server + "/register")
    page.fill("#uscc", " ".join([uscc[:6].lower(), uscc[6:]]))
    page.fill("#name", "重庆凯风空调有限公司")
    page.fill("#username", "kaifeng")
    page.fill("#password", "kaifeng-2026!")
    page.fill("#password2", "kaifeng-2026!")
    page.click("button.primary[type=submit]")

    # Registration logs in (or sends to the login page): reach the new-declaration form.
    if "/login" in page.url:
        page.fill("#username", "kaifeng")
        page.fill("#password", "kaifeng-2026!")
        page.click("button.primary[type=submit]")
    page.goto(live_server + "/my/declarations/new/enterprise")
    assert page.locator("#declaration-form").is_visible()

    page.fill("#std_code", "Q/CQKF 0001-2026")
    page.fill("#std_name", "变频房间空气调节器")
    page.fill("#products-0-name", "变频分体挂壁式空调")
    page.fill("#products-0-model", "KFR-35GW/BP3")
    page.select_option("#products-0-category_id", str(catalogue["room_ac"].id))
    page.fill("#indicators-0-name", "全年能源消耗效率 APF")
    page.select_option("#indicators-0-benchmark_indicator_id", str(catalogue["apf"].id))
    page.select_option("#indicators-0-op", "ge")
    page.fill("#indicators-0-unit", "W/W")
    page.fill("#indicators-0-test_method", "按 GB 21455-2019 附录 A 试验")

    # Live comparison: a value under the mandatory limit is shown as a violation at once…
    page.fill("#indicators-0-value", "3.10")
    live = page.locator("#indicator-rows [data-cmp]").first
    live.locator(".badge.violation").wait_for()
    assert "3.30" in live.inner_text() and "GB 21455-2019" in live.inner_text()

    # …and a grade-1 value as exceeding, with its grade.
    page.fill("#indicators-0-value", "5.20")
    live.locator(".badge.exceeds").wait_for()
    assert "1级" in live.inner_text()

    # Publishing without the PDF, commitment and approver is refused; nothing is published.
    page.click("#publish")
    page.locator("#form-summary").wait_for()
    assert page.locator("#form-summary").is_visible()

    page.set_input_files("#text_pdf", str(pdf))
    page.fill("#approved_by", "张工")
    page.check("#commitment_accepted")
    page.click("#publish")

    # The public page shows the published declaration with its comparison.
    page.wait_for_url("**/declarations/*")
    body = page.locator("main").inner_text()
    assert "Q/CQKF 0001-2026" in body
    assert "KFR-35GW/BP3" in body
    assert "1级" in body

    # The public sees it without logging in.
    public_url = page.url.split("?")[0]
    anon = page.context.browser.new_context(locale="zh-CN").new_page()
    anon.goto(public_url)
    assert "重庆凯风空调有限公司" in anon.locator("main").inner_text()
    anon.context.close()
