"""The subscription index: it finds exactly what testing every query against every article finds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts.matcher import CompiledSubscription, SubscriptionCompiler, SubscriptionIndex, SubscriptionMatcher
from bot.models import Article, ChatRef
from bot.search.analysis import Analyzers
from bot.search.query import MatchDoc
from bot.store.sqlite import SQLiteStore

ENTITIES = {"Broadcom": ["Broadcom", "AVGO"], "Nvidia": ["Nvidia", "NVDA"], "Rain AI": ["Rain AI"]}
WORDS = ["broadcom", "nvidia", "puces", "puce", "asic", "réseau", "reseau", "chips", "chip", "custom", "rain",
         "openai", "rumeur", "semiconductors", "data", "center", "avgo"]
SOURCES = ["Le Silicium", "Reuters", "Chip Wire"]
AN = Analyzers()
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def article(title: str, text: str, source: str = "Reuters", lang: str = "en", entities: list[str] | None = None,
            published: datetime = NOW) -> Article:
    return Article(key=title, url="https://x.example/" + title.replace(" ", "-"), title=title, text=text,
                   source=source, published=published, lang=lang, entities=entities or [])


def doc(a: Article) -> MatchDoc:
    return MatchDoc.from_article(a, AN)


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "m.db")
    yield s
    s.close()


def test_one_alert_per_chat_named_by_its_first_matching_subscription(store: SQLiteStore) -> None:
    chat, other = ChatRef("telegram", "1"), ChatRef("discord", "2")
    store.add_subscription(chat, "nvidia", NOW)
    store.add_subscription(chat, "broadcom", NOW)
    store.add_subscription(other, "broadcom -rumeur", NOW)
    store.add_subscription(other, "openai", NOW)
    matcher = SubscriptionMatcher(store, entities=ENTITIES)
    hit = article("Broadcom and Nvidia", "Broadcom ships a custom ASIC; Nvidia answers.")
    assert sorted(matcher.match(hit), key=str) == [(other, "broadcom -rumeur"), (chat, "nvidia")]
    rumour = article("Rumeur: Broadcom", "Une rumeur sur Broadcom.", lang="fr")
    assert matcher.match(rumour) == [(chat, "broadcom")]
    assert matcher.match(article("Weather", "Sunny all week.")) == []


def test_new_subscriptions_are_seen_at_once_and_removed_ones_forgotten(store: SQLiteStore) -> None:
    chat = ChatRef("telegram", "1")
    matcher = SubscriptionMatcher(store)
    hit = article("OpenAI chips", "OpenAI designs chips.")
    assert matcher.match(hit) == []
    sub = store.add_subscription(chat, "openai", NOW)
    assert matcher.match(hit) == [(chat, "openai")]
    store.remove_subscription(chat, sub.id)
    assert matcher.match(hit) == []


def test_entity_aliases_from_the_config_are_one_entity(store: SQLiteStore) -> None:
    chat, other = ChatRef("telegram", "1"), ChatRef("telegram", "2")
    store.add_subscription(chat, "entity:avgo", NOW)
    store.add_subscription(other, "entity:Broadcom lang:fr", NOW)
    matcher = SubscriptionMatcher(store, entities=ENTITIES)
    tagged = article("Un contrat", "Le fondeur signe.", lang="fr", entities=["Broadcom"])
    assert sorted(matcher.match(tagged), key=str) == [(chat, "entity:avgo"), (other, "entity:Broadcom lang:fr")]
    assert matcher.match(article("Other", "Nothing.", entities=["Nvidia"])) == []


def test_only_candidates_sharing_a_term_are_tested() -> None:
    compiler = SubscriptionCompiler(ENTITIES)
    subs = [compiler.compile(i, ChatRef("telegram", str(i)), f"company{i:04d} common") for i in range(1000)]
    index = SubscriptionIndex(subs)
    one = doc(article("company0007 and company0008", "common text"))
    assert len(index.candidates(one)) == 2
    assert [s.id for s in index.matching(one)] == [7, 8]


def test_a_query_with_only_a_date_filter_is_tested_on_every_article() -> None:
    compiler = SubscriptionCompiler()
    sub = compiler.compile(1, ChatRef("telegram", "1"), "since:2026-01-01")
    assert sub.anchors is None
    index = SubscriptionIndex([sub])
    assert index.matching(doc(article("Anything", "at all"))) == [sub]


query_leaf = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(lambda w: w[:3] + "*"),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(SOURCES).map(lambda s: f'source:"{s}"'),
    st.sampled_from(["lang:fr", "lang:en", "entity:broadcom", "entity:nvda", "entity:rain", "since:2026-11-01"]),
)
query_text = st.recursive(
    query_leaf,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"{p[0]} {p[1]}"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"{p[0]} -{p[1]}"),
    ),
    max_leaves=5,
)
article_text = st.lists(st.sampled_from([*WORDS, "the", "and", "of"]), min_size=0, max_size=12).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    queries=st.lists(query_text, min_size=1, max_size=12),
    title=article_text,
    text=article_text,
    source=st.sampled_from(SOURCES),
    lang=st.sampled_from(["fr", "en"]),
    entities=st.lists(st.sampled_from(list(ENTITIES)), max_size=2, unique=True),
)
def test_the_index_finds_exactly_what_testing_every_query_finds(
    queries: list[str], title: str, text: str, source: str, lang: str, entities: list[str]
) -> None:
    compiler = SubscriptionCompiler(ENTITIES, AN, clock=lambda: NOW)
    subs = [compiler.compile(i, ChatRef("telegram", str(i)), q) for i, q in enumerate(queries)]
    one = doc(article(title or "x", text, source=source, lang=lang, entities=entities))
    expected = [s.id for s in subs if s.parsed.matches(one)]
    assert [s.id for s in SubscriptionIndex(subs).matching(one)] == expected


def test_a_chat_is_named_by_its_own_oldest_matching_subscription() -> None:
    compiler = SubscriptionCompiler(ENTITIES, AN, clock=lambda: NOW)
    a, b = ChatRef("telegram", "a"), ChatRef("telegram", "b")
    # `nvidia` is older as a query (id 1) but chat b subscribed to it after its `broadcom` (id 2).
    subs = [compiler.compile(1, a, "nvidia"), compiler.compile(2, b, "broadcom"), compiler.compile(3, b, "Nvidia")]
    found = SubscriptionIndex(subs).match_chats(doc(article("Nvidia and Broadcom", "Both ship chips.")))
    assert sorted(found, key=str) == [(a, "nvidia"), (b, "broadcom")]


def test_the_same_query_written_differently_is_decided_once() -> None:
    compiler = SubscriptionCompiler(ENTITIES, AN, clock=lambda: NOW)
    texts = ["nvidia puce", "Puce NVIDIA", "puces nvidia", "nvidia AND puce"]
    subs = [compiler.compile(i, ChatRef("telegram", str(i)), q) for i, q in enumerate(texts)]
    index = SubscriptionIndex(subs)
    assert index.distinct_queries == 1
    found = index.match_chats(doc(article("Nvidia", "Une puce.", lang="fr")))
    assert sorted(found, key=str) == [(s.chat, s.query) for s in subs]


def test_each_conjunctive_form_is_decided_by_its_path() -> None:
    compiler = SubscriptionCompiler(ENTITIES, AN, clock=lambda: NOW)
    texts = {
        "direct word": "broadcom",
        "direct or": "openai OR nvidia",
        "pair": "broadcom asic",
        "pair missing": "broadcom rumeur",
        "exclusion": "broadcom -rumeur",
        "exclusion hit": "broadcom -asic",
        "general": "broadcom asic custom -rumeur",
        "or clause": "(openai OR nvidia) chips lang:en",
        "phrase pair": '"custom asic"',
        "long phrase": '"ships a custom"',
        "prefix phrase": "custom-as*",
        "short prefix": "cus*",
        "long prefix": "semiconduct*",
        "long prefix missing": "semiconductorx*",
        "source words": 'source:"chip wire"',
        "entity alias": "entity:avgo",
        "since": "since:2026-11-01 broadcom",
        "before": "before:2026-11-01 broadcom",
    }
    subs = [compiler.compile(i, ChatRef("telegram", name), q) for i, (name, q) in enumerate(texts.items())]
    assert all(s.conjunctions is not None for s in subs)
    one = doc(article("Broadcom ships a custom ASIC", "Nvidia answers with semiconductors and chips.",
                      source="Chip Wire", entities=["Broadcom"]))
    found = {chat.chat_id for chat, _ in SubscriptionIndex(subs).match_chats(one)}
    assert found == {name for name, s in zip(texts, subs, strict=True) if s.parsed.matches(one)}
    assert found == set(texts) - {"pair missing", "exclusion hit", "long prefix missing", "before"}


def test_a_query_too_large_to_rewrite_keeps_its_tree_and_still_matches() -> None:
    compiler = SubscriptionCompiler(ENTITIES, AN, clock=lambda: NOW)
    # Six excluded pairs: NOT (a AND b) is (NOT a OR NOT b), and six of them multiply out to 64 conjunctions.
    query = "chip -(asic custom) -(rain data) -(center puce) -(reseau avgo) -(openai rumeur) -(broadcom nvidia)"
    sub = compiler.compile(1, ChatRef("telegram", "1"), query)
    assert sub.conjunctions is None
    index = SubscriptionIndex([sub])
    hit = doc(article("A chip", "custom openai broadcom"))
    missed = doc(article("A chip", "custom asic"))
    assert index.matching(hit) == [sub] and sub.parsed.matches(hit)
    assert index.matching(missed) == [] and not sub.parsed.matches(missed)


def test_many_matching_queries_gather_their_chats_in_bulk() -> None:
    compiler = SubscriptionCompiler(ENTITIES, AN, clock=lambda: NOW)
    subs = []
    for i in range(300):  # 150 distinct queries, well past the numpy threshold; 60 chats of 5 subscriptions
        words = ["nvidia", f"topic{i % 150}"] if i % 3 else [f"topic{i % 150}"]
        subs.append(compiler.compile(1000 - i, ChatRef("telegram", str(i % 60)), " ".join(words)))
    text = " ".join(f"topic{k}" for k in range(0, 150, 2))
    for title in ("Nvidia news", "Other news"):
        one = doc(article(title, text))
        expected: dict[ChatRef, CompiledSubscription] = {}
        for sub in sorted(subs, key=lambda s: s.id):
            if sub.parsed.matches(one):
                expected.setdefault(sub.chat, sub)
        found = SubscriptionIndex(subs).match_chats(one)
        assert sorted(found, key=str) == sorted(((c, s.query) for c, s in expected.items()), key=str)
        assert len(expected) >= 10


rich_leaf = st.one_of(
    query_leaf,
    st.sampled_from(WORDS).flatmap(lambda w: st.integers(2, len(w) + 1).map(lambda k: w[:k] + "*")),
    st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS)).map(lambda p: f"{p[0]}-{p[1][:4]}*"),
    st.sampled_from(["before:2026-11-01", "since:2026-12-01", "since:30d", 'source:"chip wire"', "source:le"]),
)
rich_query = st.recursive(
    rich_leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(" ".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + " OR ".join(xs) + ")"),
        st.tuples(inner, inner).map(lambda p: f"{p[0]} -({p[1]})"),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    queries=st.lists(st.tuples(rich_query, st.integers(0, 3)), min_size=1, max_size=16),
    title=article_text,
    text=article_text,
    source=st.sampled_from(SOURCES),
    lang=st.sampled_from(["fr", "en"]),
    entities=st.lists(st.sampled_from(list(ENTITIES)), max_size=2, unique=True),
    days=st.integers(-60, 60),
)
def test_every_chat_gets_exactly_its_oldest_matching_subscription(
    queries: list[tuple[str, int]], title: str, text: str, source: str, lang: str, entities: list[str], days: int
) -> None:
    compiler = SubscriptionCompiler(ENTITIES, AN, clock=lambda: NOW)
    subs = [compiler.compile(i, ChatRef("discord", str(chat)), q) for i, (q, chat) in enumerate(queries)]
    one = doc(article(title or "x", text, source=source, lang=lang, entities=entities,
                      published=NOW + timedelta(days=days)))
    index = SubscriptionIndex(subs)
    assert [s.id for s in index.matching(one)] == [s.id for s in subs if s.parsed.matches(one)]
    expected: dict[ChatRef, str] = {}
    for sub in subs:
        if sub.parsed.matches(one):
            expected.setdefault(sub.chat, sub.query)
    assert dict(index.match_chats(one)) == expected


def test_matching_holds_after_the_stem_cache_was_emptied(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Stems then no longer come as the very objects the index is keyed by: lookups compare by value.
    import bot.search.analysis as analysis

    monkeypatch.setattr(analysis, "STEM_CACHE_WORDS", 5)
    monkeypatch.setattr(analysis, "KEPT_QUERY_WORDS", 0)
    analyzers = Analyzers()
    compiler = SubscriptionCompiler(ENTITIES, analyzers, clock=lambda: NOW)
    queries = ["puces", "nvidia asic", "réseau"]
    subs = [compiler.compile(i, ChatRef("telegram", str(i)), q) for i, q in enumerate(queries)]
    index = SubscriptionIndex(subs)
    filler = " ".join(f"mot{i}" for i in range(12))  # more words than the cache holds: it is emptied
    one = MatchDoc.from_article(article("Les puces de Nvidia", f"{filler} un asic et un réseau"), analyzers)
    query_stem = subs[0].parsed.root.fr  # type: ignore[union-attr]
    assert next(stem for stem in one.fr if stem == query_stem) is not query_stem
    assert [s.id for s in index.matching(one)] == [s.id for s in subs if s.parsed.matches(one)] == [0, 1, 2]
