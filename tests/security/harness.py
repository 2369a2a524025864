"""The whole ingest pipeline on a temp SQLite store, fed by a real HTTP server on 127.0.0.1.

`pipeline_world(tmp_path)` yields a World: `world.serve(path, body, content_type)` publishes a feed,
`await world.poll(path)` runs Pipeline.poll on it and returns the PollReport. The fetcher keeps the network
guard on: only 127.0.0.1 is exempted, and DNS is a resolver that knows no name at all, so an article link
to any other host fails without leaving the machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot import USER_AGENT
from bot.alerts.matcher import SubscriptionMatcher
from bot.config import FetchSettings, Settings, StorageSettings
from bot.ingest.fetch import Fetcher
from bot.nlp.language import LanguageDetector
from bot.pipeline import Pipeline, PollReport
from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.store.sqlite import SQLiteStore
from tests.ingest.conftest import LocalServer, start_server

LOOPBACK = [ipaddress.ip_network("127.0.0.1/32")]
# Loading the language model costs about a second; hundreds of corpus polls share one detector.
_SHARED_LANGUAGE: list[LanguageDetector] = []


class NoDNS(AbstractResolver):
    """A resolver that resolves nothing: tests never reach the network beyond 127.0.0.1."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        raise OSError(f"no DNS in tests: {host}")

    async def close(self) -> None:
        pass


@dataclass
class World:
    store: SQLiteStore
    search: SearchService
    pipeline: Pipeline
    server: LocalServer
    resolver: NoDNS
    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def serve(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> str:
        """Publish `body` at `path` on the local server and return its URL."""
        self.bodies[path] = (body, content_type)

        async def handler(request: web.Request) -> web.Response:
            data, kind = self.bodies[path]
            return web.Response(body=data, headers={"Content-Type": kind})

        self.server.add(path, handler)
        return self.server.url(path)

    async def poll(self, path: str, name: str = "Corpus") -> PollReport:
        """Register the feed at `path` (once) and poll it through the whole pipeline."""
        url = self.server.url(path)
        feeds = {f.url: f for f in self.store.list_feeds()}
        if url not in feeds:
            self.store.sync_feeds([*((f.url, f.name, f.interval_s) for f in feeds.values()), (url, name, 60)])
            feeds = {f.url: f for f in self.store.list_feeds()}
        return await self.pipeline.poll(feeds[url])


def settings_for(db: Path, **fetch: object) -> Settings:
    """Return Settings for a pipeline on `db` with a guarded fetcher and small limits."""
    base: dict[str, object] = {"allow_private_addresses": False, "connect_timeout_s": 2.0, "total_timeout_s": 10.0}
    base.update(fetch)
    return Settings(storage=StorageSettings(path=str(db)), fetch=FetchSettings(**base))  # type: ignore[arg-type]


@asynccontextmanager
async def pipeline_world(tmp_path: Path, **fetch: object) -> AsyncIterator[World]:
    """Build store, in-memory index, guarded fetcher and pipeline; serve feeds from 127.0.0.1."""
    settings = settings_for(tmp_path / "veille.db", **fetch)
    store = SQLiteStore(settings.storage.path)
    index = SearchIndex.open(None)
    search = SearchService(store, index)
    server = LocalServer()
    runner = await start_server(server)
    resolver = NoDNS()
    try:
        async with Fetcher(settings.fetch, USER_AGENT, resolver=resolver, exempt_networks=LOOPBACK) as fetcher:
            pipeline = Pipeline(settings, store, fetcher, search, SubscriptionMatcher(store))
            if not _SHARED_LANGUAGE:
                _SHARED_LANGUAGE.append(pipeline.language)
            pipeline.language = _SHARED_LANGUAGE[0]
            yield World(store, search, pipeline, server, resolver)
    finally:
        await runner.cleanup()
        index.close()
        store.close()
