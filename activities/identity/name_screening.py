"""REG-1: screening of store names and email addresses against the term list (models/terms).

Matching runs on a *skeleton* of the text, so that spelling tricks do not slip through:
NFKC folds full-width forms; accents are stripped; Unicode confusables (Cyrillic `а`, Greek `ο`, ...)
map to their Latin look-alike through `confusable-homoglyphs` (the Unicode Consortium's confusables
data, maintained upstream, rather than a hand-made table); letters of look-alike scripts with no
confusable (small capitals `ɴɪᴋᴇ`, dotless `ı`, Greek `κ`, ...) are transliterated by anyascii rather
than dropped; digits and symbols used for letters are
read as letters; and the letters that look alike in most fonts (`I`/`l`/`1`/`|`, `0`/`O`) collapse to
one. Separators are dropped, but word boundaries are remembered so that short, common terms only
match as words of their own ("Pineapple Garden" is not "apple"), while runs of single characters
("N.i.k.e", "A L I") are read as one word.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from activities.identity.homoglyphs import latin_letters
from models.refusals import Refusal

TERMS_FILE = Path(__file__).resolve().parents[2] / "models" / "terms" / "reg1_terms.toml"

# Characters standing in for letters ("leet"). `1` and `!` read as `l`: the skeleton folds i/l/1 together.
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "l",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "!": "l",
        "|": "l",
        "€": "e",
        "£": "l",
        "¡": "l",
    }
)
# Look-alike letters folded to one representative in both the text and the terms.
_FOLD = str.maketrans({"i": "l", "j": "l", "0": "o"})
_WORD_CHARS = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Term:
    skeleton: str
    category: str
    anywhere: bool


@dataclass(frozen=True)
class Category:
    rule: str
    code: str
    message: str


def _camel_split(text: str) -> str:
    # "AliExpressOfficial" -> "Ali Express Official": case changes are word boundaries in names.
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)


def _words(text: str) -> list[str]:
    """The words of a text's skeleton; runs of single letters ("n i k e") join into one word."""
    latin = _camel_split(latin_letters(text))
    # Leet symbols inside a word are letters; elsewhere they are separators like any punctuation.
    raw = re.split(r"[^A-Za-z0-9@$!|€£¡]+", latin)
    words = []
    for token in raw:
        skeleton = token.lower().translate(_LEET).translate(_FOLD)
        skeleton = "".join(_WORD_CHARS.findall(skeleton))
        if skeleton:
            words.append(skeleton)
    merged: list[str] = []
    run: list[str] = []
    for w in words + [""]:
        if len(w) == 1:
            run.append(w)
            continue
        if run:
            merged.append("".join(run))
            run = []
        if w:
            merged.append(w)
    return merged


def normalise(text: str) -> str:
    """The skeleton as one string: what `anywhere` terms are matched against."""
    return "".join(_words(text))


def _skeleton(term: str) -> str:
    return "".join(term.lower().split()).translate(_LEET).translate(_FOLD)


@cache
def load_terms(path: Path = TERMS_FILE) -> tuple[dict[str, Category], tuple[Term, ...], frozenset[str]]:
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    categories: dict[str, Category] = {}
    terms: list[Term] = []
    for name, spec in raw["categories"].items():
        categories[name] = Category(spec["rule"], spec["code"], spec["message"])
        terms += [Term(_skeleton(t), name, True) for t in spec.get("anywhere", [])]
        terms += [Term(_skeleton(t), name, False) for t in spec.get("word", [])]
    commerce = frozenset(_skeleton(w) for w in raw.get("commerce", {}).get("words", []))
    return categories, tuple(terms), commerce


def _find(text: str, owned: frozenset[str]) -> Term | None:
    words = _words(text)
    joined = "".join(words)
    # Word boundaries in the joined skeleton; a multi-word term ("staff team") may span several words.
    starts: dict[int, int] = {}  # start offset -> end offset of the word starting there
    ends: dict[int, int] = {}  # end offset -> start offset of the word ending there
    pos = 0
    for w in words:
        starts[pos] = pos + len(w)
        ends[pos + len(w)] = pos
        pos += len(w)
    owned_skeletons = {_skeleton(b) for b in owned}
    _, terms, commerce = load_terms()
    for term in terms:
        if term.category == "brand" and term.skeleton in owned_skeletons:
            continue
        for m in re.finditer(re.escape(term.skeleton), joined):
            if term.anywhere or (m.start() in starts and m.end() in ends):
                return term
            # A word term glued to a commerce word: "nikeoutlet", "officialnike".
            if m.start() in starts and joined[m.end() : starts[m.start()]] in commerce:
                return term
            if m.end() in ends and joined[ends[m.end()] : m.start()] in commerce:
                return term
    return None


def _refusal(term: Term, what: str) -> Refusal:
    categories, _, _ = load_terms()
    cat = categories[term.category]
    return Refusal(cat.rule, cat.code, f"{what}: {cat.message}")


def screen_store_name(name: str, *, owned_brands: frozenset[str] = frozenset()) -> Refusal | None:
    term = _find(name, owned_brands)
    return None if term is None else _refusal(term, "Store name refused")


def screen_email(email: str, *, owned_brands: frozenset[str] = frozenset()) -> Refusal | None:
    """The local part and each domain label are screened as names of their own."""
    local, _, domain = email.rpartition("@")
    parts = [local, *domain.split(".")[:-1]] if local else [email]
    for part in parts:
        term = _find(part, owned_brands)
        if term is not None:
            return _refusal(term, "Email address refused")
    return None
