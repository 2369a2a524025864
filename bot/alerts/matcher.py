"""Match a new article against every subscription through an index, so cost does not grow with their number.

Each subscription is parsed once (re-read only when the store's subscriptions version changes, and then
only the new ones are parsed) and rewritten as an OR of conjunctions over its leaves (words, phrases,
prefixes, filters): every clause of a conjunction (one leaf, or an OR of leaves) must hold and none of its
excluded leaves. `nvidia`, `nvidia OR amd`, `nvidia puce -rumeur`, `(a OR b) c lang:fr` all take this form.
Subscriptions with the same form (`Nvidia` and `nvidia`, in five thousand chats) share one entry.

An article is analysed once into a MatchDoc, then:

    leaves        which distinct leaves of all the queries it satisfies, from lookups of its stems, words,
                  adjacent word pairs, word prefixes, source, language, entities and date (a leaf that
                  terms cannot decide alone, such as a three-word phrase, is checked only when its first
                  word pair is there); each leaf is decided once, however many queries share it
    direct        a query that is one clause (`nvidia`, `a OR b`) matches as soon as one of its leaves holds
    anchored      any other conjunction is filed under its clause the fewest queries share (a rare word rather
                  than a famous company); when that clause holds, a two-clause conjunction is one set
                  intersection away, the rest a subset test and a disjointness test over the true clauses
    chats         the matching entries' chats, each named by its oldest matching subscription

A query whose rewriting would be too large (an AND of many ORs of ANDs) keeps the first matcher's scheme:
filed under anchor terms, then tested with a closure equivalent to Query.matches (`compile_test`); one with
no anchor (only a date filter) is tested on every article. Nothing a user types becomes a pattern: the
cost depends on the article and on how many queries share its terms, never on what the queries contain.

Watchlist aliases from the config (`entities: {Broadcom: [Broadcom, AVGO]}`) are resolved at compile time,
so `entity:avgo` and `entity:broadcom` are the same subscription.

Errors: none of its own. One subscription that fails to compile or to test is logged and skipped.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, islice
from operator import itemgetter
from typing import cast

import numpy as np

from bot.models import Article, ChatRef, Subscription
from bot.search.analysis import Analyzers
from bot.search.query import (
    MIN_PREFIX_CHARS,
    And,
    DateFilter,
    FieldFilter,
    Leaf,
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

Term = str | tuple[str, str]  # a word, a prefix, a value, or two adjacent words
Anchor = tuple[str, Term]  # (kind, term)
Clause = frozenset[Leaf]  # holds when one of its leaves holds
Conjunction = tuple[frozenset[Clause], frozenset[Leaf]]  # every clause holds and no excluded leaf holds


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
    # The query as an OR of conjunctions over its leaves; None: too large, tested through `test`.
    conjunctions: tuple[Conjunction, ...] | None = None


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
    """An analysed article as the index reads it, with its derived term sets computed once, on demand."""

    __slots__ = ("doc", "fr", "en", "plain", "entities", "lang", "_prefixes", "_cut", "_bigrams")

    def __init__(self, doc: MatchDoc) -> None:
        self.doc = doc
        self.fr, self.en, self.plain = doc.fr, doc.en, doc.plain
        self.entities, self.lang = doc.entities, doc.lang
        self._prefixes: frozenset[str] | None = None
        self._cut: dict[int, set[str]] = {}
        self._bigrams: set[tuple[str, str]] | None = None

    @property
    def prefixes(self) -> frozenset[str]:
        """Return the first 2 to PREFIX_KEY_CHARS letters of every word."""
        if self._prefixes is None:
            self._prefixes = frozenset(w[:k] for w in self.plain for k in range(2, min(len(w), PREFIX_KEY_CHARS) + 1))
        return self._prefixes

    def cut(self, length: int) -> set[str]:
        """Return the first `length` letters of every word (or the whole word when shorter)."""
        found = self._cut.get(length)
        if found is None:
            # Shorter words stay whole, and a whole word shorter than `length` never equals a cut that long.
            found = self._cut[length] = set(map(itemgetter(slice(length)), self.plain))
        return found

    @property
    def bigrams(self) -> set[tuple[str, str]]:
        """Return every pair of adjacent words within the title or within the text."""
        if self._bigrams is None:
            self._bigrams = set()
            for seq in self.doc.sequences:
                self._bigrams.update(zip(seq, seq[1:], strict=False))
        return self._bigrams

    def terms(self, kind: str) -> Iterable[Term]:
        """Return the article's terms of one LeafTable kind."""
        if kind.startswith("cut"):
            return self.cut(int(kind[3:]))
        return doc_terms(self, kind)

    def anchor_terms(self, kind: str) -> Iterable[Term]:
        """Return the article's terms of one anchor kind (see KINDS)."""
        return doc_terms(self, kind)


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
            return frozenset({("bigram", (words[0], words[1]))}), 1.5
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


def doc_terms(view: DocView, kind: str) -> Iterable[Term]:
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
        return view.bigrams
    if kind == "source":
        return view.doc.source
    if kind == "source_word":
        return view.doc.source_words
    if kind == "lang":
        return (view.lang,)
    if kind == "entity":
        return view.entities
    return ()


# ---- queries as an OR of conjunctions over leaves ----------------------------------------------------

# An AND of ORs of ANDs multiplies out; past this many conjunctions a query keeps its tree and its closure.
MAX_CONJUNCTIONS = 32
# Prefixes up to this long are looked up among the article's words cut to each length; longer ones are
# looked up by their first letters and then checked.
EXACT_PREFIX_CHARS = 8
# From this many matching entries on, their subscriptions are gathered with numpy rather than in Python.
NUMPY_FROM = 64
_LEAVES = (Word, Prefix, Phrase, FieldFilter, DateFilter)


