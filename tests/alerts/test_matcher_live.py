"""The live index: subscriptions added and removed one by one match exactly what a fresh build and brute force do."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts import matcher as matcher_module
from bot.alerts.matcher import (
    CompiledSubscription,
    LiveSubscriptionIndex,
    SubscriptionCompiler,
    SubscriptionIndex,
    SubscriptionMatcher,
)
from bot.models import Article, ChatRef
from bot.search.analysis import Analyzers
from bot.search.query import MatchDoc
from bot.store.sqlite import SQLiteStore
from tests.alerts.test_matcher import ENTITIES, SOURCES, article_text, rich_query
from tests.store.pg import pg_schema_url

AN = Analyzers()
NOW = datetime(2026, 11, 20, tzinfo=UTC)
COMPILER = SubscriptionCompiler(ENTITIES, AN, clock=lambda: NOW)


def matchdoc(title: str, text: str, source: str = "Reuters", lang: str = "en", entities: tuple[str, ...] = (),
             published: datetime = NOW) -> MatchDoc:
    article = Article(key=title, url="https://x.example/a", title=title or "x", text=text, source=source,
                      published=published, lang=lang, entities=list(entities))
    return MatchDoc.from_article(article, AN)


def brute_force_chats(subs: list[CompiledSubscription], one: MatchDoc) -> dict[ChatRef, str]:
    expected: dict[ChatRef, str] = {}
    for sub in sorted(subs, key=lambda s: s.id):
        if sub.parsed.matches(one):
            expected.setdefault(sub.chat, sub.query)
    return expected


def check(live: LiveSubscriptionIndex, subs: dict[int, CompiledSubscription], one: MatchDoc) -> None:
    in_order = sorted(subs.values(), key=lambda s: s.id)
    expected_ids = [s.id for s in in_order if s.parsed.matches(one)]
    assert [s.id for s in live.matching(one)] == expected_ids
    assert [s.id for s in SubscriptionIndex(in_order).matching(one)] == expected_ids
    found = live.match_chats(one)
    assert len(found) == len({chat for chat, _ in found})  # one per chat
    assert dict(found) == brute_force_chats(in_order, one) == dict(SubscriptionIndex(in_order).match_chats(one))


documents = st.builds(
    matchdoc,
    title=article_text,
    text=article_text,
    source=st.sampled_from(SOURCES),
    lang=st.sampled_from(["fr", "en"]),
    entities=st.lists(st.sampled_from(list(ENTITIES)), max_size=2, unique=True).map(tuple),
    published=st.integers(-60, 60).map(lambda d: NOW + timedelta(days=d)),
)
# An id below 30 is often taken already: adding it again replaces that subscription (its query changed).
step = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 30), rich_query, st.integers(0, 4)),
    st.tuples(st.just("remove"), st.integers(0, 30)),
    st.tuples(st.just("match"), documents),
    st.tuples(st.just("merge")),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.lists(st.tuples(rich_query, st.integers(0, 4)), max_size=10),
    steps=st.lists(step, min_size=1, max_size=25),
    merge_after=st.integers(1, 6),
    background=st.booleans(),
    bulk=st.booleans(),
)
def test_adds_removes_and_merges_in_any_order_match_a_fresh_build_and_brute_force(
    start: list[tuple[str, int]], steps: list[tuple], merge_after: int, background: bool, bulk: bool
) -> None:
    subs = {i: COMPILER.compile(i, ChatRef("discord", str(chat)), q) for i, (q, chat) in enumerate(start)}
    live = LiveSubscriptionIndex(list(subs.values()), merge_after=merge_after, background=background)
    with pytest.MonkeyPatch.context() as patch:
        if bulk:  # the numpy paths, however few leaves and entries
            patch.setattr(matcher_module, "NUMPY_FROM", 0)
        for one in steps:
            if one[0] == "add":
                _, sub_id, query, chat = one
                subs[sub_id] = COMPILER.compile(sub_id, ChatRef("discord", str(chat)), query)
                live.add(subs[sub_id])
            elif one[0] == "remove":
                subs.pop(one[1], None)
                live.remove(one[1])
            elif one[0] == "merge":
                live.wait_merged()
            else:
                check(live, subs, one[1])
            assert len(live) == len(subs)
        live.wait_merged()
        if not background:  # a synchronous merge happens as soon as the changes reach the threshold
            assert live.pending < merge_after
        check(live, subs, matchdoc("Broadcom ships a custom ASIC", "Nvidia puces réseau semiconductors rumeur"))


def test_changes_wait_in_front_of_the_main_index_until_the_threshold() -> None:
    texts = ["nvidia", "broadcom asic", "nvidia -rumeur", '"custom asic"']
    subs = [COMPILER.compile(i, ChatRef("telegram", str(i % 2)), q) for i, q in enumerate(texts)]
    live = LiveSubscriptionIndex(subs, merge_after=3, background=False)
    main = live._main
    live.remove(0)  # a tombstone
    live.add(COMPILER.compile(10, ChatRef("telegram", "0"), "nvidia puce"))  # a delta entry
    assert live._main is main and live.pending == 2
    one = matchdoc("Nvidia", "une puce custom asic", lang="fr")
    assert [s.id for s in live.matching(one)] == [2, 3, 10]
    # Chat 0: its oldest match was id 0 (removed), so now id 2; chat 1 keeps id 3.
    assert sorted(live.match_chats(one), key=str) == [(ChatRef("telegram", "0"), "nvidia -rumeur"),
                                                      (ChatRef("telegram", "1"), '"custom asic"')]
    live.add(COMPILER.compile(11, ChatRef("telegram", "1"), "puce"))  # the third change: merged at once
    assert live._main is not main and live.pending == 0
    assert [s.id for s in live.matching(one)] == [2, 3, 10, 11]


def test_a_background_merge_keeps_the_changes_made_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    release, started = threading.Event(), threading.Event()
    build = SubscriptionIndex.__init__

    def slow_build(self: SubscriptionIndex, subscriptions: list[CompiledSubscription]) -> None:
        if threading.current_thread().name == "subscription-merge":
            started.set()
            release.wait(10)
        build(self, subscriptions)

    monkeypatch.setattr(SubscriptionIndex, "__init__", slow_build)
    subs = [COMPILER.compile(i, ChatRef("telegram", str(i)), "nvidia") for i in range(5)]
    live = LiveSubscriptionIndex(subs, merge_after=2, background=True)
    live.remove(0)
    live.add(COMPILER.compile(5, ChatRef("telegram", "5"), "nvidia"))  # two changes: a merge starts
    assert started.wait(10)
    live.remove(1)  # while the merge runs: these must survive it
    live.add(COMPILER.compile(6, ChatRef("telegram", "6"), "nvidia"))
    live.add(COMPILER.compile(5, ChatRef("telegram", "5"), "broadcom"))  # replaces one the merge holds
    one = matchdoc("Nvidia", "x")
    assert [s.id for s in live.matching(one)] == [2, 3, 4, 6]
    release.set()
    live.wait_merged()
    assert live._merging is None
    assert [s.id for s in live.matching(one)] == [2, 3, 4, 6]
    assert [s.id for s in live.matching(matchdoc("Broadcom", "x"))] == [5]


def test_a_subscription_that_fails_to_test_is_skipped_in_the_delta(caplog: pytest.LogCaptureFixture) -> None:
    live = LiveSubscriptionIndex([COMPILER.compile(1, ChatRef("telegram", "1"), "nvidia")], merge_after=100)
    odd = COMPILER.compile(2, ChatRef("telegram", "2"), "nvidia")

    def broken(view: object) -> bool:
        raise RuntimeError("boom")

    odd.test = broken
    live.add(odd)
    assert live.match_chats(matchdoc("Nvidia", "x")) == [(ChatRef("telegram", "1"), "nvidia")]
    assert "subscription failed to match" in caplog.text


# ---- the matcher over a store: the version counter, and only the changes applied ------------------------------


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "m.db"


def test_the_matcher_applies_only_the_changes_since_the_last_version(
    sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(sqlite_path)
    try:
        chats = [ChatRef("telegram", str(i)) for i in range(40)]
        for i, chat in enumerate(chats):
            store.add_subscription(chat, "nvidia" if i % 2 else "broadcom", NOW)
        matcher = SubscriptionMatcher(store, entities=ENTITIES, merge_after=1000)
        hit = Article(key="k", url="https://x.example/k", title="Nvidia", text="x", source="Reuters",
                      published=NOW, lang="en")
        assert len(matcher.match(hit)) == 20
        main = matcher.index._main
        compiled: list[str] = []
        compile_one = matcher.compiler.compile
        monkeypatch.setattr(matcher.compiler, "compile",
                            lambda sub_id, chat, query: compiled.append(query) or compile_one(sub_id, chat, query))
        full_reads: list[object] = []
        list_all = store.list_subscriptions
        monkeypatch.setattr(store, "list_subscriptions", lambda chat=None: full_reads.append(chat) or list_all(chat))
        new = store.add_subscription(ChatRef("discord", "x"), "nvidia lang:en", NOW)
        store.remove_subscription(chats[1], 2)
        found = dict(matcher.match(hit))
        assert compiled == ["nvidia lang:en"]  # the 40 others were not compiled again
        assert matcher.index._main is main and matcher.index.pending == 2  # nor indexed again
        assert ChatRef("discord", "x") in found and chats[1] not in found and len(found) == 20
        assert matcher.match(hit) and compiled == ["nvidia lang:en"]  # same version: nothing read
        store.remove_subscription(ChatRef("discord", "x"), new.id)
        assert ChatRef("discord", "x") not in dict(matcher.match(hit))
        assert full_reads == []  # every change came from the store's change log, not a read of all 40
        # A log trimmed past the matcher's version: one full read, compared with the index, same answer.
        store.add_subscription(ChatRef("discord", "y"), "nvidia", NOW)
        store._query("DELETE FROM subscription_log RETURNING version")
        store.add_subscription(ChatRef("discord", "z"), "nvidia", NOW)
        found = dict(matcher.match(hit))
        assert full_reads == [None] and {ChatRef("discord", "y"), ChatRef("discord", "z")} <= set(found)
        assert len(found) == 21
    finally:
        store.close()


def _another_process_sees_changes(open_store: object) -> None:
    first, second = open_store(), open_store()  # type: ignore[operator]
    try:
        worker = SubscriptionMatcher(first, entities=ENTITIES)
        hit = Article(key="k", url="https://x.example/k", title="Broadcom ships an ASIC", text="avgo",
                      source="Reuters", published=NOW, lang="en")
        assert worker.match(hit) == []
        chat = ChatRef("telegram", "7")
        sub = second.add_subscription(chat, "entity:avgo asic", NOW)
        assert worker.match(hit) == []  # the article names no entity
        tagged = Article(key="t", url="https://x.example/t", title="Broadcom ships an ASIC", text="avgo",
                         source="Reuters", published=NOW, lang="en", entities=["Broadcom"])
        assert worker.match(tagged) == [(chat, "entity:avgo asic")]
        second.remove_subscription(chat, sub.id)
        assert worker.match(tagged) == []
    finally:
        first.close()
        second.close()


def test_a_worker_sees_subscriptions_another_sqlite_connection_adds(sqlite_path: Path) -> None:
    _another_process_sees_changes(lambda: SQLiteStore(sqlite_path))


@pytest.fixture
def pg_url_schema() -> Iterator[str]:
    pytest.importorskip("psycopg")
    with pg_schema_url() as url:
        yield url


def test_a_worker_sees_subscriptions_another_postgresql_worker_adds(pg_url_schema: str) -> None:
    from bot.store.postgres import PostgresStore

    _another_process_sees_changes(lambda: PostgresStore(pg_url_schema))
