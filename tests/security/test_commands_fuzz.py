"""Every command's argument parsing, fuzzed through the real Router with a real SQLite store and search index.

Whatever a user types after a command, the router answers with a Reply (never an exception), an error
reply is a short sentence rather than an apology for an internal error, and the store stays usable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import parse_settings
from bot.messages import Request
from bot.models import Article, ChatRef
from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.store.sqlite import SQLiteStore
from handlers.context import HandlerContext
from handlers.guard import CommandGuard
from handlers.i18n import t
from handlers.router import Router
from handlers.spec import COMMANDS

CHAT = ChatRef("telegram", "-1001")
INTERNAL = {t("en", "internal_error"), t("fr", "internal_error")}
QUERY_BITS = ['"', "(", ")", "OR", "AND", "NOT", "-", "*", ":", "source:", "lang:", "since:", "before:",
              "entity:", "since:99999d", "since:0000-00-00", "before:-1", "page:", "page:-1", "page:99999",
              "page:abc", "#", "\\", "\x00", "\u202e", "🚀", "broadcom", "puce", "\n", " ", "9" * 30, "-1", "0"]
args_strategy = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(QUERY_BITS), max_size=30).map(" ".join),
    st.lists(st.sampled_from(QUERY_BITS), max_size=30).map("".join),
    st.integers().map(str),
    st.just("x" * 5000),
)


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    store = SQLiteStore(tmp_path_factory.mktemp("fuzz") / "v.db")
    store.sync_feeds([("https://feed.example/rss", "Feed <b>&</b>", 600)])
    index = SearchIndex.open(None)
    search = SearchService(store, index)
    now = datetime(2026, 11, 10, tzinfo=UTC)
    for i in range(5):
        article = Article(key=f"k{i}", url=f"https://x.example/{i}", title=f"Broadcom puce {i} \"quoted\" (x)",
                          text="Broadcom said the custom chip ships. " * 5, source="Src", published=now,
                          content_hash=f"h{i}")
        saved = store.add_article(article, new_story_title=article.title, alerts=[])
        assert saved is not None
        search.index_new([saved])
    ctx = HandlerContext(store=store, search=search, settings=parse_settings({}), clock=lambda: now)
    # The limit is tested on its own; here every generated command must reach its handler.
    yield Router(ctx, CommandGuard(rate_limit=10**9))
    index.close()
    store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from([c.name for c in COMMANDS] + ["nope", "SEARCH", "search@bot", "", "/"]),
       args=args_strategy, lang=st.sampled_from(["en", "fr", "xx"]), button=st.booleans())
def test_no_exception_escapes_and_errors_are_clear(
    router: Router, command: str, args: str, lang: str, button: bool
) -> None:
    request = Request(chat=CHAT, user_id="1", command=command, args=args, lang=lang, from_button=button)
    reply = asyncio.run(router.dispatch(request))
    assert reply is not None
    assert reply.text.strip() or reply.cards, f"/{command} {args[:80]!r}: empty reply"
    assert reply.text not in INTERNAL, f"/{command} {args[:80]!r} hit an internal error"
    assert len(reply.text) < 20_000
    if reply.is_error:
        assert len(reply.text) < 1000


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.text(max_size=120), option=st.sampled_from(["subscription", "query", "x"]),
       command=st.sampled_from([c.name for c in COMMANDS] + ["nope"]))
def test_autocomplete_never_raises(router: Router, prefix: str, option: str, command: str) -> None:
    suggestions = asyncio.run(router.complete(CHAT, command, option, prefix))
    assert len(suggestions) <= 25


def test_store_still_consistent_after_fuzzing(router: Router, tmp_path: Path) -> None:
    store = router.ctx.store
    assert isinstance(store, SQLiteStore)
    assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(store.list_subscriptions(CHAT)) <= router.ctx.max_subscriptions_per_chat