def canonical_leaf(leaf: Leaf) -> Leaf:
    """Return the leaf stripped of what does not change what it matches (a word's spelling: its stems decide)."""
    return Word("", leaf.fr, leaf.en, "") if isinstance(leaf, Word) else leaf


def conjunctions(node: Node) -> tuple[Conjunction, ...] | None:
    """Return the tree as an OR of conjunctions; None when that is too large or one has nothing to look for."""
    found = _dnf(node, False)
    if found is None or any(not clauses for clauses, _ in found):
        return None
    return tuple(dict.fromkeys(found))


def _dnf(node: Node, negated: bool) -> list[Conjunction] | None:
    if isinstance(node, Not):
        return _dnf(node.child, not negated)
    if isinstance(node, And | Or):
        any_of = isinstance(node, Or) != negated  # De Morgan: under a NOT an AND is an OR of NOTs
        if any_of and not negated and all(isinstance(c, _LEAVES) for c in node.children):
            return [(frozenset({frozenset(canonical_leaf(cast(Leaf, c)) for c in node.children)}), frozenset())]
        parts: list[list[Conjunction]] = []
        for child in node.children:
            part = _dnf(child, negated)
            if part is None:
                return None
            parts.append(part)
        if any_of:
            out = [conjunction for part in parts for conjunction in part]
        else:
            out = [(frozenset(), frozenset())]
            for part in parts:
                out = [(a[0] | b[0], a[1] | b[1]) for a in out for b in part]
                if len(out) > MAX_CONJUNCTIONS:
                    return None
        return out if len(out) <= MAX_CONJUNCTIONS else None
    leaf = canonical_leaf(node)
    if negated:
        return [(frozenset(), frozenset({leaf}))]
    return [(frozenset({frozenset({leaf})}), frozenset())]


# How often a leaf holds, roughly, against a word's 1: an AND is filed under a clause that rarely holds.
_WEIGHT_LANG, _WEIGHT_DATE, _WEIGHT_SHORT_PREFIX = 50.0, 1000.0, {2: 20.0, 3: 5.0}
Check = Callable[[DocView], bool]


def _query_check(leaf: Leaf) -> Check:
    matches = Query(leaf, "").matches
    return lambda v: matches(v.doc)


def _long_prefix_check(prefix: str) -> Check:
    return lambda v: prefix in v.cut(len(prefix))


