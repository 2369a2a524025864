"""The query language shared by /search and subscriptions, parsed leniently, and matched in memory.

    broadcom nvidia            both words (AND is the default; an explicit AND is accepted)
    "puces électroniques"      an exact phrase (case and accents still ignored, words not stemmed)
    broadcom OR nvidia         either (also `broadcom | nvidia`)
    -rumeur  NOT rumeur        exclusion
    semicon*                   prefix (at least 2 characters)
    (a OR b) c                 grouping
    source:lemonde  source:"Le Monde"  lang:fr  entity:broadcom
    since:7d  since:24h  since:2026-11-01  before:2026-11-01

Words are matched through their French and English stems (see bot.search.analysis), so `puce` finds
`puces` and `semiconductor` finds `semiconductors`. OR, AND and NOT are operators only in capitals:
`or` is a French word.

`parse_query` never raises: it repairs what it can (closes quotes and parentheses, drops dangling
operators, treats unknown `field:` prefixes as words, truncates over-long input) and says what it did in
`Query.problems`, one short human sentence each. An unclosed quote becomes a phrase to the end of the
query, unless the rest holds query syntax (`"broadcom AND (`), where the quote is dropped instead; the
search service also drops it when the phrase finds nothing. This module raises nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.models import Article
from bot.search.analysis import Analyzers

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
MAX_DEPTH = 8
MIN_PREFIX_CHARS = 2
# Far enough for any real archive, near enough to stay inside every datetime range.
MAX_LOOKBACK_HOURS = 24 * 365 * 100

_DURATION = re.compile(r"^(\d{1,7})([hdwmy]?)$")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_UNIT_HOURS = {"h": 1, "d": 24, "": 24, "w": 24 * 7, "m": 24 * 30, "y": 24 * 365}
_FIELDS = ("source", "lang", "entity", "since", "before")
UNCLOSED_QUOTE = "closed an unclosed quote"
DROPPED_QUOTE = "ignored an unclosed quote (the rest reads as a query, not a phrase)"
_LANG_NAMES = {
    "french": "fr", "francais": "fr", "fra": "fr", "fre": "fr",
    "english": "en", "anglais": "en", "eng": "en",
}  # fmt: skip


# ---- the AST -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Word:
    """A word matched through its stems; `raw` is what the user typed, for suggestions."""

    plain: str
    fr: str
    en: str
    raw: str


@dataclass(frozen=True, slots=True)
class Prefix:
    """Every word starting with `plain` (folded, not stemmed)."""

    plain: str


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive folded words; with `prefix_last` the last one is a prefix."""

    words: tuple[str, ...]
    prefix_last: bool = False


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """`source:`, `lang:` or `entity:` equal to a keyword (folded, or compact, or source words)."""

    name: str
    folded: str
    compact: str
    words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DateFilter:
    """`since:` (published at or after `at`) or `before:` (published strictly before `at`)."""

    name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Leaf = Word | Prefix | Phrase | FieldFilter | DateFilter
Node = Leaf | Not | And | Or


# ---- the article side --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchDoc:
    """One article analysed once, ready to be matched against any number of queries."""

    fr: frozenset[str]
    en: frozenset[str]
    plain: frozenset[str]
    # Title and text apart, as in the index, so a phrase never spans the two.
    sequences: tuple[tuple[str, ...], ...]
    source: frozenset[str]
    source_words: tuple[str, ...]
    lang: str
    entities: frozenset[str]
    published: datetime

    @classmethod
    def from_article(cls, article: Article, analyzers: Analyzers | None = None) -> MatchDoc:
        """Analyse an article's title, text and metadata the way the search index does."""
        an = analyzers or Analyzers()
        title, text = tuple(an.words(article.title)), tuple(an.words(article.text))
        # The stemmed forms of "title\ntext" are those of its folded words: each distinct word stemmed once.
        fr, en = an.text_stems(title + text, f"{article.title}\n{article.text}")
        source_forms = an.keyword_forms(article.source)
        entities: set[str] = set()
        for entity in article.entities:
            entities.update(f for f in an.keyword_forms(entity) if f)
        return cls(
            fr=fr,
            en=en,
            plain=frozenset(title).union(text),
            sequences=(title, text),
            source=frozenset(f for f in source_forms if f),
            source_words=tuple(an.words(article.source)),
            lang=an.keyword_forms(article.lang or "und")[0],
            entities=frozenset(entities),
            published=_as_utc(article.published),
        )


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _contains_phrase(sequence: tuple[str, ...], words: tuple[str, ...], prefix_last: bool) -> bool:
    n = len(words)
    if prefix_last and n == 1:
        return any(token.startswith(words[0]) for token in sequence)
    exact = n - 1 if prefix_last else n
    first, stop, start = words[0], max(len(sequence) - n + 1, 0), -1  # a negative stop would count from the end
    while True:
        # tuple.index scans at C speed: no per-article table of word positions to build.
        try:
            start = sequence.index(first, start + 1, stop)
        except ValueError:
            return False
        if all(sequence[start + k] == words[k] for k in range(1, exact)) and (
            not prefix_last or sequence[start + n - 1].startswith(words[-1])
        ):
            return True


