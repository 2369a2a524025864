"""APScheduler 3.x jobs in the bot's own event loop: one dispatcher that polls due feeds, plus periodic jobs.

Why one dispatcher rather than one APScheduler job per feed: every poll moves its feed's next poll time
(adaptive interval, server hints, backoff, jitter), and that time is persisted so a restart resumes where it
was. With one job per feed each poll would have to reschedule its own job; here the schedule is plain data
(`FeedState.next_poll_at`, in the store) and one job every `tick_s` starts whatever is due:

    every tick: feeds added or removed? (store.feeds_version) ─► reload
                feeds due now, not in flight, earliest first ─► poll task each (at most `max_in_flight`)
    each poll:  pipeline ─► FeedPolicy.after_poll ─► HealthNotifier.after_poll ─► store.save_feed_state

Feeds added with /addfeed or an OPML import are picked up at the next tick, without a restart. The fetcher
still enforces the global and per-host concurrency limits. `stop()` lets polls in flight finish (within a
grace period) so SIGTERM loses nothing: an article is stored before its feed's validators are, so a poll cut
short is simply done again after the restart.

Errors: none raised by the jobs; a failing job is logged and runs again at its next time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.feeds import FeedPolicy, HealthNotifier, PollOutcome
from bot.models import Feed
from bot.store.base import FeedState, Store

log = logging.getLogger(__name__)


class PollReportLike(Protocol):
    """What the scheduler reads from a poll (bot.pipeline.PollReport)."""

    @property
    def feed(self) -> Feed: ...
    @property
    def ok(self) -> bool: ...
    @property
    def error(self) -> str | None: ...
    @property
    def not_modified(self) -> bool: ...
    @property
    def new(self) -> list[Any]: ...
    @property
    def ttl_s(self) -> int | None: ...
    @property
    def cache_control(self) -> str | None: ...
    @property
    def expires(self) -> str | None: ...
    @property
    def retry_after(self) -> str | None: ...


Poll = Callable[[int], Awaitable[PollReportLike | None]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def outcome_of(report: PollReportLike) -> PollOutcome:
    """Turn a pipeline report into what the policy needs."""
    return PollOutcome(
        ok=report.ok,
        new_items=len(report.new),
        not_modified=report.not_modified,
        error=report.error,
        failures=0 if report.ok else report.feed.consecutive_failures + 1,
        ttl_s=report.ttl_s,
        cache_control=report.cache_control,
        expires=report.expires,
        retry_after=report.retry_after,
    )


async def state_after_poll(
    report: PollReportLike,
    before: FeedState,
    policy: FeedPolicy,
    notifier: HealthNotifier | None,
    now: datetime,
    rng: random.Random,
) -> FeedState:
    """Return a feed's next schedule and health after a poll: the policy, then the failing/recovered notice."""
    feed = report.feed
    after = policy.after_poll(before, feed.interval_s, outcome_of(report), now, rng)
    if notifier is not None:
        noticed = replace(feed, last_error=report.error or feed.last_error)
        after = await notifier.after_poll(noticed, after, now, was_failing_since=before.failing_since)
    return after


