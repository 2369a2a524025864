"""The system of record. `open_store` picks the backend from the settings."""

from __future__ import annotations

from bot.config import StorageSettings
from bot.store.base import Store
from bot.store.sqlite import SQLiteStore


def open_store(settings: StorageSettings) -> Store:
    """Open (creating and migrating as needed) the configured store."""
    return SQLiteStore(settings.path)
