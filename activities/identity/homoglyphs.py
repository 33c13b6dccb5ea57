"""Letters that look like Latin ones, read as Latin: the spelling tricks that defeat an exact comparison.

Shared by REG-1 name screening and ASSOC-3 text comparison. NFKC folds full-width forms; accents are
stripped; Unicode confusables (Cyrillic `а`, Greek `ο`, ...) map to their Latin look-alike through
`confusable-homoglyphs` (the Unicode Consortium's confusables data, maintained upstream, rather than a
hand-made table); letters of look-alike scripts with no confusable (small capitals `ɴɪᴋᴇ`, dotless `ı`,
Greek `κ`, ...) are transliterated by anyascii rather than dropped; zero-width characters go.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from anyascii import anyascii
from confusable_homoglyphs import confusables


@cache
def _homoglyph(char: str) -> str:
    """The Latin look-alike of a non-Latin letter, or the letter itself."""
    found = confusables.is_confusable(char, preferred_aliases=["latin"], greedy=True) or []
    for entry in found:
        for glyph in entry["homoglyphs"]:
            c = glyph["c"]
            if len(c) == 1 and c.isascii() and c.isalnum():
                return c
    return char


# Scripts whose letters stand in for Latin ones (by shape or by sound): a letter of these with no Latin
# confusable is transliterated, never dropped. Other scripts (Han, kana, Hangul, Arabic, Thai, ...)
# write names of their own: read phonetically they would refuse innocent names (妮可 "Nicole" reads
# "NiKe"), so their letters stay separators.
_LOOKALIKE_SCRIPTS = (
    "LATIN",
    "GREEK",
    "CYRILLIC",
    "CHEROKEE",
    "ARMENIAN",
    "COPTIC",
    "LISU",
    "MODIFIER LETTER",
    "REGIONAL INDICATOR",
    "OLD ITALIC",
    "GOTHIC",
    "DESERET",
    "CANADIAN SYLLABICS",
)


@cache
def _transliterated(char: str) -> str:
    """A letter of a look-alike script read as ASCII by anyascii (`ɴ` -> `N`, `ı` -> `i`, `κ` -> `k`)."""
    if not unicodedata.category(char).startswith(("L", "S")):
        return char
    name = unicodedata.name(char, "")
    if not any(script in name for script in _LOOKALIKE_SCRIPTS):
        return char
    # anyascii marks some letters as abbreviations ("Ꝓ" -> "P.") and spells symbols ":name:": only the
    # letters it gives stand in for letters, and a symbol without a letter reading stays a separator.
    latin = "".join(c for c in anyascii(char) if c.isascii() and c.isalpha())
    if not latin or (unicodedata.category(char).startswith("S") and len(latin) > 1):
        return char
    return latin


def latin_letters(text: str) -> str:
    """`text` with look-alike letters read as Latin: accents stripped, confusables mapped to their
    Latin look-alike, letters of look-alike scripts transliterated, zero-width and control characters
    and stray combining marks dropped. NFKC first, so full-width forms fold too; but a compatibility
    character with a Latin look-alike reads as what it looks like (NFKC turns the lunate sigma `ϲ`,
    which looks like `c`, into `ς`, which reads `s`)."""
    shown = "".join(
        _homoglyph(c) if not c.isascii() and c.isalpha() and unicodedata.normalize("NFKC", c) != c else c
        for c in text
    )
    out = []
    for char in unicodedata.normalize("NFKC", shown):
        if unicodedata.category(char) in ("Cf", "Cc", "Mn"):
            continue  # zero-width joiners, controls, stray combining marks
        if not char.isascii():
            stripped = "".join(
                c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn"
            )
            if stripped.isascii() and stripped:
                char = stripped
            else:
                # Small letters of some scripts (Cherokee) are confusable only through their capitals.
                glyph = _homoglyph(char)
                if glyph == char and len(char.upper()) == 1:
                    glyph = _homoglyph(char.upper())
                    glyph = glyph if glyph != char.upper() else char
                char = glyph if glyph != char else _transliterated(char)
        out.append(char)
    return "".join(out)
