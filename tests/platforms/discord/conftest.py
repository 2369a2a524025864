"""Fixtures for the Discord adapter tests: the fake Discord service and an adapter connected to it.

`fake_discord` is reusable for end-to-end tests: it starts tests/fakes/discord_server.FakeDiscord on
127.0.0.1 (checking requests against ../shared/specs/discord-openapi.json when present) and restores
discord.py's process-wide URL class attributes afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import discord
import pytest

from bot.messages import Reply, Request
from bot.models import ChatRef
from bot.platforms.discord_adapter import DiscordAdapter
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_spec import DiscordSpec, find_spec_path

CHANNEL = "600000000000000001"
GUILD = "400000000000000001"


@dataclass
class RecordingRouter:
    """A CommandRouter for tests: records Requests and answers from a table of Replies."""

    replies: dict[str, Reply] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    completions: list[tuple[str, str]] = field(default_factory=list)
    completed: list[tuple[ChatRef, str, str, str]] = field(default_factory=list)

    async def dispatch(self, request: Request) -> Reply:
        """Record the request; answer with the reply registered for its command, or echo it."""
        self.requests.append(request)
        return self.replies.get(request.command, Reply(text=f"{request.command}: {request.args}"))

    async def complete(self, chat: ChatRef, command: str, option: str, prefix: str) -> list[tuple[str, str]]:
        """Record the call; return the suggestions whose label starts with the prefix."""
        self.completed.append((chat, command, option, prefix))
        return [
            (label, value) for label, value in self.completions if label.lower().startswith(prefix.lower())
        ]


@pytest.fixture(scope="session")
def discord_spec() -> DiscordSpec | None:
    """Load Discord's OpenAPI description once, or None when ../shared/specs is absent."""
    path = find_spec_path()
    return DiscordSpec.load(path) if path is not None else None


@pytest.fixture
def restore_discord_urls() -> Iterator[None]:
    """Put discord.py's process-wide REST base and gateway URL back after a test."""
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture
async def fake_discord(
    discord_spec: DiscordSpec | None, restore_discord_urls: None
) -> AsyncIterator[FakeDiscord]:
    """Run a fake Discord on 127.0.0.1 with one guild text channel, CHANNEL."""
    fake = FakeDiscord(spec=discord_spec)
    await fake.start()
    fake.add_channel(CHANNEL, GUILD)
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def router() -> RecordingRouter:
    """Return a fresh recording router."""
    return RecordingRouter()


@pytest.fixture
async def adapter(fake_discord: FakeDiscord, router: RecordingRouter) -> AsyncIterator[DiscordAdapter]:
    """Start a DiscordAdapter against the fake and stop it after the test."""
    bot = DiscordAdapter(
        fake_discord.token,
        api_base_url=fake_discord.api_base,
        gateway_url=fake_discord.gateway_url,
        guild_ready_timeout_s=0.01,
        ready_timeout_s=10.0,
    )
    await bot.start(router)
    try:
        yield bot
    finally:
        await bot.stop()
