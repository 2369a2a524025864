"""Invented words for fake feeds: deterministic for a seed, and never a real word the pipeline knows."""

from __future__ import annotations

import random

_SYLLABLES = ["ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "vo", "ze", "bri", "dan", "fel", "gor", "hum"]


def invented_words(rng: random.Random, size: int) -> list[str]:
    """Return `size` distinct four-syllable words, sorted."""
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(4)))
    return sorted(words)
