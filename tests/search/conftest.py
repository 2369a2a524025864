"""Shared pieces for the search tests: a list-backed stand-in for the store, and a small corpus."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Article
from bot.search.index import SearchIndex

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


class ListStore:
    """The three read methods of bot.store.base.Store over a list (the real store is another team's)."""

    def __init__(self, articles: list[Article] | None = None) -> None:
        self.articles: list[Article] = []
        for article in articles or []:
            self.add(article)

    def add(self, article: Article) -> Article:
        article.id = len(self.articles) + 1
        self.articles.append(article)
        return article

    def iter_articles(self, after_id: int = 0, batch: int = 1000) -> Iterator[Article]:
        yield from (a for a in self.articles if a.id is not None and a.id > after_id)

    def max_article_id(self) -> int:
        return len(self.articles)

    def get_article(self, article_id: int) -> Article | None:
        return next((a for a in self.articles if a.id == article_id), None)

    def get_articles(self, article_ids: list[int]) -> dict[int, Article]:
        wanted = set(article_ids)
        return {a.id: a for a in self.articles if a.id in wanted}


def make_article(
    title: str,
    text: str = "",
    *,
    source: str = "Reuters",
    lang: str = "en",
    days_ago: float = 1.0,
    entities: list[str] | None = None,
    story_id: int | None = None,
) -> Article:
    """Build an unsaved article published `days_ago` before NOW."""
    return Article(
        key=f"{source}:{title}:{days_ago}",
        url=f"https://example.test/{abs(hash((title, days_ago, source)))}",
        title=title,
        text=text,
        source=source,
        published=NOW - timedelta(days=days_ago),
        lang=lang,
        entities=entities or [],
        story_id=story_id,
    )


def corpus() -> list[Article]:
    """A small FR/EN archive covering every query construct."""
    return [
        make_article(
            "Les puces de Broadcom en pénurie",
            "Le réseau électrique de la région a lâché. Les fabricants de puces attendent.",
            source="Le Monde", lang="fr", days_ago=1, entities=["Broadcom"], story_id=1,
        ),
        make_article(
            "Broadcom shares rise",
            "Broadcom said semiconductors demand keeps growing in the data center market.",
            source="Reuters", lang="en", days_ago=2, entities=["Broadcom"], story_id=1,
        ),
        make_article(
            "Nvidia unveils a new semiconductor",
            "The chip targets artificial intelligence workloads. Analysts expect strong sales.",
            source="The Verge", lang="en", days_ago=3, entities=["Nvidia"],
        ),
        make_article(
            "Élections municipales : le réseau de transport en débat",
            "Les candidats promettent une puce unique pour les transports publics.",
            source="Libération", lang="fr", days_ago=10, entities=[],
        ),
        make_article(
            "Rumeur de rachat autour de Qualcomm",
            "Une rumeur persistante évoque un rachat de Qualcomm par Broadcom, démentie.",
            source="Les Echos", lang="fr", days_ago=20, entities=["Qualcomm", "Broadcom"],
        ),
        make_article(
            "Intel delays its new factory",
            "Intel said the factory for semiconductor manufacturing will open later than planned.",
            source="Reuters", lang="en", days_ago=40, entities=["Intel"],
        ),
    ]  # fmt: skip


@pytest.fixture
def store() -> ListStore:
    return ListStore(corpus())


@pytest.fixture
def index(store: ListStore) -> Iterator[SearchIndex]:
    search_index = SearchIndex.open(None)
    search_index.catch_up(store)
    yield search_index
    search_index.close()
