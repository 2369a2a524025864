"""The query language: each construct, the repairs of the lenient parser, and never raising."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.search.index import SearchIndex
from bot.search.query import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    And,
    DateFilter,
    FieldFilter,
    MatchDoc,
    Not,
    Or,
    Phrase,
    Prefix,
    Word,
    parse_query,
)
from tests.search.conftest import NOW, corpus, make_article


def shape(node: object) -> object:
    """Render a tree compactly so the table below stays readable."""
    match node:
        case Word():
            return node.plain
        case Prefix():
            return f"{node.plain}*"
        case Phrase():
            return '"' + " ".join(node.words) + ('*"' if node.prefix_last else '"')
        case FieldFilter():
            return f"{node.name}:{node.folded}"
        case DateFilter():
            return f"{node.name}:{node.at:%Y-%m-%dT%H}"
        case Not():
            return ("NOT", shape(node.child))
        case And():
            return ("AND", *[shape(c) for c in node.children])
        case Or():
            return ("OR", *[shape(c) for c in node.children])
    return node


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("broadcom", "broadcom"),
        ("broadcom nvidia", ("AND", "broadcom", "nvidia")),
        ("broadcom AND nvidia", ("AND", "broadcom", "nvidia")),
        ('"puces électroniques"', '"puces electroniques"'),
        ("broadcom OR nvidia", ("OR", "broadcom", "nvidia")),
        ("broadcom | nvidia", ("OR", "broadcom", "nvidia")),
        ("broadcom or nvidia", ("AND", "broadcom", "or", "nvidia")),  # `or` is French for gold
        ("broadcom -rumeur", ("AND", "broadcom", ("NOT", "rumeur"))),
        ("broadcom NOT rumeur", ("AND", "broadcom", ("NOT", "rumeur"))),
        ("semicon*", "semicon*"),
        ("(broadcom OR nvidia) puces", ("AND", ("OR", "broadcom", "nvidia"), "puces")),
        ("source:lemonde", "source:lemonde"),
        ('source:"Le Monde"', "source:le monde"),
        ("lang:fr", "lang:fr"),
        ("lang:French", "lang:fr"),
        ("entity:Broadcom", "entity:broadcom"),
        ("since:7d", "since:2026-11-03T12"),
        ("since:24h", "since:2026-11-09T12"),
        ("since:2026-11-01", "since:2026-11-01T00"),
        ("before:2026-11-01", "before:2026-11-01T00"),
        ("covid-19", '"covid 19"'),
        ("l'économie", '"l economie"'),
        ("RÉSEAU", "reseau"),
        ("-(a b) c", ("AND", ("NOT", ("AND", "a", "b")), "c")),
        ("NOT -a b", ("AND", "a", "b")),  # a double negation cancels out
    ],
)
def test_each_construct_parses_to_its_tree(text: str, expected: object) -> None:
    query = parse_query(text, NOW)
    assert shape(query.root) == expected
    assert query.problems == []


@pytest.mark.parametrize(
    ("text", "expected", "problem"),
    [
        ("broadcom OR", "broadcom", "dangling OR"),
        ("OR broadcom", "broadcom", "dangling OR"),
        ("a OR OR b", ("OR", "a", "b"), "dangling OR"),
        ("(broadcom nvidia", ("AND", "broadcom", "nvidia"), "unclosed parenthesis"),
        ("broadcom)", "broadcom", "unmatched )"),
        ('"puces électroniques', '"puces electroniques"', "unclosed quote"),
        ("foo:bar", '"foo bar"', None),
        ("since:soon broadcom", "broadcom", "since:soon"),
        ("since:2026-13-45 broadcom", "broadcom", "since:2026-13-45"),
        ("source: broadcom", "broadcom", "empty source:"),
        ("broadcom NOT", "broadcom", "dangling NOT"),
        ("a* b**c", '"b c"', "prefix needs"),
        ("()", None, "empty parentheses"),
        ("-broadcom", None, "only exclusions"),
        ("a OR -b", None, "only exclusions"),
        ("", None, None),
        ("   \x00\x02\u200b ", None, None),
        ("!!! ???", None, "nothing searchable"),
    ],
)
def test_lenient_repairs_are_reported(text: str, expected: object, problem: str | None) -> None:
    query = parse_query(text, NOW)
    assert shape(query.root) == expected
    assert query.is_empty == (expected is None)
    if problem is None:
        assert all("dangling" not in p for p in query.problems)
    else:
        assert any(problem in p for p in query.problems), query.problems


def test_over_long_input_is_truncated_and_capped() -> None:
    query = parse_query(" ".join(f"w{i}" for i in range(200)), NOW)
    assert isinstance(query.root, And)
    assert len(query.root.children) == MAX_TERMS
    assert any("first 32 terms" in p for p in query.problems)
    long = parse_query("x" * 5000, NOW)
    assert len(long.text) == MAX_QUERY_CHARS
    assert any("first 500 characters" in p for p in long.problems)


def test_deep_nesting_is_bounded() -> None:
    query = parse_query("(" * 300 + "broadcom" + ")" * 300, NOW)
    assert shape(query.root) == "broadcom"
    assert any("nested" in p for p in query.problems)


def test_case_and_accents_do_not_matter() -> None:
    for a, b in (("reseau", "Réseau"), ("Nvidia", "NVIDIA"), ("ELECTIONS", "élections")):
        left, right = parse_query(a, NOW).root, parse_query(b, NOW).root
        assert isinstance(left, Word) and isinstance(right, Word)
        assert (left.plain, left.fr, left.en) == (right.plain, right.fr, right.en)


def test_naive_now_is_taken_as_utc() -> None:
    naive = parse_query("since:1d", datetime(2026, 11, 10, 12))
    assert isinstance(naive.root, DateFilter)
    assert naive.root.at == NOW - timedelta(days=1)


def test_absurd_durations_are_clamped() -> None:
    query = parse_query("since:9999999y", NOW)
    assert isinstance(query.root, DateFilter)
    assert query.root.at.year >= NOW.year - 101


# ---- in-memory matching --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("puce", True),
        ("semiconductor", False),
        ("reseau electrique", True),
        ('"réseau électrique"', True),
        ('"électrique réseau"', False),
        ('"puces broadcom"', False),  # phrase words must be adjacent
        ("broadcom -pénurie", False),
        ("nvidia OR pénurie", True),
        ("fabric*", True),
        ("fabrique*", False),
        ("source:lemonde", True),
        ('source:"le monde"', True),
        ("source:monde", True),
        ("source:reuters", False),
        ("lang:fr", True),
        ("lang:en", False),
        ("entity:broadcom", True),
        ("entity:nvidia", False),
        ("since:2d", True),
        ("since:12h", False),
        ("before:2026-11-09", False),
        ("before:2026-11-10", True),
    ],
)
def test_matches_on_one_article(text: str, expected: bool) -> None:
    doc = MatchDoc.from_article(corpus()[0])
    assert parse_query(text, NOW).matches(doc) is expected


def test_phrase_does_not_span_title_and_text() -> None:
    article = make_article("Alpha beta", "gamma delta")
    doc = MatchDoc.from_article(article)
    assert parse_query('"beta gamma"', NOW).matches(doc) is False
    assert parse_query('"alpha beta"', NOW).matches(doc) is True


def test_empty_query_matches_nothing() -> None:
    doc = MatchDoc.from_article(corpus()[0])
    assert parse_query("", NOW).matches(doc) is False


# ---- never raising ----------------------------------------------------------------------------

PIECES = st.one_of(
    st.sampled_from(
        ['"', "(", ")", "*", ":", "-", "|", " ", "\t", "\n", "\x00", "\x02", "\x03", "é", "北", "🙂",
         "OR", "NOT", "AND", "source:", "since:", "before:", "lang:", "entity:", "7d", "2026-11-01",
         "broadcom", "puces", "\u0301", "\ud7ff", "\U0010ffff"]
    ),
    st.characters(),
)  # fmt: skip
NASTY = st.lists(PIECES, max_size=60).map("".join)


@given(NASTY)
@settings(max_examples=400, deadline=None)
def test_parse_query_never_raises(text: str) -> None:
    query = parse_query(text, NOW)
    assert query.is_empty == (query.root is None)
    assert all(isinstance(p, str) and p for p in query.problems)
    query.matches(MatchDoc.from_article(corpus()[1]))


@pytest.fixture(scope="module")
def shared_index() -> SearchIndex:
    search_index = SearchIndex.open(None)
    articles = corpus()
    for i, article in enumerate(articles, start=1):
        article.id = i
    search_index.add(articles)
    search_index.commit()
    return search_index


@given(NASTY, st.integers(min_value=-5, max_value=500), st.integers(min_value=-5, max_value=50_000))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_index_search_never_raises(shared_index: SearchIndex, text: str, limit: int, offset: int) -> None:
    results = shared_index.search(parse_query(text, NOW), limit=limit, offset=offset, now=NOW)
    assert results.total >= len(results.hits)
    assert all(hit.article_id > 0 for hit in results.hits)


def test_now_in_the_far_future_or_past_is_fine(shared_index: SearchIndex) -> None:
    for now in (datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)):
        results = shared_index.search(parse_query("broadcom since:7d", now), limit=5, now=now)
        assert results.total >= 0
