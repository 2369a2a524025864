"""Operations through the real app: metrics and health after a poll, retention with the index in step,
the admin commands (/addfeed with discovery and preview, /removefeed, /export, /stats) and OPML on the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.cli import main
from bot.config import parse_settings
from bot.messages import Request
from bot.models import ChatRef
from bot.opml import parse_opml
from tests.ingest.conftest import LocalServer, start_server
from tests.scheduler.test_feed_health import rss

CHAT = ChatRef("telegram", "42")


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    local = LocalServer()

    async def feed(request: web.Request) -> web.Response:
        return web.Response(text=rss([1, 2, 3]), content_type="application/rss+xml")

    async def other(request: web.Request) -> web.Response:
        return web.Response(text=rss([11, 12]).replace("Flaky", "Le Silicium"), content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        html = '<html><head><link rel="alternate" type="application/rss+xml" href="/other.xml"></head><body/></html>'
        return web.Response(text=html, content_type="text/html")

    local.add("/feed", feed)
    local.add("/other.xml", other)
    local.add("/site", page)
    runner = await start_server(local)
    yield local
    await runner.cleanup()


def settings_for(tmp_path: Path, server: LocalServer, **extra: object) -> dict[str, object]:
    return {
        "storage": {"path": str(tmp_path / "veille.db")},
        "fetch": {"allow_private_addresses": True, "fetch_full_text": False},
        "feeds": [{"url": server.url("/feed"), "name": "Main", "interval": "10m"}],
        "console": {"enabled": False},
        **extra,
    }


async def test_the_app_serves_valid_prometheus_text_and_health_after_a_poll(
    tmp_path: Path, server: LocalServer
) -> None:
    settings = parse_settings(settings_for(tmp_path, server, metrics={"enabled": True, "port": 0}))
    stop = asyncio.Event()
    async with App(settings) as app:
        running = asyncio.create_task(app.run(stop, announce=lambda line: None))
        try:
            text = ""
            async with aiohttp.ClientSession() as http:
                for _ in range(200):  # until the first poll is counted (a few hundred ms)
                    await asyncio.sleep(0.05)
                    if app.metrics_server is None:
                        continue
                    base = f"http://127.0.0.1:{app.metrics_server.port}"
                    async with http.get(base + "/metrics") as response:
                        text = await response.text()
                    if 'veille_feed_fetches_total{outcome="ok"} 1.0' in text:
                        break
                await app.refresh_gauges()
                async with http.get(base + "/metrics") as response:
                    assert response.status == 200
                    text = await response.text()
                async with http.get(base + "/healthz") as response:
                    health = await response.json()
                    assert response.status == 200, health
        finally:
            stop.set()
            await running
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("veille_feed_fetches_total", (("outcome", "ok"),))] == 1
    assert samples[("veille_articles_stored_total", ())] == 3
    assert samples[("veille_poll_seconds_count", ())] == 1
    assert samples[("veille_feeds", ())] == 1
    assert ("veille_alerts_pending", ()) in samples
    assert health["status"] == "ok" and health["store"] == "ok" and health["scheduler"] == "running"


async def test_health_is_unhealthy_when_the_scheduler_is_not_running(tmp_path: Path, server: LocalServer) -> None:
    async with App(parse_settings(settings_for(tmp_path, server))) as app:
        report = app.health()
    assert report["ok"] is False and report["store"] == "ok"


async def test_retention_deletes_old_articles_from_store_and_index(tmp_path: Path, server: LocalServer) -> None:
    from datetime import UTC, datetime, timedelta

    settings = parse_settings(settings_for(tmp_path, server, storage={"path": str(tmp_path / "v.db"),
                                                                       "retention_days": 30}))
    async with App(settings) as app:
        await app.ingest_once()
        assert app.store.count_articles() == 3
        assert app.search.search("chips", limit=10, offset=0, now=datetime.now(UTC)).hits
        assert await app.apply_retention() == 0  # nothing is 30 days old yet
        assert await app.apply_retention(now=datetime.now(UTC) + timedelta(days=31)) == 3
        assert app.store.count_articles() == 0 and app.store.count_stories() == 0
        assert not app.search.search("chips", limit=10, offset=0, now=datetime.now(UTC)).hits
        await app.maintain()


async def ask(app: App, command: str, args: str = "", admin: bool = True):  # type: ignore[no-untyped-def]
    return await app.router.dispatch(Request(chat=CHAT, user_id="7", command=command, args=args, is_admin=admin))


async def test_addfeed_discovers_previews_confirms_and_removefeed_removes(tmp_path: Path, server: LocalServer) -> None:
    async with App(parse_settings(settings_for(tmp_path, server))) as app:
        refused = await ask(app, "addfeed", server.url("/site"), admin=False)
        assert refused.is_error and "administrators" in refused.text
        preview = await ask(app, "addfeed", server.url("/site"))
        assert not preview.is_error, preview.text
        assert "Le Silicium" in preview.text and server.url("/other.xml") in preview.text
        assert preview.cards and "Story number 1" in preview.cards[0].title  # the latest item, by date
        assert app.store.get_feed_by_url(server.url("/other.xml")) is None  # nothing saved before confirming
        (button,) = preview.buttons
        added = await ask(app, button.command, button.args)
        assert "Added" in added.text
        feed = app.store.get_feed_by_url(server.url("/other.xml"))
        assert feed is not None and app.store.feed_states()[feed.id].origin == f"chat:{CHAT}"
        assert "already" in (await ask(app, "addfeed", server.url("/other.xml"))).text

        for bad, expected in (("", "Usage"), ("ftp://x", "not an http"), (server.url("/missing"), "could not fetch")):
            reply = await ask(app, "addfeed", bad)
            assert reply.is_error and expected in reply.text, reply.text

        config_feed = await ask(app, "removefeed", "Main")
        assert config_feed.is_error and "configuration" in config_feed.text
        assert "Removed" in (await ask(app, "removefeed", '"Le Silicium"')).text
        assert app.store.get_feed_by_url(server.url("/other.xml")) is None
        assert (await ask(app, "removefeed", "99")).is_error


async def test_addfeed_refuses_private_addresses_by_default(tmp_path: Path, server: LocalServer) -> None:
    config = settings_for(tmp_path, server)
    config["fetch"] = {"allow_private_addresses": False}
    async with App(parse_settings(config)) as app:
        reply = await ask(app, "addfeed", server.url("/feed"))
    assert reply.is_error and "could not fetch" in reply.text and "Traceback" not in reply.text


async def test_export_sends_opml_and_stats_counts(tmp_path: Path, server: LocalServer) -> None:
    async with App(parse_settings(settings_for(tmp_path, server))) as app:
        await app.ingest_once()
        app.store.add_feed(server.url("/other.xml"), "Le Silicium", 600, "opml")
        exported = await ask(app, "export", admin=False)
        assert exported.document is not None and exported.document[0].endswith(".opml")
        urls = {f.url for f in parse_opml(exported.document[1]).feeds}
        assert urls == {server.url("/feed"), server.url("/other.xml")}
        stats = (await ask(app, "stats", admin=False)).text
        assert "Feeds: 2 (0 failing)" in stats and "Articles: 3" in stats and "Alerts sent today: 0" in stats
        sources = (await ask(app, "sources", admin=False)).text
        assert "Main" in sources


def test_cli_imports_opml_with_a_progress_bar_and_exports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"storage": {"path": str(tmp_path / "veille.db")},
                                      "feeds": [{"url": "https://configured.example/feed", "name": "Configured"}]}))
    opml = tmp_path / "in.opml"
    opml.write_bytes(
        b'<?xml version="1.0" encoding="ISO-8859-1"?><opml version="1.0"><head><title>Mine</title></head><body>'
        b'<outline text="Tech"><outline text="Caf\xe9 Tech" xmlUrl="https://cafe.example/rss"/>'
        b'<outline xmlUrl="https://notitle.example/feed"/></outline>'
        b'<outline text="Bad" xmlUrl="javascript:alert(1)"/>'
        b'<outline text="Again" xmlUrl="https://cafe.example/rss"/></body></opml>'
    )
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 0
    captured = capsys.readouterr()
    assert "2 feeds added, 2 skipped" in captured.out
    assert "import: 100% (2/2)" in captured.err and "not an http(s) feed URL" in captured.err
    assert "listed twice" in captured.err
    assert main(["--config", str(config), "feeds", "import", str(opml)]) == 0
    assert "0 feeds added, 4 skipped" in capsys.readouterr().out

    out = tmp_path / "out.opml"
    assert main(["--config", str(config), "feeds", "export", "--out", str(out)]) == 0
    exported = parse_opml(out.read_bytes())
    assert {(f.title, f.url) for f in exported.feeds} == {
        ("Configured", "https://configured.example/feed"), ("Café Tech", "https://cafe.example/rss"),
        ("notitle.example", "https://notitle.example/feed"),
    }
    assert main(["--config", str(config), "feeds", "import", str(tmp_path / "nope.opml")]) == 2
    (tmp_path / "bad.opml").write_text("<html>not opml</html>")
    assert main(["--config", str(config), "feeds", "import", str(tmp_path / "bad.opml")]) == 2
    assert "not OPML" in capsys.readouterr().err
