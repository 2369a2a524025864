"""Self-healing feeds: the adaptive interval, backoff that never gives up, one failing notice, one recovery notice.

A real feed server on 127.0.0.1 fails for a while and recovers; the real pipeline and SQLite store poll it
through the scheduler's dispatcher, driven by an injected clock instead of sleeps.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import App
from bot.config import parse_settings
from bot.feeds import FeedPolicy, HealthNotifier, PollOutcome, retry_after_seconds, server_hint_seconds
from bot.messages import Reply
from bot.models import ChatRef
from bot.scheduler import FeedScheduler
from bot.store.base import FeedState
from tests.ingest.conftest import LocalServer, start_server

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RNG = random.Random(7)


def rss(items: list[int], ttl: int | None = None) -> str:
    entries = "".join(
        f"<item><title>Story number {n} about chips</title><link>https://news.example/{n}</link>"
        f"<guid>https://news.example/{n}</guid><description>Body of story {n}, long enough to keep.</description>"
        f"<pubDate>Fri, 20 Nov 2026 {10 + n % 10:02d}:00:00 GMT</pubDate></item>"
        for n in items
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Flaky</title>{ttl_tag}{entries}</channel></rss>'


# -- the policy, alone -----------------------------------------------------------------------------------------


def test_new_items_halve_quiet_polls_double_within_bounds() -> None:
    policy = FeedPolicy(jitter=0)
    state = FeedState(feed_id=1)
    assert policy.bounds(600) == (150, 2400)
    for expected in (300, 150, 150):
        state = policy.after_poll(state, 600, PollOutcome(ok=True, new_items=3), T0, RNG)
        assert state.interval_s == expected
    for expected in (300, 600, 1200, 2400, 2400):
        state = policy.after_poll(state, 600, PollOutcome(ok=True, not_modified=True), T0, RNG)
        assert state.interval_s == expected
    assert state.next_poll_at == T0 + timedelta(seconds=2400)
    # Never past 24 h, whatever the configured interval.
    assert FeedPolicy().bounds(12 * 3600)[1] == 86_400


def test_adaptive_off_keeps_the_configured_interval() -> None:
    state = FeedPolicy(adaptive=False, jitter=0).after_poll(FeedState(feed_id=1), 600, PollOutcome(ok=True), T0, RNG)
    assert state.interval_s == 600 and state.next_poll_at == T0 + timedelta(seconds=600)


def test_server_hints_slow_a_feed_down_but_only_to_four_times_its_interval() -> None:
    policy = FeedPolicy(jitter=0)
    fresh = FeedState(feed_id=1)
    ttl = policy.after_poll(fresh, 600, PollOutcome(ok=True, new_items=1, ttl_s=1800), T0, RNG)
    assert ttl.next_poll_at == T0 + timedelta(seconds=1800)
    huge = policy.after_poll(fresh, 600, PollOutcome(ok=True, new_items=1, cache_control="public, max-age=86400"),
                             T0, RNG)
    assert huge.next_poll_at == T0 + timedelta(seconds=2400)
    expires = PollOutcome(ok=True, expires="Fri, 20 Nov 2026 12:20:00 GMT")
    assert server_hint_seconds(expires, T0) == 1200
    assert server_hint_seconds(PollOutcome(ok=True, cache_control="no-cache", ttl_s=900), T0) is None
    assert server_hint_seconds(PollOutcome(ok=True, cache_control="max-age=60", expires="garbage"), T0) == 60


def test_backoff_grows_is_capped_and_never_gives_up() -> None:
    policy = FeedPolicy(jitter=0, max_backoff_s=6 * 3600)
    state = FeedState(feed_id=1)
    waits = []
    for failures in range(1, 30):
        state = policy.after_poll(state, 600, PollOutcome(ok=False, error="HTTP 500", failures=failures), T0, RNG)
        assert state.next_poll_at is not None and state.backoff_until == state.next_poll_at
        waits.append(int((state.next_poll_at - T0).total_seconds()))
    assert waits[:6] == [600, 1200, 2400, 4800, 9600, 19200]
    assert set(waits[6:]) == {21600}
    assert state.failing_since == T0
    # Retry-After asks for longer: honoured (up to 24 h); as an HTTP date too.
    asked = policy.after_poll(FeedState(feed_id=1), 600, PollOutcome(ok=False, failures=1, retry_after="7200"), T0, RNG)
    assert asked.next_poll_at == T0 + timedelta(seconds=7200)
    assert retry_after_seconds("Fri, 20 Nov 2026 13:00:00 GMT", T0) == 3600
    assert retry_after_seconds("soon", T0) is None


def test_jitter_spreads_feeds_apart() -> None:
    policy = FeedPolicy()
    times = {policy.after_poll(FeedState(feed_id=1), 600, PollOutcome(ok=True), T0, random.Random(i)).next_poll_at
             for i in range(20)}
    assert len(times) > 10
    assert all(T0 + timedelta(seconds=1080) <= t <= T0 + timedelta(seconds=1320) for t in times if t)


# -- a feed server that fails for a while and recovers ------------------------------------------------------------


@dataclass
class Flaky:
    failing: bool = False
    status: int = 503
    items: list[int] = field(default_factory=lambda: [1, 2, 3])
    hits: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.failing:
            return web.Response(status=self.status, text="down", headers={"Retry-After": "120"})
        return web.Response(text=rss(self.items), content_type="application/rss+xml")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Notices:
    sent: list[tuple[ChatRef, str]] = field(default_factory=list)

    async def send(self, chat: ChatRef, reply: Reply) -> str:
        self.sent.append((chat, reply.text))
        return str(len(self.sent))


@pytest.fixture
async def flaky_world(tmp_path: Path) -> AsyncIterator[tuple[App, Flaky, LocalServer]]:
    flaky = Flaky()
    server = LocalServer()
    server.add("/feed", flaky.handle)
    runner = await start_server(server)
    settings = parse_settings({
        "storage": {"path": str(tmp_path / "veille.db")},
        "fetch": {"allow_private_addresses": True, "fetch_full_text": False, "timeout": 5},
        "feeds": [{"url": server.url("/feed"), "name": "Flaky", "interval": "10m"}],
        "subscriptions": [
            {"chat": "telegram:1", "query": "source:Flaky chips"},
            {"chat": "discord:2", "query": "nvidia"},
        ],
        "feed_health": {"alert_after": "6h"},
    })
    try:
        async with App(settings) as app:
            yield app, flaky, server
    finally:
        await runner.cleanup()


async def test_a_feed_that_fails_for_hours_backs_off_notifies_once_then_recovers(
    flaky_world: tuple[App, Flaky, LocalServer],
) -> None:
    app, flaky, _server = flaky_world
    clock, notices = Clock(), Notices()
    notifier = HealthNotifier(app.store, notices.send, alert_after_s=6 * 3600)
    scheduler = FeedScheduler(app.store, app.poll_feed, policy=FeedPolicy(jitter=0), notifier=notifier, clock=clock)
    await scheduler.reload()
    (feed, _), = scheduler.feeds()

    assert await scheduler.run_due() == 1  # due at once on first start
    assert app.store.count_articles() == 3
    assert await scheduler.run_due() == 0  # nothing due until the next poll time

    flaky.failing = True
    waits = []
    for _ in range(12):  # about 40 hours of failing, polled only when due
        state = scheduler.state(feed.id)
        assert state is not None and state.next_poll_at is not None
        waits.append(state.next_poll_at - clock.now)
        clock.now = state.next_poll_at
        assert await scheduler.run_due() == 1
    # Exponential backoff (Retry-After 120 s is shorter than the backoff, so the backoff wins), capped at 6 h.
    backoffs = [int(w.total_seconds()) for w in waits[1:]]
    assert backoffs[:5] == [600, 1200, 2400, 4800, 9600]
    assert max(backoffs) == 21600 and backoffs[-1] == 21600
    failing = scheduler.state(feed.id)
    assert failing is not None and failing.failing_since is not None and failing.notified_at is not None
    # One notice, and only to the chat whose subscription names the feed.
    assert len(notices.sent) == 1
    chat, text = notices.sent[0]
    assert chat == ChatRef("telegram", "1") and "Flaky" in text and "HTTP 503" in text

    # The schedule is persisted: a restarted scheduler resumes exactly where this one was.
    again = FeedScheduler(app.store, app.poll_feed, clock=clock)
    await again.reload()
    assert again.state(feed.id) == scheduler.state(feed.id)

    flaky.failing = False
    flaky.items = [1, 2, 3, 4]
    clock.now = failing.next_poll_at  # type: ignore[assignment]
    assert await scheduler.run_due() == 1
    healed = scheduler.state(feed.id)
    assert healed is not None and healed.failing_since is None and healed.backoff_until is None
    assert healed.notified_at is None
    assert len(notices.sent) == 2 and "works again" in notices.sent[1][1]
    assert app.store.count_articles() == 4  # nothing was lost during the outage
    # A later failure-free poll says nothing more.
    clock.now = healed.next_poll_at  # type: ignore[assignment]
    await scheduler.run_due()
    assert len(notices.sent) == 2


async def test_a_short_outage_is_not_reported(flaky_world: tuple[App, Flaky, LocalServer]) -> None:
    app, flaky, _server = flaky_world
    clock, notices = Clock(), Notices()
    notifier = HealthNotifier(app.store, notices.send, alert_after_s=6 * 3600)
    scheduler = FeedScheduler(app.store, app.poll_feed, policy=FeedPolicy(jitter=0), notifier=notifier, clock=clock)
    await scheduler.reload()
    flaky.failing = True
    for _ in range(3):  # 10 + 20 + 40 minutes of failing: well under alert_after
        await scheduler.run_due()
        (_, state), = scheduler.feeds()
        clock.now = state.next_poll_at  # type: ignore[assignment]
    flaky.failing = False
    await scheduler.run_due()
    assert notices.sent == []


async def test_a_feed_added_while_running_is_polled_without_a_restart(
    flaky_world: tuple[App, Flaky, LocalServer],
) -> None:
    app, _flaky, server = flaky_world
    other = Flaky(items=[7, 8])
    server.add("/other", other.handle)
    scheduler = FeedScheduler(app.store, app.poll_feed, wanted=app.wants_feed, clock=Clock())
    await scheduler.reload()
    assert await scheduler.run_due() == 1
    app.store.add_feed(server.url("/other"), "Other", 600, "chat:telegram:1")
    assert await scheduler.run_due() == 1 and other.hits == 1
    feed = app.store.get_feed_by_url(server.url("/other"))
    assert feed is not None and app.store.remove_feed(feed.id)
    assert await scheduler.run_due() == 0
    assert [f.name for f, _ in scheduler.feeds()] == ["Flaky"]
