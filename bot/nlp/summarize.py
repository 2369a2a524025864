"""Extractive summaries: the best one or two whole sentences of an article, in their original order.

How a summary is made:
1. clean the text (HTML tags and entities left by feeds), cap it, split it into sentences;
2. drop boilerplate (ad notices, calls to subscribe, bios: see `bot.nlp.boilerplate`) and the headline
   when the body repeats it;
3. score every candidate sentence with a small linear model whose weights ship in
   ``bot/nlp/data/summarizer.json``; its features are cheap: position, length, overlap with the title,
   similarity to the document's word centroid, digits, quotes, question marks, weekday names;
4. keep the best sentence, then add the next best while the summary stays short enough, as learned from
   OrangeSum's author-written abstracts (they are one or two sentences, about 35 words);
5. print the kept sentences in document order, whitespace normalized, within `max_chars`.

The result is faithful by construction: only whole sentences of the text, never rewritten. One exception:
when no sentence fits in `max_chars` (a text without punctuation), the start of the first sentence is cut
at a word boundary and ends with "…".

Retrain the weights with ``python -m bot.eval.train_summarizer --data train.jsonl``.

Exceptions:
    SummarizerError                 base of this module's errors
    └── SummarizerModelError        the weights file is missing, unreadable or inconsistent (path, reason)
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.nlp.boilerplate import BoilerplateMatcher
from bot.nlp.sentences import sentence_spans

if TYPE_CHECKING:
    from bot.nlp.language import LanguageDetector

DEFAULT_WEIGHTS_PATH = Path(__file__).with_name("data") / "summarizer.json"

# Work caps: a feed can send a book; news summaries live in the first pages.
MAX_INPUT_CHARS = 40_000
MAX_CANDIDATES = 60

FEATURES: tuple[str, ...] = (
    "pos0",
    "pos1",
    "pos2",
    "pos3",
    "pos4_5",
    "pos_rel",
    "log_n_sents",
    "len",
    "len_sq",
    "short",
    "long",
    "title_overlap",
    "title_overlap_rel",
    "centroid",
    "centroid_rel",
    "digits",
    "quote_start",
    "quote_any",
    "question",
    "colon_end",
    "caps_ratio",
    "first_person",
    "weekday",
    "paren",
)

STOPWORDS: dict[str, frozenset[str]] = {
    "fr": frozenset(
        [
            "a",
            "à",
            "au",
            "aux",
            "avec",
            "ce",
            "ces",
            "cet",
            "cette",
            "c",
            "d",
            "dans",
            "de",
            "des",
            "du",
            "elle",
            "elles",
            "en",
            "est",
            "et",
            "été",
            "être",
            "il",
            "ils",
            "je",
            "j",
            "l",
            "la",
            "le",
            "les",
            "leur",
            "leurs",
            "lui",
            "m",
            "ma",
            "mais",
            "me",
            "même",
            "mes",
            "moi",
            "mon",
            "n",
            "ne",
            "ni",
            "nos",
            "notre",
            "nous",
            "on",
            "ont",
            "ou",
            "où",
            "par",
            "pas",
            "pour",
            "qu",
            "que",
            "qui",
            "s",
            "sa",
            "sans",
            "se",
            "ses",
            "si",
            "son",
            "sont",
            "sur",
            "t",
            "ta",
            "te",
            "tes",
            "toi",
            "ton",
            "tu",
            "un",
            "une",
            "vos",
            "votre",
            "vous",
            "y",
            "a",
            "été",
            "avait",
            "avoir",
            "fait",
            "plus",
            "comme",
            "aussi",
            "tout",
            "tous",
            "toute",
            "toutes",
            "très",
            "bien",
            "peu",
            "ainsi",
            "alors",
            "donc",
            "car",
            "ont",
            "sera",
            "selon",
            "après",
            "avant",
            "lors",
            "depuis",
            "entre",
            "encore",
            "déjà",
            "cela",
            "ça",
            "celui",
            "celle",
            "ceux",
            "dont",
        ]
    ),
    "en": frozenset(
        [
            "a",
            "an",
            "and",
            "are",
            "as",
            "at",
            "be",
            "been",
            "but",
            "by",
            "for",
            "from",
            "had",
            "has",
            "have",
            "he",
            "her",
            "his",
            "i",
            "in",
            "is",
            "it",
            "its",
            "of",
            "on",
            "or",
            "she",
            "that",
            "the",
            "their",
            "them",
            "they",
            "this",
            "to",
            "was",
            "were",
            "which",
            "who",
            "will",
            "with",
            "would",
            "not",
            "no",
            "we",
            "you",
            "your",
            "our",
            "us",
            "said",
            "says",
            "also",
            "more",
            "than",
            "into",
            "about",
            "after",
            "before",
            "over",
            "there",
            "what",
            "when",
            "where",
            "how",
            "all",
            "any",
            "can",
            "could",
            "do",
            "does",
            "did",
            "so",
            "if",
            "up",
            "out",
            "new",
            "one",
            "two",
        ]
    ),
}
_WEEKDAYS = frozenset(
    [
        "lundi",
        "mardi",
        "mercredi",
        "jeudi",
        "vendredi",
        "samedi",
        "dimanche",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)
_FIRST_PERSON = frozenset(["je", "j", "me", "moi", "nous", "vous", "i", "we", "me", "my", "our", "you"])

_TOKEN = re.compile(r"\w+")
_SCRIPT_STYLE = re.compile(r"<(script|style|noscript)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<(?:br|/p|/div|/li|/h\d|p|div|li|h\d)\b[^>]{0,500}>|<[^<>]{0,500}>", re.IGNORECASE)
_BLOCK_TAG = re.compile(r"<(?:br|/p|/div|/li|/h\d)\b", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u202f\u200b]+")
_WS = re.compile(r"\s+")
_QUOTES = '«“"„'


class SummarizerError(Exception):
    """Base of the summarizer's errors."""


