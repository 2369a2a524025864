"""allowed_chats and the per-user command rate limit, through the real Router with a real store and index."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import ConfigError, parse_settings
from bot.messages import Request
from bot.models import ChatRef
from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.store.sqlite import SQLiteStore
from handlers.context import HandlerContext
from handlers.guard import CommandGuard, is_silent
from handlers.router import Router

GROUP = ChatRef("telegram", "-100")
OTHER = ChatRef("telegram", "-200")


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[HandlerContext]:
    store = SQLiteStore(tmp_path / "v.db")
    index = SearchIndex.open(None)
    yield HandlerContext(store=store, search=SearchService(store, index), settings=parse_settings({}))
    index.close()
    store.close()


def req(command: str = "help", *, chat: ChatRef = GROUP, user: str = "7", args: str = "") -> Request:
    return Request(chat=chat, user_id=user, command=command, args=args)


def test_config_reads_allowed_chats_and_command_limits() -> None:
    settings = parse_settings(
        {"allowed_chats": ["telegram:-100", "discord:42"], "commands": {"rate_limit": 3, "rate_window": "1m"}}
    )
    assert settings.allowed_chats == (GROUP, ChatRef("discord", "42"))
    assert (settings.commands.rate_limit, settings.commands.rate_window_s) == (3, 60)
    defaults = parse_settings({})
    assert defaults.allowed_chats == () and defaults.commands.rate_limit == 10
    assert defaults.commands.rate_window_s == 30


def test_config_lists_every_bad_guard_key() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(
            {"allowed_chats": ["nonsense", "irc:1", True], "commands": {"rate_limit": 0, "rate_window": "soon", "x": 1}}
        )
    problems = err.value.problems
    assert any(p.startswith("allowed_chats[0]:") for p in problems)
    assert any(p.startswith("allowed_chats[1]:") for p in problems)
    assert any(p.startswith("allowed_chats[2]:") for p in problems)
    assert any(p.startswith("commands.rate_limit:") for p in problems)
    assert any(p.startswith("commands.rate_window:") for p in problems)
    assert "commands.x: unknown key" in problems
    with pytest.raises(ConfigError, match="allowed_chats: must be a list"):
        parse_settings({"allowed_chats": "telegram:-100"})


async def test_rate_limit_refuses_politely_once_per_window(ctx: HandlerContext) -> None:
    clock = Clock()
    router = Router(ctx, CommandGuard(rate_limit=3, rate_window_s=30, clock=clock))
    for _ in range(3):
        reply = await router.dispatch(req())
        assert not reply.is_error and "/search" in reply.text
    refused = await router.dispatch(req())
    assert refused.is_error and not is_silent(refused)
    assert "too fast" in refused.text and "3 in 30 s" in refused.text and "wait 30 s" in refused.text
    # Told once: further attempts in the same window get no answer at all.
    for _ in range(5):
        assert is_silent(await router.dispatch(req("search", args="x")))
    # Another user, and the same user elsewhere on another platform, are not affected.
    assert not (await router.dispatch(req(user="8"))).is_error
    assert not (await router.dispatch(req(chat=ChatRef("discord", "5")))).is_error
    clock.now += 30.5
    assert not (await router.dispatch(req())).is_error


async def test_rate_limit_message_in_french_and_window_slides(ctx: HandlerContext) -> None:
    clock = Clock()
    guard = CommandGuard(rate_limit=2, rate_window_s=60, clock=clock)
    router = Router(ctx, guard)
    ctx.store.set_chat_lang(GROUP, "fr")
    await router.dispatch(req())
    clock.now += 40
    await router.dispatch(req())
    refused = await router.dispatch(req())
    assert "trop vite" in refused.text and "2 en 1 min" in refused.text and "20 s" in refused.text
    clock.now += 21  # the first command left the window: one slot is free again
    assert not (await router.dispatch(req())).is_error
    again = await router.dispatch(req())  # a new refusal after the last warning expired: told again
    assert again.is_error and "39 s" in again.text
    assert is_silent(await router.dispatch(req()))


async def test_unknown_commands_count_too(ctx: HandlerContext) -> None:
    router = Router(ctx, CommandGuard(rate_limit=2, rate_window_s=30, clock=Clock()))
    await router.dispatch(req("nope"))
    await router.dispatch(req("nope2"))
    assert "too fast" in (await router.dispatch(req("help"))).text


async def test_console_is_never_throttled_nor_refused(ctx: HandlerContext) -> None:
    router = Router(ctx, CommandGuard(allowed_chats=[GROUP], rate_limit=1, clock=Clock()))
    for _ in range(5):
        assert not (await router.dispatch(req(chat=ChatRef("console", "local")))).is_error


async def test_allowed_chats_silences_other_chats_and_logs_once(
    ctx: HandlerContext, caplog: pytest.LogCaptureFixture
) -> None:
    router = Router(ctx, CommandGuard(allowed_chats=[GROUP], clock=Clock()))
    assert not (await router.dispatch(req(chat=GROUP))).is_error
    caplog.set_level(logging.WARNING, logger="handlers.guard")
    for command in ("help", "search", "subscribe", "nope"):
        reply = await router.dispatch(req(command, chat=OTHER, args="broadcom"))
        assert reply.silent and not reply.text and not reply.cards
    assert ctx.store.list_subscriptions(OTHER) == []  # the command never ran
    warnings = [r for r in caplog.records if "allowed_chats" in r.getMessage()]
    assert len(warnings) == 1 and getattr(warnings[0], "chat", "") == "telegram:-200"
    assert await router.complete(OTHER, "unsubscribe", "subscription", "") == []


async def test_router_builds_the_guard_from_settings(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "v.db")
    index = SearchIndex.open(None)
    settings = parse_settings({"allowed_chats": ["discord:1"], "commands": {"rate_limit": 1}})
    router = Router(HandlerContext(store=store, search=SearchService(store, index), settings=settings))
    try:
        assert is_silent(await router.dispatch(req(chat=GROUP)))
        assert not (await router.dispatch(req(chat=ChatRef("discord", "1")))).is_error
        assert (await router.dispatch(req(chat=ChatRef("discord", "1")))).is_error
    finally:
        index.close()
        store.close()


def test_guard_memory_is_bounded() -> None:
    clock = Clock()
    guard = CommandGuard(rate_limit=5, clock=clock, max_users=100)
    for user in range(1000):
        for _ in range(10):
            guard.check(req(user=str(user)))
    assert len(guard._users) == 100
    assert all(len(h.stamps) <= 5 for h in guard._users.values())
