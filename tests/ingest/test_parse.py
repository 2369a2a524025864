"""Feed fixtures, each with its expectation in a sidecar NAME.expect.json, run by one parametrized test.

Expectation keys (all optional):
    error               substring of FeedParseError.reason; nothing else is checked
    url                 the feed URL to parse and normalize with (default https://feeds.example/feed)
    title, ttl_s        exact values
    entries             exact entry count; min_entries a lower bound
    warnings            false: none; a string: a substring of one warning
    entry               {index: {field: exact value, FIELD_contains: substring, any_text_contains: ...}}
    normalized          {index: {url, title, published ("fetched_at" or ISO), text_contains, text_absent}}
    absent_everywhere   substrings that must not appear in any title, text, link or warning
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ingest.normalize import normalize_entry
from bot.ingest.parse import FeedParseError, ParsedFeed, parse_feed, prepare_body

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
CASES = sorted(p for p in FIXTURES.iterdir() if not p.name.endswith(".expect.json"))
FETCHED_AT = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def expectation(path: Path) -> dict[str, Any]:
    return json.loads(path.with_name(path.stem + ".expect.json").read_text(encoding="utf-8"))


def check_entry(index: int, entry: Any, expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        where = f"entry {index} {key}"
        if key == "any_text_contains":
            assert value in entry.summary_html + entry.content_html, where
        elif key.endswith("_contains"):
            field = {"summary": "summary_html", "content": "content_html"}.get(key[: -len("_contains")])
            actual = getattr(entry, field or key[: -len("_contains")])
            assert value in actual, f"{where}: {actual!r}"
        elif key == "published":
            actual = entry.published.isoformat() if entry.published else None
            assert actual == value, where
        else:
            assert getattr(entry, key) == value, f"{where}: {getattr(entry, key)!r}"


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_feed_fixture(path: Path) -> None:
    expect = expectation(path)
    url = expect.get("url", "https://feeds.example/feed")
    body = path.read_bytes()
    if "error" in expect:
        with pytest.raises(FeedParseError) as err:
            parse_feed(body, url)
        assert expect["error"] in err.value.reason
        assert err.value.url == url
        return

    feed = parse_feed(body, url)
    if "title" in expect:
        assert feed.title == expect["title"]
    if "entries" in expect:
        assert len(feed.entries) == expect["entries"]
    if "min_entries" in expect:
        assert len(feed.entries) >= expect["min_entries"]
    if "ttl_s" in expect:
        assert feed.ttl_s == expect["ttl_s"]
    if expect.get("warnings") is False:
        assert feed.warnings == []
    elif isinstance(expect.get("warnings"), str):
        assert any(expect["warnings"] in w for w in feed.warnings), feed.warnings
    for entry in feed.entries:
        assert entry.published is None or entry.published.tzinfo is not None
    for index, fields in expect.get("entry", {}).items():
        check_entry(int(index), feed.entries[int(index)], fields)

    articles = [
        normalize_entry(e, source="Test", feed_id=7, feed_url=url, fetched_at=FETCHED_AT)
        for e in feed.entries
    ]
    for index, fields in expect.get("normalized", {}).items():
        article = articles[int(index)]
        assert article is not None
        for key, value in fields.items():
            if key == "text_contains":
                assert value in article.text, article.text
            elif key == "text_absent":
                assert value not in article.text
            elif key == "published":
                assert article.published == (
                    FETCHED_AT if value == "fetched_at" else datetime.fromisoformat(value)
                )
            else:
                assert getattr(article, key) == value
    everything = " ".join(
        [feed.title, *feed.warnings]
        + [f"{e.title} {e.link} {e.summary_html} {e.content_html}" for e in feed.entries]
        + [f"{a.title} {a.text}" for a in articles if a]
    )
    for needle in expect.get("absent_everywhere", []):
        assert needle not in everything


def test_every_fixture_has_an_expectation() -> None:
    assert len(CASES) >= 15
    for path in CASES:
        assert path.with_name(path.stem + ".expect.json").exists(), path.name


def test_doctype_is_removed_before_parsing() -> None:
    body = (FIXTURES / "billion_laughs.xml").read_bytes()
    warnings: list[str] = []
    prepared = prepare_body(body, warnings)
    assert b"<!DOCTYPE" not in prepared and b"<!ENTITY" not in prepared and b"&lol" not in prepared
    assert warnings


def test_named_entities_inside_cdata_stay_literal() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x &eacute;</title>'
        b"<item><title>t</title><description><![CDATA[a &eacute; b]]></description></item></channel></rss>"
    )
    feed = parse_feed(body, "https://e.example/")
    assert feed.title == "x \u00e9"
    assert feed.entries[0].summary_html == "a &eacute; b"


def test_utf16_feed_is_read() -> None:
    text = '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>Wide \u00e9</title>'
    text += "<item><title>One</title><link>https://w.example/1</link></item></channel></rss>"
    feed = parse_feed(text.encode("utf-16"), "https://w.example/feed")
    assert feed.title == "Wide \u00e9" and feed.entries[0].title == "One"


def test_valid_feed_without_items_is_not_an_error() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    feed = parse_feed(body, "https://q.example/")
    assert feed.title == "Quiet" and feed.entries == []


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "empty body"),
        (b"<notafeed><x/></notafeed>", "not a feed"),
        (b'{"hello": "world"', "not a feed"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a feed"),
        (b"<html><body><p>hi</p></body></html>", "looks like HTML"),
    ],
)
def test_unreadable_bodies_raise_feed_parse_error(body: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError) as err:
        parse_feed(body, "https://bad.example/")
    assert reason in err.value.reason


def test_sy_update_period_gives_ttl() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        b"<channel><title>S</title><sy:updatePeriod>hourly</sy:updatePeriod>"
        b"<sy:updateFrequency>2</sy:updateFrequency><item><title>a</title></item></channel></rss>"
    )
    assert parse_feed(body, "https://s.example/").ttl_s == 1800


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=400)
    | st.text(max_size=300).map(lambda t: f"<rss><channel>{t}</channel></rss>".encode())
)
def test_any_bytes_parse_or_raise_feed_parse_error(body: bytes) -> None:
    try:
        result = parse_feed(body, "https://fuzz.example/")
    except FeedParseError as exc:
        assert exc.reason
    else:
        assert isinstance(result, ParsedFeed)
