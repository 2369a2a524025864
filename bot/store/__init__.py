"""The system of record. `open_store` picks the backend from the settings.

`storage.url: postgresql://...` selects PostgreSQL (bot/store/postgres.py, several workers can share it);
otherwise the SQLite file at `storage.path` (bot/store/sqlite.py).
"""

from __future__ import annotations

from bot.config import StorageSettings
from bot.store.base import Store
from bot.store.sqlite import SQLiteStore


def is_postgres_url(url: str) -> bool:
    """Tell whether a storage URL names a PostgreSQL database."""
    return url.startswith(("postgresql://", "postgres://"))


def open_store(settings: StorageSettings) -> Store:
    """Open (creating and migrating as needed) the configured store."""
    url = getattr(settings, "url", "")
    if url and is_postgres_url(url):
        # Imported here so that SQLite users never need the PostgreSQL driver.
        from bot.store.postgres import PostgresStore

        return PostgresStore(url)
    return SQLiteStore(settings.path)
