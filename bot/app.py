"""The composition root: builds every object once, starts them in order and stops them in reverse.

    store ─► search index (catch up) ─► fetcher ─► pipeline ─► router ─► platforms ─► sender ─► scheduler
          ─► metrics server (when `metrics.enabled`)

The scheduler's jobs: the feed dispatcher, digests, retention (`storage.retention_days`, the search index kept
in step), database maintenance and the metrics gauges. On SIGTERM: no new poll starts, polls in flight finish
(POLL_GRACE_S at most), the sender records the message it has in flight, then everything closes in reverse.

`veille run`, `veille demo` and `veille ingest --once` all go through this class; the demo only
changes the settings it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from bot import USER_AGENT
from bot.alerts.digest import DigestService
from bot.alerts.matcher import SubscriptionMatcher
from bot.alerts.policy import AlertDefaults
from bot.config import Settings
from bot.delivery.sender import Sender
from bot.feeds import FeedPolicy, HealthNotifier
from bot.ingest.fetch import Fetcher
from bot.metrics import Metrics, MetricsServer
from bot.models import ChatRef, Feed
from bot.pipeline import Pipeline, PollReport
from bot.platforms.base import ChatPlatform
from bot.platforms.console_adapter import ConsoleIO, ConsolePlatform
from bot.scheduler import FeedScheduler
from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.store import open_store
from bot.store.base import FeedState, Store
from bot.workers import run_worker, supports_leases
from handlers.context import HandlerContext
from handlers.router import Router

log = logging.getLogger(__name__)

# How often due digests are looked for; schedules are to the minute.
DIGEST_CHECK_S = 30.0
# Retention runs hourly, in batches so the store lock is never held long; maintenance daily.
RETENTION_EVERY_S = 3600.0
RETENTION_BATCH = 1000
MAINTENANCE_EVERY_S = 86_400.0
GAUGES_EVERY_S = 5.0
# Poll errors are kept this long for /stats and /sources.
ERRORS_KEPT = timedelta(days=7)
# SIGTERM: polls in flight get this long to finish; with the sender's own grace the bot is down within 10 s.
POLL_GRACE_S = 5.0


@dataclass
class IngestSummary:
    """Totals of one pass over every feed."""

    reports: list[PollReport] = field(default_factory=list)

    @property
    def feeds_ok(self) -> int:
        return sum(1 for r in self.reports if r.ok)

    @property
    def feeds_failed(self) -> int:
        return sum(1 for r in self.reports if not r.ok)

    @property
    def new(self) -> int:
        return sum(len(r.new) for r in self.reports)

    @property
    def duplicates(self) -> int:
        return sum(r.duplicates for r in self.reports)

    @property
    def not_modified(self) -> int:
        return sum(1 for r in self.reports if r.not_modified)

    def line(self) -> str:
        """Return the one-line summary `ingest --once` prints."""
        return (
            f"feeds: {self.feeds_ok} ok, {self.feeds_failed} failed ({self.not_modified} not modified); "
            f"articles: {self.new} new, {self.duplicates} duplicate"
        )


def stop_on_signals() -> asyncio.Event:
    """Return an event that SIGTERM and SIGINT set, so the bot can finish its work and stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Not available off the main thread or on some platforms: Ctrl-C still raises KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def index_path(settings: Settings) -> Path:
    """Return where the search index lives: beside the database file."""
    return Path(settings.storage.path + ".index")


