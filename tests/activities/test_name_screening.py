"""REG-1 screening over the corpus of evasions and innocent names (tests/data/reg1_corpus.toml)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from activities.name_screening import normalise, screen_email, screen_store_name

CORPUS = tomllib.loads((Path(__file__).parents[1] / "data" / "reg1_corpus.toml").read_text())


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS["evasions"]) >= 100 and len(CORPUS["innocent"]) >= 100


@pytest.mark.parametrize("name", CORPUS["evasions"])
def test_evasion_is_refused_with_rule_code_and_sentence(name: str) -> None:
    refusal = screen_store_name(name)
    assert refusal is not None, f"{name!r} (skeleton {normalise(name)!r}) slipped through"
    assert refusal.rule == "REG-1"
    assert refusal.code in {"impersonates_platform", "brand_not_owned", "prohibited_term"}
    assert refusal.message.endswith(".")


@pytest.mark.parametrize("name", CORPUS["innocent"])
def test_innocent_name_passes(name: str) -> None:
    assert screen_store_name(name) is None, f"{name!r} (skeleton {normalise(name)!r}) wrongly refused"


@pytest.mark.parametrize("email", CORPUS["emails_refused"])
def test_email_local_part_and_domain_are_screened(email: str) -> None:
    refusal = screen_email(email)
    assert refusal is not None and refusal.rule == "REG-1"


@pytest.mark.parametrize("email", CORPUS["emails_innocent"])
def test_innocent_email_passes(email: str) -> None:
    assert screen_email(email) is None


def test_owned_brand_is_allowed_only_for_its_owner() -> None:
    assert screen_store_name("Nike Official Outlet") is not None
    assert screen_store_name("Nike Official Outlet", owned_brands=frozenset({"nike"})) is None
    # Owning one brand does not open the others, nor the platform's name.
    assert screen_store_name("Nike x Adidas", owned_brands=frozenset({"nike"})) is not None
    assert (
        screen_store_name("AliExpress Nike", owned_brands=frozenset({"nike"})).code == "impersonates_platform"
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("spelling", "skeleton"),
    [
        ("AIiExpress", "allexpress"),  # capital I for l
        ("Аliexpress", "allexpress"),  # Cyrillic А
        ("ＡｌｉＥｘｐｒｅｓｓ", "allexpress"),  # full-width
        ("Àlïéxprèss", "allexpress"),  # accents
        ("A.l.i-E x p", "allexp"),  # separators between single letters
        ("4dm1n", "admln"),  # digits for letters
        ("Ad\u200bmin", "admln"),  # zero-width space
    ],
)
def test_normalisation_defeats_spelling_tricks(spelling: str, skeleton: str) -> None:
    assert normalise(spelling) == skeleton


def test_precision_and_recall_on_the_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    evasions, innocent = CORPUS["evasions"], CORPUS["innocent"]
    true_pos = sum(screen_store_name(n) is not None for n in evasions)
    false_pos = sum(screen_store_name(n) is not None for n in innocent)
    precision = true_pos / max(true_pos + false_pos, 1)
    recall = true_pos / len(evasions)
    with capsys.disabled():
        print(
            f"\nREG-1 screening corpus: {len(evasions)} evasions, {len(innocent)} innocent names\n"
            f"  caught {true_pos}/{len(evasions)}  false refusals {false_pos}/{len(innocent)}\n"
            f"  precision {precision:.3f}  recall {recall:.3f}"
        )
    assert precision == 1.0 and recall == 1.0
