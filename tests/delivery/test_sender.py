"""The outbox sender against a platform that fails the way real ones do: nothing is lost, order is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.errors import MessageGone, MessageRejected, PermanentError, RetryLater, TransientError
from bot.delivery.ratelimit import NoLimits
from bot.delivery.sender import Sender, backoff_seconds
from bot.messages import AlertMessage, Reply
from bot.models import Article, ChatRef
from bot.store.sqlite import SQLiteStore

CHAT = ChatRef("telegram", "-100")
OTHER = ChatRef("telegram", "-200")


class ScriptedPlatform:
    """A chat platform at the edge: records accepted messages, raises the failures it is told to."""

    name = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.edits: list[tuple[str, str, int]] = []
        self.failures: list[Exception] = []
        self.chat_failures: dict[str, list[Exception]] = {}  # chats are served concurrently: per-chat faults

    async def start(self, router: object) -> None: ...

    async def stop(self) -> None: ...

    async def send_alert(self, alert: AlertMessage) -> str:
        if self.chat_failures.get(str(alert.chat)):
            raise self.chat_failures[str(alert.chat)].pop(0)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((str(alert.chat), alert.card.title))
        return str(len(self.sent))

    async def edit_alert(self, alert: AlertMessage, message_id: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.edits.append((str(alert.chat), message_id, alert.card.extra_sources))

    async def send_reply(self, chat: ChatRef, reply: Reply) -> str:
        return "0"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def article(n: int, source: str = "A") -> Article:
    return Article(key=f"k{n}", url=f"https://x.example/{n}", title=f"Story {n}", text="Body.", source=source,
                   published=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n), content_hash=f"h{n}")


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "v.db")
    yield s
    s.close()


def sender_for(store: SQLiteStore, platform: ScriptedPlatform, clock: Clock) -> Sender:
    return Sender(store, {"telegram": platform}, clock=clock, limiter=NoLimits())


async def test_alerts_go_out_in_order_per_chat_and_once(store: SQLiteStore) -> None:
    for n in range(5):
        store.add_article(article(n), new_story_title=f"Story {n}", alerts=[(CHAT, "q"), (OTHER, "q")])
    platform, clock = ScriptedPlatform(), Clock()
    sender = sender_for(store, platform, clock)
    assert await sender.drain_once() == 10
    assert [t for c, t in platform.sent if c == str(CHAT)] == [f"Story {n}" for n in range(5)]
    assert await sender.drain_once() == 0
    assert len(platform.sent) == 10


async def test_failures_are_retried_in_order_and_nothing_is_lost(store: SQLiteStore) -> None:
    for n in range(3):
        store.add_article(article(n), new_story_title=f"Story {n}", alerts=[(CHAT, "q")])
    platform, clock = ScriptedPlatform(), Clock()
    platform.failures = [RetryLater(str(CHAT), "429", retry_after=7), TransientError(str(CHAT), "HTTP 502")]
    sender = sender_for(store, platform, clock)
    assert await sender.drain_once() == 0  # 429: the chat waits, its later alerts too
    clock.now += timedelta(seconds=6)
    assert await sender.drain_once() == 0
    clock.now += timedelta(seconds=2)
    assert await sender.drain_once() == 0  # 502: backoff
    clock.now += timedelta(seconds=backoff_seconds(10))
    assert await sender.drain_once() == 3
    assert [t for _, t in platform.sent] == ["Story 0", "Story 1", "Story 2"]


async def test_a_permanent_refusal_pauses_the_chat_and_keeps_its_alerts(store: SQLiteStore) -> None:
    store.add_article(article(1), new_story_title="S", alerts=[(CHAT, "q"), (OTHER, "q")])
    store.add_subscription(CHAT, "q", datetime.now(UTC))
    platform, clock = ScriptedPlatform(), Clock()
    platform.chat_failures[str(CHAT)] = [PermanentError(str(CHAT), "Forbidden: bot was kicked from the group chat")]
    sender = sender_for(store, platform, clock)
    await sender.drain_once()
    assert platform.sent == [(str(OTHER), "Story 1")]
    assert store.list_subscriptions(CHAT)[0].paused_reason == "Forbidden: bot was kicked from the group chat"
    assert store.count_pending_alerts() == 1
    store.resume_chat(CHAT)
    assert await sender.drain_once() == 1


async def test_more_sources_edit_the_message_instead_of_posting_again(store: SQLiteStore) -> None:
    first = store.add_article(article(1, "Outlet A"), new_story_title="S", alerts=[(CHAT, "q")])
    platform, clock = ScriptedPlatform(), Clock()
    sender = sender_for(store, platform, clock)
    await sender.drain_once()
    for n, source in ((2, "Outlet B"), (3, "Outlet C")):
        joined = article(n, source)
        joined.story_id = first.story_id
        store.add_article(joined, alerts=[(CHAT, "q")])
    await sender.drain_once()
    assert len(platform.sent) == 1
    assert platform.edits == [(str(CHAT), "1", 2)]



async def test_a_source_joining_while_the_alert_is_being_sent_is_edited_in_afterwards(store: SQLiteStore) -> None:
    first = store.add_article(article(1, "Outlet A"), new_story_title="S", alerts=[(CHAT, "q")])

    class JoinDuringSend(ScriptedPlatform):
        async def send_alert(self, alert: AlertMessage) -> str:
            joined = article(2, "Outlet B")  # the pipeline stores a second outlet while the request is out
            joined.story_id = first.story_id
            store.add_article(joined, alerts=[(CHAT, "q")])
            return await super().send_alert(alert)

    platform = JoinDuringSend()
    sender = sender_for(store, platform, Clock())
    await sender.drain_once()
    # The send showed one source; the join kept an edit due, made in the same drain: "+1 source", not lost.
    assert len(platform.sent) == 1 and platform.edits == [(str(CHAT), "1", 1)]
    assert store.alert_for(CHAT, first.story_id).sources_sent == 2
    assert await sender.drain_once() == 0


async def test_alerts_for_a_platform_that_is_not_running_wait(store: SQLiteStore) -> None:
    store.add_article(article(1), new_story_title="S", alerts=[(ChatRef("discord", "9"), "q")])
    sender = sender_for(store, ScriptedPlatform(), Clock())
    assert await sender.drain_once() == 0
    assert store.count_pending_alerts() == 1


def test_backoff_is_capped() -> None:
    assert backoff_seconds(0) <= 1.0
    assert 12 < backoff_seconds(4) <= 16
    assert backoff_seconds(50) <= 300


async def test_a_deleted_alert_message_is_posted_again_when_its_story_grows(store: SQLiteStore) -> None:
    first = store.add_article(article(1, "Outlet A"), new_story_title="S", alerts=[(CHAT, "q")])
    platform, clock = ScriptedPlatform(), Clock()
    sender = sender_for(store, platform, clock)
    await sender.drain_once()
    joined = article(2, "Outlet B")
    joined.story_id = first.story_id
    store.add_article(joined, alerts=[(CHAT, "q")])
    platform.failures = [MessageGone(str(CHAT), "Unknown Message")]
    assert await sender.drain_once() == 1
    assert len(platform.sent) == 2 and store.alert_for(CHAT, first.story_id).message_id == "2"


async def test_a_refused_payload_keeps_the_alert_and_the_chat_active(store: SQLiteStore) -> None:
    store.add_article(article(1), new_story_title="S", alerts=[(CHAT, "q")])
    platform, clock = ScriptedPlatform(), Clock()
    platform.failures = [MessageRejected(str(CHAT), "Invalid Form Body")]
    sender = sender_for(store, platform, clock)
    assert await sender.drain_once() == 0
    assert store.count_pending_alerts() == 1
    assert store.list_subscriptions(CHAT) == [] and store.due_alerts(clock.now) == []
    clock.now += timedelta(seconds=301)
    assert await sender.drain_once() == 1
