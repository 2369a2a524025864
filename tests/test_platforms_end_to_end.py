"""The whole bot on both platforms at once: real feeds on 127.0.0.1, the real App, the real
python-telegram-bot and discord.py clients talking to the fake services.

What a user sees is checked on the fakes' side: `/search broadcom` answered in a Telegram group and as a
Discord slash command; the feed backlog not alerted; a new matching article alerted once to each chat;
and a hostile title rendered safely (accepted by the fakes' strict checks, nobody pinged).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
from aiohttp import web

from bot.app import App
from bot.config import parse_settings
from bot.demo_site.server import DemoSite
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_spec import DiscordSpec, find_spec_path
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_spec import SpecError, TelegramSpec
from tests.ingest.conftest import LocalServer, start_server

TG_GROUP = -1001234
DC_CHANNEL = "600000000000000001"
DC_GUILD = "400000000000000001"
HOSTILE_TITLE = "<b>Broadcom</b> & *NVDA* _x_ @everyone <@123> `code` " + "A" * 5000


def hostile_feed(items: list[str]) -> str:
    entries = "".join(
        f"<item><title><![CDATA[{title}]]></title><link>http://127.0.0.1/hostile/{n}</link><guid>h{n}</guid>"
        f"<description><![CDATA[{title} Broadcom announced a new switch chip &lt;today&gt; for AI clusters.]]>"
        "</description></item>"
        for n, title in enumerate(items)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>{entries}</channel></rss>'


@dataclass
class World:
    app: App
    site: DemoSite
    telegram: FakeTelegram
    discord: FakeDiscord
    hostile_items: list[str]


def _telegram_spec() -> TelegramSpec | None:
    try:
        return TelegramSpec.load()
    except SpecError:
        return None  # the fake still enforces limits and HTML; only the schema check is off


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    saved_urls = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    spec_path = find_spec_path()
    telegram = FakeTelegram(spec=_telegram_spec())
    fake_discord = FakeDiscord(spec=DiscordSpec.load(spec_path) if spec_path else None)
    hostile_items: list[str] = []

    async def serve_hostile(request: web.Request) -> web.Response:
        return web.Response(text=hostile_feed(hostile_items), content_type="application/rss+xml")

    hostile = LocalServer()
    hostile.add("/hostile.xml", serve_hostile)
    runner = await start_server(hostile)
    await telegram.start()
    await fake_discord.start()
    telegram.add_chat(TG_GROUP, "supergroup", title="AI chips desk")
    fake_discord.add_channel(DC_CHANNEL, DC_GUILD)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram.token)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", fake_discord.token)
    try:
        async with DemoSite() as site:
            settings = parse_settings(
                {
                    "storage": {"path": str(tmp_path / "veille.db")},
                    "fetch": {"allow_private_addresses": True, "timeout": 5},
                    "feeds": [{"url": f.url, "name": f.name, "interval": "1s"} for f in site.feeds()]
                    + [{"url": hostile.url("/hostile.xml"), "name": "Hostile <Wire> & @everyone", "interval": "1s"}],
                    "subscriptions": [
                        {"chat": f"telegram:{TG_GROUP}", "query": "broadcom"},
                        {"chat": f"discord:{DC_CHANNEL}", "query": "broadcom"},
                    ],
                    "entities": {"Broadcom": ["Broadcom", "AVGO"]},
                    "telegram": {"api_base_url": telegram.base_url},
                    "discord": {"api_base_url": fake_discord.api_base, "gateway_url": fake_discord.gateway_url},
                    "console": {"enabled": False},
                }
            )
            async with App(settings) as app:
                stop = asyncio.Event()
                said: list[str] = []
                running = asyncio.create_task(app.run(stop, announce=said.append))
                # Wait for the first poll of every feed: the backlog is stored, and primed feeds alert.
                for _ in range(200):
                    feeds = app.store.list_feeds()
                    if feeds and all(f.primed for f in feeds):
                        break
                    await asyncio.sleep(0.05)
                assert any(line.startswith("telegram: started") for line in said), said
                assert any(line.startswith("discord: started") for line in said), said
                yield World(app, site, telegram, fake_discord, hostile_items)
                stop.set()
                await asyncio.wait_for(running, 15)
    finally:
        await fake_discord.stop()
        await telegram.stop()
        await runner.cleanup()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved_urls


def _embed_text(message: object) -> str:
    embeds = getattr(message, "embeds", [])
    return " ".join(f"{e.get('title', '')} {e.get('description', '')}" for e in embeds) + getattr(
        message, "content", ""
    )


def _is_alert(message: object) -> bool:
    """Tell a Discord alert (its footer names the matched subscription) from a command's reply."""
    return any("Alert: " in e.get("footer", {}).get("text", "") for e in getattr(message, "embeds", []))


