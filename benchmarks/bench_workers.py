"""Throughput of N `veille run` workers sharing one PostgreSQL store: feeds polled per minute, alerts sent per second.

For each worker count N (`--workers 1,2,4`), in a fresh schema dropped afterwards:

    feed server (own process) ◄─ N × `veille run` (own processes, own search index) ─► fake Telegram (own process)
                                          │
                                     PostgreSQL (one schema)

1. Feeds phase. `--feeds` RSS feeds (interval 1 s, so every feed is always due and the workers are the limit)
   on a real HTTP server on 127.0.0.1. Each request of a feed adds one new item (a feed shows its latest three),
   and every item is a teaser whose page is fetched too, so every poll does the whole pipeline's work: fetch,
   parse, page fetch + extraction, language, summary, entities, story grouping, store, index, matching against
   `--chats` subscriptions (none of which match, so the sender stays idle). Feeds start primed, so there is no
   backlog pass. One poll stores exactly one article: feeds/min is articles stored per minute (from the store),
   and the server's count of feed requests is printed beside it as a check.
2. Alerts phase. Polling is paused (every feed's next poll moved a day ahead), then `--chats` Telegram chats ×
   `--alerts` alerts are queued in one transaction; alerts/s is outbox rows marked sent per second (from the
   store). The fake Telegram enforces no limits with `--telegram-limits relaxed` (the default: the workers'
   own pacing is then the only limit), or Telegram's real ones (30/s per bot, 1/s per chat) with `realistic`.
   Either way the N workers share one bot's 30/s through the worker registry (bot/workers.py): each paces to
   floor(30 / N), so 28/s with 4, and each claims about 200 / N chats; the 429s column shows whether they did.

Each phase has a warm-up, then `--windows` windows; the table gives the median window (min–max beside it).
The machine's core count and load are printed first: on a shared machine the numbers are noisy. With
`--profile DIR` and py-spy on PATH, worker 1 is sampled during each phase's windows and the hottest
functions are printed (raw stacks kept in DIR).

    .venv/bin/python -m benchmarks.bench_workers [--pg-url URL] [--feeds 500] [--workers 1,2,4] [--chats 200]
        [--alerts 20] [--telegram-limits relaxed|realistic] [--profile DIR] [--logs DIR]

The PostgreSQL URL defaults to $VEILLE_TEST_PG_URL; without a reachable server the benchmark says so and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from tests.fakes.words import invented_words

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "VEILLE_TEST_PG_URL"
FAKE_TOKEN = "123456:BENCH-TOKEN"
VISIBLE_ITEMS = 3  # items a feed shows: the newest is new at every request, the others are known
FIRST_CHAT = 1000  # Telegram chat ids 1000.. (private chats: positive ids)
READY_LINE = "workers: feeds and outboxes shared"
EXIT_BAD_INPUT = 2


class BenchError(Exception):
    """The benchmark could not run (a worker died, nothing was measured); the message says what happened."""


# -- the feed server (runs in its own process) ---------------------------------------------------------------


class FeedSite:
    """RSS feeds of teasers and their article pages; every request of a feed reveals one new item."""

    def __init__(self, feeds: int) -> None:
        from bot.demo_site.content import load_content

        self.feeds = feeds
        self.articles = load_content().articles
        self.vocabulary = invented_words(random.Random(9), 4000)
        self.requests: Counter[tuple[str, int]] = Counter()  # by (run, feed): each run starts its feeds afresh
        self.pages = 0
        self.base = ""
        self.start = datetime(2026, 11, 20, tzinfo=UTC)

    def item(self, n: int, i: int) -> tuple[str, list[str]]:
        """Return item i of feed n: its title and its page's paragraphs (deterministic)."""
        rng = random.Random(f"{n}-{i}")
        base = self.articles[(n * 31 + i * 7) % len(self.articles)]
        words = rng.sample(self.vocabulary, 12)
        title = f"{base.title} ({' '.join(words[:3])})"
        paragraphs = list(base.paragraphs)
        rng.shuffle(paragraphs)
        # One paragraph of its own, so no two items have the same content.
        paragraphs.insert(1, f"{' '.join(words[3:]).capitalize()}, item {n}-{i}.")
        return title, paragraphs

    async def feed(self, request: Any) -> Any:
        from aiohttp import web

        run, n = request.match_info["run"], int(request.match_info["n"])
        if not 0 <= n < self.feeds:
            raise web.HTTPNotFound()
        self.requests[(run, n)] += 1
        newest = self.requests[(run, n)]
        items = []
        for i in range(newest, max(0, newest - VISIBLE_ITEMS), -1):
            title, paragraphs = self.item(n, i)
            teaser = " ".join(paragraphs[0].split()[:30]) + " …"
            published = format_datetime(self.start + timedelta(seconds=n, minutes=i))
            items.append(
                f"<item><title>{escape(title)}</title><link>{self.base}/a/{run}/{n}/{i}.html</link>"
                f'<guid isPermaLink="false">bench-{run}-{n}-{i}</guid><pubDate>{published}</pubDate>'
                f"<description>{escape(teaser)}</description></item>"
            )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench feed {n}</title>'
            f"<link>{self.base}/</link><description>Feed {n}</description>{''.join(items)}</channel></rss>"
        )
        return web.Response(body=body.encode(), content_type="application/rss+xml")

    async def page(self, request: Any) -> Any:
        from aiohttp import web

        self.pages += 1
        title, paragraphs = self.item(int(request.match_info["n"]), int(request.match_info["i"]))
        text = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        html = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head><body>"
            "<header><nav><a href='/'>Home</a> <a href='/tech'>Tech</a></nav></header>"
            f"<main><article><h1>{escape(title)}</h1>{text}</article></main>"
            "<footer>© Bench News. Subscribe to our newsletter.</footer></body></html>"
        )
        return web.Response(text=html, content_type="text/html")

    async def stats(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response({"feed_requests": sum(self.requests.values()), "page_requests": self.pages})


async def _serve_forever(kind: str, feeds: int, realistic: bool) -> None:
    from aiohttp import web

    extra = web.Application()
    if kind == "feeds":
        site = FeedSite(feeds)
        extra.router.add_get("/{run}/feed/{n}.xml", site.feed)
        extra.router.add_get("/a/{run}/{n}/{i}.html", site.page)
        extra.router.add_get("/stats", site.stats)
    else:
        from tests.fakes.telegram_server import FakeTelegram, RateLimits

        fake = FakeTelegram(token=FAKE_TOKEN, spec=None, limits=RateLimits(enabled=realistic))
        await fake.start()

        async def stats(request: web.Request) -> web.Response:
            sends = [r for r in fake.requests if r.method == "sendMessage"]
            return web.json_response({
                "sent": sum(1 for r in sends if r.status == 200),
                "too_many": sum(1 for r in sends if r.status == 429),
                "base_url": fake.base_url,
            })

        extra.router.add_get("/stats", stats)
    runner = web.AppRunner(extra, handle_signals=False, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = int(runner.addresses[0][1])
    if kind == "feeds":
        site.base = f"http://127.0.0.1:{port}"
    print(f"ready {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


# -- helpers of the measuring process ------------------------------------------------------------------------


@dataclass
class Server:
    """A server process started by the benchmark and the port of its /stats page."""

    process: subprocess.Popen[str]
    port: int

    def stats(self) -> dict[str, Any]:
        """Return the server's counters."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as answer:
            return dict(json.load(answer))

    def stop(self) -> None:
        """Stop the server process."""
        _terminate([self.process])


def start_server(kind: str, feeds: int = 0, realistic: bool = False) -> Server:
    """Start the feed server or the fake Telegram in a process of its own; return it once it listens."""
    command = [sys.executable, "-m", "benchmarks.bench_workers", "--serve", kind, "--feeds", str(feeds)]
    if realistic:
        command += ["--telegram-limits", "realistic"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=_env())
    assert process.stdout is not None
    line = process.stdout.readline().split()
    if len(line) != 2 or line[0] != "ready":
        _terminate([process])
        raise BenchError(f"the {kind} server did not start (exit {process.poll()})")
    return Server(process, int(line[1]))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    return {**env, "PYTHONPATH": str(ROOT)}


def _terminate(processes: list[subprocess.Popen[Any]], timeout_s: float = 20.0) -> list[int]:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=timeout_s))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    return codes


def check_postgres(url: str) -> str | None:
    """Return why PostgreSQL at `url` cannot be used, or None when it answers."""
    if not url:
        return f"no PostgreSQL URL: pass --pg-url or set {PG_ENV}"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable: {str(exc).strip().splitlines()[0]}"
    return None


@contextlib.contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """Create an empty schema, yield a URL whose sessions use it, drop it afterwards (as the tests do)."""
    from tests.store.pg import throwaway_schema

    with throwaway_schema(url, "bench") as schema_url:
        yield schema_url


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- one worker count -----------------------------------------------------------------------------------------


@dataclass
class Options:
    """What to measure and how long."""

    pg_url: str
    feeds: int = 500
    chats: int = 200
    alerts: int = 20
    realistic: bool = False
    warmup_s: float = 10.0
    window_s: float = 10.0
    windows: int = 3
    alert_warmup_s: float = 2.0
    alert_window_s: float = 5.0
    alert_windows: int = 3
    per_host: int = 32
    profile: Path | None = None
    logs: Path | None = None
    start_timeout_s: float = 120.0


@dataclass
class Result:
    """One worker count's measurements; the raw counts are kept so they can be checked against the store."""

    workers: int
    feed_windows: list[float] = field(default_factory=list)  # feeds polled per minute, per window
    warmup_s: float = 0.0
    server_polls_per_min: float = 0.0
    articles_in_windows: int = 0
    feed_requests_in_windows: int = 0
    poll_errors: int = 0
    feeds_worker_cpu: float = 0.0  # share of one core used by all workers together, feeds phase
    alert_windows: list[float] = field(default_factory=list)  # alerts marked sent per second, per window
    alerts_sent_in_windows: int = 0
    alerts_accepted_in_windows: int = 0  # by the fake Telegram, same windows
    too_many: int = 0
    drained: bool = False
    alerts_worker_cpu: float = 0.0
    exit_codes: list[int] = field(default_factory=list)
    # Totals once the workers stopped, to check the windows against: the store's and the servers' own counts.
    articles_stored: int = 0
    distinct_keys: int = 0
    feed_requests: int = 0
    alerts_queued: int = 0
    alerts_sent: int = 0
    alerts_accepted: int = 0
    profiles: dict[str, Path] = field(default_factory=dict)

    @property
    def feeds_per_min(self) -> float:
        return statistics.median(self.feed_windows) if self.feed_windows else 0.0

    @property
    def alerts_per_s(self) -> float:
        return statistics.median(self.alert_windows) if self.alert_windows else 0.0


class Bench:
    """Runs one worker count against a fresh schema, with the two servers shared by every count."""

    def __init__(self, options: Options, feeds: Server, telegram: Server, workdir: Path) -> None:
        self.o = options
        self.feeds = feeds
        self.telegram = telegram
        self.workdir = workdir
        self._feed_requests_before = 0
        self._accepted_before = 0

    def run(self, workers: int) -> Result:
        """Measure the feeds phase then the alerts phase with `workers` processes."""
        import psycopg

        from bot.models import ChatRef
        from bot.store.postgres import PostgresStore

        result = Result(workers)
        self._feed_requests_before = int(self.feeds.stats()["feed_requests"])
        self._accepted_before = int(self.telegram.stats()["sent"])
        with fresh_schema(self.o.pg_url) as url:
            store = PostgresStore(url)  # migrates once, before the workers start together
            conn = psycopg.connect(url, autocommit=True)
            processes: list[subprocess.Popen[bytes]] = []
            try:
                feed_list = self._feed_list(f"n{workers}-{uuid.uuid4().hex[:6]}")
                store.sync_feeds([(f["url"], f["name"], 1) for f in feed_list])
                # Primed: every poll is an ordinary one (no backlog pass that stores without matching).
                conn.execute("UPDATE feeds SET primed = TRUE, primed_max_article = 0")
                now = datetime.now(UTC)
                for c in range(self.o.chats):
                    store.add_subscription(ChatRef("telegram", str(FIRST_CHAT + c)), f"zqxw{c}", now)
                processes = self._start_workers(workers, url, feed_list)
                self._feeds_phase(conn, processes, result)
                self._pause_feeds(conn)
                self._alerts_phase(store, conn, processes, result)
            finally:
                result.exit_codes = _terminate(processes)
            try:
                self._totals(conn, result)
            finally:
                conn.close()
                store.close()
        return result

    def _totals(self, conn: Any, result: Result) -> None:
        result.articles_stored = _one(conn, "SELECT COUNT(*) FROM articles WHERE feed_id IS NOT NULL")
        result.distinct_keys = _one(conn, "SELECT COUNT(DISTINCT key) FROM articles WHERE feed_id IS NOT NULL")
        result.alerts_queued = _one(conn, "SELECT COUNT(*) FROM alerts")
        result.alerts_sent = _one(conn, "SELECT COUNT(*) FROM alerts WHERE state = 'sent'")
        result.feed_requests = int(self.feeds.stats()["feed_requests"]) - self._feed_requests_before
        result.alerts_accepted = int(self.telegram.stats()["sent"]) - self._accepted_before

    def _feed_list(self, run: str) -> list[dict[str, str]]:
        base = f"http://127.0.0.1:{self.feeds.port}/{run}"
        feeds = range(self.o.feeds)
        return [{"url": f"{base}/feed/{n}.xml", "name": f"Bench feed {n}", "interval": "1s"} for n in feeds]

    def _start_workers(self, count: int, url: str, feed_list: list[dict[str, str]]) -> list[subprocess.Popen[bytes]]:
        base_url = self.telegram.stats()["base_url"]
        processes = []
        for w in range(count):
            folder = self.workdir / f"n{count}-w{w}"
            folder.mkdir(parents=True, exist_ok=True)
            config = {
                "storage": {"path": str(folder / "veille.db"), "url": url},
                # per_host as high as the concurrency: real feeds sit on many hosts, these on one.
                "fetch": {"allow_private_addresses": True, "per_host": self.o.per_host},
                "telegram": {"api_base_url": base_url},
                "console": {"enabled": False},
                "feeds": feed_list,
            }
            (folder / "config.json").write_text(json.dumps(config))
            with open(folder / "out.txt", "wb") as out, open(folder / "log.txt", "wb") as log:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "--config", str(folder / "config.json"), "--log-level",
                     "WARNING", "run"],
                    cwd=ROOT, env={**_env(), "TELEGRAM_BOT_TOKEN": FAKE_TOKEN}, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=log,
                ))
        deadline = time.monotonic() + self.o.start_timeout_s
        for w, process in enumerate(processes):
            out_file = self.workdir / f"n{count}-w{w}" / "out.txt"
            while READY_LINE not in out_file.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (self.workdir / f"n{count}-w{w}" / "log.txt").read_text(errors="replace")[-2000:]
                    raise BenchError(f"worker {w} of {count} did not start (exit {process.poll()}):\n{log}")
                time.sleep(0.2)
        return processes

    def _windows(self, processes: list[subprocess.Popen[bytes]], count: int, seconds: float,
                 sample: Any, done: Any = None) -> tuple[list[tuple[Any, Any]], float, bool]:
        """Sample `sample()` at the ends of `count` windows; return (start, end) pairs, worker CPU share, drained."""
        pairs = []
        cpu_start = sum(cpu_seconds(p.pid) for p in processes)
        started = time.monotonic()
        before = sample()
        drained = False
        for _ in range(count):
            time.sleep(max(0.0, started + seconds * (len(pairs) + 1) - time.monotonic()))
            after = sample()
            if done is not None and done():
                drained = True  # the queue ran dry inside this window: it does not measure the sender
                break
            pairs.append((before, after))
            before = after
            for w, process in enumerate(processes):
                if process.poll() is not None:
                    raise BenchError(f"worker {w} exited with {process.returncode} during the measurement")
        elapsed = time.monotonic() - started
        cpu = (sum(cpu_seconds(p.pid) for p in processes) - cpu_start) / elapsed if elapsed else 0.0
        return pairs, cpu, drained

    def _feeds_phase(self, conn: Any, processes: list[subprocess.Popen[bytes]], result: Result) -> None:
        # Warm-up: the set time, and at least two batches (32 feeds) per worker stored, because a worker's
        # first polls load models and open connections, which takes long on a busy machine.
        started = time.monotonic()
        wanted = min(self.o.feeds, 64 * len(processes))
        time.sleep(self.o.warmup_s)
        while _one(conn, "SELECT COUNT(*) FROM articles WHERE feed_id IS NOT NULL") < wanted:
            if time.monotonic() - started > self.o.start_timeout_s:
                raise BenchError(f"fewer than {wanted} polls in {self.o.start_timeout_s:g} s")
            time.sleep(0.5)
        result.warmup_s = time.monotonic() - started
        errors_before = _one(conn, "SELECT COUNT(*) FROM feed_errors")

        def sample() -> tuple[float, int, int]:
            at, stored = _timed_count(conn, "SELECT COUNT(*) FROM articles WHERE feed_id IS NOT NULL")
            return at, stored, int(self.feeds.stats()["feed_requests"])

        spy = self._profile(processes[0], "feeds", len(processes), self.o.window_s * self.o.windows)
        pairs, result.feeds_worker_cpu, _ = self._windows(processes, self.o.windows, self.o.window_s, sample)
        self._wait_profile(spy, result, "feeds")
        for (t0, a0, r0), (t1, a1, r1) in pairs:
            result.feed_windows.append(60.0 * (a1 - a0) / (t1 - t0))
            result.articles_in_windows += a1 - a0
            result.feed_requests_in_windows += r1 - r0
        span = pairs[-1][1][0] - pairs[0][0][0] if pairs else 0.0
        result.server_polls_per_min = 60.0 * result.feed_requests_in_windows / span if span else 0.0
        result.poll_errors = _one(conn, "SELECT COUNT(*) FROM feed_errors") - errors_before

    def _pause_feeds(self, conn: Any) -> None:
        """Move every feed's next poll a day ahead, waiting for the polls in flight to hand their feeds back."""
        far = datetime.now(UTC) + timedelta(days=1)
        deadline = time.monotonic() + 120.0
        while True:
            # A poll in flight sets its feed's next poll when it ends: catch those too before they are due again.
            conn.execute(
                "UPDATE feeds SET next_poll_at = %s WHERE lease_owner IS NULL AND (next_poll_at IS NULL "
                "OR next_poll_at < %s)", (far, far - timedelta(hours=1)),
            )
            busy = _one(conn, "SELECT COUNT(*) FROM feeds WHERE lease_owner IS NOT NULL OR next_poll_at IS NULL "
                              "OR next_poll_at < %s", (far - timedelta(hours=1),))
            if busy == 0:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"{busy} feeds still being polled two minutes after the pause")
            time.sleep(0.1)
        time.sleep(1.0)  # the last polls' index commits and the index followers' rounds

    def _alerts_phase(self, store: Any, conn: Any, processes: list[subprocess.Popen[bytes]], result: Result) -> None:
        from bot.models import Article

        now = datetime.now(UTC)
        stories, articles = [], []
        for s in range(self.o.alerts):
            saved = store.add_article(
                Article(key=f"bench-alert-{s}", url=f"https://news.example/bench/{s}", title=f"Bench story {s}",
                        text=f"Bench story {s} body.", summary=f"Bench story {s}.", source="Bench wire",
                        published=now, content_hash=f"bench-alert-{s}"),
                new_story_title=f"Bench story {s}",
            )
            stories.append(saved.story_id)
            articles.append(saved.id)
        chats = [f"telegram:{FIRST_CHAT + c}" for c in range(self.o.chats)]
        telegram_before = self.telegram.stats()
        # One transaction, ordered by story then chat: every chat's alerts queue up in story order at once.
        conn.execute(
            "INSERT INTO alerts (chat, story_id, article_id, query, created_at, next_attempt_at) "
            "SELECT c.chat, s.story, s.article, 'bench', now(), now() FROM unnest(%s::text[]) WITH ORDINALITY "
            "AS c(chat, ci) CROSS JOIN unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY AS s(story, article, si) "
            "ORDER BY s.si, c.ci",
            (chats, stories, articles),
        )
        total = len(chats) * len(stories)
        deadline = time.monotonic() + 60.0
        while _one(conn, "SELECT COUNT(*) FROM alerts WHERE state = 'sent'") == 0:
            if time.monotonic() > deadline:
                raise BenchError("no alert was sent within a minute")
            time.sleep(0.05)
        time.sleep(self.o.alert_warmup_s)

        def sample() -> tuple[float, int, int]:
            at, sent = _timed_count(conn, "SELECT COUNT(*) FROM alerts WHERE state = 'sent'")
            return at, sent, int(self.telegram.stats()["sent"])

        def done() -> bool:
            return _one(conn, "SELECT COUNT(*) FROM alerts WHERE state = 'sent'") >= total

        spy = self._profile(processes[0], "alerts", len(processes), self.o.alert_window_s * self.o.alert_windows)
        pairs, result.alerts_worker_cpu, result.drained = self._windows(
            processes, self.o.alert_windows, self.o.alert_window_s, sample, done
        )
        self._wait_profile(spy, result, "alerts")
        for (t0, s0, a0), (t1, s1, a1) in pairs:
            result.alert_windows.append((s1 - s0) / (t1 - t0))
            result.alerts_sent_in_windows += s1 - s0
            result.alerts_accepted_in_windows += a1 - a0
        result.too_many = int(self.telegram.stats()["too_many"]) - int(telegram_before["too_many"])

    def _profile(self, process: subprocess.Popen[bytes], phase: str, workers: int,
                 seconds: float) -> tuple[subprocess.Popen[bytes], Path] | None:
        spy = shutil.which("py-spy")
        if self.o.profile is None or spy is None:
            return None
        self.o.profile.mkdir(parents=True, exist_ok=True)
        out = self.o.profile / f"{phase}-{workers}w.txt"
        command = [spy, "record", "--pid", str(process.pid), "--duration", str(max(1, int(seconds))),
                   "--rate", "50", "--nonblocking", "--format", "raw", "--output", str(out)]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out

    def _wait_profile(self, spy: tuple[subprocess.Popen[bytes], Path] | None, result: Result, phase: str) -> None:
        if spy is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            spy[0].wait(timeout=30)
        if spy[1].exists():
            result.profiles[phase] = spy[1]