class LeafTable:
    """Every distinct leaf of the indexed queries, filed under the article terms that decide it.

    `exact` terms decide a leaf alone (a word's stem, a two-word phrase's pair, a short prefix, a filter's
    value); `checked` terms only make it possible, and the leaf's own check then decides (longer phrases,
    long prefixes, multi-word sources). Dates are two sorted lists, cut where the article's date falls.
    """

    def __init__(self) -> None:
        self.ids: dict[Leaf, int] = {}
        self.weights: list[float] = []
        self.exact: dict[str, dict[Term, list[int]]] = {}
        self.checked: dict[str, dict[Term, list[int]]] = {}
        self.checks: dict[int, Check] = {}
        self.always: list[int] = []
        self.cut_lengths: frozenset[int] = frozenset()  # the lengths of the prefixes filed under "cut"
        # One object per term string, shared by every kind's table (stems: the analyzers' own objects), so
        # a lookup that must read its key's string finds it in cache when another table just read it.
        self._strings: dict[str, str] = {}
        self._dates: dict[str, list[tuple[datetime, int]]] = {"since": [], "before": []}
        self._date_keys: dict[str, list[datetime]] = {}
        self._date_ids: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, leaf: Leaf) -> int:
        """Return the leaf's id, filing it the first time it is seen."""
        found = self.ids.get(leaf)
        if found is None:
            found = self.ids[leaf] = len(self.ids)
            self.weights.append(1.0)
            self._file(leaf, found)
        return found

    def _exact(self, kind: str, term: Term, leaf_id: int) -> None:
        if kind in ("fr", "en"):
            # The analyzers' own stem object, which an article's stems are too: a lookup then finds its key
            # by identity, without reading the key's string (bench_alerts: see BENCHMARKS.md).
            self._strings[cast(str, term)] = cast(str, term)
        elif isinstance(term, str):
            term = self._strings.setdefault(term, term)
        self.exact.setdefault(kind, {}).setdefault(term, []).append(leaf_id)

    def _checked(self, kind: str, term: Term, leaf_id: int, check: Check) -> None:
        self.checked.setdefault(kind, {}).setdefault(term, []).append(leaf_id)
        self.checks[leaf_id] = check

    def _hits(self, kind: str, postings: dict[Term, list[int]], view: DocView) -> Iterator[list[int]]:
        """Return the posting lists of the article's terms of `kind` found in `postings` (repeats included).

        One probe per term, C-level map and filter throughout: no set of the article's terms is built
        first (intersecting one with the table and then reading the hits' lists probed each hit twice).
        """
        if kind == "cut":
            plain = view.plain
            return chain.from_iterable(
                filter(None, map(postings.get, map(itemgetter(slice(length)), plain))) for length in self.cut_lengths
            )
        if kind == "bigram":
            # zip hands map a pair that nothing keeps, so it makes one tuple for the whole walk, not one per word.
            return chain.from_iterable(
                filter(None, map(postings.get, zip(seq, islice(seq, 1, None), strict=False)))
                for seq in view.doc.sequences
            )
        return filter(None, map(postings.get, view.terms(kind)))

    def _file(self, leaf: Leaf, leaf_id: int) -> None:
        if isinstance(leaf, Word):
            self._exact("fr", leaf.fr, leaf_id)
            self._exact("en", leaf.en, leaf_id)
        elif isinstance(leaf, Prefix) and MIN_PREFIX_CHARS <= len(leaf.plain) <= EXACT_PREFIX_CHARS:
            # A word starts with the prefix when the prefix is among the article's words cut to its length.
            self._exact("cut", leaf.plain, leaf_id)
            self.cut_lengths |= {len(leaf.plain)}
            self.weights[leaf_id] = _WEIGHT_SHORT_PREFIX.get(len(leaf.plain), 1.0)
        elif isinstance(leaf, Prefix) and len(leaf.plain) > EXACT_PREFIX_CHARS:
            key = f"cut{EXACT_PREFIX_CHARS}"
            self._checked(key, leaf.plain[:EXACT_PREFIX_CHARS], leaf_id, _long_prefix_check(leaf.plain))
        elif isinstance(leaf, Phrase) and len(leaf.words) == 1 and not leaf.prefix_last:
            self._exact("plain", leaf.words[0], leaf_id)
        elif isinstance(leaf, Phrase) and len(leaf.words) == 2 and not leaf.prefix_last:
            # Two adjacent words of the title or of the text: the word pair decides, nothing left to check.
            self._exact("bigram", (leaf.words[0], leaf.words[1]), leaf_id)
        elif isinstance(leaf, Phrase) and len(leaf.words) == 2:  # `semi-con*`: the first word, then the rest
            self._checked("plain", leaf.words[0], leaf_id, _query_check(leaf))
        elif isinstance(leaf, Phrase) and len(leaf.words) > 2:
            self._checked("bigram", (leaf.words[0], leaf.words[1]), leaf_id, _query_check(leaf))
        elif isinstance(leaf, FieldFilter) and leaf.name == "lang":
            self._exact("lang", leaf.folded, leaf_id)
            self.weights[leaf_id] = _WEIGHT_LANG
        elif isinstance(leaf, FieldFilter) and leaf.name == "source":
            self._exact("source", leaf.folded, leaf_id)
            self._exact("source", leaf.compact, leaf_id)
            if leaf.words:
                self._checked("source_word", leaf.words[0], leaf_id, _query_check(leaf))
        elif isinstance(leaf, FieldFilter):  # entity:, as Query.matches reads any other field
            self._exact("entity", leaf.folded, leaf_id)
            self._exact("entity", leaf.compact, leaf_id)
        elif isinstance(leaf, DateFilter):
            self._dates[leaf.name if leaf.name == "since" else "before"].append((leaf.at, leaf_id))
            self._date_keys.clear()
            self.weights[leaf_id] = _WEIGHT_DATE
        else:  # nothing the parser makes (a one-word phrase with a prefix): checked on every article
            self.always.append(leaf_id)
            self.checks[leaf_id] = _query_check(leaf)

    def true_leaves(self, view: DocView) -> set[int]:
        """Return the ids of the leaves the article satisfies."""
        doc = view.doc
        true: set[int] = set()
        for kind, postings in self.exact.items():
            # update(*...) takes every hit's posting list in one call, without a Python-level loop.
            true.update(*self._hits(kind, postings, view))
        checks = self.checks
        for kind, postings in self.checked.items():
            for leaf_id in set().union(*self._hits(kind, postings, view)) - true:
                if self._check(checks[leaf_id], view):
                    true.add(leaf_id)
        for leaf_id in self.always:
            if self._check(checks[leaf_id], view):
                true.add(leaf_id)
        if self._dates["since"] or self._dates["before"]:
            if not self._date_keys:
                for name, dated in self._dates.items():
                    dated.sort(key=lambda pair: pair[0])
                    self._date_keys[name] = [at for at, _ in dated]
                    self._date_ids[name] = [leaf_id for _, leaf_id in dated]
            # since: published at or after `at`, the sorted list's head; before: strictly before, its tail.
            true.update(self._date_ids["since"][: bisect_right(self._date_keys["since"], doc.published)])
            true.update(self._date_ids["before"][bisect_right(self._date_keys["before"], doc.published) :])
        return true

    @staticmethod
    def _check(check: Check, view: DocView) -> bool:
        try:
            return check(view)
        except Exception:  # one odd leaf must not stop the others; it then holds for no article
            log.exception("subscription term failed to match")
            return False


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Return the distinct values, ascending.

    np.unique without an index asked for hashes (numpy 2.3 and later), about 15 times slower than sorting
    on the few thousand positions one article matches; sorting then dropping repeats is what it used to do.
    """
    if len(values) < 2:
        return values
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


class Runs:
    """Lists of ints laid end to end in one array, so that the runs of many lists are gathered at C speed."""

    def __init__(self, lists: Sequence[Sized]) -> None:
        self.counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        self.starts = np.cumsum(self.counts) - self.counts

    def spans(self, keys: np.ndarray) -> np.ndarray:
        """Return the positions, in the end-to-end array, of the runs of the lists numbered `keys`, in order."""
        counts = self.counts[keys]
        ends = np.cumsum(counts)
        if not len(ends) or not ends[-1]:
            return np.empty(0, dtype=np.int64)
        # Each run's start, repeated over its length, plus each element's offset within its run.
        return np.repeat(self.starts[keys] - (ends - counts), counts) + np.arange(int(ends[-1]), dtype=np.int64)


class SubscriptionIndex:
    """Subscriptions compiled and indexed by their terms; answers which of them match an article.

    Subscriptions with the same conjunctive form (`nvidia` in five thousand chats) share one entry: it is
    decided once per article, and its chats come out together. The index is built once and never changed:
    LiveSubscriptionIndex puts the subscriptions added and removed since in front of it.

    Where most of an article's matches come from is laid out in flat arrays, so that a famous name held by
    thousands of chats costs one numpy gather rather than a Python step per chat: each leaf's one-clause
    subscriptions (`nvidia`, `a OR b`) by position, each leaf's clauses, each clause's two-clause
    conjunctions with their other clause and their subscriptions' positions.
    """

    def __init__(self, subscriptions: Sequence[CompiledSubscription]) -> None:
        self.subscriptions = sorted(subscriptions, key=lambda s: s.id)
        self._members: list[list[int]] = []  # per entry: positions in self.subscriptions, oldest first
        self._first: list[CompiledSubscription] = []
        entries: dict[object, int] = {}
        for position, sub in enumerate(self.subscriptions):
            if sub.parsed.root is None:
                continue
            key: object = frozenset(sub.conjunctions) if sub.conjunctions is not None else sub.parsed.root
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = len(self._members)
                self._members.append([])
                self._first.append(sub)
            self._members[entry].append(position)
        self._member_runs = Runs(self._members)
        self._flat_members = np.array([p for members in self._members for p in members], dtype=np.int64)
        self._chat_codes: dict[str, int] = {}
        self._chat_list = [
            self._chat_codes.setdefault(s.chat_key or str(s.chat), len(self._chat_codes)) for s in self.subscriptions
        ]
        self._chat_keys = list(self._chat_codes)
        self._chat_of = np.array(self._chat_list, dtype=np.int64)
        self._ids = np.array([s.id for s in self.subscriptions], dtype=np.int64)
        # Answer pairs (chat, query) are made entry by entry, so that the pairs of one entry lie together in
        # memory: an article naming a famous company alerts thousands of chats through a few entries, and
        # gathering their pairs then reads a few runs of memory rather than a page per chat (bench_alerts at
        # Zipf 1.0 / 100k: 1.13x, side by side with pairs made in id order).
        named: list[tuple[ChatRef, str] | None] = [None] * len(self.subscriptions)
        for position in chain(chain.from_iterable(self._members), range(len(self.subscriptions))):
            if named[position] is None:  # the second walk: subscriptions in no entry (an empty query)
                sub = self.subscriptions[position]
                named[position] = (sub.chat, sub.query)
        self._named = cast(list[tuple[ChatRef, str]], named)
        # The same pairs in an object array: the chats of thousands of positions come out in one C-level gather.
        self._named_array = np.empty(len(self._named), dtype=object)
        for position, pair in enumerate(self._named):
            self._named_array[position] = pair
        self.leaves = LeafTable()
        self._build_conjunctions()
        self._build_trees()

    def _build_conjunctions(self) -> None:
        leaves = self.leaves
        self._direct: dict[int, list[int]] = {}  # leaf -> entries that are one clause holding that leaf
        clause_ids: dict[frozenset[int], int] = {}
        pending: list[tuple[frozenset[int], frozenset[int], int]] = []
        for entry, first in enumerate(self._first):
            for clauses, excluded in first.conjunctions or ():
                leaf_sets = [frozenset(leaves.add(leaf) for leaf in clause) for clause in clauses]
                excluded_ids = frozenset(leaves.add(leaf) for leaf in excluded)
                if len(leaf_sets) == 1 and not excluded_ids:
                    for leaf_id in leaf_sets[0]:
                        self._direct.setdefault(leaf_id, []).append(entry)
                else:
                    ids = frozenset(clause_ids.setdefault(ls, len(clause_ids)) for ls in leaf_sets)
                    pending.append((ids, excluded_ids, entry))
        self._leaf_clauses: dict[int, list[int]] = {}  # leaf -> clauses (of anchored conjunctions) it makes hold
        weight: list[float] = [0.0] * len(clause_ids)
        for leaf_set, clause_id in clause_ids.items():
            weight[clause_id] = sum(leaves.weights[leaf_id] for leaf_id in leaf_set)
            for leaf_id in leaf_set:
                self._leaf_clauses.setdefault(leaf_id, []).append(clause_id)
        # How many conjunctions share each clause: a conjunction is filed under the clause fewest share,
        # since the terms many queries name (a famous company) are also the ones many articles carry.
        shared = [0] * len(clause_ids)
        for ids, _, _ in pending:
            for clause_id in ids:
                shared[clause_id] += 1
        pairs: list[list[tuple[int, int, int]]] = [[] for _ in clause_ids]  # anchor -> (other, entry, position)
        exclusions: list[list[tuple[int, int]]] = [[] for _ in clause_ids]  # anchor -> (excluded leaf, position)
        self._excluding: dict[int, tuple[list[int], dict[int, list[int]]]] = {}  # anchor -> (entries, by exclusion)
        self._general: dict[int, list[tuple[frozenset[int], frozenset[int], int]]] = {}
        for ids, excluded_ids, entry in pending:
            anchor = min(ids, key=lambda c: (shared[c] * weight[c], c))
            rest = ids - {anchor}
            if len(rest) == 1 and not excluded_ids:
                (other,) = rest
                pairs[anchor].extend((other, entry, position) for position in self._members[entry])
            elif not rest and len(excluded_ids) == 1:
                (one,) = excluded_ids
                every, by_exclusion = self._excluding.setdefault(anchor, ([], {}))
                every.append(entry)
                by_exclusion.setdefault(one, []).append(entry)
                exclusions[anchor].extend((one, position) for position in self._members[entry])
            else:
                self._general.setdefault(anchor, []).append((rest, excluded_ids, entry))
        # Two-clause conjunctions, the commonest kind, are decided for all true anchors at once in numpy.
        self._clause_count = len(clause_ids)
        self._pair_runs = Runs(pairs)
        self._pair_other = np.array([other for run in pairs for other, _, _ in run], dtype=np.int64)
        self._pair_entry = np.array([entry for run in pairs for _, entry, _ in run], dtype=np.int64)
        self._pair_position = np.array([position for run in pairs for _, _, position in run], dtype=np.int64)
        # One clause but one excluded leaf (`nvidia -rumeur`, thousands under a famous name): the same, in bulk.
        self._exclusion_runs = Runs(exclusions)
        self._exclusion_leaf = np.array([leaf for run in exclusions for leaf, _ in run], dtype=np.int64)
        self._exclusion_position = np.array([position for run in exclusions for _, position in run], dtype=np.int64)
        # Per leaf id, for articles that make many leaves hold: its one-clause subscriptions' positions, and
        # the clauses it makes hold. The index never changes, so neither do the leaf ids.
        direct_positions: list[list[int]] = [[] for _ in range(len(leaves))]
        for leaf_id, direct_entries in self._direct.items():
            direct_positions[leaf_id] = sorted(chain.from_iterable(map(self._members.__getitem__, direct_entries)))
        self._direct_runs = Runs(direct_positions)
        self._direct_flat = np.fromiter(chain.from_iterable(direct_positions), dtype=np.int64)
        leaf_clauses = [self._leaf_clauses.get(leaf_id, []) for leaf_id in range(len(leaves))]
        self._clause_runs = Runs(leaf_clauses)
        self._clause_flat = np.fromiter(chain.from_iterable(leaf_clauses), dtype=np.int64)

    def _build_trees(self) -> None:
        # Entries without a conjunctive form: the first matcher's anchor terms and closures.
        trees = [entry for entry, first in enumerate(self._first) if first.conjunctions is None]
        self._tree_always: list[int] = []
        self._tree_index: dict[str, dict[Term, list[int]]] = {}
        shared: dict[Anchor, int] = {}
        for entry in trees:
            for choice in self._first[entry].choices:
                for anchor in choice:
                    shared[anchor] = shared.get(anchor, 0) + 1
        for entry in trees:
            first = self._first[entry]
            anchors = first.anchors
            if len(first.choices) > 1:
                anchors = min(first.choices, key=lambda c: sum(shared[a] for a in c))
            if anchors is None:
                self._tree_always.append(entry)
                continue
            for kind, term in anchors:
                self._tree_index.setdefault(kind, {}).setdefault(term, []).append(entry)

    def __len__(self) -> int:
        return len(self.subscriptions)

    @property
    def distinct_queries(self) -> int:
        """Return how many different queries (by what they match) the subscriptions hold."""
        return len(self._members)

    def _tree_candidates(self, view: DocView) -> set[int]:
        found: set[int] = set(self._tree_always)
        for kind, postings in self._tree_index.items():
            for term in postings.keys() & view.anchor_terms(kind):
                found.update(postings[term])
        return found

    def _true_clauses(self, true: set[int]) -> set[int]:
        leaf_clauses = self._leaf_clauses
        return set().union(*map(leaf_clauses.__getitem__, leaf_clauses.keys() & true))

    def candidates(self, doc: MatchDoc | DocView) -> set[int]:
        """Return the entries an article's terms lead to, before their other clauses and exclusions are checked."""
        view = doc if isinstance(doc, DocView) else DocView(doc)
        true = self.leaves.true_leaves(view)
        found = self._tree_candidates(view)
        for leaf_id in self._direct.keys() & true:
            found.update(self._direct[leaf_id])
        clauses = self._true_clauses(true)
        true_clauses = np.fromiter(clauses, dtype=np.int64, count=len(clauses))
        found.update(self._pair_entry[self._pair_runs.spans(true_clauses)].tolist())
        for anchor in self._excluding.keys() & clauses:
            found.update(self._excluding[anchor][0])
        for anchor in self._general.keys() & clauses:
            found.update(entry for _, _, entry in self._general[anchor])
        return found

    def _decide_rest(
        self, view: DocView, true: set[int], clauses: set[int], matched: set[int], excluding: bool = True
    ) -> None:
        # The entries neither one clause nor two: conjunctions with exclusions or more clauses, then trees.
        # `excluding` False: the one-clause, one-exclusion entries were decided in bulk by the caller.
        for anchor in self._excluding.keys() & clauses if excluding else ():
            every, by_exclusion = self._excluding[anchor]
            if by_exclusion.keys().isdisjoint(true):
                matched.update(every)
            else:
                for leaf_id, entries in by_exclusion.items():
                    if leaf_id not in true:
                        matched.update(entries)
        general = self._general
        for anchor in general.keys() & clauses:
            for rest, excluded_ids, entry in general[anchor]:
                if rest <= clauses and excluded_ids.isdisjoint(true):
                    matched.add(entry)
        if self._tree_index or self._tree_always:
            for entry in self._tree_candidates(view) - matched:
                first = self._first[entry]
                try:
                    if first.test(view):
                        matched.add(entry)
                except Exception:  # one odd subscription must not stop the others
                    log.exception("subscription failed to match", extra={"chat": str(first.chat), "query": first.query})

    def matching_positions(self, view: DocView, ordered: bool = True) -> list[int] | np.ndarray:
        """Return the positions in `subscriptions` of those matching the article: ascending (id order), each once.

        Not `ordered`: an array may come unsorted and with repeats (chats_of sorts it by chat anyway).
        """
        true = self.leaves.true_leaves(view)
        if len(true) >= NUMPY_FROM:
            return self._bulk_positions(view, true, ordered)
        # Few true leaves: followed in Python, with numpy only for the two-clause conjunctions.
        direct = self._direct
        matched: set[int] = set().union(*map(direct.__getitem__, direct.keys() & true))
        clauses = self._true_clauses(true)
        paired: np.ndarray | None = None
        if clauses:
            true_clauses = np.fromiter(clauses, dtype=np.int64, count=len(clauses))
            spans = self._pair_runs.spans(true_clauses)
            if len(spans):
                holds = np.zeros(self._clause_count, dtype=bool)
                holds[true_clauses] = True
                paired = self._pair_position[spans[holds[self._pair_other[spans]]]]
        self._decide_rest(view, true, clauses, matched)
        if len(matched) < NUMPY_FROM and (paired is None or len(paired) < NUMPY_FROM):
            # Every subscription is in exactly one entry, but a pair's positions may repeat a direct entry's
            # (an entry with two conjunctions that both hold): the set takes each once.
            positions = set(chain.from_iterable(map(self._members.__getitem__, matched)))
            if paired is not None:
                positions.update(paired.tolist())
            return sorted(positions)
        chosen = np.fromiter(matched, dtype=np.int64, count=len(matched))
        parts = [self._flat_members[self._member_runs.spans(chosen)]]
        if paired is not None:
            parts.append(paired)
        return sorted_unique(np.concatenate(parts)) if ordered else np.concatenate(parts)

    def _bulk_positions(self, view: DocView, true: set[int], ordered: bool) -> np.ndarray:
        # Many true leaves (a skewed article naming famous companies): every step is a numpy gather.
        true_ids = np.fromiter(true, dtype=np.int64, count=len(true))
        parts = [self._direct_flat[self._direct_runs.spans(true_ids)]]
        holds = np.zeros(self._clause_count, dtype=bool)
        holds[self._clause_flat[self._clause_runs.spans(true_ids)]] = True
        true_clauses = np.flatnonzero(holds)
        spans = self._pair_runs.spans(true_clauses)
        parts.append(self._pair_position[spans[holds[self._pair_other[spans]]]])
        leaf_holds = np.zeros(len(self.leaves), dtype=bool)
        leaf_holds[true_ids] = True
        spans = self._exclusion_runs.spans(true_clauses)
        parts.append(self._exclusion_position[spans[~leaf_holds[self._exclusion_leaf[spans]]]])
        matched: set[int] = set()
        clauses: set[int] = set(true_clauses.tolist()) if self._general else set()
        self._decide_rest(view, true, clauses, matched, excluding=False)
        if matched:
            chosen = np.fromiter(matched, dtype=np.int64, count=len(matched))
            parts.append(self._flat_members[self._member_runs.spans(chosen)])
        return sorted_unique(np.concatenate(parts)) if ordered else np.concatenate(parts)

    def chats_of(
        self, positions: list[int] | np.ndarray, extra: Sequence[CompiledSubscription] = ()
    ) -> list[tuple[ChatRef, str]]:
        """Return (chat, query) per chat among the positions and `extra` (id order), named by its oldest one."""
        if isinstance(positions, list):
            # Later pairs overwrite earlier ones, so going newest first each chat keeps its oldest.
            newest_first = positions[::-1]
            oldest = dict(zip(map(self._chat_list.__getitem__, newest_first), newest_first, strict=True))
            chosen: list[int] = list(oldest.values())
            named = list(map(self._named.__getitem__, chosen))
            if not extra:
                return named
            codes: list[int] = list(oldest)
        else:
            # One sort by (chat, position) puts each chat's oldest matching subscription first in its run,
            # whether or not the positions came sorted and with repeats.
            size = len(self.subscriptions)
            keys = np.sort(self._chat_of[positions] * size + positions)
            by_chat = keys // size
            first = np.ones(len(keys), dtype=bool)
            np.not_equal(by_chat[1:], by_chat[:-1], out=first[1:])
            code_array, chosen_array = by_chat[first], keys[first] % size
            named = self._named_array[chosen_array].tolist()
            if not extra:
                return named
            codes, chosen = code_array.tolist(), chosen_array.tolist()
        # Subscriptions from outside the index (few): each replaces its chat's pick when it is older.
        slot = {self._chat_keys[code]: i for i, code in enumerate(codes)}
        ids = self._ids[chosen].tolist() if chosen else []
        for sub in extra:
            key = sub.chat_key or str(sub.chat)
            i = slot.get(key)
            if i is None:
                slot[key] = len(named)
                named.append((sub.chat, sub.query))
                ids.append(sub.id)
            elif sub.id < ids[i]:
                named[i] = (sub.chat, sub.query)
                ids[i] = sub.id
        return named

    def matching(self, doc: MatchDoc) -> list[CompiledSubscription]:
        """Return every subscription that matches the article, in id order."""
        positions = self.matching_positions(DocView(doc))
        return [self.subscriptions[p] for p in (positions if isinstance(positions, list) else positions.tolist())]

    def match_chats(self, doc: MatchDoc) -> list[tuple[ChatRef, str]]:
        """Return (chat, query) for each chat with a matching subscription, named by its oldest matching one."""
        return self.chats_of(self.matching_positions(DocView(doc), ordered=False))


