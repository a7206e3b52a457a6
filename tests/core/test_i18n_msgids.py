"""One English msgid, one meaning: a msgid used in several modules or templates either carries a
message context there (``pgettext("inspection", "Result")``) or is on the reviewed list of
msgids known to mean the same everywhere (tests/core/i18n_single_meaning.txt)."""

from __future__ import annotations

from pathlib import Path

from tests.core.test_translations import _extract

LIST = Path(__file__).with_name("i18n_single_meaning.txt")


def _reviewed() -> set[str]:
    lines = LIST.read_text(encoding="utf-8").splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def _shared() -> dict[str, list[str]]:
    """msgid (without context) -> the places, for those used in two or more files."""
    out = {}
    for (msgid, context), places in _extract().items():
        files = {p.rsplit(":", 1)[0] for p in places}
        if context is None and len(files) >= 2:
            out[msgid] = places
    return out


def test_a_msgid_used_in_several_places_is_reviewed_or_has_a_context():
    reviewed = _reviewed()
    unreviewed = {m: places for m, places in _shared().items() if m not in reviewed}
    assert unreviewed == {}, (
        "These msgids are used in several files without a message context. Read each place: "
        "give the ones with another meaning a context (pgettext), or, when one translation is "
        f"right everywhere, add the msgid to {LIST.name}."
    )


def test_the_reviewed_list_holds_only_shared_msgids():
    """A line whose msgid is gone, or now used in one place only, is removed (the list stays
    an honest record of what was reviewed)."""
    assert sorted(_reviewed() - set(_shared())) == []


def test_the_known_double_meanings_carry_contexts():
    found = _extract()
    for msgid, context in [
        ("Result", "inspection"),
        ("Published", "status"),
        ("Plan", "sampling"),
        ("Low", "severity"),
        ("High", "severity"),
        ("Number", "record"),
        ("Name", "person"),
    ]:
        assert (msgid, context) in found, (msgid, context)
    # the plain msgids stay where they mean the other thing
    assert all(p.startswith("templates/declare/") for p in found[("Result", None)])
    assert not any("sampling" in p for p in found[("Plan", None)])
    assert not any("flags" in p for p in found[("Low", None)] + found[("High", None)])
