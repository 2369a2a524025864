"""Feed discovery from a web page's <link rel="alternate"> tags."""

from __future__ import annotations

import pytest

from bot.ingest.discover import discover_feeds, looks_like_feed

PAGE = """<!doctype html><html><head>
<title>Le Fil Tech</title>
<base href="https://filtech.example/fr/">
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Tous les articles" href="rss.xml">
<link rel="alternate" type="application/atom+xml; charset=utf-8" title="Puces" href="/puces/atom.xml">
<link rel="alternate" type="application/rss+xml" href="rss.xml">
<link rel="alternate" hreflang="en" href="https://filtech.example/en/">
<link rel="alternate" type="application/feed+json" title="JSON" href="https://cdn.example/feed.json">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
</head><body><a href="/rss.xml">RSS</a></body></html>"""


def test_announced_feeds_are_found_resolved_and_deduplicated() -> None:
    assert discover_feeds(PAGE, "https://filtech.example/fr/index.html") == [
        ("https://filtech.example/fr/rss.xml", "Tous les articles"),
        ("https://filtech.example/puces/atom.xml", "Puces"),
        ("https://cdn.example/feed.json", "JSON"),
    ]


@pytest.mark.parametrize("page", ["", "<html><head></head></html>", "<<<>>>&&&", "\x00" * 100])
def test_pages_without_feeds_give_nothing(page: str) -> None:
    assert discover_feeds(page, "https://x.example/") == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', True),
        (b"\xef\xbb\xbf<feed xmlns='http://www.w3.org/2005/Atom'></feed>", True),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', True),
        (b"<!doctype html><html><head><link rel=alternate></head></html>", False),
        (b'{"hello": "world"}', False),
    ],
)
def test_feed_or_page(body: bytes, expected: bool) -> None:
    assert looks_like_feed(body) is expected
