"""SIGTERM during a busy poll loop of a real `veille run` child process loses nothing and stops within 10 s."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import yaml
from aiohttp import web

from tests.ingest.conftest import LocalServer, start_server

ROOT = Path(__file__).resolve().parents[2]
FEEDS = 8


def feed_body(feed: int, items: int) -> str:
    entries = "".join(
        f"<item><title>Feed {feed} item {n} on custom accelerators</title><link>https://f{feed}.example/{n}</link>"
        f"<guid>https://f{feed}.example/{n}</guid><description>Text of item {n} of feed {feed}, about chips and "
        f"the companies that make them.</description></item>"
        for n in range(items)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{feed}</title>{entries}</channel></rss>'


def stored(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return [row[0] for row in conn.execute("SELECT url FROM articles")]
    except sqlite3.OperationalError:
        return []  # not created yet


async def test_sigterm_during_a_busy_poll_loop_loses_nothing(tmp_path: Path) -> None:
    served: dict[int, int] = {}  # feed -> how many items it has shown so far
    server = LocalServer()

    async def feed(request: web.Request) -> web.Response:
        number = int(request.path.strip("/f"))
        served[number] = served.get(number, 5) + 2  # every poll finds two new items: the loop stays busy
        await asyncio.sleep(0.05)
        return web.Response(text=feed_body(number, served[number]), content_type="application/rss+xml")

    for number in range(FEEDS):
        server.add(f"/f{number}", feed)
    runner = await start_server(server)
    db = tmp_path / "veille.db"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"path": str(db)},
        "fetch": {"allow_private_addresses": True, "fetch_full_text": False},
        "feeds": [{"url": server.url(f"/f{n}"), "name": f"F{n}", "interval": "1s"} for n in range(FEEDS)],
        "console": {"enabled": False},
        "feed_health": {"adaptive": False},
    }))
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "", "DISCORD_BOT_TOKEN": ""}
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config), "run",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
        )
        try:
            for _ in range(1200):  # until two rounds of polls have stored articles (a child starts in ~3 s)
                await asyncio.sleep(0.05)
                if sum(served.values()) - 5 * len(served) >= 2 * 2 * FEEDS and len(stored(db)) > 0:
                    break
            assert served, "the bot never polled"
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), 15)
            took = time.monotonic() - started
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()[-2000:]
        assert took < 10, took
        assert "Traceback" not in err.decode()

        urls = stored(db)
        assert len(urls) == len(set(urls))  # stored once
        # Nothing lost: a feed whose poll was recorded as a success has every item it served then.
        with sqlite3.connect(db) as conn:
            succeeded = [row[0] for row in conn.execute("SELECT name FROM feeds WHERE last_success IS NOT NULL")]
        assert succeeded
        # A restart resumes: one more pass brings every item every feed serves, none twice.
        rerun = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config), "ingest", "--once",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
        )
        out, err = await asyncio.wait_for(rerun.communicate(), 60)
        assert rerun.returncode == 0, err.decode()
        urls = stored(db)
        assert len(urls) == len(set(urls)) == sum(served.values())
    finally:
        await runner.cleanup()
