"""The article side of matching: cached per-word stems and the phrase scan give what the full analysis gives."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Article
from bot.search.analysis import Analyzers
from bot.search.query import MatchDoc, Phrase, Query

# Accents, ligatures, capitals, a dotted capital I, Cyrillic, digits, punctuation and a 45-letter word:
# each either stems alone as it does inside a text, or must send the whole text to the full analyzers.
PIECES = ["puces", "Réseaux", "ÉCOLE", "straße", "ﬁnance", "İstanbul", "данные", "2026", "nvidia", "semiconductors",
          "co-op", "l'usine", "a" * 45, "ʀeseau", "Œuvre", "chips", "running", "mangeons", "x", "½"]
texts = st.lists(st.sampled_from(PIECES), max_size=20).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(first=texts, second=texts)
def test_cached_stems_equal_the_full_analysis(first: str, second: str) -> None:
    analyzers = Analyzers()
    for text in (first, second, first):  # the second and third calls meet a warm cache
        fr, en = analyzers.text_stems(analyzers.words(text), text)
        assert fr == frozenset(analyzers.fr.analyze(text))
        assert en == frozenset(analyzers.en.analyze(text))


def test_the_stem_cache_is_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import bot.search.analysis as analysis

    monkeypatch.setattr(analysis, "STEM_CACHE_WORDS", 10)
    analyzers = Analyzers()
    text = " ".join(f"word{i}" for i in range(25))
    fr, _ = analyzers.text_stems(analyzers.words(text), text)
    assert fr == frozenset(analyzers.fr.analyze(text))
    assert len(analyzers._fr_stems) <= 25  # the batch that overflowed is kept, the rest was dropped
    analyzers.text_stems(["word1"], "word1")
    assert len(analyzers._fr_stems) <= 25


@settings(max_examples=100, deadline=None)
@given(word=st.sampled_from(PIECES))
def test_a_query_word_stems_as_the_analyzers_stem_it_alone(word: str) -> None:
    analyzers = Analyzers()
    for folded in analyzers.words(word):
        assert analyzers.stem_fr(folded) == (analyzers.fr.analyze(folded) or [folded])[0]
        assert analyzers.stem_en(folded) == (analyzers.en.analyze(folded) or [folded])[0]


def test_a_query_word_and_an_article_share_one_object_per_stem() -> None:
    # The subscription tables are keyed by query stems; an article's stems must be the very same objects
    # for a lookup to find its key by identity (bot/alerts/matcher.py, LeafTable._exact).
    analyzers = Analyzers()
    query_fr, query_en = analyzers.stem_fr("nvidia"), analyzers.stem_en("puces")
    fr, en = analyzers.text_stems(["nvidia", "puces"], "nvidia puces")
    assert any(stem is query_fr for stem in fr)
    assert any(stem is query_en for stem in en)
    # A word whose two stems agree has one object for both.
    assert analyzers.stem_fr("broadcom") == "broadcom" == analyzers.stem_en("broadcom")
    assert analyzers.stem_fr("broadcom") is analyzers.stem_en("broadcom")


def test_query_words_keep_their_stem_objects_when_the_cache_is_emptied(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import bot.search.analysis as analysis

    monkeypatch.setattr(analysis, "STEM_CACHE_WORDS", 10)
    analyzers = Analyzers()
    kept = analyzers.stem_fr("broadcom")
    text = " ".join(f"word{i}" for i in range(25))
    fr, _ = analyzers.text_stems(analyzers.words(text), text)  # overflows: the cache is emptied
    assert fr == frozenset(analyzers.fr.analyze(text))
    assert analyzers.stem_fr("broadcom") is kept
    fr, _ = analyzers.text_stems(["broadcom"], "broadcom")
    assert next(iter(fr)) is kept


def test_kept_query_words_are_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import bot.search.analysis as analysis

    monkeypatch.setattr(analysis, "KEPT_QUERY_WORDS", 3)
    analyzers = Analyzers()
    for i in range(10):
        analyzers.stem_en(f"query{i}")
    assert len(analyzers._query_words) == 3


def _reference_phrase(seq: tuple[str, ...], words: tuple[str, ...], prefix_last: bool) -> bool:
    n = len(words)
    for start in range(len(seq) - n + 1):
        window = seq[start : start + n]
        if all(a == b for a, b in zip(window[: n - 1], words[: n - 1], strict=True)) and (
            window[-1].startswith(words[-1]) if prefix_last else window[-1] == words[-1]
        ):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(
    title=st.lists(st.sampled_from(["a", "b", "ab", "c"]), max_size=8),
    text=st.lists(st.sampled_from(["a", "b", "ab", "c"]), max_size=8),
    words=st.lists(st.sampled_from(["a", "b", "ab", "c"]), min_size=2, max_size=4),
    prefix_last=st.booleans(),
)
def test_phrase_scan_finds_exactly_the_windows_that_match(
    title: list[str], text: list[str], words: list[str], prefix_last: bool
) -> None:
    article = Article(key="k", url="https://x.example/k", title=" ".join(title), text=" ".join(text),
                      source="S", published=datetime(2026, 1, 1, tzinfo=UTC), lang="en")
    doc = MatchDoc.from_article(article, Analyzers())
    phrase = Phrase(tuple(words), prefix_last)
    expected = any(_reference_phrase(seq, phrase.words, prefix_last) for seq in (tuple(title), tuple(text)))
    assert Query(phrase, "").matches(doc) == expected
