"""The store interface: the system of record, whatever the backend.

Every backend passes the one contract suite in tests/store/test_contract.py. Errors:

    StoreError              base: the backend failed
    └── StoreCorrupt        the database file cannot be opened or read as a Veille store
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
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


# A matcher more changes behind than this reloads every subscription; the log keeps this many (maintain()).
SUBSCRIPTION_LOG_KEPT = 10_000


@dataclass(slots=True)
class SubscriptionChanges:
    """What changed in the subscriptions after a version: see Store.subscription_changes."""

    version: int  # the newest version these changes bring the reader to
    changed: list[Subscription]  # added or changed since, in their current state
    removed: list[int]  # ids removed since


@dataclass(slots=True)
class PendingAlert:
    """An outbox row: one story to announce (or re-announce with more sources) in one chat."""

    id: int
    chat: ChatRef
    story_id: int
    article_id: int
    query: str
    state: str  # "pending" until the platform accepted it, then "sent"; or "held" for a digest, then "digested"
    attempts: int
    message_id: str | None
    sources_sent: int
    edit_pending: bool
    created_at: datetime | None = None
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    held_reason: str | None = None  # "quiet" or "cap"
    held_until: datetime | None = None
    digested_at: datetime | None = None


@dataclass(slots=True)
class FeedState:
    """A feed's schedule and health beyond its last poll: what the dispatcher and /sources need (issue 7)."""

    feed_id: int
    origin: str = "config"  # "config", "chat:<platform:id>" (/addfeed) or "opml"
    next_poll_at: datetime | None = None  # None: due now
    interval_s: int | None = None  # the adapted interval; None: the configured one
    failing_since: datetime | None = None
    backoff_until: datetime | None = None
    notified_at: datetime | None = None  # when the one "feed failing" notice went out


@dataclass(slots=True)
class StoreStats:
    """The counts /stats shows."""

    feeds: int
    articles: int
    stories: int
    alerts_sent: int  # since the `since` given to stats()
    alerts_pending: int
    feed_errors: int  # failed polls since the `errors_since` given to stats()


# The per-chat alert settings a chat may override; anything else is refused by set_chat_setting.
CHAT_SETTINGS = ("timezone", "quiet_hours", "max_per_hour", "digest")


@dataclass(slots=True)
class ChatSettings:
    """A chat's own alert settings (None: the config's default) and its digest and pause state."""

    chat: ChatRef
    timezone: str | None = None
    quiet_hours: str | None = None  # "22:00-07:00" or "off"
    max_per_hour: int | None = None  # 0: no cap
    digest: str | None = None  # "daily 08:00", "weekly mon 08:00" or "off"
    last_digest_at: datetime | None = None
    paused_reason: str | None = None


