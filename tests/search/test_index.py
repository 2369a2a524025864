"""The tantivy index: analysis, filters, ranking, snippets, paging, durability."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START
from bot.search.analysis import Analyzers
from bot.search.index import FORMAT, SearchIndex, SearchIndexError, make_snippet
from bot.search.query import MatchDoc, parse_query
from tests.search.conftest import NOW, ListStore, corpus, make_article


def found(index: SearchIndex, text: str, limit: int = 20, offset: int = 0) -> list[int]:
    """Return the ids the index finds for `text`, in rank order."""
    results = index.search(parse_query(text, NOW), limit=limit, offset=offset, now=NOW)
    return [h.article_id for h in results.hits]


def titles(store: ListStore, ids: list[int]) -> list[str]:
    return [store.articles[i - 1].title for i in ids]


# ---- analysis ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "text", "query"),
    [
        ("Une puce", "", "puces"),
        ("Des puces", "", "puce"),
        ("A semiconductor", "", "semiconductors"),
        ("Semiconductors", "", "semiconductor"),
        ("Le réseau", "", "reseau"),
        ("Le reseau", "", "réseau"),
        ("Titre", "le réseau électrique", "RESEAU"),
        ("NVIDIA", "", "nvidia"),
        ("Nvidia", "", "NVIDIA"),
    ],
)
def test_stems_and_accents_meet_in_both_directions(title: str, text: str, query: str) -> None:
    index = SearchIndex.open(None)
    store = ListStore([make_article(title, text), make_article("Unrelated", "nothing to see")])
    index.catch_up(store)
    assert found(index, query) == [1]
    assert parse_query(query, NOW).matches(MatchDoc.from_article(store.articles[0]))


def test_stem_tokens_keep_one_token_when_both_stems_agree() -> None:
    an = Analyzers()
    tokens = an.stem_tokens("Marché des puces, réseaux running")
    assert tokens == "march f:de e:des f:puc e:puce f:reseau e:reseaux f:running e:run"
    assert an.word_terms("march", "march") == ("march", "f:march", "e:march")
    assert an.word_terms("puc", "puce") == ("puc", "f:puc", "puce", "e:puce")


@pytest.mark.parametrize(
    "text",
    ["Marché des puces", "ÆSIR œuvre straße ½ café-crème İstanbul ﬁnance", "a" * 45 + " Été", "DŽ Ⅻ ②", "", "日本"],
)
def test_stem_tokens_from_the_cache_are_what_both_analyzers_give(text: str) -> None:
    an = Analyzers()
    an.stem_tokens(text)  # fills the cache
    fr, en = an.fr.analyze(text), an.en.analyze(text)
    expected = " ".join(a if a == b else f"f:{a} e:{b}" for a, b in zip(fr, en, strict=True))
    assert an.stem_tokens(text) == expected


# Words whose French and English stems differ (puces, réseaux, running, nationales) or agree (marché, chips).
_VOCABULARY = "puce puces réseau réseaux running run runs marché marchés chips chip nationale nationales".split()


@settings(max_examples=25, deadline=None)
@given(
    docs=st.lists(st.lists(st.sampled_from(_VOCABULARY), min_size=1, max_size=6), min_size=1, max_size=8),
    words=st.lists(st.sampled_from(_VOCABULARY), min_size=1, max_size=3),
    operator=st.sampled_from([" ", " OR ", " -"]),
)
def test_the_one_stem_field_matches_exactly_what_memory_matching_matches(
    docs: list[list[str]], words: list[str], operator: str
) -> None:
    index = SearchIndex.open(None)
    store = ListStore([make_article(" ".join(d[:2]), " ".join(d[2:])) for d in docs])
    index.catch_up(store)
    text = operator.join(words)
    query = parse_query(text, NOW, index.analyzers)
    by_memory = {a.id for a in store.articles if query.matches(MatchDoc.from_article(a, index.analyzers))}
    assert set(found(index, text, limit=50)) == by_memory, text


# ---- constructs and filters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("broadcom", {1, 2, 5}),
        ("broadcom semiconductors", {2}),
        ("broadcom -rumeur", {1, 2}),
        ("broadcom NOT rumeur", {1, 2}),
        ("nvidia OR intel", {3, 6}),
        ("nvidia | intel", {3, 6}),
        ('"réseau électrique"', {1}),
        ('"electrique reseau"', set()),
        ("semicon*", {2, 3, 6}),
        ("fabric*", {1}),
        ("manufactur*", {6}),
        ("(nvidia OR intel) factory", {6}),
        ("source:reuters", {2, 6}),
        ("source:lemonde", {1}),
        ('source:"Le Monde"', {1}),
        ("source:echos", {5}),
        ("lang:fr", {1, 4, 5}),
        ("lang:en semiconductor", {2, 3, 6}),
        ("entity:broadcom", {1, 2, 5}),
        ("entity:qualcomm", {5}),
        ("broadcom since:7d", {1, 2}),
        ("since:2d", {1, 2}),
        ("broadcom before:2026-11-09", {2, 5}),
        ("since:2026-10-01 before:2026-11-05", {4, 5, 6}),
        ("since:2026-10-02 before:2026-11-05", {4, 5}),
        ("puce -source:libération", {1}),
        ("élections", {4}),
    ],
)
def test_each_construct_finds_the_right_articles(index: SearchIndex, text: str, expected: set[int]) -> None:
    assert set(found(index, text)) == expected


def test_matches_agrees_with_the_index(index: SearchIndex, store: ListStore) -> None:
    queries = [
        "broadcom", "puce", "puces", "semiconductor", "reseau", '"réseau électrique"', "semi*", "fabric*",
        "broadcom -rumeur", "nvidia OR intel", "(nvidia OR intel) -factory", "source:reuters",
        'source:"les echos"', "lang:fr", "entity:broadcom", "since:7d", "before:2026-11-01",
        "broadcom since:3d", "rachat qualcomm", '"data center"', "election*", "transport* lang:fr",
        "x (broadcom OR -nvidia)", "the", "de", "la OR le", "intel factory OR nvidia chip",
    ]  # fmt: skip
    docs = {a.id: MatchDoc.from_article(a, index.analyzers) for a in store.articles}
    for text in queries:
        query = parse_query(text, NOW)
        by_memory = {i for i, doc in docs.items() if query.matches(doc)}
        assert set(found(index, text)) == by_memory, text


# ---- ranking -----------------------------------------------------------------------------------


def test_title_match_beats_text_match() -> None:
    index = SearchIndex.open(None)
    store = ListStore(
        [
            make_article("Market news", "Later in the day Broadcom was mentioned once.", days_ago=1),
            make_article("Broadcom results", "Later in the day the company was mentioned once.", days_ago=1),
        ]
    )
    index.catch_up(store)
    assert found(index, "broadcom") == [2, 1]


def test_newer_beats_older_at_equal_relevance() -> None:
    index = SearchIndex.open(None)
    store = ListStore([make_article("Broadcom results", "Same text.", days_ago=d) for d in (30, 1, 9, 3)])
    index.catch_up(store)
    assert found(index, "broadcom") == [2, 4, 3, 1]


def test_recent_articles_are_found_beyond_the_rerank_window() -> None:
    # 300 short old articles outrank the fresh, longer one on BM25 alone: it is not in their top 200.
    old = [make_article(f"Item {i}", "Broadcom news", days_ago=60 + i) for i in range(300)]
    fresh = make_article("Market wrap", "A longer text that mentions broadcom once among other words.")
    store = ListStore([*old, fresh])
    index = SearchIndex.open(None)
    index.catch_up(store)
    # Seen from ten years later every article is equally old, so BM25 alone orders them: the fresh one last.
    later = NOW.replace(year=NOW.year + 10)
    last = index.search(parse_query("broadcom", later), limit=1, offset=300, now=later).hits
    assert [h.article_id for h in last] == [301]
    assert found(index, "broadcom", limit=1) == [301]


def test_filter_only_queries_list_newest_first(index: SearchIndex) -> None:
    assert found(index, "lang:fr") == [1, 4, 5]


# ---- snippets and paging ------------------------------------------------------------------------


def test_snippet_highlights_matched_words(index: SearchIndex) -> None:
    hit = index.search(parse_query("réseau électrique", NOW), limit=1, now=NOW).hits[0]
    assert f"{HIGHLIGHT_START}réseau{HIGHLIGHT_END} {HIGHLIGHT_START}électrique{HIGHLIGHT_END}" in hit.snippet


def test_snippet_window_is_short_whole_words_and_around_the_match() -> None:
    text = " ".join(f"filler{i}" for i in range(200)) + " the Broadcom deal " + " ".join(["tail"] * 100)
    snippet = make_snippet(text, parse_query("broadcom", NOW), SearchIndex.open(None).analyzers)
    assert f"{HIGHLIGHT_START}Broadcom{HIGHLIGHT_END}" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    body = snippet.strip("…")
    assert len(body) <= 170
    words = body.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "").split()
    assert all(w.startswith("filler") or w in {"the", "Broadcom", "deal", "tail"} for w in words)


def test_snippet_falls_back_to_the_beginning() -> None:
    text = "Opening words of the article. " + "more " * 100
    snippet = make_snippet(text, parse_query("absent", NOW), SearchIndex.open(None).analyzers)
    assert snippet.startswith("Opening words of the article.")
    assert HIGHLIGHT_START not in snippet


def test_snippet_strips_marks_found_in_the_text() -> None:
    text = f"x{HIGHLIGHT_START}y broadcom"
    snippet = make_snippet(text, parse_query("broadcom", NOW), SearchIndex.open(None).analyzers)
    assert snippet.count(HIGHLIGHT_START) == 1


def test_snippet_with_tokens_tantivy_drops_still_highlights_the_right_word() -> None:
    text = "x" * 50 + " Le réseau de Broadcom."
    snippet = make_snippet(text, parse_query("broadcom", NOW), SearchIndex.open(None).analyzers)
    assert snippet.endswith(f"{HIGHLIGHT_START}Broadcom{HIGHLIGHT_END}.")


def test_paging_walks_the_results_without_overlap() -> None:
    index = SearchIndex.open(None)
    store = ListStore([make_article(f"Broadcom item {i}", "text", days_ago=i) for i in range(1, 13)])
    index.catch_up(store)
    query = parse_query("broadcom", NOW)
    pages = [index.search(query, limit=5, offset=o, now=NOW) for o in (0, 5, 10, 15)]
    ids = [h.article_id for page in pages for h in page.hits]
    assert ids == list(range(1, 13))
    assert all(page.total == 12 for page in pages)
    assert pages[3].hits == []


# ---- durability ---------------------------------------------------------------------------------


def test_crash_between_store_and_index_commit_is_caught_up(tmp_path: Path) -> None:
    store = ListStore(corpus()[:3])
    index = SearchIndex.open(tmp_path / "idx")
    assert index.catch_up(store) == 3
    assert index.watermark == 3
    # The store commits two more articles, then the process dies before the index sees them.
    store.add(make_article("Arm licensing dispute", "Arm and Qualcomm in court."))
    store.add(make_article("Another Arm story", "Arm again."))
    index.add([store.articles[3]])  # queued, never committed
    del index

    reopened = SearchIndex.open(tmp_path / "idx", recreate=False)
    assert reopened.watermark == 3
    assert found(reopened, "arm") == []
    assert reopened.catch_up(store) == 2
    assert set(found(reopened, "arm")) == {4, 5}
    assert reopened.watermark == 5
    reopened.close()
    assert SearchIndex.open(tmp_path / "idx").watermark == 5


def test_watermark_survives_deleting_the_newest(tmp_path: Path) -> None:
    store = ListStore(corpus())
    index = SearchIndex.open(tmp_path)
    index.catch_up(store)
    index.delete([6])
    index.commit()
    assert index.doc_count() == 5
    index.close()
    reopened = SearchIndex.open(tmp_path)
    assert reopened.watermark == 6
    assert reopened.catch_up(store) == 0


def test_watermark_comes_from_the_index_when_the_state_file_is_stale(tmp_path: Path) -> None:
    store = ListStore(corpus())
    index = SearchIndex.open(tmp_path)
    index.catch_up(store)
    index.close()
    # As if the process died after tantivy's commit but before the state file was replaced.
    (tmp_path / "veille_search.json").write_text(json.dumps({"format": FORMAT, "watermark": 2}))
    reopened = SearchIndex.open(tmp_path)
    assert reopened.watermark == 6


def test_adding_an_article_twice_keeps_one_copy(index: SearchIndex, store: ListStore) -> None:
    index.add([store.articles[0]])
    index.commit()
    assert index.doc_count() == 6
    assert found(index, "pénurie") == [1]


def test_rebuild_indexes_everything_again(tmp_path: Path) -> None:
    store = ListStore(corpus())
    index = SearchIndex.open(tmp_path)
    index.catch_up(store)
    seen: list[int] = []
    assert index.rebuild(store, progress=seen.append) == 6
    assert index.doc_count() == 6
    assert seen and seen[-1] == 6


def test_other_format_is_emptied_and_refilled(tmp_path: Path) -> None:
    store = ListStore(corpus())
    index = SearchIndex.open(tmp_path)
    index.catch_up(store)
    index.close()
    (tmp_path / "veille_search.json").write_text(json.dumps({"format": FORMAT - 1, "watermark": 6}))
    reopened = SearchIndex.open(tmp_path)
    assert (reopened.watermark, reopened.doc_count()) == (0, 0)
    assert reopened.catch_up(store) == 6


def test_unreadable_index_raises_a_typed_error_unless_recreated(tmp_path: Path) -> None:
    store = ListStore(corpus())
    index = SearchIndex.open(tmp_path)
    index.catch_up(store)
    index.close()
    (tmp_path / "meta.json").write_text("{ not json")
    with pytest.raises(SearchIndexError) as caught:
        SearchIndex.open(tmp_path)
    assert str(tmp_path) in str(caught.value)
    recreated = SearchIndex.open(tmp_path, recreate=True)
    assert recreated.catch_up(store) == 6
