"""The rate limiter: sliding windows counted from the answers, per chat, per group and overall."""

from __future__ import annotations

import asyncio

import pytest

from bot.delivery.ratelimit import DEFAULT_LIMITS, WINDOW_MARGIN, PlatformLimits, RateLimiter, WindowLimit
from bot.models import ChatRef


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_telegram_windows_per_chat_group_and_overall() -> None:
    clock = FakeClock()
    limiter = RateLimiter(DEFAULT_LIMITS, clock)
    private, group = ChatRef("telegram", "5"), ChatRef("telegram", "-100")
    assert limiter.delay(private) == 0
    limiter._windows_for(private)  # noqa: SLF001 - create the windows
    permit = asyncio.run(limiter.acquire(private))
    permit.done()
    # One a second per chat, counted from the answer, with the safety margin.
    assert limiter.delay(private) == pytest.approx(1.0 + WINDOW_MARGIN)
    clock.now += 1.0 + WINDOW_MARGIN
    assert limiter.delay(private) == 0
    for _ in range(20):
        clock.now += 1.0 + WINDOW_MARGIN
        asyncio.run(limiter.acquire(group)).done()
    clock.now += 1.0
    # 20 a minute in a group: the next waits for the first of the 20 to be a minute old.
    assert 38 < limiter.delay(group) <= 40 + 60 * WINDOW_MARGIN
    assert limiter.delay(ChatRef("console", "x")) == 0


def test_the_overall_window_counts_every_chat_and_in_flight_requests() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"telegram": PlatformLimits(overall=WindowLimit(3, 1.0))}, clock)
    permits = [asyncio.run(limiter.acquire(ChatRef("telegram", str(n)))) for n in range(3)]
    # Three requests in flight: the fourth cannot know when the server counted them, so it waits.
    assert 0 < limiter.delay(ChatRef("telegram", "9")) <= 0.01
    clock.now += 0.25
    for permit in permits:
        permit.done()
    # Answered after 0.25 s: the server counted them at least a quarter of a round trip earlier.
    assert limiter.delay(ChatRef("telegram", "9")) == 0.9375  # the overall window has no margin


async def test_waiting_chats_are_served_first_come_first_served() -> None:
    limiter = RateLimiter({"telegram": PlatformLimits(overall=WindowLimit(1, 0.05))})
    order: list[str] = []

    async def send(name: str, times: int) -> None:
        for _ in range(times):
            permit = await limiter.acquire(ChatRef("telegram", name))
            order.append(name)
            await asyncio.sleep(0)  # the request itself
            permit.done()

    await asyncio.gather(send("a", 3), send("b", 3), send("c", 3))
    # Nobody gets a second turn before everyone waiting had one.
    assert sorted(order[:3]) == ["a", "b", "c"] and sorted(order[3:6]) == ["a", "b", "c"]


def test_a_429_blocks_the_chat_for_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter({}, clock)
    chat = ChatRef("discord", "1")
    limiter.block(chat, 7)
    assert limiter.delay(chat) == 7
    assert limiter.delay(ChatRef("discord", "2")) == 0