class DeltaIndex:
    """Subscriptions added since the main index was built, filed under their anchor terms and tested one by one.

    Adding or removing one costs a few dictionary operations, whatever the number of subscriptions; it stays
    small because LiveSubscriptionIndex folds it into a new main index once it has grown.
    """

    def __init__(self) -> None:
        self.subscriptions: dict[int, CompiledSubscription] = {}
        self._postings: dict[str, dict[Term, dict[int, CompiledSubscription]]] = {}
        self._always: dict[int, CompiledSubscription] = {}

    def __len__(self) -> int:
        return len(self.subscriptions)

    def add(self, sub: CompiledSubscription) -> None:
        """File one subscription (one with an empty query is kept but never matches)."""
        self.subscriptions[sub.id] = sub
        if sub.parsed.root is None:
            return
        if sub.anchors is None:
            self._always[sub.id] = sub
            return
        for kind, term in sub.anchors:
            self._postings.setdefault(kind, {}).setdefault(term, {})[sub.id] = sub

    def remove(self, sub_id: int) -> None:
        """Forget one subscription, if it is here."""
        sub = self.subscriptions.pop(sub_id, None)
        if sub is None or sub.parsed.root is None:
            return
        self._always.pop(sub_id, None)
        for kind, term in sub.anchors or ():
            postings = self._postings[kind]
            postings[term].pop(sub_id, None)
            if not postings[term]:
                del postings[term]

    def matching(self, view: DocView) -> list[CompiledSubscription]:
        """Return the subscriptions that match the article, in id order."""
        if not self.subscriptions:
            return []
        candidates: dict[int, CompiledSubscription] = dict(self._always)
        for kind, postings in self._postings.items():
            for term in postings.keys() & view.anchor_terms(kind):
                candidates.update(postings[term])
        found: list[CompiledSubscription] = []
        for sub_id in sorted(candidates):
            sub = candidates[sub_id]
            try:
                if sub.test(view):
                    found.append(sub)
            except Exception:  # one odd subscription must not stop the others
                log.exception("subscription failed to match", extra={"chat": str(sub.chat), "query": sub.query})
        return found


