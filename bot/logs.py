"""Logging set-up: readable lines (or JSON) with the feed, chat and article a message is about.

Code logs context with `extra={"feed": url}` or `extra={"chat": "telegram:1"}`; this formatter appends
those fields so every failure can be traced to its feed or chat. Tokens never reach a log line: the
known secret values are masked wherever they appear.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable

CONTEXT_FIELDS = ("feed", "chat", "article", "alert", "command", "query", "command_args")


class ContextFormatter(logging.Formatter):
    """Formats a record with its context fields, as text or as one JSON object per line."""

    def __init__(self, as_json: bool = False, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.as_json = as_json
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        context = {k: getattr(record, k) for k in CONTEXT_FIELDS if hasattr(record, k)}
        if self.as_json:
            payload = {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                **{k: str(v) for k, v in context.items()},
            }
            if record.exc_info:
                payload["exception"] = self.formatException(record.exc_info)
            return self._mask(json.dumps(payload, ensure_ascii=False))
        line = super().format(record)
        if context:
            line += " [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]"
        return self._mask(line)


def setup_logging(level: str = "WARNING", *, as_json: bool = False, secrets: Iterable[str] = ()) -> None:
    """Send logs to stderr at `level`, masking `secrets`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ContextFormatter(as_json=as_json, secrets=secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries are chatty at INFO (every HTTP request of the Telegram client, every APScheduler run).
    for noisy in ("httpx", "apscheduler", "telegram", "discord", "aiohttp.access", "trafilatura", "htmldate"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
