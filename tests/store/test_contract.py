"""One contract every store backend passes. Add a backend to `BACKENDS` and it runs the whole suite."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.models import Article, ChatRef
from bot.store.base import FeedHealth, StoreCorrupt, StoreError
from bot.store.sqlite import SQLiteStore
from tests.store.pg import pg_schema_url

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# PostgreSQL runs when VEILLE_TEST_PG_URL names a server (.ci/run sets it), else it is skipped with the reason.
BACKENDS = ["sqlite", "postgres"]
# Alerts are due from the moment they are stored (real time); look a day past that.
LATER = datetime.now(UTC) + timedelta(days=1)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        backend = SQLiteStore(tmp_path / "veille.db")
        yield backend
        backend.close()
        return
    from bot.store.postgres import PostgresStore

    with pg_schema_url() as url:
        backend = PostgresStore(url)
        yield backend
        backend.close()


def make_article(n: int, **overrides: object) -> Article:
    fields: dict[str, object] = dict(
        key=f"url:https://example.org/{n}",
        url=f"https://example.org/{n}",
        title=f"Title {n}",
        text=f"Body of article {n}.",
        source="Example",
        published=NOW - timedelta(hours=n),
        lang="en",
        content_hash=f"hash{n}",
    )
    fields.update(overrides)
    return Article(**fields)  # type: ignore[arg-type]


def test_migrations_create_the_schema_and_are_idempotent(tmp_path: Path) -> None:
    first = SQLiteStore(tmp_path / "a.db")
    version = first.schema_version()
    first.close()
    again = SQLiteStore(tmp_path / "a.db")
    assert version >= 1 and again.schema_version() == version
    again.close()


def test_a_file_that_is_not_a_database_is_refused_with_a_reason(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreCorrupt, match="not a usable"):
        SQLiteStore(bogus)


def test_wal_mode_is_on(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "w.db").close()
    mode = sqlite3.connect(tmp_path / "w.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_feeds_are_synced_and_polls_recorded(store) -> None:
    feeds = store.sync_feeds([("https://a.example/feed", "A", 600), ("https://b.example/rss", "B", 60)])
    assert [f.name for f in feeds] == ["A", "B"]
    store.sync_feeds([("https://a.example/feed", "A renamed", 300)])
    feed_a = store.list_feeds()[0]
    assert (feed_a.name, feed_a.interval_s) == ("A renamed", 300)
    store.record_poll(feed_a.id, FeedHealth(ok=False, error="HTTP 500"), NOW)
    store.record_poll(feed_a.id, FeedHealth(ok=False, error="timed out"), NOW)
    failing = store.list_feeds()[0]
    assert (failing.consecutive_failures, failing.last_error) == (2, "timed out")
    store.record_poll(feed_a.id, FeedHealth(ok=True, etag='"v1"', last_modified="Fri"), NOW)
    healed = store.list_feeds()[0]
    assert healed.consecutive_failures == 0 and healed.last_error is None
    assert (healed.etag, healed.last_modified, healed.last_success) == ('"v1"', "Fri", NOW)
    assert not healed.primed
    store.mark_primed(feed_a.id)
    assert store.list_feeds()[0].primed


def test_same_key_or_same_content_is_stored_once(store) -> None:
    first = store.add_articles([make_article(1), make_article(2)])
    assert len(first.new) == 2 and first.duplicates == 0
    assert all(a.id for a in first.new)
    again = store.add_articles([make_article(1), make_article(3, content_hash="hash2")])
    assert again.new == [] and again.duplicates == 2
    assert store.count_articles() == 2
    assert store.is_known("url:https://example.org/1", "zzz")
    assert store.is_known("nope", "hash2")
    assert not store.is_known("nope", "nope")


def test_articles_round_trip_with_entities_and_dates(store) -> None:
    stored = store.add_article(make_article(1, entities=["Broadcom", "OpenAI"], summary="Short."))
    loaded = store.get_article(stored.id)
    assert loaded is not None
    assert loaded.entities == ["Broadcom", "OpenAI"]
    assert loaded.published == NOW - timedelta(hours=1)
    assert loaded.summary == "Short."
    assert store.find_article_by_url("https://example.org/1").id == stored.id
    assert store.get_articles([stored.id, 999]) == {stored.id: loaded}


def test_iteration_latest_and_recent(store) -> None:
    store.add_articles([make_article(n) for n in range(1, 8)])
    assert [a.title for a in store.latest_articles(3)] == ["Title 1", "Title 2", "Title 3"]
    ids = [a.id for a in store.iter_articles(after_id=2, batch=2)]
    assert ids == [3, 4, 5, 6, 7]
    assert store.max_article_id() == 7
    recent = store.recent_articles(NOW - timedelta(hours=3, minutes=30))
    assert {a.title for a in recent} >= {"Title 1", "Title 2", "Title 3"}


def test_stories_group_articles_and_count_sources(store) -> None:
    first = store.add_article(make_article(1, source="Le Monde"), new_story_title="Broadcom deal")
    second = make_article(2, source="Reuters")
    second.story_id = first.story_id
    store.add_article(second)
    third = make_article(3, source="Reuters")
    third.story_id = first.story_id
    store.add_article(third)
    story = store.get_story(first.story_id)
    assert story.title == "Broadcom deal" and story.article_count == 3
    assert story.sources == ["Le Monde", "Reuters"]
    assert store.story_source_counts([first.story_id]) == {first.story_id: 2}
    assert [a.id for a in store.story_articles(first.story_id)] == [1, 2, 3]
    assert store.latest_stories(5)[0][0].id == first.story_id



def test_latest_stories_are_ordered_by_their_newest_article_across_pages(store) -> None:
    # Five small stories, then one story whose 60 articles are all newer: finding the next stories means
    # walking past more than one page (50) of the newest articles.
    small = []
    for n in range(5):
        head = store.add_article(make_article(1000 + n, published=NOW - timedelta(days=10 - n)),
                                 new_story_title=f"small {n}")
        small.append(head.story_id)
    big = store.add_article(make_article(1, published=NOW - timedelta(days=1)), new_story_title="big")
    for n in range(2, 61):
        joined = make_article(n, published=NOW - timedelta(days=1) + timedelta(minutes=n))
        joined.story_id = big.story_id
        store.add_article(joined)
    latest = store.latest_stories(3)
    assert [story.id for story, _ in latest] == [big.story_id, small[4], small[3]]
    assert len(latest[0][1]) == 60 and latest[0][1][0].id == big.id  # all its articles, first stored first
    # A late article moves an old story to the top.
    late = make_article(2000, published=NOW)
    late.story_id = small[0]
    store.add_article(late)
    assert [story.id for story, _ in store.latest_stories(2)] == [small[0], big.story_id]
    assert len(store.latest_stories(100)) == 6


def test_subscriptions_per_chat(store) -> None:
    chat = ChatRef("telegram", "-100")
    other = ChatRef("discord", "42")
    sub = store.add_subscription(chat, "broadcom", NOW)
    assert store.add_subscription(chat, "broadcom", NOW).id == sub.id
    store.add_subscription(other, "nvidia", NOW)
    assert [s.query for s in store.list_subscriptions(chat)] == ["broadcom"]
    assert len(store.list_subscriptions()) == 2
    assert not store.remove_subscription(other, sub.id)
    assert store.remove_subscription(chat, sub.id)
    assert store.list_subscriptions(chat) == []



def test_subscription_changes_follow_the_log_until_it_is_trimmed(store) -> None:
    chat, other = ChatRef("telegram", "-100"), ChatRef("discord", "42")
    start = store.subscriptions_version()
    first = store.add_subscription(chat, "broadcom", NOW)
    second = store.add_subscription(other, "nvidia", NOW)
    changes = store.subscription_changes(start)
    assert changes is not None and changes.version == store.subscriptions_version()
    assert [(s.id, s.chat, s.query) for s in changes.changed] == [
        (first.id, chat, "broadcom"), (second.id, other, "nvidia")
    ]
    assert changes.removed == []
    middle = changes.version
    store.remove_subscription(chat, first.id)
    third = store.add_subscription(chat, "rain ai", NOW)
    later = store.subscription_changes(middle)
    assert later is not None and later.version == store.subscriptions_version() > middle
    assert [s.id for s in later.changed] == [third.id] and later.removed == [first.id]
    nothing = store.subscription_changes(later.version)
    assert nothing is not None and nothing.changed == [] and nothing.removed == []
    # Once the log no longer reaches back to a reader's version, it is told to read everything.
    store._query("DELETE FROM subscription_log WHERE version <= " + str(middle + 1) + " RETURNING version")
    assert store.subscription_changes(start) is None and store.subscription_changes(middle) is None
    assert store.subscription_changes(middle + 1) is not None


def test_chat_language(store) -> None:
    chat = ChatRef("telegram", "1")
    assert store.get_chat_lang(chat) is None
    store.set_chat_lang(chat, "fr")
    assert store.get_chat_lang(chat) == "fr"


def test_alert_is_written_with_its_article_and_once_per_story(store) -> None:
    chat = ChatRef("telegram", "1")
    first = store.add_article(make_article(1), new_story_title="S", alerts=[(chat, "broadcom")])
    due = store.due_alerts(LATER)
    assert [(a.chat, a.story_id, a.article_id, a.state) for a in due] == [(chat, first.story_id, first.id, "pending")]
    # A second article of the same story while the alert is still pending: still one alert.
    joined = make_article(2)
    joined.story_id = first.story_id
    store.add_article(joined, alerts=[(chat, "broadcom")])
    assert len(store.due_alerts(LATER)) == 1
    store.mark_alert_sent(due[0].id, "m1", 1, NOW)
    assert store.due_alerts(LATER) == []
    # Once sent, a new source turns into an edit of the same message.
    late = make_article(3)
    late.story_id = first.story_id
    store.add_article(late, alerts=[(chat, "broadcom")])
    edit = store.due_alerts(LATER)
    assert len(edit) == 1 and edit[0].edit_pending and edit[0].message_id == "m1"



def test_a_source_that_joins_while_the_alert_is_in_flight_keeps_an_edit_due(store) -> None:
    chat = ChatRef("telegram", "1")
    first = store.add_article(make_article(1), new_story_title="S", alerts=[(chat, "q")])
    in_flight = store.due_alerts(LATER)[0]  # the sender built its message from article 1 only...
    joined = make_article(2)
    joined.story_id = first.story_id
    store.add_article(joined, alerts=[(chat, "q")])  # ...and article 2 arrived before it recorded the send
    store.mark_alert_sent(in_flight.id, "m1", 1, NOW, shown=[first.id])
    edit = store.due_alerts(LATER)
    assert len(edit) == 1 and edit[0].edit_pending and edit[0].state == "sent" and edit[0].sources_sent == 1
    # The edit that shows both clears it.
    store.mark_alert_sent(in_flight.id, "m1", 2, NOW, shown=[first.id, joined.id])
    assert store.due_alerts(LATER) == []


def test_a_duplicate_article_creates_no_alert(store) -> None:
    chat = ChatRef("discord", "9")
    store.add_article(make_article(1))
    assert store.add_article(make_article(1), alerts=[(chat, "x")]) is None
    assert store.due_alerts(LATER) == []


def test_retry_paused_chats_and_pending_count(store) -> None:
    chat = ChatRef("telegram", "5")
    store.add_article(make_article(1), new_story_title="S", alerts=[(chat, "q")])
    alert = store.due_alerts(LATER)[0]
    store.mark_alert_retry(alert.id, "HTTP 502", LATER + timedelta(days=1))
    assert store.due_alerts(LATER) == []
    assert store.due_alerts(LATER + timedelta(days=2))[0].attempts == 1
    store.pause_chat(chat, "bot was kicked", NOW)
    assert store.due_alerts(LATER + timedelta(days=2)) == []
    assert store.count_pending_alerts() == 1
    store.add_subscription(chat, "q", NOW)
    assert store.list_subscriptions(chat)[0].paused_reason == "bot was kicked"
    store.resume_chat(chat)
    assert len(store.due_alerts(LATER + timedelta(days=2))) == 1


def test_a_failed_transaction_leaves_nothing_behind(store) -> None:
    chat = ChatRef("telegram", "1")
    bad = make_article(1)
    bad.story_id = 12345  # no such story: the foreign key fails inside the transaction
    with pytest.raises((sqlite3.IntegrityError, StoreError)):
        store.add_article(bad, alerts=[(chat, "q")])
    assert store.count_articles() == 0
    assert store.due_alerts(LATER) == []


# -- alert policy, digests and /why (issue 4) ------------------------------------------------------


def test_subscriptions_version_changes_on_every_change(store) -> None:
    chat = ChatRef("telegram", "1")
    start = store.subscriptions_version()
    sub = store.add_subscription(chat, "a", NOW)
    added = store.subscriptions_version()
    store.add_subscription(chat, "a", NOW)  # idempotent: nothing changed
    assert start != added == store.subscriptions_version()
    store.remove_subscription(chat, sub.id)
    assert store.subscriptions_version() not in (start, added)


def test_due_chats_and_per_chat_due_alerts_keep_order_behind_a_retry(store) -> None:
    chat, other = ChatRef("telegram", "1"), ChatRef("telegram", "2")
    for n in range(1, 4):
        store.add_article(make_article(n), new_story_title=f"S{n}", alerts=[(chat, "q"), (other, "q")])
    assert store.due_chats(LATER) == [chat, other]
    first, second, third = store.due_alerts_for(chat, LATER)
    store.mark_alert_retry(first.id, "HTTP 502", LATER + timedelta(hours=1))
    assert store.due_alerts_for(chat, LATER) == []  # the later ones wait for the first
    assert [a.id for a in store.due_alerts_for(chat, LATER + timedelta(hours=2))] == [first.id, second.id, third.id]
    store.pause_chat(other, "kicked", NOW)
    assert store.due_chats(LATER) == []


def test_chat_settings_round_trip_and_refuse_unknown_names(store) -> None:
    chat = ChatRef("discord", "7")
    empty = store.get_chat_settings(chat)
    assert (empty.timezone, empty.quiet_hours, empty.max_per_hour, empty.digest) == (None, None, None, None)
    store.set_chat_setting(chat, "timezone", "Europe/Paris")
    store.set_chat_setting(chat, "quiet_hours", "22:00-07:00")
    store.set_chat_setting(chat, "max_per_hour", 5)
    store.set_chat_setting(chat, "digest", "daily 08:00")
    got = store.get_chat_settings(chat)
    assert (got.timezone, got.quiet_hours, got.max_per_hour, got.digest) == (
        "Europe/Paris", "22:00-07:00", 5, "daily 08:00")
    assert got.last_digest_at is not None  # a schedule counts from when it was set
    store.set_chat_setting(chat, "max_per_hour", None)
    assert store.get_chat_settings(chat).max_per_hour is None
    with pytest.raises(ValueError):
        store.set_chat_setting(chat, "lang; DROP TABLE chats", "x")


def test_held_alerts_wait_for_a_digest_and_are_then_digested(store) -> None:
    chat = ChatRef("telegram", "1")
    first = store.add_article(make_article(1), new_story_title="S1", alerts=[(chat, "q")])
    store.add_article(make_article(2), new_story_title="S2", alerts=[(chat, "q")])
    one, two = store.due_alerts_for(chat, LATER)
    store.mark_alert_sent(two.id, "m2", 1, NOW)
    store.hold_alert(one.id, "quiet", NOW, NOW + timedelta(hours=8))
    assert store.due_alerts_for(chat, LATER) == [] and store.count_pending_alerts() == 0
    held = store.held_alerts(chat)
    assert [(a.id, a.held_reason, a.held_until) for a in held] == [(one.id, "quiet", NOW + timedelta(hours=8))]
    # A new source on a held story needs no edit: the digest shows the story as it is then.
    joined = make_article(3)
    joined.story_id = first.story_id
    store.add_article(joined, alerts=[(chat, "q")])
    assert store.due_alerts_for(chat, LATER) == []
    assert store.sent_times_since(chat, NOW - timedelta(minutes=1)) == [NOW]
    assert {a.state for a in store.alerts_since(chat, None)} == {"held", "sent"}
    store.record_digest(chat, [one.id], NOW + timedelta(hours=9))
    assert store.held_alerts(chat) == []
    done = store.alert_for(chat, first.story_id)
    assert (done.state, done.digested_at) == ("digested", NOW + timedelta(hours=9))
    assert store.get_chat_settings(chat).last_digest_at == NOW + timedelta(hours=9)
    assert store.alerts_since(chat, LATER) == []
    assert chat in store.digest_chats()


def test_backlog_is_told_apart_from_later_articles(store) -> None:
    feed = store.sync_feeds([("https://a.example/feed", "A", 600)])[0]
    backlog = store.add_article(make_article(1, feed_id=feed.id))
    assert store.is_backlog(backlog.id) is True  # not primed yet: everything so far is backlog
    store.mark_primed(feed.id)
    later = store.add_article(make_article(2, feed_id=feed.id))
    assert store.is_backlog(backlog.id) is True
    assert store.is_backlog(later.id) is False
    loose = store.add_article(make_article(3))
    assert store.is_backlog(loose.id) is None


# -- feed administration, schedule and health (issue 7) --------------------------------------------------------


def test_feeds_added_at_run_time_removed_and_versioned(store) -> None:
    from bot.store.base import FeedState

    store.sync_feeds([("https://a.example/feed", "A", 600)])
    version = store.feeds_version()
    feed, created = store.add_feed("https://b.example/rss", "B", 300, "chat:telegram:1")
    assert created and (feed.name, feed.interval_s) == ("B", 300)
    assert store.feeds_version() != version
    again, created_again = store.add_feed("https://b.example/rss", "B twice", 60, "opml")
    assert (again.id, again.name, created_again) == (feed.id, "B", False)
    assert store.get_feed_by_url("https://b.example/rss").id == feed.id
    assert store.get_feed_by_url("https://nope.example/") is None
    states = store.feed_states()
    assert states[feed.id] == FeedState(feed_id=feed.id, origin="chat:telegram:1")
    assert states[store.list_feeds()[0].id].origin == "config"
    saved = FeedState(feed_id=feed.id, origin="chat:telegram:1", next_poll_at=NOW, interval_s=150,
                      failing_since=NOW - timedelta(hours=7), backoff_until=NOW, notified_at=NOW - timedelta(hours=1))
    store.save_feed_state(saved)
    assert store.feed_states()[feed.id] == saved
    article = store.add_article(make_article(1, feed_id=feed.id))
    before = store.feeds_version()
    assert store.remove_feed(feed.id) and not store.remove_feed(feed.id)
    assert store.feeds_version() != before
    assert [f.name for f in store.list_feeds()] == ["A"]
    assert store.get_article(article.id) is not None  # its articles stay searchable


def test_stats_count_alerts_today_pending_and_errors(store) -> None:
    feed = store.sync_feeds([("https://a.example/feed", "A", 600)])[0]
    chat = ChatRef("telegram", "1")
    one = store.add_article(make_article(1), alerts=[(chat, "q")])
    store.add_article(make_article(2), alerts=[(chat, "q")])
    alert = store.alert_for(chat, one.story_id)
    store.mark_alert_sent(alert.id, "m1", 1, NOW)
    store.record_poll(feed.id, FeedHealth(ok=False, error="HTTP 500"), NOW - timedelta(hours=30))
    store.record_poll(feed.id, FeedHealth(ok=False, error="HTTP 503"), NOW - timedelta(hours=2))
    stats = store.stats(since=NOW - timedelta(hours=1), errors_since=NOW - timedelta(hours=24))
    assert (stats.feeds, stats.articles, stats.stories) == (1, 2, 2)
    assert (stats.alerts_sent, stats.alerts_pending, stats.feed_errors) == (1, 1, 1)
    store.maintain(errors_before=NOW - timedelta(hours=3))
    assert store.stats(since=NOW, errors_since=NOW - timedelta(days=30)).feed_errors == 1


def test_retention_deletes_old_articles_but_keeps_undelivered_alerts(store) -> None:
    chat = ChatRef("telegram", "1")
    sent = store.add_article(make_article(1), alerts=[(chat, "q")])
    store.mark_alert_sent(store.alert_for(chat, sent.story_id).id, "m", 1, NOW)
    pending = store.add_article(make_article(2), alerts=[(chat, "q")])
    plain = store.add_article(make_article(3))
    assert store.delete_articles_before(datetime.now(UTC) - timedelta(days=1)) == []
    deleted = store.delete_articles_before(LATER)
    assert sorted(deleted) == sorted([sent.id, plain.id])
    assert store.get_article(pending.id) is not None and store.count_articles() == 1
    assert store.count_stories() == 1  # the pending alert's story stays with it
    assert store.alert_for(chat, sent.story_id) is None
    assert store.count_pending_alerts() == 1
