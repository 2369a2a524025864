"""`veille migrate`: a small SQLite archive copied into an empty PostgreSQL schema, ids and sequences kept."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.migrate import MigrateError, migrate
from bot.models import Article, ChatRef
from bot.store.sqlite import SQLiteStore
from tests.store.pg import pg_schema_url

pytest.importorskip("psycopg")

from bot.store.postgres import PostgresStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _archive(path: Path) -> None:
    store = SQLiteStore(path)
    feed, _ = store.add_feed("http://feeds.test/a.xml", "A", 600, "chat")
    store.remove_feed(store.add_feed("http://feeds.test/gone.xml", "Gone", 600, "chat")[0].id)  # leaves an id gap
    chat = ChatRef("telegram", "42")
    store.add_subscription(chat, "climat", NOW)
    store.set_chat_lang(chat, "fr")
    for i in range(3):
        article = Article(key=f"k{i}", url=f"http://feeds.test/{i}", title=f"Climat {i}", text="texte", source="A",
                          published=NOW, lang="fr", feed_id=feed.id, content_hash=f"h{i}")
        store.add_article(article, new_story_title=f"Climat {i}", alerts=[(chat, "climat")])
    store.close()


def test_migrate_copies_rows_with_ids_and_moves_sequences(tmp_path: Path) -> None:
    db = tmp_path / "veille.db"
    _archive(db)
    with pg_schema_url() as url:
        progress = io.StringIO()
        report = migrate(f"sqlite:///{db}", url, stream=progress)
        assert report.copied["articles"] == 3 and report.copied["alerts"] == 3 and report.copied["feeds"] == 1
        assert "100% (" in progress.getvalue()
        source, target = SQLiteStore(db), PostgresStore(url)
        try:
            assert [(f.id, f.url) for f in target.list_feeds()] == [(f.id, f.url) for f in source.list_feeds()]
            assert source.list_feeds()[0].id == 1
            before = {a.id: (a.key, a.story_id, a.title) for a in source.iter_articles()}
            assert {a.id: (a.key, a.story_id, a.title) for a in target.iter_articles()} == before
            chat = ChatRef("telegram", "42")
            assert target.get_chat_lang(chat) == "fr"
            assert [s.query for s in target.list_subscriptions(chat)] == ["climat"]
            assert len(target.due_alerts(datetime.now(UTC))) == 3
            # The sequences were moved: new rows get fresh ids, after the copied (and the deleted) ones.
            feed, created = target.add_feed("http://feeds.test/new.xml", "New", 600, "chat")
            assert created and feed.id == 2
            assert target.add_subscription(chat, "énergie", NOW).id == 2
            # A second run refuses the non-empty target and copies nothing.
            with pytest.raises(MigrateError, match="already holds feeds"):
                migrate(f"sqlite:///{db}", url, stream=io.StringIO())
            assert target.count_articles() == 3
        finally:
            source.close()
            target.close()


def test_migrate_command_says_what_is_wrong_without_a_traceback(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate", "--from", f"sqlite:///{tmp_path}/missing.db",
         "--to", "postgresql://nobody@127.0.0.1/none"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 1
    assert "no such SQLite database" in run.stderr and "Traceback" not in run.stderr