def _one(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0])


def _timed_count(conn: Any, sql: str) -> tuple[float, int]:
    """Return when a count was taken (the middle of its query) and the count.

    On a loaded machine a query can take a second: dating the count at either end of it would move the
    window's edge by that much and report rates the server never allowed (36 alerts/s under a 30/s limit).
    """
    before = time.monotonic()
    count = _one(conn, sql)
    return (before + time.monotonic()) / 2, count


# -- reporting ------------------------------------------------------------------------------------------------


# Frames of the thread pool, the event loop and the entry point: in most samples, telling nothing.
MACHINERY = ("threading.py", "concurrent/futures", "asyncio/", "runpy", "<frozen", "bot/cli.py", "contextlib.py")


def hottest(raw: Path, top: int = 15) -> list[tuple[str, float]]:
    """Return the functions present in the most samples of a py-spy raw profile, as shares of the samples."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        for frame in set(stack.split(";")):
            inclusive[frame] += samples
    if not total:
        return []
    telling = [(frame, n / total) for frame, n in inclusive.most_common() if not any(m in frame for m in MACHINERY)]
    return telling[:top]


def table(results: list[Result], options: Options) -> str:
    """Render the results as a markdown table, speed-ups against the first (1-worker) row."""
    lines = [
        "| workers | warm-up s | feeds/min | (windows min–max) | server polls/min | poll errors | worker CPU, feeds "
        "| alerts/s | (windows min–max) | 429s | worker CPU, alerts | speed-up feeds | speed-up alerts |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    first = results[0] if results else None
    for r in results:
        feeds_up = r.feeds_per_min / first.feeds_per_min if first and first.feeds_per_min else 0.0
        alerts_up = r.alerts_per_s / first.alerts_per_s if first and first.alerts_per_s else 0.0
        feed_range = f"{min(r.feed_windows):.0f}–{max(r.feed_windows):.0f}" if r.feed_windows else "–"
        alert_range = f"{min(r.alert_windows):.1f}–{max(r.alert_windows):.1f}" if r.alert_windows else "–"
        if r.drained:
            alert_range += " (drained)"
        lines.append(
            f"| {r.workers} | {r.warmup_s:.0f} | {r.feeds_per_min:.0f} | {feed_range} "
            f"| {r.server_polls_per_min:.0f} | {r.poll_errors} "
            f"| {100 * r.feeds_worker_cpu:.0f}% | {r.alerts_per_s:.1f} | {alert_range} | {r.too_many} "
            f"| {100 * r.alerts_worker_cpu:.0f}% | {feeds_up:.2f}× | {alerts_up:.2f}× |"
        )
    return "\n".join(lines)


def machine_line(options: Options) -> str:
    """Describe the machine and the workload."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    limits = "Telegram's (30/s per bot, 1/s per chat)" if options.realistic else "none (the workers pace themselves)"
    return (
        f"machine: {os.cpu_count()} cores, load average {load}; {options.feeds} feeds (interval 1 s, one new "
        f"teaser item per poll, its page fetched), {options.chats} chats × {options.alerts} alerts; fake Telegram "
        f"limits: {limits}; windows: feeds {options.windows} × {options.window_s:g} s after {options.warmup_s:g} s, "
        f"alerts {options.alert_windows} × {options.alert_window_s:g} s after {options.alert_warmup_s:g} s"
    )


