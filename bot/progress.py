"""A dependency-free progress bar for long commands (reindex, OPML import, migration)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Draws `label [#####.....] 52% 5200/10000` on a terminal, or a line every 10% elsewhere."""

    def __init__(self, total: int, label: str = "", stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(0, total)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_draw = 0.0
        self._last_decile = -1

    def update(self, done: int) -> None:
        """Record that `done` items are finished and redraw when it is worth it."""
        self.done = done
        fraction = min(1.0, done / self.total) if self.total else 1.0
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw < 0.1 and done < self.total:
                return
            self._last_draw = now
            filled = int(fraction * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%} {done}/{self.total}")
            self.stream.flush()
        else:
            decile = int(fraction * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label}: {fraction:.0%} ({done}/{self.total})\n")
                self.stream.flush()

    def finish(self) -> None:
        """Draw the bar full and end its line."""
        self.update(max(self.done, self.total))
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
