"""Copy detection (supervision.flags.copying) on the labelled set that ships with the tests
(tests/supervision/data/copy_labelled_set.json, built by tests/supervision/copy_corpus.py:
planted copies with light edits among independent standards of the same categories).

Measured (issue 9, finding 7): precision 1.000 and recall 1.000 (36 of 36 planted copies,
no other pair of the 3,744 negatives flagged); the whole-document comparison it replaces
(3-gram Jaccard ≥ 0.85 of the text or the table) flags 204 pairs: precision 0.176.
"""

from __future__ import annotations

import itertools

import pytest

from supervision.flags import copying, similarity
from tests.supervision import copy_corpus

MIN_PRECISION = MIN_RECALL = 0.95


@pytest.fixture(scope="module")
def labelled() -> dict:
    return copy_corpus.load()


def _pairs(matches) -> set[frozenset]:
    return {frozenset((m.declaration_id, m.other_declaration_id)) for m in matches}


def _run(labelled: dict, detect) -> tuple[float, float, set, set]:
    positives = {frozenset(p) for p in labelled["positives"]}
    flagged: set[frozenset] = set()
    for category in sorted({d["category"] for d in labelled["documents"]}):
        group = [d for d in labelled["documents"] if d["category"] == category]
        flagged |= detect(group, labelled["forced"][category])
    hits = flagged & positives
    precision = len(hits) / len(flagged) if flagged else 1.0
    return precision, len(hits) / len(positives), flagged, positives


def _new(group: list[dict], forced: str) -> set[frozenset]:
    docs = [copying.Document(d["id"], d["enterprise"], d["text"], d["rows"]) for d in group]
    return _pairs(copying.find_copies(docs, forced_text=forced))


def _whole_documents(group: list[dict], forced: str) -> set[frozenset]:
    """The comparison before issue 9: whole texts and whole tables, Jaccard ≥ 0.85."""
    text = {d["id"]: similarity.shingles(d["text"]) for d in group}
    table = {d["id"]: similarity.shingles(similarity.indicator_table_text(d["rows"]))
             for d in group}
    return {
        frozenset((a["id"], b["id"]))
        for a, b in itertools.combinations(group, 2)
        if similarity.jaccard(text[a["id"]], text[b["id"]]) >= 0.85
        or similarity.jaccard(table[a["id"]], table[b["id"]]) >= 0.85
    }


def test_the_labelled_set_is_the_generators_output(labelled):
    assert copy_corpus.build(labelled["seed"]) == labelled
    assert len(labelled["documents"]) == 216 and len(labelled["positives"]) == 36


def test_precision_and_recall_on_the_labelled_set(labelled):
    precision, recall, flagged, positives = _run(labelled, _new)
    print(f"copy detection: precision {precision:.3f}, recall {recall:.3f} "
          f"({len(flagged & positives)} of {len(positives)} copies, {len(flagged)} flagged)")
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL
    assert (precision, recall) == (1.0, 1.0)  # the figures in the README


def test_the_whole_document_comparison_was_mostly_noise(labelled):
    precision, recall, flagged, _ = _run(labelled, _whole_documents)
    assert recall == 1.0 and precision < 0.25 and len(flagged) == 204


def test_every_match_shows_the_passages_side_by_side(labelled):
    group = [d for d in labelled["documents"] if d["category"] == "gas_heater"]
    docs = [copying.Document(d["id"], d["enterprise"], d["text"], d["rows"]) for d in group]
    matches = copying.find_copies(docs, forced_text=labelled["forced"]["gas_heater"])
    assert matches
    for m in matches:
        assert m.passages and m.shared > 0 and 0 < m.score <= 1
        for p in m.passages:
            assert p["a"] and p["b"]
        if m.subject == "text":
            assert all(p["similarity"] >= 0.5 for p in m.passages)
        else:
            assert all(set(p["fields"]) <= {"value", "text", "method", "name"}
                       for p in m.passages)
    # Both directions, with the sides swapped.
    by_pair = {(m.declaration_id, m.other_declaration_id, m.subject): m for m in matches}
    for (a, b, subject), m in by_pair.items():
        back = by_pair[(b, a, subject)]
        assert [(p["a"], p["b"]) for p in m.passages] == [(p["b"], p["a"])
                                                           for p in back.passages]


def test_queries_limit_the_search_and_an_enterprise_may_reuse_its_own(labelled):
    group = [d for d in labelled["documents"] if d["category"] == "faucet"]
    docs = [copying.Document(d["id"], d["enterprise"], d["text"], d["rows"]) for d in group]
    original, copy = next(p for p in labelled["positives"]
                          if p[0] in {d["id"] for d in group})
    found = copying.find_copies(docs, [copy], forced_text=labelled["forced"]["faucet"])
    assert {m.declaration_id for m in found} == {original, copy}
    # The same enterprise's two standards are never a copy.
    same = [copying.Document(1, 7, docs[0].text, docs[0].rows),
            copying.Document(2, 7, docs[0].text, docs[0].rows)]
    assert copying.find_copies(same) == []


def test_common_content_alone_is_not_a_copy():
    rows = [{"name": "噪声", "op": "le", "value": 40, "unit": "dB(A)", "test_method": "按 GB/T 7725"}]
    text = "本标准规定了房间空气调节器的术语和定义、要求、试验方法、检验规则、标志、包装、运输和贮存。" * 3
    docs = [copying.Document(i, i, text, rows) for i in range(1, 6)]  # five enterprises alike
    assert copying.find_copies(docs) == []


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="unknown copy-detection setting"):
        copying.find_copies([], settings={"treshold": 0.5})
