"""Turn stored articles into Cards: the one place that decides what a result or an alert shows."""

from __future__ import annotations

from bot.messages import Card
from bot.models import Article
from bot.nlp.summarize import truncate_at_word

SUMMARY_CHARS = 280  # about two lines in a chat client


def short_summary(article: Article, limit: int = SUMMARY_CHARS) -> str:
    """Return the article's summary (or its opening) cut at a word boundary within `limit` characters."""
    return truncate_at_word((article.summary or article.text).strip(), limit)


def article_card(article: Article, *, source_count: int = 1, snippet: str = "") -> Card:
    """Describe one article (the head of its story) as a Card."""
    return Card(
        title=article.title,
        url=article.url,
        source=article.source,
        published=article.published,
        summary=short_summary(article),
        extra_sources=max(0, source_count - 1),
        snippet=snippet,
    )


def story_card(articles: list[Article]) -> Card:
    """Describe a story by its first article, listing the other outlets that reported it."""
    head = articles[0]
    seen = {head.source}
    others: list[tuple[str, str]] = []
    for article in articles[1:]:
        if article.source not in seen:
            seen.add(article.source)
            others.append((article.source, article.url))
    card = article_card(head, source_count=len(seen))
    return Card(
        title=card.title,
        url=card.url,
        source=card.source,
        published=card.published,
        summary=card.summary,
        extra_sources=card.extra_sources,
        sources=tuple(others),
    )
