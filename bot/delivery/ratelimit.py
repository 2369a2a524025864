"""Pace outgoing messages under each platform's limits, so that 429s are the exception, not the rhythm.

Limits are sliding windows ("at most N in any W seconds"), the way Telegram and the fake count them:

    telegram   30 messages/s overall, 1/s per chat, 20/min per group (negative chat id)
    discord    50 requests/s overall (the global limit), 5 per 5 s per channel (the message-create bucket)
    console    none

A slot is taken when a request leaves and its time is set when the answer arrives: the server saw the
request somewhere between the two, so counting from the answer can never undercount, whatever the latency.
After a 429 the chat is blocked for `retry_after` (the sender also reschedules the alert).

Waiting costs nothing while nothing changes: waiters queue in arrival order, and the queue is looked at
only when something may let one go (a permit taken, an answer dated, a window's oldest slot ageing out),
never by polling. Looking is one pass in arrival order, so a chat that waited longer and may go now goes
first, and each window's wait is computed once per pass however many chats wait on it.

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


# A chat's windows are waited out this much longer (a share of the window): dating a slot cannot be exact
# when the event loop is busy, and one message a few milliseconds early is a 429 from a strict server. The
# overall window has no margin: many messages in flight spread the error, and it would cost 2% of the rate.
WINDOW_MARGIN = 0.02


# How long a waiter sleeps, at most, when it waits only for answers in flight: an answer wakes the queue
# itself, so this is a safety net, not a rhythm.
IN_FLIGHT_RECHECK_S = 0.1
# Every this many permits, the windows of chats that have nothing left in them are dropped.
FORGET_EVERY = 1024


@dataclass(slots=True)
class _Slot:
    at: float = math.inf  # when the answer arrived; inf while in flight, -inf when given back unused


@dataclass(slots=True, eq=False)  # hashed and compared by identity: each window is one counter
class _Window:
    limit: WindowLimit
    margin: float = 0.0  # a share of the window added to it (WINDOW_MARGIN for a chat's windows)
    slots: list[_Slot] = field(default_factory=list)

    @property
    def span(self) -> float:
        """Return how long a message counts in this window, margin included."""
        return self.limit.window_s * (1 + self.margin)

    def wait(self, now: float) -> float:
        """Return how long until one more message fits: 0 when it fits now, inf until an answer arrives."""
        window = self.span
        self.slots = [s for s in self.slots if now - s.at < window]  # in flight (inf) stays; released (-inf) goes
        if len(self.slots) < self.limit.count:
            return 0.0
        # The slot that must age out first: the one `count` places from the newest.
        ordered = sorted(s.at for s in self.slots)
        blocking = ordered[len(ordered) - self.limit.count]
        return max(0.0, blocking + window - now)


class Permit:
    """The slots one message holds; call `done()` when its answer (or failure) arrived."""

    def __init__(self, slots: list[_Slot], clock: Callable[[], float], on_change: Callable[[], None]) -> None:
        self._slots = slots
        self._clock = clock
        self._on_change = on_change

    def done(self) -> None:
        """Start counting the message's window now: the server counted it at the latest when it answered.

        Not earlier, even by a share of the round trip: how a round trip splits between the way there and
        the way back is unknowable (the first ones after start-up spend most of it opening connections),
        and a guess that is wrong once is a 429. What dating from the answer costs is the way back, a few
        milliseconds per window. A client timeout is not an answer: a server still working on the request
        may count it later, so one 429 can follow a timeout (tests/delivery/test_faults.py allows for it).
        """
        now = self._clock()
        for slot in self._slots:
            if slot.at == math.inf:
                slot.at = now
        self._on_change()

    def release(self) -> None:
        """Give the slots back unused: the message was never sent."""
        for slot in self._slots:
            if slot.at == math.inf:
                slot.at = -math.inf
        self._on_change()


@dataclass(slots=True)
class _Waiter:
    chat: ChatRef
    granted: asyncio.Future[Permit]
    since: float


class RateLimiter:
    """Hands out permits to send, waiting as long as any applicable window requires."""

    def __init__(
        self,
        limits: dict[str, PlatformLimits] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = DEFAULT_LIMITS if limits is None else limits
        self.clock = clock
        self._overall: dict[str, _Window] = {}  # per platform
        self._own: dict[ChatRef, list[_Window]] = {}  # per chat: its own windows (per chat, per group)
        self._all: dict[ChatRef, list[_Window]] = {}  # per chat: every window it must fit, overall first
        self._blocked_until: dict[ChatRef, float] = {}
        self._tickets = itertools.count()
        self._waiting: dict[int, _Waiter] = {}  # in arrival order
        self._timer: asyncio.TimerHandle | None = None
        self._overall_share = 1
        self._taken = 0
        self.waited_s = 0.0

    def share_overall(self, workers: int) -> None:
        """Pace every platform's overall window to 1/`workers` of its limit (the others send the rest)."""
        self._overall_share = max(1, workers)
        for platform, window in self._overall.items():
            limit = self.overall_limit(platform)
            if limit is not None:
                window.limit = limit  # a new share: the messages already sent still count

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
        wait = max(0.0, self._blocked_until.get(chat, 0.0) - now)
        for window in self._own.get(chat, []):
            for slot in window.slots:
                # A message still in flight may be counted up to a whole window from now.
                ends = now + window.span if slot.at == math.inf else slot.at + window.span
                wait = max(wait, ends - now)
        return wait

    def _windows_for(self, chat: ChatRef) -> list[_Window]:
        windows = self._all.get(chat)
        if windows is not None:
            return windows
        limits = self.limits.get(chat.platform)
        if limits is None:
            return []
        own = []
        if limits.per_chat:
            own.append(_Window(limits.per_chat, WINDOW_MARGIN))
        if limits.per_group and limits.is_group(chat):
            own.append(_Window(limits.per_group, WINDOW_MARGIN))
        windows = list(own)
        overall = self.overall_limit(chat.platform)
        if overall:
            window = self._overall.get(chat.platform)
            if window is None:
                window = self._overall[chat.platform] = _Window(overall)  # no margin: see WINDOW_MARGIN
            windows.insert(0, window)
        self._own[chat] = own
        self._all[chat] = windows
        return windows

    def _forget_idle_chats(self) -> None:
        """Drop the windows of chats with nothing left in them, so months of chats do not pile up."""
        now = self.clock()
        waiting = {waiter.chat for waiter in self._waiting.values()}
        for chat, own in list(self._own.items()):
            if chat not in waiting and all(window.wait(now) == 0 and not window.slots for window in own):
                del self._own[chat], self._all[chat]
        for chat, until in list(self._blocked_until.items()):
            if until <= now:
                del self._blocked_until[chat]

    def delay(self, chat: ChatRef) -> float:
        """Return how long a message to `chat` would wait now (inf: until an answer in flight arrives)."""
        return self._wait(chat, self.clock(), {})

    def _wait(self, chat: ChatRef, now: float, known: dict[_Window, float], exact: bool = True) -> float:
        """Return how long `chat` must wait; `known` remembers each window's wait within one pass.

        Not `exact`: the first positive wait found, a lower bound that is enough to set a timer (the pass
        is made again when it fires). The overall window comes first, so while it is full every chat of the
        platform is answered from `known` without looking at its own windows.
        """
        wait = max(0.0, self._blocked_until.get(chat, 0.0) - now)
        if wait > 0 and not exact:
            return wait
        for window in self._windows_for(chat):
            window_wait = known.get(window)
            if window_wait is None:
                window_wait = known[window] = window.wait(now)
            if window_wait > wait:
                wait = window_wait
                if not exact or wait == math.inf:
                    break
        return wait

    async def acquire(self, chat: ChatRef) -> Permit:
        """Wait until a message to `chat` fits every window, then take its slots (first come, first served)."""
        granted: asyncio.Future[Permit] = asyncio.get_running_loop().create_future()
        ticket = next(self._tickets)
        self._waiting[ticket] = _Waiter(chat, granted, self.clock())
        self._let_go()
        try:
            return await granted
        except asyncio.CancelledError:
            self._waiting.pop(ticket, None)
            if granted.done() and not granted.cancelled():
                granted.result().release()  # let go just as the sender was cancelled: nothing was sent
            raise

    def _let_go(self) -> None:
        """Grant every waiter that fits now, oldest first, and set a timer for when the next one will."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self.clock()
        known: dict[_Window, float] = {}
        soonest = math.inf
        loop: asyncio.AbstractEventLoop | None = None
        for ticket, waiter in list(self._waiting.items()):
            if waiter.granted.done():  # its task was cancelled
                del self._waiting[ticket]
                continue
            wait = self._wait(waiter.chat, now, known, exact=False)
            if wait > 0:
                soonest = min(soonest, wait)
                loop = waiter.granted.get_loop()
                continue
            del self._waiting[ticket]
            self.waited_s += now - waiter.since
            windows = self._windows_for(waiter.chat)
            for window in windows:
                known.pop(window, None)  # one slot fewer: look again for the next waiter
            waiter.granted.set_result(self._take(windows))
        if loop is not None and not loop.is_closed():
            self._timer = loop.call_later(IN_FLIGHT_RECHECK_S if soonest == math.inf else soonest, self._let_go)

    def _take(self, windows: list[_Window]) -> Permit:
        slots = []
        for window in windows:
            slot = _Slot()
            window.slots.append(slot)
            slots.append(slot)
        self._taken += 1
        if self._taken % FORGET_EVERY == 0:
            self._forget_idle_chats()
        return Permit(slots, self.clock, on_change=self._let_go)

    def block(self, chat: ChatRef, seconds: float) -> None:
        """Send nothing to `chat` for `seconds` (the platform answered 429 with retry_after)."""
        until = self.clock() + max(0.0, seconds)
        self._blocked_until[chat] = max(self._blocked_until.get(chat, 0.0), until)


class NoLimits(RateLimiter):
    """A limiter that never waits, not even after a 429 (benchmarks without pacing, tests with a fake clock)."""

    def __init__(self) -> None:
        super().__init__(limits={})

    def block(self, chat: ChatRef, seconds: float) -> None:
        """Ignore: the sender's own retry schedule is all that applies."""
