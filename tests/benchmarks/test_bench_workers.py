"""Smoke test of benchmarks/bench_workers.py: its measuring code, at a tiny size, agrees with the store.

Two real `veille run` workers, the feed server and the fake Telegram in processes of their own, one
throwaway PostgreSQL schema. It takes ~20-30 s (starting and stopping two bot processes is most of it);
it checks the numbers are positive and that the windows' counts fit the store's and the servers' totals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.pg import pg_url

pytest.importorskip("psycopg")

from benchmarks.bench_workers import Options, measure, table  # noqa: E402

FEEDS, CHATS, ALERTS = 10, 10, 20


def test_bench_workers_numbers_agree_with_the_store(tmp_path: Path) -> None:
    options = Options(
        pg_url=pg_url(), feeds=FEEDS, chats=CHATS, alerts=ALERTS, warmup_s=1.0, window_s=3.0, windows=2,
        alert_warmup_s=0.5, alert_window_s=1.0, alert_windows=2, logs=tmp_path,
    )
    [result] = measure(options, [2])

    assert result.exit_codes == [0, 0]
    # Feeds: polls were measured (a window may fall between two batches of a loaded worker, not both), each
    # stored article is there once, and no poll stored more than one article.
    assert len(result.feed_windows) == 2 and max(result.feed_windows) > 0 and result.feeds_per_min >= 0
    assert 0 < result.articles_in_windows <= result.articles_stored == result.distinct_keys
    assert result.articles_stored <= result.feed_requests
    # Alerts: all were queued, the windows saw some of those marked sent (10 chats at 1/s each cannot drain
    # 200 alerts in the few seconds measured), and every alert marked sent was accepted by Telegram once.
    assert result.alerts_queued == CHATS * ALERTS
    assert not result.drained and max(result.alert_windows) > 0
    assert 0 < result.alerts_sent_in_windows <= result.alerts_sent == result.alerts_accepted
    # The table shows the run, the speed-up against itself being 1.
    rendered = table([result], options)
    assert rendered.splitlines()[2].startswith("| 2 |") and "1.00×" in rendered
