"""The full-text index of the archive, on tantivy: derived data, rebuilt from the store at will.

Fields (analyzers in bot.search.analysis):

    article_id          i64, indexed + fast: deletes, upserts, the watermark
    stems               title and text as French and English stem tokens in ONE field, term frequencies
                        only (see bot.search.analysis.stem_tokens); the title is added TITLE_REPEAT times
    words               folded, unstemmed title and text (two values) with positions: phrases, prefixes
    source_raw          whole source name, folded and compact; source_words: its words with positions
    lang, entities      folded keywords
    published           date, indexed + fast: since:/before: filters, newest-first listing
    published_ts        i64 seconds, fast: recency in the ranking
    story_id            i64, fast (0 when none)
    stored_text         the first 20,000 characters of the text, stored only: snippets

Ranking: BM25 over `stems` (a title word counts TITLE_REPEAT times, so a title match beats a text match)
times a recency factor, `FLOOR + (1 - FLOOR) * 0.5 ** (age_days / HALF_LIFE)`,
half-life 7 days, floor 0.3: a fresh article wins at equal relevance, and an old one that matches far
better still can. The factor is applied by re-ranking candidates: the best 200 by BM25 over the whole
archive plus, when more documents match, the best 200 by BM25 among the last 21 days. Queries with filters
only (`source:lemonde since:1d`) list newest first.

Why one field: a query word is then a few plain term queries on one field (`word_terms`; usually one term
exists), not a max over four boosted fields, so each matching document costs one posting read and one
BM25 term; for a common word over most of the archive that is most of the search time. Words and ORs
translate to one flat disjunction of term queries (no nested unions, boosts or max-of wrappers). Tantivy's
block-max WAND would skip more, but the Python bindings always collect through a MultiCollector, which
scores every match; the recent-window bound below is what skips work.

The recent window is searched first. For words, phrases, AND, OR and exclusions the best BM25 any document
can reach is bounded from the terms' document frequencies (idf x (1 + k1) per term; a phrase, the sum of
its words' idf x (1 + k1)); when that bound times the
recency factor at the window's edge cannot beat the last article of the requested page, no older article
can be on the page and the scan of the whole archive (most of the cost for a very common word) is skipped:
the page is the same. The count then stops at what the window found when that is COUNT_CAP or more
(`total_exact` False, shown "10,000+"), and is otherwise an aggregation, which does not score.

Durability: `watermark` is the highest article id in the committed index. It is the larger of the
maximum id stored in the index itself (so it moves atomically with tantivy's commit) and the value saved
in `veille_search.json` after each commit (so deleting the newest articles does not move it back).
`catch_up(store)` indexes every stored article above it: a crash between the store's commit and the
index's loses nothing. Adding an id already present replaces it.

Errors:

    SearchError                 base of bot.search errors
    └── SearchIndexError        the index cannot be opened, written or read (carries the path)
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import tantivy

from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START
from bot.models import Article
from bot.search.analysis import KEYWORD, PLAIN, STEMS, Analyzers
from bot.search.query import (
    And,
    DateFilter,
    FieldFilter,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Query,
    Word,
)
from bot.search.suggest import Vocabulary, write_atomically

log = logging.getLogger(__name__)

FORMAT = 2  # bump when the schema or the analyzers change: the index is then rebuilt
STATE_FILE = "veille_search.json"
VOCABULARY_FILE = "suggest.json"
TITLE_REPEAT = 3  # a title occurrence weighs as three text ones (BM25 saturates: about 1.6x, not 3x)
HALF_LIFE_DAYS = 7.0
RECENCY_FLOOR = 0.3
RERANK_WINDOW = 200
RECENT_SPAN = timedelta(days=3 * HALF_LIFE_DAYS)
MAX_LIMIT = 200
# Past this many matches among recent articles the exact count is not worth a scan of the archive.
COUNT_CAP = 10_000
BM25_K1 = 1.2  # tantivy's
BOUND_MARGIN = 1.05  # slack on the BM25 bound for float rounding and statistics counted slightly differently
MAX_OFFSET = 10_000
STORED_TEXT_CHARS = 20_000
SNIPPET_CHARS = 160
COMMIT_EVERY = 20_000
_MIN_DATE = datetime(1971, 1, 1, tzinfo=UTC)
_MAX_DATE = datetime(2200, 1, 1, tzinfo=UTC)


class SearchError(Exception):
    """Base of the search package's errors."""


