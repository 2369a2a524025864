"""`veille migrate --from sqlite:///veille.db --to postgresql://...`: move an archive to PostgreSQL, ids kept.

Both stores are opened through their own classes first, so each is at the latest schema; then every row
of the tables below is copied in id order, in one PostgreSQL transaction, with the columns the two schemas
share (SQLite's 0/1 become booleans, its ISO timestamps become timestamptz). Ids are kept, so alerts still
point at their stories and articles, and each identity sequence is moved past the largest id (setval).

The target must be empty: a migration into a database that already holds feeds, articles or subscriptions
is refused with a message, never merged. A failed copy rolls back, so it can simply be run again.

Errors: MigrateError (bad URL, non-empty target, a store that cannot be opened or written).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.progress import ProgressBar

# Parents before children, so every reference points at a row already copied.
TABLES = ("feeds", "stories", "articles", "subscriptions", "chats", "alerts", "feed_errors")
BATCH = 1000


class MigrateError(Exception):
    """The migration cannot be done; the message says why."""


@dataclass
class MigrateReport:
    """How many rows of each table were copied."""

    copied: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """Return the one-line summary the command prints."""
        return "copied " + ", ".join(f"{n} {table}" for table, n in self.copied.items())


def sqlite_path(url: str) -> Path:
    """Return the file of a sqlite:///path URL (a bare path is accepted too)."""
    if url.startswith("sqlite:///"):
        # sqlite:////abs/path and sqlite:///rel/path both work, as in SQLAlchemy.
        return Path(url[len("sqlite:///"):])
    if "://" in url:
        raise MigrateError(f"--from must be sqlite:///path/to/veille.db, not {url.split('://')[0]}://")
    return Path(url)


def migrate(source: str, target: str, *, stream: TextIO | None = None) -> MigrateReport:
    """Copy every row of the SQLite store at `source` into the empty PostgreSQL store at `target`."""
    from bot.store.base import StoreError
    from bot.store.sqlite import SQLiteStore

    path = sqlite_path(source)
    if not path.is_file():
        raise MigrateError(f"{path}: no such SQLite database")
    if not target.startswith(("postgresql://", "postgres://")):
        raise MigrateError("--to must be a postgresql://user@host/database URL")
    try:
        from bot.store.postgres import PostgresStore, redact_url
    except ImportError as exc:  # psycopg is an optional dependency
        raise MigrateError(f"PostgreSQL support is not installed ({exc})") from exc
    try:
        SQLiteStore(path).close()  # brings the source to the latest schema
        pg = PostgresStore(target)
    except StoreError as exc:
        raise MigrateError(str(exc)) from exc
    src = sqlite3.connect(path)
    try:
        return _copy(src, pg, redact_url(target), stream)
    finally:
        src.close()
        pg.close()


def _copy(src: sqlite3.Connection, pg: object, where: str, stream: TextIO | None) -> MigrateReport:
    import psycopg

    conn: psycopg.Connection[dict[str, Any]] = pg._connection()  # type: ignore[attr-defined]
    for table in ("feeds", "articles", "subscriptions", "chats"):
        found = conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table}) AS x").fetchone()
        if found and (found["x"] if isinstance(found, dict) else found[0]):
            raise MigrateError(f"{where} already holds {table}: migrate into an empty database (nothing was copied)")
    totals = {t: src.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    bar = ProgressBar(sum(totals.values()), label="migrate", stream=stream)
    report = MigrateReport()
    done = 0
    try:
        with conn.transaction():
            for table in TABLES:
                src_cols = [row[1] for row in src.execute(f"PRAGMA table_info({table})")]
                types = {
                    row["column_name"]: row["data_type"]
                    for row in conn.execute(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = %s",
                        (table,),
                    ).fetchall()
                }
                cols = [c for c in src_cols if c in types]
                flags = [types[c] == "boolean" for c in cols]
                insert = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
                cursor = src.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY rowid")
                copied = 0
                while rows := cursor.fetchmany(BATCH):
                    values = [
                        tuple(bool(v) if flag and v is not None else v for v, flag in zip(row, flags, strict=True))
                        for row in rows
                    ]
                    with conn.cursor() as cur:
                        cur.executemany(insert, values)
                    copied += len(rows)
                    done += len(rows)
                    bar.update(done)
                report.copied[table] = copied
                if "id" in cols:
                    # Ids were copied as they were: the next generated id must come after the largest one.
                    conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM {table}), 1), (SELECT MAX(id) FROM {table}) IS NOT NULL)"
                    )
    except psycopg.Error as exc:
        raise MigrateError(f"copy into {where} failed and was rolled back: {str(exc).strip()}") from exc
    bar.finish()
    return report
