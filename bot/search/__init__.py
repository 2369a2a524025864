"""Search: the query language (query.py), the tantivy index (index.py), 'did you mean' (suggest.py)
and the service the handlers and the pipeline call (service.py).

Errors (drawn in full in bot.search.index):

    SearchError
    └── SearchIndexError    the index cannot be opened, written or read

Parsing never raises; bad queries come back with `problems`.
"""

from __future__ import annotations

from bot.search.index import IndexHit, IndexResults, SearchError, SearchIndex, SearchIndexError
from bot.search.query import MatchDoc, Query, parse_query
from bot.search.service import SearchResults, SearchService

__all__ = [
    "IndexHit",
    "IndexResults",
    "MatchDoc",
    "Query",
    "SearchError",
    "SearchIndex",
    "SearchIndexError",
    "SearchResults",
    "SearchService",
    "parse_query",
]
