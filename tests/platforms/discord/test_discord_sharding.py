"""Discord sharding (issue 9): the config keys, the fake gateway's shard rules, and the real discord.py
clients (AutoShardedClient, or Client with one shard id) driven by DiscordAdapter against the fake."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import discord
import pytest
import yaml

from bot.config import ConfigError, parse_settings
from bot.messages import AlertMessage, Card, Reply
from bot.models import ChatRef
from bot.platforms.discord_adapter import DiscordAdapter, DiscordAdapterError, DiscordStartError, IdentifyGate
from tests.fakes.discord_server import FakeDiscord, FakeDiscordError
from tests.fakes.discord_spec import DiscordSpec
from tests.platforms.discord.conftest import RecordingRouter

# Discord routes a guild to shard (guild_id >> 22) % count. GUILD_0 >> 22 == 95367431640, so GUILD_0 is on
# shard 0 of 2 and of 3, GUILD_1 (the next value) on shard 1 of 2 and of 3, GUILD_2 on shard 0 of 2, 2 of 3.
GUILD_0 = "400000000000000001"
GUILD_1 = "400000000004194305"
GUILD_2 = "400000000008388609"
CHANNEL_0 = "600000000000000010"
CHANNEL_1 = "600000000000000011"
CHANNEL_2 = "600000000000000012"


def problems_of(data: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data)
    return caught.value.problems


# -- config ---------------------------------------------------------------------------------------


def test_shards_default_to_off_and_read_off_auto_and_numbers() -> None:
    assert (parse_settings({}).discord.shards, parse_settings({}).discord.shard_ids) == ("off", ())
    # A bare YAML `off` is the boolean false: it must still mean off.
    from_yaml = parse_settings(yaml.safe_load("discord:\n  shards: off\n"))
    assert from_yaml.discord.shards == "off"
    assert parse_settings({"discord": {"shards": "auto"}}).discord.shards == "auto"
    assert parse_settings({"discord": {"shards": "AUTO"}}).discord.shards == "auto"
    assert parse_settings({"discord": {"shards": "4"}}).discord.shards == 4
    settings = parse_settings(yaml.safe_load("discord:\n  shards: 4\n  shard_ids: [2, 0]\n"))
    assert (settings.discord.shards, settings.discord.shard_ids) == (4, (2, 0))


@pytest.mark.parametrize(
    ("discord_section", "expected"),
    [
        ({"shards": "many"}, "discord.shards: must be off, auto or a number of shards, not 'many'"),
        ({"shards": True}, "discord.shards: must be off, auto or a number of shards, not True"),
        ({"shards": 0}, "discord.shards: must be at least 1 (or off, or auto), not 0"),
        ({"shard_ids": [0]}, "discord.shard_ids: needs discord.shards set to the total number of shards (it is off)"),
        ({"shards": "auto", "shard_ids": [0]}, "discord.shard_ids: needs discord.shards set to the total number"),
        ({"shards": 2, "shard_ids": [2]}, "discord.shard_ids[0]: 2 is not a shard of 2: ids run 0..1"),
        ({"shards": 2, "shard_ids": [-1]}, "discord.shard_ids[0]: -1 is not a shard of 2"),
        ({"shards": 4, "shard_ids": [1, 3, 1]}, "discord.shard_ids[2]: shard 1 is listed twice"),
        ({"shards": 4, "shard_ids": ["1"]}, "discord.shard_ids[0]: must be a whole number, not '1'"),
        ({"shards": 4, "shard_ids": []}, "discord.shard_ids: must be a non-empty list of shard ids"),
        ({"shards": 4, "shard_ids": 1}, "discord.shard_ids: must be a non-empty list of shard ids"),
    ],
)
def test_bad_shard_settings_are_listed_with_their_path(discord_section: dict, expected: str) -> None:
    problems = problems_of({"discord": discord_section})
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_every_shard_problem_is_listed_at_once() -> None:
    problems = problems_of({"discord": {"shards": 3, "shard_ids": [5, 7]}, "storage": {"nope": 1}})
    assert sorted(problems) == [
        "discord.shard_ids[0]: 5 is not a shard of 3: ids run 0..2",
        "discord.shard_ids[1]: 7 is not a shard of 3: ids run 0..2",
        "storage.nope: unknown key",
    ]


def test_adapter_refuses_bad_shard_settings_too() -> None:
    with pytest.raises(DiscordAdapterError, match="must be off, auto or a number"):
        DiscordAdapter("t", shards="lots")
    with pytest.raises(DiscordAdapterError, match="needs discord.shards"):
        DiscordAdapter("t", shards="auto", shard_ids=[0])
    with pytest.raises(DiscordAdapterError, match=r"\[3\] are not shards of 3"):
        DiscordAdapter("t", shards=3, shard_ids=[0, 3])
    with pytest.raises(DiscordAdapterError, match="twice"):
        DiscordAdapter("t", shards=3, shard_ids=[1, 1])


# -- identify pacing --------------------------------------------------------------------------------


async def test_identify_gate_spaces_identifies_per_max_concurrency_bucket() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    gate = IdentifyGate(2, clock=lambda: now[0], sleep=sleep)
    for shard in (0, 1):  # buckets 0 and 1: both go at once
        await gate.wait(shard)
    assert slept == []
    now[0] += 1.0
    await gate.wait(2)  # bucket 0 again, 1 s after shard 0: waits the remaining 4 s
    await gate.wait(3)  # bucket 1, now 5 s after shard 1: no wait
    assert slept == [4.0]
    await gate.wait(None)  # an unsharded IDENTIFY counts as shard 0
    assert slept == [4.0, 5.0]


# -- the fake gateway's shard rules ------------------------------------------------------------------


async def _identify_raw(fake: FakeDiscord, shard: list[int] | None) -> tuple[int | None, list[dict]]:
    """IDENTIFY on the fake gateway with aiohttp; return the close code (None: still open) and frames."""
    frames: list[dict] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.gateway_url) as ws:
        frames.append(await ws.receive_json())  # HELLO
        data: dict = {"token": fake.token, "intents": 1, "properties": {}}
        if shard is not None:
            data["shard"] = shard
        await ws.send_json({"op": 2, "d": data})
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type == aiohttp.WSMsgType.TEXT:
                frames.append(json.loads(msg.data))
                if frames[-1]["t"] == "GUILD_CREATE" or (
                    frames[-1]["t"] == "READY" and not frames[-1]["d"]["guilds"]
                ):
                    return None, frames
            else:
                return ws.close_code, frames


async def test_fake_gateway_applies_discords_shard_rules(restore_discord_urls: None) -> None:
    fake = FakeDiscord(recommended_shards=3, min_shards=2, max_concurrency=16)
    await fake.start()
    fake.add_guild(GUILD_0)
    fake.add_guild(GUILD_1)
    fake.add_channel(CHANNEL_1, GUILD_1)
    try:
        async with aiohttp.ClientSession() as session, session.get(
            fake.api_base + "/gateway/bot", headers={"Authorization": f"Bot {fake.token}"}
        ) as response:
            body = await response.json()
        assert body["shards"] == 3 and body["session_start_limit"]["max_concurrency"] == 16
        assert (await _identify_raw(fake, [2, 2]))[0] == 4010  # shard id >= count: Invalid shard
        assert (await _identify_raw(fake, None))[0] == 4011  # one connection, fake wants 2: Sharding required
        assert (await _identify_raw(fake, [0, 1]))[0] == 4011
        code, frames = await _identify_raw(fake, [1, 2])
        assert code is None
        ready = frames[1]["d"]
        assert ready["shard"] == [1, 2] and ready["guilds"] == [{"id": GUILD_1, "unavailable": True}]
        assert frames[2]["t"] == "GUILD_CREATE" and frames[2]["d"]["id"] == GUILD_1
        assert [c["id"] for c in frames[2]["d"]["channels"]] == [CHANNEL_1]
        assert fake.gateway_closes == [([2, 2], 4010), (None, 4011), ([0, 1], 4011)]
    finally:
        await fake.stop()


# -- the adapter against the fake -------------------------------------------------------------------


@pytest.fixture
async def make_fake(
    discord_spec: DiscordSpec | None, restore_discord_urls: None
) -> AsyncIterator[Callable[..., FakeDiscord]]:
    """Build fakes with two guilds on different shards of 2 (each with one channel); stop them after."""
    fakes: list[FakeDiscord] = []

    def make(**options: object) -> FakeDiscord:
        options.setdefault("max_concurrency", 16)  # a large bot's value: shards identify together
        fake = FakeDiscord(spec=discord_spec, **options)  # type: ignore[arg-type]
        fake.add_guild(GUILD_0, "Shard zero guild")
        fake.add_guild(GUILD_1, "Shard one guild")
        fake.add_channel(CHANNEL_0, GUILD_0)
        fake.add_channel(CHANNEL_1, GUILD_1)
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        await fake.stop()


async def _start(
    fake: FakeDiscord, router: RecordingRouter, *, start_fake: bool = True, **options: object
) -> DiscordAdapter:
    if start_fake:
        await fake.start()
    bot = DiscordAdapter(
        options.pop("token", fake.token),  # type: ignore[arg-type]
        api_base_url=fake.api_base,
        gateway_url=fake.gateway_url,
        # discord.py waits this long after the last GUILD_CREATE of each shard; the fake sends them at once.
        guild_ready_timeout_s=0.05,
        ready_timeout_s=10.0,
        **options,  # type: ignore[arg-type]
    )
    await bot.start(router)
    return bot


def _card(title: str) -> Card:
    return Card(
        title=title,
        url="https://news.example/a/1",
        source="Le Monde",
        published=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        summary="A summary.",
    )


def _shards_identified(fake: FakeDiscord) -> list[list[int] | None]:
    return sorted((p.get("shard") for p in fake.identify_payloads), key=lambda s: s or [])


async def test_two_shards_identify_route_commands_and_deliver_alerts(
    make_fake: Callable[..., FakeDiscord], router: RecordingRouter, caplog: pytest.LogCaptureFixture
) -> None:
    fake = make_fake()
    caplog.set_level(logging.INFO, logger="bot.platforms.discord_adapter")
    bot = await _start(fake, router, shards=2)
    try:
        assert isinstance(bot._client, discord.AutoShardedClient)
        assert _shards_identified(fake) == [[0, 2], [1, 2]]
        assert fake.connected_shards() == [(0, 2), (1, 2)]
        assert (bot.shard_count, bot.running_shards) == (2, [0, 1])
        assert fake.identify_rate_violations == []
        ready_lines = sorted(r.getMessage() for r in caplog.records if " ready (" in r.getMessage())
        assert ready_lines == ["discord: shard 0/2 ready (1 guilds)", "discord: shard 1/2 ready (1 guilds)"]
        # discord.py saw each guild on the shard Discord routes it to.
        assert {g.id: g.shard_id for g in bot._client.guilds} == {int(GUILD_0): 0, int(GUILD_1): 1}

        router.replies["search"] = Reply(text="Broadcom results")
        first = await fake.inject_command(CHANNEL_0, "search", {"query": "broadcom"}, guild_id=GUILD_0)
        second = await fake.inject_command(CHANNEL_1, "search", {"query": "broadcom"}, guild_id=GUILD_1)
        assert (fake.interactions[first].shards, fake.interactions[second].shards) == ([0], [1])
        for channel in (CHANNEL_0, CHANNEL_1):
            answer = await fake.wait_for_message(channel)
            assert answer.content == "Broadcom results" and answer.interaction_id in (first, second)
        assert [(r.chat.chat_id, r.args) for r in router.requests] == [
            (CHANNEL_0, "broadcom"),
            (CHANNEL_1, "broadcom"),
        ]

        for channel in (CHANNEL_0, CHANNEL_1):
            alert = AlertMessage(ChatRef("discord", channel), _card(f"Alert for {channel}"), query="broadcom")
            message_id = await bot.send_alert(alert)
            assert fake.message(channel, message_id).embeds[0]["title"] == f"Alert for {channel}"
        assert not fake.spec_rejections
    finally:
        await bot.stop()


async def test_auto_uses_discords_recommended_count(
    make_fake: Callable[..., FakeDiscord], router: RecordingRouter
) -> None:
    fake = make_fake(recommended_shards=3)
    bot = await _start(fake, router, shards="auto")
    try:
        assert _shards_identified(fake) == [[0, 3], [1, 3], [2, 3]]
        assert (bot.shard_count, bot.running_shards) == (3, [0, 1, 2])
        # With 3 shards GUILD_2 is on shard 2: its commands arrive on that connection and are answered.
        fake.add_channel(CHANNEL_2, GUILD_2)
        interaction = await fake.inject_command(CHANNEL_2, "latest", {"n": 3}, guild_id=GUILD_2)
        assert fake.interactions[interaction].shards == [2]
        assert (await fake.wait_for_message(CHANNEL_2)).content == "latest: 3"
    finally:
        await bot.stop()


async def test_one_shard_id_runs_a_plain_client_for_that_shard_only(
    make_fake: Callable[..., FakeDiscord], router: RecordingRouter, caplog: pytest.LogCaptureFixture
) -> None:
    fake = make_fake()
    caplog.set_level(logging.INFO, logger="bot.platforms.discord_adapter")
    bot = await _start(fake, router, shards=2, shard_ids=[1])
    try:
        client = bot._client
        assert not isinstance(client, discord.AutoShardedClient)
        assert client is not None and (client.shard_id, client.shard_count) == (1, 2)
        assert _shards_identified(fake) == [[1, 2]]
        assert bot.running_shards == [1]
        assert any(r.getMessage() == "discord: shard 1/2 ready (1 guilds)" for r in caplog.records)
        await fake.inject_command(CHANNEL_1, "sources", guild_id=GUILD_1)
        assert (await fake.wait_for_message(CHANNEL_1)).content.startswith("sources:")
        # Shard 0 belongs to another process: Discord would send GUILD_0's interactions there, not here.
        with pytest.raises(FakeDiscordError, match="no gateway connection carries the shard"):
            await fake.inject_command(CHANNEL_0, "sources", guild_id=GUILD_0)
        # Alerts go over REST: this process delivers to a guild on the other shard as well.
        assert await bot.send_alert(AlertMessage(ChatRef("discord", CHANNEL_0), _card("Any shard")))
        assert fake.transcript(CHANNEL_0)[-1].embeds[0]["title"] == "Any shard"
    finally:
        await bot.stop()


async def test_a_slice_of_shards_runs_only_those_shards(
    make_fake: Callable[..., FakeDiscord], router: RecordingRouter
) -> None:
    fake = make_fake()
    bot = await _start(fake, router, shards=4, shard_ids=[3, 1])
    try:
        assert isinstance(bot._client, discord.AutoShardedClient)
        assert _shards_identified(fake) == [[1, 4], [3, 4]]
        assert bot.running_shards == [1, 3]
    finally:
        await bot.stop()


async def test_sharding_required_says_to_set_discord_shards(
    make_fake: Callable[..., FakeDiscord], router: RecordingRouter
) -> None:
    fake = make_fake(min_shards=2)
    with pytest.raises(DiscordStartError) as caught:
        await _start(fake, router)  # shards: off
    message = str(caught.value)
    assert message.startswith("discord gateway: Discord requires sharding for this bot (gateway close 4011")
    assert "set discord.shards: auto" in message
    assert fake.gateway_closes == [(None, 4011)]
    # The operator follows the advice: the same Discord accepts the bot with shards: auto.
    fake.recommended_shards = 2
    bot = await _start(fake, router, start_fake=False, shards="auto")
    try:
        assert bot.running_shards == [0, 1]
    finally:
        await bot.stop()


async def test_too_few_shards_and_bad_token_are_clear_start_errors(
    make_fake: Callable[..., FakeDiscord], router: RecordingRouter
) -> None:
    fake = make_fake(min_shards=4)
    with pytest.raises(DiscordStartError, match="4011 Sharding required"):
        await _start(fake, router, shards=2)
    other = make_fake()
    with pytest.raises(DiscordStartError, match="discord login: the token was refused"):
        await _start(other, router, shards=2, token="wrong-token")


async def test_spent_session_start_limit_is_refused_before_connecting(
    make_fake: Callable[..., FakeDiscord], router: RecordingRouter
) -> None:
    fake = make_fake()
    fake.session_start_remaining = 1
    with pytest.raises(DiscordStartError, match=r"session start limit is spent \(1 left of 1000, 2 needed\)"):
        await _start(fake, router, shards=2)
    assert fake.identify_payloads == []


async def test_veille_run_explains_sharding_required_in_one_line(
    make_fake: Callable[..., FakeDiscord], tmp_path: Path
) -> None:
    """The operator of a bot Discord wants sharded sees what to change, not a traceback."""
    fake = make_fake(min_shards=2)
    await fake.start()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"path": str(tmp_path / "veille.db")},
                "discord": {"api_base_url": fake.api_base, "gateway_url": fake.gateway_url},
                "console": {"enabled": False},
            }
        )
    )
    env = {**os.environ, "DISCORD_BOT_TOKEN": fake.token}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), "run",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = (out + err).decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text
    assert "Discord requires sharding for this bot (gateway close 4011" in text
    assert "set discord.shards: auto (or a number of shards) in the config" in text