class App:
    """Veille, assembled. Use as `async with App(settings) as app:`."""

    def __init__(self, settings: Settings, *, console_io: ConsoleIO | None = None, console_banner: str = "") -> None:
        self.settings = settings
        self.console_io = console_io
        self.console_banner = console_banner
        self._stack = AsyncExitStack()
        self.store: Store
        self.search: SearchService
        self.fetcher: Fetcher
        self.pipeline: Pipeline
        self.router: Router
        self.platforms: dict[str, ChatPlatform] = {}
        self.sender: Sender
        self.digests: DigestService
        self.console: ConsolePlatform | None = None
        self.index: SearchIndex
        self.metrics = Metrics()
        self.scheduler: FeedScheduler | None = None
        self.metrics_server: MetricsServer | None = None

    async def __aenter__(self) -> App:
        """Open the store and index, build the pipeline and the router."""
        try:
            await self._open()
        except BaseException:
            # __aexit__ is not called when __aenter__ fails: close what was already opened.
            await self._stack.aclose()
            raise
        return self

    async def _open(self) -> None:
        settings = self.settings
        self.store = await asyncio.to_thread(open_store, settings.storage)
        self._stack.callback(self.store.close)
        await asyncio.to_thread(
            self.store.sync_feeds, [(f.url, f.name, f.interval_s) for f in settings.feeds]
        )
        now = datetime.now(UTC)
        for sub in settings.subscriptions:
            self.store.add_subscription(sub.chat, sub.query, now)
        index = await asyncio.to_thread(SearchIndex.open, index_path(settings))
        self._stack.callback(index.close)
        self.index = index
        self.search = SearchService(self.store, index)
        caught_up = await asyncio.to_thread(self.search.catch_up)
        if caught_up:
            log.info("search index caught up with %d articles", caught_up)
        self.fetcher = await self._stack.enter_async_context(Fetcher(settings.fetch, USER_AGENT))
        matcher = SubscriptionMatcher(self.store, entities=settings.entities)
        self.pipeline = Pipeline(settings, self.store, self.fetcher, self.search, matcher, metrics=self.metrics)
        await asyncio.to_thread(self.pipeline.warm_up)
        self.router = Router(HandlerContext(store=self.store, search=self.search, settings=settings))
        alert_defaults = AlertDefaults.from_config(settings.alerts)
        self.sender = Sender(
            self.store, self.platforms, default_lang=self._default_lang, alert_defaults=alert_defaults,
            metrics=self.metrics,
        )
        self.digests = DigestService(
            self.store,
            alert_defaults,
            self.sender.send_reply,
            lang=self._default_lang,
            platforms=lambda: set(self.sender.platforms),
        )

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close everything opened, in reverse order."""
        await self._stack.aclose()

    def _default_lang(self, chat: ChatRef) -> str:
        return self.settings.console.chat_lang if chat.platform == "console" else "en"

    # -- one pass ---------------------------------------------------------------------------------

    def wants_feed(self, feed: Feed, state: FeedState) -> bool:
        """Tell whether a stored feed is polled: in the config, or added by a chat or an OPML import."""
        return state.origin != "config" or feed.url in {f.url for f in self.settings.feeds}

    async def active_feeds(self) -> list[Feed]:
        """Return the feeds the bot polls."""
        feeds = await asyncio.to_thread(self.store.list_feeds)
        states = await asyncio.to_thread(self.store.feed_states)
        return [f for f in feeds if self.wants_feed(f, states.get(f.id, FeedState(feed_id=f.id)))]

    async def ingest_once(self) -> IngestSummary:
        """Poll every active feed once through the whole pipeline."""
        reports = await self.pipeline.poll_many(await self.active_feeds())
        return IngestSummary(reports)

    # -- upkeep jobs ------------------------------------------------------------------------------

    async def apply_retention(self, now: datetime | None = None) -> int:
        """Delete articles older than `storage.retention_days` from the store and the search index."""
        days = self.settings.storage.retention_days
        if days <= 0:
            return 0
        cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
        total = 0
        while True:
            ids = await asyncio.to_thread(self.store.delete_articles_before, cutoff, RETENTION_BATCH)
            if ids:
                # The index follows the store at once, so a search never returns an article that is gone.
                await asyncio.to_thread(self.search.unindex, ids)
                total += len(ids)
            if len(ids) < RETENTION_BATCH:
                break
        if total:
            self.metrics.retention_deleted.inc(total)
            log.info("retention: deleted %d articles stored before %s", total, cutoff.date().isoformat())
        return total

    async def maintain(self, now: datetime | None = None) -> None:
        """Run database upkeep (statistics, WAL checkpoint) and forget old poll errors."""
        await asyncio.to_thread(self.store.maintain, (now or datetime.now(UTC)) - ERRORS_KEPT)
        log.info("database maintenance done")

    async def refresh_gauges(self) -> None:
        """Update the metrics that are levels rather than counts."""
        self.metrics.alerts_pending.set(await asyncio.to_thread(self.store.count_pending_alerts))
        if self.scheduler is not None:
            self.metrics.feeds.set(len(self.scheduler.feeds()))
            self.metrics.feeds_failing.set(self.scheduler.failing())
            self.metrics.polls_in_flight.set(self.scheduler.in_flight())

    def health(self) -> dict[str, Any]:
        """Report the store's and the scheduler's health for /healthz."""
        report: dict[str, Any] = {}
        try:
            report["alerts_pending"] = self.store.count_pending_alerts()
            report["store"] = "ok"
        except Exception as exc:
            report["store"] = f"failing: {type(exc).__name__}"
        scheduler = self.scheduler.health() if self.scheduler is not None else {"ok": False, "scheduler": "absent"}
        report["ok"] = report["store"] == "ok" and bool(scheduler.pop("ok"))
        report.update(scheduler)
        return report

    async def poll_feed(self, feed_id: int) -> PollReport | None:
        """Poll one feed and wake the sender when alerts were queued (the scheduler's job)."""
        feed = await asyncio.to_thread(self.store.get_feed, feed_id)
        if feed is None:
            return None
        report = await self.pipeline.poll(feed)
        if report.alerts:
            self.sender.wake()
        return report

    # -- the bot ----------------------------------------------------------------------------------

    async def start_platforms(self) -> list[str]:
        """Start every platform whose token is set (console when none is); return what was said."""
        said: list[str] = []
        settings = self.settings
        telegram_token = settings.token(settings.telegram.token_env)
        if telegram_token:
            from bot.platforms.telegram_adapter import TelegramPlatform

            webhook = settings.telegram.webhook if settings.telegram.mode == "webhook" else None
            telegram = TelegramPlatform(
                telegram_token,
                api_base_url=settings.telegram.api_base_url,
                webhook=webhook,
                webhook_secret=settings.token(webhook.secret_token_env) if webhook else None,
            )
            await telegram.start(self.router)
            self._stack.push_async_callback(telegram.stop)
            self.platforms["telegram"] = telegram
            said.append(f"telegram: started (token from ${settings.telegram.token_env})")
        else:
            said.append(f"telegram: not started (${settings.telegram.token_env} is not set)")
        discord_token = settings.token(settings.discord.token_env)
        if discord_token:
            from bot.platforms.discord_adapter import DiscordAdapter

            discord = DiscordAdapter(
                token=discord_token,
                api_base_url=settings.discord.api_base_url,
                gateway_url=settings.discord.gateway_url,
                shards=settings.discord.shards,
                shard_ids=settings.discord.shard_ids,
            )
            await discord.start(self.router)
            self._stack.push_async_callback(discord.stop)
            self.platforms["discord"] = discord
            said.append(f"discord: started (token from ${settings.discord.token_env})")
        else:
            said.append(f"discord: not started (${settings.discord.token_env} is not set)")
        wants_console = settings.console.enabled == "true" or (
            settings.console.enabled == "auto" and not (telegram_token or discord_token)
        )
        if wants_console:
            self.console = ConsolePlatform(self.console_io, lang=settings.console.chat_lang,
                                           prompt=self.console_banner)
            self.platforms["console"] = self.console
            said.append("console: started (type /help, /quit to leave)")
            await self.console.start(self.router)
            self._stack.push_async_callback(self.console.stop)
        else:
            said.append("console: not started (a platform token is set; console.enabled: true forces it)")
        self.sender.platforms.update(self.platforms)
        return said

    async def run(
        self,
        stop: asyncio.Event,
        *,
        announce: Callable[[str], None] = print,
        after_console_closed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Run the bot until `stop` is set (or the console chat ends)."""
        for line in await self.start_platforms():
            announce(line)
        health = self.settings.feed_health
        notifier = HealthNotifier(
            self.store, self.sender.send_reply, alert_after_s=health.alert_after_s, default_lang=self._default_lang
        )
        # A shared store (PostgreSQL): feeds and outboxes are claimed with leases by run_worker, so this
        # scheduler polls no feed itself and only runs the periodic jobs, each under a cluster-wide lock.
        shared = supports_leases(self.store)
        policy = FeedPolicy(adaptive=health.adaptive, max_backoff_s=health.max_backoff_s)
        scheduler = FeedScheduler(
            self.store,
            self.poll_feed,
            wanted=(lambda feed, state: False) if shared else self.wants_feed,
            policy=policy,
            polls_feeds=not shared,
            notifier=notifier,
        )
        self.scheduler = scheduler
        await scheduler.start()
        self._stack.callback(scheduler.shutdown)
        once = self._run_once if shared else (lambda name, job: job)
        scheduler.add_periodic("digests", once("digests", self.digests.run_due), DIGEST_CHECK_S)
        scheduler.add_periodic("gauges", self.refresh_gauges, GAUGES_EVERY_S, first_in_s=0)
        if self.settings.storage.retention_days > 0:
            retention = once("retention", self.apply_retention)
            scheduler.add_periodic("retention", retention, RETENTION_EVERY_S, first_in_s=60)
        scheduler.add_periodic("maintenance", once("maintenance", self.maintain), MAINTENANCE_EVERY_S, first_in_s=3600)
        await self._start_metrics(announce)
        sender_task: asyncio.Task[Any]
        if shared:
            announce("workers: feeds and outboxes shared with the other processes through PostgreSQL leases")
            sender_task = asyncio.create_task(
                run_worker(self, stop, wanted=self.wants_feed, policy=policy, notifier=notifier)
            )
        else:
            sender_task = asyncio.create_task(self.sender.run(stop))
        waits: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if self.console is not None:
            waits.append(asyncio.create_task(self._console_done(after_console_closed)))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for task in waits:
            task.cancel()
        await scheduler.stop(grace_s=POLL_GRACE_S)
        await sender_task

    def _run_once(self, name: str, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        """Wrap a periodic job so that, of several processes sharing the store, one runs it at a time."""

        async def locked() -> None:
            # Taking the lock opens a connection: off the event loop, like every other store call.
            lock = self.store.job_lock(name)
            mine = await asyncio.to_thread(lock.__enter__)
            try:
                if mine:
                    await job()
                else:
                    log.debug("job %s runs in another process; skipped here", name)
            finally:
                await asyncio.to_thread(lock.__exit__, None, None, None)

        return locked

    async def _start_metrics(self, announce: Callable[[str], None]) -> None:
        settings = self.settings.metrics
        if not settings.enabled:
            return
        server = MetricsServer(self.metrics, self.health, host=settings.host, port=settings.port)
        try:
            await server.start()
        except OSError as exc:
            # Metrics are for the operator: a busy port is logged loudly, it does not stop the bot.
            log.error("metrics server not started on %s:%d: %s", settings.host, settings.port, exc)
            return
        self.metrics_server = server
        self._stack.push_async_callback(server.stop)
        announce(f"metrics: http://{settings.host}:{server.port}/metrics and /healthz")

    async def _console_done(self, after: Callable[[], Awaitable[None]] | None) -> None:
        assert self.console is not None
        await self.console.closed.wait()
        if after is not None:
            await after()
