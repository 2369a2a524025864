"""What the rest of the bot calls to search: parse, search the index, load articles, suggest.

`search` returns articles (the command line, one object per article); `search_stories` returns one page
of stories for a chat: it groups the best MAX_STORY_HITS hits by story from the index's fast fields alone,
then loads and snippets only the page's articles, so a page costs the same at any archive size.

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
from bot.search.analysis import Analyzers
from bot.search.index import ArticleSource, IndexHit, Progress, SearchIndex, make_snippet
from bot.search.query import UNCLOSED_QUOTE, Query, Word, parse_query

log = logging.getLogger(__name__)

# Below this many hits the query may well be misspelt: look for a better-known name.
SUGGEST_BELOW = 3
MAX_LIMIT = 100
# Stories are grouped from this many best hits: deeper than that is not worth paging through in a chat (20
# pages of 5), and few enough that for a very common word the index can skip the older archive entirely.
MAX_STORY_HITS = 100
PHRASE_AS_WORDS = "no article has the unclosed phrase as typed; searched its words instead"


class ArticleStore(ArticleSource, Protocol):
    """The part of bot.store.base.Store the search service reads."""

    def get_article(self, article_id: int) -> Article | None: ...

    def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]: ...


@dataclass(slots=True)
class SearchResults:
    """One page of results with what the user should know about their query."""

    query: Query
    hits: list[SearchHit]
    total: int
    notices: list[str] = field(default_factory=list)
    suggestion: str | None = None
    total_exact: bool = True  # False: at least `total` articles match (the index stopped counting)


@dataclass(slots=True)
class StoryResult:
    """One story on a results page: its best matching article (with snippet) and how many hits it had."""

    hit: SearchHit
    matched: int


@dataclass(slots=True)
class StoryPage:
    """One page of results grouped by story, with what the user should know about their query."""

    query: Query
    stories: list[StoryResult]
    page: int  # the page shown (the requested one, brought within 1..pages)
    pages: int
    story_count: int  # stories among the best MAX_STORY_HITS hits
    total: int  # articles matching in all (at least, when total_exact is False)
    notices: list[str] = field(default_factory=list)
    suggestion: str | None = None
    page_out_of_range: bool = False
    total_exact: bool = True


class SearchService:
    """Search the archive with the query language; keep the index in step with the store."""

    def __init__(self, store: ArticleStore, index: SearchIndex) -> None:
        self._store = store
        self._index = index
        # tantivy's Python objects refuse concurrent use from two threads ("Already borrowed"), and the
        # pipeline indexes from worker threads while commands search from the event loop: one lock.
        self._lock = threading.RLock()
        # Group commit (see index_new): batches are numbered as they are added; one committer at a time.
        self._commit_lock = threading.Lock()
        self._added = 0
        self._committed = 0
        self.commits = 0
        # One process: a gap below a new batch is an article that never reached the index, fetched at once.
        # Several workers (bot.workers): gaps are other workers' articles, which IndexFollower brings in; set
        # False there so that a poll does not read the store to fill them.
        self.catch_up_gaps = True

    def search(
        self, text: str, *, limit: int = 5, offset: int = 0, now: datetime | None = None
    ) -> SearchResults:
        """Run a user's query and return a page of hits with notices and a 'did you mean'."""
        with self._lock:
            return self._search(text, limit=limit, offset=offset, now=now)

    def _parse(self, text: str, now: datetime) -> Query:
        query = parse_query(text, now, self._index.analyzers)
        # `"custom asic` is most likely a phrase; when no article has it, the words may still help.
        if (
            UNCLOSED_QUOTE in query.problems
            and not query.is_empty
            and self._index.search(query, limit=1, now=now, snippets=False).total == 0
        ):
            as_words = parse_query(text, now, self._index.analyzers, unclosed_quote_as_words=True)
            if not as_words.is_empty:
                as_words.problems.append(PHRASE_AS_WORDS)
                return as_words
        return query

    def _search(self, text: str, *, limit: int, offset: int, now: datetime | None) -> SearchResults:
        now = now or datetime.now(UTC)
        limit = max(1, min(int(limit), MAX_LIMIT))
        offset = max(0, int(offset))
        query = self._parse(text, now)
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
        return SearchResults(query, hits, total, notices, suggestion, found.total_exact)

    def search_stories(
        self, text: str, *, page: int = 1, page_size: int = 5, now: datetime | None = None
    ) -> StoryPage:
        """Run a user's query and return one page of stories (best hit of each), for a chat."""
        with self._lock:
            return self._search_stories(text, page=page, page_size=page_size, now=now)

    def _search_stories(self, text: str, *, page: int, page_size: int, now: datetime | None) -> StoryPage:
        now = now or datetime.now(UTC)
        page_size = max(1, min(int(page_size), MAX_LIMIT))
        query = self._parse(text, now)
        notices = list(query.problems)
        if query.is_empty:
            return StoryPage(query, [], 1, 0, 0, 0, notices)
        # Grouping needs many hits but only their story ids: no snippet, no store read until the page is known.
        found = self._index.search(query, limit=MAX_STORY_HITS, now=now, snippets=False)
        groups = self._group_index_hits(found.hits)
        pages = max(1, -(-len(groups) // page_size))
        shown = min(max(1, int(page)), pages)
        chosen = groups[(shown - 1) * page_size : shown * page_size]
        stories = self._materialize(chosen, query)
        suggestion = None
        if found.total < SUGGEST_BELOW:
            suggestion = self._suggest(query, found.total, now)
        out_of_range = int(page) > pages and bool(groups)
        return StoryPage(
            query, stories, shown, pages, len(groups), found.total, notices, suggestion, out_of_range, found.total_exact
        )

    @staticmethod
    def _group_index_hits(hits: Sequence[IndexHit]) -> list[list[IndexHit]]:
        groups: list[list[IndexHit]] = []
        by_story: dict[int, list[IndexHit]] = {}
        for hit in hits:
            if hit.story_id is None:
                groups.append([hit])
            elif hit.story_id in by_story:
                by_story[hit.story_id].append(hit)
            else:
                by_story[hit.story_id] = [hit]
                groups.append(by_story[hit.story_id])
        return groups

    def _materialize(self, groups: list[list[IndexHit]], query: Query) -> list[StoryResult]:
        wanted = [h.article_id for group in groups for h in group[:3]]
        articles = self._store.get_articles(wanted) if wanted else {}
        stories: list[StoryResult] = []
        for group in groups:
            # The store is the system of record: an indexed article it no longer holds is skipped.
            present = [h for h in group if h.article_id in articles]
            if not present and len(group) > 3:
                rest = self._store.get_articles([h.article_id for h in group[3:]])
                articles.update(rest)
                present = [h for h in group if h.article_id in articles]
            if not present:
                log.info("search: story of article %d is indexed but no longer stored", group[0].article_id)
                continue
            best = present[0]
            article = articles[best.article_id]
            snippet = make_snippet(article.text or article.title, query, self._index.analyzers)
            stories.append(StoryResult(SearchHit(article=article, score=best.score, snippet=snippet), len(present)))
        return stories

    def daily_counts(self, query: Query, *, since: datetime, until: datetime) -> dict[datetime, int]:
        """Count the articles matching a parsed query per UTC day (see SearchIndex.daily_counts)."""
        with self._lock:
            return self._index.daily_counts(query, since=since, until=until)

    @property
    def analyzers(self) -> Analyzers:
        """Return the index's analyzers, for parsing queries the same way the index reads text."""
        return self._index.analyzers

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
        if self._index.search(corrected, limit=1, now=now, snippets=False).total <= total:
            return None
        return text

    def index_new(self, articles: Sequence[Article]) -> int:
        """Index articles the store has just committed and make them searchable; return how many were indexed.

        Group commit: a tantivy commit costs far more than adding a few documents (about 200 ms against a
        few ms here), and feeds polled at once all index. Each caller adds its batch, then waits until a
        commit made after its batch returns; whoever commits takes every batch added so far, so N polls
        finishing together cost about two commits instead of N. A caller still returns only once its
        articles are searchable.
        """
        with self._lock:
            count, batch = self._add_new(articles)
        if batch:
            self._commit_through(batch)
        return count

    def _add_new(self, articles: Sequence[Article]) -> tuple[int, int]:
        """Add a batch without committing; return (documents, the batch's number, 0 when nothing waits)."""
        ids = [a.id for a in articles if a.id is not None]
        if not ids:
            return 0, 0
        if self.catch_up_gaps and min(ids) > self._index.high_water + 1:
            # Something between the watermark and this batch never reached the index: fetch it all.
            self._committed = self._added
            return self._index.catch_up(self._store), 0
        count = self._index.add(articles)
        self._added += 1
        return count, self._added

    def _commit_through(self, batch: int) -> None:
        with self._commit_lock:
            if self._committed >= batch:
                return  # a commit made while this caller waited included its batch
            with self._lock:
                through = self._added
                self._index.commit()
                self.commits += 1
            self._committed = max(self._committed, through)

    def unindex(self, article_ids: Sequence[int]) -> int:
        """Remove articles the store deleted (retention) from the index; return how many ids were given."""
        ids = [i for i in article_ids if i > 0]
        if not ids:
            return 0
        with self._lock:  # the same lock as indexing: tantivy's writer is not shared between threads
            self._index.delete(ids)
            self._index.commit()
        return len(ids)

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
