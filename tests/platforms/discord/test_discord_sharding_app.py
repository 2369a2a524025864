"""The whole bot with `discord.shards: 2`: the real App, router, pipeline and sender, with the real
discord.py AutoShardedClient against the fake Discord, two guilds on different shards.

Checked on the fake's side: both shards identify, `/search broadcom` typed in a guild on shard 0 and in one
on shard 1 arrives on that shard's connection and is answered from the archive, and a new Broadcom story
is alerted once to a subscribed channel in each guild.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App
from bot.config import parse_settings
from bot.demo_site.server import DemoSite
from tests.fakes.discord_server import FakeDiscord, FakeMessage
from tests.fakes.discord_spec import DiscordSpec
from tests.platforms.discord.test_discord_sharding import CHANNEL_0, CHANNEL_1, GUILD_0, GUILD_1


def _text(message: FakeMessage) -> str:
    return message.text().lower()


def _is_alert(message: FakeMessage) -> bool:
    # An alert's footer names the subscription that matched; a command's answer has none.
    return any("Alert: " in (e.get("footer") or {}).get("text", "") for e in message.embeds)


@pytest.fixture
async def sharded_app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    discord_spec: DiscordSpec | None,
    restore_discord_urls: None,
) -> AsyncIterator[tuple[App, DemoSite, FakeDiscord, list[str]]]:
    fake = FakeDiscord(spec=discord_spec, max_concurrency=16, min_shards=2)
    await fake.start()
    fake.add_guild(GUILD_0)
    fake.add_guild(GUILD_1)
    fake.add_channel(CHANNEL_0, GUILD_0)
    fake.add_channel(CHANNEL_1, GUILD_1)
    monkeypatch.setenv("DISCORD_BOT_TOKEN", fake.token)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    try:
        async with DemoSite() as site:
            settings = parse_settings(
                {
                    "storage": {"path": str(tmp_path / "veille.db")},
                    "fetch": {"allow_private_addresses": True, "timeout": 5},
                    # Two outlets are enough (both carry Broadcom news) and keep the backlog's first poll short.
                    "feeds": [
                        {"url": f.url, "name": f.name, "interval": "1s"}
                        for f in site.feeds()
                        if "/ledger/" in f.url or "/relay/" in f.url
                    ],
                    "subscriptions": [
                        {"chat": f"discord:{CHANNEL_0}", "query": "broadcom"},
                        {"chat": f"discord:{CHANNEL_1}", "query": "broadcom"},
                    ],
                    "discord": {"api_base_url": fake.api_base, "gateway_url": fake.gateway_url, "shards": 2},
                    "console": {"enabled": False},
                }
            )
            async with App(settings) as app:
                stop = asyncio.Event()
                said: list[str] = []
                running = asyncio.create_task(app.run(stop, announce=said.append))
                for _ in range(200):
                    feeds = app.store.list_feeds()
                    if feeds and all(f.primed for f in feeds):
                        break
                    await asyncio.sleep(0.05)
                yield app, site, fake, said
                stop.set()
                await asyncio.wait_for(running, 15)
    finally:
        await fake.stop()


async def test_search_and_alerts_reach_guilds_on_both_shards(
    sharded_app: tuple[App, DemoSite, FakeDiscord, list[str]],
) -> None:
    app, site, fake, said = sharded_app
    assert any(line.startswith("discord: started") for line in said), said
    # The fake refuses a single connection (min_shards=2): both shards identified, each with its own guild.
    assert sorted(p["shard"] for p in fake.identify_payloads) == [[0, 2], [1, 2]]

    for channel, guild, shard in ((CHANNEL_0, GUILD_0, 0), (CHANNEL_1, GUILD_1, 1)):
        interaction = await fake.inject_command(channel, "search", {"query": "broadcom"}, guild_id=guild)
        assert fake.interactions[interaction].shards == [shard]
        answer = await fake.wait_for_message(channel, lambda m: "broadcom" in _text(m), timeout=15)
        assert answer.interaction_id == interaction and answer.embeds, "search results are embeds"

    # The backlog is searchable but not alerted; the later Broadcom story is alerted once in each guild.
    assert not [m for c in (CHANNEL_0, CHANNEL_1) for m in fake.transcript(c) if _is_alert(m)]
    site.release_all()
    for channel in (CHANNEL_0, CHANNEL_1):
        alert = await fake.wait_for_message(channel, _is_alert, timeout=30)
        assert "broadcom" in _text(alert)
    for _ in range(300):
        if app.store.count_pending_alerts() == 0:
            break
        await asyncio.sleep(0.1)
    assert app.store.count_pending_alerts() == 0, "every queued alert was delivered"
    for channel in (CHANNEL_0, CHANNEL_1):
        titles = [m.embeds[0].get("title") for m in fake.transcript(channel) if _is_alert(m)]
        assert titles and len(titles) == len(set(titles)), "one alert per story per channel"
    assert not fake.spec_rejections
