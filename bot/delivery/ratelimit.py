"""Pace outgoing messages under each platform's limits, so that 429s are the exception, not the rhythm.

Limits are sliding windows ("at most N in any W seconds"), the way Telegram and the fake count them:

    telegram   30 messages/s overall, 1/s per chat, 20/min per group (negative chat id)
    discord    50 requests/s overall (the global limit), 5 per 5 s per channel (the message-create bucket)
    console    none

A slot is taken when a request leaves and its time is set when the answer arrives: the server saw the
request somewhere between the two, so counting from the answer can never undercount, whatever the latency.
After a 429 the chat is blocked for `retry_after` (the sender also reschedules the alert).

Several workers sending for one bot (bot/workers.py) share its overall limit: `share_overall(n)` makes each
of the n paces to floor(count / n) in the same window, so together they never exceed it (4 workers on
Telegram: 7/s each, 28/s together). The worker count comes from a registry that lags: a worker that died
keeps its share until the others stop seeing it, so the survivors are slower than they could be for a while,
never faster than allowed; a worker that joins waits until the others have counted it before it sends.
Per-chat windows are not shared: a chat's outbox is held by one worker at a time, and a worker that hands a
chat over waits `handover_delay(chat)` first, so the next holder starts with an empty per-chat window.

Why Discord needs no more than this: discord.py itself reads every response's X-RateLimit-Bucket,
-Remaining and -Reset-After headers, keeps one bucket per route and major parameter, sleeps before a
request when its bucket is empty, and waits out short 429s (global ones included) before retrying.
Pacing below the documented defaults keeps those buckets from emptying in normal operation; anything
longer surfaces as RetryLater, which the sender honours. The adapter needs to expose nothing more.

Errors: none; waiting is the only outcome.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.models import ChatRef


@dataclass(frozen=True, slots=True)
class WindowLimit:
    """At most `count` messages in any `window_s` seconds."""

    count: int
    window_s: float


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """One platform's limits: overall, per chat, and per group chat."""

    overall: WindowLimit | None = None
    per_chat: WindowLimit | None = None
    per_group: WindowLimit | None = None
    is_group: Callable[[ChatRef], bool] = lambda chat: False


def _telegram_group(chat: ChatRef) -> bool:
    return chat.chat_id.startswith("-")


DEFAULT_LIMITS: dict[str, PlatformLimits] = {
    "telegram": PlatformLimits(
        overall=WindowLimit(30, 1.0),
        per_chat=WindowLimit(1, 1.0),
        per_group=WindowLimit(20, 60.0),
        is_group=_telegram_group,
    ),
    "discord": PlatformLimits(overall=WindowLimit(50, 1.0), per_chat=WindowLimit(5, 5.0)),
}


# The share of the shortest round trip assumed to be the answer's way back (the rest is the request's way
# there and the server): a slot is dated that much before its answer. Smaller is safer; 0 counts from the answer.
RESPONSE_SHARE = 0.25
# A chat's windows are waited out this much longer (a share of the window): dating a slot cannot be exact
# when the event loop is busy, and one message a few milliseconds early is a 429 from a strict server. The
# overall window has no margin: many messages in flight spread the error, and it would cost 2% of the rate.
WINDOW_MARGIN = 0.02


@dataclass(slots=True)
class _Slot:
    at: float = math.inf  # when the answer arrived; inf while the request is in flight


@dataclass(slots=True)
class _Window:
    limit: WindowLimit
    margin: float = 0.0  # a share of the window added to it (WINDOW_MARGIN for a chat's windows)
    slots: list[_Slot] = field(default_factory=list)

    @property
    def span(self) -> float:
        """Return how long a message counts in this window, margin included."""
        return self.limit.window_s * (1 + self.margin)

    def wait(self, now: float) -> float:
        """Return how long until one more message fits (0 when it fits now)."""
        window = self.span
        self.slots = [s for s in self.slots if s.at == math.inf or now - s.at < window]
        if len(self.slots) < self.limit.count:
            return 0.0
        # The slot that must age out first: the one `count` places from the newest.
        ordered = sorted(s.at for s in self.slots)
        blocking = ordered[len(ordered) - self.limit.count]
        if blocking == math.inf:
            return 0.005  # waiting for an answer in flight
        return max(0.0, blocking + window - now)


class _RoundTrips:
    """The recent round trips of one platform; their minimum bounds how fast an answer can come back."""

    def __init__(self, keep: int = 200) -> None:
        self._recent: deque[float] = deque(maxlen=keep)

    def add(self, seconds: float) -> None:
        self._recent.append(seconds)

    def floor(self) -> float:
        return min(self._recent, default=0.0)


