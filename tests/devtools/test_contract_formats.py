"""The formats page (docs/contract/formats.md) says what the validators do."""

from __future__ import annotations

import re

from activities.registration_checks import validate_registration
from devtools.contract_schema import ROOT
from devtools.identity_factory import applicant

PAGE = (ROOT / "formats.md").read_text()


def _example(field: str) -> str:
    found = re.search(rf"^    {field}\s+(\S+)", PAGE, re.M)
    assert found, field
    return found.group(1)


def _check_char(body: str, weights: list[int], alphabet: str, rule: str) -> str:
    """The page's two check rules, read as written."""
    if rule == "id":
        return "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    total = sum(alphabet.index(c) * w for c, w in zip(body, weights, strict=True))
    return alphabet[(31 - total % 31) % 31]


def test_the_pages_example_identity_registers_and_a_changed_check_character_does_not() -> None:
    id_card, licence = _example("id_card_number"), _example("licence_number")
    good = applicant(id_card_number=id_card, licence_number=licence)
    assert validate_registration(good) is None
    bad_id = id_card[:-1] + ("3" if id_card[-1] != "3" else "4")
    refusal = validate_registration(applicant(id_card_number=bad_id, licence_number=licence))
    assert refusal is not None and refusal.code == "bad_id_card_number"
    bad_licence = licence[:-1] + ("5" if licence[-1] != "5" else "6")
    refusal = validate_registration(applicant(id_card_number=id_card, licence_number=bad_licence))
    assert refusal is not None and refusal.code == "bad_licence_number"


def test_the_pages_check_rules_compute_the_examples_check_characters() -> None:
    weights = [int(w) for w in re.search(r"weights `([\d ]+)` on the first 17", PAGE).group(1).split()]  # type: ignore[union-attr]
    id_card = _example("id_card_number")
    assert _check_char(id_card[:17], weights, "", "id") == id_card[17]
    alphabet = re.search(r"Alphabet\s+`([0-9A-Z]+)`", PAGE).group(1)  # type: ignore[union-attr]
    uscc_weights = [int(w) for w in re.search(r"weights `([\d ]+)`,\s+`s = Σ index", PAGE).group(1).split()]  # type: ignore[union-attr]
    licence = _example("licence_number")
    assert _check_char(licence[:17], uscc_weights, alphabet, "uscc") == licence[17]
