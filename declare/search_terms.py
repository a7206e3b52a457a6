"""The one tokeniser of the public search, shared by the index (both databases) and the query.

Chinese has no spaces, so a word cannot be found by splitting on them: like the CJK analyzers
of search engines, every run of CJK characters is indexed as its single characters (unigrams)
and its overlapping pairs (bigrams). A one-character query looks up a unigram, a longer one
the AND of its bigrams, so every query of any length is an index lookup (pg_trgm and the FTS5
trigram tokenizer cannot answer one or two characters).

Latin letters and digits are split into *atoms*: maximal runs of letters or of digits, so
``KFR-35GW/BP3`` is ``kfr 35 gw bp 3`` and ``Q/ABC 001-2024`` and ``Q/ABC001-2024`` are both
``q abc 001 2024``: model numbers and standard numbers match with or without their ``/``,
``-`` and spaces. The last atom of a query that ends in it is a prefix (``KFR-35G`` finds
``KFR-35GW``) when it has at least two characters (a one-character prefix would read half the
index).

Text is NFKC-normalised (全角 ``ＫＦＲ－３５`` is ``KFR-35``) and lower-cased first. The filter
tokens (``c12`` category, ``r50`` region prefix) mix letters and digits, which no atom does,
so no text can collide with them. Pure functions: no Flask, no database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "Term",
    "category_token",
    "document_tokens",
    "filter_tokens",
    "normalise",
    "number_key",
    "query_terms",
    "region_token",
]

_CJK = (
    "\u3400-\u4dbf"  # Extension A
    "\u4e00-\u9fff"  # Unified Ideographs
    "\uf900-\ufaff"  # Compatibility Ideographs
    "\U00020000-\U0003134f"  # Extensions B–G
)
_RUNS = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<alpha>[^\W\d_{_CJK}]+)|(?P<digit>\d+)")
MAX_TOKEN = 40  # longer atoms (a pasted hash, a barcode run) are cut, not refused
MAX_QUERY_TERMS = 24  # more ANDed terms add no precision, only work
MIN_PREFIX = 2
MAX_PREFIX = 6  # prefixes up to this length are tokens of their own (see prefix_token)


class Term(NamedTuple):
    """One lookup of a query: an index token, optionally as a prefix."""

    text: str
    prefix: bool = False


def normalise(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def number_key(number: str | None) -> str:
    """A standard number as compared for the exact-number rank: NFKC, upper case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", number or "")).upper()


def _cjk_grams(run: str, *, unigrams: bool) -> list[str]:
    grams = [run[i : i + 2] for i in range(len(run) - 1)]
    if unigrams or len(run) == 1:
        grams = list(run) + grams
    return grams


def prefix_token(start: str) -> str:
    """The token standing for "an atom starting with ``start``" (2–6 characters).

    A prefix lookup in GIN (``'gw':*``) must read every matching lexeme's whole posting list
    before it can intersect (``GW`` starts most air-conditioner models): 30 ms at 200,000
    declarations. Indexing each short prefix as a token makes it one exact lookup. The marker
    mixes letters and digits (``0gw`` for letters, ``p24`` for digits), which no atom does.
    """
    return ("p" if start[0].isdigit() else "0") + start


def document_tokens(texts: Iterable[str | None]) -> list[str]:
    """Every index token of the texts (unigrams and bigrams of CJK, atoms and the 2–6
    character prefixes of atoms), each once."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in _RUNS.finditer(normalise(text)):
            run = match.group()
            if match.lastgroup == "cjk":
                for gram in _cjk_grams(run, unigrams=True):
                    seen.setdefault(gram, None)
                continue
            seen.setdefault(run[:MAX_TOKEN], None)
            for n in range(MIN_PREFIX, min(len(run), MAX_PREFIX) + 1):
                seen.setdefault(prefix_token(run[:n]), None)
    return list(seen)


def query_terms(q: str | None) -> list[Term]:
    """The ANDed lookups of a query; [] when it has no letter, digit or CJK character."""
    text = normalise(q).rstrip()
    matches = list(_RUNS.finditer(text))
    terms: dict[str, Term] = {}
    for i, match in enumerate(matches):
        run = match.group()
        if match.lastgroup == "cjk":
            for gram in _cjk_grams(run, unigrams=False):
                terms.setdefault(gram, Term(gram))
            continue
        atom = run[:MAX_TOKEN]
        last = i == len(matches) - 1 and match.end() == len(text)
        if last and MIN_PREFIX <= len(atom) <= MAX_PREFIX:
            terms.pop(atom, None)
            token = prefix_token(atom)
            terms[token] = Term(token)  # an exact lookup of the indexed prefix
        elif last and len(atom) > MAX_PREFIX:
            terms[atom] = Term(atom, prefix=True)  # long prefixes are rare: cheap in the index
        else:
            terms.setdefault(atom, Term(atom))
    return list(terms.values())[:MAX_QUERY_TERMS]


def category_token(category_id: int) -> str:
    return f"c{int(category_id)}"


def region_token(prefix: str) -> str:
    return f"r{prefix}"


def filter_tokens(region_code: str | None, category_ids: Iterable[int]) -> list[str]:
    """Filter tokens of a document: its categories and every 2–6 digit prefix of its region."""
    region = (region_code or "").strip()
    tokens = [region_token(region[:n]) for n in range(2, len(region) + 1) if region[:n].isdigit()]
    tokens += [category_token(c) for c in sorted({int(c) for c in category_ids if c is not None})]
    return tokens
