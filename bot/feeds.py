"""Feed health: when to poll each feed next, and when to tell people a feed is failing or works again.

    a poll's outcome ─► FeedPolicy.after_poll ─► FeedState (next poll, adapted interval, backoff), persisted
                     ─► HealthNotifier.after_poll ─► at most one "failing" notice per streak, then one "recovered"

Interval rules (each feed starts at its configured interval `c`):

- new items halve the interval, a poll with nothing new (or a 304) doubles it, always within [c/4, 4c] and never
  over 24 h, so a busy feed is polled more often and a quiet one is left alone (`feed_health.adaptive: false`
  keeps every feed at `c`);
- what the server asks is a floor: RSS `<ttl>`, `Cache-Control: max-age`, `Expires` may slow a feed down to
  at most 4c (never 24 h for a stale `Expires` far away);
- a failure waits c, 2c, 4c ... capped at `feed_health.max_backoff` (6 h), and never gives up; a `Retry-After`
  on a 429/503 is honoured when it asks for longer (up to 24 h);
- every wait gets ±10 % jitter, so feeds added together drift apart instead of firing in the same second.

Errors: none raised; an unreadable header is ignored, a notice that cannot be sent is logged and retried on
the next poll.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from bot.messages import Reply
from bot.models import ChatRef, Feed
from bot.store.base import FeedState, Store
from handlers.i18n import t

log = logging.getLogger(__name__)

DAY_S = 86_400
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,9})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What the scheduler learnt from one poll of one feed."""

    ok: bool
    new_items: int = 0
    not_modified: bool = False
    error: str | None = None
    failures: int = 0  # consecutive failures including this one (0 on success)
    ttl_s: int | None = None  # RSS <ttl> / sy:updatePeriod, from the parser
    cache_control: str | None = None
    expires: str | None = None
    retry_after: str | None = None


