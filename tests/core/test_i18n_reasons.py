"""Reasons the system generates are stored as a code with parameters and shown in the reader's
language; old rows (free text) and reasons typed by people are shown as they are."""

from __future__ import annotations

import pytest
from flask_babel import refresh

from core.i18n import coded, parse_coded, reason_renderer, region_label, render_coded
from ranking import boards
from ranking import reasons as ranking_reasons


@pytest.fixture
def app_config():
    return {"BABEL_DEFAULT_LOCALE": "zh"}


@pytest.fixture
def in_language(app):
    def use(lang: str):
        ctx = app.test_request_context(f"/?lang={lang}")
        ctx.push()
        refresh()
        return ctx

    pushed = []
    yield lambda lang: pushed.append(use(lang))
    for ctx in reversed(pushed):
        ctx.pop()


def test_a_coded_reason_is_compact_and_round_trips():
    stored = ranking_reasons.record("nonconforming", "2026-03-01", "2026-抽-017")
    assert stored == ('@ranking.removed.record '
                      '{"date":"2026-03-01","ref":"2026-抽-017","result":"nonconforming"}')
    assert parse_coded(stored) == ("ranking.removed.record",
                                   {"date": "2026-03-01", "ref": "2026-抽-017",
                                    "result": "nonconforming"})


def test_an_unregistered_code_cannot_be_stored():
    with pytest.raises(KeyError):
        coded("no.such.code", n=1)


def test_removal_reasons_follow_the_reader(in_language):
    stored = ranking_reasons.record("nonconforming", "2026-03-01", "2026-抽-017")
    in_language("en")
    assert render_coded(stored) == (
        "The enterprise has a non-conforming inspection result of 2026-03-01 (2026-抽-017)"
    )
    in_language("zh")
    shown = render_coded(stored)
    assert "2026-抽-017" in shown and "non-conforming" not in shown and "企业" in shown


def test_indicator_names_follow_the_reader(in_language):
    stored = ranking_reasons.below_floor("全年能源消耗效率", "Annual performance factor", "4",
                                         "4.2", "W/W")
    in_language("en")
    assert render_coded(stored) == (
        "The declaration was revised: Annual performance factor 4 W/W is below the plan's "
        "floor 4.2 W/W."
    )
    in_language("zh")
    assert "全年能源消耗效率" in render_coded(stored)
    assert "Annual performance factor" not in render_coded(stored)


def test_free_text_and_old_rows_render_as_they_are(in_language):
    in_language("en")
    for text in ["产品停产", "@someone wrote this", "@ranking.dynamic not json", "", None]:
        assert render_coded(text) == (text or "")


def test_a_renderer_that_fails_on_old_params_shows_the_stored_text(in_language):
    @reason_renderer("test.needs_n")
    def _needs(p):
        return f"n={int(p['n'])}"

    in_language("en")
    assert render_coded('@test.needs_n {"n":3}') == "n=3"
    assert render_coded('@test.needs_n {"m":3}') == '@test.needs_n {"m":3}'


def test_the_below_floor_exclusion_detail_is_rendered_in_words(in_language):
    reason = {"code": "below_floor", "detail": "eff: 63.5 (floor 64); noise: 40 (floor 38)"}
    in_language("en")
    assert boards.exclusion_text(reason) == (
        "Below the plan's floor: eff 63.5, floor 64; noise 40, floor 38."
    )
    in_language("zh")
    shown = boards.exclusion_text(reason)
    assert "floor" not in shown and "eff 为 63.5，底线 64；noise 为 40，底线 38" in shown
    # a detail of another shape is shown as it is
    assert "odd detail" in boards.exclusion_text({"code": "below_floor", "detail": "odd detail"})


def test_region_codes_show_their_names():
    assert region_label("500000") == "重庆市 (500000)"
    assert region_label("500112") == "重庆市 渝北区 (500112)"
    assert region_label("999999") == "999999"
    assert region_label(None) == ""


def test_exclusion_details_name_the_indicators(in_language):
    names = {"apf": "全年能源消耗效率", "noise": "噪声"}
    in_language("zh")
    assert "全年能源消耗效率、噪声" in boards.exclusion_text(
        {"code": "missing_value", "detail": "apf, noise"}, names)
    assert "全年能源消耗效率 为 4.1，底线 4.2" in boards.exclusion_text(
        {"code": "below_floor", "detail": "apf: 4.1 (floor 4.2)"}, names)
    # without names (the API), the keys as stored
    assert "apf, noise" in boards.exclusion_text({"code": "missing_value", "detail": "apf, noise"})


def test_a_notification_renders_a_coded_reason_in_the_readers_language(in_language):
    from core.notifications import render

    params = {"reason": ranking_reasons.abolished("2026-03-01", "产品停产"), "plan": "P",
              "standard": "Q/YLKT 0001-2025", "run_id": 1}
    in_language("en")
    _subject, body = render("leader_removed", params)
    assert "The enterprise abolished the standard (废止) on 2026-03-01: 产品停产" in body
    assert "@ranking" not in body
