"""Split French and English text into sentences without any trained model.

The splitter looks at each run of terminal punctuation (``.``, ``!``, ``?``, ``…``, ``...``) and decides
from its neighbours whether a sentence ends there: what follows (space, capital, opening quote), what comes
before (a known abbreviation, an initial, a dotted acronym, a number). Sentences that were run together by a
careless extractor ("domestique.Consternant") are split, while "Nvidia.com", "3.5" or "U.S." are not.

Sentences are returned as stripped slices of the input, so callers can rely on every sentence being a
substring of the text they passed in. `sentence_spans` gives the same cut as (start, end) offsets.

Nothing here raises on any string input; there is no exception tree.
"""

from __future__ import annotations

import re

# Words that take a period without ending the sentence. Compared lower-cased, without the final period.
_COMMON_ABBREVIATIONS = frozenset(
    {
        "dr",
        "pr",
        "prof",
        "st",
        "ste",
        "mt",
        "cf",
        "vs",
        "env",
        "approx",
        "fig",
        "vol",
        "ch",
        "chap",
        "art",
        "al",
        "ex",
        "ed",
        "éd",
        "eds",
        "op",
        "cit",
        "ibid",
        "id",
        "tel",
        "tél",
        "max",
        "min",
    }
)
_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "fr": _COMMON_ABBREVIATIONS
    | frozenset(
        {
            "m",
            "mm",
            "mme",
            "mmes",
            "mlle",
            "mlles",
            "me",
            "mgr",
            "pp",
            "av",
            "bd",
            "boul",
            "fg",
            "nb",
            "cie",
            "éts",
            "ets",
            "dép",
            "hab",
            "sq",
            "sqq",
            "apr",
            "mr",
            "gal",
            "gén",
            "cne",
            "lt",
            "col",
            "cdt",
            "adj",
            "sgt",
            "janv",
            "févr",
            "fév",
            "avr",
            "juil",
            "sept",
            "oct",
            "nov",
            "déc",
        }
    ),
    "en": _COMMON_ABBREVIATIONS
    | frozenset(
        {
            "mr",
            "mrs",
            "ms",
            "messrs",
            "jr",
            "sr",
            "gen",
            "sen",
            "rep",
            "gov",
            "lt",
            "col",
            "capt",
            "sgt",
            "cpl",
            "adm",
            "rev",
            "hon",
            "pres",
            "supt",
            "esq",
            "ave",
            "blvd",
            "rd",
            "dept",
            "univ",
            "assn",
            "bros",
            "corp",
            "inc",
            "ltd",
            "co",
            "jan",
            "feb",
            "mar",
            "apr",
            "jun",
            "jul",
            "aug",
            "sep",
            "sept",
            "oct",
            "nov",
            "dec",
            "mon",
            "tue",
            "wed",
            "thu",
            "fri",
            "sat",
            "sun",
            "est",
            "approx",
            "e.g",
            "i.e",
            "etc",
            "a.m",
            "p.m",
            "pp",
            "mt",
            "ft",
        }
    ),
}
# Abbreviations that often end a sentence too: a period after them ends one when a usual sentence opener
# follows ("... et cetera, etc. Le gouvernement").
_CAN_END = frozenset({"etc", "inc", "ltd", "corp", "co", "cie", "jr", "sr", "al", "ibid", "approx", "a.m", "p.m"})
# "No. 5" and "n. 3" are abbreviations only before a number.
_BEFORE_NUMBER = frozenset({"no", "nos", "n", "p", "nr", "num", "art", "vol"})

# Words that start sentences far more often than they follow an initial or a dotted acronym; used to settle
# ambiguous cases such as "in the U.S. The company" against "George W. Bush".
_OPENERS = frozenset(
    {
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "it",
        "he",
        "she",
        "they",
        "we",
        "i",
        "you",
        "but",
        "and",
        "so",
        "yet",
        "in",
        "on",
        "at",
        "for",
        "if",
        "when",
        "while",
        "after",
        "before",
        "there",
        "his",
        "her",
        "its",
        "their",
        "our",
        "my",
        "as",
        "with",
        "according",
        "le",
        "la",
        "les",
        "l",
        "un",
        "une",
        "des",
        "du",
        "ce",
        "cet",
        "cette",
        "ces",
        "il",
        "elle",
        "ils",
        "elles",
        "nous",
        "vous",
        "je",
        "j",
        "mais",
        "et",
        "or",
        "donc",
        "car",
        "en",
        "dans",
        "depuis",
        "selon",
        "pour",
        "par",
        "sur",
        "c",
        "d",
        "son",
        "sa",
        "ses",
        "leur",
        "leurs",
        "si",
        "quand",
        "lors",
        "après",
        "avant",
        "pourtant",
        "ainsi",
        "alors",
        "toutefois",
        "cependant",
        "aussi",
        "au",
        "aux",
    }
)