class SummarizerModelError(SummarizerError):
    """The weights file cannot be used."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"summarizer weights {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SelectionRule:
    """When to add a sentence: while the summary has fewer than `target_words` words and the next
    sentence scores within `margin` of the best one (logit scale)."""

    target_words: int = 40
    margin: float = 100.0


@dataclass(frozen=True, slots=True)
class ScorerWeights:
    """A linear sentence scorer and the rule that picks how many sentences to keep.

    `weights` holds the bias then one weight per name in FEATURES; `bag` weighs the words a sentence
    contains (summed, divided by the square root of its distinct word count); `opening` weighs its first
    two words, which tell a self-contained sentence from one that leans on the previous ("Mais", "Il").
    """

    weights: tuple[float, ...]
    rule: SelectionRule
    bag: dict[str, float] = field(default_factory=dict)
    opening: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ScorerWeights:
        """Read weights written by the training script; raise SummarizerModelError when unusable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SummarizerModelError(path, str(exc)) from exc
        try:
            names = data["features"]
            values = data["weights"]
            rule = data.get("rule", {})
            if list(names) != list(FEATURES):
                raise SummarizerModelError(path, f"features {names} do not match the code's {list(FEATURES)}")
            weights = tuple(float(v) for v in values)
            if len(weights) != len(FEATURES) + 1:
                raise SummarizerModelError(path, f"expected {len(FEATURES) + 1} weights, got {len(weights)}")
            vocab = data.get("vocab", {})
            bag = {str(word): float(pair[0]) for word, pair in vocab.items() if pair[0]}
            opening = {str(word): float(pair[1]) for word, pair in vocab.items() if pair[1]}
            selection = SelectionRule(int(rule.get("target_words", 40)), float(rule.get("margin", 100)))
            return cls(weights, selection, bag, opening)
        except (KeyError, TypeError, ValueError) as exc:
            raise SummarizerModelError(path, f"malformed: {exc!r}") from exc


@dataclass(slots=True)
class Candidate:
    """A sentence of the document with its position, tokens and features."""

    index: int
    text: str
    tokens: list[str]
    features: list[float]


def clean_text(text: str) -> str:
    """Remove HTML leftovers (tags, scripts, entities) and normalize spaces, keeping line breaks."""
    if "<" in text and ">" in text:
        text = _SCRIPT_STYLE.sub(" ", text)
        text = _BLOCK_TAG.sub(lambda m: "\n" + m.group(0), text)
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return _SPACES.sub(" ", text)


def prepare(text: str, lang: str, title: str, matcher: BoilerplateMatcher) -> list[Candidate]:
    """Split `text` into candidate sentences with their features; boilerplate and headline excluded."""
    cleaned = clean_text(text[:MAX_INPUT_CHARS])
    spans = sentence_spans(cleaned, lang)[: MAX_CANDIDATES * 2]
    stop = STOPWORDS.get(lang) or (STOPWORDS["fr"] | STOPWORDS["en"])
    title_tokens = {t for t in _TOKEN.findall(title.lower()) if t not in stop}
    title_key = " ".join(_TOKEN.findall(title.lower()))

    kept: list[tuple[int, str, list[str]]] = []
    for start, end in spans:
        sentence = _WS.sub(" ", cleaned[start:end])
        tokens = _TOKEN.findall(sentence.lower())
        if not tokens or matcher.matches(sentence):
            continue
        if title_key and " ".join(tokens) == title_key:
            continue
        kept.append((len(kept), sentence, tokens))
        if len(kept) >= MAX_CANDIDATES:
            break
    if not kept:
        return []

    doc_tf: dict[str, int] = {}
    for _, _, tokens in kept:
        for token in tokens:
            if token not in stop:
                doc_tf[token] = doc_tf.get(token, 0) + 1
    doc_norm = math.sqrt(sum(v * v for v in doc_tf.values())) or 1.0
    n = len(kept)
    log_n = math.log(n)

    raw: list[tuple[float, float]] = []
    for _, _, tokens in kept:
        content = {t for t in tokens if t not in stop}
        title_overlap = len(content & title_tokens) / len(title_tokens) if title_tokens else 0.0
        centroid = sum(doc_tf[t] for t in content) / (doc_norm * math.sqrt(len(content))) if content else 0.0
        raw.append((title_overlap, centroid))
    max_title = max(r[0] for r in raw) or 1.0
    max_centroid = max(r[1] for r in raw) or 1.0

    candidates: list[Candidate] = []
    for (index, sentence, tokens), (title_overlap, centroid) in zip(kept, raw, strict=True):
        length = len(tokens)
        words = sentence.split()
        caps = sum(1 for w in words[1:] if w[:1].isupper())
        features = [
            float(index == 0),
            float(index == 1),
            float(index == 2),
            float(index == 3),
            float(4 <= index <= 5),
            index / n,
            log_n,
            min(length, 80) / 40.0,
            (min(length, 80) / 40.0) ** 2,
            float(length < 8),
            float(length > 50),
            title_overlap,
            title_overlap / max_title,
            centroid,
            centroid / max_centroid,
            float(any(ch.isdigit() for ch in sentence)),
            float(sentence[:1] in _QUOTES),
            float(any(q in sentence for q in _QUOTES)),
            float(sentence.rstrip('»”" ').endswith("?")),
            float(sentence.endswith(":")),
            caps / max(1, len(words) - 1),
            float(any(t in _FIRST_PERSON for t in tokens)),
            float(any(t in _WEEKDAYS for t in tokens)),
            float("(" in sentence),
        ]
        candidates.append(Candidate(index, sentence, tokens, features))
    return candidates