class SearchIndexError(SearchError):
    """The index at `path` could not be opened, written or read."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"search index {path}: {reason}")
        self.path = path
        self.reason = reason


class ArticleSource(Protocol):
    """The part of bot.store.base.Store the index reads."""

    def iter_articles(self, after_id: int = 0, batch: int = 1000) -> Iterable[Article]: ...

    def max_article_id(self) -> int: ...


Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class IndexHit:
    """One matching article: its id, final score, highlighted snippet, story and date."""

    article_id: int
    score: float
    snippet: str
    story_id: int | None
    published: datetime


@dataclass(frozen=True, slots=True)
class IndexResults:
    """One page of hits, best first, and how many articles match in all (or at least, when not exact)."""

    hits: list[IndexHit]
    total: int
    total_exact: bool = True  # False: `total` articles match, maybe more (counting stopped, see COUNT_CAP)


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    # i64, not u64: the bindings turn a Python int into an i64 term, so deletes by term need i64.
    b.add_integer_field("article_id", stored=False, indexed=True, fast=True)
    b.add_text_field("stems", tokenizer_name=STEMS, index_option="freq")
    b.add_text_field("words", tokenizer_name=PLAIN, index_option="position")
    b.add_text_field("source_raw", tokenizer_name=KEYWORD, index_option="basic")
    b.add_text_field("source_words", tokenizer_name=PLAIN, index_option="position")
    b.add_text_field("lang", tokenizer_name=KEYWORD, index_option="basic")
    b.add_text_field("entities", tokenizer_name=KEYWORD, index_option="basic")
    b.add_date_field("published", indexed=True, fast=True)
    b.add_integer_field("published_ts", fast=True)
    b.add_integer_field("story_id", fast=True)
    b.add_bytes_field("stored_text", stored=True, indexed=False)
    return b.build()


def _utc(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return min(max(value, _MIN_DATE), _MAX_DATE)


def recency_factor(published_ts: float, now_ts: float) -> float:
    """Return the ranking's recency multiplier for an article published at `published_ts`."""
    age_days = max(0.0, (now_ts - published_ts) / 86400.0)
    return RECENCY_FLOOR + (1.0 - RECENCY_FLOOR) * math.pow(0.5, age_days / HALF_LIFE_DAYS)


