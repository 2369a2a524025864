"""A worker's own search index stays consistent with a store other workers write, late commits included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.workers import IndexFollower
from tests.store.pg import pg_schema_url
from tests.store.test_contract import make_article

psycopg = pytest.importorskip("psycopg")

from bot.store.postgres import PostgresStore  # noqa: E402


def test_an_article_committed_after_a_higher_id_is_still_indexed(tmp_path: Path) -> None:
    with pg_schema_url() as url:
        store = PostgresStore(url)
        index = SearchIndex.open(tmp_path / "index")
        search = SearchService(store, index)
        clock = [datetime.now(UTC)]
        follower = IndexFollower(store, search, start_after=0, settle_s=60, clock=lambda: clock[0])
        # Another worker's transaction takes id 1 and stays open while this worker stores id 2.
        slow = psycopg.connect(url)
        slow.execute(
            "INSERT INTO stories (title, first_seen, last_seen) VALUES ('late', now(), now())"
        )
        slow.execute(
            "INSERT INTO articles (id, key, url, title, text, source, published, stored_at, content_hash) "
            "VALUES (1, 'k-late', 'https://late.example/1', 'Broadcom late commit', 'Broadcom text', 'Late', "
            "now(), now(), 'h-late')"
        )
        store._query("SELECT setval(pg_get_serial_sequence('articles', 'id'), 1)")
        stored = store.add_article(make_article(2, title="Nvidia early commit"), new_story_title="early")
        assert stored is not None and stored.id == 2
        assert follower.sync() == 1 and set(follower.gaps) == {1}
        assert search.search("broadcom").total == 0
        slow.commit()
        slow.close()
        clock[0] += timedelta(seconds=5)
        assert follower.sync() == 1 and follower.gaps == {}
        assert search.search("broadcom").total == 1 and search.search("nvidia").total == 1
        # A gap that never fills (a rolled-back insert) is forgotten after settle_s.
        follower.gaps[99] = clock[0]
        clock[0] += timedelta(seconds=61)
        follower.sync()
        assert 99 not in follower.gaps
        index.close()
        store.close()


def test_articles_deleted_by_retention_in_another_worker_leave_this_workers_index(tmp_path: Path) -> None:
    with pg_schema_url() as url:
        store = PostgresStore(url)
        mine = SearchService(store, SearchIndex.open(tmp_path / "mine"))
        theirs = SearchService(store, SearchIndex.open(tmp_path / "theirs"))
        follower = IndexFollower(store, mine, start_after=0)
        old = [store.add_article(make_article(n, title=f"Broadcom old {n}"), new_story_title="old") for n in (1, 2)]
        store._query("UPDATE articles SET stored_at = now() - interval '100 days' RETURNING id")
        kept = store.add_article(make_article(3, title="Broadcom fresh"), new_story_title="fresh")
        assert all(a is not None for a in old) and kept is not None
        follower.sync()
        theirs.catch_up()
        stopped = SearchService(store, SearchIndex.open(tmp_path / "stopped"))  # a worker down during retention
        stopped.catch_up()
        assert mine.search("broadcom").total == 3 and stopped.search("broadcom").total == 3
        # The other worker holds the retention lock: it deletes from the store and from its own index only.
        deleted = store.delete_articles_before(datetime.now(UTC) - timedelta(days=30))
        theirs.unindex(deleted)
        assert sorted(deleted) == sorted(a.id for a in old)  # type: ignore[union-attr]
        assert theirs.search("broadcom").total == 1
        follower.sync()
        assert mine.search("broadcom").total == 1
        assert [h.article.id for h in mine.search("broadcom").hits] == [kept.id]
        # The worker that was down forgets them on its first round after its restart.
        IndexFollower(store, stopped, start_after=store.max_article_id()).sync()
        assert stopped.search("broadcom").total == 1
        store.close()