def _match(node: Node, doc: MatchDoc) -> bool:
    # Cost is bounded by the query size times the article size: sets, slices and startswith only.
    match node:
        case Word():
            return node.fr in doc.fr or node.en in doc.en
        case Prefix():
            return any(w.startswith(node.plain) for w in doc.plain)
        case Phrase():
            return any(_contains_phrase(seq, node.words, node.prefix_last) for seq in doc.sequences)
        case FieldFilter(name="source"):
            if node.folded in doc.source or node.compact in doc.source:
                return True
            return bool(node.words) and _contains_phrase(doc.source_words, node.words, False)
        case FieldFilter(name="lang"):
            return node.folded == doc.lang
        case FieldFilter():
            return node.folded in doc.entities or node.compact in doc.entities
        case DateFilter(name="since"):
            return doc.published >= node.at
        case DateFilter():
            return doc.published < node.at
        case Not():
            return not _match(node.child, doc)
        case And():
            return all(_match(child, doc) for child in node.children)
        case Or():
            return any(_match(child, doc) for child in node.children)
    return False


# ---- the query ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Query:
    """A parsed query: its tree (None when nothing usable was typed) and what the parser repaired."""

    root: Node | None
    text: str
    problems: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Tell whether there is nothing to search for."""
        return self.root is None

    @property
    def has_scoring_terms(self) -> bool:
        """Tell whether some word, phrase or prefix is looked for (not only filters)."""
        return any(isinstance(leaf, Word | Prefix | Phrase) for leaf in self.positive_leaves())

    def matches(self, doc: MatchDoc) -> bool:
        """Tell whether one analysed article satisfies the query (an empty query matches nothing)."""
        return self.root is not None and _match(self.root, doc)

    def positive_leaves(self) -> Iterator[Leaf]:
        """Yield every leaf that is looked for, not excluded (for highlighting and suggestions)."""
        if self.root is not None:
            yield from _positive_leaves(self.root, False)

    def leaves(self) -> Iterator[Leaf]:
        """Yield every leaf of the query, excluded ones included."""
        if self.root is not None:
            yield from _all_leaves(self.root)


def _positive_leaves(node: Node, negated: bool) -> Iterator[Leaf]:
    if isinstance(node, Not):
        yield from _positive_leaves(node.child, not negated)
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _positive_leaves(child, negated)
    elif not negated:
        yield node


def _all_leaves(node: Node) -> Iterator[Leaf]:
    if isinstance(node, Not):
        yield from _all_leaves(node.child)
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from _all_leaves(child)
    else:
        yield node


def _is_positive(node: Node) -> bool:
    # Whether the node restricts the archive to something; `-a` or `a OR -b` would match nearly everything.
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_is_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(_is_positive(c) for c in node.children)
    return True


# ---- lexing ------------------------------------------------------------------------------------

_LPAREN, _RPAREN, _OR, _AND, _NOT, _LEAF = "(", ")", "OR", "AND", "NOT", "leaf"
_SPECIAL = frozenset('()"|')


@dataclass(slots=True)
class _Token:
    kind: str
    leaf: Leaf | None = None


def _clean(text: str) -> str:
    # Control and format characters (including our highlight marks) become spaces; NFC so accents compare.
    text = unicodedata.normalize("NFC", text)
    return "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)


def _looks_like_syntax(rest: str) -> bool:
    # Operators, groups or filters after an unclosed quote: the user was writing a query, not a phrase.
    if any(ch in rest for ch in "()|"):
        return True
    for chunk in rest.split():
        if chunk in (_OR, _AND, _NOT) or (chunk.startswith("-") and len(chunk) > 1):
            return True
        name, sep, _ = chunk.partition(":")
        if sep and name.lower() in _FIELDS:
            return True
    return False


class _Parser:
    def __init__(self, text: str, now: datetime, analyzers: Analyzers, quote_as_words: bool = False) -> None:
        self.text = text
        self.quote_as_words = quote_as_words
        self.now = _as_utc(now)
        self.an = analyzers
        self.problems: list[str] = []
        self.terms = 0
        self.tokens: list[_Token] = []
        self.pos = 0

    def note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    # lexer

    def lex(self) -> None:
        text, i, n = self.text, 0, len(self.text)
        while i < n:
            ch = text[i]
            if ch == " ":
                i += 1
            elif ch == "(":
                self.tokens.append(_Token(_LPAREN))
                i += 1
            elif ch == ")":
                self.tokens.append(_Token(_RPAREN))
                i += 1
            elif ch == "|":
                self.tokens.append(_Token(_OR))
                i += 1
            elif ch == '"':
                if text.find('"', i + 1) < 0 and (self.quote_as_words or _looks_like_syntax(text[i + 1 :])):
                    if not self.quote_as_words:
                        self.note(DROPPED_QUOTE)
                    i += 1
                    continue
                value, i = self.read_quoted(i)
                self.add_leaf(self.phrase(value))
            elif ch == "-" and i + 1 < n and text[i + 1] not in " -":
                self.tokens.append(_Token(_NOT))
                i += 1
            else:
                start = i
                while i < n and text[i] != " " and text[i] not in _SPECIAL:
                    i += 1
                chunk = text[start:i]
                if chunk.endswith(":") and i < n and text[i] == '"' and chunk[:-1].lower() in _FIELDS:
                    value, i = self.read_quoted(i)
                    self.add_leaf(self.field(chunk[:-1].lower(), value))
                else:
                    self.chunk(chunk)

    def read_quoted(self, i: int) -> tuple[str, int]:
        end = self.text.find('"', i + 1)
        if end < 0:
            self.note(UNCLOSED_QUOTE)
            return self.text[i + 1 :], len(self.text)
        return self.text[i + 1 : end], end + 1

    def chunk(self, chunk: str) -> None:
        if chunk in (_OR, _AND, _NOT):
            self.tokens.append(_Token(chunk))
            return
        if chunk.startswith("-"):
            self.note("ignored a stray -")
            chunk = chunk.lstrip("-")
            if not chunk:
                return
        name, sep, value = chunk.partition(":")
        if sep and name.lower() in _FIELDS:
            self.add_leaf(self.field(name.lower(), value))
            return
        body = chunk.rstrip("*")
        is_prefix = body != chunk
        if "*" in body or not body:
            self.note("ignored a * that was not at the end of a word")
            body = body.replace("*", " ")
        self.add_leaf(self.word_chunk(body, is_prefix))

    def add_leaf(self, leaf: Leaf | None) -> None:
        if leaf is None:
            return
        if self.terms >= MAX_TERMS:
            self.note(f"kept only the first {MAX_TERMS} terms")
            return
        self.terms += 1
        self.tokens.append(_Token(_LEAF, leaf))

    # leaves

    def word_chunk(self, chunk: str, is_prefix: bool) -> Leaf | None:
        words = self.an.words(chunk)
        if not words:
            if chunk.strip():
                self.note(f"ignored {chunk.strip()[:40]!r}: nothing searchable in it")
            return None
        if len(words) > 1:
            return Phrase(tuple(words), prefix_last=is_prefix)
        word = words[0]
        if is_prefix:
            if len(word) < MIN_PREFIX_CHARS:
                self.note(f"ignored {chunk[:40]!r}: a prefix needs at least {MIN_PREFIX_CHARS} characters")
                return None
            return Prefix(word)
        return Word(word, *self.an.query_stems(word), chunk)

    def phrase(self, value: str) -> Leaf | None:
        words = self.an.words(value)
        if not words:
            if value.strip():
                self.note(f"ignored {value[:40]!r}: nothing searchable in it")
            return None
        return Phrase(tuple(words))

    def field(self, name: str, value: str) -> Leaf | None:
        value = value.strip()
        if not value:
            self.note(f"ignored an empty {name}: filter")
            return None
        if name in ("since", "before"):
            at = self.when(value)
            if at is None:
                self.note(f"ignored {name}:{value[:20]} (expected for example 7d, 24h or 2026-11-01)")
                return None
            return DateFilter(name, at)
        folded, compact = self.an.keyword_forms(value)
        if not compact:
            self.note(f"ignored {name}:{value[:20]}: nothing searchable in it")
            return None
        if name == "lang":
            folded = _LANG_NAMES.get(folded, folded)
            return FieldFilter(name, folded, folded)
        words = tuple(self.an.words(value)) if name == "source" else ()
        return FieldFilter(name, folded, compact, words)

    def when(self, value: str) -> datetime | None:
        value = value.lower()
        if m := _DURATION.match(value):
            hours = min(int(m.group(1)) * _UNIT_HOURS[m.group(2)], MAX_LOOKBACK_HOURS)
            try:
                return self.now - timedelta(hours=hours)
            except OverflowError:
                return datetime.min.replace(tzinfo=UTC)
        if m := _DATE.match(value):
            try:
                return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC)
            except ValueError:
                return None
        return None

    # parser: or_expr := and_expr (OR and_expr)* ; and_expr := unary+ ; unary := NOT* primary

    def peek(self) -> str | None:
        return self.tokens[self.pos].kind if self.pos < len(self.tokens) else None

    def parse(self) -> Node | None:
        parts: list[Node] = []
        while self.pos < len(self.tokens):
            node = self.parse_or(0)
            if node is not None:
                parts.append(node)
            if self.peek() == _RPAREN:
                self.note("ignored an unmatched )")
                self.pos += 1
        return _and(parts)

    def parse_or(self, depth: int) -> Node | None:
        branches: list[Node] = []
        first = self.parse_and(depth)
        if first is not None:
            branches.append(first)
        while self.peek() == _OR:
            self.pos += 1
            branch = self.parse_and(depth)
            if branch is None or not branches:
                self.note("ignored a dangling OR")
            if branch is not None:
                branches.append(branch)
        if len(branches) > 1:
            flat: list[Node] = []
            for b in branches:
                flat.extend(b.children if isinstance(b, Or) else (b,))
            return Or(tuple(flat))
        return branches[0] if branches else None

    def parse_and(self, depth: int) -> Node | None:
        items: list[Node] = []
        while self.peek() not in (None, _OR, _RPAREN):
            if self.peek() == _AND:
                self.pos += 1
                continue
            node = self.parse_unary(depth)
            if node is not None:
                items.append(node)
        return _and(items)

    def parse_unary(self, depth: int) -> Node | None:
        negate = False
        while self.peek() in (_NOT, _AND):
            negate = negate ^ (self.peek() == _NOT)
            self.pos += 1
        if self.peek() in (None, _OR, _RPAREN):
            if negate:
                self.note("ignored a dangling NOT or -")
            return None
        node = self.parse_primary(depth)
        if node is None or not negate:
            return node
        return node.child if isinstance(node, Not) else Not(node)

    def parse_primary(self, depth: int) -> Node | None:
        token = self.tokens[self.pos]
        self.pos += 1
        if token.kind == _LEAF:
            return token.leaf
        # token.kind is "(" here: parse_unary stops on everything else.
        if depth >= MAX_DEPTH:
            # Dropping the parenthesis keeps recursion bounded; its content joins the enclosing group.
            self.note(f"ignored parentheses nested more than {MAX_DEPTH} deep")
            return None
        node = self.parse_or(depth + 1)
        if self.peek() == _RPAREN:
            self.pos += 1
        else:
            self.note("closed an unclosed parenthesis")
        if node is None:
            self.note("ignored empty parentheses")
        return node


def _and(items: list[Node]) -> Node | None:
    flat: list[Node] = []
    for item in items:
        flat.extend(item.children if isinstance(item, And) else (item,))
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def parse_when(value: str, now: datetime) -> datetime | None:
    """Read a since:/before: value (`7d`, `24h`, `2w`, `2026-11-01`) as a UTC moment; None when unreadable."""
    return _Parser("", now, Analyzers()).when(value.strip())


def parse_query(
    text: str, now: datetime, analyzers: Analyzers | None = None, *, unclosed_quote_as_words: bool = False
) -> Query:
    """Parse any string into a Query, repairing what can be repaired; never raise.

    With `unclosed_quote_as_words` an unclosed quote is dropped and the rest read as ordinary words.
    """
    if not isinstance(text, str):
        return Query(None, "", ["the query is not text"])
    problems: list[str] = []
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        problems.append(f"kept only the first {MAX_QUERY_CHARS} characters")
    parser = _Parser(_clean(text), now, analyzers or Analyzers(), unclosed_quote_as_words)
    parser.problems = problems
    parser.lex()
    root = parser.parse()
    if root is not None and not _is_positive(root):
        parser.note("a query needs something to look for, not only exclusions")
        root = None
    return Query(root, text, parser.problems)
