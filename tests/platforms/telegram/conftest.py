"""Fixtures for the Telegram adapter: the fake Bot API server, a scripted router and a running adapter.

`telegram_fake` is reusable in end-to-end tests: it is a started tests.fakes.telegram_server.FakeTelegram
checking requests against ../shared/specs when that folder exists (plain checks otherwise).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from bot.messages import Reply, Request
from bot.models import ChatRef
from bot.platforms.telegram_adapter import TelegramPlatform
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_spec import SpecError, TelegramSpec


@dataclass
class SpecState:
    """The loaded Bot API description, or why it could not be loaded."""

    spec: TelegramSpec | None
    skip_reason: str = ""


@pytest.fixture(scope="session")
def telegram_spec_state() -> SpecState:
    """Load the official Bot API description once per session (None with a reason when absent)."""
    try:
        return SpecState(TelegramSpec.load())
    except SpecError as exc:
        return SpecState(None, f"Bot API description not available ({exc}); spec checks skipped")


@pytest.fixture
def telegram_spec(telegram_spec_state: SpecState) -> TelegramSpec:
    """Return the Bot API description, skipping the test when it is absent."""
    if telegram_spec_state.spec is None:
        pytest.skip(telegram_spec_state.skip_reason)
    return telegram_spec_state.spec


@pytest.fixture
async def telegram_fake(telegram_spec_state: SpecState) -> AsyncIterator[FakeTelegram]:
    """Start a fake Bot API server on 127.0.0.1 with realistic rate limits."""
    fake = FakeTelegram(spec=telegram_spec_state.spec)
    await fake.start()
    yield fake
    await fake.stop()


@dataclass
class ScriptedRouter:
    """A CommandRouter for adapter tests: records every Request and answers with `respond`."""

    respond: Callable[[Request], Reply] = field(default=lambda r: Reply(text=f"{r.command}: {r.args}"))
    requests: list[Request] = field(default_factory=list)
    fail: bool = False

    async def dispatch(self, request: Request) -> Reply:
        """Record the request and answer it (or break the never-raise promise when `fail`)."""
        self.requests.append(request)
        if self.fail:
            raise RuntimeError("router exploded")
        return self.respond(request)

    async def complete(self, chat: ChatRef, command: str, option: str, prefix: str) -> list[tuple[str, str]]:
        """Suggest nothing (Telegram has no autocomplete)."""
        return []


@pytest.fixture
def router() -> ScriptedRouter:
    """Return a fresh scripted router."""
    return ScriptedRouter()


@pytest.fixture
async def telegram_bot(
    telegram_fake: FakeTelegram, router: ScriptedRouter
) -> AsyncIterator[TelegramPlatform]:
    """Start the real adapter (python-telegram-bot) against the fake, routing to `router`."""
    platform = TelegramPlatform(
        telegram_fake.token, api_base_url=telegram_fake.base_url, poll_timeout_s=2, request_timeout_s=3.0
    )
    await platform.start(router)
    yield platform
    await platform.stop()
