"""A crash or a full disk during ingest never corrupts the store; the next start recovers and the index catches up.

- Crash: a child process ingests articles (store transaction, then search index commit) as fast as it can and
  is killed with SIGKILL mid-stream; the parent then checks `PRAGMA integrity_check`, reopens both the
  store and the index as the app does at start, and checks the index caught up with every stored article.
- Full disk: `PRAGMA max_page_count` caps the database file, so SQLite answers SQLITE_FULL in the middle of
  a poll through the real pipeline; the poll fails with a reason, nothing half-written remains, and once
  space is back the next poll stores everything and the index holds it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.store.sqlite import SQLiteStore
from tests.security.harness import pipeline_world

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from datetime import UTC, datetime
    from bot.models import Article
    from bot.search.index import SearchIndex
    from bot.search.service import SearchService
    from bot.store.sqlite import SQLiteStore

    db = sys.argv[1]
    store = SQLiteStore(db)
    search = SearchService(store, SearchIndex.open(Path(db + ".index")))
    search.catch_up()
    i = store.max_article_id()
    while True:
        i += 1
        article = Article(key=f"k{i}", url=f"https://x.example/{i}", title=f"Broadcom chip number {i}",
                          text="Broadcom said its custom accelerator ships to a cloud customer. " * 20,
                          source="Wire", published=datetime.now(UTC), content_hash=f"h{i}")
        saved = store.add_article(article, new_story_title=article.title)
        search.index_new([saved])
        print(i, flush=True)
    """
)


def test_sigkill_during_ingest_never_corrupts_and_the_index_catches_up(tmp_path: Path) -> None:
    db = tmp_path / "veille.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _round in range(2):  # kill twice: recovery after a crash must itself survive a crash
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, env=env, cwd=REPO)
        assert child.stdout is not None
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 40 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            seen += 1
        child.send_signal(signal.SIGKILL)  # mid-stream: between, or inside, a transaction and an index commit
        child.wait(10)
        assert child.returncode == -signal.SIGKILL
        assert seen >= 40, "the child did not ingest"

        store = SQLiteStore(db)
        try:
            assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = store.count_articles()
            assert stored >= seen * (_round + 1) - 1
            index = SearchIndex.open(Path(str(db) + ".index"))
            try:
                search = SearchService(store, index)
                search.catch_up()
                assert index.watermark == store.max_article_id()
                assert index.doc_count() >= stored
                newest = store.max_article_id()
                hits = search.search(f'"chip number {newest}"', limit=5).hits
                assert any(h.article.id == newest for h in hits)
            finally:
                index.close()
        finally:
            store.close()


async def test_full_database_mid_poll_leaves_no_partial_data_and_recovers(tmp_path: Path) -> None:
    items = "".join(
        f"<item><title>Nvidia accelerator report {i}</title><link>https://x.example/{i}</link><guid>g{i}</guid>"
        f"<description>{'Nvidia sells accelerators to every cloud provider this quarter. ' * 40}</description></item>"
        for i in range(60)
    )
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
    async with pipeline_world(tmp_path, fetch_full_text=False) as world:
        world.serve("/big.xml", feed.encode())
        db = world.store._db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 8}")  # room for a few articles, not sixty
        report = await world.poll("/big.xml")
        assert not report.ok and report.error
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        partial = world.store.count_articles()
        assert partial < 60
        # Whatever was stored is whole: every article has its story and its text.
        for article in world.store.latest_articles(100):
            assert article.story_id is not None and article.text

        db.execute("PRAGMA max_page_count = 1073741823")  # the disk has room again
        again = await world.poll("/big.xml")
        assert again.ok, again.error
        assert world.store.count_articles() == 60
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        world.search.catch_up()
        assert world.search.search("nvidia accelerator", limit=1).total == 60