class FeedScheduler:
    """Polls each feed when it is due, by calling `poll(feed_id)`, and runs periodic jobs."""

    def __init__(
        self,
        store: Store,
        poll: Poll,
        *,
        wanted: Callable[[Feed, FeedState], bool] = lambda feed, state: True,
        policy: FeedPolicy | None = None,
        notifier: HealthNotifier | None = None,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
        tick_s: float = 1.0,
        max_in_flight: int = 64,
        polls_feeds: bool = True,
    ) -> None:
        self.store = store
        self._poll = poll
        self._wanted = wanted
        self.policy = policy or FeedPolicy()
        self.notifier = notifier
        self.clock = clock
        self.rng = rng or random.Random()
        self.tick_s = tick_s
        self.max_in_flight = max_in_flight
        # False when worker processes poll the feeds (bot.workers): only the periodic jobs run here.
        self.polls_feeds = polls_feeds
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._feeds: dict[int, Feed] = {}
        self._states: dict[int, FeedState] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._version: int | None = None
        self._last_dispatch: float | None = None
        self._stopping = False
        self.polls = 0

    # -- the schedule ---------------------------------------------------------------------------------

    async def reload(self) -> None:
        """Read the feeds and their persisted schedule from the store (at start, and when feeds change)."""
        version = await asyncio.to_thread(self.store.feeds_version)
        feeds = await asyncio.to_thread(self.store.list_feeds)
        states = await asyncio.to_thread(self.store.feed_states)
        self._feeds, self._states = {}, {}
        for feed in feeds:
            state = states.get(feed.id, FeedState(feed_id=feed.id))
            if self._wanted(feed, state):
                self._feeds[feed.id] = feed
                self._states[feed.id] = state
        self._version = version

    def feeds(self) -> list[tuple[Feed, FeedState]]:
        """Return the feeds being polled with their current schedule and health."""
        return [(self._feeds[fid], self._states[fid]) for fid in self._feeds]

    def state(self, feed_id: int) -> FeedState | None:
        """Return one feed's schedule and health, or None when it is not polled."""
        return self._states.get(feed_id)

    def due(self, now: datetime) -> list[int]:
        """Return the ids of feeds due at `now` and not being polled, earliest first."""
        far_past = datetime.min.replace(tzinfo=UTC)
        due = [
            fid for fid, st in self._states.items()
            if fid not in self._in_flight and (st.next_poll_at is None or st.next_poll_at <= now)
        ]
        return sorted(due, key=lambda fid: self._states[fid].next_poll_at or far_past)

    async def dispatch(self) -> list[asyncio.Task[None]]:
        """Start a poll of every feed due now (the dispatcher job); return the tasks started."""
        if self._stopping:
            return []
        self._last_dispatch = time.monotonic()
        try:
            if await asyncio.to_thread(self.store.feeds_version) != self._version:
                await self.reload()
        except Exception:
            log.exception("could not read the feed list; keeping the previous one")
        room = self.max_in_flight - len(self._in_flight)
        started = []
        for feed_id in self.due(self.clock())[: max(0, room)]:
            task = asyncio.create_task(self._poll_one(feed_id), name=f"poll feed {feed_id}")
            self._in_flight[feed_id] = task
            task.add_done_callback(partial(self._forget_poll, feed_id))
            started.append(task)
        return started

    def _forget_poll(self, feed_id: int, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(feed_id, None)

    async def run_due(self) -> int:
        """Poll every feed due now and wait for those polls (tests and one-off passes); return how many."""
        tasks = await self.dispatch()
        if tasks:
            await asyncio.gather(*tasks)
        return len(tasks)

    async def _poll_one(self, feed_id: int) -> None:
        feed = self._feeds.get(feed_id)
        try:
            report = await self._poll(feed_id)
            if report is None:  # removed since the last reload
                self._feeds.pop(feed_id, None)
                self._states.pop(feed_id, None)
                return
            self.polls += 1
            feed = report.feed
            before = self._states.get(feed_id, FeedState(feed_id=feed_id))
            after = await state_after_poll(report, before, self.policy, self.notifier, self.clock(), self.rng)
            await asyncio.to_thread(self.store.save_feed_state, after)
            if feed_id in self._states:
                self._states[feed_id] = after
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug here must not make the feed hot-loop: try again after its configured interval.
            log.exception("scheduling after a poll failed", extra={"feed": feed.url if feed else feed_id})
            state = self._states.get(feed_id)
            if state is not None and feed is not None:
                self._states[feed_id] = replace(state, next_poll_at=self.clock() + timedelta(seconds=feed.interval_s))

    # -- APScheduler ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the schedule, start the dispatcher job (first tick at once) and the scheduler."""
        await self.reload()
        if not self.polls_feeds:
            self._scheduler.start()
            log.info("scheduler started for periodic jobs; the workers poll the feeds")
            return
        self._scheduler.add_job(
            self.dispatch,
            IntervalTrigger(seconds=self.tick_s, timezone=UTC),
            id="dispatch",
            name="poll due feeds",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(self.tick_s * 10)),
        )
        self._scheduler.start()
        log.info("scheduler started with %d feeds", len(self._feeds))

    def add_periodic(
        self, job_id: str, func: Callable[[], Awaitable[object]], every_s: float, *, first_in_s: float | None = None
    ) -> None:
        """Run `func` every `every_s` seconds (one run at a time, missed runs coalesced), e.g. digests."""
        extra: dict[str, Any] = {}
        if first_in_s is not None:
            extra["next_run_time"] = datetime.now(UTC) + timedelta(seconds=first_in_s)
        self._scheduler.add_job(
            self._guarded(job_id, func),
            IntervalTrigger(seconds=every_s, timezone=UTC),
            id=job_id,
            name=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(every_s)),
            **extra,
        )

    @staticmethod
    def _guarded(job_id: str, func: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await func()
            except asyncio.CancelledError:
                # The bot is stopping with the job mid-way (a digest, retention): each is safe to run again
                # from the start, so this is not an error; the task ends here either way.
                log.info("job %s interrupted by shutdown; it runs again after the restart", job_id)
            except Exception:
                log.exception("job %s failed; it runs again at its next time", job_id)

        return run

    async def stop(self, grace_s: float = 5.0) -> None:
        """Start no new poll, let the polls in flight finish (cancel what is left after `grace_s`)."""
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        tasks = list(self._in_flight.values())
        if tasks:
            log.info("waiting for %d polls in flight", len(tasks))
            _, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def shutdown(self) -> None:
        """Stop scheduling at once (polls in flight are not waited for; prefer `await stop()`)."""
        self._stopping = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    # -- health ---------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._scheduler.running and not self._stopping

    def failing(self) -> int:
        """Return how many polled feeds are in a failing streak."""
        return sum(1 for st in self._states.values() if st.failing_since is not None)

    def in_flight(self) -> int:
        """Return how many polls are running."""
        return len(self._in_flight)

    def health(self) -> dict[str, Any]:
        """Report whether the dispatcher runs and ticked recently, with the feed counts."""
        age = None if self._last_dispatch is None else round(time.monotonic() - self._last_dispatch, 1)
        ticking = not self.polls_feeds or (age is not None and age < max(30.0, 10 * self.tick_s))
        return {
            "ok": self.running and ticking,
            "scheduler": "running" if self.running else "stopped",
            "last_dispatch_age_s": age,
            "feeds": len(self._feeds),
            "feeds_failing": self.failing(),
            "polls_in_flight": self.in_flight(),
        }
