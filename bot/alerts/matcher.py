"""Match a new article against every subscription through an index, so cost does not grow with their number.

Each subscription is parsed once (re-read only when the store's subscriptions version changes, and then
only the new ones are parsed) and compiled into:

    anchors   terms an article must carry for the subscription to have any chance: for an AND, the
              required child whose terms the fewest other queries share (a rare word rather than a famous
              company); every branch of an OR (a word gives its French and English stems, a phrase its
              first two words as a pair, a prefix its first four letters, entity:/source:/lang: their value)
    test      a closure equivalent to Query.matches, evaluated only for the candidates

An article is analysed once into a MatchDoc; its terms are looked up in the anchor index, and only the
subscriptions found there are tested. A subscription with no anchor (only a date filter) is tested on every
article. Nothing a user types becomes a pattern: the cost depends on the article and on how many
subscriptions share its terms, never on what the queries contain.

Watchlist aliases from the config (`entities: {Broadcom: [Broadcom, AVGO]}`) are resolved at compile time,
so `entity:avgo` and `entity:broadcom` are the same subscription.

Errors: none of its own. One subscription that fails to compile or to test is logged and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.models import Article, ChatRef
from bot.search.analysis import Analyzers
from bot.search.query import (
    And,
    DateFilter,
    FieldFilter,
    MatchDoc,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Query,
    Word,
    parse_query,
)
from bot.store.base import Store

log = logging.getLogger(__name__)

Test = Callable[["DocView"], bool]
# Anchor kinds, one index each: French stems, English stems, plain words, adjacent word pairs (phrases),
# word prefixes, source values, source words, languages, entities.
KINDS = ("fr", "en", "plain", "bigram", "prefix", "source", "source_word", "lang", "entity")
PREFIX_KEY_CHARS = 4
# Rough selectivity of each kind of anchor, lower is rarer; an AND is anchored on its cheapest child.
_COST = {"entity": 1.0, "source": 2.0, "source_word": 3.0, "lang": 50.0}

Anchor = tuple[str, str]  # (kind, term)


@dataclass(slots=True)
class CompiledSubscription:
    """One subscription ready to match: its anchors (None: test it on every article) and its test."""

    id: int
    chat: ChatRef
    query: str
    parsed: Query
    anchors: frozenset[Anchor] | None
    test: Test
    chat_key: str = ""  # str(chat), hashed faster than the dataclass when thousands of chats match
    # For an AND: each anchorable child's anchors, so the index can pick the one fewest queries share.
    choices: tuple[frozenset[Anchor], ...] = ()


class EntityAliases:
    """Maps any alias of a watchlist entity (folded or compact) to the entity's own keyword forms."""

    def __init__(self, entities: Mapping[str, Sequence[str]], analyzers: Analyzers) -> None:
        self._forms: dict[str, tuple[str, str]] = {}
        for name, aliases in entities.items():
            canonical = analyzers.keyword_forms(name)
            for alias in (name, *aliases):
                for form in analyzers.keyword_forms(alias):
                    if form:
                        self._forms.setdefault(form, canonical)

    def resolve(self, node: Node) -> Node:
        """Return the tree with every entity: filter naming an alias rewritten to its entity."""
        if isinstance(node, FieldFilter) and node.name == "entity":
            forms = self._forms.get(node.folded) or self._forms.get(node.compact)
            return FieldFilter("entity", forms[0], forms[1]) if forms else node
        if isinstance(node, Not):
            return Not(self.resolve(node.child))
        if isinstance(node, And):
            return And(tuple(self.resolve(c) for c in node.children))
        if isinstance(node, Or):
            return Or(tuple(self.resolve(c) for c in node.children))
        return node


