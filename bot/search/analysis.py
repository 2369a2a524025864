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
Keywords (source, lang, entity values) are folded whole, plus a compact form with only letters and
digits, so `source:lemonde`, `source:"le monde"` and `source:Le-Monde` all meet "Le Monde".
"""

from __future__ import annotations

import tantivy

PLAIN = "veille_plain"
FRENCH = "veille_fr"
ENGLISH = "veille_en"
KEYWORD = "veille_keyword"

# Tantivy counts the limit in bytes; longer tokens are URLs, hashes or garbage, never useful search terms.
MAX_TOKEN_BYTES = 40


def _builder(tokenizer: tantivy.Tokenizer) -> tantivy.TextAnalyzerBuilder:
    return (
        tantivy.TextAnalyzerBuilder(tokenizer)
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )


class Analyzers:
    """The four text analyzers of the search index; cheap to build (microseconds) and stateless."""

    def __init__(self) -> None:
        self.plain = _builder(tantivy.Tokenizer.simple()).build()
        self.fr = _builder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.stemmer("french")).build()
        self.en = _builder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.stemmer("english")).build()
        self.keyword = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
            .build()
        )

    def register(self, index: tantivy.Index) -> None:
        """Register the analyzers under the names the schema uses (tantivy does not persist them)."""
        index.register_tokenizer(PLAIN, self.plain)
        index.register_tokenizer(FRENCH, self.fr)
        index.register_tokenizer(ENGLISH, self.en)
        index.register_tokenizer(KEYWORD, self.keyword)

    def words(self, text: str) -> list[str]:
        """Split `text` into folded, lower-cased words."""
        return self.plain.analyze(text)

    def stem_fr(self, word: str) -> str:
        """Return the French stem of one folded word."""
        stems = self.fr.analyze(word)
        return stems[0] if stems else word

    def stem_en(self, word: str) -> str:
        """Return the English stem of one folded word."""
        stems = self.en.analyze(word)
        return stems[0] if stems else word

    def keyword_forms(self, value: str) -> tuple[str, str]:
        """Return the folded whole value and its compact form (letters and digits only)."""
        folded_list = self.keyword.analyze(" ".join(value.split()))
        folded = folded_list[0] if folded_list else ""
        compact = "".join(ch for ch in folded if ch.isalnum())
        return folded, compact