class SearchIndex:
    """The tantivy index of the archive; one writer per directory, searches at any time."""

    def __init__(
        self,
        index: tantivy.Index,
        directory: Path | None,
        analyzers: Analyzers,
        vocabulary: Vocabulary,
        saved_watermark: int,
        heap_bytes: int,
        threads: int,
    ) -> None:
        self._index = index
        self._schema = index.schema
        self._directory = directory
        self._analyzers = analyzers
        self.vocabulary = vocabulary
        self._heap_bytes = heap_bytes
        self._threads = threads
        self._writer: tantivy.IndexWriter | None = None
        self._pending_max = 0
        self._pending = 0
        self._watermark = max(saved_watermark, self._max_indexed_id())

    # ---- opening and closing

    @classmethod
    def open(
        cls,
        directory: Path | None,
        *,
        recreate: bool = False,
        heap_bytes: int = 64_000_000,
        threads: int = 1,
    ) -> SearchIndex:
        """Open (or create) the index in `directory`, or in memory when None.

        The directory belongs to the index. An index written by another FORMAT is emptied and must be
        filled again with `catch_up`; so is an unreadable one when `recreate` is True.
        """
        analyzers = Analyzers()
        schema = _schema()
        if directory is None:
            index = tantivy.Index(schema, path=None)
            analyzers.register(index)
            return cls(index, None, analyzers, Vocabulary(), 0, heap_bytes, threads)
        where = str(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            state = _read_state(directory / STATE_FILE)
            if tantivy.Index.exists(where) and state.get("format") != FORMAT:
                log.warning("search index %s has another format; emptying it for a rebuild", where)
                _empty_directory(directory)
                state = {}
            try:
                index = tantivy.Index(schema, path=where, reuse=True)
            except ValueError as exc:
                if not recreate:
                    raise SearchIndexError(where, f"cannot open: {exc}") from exc
                log.warning("search index %s unreadable (%s); emptying it for a rebuild", where, exc)
                _empty_directory(directory)
                state = {}
                index = tantivy.Index(schema, path=where, reuse=True)
            analyzers.register(index)
            index.reload()
            vocabulary = Vocabulary.load(directory / VOCABULARY_FILE) if state else Vocabulary()
            watermark = int(state.get("watermark", 0)) if state else 0
            search_index = cls(index, directory, analyzers, vocabulary, watermark, heap_bytes, threads)
            if not state:
                search_index._save_state()
            return search_index
        except OSError as exc:
            raise SearchIndexError(where, f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Commit what is pending and release the writer (and its lock on the directory)."""
        if self._writer is not None:
            if self._pending:
                self.commit()
            writer, self._writer = self._writer, None
            try:
                writer.wait_merging_threads()
            except ValueError as exc:
                log.warning("search index %s: merge did not finish: %s", self._where, exc)

    @property
    def _where(self) -> str:
        return str(self._directory) if self._directory else "<memory>"

    @property
    def watermark(self) -> int:
        """Return the highest article id in the committed index (0 when empty)."""
        return self._watermark

    @property
    def analyzers(self) -> Analyzers:
        """Return the analyzers the index uses (share them with query parsing and matching)."""
        return self._analyzers

    def doc_count(self) -> int:
        """Return how many articles the committed index holds."""
        return int(self._index.searcher().num_docs)

    # ---- writing

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=self._heap_bytes, num_threads=self._threads)
            except ValueError as exc:
                reason = f"cannot write (is another process using it?): {exc}"
                raise SearchIndexError(self._where, reason) from exc
        return self._writer

    @property
    def high_water(self) -> int:
        """Return the highest article id added, committed or not."""
        return max(self._watermark, self._pending_max)

    def add(self, articles: Sequence[Article], *, replace: bool = True) -> int:
        """Queue articles for indexing (replacing any with the same id); `commit()` makes them visible."""
        writer = self._get_writer()
        added = 0
        for article in articles:
            if article.id is None or article.id <= 0:
                log.warning("search index: skipped article without an id: %s", article.url)
                continue
            try:
                if replace:
                    writer.delete_documents_by_term("article_id", article.id)
                writer.add_document(self._document(article))
            except ValueError as exc:
                raise SearchIndexError(self._where, f"cannot add article {article.id}: {exc}") from exc
            self.vocabulary.observe(article)
            self._pending_max = max(self._pending_max, article.id)
            self._pending += 1
            added += 1
        return added

    def _document(self, article: Article) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_integer("article_id", article.id or 0)
        title, text = article.title or "", article.text or ""
        title_stems = self._analyzers.stem_tokens(title)
        for _ in range(TITLE_REPEAT):
            doc.add_text("stems", title_stems)
        doc.add_text("stems", self._analyzers.stem_tokens(text))
        doc.add_text("words", title)
        doc.add_text("words", text)
        for form in {f for f in self._analyzers.keyword_forms(article.source) if f}:
            doc.add_text("source_raw", form)
        doc.add_text("source_words", article.source or "")
        doc.add_text("lang", article.lang or "und")
        for entity in article.entities:
            for form in {f for f in self._analyzers.keyword_forms(entity) if f}:
                doc.add_text("entities", form)
        published = _utc(article.published)
        doc.add_date("published", published)
        doc.add_integer("published_ts", int(published.timestamp()))
        doc.add_integer("story_id", article.story_id or 0)
        doc.add_bytes("stored_text", text[:STORED_TEXT_CHARS].encode("utf-8"))
        return doc

    def delete(self, article_ids: Iterable[int]) -> None:
        """Queue the removal of these articles; `commit()` applies it."""
        writer = self._get_writer()
        for article_id in article_ids:
            if article_id > 0:
                writer.delete_documents_by_term("article_id", article_id)
                self._pending += 1

    def commit(self) -> None:
        """Make queued changes durable and visible, then save the watermark and vocabulary."""
        if self._writer is None:
            return
        try:
            self._writer.commit()
            self._index.reload()
        except ValueError as exc:
            raise SearchIndexError(self._where, f"commit failed: {exc}") from exc
        self._watermark = max(self._watermark, self._pending_max)
        self._pending = 0
        self._save_state()

    def _save_state(self) -> None:
        if self._directory is None:
            return
        state = {"format": FORMAT, "watermark": self._watermark}
        try:
            write_atomically(self._directory / STATE_FILE, json.dumps(state).encode("ascii"))
            if self.vocabulary.dirty:
                self.vocabulary.save(self._directory / VOCABULARY_FILE)
        except OSError as exc:
            raise SearchIndexError(self._where, f"cannot save state: {exc}") from exc

    def _max_indexed_id(self) -> int:
        searcher = self._index.searcher()
        if searcher.num_docs == 0:
            return 0
        result = searcher.aggregate(tantivy.Query.all_query(), {"m": {"max": {"field": "article_id"}}})
        value = result.get("m", {}).get("value")
        return int(value) if value is not None else 0

    def catch_up(self, store: ArticleSource, progress: Progress | None = None) -> int:
        """Index every stored article above the watermark; return how many were indexed."""
        count = 0
        batch: list[Article] = []
        for article in store.iter_articles(after_id=self._watermark, batch=1000):
            batch.append(article)
            if len(batch) >= 1000:
                count += self.add(batch)
                batch = []
                if self._pending >= COMMIT_EVERY:
                    self.commit()
                if progress is not None:
                    progress(count)
        if batch:
            count += self.add(batch)
        self.commit()
        if progress is not None:
            progress(count)
        return count

    def rebuild(self, store: ArticleSource, progress: Progress | None = None) -> int:
        """Empty the index and index the whole store again; return how many were indexed."""
        writer = self._get_writer()
        writer.delete_all_documents()
        self.vocabulary.clear()
        self._watermark = 0
        self._pending_max = 0
        self.commit()
        return self.catch_up(store, progress)

    # ---- searching

    def search(
        self, query: Query, *, limit: int, offset: int = 0, now: datetime, snippets: bool = True
    ) -> IndexResults:
        """Return one page of the articles matching `query`, best first (see the module docstring).

        With `snippets=False` the hits carry no snippet and no stored document is read: the cheap form
        for grouping many hits by story before showing a few.
        """
        if query.root is None:
            return IndexResults([], 0)
        limit = max(1, min(int(limit), MAX_LIMIT))
        offset = max(0, min(int(offset), MAX_OFFSET))
        now = _utc(now)
        try:
            searcher = self._index.searcher()
            tq = self._translate(query.root, searcher)
            if searcher.num_docs == 0:
                return IndexResults([], 0)
            exact = True
            if query.has_scoring_terms:
                ranked, total, exact = self._ranked(searcher, query, tq, limit, offset, now)
            else:
                result = searcher.search(tq, limit, count=True, order_by_field="published", offset=offset)
                ranked = [(0.0, addr) for _, addr in result.hits]
                total = int(result.count or 0)  # type: ignore[attr-defined]  # missing from the stub
            return IndexResults(self._hits(searcher, query, ranked, now, snippets), total, exact)
        except ValueError as exc:
            raise SearchIndexError(self._where, f"search failed: {exc}") from exc

    def daily_counts(self, query: Query, *, since: datetime, until: datetime) -> dict[datetime, int]:
        """Count the articles matching `query` per UTC day published in [since, until): {day start: count}."""
        if query.root is None:
            return {}
        since, until = _utc(since), _utc(until)
        try:
            searcher = self._index.searcher()
            if searcher.num_docs == 0 or until <= since:
                return {}
            tq = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, self._translate(query.root, searcher)),
                    (tantivy.Occur.Must, self._filter(self._date_range(since, until))),
                ]
            )
            # A histogram over the fast field: the index counts, no document is loaded.
            agg = {"days": {"histogram": {"field": "published_ts", "interval": 86400}}}
            result = searcher.aggregate(tq, agg)
        except ValueError as exc:
            raise SearchIndexError(self._where, f"counting failed: {exc}") from exc
        counts: dict[datetime, int] = {}
        for bucket in result.get("days", {}).get("buckets", []):
            count = int(bucket.get("doc_count", 0))
            if count:
                counts[datetime.fromtimestamp(int(bucket["key"]), UTC)] = count
        return counts

    def _ranked(
        self, searcher: tantivy.Searcher, query: Query, tq: tantivy.Query, limit: int, offset: int, now: datetime
    ) -> tuple[list[tuple[float, tantivy.DocAddress]], int, bool]:
        window = max(RERANK_WINDOW, offset + limit)
        wanted = offset + limit
        recent_query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tq),
                (tantivy.Occur.Must, self._filter(self._date_range(now - RECENT_SPAN, None))),
            ]
        )
        recent_hits: list[tuple[float, tantivy.DocAddress]] | None = None
        bound = self._score_bound(searcher, query.root) if query.root is not None else None
        if bound is not None:
            # Recent articles first: when even the best possible BM25 times the recency of the window's edge
            # cannot beat the `wanted`-th of them, no older article can enter the page and the scan of the
            # whole archive (most of the cost for a common word) is skipped. The page is then the same.
            recent = searcher.search(recent_query, window, count=True)
            recent_hits = [(float(s), a) for s, a in recent.hits]
            scored = self._rescore(searcher, recent_hits, now)
            edge = recency_factor(now.timestamp() - RECENT_SPAN.total_seconds(), now.timestamp())
            if len(scored) >= wanted and scored[wanted - 1][0] > bound * BOUND_MARGIN * edge:
                recent_count = int(recent.count or 0)  # type: ignore[attr-defined]  # missing from the stub
                total, exact = self._count(searcher, tq, recent_count)
                return [(score, addr) for score, _, addr in scored[offset:wanted]], total, exact
        result = searcher.search(tq, window, count=True)
        total = int(result.count or 0)  # type: ignore[attr-defined]  # missing from the stub
        candidates = {(a.segment_ord, a.doc): (float(s), a) for s, a in result.hits}
        if total > window:
            if recent_hits is None:
                recent_hits = [(float(s), a) for s, a in searcher.search(recent_query, window, count=False).hits]
            for s, a in recent_hits:
                candidates.setdefault((a.segment_ord, a.doc), (s, a))
        scored = self._rescore(searcher, list(candidates.values()), now)
        return [(score, addr) for score, _, addr in scored[offset:wanted]], total, True

    @staticmethod
    def _rescore(
        searcher: tantivy.Searcher, entries: list[tuple[float, tantivy.DocAddress]], now: datetime
    ) -> list[tuple[float, int, tantivy.DocAddress]]:
        """Return (BM25 x recency, article id, address) best first, ties to the newer id."""
        if not entries:
            return []
        addresses = [a for _, a in entries]
        stamps = searcher.fast_field_values("published_ts", addresses)
        ids = searcher.fast_field_values("article_id", addresses)
        now_ts = now.timestamp()
        decay = math.log(0.5) / (HALF_LIFE_DAYS * 86400.0)
        scored = [
            (bm25 * (RECENCY_FLOOR + (1.0 - RECENCY_FLOOR) * math.exp(decay * max(0.0, now_ts - (ts or 0)))),
             int(aid or 0), addr)
            for (bm25, addr), ts, aid in zip(entries, stamps, ids, strict=True)
        ]  # fmt: skip  # recency_factor inlined: this runs for every candidate
        scored.sort(key=lambda t: (-t[0], -t[1]))
        return scored

    def _count(self, searcher: tantivy.Searcher, tq: tantivy.Query, at_least: int) -> tuple[int, bool]:
        """Return (count, exact): past COUNT_CAP known matches, "that many or more" is enough to show."""
        if at_least >= COUNT_CAP:
            return at_least, False
        # An aggregation does not score: about half the cost of a search that counts.
        result = searcher.aggregate(tq, {"n": {"value_count": {"field": "article_id"}}})
        value = result.get("n", {}).get("value")
        return (int(value) if value is not None else at_least), True

    def _score_bound(self, searcher: tantivy.Searcher, node: Node) -> float | None:
        """Return an upper bound of the BM25 score `node` can give any document, None when unknown."""
        match node:
            case Word():
                # tantivy's BM25 term score is idf * (1 + k1) * tf / (tf + k1 * norm) < idf * (1 + k1).
                terms = self._analyzers.word_terms(node.fr, node.en)
                return sum(self._idf(searcher, "stems", t) for t in terms) * (1.0 + BM25_K1)
            case Phrase(prefix_last=False):
                # A phrase scores like one term whose idf is the sum of its words' idf, its frequency being
                # the phrase's: below sum(idf) * (1 + k1). No document holds it when one word is missing.
                idfs = [self._idf(searcher, "words", w) for w in node.words]
                return 0.0 if 0.0 in idfs else sum(idfs) * (1.0 + BM25_K1)
            case FieldFilter() | DateFilter():
                return 0.0
            case Not():
                return 1.0  # all_query scores 1; the excluded part does not score
            case And():
                parts = [0.0 if isinstance(c, Not) else self._score_bound(searcher, c) for c in node.children]
                if any(p is None for p in parts):
                    return None
                extra = 1.0 if all(isinstance(c, Not) for c in node.children) else 0.0
                return sum(p for p in parts if p is not None) + extra
            case Or():
                parts = [self._score_bound(searcher, c) for c in node.children]
                if any(p is None for p in parts):
                    return None
                return sum(p for p in parts if p is not None)
        return None  # prefixes: their expansions are not known here, so nothing is skipped

    @staticmethod
    def _idf(searcher: tantivy.Searcher, field_name: str, term: str) -> float:
        """Return tantivy's BM25 idf of `term` (0 when no document holds it)."""
        df = searcher.doc_freq(field_name, term)
        if df <= 0:
            return 0.0
        n = max(int(searcher.num_docs), df)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _hits(
        self,
        searcher: tantivy.Searcher,
        query: Query,
        ranked: list[tuple[float, tantivy.DocAddress]],
        now: datetime,
        snippets: bool = True,
    ) -> list[IndexHit]:
        if not ranked:
            return []
        addresses = [a for _, a in ranked]
        ids = searcher.fast_field_values("article_id", addresses)
        stamps = searcher.fast_field_values("published_ts", addresses)
        stories = searcher.fast_field_values("story_id", addresses)
        hits = []
        now_ts = now.timestamp()
        scoring = query.has_scoring_terms  # walks the query tree: once per page, not once per hit
        for (score, addr), aid, ts, story in zip(ranked, ids, stamps, stories, strict=True):
            snippet = ""
            if snippets:
                stored = searcher.doc(addr).get_first("stored_text") or b""
                text = bytes(stored).decode("utf-8", errors="replace")
                snippet = make_snippet(text, query, self._analyzers)
            if not scoring:
                score = recency_factor(float(ts or 0), now_ts)
            hits.append(
                IndexHit(
                    article_id=int(aid or 0),
                    score=score,
                    snippet=snippet,
                    story_id=int(story) if story else None,
                    published=datetime.fromtimestamp(int(ts or 0), UTC),
                )
            )
        return hits

    # ---- query translation

    def _term(self, field_name: str, value: str) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, field_name, value)

    def _filter(self, q: tantivy.Query) -> tantivy.Query:
        # Filters decide membership only; they must not shift BM25 scores.
        return tantivy.Query.const_score_query(q, 0.0)

    def _date_range(self, lower: datetime | None, upper: datetime | None) -> tantivy.Query:
        return tantivy.Query.range_query(
            self._schema,
            "published",
            tantivy.FieldType.Date,
            _utc(lower) if lower else None,
            _utc(upper) if upper else None,
            include_lower=True,
            include_upper=upper is None,
        )

    def _phrase(self, field_name: str, words: tuple[str, ...], prefix_last: bool) -> tantivy.Query:
        if prefix_last:
            if len(words) == 1:
                return tantivy.Query.fuzzy_term_query(
                    self._schema, field_name, words[0], distance=0, prefix=True
                )
            return tantivy.Query.phrase_prefix_query(self._schema, field_name, list(words))
        if len(words) == 1:
            return self._term(field_name, words[0])
        return tantivy.Query.phrase_query(self._schema, field_name, list(words))

    def _word_terms(self, node: Word, searcher: tantivy.Searcher | None) -> list[tantivy.Query]:
        """Return the term queries of one word, without the terms no document holds (when known)."""
        terms = self._analyzers.word_terms(node.fr, node.en)
        if searcher is not None:
            terms = tuple(t for t in terms if searcher.doc_freq("stems", t) > 0)
        return [self._term("stems", t) for t in terms]

    def _disjunction(self, node: Node, searcher: tantivy.Searcher | None, out: list[tantivy.Query]) -> None:
        """Append the clauses of an OR (or a word) to `out`, words and nested ORs flattened to term queries."""
        match node:
            case Word():
                out.extend(self._word_terms(node, searcher))
            case Or():
                for child in node.children:
                    self._disjunction(child, searcher, out)
            case _:
                out.append(self._translate(node, searcher))

    def _translate(self, node: Node, searcher: tantivy.Searcher | None = None) -> tantivy.Query:
        q = tantivy.Query
        should, must, must_not = tantivy.Occur.Should, tantivy.Occur.Must, tantivy.Occur.MustNot
        match node:
            case Word() | Or():
                # One flat disjunction of term queries in one field: scores add up as a nested OR's would,
                # at the cost of one posting list per term and no wrapper scorers.
                clauses: list[tantivy.Query] = []
                self._disjunction(node, searcher, clauses)
                if not clauses:
                    return q.empty_query()
                if len(clauses) == 1:
                    return clauses[0]
                return q.boolean_query([(should, c) for c in clauses])
            case Prefix():
                # A prefix automaton over the term dictionary: every expansion, no regex from user text.
                return self._phrase("words", (node.plain,), True)
            case Phrase():
                return self._phrase("words", node.words, node.prefix_last)
            case FieldFilter(name="source"):
                options = [(should, self._term("source_raw", node.folded))]
                if node.compact != node.folded:
                    options.append((should, self._term("source_raw", node.compact)))
                if node.words:
                    options.append((should, self._phrase("source_words", node.words, False)))
                return self._filter(q.boolean_query(options))
            case FieldFilter(name="lang"):
                return self._filter(self._term("lang", node.folded))
            case FieldFilter():
                options = [(should, self._term("entities", node.folded))]
                if node.compact != node.folded:
                    options.append((should, self._term("entities", node.compact)))
                return self._filter(q.boolean_query(options))
            case DateFilter(name="since"):
                return self._filter(self._date_range(node.at, None))
            case DateFilter():
                return self._filter(self._date_range(None, node.at))
            case Not():
                return q.boolean_query([(must, q.all_query()), (must_not, self._translate(node.child, searcher))])
            case And():
                parts = [
                    (must_not, self._translate(c.child, searcher))
                    if isinstance(c, Not)
                    else (must, self._translate(c, searcher))
                    for c in node.children
                ]
                if all(occur == must_not for occur, _ in parts):
                    parts.append((must, q.all_query()))
                return q.boolean_query(parts)
        return q.empty_query()


# ---- snippets ----------------------------------------------------------------------------------


def make_snippet(text: str, query: Query, analyzers: Analyzers, width: int = SNIPPET_CHARS) -> str:
    """Cut about `width` characters of whole words around the first match, matched words highlighted."""
    text = text.replace(HIGHLIGHT_START, " ").replace(HIGHLIGHT_END, " ")
    words: set[str] = set()
    prefixes: list[str] = []
    fr: set[str] = set()
    en: set[str] = set()
    for leaf in query.positive_leaves():
        if isinstance(leaf, Word):
            fr.add(leaf.fr)
            en.add(leaf.en)
        elif isinstance(leaf, Prefix):
            prefixes.append(leaf.plain)
        elif isinstance(leaf, Phrase):
            words.update(leaf.words[:-1] if leaf.prefix_last else leaf.words)
            if leaf.prefix_last:
                prefixes.append(leaf.words[-1])
    matched = _matched_spans(text, analyzers, words, prefixes, fr, en)
    start = 0
    if matched:
        first = matched[0][0]
        if first > width // 3:
            start = first - width // 3
            # Begin on a word boundary.
            space = text.find(" ", start, first)
            start = space + 1 if space >= 0 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        if space > start:
            end = space
    parts: list[str] = []
    cursor = start
    for a, b in matched:
        if a < start or b > end:
            continue
        parts.append(text[cursor:a])
        parts.append(HIGHLIGHT_START + text[a:b] + HIGHLIGHT_END)
        cursor = b
    parts.append(text[cursor:end])
    snippet = " ".join("".join(parts).split())
    return ("…" if start > 0 else "") + snippet + ("…" if end < len(text) else "")


# Runs of letters and digits: the same cuts as tantivy's simple tokenizer on ordinary text.
_TOKEN = re.compile(r"[^\W_]+")


def _matched_spans(
    text: str, analyzers: Analyzers, words: set[str], prefixes: list[str], fr: set[str], en: set[str]
) -> list[tuple[int, int]]:
    spans = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    surfaces = list({surface for _, _, surface in spans})
    folded = analyzers.words(" ".join(surfaces))
    if len(folded) != len(surfaces):
        # A token tantivy cuts differently (or drops as too long): take its own offsets, slower.
        tokens = analyzers.plain.pre_tokenize(text).tokens
        spans = [(t.char_offset_from, t.char_offset_to, t.text) for t in tokens]
        surfaces = list({surface for _, _, surface in spans})
        folded = surfaces
    # Stemming costs a call per word; only words sharing a stem's first two letters can match one.
    heads = {stem[:2] for stem in fr | en}
    hits = set()
    for surface, plain in zip(surfaces, folded, strict=True):
        if (
            plain in words
            or (prefixes and any(plain.startswith(p) for p in prefixes))
            or (plain[:2] in heads and (analyzers.stem_fr(plain) in fr or analyzers.stem_en(plain) in en))
        ):
            hits.add(surface)
    return [(a, b) for a, b, surface in spans if surface in hits]


def _read_state(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, int)}


def _empty_directory(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
