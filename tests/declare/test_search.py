"""The public search index (declare.search): tokens, ranks, filters, freshness, rebuild.

Runs on SQLite (FTS5) and, with TEST_DATABASE_URL, on PostgreSQL (tsvector + GIN): the same
assertions hold on both.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from core.extensions import db
from declare import operations, queries, search
from declare.search import SearchDocument
from declare.search_terms import Term, document_tokens, number_key, query_terms
from tests.declare import en_request_fixture, publish_enterprise  # noqa: F401
from tests.factories import make_enterprise_user


# -- the tokeniser (pure) -------------------------------------------------------------------------


def test_document_tokens_are_cjk_unigrams_bigrams_and_latin_digit_atoms():
    assert document_tokens(["海尔冰箱", "KFR-35GW/BP3"]) == [
        "海", "尔", "冰", "箱", "海尔", "尔冰", "冰箱",
        "kfr", "0kf", "0kfr", "35", "p35", "gw", "0gw", "bp", "0bp", "3",
    ]
    # full-width is NFKC-folded; prefixes of 2 to 6 characters are tokens of their own
    assert document_tokens(["ＫＦＲ－２０２４０１０"]) == [
        "kfr", "0kf", "0kfr", "2024010", "p20", "p202", "p2024", "p20240", "p202401",
    ]


def test_query_terms_use_unigrams_for_one_character_and_bigrams_beyond():
    assert query_terms("冰") == [Term("冰")]
    assert query_terms("冰箱") == [Term("冰箱")]
    assert query_terms("节能冰箱") == [Term("节能"), Term("能冰"), Term("冰箱")]
    assert query_terms("KFR-35G") == [Term("kfr"), Term("35"), Term("g")]
    assert query_terms("KFR-35GW") == [Term("kfr"), Term("35"), Term("0gw")]
    assert query_terms("KFR-35") == [Term("kfr"), Term("p35")]
    assert query_terms("Haier-WASHING") == [Term("haier"), Term("washing", prefix=True)]
    assert query_terms("%%") == []
    assert query_terms("Q/ABC 001-2024") == query_terms("Q/ABC001-2024")
    assert number_key("Q/ABC 001-2024") == number_key("q/abc001-2024") == "Q/ABC001-2024"


# -- the index on the database --------------------------------------------------------------------


def _product(catalogue, name, model, brand="", category="room_ac"):
    return {"name": name, "model": model, "brand": brand, "category_id": catalogue[category].id}


@pytest.fixture
def corpus(db, en_request, catalogue):
    """Five published declarations with Chinese names, models and numbers."""
    haier = make_enterprise_user(region="370212", name="青岛海尔空调器有限总公司").enterprise
    gree = make_enterprise_user(region="440400", name="珠海格力电器股份有限公司").enterprise
    wash = make_enterprise_user(region="500112", name="重庆卫浴洁具有限公司").enterprise
    made = {
        "haier": publish_enterprise(
            haier, catalogue, std_code="Q/HE 0101-2024", std_name="变频房间空气调节器",
            products=[_product(catalogue, "节能变频空调", "KFR-35GW/BP3DN1", brand="海尔")],
        ),
        "gree": publish_enterprise(
            gree, catalogue, std_code="Q/GL 0007-2023", std_name="家用空调器",
            products=[_product(catalogue, "云佳挂机", "KFR-26GW/NhGa1B", brand="格力")],
        ),
        # Its standard's *name* says 海尔 but neither its enterprise nor products do: rank 2.
        "text_only": publish_enterprise(
            wash, catalogue, std_code="Q/CQ 0002-2024", std_name="适配海尔挂机的支架",
            products=[_product(catalogue, "空调支架", "ZJ-01")],
        ),
    }
    toilet = {
        "std_code": "Q/CQ 0003-2024", "std_name": "节水坐便器", "reference_ids": [],
        "products": [_product(catalogue, "节水坐便器", "WC-100", category="toilet")],
    }
    toilet_indicator = {
        "name": "平均用水量", "benchmark_indicator_id": catalogue["avg_water"].id,
        "op": "le", "value": 3.9, "unit": "L",
    }
    from tests.declare import enterprise_data

    data = enterprise_data(catalogue, **toilet)
    data["indicators"][0].update(toilet_indicator)
    made["toilet"] = publish_enterprise(
        wash, catalogue, **{k: data[k] for k in ("std_code", "std_name", "reference_ids",
                                                 "products", "indicators")}
    )
    return made


def numbers(**kw) -> list[str]:
    return [v.number for v in queries.published_versions(**kw).items]


def test_one_two_and_many_character_chinese_queries(corpus):
    assert set(numbers(q="洁")) == {"Q/CQ 0002-2024", "Q/CQ 0003-2024"}  # 重庆卫浴洁具
    assert numbers(q="坐便") == ["Q/CQ 0003-2024"]
    assert numbers(q="节水坐便器") == ["Q/CQ 0003-2024"]
    assert numbers(q="珠海格力电器股份") == ["Q/GL 0007-2023"]
    assert numbers(q="变频空调") == ["Q/HE 0101-2024"]
    assert numbers(q="冰淇淋") == []  # no match is an empty page, not an error
    assert queries.published_versions(q="冰淇淋").total == 0


def test_mixed_chinese_and_latin_and_model_numbers(corpus):
    assert numbers(q="海尔 KFR-35GW") == ["Q/HE 0101-2024"]
    assert numbers(q="KFR-35GW/BP3DN1") == ["Q/HE 0101-2024"]
    assert numbers(q="kfr35gw") == ["Q/HE 0101-2024"]  # without the separators
    assert numbers(q="KFR-26GW/Nh") == ["Q/GL 0007-2023"]  # a prefix of the model
    assert set(numbers(q="KFR")) == {"Q/HE 0101-2024", "Q/GL 0007-2023"}
    assert numbers(q="ＷＣ－１００") == ["Q/CQ 0003-2024"]  # full-width
    assert numbers(q="格力 KFR-35") == []  # every term must match


def test_standard_numbers_with_and_without_spaces(corpus):
    for q in ("Q/HE 0101-2024", "Q/HE0101-2024", "q/he0101-2024", "Q/HE 0101"):
        assert numbers(q=q) == ["Q/HE 0101-2024"], q


def test_relevance_exact_number_then_names_then_text(corpus, catalogue):
    # 海尔 in the enterprise name (rank 1) before 海尔 in a standard's name only (rank 2),
    # although the rank-2 declaration was published later.
    assert numbers(q="海尔") == ["Q/HE 0101-2024", "Q/CQ 0002-2024"]
    # A declaration whose number is exactly the query comes first, before newer ones that
    # merely contain its atoms.
    other = make_enterprise_user(name="海尔配件厂").enterprise
    publish_enterprise(other, catalogue, std_code="Q/HE 0101-2025", std_name="配件")
    assert numbers(q="Q/HE 0101-2024")[0] == "Q/HE 0101-2024"
    assert numbers(q="Q/HE 0101-2025")[0] == "Q/HE 0101-2025"
    assert numbers(q="海尔")[-1] == "Q/CQ 0002-2024"


def test_filters_category_region_kind_and_status(corpus, catalogue):
    assert numbers(category_id=catalogue["toilet"].id) == ["Q/CQ 0003-2024"]
    assert numbers(q="节水", category_id=catalogue["room_ac"].id) == []
    assert set(numbers(region="50")) == {"Q/CQ 0002-2024", "Q/CQ 0003-2024"}
    assert numbers(region="440000") == ["Q/GL 0007-2023"]
    assert numbers(q="空调", region="3702") == ["Q/HE 0101-2024"]
    assert numbers(kind="catalogue") == []
    assert len(numbers(kind="enterprise")) == 4
    assert numbers(status="abolished") == []
    with pytest.raises(ValueError, match="status must be one of"):
        queries.published_versions(status="draft")


def test_pages_follow_the_ranks_and_counts_are_exact_below_the_cap(corpus):
    first = queries.published_versions(q="空", per_page=2, page=1)
    second = queries.published_versions(q="空", per_page=2, page=2)
    assert first.total == second.total == 3 and not first.approximate
    assert first.pages == 2 and len(first.items) == 2 and len(second.items) == 1
    seen = [v.number for v in first.items + second.items]
    assert len(set(seen)) == 3


def test_count_above_the_cap_is_an_estimate(corpus, monkeypatch):
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    page = queries.published_versions(per_page=2)
    assert page.approximate and page.total >= 3
    assert queries.published_versions(q="空", per_page=1).approximate
    assert queries.published_versions(q="坐便").approximate is False


def test_the_window_of_newest_rows_finds_the_same_pages_as_every_match(corpus, catalogue,
                                                                     monkeypatch):
    """A query with many matches tests a window of the newest rows first and reads a rank the
    window leaves short in full: the pages are those of reading every match."""
    for i in range(4):  # newer declarations matching 空 in their text only (rank 2)
        publish_enterprise(make_enterprise_user(name=f"支架厂{i}").enterprise, catalogue,
                           std_code=f"Q/ZJ {i:04d}-2025", std_name="空调支架")
    queries_ = ["空", "空调", "海尔", "KFR", "Q/HE 0101-2024", "支架"]

    def pages(q):
        return [[v.number for v in queries.published_versions(q=q, per_page=2, page=n).items]
                for n in (1, 2, 3, 4)]

    plain = {q: pages(q) for q in queries_}
    windows = []
    real = search._newest_by_rank

    def spy(base, ranks, need, *, recent_first):
        windows.append(recent_first)
        return real(base, ranks, need, recent_first=recent_first)

    monkeypatch.setattr(search, "_newest_by_rank", spy)
    monkeypatch.setattr(search, "COUNT_CAP", 1)  # every query with 2+ matches: the window
    monkeypatch.setattr(search, "RECENT_WINDOW", 3)  # ... which is short for most ranks
    assert {q: pages(q) for q in queries_} == plain
    assert any(windows) and not all(windows)
    assert plain["Q/HE 0101-2024"][0] == ["Q/HE 0101-2024"]


def test_index_follows_publish_revise_and_abolish(corpus, catalogue):
    version = corpus["gree"]
    declaration = version.declaration
    revision = operations.start_revision(declaration)
    db.session.commit()
    assert numbers(q="云佳") == ["Q/GL 0007-2023"]  # a draft changes nothing yet
    operations.update_draft(
        revision,
        {**_draft_of(revision), "products": [_product(catalogue, "冷静王柜机", "KFR-72LW/NhAa")]},
        revision.lock_version,
    )
    operations.publish(revision)
    db.session.commit()
    assert numbers(q="云佳") == []
    assert numbers(q="冷静王") == ["Q/GL 0007-2023"]
    row = db.session.get(SearchDocument, declaration.id)
    assert row.version_id == revision.id and row.status == "published"

    operations.abolish(declaration, "产品停产")
    db.session.commit()
    assert numbers(q="冷静王") == []
    assert numbers(q="冷静王", status="abolished") == ["Q/GL 0007-2023"]


def test_a_rolled_back_publication_leaves_the_index_unchanged(corpus, catalogue):
    ent = make_enterprise_user(name="回滚测试企业").enterprise
    draft = operations.create_draft(
        ent, __import__("tests.declare", fromlist=["enterprise_data"]).enterprise_data(
            catalogue, std_code="Q/RB 0001-2024"
        )
    )
    db.session.commit()
    assert numbers(q="回滚") == []
    from tests.declare import pdf_bytes, upload

    operations.attach_text(draft, upload(pdf_bytes()))
    operations.publish(draft)
    assert db.session.scalar(select(func.count()).select_from(SearchDocument)) == 5
    db.session.rollback()
    assert numbers(q="回滚") == []


def _draft_of(version) -> dict:
    from declare.operations import _data_of

    return _data_of(version)


def test_rebuild_command_restores_the_index(corpus, app):
    db.session.execute(SearchDocument.__table__.delete())
    db.session.commit()
    assert numbers(q="海尔") == []
    result = app.test_cli_runner().invoke(args=["search", "rebuild", "--batch-size", "100"])
    assert result.exit_code == 0, result.output
    assert "search index rebuilt: 4 declarations" in result.output
    assert numbers(q="海尔") == ["Q/HE 0101-2024", "Q/CQ 0002-2024"]
    assert numbers(q="KFR-26GW/Nh") == ["Q/GL 0007-2023"]


def test_a_slow_search_is_a_clear_message_on_page_and_api(corpus, client, monkeypatch):
    real = search._time_limit

    def slow(ms):
        return real(1)

    def stall(*a, **kw):
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SELECT pg_sleep(0.2)"))
        else:
            db.session.execute(
                text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < 50000000) SELECT count(*) FROM n"
                )
            )

    monkeypatch.setattr(search, "_time_limit", slow)
    monkeypatch.setattr(search, "_estimate", stall)
    monkeypatch.setattr(search, "COUNT_CAP", 0)
    page = client.get("/declarations?q=空调&lang=en")
    assert page.status_code == 422
    assert "This search took too long" in page.get_data(as_text=True)
    api = client.get("/api/v1/declarations?q=空调&lang=en")
    assert api.status_code == 422
    assert "took too long" in api.get_json()["errors"]["query"]["q"][0]


def test_page_and_api_keep_their_parameters_and_show_counts(corpus, client, catalogue):
    page = client.get(f"/declarations?q=坐便&region=50&category_id={catalogue['toilet'].id}")
    assert page.status_code == 200
    assert "Q/CQ 0003-2024" in page.get_data(as_text=True)
    abolished = client.get("/declarations?status=abolished")
    assert abolished.status_code == 200
    assert client.get("/declarations?status=draft").status_code == 400
    api = client.get("/api/v1/declarations?q=KFR-35GW")
    assert api.status_code == 200
    assert [d["id"] for d in api.get_json()] == [corpus["haier"].declaration_id]
    assert client.get("/api/v1/declarations?status=draft").status_code == 422