def score(candidate: Candidate, model: ScorerWeights) -> float:
    """Return the linear score (logit) of one candidate sentence."""
    weights = model.weights
    total = weights[0]
    for w, x in zip(weights[1:], candidate.features, strict=True):
        total += w * x
    if model.bag:
        distinct = set(candidate.tokens)
        bag = model.bag
        total += sum(bag.get(t, 0.0) for t in distinct) / math.sqrt(len(distinct))
    if model.opening:
        total += sum(model.opening.get(t, 0.0) for t in candidate.tokens[:2])
    return total


class Summarizer:
    """Pick the best whole sentences of an article; see the module docstring for the method."""

    def __init__(
        self,
        max_sentences: int = 2,
        max_chars: int = 400,
        *,
        weights_path: Path | str | None = None,
        detector: LanguageDetector | None = None,
        matcher: BoilerplateMatcher | None = None,
    ) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be at least 1, got {max_sentences}")
        if max_chars < 20:
            raise ValueError(f"max_chars must be at least 20, got {max_chars}")
        self.max_sentences = max_sentences
        self.max_chars = max_chars
        self._model = ScorerWeights.load(Path(weights_path) if weights_path else DEFAULT_WEIGHTS_PATH)
        self._detector = detector
        self._matcher = matcher or BoilerplateMatcher()

    def summarize(self, text: str, *, lang: str | None = None, title: str = "") -> str:
        """Return a summary of `text` made of its best whole sentences, or "" when there is nothing."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        if not text.strip():
            return ""
        if lang is None:
            # Without a detector, both languages' abbreviations and stop words apply: good enough for
            # splitting and scoring, and free.
            lang = self._detector.detect(text[:2000]) if self._detector else "und"
        candidates = prepare(text, lang, title or "", self._matcher)
        if not candidates:
            return ""
        chosen = self.select(candidates)
        if not chosen:
            return truncate_at_word(candidates[0].text, self.max_chars)
        return " ".join(c.text for c in sorted(chosen, key=lambda c: c.index))

    def select(self, candidates: list[Candidate]) -> list[Candidate]:
        """Choose the sentences to keep, best first, within max_sentences and max_chars."""
        return select(candidates, self._model, self.max_sentences, self.max_chars)


def select(candidates: list[Candidate], model: ScorerWeights, max_sentences: int, max_chars: int) -> list[Candidate]:
    """Choose sentences best first: the top one, then more while the rule and the limits allow."""
    rule = model.rule
    scored = sorted(((score(c, model), c) for c in candidates), key=lambda sc: sc[0], reverse=True)
    chosen: list[Candidate] = []
    chars = -1
    words = 0
    best = scored[0][0] if scored else 0.0
    for value, cand in scored:
        if len(chosen) >= max_sentences:
            break
        if chars + 1 + len(cand.text) > max_chars:
            continue
        if chosen:
            if words >= rule.target_words or best - value > rule.margin:
                break
            # A further sentence only helps when it does not push the summary far past the target.
            if words + len(cand.tokens) > 2 * rule.target_words + 10:
                continue
        chosen.append(cand)
        chars += 1 + len(cand.text)
        words += len(cand.tokens)
    return chosen


def truncate_at_word(sentence: str, max_chars: int) -> str:
    """Cut text longer than `max_chars` at the last word boundary and mark the cut with an ellipsis."""
    if len(sentence) <= max_chars:
        return sentence
    cut = sentence[: max_chars - 1]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"
