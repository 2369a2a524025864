"""Find the feed behind a web page: what `/addfeed https://site.example/` needs.

A page announces its feeds with `<link rel="alternate" type="application/rss+xml" href="...">` (or Atom,
or JSON Feed). When it announces none, a few conventional paths are tried (`find_feed`). Every fetch goes
through the guarded Fetcher, so a private address is refused unless `fetch.allow_private_addresses` is set.

Errors (besides the Fetcher's FetchError tree, which `find_feed` lets through for the URL given):

    DiscoveryError(url, reason)     base: no usable feed behind the URL
    ├── NoFeedFound                 a web page that announces no feed, and no conventional path has one
    └── NotAFeed                    the feed found cannot be parsed
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from bot.ingest.fetch import Fetcher, FetchError, FetchResult, decode_html
from bot.ingest.parse import FeedParseError, ParsedFeed, parse_feed

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


class DiscoveryError(Exception):
    """No usable feed could be found behind a URL; `reason` says why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class NoFeedFound(DiscoveryError):
    """The URL is a web page that announces no feed, and no conventional path serves one."""


class NotAFeed(DiscoveryError):
    """The feed found cannot be parsed."""


@dataclass(slots=True)
class FoundFeed:
    """A feed found and checked: its URL, what it says it is, and its items (newest first when dated)."""

    url: str
    parsed: ParsedFeed

    @property
    def title(self) -> str:
        return self.parsed.title.strip() or (urlsplit(self.url).hostname or self.url)


async def _parse(result: FetchResult) -> ParsedFeed:
    try:
        return await asyncio.to_thread(parse_feed, result.body, result.final_url)
    except FeedParseError as exc:
        raise NotAFeed(result.url, exc.reason) from None


async def find_feed(fetcher: Fetcher, url: str) -> FoundFeed:
    """Fetch `url`; return the feed it is, or the first working feed its page announces or a usual path serves."""
    first = await fetcher.fetch(url)  # FetchError propagates: the URL the user gave cannot be read
    if looks_like_feed(first.body):
        return FoundFeed(first.final_url, await _parse(first))
    announced = [u for u, _title in discover_feeds(decode_html(first.body, first.charset), first.final_url)]
    root = "{0.scheme}://{0.netloc}".format(urlsplit(first.final_url))
    candidates = announced + [root + path for path in CONVENTIONAL_PATHS if root + path not in announced]
    for candidate in candidates:
        try:
            result = await fetcher.fetch(candidate)
        except FetchError:
            continue  # a conventional path that does not exist is the common case, not an error
        if looks_like_feed(result.body):
            return FoundFeed(result.final_url, await _parse(result))
    raise NoFeedFound(url, "no feed announced by the page or at the usual addresses")
