"""What the rest of the bot calls to search: parse, search the index, load articles, suggest.

`SearchService.search` never raises for anything a user types: parse repairs become `notices`. It raises
`bot.search.index.SearchIndexError` only when the index itself fails (disk, lock), which the handler
reports as an internal error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from bot.models import Article, SearchHit
from bot.search.index import ArticleSource, IndexHit, Progress, SearchIndex
from bot.search.query import Query, Word, parse_query

log = logging.getLogger(__name__)

# Below this many hits the query may well be misspelt: look for a better-known name.
SUGGEST_BELOW = 3
MAX_LIMIT = 50


class ArticleStore(ArticleSource, Protocol):
    """The part of bot.store.base.Store the search service reads."""

    def get_article(self, article_id: int) -> Article | None: ...


@dataclass(slots=True)
class SearchResults:
    """One page of results with what the user should know about their query."""

    query: Query
    hits: list[SearchHit]
    total: int
    notices: list[str] = field(default_factory=list)
    suggestion: str | None = None


class SearchService:
    """Search the archive with the query language; keep the index in step with the store."""

    def __init__(self, store: ArticleStore, index: SearchIndex) -> None:
        self._store = store
        self._index = index
        # tantivy's Python objects refuse concurrent use from two threads ("Already borrowed"), and the
        # pipeline indexes from worker threads while commands search from the event loop: one lock.
        self._lock = threading.RLock()

    def search(
        self, text: str, *, limit: int = 5, offset: int = 0, now: datetime | None = None
    ) -> SearchResults:
        """Run a user's query and return a page of hits with notices and a 'did you mean'."""
        with self._lock:
            return self._search(text, limit=limit, offset=offset, now=now)

    def _search(self, text: str, *, limit: int, offset: int, now: datetime | None) -> SearchResults:
        now = now or datetime.now(UTC)
        limit = max(1, min(int(limit), MAX_LIMIT))
        offset = max(0, int(offset))
        query = parse_query(text, now, self._index.analyzers)
        notices = list(query.problems)
        if query.is_empty:
            return SearchResults(query, [], 0, notices)
        found = self._index.search(query, limit=limit, offset=offset, now=now)
        hits = self._load(found.hits)
        # The store is the system of record: an indexed article it no longer holds does not count.
        total = max(len(hits) + offset, found.total - (len(found.hits) - len(hits)))
        suggestion = None
        if total < SUGGEST_BELOW and offset == 0:
            suggestion = self._suggest(query, total, now)
        return SearchResults(query, hits, total, notices, suggestion)

    def _load(self, index_hits: list[IndexHit]) -> list[SearchHit]:
        hits: list[SearchHit] = []
        for hit in index_hits:
            article = self._store.get_article(hit.article_id)
            if article is None:
                log.info("search: article %d is indexed but no longer stored", hit.article_id)
                continue
            hits.append(SearchHit(article=article, score=hit.score, snippet=hit.snippet))
        return hits

    def _suggest(self, query: Query, total: int, now: datetime) -> str | None:
        text = query.text
        changed = False
        for leaf in query.positive_leaves():
            if not isinstance(leaf, Word):
                continue
            better = self._index.vocabulary.suggest(leaf.raw)
            if better is None:
                continue
            position = text.find(leaf.raw)
            if position < 0:
                continue
            text = text[:position] + better + text[position + len(leaf.raw) :]
            changed = True
        if not changed:
            return None
        # Only offer a correction that finds more than the query as typed.
        corrected = parse_query(text, now, self._index.analyzers)
        if self._index.search(corrected, limit=1, now=now).total <= total:
            return None
        return text

    def index_new(self, articles: Sequence[Article]) -> int:
        """Index articles the store has just committed; return how many were indexed."""
        with self._lock:
            return self._index_new(articles)

    def _index_new(self, articles: Sequence[Article]) -> int:
        ids = [a.id for a in articles if a.id is not None]
        if not ids:
            return 0
        if min(ids) > self._index.watermark + 1:
            # Something between the watermark and this batch never reached the index: fetch it all.
            return self._index.catch_up(self._store)
        count = self._index.add(articles)
        self._index.commit()
        return count

    def catch_up(self, progress: Progress | None = None) -> int:
        """Index what the store holds beyond the index's watermark (call at start)."""
        with self._lock:
            return self._index.catch_up(self._store, progress)

    @staticmethod
    def group_by_story(hits: Sequence[SearchHit]) -> list[list[SearchHit]]:
        """Group hits of the same story together, groups in the order of their best hit."""
        groups: list[list[SearchHit]] = []
        by_story: dict[int, list[SearchHit]] = {}
        for hit in hits:
            story = hit.article.story_id
            if story is None:
                groups.append([hit])
            elif story in by_story:
                by_story[story].append(hit)
            else:
                by_story[story] = [hit]
                groups.append(by_story[story])
        return groups
