"""What only the PostgreSQL backend has: its migrations, concurrent writers and the work leases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import ChatRef
from bot.store.base import StoreCorrupt, StoreError
from bot.store.sqlite import load_migrations
from tests.store.pg import pg_schema_url, pg_url
from tests.store.test_contract import make_article

pytest.importorskip("psycopg")

from bot.store.postgres import PostgresStore, load_pg_migrations  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def url():
    with pg_schema_url() as schema_url:
        yield schema_url


def test_every_sqlite_migration_has_its_postgresql_twin() -> None:
    sqlite_names = {version: sql.splitlines()[0] for version, sql in load_migrations()}
    pg = {version: name for version, name, _ in load_pg_migrations()}
    assert set(sqlite_names) <= set(pg), "a SQLite migration has no migrations_pg/ counterpart"


def test_migrations_are_versioned_idempotent_and_refuse_a_newer_schema(url: str) -> None:
    first = PostgresStore(url)
    version = first.schema_version()
    assert version == load_pg_migrations()[-1][0]
    first.close()
    again = PostgresStore(url)
    assert again.schema_version() == version
    with again._tx() as cur:
        cur.execute("INSERT INTO schema_version (version) VALUES (999)")
    again.close()
    with pytest.raises(StoreCorrupt, match="newer than this Veille"):
        PostgresStore(url)


def test_workers_starting_together_migrate_once(url: str) -> None:
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            stores.append(PostgresStore(url))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 4
    rows = stores[0]._query("SELECT COUNT(*) AS n FROM schema_version")
    assert rows[0]["n"] == len(load_pg_migrations())  # each migration applied once
    for store in stores:
        store.close()


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    pg_url()  # skip without a server, like the rest of this file
    with pytest.raises(StoreError, match="cannot connect") as caught:
        PostgresStore("postgresql://veille:s3cret@127.0.0.1:1/nowhere", connect_timeout_s=2)
    assert "s3cret" not in str(caught.value)


def test_two_workers_storing_the_same_article_store_it_once(url: str) -> None:
    a, b = PostgresStore(url), PostgresStore(url)
    chat = ChatRef("telegram", "1")
    results = []
    barrier = threading.Barrier(2)

    def store(backend: PostgresStore) -> None:
        barrier.wait()
        results.append(backend.add_article(make_article(1), new_story_title="S", alerts=[(chat, "q")]))

    threads = [threading.Thread(target=store, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r is None for r in results) == [False, True]
    assert a.count_articles() == 1 and a.count_stories() == 1  # the loser's story rolled back too
    assert len(a.due_alerts(NOW + timedelta(days=1))) == 1
    # Same content under another key is known too, even though only the hash matches.
    assert a.add_article(make_article(2, content_hash="hash1")) is None
    a.close()
    b.close()


def test_feed_leases_are_exclusive_and_expire(url: str) -> None:
    store = PostgresStore(url)
    store.sync_feeds([(f"https://f{n}.example/rss", f"F{n}", 60) for n in range(10)])
    first = store.claim_feeds("w1", NOW, 6, lease_s=30)
    second = store.claim_feeds("w2", NOW, 6, lease_s=30)
    assert len(first) == 6 and len(second) == 4
    assert not {f.id for f in first} & {f.id for f in second}
    assert store.claim_feeds("w3", NOW, 10, lease_s=30) == []
    # w1 finishes one feed: it is not due again before its interval.
    assert store.release_feed(first[0].id, "w1", NOW + timedelta(seconds=60))
    assert store.claim_feeds("w3", NOW + timedelta(seconds=1), 10, lease_s=30) == []
    # w2 died holding its leases: they expire and another worker takes the feeds over.
    taken = store.claim_feeds("w3", NOW + timedelta(seconds=31), 10, lease_s=30)
    assert {f.id for f in taken} == {f.id for f in first[1:]} | {f.id for f in second}
    assert not store.release_feed(second[0].id, "w2", NOW)  # too late: the lease is w3's now
    store.close()


def test_feed_claims_from_concurrent_workers_never_overlap(url: str) -> None:
    setup = PostgresStore(url)
    setup.sync_feeds([(f"https://f{n}.example/rss", f"F{n}", 60) for n in range(200)])
    setup.close()
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        backend = PostgresStore(url)
        barrier.wait()
        got: list[int] = []
        while batch := backend.claim_feeds(name, NOW, 7, lease_s=60):
            got.extend(f.id for f in batch)
        claimed[name] = got
        backend.close()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [fid for ids in claimed.values() for fid in ids]
    assert len(every) == 200 and len(set(every)) == 200


def test_chat_leases_give_each_outbox_to_one_sender(url: str) -> None:
    store = PostgresStore(url)
    chats = [ChatRef("telegram", str(n)) for n in range(5)]
    store.add_article(make_article(1), new_story_title="S", alerts=[(c, "q") for c in chats])
    later = datetime.now(UTC) + timedelta(seconds=5)
    mine = store.claim_chats("s1", later, 3, lease_s=30)
    theirs = store.claim_chats("s2", later, 10, lease_s=30)
    assert len(mine) == 3 and set(mine) | set(theirs) == set(chats) and not set(mine) & set(theirs)
    assert store.claim_chats("s1", later, 10, lease_s=30) == mine  # its own leases are renewed
    assert store.renew_chat(mine[0], "s1", later, 30) and not store.renew_chat(mine[0], "s2", later, 30)
    store.release_chat(mine[0], "s1")
    assert store.claim_chats("s2", later, 10, lease_s=30)[0] == mine[0]
    # s1 died: after the lease its chats go to s2.
    assert set(store.claim_chats("s2", later + timedelta(seconds=31), 10, lease_s=30)) == set(chats)
    store.close()
