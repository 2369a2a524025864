"""Fixtures for the demo site tests: a fake clock, a running site on 127.0.0.1, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.demo_site.content import DemoContent, load_content
from bot.demo_site.server import DemoSite

START = datetime(2025, 3, 10, 9, 0, 0, tzinfo=UTC)


class FakeClock:
    """Seconds since start, moved by the test instead of by time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def content() -> DemoContent:
    return load_content()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def site(clock: FakeClock, content: DemoContent) -> AsyncIterator[DemoSite]:
    async with DemoSite(clock=clock, start_time=START, content=content) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
