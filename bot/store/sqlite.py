"""SQLite backend of the store: one file in WAL mode, schema from versioned migrations.

The connection is shared by the event loop and the pipeline's worker thread, so every operation
takes one lock and runs in one transaction: a crash leaves either all of an operation or none of it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

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


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def load_migrations() -> list[tuple[int, str]]:
    """Return (version, sql) for every bundled migration, in order."""
    folder = resources.files("bot.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SQLiteStore:
    """The system of record on SQLite."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode never corrupts the database; a power cut may lose the last commits only.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(f"{self.path}: not a usable Veille database ({exc})") from exc

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(str(exc)) from exc

    def _migrate(self) -> None:
        current = self._db.execute("PRAGMA user_version").fetchone()[0]
        migrations = load_migrations()
        latest = migrations[-1][0] if migrations else 0
        if current > latest:
            raise StoreCorrupt(f"{self.path}: schema version {current} is newer than this Veille ({latest})")
        for version, sql in migrations:
            if version <= current:
                continue
            with self._tx() as db:
                for statement in _split_sql(sql):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {version:d}")

    def schema_version(self) -> int:
        """Return the applied migration version."""
        return int(self._query("PRAGMA user_version")[0][0])

    def close(self) -> None:
        """Close the database, checkpointing the WAL."""
        with self._lock:
            self._db.close()

    @contextmanager
    def job_lock(self, name: str) -> Iterator[bool]:
        """Yield True: one process owns a SQLite file, so a periodic job never runs twice at once."""
        yield True

    # -- feeds ----------------------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[tuple[str, str, int]]) -> list[Feed]:
        """Make the configured (url, name, interval_s) feeds exist; return every stored feed."""
        now = _iso(datetime.now(UTC))
        with self._tx() as db:
            for url, name, interval_s in feeds:
                db.execute(
                    "INSERT INTO feeds (url, name, interval_s, created_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(url) DO UPDATE SET name = excluded.name, interval_s = excluded.interval_s",
                    (url, name, interval_s, now),
                )
        return self.list_feeds()

    def list_feeds(self) -> list[Feed]:
        """Return every feed, in the order they were added."""
        return [_feed(row) for row in self._query("SELECT * FROM feeds ORDER BY id")]

    def get_feed(self, feed_id: int) -> Feed | None:
        """Return one feed, or None."""
        rows = self._query("SELECT * FROM feeds WHERE id = ?", (feed_id,))
        return _feed(rows[0]) if rows else None

    def record_poll(self, feed_id: int, health: FeedHealth, at: datetime) -> None:
        """Save a poll's outcome: validators on success, error and failure count otherwise."""
        with self._tx() as db:
            if health.ok:
                db.execute(
                    "UPDATE feeds SET last_success = ?, consecutive_failures = 0, last_error = NULL, "
                    "etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) WHERE id = ?",
                    (_iso(at), health.etag, health.last_modified, feed_id),
                )
            else:
                db.execute(
                    "UPDATE feeds SET last_error = ?, last_error_at = ?, "
                    "consecutive_failures = consecutive_failures + 1 WHERE id = ?",
                    (health.error or "unknown error", _iso(at), feed_id),
                )
                db.execute(
                    "INSERT INTO feed_errors (feed_id, at, reason) SELECT id, ?, ? FROM feeds WHERE id = ?",
                    (_iso(at), health.error or "unknown error", feed_id),
                )

    def mark_primed(self, feed_id: int) -> None:
        """Note that the feed's initial backlog is stored, so later items are news."""
        with self._tx() as db:
            # Remember where the backlog ends, so /why can tell a backlog item from a later one.
            db.execute(
                "UPDATE feeds SET primed = 1, primed_max_article = (SELECT COALESCE(MAX(id), 0) FROM articles) "
                "WHERE id = ? AND primed = 0",
                (feed_id,),
            )

    # -- feed administration, schedule and health (issue 7) -------------------------------------

    def add_feed(self, url: str, name: str, interval_s: int, origin: str) -> tuple[Feed, bool]:
        """Store a feed added at run time (chat, OPML); return it and whether it is new (False: URL known)."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO feeds (url, name, interval_s, created_at, origin) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(url) DO NOTHING",
                (url, name, interval_s, _iso(datetime.now(UTC)), origin),
            )
            created = cursor.rowcount > 0
            row = db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        return _feed(row), created

    def get_feed_by_url(self, url: str) -> Feed | None:
        """Return the feed with this exact URL, or None."""
        rows = self._query("SELECT * FROM feeds WHERE url = ?", (url,))
        return _feed(rows[0]) if rows else None

    def remove_feed(self, feed_id: int) -> bool:
        """Delete a feed and its schedule (its articles stay, detached); False when there is no such feed."""
        with self._tx() as db:
            return db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,)).rowcount > 0

    def feeds_version(self) -> int:
        """Return a number that changes whenever a feed is added or removed."""
        rows = self._query("SELECT value FROM meta WHERE key = 'feeds_version'")
        return int(rows[0][0]) if rows else 0

    def feed_states(self) -> dict[int, FeedState]:
        """Return the schedule and health of every feed, by feed id."""
        rows = self._query(
            "SELECT id, origin, next_poll_at, current_interval_s, failing_since, backoff_until, "
            "failure_notified_at FROM feeds"
        )
        return {
            row["id"]: FeedState(
                feed_id=row["id"],
                origin=row["origin"],
                next_poll_at=_dt(row["next_poll_at"]),
                interval_s=row["current_interval_s"],
                failing_since=_dt(row["failing_since"]),
                backoff_until=_dt(row["backoff_until"]),
                notified_at=_dt(row["failure_notified_at"]),
            )
            for row in rows
        }

    def save_feed_state(self, state: FeedState) -> None:
        """Persist a feed's schedule and health (next poll, interval, failing since, backoff, notice)."""

        def opt(moment: datetime | None) -> str | None:
            return _iso(moment) if moment else None

        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET next_poll_at = ?, current_interval_s = ?, failing_since = ?, backoff_until = ?, "
                "failure_notified_at = ? WHERE id = ?",
                (opt(state.next_poll_at), state.interval_s, opt(state.failing_since), opt(state.backoff_until),
                 opt(state.notified_at), state.feed_id),
            )

    def stats(self, since: datetime, errors_since: datetime) -> StoreStats:
        """Count feeds, articles, stories, alerts sent since `since`, pending alerts, errors since `errors_since`."""
        row = self._query(
            "SELECT (SELECT COUNT(*) FROM feeds), (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM stories), "
            "(SELECT COUNT(*) FROM alerts WHERE sent_at >= ?), "
            "(SELECT COUNT(*) FROM alerts WHERE state = 'pending'), "
            "(SELECT COUNT(*) FROM feed_errors WHERE at >= ?)",
            (_iso(since), _iso(errors_since)),
        )[0]
        return StoreStats(*(int(value) for value in row))

    def delete_articles_before(self, cutoff: datetime, limit: int = 1000) -> list[int]:
        """Delete up to `limit` articles stored before `cutoff` (with their delivered alerts and emptied
        stories; articles with alerts still pending or held stay); return the deleted ids."""
        with self._tx() as db:
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM articles a WHERE stored_at < ? AND NOT EXISTS (SELECT 1 FROM alerts l "
                    "WHERE l.article_id = a.id AND (l.state IN ('pending', 'held') OR l.edit_pending = 1)) "
                    "ORDER BY id LIMIT ?",
                    (_iso(cutoff), limit),
                )
            ]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            stories = [
                row[0]
                for row in db.execute(
                    f"SELECT DISTINCT story_id FROM articles WHERE id IN ({marks}) AND story_id IS NOT NULL", ids
                )
            ]
            db.execute(f"DELETE FROM alerts WHERE article_id IN ({marks})", ids)
            db.execute(f"DELETE FROM articles WHERE id IN ({marks})", ids)
            for story_id in stories:
                db.execute(
                    "DELETE FROM stories WHERE id = ? AND NOT EXISTS (SELECT 1 FROM articles WHERE story_id = ?) "
                    "AND NOT EXISTS (SELECT 1 FROM alerts WHERE story_id = ?)",
                    (story_id, story_id, story_id),
                )
        return ids

    def maintain(self, errors_before: datetime) -> None:
        """Run routine database upkeep and forget poll errors older than `errors_before`."""
        with self._tx() as db:
            db.execute("DELETE FROM feed_errors WHERE at < ?", (_iso(errors_before),))
            db.execute(
                "DELETE FROM subscription_log WHERE version <= "
                "(SELECT value FROM meta WHERE key = 'subscriptions_version') - ?",
                (SUBSCRIPTION_LOG_KEPT,),
            )
        with self._lock:
            try:
                # optimize refreshes the planner's statistics where they went stale; the checkpoint folds the
                # WAL back into the database file and truncates it, so the WAL does not grow for months.
                self._db.execute("PRAGMA optimize")
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"maintenance failed: {exc}") from exc

    # -- articles and stories -------------------------------------------------------------------

    def is_known(self, key: str, content_hash: str) -> bool:
        """Tell whether an article with this key or this exact content is already stored."""
        rows = self._query(
            "SELECT 1 FROM articles WHERE key = ? UNION ALL SELECT 1 FROM articles WHERE content_hash = ? LIMIT 1",
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
        """Store one article with its story and its alerts in one transaction; None when already known.

        `article.story_id` names an existing story, or `new_story_title` creates one. `alerts` lists
        (chat, matched query): a chat that already has an alert for the story gets an edit instead.
        """
        now = datetime.now(UTC)
        with self._tx() as db:
            known = db.execute(
                "SELECT 1 FROM articles WHERE key = ? UNION ALL SELECT 1 FROM articles WHERE content_hash = ? "
                "LIMIT 1",
                (article.key, article.content_hash),
            ).fetchone()
            if known:
                return None
            story_id = article.story_id
            if story_id is None or new_story_title is not None:
                story_id = db.execute(
                    "INSERT INTO stories (title, first_seen, last_seen) VALUES (?, ?, ?)",
                    (new_story_title or article.title, _iso(now), _iso(now)),
                ).lastrowid
            else:
                db.execute("UPDATE stories SET last_seen = ? WHERE id = ?", (_iso(now), story_id))
            cursor = db.execute(
                "INSERT INTO articles (key, url, title, text, summary, source, published, stored_at, lang, "
                "feed_id, content_hash, entities, story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article.key,
                    article.url,
                    article.title,
                    article.text,
                    article.summary,
                    article.source,
                    _iso(article.published),
                    _iso(now),
                    article.lang,
                    article.feed_id,
                    article.content_hash,
                    "\n".join(article.entities),
                    story_id,
                ),
            )
            article.id = cursor.lastrowid
            article.story_id = story_id
            for chat, query in alerts:
                db.execute(
                    "INSERT INTO alerts (chat, story_id, article_id, query, created_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(chat, story_id) DO UPDATE SET "
                    "edit_pending = CASE WHEN alerts.state = 'sent' THEN 1 ELSE alerts.edit_pending END",
                    (str(chat), story_id, article.id, query, _iso(now), _iso(now)),
                )
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
        rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,))
        return _article(rows[0]) if rows else None

    def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]:
        """Return the articles with these ids, keyed by id (missing ids are left out)."""
        if not article_ids:
            return {}
        marks = ",".join("?" * len(article_ids))
        rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks})", list(article_ids))
        return {row["id"]: _article(row) for row in rows}

    def find_article_by_url(self, url: str) -> Article | None:
        """Return the article stored under this URL, or None."""
        rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE url = ? LIMIT 1", (url,))
        return _article(rows[0]) if rows else None

    def latest_articles(self, limit: int) -> list[Article]:
        """Return the most recently published articles, newest first."""
        rows = self._query(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY published DESC, id DESC LIMIT ?", (limit,)
        )
        return [_article(row) for row in rows]

    def latest_stories(self, limit: int) -> list[tuple[Story, list[Article]]]:
        """Return the stories with the most recently published articles, newest first, each with its articles."""

        def newest(count: int, offset: int) -> list[int]:
            rows = self._query(
                "SELECT story_id FROM articles WHERE story_id IS NOT NULL "
                "ORDER BY published DESC, id DESC LIMIT ? OFFSET ?",
                (count, offset),
            )
            return [row["story_id"] for row in rows]

        return latest_stories_of(self, newest, limit)

    def iter_articles(self, after_id: int = 0, batch: int = 1000) -> Iterator[Article]:
        """Yield every article with id > after_id in id order (for indexing and migration)."""
        last = after_id
        while True:
            rows = self._query(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            )
            if not rows:
                return
            for row in rows:
                yield _article(row)
            last = rows[-1]["id"]

    def max_article_id(self) -> int:
        """Return the highest article id, or 0 for an empty store."""
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM articles")[0][0])

    def count_articles(self) -> int:
        """Return how many articles are stored."""
        return int(self._query("SELECT COUNT(*) FROM articles")[0][0])

    def count_stories(self) -> int:
        """Return how many stories are stored."""
        return int(self._query("SELECT COUNT(*) FROM stories")[0][0])

    def recent_articles(self, since: datetime, limit: int = 5000) -> list[Article]:
        """Articles published or stored since `since`, newest first (story grouping window)."""
        rows = self._query(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE published >= ? OR stored_at >= ? "
            "ORDER BY id DESC LIMIT ?",
            (_iso(since), _iso(since), limit),
        )
        return [_article(row) for row in rows]

    def create_story(self, title: str, first_seen: datetime) -> int:
        """Create an empty story and return its id."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO stories (title, first_seen, last_seen) VALUES (?, ?, ?)",
                (title, _iso(first_seen), _iso(first_seen)),
            )
            return int(cursor.lastrowid or 0)

    def set_story(self, article_id: int, story_id: int) -> None:
        """Move an article into a story."""
        with self._tx() as db:
            db.execute("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))

    def get_story(self, story_id: int) -> Story | None:
        """Return the story with its distinct sources, or None."""
        rows = self._query("SELECT * FROM stories WHERE id = ?", (story_id,))
        if not rows:
            return None
        sources = [
            r[0]
            for r in self._query(
                "SELECT source FROM articles WHERE story_id = ? GROUP BY source ORDER BY MIN(id)", (story_id,)
            )
        ]
        count = self._query("SELECT COUNT(*) FROM articles WHERE story_id = ?", (story_id,))[0][0]
        return Story(
            id=rows[0]["id"],
            title=rows[0]["title"],
            first_seen=_dt(rows[0]["first_seen"]) or datetime.now(UTC),
            article_count=int(count),
            sources=sources,
        )

    def story_articles(self, story_id: int) -> list[Article]:
        """Return a story's articles, first stored first."""
        rows = self._query(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE story_id = ? ORDER BY id", (story_id,)
        )
        return [_article(row) for row in rows]

    def story_source_counts(self, story_ids: Sequence[int]) -> dict[int, int]:
        """Return how many distinct sources reported each story."""
        if not story_ids:
            return {}
        marks = ",".join("?" * len(story_ids))
        rows = self._query(
            f"SELECT story_id, COUNT(DISTINCT source) FROM articles WHERE story_id IN ({marks}) "
            "GROUP BY story_id",
            list(story_ids),
        )
        return {row[0]: int(row[1]) for row in rows}

    # -- subscriptions and chats ----------------------------------------------------------------

    def add_subscription(self, chat: ChatRef, query: str, at: datetime) -> Subscription:
        """Subscribe a chat to a query (idempotent: the same query returns the existing one)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO subscriptions (chat, query, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(chat, query) DO NOTHING",
                (str(chat), query, _iso(at)),
            )
            row = db.execute(
                "SELECT * FROM subscriptions WHERE chat = ? AND query = ?", (str(chat), query)
            ).fetchone()
        return _subscription(row)

    def remove_subscription(self, chat: ChatRef, subscription_id: int) -> bool:
        """Delete one of the chat's subscriptions; False when it has no such subscription."""
        with self._tx() as db:
            cursor = db.execute(
                "DELETE FROM subscriptions WHERE chat = ? AND id = ?", (str(chat), subscription_id)
            )
            return cursor.rowcount > 0

    def list_subscriptions(self, chat: ChatRef | None = None) -> list[Subscription]:
        """Return a chat's subscriptions, or everyone's, oldest first, with the chat's pause reason."""
        if chat is None:
            rows = self._query(_SUBSCRIPTIONS + " ORDER BY s.id")
        else:
            rows = self._query(_SUBSCRIPTIONS + " WHERE s.chat = ? ORDER BY s.id", (str(chat),))
        return [_subscription(row) for row in rows]

    def get_chat_lang(self, chat: ChatRef) -> str | None:
        """Return the language set with /lang for this chat, or None."""
        rows = self._query("SELECT lang FROM chats WHERE chat = ?", (str(chat),))
        return rows[0][0] if rows else None

    def set_chat_lang(self, chat: ChatRef, lang: str) -> None:
        """Remember the language the bot speaks in this chat."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO chats (chat, lang) VALUES (?, ?) ON CONFLICT(chat) DO UPDATE SET lang = excluded.lang",
                (str(chat), lang),
            )

    def pause_chat(self, chat: ChatRef, reason: str, at: datetime) -> None:
        """Stop delivering to a chat the platform refuses for good; its alerts stay queued."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO chats (chat, paused_reason, paused_at) VALUES (?, ?, ?) ON CONFLICT(chat) "
                "DO UPDATE SET paused_reason = excluded.paused_reason, paused_at = excluded.paused_at",
                (str(chat), reason, _iso(at)),
            )

    def resume_chat(self, chat: ChatRef) -> None:
        """Deliver to a paused chat again."""
        with self._tx() as db:
            db.execute("UPDATE chats SET paused_reason = NULL, paused_at = NULL WHERE chat = ?", (str(chat),))

    # -- the outbox -----------------------------------------------------------------------------

    def due_alerts(self, now: datetime, limit: int = 100) -> list[PendingAlert]:
        """Return alerts to send or edit now, oldest first, skipping paused chats."""
        rows = self._query(
            "SELECT a.* FROM alerts a LEFT JOIN chats c ON c.chat = a.chat "
            "WHERE c.paused_reason IS NULL AND a.next_attempt_at <= ? "
            "AND (a.state = 'pending' OR a.edit_pending = 1) "
            # Order per chat: an earlier alert still waiting for its retry holds back the later ones.
            "AND NOT EXISTS (SELECT 1 FROM alerts b WHERE b.chat = a.chat AND b.id < a.id "
            "AND b.state = 'pending' AND b.next_attempt_at > ?) ORDER BY a.id LIMIT ?",
            (_iso(now), _iso(now), limit),
        )
        return [_alert(row) for row in rows]

    def count_pending_alerts(self) -> int:
        """Return how many alerts wait to be sent (paused chats included)."""
        return int(self._query("SELECT COUNT(*) FROM alerts WHERE state = 'pending'")[0][0])

    def mark_alert_sent(
        self, alert_id: int, message_id: str, sources: int, at: datetime, shown: Sequence[int] | None = None
    ) -> None:
        """Record that the platform accepted the alert (or its edit); keep an edit pending for late joiners."""
        # In the same statement as the state change, so an article committed a moment before is not missed.
        late = (
            "EXISTS (SELECT 1 FROM articles WHERE story_id = alerts.story_id "
            "AND id NOT IN (SELECT value FROM json_each(?)))"
        )
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET state = 'sent', message_id = ?, sent_at = COALESCE(sent_at, ?), "
                f"sources_sent = ?, edit_pending = CASE WHEN ? IS NULL THEN 0 ELSE {late} END, "
                "attempts = 0, last_error = NULL WHERE id = ?",
                (message_id, _iso(at), sources, None if shown is None else 1,
                 json.dumps(list(shown or [])), alert_id),
            )

    def mark_alert_retry(self, alert_id: int, error: str, next_attempt_at: datetime) -> None:
        """Record a failed attempt and when to try again."""
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                (error, _iso(next_attempt_at), alert_id),
            )

    def alert_for(self, chat: ChatRef, story_id: int) -> PendingAlert | None:
        """Return the alert of this story in this chat, whatever its state."""
        rows = self._query("SELECT * FROM alerts WHERE chat = ? AND story_id = ?", (str(chat), story_id))
        return _alert(rows[0]) if rows else None

    # -- alert policy, digests and explanations -------------------------------------------------

    def subscriptions_version(self) -> int:
        """Return a number that changes whenever any subscription is added, changed or removed."""
        rows = self._query("SELECT value FROM meta WHERE key = 'subscriptions_version'")
        return int(rows[0][0]) if rows else 0

    def subscription_changes(self, after_version: int) -> SubscriptionChanges | None:
        """Return the subscriptions changed after `after_version`, or None when the log does not reach back."""
        current = self.subscriptions_version()
        log = [
            (row["version"], row["subscription_id"])
            for row in self._query(
                "SELECT version, subscription_id FROM subscription_log WHERE version > ? ORDER BY version LIMIT ?",
                (after_version, SUBSCRIPTION_LOG_KEPT),
            )
        ]
        return changes_from_log(after_version, current, log, self._subscriptions_by_id)

    def _subscriptions_by_id(self, ids: list[int]) -> list[Subscription]:
        rows = self._query(
            _SUBSCRIPTIONS + " WHERE s.id IN (SELECT value FROM json_each(?)) ORDER BY s.id",
            (json.dumps(ids),),
        )
        return [_subscription(row) for row in rows]

    def due_chats(self, now: datetime) -> list[ChatRef]:
        """Return the chats (not paused) that have an alert to send or edit now, oldest alert first."""
        rows = self._query(
            "SELECT a.chat, MIN(a.id) AS first FROM alerts a LEFT JOIN chats c ON c.chat = a.chat "
            "WHERE c.paused_reason IS NULL AND a.next_attempt_at <= ? "
            "AND (a.state = 'pending' OR a.edit_pending = 1) "
            "AND NOT EXISTS (SELECT 1 FROM alerts b WHERE b.chat = a.chat AND b.id < a.id "
            "AND b.state = 'pending' AND b.next_attempt_at > ?) GROUP BY a.chat ORDER BY first",
            (_iso(now), _iso(now)),
        )
        return [ChatRef.parse(row[0]) for row in rows]

    def due_alerts_for(self, chat: ChatRef, now: datetime, limit: int = 50) -> list[PendingAlert]:
        """Return one chat's alerts to send or edit now, in order; none past one still waiting to retry."""
        key = str(chat)
        rows = self._query(
            "SELECT a.* FROM alerts a LEFT JOIN chats c ON c.chat = a.chat WHERE a.chat = ? "
            "AND c.paused_reason IS NULL AND a.next_attempt_at <= ? AND (a.state = 'pending' OR a.edit_pending = 1) "
            "AND a.id < COALESCE((SELECT MIN(b.id) FROM alerts b WHERE b.chat = ? AND b.state = 'pending' "
            "AND b.next_attempt_at > ?), 9223372036854775807) ORDER BY a.id LIMIT ?",
            (key, _iso(now), key, _iso(now), limit),
        )
        return [_alert(row) for row in rows]

    def get_chat_settings(self, chat: ChatRef) -> ChatSettings:
        """Return the chat's own alert settings (all None for a chat that set nothing)."""
        rows = self._query("SELECT * FROM chats WHERE chat = ?", (str(chat),))
        if not rows:
            return ChatSettings(chat=chat)
        row = rows[0]
        return ChatSettings(
            chat=chat,
            timezone=row["timezone"],
            quiet_hours=row["quiet_hours"],
            max_per_hour=row["max_per_hour"],
            digest=row["digest"],
            last_digest_at=_dt(row["last_digest_at"]),
            paused_reason=row["paused_reason"],
        )

    def set_chat_setting(self, chat: ChatRef, name: str, value: str | int | None) -> None:
        """Set one of CHAT_SETTINGS for a chat (None: back to the default); ValueError for another name."""
        if name not in CHAT_SETTINGS:
            raise ValueError(f"not a chat setting: {name!r}")
        with self._tx() as db:
            db.execute("INSERT INTO chats (chat) VALUES (?) ON CONFLICT(chat) DO NOTHING", (str(chat),))
            # `name` is one of the fixed column names checked above, never user text.
            db.execute(f"UPDATE chats SET {name} = ? WHERE chat = ?", (value, str(chat)))
            if name == "digest":
                # A new schedule counts from now: the first digest is the next scheduled time, not a backlog.
                db.execute(
                    "UPDATE chats SET last_digest_at = COALESCE(last_digest_at, ?) WHERE chat = ?",
                    (_iso(datetime.now(UTC)), str(chat)),
                )

    def sent_times_since(self, chat: ChatRef, since: datetime) -> list[datetime]:
        """Return when the chat's alerts first sent at or after `since` went out, oldest first."""
        rows = self._query(
            "SELECT sent_at FROM alerts WHERE chat = ? AND sent_at >= ? ORDER BY sent_at", (str(chat), _iso(since))
        )
        return [d for d in (_dt(row[0]) for row in rows) if d is not None]

    def hold_alert(self, alert_id: int, reason: str, at: datetime, until: datetime) -> None:
        """Keep a pending alert for the chat's next digest instead of sending it (quiet hours, cap)."""
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET state = 'held', held_reason = ?, held_at = ?, held_until = ?, edit_pending = 0 "
                "WHERE id = ? AND state = 'pending'",
                (reason, _iso(at), _iso(until), alert_id),
            )

    def held_alerts(self, chat: ChatRef) -> list[PendingAlert]:
        """Return the chat's alerts waiting for a digest, oldest first."""
        rows = self._query("SELECT * FROM alerts WHERE chat = ? AND state = 'held' ORDER BY id", (str(chat),))
        return [_alert(row) for row in rows]

    def alerts_since(self, chat: ChatRef, since: datetime | None) -> list[PendingAlert]:
        """Return the chat's alerts created at or after `since` (all when None), whatever their state."""
        if since is None:
            rows = self._query("SELECT * FROM alerts WHERE chat = ? ORDER BY id", (str(chat),))
        else:
            rows = self._query(
                "SELECT * FROM alerts WHERE chat = ? AND created_at >= ? ORDER BY id", (str(chat), _iso(since))
            )
        return [_alert(row) for row in rows]

    def record_digest(self, chat: ChatRef, alert_ids: Sequence[int], at: datetime) -> None:
        """Mark held alerts as carried by a digest sent at `at`, and remember `at` as the chat's last digest."""
        with self._tx() as db:
            for alert_id in alert_ids:
                db.execute(
                    "UPDATE alerts SET state = 'digested', digested_at = ? WHERE id = ? AND chat = ? "
                    "AND state = 'held'",
                    (_iso(at), alert_id, str(chat)),
                )
            db.execute("INSERT INTO chats (chat) VALUES (?) ON CONFLICT(chat) DO NOTHING", (str(chat),))
            db.execute("UPDATE chats SET last_digest_at = ? WHERE chat = ?", (_iso(at), str(chat)))

    def digest_chats(self) -> list[ChatRef]:
        """Return every chat a digest may concern: with subscriptions, settings, or held alerts."""
        rows = self._query(
            "SELECT chat FROM subscriptions UNION SELECT chat FROM chats "
            "UNION SELECT chat FROM alerts WHERE state = 'held' ORDER BY 1"
        )
        return [ChatRef.parse(row[0]) for row in rows]

    def is_backlog(self, article_id: int) -> bool | None:
        """Tell whether an article came with its feed's first poll (None when it cannot be told)."""
        rows = self._query(
            "SELECT a.id, f.primed, f.primed_max_article FROM articles a JOIN feeds f ON f.id = a.feed_id "
            "WHERE a.id = ?",
            (article_id,),
        )
        if not rows:
            return None
        row = rows[0]
        if not row["primed"]:
            return True  # the feed's first poll has not finished: everything so far is backlog
        if row["primed_max_article"] is None:
            return None
        return bool(row["id"] <= row["primed_max_article"])


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping a trigger's inner semicolons inside its statement."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    leftover = [ln for ln in buffer.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    if leftover:
        raise StoreCorrupt(f"migration ends with an incomplete statement: {' '.join(leftover)[:200]}")
    return statements


