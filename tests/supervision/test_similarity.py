"""Near-identical standards: normalisation, MinHash accuracy and LSH recall."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from supervision.flags.similarity import (
    NUM_PERM,
    SimilarityIndex,
    estimate,
    indicator_table_text,
    jaccard,
    normalize,
    shingles,
    signature,
)

FRIDGE = (
    "本标准规定了家用电冰箱的术语和定义、产品分类、要求、试验方法、检验规则、标志、包装、"
    "运输和贮存。本标准适用于额定容积不大于1500 L的家用电冰箱。能效等级为1级，"
    "耗电量不大于0.45 kWh/24h，噪声不大于38 dB(A)，冷冻能力不小于4.5 kg/12h。"
    "检验方法按GB/T 8059-2016的规定进行，出厂检验每批抽取2台。"
)
FRIDGE_RESTYLED = (
    "本标准规定了家用电冰箱的术语和定义,产品分类,要求,试验方法,检验规则,标志,包装,"
    "运输和贮存.  本标准适用于额定容积不大于１５００Ｌ的家用电冰箱.\n能效等级为１级 "
    "耗电量不大于０．４５ｋＷｈ／２４ｈ；噪声不大于３８ｄＢ（Ａ）；冷冻能力不小于４．５ｋｇ／１２ｈ."
    "检验方法按 GB／T ８０５９—２０１６ 的规定进行，出厂检验每批抽取２台。"
)
BOILER = (
    "本文件规定了工业锅炉用燃烧器的型号编制、技术要求、试验方法和检验规则。燃烧器应"
    "在额定负荷下连续运行七十二小时无故障，排烟温度应符合设计文件，烟气中一氧化碳含量"
    "应低于限值。点火装置应可靠，熄火保护时间不应超过规定值，控制系统应具备自检功能。"
)

# Common characters of Chinese technical text, for random documents.
POOL = np.array(list(
    "的一是在不了有和人这中大为上个国以要时来用们生到作地于出分对成可主发年动同工也能下过"
    "产种面而方后多定行法所得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体"
    "制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各"
    "重新线内数正心反明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最"
    "立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级"
))  # fmt: skip


def random_doc(rng: np.random.Generator, length: int = 300) -> str:
    return "".join(rng.choice(POOL, size=length))


def test_normalize_folds_width_and_drops_spaces_and_punctuation():
    assert normalize("ＧＢ／Ｔ　８０５９—２０１６，第３.２条。") == "gbt80592016第3.2条"
    assert normalize("耗电量 0.45 kWh") == normalize("耗电量０．４５ｋＷｈ") == "耗电量0.45kwh"
    assert normalize("3.5") != normalize("35")  # a decimal point between digits is kept
    assert normalize("结束.") == "结束"


def test_trivial_changes_score_at_least_0_9():
    a, b = signature(FRIDGE), signature(FRIDGE_RESTYLED)
    assert a.dtype == np.uint32 and a.shape == (NUM_PERM,)
    assert jaccard(shingles(FRIDGE), shingles(FRIDGE_RESTYLED)) == 1.0
    assert estimate(a, b) >= 0.9
    edited = FRIDGE_RESTYLED.replace("每批抽取２台", "每批抽取３台")  # one real edit as well
    assert estimate(a, signature(edited)) >= 0.9


def test_unrelated_texts_score_low():
    assert estimate(signature(FRIDGE), signature(BOILER)) < 0.1
    rng = np.random.default_rng(1)
    assert estimate(signature(random_doc(rng)), signature(random_doc(rng))) < 0.1


def test_minhash_estimate_is_close_to_the_exact_jaccard():
    """40 random pairs spanning similarities 0..1 (fixed seed): error within 0.1 each."""
    rng = np.random.default_rng(7)
    errors, exacts = [], []
    for _ in range(40):
        base = random_doc(rng, 600)
        cut = int(rng.integers(0, 600))
        other = base[:cut] + random_doc(rng, 600 - cut)  # shares a prefix of random length
        exact = jaccard(shingles(base), shingles(other))
        errors.append(abs(estimate(signature(base), signature(other)) - exact))
        exacts.append(exact)
    assert min(exacts) < 0.2 and max(exacts) > 0.8  # the pairs cover the range
    assert max(errors) <= 0.1
    assert float(np.mean(errors)) < 0.035  # standard error is at most 0.044 at J = 0.5


def test_query_excludes_the_same_enterprise_and_ranks_by_similarity():
    idx = SimilarityIndex(
        [
            ("own", "E1", signature(FRIDGE)),
            ("copy", "E2", signature(FRIDGE_RESTYLED)),
            ("boiler", "E3", signature(BOILER)),
        ]
    )
    hits = idx.query(signature(FRIDGE), "E1", threshold=0.8)
    assert [h[0] for h in hits] == ["copy"]
    assert hits[0][1] >= 0.9
    # from another enterprise's point of view both fridge texts are copies, best first
    hits = idx.query(signature(FRIDGE_RESTYLED.replace("２台", "５台")), "E9")
    assert {h[0] for h in hits} == {"own", "copy"}
    assert [h[1] for h in hits] == sorted((h[1] for h in hits), reverse=True)
    assert idx.query(signature(BOILER), "E3") == []


def test_lsh_finds_planted_near_duplicates_among_5000_documents():
    rng = np.random.default_rng(2026)
    docs = [random_doc(rng, int(rng.integers(150, 400))) for _ in range(5000)]
    sigs = np.vstack([signature(d) for d in docs])
    sources = rng.choice(5000, size=12, replace=False)
    idx = SimilarityIndex.from_arrays(np.arange(5000), np.arange(5000) // 3, sigs)
    assert len(idx) == 5000
    found = []
    for k, src in enumerate(sources.tolist()):
        text = list(docs[src])
        for pos in rng.choice(len(text), size=2, replace=False):  # two characters changed
            text[pos] = "鑫"
        copied = "，".join("".join(text[i : i + 20]) for i in range(0, len(text), 20))
        hits = idx.query(signature(copied), enterprise_id=f"copier-{k}", threshold=0.8)
        found.append(hits)
        assert [h[0] for h in hits] == [src]  # the source, and no unrelated document
        assert hits[0][1] >= 0.8
    # the first queries of an index scan the bands, later ones use a sorted band-hash lookup
    fresh = SimilarityIndex.from_arrays(np.arange(5000), np.arange(5000) // 3, sigs)
    probes = [signature(docs[int(s)]) for s in sources] * 2  # 24 queries
    answers = [fresh.query(p, "x", threshold=0.5) for p in probes]
    assert fresh._sorted is not None  # the later answers came from the sorted lookup
    assert answers[:12] == answers[12:]
    assert [a[0][0] for a in answers[:12]] == sources.tolist()


def test_exact_scores_when_the_index_holds_shingles():
    near = FRIDGE.replace("每批抽取2台", "每批抽取3台，型式检验每年一次")
    idx = SimilarityIndex([("copy", "E2", signature(near), shingles(near))])
    hits = idx.query(signature(FRIDGE), "E1", threshold=0.5, shingles=shingles(FRIDGE))
    assert hits == [("copy", pytest.approx(jaccard(shingles(FRIDGE), shingles(near))))]
    estimated = idx.query(signature(FRIDGE), "E1", threshold=0.5)
    assert abs(estimated[0][1] - hits[0][1]) <= 0.1


def test_indicator_table_text_is_canonical():
    rows = [
        {"name": "能效比", "op": "≥", "value": 3.50, "unit": "W/W", "test_method": "GB/T 7725"},
        {"name": "噪声", "op": "le", "value": 38, "unit": "dB(A)", "test_method": "GB/T 4214.1"},
        {"name": "待机功率", "op": "range", "low": 0.1, "high": 0.5, "unit": "W",
         "test_method": "附录A"},
    ]  # fmt: skip
    text = indicator_table_text(rows)
    assert text.splitlines()[0].startswith("噪声|le|38|")
    assert "能效比|ge|3.5||||w/w|gb/t 7725" in text
    restyled = [
        SimpleNamespace(name="待机功率", op="range", value=None, low="0.10", high=0.5,
                        text_value="", unit="W", test_method="附录Ａ"),
        SimpleNamespace(name=" 能效比 ", op=">=", value="3.5", low=None, high=None,
                        text_value=None, unit="W/W", test_method="GB/T  7725"),
        SimpleNamespace(name="噪声", op="≤", value=38.0, low=None, high=None,
                        text_value="", unit="dB(A)", test_method="GB/T 4214.1"),
    ]  # fmt: skip
    assert indicator_table_text(restyled) == text  # order, spacing, widths, number styles
    changed = [dict(rows[0], value=3.6), *rows[1:]]
    assert indicator_table_text(changed) != text
    assert estimate(signature(indicator_table_text(changed)), signature(text)) < 1.0


def test_empty_text_matches_nothing():
    empty = signature("  ，。 ")
    assert (empty == np.uint32(0xFFFFFFFF)).all()
    idx = SimilarityIndex([("a", "E1", empty), ("b", "E2", signature(FRIDGE))])
    assert idx.query(empty, "E3") == []
    assert shingles("ab").tolist() == [(ord("a") << 42) | (ord("b") << 21)]


def test_bad_input_is_refused_clearly():
    idx = SimilarityIndex([("a", "E1", signature(FRIDGE))])
    with pytest.raises(ValueError, match="signature must have 128 values"):
        idx.query(np.zeros(64, dtype=np.uint32), "E2")
    with pytest.raises(ValueError, match="threshold must be between 0 and 1"):
        idx.query(signature(FRIDGE), "E2", threshold=1.5)
    with pytest.raises(ValueError, match=r"item 0 \(id 'x'\): signature must have 128 values"):
        SimilarityIndex([("x", "E1", np.zeros(3))])
    with pytest.raises(ValueError, match="bands must divide num_perm"):
        SimilarityIndex(bands=30)
    with pytest.raises(TypeError, match="text must be a str"):
        signature(None)  # type: ignore[arg-type]
