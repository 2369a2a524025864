"""The console chat: same router and handlers as the real platforms, on a text stream."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import parse_settings
from bot.messages import AlertMessage, Card
from bot.models import Article, ChatRef
from bot.platforms.console_adapter import ConsoleIO, ConsolePlatform
from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.store.sqlite import SQLiteStore
from handlers.context import HandlerContext
from handlers.router import Router


@pytest.fixture
def router(tmp_path: Path) -> Iterator[Router]:
    store = SQLiteStore(tmp_path / "v.db")
    index = SearchIndex.open(tmp_path / "index")
    search = SearchService(store, index)
    stored = store.add_article(
        Article(key="k1", url="https://x.example/1", title="Broadcom ships a new switch chip",
                text="Broadcom said on Tuesday it ships Tomahawk, a switch chip for AI clusters.",
                source="Silicon Ledger", published=datetime(2026, 11, 20, tzinfo=UTC), lang="en",
                content_hash="h1", summary="Broadcom ships Tomahawk.")
    )
    search.index_new([stored])
    yield Router(HandlerContext(store=store, search=search, settings=parse_settings({})))
    index.close()
    store.close()


async def run_console(router: Router, typed: str) -> str:
    out = io.StringIO()
    console = ConsolePlatform(ConsoleIO(io.StringIO(typed), out), lang="en", prompt="hello")
    await console.start(router)
    await asyncio.wait_for(console.closed.wait(), 10)
    await console.stop()
    return out.getvalue()


async def test_commands_are_answered_and_quit_ends_the_chat(router: Router) -> None:
    shown = await run_console(router, "/search broadcom\n\n/help\n/quit\n/search never-reached\n")
    assert shown.startswith("hello")
    assert "Broadcom ships a new switch chip" in shown and "*Broadcom*" in shown  # highlighted, no ANSI
    assert "/subscribe <query>" in shown
    assert "never-reached" not in shown


async def test_end_of_input_ends_the_chat_and_plain_text_is_searched(router: Router) -> None:
    shown = await run_console(router, "tomahawk")
    assert "1-1 of 1 for “tomahawk”" in shown and "Broadcom ships a new switch chip" in shown


async def test_unknown_commands_and_errors_get_a_message(router: Router) -> None:
    shown = await run_console(router, "/frobnicate\n/latest banana\n/search\n")
    assert "I don't know /frobnicate" in shown
    assert "Usage: /latest [n]" in shown
    assert "What should I look for?" in shown
    assert "Traceback" not in shown


async def test_alerts_and_edits_print_like_a_chat() -> None:
    out = io.StringIO()
    console = ConsolePlatform(ConsoleIO(io.StringIO(""), out))
    card = Card(title="Nvidia results", url="https://x.example/n", source="Wire", summary="Record quarter.",
                extra_sources=1, sources=(("Le Fil", "https://y.example/n"),))
    alert = AlertMessage(chat=ChatRef("console", "console"), card=card, query="nvidia")
    message_id = await console.send_alert(alert)
    await console.edit_alert(alert, message_id)
    shown = out.getvalue()
    assert "🔔 New story for “nvidia”" in shown and "+1 source" in shown and "↳ Le Fil" in shown
    assert f"✏️  [{message_id}] Nvidia results — 2 sources: Wire, Le Fil" in shown