_OPEN_QUOTES = "«“‘\"'([{—–-"
_CLOSE = "»”’\"')]}"
# A run of terminal punctuation, then closers; a French closing guillemet may sit after a (thin) space.
_TERMINATOR = re.compile(r"(?:\.{2,}|…|[.!?]+)(?:[»”’\"')\]}]|[ \u00a0\u202f]»)*")
_WORD_BEFORE = re.compile(r"([\w.'’-]*)$")
_NEXT_WORD = re.compile(r"[\w'’]+")
_PARAGRAPH = re.compile(r"\n[ \t\u00a0]*\n\s*")
_LINE = re.compile(r"\n")
_TERMINAL_CHARS = ".!?…:;" + _CLOSE


def sentence_spans(text: str, lang: str = "fr") -> list[tuple[int, int]]:
    """Return (start, end) offsets of the sentences of `text`, stripped of surrounding whitespace."""
    abbreviations = _ABBREVIATIONS.get(lang, _ABBREVIATIONS["fr"] | _ABBREVIATIONS["en"])
    spans: list[tuple[int, int]] = []
    for block_start, block_end in _blocks(text):
        start = block_start
        for match in _TERMINATOR.finditer(text, block_start, block_end):
            end = match.end()
            if _is_boundary(text, match.start(), end, block_end, abbreviations):
                _add_span(text, start, end, spans)
                start = end
        _add_span(text, start, block_end, spans)
    return spans


def split_sentences(text: str, lang: str) -> list[str]:
    """Split `text` (French or English) into sentences, each a stripped slice of the input."""
    return [text[start:end] for start, end in sentence_spans(text, lang)]


def _blocks(text: str) -> list[tuple[int, int]]:
    """Cut at blank lines, and at line breaks that end a heading or a list item rather than a wrapped line."""
    blocks: list[tuple[int, int]] = []
    start = 0
    for match in _PARAGRAPH.finditer(text):
        blocks.extend(_lines(text, start, match.start()))
        start = match.end()
    blocks.extend(_lines(text, start, len(text)))
    return blocks


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for match in _LINE.finditer(text, start, end):
        before = text[start : match.start()].rstrip()
        after = text[match.end() : end].lstrip()
        # A wrapped line continues in lower case; a line that ends with punctuation is left to the
        # punctuation rules; anything else (a title, a bullet) stands alone.
        if before and after and before[-1] not in _TERMINAL_CHARS and not after[0].islower():
            out.append((start, match.start()))
            start = match.end()
    out.append((start, end))
    return out


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


def _is_boundary(text: str, p_start: int, p_end: int, limit: int, abbreviations: frozenset[str]) -> bool:
    """Decide whether the punctuation text[p_start:p_end] ends a sentence."""
    j = p_end
    while j < limit and text[j] in " \t\n\r\u00a0\u202f":
        j += 1
    if j >= limit:
        return True
    spaced = j > p_end
    nxt = text[j]
    k = j
    while k < limit and text[k] in _OPEN_QUOTES + " \u00a0\u202f":
        k += 1
    if k >= limit:
        return spaced
    first = text[k]
    starts_upper = first.isupper() or (first.isdigit() and spaced)
    punct = text[p_start:p_end].rstrip(_CLOSE + " \u00a0\u202f")

    if not spaced:
        if nxt in _OPEN_QUOTES and nxt not in "'\"":
            return True
        # Run-together sentences: "domestique.Consternant", but not "Nvidia.com", "3.5", "U.S.A", "M.Dupont".
        if not (nxt.isupper() and j + 1 < limit and text[j + 1].islower()):
            return False
        prev = text[p_start - 1] if p_start > 0 else ""
        if not (prev.islower() or prev.isdigit() or prev in _CLOSE):
            return False
        word = _word_before(text, p_start)
        return word.lower() not in abbreviations
    if not starts_upper:
        return False
    if punct[-1] in "!?" or punct.endswith("…") or punct.endswith(".."):
        return True

    word = _word_before(text, p_start)
    lowered = word.lower()
    if not word:
        return True
    if lowered in _BEFORE_NUMBER:
        return not first.isdigit()
    if lowered in abbreviations and lowered not in _CAN_END:
        return False
    ambiguous = (
        lowered in _CAN_END
        or (len(word) == 1 and word.isalpha())  # an initial: "J. K. Rowling", "George W. Bush"
        or ("." in word and any(ch.isalpha() for ch in word))  # a dotted acronym: "U.S.", "p. ex."
    )
    if ambiguous:
        following = _NEXT_WORD.match(text, k)
        return following is not None and following.group(0).lower().rstrip("'’") in _OPENERS
    return True


def _word_before(text: str, pos: int) -> str:
    """Return the token that ends at `pos`, without leading quotes or brackets."""
    match = _WORD_BEFORE.search(text, max(0, pos - 40), pos)
    word = match.group(1) if match else ""
    # "l'U.S." and "d'env." keep only the part after the elision.
    word = re.split(r"['’]", word)[-1]
    return word.lstrip(".-")
