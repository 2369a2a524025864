"""Every alert arrives, in order per chat, through 429s, 5xx, timeouts and dropped connections.

The real python-telegram-bot and discord.py clients talk to the fake services on 127.0.0.1, which enforce
the platforms' rate limits and fail the requests they are told to; the real sender and SQLite outbox run.
A timeout is ambiguous (the fake may have accepted the message after the client gave up), so it is the one
fault allowed to produce a duplicate; duplicates are counted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest

from bot.delivery.sender import Sender
from bot.models import Article, ChatRef
from bot.platforms.discord_adapter import DiscordAdapter
from bot.platforms.telegram_adapter import TelegramPlatform
from bot.store.base import Store
from bot.store.sqlite import SQLiteStore
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram, Fault


def queue_alerts(store: Store, chats: list[ChatRef], per_chat: int) -> dict[ChatRef, list[str]]:
    """Store one story per alert; return each chat's titles in outbox order."""
    expected: dict[ChatRef, list[str]] = {chat: [] for chat in chats}
    n = 0
    for round_ in range(per_chat):
        for chat in chats:
            n += 1
            title = f"Story {n:03d} for {chat.chat_id} round {round_}"
            store.add_article(
                Article(key=f"k{n}", url=f"https://x.example/{n}", title=title, text="Body of the story.",
                        source="Wire", published=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n),
                        content_hash=f"h{n}"),
                new_story_title=title,
                alerts=[(chat, "story")],
            )
            expected[chat].append(title)
    return expected


def first_seen_order(texts: list[str], titles: list[str]) -> tuple[list[str], int]:
    """Return the titles in the order they first appear in a transcript, and how many appeared twice."""
    order: list[str] = []
    duplicates = 0
    for text in texts:
        for title in titles:
            if title in text:
                if title in order:
                    duplicates += 1
                else:
                    order.append(title)
    return order, duplicates


async def drain(sender: Sender, store: SQLiteStore, timeout: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop, idle_s=0.2))
    try:
        for _ in range(int(timeout * 10)):
            if store.count_pending_alerts() == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert store.count_pending_alerts() == 0, "some alerts never arrived"


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "faults.db")
    yield s
    s.close()


async def test_telegram_faults_lose_nothing_and_keep_order(store: SQLiteStore) -> None:
    fake = FakeTelegram()  # rate limits on: 1/s per chat, 30/s overall, 20/min per group
    await fake.start()
    platform = TelegramPlatform(fake.token, api_base_url=fake.base_url, poll_timeout_s=1, request_timeout_s=1.0)
    await platform.start(_NoRouter())
    try:
        chats = [ChatRef("telegram", "-1001"), ChatRef("telegram", "2002"), ChatRef("telegram", "3003")]
        expected = queue_alerts(store, chats, per_chat=4)
        fake.fail_next("sendMessage", Fault.too_many_requests(1))
        fake.fail_next("sendMessage", Fault.server_error(502))
        fake.fail_next("sendMessage", Fault.drop())
        fake.fail_next("sendMessage", Fault.delay(1.6))  # longer than the client's 1 s timeout
        fake.fail_next("sendMessage", Fault.server_error(500))
        fake.fail_next("sendMessage", Fault.drop())
        sender = Sender(store, {"telegram": platform})
        await drain(sender, store, timeout=40)
        duplicates = 0
        for chat in chats:
            texts = [m.text for m in fake.messages(int(chat.chat_id))]
            order, dup = first_seen_order(texts, expected[chat])
            assert order == expected[chat]
            duplicates += dup
        assert duplicates <= 1  # only the timed-out request may have gone through anyway
        statuses = [r.status for r in fake.calls("sendMessage")]
        assert statuses.count(429) <= 2, statuses  # the injected one, and at most one more
        assert sender.retries >= 6
    finally:
        await platform.stop()
        await fake.stop()


async def test_discord_faults_lose_nothing_and_keep_order(store: SQLiteStore) -> None:
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    fake = FakeDiscord()
    await fake.start()
    channels = ["600000000000000001", "600000000000000002"]
    for channel in channels:
        fake.add_channel(channel, "400000000000000001")
    adapter = DiscordAdapter(fake.token, api_base_url=fake.api_base, gateway_url=fake.gateway_url,
                             guild_ready_timeout_s=0.01, ready_timeout_s=10.0)
    await adapter.start(_NoRouter())
    try:
        chats = [ChatRef("discord", c) for c in channels]
        expected = queue_alerts(store, chats, per_chat=4)
        template = "/channels/{channel_id}/messages"
        fake.inject_fault("429", method="POST", template=template, retry_after=0.3)
        fake.inject_fault("500", method="POST", template=template, times=4)  # beyond discord.py's own retries
        fake.inject_fault("drop", method="POST", template=template, times=2)
        fake.inject_fault("503", method="POST", template=template)
        sender = Sender(store, {"discord": adapter})
        await drain(sender, store, timeout=40)
        for chat in chats:
            texts = [m.text() for m in fake.transcript(chat.chat_id)]
            order, duplicates = first_seen_order(texts, expected[chat])
            assert order == expected[chat] and duplicates == 0
    finally:
        await adapter.stop()
        await fake.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


class _NoRouter:
    """Adapters need a router to start; these tests send no commands."""

    async def dispatch(self, request: object) -> object:
        raise AssertionError("no commands in this test")

    async def complete(self, chat: object, command: str, option: str, prefix: str) -> list[tuple[str, str]]:
        return []
