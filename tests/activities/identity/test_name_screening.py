"""REG-1 screening over the corpus of evasions and innocent names (tests/data/reg1_corpus.toml)."""

from __future__ import annotations

import functools
import random
import re
import tomllib
import unicodedata
from pathlib import Path

import pytest

from activities.identity.name_screening import normalise, screen_email, screen_store_name

CORPUS = tomllib.loads((Path(__file__).parents[2] / "data" / "reg1_corpus.toml").read_text())


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


# ------------------------------------------------------------------ generated look-alikes (issue 14)
#
# Built for the class, not the examples: every term of the REG-1 list is respelt with letters from
# look-alike alphabets found in the Unicode names (small capitals, modifier, enclosed, mathematical,
# Latin letters with marks or strokes) and the classic Greek, Cyrillic and Cherokee homoglyphs, mixed
# with plain Latin letters inside one word, from a fixed seed. Innocent names are generated the same
# way from ordinary words of other scripts.

TERMS = tomllib.loads(
    (Path(__file__).parents[3] / "models" / "terms" / "reg1_terms.toml").read_text(encoding="utf-8")
)
LATIN_NAME = re.compile(r"LATIN (?:SMALL|CAPITAL) LETTER ([A-Z])(?: WITH .*)?$")
# Classic homoglyphs of other scripts (shape, not sound), as spoofers use them.
OTHER_SCRIPTS = {
    "greek": dict(zip("ABEHIKMNOPTXYZaikopuvy", "ΑΒΕΗΙΚΜΝΟΡΤΧΥΖαικορυνγ", strict=True)),
    "cyrillic": dict(zip("ABCEHIJKMOPSTXYacdehijopsxyw", "АВСЕНІЈКМОРЅТХҮасԁеһіјорѕхуԝ", strict=True)),
    "cherokee": dict(
        zip(
            "ABCDEGHIJKLMPRSTVWZ",
            "\u13aa\u13f4\u13df\u13a0\u13ac\u13c0\u13bb\u13a5\u13ab\u13e6\u13de\u13b7\u13e2\u13a1\u13da\u13a2\u13d9\u13b3\u13c3",
            strict=True,
        )
    ),
}


@functools.cache
def lookalike_alphabets() -> dict[str, dict[str, list[str]]]:
    """family -> ASCII letter (lower case) -> characters that read as that letter."""
    families: dict[str, dict[str, list[str]]] = {}

    def add(family: str, letter: str, char: str) -> None:
        families.setdefault(family, {}).setdefault(letter.lower(), []).append(char)

    patterns = {
        "small capital": re.compile(r"LATIN LETTER SMALL CAPITAL ([A-Z])$"),
        "modifier": re.compile(r"MODIFIER LETTER (?:CAPITAL|SMALL) ([A-Z])$"),
        "enclosed": re.compile(
            r"(?:NEGATIVE )?(?:SQUARED|CIRCLED|PARENTHESIZED) LATIN (?:CAPITAL|SMALL) LETTER ([A-Z])$"
        ),
        "regional indicator": re.compile(r"REGIONAL INDICATOR SYMBOL LETTER ([A-Z])$"),
        "mathematical": re.compile(r"MATHEMATICAL [A-Z -]+ (?:CAPITAL|SMALL) ([A-Z])$"),
        "fullwidth": re.compile(r"FULLWIDTH LATIN (?:CAPITAL|SMALL) LETTER ([A-Z])$"),
    }
    for cp in range(0xA0, 0x20000):
        name = unicodedata.name(chr(cp), "")
        for family, pattern in patterns.items():
            m = pattern.match(name)
            if m:
                add(family, m.group(1), chr(cp))
        m = LATIN_NAME.match(name)
        if m and "WITH" in name and "WITH SMALL LETTER" not in name:  # not digraphs (ǈ, ǲ)
            add("latin with marks", m.group(1), chr(cp))
    for letter in "ij":
        add("dotless", letter, unicodedata.lookup(f"LATIN SMALL LETTER DOTLESS {letter.upper()}"))
    for family, table in OTHER_SCRIPTS.items():
        for latin, char in table.items():
            add(family, latin, char)
    return families


