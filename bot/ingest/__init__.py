"""Ingest: fetch feeds and pages, parse them, extract full text, normalize into Articles.

    fetch.Fetcher ─► parse.parse_feed ─► (extract.is_teaser ─► Fetcher.fetch_page ─► extract_main_text)
                  ─► normalize.normalize_entry ─► Article (lang "und": bot/nlp fills it in)

Each module draws its own exception tree: fetch.FetchError (and subclasses), parse.FeedParseError,
netguard.GuardRefusal. extract and normalize never raise on bad input.
"""

from bot.ingest.extract import extract_main_text, is_teaser
from bot.ingest.fetch import (
    BadResponse,
    BlockedAddress,
    ConnectionFailed,
    Fetcher,
    FetchError,
    FetchResult,
    FetchTimeout,
    HTTPStatusError,
    TooLarge,
    TooManyRedirects,
)
from bot.ingest.normalize import article_key, canonical_url, content_hash, html_to_text, normalize_entry
from bot.ingest.parse import FeedParseError, ParsedFeed, parse_feed

__all__ = [
    "BadResponse",
    "BlockedAddress",
    "ConnectionFailed",
    "FeedParseError",
    "FetchError",
    "FetchResult",
    "FetchTimeout",
    "Fetcher",
    "HTTPStatusError",
    "ParsedFeed",
    "TooLarge",
    "TooManyRedirects",
    "article_key",
    "canonical_url",
    "content_hash",
    "extract_main_text",
    "html_to_text",
    "is_teaser",
    "normalize_entry",
    "parse_feed",
]
