"""Search gives the same answers on PostgreSQL as on SQLite, from the ingesting process and from another worker.

The bundled demo site is ingested twice, feed by feed in the same order (so ids and stories are the same):
once by an App on SQLite, once by an App on PostgreSQL. A second worker's own index, fed only by following
the shared store (IndexFollower), must answer like both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import parse_settings
from bot.demo_site.server import DemoSite
from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.workers import IndexFollower
from tests.store.pg import pg_schema_url

pytest.importorskip("psycopg")

START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

QUERIES = [
    "broadcom",
    '"custom asic"',
    "nvidia OR broadcom",
    "puce -nvidia",
    "lang:fr",
    "entity:broadcom",
    "semicon*",
    "openai since:2020-01-01",
    "brodcom",  # a typo: the same "did you mean" on both
]


def settings_for(site: DemoSite, tmp_path: Path, name: str, url: str | None = None) -> Any:
    storage: dict[str, Any] = {"path": str(tmp_path / f"{name}.db")}
    if url:
        storage["url"] = url
    return parse_settings({
        "storage": storage,
        "fetch": {"allow_private_addresses": True, "timeout": 5},
        "feeds": [{"url": f.url, "name": f.name, "interval": "10m"} for f in site.feeds()],
        "entities": {"Broadcom": ["Broadcom", "AVGO"], "Nvidia": ["Nvidia", "NVDA"]},
        "console": {"enabled": False},
    })


async def ingest_in_order(app: App) -> int:
    stored = 0
    for feed in sorted(await app.active_feeds(), key=lambda f: f.url):
        stored += len((await app.pipeline.poll(feed)).new)
    return stored


def answers(search: SearchService, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for query in QUERIES:
        found = search.search(query, limit=10, now=now)
        page = search.search_stories(query, page_size=5, now=now)
        out[query] = {
            "total": found.total,
            "hits": [(h.article.url, round(h.score, 4)) for h in found.hits],
            "suggestion": found.suggestion,
            "stories": [(s.hit.article.url, s.matched) for s in page.stories],
            "story_count": page.story_count,
        }
    return out


async def test_postgresql_and_a_following_worker_answer_like_sqlite(tmp_path: Path) -> None:
    # A still clock: both ingests see the same publication dates, so rankings can be compared to the score.
    now = START + timedelta(days=1)
    async with DemoSite(clock=lambda: 0.0, start_time=START) as site:
        site.release_all()
        async with App(settings_for(site, tmp_path, "lite")) as lite:
            stored = await ingest_in_order(lite)
            expected = answers(lite.search, now)
        with pg_schema_url() as url:
            async with App(settings_for(site, tmp_path, "pg", url)) as pg:
                assert await ingest_in_order(pg) == stored > 30
                assert answers(pg.search, now) == expected
                # Another worker: its own index, built only by following the shared store.
                other = SearchService(pg.store, SearchIndex.open(tmp_path / "other.index"))
                IndexFollower(pg.store, other, start_after=0).sync()
                assert answers(other, now) == expected
    assert expected["broadcom"]["total"] > 0 and (expected["brodcom"]["suggestion"] or "").lower() == "broadcom"