def generated_evasions(per_family: int = 2) -> list[tuple[str, str]]:
    rng = random.Random(1414)
    terms = [t for cat in TERMS["categories"].values() for t in cat.get("anywhere", []) + cat.get("word", [])]
    out = []
    for family, table in sorted(lookalike_alphabets().items()):
        for term in terms:
            if not any(c in table for c in term):
                continue
            for _ in range(per_family):
                while True:
                    spelt = "".join(
                        rng.choice(table[c]) if c in table and rng.random() < 0.7 else c for c in term
                    )
                    if spelt != term:
                        break
                suffix = rng.choice(["", " Outlet", " Store", " Official", " Shop", " - Mall"])
                out.append((family, spelt + suffix))
    return out


INNOCENT_WORDS = {
    "chinese": list("茶花龙山水金银福喜家店坊铺书画瓷丝绸竹梅兰菊鞋帽衣米面饼糖果鱼虾酒醋油盐灯纸笔墨砚玉石"),
    "cyrillic": [
        "Ромашка",
        "Берёзка",
        "Уют",
        "Дом",
        "Сад",
        "Чай",
        "Мёд",
        "Книги",
        "Игрушки",
        "Цветы",
        "Лавка",
        "Пекарня",
        "Одежда",
        "Обувь",
        "Сувениры",
        "Рыбка",
        "Солнце",
        "Весна",
        "Ника",
        "Пума",
    ],
    "greek": [
        "Καφενείο",
        "Ήλιος",
        "Θάλασσα",
        "Μέλι",
        "Ελιά",
        "Κήπος",
        "Σπίτι",
        "Βιβλία",
        "Παιχνίδια",
        "Λουλούδια",
        "Νίκη",
        "Άνοιξη",
        "Ψωμί",
        "Κρασί",
    ],
    "arabic": [
        "متجر",
        "الورد",
        "بيت",
        "العطور",
        "دار",
        "الهدايا",
        "مكتبة",
        "النور",
        "حلويات",
        "الشام",
        "قهوة",
    ],
    "japanese": [
        "さくら",
        "雑貨",
        "山田",
        "商店",
        "ことり",
        "文具",
        "はな",
        "ニケ",
        "ナイキ",
        "カフェ",
        "パン",
    ],
    "korean": ["서울", "꽃집", "행복한", "빵집", "하늘", "문구", "바다", "수산", "카페"],
    "thai": ["ร้าน", "ดอกไม้", "บ้าน", "ขนม", "ผ้าไหม", "ไทย", "กาแฟ"],
}


def generated_innocent(per_script: int = 60) -> list[str]:
    rng = random.Random(2626)
    out = []
    for script, words in sorted(INNOCENT_WORDS.items()):
        joiner = "" if script in ("chinese", "japanese", "thai") else " "
        for _ in range(per_script):
            name = joiner.join(rng.choice(words) for _ in range(rng.randint(1, 4)))
            out.append(name + rng.choice(["", "", " Shop", " Store", " 2"]))
    return out


def test_generated_lookalikes_of_every_term_are_refused_and_innocent_scripts_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    evasions = generated_evasions()
    innocent = generated_innocent()
    missed = [(family, name) for family, name in evasions if screen_store_name(name) is None]
    refused = [name for name in innocent if screen_store_name(name) is not None]
    by_family: dict[str, list[int]] = {}
    for family, name in evasions:
        counts = by_family.setdefault(family, [0, 0])
        counts[0] += 1
        counts[1] += (family, name) not in missed
    recall = 1 - len(missed) / len(evasions)
    precision = (len(evasions) - len(missed)) / max(len(evasions) - len(missed) + len(refused), 1)
    with capsys.disabled():
        print(
            f"\nREG-1 generated look-alikes: {len(evasions)} evasions over {len(by_family)} alphabets,"
            f" {len(innocent)} innocent names in {len(INNOCENT_WORDS)} scripts\n"
            f"  recall {recall:.4f}  precision {precision:.4f}  false refusals {len(refused)}\n"
            + "\n".join(f"  {f:20s} {c}/{n}" for f, (n, c) in sorted(by_family.items()))
        )
    assert refused == [], refused[:10]
    assert missed == [], missed[:20]
