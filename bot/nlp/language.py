"""Tell the language of an article: "fr", "en", another ISO 639-1 code, or "und" when unsure.

Two judges, both offline:
- a stop-word vote between French and English, for short texts (headlines, one-line summaries) where
  character n-grams are unreliable;
- py3langid's naive Bayes over byte n-grams, restricted to a short list of candidate languages so that
  French text is never called Occitan or Walloon; its model (about 1 s to load) is loaded on first need.

Exceptions:
    LanguageError       the candidate list is empty or malformed (at construction) or names a language
                        py3langid does not know (when the model loads)
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

DEFAULT_CANDIDATES: tuple[str, ...] = (
    "fr", "en", "de", "es", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "zh", "ja",
)  # fmt: skip
UNDETERMINED = "und"

# Frequent function words that are not also frequent in the other language ("a", "on", "me" are left out).
_STOPWORDS: dict[str, frozenset[str]] = {
    "fr": frozenset(
        """le la les un une des du de et est sont dans pour par sur avec qui que ne pas plus ce cette ces
        il elle ils elles nous vous leur au aux été être avoir fait mais ou où selon après avant lors sans
        très aussi comme entre depuis sous chez son sa ses notre votre quand déjà encore tout tous l d qu
        c j n s""".split()
    ),
    "en": frozenset(
        """the of and to is are was were be been in for with that this these those it its by from at as
        which who will would has have had not but or they their them he she his her we you our what when
        where how about after before over into than there said says can could should do does did""".split()
    ),
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_SPLIT_ELISION = re.compile(r"['’]")
SHORT_TEXT_CHARS = 60
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.6


class LanguageError(ValueError):
    """A candidate language cannot be used."""

    def __init__(self, codes: list[str], reason: str) -> None:
        super().__init__(f"language candidates {codes}: {reason}")
        self.codes = codes


class LanguageDetector:
    """Detect the language of a text; build once and share (the n-gram model is loaded on first use)."""

    def __init__(self, candidates: tuple[str, ...] | list[str] = DEFAULT_CANDIDATES) -> None:
        self.candidates = [c.lower() for c in candidates]
        if not self.candidates:
            raise LanguageError(self.candidates, "the list is empty")
        bad = [c for c in self.candidates if not re.fullmatch(r"[a-z]{2,3}", c)]
        if bad:
            raise LanguageError(self.candidates, f"not ISO 639 codes: {bad}")
        self._identifier: Any = None

    def detect(self, text: str) -> str:
        """Return the ISO 639-1 code of `text`'s language, or "und" when it is too short or unclear."""
        if not isinstance(text, str):
            return UNDETERMINED
        sample = text[:4000]
        letters = sum(1 for ch in sample if ch.isalpha())
        if letters < MIN_LETTERS:
            return self._vote(sample, min_votes=2) or UNDETERMINED
        if len(sample) < SHORT_TEXT_CHARS:
            voted = self._vote(sample, min_votes=2)
            if voted:
                return voted
        lang, confidence = self._ngram_model().classify(sample)
        if confidence >= MIN_CONFIDENCE:
            return str(lang)
        return self._vote(sample, min_votes=2) or UNDETERMINED

    def _vote(self, text: str, *, min_votes: int) -> str | None:
        """Return "fr" or "en" when one language's function words clearly outnumber the other's."""
        counts = {"fr": 0, "en": 0}
        for word in _WORD.findall(text.lower()):
            for part in _SPLIT_ELISION.split(word):
                for lang, words in _STOPWORDS.items():
                    if part in words:
                        counts[lang] += 1
        fr, en = counts["fr"], counts["en"]
        if fr >= min_votes and fr >= 2 * en and "fr" in self.candidates:
            return "fr"
        if en >= min_votes and en >= 2 * fr and "en" in self.candidates:
            return "en"
        return None

    def warm_up(self) -> None:
        """Load the n-gram model now rather than during the first poll."""
        self._ngram_model()

    def _ngram_model(self) -> Any:
        if self._identifier is not None:
            return self._identifier
        with _MODEL_LOCK:
            if self._identifier is None:
                self._identifier = _load_identifier(tuple(self.candidates))
        return self._identifier


# The model is read-only once loaded and takes about a second to load: one per process and candidate list,
# shared by every detector (the App builds one per pipeline; tests build many Apps).
_MODEL_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _load_identifier(candidates: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    try:
        identifier.set_languages(list(candidates))
    except ValueError as exc:
        raise LanguageError(list(candidates), str(exc)) from exc
    return identifier
