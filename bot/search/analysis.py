"""Text analysis shared by the index and by in-memory matching, so both see the same terms.

Every form starts with the same steps: split on anything that is not a letter or a digit, drop tokens
of 40 bytes or more, lower-case, fold to ASCII (`réseau` -> `reseau`). Folding happens *before*
stemming so that a query typed without accents meets the accented text through identical input.
Three term forms come out of that:

    plain   the folded word itself: phrases, prefixes and snippets
    fr      the folded word through the French Snowball stemmer (`puces` -> `puc`)
    en      the folded word through the English Snowball stemmer (`semiconductors` -> `semiconductor`)

A query word matches when its French stem meets the French-stemmed text or its English stem meets the
English-stemmed text, which works whatever the article's or the query's language.

The index keeps both stems of a text in ONE field (`stem_tokens`), so a query word is a handful of plain
term queries in one field, which tantivy can score fast and prune: a word whose two stems agree (most of
them) gives the bare stem `march`, otherwise the pair `f:puc e:puce`. A query word (fr `p`, en `q`) then
matches the terms `p`, `f:p`, `q`, `e:q` (`word_terms`), exactly the old "French stem or English stem".
Keywords (source, lang, entity values) are folded whole, plus a compact form with only letters and
digits, so `source:lemonde`, `source:"le monde"` and `source:Le-Monde` all meet "Le Monde".

`text_stems` gives what the French and English analyzers give for a whole text, from its folded words,
stemming each distinct word once and remembering it across texts (a bounded cache). A word's stems are
then always the same string objects, for articles and for query words (`query_stems`) alike, and a
word whose two stems agree has one object for both: the subscription matcher's tables are keyed by query
stems, so an article's stems find their keys by identity, without reading the key strings (see
bot/alerts/matcher.py). Query words keep their stems when the cache is emptied.
"""

from __future__ import annotations

from collections.abc import Iterable

import tantivy

PLAIN = "veille_plain"
FRENCH = "veille_fr"
ENGLISH = "veille_en"
KEYWORD = "veille_keyword"
STEMS = "veille_stems"  # text already turned into stem tokens by `stem_tokens`: split on spaces only
FR_MARK = "f:"
EN_MARK = "e:"

# Tantivy counts the limit in bytes; longer tokens are URLs, hashes or garbage, never useful search terms.
MAX_TOKEN_BYTES = 40
# Distinct words whose stems are remembered; news vocabulary fits, and a flood of rare tokens cannot grow it.
STEM_CACHE_WORDS = 200_000
# Query words whose stems survive the cache being emptied (subscriptions and searches; more are not kept).
KEPT_QUERY_WORDS = 50_000


def _builder(tokenizer: tantivy.Tokenizer) -> tantivy.TextAnalyzerBuilder:
    return (
        tantivy.TextAnalyzerBuilder(tokenizer)
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )


class Analyzers:
    """The four text analyzers of the search index; cheap to build (microseconds), stateless but for a stem cache."""

    def __init__(self) -> None:
        self._fr_stems: dict[str, str] = {}
        self._en_stems: dict[str, str] = {}
        self._query_words: set[str] = set()  # kept in the cache when it is emptied
        self.plain = _builder(tantivy.Tokenizer.simple()).build()
        self.fr = _builder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.stemmer("french")).build()
        self.en = _builder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.stemmer("english")).build()
        self.keyword = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
            .build()
        )
        self.stems = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()

    def register(self, index: tantivy.Index) -> None:
        """Register the analyzers under the names the schema uses (tantivy does not persist them)."""
        index.register_tokenizer(PLAIN, self.plain)
        index.register_tokenizer(FRENCH, self.fr)
        index.register_tokenizer(ENGLISH, self.en)
        index.register_tokenizer(KEYWORD, self.keyword)
        index.register_tokenizer(STEMS, self.stems)

    def words(self, text: str) -> list[str]:
        """Split `text` into folded, lower-cased words."""
        return self.plain.analyze(text)

    def stem_fr(self, word: str) -> str:
        """Return the French stem of one folded query word (the cache's object, see the module's docstring)."""
        return self.query_stems(word)[0]

    def stem_en(self, word: str) -> str:
        """Return the English stem of one folded query word (the cache's object, see the module's docstring)."""
        return self.query_stems(word)[1]

    def query_stems(self, word: str) -> tuple[str, str]:
        """Return the French and English stems of one folded query word, learning the word once for both."""
        if len(self._query_words) < KEPT_QUERY_WORDS:
            self._query_words.add(word)
        if self._learn_stems({word}):
            try:
                return self._fr_stems[word], self._en_stems[word]
            except KeyError:  # another thread emptied the cache in between
                pass
        fr, en = self.fr.analyze(word), self.en.analyze(word)
        return (fr[0] if fr else word), (en[0] if en else word)

    def text_stems(self, words: Iterable[str], text: str) -> tuple[frozenset[str], frozenset[str]]:
        """Return the French and English stems of `text`, given its folded words (`self.words(text)`)."""
        distinct = set(words)
        if self._learn_stems(distinct):
            fr, en = self._fr_stems, self._en_stems
            try:
                return frozenset(map(fr.__getitem__, distinct)), frozenset(map(en.__getitem__, distinct))
            except KeyError:  # another thread emptied the cache in between
                pass
        return frozenset(self.fr.analyze(text)), frozenset(self.en.analyze(text))

    def stem_tokens(self, text: str) -> str:
        """Return `text` as space-separated stem tokens: `stem` when both stems agree, else `f:fr e:en`."""
        # The folded words and the stem cache: one analysis of the text instead of two (indexing's main cost).
        words = self.words(text)
        if self._learn_stems(set(words)):
            fr_cache, en_cache = self._fr_stems, self._en_stems
            try:
                pairs = [(fr_cache[w], en_cache[w]) for w in words]
            except KeyError:  # another thread emptied the cache in between
                pass
            else:
                return " ".join([a if a == b else f"{FR_MARK}{a} {EN_MARK}{b}" for a, b in pairs])
        fr = self.fr.analyze(text)
        en = self.en.analyze(text)
        if len(fr) != len(en):  # never seen (stemmers keep every token); stay correct anyway
            return " ".join([FR_MARK + a for a in fr] + [EN_MARK + b for b in en])
        return " ".join([a if a == b else f"{FR_MARK}{a} {EN_MARK}{b}" for a, b in zip(fr, en, strict=True)])

    def _learn_stems(self, distinct: set[str]) -> bool:
        """Put the stems of these folded words in the cache; False when one cannot be stemmed alone."""
        fr, en = self._fr_stems, self._en_stems
        missing = distinct.difference(fr)
        if not missing:
            return True
        if len(fr) + len(missing) > STEM_CACHE_WORDS:
            self._empty_cache()
            missing = distinct.difference(fr)
        for word in missing:
            # Analysing the word alone gives what it gives inside a text only when the tokenizer and the
            # filters leave it as it is: one token of ASCII lower-case letters and digits, short enough.
            if not (word.isascii() and word.isalnum() and word.lower() == word and len(word) < MAX_TOKEN_BYTES):
                return False
            fr_stems, en_stems = self.fr.analyze(word), self.en.analyze(word)
            if len(fr_stems) != 1 or len(en_stems) != 1:
                return False
            fr_stem, en_stem = fr_stems[0], en_stems[0]
            fr[word], en[word] = fr_stem, (fr_stem if en_stem == fr_stem else en_stem)
        return True

    def _empty_cache(self) -> None:
        # Query words keep their stem objects: the matcher's keys stay the objects articles' stems are.
        fr, en = self._fr_stems, self._en_stems
        kept = [(word, fr[word], en[word]) for word in self._query_words if word in fr and word in en]
        fr.clear()
        en.clear()
        for word, fr_stem, en_stem in kept:
            fr[word], en[word] = fr_stem, en_stem

    @staticmethod
    def word_terms(fr: str, en: str) -> tuple[str, ...]:
        """Return the stem-field terms a query word with these stems matches (see `stem_tokens`)."""
        if fr == en:
            return (fr, FR_MARK + fr, EN_MARK + en)
        return (fr, FR_MARK + fr, en, EN_MARK + en)

    def keyword_forms(self, value: str) -> tuple[str, str]:
        """Return the folded whole value and its compact form (letters and digits only)."""
        folded_list = self.keyword.analyze(" ".join(value.split()))
        folded = folded_list[0] if folded_list else ""
        compact = "".join(ch for ch in folded if ch.isalnum())
        return folded, compact
