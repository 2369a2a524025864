"""Watchlist entities: find the configured names and their aliases in an article.

Aliases come from the operator's config (`entities: {Broadcom: [Broadcom, AVGO]}`), never from chat
users, so they are compiled once into one alternation; matching is on word boundaries, case- and
accent-insensitive, and costs one pass over the text whatever the size of the watchlist.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence


def fold(text: str) -> str:
    """Lower-case and strip accents: "Réseau NVIDIA" -> "reseau nvidia"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class EntityMatcher:
    """Finds watchlist entities in text."""

    def __init__(self, entities: Mapping[str, Sequence[str]]) -> None:
        self._by_alias: dict[str, str] = {}
        for name, aliases in entities.items():
            for alias in (name, *aliases):
                folded = fold(alias).strip()
                if folded:
                    self._by_alias.setdefault(folded, name)
        if self._by_alias:
            # Longest first, so "Rain AI" wins over "Rain" when both are aliases.
            alternation = "|".join(re.escape(a) for a in sorted(self._by_alias, key=len, reverse=True))
            self._pattern: re.Pattern[str] | None = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
        else:
            self._pattern = None

    @property
    def names(self) -> list[str]:
        """Return the canonical entity names."""
        return sorted(set(self._by_alias.values()))

    def find(self, *texts: str) -> list[str]:
        """Return the canonical names of the entities mentioned in `texts`, in first-mention order."""
        if self._pattern is None:
            return []
        found: dict[str, None] = {}
        for text in texts:
            for match in self._pattern.finditer(fold(text)):
                found.setdefault(self._by_alias[match.group(0)], None)
        return list(found)

    def count(self, text: str) -> dict[str, int]:
        """Return how many times each entity is mentioned in `text`."""
        counts: dict[str, int] = {}
        if self._pattern is None:
            return counts
        for match in self._pattern.finditer(fold(text)):
            name = self._by_alias[match.group(0)]
            counts[name] = counts.get(name, 0) + 1
        return counts
