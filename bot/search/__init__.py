"""Search: the query language (query.py), the tantivy index (index.py), 'did you mean' (suggest.py),
the service the handlers and the pipeline call (service.py) and daily mention counts (trend.py).

Errors:

    SearchError
    ├── SearchIndexError    the index cannot be opened, written or read (bot.search.index)
    └── TrendInputError     /trend arguments that cannot be charted (bot.search.trend)

Parsing never raises; bad queries come back with `problems`.
"""

from __future__ import annotations

from bot.search.index import IndexHit, IndexResults, SearchError, SearchIndex, SearchIndexError
from bot.search.query import MatchDoc, Query, parse_query
from bot.search.service import SearchResults, SearchService, StoryPage, StoryResult
from bot.search.trend import Trend, TrendInputError, TrendSeries

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
    "StoryPage",
    "StoryResult",
    "Trend",
    "TrendInputError",
    "TrendSeries",
    "parse_query",
]
