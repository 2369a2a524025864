"""Work through the outbox: send each due alert (or edit it when more sources joined), never drop one.

Order is kept per chat: a chat's alerts go one at a time, and when one fails the chat's later alerts
wait for the next round. Chats are served concurrently. What a failure leads to:

    RetryLater      wait what the platform asked, then try again
    TransientError  capped exponential backoff (1 s, 2 s, 4 s ... 5 min), forever
    PermanentError  the chat is paused (shown in /subscriptions and logged); its alerts stay queued
    MessageGone     the alert's message was deleted: the alert is posted again as a new message
    MessageRejected our payload was refused: logged as an error, retried with the longest backoff
    anything else   treated as transient and logged with the chat and the alert
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from bot.delivery.errors import MessageGone, MessageRejected, PermanentError, RetryLater
from bot.messages import AlertMessage
from bot.models import ChatRef
from bot.platforms.base import ChatPlatform
from bot.store.base import PendingAlert, Store
from handlers.cards import story_card

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0
# Spacing between two messages to one chat, per platform (Telegram allows about one a second per chat).
DEFAULT_CHAT_SPACING_S = {"telegram": 1.0, "discord": 0.25, "console": 0.0}


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
        chat_spacing_s: Mapping[str, float] | None = None,
        batch: int = 200,
    ) -> None:
        self.store = store
        self.platforms = dict(platforms)
        self.default_lang = default_lang
        self.clock = clock
        self.chat_spacing_s = dict(DEFAULT_CHAT_SPACING_S if chat_spacing_s is None else chat_spacing_s)
        self.batch = batch
        self._wake = asyncio.Event()
        self._last_sent: dict[ChatRef, float] = {}
        self._missing_platform_logged: set[str] = set()
        self.sent = 0
        self.edited = 0

    def wake(self) -> None:
        """Ask the sender to look at the outbox now (new alerts were queued)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        """Drain the outbox until `stop` is set, waking on new alerts or every `idle_s`."""
        while not stop.is_set():
            try:
                await self.drain_once()
            except Exception:
                log.exception("outbox round failed; retrying")
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=idle_s, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def drain_once(self) -> int:
        """Send or edit every alert due now; return how many the platforms accepted."""
        due = await asyncio.to_thread(self.store.due_alerts, self.clock(), self.batch)
        by_chat: dict[ChatRef, list[PendingAlert]] = {}
        for alert in due:
            by_chat.setdefault(alert.chat, []).append(alert)
        results = await asyncio.gather(*(self._deliver_chat(chat, alerts) for chat, alerts in by_chat.items()))
        return sum(results)

    async def _deliver_chat(self, chat: ChatRef, alerts: list[PendingAlert]) -> int:
        platform = self.platforms.get(chat.platform)
        if platform is None:
            if chat.platform not in self._missing_platform_logged:
                self._missing_platform_logged.add(chat.platform)
                log.warning("alerts for %s wait: that platform is not running", chat.platform)
            return 0
        delivered = 0
        for alert in alerts:
            if not await self._deliver(platform, alert):
                break  # keep this chat's order: later alerts wait for this one
            delivered += 1
        return delivered

    async def _pace(self, chat: ChatRef) -> None:
        spacing = self.chat_spacing_s.get(chat.platform, 0.0)
        last = self._last_sent.get(chat)
        if spacing and last is not None:
            wait = last + spacing - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)

    async def _deliver(self, platform: ChatPlatform, alert: PendingAlert) -> bool:
        message, sources = await asyncio.to_thread(self._build, alert)
        if message is None:
            # The story is gone (retention): nothing to say; mark it done so it does not block the chat.
            await asyncio.to_thread(self.store.mark_alert_sent, alert.id, alert.message_id or "", 0, self.clock())
            return True
        await self._pace(alert.chat)
        try:
            message_id = await self._send_or_edit(platform, alert, message, sources)
        except RetryLater as exc:
            await self._retry(alert, exc.reason, exc.retry_after)
            return False
        except MessageRejected as exc:
            log.error("platform refused an alert's payload: %s", exc.reason,
                      extra={"chat": str(alert.chat), "alert": alert.id})
            await self._retry(alert, exc.reason, MAX_BACKOFF_S)
            return False
        except PermanentError as exc:
            log.warning("chat refuses alerts, pausing it: %s", exc.reason, extra={"chat": str(alert.chat)})
            await asyncio.to_thread(self.store.pause_chat, alert.chat, exc.reason, self.clock())
            return False
        except Exception as exc:  # TransientError, and anything unexpected: never lose the alert
            reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
            log.warning("alert delivery failed, will retry: %s", reason,
                        extra={"chat": str(alert.chat), "alert": alert.id})
            await self._retry(alert, reason, backoff_seconds(alert.attempts))
            return False
        finally:
            self._last_sent[alert.chat] = asyncio.get_running_loop().time()
        await asyncio.to_thread(self.store.mark_alert_sent, alert.id, message_id, sources, self.clock())
        return True

    async def _send_or_edit(
        self, platform: ChatPlatform, alert: PendingAlert, message: AlertMessage, sources: int
    ) -> str:
        if alert.state == "sent" and alert.message_id:
            if sources != alert.sources_sent:
                try:
                    await platform.edit_alert(message, alert.message_id)
                    self.edited += 1
                except MessageGone:
                    log.info("alert message was deleted; posting it again", extra={"chat": str(alert.chat)})
                    self.sent += 1
                    return await platform.send_alert(message)
            return alert.message_id
        self.sent += 1
        return await platform.send_alert(message)

    async def _retry(self, alert: PendingAlert, reason: str, wait_s: float) -> None:
        when = self.clock() + timedelta(seconds=max(0.0, wait_s))
        await asyncio.to_thread(self.store.mark_alert_retry, alert.id, reason, when)

    def _build(self, alert: PendingAlert) -> tuple[AlertMessage | None, int]:
        articles = self.store.story_articles(alert.story_id)
        if not articles:
            return None, 0
        card = story_card(articles)
        lang = self.store.get_chat_lang(alert.chat) or self.default_lang(alert.chat)
        message = AlertMessage(chat=alert.chat, card=card, query=alert.query, lang=lang)
        return message, card.extra_sources + 1
