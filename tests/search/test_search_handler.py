"""/search through the real Router, a real SQLite store and the real search service: paging buttons,
story grouping with source counts, snippets, "did you mean", repaired queries, rendering."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import parse_settings
from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START, Reply, Request
from bot.models import Article, ChatRef
from bot.platforms.telegram_render import render_reply
from bot.search.index import SearchIndex
from bot.search.query import DROPPED_QUOTE
from bot.search.service import PHRASE_AS_WORDS, SearchService
from bot.store.sqlite import SQLiteStore
from handlers.context import HandlerContext
from handlers.i18n import t
from handlers.router import Router
from tests.search.conftest import NOW

CHAT = ChatRef("telegram", "42")
SOURCES = ("Reuters", "Le Monde", "The Verge")


def _article(n: int, title: str, text: str, source: str, days_ago: float) -> Article:
    return Article(
        key=f"k{n}-{source}",
        url=f"https://example.test/{n}/{source.replace(' ', '')}",
        title=title,
        text=text,
        source=source,
        published=NOW - timedelta(days=days_ago),
        lang="en",
        content_hash=f"h{n}-{source}",
    )


def _fill(store: SQLiteStore) -> None:
    # 13 Broadcom stories; story 0 was reported by three outlets, the others by one.
    for n in range(13):
        title = f"Broadcom story number {n} about switches"
        text = f"In story {n}, Broadcom announced custom chips for data centers. Analysts took note."
        first = store.add_article(_article(n, title, text, SOURCES[0], days_ago=n + 1), new_story_title=title)
        assert first is not None and first.story_id is not None
        if n == 0:
            for source in SOURCES[1:]:
                other = _article(n, title, text, source, days_ago=n + 1.1)
                other.story_id = first.story_id
                assert store.add_article(other) is not None
    store.add_article(_article(99, "Nvidia quarterly results", "Nvidia sold many chips.", "Reuters", 2),
                      new_story_title="Nvidia")


@pytest.fixture
def router(tmp_path: Path) -> Iterator[Router]:
    store = SQLiteStore(tmp_path / "veille.db")
    _fill(store)
    index = SearchIndex.open(None)
    service = SearchService(store, index)
    service.catch_up()
    yield Router(HandlerContext(store=store, search=service, settings=parse_settings({}), clock=lambda: NOW))
    index.close()
    store.close()


async def search(router: Router, args: str, *, button: bool = False, user: str = "1") -> Reply:
    request = Request(chat=CHAT, user_id=user, command="search", args=args, from_button=button)
    return await router.dispatch(request)


async def test_first_page_has_five_stories_and_a_next_button(router: Router) -> None:
    reply = await search(router, "broadcom")
    assert not reply.is_error
    assert reply.text.splitlines()[-1] == t("en", "search.header", first=1, last=5, total=13, query="broadcom")
    assert len(reply.cards) == 5
    assert [(b.command, b.args) for b in reply.buttons] == [("search", "#2 broadcom")]


async def test_next_and_previous_buttons_walk_the_pages(router: Router) -> None:
    page1 = await search(router, "broadcom")
    page2 = await search(router, page1.buttons[0].args, button=True)
    assert "6-10 of 13" in page2.text
    assert [b.args for b in page2.buttons] == ["#1 broadcom", "#3 broadcom"]
    page3 = await search(router, "#3 broadcom", button=True)
    assert "11-13 of 13" in page3.text
    assert len(page3.cards) == 3
    assert [b.args for b in page3.buttons] == ["#2 broadcom"]  # the last page has no Next
    urls = [c.url for page in (page1, page2, page3) for c in page.cards]
    assert len(urls) == len(set(urls)) == 13  # every story once, on exactly one page


async def test_a_page_past_the_end_shows_the_last_one_and_says_so(router: Router) -> None:
    reply = await search(router, "#9 broadcom", button=True)
    assert t("en", "search.last_page", page=9, pages=3) in reply.text
    assert len(reply.cards) == 3
    assert [b.args for b in reply.buttons] == ["#2 broadcom"]


async def test_one_line_per_story_with_its_number_of_sources(router: Router) -> None:
    reply = await search(router, "broadcom")
    titles = [c.title for c in reply.cards]
    assert len(titles) == len(set(titles)), "a story appears once, not once per outlet"
    story0 = next(c for c in reply.cards if c.title.endswith("number 0 about switches"))
    assert story0.extra_sources == 2
    assert all(c.extra_sources == 0 for c in reply.cards if c is not story0)


async def test_most_relevant_and_recent_first(router: Router) -> None:
    reply = await search(router, "broadcom")
    # Equal relevance: the recency factor orders the stories newest first.
    assert [c.title.split()[3] for c in reply.cards] == ["0", "1", "2", "3", "4"]


async def test_snippets_highlight_the_matched_words_and_render_bold(router: Router) -> None:
    reply = await search(router, "broadcom chips")
    snippet = reply.cards[0].snippet
    assert f"{HIGHLIGHT_START}Broadcom{HIGHLIGHT_END}" in snippet
    assert f"{HIGHLIGHT_START}chips{HIGHLIGHT_END}" in snippet
    html = "\n".join(render_reply(reply, "en"))
    assert "<b>Broadcom</b>" in html and "<b>chips</b>" in html


async def test_misspelt_name_offers_a_correction_button(router: Router) -> None:
    reply = await search(router, "broadcomm")
    assert not reply.cards
    assert t("en", "search.suggest", suggestion="Broadcom") in reply.text  # spelt as the articles spell it
    assert [(b.command, b.args) for b in reply.buttons] == [("search", "Broadcom")]


async def test_unclosed_quote_with_query_syntax_is_dropped_and_said(router: Router) -> None:
    reply = await search(router, '"broadcom AND (')
    assert reply.cards, reply.text
    assert t("en", "query.notice", problem=DROPPED_QUOTE) in reply.text


async def test_unclosed_phrase_that_finds_nothing_falls_back_to_words(router: Router) -> None:
    reply = await search(router, '"chips broadcom')  # the words exist, never in that order
    assert reply.cards
    assert PHRASE_AS_WORDS in reply.text


async def test_unclosed_phrase_that_exists_stays_a_phrase(router: Router) -> None:
    reply = await search(router, '"custom chips')
    assert len(reply.cards) == 5
    assert PHRASE_AS_WORDS not in reply.text
    assert "closed an unclosed quote" in reply.text


async def test_empty_and_unsearchable_queries_get_clear_messages(router: Router) -> None:
    empty = await search(router, "   ")
    assert empty.is_error and empty.text == t("en", "search.usage")
    nothing = await search(router, "-broadcom")
    assert not nothing.is_error
    assert "only exclusions" in nothing.text


async def test_french_chat_gets_french_header(router: Router) -> None:
    router.ctx.store.set_chat_lang(CHAT, "fr")
    reply = await search(router, "broadcom")
    assert reply.text.startswith("Actualités 1 à 5 sur 13")


USERS = itertools.count(1000)
TYPED = st.text(alphabet=st.sampled_from(list('broadcm nvi"()-*:|ORANDNOT#0123456789 éàsource:lang:since:')),
                max_size=60)


@given(TYPED)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_anything_typed_gets_results_or_a_clear_message(router: Router, text: str) -> None:
    # A new user each time: the router's per-user rate limit is not the subject here.
    user = str(next(USERS))
    reply = asyncio.run(search(router, text, user=user))
    assert reply.text != t("en", "internal_error")
    assert reply.cards or reply.text.strip()
    assert render_reply(reply, "en")
