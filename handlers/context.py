"""What handlers may use: the store, search, settings and a clock, injected once by the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Settings
from bot.search.service import SearchService
from bot.store.base import Store


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class HandlerContext:
    """Services shared by every command handler."""

    store: Store
    search: SearchService
    settings: Settings
    clock: Callable[[], datetime] = field(default=_utc_now)
    max_subscriptions_per_chat: int = 50
