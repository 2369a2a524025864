"""Several worker processes sharing one PostgreSQL store: leases on feeds and on chats' outboxes.

    worker 1 ┐                         ┌ feeds:   claim_feeds (FOR UPDATE SKIP LOCKED) ─► poll ─► release_feed
    worker 2 ┼─► PostgreSQL (shared) ──┤
    worker N ┘                         └ outbox:  claim_chats (FOR UPDATE SKIP LOCKED) ─► send in order ─► release

After each poll a worker does what the one-process scheduler does (bot.scheduler): the feed policy sets the
next poll (adaptive interval, server hints, backoff after failures), the health notifier sends the one
"feed failing" / "recovered" notice, and the new schedule is saved as the lease is released, in one
statement. A feed the configuration no longer lists is not polled (checked again every UNWANTED_RECHECK).

A lease is an owner name and an expiry written on the row. A worker only polls the feeds and only sends
to the chats it holds a lease on, so no feed is polled twice at once and a chat's alerts go out once and
in order. A worker that dies leaves its leases behind; they expire after `lease_s` and another worker
claims the work again. The lease on a chat is renewed before each batch of its alerts, so a long drain
keeps it; `lease_s` must exceed the longest poll of one feed and the time one batch of alerts takes.

Sharing fairly (per-chat limits dominate: 1 message/s per Telegram chat, so throughput is the number of
chats drained at once, and the bot's overall limit is what the workers share):

    registry   every worker upserts its row in `workers` every `every_s` (WorkerRegistry); the rows seen in
               the last `within_s` are the live workers, n; a clean stop deletes the row
    outbox     a worker claims at most ceil(due chats / n) chats (its own held ones counted first), and
               gives a chat back after `give_back_after` batches, so one that claimed many while it was
               alone sheds them to the others; a chat is given back between batches, never with a message
               in flight, and other workers may take it only after its per-chat window (1 s on Telegram)
               has passed, so per-chat limits and order hold across the hand-over
    limits     each worker paces to floor(overall limit / n) (RateLimiter.share_overall); a worker that
               joins sends nothing until the others had time to count it and slow down

The count lags reality on purpose in the safe direction: a worker that died is counted until it has been
unseen for `within_s` (the others are slower meanwhile, never over the limit), and a new worker waits one
registry period plus the overall window before its first message.

What is shared and what is not: the store (articles, stories, alerts) is the system of record; the
search index (tantivy) is per worker and catches up from the store (`SearchService.catch_up`);
story grouping keeps its recent window per worker, reloaded from the store at start.

At-least-once, as in one process: an alert the platform accepted is marked sent right away; a worker
killed between the two (a few milliseconds) makes the next owner send it again.

Errors: none of its own; store failures are StoreError (bot.store.base) and are logged and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.feeds import FeedPolicy, HealthNotifier
from bot.models import Article, ChatRef, Feed
from bot.pipeline import PollReport
from bot.scheduler import state_after_poll
from bot.store.base import FeedState, PendingAlert

log = logging.getLogger(__name__)

DEFAULT_LEASE_S = 120.0
# A claimed feed the configuration no longer lists is put back this far ahead: re-listing it (and restarting)
# brings it back within this delay, without every worker re-claiming it every second meanwhile.
UNWANTED_RECHECK = timedelta(minutes=10)


def worker_name() -> str:
    """Return a name unique to this process across machines: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LeasingStore(Protocol):
    """The lease operations a shared store offers (PostgresStore)."""

    def claim_feeds(self, owner: str, now: datetime, limit: int, lease_s: float) -> list[Feed]: ...

    def release_feed(
        self, feed_id: int, owner: str, next_poll_at: datetime, state: FeedState | None = None
    ) -> bool: ...

    def feed_state(self, feed_id: int) -> FeedState | None: ...

    def claim_chats(
        self, owner: str, now: datetime, limit: int, lease_s: float, *, workers: int = 1
    ) -> list[ChatRef]: ...

    def renew_chat(self, chat: ChatRef, owner: str, now: datetime, lease_s: float) -> bool: ...

    def release_chat(self, chat: ChatRef, owner: str, *, until: datetime | None = None) -> None: ...

    def due_alerts_for(self, chat: ChatRef, now: datetime, limit: int = 50) -> list[PendingAlert]: ...


class RegistryStore(Protocol):
    """The worker registry a shared store keeps (PostgresStore)."""

    def heartbeat(self, owner: str, now: datetime) -> None: ...

    def live_workers(self, now: datetime, within_s: float) -> int: ...

    def forget_worker(self, owner: str) -> None: ...


def supports_leases(store: object) -> bool:
    """Tell whether a store can be shared by several workers."""
    return all(hasattr(store, name) for name in ("claim_feeds", "release_feed", "claim_chats", "release_chat"))