async def test_search_alerts_and_hostile_titles_on_both_platforms(world: World) -> None:
    # /search in a Telegram group, typed as a user would.
    world.telegram.send_command(TG_GROUP, "/search broadcom")
    reply = await world.telegram.wait_for_message(
        TG_GROUP, predicate=lambda m: "broadcom" in m.text.lower(), timeout=15
    )
    assert "OpenAI" in reply.text or "Broadcom" in reply.text
    assert reply.link_preview_disabled

    # The same as a Discord slash command.
    await world.discord.inject_command(DC_CHANNEL, "search", {"query": "broadcom"})
    answer = await world.discord.wait_for_message(
        DC_CHANNEL, predicate=lambda m: "broadcom" in _embed_text(m).lower(), timeout=15
    )
    assert answer.embeds, "search results are embeds"

    # The backlog was stored and searched, but nothing was alerted.
    assert not [m for m in world.telegram.messages(TG_GROUP) if m.text.startswith("🔔")]

    # New articles appear on the site: the Broadcom one is alerted once to each chat.
    world.site.release_all()
    later_broadcom = [
        a for a in world.site.articles if not a.in_backlog and "broadcom" in (a.title + a.text).lower()
    ]
    assert later_broadcom, "the demo content has a Broadcom story arriving later"
    alert = await world.telegram.wait_for_message(TG_GROUP, predicate=lambda m: m.text.startswith("🔔"), timeout=30)
    assert "broadcom" in alert.text.lower()
    discord_alert = await world.discord.wait_for_message(DC_CHANNEL, predicate=_is_alert, timeout=30)
    assert "broadcom" in _embed_text(discord_alert).lower()

    # A hostile title arrives on a feed that is already primed.
    world.hostile_items.append(HOSTILE_TITLE)
    hostile_tg = await world.telegram.wait_for_message(
        TG_GROUP, predicate=lambda m: "everyone" in m.text and "AAAA" in m.text, timeout=30
    )
    # Feed markup is stripped from titles at ingest; what remains is shown literally, never interpreted.
    shown = hostile_tg.text.replace("\u2060", "")  # the word joiner that keeps "@name" from being a mention
    assert "Broadcom & *NVDA* _x_ @everyone <@123> `code`" in shown
    assert "@everyone" not in hostile_tg.text
    # Only the formatting the renderer chose: no code, mention or other entity smuggled in by the title.
    assert {e["type"] for e in hostile_tg.entities} <= {"bold", "italic", "text_link", "url"}
    assert len(hostile_tg.text) <= 4096
    hostile_dc = await world.discord.wait_for_message(
        DC_CHANNEL, predicate=lambda m: "AAAA" in _embed_text(m), timeout=30
    )
    for embed in hostile_dc.embeds:
        assert len(embed.get("title", "")) <= 256
    assert hostile_dc.allowed_mentions is not None and hostile_dc.allowed_mentions.get("parse") == []

    # Every story was alerted at most once per chat: more sources edit, they do not repost.
    tg_alerts = [m.text.split("\n")[1] for m in world.telegram.messages(TG_GROUP) if m.text.startswith("🔔")]
    assert len(tg_alerts) == len(set(tg_alerts))
    for _ in range(300):
        if world.app.store.count_pending_alerts() == 0:
            break
        await asyncio.sleep(0.1)
    assert world.app.store.count_pending_alerts() == 0, "every queued alert was delivered"
