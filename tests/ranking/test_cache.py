"""The caching contract of the public leaderboard pages (core.page_cache, ranking.views):
a run's page has one ETag per run state, language and URL and answers 304 to a repeat; a new
run or a status change gives a new ETag; a superseded run keeps its own URL; nothing of a
logged-in user reaches a shared body; the list of leaderboards is paginated and reads no JSON.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from core import page_cache
from core.clock import local_today
from core.extensions import db as _db
from core.models import Role
from declare.models import Declaration
from ranking import publicity
from ranking.models import RunStatus
from tests.ranking.test_views import (  # noqa: F401  (fixtures: en, world)
    en,
    make_category,
    make_plan,
    official_run,
    text_of,
    world,
)


class Statements:
    """The SQL statements a block sends."""

    def __init__(self):
        self.sql: list[str] = []

    def _seen(self, conn, cursor, statement, *args):
        self.sql.append(statement)

    def __enter__(self):
        event.listen(_db.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(_db.engine, "before_cursor_execute", self._seen)


def board_url(plan) -> str:
    return f"/leaderboards/{plan.plan_key}"


def test_same_run_same_etag_and_304_on_a_repeat(client, world):
    url = board_url(world["plan"])
    first = client.get(url)
    second = client.get(url)
    assert first.status_code == second.status_code == 200
    etag = first.headers["ETag"]
    assert etag and second.headers["ETag"] == etag
    assert first.get_data() == second.get_data()
    assert "public" in first.headers["Cache-Control"]
    # The current list may move to a new version (a leader removed) at any time: revalidated.
    assert "max-age=0, must-revalidate" in first.headers["Cache-Control"]

    repeat = client.get(url, headers={"If-None-Match": etag})
    assert repeat.status_code == 304
    assert repeat.get_data() == b""
    assert repeat.headers["ETag"] == etag
    assert "public" in repeat.headers["Cache-Control"]
    # Another page of the composite list is another body.
    assert client.get(url + "?page=2").headers["ETag"] != etag


def test_a_repeat_costs_one_small_query_and_reads_no_entry(client, world):
    url = board_url(world["plan"])
    etag = client.get(url).headers["ETag"]  # rendered and stored
    with Statements() as stored_hit:
        assert client.get(url).status_code == 200
    with Statements() as revalidated:
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    for seen in (stored_hit, revalidated):
        assert len(seen.sql) == 1, seen.sql  # the pointers with their runs
        assert "run_entries" not in seen.sql[0]


def test_a_new_run_gives_a_new_etag(client, world):
    plan, evaluator = world["plan"], world["evaluator"]
    url = board_url(plan)
    preview = client.get(url)
    assert 'id="preview-banner"' in text_of(preview)
    official_run(plan, evaluator, publish=True)
    published = client.get(url, headers={"If-None-Match": preview.headers["ETag"]})
    assert published.status_code == 200
    assert published.headers["ETag"] != preview.headers["ETag"]
    assert 'id="official-banner"' in text_of(published)


def test_a_status_change_of_the_same_run_gives_a_new_etag(client, world):
    plan, evaluator = world["plan"], world["evaluator"]
    # Under publicity (公示, a period that has ended) the list is public; publishing it
    # changes its banner.
    run = official_run(plan, evaluator, publicity_start=local_today() - timedelta(days=20))
    url = f"/leaderboards/runs/{run.id}"
    under_publicity = client.get(url)
    assert under_publicity.status_code == 200
    assert 'data-list-kind="publicity"' in text_of(under_publicity)
    publicity.publish_run(run, evaluator)
    _db.session.commit()
    published = client.get(url, headers={"If-None-Match": under_publicity.headers["ETag"]})
    assert published.status_code == 200
    assert published.headers["ETag"] != under_publicity.headers["ETag"]
    assert 'data-list-kind="official"' in text_of(published)


def test_a_superseded_run_is_still_served_at_its_own_url(client, world):
    plan, evaluator = world["plan"], world["evaluator"]
    old = official_run(plan, evaluator, publish=True)
    old_page = client.get(f"/leaderboards/runs/{old.id}")
    assert old_page.status_code == 200
    leader = world["users"]["甲领跑空调有限公司"]
    decl_id = _db.session.scalar(
        select(Declaration.id).where(Declaration.enterprise_id == leader.enterprise_id)
    )
    new = publicity.record_removal(old, [decl_id], "抽查不合格（2025-06-01）")
    _db.session.commit()
    assert old.status is RunStatus.SUPERSEDED

    again = client.get(f"/leaderboards/runs/{old.id}")
    assert again.status_code == 200
    html = text_of(again)
    assert f'data-run="{old.id}"' in html
    assert 'id="removed-leaders"' not in html  # this version still lists the leader
    assert f'data-leader="{decl_id}"' in html
    assert again.headers["ETag"] != old_page.headers["ETag"]  # its status changed
    # Superseded is final: the page may be kept a long time.
    assert "max-age=86400" in again.headers["Cache-Control"]
    assert client.get(f"/leaderboards/runs/{old.id}",
                      headers={"If-None-Match": again.headers["ETag"]}).status_code == 304

    current = text_of(client.get(board_url(plan)))
    assert f'data-run="{new.id}"' in current and 'id="removed-leaders"' in current
    assert f'href="/leaderboards/runs/{new.id}"' in current  # its permanent link


def test_a_run_that_is_not_public_has_no_public_url(client, login_as, world):
    plan, evaluator = world["plan"], world["evaluator"]
    run = official_run(plan, evaluator)  # computed: not under publicity yet
    assert client.get(f"/leaderboards/runs/{run.id}").status_code == 404
    assert client.get(f"/leaderboards/runs/{run.id}/export.csv").status_code == 404
    login_as(evaluator)
    own = client.get(f"/leaderboards/runs/{run.id}")
    assert own.status_code == 200
    assert "private" in own.headers["Cache-Control"] and "ETag" not in own.headers


def test_the_language_gives_another_body_and_etag(client, world):
    url = board_url(world["plan"])
    english = client.get(url + "?lang=en")
    chinese = client.get(url + "?lang=zh")
    assert english.headers["ETag"] != chinese.headers["ETag"]
    assert "Composite ranking" in text_of(english)
    assert "Composite ranking" not in text_of(chinese)
    # The language chosen in the session (no ?lang=) counts too.
    plain_en = client.get(url)
    client.get("/lang/zh?next=/")
    plain_zh = client.get(url, headers={"If-None-Match": plain_en.headers["ETag"]})
    assert plain_zh.status_code == 200
    assert plain_zh.headers["ETag"] != plain_en.headers["ETag"]
    assert "Cookie" in plain_zh.headers.get("Vary", "")


class TestNothingPersonalIsShared:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_logged_in_pages_are_private_and_anonymous_ones_hold_no_user_part(
        self, app, make_user, world
    ):
        url = board_url(world["plan"])
        enterprise = world["users"]["甲领跑空调有限公司"]
        user_client = app.test_client()
        with user_client.session_transaction() as sess:
            sess["_user_id"] = str(enterprise.id)
            sess["_fresh"] = True
        mine = user_client.get(url)
        assert mine.status_code == 200
        html = text_of(mine)
        assert "private" in mine.headers["Cache-Control"]
        assert "ETag" not in mine.headers
        who = f'<span class="who">{enterprise.display_name or enterprise.username}</span>'
        assert who in html and 'name="csrf_token"' in html  # the logout form

        visitor = app.test_client()
        shared = visitor.get(url)
        body = text_of(shared)
        assert "public" in shared.headers["Cache-Control"]
        assert who not in body and "Log out" not in body
        assert 'name="csrf_token"' not in body and '<meta name="csrf-token" content="">' in body
        assert "Set-Cookie" not in shared.headers  # no session made for the visitor
        # The same visitor logged in afterwards is not served the shared body.
        with visitor.session_transaction() as sess:
            sess["_user_id"] = str(enterprise.id)
            sess["_fresh"] = True
        after = visitor.get(url, headers={"If-None-Match": shared.headers["ETag"]})
        assert after.status_code == 200 and who in text_of(after)


def test_a_visitor_with_a_flash_message_gets_a_page_of_their_own(client, world):
    url = board_url(world["plan"])
    etag = client.get(url).headers["ETag"]
    with client.session_transaction() as sess:
        sess["_flashes"] = [("info", "Your objection is filed.")]
    resp = client.get(url, headers={"If-None-Match": etag})
    assert resp.status_code == 200
    assert "Your objection is filed." in text_of(resp)
    assert "private" in resp.headers["Cache-Control"]


def test_urls_with_foreign_arguments_are_served_but_not_stored(client, world):
    url = board_url(world["plan"]) + "?utm_source=x"
    resp = client.get(url)
    assert resp.status_code == 200 and "public" in resp.headers["Cache-Control"]
    assert page_cache.stored(resp.headers["ETag"].strip('"')) is None
    kept = client.get(board_url(world["plan"]))
    assert page_cache.stored(kept.headers["ETag"].strip('"')) is not None


def test_a_store_that_is_down_costs_speed_not_the_page(client, world, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(page_cache.cache, "get", down)
    monkeypatch.setattr(page_cache.cache, "set", down)
    resp = client.get(board_url(world["plan"]))
    assert resp.status_code == 200 and 'id="leaderboard"' in text_of(resp)


def test_charts_and_tiers_are_built_once_per_run_for_every_page(client, world):
    url = board_url(world["plan"])
    client.get(url)
    with Statements() as other_page:
        assert client.get(url + "?page=2").status_code == 200
    # build_board's read of every eligible entry (by enterprise name) is not made again.
    assert other_page.sql and not any("ORDER BY enterprises.name" in s for s in other_page.sql)
    with Statements() as first_build:
        client.get(url + "?lang=zh")  # another language: built once more
    assert any("ORDER BY enterprises.name" in s for s in first_build.sql)


def test_export_of_a_public_run_is_validated_like_its_page(client, login_as, world):
    plan, evaluator = world["plan"], world["evaluator"]
    run = official_run(plan, evaluator, publish=True)
    url = f"/leaderboards/runs/{run.id}/export.csv"
    first = client.get(url)
    assert first.status_code == 200 and "public" in first.headers["Cache-Control"]
    assert first.headers["Content-Disposition"].startswith("attachment;")
    repeat = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert repeat.status_code == 304
    assert client.get(url).get_data() == first.get_data()
    excluded = next(line for line in first.get_data(as_text=True).splitlines()
                    if "丁明示空调有限公司" in line)
    assert excluded.endswith(",否,,")  # not eligible; no exclusion reason for the public
    login_as(evaluator)
    own = client.get(url)
    assert "private" in own.headers["Cache-Control"] and "ETag" not in own.headers
    reasons = next(line for line in own.get_data(as_text=True).splitlines()
                   if "丁明示空调有限公司" in line)
    assert not reasons.endswith(",否,,")  # the evaluation body sees why


def test_leaderboard_list_is_paginated_and_reads_no_json(client, app, db, make_user, en):
    cat = make_category()
    evaluator = make_user(Role.EVALUATOR)
    first = make_plan(evaluator, cat, title="第一方案")
    second = make_plan(evaluator, cat, title="第二方案")
    app.config["LEADERBOARDS_PER_PAGE"] = 1
    with Statements() as seen:
        page1 = text_of(client.get("/leaderboards"))
    page2 = text_of(client.get("/leaderboards?page=2"))
    titles = {first.title, second.title}
    shown1 = {t for t in titles if t in page1}
    shown2 = {t for t in titles if t in page2}
    assert len(shown1) == len(shown2) == 1 and shown1 != shown2
    assert "Page 1 of 2" in page1 and 'rel="next"' in page1 and "/leaderboards?page=2" in page1
    assert 'data-list-kind="preview"' in page1
    sql = " ".join(seen.sql)
    for json_column in ("entry_rules", "leader_rule", "indicator_status", "notes"):
        assert json_column not in sql
    assert len(seen.sql) == 3  # the page, its count, the current runs of its plans

    resp = client.get("/leaderboards")
    assert "public" in resp.headers["Cache-Control"]
    assert client.get("/leaderboards", headers={"If-None-Match": resp.headers["ETag"]}
                      ).status_code == 304
