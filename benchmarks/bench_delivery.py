"""Delivery throughput against a fake Telegram that enforces Telegram's limits, with and without pacing.

The real sender, SQLite outbox and python-telegram-bot client deliver queued alerts to tests/fakes'
FakeTelegram on 127.0.0.1 (1 message/s per chat, 30/s overall, 20/min per group, 429 retry_after beyond).
For each scenario the shortest possible span from the first to the last accepted message under the limits
is `floor((N - 1) / count) * window`; the table gives the measured span, the share of the allowed rate
reached (best span / measured span), the time in all (sender start to empty outbox) and how many
requests were answered 429. "unpaced" is the same sender with the rate limiter switched off: it only
learns the limits from 429s.

    .venv/bin/python -m benchmarks.bench_delivery [--chats 60] [--per-chat 5] [--single 10] [--groups 0]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.delivery.ratelimit import NoLimits, RateLimiter
from bot.delivery.sender import Sender
from bot.models import Article, ChatRef
from bot.platforms.telegram_adapter import TelegramPlatform
from bot.store.sqlite import SQLiteStore
from tests.fakes.telegram_server import FakeTelegram


class _Timed:
    """The real platform, noting when each alert was accepted."""

    def __init__(self, platform: TelegramPlatform) -> None:
        self.platform = platform
        self.name = platform.name
        self.accepted: list[float] = []

    async def send_alert(self, alert: object) -> str:
        message_id = await self.platform.send_alert(alert)  # type: ignore[arg-type]
        self.accepted.append(time.perf_counter())
        return message_id

    async def edit_alert(self, alert: object, message_id: str) -> None:
        await self.platform.edit_alert(alert, message_id)  # type: ignore[arg-type]

    async def send_reply(self, chat: ChatRef, reply: object) -> str:
        return await self.platform.send_reply(chat, reply)  # type: ignore[arg-type]


class _NoRouter:
    async def dispatch(self, request: object) -> object:
        raise AssertionError("no commands here")

    async def complete(self, chat: object, command: str, option: str, prefix: str) -> list[tuple[str, str]]:
        return []


def fill(store: SQLiteStore, chats: list[ChatRef], per_chat: int) -> int:
    """Queue `per_chat` alerts for each chat; return how many."""
    n = 0
    for _ in range(per_chat):
        for chat in chats:
            n += 1
            store.add_article(
                Article(key=f"k{n}", url=f"https://x.example/{n}", title=f"Story {n}", text="Body.",
                        source="Wire", published=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=n),
                        content_hash=f"h{n}"),
                new_story_title=f"Story {n}",
                alerts=[(chat, "story")],
            )
    return n


async def run_scenario(chats: list[ChatRef], per_chat: int, paced: bool) -> tuple[int, float, float, int]:
    """Deliver everything; return (messages, seconds in all, seconds first to last accepted, 429 answers)."""
    fake = FakeTelegram()
    await fake.start()
    platform = TelegramPlatform(fake.token, api_base_url=fake.base_url, poll_timeout_s=1, request_timeout_s=5.0)
    await platform.start(_NoRouter())
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "bench.db")
        total = fill(store, chats, per_chat)
        timed = _Timed(platform)
        sender = Sender(store, {"telegram": timed}, limiter=RateLimiter() if paced else NoLimits())  # type: ignore[dict-item]
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(sender.run(stop, idle_s=0.05))
        while store.count_pending_alerts():
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        stop.set()
        await task
        store.close()
    too_many = sum(1 for r in fake.calls("sendMessage") if r.status == 429)
    await platform.stop()
    await fake.stop()
    span = timed.accepted[-1] - timed.accepted[0] if len(timed.accepted) > 1 else elapsed
    return total, elapsed, span, too_many


def best_seconds(per_window: list[tuple[int, int, float]]) -> float:
    """Return the shortest possible time: the binding window over (messages, count, window_s)."""
    return max(math.floor((n - 1) / count) * window for n, count, window in per_window)


async def main_async(args: argparse.Namespace) -> None:
    scenarios = []
    if args.chats:
        chats = [ChatRef("telegram", str(1000 + n)) for n in range(args.chats)]
        total = args.chats * args.per_chat
        scenarios.append((f"{args.chats} private chats × {args.per_chat}", chats, args.per_chat,
                          best_seconds([(total, 30, 1.0), (args.per_chat, 1, 1.0)]), "30/s overall"))
    if args.single:
        scenarios.append((f"1 private chat × {args.single}", [ChatRef("telegram", "42")], args.single,
                          best_seconds([(args.single, 1, 1.0)]), "1/s per chat"))
    if args.groups:
        groups = [ChatRef("telegram", str(-1000 - n)) for n in range(args.groups)]
        scenarios.append((f"{args.groups} groups × 22", groups, 22, best_seconds([(22, 20, 60.0), (22, 1, 1.0)]),
                          "20/min per group"))
    print("| scenario | binding limit | sender | messages | best span s | first→last accepted s | in all s "
          "| % of allowed rate | 429s |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name, chats, per_chat, best, limit in scenarios:
        for paced in (True, False):
            total, elapsed, span, too_many = await run_scenario(chats, per_chat, paced)
            share = 100.0 * best / span if span else 0.0
            print(f"| {name} | {limit} | {'paced' if paced else 'unpaced'} | {total} | {best:.1f} | {span:.2f} "
                  f"| {elapsed:.2f} | {share:.1f}% | {too_many} |")


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=60)
    parser.add_argument("--per-chat", type=int, default=5)
    parser.add_argument("--single", type=int, default=10)
    parser.add_argument("--groups", type=int, default=0, help="also a group scenario (over a minute)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