class LiveSubscriptionIndex:
    """The subscriptions as they change: a main SubscriptionIndex, a DeltaIndex of those added since, and
    tombstones for the main index's subscriptions removed since.

    A change costs about the same with 100k subscriptions as with 1k. Once the delta and the tombstones
    together pass `merge_after`, a new main index is built from the live subscriptions (in a background
    thread when `background`), and the changes made meanwhile are put back in front of it. Every method
    may be called from any thread.
    """

    def __init__(
        self, subscriptions: Sequence[CompiledSubscription] = (), *, merge_after: int = 1000, background: bool = True
    ) -> None:
        self.merge_after = merge_after
        self.background = background
        self._lock = threading.RLock()
        self._live: dict[int, CompiledSubscription] = {sub.id: sub for sub in subscriptions}
        self._merging: threading.Thread | None = None
        self._touched: set[int] = set()  # ids changed while a merge runs
        self._install(SubscriptionIndex(list(self._live.values())), dict(self._live), set(self._live))

    def _install(self, main: SubscriptionIndex, covered: dict[int, CompiledSubscription], ids: Iterable[int]) -> None:
        # `covered`: what `main` holds; `ids`: every id that may differ between it and the live subscriptions.
        self._main = main
        self._main_position = {sub.id: position for position, sub in enumerate(main.subscriptions)}
        self._delta = DeltaIndex()
        self._dead: set[int] = set()  # positions in main of subscriptions removed or changed since
        for sub_id in ids:
            live, held = self._live.get(sub_id), covered.get(sub_id)
            if live is held:
                continue
            if held is not None:
                self._dead.add(self._main_position[sub_id])
            if live is not None:
                self._delta.add(live)
        self._dead_mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._live)

    @property
    def pending(self) -> int:
        """Return how many changes sit in front of the main index (delta subscriptions plus tombstones)."""
        return len(self._delta) + len(self._dead)

    def ids(self) -> set[int]:
        """Return the ids of the live subscriptions."""
        with self._lock:
            return set(self._live)

    def get(self, sub_id: int) -> CompiledSubscription | None:
        """Return the live subscription with this id, if any."""
        return self._live.get(sub_id)

    def apply(self, added: Iterable[CompiledSubscription] = (), removed: Iterable[int] = ()) -> None:
        """Remove the subscriptions numbered `removed`, then add (or replace) those in `added`."""
        with self._lock:
            for sub_id in removed:
                self._drop(sub_id)
            for sub in added:
                self._drop(sub.id)
                self._live[sub.id] = sub
                self._delta.add(sub)
                self._touched.add(sub.id)
            self._maybe_merge()

    def add(self, sub: CompiledSubscription) -> None:
        """Add one subscription, or replace the one with the same id."""
        self.apply(added=(sub,))

    def remove(self, sub_id: int) -> None:
        """Remove one subscription (nothing happens when there is none with this id)."""
        self.apply(removed=(sub_id,))

    def _drop(self, sub_id: int) -> None:
        if self._live.pop(sub_id, None) is None:
            return
        self._touched.add(sub_id)
        if sub_id in self._delta.subscriptions:
            self._delta.remove(sub_id)
        else:
            self._dead.add(self._main_position[sub_id])
            self._dead_mask = None

    def _maybe_merge(self) -> None:
        if self._merging is not None or self.pending < self.merge_after:
            return
        snapshot = dict(self._live)
        self._touched = set()
        if not self.background:
            self._install(SubscriptionIndex(list(snapshot.values())), snapshot, self._touched)
            return
        self._merging = threading.Thread(target=self._merge, args=(snapshot,), name="subscription-merge", daemon=True)
        self._merging.start()

    def _merge(self, snapshot: dict[int, CompiledSubscription]) -> None:
        try:
            main = SubscriptionIndex(list(snapshot.values()))
        except Exception:  # the current main index and delta still answer correctly
            log.exception("subscription index merge failed")
            with self._lock:
                self._merging = None
            return
        with self._lock:
            self._install(main, snapshot, self._touched)
            self._touched = set()
            self._merging = None

    def wait_merged(self, timeout: float | None = None) -> None:
        """Wait for a merge running in the background, if any, to be installed."""
        thread = self._merging
        if thread is not None:
            thread.join(timeout)

    def rebuild(self) -> None:
        """Build the main index again from every live subscription, now, in this thread."""
        self.wait_merged()
        with self._lock:
            snapshot = dict(self._live)
            self._touched = set()
            self._install(SubscriptionIndex(list(snapshot.values())), snapshot, ())

    def _positions(self, view: DocView, ordered: bool = True) -> list[int] | np.ndarray:
        positions = self._main.matching_positions(view, ordered)
        if not self._dead:
            return positions
        if isinstance(positions, list):
            return [p for p in positions if p not in self._dead]
        if self._dead_mask is None:
            mask = np.zeros(len(self._main), dtype=bool)
            mask[list(self._dead)] = True
            self._dead_mask = mask
        return positions[~self._dead_mask[positions]]

    def match_chats(self, doc: MatchDoc) -> list[tuple[ChatRef, str]]:
        """Return (chat, query) for each chat with a matching subscription, named by its oldest matching one."""
        view = DocView(doc)
        with self._lock:  # a change never lands between the main index's answer and the delta's
            return self._main.chats_of(self._positions(view, ordered=False), self._delta.matching(view))

    def matching(self, doc: MatchDoc) -> list[CompiledSubscription]:
        """Return every live subscription that matches the article, in id order."""
        view = DocView(doc)
        with self._lock:
            positions = self._positions(view)
            found = [self._main.subscriptions[p] for p in (positions if isinstance(positions, list) else positions)]
            return sorted(found + self._delta.matching(view), key=lambda s: s.id)


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
            sub_id,
            chat,
            query,
            parsed,
            found[0] if found else None,
            compile_test(parsed.root),
            str(chat),
            anchor_choices(parsed.root),
            conjunctions(parsed.root),
        )


