"""ASSOC-3 text copies: the listing text normalised the way copycats disguise it, then compared exactly.

Normalisation undoes the cheap disguises: compatibility forms and case (NFKC, casefold), look-alike
letters of other scripts, accents and zero-width characters (activities/identity/homoglyphs.py), emoji and
punctuation, spaced-out letters, lengths and volumes in other units (inches, feet, ounces -> cm, ml, g,
rounded), and synonyms and filler words (a data table, models/product_terms.toml). The shingles are the
words and word pairs of what is left. MinHash (datasketch) with LSH bands only finds candidates; the
decision is the exact Jaccard similarity of the two shingle sets, so no estimate's variance decides.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from functools import cache
from pathlib import Path

import numpy as np
from datasketch import MinHash

from activities.identity.homoglyphs import latin_letters

NUM_PERM = 128
BANDS, ROWS = 25, 5  # 125 of the 128 values; S-curve midpoint ~0.53, a pair at 0.7 shares a band 0.99
TERMS = Path(__file__).resolve().parents[2] / "models" / "product_terms.toml"

# to the canonical unit: (unit, factor)
_UNITS = {
    "mm": ("cm", 0.1), "cm": ("cm", 1.0), "m": ("cm", 100.0), "in": ("cm", 2.54), "inch": ("cm", 2.54),
    "inches": ("cm", 2.54), '"': ("cm", 2.54), "″": ("cm", 2.54), "ft": ("cm", 30.48), "feet": ("cm", 30.48),
    "ml": ("ml", 1.0), "l": ("ml", 1000.0), "litre": ("ml", 1000.0), "liter": ("ml", 1000.0),
    "floz": ("ml", 29.5735), "fl oz": ("ml", 29.5735), "oz": ("g", 28.3495), "g": ("g", 1.0),
    "kg": ("g", 1000.0), "lb": ("g", 453.592), "lbs": ("g", 453.592),
}  # fmt: skip
_UNIT_ALT = "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True))
_NUM = r"\d+(?:[.,]\d+)?"
_MEASURE = re.compile(rf"({_NUM})(?:\s*[x×*]\s*({_NUM}))?(?:\s*[x×*]\s*({_NUM}))?\s*({_UNIT_ALT})(?![a-z])")
_SPACED = re.compile(r"(?<!\S)(?:\w ){2,}\w(?!\S)")
_WORD = re.compile(r"[^\W_]+")
_WHITESPACE = re.compile(r"\s")


@cache
def _terms() -> tuple[list[tuple[re.Pattern[str], str]], frozenset[str]]:
    data = tomllib.loads(TERMS.read_text(encoding="utf-8"))
    pairs = sorted(data["synonyms"].items(), key=lambda kv: -len(kv[0]))  # phrases before their words
    subs = [(re.compile(rf"(?<![^\W_]){re.escape(k)}(?![^\W_])"), v) for k, v in pairs if k != v]
    return subs, frozenset(data["stopwords"]["words"])


def _convert(m: re.Match[str]) -> str:
    unit, factor = _UNITS[m.group(4)]
    values = [float(v.replace(",", ".")) * factor for v in m.groups()[:3] if v is not None]
    step = 1.0 if unit == "cm" else 5.0  # copycats round when they convert
    return " x ".join(f"{round(v / step) * step:g}" for v in values) + f" {unit}"


def normalise(text: str) -> str:
    # line breaks and tabs separate words (latin_letters drops control characters)
    # (casefolded first: a capital look-alike can read as another letter, Cyrillic `І` as `l`)
    t = latin_letters(_WHITESPACE.sub(" ", text).casefold()).casefold()
    t = _MEASURE.sub(_convert, t)
    # emoji, symbols and punctuation become spaces
    t = "".join(" " if unicodedata.category(c).startswith(("S", "P")) else c for c in t)
    t = _SPACED.sub(lambda m: m.group(0).replace(" ", ""), " ".join(t.split()))  # "w a t e r" -> "water"
    subs, _ = _terms()
    for pattern, canonical in subs:
        t = pattern.sub(canonical, t)
    return " ".join(t.split())


def shingles(title: str, description: str) -> set[str]:
    _, stop = _terms()
    words = [w for w in _WORD.findall(normalise(f"{title} {description}")) if w not in stop]
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}


def exact_jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@cache
def _permutations() -> MinHash:
    return MinHash(num_perm=NUM_PERM)  # seed 1: every process draws the same permutations


def minhash(sh: set[str]) -> np.ndarray:
    # Reusing the permutations halves the cost of a signature (they are drawn per MinHash otherwise).
    base = _permutations()
    m = MinHash(num_perm=NUM_PERM, permutations=base.permutations, scheme=base.scheme)
    m.update_batch([s.encode() for s in sh])
    return m.hashvalues.astype("<u8")


def band_keys(hashvalues: np.ndarray) -> np.ndarray:
    """One 32-bit key per band (uint32[BANDS]): enough to make a chance collision rare per band."""
    keys = np.empty(BANDS, np.uint32)
    for b in range(BANDS):
        chunk = hashvalues[b * ROWS : (b + 1) * ROWS].astype("<u8").tobytes()
        keys[b] = int.from_bytes(hashlib.blake2b(chunk, digest_size=4).digest(), "little")
    return keys