def _http_date(value: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def retry_after_seconds(value: str | None, now: datetime) -> int | None:
    """Read a Retry-After header (seconds or an HTTP date) as seconds from `now`; None when unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    moment = _http_date(text)
    return max(0, int((moment - now).total_seconds())) if moment else None


def server_hint_seconds(outcome: PollOutcome, now: datetime) -> int | None:
    """Return the longest wait the server or the feed asks for (ttl, max-age, Expires), or None."""
    hints: list[int] = []
    if outcome.ttl_s:
        hints.append(outcome.ttl_s)
    if outcome.cache_control:
        if "no-cache" in outcome.cache_control.lower() or "no-store" in outcome.cache_control.lower():
            return None
        match = _MAX_AGE.search(outcome.cache_control)
        if match:
            hints.append(int(match.group(1)))
    elif outcome.expires:  # Cache-Control wins over Expires when both are sent (RFC 9111)
        moment = _http_date(outcome.expires)
        if moment is not None:
            hints.append(int((moment - now).total_seconds()))
    positive = [h for h in hints if h > 0]
    return max(positive) if positive else None


@dataclass(frozen=True, slots=True)
class FeedPolicy:
    """The adaptive interval and backoff rules (see the module docstring)."""

    adaptive: bool = True
    min_factor: float = 0.25
    max_factor: float = 4.0
    max_interval_s: int = DAY_S
    max_backoff_s: int = 6 * 3600
    jitter: float = 0.1

    def bounds(self, configured_s: int) -> tuple[int, int]:
        """Return the shortest and longest interval a feed configured at `configured_s` may adapt to."""
        high = max(configured_s, min(self.max_interval_s, int(configured_s * self.max_factor)))
        low = max(1, min(high, int(configured_s * self.min_factor)))
        return low, high

    def _jittered(self, seconds: float, rng: random.Random) -> timedelta:
        return timedelta(seconds=max(1.0, seconds * rng.uniform(1 - self.jitter, 1 + self.jitter)))

    def after_poll(
        self, state: FeedState, configured_s: int, outcome: PollOutcome, now: datetime, rng: random.Random
    ) -> FeedState:
        """Return the feed's next state: when to poll again, the adapted interval, backoff and failing streak."""
        low, high = self.bounds(configured_s)
        if outcome.ok:
            interval = min(high, max(low, state.interval_s or configured_s))
            if self.adaptive:
                interval = interval // 2 if outcome.new_items else interval * 2
                interval = min(high, max(low, interval))
            else:
                interval = configured_s
            wait = float(interval)
            hint = server_hint_seconds(outcome, now)
            if hint is not None:
                wait = max(wait, float(min(hint, high)))
            return replace(
                state, interval_s=interval, next_poll_at=now + self._jittered(wait, rng),
                failing_since=None, backoff_until=None,
            )
        failures = max(1, outcome.failures)
        # 2**failures grows fast; the exponent is capped so a feed failing for a year cannot overflow.
        backoff = min(float(self.max_backoff_s), configured_s * 2.0 ** min(failures - 1, 40))
        asked = retry_after_seconds(outcome.retry_after, now)
        if asked is not None:
            backoff = max(backoff, float(min(asked, self.max_interval_s)))
        until = now + self._jittered(backoff, rng)
        return replace(state, next_poll_at=until, backoff_until=until, failing_since=state.failing_since or now)


Send = Callable[[ChatRef, Reply], Awaitable[object]]


class HealthNotifier:
    """Tells the chats concerned, once, that a feed has been failing for too long, and once when it recovers.

    The chats concerned: those with a subscription naming the feed (`source:<name>`) and the chat that added it
    with /addfeed; when there are none, every chat with a subscription (a failing feed silently shrinks what
    every subscription can match).
    """

    def __init__(
        self,
        store: Store,
        send: Send,
        *,
        alert_after_s: int,
        default_lang: Callable[[ChatRef], str] = lambda chat: "en",
    ) -> None:
        self.store = store
        self.send = send
        self.alert_after = timedelta(seconds=alert_after_s)
        self.default_lang = default_lang

    def targets(self, feed: Feed, state: FeedState) -> list[ChatRef]:
        """Return the chats to tell about this feed's health."""
        name = feed.name.lower()
        subscriptions = self.store.list_subscriptions()
        chats: dict[ChatRef, None] = {}
        for sub in subscriptions:
            query = sub.query.lower()
            if f'source:"{name}"' in query or f"source:{name}" in query.split():
                chats[sub.chat] = None
        if state.origin.startswith("chat:"):
            with contextlib.suppress(ValueError):  # an origin written by hand that is not a chat
                chats[ChatRef.parse(state.origin[5:])] = None
        if not chats:
            chats = {sub.chat: None for sub in subscriptions}
        return list(chats)

    async def after_poll(
        self, feed: Feed, state: FeedState, now: datetime, was_failing_since: datetime | None = None
    ) -> FeedState:
        """Send the failing or recovered notice when one is due; return the state with the notice recorded."""
        if state.failing_since is not None and state.notified_at is None:
            if now - state.failing_since < self.alert_after:
                return state
            if await self._tell(feed, state, "feed.failing", since=_when(state.failing_since),
                                error=feed.last_error or "?", next=_when(state.backoff_until)):
                return replace(state, notified_at=now)
        elif (
            state.failing_since is None
            and state.notified_at is not None
            and await self._tell(feed, state, "feed.recovered", since=_when(was_failing_since or state.notified_at))
        ):
            return replace(state, notified_at=None)
        return state

    async def _tell(self, feed: Feed, state: FeedState, key: str, **values: str) -> bool:
        """Send the notice to every target; True when at least one got it (or there was nobody to tell)."""
        targets = self.targets(feed, state)
        delivered = 0
        for chat in targets:
            lang = self.store.get_chat_lang(chat) or self.default_lang(chat)
            reply = Reply(text=t(lang, key, name=feed.name, **values))
            try:
                await self.send(chat, reply)
                delivered += 1
            except Exception as exc:  # one chat that cannot be reached must not stop the others
                log.warning("feed health notice not delivered: %s", exc, extra={"chat": str(chat), "feed": feed.url})
        log.info("feed health notice %s sent to %d/%d chats", key, delivered, len(targets), extra={"feed": feed.url})
        return delivered > 0 or not targets


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "?"