class DocView:
    """An analysed article as the compiled tests read it, with its word prefixes computed once on demand."""

    __slots__ = ("doc", "fr", "en", "plain", "entities", "lang", "_prefixes")

    def __init__(self, doc: MatchDoc) -> None:
        self.doc = doc
        self.fr, self.en, self.plain = doc.fr, doc.en, doc.plain
        self.entities, self.lang = doc.entities, doc.lang
        self._prefixes: frozenset[str] | None = None

    @property
    def prefixes(self) -> frozenset[str]:
        """Return the first 2 to PREFIX_KEY_CHARS letters of every word."""
        if self._prefixes is None:
            self._prefixes = frozenset(
                w[:k] for w in self.plain for k in range(2, min(len(w), PREFIX_KEY_CHARS) + 1)
            )
        return self._prefixes


def compile_test(node: Node) -> Test:
    """Return a closure over a DocView that answers exactly what Query.matches answers for this tree."""
    if isinstance(node, Word):
        fr, en = node.fr, node.en
        return lambda v: fr in v.fr or en in v.en
    if isinstance(node, FieldFilter) and node.name == "entity":
        folded, compact = node.folded, node.compact
        return lambda v: folded in v.entities or compact in v.entities
    if isinstance(node, FieldFilter) and node.name == "lang":
        lang = node.folded
        return lambda v: v.lang == lang
    if isinstance(node, Prefix):
        prefix = node.plain
        if len(prefix) <= PREFIX_KEY_CHARS:
            return lambda v: prefix in v.prefixes
        key = prefix[:PREFIX_KEY_CHARS]
        return lambda v: key in v.prefixes and any(w.startswith(prefix) for w in v.plain)
    if isinstance(node, Not):
        child = compile_test(node.child)
        return lambda v: not child(v)
    if isinstance(node, And):
        children = tuple(compile_test(c) for c in node.children)
        if len(children) == 2:
            a, b = children
            return lambda v: a(v) and b(v)
        return lambda v: all(c(v) for c in children)
    if isinstance(node, Or):
        children = tuple(compile_test(c) for c in node.children)
        if len(children) == 2:
            a, b = children
            return lambda v: a(v) or b(v)
        return lambda v: any(c(v) for c in children)
    # Phrases, source: and dates: the query module's own matching, through its public API.
    full = Query(node, "").matches
    if isinstance(node, Phrase):
        # Every exact word of the phrase must be in the article: a set check before the positional one.
        needed = frozenset(node.words[:-1] if node.prefix_last else node.words)
        return lambda v: needed <= v.plain and full(v.doc)
    return lambda v: full(v.doc)


def anchors_of(node: Node) -> tuple[frozenset[Anchor], float] | None:
    """Return terms one of which any matching article must carry, with their cost; None when there are none."""
    if isinstance(node, Word):
        return frozenset({("fr", node.fr), ("en", node.en)}), 10.0 - min(len(node.plain), 8)
    if isinstance(node, Phrase):
        words = node.words[:-1] if node.prefix_last and len(node.words) > 1 else node.words
        if node.prefix_last and len(node.words) == 1:
            return _prefix_anchor(node.words[0])
        if len(words) >= 2:
            # Two adjacent words are far rarer in articles than either word alone.
            return frozenset({("bigram", f"{words[0]} {words[1]}")}), 1.5
        longest = max(words, key=len)
        return frozenset({("plain", longest)}), 9.0 - min(len(longest), 8)
    if isinstance(node, Prefix):
        return _prefix_anchor(node.plain)
    if isinstance(node, FieldFilter):
        if node.name == "lang":
            return frozenset({("lang", node.folded)}), _COST["lang"]
        if node.name == "entity":
            return frozenset({("entity", node.folded), ("entity", node.compact)}), _COST["entity"]
        forms = {("source", node.folded), ("source", node.compact)}
        if node.words:
            forms.add(("source_word", max(node.words, key=len)))
        return frozenset(forms), _COST["source"]
    if isinstance(node, DateFilter | Not):
        return None
    if isinstance(node, And):
        options = [a for a in (anchors_of(c) for c in node.children) if a is not None]
        return min(options, key=lambda option: option[1]) if options else None
    if isinstance(node, Or):
        union: set[Anchor] = set()
        cost = 0.0
        for child in node.children:
            found = anchors_of(child)
            if found is None:
                return None
            union.update(found[0])
            cost += found[1]
        return frozenset(union), cost
    return None


