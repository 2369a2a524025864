"""Work through the outbox: send each due alert (or edit it when more sources joined), never drop one.

One worker per chat with due alerts, so a slow chat (a group allowed 20 messages a minute) never holds up
the others; within a chat, alerts go one at a time in outbox order, and when one fails the chat's later
alerts wait for it. Every message first takes a permit from the rate limiter (bot.delivery.ratelimit).

Before a new alert is posted, the chat's policy (bot.alerts.policy) may hold it for the next digest:
inside the chat's quiet hours, or when the chat already had `max_alerts_per_hour` alerts in the last hour.
A held alert is kept (state "held") and goes out in the chat's digest. What a failure leads to:

    RetryLater      wait what the platform asked (the chat is blocked in the limiter too), then try again
    TransientError  capped exponential backoff (1 s, 2 s, 4 s ... 5 min), forever
    PermanentError  the chat is paused (shown in /subscriptions and logged); its alerts stay queued
    MessageGone     the alert's message was deleted: the alert is posted again as a new message
    MessageRejected our payload was refused: logged as an error, retried with the longest backoff
    anything else   treated as transient and logged with the chat and the alert

Crash safety: an alert is marked sent in the store right after the platform accepts it. A crash between
the two is the only way a message can go out twice; a crash anywhere else loses nothing, because the
outbox row stays pending until that mark is committed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from bot.alerts.policy import AlertDefaults, ChatPolicy
from bot.delivery.errors import DeliveryError, MessageGone, MessageRejected, PermanentError, RetryLater
from bot.delivery.ratelimit import Permit, RateLimiter
from bot.messages import AlertMessage, Reply
from bot.metrics import Metrics
from bot.models import ChatRef
from bot.platforms.base import ChatPlatform
from bot.store.base import PendingAlert, Store
from handlers.cards import story_card

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0
SENT, HELD, FAILED = "sent", "held", "failed"


def backoff_seconds(attempts: int) -> float:
    """Return the wait before retry number `attempts` (1, 2, 4 ... capped), with a little jitter."""
    base = min(MAX_BACKOFF_S, 2.0 ** max(0, attempts))
    return base * random.uniform(0.8, 1.0)


class Sender:
    """Delivers the outbox to the platforms."""

    def __init__(
        self,
        store: Store,
        platforms: Mapping[str, ChatPlatform],
        *,
        default_lang: Callable[[ChatRef], str] = lambda chat: "en",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limiter: RateLimiter | None = None,
        alert_defaults: AlertDefaults | None = None,
        batch: int = 50,
        stop_grace_s: float = 10.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.platforms = dict(platforms)
        self.default_lang = default_lang
        self.clock = clock
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.alert_defaults = alert_defaults or AlertDefaults()
        self.batch = batch
        self.stop_grace_s = stop_grace_s
        self._wake = asyncio.Event()
        self._workers: dict[ChatRef, asyncio.Task[int]] = {}
        self._in_flight: set[ChatRef] = set()
        self._missing_platform_logged: set[str] = set()
        self.sent = 0
        self.edited = 0
        self.held = 0
        self.retries = 0

    def wake(self) -> None:
        """Ask the sender to look at the outbox now (new alerts were queued)."""
        self._wake.set()

    def policy(self, chat: ChatRef) -> ChatPolicy:
        """Return the chat's effective alert policy."""
        return ChatPolicy.resolve(self.alert_defaults, self.store.get_chat_settings(chat))

    # -- the loop -----------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        """Drain the outbox until `stop` is set, waking on new alerts or every `idle_s`."""
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self._spawn_workers(stop)
                except Exception:
                    log.exception("outbox round failed; retrying")
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
                await asyncio.wait(waiters, timeout=idle_s, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            await self._stop_workers()

    async def _spawn_workers(self, stop: asyncio.Event) -> None:
        chats = await asyncio.to_thread(self.store.due_chats, self.clock())
        for chat in chats:
            worker = self._workers.get(chat)
            if worker is None or worker.done():
                self._workers[chat] = asyncio.create_task(self._drain_chat(chat, stop), name=f"send {chat}")
        for chat in [c for c, task in self._workers.items() if task.done()]:
            self._workers.pop(chat)

    async def _stop_workers(self) -> None:
        # A message in flight is let finish so its result is recorded; waits in the limiter are cut short.
        for chat, task in self._workers.items():
            if chat not in self._in_flight:
                task.cancel()
        tasks = list(self._workers.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.stop_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()

    async def drain_once(self) -> int:
        """Send or edit every alert due now, chats concurrently; return how many the platforms accepted."""
        chats = await asyncio.to_thread(self.store.due_chats, self.clock())
        results = await asyncio.gather(*(self._drain_chat(chat, None) for chat in chats))
        return sum(results)

    async def _drain_chat(self, chat: ChatRef, stop: asyncio.Event | None) -> int:
        platform = self.platforms.get(chat.platform)
        if platform is None:
            if chat.platform not in self._missing_platform_logged:
                self._missing_platform_logged.add(chat.platform)
                log.warning("alerts for %s wait: that platform is not running", chat.platform)
            return 0
        delivered = 0
        while stop is None or not stop.is_set():
            due = await asyncio.to_thread(self.store.due_alerts_for, chat, self.clock(), self.batch)
            if not due:
                break
            for alert in due:
                if stop is not None and stop.is_set():
                    return delivered
                outcome = await self._deliver(platform, alert)
                if outcome == FAILED:
                    return delivered  # keep this chat's order: later alerts wait for this one
                if outcome == SENT:
                    delivered += 1
        return delivered

    # -- one alert ----------------------------------------------------------------------------------

    async def _deliver(self, platform: ChatPlatform, alert: PendingAlert) -> str:
        if alert.state == "pending":
            held = await asyncio.to_thread(self._hold_if_needed, alert)
            if held:
                return HELD
        message, sources, shown = await asyncio.to_thread(self._build, alert)
        if message is None:
            # The story is gone (retention): nothing to say; mark it done so it does not block the chat.
            await asyncio.to_thread(self.store.mark_alert_sent, alert.id, alert.message_id or "", 0, self.clock())
            return SENT
        if alert.state == "sent" and alert.message_id and sources == alert.sources_sent:
            await asyncio.to_thread(
                self.store.mark_alert_sent, alert.id, alert.message_id, sources, self.clock(), shown
            )
            return SENT  # nothing new to show
        permit = await self.limiter.acquire(alert.chat)
        self._in_flight.add(alert.chat)
        try:
            return await self._attempt(platform, alert, message, sources, shown, permit)
        finally:
            self._in_flight.discard(alert.chat)

    async def _timed_send(
        self, platform: ChatPlatform, alert: PendingAlert, message: AlertMessage, sources: int
    ) -> str:
        """Send or edit, counting the outcome and the platform's latency in the metrics."""
        started = time.monotonic()
        try:
            message_id = await self._send_or_edit(platform, alert, message, sources)
        except Exception as exc:
            self._count_failure(exc)
            raise
        if self.metrics is not None:
            self.metrics.send_latency.observe(time.monotonic() - started)
            self.metrics.alerts_sent.labels(platform=alert.chat.platform).inc()
        return message_id

    def _count_failure(self, exc: Exception) -> None:
        if self.metrics is not None:
            kind = type(exc).__name__ if isinstance(exc, DeliveryError) else "unexpected"
            self.metrics.alerts_failed.labels(kind=kind).inc()

    async def _attempt(
        self,
        platform: ChatPlatform,
        alert: PendingAlert,
        message: AlertMessage,
        sources: int,
        shown: list[int],
        permit: Permit,
    ) -> str:
        try:
            message_id = await self._timed_send(platform, alert, message, sources)
        except RetryLater as exc:
            self.limiter.block(alert.chat, exc.retry_after)
            await self._retry(alert, exc.reason, exc.retry_after)
            return FAILED
        except MessageRejected as exc:
            log.error("platform refused an alert's payload: %s", exc.reason,
                      extra={"chat": str(alert.chat), "alert": alert.id})
            await self._retry(alert, exc.reason, MAX_BACKOFF_S)
            return FAILED
        except PermanentError as exc:
            log.warning("chat refuses alerts, pausing it: %s", exc.reason, extra={"chat": str(alert.chat)})
            await asyncio.to_thread(self.store.pause_chat, alert.chat, exc.reason, self.clock())
            return FAILED
        except Exception as exc:  # TransientError, and anything unexpected: never lose the alert
            reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
            log.warning("alert delivery failed, will retry: %s", reason,
                        extra={"chat": str(alert.chat), "alert": alert.id})
            await self._retry(alert, reason, backoff_seconds(alert.attempts))
            return FAILED
        finally:
            permit.done()
        # Shielded: once the platform accepted the message, recording it must not be cancelled.
        await asyncio.shield(
            asyncio.to_thread(self.store.mark_alert_sent, alert.id, message_id, sources, self.clock(), shown)
        )
        return SENT

    def _hold_if_needed(self, alert: PendingAlert) -> bool:
        now = self.clock()
        policy = self.policy(alert.chat)
        if policy.quiet is None and not policy.cap:
            return False
        sent = self.store.sent_times_since(alert.chat, now - timedelta(hours=1)) if policy.cap else []
        decision = policy.hold_reason(now, sent)
        if decision is None:
            return False
        reason, until = decision
        self.store.hold_alert(alert.id, reason, now, until)
        self.held += 1
        log.info("alert held for the digest (%s) until %s", reason, until.isoformat(timespec="minutes"),
                 extra={"chat": str(alert.chat), "alert": alert.id})
        return True

    async def _send_or_edit(
        self, platform: ChatPlatform, alert: PendingAlert, message: AlertMessage, sources: int
    ) -> str:
        if alert.state == "sent" and alert.message_id:
            try:
                await platform.edit_alert(message, alert.message_id)
                self.edited += 1
            except MessageGone:
                log.info("alert message was deleted; posting it again", extra={"chat": str(alert.chat)})
                message_id = await platform.send_alert(message)
                self.sent += 1
                return message_id
            return alert.message_id
        message_id = await platform.send_alert(message)
        self.sent += 1
        return message_id

    async def _retry(self, alert: PendingAlert, reason: str, wait_s: float) -> None:
        self.retries += 1
        when = self.clock() + timedelta(seconds=max(0.0, wait_s))
        await asyncio.to_thread(self.store.mark_alert_retry, alert.id, reason, when)

    def _build(self, alert: PendingAlert) -> tuple[AlertMessage | None, int, list[int]]:
        """Build the alert from its story as stored now; also return the source count and the articles shown."""
        articles = self.store.story_articles(alert.story_id)
        if not articles:
            return None, 0, []
        card = story_card(articles)
        lang = self.store.get_chat_lang(alert.chat) or self.default_lang(alert.chat)
        message = AlertMessage(chat=alert.chat, card=card, query=alert.query, lang=lang)
        # A source that joins while this message is in flight is not in `shown`: the store keeps an edit due.
        return message, card.extra_sources + 1, [a.id for a in articles if a.id is not None]

    # -- other messages -----------------------------------------------------------------------------

    async def send_reply(self, chat: ChatRef, reply: Reply) -> str:
        """Post an unsolicited reply (a digest) under the rate limits; pause the chat on a permanent refusal.

        Raises DeliveryError (RetryLater, TransientError, PermanentError...) so the caller can try later.
        """
        platform = self.platforms.get(chat.platform)
        if platform is None:
            raise DeliveryError(str(chat), f"platform {chat.platform} is not running")
        permit = await self.limiter.acquire(chat)
        try:
            return await platform.send_reply(chat, reply)
        except RetryLater as exc:
            self.limiter.block(chat, exc.retry_after)
            raise
        except PermanentError as exc:
            log.warning("chat refuses messages, pausing it: %s", exc.reason, extra={"chat": str(chat)})
            await asyncio.to_thread(self.store.pause_chat, chat, exc.reason, self.clock())
            raise
        finally:
            permit.done()
