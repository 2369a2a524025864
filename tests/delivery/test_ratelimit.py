"""The rate limiter: sliding windows counted from the answers, per chat, per group and overall."""

from __future__ import annotations

import asyncio
import math

import pytest

from bot.delivery.ratelimit import (
    DEFAULT_LIMITS,
    FORGET_EVERY,
    WINDOW_MARGIN,
    PlatformLimits,
    RateLimiter,
    WindowLimit,
)
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
    assert limiter.delay(ChatRef("telegram", "9")) == math.inf
    clock.now += 0.25
    for permit in permits:
        permit.done()
    # Answered after 0.25 s: counted from the answers, and the overall window has no margin.
    assert limiter.delay(ChatRef("telegram", "9")) == 1.0


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


async def test_an_answer_lets_the_next_waiter_go_at_once() -> None:
    limiter = RateLimiter({"telegram": PlatformLimits(overall=WindowLimit(1, 0.0001))})
    first = await limiter.acquire(ChatRef("telegram", "1"))
    second = asyncio.create_task(limiter.acquire(ChatRef("telegram", "2")))
    await asyncio.sleep(0.01)
    assert not second.done()  # the first request is in flight: its window cannot start yet
    first.done()
    # Woken by the answer itself, not by the next recheck a tenth of a second later.
    permit = await asyncio.wait_for(second, timeout=0.05)
    permit.done()


async def test_a_waiter_cancelled_after_its_turn_gives_the_slot_back() -> None:
    limiter = RateLimiter({"telegram": PlatformLimits(overall=WindowLimit(1, 60.0))})
    held = await limiter.acquire(ChatRef("telegram", "1"))
    waiter = asyncio.create_task(limiter.acquire(ChatRef("telegram", "2")))
    await asyncio.sleep(0)
    held.release()  # never sent: the slot is free again, and the waiter is granted it...
    waiter.cancel()  # ...but cancelled before it could use it
    with pytest.raises(asyncio.CancelledError):
        await waiter
    # Nothing was sent in the window, so the next message goes now.
    permit = await asyncio.wait_for(limiter.acquire(ChatRef("telegram", "3")), timeout=0.05)
    permit.done()


async def test_waiting_does_not_poll() -> None:
    limiter = RateLimiter({"telegram": PlatformLimits(overall=WindowLimit(1, 0.3))})
    (await limiter.acquire(ChatRef("telegram", "0"))).done()
    looks = 0
    let_go = limiter._let_go  # noqa: SLF001 - count how often the queue is looked at

    def counting() -> None:
        nonlocal looks
        looks += 1
        let_go()

    limiter._let_go = counting  # type: ignore[method-assign]  # noqa: SLF001
    waiters = [asyncio.create_task(limiter.acquire(ChatRef("telegram", str(n)))) for n in range(1, 21)]
    await asyncio.sleep(0.25)
    # Twenty chats waited a quarter of a second: one look each when they queued, and one timer at most.
    assert looks <= 21
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)


async def test_a_chat_whose_block_ended_still_waits_for_its_own_window() -> None:
    limiter = RateLimiter({"telegram": PlatformLimits(overall=WindowLimit(30, 1.0), per_chat=WindowLimit(1, 0.3))})
    chat = ChatRef("telegram", "7")
    limiter.block(chat, 0.02)  # a 429 a moment ago...
    await asyncio.sleep(0.03)
    (await limiter.acquire(chat)).done()  # ...over now; then a message went out
    waiter = asyncio.create_task(limiter.acquire(chat))
    await asyncio.sleep(0.1)
    assert not waiter.done()  # its per-chat window still holds the one just sent
    (await asyncio.wait_for(waiter, timeout=1.0)).done()


async def test_chats_with_nothing_left_in_their_windows_are_forgotten() -> None:
    clock = FakeClock()
    limiter = RateLimiter(DEFAULT_LIMITS, clock)
    for n in range(FORGET_EVERY * 3):
        (await limiter.acquire(ChatRef("telegram", str(n)))).done()
        clock.now += 0.1
    # Months of chats do not pile up: only those sent to in the last minute (a group's window) may remain.
    assert len(limiter._own) <= FORGET_EVERY  # noqa: SLF001
    recent = ChatRef("telegram", str(FORGET_EVERY * 3 - 1))
    assert limiter.delay(recent) > 0  # and what is still in a window is kept