class Store(Protocol):
    """The operations every layer needs from the system of record."""

    def close(self) -> None: ...

    def job_lock(self, name: str) -> AbstractContextManager[bool]:
        """Hold the lock of periodic job `name` while the block runs; yield False when another process holds it."""
        ...

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

    # feed administration, schedule and health (issue 7)
    def add_feed(self, url: str, name: str, interval_s: int, origin: str) -> tuple[Feed, bool]:
        """Store a feed added at run time (chat, OPML); return it and whether it is new (False: URL known)."""
        ...

    def get_feed_by_url(self, url: str) -> Feed | None: ...

    def remove_feed(self, feed_id: int) -> bool:
        """Delete a feed and its schedule (its articles stay, detached); False when there is no such feed."""
        ...

    def feeds_version(self) -> int:
        """Return a number that changes whenever a feed is added or removed."""
        ...

    def feed_states(self) -> dict[int, FeedState]:
        """Return the schedule and health of every feed, by feed id."""
        ...

    def save_feed_state(self, state: FeedState) -> None:
        """Persist a feed's schedule and health (next poll, interval, failing since, backoff, notice)."""
        ...

    def stats(self, since: datetime, errors_since: datetime) -> StoreStats:
        """Count feeds, articles, stories, alerts sent since `since`, pending alerts, errors since `errors_since`."""
        ...

    def delete_articles_before(self, cutoff: datetime, limit: int = 1000) -> list[int]:
        """Delete up to `limit` articles stored before `cutoff` (with their delivered alerts and emptied
        stories; articles with alerts still pending or held stay); return the deleted ids."""
        ...

    def maintain(self, errors_before: datetime) -> None:
        """Run routine database upkeep and forget poll errors older than `errors_before`."""
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

    def latest_stories(self, limit: int) -> list[tuple[Story, list[Article]]]:
        """Return the stories with the most recently published articles, newest first, each with its articles."""
        ...

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

    def mark_alert_sent(
        self, alert_id: int, message_id: str, sources: int, at: datetime, shown: Sequence[int] | None = None
    ) -> None:
        """Record that the platform accepted the alert (or its edit) showing `sources` sources.

        `shown`: the ids of the story's articles the message was built from. An article of the story that is
        not among them joined while the message was in flight, so an edit stays pending for it (None: clear).
        """
        ...

    def mark_alert_retry(self, alert_id: int, error: str, next_attempt_at: datetime) -> None: ...

    def alert_for(self, chat: ChatRef, story_id: int) -> PendingAlert | None: ...

    # alert policy, digests and explanations (issue 4)
    def subscriptions_version(self) -> int:
        """Return a number that changes whenever any subscription is added, changed or removed."""
        ...

    def subscription_changes(self, after_version: int) -> SubscriptionChanges | None:
        """Return the subscriptions changed after `after_version`, or None when the log no longer reaches back
        that far (or more than SUBSCRIPTION_LOG_KEPT changes happened): then read them all."""
        ...

    def due_chats(self, now: datetime) -> list[ChatRef]:
        """Return the chats (not paused) that have an alert to send or edit now, oldest alert first."""
        ...

    def due_alerts_for(self, chat: ChatRef, now: datetime, limit: int = 50) -> list[PendingAlert]:
        """Return one chat's alerts to send or edit now, in order; none past one still waiting to retry."""
        ...

    def get_chat_settings(self, chat: ChatRef) -> ChatSettings:
        """Return the chat's own alert settings (all None for a chat that set nothing)."""
        ...

    def set_chat_setting(self, chat: ChatRef, name: str, value: str | int | None) -> None:
        """Set one of CHAT_SETTINGS for a chat (None: back to the default); ValueError for another name."""
        ...

    def sent_times_since(self, chat: ChatRef, since: datetime) -> list[datetime]:
        """Return when the chat's alerts first sent at or after `since` went out, oldest first."""
        ...

    def hold_alert(self, alert_id: int, reason: str, at: datetime, until: datetime) -> None:
        """Keep a pending alert for the chat's next digest instead of sending it (quiet hours, cap)."""
        ...

    def held_alerts(self, chat: ChatRef) -> list[PendingAlert]:
        """Return the chat's alerts waiting for a digest, oldest first."""
        ...

    def alerts_since(self, chat: ChatRef, since: datetime | None) -> list[PendingAlert]:
        """Return the chat's alerts created at or after `since` (all when None), whatever their state."""
        ...

    def record_digest(self, chat: ChatRef, alert_ids: Sequence[int], at: datetime) -> None:
        """Mark held alerts as carried by a digest sent at `at`, and remember `at` as the chat's last digest."""
        ...

    def digest_chats(self) -> list[ChatRef]:
        """Return every chat a digest may concern: with subscriptions, settings, or held alerts."""
        ...

    def is_backlog(self, article_id: int) -> bool | None:
        """Tell whether an article came with its feed's first poll (None when it cannot be told)."""
        ...


def latest_stories_of(
    store: Store, newest_story_ids: Callable[[int, int], list[int]], limit: int
) -> list[tuple[Story, list[Article]]]:
    """Return the `limit` stories with the newest articles, newest first, each with its articles.

    `newest_story_ids(count, offset)` pages through articles' story ids, newest article first (the
    `published` index serves it). Walking the newest articles until `limit` distinct stories are seen costs
    a few pages, where grouping every article by story would read the whole archive.
    """
    chunk = max(50, limit * 10)
    seen: dict[int, None] = {}
    offset = 0
    while len(seen) < limit:
        page = newest_story_ids(chunk, offset)
        for story_id in page:
            seen.setdefault(story_id, None)
        if len(page) < chunk:
            break
        offset += chunk
    result = []
    for story_id in list(seen)[:limit]:
        story = store.get_story(story_id)
        articles = store.story_articles(story_id)
        if story and articles:
            result.append((story, articles))
    return result


def changes_from_log(
    after_version: int,
    current_version: int,
    log: Sequence[tuple[int, int]],
    load: Callable[[list[int]], list[Subscription]],
) -> SubscriptionChanges | None:
    """Turn the (version, subscription id) log rows after `after_version` into changes (both stores' logic).

    `current_version` must be read before `log`: a version and its log row commit together, so the log then
    holds at least every version up to it. Versions have no gaps, so a log that does not start right after
    `after_version` was trimmed (or predates the log): None, read everything.
    """
    if current_version == after_version:
        return SubscriptionChanges(after_version, [], [])
    if not log or log[0][0] != after_version + 1 or len(log) >= SUBSCRIPTION_LOG_KEPT:
        return None
    ids = sorted({sub_id for _version, sub_id in log})
    changed = load(ids)
    present = {sub.id for sub in changed}
    return SubscriptionChanges(log[-1][0], changed, [i for i in ids if i not in present])
