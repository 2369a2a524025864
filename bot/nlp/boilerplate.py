"""Recognise sentences that are page furniture rather than news: ad notices, calls to subscribe, bios, ...

Phrases are folded (lower case, no accents, words only) and stored in one word trie, built once per
`BoilerplateMatcher`. Matching walks the trie from each word of the sentence, so its cost depends on the
sentence length and the longest phrase, not on how many phrases there are.

Each phrase has a scope:
- ``START``: only at the start of the sentence ("Lire aussi", "Read more", "Réagissez");
- ``ANYWHERE``: wherever it appears ("Learn more about your ad choices", "tous droits réservés");
- ``SHORT``: anywhere, but only in a short sentence, because it also occurs in news ("X is a reporter at");
- ``ALONE``: the phrase is (nearly) the whole sentence ("Publicité", "Newsletter").

Both languages' phrases apply whatever the article's language: French podcasts carry English ad notices.
Nothing here raises on string input; there is no exception tree.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum


class Scope(Enum):
    """Where in a sentence a phrase counts as boilerplate."""

    START = "start"
    ANYWHERE = "anywhere"
    SHORT = "short"
    ALONE = "alone"


_SHORT_WORDS = 30
_ALONE_WORDS = 3

DEFAULT_PHRASES: dict[Scope, tuple[str, ...]] = {
    Scope.START: (
        "lire aussi",
        "a lire aussi",
        "lire egalement",
        "a lire egalement",
        "a voir aussi",
        "voir aussi",
        "lire la suite",
        "la suite apres la publicite",
        "read more",
        "read also",
        "see also",
        "related articles",
        "related stories",
        "continue reading",
        "read the full story",
        "reagissez",
        "leave a comment",
        "laissez un commentaire",
        "partager sur",
        "partager cet article",
        "partagez",
        "share this",
        "share on",
        "follow us",
        "suivez nous",
        "abonnez vous",
        "inscrivez vous",
        "subscribe",
        "sign up",
        "click here",
        "cliquez ici",
        "credit photo",
        "credits photo",
        "photo credit",
        "image credit",
        "contenu sponsorise",
        "sponsored content",
        "listen to this article",
        "ecouter cet article",
        "ecoutez cet article",
    ),
    Scope.ALONE: (
        "advertisement",
        "publicite",
        "sponsored",
        "newsletter",
        "partager",
        "share",
        "tweet",
        "imprimer",
        "print",
        "commentaires",
        "comments",
        "related",
        "photo",
        "video",
        "a lire",
        "en savoir plus",
        "learn more",
        "lire plus",
        "voir plus",
        "see more",
        "fermer",
        "close",
    ),
    Scope.ANYWHERE: (
        "brought to you by",
        "this episode is sponsored by",
        "vous est presente par",
        "vous est propose par",
        "learn more about your ad choices",
        "ad choices",
        "heberge par acast",
        "hosted on acast",
        "hosted by acast",
        "see omnystudio com listener",
        "privacy policy",
        "politique de confidentialite",
        "subscribe to our newsletter",
        "sign up for our newsletter",
        "sign up to our newsletter",
        "inscrivez vous a notre newsletter",
        "abonnez vous a notre newsletter",
        "inscrivez vous a la newsletter",
        "abonnez vous a la newsletter",
        "recevez notre newsletter",
        "all rights reserved",
        "tous droits reserves",
        "droits reserves",
        "copyright",
        "appeared first on",
        "est apparu en premier sur",
        "leave a comment",
        "laissez un commentaire",
        "reagissez a cet article",
        "donnez votre avis",
        "follow us on",
        "suivez nous sur",
        "share this article",
        "partagez cet article",
        "click here to",
        "cliquez ici pour",
        "this article was originally published",
        "cet article est paru",
        "support our journalism",
        "soutenez notre journalisme",
        "become a member",
        "devenez membre",
        "download the app",
        "telechargez l application",
        "activer les notifications",
        "turn on notifications",
    ),
    Scope.SHORT: (
        "is a reporter",
        "is a staff writer",
        "is a senior writer",
        "is a senior reporter",
        "is a writer",
        "is a correspondent",
        "is a journalist",
        "is an editor",
        "is a contributing writer",
        "is a freelance",
        "is the author of",
        "you can reach",
        "follow him on",
        "follow her on",
        "follow them on",
        "est journaliste",
        "journaliste specialise",
        "journaliste specialisee",
        "est redacteur",
        "est redactrice",
        "est correspondant",
        "est correspondante",
        "vous pouvez le contacter",
        "vous pouvez la contacter",
        "suivez le sur",
        "suivez la sur",
        "with reporting by",
        "avec afp",
        "avec reuters",
        "edited by",
        "propos recueillis par",
        "par la redaction",
    ),
}

_WORD = re.compile(r"\w+")
_SYMBOLS = re.compile(r"©|\(c\)\s*(?:19|20)\d\d|®\s*$")
_END = ""  # trie key holding the scope of a phrase that ends at this node


def fold(text: str) -> list[str]:
    """Return the lower-cased, accent-free words of `text`."""
    # Dropping what is not ASCII after decomposition removes accents in one C-level pass; the phrases are
    # all Latin-script, so losing other scripts costs no match.
    folded = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode("ascii")
    return _WORD.findall(folded)


class BoilerplateMatcher:
    """A compiled set of boilerplate phrases; build once, call `matches` many times."""

    def __init__(self, phrases: dict[Scope, tuple[str, ...]] | None = None) -> None:
        self._trie: dict[str, object] = {}
        for scope, items in (phrases if phrases is not None else DEFAULT_PHRASES).items():
            for phrase in items:
                self._add(fold(phrase), scope)

    def _add(self, words: list[str], scope: Scope) -> None:
        if not words:
            return
        node = self._trie
        for word in words:
            child = node.get(word)
            if child is None:
                child = {}
                node[word] = child
            node = child  # type: ignore[assignment]
        scopes = node.setdefault(_END, set())
        scopes.add(scope)  # type: ignore[attr-defined]

    def matches(self, sentence: str) -> bool:
        """Return True when `sentence` holds one of the phrases in its scope."""
        if _SYMBOLS.search(sentence):
            return True
        words = fold(sentence)
        short = len(words) <= _SHORT_WORDS
        for i in range(len(words)):
            node = self._trie
            for j in range(i, len(words)):
                nxt = node.get(words[j])
                if nxt is None:
                    break
                node = nxt  # type: ignore[assignment]
                scopes = node.get(_END)
                if scopes and self._in_scope(scopes, i, len(words) - (j + 1 - i), short):  # type: ignore[arg-type]
                    return True
        return False

    @staticmethod
    def _in_scope(scopes: set[Scope], position: int, others: int, short: bool) -> bool:
        if Scope.ALONE in scopes and others <= _ALONE_WORDS - 1 and position <= 1:
            return True
        if Scope.ANYWHERE in scopes:
            return True
        if Scope.SHORT in scopes and short:
            return True
        return Scope.START in scopes and position == 0 and short


def is_boilerplate(sentence: str, lang: str, matcher: BoilerplateMatcher | None = None) -> bool:
    """Return True when `sentence` is an ad notice, a call to subscribe, a bio, a share prompt, etc.

    `lang` is accepted for callers that know it; phrases of every language apply (see module docstring).
    Pass a `matcher` to use other phrases; without it the default, built once at import, is used.
    """
    del lang  # both languages' phrases apply on purpose
    return (matcher or _DEFAULT_MATCHER).matches(sentence)


# Immutable after construction, like a compiled regex: sharing it is safe and saves rebuilding the trie.
_DEFAULT_MATCHER = BoilerplateMatcher()
