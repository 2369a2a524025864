"""PostgreSQL backend of the store: the shared system of record and work queue of several workers.

Same semantics as bot/store/sqlite.py (the one contract suite runs on both): one transaction per
operation, an article with its story and its alerts atomically. Differences that matter:

- the schema comes from bot/store/migrations_pg/ (same version numbers as migrations/ for the shared
  tables, plus the lease columns), applied under an advisory lock so workers starting together migrate once;
- content hashes are unique in the schema, so two workers storing the same article concurrently cannot
  both succeed: the loser's whole transaction (story, alerts) rolls back and it is reported as known;
- leases (claim_feeds / claim_chats) let N worker processes share feeds and outboxes with
  SELECT ... FOR UPDATE SKIP LOCKED; see bot/workers.py.

Errors: psycopg failures are raised as StoreError (bot.store.base) with the database's message; a database
whose schema is newer than this Veille, or that cannot be reached, is StoreCorrupt / StoreError.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bot.models import Article, ChatRef, Feed, Story, Subscription
from bot.store.base import (
    CHAT_SETTINGS,
    SUBSCRIPTION_LOG_KEPT,
    ChatSettings,
    FeedHealth,
    FeedState,
    InsertResult,
    PendingAlert,
    StoreCorrupt,
    StoreError,
    StoreStats,
    SubscriptionChanges,
    changes_from_log,
    latest_stories_of,
)

_ARTICLE_COLUMNS = (
    "id, key, url, title, text, summary, source, published, lang, feed_id, content_hash, entities, story_id"
)
# Any constant: the key of the advisory lock held while migrating.
_MIGRATION_LOCK = 0x5EE11E

Row = dict[str, Any]
# How long retention's tombstones are kept for the other workers' search indexes; a worker stopped for longer
# rebuilds its index (`veille reindex`), which the README says.
TOMBSTONES_KEPT = timedelta(days=30)
# Registry rows of workers that died (no clean stop) are deleted by the daily maintenance after this long.
WORKERS_KEPT = timedelta(days=1)


class _AlreadyKnown(Exception):
    """Raised inside a transaction to roll it back when the article turns out to be stored already."""


def _ts(moment: datetime) -> datetime:
    """Return an aware UTC time to the second, as the SQLite backend stores it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def load_pg_migrations() -> list[tuple[int, str, str]]:
    """Return (version, file name, sql) for every bundled PostgreSQL migration, in order."""
    folder = resources.files("bot.store") / "migrations_pg"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def redact_url(url: str) -> str:
    """Return the URL without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable url)"
    user = info.get("user") or ""
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"postgresql://{user}{'@' if user else ''}{host}:{port}/{info.get('dbname') or ''}"


class PostgresStore:
    """The system of record on PostgreSQL."""

    def __init__(self, url: str, *, connect_timeout_s: int = 10) -> None:
        self.url = url
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.RLock()
        self._conn = self._connect()
        self._migrate()

    # -- plumbing -------------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Row]:
        try:
            conn = psycopg.connect(
                self.url, autocommit=True, row_factory=dict_row, connect_timeout=self._connect_timeout_s
            )
        except psycopg.Error as exc:
            raise StoreError(f"{redact_url(self.url)}: cannot connect ({str(exc).strip()})") from exc
        # Times are compared and returned in UTC, whatever the server's default zone.
        conn.execute("SET TIME ZONE 'UTC'")
        return conn

    def _connection(self) -> psycopg.Connection[Row]:
        if self._conn.closed or self._conn.broken:
            # The server restarted or the network dropped: the next operation reconnects.
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Row]]:
        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:
                raise StoreError(str(exc).strip()) from exc

    def _query(self, sql: str, params: Sequence[object] | dict[str, object] = ()) -> list[Row]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()  # type: ignore[arg-type]
            except psycopg.Error as exc:
                raise StoreError(str(exc).strip()) from exc

    def _migrate(self) -> None:
        migrations = load_pg_migrations()
        latest = migrations[-1][0] if migrations else 0
        with self._tx() as cur:
            # Workers that start together: one migrates, the others wait here and then find it done.
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = cur.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
            current = int(row["v"]) if row and row["v"] is not None else 0
            if current > latest:
                raise StoreCorrupt(
                    f"{redact_url(self.url)}: schema version {current} is newer than this Veille ({latest})"
                )
            for version, _name, sql in migrations:
                if version > current:
                    cur.execute(sql.encode())  # type: ignore[call-overload]
                    cur.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))

    def schema_version(self) -> int:
        """Return the applied migration version."""
        return int(self._query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")[0]["v"])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    # -- feeds ----------------------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[tuple[str, str, int]]) -> list[Feed]:
        """Make the configured (url, name, interval_s) feeds exist; return every stored feed."""
        now = _ts(datetime.now(UTC))
        with self._tx() as cur:
            for url, name, interval_s in feeds:
                cur.execute(
                    "INSERT INTO feeds (url, name, interval_s, created_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (url) DO UPDATE SET name = excluded.name, interval_s = excluded.interval_s "
                    "WHERE (feeds.name, feeds.interval_s) IS DISTINCT FROM (excluded.name, excluded.interval_s)",
                    (url, name, interval_s, now),
                )
        return self.list_feeds()

    def list_feeds(self) -> list[Feed]:
        """Return every feed, in the order they were added."""
        return [_feed(row) for row in self._query("SELECT * FROM feeds ORDER BY id")]

    def get_feed(self, feed_id: int) -> Feed | None:
        """Return one feed, or None."""
        rows = self._query("SELECT * FROM feeds WHERE id = %s", (feed_id,))
        return _feed(rows[0]) if rows else None

    def get_feed_by_url(self, url: str) -> Feed | None:
        """Return the feed stored under this URL, or None."""
        rows = self._query("SELECT * FROM feeds WHERE url = %s", (url,))
        return _feed(rows[0]) if rows else None

    def add_feed(self, url: str, name: str, interval_s: int, origin: str) -> tuple[Feed, bool]:
        """Store a feed added at run time (chat, OPML); return it and whether it is new (False: URL known)."""
        with self._tx() as cur:
            row = cur.execute(
                "INSERT INTO feeds (url, name, interval_s, created_at, origin) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (url) DO NOTHING RETURNING *",
                (url, name, interval_s, _ts(datetime.now(UTC)), origin),
            ).fetchone()
            if row is not None:
                return _feed(row), True
            known = cur.execute("SELECT * FROM feeds WHERE url = %s", (url,)).fetchone()
        assert known is not None
        return _feed(known), False

    def remove_feed(self, feed_id: int) -> bool:
        """Delete a feed and its schedule (its articles stay, detached); False when there is no such feed."""
        with self._tx() as cur:
            cur.execute("DELETE FROM feeds WHERE id = %s", (feed_id,))
            return cur.rowcount > 0

    def feeds_version(self) -> int:
        """Return a number that changes whenever a feed is added or removed."""
        rows = self._query("SELECT value FROM meta WHERE key = 'feeds_version'")
        return int(rows[0]["value"]) if rows else 0

    def feed_states(self) -> dict[int, FeedState]:
        """Return the schedule and health of every feed, by feed id."""
        rows = self._query(f"SELECT {_STATE_COLUMNS} FROM feeds ORDER BY id")
        return {row["id"]: _feed_state(row) for row in rows}

    def feed_state(self, feed_id: int) -> FeedState | None:
        """Return one feed's schedule and health, or None when the feed is gone."""
        rows = self._query(f"SELECT {_STATE_COLUMNS} FROM feeds WHERE id = %s", (feed_id,))
        return _feed_state(rows[0]) if rows else None

    def save_feed_state(self, state: FeedState) -> None:
        """Persist a feed's schedule and health (next poll, interval, failing since, backoff, notice)."""

        def opt(moment: datetime | None) -> datetime | None:
            return _ts(moment) if moment is not None else None

        with self._tx() as cur:
            cur.execute(
                "UPDATE feeds SET next_poll_at = %s, current_interval_s = %s, failing_since = %s, "
                "backoff_until = %s, failure_notified_at = %s WHERE id = %s",
                (
                    opt(state.next_poll_at),
                    state.interval_s,
                    opt(state.failing_since),
                    opt(state.backoff_until),
                    opt(state.notified_at),
                    state.feed_id,
                ),
            )

    def record_poll(self, feed_id: int, health: FeedHealth, at: datetime) -> None:
        """Save a poll's outcome: validators on success, error and failure count otherwise."""
        with self._tx() as cur:
            if health.ok:
                cur.execute(
                    "UPDATE feeds SET last_success = %s, consecutive_failures = 0, last_error = NULL, "
                    "etag = COALESCE(%s, etag), last_modified = COALESCE(%s, last_modified) WHERE id = %s",
                    (_ts(at), health.etag, health.last_modified, feed_id),
                )
            else:
                error = health.error or "unknown error"
                cur.execute(
                    "UPDATE feeds SET last_error = %s, last_error_at = %s, "
                    "consecutive_failures = consecutive_failures + 1 WHERE id = %s",
                    (error, _ts(at), feed_id),
                )
                cur.execute(
                    "INSERT INTO feed_errors (feed_id, at, reason) SELECT id, %s, %s FROM feeds WHERE id = %s",
                    (_ts(at), error, feed_id),
                )

    def mark_primed(self, feed_id: int) -> None:
        """Note that the feed's initial backlog is stored, so later items are news."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE feeds SET primed = TRUE, primed_max_article = (SELECT COALESCE(MAX(id), 0) FROM articles) "
                "WHERE id = %s AND NOT primed",
                (feed_id,),
            )

    def stats(self, since: datetime, errors_since: datetime) -> StoreStats:
        """Count feeds, articles, stories, alerts sent since `since`, pending alerts, errors since `errors_since`."""
        row = self._query(
            "SELECT (SELECT COUNT(*) FROM feeds) AS feeds, (SELECT COUNT(*) FROM articles) AS articles, "
            "(SELECT COUNT(*) FROM stories) AS stories, "
            "(SELECT COUNT(*) FROM alerts WHERE sent_at >= %s) AS sent, "
            "(SELECT COUNT(*) FROM alerts WHERE state = 'pending') AS pending, "
            "(SELECT COUNT(*) FROM feed_errors WHERE at >= %s) AS errors",
            (_ts(since), _ts(errors_since)),
        )[0]
        return StoreStats(
            feeds=int(row["feeds"]),
            articles=int(row["articles"]),
            stories=int(row["stories"]),
            alerts_sent=int(row["sent"]),
            alerts_pending=int(row["pending"]),
            feed_errors=int(row["errors"]),
        )

    def delete_articles_before(self, cutoff: datetime, limit: int = 1000) -> list[int]:
        """Delete up to `limit` articles stored before `cutoff` (with their delivered alerts and emptied
        stories; articles with alerts still pending or held stay); return the deleted ids."""
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT a.id, a.story_id FROM articles a WHERE a.stored_at < %s AND NOT EXISTS ("
                "SELECT 1 FROM alerts x WHERE x.article_id = a.id AND (x.state IN ('pending', 'held') "
                "OR x.edit_pending)) ORDER BY a.id LIMIT %s FOR UPDATE",
                (_ts(cutoff), limit),
            ).fetchall()
            ids = [row["id"] for row in rows]
            if not ids:
                return []
            # Tombstones, in the same transaction: the other workers' search indexes delete these ids too.
            cur.execute(
                "INSERT INTO deleted_articles (article_id, deleted_at) SELECT unnest(%s::bigint[]), %s",
                (ids, _ts(datetime.now(UTC))),
            )
            stories = sorted({row["story_id"] for row in rows if row["story_id"] is not None})
            cur.execute("DELETE FROM alerts WHERE article_id = ANY(%s)", (ids,))
            cur.execute("DELETE FROM articles WHERE id = ANY(%s)", (ids,))
            if stories:
                # A story left without articles goes too, with the alerts that pointed at it.
                cur.execute(
                    "DELETE FROM alerts WHERE story_id = ANY(%s) AND NOT EXISTS "
                    "(SELECT 1 FROM articles a WHERE a.story_id = alerts.story_id)",
                    (stories,),
                )
                cur.execute(
                    "DELETE FROM stories s WHERE s.id = ANY(%s) AND NOT EXISTS "
                    "(SELECT 1 FROM articles a WHERE a.story_id = s.id)",
                    (stories,),
                )
        return ids

    def maintain(self, errors_before: datetime) -> None:
        """Run routine database upkeep and forget poll errors older than `errors_before`."""
        with self._tx() as cur:
            cur.execute("DELETE FROM feed_errors WHERE at < %s", (_ts(errors_before),))
            cur.execute(
                "DELETE FROM subscription_log WHERE version <= "
                "(SELECT value FROM meta WHERE key = 'subscriptions_version') - %s",
                (SUBSCRIPTION_LOG_KEPT,),
            )
            cur.execute(
                "DELETE FROM deleted_articles WHERE deleted_at < %s", (_ts(datetime.now(UTC) - TOMBSTONES_KEPT),)
            )
            cur.execute("DELETE FROM workers WHERE seen_at < %s", (datetime.now(UTC) - WORKERS_KEPT,))
        # Autovacuum does the rest; refreshing the planner's statistics is cheap and helps after big deletes.
        with self._lock:
            try:
                self._connection().execute("ANALYZE")
            except psycopg.Error as exc:
                raise StoreError(str(exc).strip()) from exc

    # -- articles and stories -------------------------------------------------------------------

    def is_known(self, key: str, content_hash: str) -> bool:
        """Tell whether an article with this key or this exact content is already stored."""
        rows = self._query(
            "SELECT 1 FROM articles WHERE key = %s UNION ALL SELECT 1 FROM articles WHERE content_hash = %s "
            "LIMIT 1",
            (key, content_hash),
        )
        return bool(rows)

    def add_article(
        self,
        article: Article,
        *,
        new_story_title: str | None = None,
        alerts: Sequence[tuple[ChatRef, str]] = (),
    ) -> Article | None:
        """Store one article with its story and its alerts in one transaction; None when already known."""
        now = _ts(datetime.now(UTC))
        try:
            with self._tx() as cur:
                story_id = article.story_id
                if story_id is None or new_story_title is not None:
                    story_row = cur.execute(
                        "INSERT INTO stories (title, first_seen, last_seen) VALUES (%s, %s, %s) RETURNING id",
                        (new_story_title or article.title, now, now),
                    ).fetchone()
                    assert story_row is not None
                    story_id = story_row["id"]
                else:
                    cur.execute("UPDATE stories SET last_seen = %s WHERE id = %s", (now, story_id))
                # ON CONFLICT without a target covers both the key and the content hash: a concurrent
                # worker storing the same article makes this insert a no-op, never a second copy.
                row = cur.execute(
                    "INSERT INTO articles (key, url, title, text, summary, source, published, stored_at, lang, "
                    "feed_id, content_hash, entities, story_id) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                    (
                        article.key,
                        article.url,
                        article.title,
                        article.text,
                        article.summary,
                        article.source,
                        _ts(article.published),
                        now,
                        article.lang,
                        article.feed_id,
                        article.content_hash,
                        "\n".join(article.entities),
                        story_id,
                    ),
                ).fetchone()
                if row is None:
                    raise _AlreadyKnown  # roll back the story touched above
                article_id = int(row["id"])
                for chat, query in alerts:
                    cur.execute(
                        "INSERT INTO alerts (chat, story_id, article_id, query, created_at, next_attempt_at) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (chat, story_id) DO UPDATE SET "
                        "edit_pending = CASE WHEN alerts.state = 'sent' THEN TRUE ELSE alerts.edit_pending END",
                        (str(chat), story_id, article_id, query, now, now),
                    )
        except _AlreadyKnown:
            return None
        article.id = article_id
        article.story_id = story_id
        return article

    def add_articles(self, articles: Sequence[Article]) -> InsertResult:
        """Store articles not seen before (by key or content hash), each its own story unless set."""
        new: list[Article] = []
        for article in articles:
            stored = self.add_article(article)
            if stored is not None:
                new.append(stored)
        return InsertResult(new=new, duplicates=len(articles) - len(new))

    def get_article(self, article_id: int) -> Article | None:
        """Return the article with this id, or None."""
        rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = %s", (article_id,))
        return _article(rows[0]) if rows else None

    def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]:
        """Return the articles with these ids, keyed by id (missing ids are left out)."""
        if not article_ids:
            return {}
        rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ANY(%s)", (list(article_ids),))
        return {row["id"]: _article(row) for row in rows}

    def find_article_by_url(self, url: str) -> Article | None:
        """Return the article stored under this URL, or None."""
        rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE url = %s ORDER BY id LIMIT 1", (url,))
        return _article(rows[0]) if rows else None

    def latest_articles(self, limit: int) -> list[Article]:
        """Return the most recently published articles, newest first."""
        rows = self._query(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY published DESC, id DESC LIMIT %s", (limit,)
        )
        return [_article(row) for row in rows]

    def latest_stories(self, limit: int) -> list[tuple[Story, list[Article]]]:
        """Return the stories with the most recently published articles, newest first, each with its articles."""

        def newest(count: int, offset: int) -> list[int]:
            rows = self._query(
                "SELECT story_id FROM articles WHERE story_id IS NOT NULL "
                "ORDER BY published DESC, id DESC LIMIT %s OFFSET %s",
                (count, offset),
            )
            return [row["story_id"] for row in rows]

        return latest_stories_of(self, newest, limit)

    def iter_articles(self, after_id: int = 0, batch: int = 1000) -> Iterator[Article]:
        """Yield every article with id > after_id in id order (for indexing and migration)."""
        last = after_id
        while True:
            rows = self._query(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id > %s ORDER BY id LIMIT %s", (last, batch)
            )
            if not rows:
                return
            for row in rows:
                yield _article(row)
            last = rows[-1]["id"]

    def max_article_id(self) -> int:
        """Return the highest article id, or 0 for an empty store."""
        return int(self._query("SELECT COALESCE(MAX(id), 0) AS m FROM articles")[0]["m"])

    def count_articles(self) -> int:
        """Return how many articles are stored."""
        return int(self._query("SELECT COUNT(*) AS n FROM articles")[0]["n"])

    def count_stories(self) -> int:
        """Return how many stories are stored."""
        return int(self._query("SELECT COUNT(*) AS n FROM stories")[0]["n"])

    def recent_articles(self, since: datetime, limit: int = 5000) -> list[Article]:
        """Articles published or stored since `since`, newest first (story grouping window)."""
        rows = self._query(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE published >= %s OR stored_at >= %s "
            "ORDER BY id DESC LIMIT %s",
            (_ts(since), _ts(since), limit),
        )
        return [_article(row) for row in rows]

    def create_story(self, title: str, first_seen: datetime) -> int:
        """Create an empty story and return its id."""
        with self._tx() as cur:
            row = cur.execute(
                "INSERT INTO stories (title, first_seen, last_seen) VALUES (%s, %s, %s) RETURNING id",
                (title, _ts(first_seen), _ts(first_seen)),
            ).fetchone()
        assert row is not None
        return int(row["id"])

    def set_story(self, article_id: int, story_id: int) -> None:
        """Move an article into a story."""
        with self._tx() as cur:
            cur.execute("UPDATE articles SET story_id = %s WHERE id = %s", (story_id, article_id))

    def get_story(self, story_id: int) -> Story | None:
        """Return the story with its distinct sources, or None."""
        rows = self._query("SELECT * FROM stories WHERE id = %s", (story_id,))
        if not rows:
            return None
        sources = [
            r["source"]
            for r in self._query(
                "SELECT source FROM articles WHERE story_id = %s GROUP BY source ORDER BY MIN(id)", (story_id,)
            )
        ]
        count = self._query("SELECT COUNT(*) AS n FROM articles WHERE story_id = %s", (story_id,))[0]["n"]
        return Story(
            id=rows[0]["id"],
            title=rows[0]["title"],
            first_seen=rows[0]["first_seen"],
            article_count=int(count),
            sources=sources,
        )

    def story_articles(self, story_id: int) -> list[Article]:
        """Return a story's articles, first stored first."""
        rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE story_id = %s ORDER BY id", (story_id,))
        return [_article(row) for row in rows]

    def story_source_counts(self, story_ids: Sequence[int]) -> dict[int, int]:
        """Return how many distinct sources reported each story."""
        if not story_ids:
            return {}
        rows = self._query(
            "SELECT story_id, COUNT(DISTINCT source) AS n FROM articles WHERE story_id = ANY(%s) GROUP BY story_id",
            (list(story_ids),),
        )
        return {row["story_id"]: int(row["n"]) for row in rows}

    # -- subscriptions and chats ----------------------------------------------------------------

    def add_subscription(self, chat: ChatRef, query: str, at: datetime) -> Subscription:
        """Subscribe a chat to a query (idempotent: the same query returns the existing one)."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO subscriptions (chat, query, created_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (chat, query) DO NOTHING",
                (str(chat), query, _ts(at)),
            )
            row = cur.execute(
                "SELECT * FROM subscriptions WHERE chat = %s AND query = %s", (str(chat), query)
            ).fetchone()
        assert row is not None
        return _subscription(row)

    def remove_subscription(self, chat: ChatRef, subscription_id: int) -> bool:
        """Delete one of the chat's subscriptions; False when it has no such subscription."""
        with self._tx() as cur:
            cur.execute("DELETE FROM subscriptions WHERE chat = %s AND id = %s", (str(chat), subscription_id))
            return cur.rowcount > 0

    def list_subscriptions(self, chat: ChatRef | None = None) -> list[Subscription]:
        """Return a chat's subscriptions, or everyone's, oldest first, with the chat's pause reason."""
        if chat is None:
            rows = self._query(_SUBSCRIPTIONS + " ORDER BY s.id")
        else:
            rows = self._query(_SUBSCRIPTIONS + " WHERE s.chat = %s ORDER BY s.id", (str(chat),))
        return [_subscription(row) for row in rows]

    def get_chat_lang(self, chat: ChatRef) -> str | None:
        """Return the language set with /lang for this chat, or None."""
        rows = self._query("SELECT lang FROM chats WHERE chat = %s", (str(chat),))
        return rows[0]["lang"] if rows else None

    def set_chat_lang(self, chat: ChatRef, lang: str) -> None:
        """Remember the language the bot speaks in this chat."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO chats (chat, lang) VALUES (%s, %s) ON CONFLICT (chat) DO UPDATE SET lang = excluded.lang",
                (str(chat), lang),
            )

    def pause_chat(self, chat: ChatRef, reason: str, at: datetime) -> None:
        """Stop delivering to a chat the platform refuses for good; its alerts stay queued."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO chats (chat, paused_reason, paused_at) VALUES (%s, %s, %s) ON CONFLICT (chat) "
                "DO UPDATE SET paused_reason = excluded.paused_reason, paused_at = excluded.paused_at",
                (str(chat), reason, _ts(at)),
            )

    def resume_chat(self, chat: ChatRef) -> None:
        """Deliver to a paused chat again."""
        with self._tx() as cur:
            cur.execute("UPDATE chats SET paused_reason = NULL, paused_at = NULL WHERE chat = %s", (str(chat),))

    # -- the outbox -----------------------------------------------------------------------------

    def due_alerts(self, now: datetime, limit: int = 100) -> list[PendingAlert]:
        """Return alerts to send or edit now, oldest first, skipping paused chats."""
        rows = self._query(
            "SELECT a.* FROM alerts a LEFT JOIN chats c ON c.chat = a.chat "
            "WHERE c.paused_reason IS NULL AND a.next_attempt_at <= %(now)s "
            "AND (a.state = 'pending' OR a.edit_pending) "
            "AND NOT EXISTS (SELECT 1 FROM alerts b WHERE b.chat = a.chat AND b.id < a.id "
            "AND b.state = 'pending' AND b.next_attempt_at > %(now)s) ORDER BY a.id LIMIT %(limit)s",
            {"now": _ts(now), "limit": limit},
        )
        return [_alert(row) for row in rows]

    def count_pending_alerts(self) -> int:
        """Return how many alerts wait to be sent (paused chats included)."""
        return int(self._query("SELECT COUNT(*) AS n FROM alerts WHERE state = 'pending'")[0]["n"])

    def mark_alert_sent(
        self, alert_id: int, message_id: str, sources: int, at: datetime, shown: Sequence[int] | None = None
    ) -> None:
        """Record that the platform accepted the alert (or its edit); keep an edit pending for late joiners."""
        late = (
            "EXISTS (SELECT 1 FROM articles WHERE story_id = alerts.story_id AND id <> ALL(%(shown)s::bigint[]))"
        )
        with self._tx() as cur:
            # Lock the row first: a joining article's transaction upserts this row, so once the lock is ours
            # it has either committed (the UPDATE's fresh snapshot sees the article) or will see 'sent' after.
            cur.execute("SELECT id FROM alerts WHERE id = %s FOR UPDATE", (alert_id,))
            cur.execute(
                "UPDATE alerts SET state = 'sent', message_id = %(message_id)s, sent_at = COALESCE(sent_at, %(at)s), "
                f"sources_sent = %(sources)s, edit_pending = (%(check)s AND {late}), "
                "attempts = 0, last_error = NULL WHERE id = %(id)s",
                {"message_id": message_id, "at": _ts(at), "sources": sources, "check": shown is not None,
                 "shown": list(shown or []), "id": alert_id},
            )

    def mark_alert_retry(self, alert_id: int, error: str, next_attempt_at: datetime) -> None:
        """Record a failed attempt and when to try again."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE alerts SET attempts = attempts + 1, last_error = %s, next_attempt_at = %s WHERE id = %s",
                (error, _ts(next_attempt_at), alert_id),
            )

    def alert_for(self, chat: ChatRef, story_id: int) -> PendingAlert | None:
        """Return the alert of this story in this chat, whatever its state."""
        rows = self._query("SELECT * FROM alerts WHERE chat = %s AND story_id = %s", (str(chat), story_id))
        return _alert(rows[0]) if rows else None

    # -- alert policy, digests and explanations -------------------------------------------------

    def subscriptions_version(self) -> int:
        """Return a number that changes whenever any subscription is added, changed or removed."""
        rows = self._query("SELECT value FROM meta WHERE key = 'subscriptions_version'")
        return int(rows[0]["value"]) if rows else 0

    def subscription_changes(self, after_version: int) -> SubscriptionChanges | None:
        """Return the subscriptions changed after `after_version`, or None when the log does not reach back."""
        current = self.subscriptions_version()
        log = [
            (row["version"], row["subscription_id"])
            for row in self._query(
                "SELECT version, subscription_id FROM subscription_log WHERE version > %s ORDER BY version LIMIT %s",
                (after_version, SUBSCRIPTION_LOG_KEPT),
            )
        ]
        return changes_from_log(after_version, current, log, self._subscriptions_by_id)

    def _subscriptions_by_id(self, ids: list[int]) -> list[Subscription]:
        rows = self._query(
            _SUBSCRIPTIONS + " WHERE s.id = ANY(%s) ORDER BY s.id",
            (ids,),
        )
        return [_subscription(row) for row in rows]

    def due_chats(self, now: datetime) -> list[ChatRef]:
        """Return the chats (not paused) that have an alert to send or edit now, oldest alert first."""
        rows = self._query(
            "SELECT a.chat, MIN(a.id) AS first FROM alerts a LEFT JOIN chats c ON c.chat = a.chat "
            "WHERE c.paused_reason IS NULL AND a.next_attempt_at <= %(now)s "
            "AND (a.state = 'pending' OR a.edit_pending) "
            "AND NOT EXISTS (SELECT 1 FROM alerts b WHERE b.chat = a.chat AND b.id < a.id "
            "AND b.state = 'pending' AND b.next_attempt_at > %(now)s) GROUP BY a.chat ORDER BY first",
            {"now": _ts(now)},
        )
        return [ChatRef.parse(row["chat"]) for row in rows]

    def due_alerts_for(self, chat: ChatRef, now: datetime, limit: int = 50) -> list[PendingAlert]:
        """Return one chat's alerts to send or edit now, in order; none past one still waiting to retry."""
        rows = self._query(
            "SELECT a.* FROM alerts a LEFT JOIN chats c ON c.chat = a.chat WHERE a.chat = %(chat)s "
            "AND c.paused_reason IS NULL AND a.next_attempt_at <= %(now)s AND (a.state = 'pending' OR a.edit_pending) "
            "AND a.id < COALESCE((SELECT MIN(b.id) FROM alerts b WHERE b.chat = %(chat)s AND b.state = 'pending' "
            "AND b.next_attempt_at > %(now)s), 9223372036854775807) ORDER BY a.id LIMIT %(limit)s",
            {"chat": str(chat), "now": _ts(now), "limit": limit},
        )
        return [_alert(row) for row in rows]

    def get_chat_settings(self, chat: ChatRef) -> ChatSettings:
        """Return the chat's own alert settings (all None for a chat that set nothing)."""
        rows = self._query("SELECT * FROM chats WHERE chat = %s", (str(chat),))
        if not rows:
            return ChatSettings(chat=chat)
        row = rows[0]
        return ChatSettings(
            chat=chat,
            timezone=row["timezone"],
            quiet_hours=row["quiet_hours"],
            max_per_hour=row["max_per_hour"],
            digest=row["digest"],
            last_digest_at=row["last_digest_at"],
            paused_reason=row["paused_reason"],
        )

    def set_chat_setting(self, chat: ChatRef, name: str, value: str | int | None) -> None:
        """Set one of CHAT_SETTINGS for a chat (None: back to the default); ValueError for another name."""
        if name not in CHAT_SETTINGS:
            raise ValueError(f"not a chat setting: {name!r}")
        with self._tx() as cur:
            cur.execute("INSERT INTO chats (chat) VALUES (%s) ON CONFLICT (chat) DO NOTHING", (str(chat),))
            # `name` is one of the fixed column names checked above, never user text.
            cur.execute(f"UPDATE chats SET {name} = %s WHERE chat = %s", (value, str(chat)))  # type: ignore[arg-type]
            if name == "digest":
                cur.execute(
                    "UPDATE chats SET last_digest_at = COALESCE(last_digest_at, %s) WHERE chat = %s",
                    (_ts(datetime.now(UTC)), str(chat)),
                )

    def sent_times_since(self, chat: ChatRef, since: datetime) -> list[datetime]:
        """Return when the chat's alerts first sent at or after `since` went out, oldest first."""
        rows = self._query(
            "SELECT sent_at FROM alerts WHERE chat = %s AND sent_at >= %s ORDER BY sent_at", (str(chat), _ts(since))
        )
        return [row["sent_at"] for row in rows]

    def hold_alert(self, alert_id: int, reason: str, at: datetime, until: datetime) -> None:
        """Keep a pending alert for the chat's next digest instead of sending it (quiet hours, cap)."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE alerts SET state = 'held', held_reason = %s, held_at = %s, held_until = %s, "
                "edit_pending = FALSE WHERE id = %s AND state = 'pending'",
                (reason, _ts(at), _ts(until), alert_id),
            )

    def held_alerts(self, chat: ChatRef) -> list[PendingAlert]:
        """Return the chat's alerts waiting for a digest, oldest first."""
        rows = self._query("SELECT * FROM alerts WHERE chat = %s AND state = 'held' ORDER BY id", (str(chat),))
        return [_alert(row) for row in rows]

    def alerts_since(self, chat: ChatRef, since: datetime | None) -> list[PendingAlert]:
        """Return the chat's alerts created at or after `since` (all when None), whatever their state."""
        if since is None:
            rows = self._query("SELECT * FROM alerts WHERE chat = %s ORDER BY id", (str(chat),))
        else:
            rows = self._query(
                "SELECT * FROM alerts WHERE chat = %s AND created_at >= %s ORDER BY id", (str(chat), _ts(since))
            )
        return [_alert(row) for row in rows]

    def record_digest(self, chat: ChatRef, alert_ids: Sequence[int], at: datetime) -> None:
        """Mark held alerts as carried by a digest sent at `at`, and remember `at` as the chat's last digest."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE alerts SET state = 'digested', digested_at = %s WHERE id = ANY(%s) AND chat = %s "
                "AND state = 'held'",
                (_ts(at), list(alert_ids), str(chat)),
            )
            cur.execute(
                "INSERT INTO chats (chat, last_digest_at) VALUES (%s, %s) ON CONFLICT (chat) "
                "DO UPDATE SET last_digest_at = excluded.last_digest_at",
                (str(chat), _ts(at)),
            )

    def digest_chats(self) -> list[ChatRef]:
        """Return every chat a digest may concern: with subscriptions, settings, or held alerts."""
        rows = self._query(
            "SELECT chat FROM subscriptions UNION SELECT chat FROM chats "
            "UNION SELECT chat FROM alerts WHERE state = 'held' ORDER BY 1"
        )
        return [ChatRef.parse(row["chat"]) for row in rows]

    def is_backlog(self, article_id: int) -> bool | None:
        """Tell whether an article came with its feed's first poll (None when it cannot be told)."""
        rows = self._query(
            "SELECT a.id, f.primed, f.primed_max_article FROM articles a JOIN feeds f ON f.id = a.feed_id "
            "WHERE a.id = %s",
            (article_id,),
        )
        if not rows:
            return None
        row = rows[0]
        if not row["primed"]:
            return True
        if row["primed_max_article"] is None:
            return None
        return bool(row["id"] <= row["primed_max_article"])

    # -- leases: work shared by several worker processes ----------------------------------------

    def claim_feeds(self, owner: str, now: datetime, limit: int, lease_s: float) -> list[Feed]:
        """Lease up to `limit` due feeds to `owner` until now + lease_s; feeds leased to others are skipped."""
        with self._tx() as cur:
            rows = cur.execute(
                "UPDATE feeds SET lease_owner = %(owner)s, lease_until = %(until)s WHERE id IN ("
                "SELECT id FROM feeds WHERE (next_poll_at IS NULL OR next_poll_at <= %(now)s) "
                "AND (backoff_until IS NULL OR backoff_until <= %(now)s) "
                "AND (lease_until IS NULL OR lease_until <= %(now)s) "
                "ORDER BY next_poll_at NULLS FIRST, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING *",
                {"owner": owner, "until": now + timedelta(seconds=lease_s), "now": now, "limit": limit},
            ).fetchall()
        return sorted((_feed(row) for row in rows), key=lambda f: f.id)

    def deleted_articles_after(self, seq: int, limit: int = 10_000) -> tuple[list[int], int]:
        """Return the ids retention deleted after tombstone `seq` (oldest first) and the last seq returned."""
        rows = self._query(
            "SELECT seq, article_id FROM deleted_articles WHERE seq > %s ORDER BY seq LIMIT %s", (seq, limit)
        )
        return [row["article_id"] for row in rows], (rows[-1]["seq"] if rows else seq)

    def release_feed(self, feed_id: int, owner: str, next_poll_at: datetime, state: FeedState | None = None) -> bool:
        """End `owner`'s lease on a feed and set its next poll (and its whole schedule and health when `state`
        is given, in the same statement); False when the lease was lost meanwhile and nothing was written."""

        def opt(moment: datetime | None) -> datetime | None:
            return _ts(moment) if moment is not None else None

        with self._tx() as cur:
            if state is None:
                cur.execute(
                    "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, next_poll_at = %s "
                    "WHERE id = %s AND lease_owner = %s",
                    (_ts(next_poll_at), feed_id, owner),
                )
            else:
                cur.execute(
                    "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, next_poll_at = %s, "
                    "current_interval_s = %s, failing_since = %s, backoff_until = %s, failure_notified_at = %s "
                    "WHERE id = %s AND lease_owner = %s",
                    (
                        _ts(next_poll_at),
                        state.interval_s,
                        opt(state.failing_since),
                        opt(state.backoff_until),
                        opt(state.notified_at),
                        feed_id,
                        owner,
                    ),
                )
            return cur.rowcount > 0

    def claim_chats(
        self, owner: str, now: datetime, limit: int, lease_s: float, *, workers: int = 1
    ) -> list[ChatRef]:
        """Lease to `owner` its share of the chats with alerts due now (oldest first), renewing its own first.

        The share is ceil(due chats / `workers`), at least 1 and at most `limit`. The chats `owner` holds count
        towards it and come first, so a worker that holds its share claims nothing new and leaves the rest to
        the others; a chat given back with a cool-down (release_chat `until`) is still `owner`'s to take again.
        """
        until = now + timedelta(seconds=lease_s)
        due = self.due_chats(now)
        if not due:
            return []
        share = max(1, min(limit, math.ceil(len(due) / max(1, workers))))
        keys = [str(chat) for chat in due]
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO outbox_leases (chat) SELECT unnest(%s::text[]) ON CONFLICT (chat) DO NOTHING", (keys,)
            )
            rows = cur.execute(
                "UPDATE outbox_leases SET lease_owner = %(owner)s, lease_until = %(until)s WHERE chat IN ("
                "SELECT chat FROM outbox_leases WHERE chat = ANY(%(keys)s) "
                "AND (lease_until IS NULL OR lease_until <= %(now)s OR lease_owner = %(owner)s) "
                "ORDER BY CASE WHEN lease_owner = %(owner)s AND lease_until > %(now)s THEN 0 ELSE 1 END, "
                "array_position(%(keys)s, chat) LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING chat",
                {"owner": owner, "until": until, "now": now, "keys": keys, "limit": share},
            ).fetchall()
        mine = {row["chat"] for row in rows}
        return [chat for chat in due if str(chat) in mine]

    def renew_chat(self, chat: ChatRef, owner: str, now: datetime, lease_s: float) -> bool:
        """Extend `owner`'s lease on a chat's outbox; False when it is no longer `owner`'s."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE outbox_leases SET lease_until = %s WHERE chat = %s AND lease_owner = %s AND lease_until > %s",
                (now + timedelta(seconds=lease_s), str(chat), owner, now),
            )
            return cur.rowcount > 0

    def release_chat(self, chat: ChatRef, owner: str, *, until: datetime | None = None) -> None:
        """End `owner`'s lease on a chat's outbox; with `until`, other workers may claim it only from then on.

        The cool-down covers the platform's per-chat window: another worker's rate limiter has not seen the
        messages just sent, so it must not start before they aged out. `owner` may take the chat again at once.
        """
        with self._tx() as cur:
            if until is None:
                cur.execute(
                    "UPDATE outbox_leases SET lease_owner = NULL, lease_until = NULL "
                    "WHERE chat = %s AND lease_owner = %s",
                    (str(chat), owner),
                )
            else:
                cur.execute(
                    "UPDATE outbox_leases SET lease_until = %s WHERE chat = %s AND lease_owner = %s",
                    (until, str(chat), owner),
                )

    # -- the registry of live workers (bot/workers.py WorkerRegistry) ---------------------------

    def heartbeat(self, owner: str, now: datetime) -> None:
        """Record that worker `owner` is alive at `now` (registering it on its first beat)."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO workers (name, started_at, seen_at) VALUES (%(owner)s, %(now)s, %(now)s) "
                "ON CONFLICT (name) DO UPDATE SET seen_at = GREATEST(workers.seen_at, EXCLUDED.seen_at)",
                {"owner": owner, "now": now},
            )

    def live_workers(self, now: datetime, within_s: float) -> int:
        """Return how many workers were seen in the last `within_s` seconds (at least 1: the caller)."""
        rows = self._query(
            "SELECT COUNT(*) AS n FROM workers WHERE seen_at > %s", (now - timedelta(seconds=within_s),)
        )
        return max(1, int(rows[0]["n"]))

    def forget_worker(self, owner: str) -> None:
        """Remove worker `owner` from the registry (it stops cleanly: the others' shares grow at once)."""
        with self._tx() as cur:
            cur.execute("DELETE FROM workers WHERE name = %s", (owner,))

    @contextmanager
    def job_lock(self, name: str) -> Iterator[bool]:
        """Hold a cluster-wide lock named `name` while the block runs; yield False when another process holds it.

        A session advisory lock on a connection of its own: it is released when the block ends, or by the
        server when the process dies, so a crashed worker never leaves a periodic job locked.
        """
        conn = self._connect()
        try:
            try:
                row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS got", (f"veille:job:{name}",))
                got = bool(row.fetchone()["got"])  # type: ignore[index]
            except psycopg.Error as exc:
                raise StoreError(str(exc).strip()) from exc
            yield got
        finally:
            conn.close()  # ends the session, which releases the lock


