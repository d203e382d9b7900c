"""Names reduced to a form in which their spellings across scripts and transliteration systems meet.

A watch-list names "Жестоков Василий" and the payment says "Vasiliy Zhestokov", or "Wassili Schestokow" as a German
bank would write it, or "Vasilij Žestokov" in a scholarly one. Fuzzy matching alone does not bridge that: the
strings share too few letters. So both sides are first written in Latin letters (Cyrillic by the ICAO 9303 table
that passports use) and then reduced to a skeleton where the usual spelling variants collapse: kh/h/ch-as-in-German,
zh/sch/sh, ts/tz/cz/c, iy/yi/y/i, w/v, doubled letters. The fuzzy score (screening.py) is taken between skeletons.

The skeleton is deliberately lossy: it raises recall, and the threshold and the secondary attributes (date of birth,
country, identifiers) keep the hits a reviewer sees to the plausible ones.
"""

from __future__ import annotations

import re
import unicodedata

CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "ie", "ы": "y", "ь": "",
    "э": "e", "ю": "iu", "я": "ia",
    # Ukrainian and Belarusian letters, by the same document's table
    "і": "i", "ї": "i", "є": "ie", "ґ": "g", "ў": "u",
}  # fmt: skip
"""ICAO Doc 9303 (2021), part 3, the transliteration of Cyrillic in machine-readable passports."""

LATIN_WITH_MARKS = {"ž": "zh", "š": "sh", "č": "ch", "ŝ": "sh", "ĉ": "ch", "ǆ": "dzh", "ß": "ss", "œ": "oe", "æ": "ae"}
"""Latin letters whose mark is a sound of their own (the scholarly and Czech-style transliterations of Cyrillic write
ж as ž): spelled out before the other marks are dropped, or "Žestokov" would lose what makes it "Zhestokov"."""

LEGAL_FORMS = frozenset(
    {
        "ooo", "oao", "pao", "zao", "ao", "ip", "llc", "ltd", "limited", "inc", "corp", "corporation", "co",
        "company", "gmbh", "ag", "sa", "ca", "srl", "sl", "plc", "jsc", "pjsc", "ojsc", "cjsc", "bv", "nv", "the",
        "mv", "mt", "ms", "ss",
    }
)  # fmt: skip
"""Words that say what kind of company a name belongs to, not which: dropped so that "Chernomorsky Tranzit OOO" and
"Chernomorsky Tranzit LLC" meet (ООО is transliterated to "ooo" before this applies); likewise a vessel's prefix
(MV, MT)."""

_SKELETON_RULES = (
    ("shch", "sh"), ("sch", "sh"), ("tsch", "ch"), ("tch", "ch"), ("zh", "sh"), ("kh", "h"),
    ("ck", "k"), ("ph", "f"), ("ts", "c"), ("tz", "c"), ("cz", "c"), ("ks", "x"), ("w", "v"), ("q", "k"),
    ("yu", "iu"), ("ju", "iu"), ("ya", "ia"), ("ja", "ia"), ("yo", "io"), ("jo", "io"), ("ye", "ie"), ("je", "ie"),
    ("y", "i"), ("j", "i"), ("ii", "i"), ("ie", "e"),
)  # fmt: skip
"""Applied in order: the longer spellings first, so that "shch" is not read as "sh" + "ch"."""

_SPELLED = CYRILLIC_TO_LATIN | LATIN_WITH_MARKS
_DOUBLED = re.compile(r"([a-z])\1+")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def to_latin(text: str) -> str:
    """`text` in lower-case Latin letters: Cyrillic by the ICAO table, ž and its kind spelled out, other accents
    dropped (é -> e, ñ -> n)."""
    lowered = text.lower()
    spelled = "".join(_SPELLED.get(char, char) for char in lowered)
    decomposed = unicodedata.normalize("NFKD", spelled)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The name's words in Latin letters, without punctuation, legal forms or single letters (initials, and what is
    left of "C.A." or "S.A.")."""
    return [word for word in _NOT_WORD.split(to_latin(text)) if len(word) > 1 and word not in LEGAL_FORMS]


def skeleton_word(word: str) -> str:
    for spelling, meets in _SKELETON_RULES:
        word = word.replace(spelling, meets)
    return _DOUBLED.sub(r"\1", word)


def skeleton(text: str) -> str:
    """The name's comparable form: its words reduced by the variant rules, in their order, space separated."""
    return " ".join(skeleton_word(word) for word in words(text))


def normalise_identifier(text: str) -> str:
    """An identifier (a tax number, a passport, an IMO number) as compared: upper case letters and digits only
    ("INN: 7700-000001" and "inn7700000001" are one)."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())
