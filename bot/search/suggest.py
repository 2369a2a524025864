"""'Did you mean': the names the archive uses often, and the nearest one to a misspelt word.

The vocabulary collects entity aliases and capitalised words (not the first word of a sentence) as
articles are indexed, counts them, and keeps the most frequent. A lookup walks a trie of the kept names
with a bounded edit distance (optimal string alignment: insert, delete, substitute, swap two neighbours),
so `broadcomm` finds `Broadcom` without comparing the word with every name.

Errors: loading a missing or unreadable file gives an empty vocabulary (it is rebuilt as articles are
indexed); nothing here raises on bad input.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.models import Article

FORMAT = 1
MIN_COUNT = 2  # a name seen once is as likely a typo in the article as a name
MIN_WORD_CHARS = 3
ENTITY_WEIGHT = 3  # entities are curated aliases: worth several capitalised sightings
_SENTENCE_END = frozenset(".!?:;«»\"“”")


def fold(text: str) -> str:
    """Lower-case and strip accents, for comparing names."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def capitalised_names(text: str) -> Iterable[str]:
    """Yield capitalised words that do not start a sentence (likely names)."""
    sentence_start = True
    for raw in text.split():
        word = raw.strip(".,;:!?()[]{}«»\"'“”‘’…")
        if (
            len(word) >= MIN_WORD_CHARS
            and not sentence_start
            and word[0].isupper()
            and all(ch.isalnum() or ch in "-&'" for ch in word)
        ):
            yield word
        sentence_start = not raw or raw[-1] in _SENTENCE_END or raw.endswith("...")


@dataclass(slots=True)
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    name: str | None = None


class Vocabulary:
    """Frequent names of the archive, with a typo-tolerant lookup."""

    def __init__(self, max_names: int = 50_000, lookup_names: int = 20_000) -> None:
        self.max_names = max_names
        self.lookup_names = lookup_names
        # folded key -> [count, most recently seen spelling]
        self._counts: dict[str, list[Any]] = {}
        self._trie: _Node | None = None
        self.dirty = False

    def __len__(self) -> int:
        return len(self._counts)

    def observe(self, article: Article) -> None:
        """Count the entities and capitalised names of one article."""
        for entity in article.entities:
            self._add(entity, ENTITY_WEIGHT)
        for name in capitalised_names(article.title):
            self._add(name, 1)
        for name in capitalised_names(article.text):
            self._add(name, 1)
        if len(self._counts) > 4 * self.max_names:
            self._prune()

    def _add(self, name: str, weight: int) -> None:
        name = " ".join(name.split())
        key = fold(name)
        if len(key) < MIN_WORD_CHARS:
            return
        entry = self._counts.get(key)
        if entry is None:
            self._counts[key] = [weight, name]
        else:
            entry[0] += weight
            entry[1] = name
        self._trie = None
        self.dirty = True

    def _prune(self) -> None:
        kept = sorted(self._counts.items(), key=lambda kv: (-kv[1][0], kv[0]))[: self.max_names]
        self._counts = dict(kept)

    def count(self, word: str) -> int:
        """Return how often the vocabulary saw `word` (any case or accents)."""
        entry = self._counts.get(fold(word))
        return int(entry[0]) if entry else 0

    def clear(self) -> None:
        """Forget every name (before a rebuild)."""
        self._counts.clear()
        self._trie = None
        self.dirty = True

    def suggest(self, word: str) -> str | None:
        """Return the most frequent known name within a small edit distance of `word`, or None."""
        key = fold(" ".join(word.split()))
        if len(key) < MIN_WORD_CHARS or len(key) > 64:
            return None
        max_edits = 1 if len(key) <= 5 else 2
        own = self._counts.get(key)
        own_count = int(own[0]) if own else 0
        best: tuple[int, int, str] | None = None  # (distance, -count, key)
        for cand, distance in self._near(key, max_edits):
            if cand == key:
                continue
            count = int(self._counts[cand][0])
            # A correctly spelt rare name must not be "corrected" into a merely similar frequent one.
            if count <= own_count:
                continue
            rank = (distance, -count, cand)
            if best is None or rank < best:
                best = rank
        if best is None:
            return None
        return str(self._counts[best[2]][1])

    def _build(self) -> _Node:
        root = _Node()
        eligible = [(k, v[0]) for k, v in self._counts.items() if v[0] >= MIN_COUNT]
        eligible.sort(key=lambda kv: (-kv[1], kv[0]))
        for key, _count in eligible[: self.lookup_names]:
            node = root
            for ch in key:
                node = node.children.setdefault(ch, _Node())
            node.name = key
        return root

    def _near(self, word: str, max_edits: int) -> list[tuple[str, int]]:
        if self._trie is None:
            self._trie = self._build()
        found: list[tuple[str, int]] = []
        first_row = list(range(len(word) + 1))
        # Depth-first walk carrying the edit-distance rows of the last two trie levels (for swaps).
        stack: list[tuple[_Node, str, str, list[int], list[int] | None]] = [
            (child, ch, "", first_row, None) for ch, child in self._trie.children.items()
        ]
        while stack:
            node, ch, prev_ch, prev_row, prev_prev_row = stack.pop()
            row = [prev_row[0] + 1]
            for j in range(1, len(word) + 1):
                cost = 0 if word[j - 1] == ch else 1
                value = min(row[j - 1] + 1, prev_row[j] + 1, prev_row[j - 1] + cost)
                if (
                    prev_prev_row is not None
                    and j > 1
                    and word[j - 1] == prev_ch
                    and word[j - 2] == ch
                ):
                    value = min(value, prev_prev_row[j - 2] + 1)
                row.append(value)
            if node.name is not None and row[-1] <= max_edits:
                found.append((node.name, row[-1]))
            if min(row) <= max_edits:
                for next_ch, child in node.children.items():
                    stack.append((child, next_ch, ch, row, prev_row))
        return found

    def save(self, path: Path) -> None:
        """Write the vocabulary atomically (temporary file, fsync, rename)."""
        kept = sorted(self._counts.items(), key=lambda kv: (-kv[1][0], kv[0]))[: self.max_names]
        payload = {"format": FORMAT, "names": [[k, v[0], v[1]] for k, v in kept]}
        write_atomically(path, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        self.dirty = False

    @classmethod
    def load(cls, path: Path, max_names: int = 50_000, lookup_names: int = 20_000) -> Vocabulary:
        """Read a saved vocabulary; a missing or unreadable file gives an empty one."""
        vocabulary = cls(max_names, lookup_names)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            if payload.get("format") != FORMAT:
                return vocabulary
            for key, count, name in payload["names"]:
                vocabulary._counts[str(key)] = [int(count), str(name)]
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return cls(max_names, lookup_names)
        return vocabulary


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
