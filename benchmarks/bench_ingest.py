"""Ingest costs: client CPU per conditional fetch (304) and per full fetch, and per parse.

Serves N generated RSS feeds (20 items, ~300-word HTML descriptions each) from 127.0.0.1 in a separate
process, so the CPU measured is the client's alone. Prints a markdown table.

    .venv/bin/python -m benchmarks.bench_ingest [--feeds 200] [--rounds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

import fastfeedparser
import feedparser

from bot import USER_AGENT
from bot.config import FetchSettings
from bot.ingest.fetch import Fetcher
from bot.ingest.normalize import normalize_entry
from bot.ingest.parse import parse_feed

WORDS = [
    "gouvernement",
    "marché",
    "énergie",
    "inflation",
    "banque",
    "élection",
    "réforme",
    "climat",
    "entreprise",
    "santé",
    "école",
    "government",
    "market",
    "energy",
    "inflation",
    "bank",
    "election",
    "reform",
    "climate",
    "company",
    "health",
    "school",
    "data",
    "cloud",
    "chip",
    "semiconductor",
    "acquisition",
    "regulator",
    "court",
    "minister",
    "budget",
    "strike",
    "union",
    "transport",
]


def make_feed(index: int, items: int = 20, words: int = 300) -> bytes:
    """Build one deterministic RSS 2.0 feed with HTML descriptions and a few entities."""
    rng = random.Random(index)
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>Feed {index} &amp; co</title><link>https://site{index}.example/</link><ttl>15</ttl>",
    ]
    for item in range(items):
        body = " ".join(rng.choice(WORDS) for _ in range(words))
        half = len(body) // 2
        html = f"&lt;p&gt;{body[:half]}&lt;/p&gt;&lt;p&gt;{body[half:]} &amp;amp;&lt;/p&gt;"
        parts.append(
            f"<item><title>Item {item} of feed {index}: {rng.choice(WORDS)} &amp; {rng.choice(WORDS)}</title>"
            f"<link>https://site{index}.example/{item}?utm_source=rss</link>"
            f'<guid isPermaLink="false">f{index}-i{item}</guid>'
            f"<pubDate>Tue, 10 Jun 2025 {item % 24:02d}:30:00 +0200</pubDate>"
            f"<description>{html}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def serve(feeds: int, port_queue: multiprocessing.Queue[int]) -> None:
    """Run the feed server until killed (in a child process)."""
    from aiohttp import web

    bodies = [make_feed(i) for i in range(feeds)]
    etags = [f'"{hashlib.sha1(b).hexdigest()[:16]}"' for b in bodies]

    async def handler(request: web.Request) -> web.Response:
        index = int(request.match_info["n"])
        if request.headers.get("If-None-Match") == etags[index]:
            return web.Response(status=304, headers={"ETag": etags[index]})
        return web.Response(
            body=bodies[index], headers={"ETag": etags[index], "Content-Type": "application/rss+xml"}
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def fetch_rounds(
    port: int, feeds: int, rounds: int, concurrency: int
) -> tuple[list[float], list[float]]:
    """Return per-round client CPU ms per fetch: (full 200 fetches, conditional 304 fetches)."""
    settings = FetchSettings(allow_private_addresses=True, concurrency=concurrency, per_host=concurrency)
    urls = [f"http://127.0.0.1:{port}/feed/{i}" for i in range(feeds)]
    full: list[float] = []
    conditional: list[float] = []
    async with Fetcher(settings, USER_AGENT) as fetcher:
        etags: list[str | None] = [None] * feeds
        for _ in range(rounds):
            start = time.process_time()
            results = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
            full.append((time.process_time() - start) * 1000 / feeds)
            etags = [r.etag for r in results]
        for _ in range(rounds):
            start = time.process_time()
            results = await asyncio.gather(
                *(fetcher.fetch(u, etag=e) for u, e in zip(urls, etags, strict=True))
            )
            conditional.append((time.process_time() - start) * 1000 / feeds)
            assert all(r.not_modified for r in results)
    return full, conditional


def per_call_ms(bodies: list[bytes], work: Callable[[bytes], object]) -> float:
    """Median CPU ms of `work` over the bodies."""
    samples = []
    for body in bodies:
        start = time.process_time()
        work(body)
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    ctx = multiprocessing.get_context("spawn")
    port_queue: multiprocessing.Queue[int] = ctx.Queue()
    server = ctx.Process(target=serve, args=(args.feeds, port_queue), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=30)
        full, conditional = asyncio.run(fetch_rounds(port, args.feeds, args.rounds, args.concurrency))
    finally:
        server.terminate()
        server.join(5)

    bodies = [make_feed(i) for i in range(args.feeds)]
    fetched_at = datetime.now(UTC)
    for body in bodies[:5]:  # warm caches and lazy imports before measuring
        fastfeedparser.parse(body)
        feedparser.parse(body)
        parse_feed(body, "https://warm.example/")

    def parse_and_normalize(body: bytes) -> None:
        parsed = parse_feed(body, "https://site.example/feed")
        for entry in parsed.entries:
            normalize_entry(
                entry, source="s", feed_id=1, feed_url="https://site.example/feed", fetched_at=fetched_at
            )

    rows = [
        ("conditional GET answered 304 (aiohttp, one session)", statistics.median(conditional)),
        ("full GET 200, ~60 KB body", statistics.median(full)),
        ("parse: fastfeedparser.parse", per_call_ms(bodies, fastfeedparser.parse)),
        ("parse: feedparser.parse", per_call_ms(bodies, feedparser.parse)),
        (
            "parse: bot.ingest parse_feed (guards + fastfeedparser)",
            per_call_ms(bodies, lambda b: parse_feed(b, "u")),
        ),
        ("parse_feed + normalize_entry x20", per_call_ms(bodies, parse_and_normalize)),
    ]
    size = statistics.median(len(b) for b in bodies)
    print(
        f"\n{args.feeds} feeds x 20 items (median body {size / 1024:.0f} KB), {args.rounds} rounds, "
        f"concurrency {args.concurrency}; client CPU per feed, median\n"
    )
    print("| step | CPU ms per feed |")
    print("|---|---:|")
    for label, value in rows:
        print(f"| {label} | {value:.3f} |")


if __name__ == "__main__":
    main()
