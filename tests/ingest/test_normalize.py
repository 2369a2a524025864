"""Text cleaning, canonical URLs, content hashes, keys and entry normalization."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ingest.normalize import (
    article_key,
    canonical_url,
    clean_title,
    content_hash,
    html_to_text,
    normalize_entry,
    url_identity,
)
from bot.models import RawEntry

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "markup, expected",
    [
        ("", ""),
        ("plain   text\n\n  with   spaces", "plain text with spaces"),
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("Intro<p>Para</p>tail", "Intro\n\nPara\n\ntail"),
        ("line<br>break<br/>again", "line\nbreak\nagain"),
        ("<ul><li>a</li><li>b</li></ul>after", "a\nb\n\nafter"),
        (
            "<h2>Head</h2><div>Body &amp; soul &eacute;&#233;&#xE9;</div>",
            "Head\n\nBody & soul \u00e9\u00e9\u00e9",
        ),
        (
            "<p>Keep</p><script>var x = '<p>no</p>';</script><style>p {color: red}</style><!-- hidden -->",
            "Keep",
        ),
        ("<b>bold</b> <i>and</i>&nbsp;<em>inline</em>", "bold and inline"),
        ('<?xml version="1.0" encoding="utf-8"?><html><body><p>decl</p></body></html>', "decl"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("AT&amp;T &lt;tag&gt;", "AT&T <tag>"),
        ("<p>unclosed <b>bold", "unclosed bold"),
    ],
)
def test_html_to_text(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/&;#abp =\"'\n\t\u00e9x1")) | st.characters(), max_size=200))
def test_html_to_text_never_raises_and_is_tidy(markup: str) -> None:
    text = html_to_text(markup)
    assert text == text.strip()
    assert "\n\n\n" not in text and "  " not in text


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("Tom & Jerry", "Tom & Jerry"),
        ("  Multi\n  line\ttitle  ", "Multi line title"),
        ("<b>Bold</b> title", "Bold title"),
        ("<p>Para one</p><p>para two</p>", "Para one para two"),
        ("x" * 600, "x" * 499 + "\u2026"),
    ],
)
def test_clean_title(raw: str, expected: str) -> None:
    assert clean_title(raw) == expected


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "HTTPS://Example.COM:443/a/b/?utm_source=x&b=2&a=1&fbclid=z#frag",
            "https://example.com/a/b/?a=1&b=2",
        ),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        (
            "https://example.com/p?gclid=1&mc_cid=2&mc_eid=3&igshid=4&ref=5&xtor=RSS-1&utm_medium=rss",
            "https://example.com/p",
        ),
        ("https://example.com/p?id=5&UTM_Campaign=x", "https://example.com/p?id=5"),
        ("https://example.com/search?q=a%20b&page=2", "https://example.com/search?page=2&q=a%20b"),
        ("https://Example.com./path/", "https://example.com/path/"),
        ("https://user:pw@example.com/x", "https://user:pw@example.com/x"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("not a url", "not a url"),
        ("http://[::1]:80/x", "http://[::1]/x"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80).map(lambda s: "https://Example.com/" + s))
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_url_identity_merges_scheme_and_trailing_slash() -> None:
    assert url_identity("http://example.com/a/") == url_identity("https://example.com/a")
    assert url_identity("https://example.com/") == "example.com/"


def test_content_hash_is_stable_and_blind_to_case_and_spacing() -> None:
    a = content_hash("Breaking News", "The  text\nhere.")
    assert a == content_hash("breaking news", "the text here.")
    assert a == content_hash("BREAKING\u00a0NEWS", " The text   here. ")
    assert a != content_hash("Breaking News", "Other text.")
    assert len(a) == 32


def test_content_hash_known_value() -> None:
    # The store keeps these hashes, so the value must not drift between runs or releases.
    assert content_hash("Hello", "World") == hashlib.sha256(b"hello world").hexdigest()[:32]


def test_article_key_kinds() -> None:
    url = "https://example.com/a"
    assert article_key("post-7", url, "h", scope="https://feed.example/rss").startswith("guid:")
    assert article_key("https://example.com/a?utm_source=x", "", "h") == "guid:example.com/a"
    assert article_key("", url, "h") == "url:example.com/a"
    assert article_key("   ", "", "abc") == "hash:abc"
    assert article_key("null", url, "h") == "url:example.com/a"


def test_plain_guid_is_scoped_by_feed() -> None:
    first = article_key("12345", "", "h", scope="https://one.example/feed")
    second = article_key("12345", "", "h", scope="https://two.example/feed")
    assert first != second
    assert first == article_key("12345", "", "other", scope="https://one.example/feed")


def test_normalize_entry_full() -> None:
    entry = RawEntry(
        title="  Hello &amp; welcome\n to the show ",
        link="../posts/1?utm_source=rss#top",
        guid="",
        published=datetime(2025, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=2))),
        summary_html="<p>Short.</p>",
        content_html="<p>Full text of the article.</p><p>Second paragraph.</p>",
    )
    article = normalize_entry(
        entry, source="Blog", feed_id=3, feed_url="https://blog.example/feeds/rss", fetched_at=NOW
    )
    assert article is not None
    assert article.title == "Hello & welcome to the show"
    assert article.url == "https://blog.example/posts/1"
    assert article.text == "Full text of the article.\n\nSecond paragraph."
    assert article.published == datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    assert article.key == "url:blog.example/posts/1"
    assert article.content_hash == content_hash(article.title, article.text)
    assert article.lang == "und" and article.feed_id == 3 and article.source == "Blog"


def test_normalize_entry_empty_is_none() -> None:
    assert (
        normalize_entry(RawEntry(), source="s", feed_id=None, feed_url="https://x.example/", fetched_at=NOW)
        is None
    )
    blank = RawEntry(title="  ", summary_html="<p> </p>", link="https://x.example/1")
    assert (
        normalize_entry(blank, source="s", feed_id=None, feed_url="https://x.example/", fetched_at=NOW)
        is None
    )


def test_normalize_entry_dates_are_clamped_and_utc() -> None:
    future = RawEntry(title="t", published=NOW + timedelta(days=3))
    missing = RawEntry(title="t")
    naive_now = datetime(2025, 7, 1, 12, 0)
    for entry in (future, missing):
        article = normalize_entry(
            entry, source="s", feed_id=None, feed_url="https://x.example/", fetched_at=naive_now
        )
        assert article is not None and article.published == NOW


def test_normalize_entry_without_title_takes_first_line_of_text() -> None:
    entry = RawEntry(summary_html="<p>" + "word " * 60 + "</p><p>second</p>")
    article = normalize_entry(entry, source="s", feed_id=None, feed_url="https://x.example/", fetched_at=NOW)
    assert article is not None
    assert article.title.endswith("\u2026") and len(article.title) <= 120
    assert article.key.startswith("hash:")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.com/ #", "https://example.com/"),
        ("https://example.com/a b/?q=x y", "https://example.com/a%20b/?q=x%20y"),
    ],
)
def test_whitespace_in_urls_is_trimmed_or_escaped(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected
