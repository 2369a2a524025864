"""Skipping the older archive when it cannot reach the page, and the capped count ("10,000+")."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import parse_settings
from bot.messages import Request
from bot.models import ChatRef
from bot.search import index as index_module
from bot.search import service as service_module
from bot.search.index import SearchIndex
from bot.search.query import parse_query
from bot.search.service import SearchService
from bot.store.sqlite import SQLiteStore
from handlers import search as search_handler
from handlers.context import HandlerContext
from handlers.i18n import t
from handlers.router import Router
from tests.search.conftest import NOW, ListStore, make_article

WORDS = "broadcom nvidia market puces marché réseau growth chips deal results".split()
QUERIES = ["broadcom", "market", "broadcom nvidia", "broadcom OR nvidia", "nvidia -broadcom", "chips lang:en",
           "marché OR market OR puces", "growth since:10d", '"market growth"', '"broadcom nvidia" OR chips',
           '"puces marché" -deal', '"market"']  # fmt: skip


def _corpus(seed: int, n: int = 400) -> ListStore:
    rng = random.Random(seed)
    articles = []
    for i in range(n):
        title = " ".join(rng.choices(WORDS, k=rng.randint(1, 6)))
        text = " ".join(rng.choices([*WORDS, "filler", "words", "here"], k=rng.randint(3, 40)))
        articles.append(make_article(title, text, lang=rng.choice(["en", "fr"]), days_ago=rng.uniform(0, 200) + i % 3))
    return ListStore(articles)


def _common_word_corpus() -> ListStore:
    # 40 fresh, short, exact matches and 60 old ones: the old ones cannot outrank the fresh ones.
    fresh = [make_article(f"Broadcom {i}", f"broadcom broadcom {i}", days_ago=i / 1000) for i in range(40)]
    old = [make_article(f"Broadcom {i}", f"broadcom broadcom {i}", days_ago=100 + i) for i in range(60)]
    others = [make_article(f"Unrelated long title number {i} about other things", "nothing") for i in range(50)]
    return ListStore([*old, *others, *fresh])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_skipping_the_older_archive_never_changes_the_page(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    index = SearchIndex.open(None)
    index.catch_up(_corpus(seed))
    pages = {}
    for text in QUERIES:
        query = parse_query(text, NOW, index.analyzers)
        for limit, offset in ((5, 0), (5, 5), (20, 0), (200, 0)):
            result = index.search(query, limit=limit, offset=offset, now=NOW, snippets=False)
            pages[text, limit, offset] = ([h.article_id for h in result.hits], [h.score for h in result.hits])
    # The reference: no bound, so the whole archive is always searched.
    monkeypatch.setattr(SearchIndex, "_score_bound", lambda self, searcher, node: None)
    for (text, limit, offset), (ids, scores) in pages.items():
        result = index.search(parse_query(text, NOW, index.analyzers), limit=limit, offset=offset, now=NOW,
                              snippets=False)  # fmt: skip
        assert [h.article_id for h in result.hits] == ids, (text, limit, offset)
        assert [h.score for h in result.hits] == pytest.approx(scores)
        assert result.total_exact


@pytest.mark.parametrize("seed", [1, 2])
def test_the_score_bound_is_never_beaten(seed: int) -> None:
    index = SearchIndex.open(None)
    index.catch_up(_corpus(seed))
    searcher = index._index.searcher()
    for text in QUERIES:
        query = parse_query(text, NOW, index.analyzers)
        assert query.root is not None
        bound = index._score_bound(searcher, query.root)
        assert bound is not None, text
        best = searcher.search(index._translate(query.root, searcher), 1).hits
        assert best and best[0][0] <= bound, text


def test_prefixes_have_no_bound_and_are_searched_in_full() -> None:
    index = SearchIndex.open(None)
    index.catch_up(_corpus(1))
    searcher = index._index.searcher()
    for text in ("broadcom-nvid*", "broad*", "market OR broad*"):
        query = parse_query(text, NOW, index.analyzers)
        assert query.root is not None
        assert index._score_bound(searcher, query.root) is None, text
        assert index.search(query, limit=5, now=NOW).total_exact


def test_a_common_word_stops_counting_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    index = SearchIndex.open(None)
    index.catch_up(_common_word_corpus())
    query = parse_query("broadcom", NOW, index.analyzers)
    exact = index.search(query, limit=5, now=NOW)
    assert (exact.total, exact.total_exact) == (100, True)  # below the cap: counted in full
    monkeypatch.setattr(index_module, "COUNT_CAP", 10)
    capped = index.search(query, limit=5, now=NOW)
    assert capped.total_exact is False
    assert 10 <= capped.total <= 100  # at least what the recent window holds, never more than match
    assert [h.article_id for h in capped.hits] == [h.article_id for h in exact.hits]
    assert all(h.article_id > 110 for h in capped.hits)  # the fresh ones


def test_format_total() -> None:
    assert search_handler.format_total(12_345, True) == "12,345"
    assert search_handler.format_total(34_787, False) == "10,000+"


@pytest.fixture
def router(tmp_path: Path) -> Iterator[Router]:
    store = SQLiteStore(tmp_path / "veille.db")
    for n, article in enumerate(_common_word_corpus().articles):
        article.id = None
        article.content_hash = f"h{n}"  # the store drops articles with a known hash
        store.add_article(article)
    index = SearchIndex.open(None)
    service = SearchService(store, index)
    service.catch_up()
    yield Router(HandlerContext(store=store, search=service, settings=parse_settings({}), clock=lambda: NOW))
    index.close()
    store.close()


async def test_chat_header_shows_a_capped_count(router: Router, monkeypatch: pytest.MonkeyPatch) -> None:
    # Scaled down: a cap of 10 articles and 20 best hits grouped, so that 100 matches are "many".
    monkeypatch.setattr(index_module, "COUNT_CAP", 10)
    monkeypatch.setattr(search_handler, "COUNT_CAP", 10)
    monkeypatch.setattr(service_module, "MAX_STORY_HITS", 20)
    monkeypatch.setattr(search_handler, "MAX_STORY_HITS", 20)
    request = Request(chat=ChatRef("telegram", "42"), user_id="1", command="search", args="broadcom")
    reply = await router.dispatch(request)
    assert not reply.is_error
    header = reply.text.splitlines()[-1]
    assert header == t("en", "search.header_more", first=1, last=5, total=20, query="broadcom", n="10+")
