"""One poll of one feed, end to end: fetch, parse, extract, normalize, enrich, group, store, index, queue alerts.

    fetch ─► parse ─► normalize ─► (skip known) ─► full text for teasers ─► language ─► summary
          ─► entities ─► story ─► store (article + story + alerts, one transaction) ─► search index

A failure is contained to its feed (or, for a page fetch, to its article): it is recorded on the feed,
logged with context and counted in the report, and every other feed goes on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.alerts.matcher import SubscriptionMatcher
from bot.config import Settings
from bot.ingest.extract import extract_main_text, is_teaser
from bot.ingest.fetch import Fetcher, FetchError, HTTPStatusError
from bot.ingest.normalize import normalize_entry
from bot.ingest.parse import FeedParseError, parse_feed
from bot.metrics import Metrics
from bot.models import Article, Feed
from bot.nlp.entities import EntityExtractor, EntityMatcher
from bot.nlp.language import LanguageDetector
from bot.nlp.llm import LLMSummarizer
from bot.nlp.stories import StoryGrouper
from bot.nlp.summarize import Summarizer
from bot.search.service import SearchService
from bot.store.base import FeedHealth, Store

log = logging.getLogger(__name__)

# Fetching a page per teaser is the expensive part of a poll; a few at a time per feed is polite.
PAGE_FETCHES_PER_FEED = 4


@dataclass(slots=True)
class PollReport:
    """What one poll of one feed did."""

    feed: Feed
    ok: bool = True
    error: str | None = None
    not_modified: bool = False
    new: list[Article] = field(default_factory=list)
    duplicates: int = 0
    alerts: int = 0
    warnings: list[str] = field(default_factory=list)
    # What the server and the feed ask about polling (read by the scheduler's adaptive policy).
    ttl_s: int | None = None
    cache_control: str | None = None
    expires: str | None = None
    retry_after: str | None = None


class Pipeline:
    """Turns feeds into stored, indexed, grouped articles and queued alerts."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetcher: Fetcher,
        search: SearchService,
        matcher: SubscriptionMatcher,
        llm: LLMSummarizer | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.store = store
        self.fetcher = fetcher
        self.search = search
        self.matcher = matcher
        self.language = LanguageDetector()
        self.summarizer = Summarizer(
            max_sentences=settings.summarizer.max_sentences, max_chars=settings.summarizer.max_chars
        )
        self.entities = EntityExtractor(EntityMatcher(settings.entities))
        # Optional: configured under summarizer.llm; the extractive summary stays the fallback.
        self.llm = llm if llm is not None else LLMSummarizer.from_settings(settings, self.language)
        self.stories = StoryGrouper(window=timedelta(hours=settings.stories.window_hours))
        # Polls of different feeds run concurrently; story assignment and storing must not interleave,
        # or two outlets' articles about one event could each start their own story.
        self._store_lock = asyncio.Lock()

    def warm_up(self, now: datetime | None = None) -> None:
        """Load the recent articles into the story grouper and the language model (at start, after a restart)."""
        now = now or datetime.now(UTC)
        self.language.warm_up()
        window = timedelta(hours=self.settings.stories.window_hours)
        for article in reversed(self.store.recent_articles(now - window)):
            self.stories.remember(article)

    async def poll(self, feed: Feed) -> PollReport:
        """Poll one feed and store what is new; never raises."""
        report = PollReport(feed=feed)
        started = datetime.now(UTC)
        reason = ""
        try:
            await self._poll(feed, report)
        except FetchError as exc:
            report.ok, report.error = False, exc.reason
            reason = f"http_{exc.status}" if isinstance(exc, HTTPStatusError) else type(exc).__name__
            if isinstance(exc, HTTPStatusError):
                report.retry_after = exc.retry_after
        except FeedParseError as exc:
            report.ok, report.error = False, exc.reason
            reason = "FeedParseError"
        except Exception as exc:  # a bug on one feed's content must not stop the others
            log.exception("feed poll failed", extra={"feed": feed.url})
            report.ok, report.error = False, f"internal error: {type(exc).__name__}"
            reason = "internal"
        if self.metrics is not None:
            self._count(report, reason, (datetime.now(UTC) - started).total_seconds())
        if not report.ok:
            log.warning("feed failed: %s", report.error, extra={"feed": feed.url})
            await asyncio.to_thread(
                self.store.record_poll, feed.id, FeedHealth(ok=False, error=report.error), started
            )
        return report

    def _count(self, report: PollReport, reason: str, seconds: float) -> None:
        assert self.metrics is not None
        m = self.metrics
        m.fetches.labels(outcome="failed" if not report.ok else "not_modified" if report.not_modified else "ok").inc()
        if not report.ok:
            m.fetch_failures.labels(reason=reason or "unknown").inc()
        m.articles.inc(len(report.new))
        m.duplicates.inc(report.duplicates)
        m.alerts_queued.inc(report.alerts)
        m.pipeline_seconds.observe(seconds)

    async def _poll(self, feed: Feed, report: PollReport) -> None:
        result = await self.fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        report.cache_control, report.expires = result.cache_control, result.expires
        health = FeedHealth(ok=True, etag=result.etag, last_modified=result.last_modified)
        if result.not_modified:
            report.not_modified = True
            await asyncio.to_thread(self.store.record_poll, feed.id, health, datetime.now(UTC))
            return
        parsed = await asyncio.to_thread(parse_feed, result.body, result.final_url)
        report.warnings.extend(parsed.warnings)
        report.ttl_s = parsed.ttl_s
        fetched_at = datetime.now(UTC)
        candidates: list[Article] = []
        for entry in parsed.entries:
            article = normalize_entry(
                entry, source=feed.name, feed_id=feed.id, feed_url=result.final_url, fetched_at=fetched_at
            )
            if article is None:
                continue
            if self.store.is_known(article.key, article.content_hash):
                report.duplicates += 1
                continue
            candidates.append(article)
        if self.settings.fetch.fetch_full_text:
            await self._fill_full_text(candidates, report)
        # Outside the store lock: LLM calls take seconds and must not hold up other feeds' stores.
        await self.enrich_many(candidates)
        async with self._store_lock:
            stored = await asyncio.to_thread(self._enrich_and_store, candidates, feed, report)
        report.new.extend(stored)
        if stored:
            await asyncio.to_thread(self.search.index_new, stored)
        await asyncio.to_thread(self.store.record_poll, feed.id, health, datetime.now(UTC))
        if not feed.primed:
            # The backlog a feed carries when first added is stored and searchable but is not news.
            await asyncio.to_thread(self.store.mark_primed, feed.id)
            feed.primed = True

    async def _fill_full_text(self, articles: list[Article], report: PollReport) -> None:
        gate = asyncio.Semaphore(PAGE_FETCHES_PER_FEED)

        async def fill(article: Article) -> None:
            if not article.url or not is_teaser(article.text):
                return
            async with gate:
                try:
                    html = await self.fetcher.fetch_page(article.url)
                    text = await asyncio.to_thread(extract_main_text, html, article.url)
                except FetchError as exc:
                    report.warnings.append(f"{article.url}: full text not fetched ({exc.reason})")
                    return
            if len(text) > len(article.text):
                article.text = text

        await asyncio.gather(*(fill(article) for article in articles))

    def _enrich_and_store(self, articles: list[Article], feed: Feed, report: PollReport) -> list[Article]:
        stored: list[Article] = []
        # Oldest first, so a story's first article is the one that broke it.
        for article in sorted(articles, key=lambda a: a.published):
            story_id = self.stories.assign(article)
            article.story_id = story_id
            alerts = self.matcher.match(article) if feed.primed else []
            saved = self.store.add_article(
                article, new_story_title=article.title if story_id is None else None, alerts=alerts
            )
            if saved is None:  # another feed stored the same article a moment ago
                report.duplicates += 1
                continue
            self.stories.remember(saved)
            report.alerts += len(alerts)
            stored.append(saved)
        return stored

    def enrich(self, article: Article) -> None:
        """Fill in language, summary and entities."""
        article.lang = self.language.detect(f"{article.title}\n{article.text[:2000]}")
        article.summary = self.summarizer.summarize(article.text, lang=article.lang, title=article.title)
        article.entities = self.entities.find(article.title, article.text)

    def _enrich_all(self, articles: list[Article]) -> None:
        for article in articles:
            self.enrich(article)

    async def enrich_many(self, articles: list[Article]) -> None:
        """Enrich articles in a thread, then replace summaries with LLM ones where configured and valid."""
        if not articles:
            return
        await asyncio.to_thread(self._enrich_all, articles)
        if self.llm is not None:
            # Concurrency is bounded inside the LLM summarizer, across all feeds polled at once.
            for article, outcome in zip(articles, await self.llm.summarize_many(articles), strict=True):
                article.summary = outcome.summary

    async def poll_many(self, feeds: list[Feed]) -> list[PollReport]:
        """Poll feeds concurrently (the fetcher enforces global and per-host limits)."""
        return list(await asyncio.gather(*(self.poll(feed) for feed in feeds)))