class Permit:
    """The slots one message holds; call `done()` when its answer (or failure) arrived."""

    def __init__(self, slots: list[_Slot], clock: Callable[[], float], trips: _RoundTrips | None = None) -> None:
        self._slots = slots
        self._clock = clock
        self._trips = trips
        self._sent = clock()

    def done(self) -> None:
        """Start counting the message's window from when the server may at the latest have counted it."""
        now = self._clock()
        at = now
        if self._trips is not None:
            # The answer took at least a share of the shortest round trip to come back: the server counted
            # the request that much earlier at the latest. Never earlier than the moment it was sent.
            at = max(self._sent, now - self._trips.floor() * RESPONSE_SHARE)
            self._trips.add(now - self._sent)
        for slot in self._slots:
            if slot.at == math.inf:
                slot.at = at


class RateLimiter:
    """Hands out permits to send, waiting as long as any applicable window requires."""

    def __init__(
        self,
        limits: dict[str, PlatformLimits] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = DEFAULT_LIMITS if limits is None else limits
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._blocked_until: dict[str, float] = {}
        self._trips: dict[str, _RoundTrips] = {}
        self._tickets = itertools.count()
        self._waiting: dict[int, ChatRef] = {}
        self._overall_share = 1
        self.waited_s = 0.0

    def share_overall(self, workers: int) -> None:
        """Pace every platform's overall window to 1/`workers` of its limit (the others send the rest)."""
        self._overall_share = max(1, workers)

    def overall_limit(self, platform: str) -> WindowLimit | None:
        """Return the overall window this limiter paces `platform` to, after sharing it with the other workers."""
        limits = self.limits.get(platform)
        if limits is None or limits.overall is None:
            return None
        overall = limits.overall
        # Whole messages per window, rounded down: the shares together stay within the platform's limit.
        return WindowLimit(max(1, overall.count // self._overall_share), overall.window_s)

    def handover_delay(self, chat: ChatRef) -> float:
        """Return how long until another process may start sending to `chat` without breaking its per-chat limits."""
        now = self.clock()
        wait = max(0.0, self._blocked_until.get(str(chat), 0.0) - now)
        for key in (("chat", str(chat)), ("group", str(chat))):
            window = self._windows.get(key)
            if window is None:
                continue
            for slot in window.slots:
                # A message still in flight may be counted up to a whole window from now.
                ends = now + window.span if slot.at == math.inf else slot.at + window.span
                wait = max(wait, ends - now)
        return wait

    def _windows_for(self, chat: ChatRef) -> list[_Window]:
        limits = self.limits.get(chat.platform)
        if limits is None:
            return []
        wanted: list[tuple[tuple[str, str], WindowLimit]] = []
        overall = self.overall_limit(chat.platform)
        if overall:
            wanted.append((("overall", chat.platform), overall))
        if limits.per_chat:
            wanted.append((("chat", str(chat)), limits.per_chat))
        if limits.per_group and limits.is_group(chat):
            wanted.append((("group", str(chat)), limits.per_group))
        windows = []
        for key, limit in wanted:
            window = self._windows.get(key)
            if window is None:
                margin = 0.0 if key[0] == "overall" else WINDOW_MARGIN
                window = self._windows[key] = _Window(limit, margin)
            elif window.limit != limit:
                window.limit = limit  # a new share: the messages already sent still count
            windows.append(window)
        return windows

    def delay(self, chat: ChatRef) -> float:
        """Return how long a message to `chat` would wait now."""
        now = self.clock()
        blocked = self._blocked_until.get(str(chat), 0.0) - now
        return max([0.0, blocked, *(w.wait(now) for w in self._windows_for(chat))])

    async def acquire(self, chat: ChatRef) -> Permit:
        """Wait until a message to `chat` fits every window, then take its slots (first come, first served)."""
        ticket = next(self._tickets)
        self._waiting[ticket] = chat
        try:
            while True:
                wait = self.delay(chat)
                if wait <= 0:
                    # A chat waiting longer that could go now goes first: without this, the chats that won
                    # the overall window once keep winning it and the others trail behind at the end.
                    if not any(t < ticket and self.delay(c) <= 0 for t, c in self._waiting.items()):
                        break
                    wait = 0.001
                self.waited_s += wait
                await asyncio.sleep(wait)
        finally:
            del self._waiting[ticket]
        slots = []
        for window in self._windows_for(chat):
            slot = _Slot()
            window.slots.append(slot)
            slots.append(slot)
        trips = self._trips.setdefault(chat.platform, _RoundTrips())
        return Permit(slots, self.clock, trips)

    def block(self, chat: ChatRef, seconds: float) -> None:
        """Send nothing to `chat` for `seconds` (the platform answered 429 with retry_after)."""
        until = self.clock() + max(0.0, seconds)
        key = str(chat)
        self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), until)


class NoLimits(RateLimiter):
    """A limiter that never waits, not even after a 429 (benchmarks without pacing, tests with a fake clock)."""

    def __init__(self) -> None:
        super().__init__(limits={})

    def block(self, chat: ChatRef, seconds: float) -> None:
        """Ignore: the sender's own retry schedule is all that applies."""
