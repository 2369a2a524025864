"""Admin-only commands are refused to everyone else, on both platforms, through the real adapters.

Today no shipped command is admin-only (the /addfeed family will be), so the matrix runs on a test command,
`/purge`, injected with CommandSpec(admin_only=True) into the command list the adapters register and the
router checks. Roles come from the fakes the way the real services give them: Telegram getChatMember
statuses, Discord member permissions in the interaction. The same runs also check that a hostile reply
renders, is accepted by the fakes, and pings nobody.
"""

from __future__ import annotations

import re
import types
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import handlers.spec
from bot.config import parse_settings
from bot.messages import Reply, Request
from bot.platforms import discord_adapter
from bot.platforms.discord_adapter import DiscordAdapter
from bot.platforms.telegram_adapter import TelegramPlatform
from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.store.sqlite import SQLiteStore
from handlers.context import HandlerContext
from handlers.guard import CommandGuard
from handlers.router import Router
from handlers.spec import CommandSpec, OptionSpec
from tests.fakes.discord_server import PERM_MANAGE_GUILD, FakeDiscord
from tests.fakes.discord_spec import DiscordSpec, find_spec_path
from tests.fakes.telegram_server import FakeTelegram

PURGE = CommandSpec("purge", "Delete everything (test)", "Tout effacer (test)",
                    (OptionSpec("what", "What", "Quoi"),), admin_only=True)
HOSTILE = "Purged <b>&</b> @everyone <@1234567890> **x** `y` \u202e\u200b"
REFUSAL = "Only the chat's administrators can use /purge."


@pytest.fixture
async def router(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Router, list[Request]]]:
    ran: list[Request] = []

    async def handle(request: Request, ctx: HandlerContext) -> Reply:
        ran.append(request)
        return Reply(text=HOSTILE)

    monkeypatch.setitem(handlers.spec.COMMANDS_BY_NAME, "purge", PURGE)
    monkeypatch.setattr(discord_adapter, "COMMANDS", (*handlers.spec.COMMANDS, PURGE))
    store = SQLiteStore(tmp_path / "v.db")
    index = SearchIndex.open(None)
    ctx = HandlerContext(store=store, search=SearchService(store, index), settings=parse_settings({}))
    real = Router(ctx, CommandGuard(rate_limit=1000))
    real.modules["purge"] = types.SimpleNamespace(handle=handle)  # type: ignore[assignment]
    yield real, ran
    index.close()
    store.close()


TELEGRAM_MATRIX = [
    # (chat id, chat kind, member status or None for the chat's owner in private, allowed)
    (-100, "supergroup", "creator", True),
    (-100, "supergroup", "administrator", True),
    (-100, "supergroup", "member", False),
    (-100, "supergroup", "kicked", False),
    (-100, "supergroup", "left", False),
    (-200, "group", "administrator", True),
    (-200, "group", "member", False),
    (77, "private", None, True),
]


async def test_telegram_permission_matrix(router: tuple[Router, list[Request]]) -> None:
    real, ran = router
    fake = FakeTelegram()
    await fake.start()
    fake.limits.enabled = False
    bot = TelegramPlatform(fake.token, api_base_url=fake.base_url, poll_timeout_s=1, request_timeout_s=3.0)
    await bot.start(real)
    try:
        for n, (chat_id, kind, status, allowed) in enumerate(TELEGRAM_MATRIX):
            user = 1000 + n
            if chat_id not in fake.chats:
                fake.add_chat(chat_id, kind)
            if status is not None:
                fake.set_member(chat_id, user, status)
            user_id = chat_id if kind == "private" else user
            before = len(ran)
            since = len(fake.messages(chat_id))
            fake.send_command(chat_id, "/purge@veille_test_bot all", user_id=user_id)
            message = await fake.wait_for_message(chat_id, since=since, timeout=8)
            if allowed:
                assert len(ran) == before + 1 and ran[-1].is_admin, (kind, status)
                # Shown as text, not markup; "@name" carries a word joiner so Telegram makes no mention of it.
                shown = message.text.replace("\u2060", "")
                assert "@everyone" in shown and "<b>" in shown
                assert re.search(r"(?<!\w)@\w", message.text) is None
                assert not any(e["type"] == "bold" for e in message.entities)
            else:
                assert len(ran) == before, (kind, status)
                assert REFUSAL in message.text, (kind, status, message.text)
    finally:
        await bot.stop()
        await fake.stop()


DISCORD_MATRIX = [
    # (guild id or None for a DM, member permissions, allowed)
    ("400000000000000001", 0, False),
    ("400000000000000001", 1 << 13, False),  # Manage Messages is not enough
    ("400000000000000001", (1 << 10) | (1 << 11), False),  # View Channel + Send Messages
    ("400000000000000001", PERM_MANAGE_GUILD, True),
    ("400000000000000001", 1 << 3, True),  # Administrator
    (None, 0, True),  # a DM: the user runs their own conversation
]


async def test_discord_permission_matrix(
    router: tuple[Router, list[Request]], restore_discord_urls: None
) -> None:
    real, ran = router
    path = find_spec_path()
    fake = FakeDiscord(spec=DiscordSpec.load(path) if path else None)
    await fake.start()
    bot = DiscordAdapter(fake.token, api_base_url=fake.api_base, gateway_url=fake.gateway_url,
                         guild_ready_timeout_s=0.01, ready_timeout_s=10.0)
    await bot.start(real)
    try:
        assert any(c["name"] == "purge" for cmds in fake.commands.values() for c in cmds)
        for n, (guild, permissions, allowed) in enumerate(DISCORD_MATRIX):
            channel = str(600000000000000100 + n)
            fake.add_channel(channel, guild)
            before = len(ran)
            await fake.inject_command(channel, "purge", {"what": "all"}, guild_id=guild, permissions=permissions,
                                      user_id=str(500000000000000100 + n))
            message = await fake.wait_for_message(channel, timeout=8)
            if allowed:
                assert len(ran) == before + 1 and ran[-1].is_admin, (guild, permissions)
                assert "@everyone" in message.text()
                assert message.allowed_mentions == {"parse": []}
            else:
                assert len(ran) == before, (guild, permissions)
                assert REFUSAL in message.text(), (guild, permissions, message.text())
        assert not fake.spec_rejections
    finally:
        await bot.stop()
        await fake.stop()


@pytest.fixture
def restore_discord_urls() -> object:
    import discord

    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
