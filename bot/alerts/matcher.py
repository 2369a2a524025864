"""Match a new article against every subscription: which chats get an alert, for which query.

Queries are parsed once per change of the subscription list (not per article), and each article is
analysed once into a MatchDoc that every query reads. Matching is in memory and never runs anything a
user typed as a pattern: its cost depends on the query sizes and the article only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.models import Article, ChatRef
from bot.search.analysis import Analyzers
from bot.search.query import MatchDoc, Query, parse_query
from bot.store.base import Store

log = logging.getLogger(__name__)


class SubscriptionMatcher:
    """Holds the parsed subscriptions and answers which chats an article concerns."""

    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.analyzers = Analyzers()
        self._compiled: list[tuple[ChatRef, str, Query]] = []
        self._signature: tuple[tuple[int, str], ...] = ()

    def refresh(self) -> None:
        """Re-read the subscriptions when they changed since the last call."""
        subscriptions = self.store.list_subscriptions()
        signature = tuple((s.id, s.query) for s in subscriptions)
        if signature == self._signature:
            return
        now = self.clock()
        self._compiled = [
            (s.chat, s.query, parse_query(s.query, now, self.analyzers)) for s in subscriptions
        ]
        self._signature = signature

    def match(self, article: Article) -> list[tuple[ChatRef, str]]:
        """Return (chat, query) for each chat with a subscription matching the article (one per chat)."""
        self.refresh()
        if not self._compiled:
            return []
        doc = MatchDoc.from_article(article, self.analyzers)
        chats: dict[ChatRef, str] = {}
        for chat, text, query in self._compiled:
            if chat in chats or query.is_empty:
                continue
            try:
                if query.matches(doc):
                    chats[chat] = text
            except Exception:  # one odd subscription must not stop the others
                log.exception("subscription failed to match", extra={"chat": str(chat), "query": text})
        return list(chats.items())
