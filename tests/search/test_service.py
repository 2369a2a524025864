"""SearchService: notices, loaded articles, 'did you mean', story grouping, keeping the index in step."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from bot.models import SearchHit
from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.search.suggest import Vocabulary, capitalised_names
from tests.search.conftest import NOW, ListStore, corpus, make_article


def service_for(store: ListStore, directory: Path | None = None) -> SearchService:
    service = SearchService(store, SearchIndex.open(directory))
    service.catch_up()
    return service


def test_search_loads_articles_from_the_store() -> None:
    store = ListStore(corpus())
    results = service_for(store).search("broadcom", limit=2, now=NOW)
    assert results.total == 3
    assert {h.article.id for h in results.hits} == {1, 2}  # the Qualcomm rumour is older
    assert all(h.article is store.get_article(h.article.id or 0) for h in results.hits)
    # Article 1 names Broadcom in its title only: its snippet is the start of its text.
    highlighted = ["\x02Broadcom\x03" in h.snippet for h in results.hits]
    assert highlighted == [h.article.id == 2 for h in results.hits]
    assert results.notices == [] and results.suggestion is None


def test_parse_problems_become_notices() -> None:
    results = service_for(ListStore(corpus())).search("(broadcom OR", now=NOW)
    assert results.total == 3
    assert any("dangling OR" in n for n in results.notices)
    assert any("parenthesis" in n for n in results.notices)


def test_empty_query_returns_nothing_with_a_notice() -> None:
    results = service_for(ListStore(corpus())).search("-broadcom", now=NOW)
    assert (results.hits, results.total) == ([], 0)
    assert results.query.is_empty and results.notices


def test_misspelt_name_gets_a_suggestion() -> None:
    results = service_for(ListStore(corpus())).search("broadcomm", now=NOW)
    assert results.total == 0
    assert results.suggestion == "Broadcom"


def test_suggestion_keeps_the_rest_of_the_query() -> None:
    results = service_for(ListStore(corpus())).search("qualcom rachat", now=NOW)
    assert results.suggestion == "Qualcomm rachat"


def test_no_suggestion_when_the_correction_finds_nothing_more() -> None:
    # `Broadcom` is known, but `Broadcom lang:de` finds nothing either.
    results = service_for(ListStore(corpus())).search("broadcomm lang:de", now=NOW)
    assert results.total == 0 and results.suggestion is None


def test_articles_gone_from_the_store_are_skipped() -> None:
    store = ListStore(corpus())
    service = service_for(store)
    store.articles[0].id = 999  # the store no longer answers for id 1
    results = service.search("broadcom", now=NOW)
    assert [h.article.id for h in results.hits] == [2, 5]
    assert results.total == 2


def test_index_new_and_catch_up_keep_the_index_in_step(tmp_path: Path) -> None:
    store = ListStore(corpus())
    service = service_for(store, tmp_path)
    new = store.add(make_article("Arm wins in court", "Arm and Qualcomm."))
    assert service.index_new([new]) == 1
    assert service.search("arm", now=NOW).total == 1
    # A batch the index never saw (say, the process died) is fetched from the store with the next one.
    store.add(make_article("Arm appeal", "Arm again."))
    newest = store.add(make_article("Arm settles", "Arm settles."))
    assert service.index_new([newest]) == 2
    assert service.search("arm", now=NOW).total == 3



def test_feeds_indexing_together_share_a_commit_and_each_returns_searchable(tmp_path: Path) -> None:
    store = ListStore(corpus())
    service = service_for(store, tmp_path)
    fresh = [store.add(make_article(f"Chiplet maker {n}", f"Codename zeta{n} ships.")) for n in range(8)]
    found: dict[int, int] = {}

    def poll(n: int) -> None:  # what each feed's poll does after storing its article
        while service._added < n:  # in id order, as the store committed them (no catch-up from the store)
            time.sleep(0.002)
        service.index_new([fresh[n]])
        found[n] = service.search(f"zeta{n}", now=NOW).total

    commits_before = service.commits
    # Hold the committer's turn while the eight polls add their batches, as happens when one commit is
    # already running: then one commit must serve all eight.
    with service._commit_lock:
        threads = [threading.Thread(target=poll, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        while service._added < 8:  # every batch is added before anyone may commit
            time.sleep(0.005)
    for thread in threads:
        thread.join(timeout=30)
    assert found == {n: 1 for n in range(8)}  # each caller's article was searchable when it returned
    assert service.commits - commits_before == 1


def test_group_by_story_keeps_best_first_order() -> None:
    articles = [make_article(f"t{i}", story_id=s) for i, s in enumerate([7, None, 8, 7, 8, None])]
    for i, a in enumerate(articles, start=1):
        a.id = i
    hits = [SearchHit(article=a, score=10 - i, snippet="") for i, a in enumerate(articles)]
    groups = SearchService.group_by_story(hits)
    assert [[h.article.id for h in g] for g in groups] == [[1, 4], [2], [3, 5], [6]]


def test_vocabulary_persists_beside_the_index(tmp_path: Path) -> None:
    service_for(ListStore(corpus()), tmp_path)
    reopened = SearchIndex.open(tmp_path)
    assert reopened.vocabulary.suggest("broadcomm") == "Broadcom"


def test_vocabulary_edits_and_frequency() -> None:
    vocabulary = Vocabulary()
    for _ in range(3):
        article = make_article("Hier Broadcom et Nvidia", "Selon Qualcomm.", entities=["STMicroelectronics"])
        vocabulary.observe(article)
    vocabulary.observe(make_article("Une note", "Selon Broadcon, rien. Selon Broadcon, rien."))
    assert vocabulary.suggest("broadcomm") == "Broadcom"  # insertion
    assert vocabulary.suggest("braodcom") == "Broadcom"  # swap
    assert vocabulary.suggest("nvidya") == "Nvidia"  # substitution
    assert vocabulary.suggest("stmicroelectronic") == "STMicroelectronics"
    assert vocabulary.suggest("broadcon") == "Broadcom"  # a rarer spelling points to the frequent one
    assert vocabulary.suggest("broadcom") is None  # known and the most frequent
    assert vocabulary.suggest("xyzzy") is None
    assert vocabulary.suggest("") is None


def test_capitalised_names_skip_sentence_starts() -> None:
    names = list(capitalised_names("Hier, Broadcom a parlé. Le groupe Nvidia aussi."))
    assert names == ["Broadcom", "Nvidia"]


def test_vocabulary_file_garbage_gives_an_empty_vocabulary(tmp_path: Path) -> None:
    path = tmp_path / "suggest.json"
    path.write_text("not json")
    assert len(Vocabulary.load(path)) == 0