def _feed(row: sqlite3.Row) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        name=row["name"],
        interval_s=row["interval_s"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_success=_dt(row["last_success"]),
        last_error=row["last_error"],
        last_error_at=_dt(row["last_error_at"]),
        consecutive_failures=row["consecutive_failures"],
        primed=bool(row["primed"]),
    )


def _article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"],
        key=row["key"],
        url=row["url"],
        title=row["title"],
        text=row["text"],
        summary=row["summary"],
        source=row["source"],
        published=_dt(row["published"]) or datetime.now(UTC),
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


def _subscription(row: sqlite3.Row) -> Subscription:
    keys = row.keys()
    return Subscription(
        id=row["id"],
        chat=ChatRef.parse(row["chat"]),
        query=row["query"],
        created_at=_dt(row["created_at"]) or datetime.now(UTC),
        paused_reason=row["pause"] if "pause" in keys else row["paused_reason"],
    )


def _alert(row: sqlite3.Row) -> PendingAlert:
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
        created_at=_dt(row["created_at"]),
        sent_at=_dt(row["sent_at"]),
        next_attempt_at=_dt(row["next_attempt_at"]),
        last_error=row["last_error"],
        held_reason=row["held_reason"],
        held_until=_dt(row["held_until"]),
        digested_at=_dt(row["digested_at"]),
    )