_STATE_COLUMNS = "id, origin, next_poll_at, current_interval_s, failing_since, backoff_until, failure_notified_at"


def _feed_state(row: Row) -> FeedState:
    return FeedState(
        feed_id=row["id"],
        origin=row["origin"],
        next_poll_at=row["next_poll_at"],
        interval_s=row["current_interval_s"],
        failing_since=row["failing_since"],
        backoff_until=row["backoff_until"],
        notified_at=row["failure_notified_at"],
    )


def _feed(row: Row) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        name=row["name"],
        interval_s=row["interval_s"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_success=row["last_success"],
        last_error=row["last_error"],
        last_error_at=row["last_error_at"],
        consecutive_failures=row["consecutive_failures"],
        primed=bool(row["primed"]),
    )


def _article(row: Row) -> Article:
    return Article(
        id=row["id"],
        key=row["key"],
        url=row["url"],
        title=row["title"],
        text=row["text"],
        summary=row["summary"],
        source=row["source"],
        published=row["published"],
        lang=row["lang"],
        feed_id=row["feed_id"],
        content_hash=row["content_hash"],
        entities=[e for e in row["entities"].split("\n") if e],
        story_id=row["story_id"],
    )


# Subscriptions with the pause reason of their chat (a chat paused as a whole pauses all of them).
_SUBSCRIPTIONS = (
    "SELECT s.*, COALESCE(s.paused_reason, c.paused_reason) AS pause FROM subscriptions s "
    "LEFT JOIN chats c ON c.chat = s.chat"
)


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        chat=ChatRef.parse(row["chat"]),
        query=row["query"],
        created_at=row["created_at"],
        paused_reason=row["pause"] if "pause" in row else row["paused_reason"],
    )


def _alert(row: Row) -> PendingAlert:
    return PendingAlert(
        id=row["id"],
        chat=ChatRef.parse(row["chat"]),
        story_id=row["story_id"],
        article_id=row["article_id"],
        query=row["query"],
        state=row["state"],
        attempts=row["attempts"],
        message_id=row["message_id"],
        sources_sent=row["sources_sent"],
        edit_pending=bool(row["edit_pending"]),
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        held_reason=row["held_reason"],
        held_until=row["held_until"],
        digested_at=row["digested_at"],
    )
