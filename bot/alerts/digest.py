"""Digests: the top stories a chat's subscriptions matched since its last digest, and every alert held back.

A chat with a schedule (`/digest daily 08:00`, or the config's `alerts.digest`) gets, at each scheduled time
in its timezone, the stories alerted or held since the previous digest: every held one, plus the most
reported others up to `digest_size`, grouped by the subscription that matched them, each card with its
summary and its sources. A chat without a schedule still never loses a held alert: once the quiet hours
end (or the hourly cap frees up) a catch-up digest carries what was held.

The job (`DigestService.run_due`, run by the scheduler every minute) sends through the sender, so digests
obey the same rate limits, and marks the held alerts as digested only after the platform accepted the
message. A failed send is tried again on the next run.

Errors: none of its own; a failed send is logged (bot.delivery.errors) and retried at the next run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.alerts.policy import AlertDefaults, ChatPolicy
from bot.delivery.errors import DeliveryError
from bot.messages import Card, Reply
from bot.models import ChatRef
from bot.store.base import ChatSettings, PendingAlert, Store
from handlers.cards import story_card
from handlers.i18n import t

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Digest:
    """A digest ready to send: the reply, and the held alerts it carries (marked digested once sent)."""

    chat: ChatRef
    reply: Reply
    held_ids: list[int] = field(default_factory=list)
    stories: int = 0


def build_digest(
    store: Store,
    defaults: AlertDefaults,
    chat: ChatRef,
    now: datetime,
    lang: str,
    *,
    held_only: bool = False,
) -> Digest | None:
    """Build the chat's digest as of `now` (None when there is nothing to tell)."""
    own = store.get_chat_settings(chat)
    held = [a for a in store.held_alerts(chat) if not held_only or (a.held_until or now) <= now]
    others: list[PendingAlert] = []
    if not held_only:
        since = own.last_digest_at
        others = [a for a in store.alerts_since(chat, since) if a.state in ("sent", "pending")]
    if not held and not others:
        return None
    counts = store.story_source_counts(list({a.story_id for a in held + others}))
    others.sort(key=lambda a: (-counts.get(a.story_id, 0), -(a.id)))
    chosen = held + others[: max(0, defaults.digest_size - len(held))]
    seen: set[int] = set()
    entries: list[tuple[str, int, Card]] = []
    for alert in chosen:
        if alert.story_id in seen:
            continue
        seen.add(alert.story_id)
        articles = store.story_articles(alert.story_id)
        if articles:
            entries.append((alert.query, -counts.get(alert.story_id, 0), story_card(articles)))
    if not entries:
        return None
    entries.sort(key=lambda e: (e[0].casefold(), e[1]))
    groups: dict[str, int] = {}
    for query, _, _ in entries:
        groups[query] = groups.get(query, 0) + 1
    lines = [t(lang, "digest.header", n=len(entries))]
    lines.extend(t(lang, "digest.group", query=query, n=n) for query, n in groups.items())
    reasons = {a.held_reason for a in held}
    if held:
        lines.append(t(lang, "digest.held", n=len(held), why=", ".join(
            t(lang, f"digest.reason.{r}") for r in sorted(r for r in reasons if r))))
    reply = Reply(text="\n".join(lines), cards=[card for _, _, card in entries])
    return Digest(chat, reply, [a.id for a in held], len(entries))


def digest_due(policy: ChatPolicy, own: ChatSettings, held: list[PendingAlert], now: datetime) -> str | None:
    """Return "scheduled", "catch-up" or None: whether the chat's digest should go out now."""
    if policy.digest is not None:
        last = own.last_digest_at
        if last is not None and policy.digest.next_after(last, policy.tz) <= now:
            return "scheduled"
        return None
    if any((a.held_until or now) <= now for a in held):
        return "catch-up"
    return None


class DigestService:
    """Finds chats whose digest is due and sends it through `send` (the sender's rate-limited send_reply)."""

    def __init__(
        self,
        store: Store,
        defaults: AlertDefaults,
        send: Callable[[ChatRef, Reply], Awaitable[str]],
        *,
        lang: Callable[[ChatRef], str] = lambda chat: "en",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        platforms: Callable[[], set[str]] = lambda: {"telegram", "discord", "console"},
    ) -> None:
        self.store = store
        self.defaults = defaults
        self.send = send
        self.lang = lang
        self.clock = clock
        self.platforms = platforms
        self.sent = 0

    def _due(self, now: datetime) -> list[tuple[ChatRef, str]]:
        due = []
        running = self.platforms()
        for chat in self.store.digest_chats():
            if chat.platform not in running:
                continue
            own = self.store.get_chat_settings(chat)
            if own.paused_reason:
                continue
            policy = ChatPolicy.resolve(self.defaults, own)
            if policy.digest is not None and own.last_digest_at is None:
                # A schedule that comes from the config: it starts counting now, not from the epoch.
                self.store.record_digest(chat, [], now - timedelta(seconds=1))
                continue
            kind = digest_due(policy, own, self.store.held_alerts(chat), now)
            if kind is not None:
                due.append((chat, kind))
        return due

    async def run_due(self) -> int:
        """Send every digest due now; return how many went out."""
        now = self.clock()
        sent = 0
        for chat, kind in await asyncio.to_thread(self._due, now):
            lang = await asyncio.to_thread(self._lang, chat)
            digest = await asyncio.to_thread(
                build_digest, self.store, self.defaults, chat, now, lang, held_only=kind == "catch-up"
            )
            if digest is None:
                await asyncio.to_thread(self.store.record_digest, chat, [], now)
                continue
            try:
                await self.send(chat, digest.reply)
            except DeliveryError as exc:
                log.warning("digest not sent, will retry: %s", exc.reason, extra={"chat": str(chat)})
                continue
            except Exception:
                log.exception("digest not sent, will retry", extra={"chat": str(chat)})
                continue
            await asyncio.to_thread(self.store.record_digest, chat, digest.held_ids, now)
            log.info("digest sent: %d stories, %d held alerts", digest.stories, len(digest.held_ids),
                     extra={"chat": str(chat)})
            sent += 1
        self.sent += sent
        return sent

    def _lang(self, chat: ChatRef) -> str:
        return self.store.get_chat_lang(chat) or self.lang(chat)
