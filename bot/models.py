"""Plain data shared by every layer: feeds, articles, stories, chats, subscriptions, alerts.

Nothing here does I/O. Layers exchange these objects, never SDK types or database rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A chat on one platform, written `platform:id` (for example `telegram:-1001234` or `discord:987`)."""

    platform: str
    chat_id: str

    @classmethod
    def parse(cls, text: str) -> ChatRef:
        """Read `platform:id`; raise ValueError with a readable reason when it is not one."""
        platform, sep, chat_id = text.strip().partition(":")
        if not sep or not platform or not chat_id:
            raise ValueError(f"not a chat reference (expected platform:id): {text!r}")
        return cls(platform.lower(), chat_id)

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}"


@dataclass(slots=True)
class Feed:
    """A feed as the store knows it, with its health and its conditional-GET validators."""

    id: int
    url: str
    name: str
    interval_s: int
    etag: str | None = None
    last_modified: str | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    # Set once the first successful poll has stored the feed's backlog; items seen before it are not alerted.
    primed: bool = False


@dataclass(slots=True)
class RawEntry:
    """One item as a feed parser read it, before normalization."""

    title: str = ""
    link: str = ""
    guid: str = ""
    published: datetime | None = None
    summary_html: str = ""
    content_html: str = ""
    author: str = ""
    enclosure_url: str = ""


@dataclass(slots=True)
class Article:
    """A normalized article: clean text, canonical URL, UTC date, language and a stable key."""

    key: str
    url: str
    title: str
    text: str
    source: str
    published: datetime
    lang: str = "und"
    summary: str = ""
    feed_id: int | None = None
    content_hash: str = ""
    entities: list[str] = field(default_factory=list)
    story_id: int | None = None
    id: int | None = None


@dataclass(slots=True)
class Story:
    """Articles that report the same event, across outlets and languages."""

    id: int
    title: str
    first_seen: datetime
    article_count: int
    sources: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Subscription:
    """A chat's standing query: articles that match it are alerted to the chat."""

    id: int
    chat: ChatRef
    query: str
    created_at: datetime
    paused_reason: str | None = None


@dataclass(slots=True)
class SearchHit:
    """One article found by a search, with its rank score and a highlighted snippet."""

    article: Article
    score: float
    snippet: str
    story_sources: int = 1