def anchor_choices(node: Node) -> tuple[frozenset[Anchor], ...]:
    """Return every anchor set that would do for this tree (one per anchorable child of a top-level AND)."""
    if isinstance(node, And):
        return tuple(found[0] for found in (anchors_of(c) for c in node.children) if found is not None)
    found = anchors_of(node)
    return (found[0],) if found is not None else ()


def _prefix_anchor(prefix: str) -> tuple[frozenset[Anchor], float]:
    return frozenset({("prefix", prefix[:PREFIX_KEY_CHARS])}), 12.0 - min(len(prefix), PREFIX_KEY_CHARS)


def doc_terms(view: DocView, kind: str) -> Iterable[str]:
    """Return the article's terms of one anchor kind."""
    if kind == "fr":
        return view.fr
    if kind == "en":
        return view.en
    if kind == "plain":
        return view.plain
    if kind == "prefix":
        return view.prefixes
    if kind == "bigram":
        return {f"{a} {b}" for seq in view.doc.sequences for a, b in zip(seq, seq[1:], strict=False)}
    if kind == "source":
        return view.doc.source
    if kind == "source_word":
        return view.doc.source_words
    if kind == "lang":
        return (view.lang,)
    return view.entities


class SubscriptionIndex:
    """Subscriptions compiled and indexed by anchor term; answers which of them match an article.

    Subscriptions with the same parsed query (`nvidia` in five thousand chats) share one entry: the query
    is tested once per article, and its chats come out as one prepared mapping.
    """

    def __init__(self, subscriptions: Sequence[CompiledSubscription]) -> None:
        self.subscriptions = sorted(subscriptions, key=lambda s: s.id)
        groups: dict[Node, list[CompiledSubscription]] = {}
        for sub in self.subscriptions:
            if sub.parsed.root is not None:
                groups.setdefault(sub.parsed.root, []).append(sub)
        # Groups in order of their oldest subscription: that order decides which query names a chat's alert.
        self._groups: list[list[CompiledSubscription]] = list(groups.values())
        self._tests: list[Test] = [members[0].test for members in self._groups]
        self._chats: list[dict[str, tuple[ChatRef, str]]] = []
        for members in self._groups:
            chats: dict[str, tuple[ChatRef, str]] = {}
            for sub in members:
                chats.setdefault(sub.chat_key, (sub.chat, sub.query))
            self._chats.append(chats)
        self._always: list[int] = []
        self._index: dict[str, dict[str, list[int]]] = {}
        # How many queries could be filed under each term: an AND is filed under its child whose terms
        # the fewest queries share, since popular terms (a famous company) are also common in articles.
        shared: dict[Anchor, int] = {}
        for members in self._groups:
            for choice in members[0].choices:
                for anchor in choice:
                    shared[anchor] = shared.get(anchor, 0) + 1
        for position, members in enumerate(self._groups):
            anchors = members[0].anchors
            if len(members[0].choices) > 1:
                anchors = min(members[0].choices, key=lambda c: sum(shared[a] for a in c))
            if anchors is None:
                self._always.append(position)
                continue
            for kind, term in anchors:
                self._index.setdefault(kind, {}).setdefault(term, []).append(position)

    def __len__(self) -> int:
        return len(self.subscriptions)

    @property
    def distinct_queries(self) -> int:
        """Return how many different queries the subscriptions hold."""
        return len(self._groups)

    def candidates(self, doc: MatchDoc | DocView) -> set[int]:
        """Return the distinct queries (by position) whose anchors the article carries."""
        view = doc if isinstance(doc, DocView) else DocView(doc)
        found: set[int] = set(self._always)
        for kind, postings in self._index.items():
            for term in doc_terms(view, kind):
                hit = postings.get(term)
                if hit is not None:
                    found.update(hit)
        return found

    def _matching_positions(self, doc: MatchDoc) -> list[int]:
        view = DocView(doc)
        positions = []
        tests = self._tests
        for position in self.candidates(view):
            try:
                if tests[position](view):
                    positions.append(position)
            except Exception:  # one odd subscription must not stop the others
                first = self._groups[position][0]
                log.exception("subscription failed to match", extra={"chat": str(first.chat), "query": first.query})
        return positions

    def matching(self, doc: MatchDoc) -> list[CompiledSubscription]:
        """Return every subscription that matches the article, in id order."""
        found = [sub for position in self._matching_positions(doc) for sub in self._groups[position]]
        return sorted(found, key=lambda s: s.id)

    def match_chats(self, doc: MatchDoc) -> list[tuple[ChatRef, str]]:
        """Return (chat, query) for each chat with a matching subscription, named by its oldest matching query."""
        best: dict[str, tuple[ChatRef, str]] = {}
        # Newest group first, so that older groups overwrite: dict.update runs at C speed per chat.
        for position in sorted(self._matching_positions(doc), reverse=True):
            best.update(self._chats[position])
        return list(best.values())


