"""Workers on PostgreSQL keep feeds healthy exactly as the one-process scheduler does (bot/workers.py FeedWorker).

The same flaky feed server as tests/scheduler/test_feed_health.py, the real App on a throwaway PostgreSQL
schema, and a FeedWorker driven by an injected clock: backoff that grows and is capped, one failing notice and
one recovery notice, the schedule saved with the lease, and no poll of a feed the configuration dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.config import parse_settings
from bot.feeds import FeedPolicy, HealthNotifier
from bot.models import ChatRef
from bot.workers import UNWANTED_RECHECK, FeedWorker
from tests.ingest.conftest import LocalServer, start_server
from tests.scheduler.test_feed_health import T0, Clock, Flaky, Notices
from tests.store.pg import pg_schema_url

pytest.importorskip("psycopg")


@pytest.fixture
async def pg_world(tmp_path: Path) -> AsyncIterator[tuple[App, Flaky, Flaky]]:
    flaky, dropped = Flaky(), Flaky()
    server = LocalServer()
    server.add("/feed", flaky.handle)
    server.add("/dropped", dropped.handle)
    runner = await start_server(server)
    try:
        with pg_schema_url() as url:
            settings = parse_settings({
                "storage": {"path": str(tmp_path / "veille.db"), "url": url},
                "fetch": {"allow_private_addresses": True, "fetch_full_text": False, "timeout": 5},
                "feeds": [{"url": server.url("/feed"), "name": "Flaky", "interval": "10m"}],
                "subscriptions": [{"chat": "telegram:1", "query": "source:Flaky chips"}],
                "feed_health": {"alert_after": "6h"},
            })
            async with App(settings) as app:
                # A feed an earlier configuration listed: still stored (its articles stay searchable), not polled.
                app.store.sync_feeds([(server.url("/dropped"), "Dropped", 600)])
                yield app, flaky, dropped
    finally:
        await runner.cleanup()


async def test_a_worker_backs_off_notifies_once_recovers_and_skips_dropped_feeds(
    pg_world: tuple[App, Flaky, Flaky],
) -> None:
    app, flaky, dropped = pg_world
    clock, notices = Clock(), Notices()
    clock.now = T0
    notifier = HealthNotifier(app.store, notices.send, alert_after_s=6 * 3600)
    worker = FeedWorker(
        app.store, app.pipeline.poll, "w1", policy=FeedPolicy(jitter=0), notifier=notifier,
        wanted=app.wants_feed, clock=clock, lease_s=60,
    )
    feed = app.store.get_feed_by_url(app.settings.feeds[0].url)
    gone = app.store.get_feed_by_url(app.settings.feeds[0].url.replace("/feed", "/dropped"))
    assert feed is not None and gone is not None

    assert await worker.run_once() == 2  # both due and claimed at first...
    assert worker.polled == 1 and worker.skipped == 1 and dropped.hits == 0  # ...only the listed one polled
    assert app.store.count_articles() == 3
    skipped = app.store.feed_state(gone.id)
    assert skipped is not None and skipped.next_poll_at == T0 + UNWANTED_RECHECK
    assert await worker.run_once() == 0  # nothing due until the next poll time

    flaky.failing = True
    waits = []
    for _ in range(12):  # about 40 hours of failing, polled only when due
        state = app.store.feed_state(feed.id)
        assert state is not None and state.next_poll_at is not None
        waits.append(state.next_poll_at - clock.now)
        clock.now = state.next_poll_at
        assert await worker.run_once() >= 1
    backoffs = [int(w.total_seconds()) for w in waits[1:]]
    assert backoffs[:5] == [600, 1200, 2400, 4800, 9600]
    assert max(backoffs) == 21600 and backoffs[-1] == 21600
    failing = app.store.feed_state(feed.id)
    assert failing is not None and failing.failing_since is not None and failing.backoff_until is not None
    assert failing.notified_at is not None
    assert len(notices.sent) == 1
    chat, text = notices.sent[0]
    assert chat == ChatRef("telegram", "1") and "Flaky" in text and "HTTP 503" in text
    assert dropped.hits == 0

    flaky.failing = False
    flaky.items = [1, 2, 3, 4]
    clock.now = failing.next_poll_at  # type: ignore[assignment]
    await worker.run_once()
    healed = app.store.feed_state(feed.id)
    assert healed is not None and healed.failing_since is None and healed.backoff_until is None
    assert healed.notified_at is None and healed.next_poll_at is not None
    # Back to the feed's own rhythm (adaptive: new items shorten it), no longer hours of backoff.
    assert timedelta(0) < healed.next_poll_at - clock.now <= timedelta(minutes=10)
    assert len(notices.sent) == 2 and "works again" in notices.sent[1][1]
    assert app.store.count_articles() == 4
