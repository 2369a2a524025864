"""The store interface: the system of record, whatever the backend.

Every backend passes the one contract suite in tests/store/test_contract.py. Errors:

    StoreError              base: the backend failed
    └── StoreCorrupt        the database file cannot be opened or read as a Veille store
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.models import Article, ChatRef, Feed, Story, Subscription


class StoreError(Exception):
    """The storage backend failed."""


class StoreCorrupt(StoreError):
    """The database is not a usable Veille store."""


@dataclass(slots=True)
class InsertResult:
    """What an insert did: the articles stored for the first time (with ids) and how many were known."""

    new: list[Article]
    duplicates: int


@dataclass(slots=True)
class FeedHealth:
    """Outcome of one poll, recorded on the feed."""

    ok: bool
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


@dataclass(slots=True)
class PendingAlert:
    """An outbox row: one story to announce (or re-announce with more sources) in one chat."""

    id: int
    chat: ChatRef
    story_id: int
    article_id: int
    query: str
    state: str  # "pending" until the platform accepted it, then "sent"
    attempts: int
    message_id: str | None
    sources_sent: int
    edit_pending: bool


class Store(Protocol):
    """The operations every layer needs from the system of record."""

    def close(self) -> None: ...

    # feeds
    def sync_feeds(self, feeds: Sequence[tuple[str, str, int]]) -> list[Feed]:
        """Make the configured (url, name, interval_s) feeds exist; return every stored feed."""
        ...

    def list_feeds(self) -> list[Feed]: ...

    def get_feed(self, feed_id: int) -> Feed | None: ...

    def record_poll(self, feed_id: int, health: FeedHealth, at: datetime) -> None:
        """Save a poll's outcome: validators on success, error and failure count otherwise."""
        ...

    def mark_primed(self, feed_id: int) -> None:
        """Note that the feed's initial backlog is stored, so later items are news."""
        ...

    # articles and stories
    def is_known(self, key: str, content_hash: str) -> bool:
        """Tell whether an article with this key or this exact content is already stored."""
        ...

    def add_article(
        self,
        article: Article,
        *,
        new_story_title: str | None = None,
        alerts: Sequence[tuple[ChatRef, str]] = (),
    ) -> Article | None:
        """Store one article with its story and its alerts in one transaction; None when already known."""
        ...

    def add_articles(self, articles: Sequence[Article]) -> InsertResult:
        """Store articles not seen before (by key or content hash); report which were new."""
        ...

    def get_article(self, article_id: int) -> Article | None: ...

    def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]: ...

    def find_article_by_url(self, url: str) -> Article | None: ...

    def latest_articles(self, limit: int) -> list[Article]: ...

    def latest_stories(self, limit: int) -> list[tuple[Story, Article]]: ...

    def iter_articles(self, after_id: int = 0, batch: int = 1000) -> Iterator[Article]:
        """Yield every article with id > after_id in id order (for indexing and migration)."""
        ...

    def max_article_id(self) -> int: ...

    def count_articles(self) -> int: ...

    def count_stories(self) -> int: ...

    def recent_articles(self, since: datetime, limit: int = 5000) -> list[Article]:
        """Articles published or stored since `since`, newest first (story grouping window)."""
        ...

    def create_story(self, title: str, first_seen: datetime) -> int: ...

    def set_story(self, article_id: int, story_id: int) -> None: ...

    def get_story(self, story_id: int) -> Story | None: ...

    def story_articles(self, story_id: int) -> list[Article]: ...

    def story_source_counts(self, story_ids: Sequence[int]) -> dict[int, int]: ...

    # subscriptions and chats
    def add_subscription(self, chat: ChatRef, query: str, at: datetime) -> Subscription: ...

    def remove_subscription(self, chat: ChatRef, subscription_id: int) -> bool: ...

    def list_subscriptions(self, chat: ChatRef | None = None) -> list[Subscription]: ...

    def get_chat_lang(self, chat: ChatRef) -> str | None: ...

    def set_chat_lang(self, chat: ChatRef, lang: str) -> None: ...

    def pause_chat(self, chat: ChatRef, reason: str, at: datetime) -> None: ...

    def resume_chat(self, chat: ChatRef) -> None: ...

    # the outbox
    def due_alerts(self, now: datetime, limit: int = 100) -> list[PendingAlert]: ...

    def count_pending_alerts(self) -> int: ...

    def mark_alert_sent(self, alert_id: int, message_id: str, sources: int, at: datetime) -> None: ...

    def mark_alert_retry(self, alert_id: int, error: str, next_attempt_at: datetime) -> None: ...

    def alert_for(self, chat: ChatRef, story_id: int) -> PendingAlert | None: ...
