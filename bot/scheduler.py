"""APScheduler 3.x jobs in the bot's own event loop: one polling job per feed.

Each feed polls at its configured interval, with jitter so that hundreds of feeds do not fire in the
same second, at most one poll of a feed at a time, and missed runs coalesced into one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.models import Feed

log = logging.getLogger(__name__)

MAX_JITTER_S = 30


class FeedScheduler:
    """Polls each feed on its interval by calling `poll(feed_id)`."""

    def __init__(self, poll: Callable[[int], Awaitable[object]]) -> None:
        self._poll = poll
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    def start(self, feeds: list[Feed]) -> None:
        """Schedule every feed (the first poll of each at once, spread over a second) and start."""
        now = datetime.now(UTC)
        for index, feed in enumerate(feeds):
            jitter = min(MAX_JITTER_S, max(0, feed.interval_s // 10))
            self._scheduler.add_job(
                self._poll,
                IntervalTrigger(seconds=feed.interval_s, jitter=jitter or None, timezone=UTC),
                args=[feed.id],
                id=f"feed-{feed.id}",
                name=f"poll {feed.name}",
                next_run_time=now + timedelta(milliseconds=20 * (index % 50)),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, feed.interval_s),
            )
        self._scheduler.start()
        log.info("scheduler started with %d feeds", len(feeds))

    def add_periodic(self, job_id: str, func: Callable[[], Awaitable[object]], every_s: float) -> None:
        """Run `func` every `every_s` seconds (one run at a time, missed runs coalesced), e.g. digests."""
        self._scheduler.add_job(
            func,
            IntervalTrigger(seconds=every_s, timezone=UTC),
            id=job_id,
            name=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(every_s)),
        )

    def shutdown(self) -> None:
        """Stop scheduling new polls (running ones finish or are cancelled with the loop)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
