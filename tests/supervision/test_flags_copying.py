"""Copy detection in the stored flags (issue 9, finding 7): standards of one category that
share only what the category forces (the same benchmark row, the same common rows, the
boilerplate) are not flagged; a planted copy of another enterprise's text is, on both sides,
with the matched passages side by side on the regulator's page."""

from __future__ import annotations

import pytest

from core.models import Role
from tests.declare import en_request_fixture  # noqa: F401  (fixture "en_request")
from tests.factories import make_enterprise_user
from tests.supervision.test_flags_common import apf_row, extra_rows, flags, publish, text_pdf

pytestmark = pytest.mark.usefixtures("en_request")

BOILERPLATE = [
    "1 Scope: this standard specifies the requirements, test methods and inspection rules of",
    "room air conditioners made by the enterprise.",
    "2 Normative references: GB/T 7725-2022 Room air conditioners; GB 21455-2019.",
    "6 Inspection rules: every unit is inspected before delivery; type tests yearly.",
]


def own_lines(seed: str) -> list[str]:
    """Sentences only one enterprise writes (its process, its parts, its figures)."""
    words = ["brazed", "copper", "header", "leak", "tested", "helium", "mass", "spectrometer",
             "fin", "pitch", "hydrophilic", "coating", "louvered", "evaporator", "inverter",
             "board", "potted", "silicone", "gel", "fan", "blade", "balanced", "dynamically",
             "ultrasonic", "weld", "drain", "pan", "sloped", "degrees", "panel"]
    import random

    rng = random.Random(seed)
    return [" ".join(rng.sample(words, 9)).capitalize() + f" {rng.randint(10, 99)} mm."
            for _ in range(8)]


def test_only_the_planted_copy_is_flagged_with_its_passages(db, catalogue, client, login_as):
    rows = [apf_row(catalogue, 5.1), *extra_rows(n=5)]  # what every maker here declares
    original_text = BOILERPLATE + own_lines("original")
    versions = {}
    for name, lines in (("original", original_text), ("a", BOILERPLATE + own_lines("a")),
                        ("b", BOILERPLATE + own_lines("b")), ("c", BOILERPLATE + own_lines("c"))):
        versions[name] = publish(catalogue, make_enterprise_user().enterprise, rows=rows,
                                 pdf=text_pdf(lines), std_code=f"Q/{name.upper()}X 0001-2025")
    edited = [line.replace("mm", "millimetres") if i == 5 else line
              for i, line in enumerate(original_text)]
    versions["copy"] = publish(catalogue, make_enterprise_user().enterprise, rows=rows,
                               pdf=text_pdf(edited), std_code="Q/CPY 0001-2025")

    copied = {f.key for f in flags(versions["copy"].declaration_id)}
    assert copied == {f"text:{versions['original'].declaration_id}"}
    assert {f.key for f in flags(versions["original"].declaration_id)} == {
        f"text:{versions['copy'].declaration_id}"
    }
    for name in ("a", "b", "c"):  # same table, same boilerplate: not a copy
        assert flags(versions[name].declaration_id) == []

    [flag] = flags(versions["copy"].declaration_id)
    ev = flag.evidence
    assert ev["subject"] == "text" and ev["similarity"] >= 0.9 and ev["shared"] >= 60
    passages = ev["passages"]
    assert passages and all(p["a"] and p["b"] for p in passages)
    assert any("millimetres" in p["a"] and "mm." in p["b"] for p in passages)

    login_as(Role.REGULATOR, region_code="500000")
    html = client.get(f"/supervision/flags/declarations/{versions['copy'].declaration_id}"
                      ).get_data(as_text=True)
    assert f'data-passages="{flag.id}"' in html and "millimetres" in html