class LeasedOutbox:
    """The store as the Sender sees it in a worker: only the chats this worker holds a lease on are due.

    Every other operation goes to the store unchanged, so the Sender needs no change to share an outbox.
    `workers` (set by the registry) is how many workers share the outbox: this one claims its share of the
    due chats, ceil(due / workers), capped at `chats`. A chat is given back once drained or after
    `give_back_after` batches, with a cool-down of `handover(chat)` seconds before another worker may take it
    (this one may take it again at once); `on_give_back` is told, so the Sender claims again without waiting.
    """

    def __init__(
        self,
        store: LeasingStore,
        owner: str,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        chats: int = 100,
        batch: int = 5,
        give_back_after: int = 4,
        handover: Callable[[ChatRef], float] = lambda chat: 0.0,
        on_give_back: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self.owner = owner
        self.lease_s = lease_s
        self.chats = chats
        self.batch = batch
        self.give_back_after = give_back_after
        self.handover = handover
        self.on_give_back = on_give_back
        self.workers = 1
        self.given_back = 0
        self._batches: dict[ChatRef, int] = {}

    def due_chats(self, now: datetime) -> list[ChatRef]:
        """Claim (or renew) the leases of this worker's share of the chats with alerts due now; return them."""
        return self._store.claim_chats(self.owner, now, self.chats, self.lease_s, workers=self.workers)

    def due_alerts_for(self, chat: ChatRef, now: datetime, limit: int = 50) -> list[PendingAlert]:
        """Return the chat's next alerts while this worker holds its lease; give it back when drained or due."""
        batches = self._batches.get(chat, 0)
        if batches >= self.give_back_after:
            # Its turn is over: the next claim round decides who drains it next (this worker, if within share).
            self._give_back(chat, now)
            self.given_back += 1
            self.on_give_back()
            return []
        if not self._store.renew_chat(chat, self.owner, now, self.lease_s):
            self._batches.pop(chat, None)
            return []  # the lease expired and may be another worker's now: stop sending here
        # Small batches: the lease is renewed per batch, so a batch must be sent well within one lease.
        due = self._store.due_alerts_for(chat, now, min(limit, self.batch))
        if not due:
            self._give_back(chat, now)
            return []
        self._batches[chat] = batches + 1
        return due

    def _give_back(self, chat: ChatRef, now: datetime) -> None:
        self._batches.pop(chat, None)
        cool_s = self.handover(chat)
        until = now + timedelta(seconds=cool_s) if cool_s > 0 else None
        self._store.release_chat(chat, self.owner, until=until)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class WorkerRegistry:
    """Keeps this worker's row in the shared registry fresh and tells `on_change` how many workers are live."""

    def __init__(
        self,
        store: RegistryStore,
        owner: str,
        *,
        every_s: float = 2.0,
        within_s: float = 10.0,
        on_change: Callable[[int], None] = lambda workers: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if within_s <= every_s:
            raise ValueError(f"within_s ({within_s}) must exceed every_s ({every_s}), or live workers look dead")
        self.store = store
        self.owner = owner
        self.every_s = every_s
        self.within_s = within_s
        self.on_change = on_change
        self.clock = clock
        self.live = 1

    def beat(self) -> int:
        """Record this worker as alive, count the live workers, pass the count on; return it."""
        now = self.clock()
        self.store.heartbeat(self.owner, now)
        live = self.store.live_workers(now, self.within_s)
        if live != self.live:
            log.info("%d workers share the outbox and the platforms' limits", live)
        self.live = live
        self.on_change(live)
        return live

    def leave(self) -> None:
        """Remove this worker from the registry, so the others take over its share at their next beat."""
        self.store.forget_worker(self.owner)

    async def run(self, stop: asyncio.Event) -> None:
        """Beat every `every_s` until `stop` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every_s)
            if stop.is_set():
                return
            try:
                await asyncio.to_thread(self.beat)
            except Exception:  # the last count stays in force; a missed beat only makes the others wait
                log.exception("worker heartbeat failed; retrying")


class FeedWorker:
    """Polls the feeds this worker claims, concurrently, and hands each back with its next schedule."""

    def __init__(
        self,
        store: LeasingStore,
        poll: Callable[[Feed], Any],
        owner: str,
        *,
        batch: int = 32,
        lease_s: float = DEFAULT_LEASE_S,
        idle_s: float = 1.0,
        on_alerts: Callable[[], None] = lambda: None,
        wanted: Callable[[Feed, FeedState], bool] = lambda feed, state: True,
        policy: FeedPolicy | None = None,
        notifier: HealthNotifier | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.poll = poll
        self.owner = owner
        self.batch = batch
        self.lease_s = lease_s
        self.idle_s = idle_s
        self.on_alerts = on_alerts
        self.wanted = wanted
        self.policy = policy or FeedPolicy()
        self.notifier = notifier
        self.rng = rng or random.Random()
        self.clock = clock
        self.polled = 0
        self.skipped = 0

    async def run_once(self) -> int:
        """Claim one batch of due feeds, poll them and release them; return how many were polled."""
        feeds = await asyncio.to_thread(self.store.claim_feeds, self.owner, self.clock(), self.batch, self.lease_s)
        if not feeds:
            return 0
        await asyncio.gather(*(self._poll_one(feed) for feed in feeds))
        return len(feeds)

    async def _poll_one(self, feed: Feed) -> None:
        state: FeedState | None = None
        try:
            before = await asyncio.to_thread(self.store.feed_state, feed.id) or FeedState(feed_id=feed.id)
            if not self.wanted(feed, before):
                self.skipped += 1
                await self._release(feed, self.clock() + UNWANTED_RECHECK, None)
                return
            report: PollReport = await self.poll(feed)
            self.polled += 1
            if report.alerts:
                self.on_alerts()
            state = await state_after_poll(report, before, self.policy, self.notifier, self.clock(), self.rng)
        except Exception:  # the pipeline never raises; this guards the lease bookkeeping anyway
            log.exception("poll failed", extra={"feed": feed.url})
        # Whatever went wrong above, the feed is handed back: at worst it is polled again after its interval.
        next_poll = state.next_poll_at if state is not None and state.next_poll_at is not None else None
        await self._release(feed, next_poll or self.clock() + timedelta(seconds=max(1, feed.interval_s)), state)

    async def _release(self, feed: Feed, next_poll: datetime, state: FeedState | None) -> None:
        try:
            kept = await asyncio.to_thread(self.store.release_feed, feed.id, self.owner, next_poll, state)
        except Exception:
            log.exception("could not release a feed lease; it will expire", extra={"feed": feed.url})
            return
        if not kept:
            log.warning("feed lease expired during the poll (raise the lease)", extra={"feed": feed.url})

    async def run(self, stop: asyncio.Event) -> None:
        """Poll claimed feeds until `stop` is set, resting `idle_s` when none is due."""
        while not stop.is_set():
            try:
                polled = await self.run_once()
            except Exception:
                log.exception("feed claim round failed; retrying")
                polled = 0
            if polled == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.idle_s)


class SharedSender:
    """A Sender (bot.delivery.sender) that shares the outbox and the platforms' overall limits with the live workers.

    It registers this worker, sends only the chats it leases (LeasedOutbox), paces to its share of each
    overall limit (RateLimiter.share_overall), and leaves the registry when it stops.
    """

    def __init__(
        self,
        sender: Any,
        store: Any,
        owner: str,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        heartbeat_s: float = 2.0,
        live_within_s: float = 10.0,
        chats: int = 100,
        give_back_after: int = 4,
    ) -> None:
        self.sender = sender
        self.limiter = sender.limiter
        self.outbox = LeasedOutbox(
            store,
            owner,
            lease_s=lease_s,
            chats=chats,
            give_back_after=give_back_after,
            handover=self.limiter.handover_delay,
        )
        sender.store = self.outbox
        self.registry = WorkerRegistry(store, owner, every_s=heartbeat_s, within_s=live_within_s, on_change=self.share)

    def share(self, workers: int) -> None:
        """Take this worker's share of the outbox and of the overall limits, `workers` being live."""
        self.outbox.workers = workers
        self.limiter.share_overall(workers)

    def join_delay(self) -> float:
        """Return how long a worker joining others waits before its first message."""
        windows = [limit.window_s for limit in map(self.limiter.overall_limit, self.limiter.limits) if limit]
        # The others count this worker at their next beat, then their overall windows drain to the new share.
        return self.registry.every_s + max(windows, default=0.0) + 0.5

    async def run(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        """Register, send this worker's share of the outbox until `stop` is set, then leave the registry."""
        loop = asyncio.get_running_loop()
        # due_alerts_for, which gives chats back, runs in a thread: the wake-up must cross into the loop safely.
        def wake() -> None:
            loop.call_soon_threadsafe(self.sender.wake)

        self.outbox.on_give_back = wake
        live = await asyncio.to_thread(self.registry.beat)
        log.info("%d live workers share the outbox", live)
        try:
            await asyncio.gather(self.registry.run(stop), self._send(stop, live, idle_s))
        finally:
            try:
                await asyncio.to_thread(self.registry.leave)
            except Exception:
                log.exception("could not leave the worker registry; the others count this worker a while longer")

    async def _send(self, stop: asyncio.Event, live: int, idle_s: float) -> None:
        if live > 1:
            # Sending before the others slowed down to the new share would put the bot over its limit.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.join_delay())
        if not stop.is_set():
            await self.sender.run(stop, idle_s=idle_s)


class ArticleFeed(Protocol):
    """What the index follower reads from the shared store."""

    def iter_articles(self, after_id: int = 0, batch: int = 1000) -> Any: ...

    def deleted_articles_after(self, seq: int, limit: int = 10_000) -> tuple[list[int], int]: ...

    def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]: ...

    def max_article_id(self) -> int: ...


class Indexer(Protocol):
    """What the follower writes to: SearchService.index_new (an upsert by article id)."""

    def index_new(self, articles: Sequence[Article]) -> int: ...

    def unindex(self, article_ids: Sequence[int]) -> int: ...


class IndexFollower:
    """Keeps this worker's search index consistent with a store that several workers write.

    Catching up from the highest indexed id is not enough with concurrent writers: ids are handed out when
    a transaction inserts but become visible when it commits, so worker A's id 41 can commit after worker
    B's id 42 was already read. The follower remembers every id it skipped over (a "gap") and looks for
    it again on each round until it appears (a late commit, indexed then) or `settle_s` has passed (an id
    consumed by a rolled-back or duplicate insert, which will never appear). Indexing is an upsert, so
    an article seen twice is indexed once.

    Deletions go the same way: retention (in whichever process holds its lock) leaves a tombstone per
    deleted article, and each round deletes the tombstones past `tombstone_seq` from this index. Retention
    has one writer at a time, so tombstones commit in sequence order and a watermark is enough. The first
    round reads them all (kept 30 days), so a restarted worker also forgets what was deleted while it was down.
    """

    def __init__(
        self,
        store: ArticleFeed,
        index: Indexer,
        *,
        start_after: int,
        settle_s: float = 120.0,
        max_gaps: int = 100_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.index = index
        self.watermark = start_after
        self.settle_s = settle_s
        self.max_gaps = max_gaps
        self.clock = clock
        self.gaps: dict[int, datetime] = {}
        self.tombstone_seq = 0

    def sync(self) -> int:
        """Index what other workers stored since the last round, late commits included; return how many."""
        now = self.clock()
        fresh = list(self.store.iter_articles(after_id=self.watermark))
        seen = {a.id for a in fresh if a.id is not None}
        top = max(seen, default=self.watermark)
        for missing in range(self.watermark + 1, top):
            if missing not in seen and len(self.gaps) < self.max_gaps:
                self.gaps[missing] = now
        self.watermark = top
        late = self.store.get_articles(list(self.gaps)) if self.gaps else {}
        for found in late:
            self.gaps.pop(found, None)
        horizon = now - timedelta(seconds=self.settle_s)
        for gap in [g for g, first in self.gaps.items() if first < horizon]:
            del self.gaps[gap]
        articles = fresh + list(late.values())
        indexed = self.index.index_new(sorted(articles, key=lambda a: a.id or 0)) if articles else 0
        self._forget_deleted()
        return indexed

    def _forget_deleted(self) -> None:
        while True:
            deleted, seq = self.store.deleted_articles_after(self.tombstone_seq)
            if not deleted:
                return
            self.index.unindex(deleted)
            self.tombstone_seq = seq


class WorkerApp(Protocol):
    """The parts of bot.app.App a worker drives."""

    store: Any
    search: Any
    pipeline: Any
    sender: Any


async def run_worker(
    app: WorkerApp,
    stop: asyncio.Event,
    *,
    owner: str | None = None,
    lease_s: float = DEFAULT_LEASE_S,
    batch: int = 32,
    idle_s: float = 1.0,
    index_every_s: float = 5.0,
    wanted: Callable[[Feed, FeedState], bool] = lambda feed, state: True,
    policy: FeedPolicy | None = None,
    notifier: HealthNotifier | None = None,
    heartbeat_s: float = 2.0,
    live_within_s: float = 10.0,
) -> FeedWorker:
    """Run one worker of several until `stop` is set: poll claimed feeds, send claimed outboxes, follow the index."""
    name = owner or worker_name()
    store = app.store
    if not supports_leases(store):
        raise TypeError("workers need a store with leases (storage.url: postgresql://...)")
    shared = SharedSender(app.sender, store, name, lease_s=lease_s, heartbeat_s=heartbeat_s,
                          live_within_s=live_within_s)
    app.search.catch_up_gaps = False  # the follower below indexes what other workers store
    feeds = FeedWorker(
        store,
        app.pipeline.poll,
        name,
        batch=batch,
        lease_s=lease_s,
        idle_s=idle_s,
        on_alerts=app.sender.wake,
        wanted=wanted,
        policy=policy,
        notifier=notifier,
    )
    follower = IndexFollower(store, app.search, start_after=max(0, store.max_article_id() - 1000))

    async def follow() -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(follower.sync)
            except Exception:
                log.exception("search index follow-up failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=index_every_s)

    log.info("worker %s started", name)
    await asyncio.gather(feeds.run(stop), shared.run(stop, idle_s=idle_s), follow())
    return feeds