class SubscriptionCompiler:
    """Parses and compiles subscription queries, resolving watchlist aliases."""

    def __init__(
        self,
        entities: Mapping[str, Sequence[str]] | None = None,
        analyzers: Analyzers | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.analyzers = analyzers or Analyzers()
        self.aliases = EntityAliases(entities or {}, self.analyzers)
        self.clock = clock or (lambda: datetime.now(UTC))

    def parse(self, query: str) -> Query:
        """Parse a subscription query with watchlist aliases resolved."""
        parsed = parse_query(query, self.clock(), self.analyzers)
        if parsed.root is not None:
            parsed.root = self.aliases.resolve(parsed.root)
        return parsed

    def compile(self, sub_id: int, chat: ChatRef, query: str) -> CompiledSubscription:
        """Compile one subscription (an empty query compiles to one that never matches)."""
        parsed = self.parse(query)
        if parsed.root is None:
            return CompiledSubscription(sub_id, chat, query, parsed, frozenset(), lambda v: False, str(chat))
        found = anchors_of(parsed.root)
        return CompiledSubscription(
            sub_id, chat, query, parsed, found[0] if found else None, compile_test(parsed.root), str(chat),
            anchor_choices(parsed.root),
        )


class SubscriptionMatcher:
    """Holds the compiled subscription index and answers which chats an article concerns."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime] | None = None,
        *,
        entities: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.store = store
        self.compiler = SubscriptionCompiler(entities, clock=clock)
        self.analyzers = self.compiler.analyzers
        self.index = SubscriptionIndex([])
        self._version: int | None = None
        self._cache: dict[tuple[int, str], CompiledSubscription] = {}

    def refresh(self) -> None:
        """Re-read the subscriptions when they changed; parse only the ones not seen before."""
        version = self.store.subscriptions_version()
        if version == self._version:
            return
        subscriptions = self.store.list_subscriptions()
        cache: dict[tuple[int, str], CompiledSubscription] = {}
        for sub in subscriptions:
            key = (sub.id, sub.query)
            compiled = self._cache.get(key)
            if compiled is None or compiled.chat != sub.chat:
                try:
                    compiled = self.compiler.compile(sub.id, sub.chat, sub.query)
                except Exception:  # a query the parser chokes on must not stop every alert
                    log.exception("subscription failed to compile", extra={"chat": str(sub.chat), "query": sub.query})
                    continue
            cache[key] = compiled
        self._cache = cache
        self.index = SubscriptionIndex(list(cache.values()))
        self._version = version

    def match(self, article: Article) -> list[tuple[ChatRef, str]]:
        """Return (chat, query) for each chat with a subscription matching the article (one per chat)."""
        self.refresh()
        if not len(self.index):
            return []
        return self.index.match_chats(MatchDoc.from_article(article, self.analyzers))