def measure(options: Options, worker_counts: list[int]) -> list[Result]:
    """Start both servers, measure every worker count in turn, stop the servers."""
    workdir = options.logs or Path(tempfile.mkdtemp(prefix="bench-workers-"))
    workdir.mkdir(parents=True, exist_ok=True)
    servers: list[Server] = []
    try:
        servers.append(start_server("feeds", feeds=options.feeds))
        servers.append(start_server("telegram", realistic=options.realistic))
        bench = Bench(options, servers[0], servers[1], workdir)
        return [bench.run(n) for n in worker_counts]
    finally:
        for server in servers:
            server.stop()
        if options.logs is None:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, measure, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get(PG_ENV, ""), help=f"PostgreSQL URL (default ${PG_ENV})")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated (default 1,2,4)")
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--alerts", type=int, default=20, help="alerts queued per chat")
    parser.add_argument("--telegram-limits", choices=("relaxed", "realistic"), default="relaxed")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before the feed windows")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per feed window")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--alert-window", type=float, default=5.0)
    parser.add_argument("--alert-windows", type=int, default=3)
    parser.add_argument("--per-host", type=int, default=32, help="fetch.per_host of the workers (default 32)")
    parser.add_argument("--profile", type=Path, default=None, help="sample worker 1 with py-spy, stacks kept here")
    parser.add_argument("--logs", type=Path, default=None, help="keep the workers' configs and logs here")
    parser.add_argument("--serve", choices=("feeds", "telegram"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve_forever(args.serve, args.feeds, args.telegram_limits == "realistic"))
        return 0
    try:
        counts = [int(x) for x in args.workers.split(",") if x.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1 or args.feeds < 1 or args.chats < 1 or args.alerts < 1 or args.windows < 1:
        print("bench_workers: --workers takes counts like 1,2,4; --feeds, --chats, --alerts, --windows >= 1",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    problem = check_postgres(args.pg_url)
    if problem:
        print(f"bench_workers: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    options = Options(
        pg_url=args.pg_url, feeds=args.feeds, chats=args.chats, alerts=args.alerts,
        realistic=args.telegram_limits == "realistic", warmup_s=args.warmup, window_s=args.window,
        windows=args.windows, alert_window_s=args.alert_window, alert_windows=args.alert_windows,
        per_host=args.per_host, profile=args.profile, logs=args.logs,
    )
    started = time.monotonic()
    print(machine_line(options) + "\n")
    try:
        results = measure(options, counts)
    except BenchError as exc:
        print(f"bench_workers: {exc}", file=sys.stderr)
        return 1
    print(table(results, options))
    for r in results:
        for phase, path in r.profiles.items():
            print(f"\nworker 1 of {r.workers}, {phase} phase (share of py-spy samples; {path}):")
            for frame, share in hottest(path):
                print(f"  {100 * share:5.1f}%  {frame}")
    print(f"\nrun time: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
