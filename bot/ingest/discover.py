"""Find the feed behind a web page: what `/addfeed https://site.example/` needs.

A page announces its feeds with `<link rel="alternate" type="application/rss+xml" href="...">` (or Atom,
or JSON Feed). When it announces none, a few conventional paths are tried by the caller.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
    "application/rdf+xml": "rss",
    "text/xml": "rss",
    "application/xml": "rss",
}
# Tried in order when a page announces nothing (common CMS defaults).
CONVENTIONAL_PATHS = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/feed.json")


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[dict[str, str]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        elif tag == "link":
            self.links.append(values)


def looks_like_feed(body: bytes) -> bool:
    """Tell from the first bytes whether a document is a feed rather than a web page."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"{"):
        return b"jsonfeed.org" in body[:4096].lower()
    return any(marker in head for marker in (b"<rss", b"<feed", b"<rdf:rdf")) and b"<html" not in head


def discover_feeds(html_text: str, page_url: str) -> list[tuple[str, str]]:
    """Return (absolute feed URL, title) for every feed a page announces, in page order, without repeats."""
    collector = _LinkCollector()
    try:
        collector.feed(html_text[:2_000_000])
        collector.close()
    except Exception:  # html.parser is lenient; a page it still chokes on announces nothing we can trust
        return []
    base = urljoin(page_url, collector.base) if collector.base else page_url
    found: dict[str, str] = {}
    for link in collector.links:
        rels = link.get("rel", "").lower().split()
        kind = link.get("type", "").lower().split(";")[0].strip()
        href = link.get("href", "").strip()
        if "alternate" not in rels or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(base, href)
        if url.startswith(("http://", "https://")) and url not in found:
            found[url] = link.get("title", "").strip()
    return list(found.items())