class SubscriptionMatcher:
    """Holds the live subscription index and answers which chats an article concerns.

    It reads the store's subscriptions version before each article: all the subscriptions are compiled and
    indexed at the first read (startup); after that, a new version (a /subscribe or /unsubscribe in this
    process or in another worker) is followed through the store's change log: only the subscriptions added,
    changed or removed since are read, compiled and applied. When the log no longer reaches back (trimmed,
    or a very long pause), everything is read and compared with what the index holds.
    """

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime] | None = None,
        *,
        entities: Mapping[str, Sequence[str]] | None = None,
        merge_after: int = 1000,
        background_merge: bool = True,
    ) -> None:
        self.store = store
        self.compiler = SubscriptionCompiler(entities, clock=clock)
        self.analyzers = self.compiler.analyzers
        self.index = LiveSubscriptionIndex(merge_after=merge_after, background=background_merge)
        self._version: int | None = None
        self._refresh_lock = threading.Lock()

    def _compile(self, sub: Subscription) -> CompiledSubscription | None:
        try:
            return self.compiler.compile(sub.id, sub.chat, sub.query)
        except Exception:  # a query the parser chokes on must not stop every alert
            log.exception("subscription failed to compile", extra={"chat": str(sub.chat), "query": sub.query})
            return None

    def refresh(self) -> None:
        """Bring the index up to the store's subscriptions when their version changed, applying only the changes."""
        version = self.store.subscriptions_version()
        if version == self._version:
            return
        with self._refresh_lock:  # two threads seeing the new version apply it once
            if version == self._version:
                return
            if self._version is not None:
                # Usually only the few subscriptions changed since are read (the store's change log).
                changes = self.store.subscription_changes(self._version)
                if changes is not None:
                    self._apply(changes.changed, set(changes.removed))
                    self._version = changes.version
                    return
            subscriptions = self.store.list_subscriptions()
            if self._version is None:
                compiled = [c for c in map(self._compile, subscriptions) if c is not None]
                self.index = LiveSubscriptionIndex(
                    compiled, merge_after=self.index.merge_after, background=self.index.background
                )
            else:  # the log did not reach back far enough: compare everything with what the index holds
                self._apply(subscriptions, self.index.ids() - {sub.id for sub in subscriptions})
            self._version = version

    def _apply(self, current: Sequence[Subscription], removed: set[int]) -> None:
        """Apply subscriptions in their current state (compiling only new or changed ones) and removals."""
        added: list[CompiledSubscription] = []
        gone = set(removed)
        for sub in current:
            held = self.index.get(sub.id)
            if held is not None and held.query == sub.query and held.chat == sub.chat:
                continue
            found = self._compile(sub)
            if found is not None:
                added.append(found)
            elif held is not None:  # changed into a query that does not compile: the old one goes
                gone.add(sub.id)
        self.index.apply(added, gone)

    def match(self, article: Article) -> list[tuple[ChatRef, str]]:
        """Return (chat, query) for each chat with a subscription matching the article (one per chat)."""
        self.refresh()
        if not len(self.index):
            return []
        return self.index.match_chats(MatchDoc.from_article(article, self.analyzers))
