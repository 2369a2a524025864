"""Two real `veille run` processes on one PostgreSQL schema share the feeds through leases (bot/app.py App.run)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web

from tests.store.pg import pg_schema_url

pytest.importorskip("psycopg")

from bot.store.postgres import PostgresStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FEEDS = 30
DEADLINE_S = 30.0


class FeedSite:
    """RSS feeds: two items at first, a third from the second request on; overlapping polls are counted."""

    def __init__(self) -> None:
        self.requests: Counter[int] = Counter()
        self.in_flight: Counter[int] = Counter()
        self.max_in_flight = 0

    async def feed(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        self.requests[n] += 1
        self.in_flight[n] += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight[n])
        try:
            await asyncio.sleep(0.02)  # long enough for two overlapping polls of one feed to be seen
            count = 2 if self.requests[n] == 1 else 3
            items = "".join(
                f"<item><title>Feed {n} story {i} about distinct topic q{n}x{i}</title>"
                f"<link>http://feeds.test/{n}/{i}</link><guid>feed{n}-item{i}</guid>"
                f"<pubDate>Fri, 20 Nov 2026 1{i}:00:00 GMT</pubDate><description>Body q{n}x{i}.</description></item>"
                for i in range(count)
            )
            body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>{items}</channel></rss>'
            return web.Response(body=body.encode(), content_type="application/rss+xml")
        finally:
            self.in_flight[n] -= 1


async def test_two_veille_run_processes_share_the_feeds(tmp_path: Path) -> None:
    site = FeedSite()
    app = web.Application()
    app.router.add_get("/feed/{n}.xml", site.feed)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    procs: list[asyncio.subprocess.Process] = []
    with pg_schema_url() as url, contextlib.ExitStack() as logs:
        store = PostgresStore(url)  # migrates the schema once, before both processes start
        try:
            for name in ("a", "b"):
                config = {
                    "storage": {"path": str(tmp_path / f"{name}.db"), "url": url},
                    "fetch": {"allow_private_addresses": True, "fetch_full_text": False},
                    "console": {"enabled": False},
                    "feeds": [{"url": f"http://127.0.0.1:{port}/feed/{n}.xml", "name": f"Feed {n}", "interval": "2s"}
                              for n in range(FEEDS)],
                }
                path = tmp_path / f"{name}.json"
                path.write_text(json.dumps(config))
                env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
                procs.append(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot.cli", "--config", str(path), "run",
                    cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, stdin=asyncio.subprocess.DEVNULL,
                    stdout=logs.enter_context(open(tmp_path / f"{name}.out", "wb")),
                    stderr=logs.enter_context(open(tmp_path / f"{name}.log", "wb")),
                ))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DEADLINE_S
            while not (store.count_articles() == FEEDS * 3 and all(site.requests[n] >= 3 for n in range(FEEDS))):
                if loop.time() > deadline or any(p.returncode is not None for p in procs):
                    log = (tmp_path / "a.log").read_text()[-3000:]
                    pytest.fail(f"not done: {store.count_articles()} articles, {dict(site.requests)}; a.log:\n{log}")
                await asyncio.sleep(0.3)
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            codes = []
            for proc in procs:
                try:
                    codes.append(await asyncio.wait_for(proc.wait(), timeout=20))
                except TimeoutError:
                    proc.kill()
                    codes.append(await proc.wait())
        keys = store._query("SELECT COUNT(DISTINCT key) AS k, COUNT(*) AS n FROM articles")[0]
        store.close()
    await runner.cleanup()
    outputs = [(tmp_path / f"{name}.out").read_text() for name in ("a", "b")]

    # Both processes took the lease path of `veille run` and stopped cleanly on SIGTERM.
    assert all("workers: feeds and outboxes shared" in out for out in outputs), outputs
    assert codes == [0, 0]
    # Every article stored once; no feed fetched by both processes at once.
    assert keys["n"] == keys["k"] == FEEDS * 3
    assert site.max_in_flight == 1
