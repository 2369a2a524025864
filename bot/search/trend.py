"""Daily mentions of names over time, for /trend and `veille trend`.

A name counts in an article when the article carries it as a watchlist entity or when its title or text
holds it (or, for a watchlist entity, one of its aliases) as a phrase, matched like a search. Counting is
the index's: a histogram over the publication dates of the matching documents, no article is loaded.

Arguments, as typed in a chat: `broadcom nvidia since:30d`, `"Mistral AI" openai`, `mistral ai, openai`.
Consecutive words that spell a configured watchlist name or alias count as one name.

Errors:

    bot.search.index.SearchError
    └── TrendInputError     the arguments cannot be charted; `code` and `values` let a handler translate
                            the message, str() is the English one
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.search.analysis import Analyzers
from bot.search.index import SearchError
from bot.search.query import Query, parse_query, parse_when

MAX_NAMES = 5
DEFAULT_DAYS = 30
MAX_DAYS = 365
MAX_NAME_CHARS = 60
# A watchlist name of more words than this is not looked for among consecutive words.
MAX_JOINED_WORDS = 4
DAY = timedelta(days=1)


class TrendInputError(SearchError):
    """The trend arguments cannot be used: `code` names the problem, `values` fill its message."""

    _ENGLISH = {
        "usage": "say which names to chart, e.g. broadcom nvidia since:30d",
        "too_many": "at most {max} names in one chart; {n} given",
        "bad_since": "cannot read since:{value}: use days (30d, 12w, up to {max_days} days) or a date (2026-10-01)",
        "bad_name": "nothing searchable in {name!r}: give a name with letters or digits",
    }

    def __init__(self, code: str, **values: object) -> None:
        super().__init__(self._ENGLISH[code].format(**values))
        self.code = code
        self.values = values


@dataclass(frozen=True, slots=True)
class TrendSeries:
    """One name's daily counts, one per day of the trend."""

    name: str
    counts: list[int]

    @property
    def total(self) -> int:
        """Return the mentions over the whole period."""
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class Trend:
    """Daily mentions of a few names: `days` are UTC midnights, oldest first, today last."""

    days: list[datetime]
    series: list[TrendSeries]

    @property
    def since(self) -> datetime:
        """Return the first day charted."""
        return self.days[0]


def _fold(analyzers: Analyzers, text: str) -> str:
    return " ".join(analyzers.words(text))


def split_names(text: str) -> tuple[list[str], str | None]:
    """Split chat arguments into raw names and the since: value (None when absent); quotes keep names whole."""
    names: list[str] = []
    since: str | None = None
    rest = text.replace("“", '"').replace("”", '"').replace("«", '"').replace("»", '"')
    pieces: list[tuple[str, bool]] = []  # (text, quoted)
    while rest:
        start = rest.find('"')
        if start < 0:
            pieces.append((rest, False))
            break
        pieces.append((rest[:start], False))
        end = rest.find('"', start + 1)
        if end < 0:  # an unclosed quote: the rest is the name
            pieces.append((rest[start + 1 :], True))
            break
        pieces.append((rest[start + 1 : end], True))
        rest = rest[end + 1 :]
    for piece, quoted in pieces:
        if quoted:
            if piece.strip():
                names.append(piece.strip())
            continue
        words: list[str] = []
        for word in piece.replace(",", " , ").split():
            if word.lower().startswith("since:"):
                since = word.partition(":")[2]
            elif word == ",":
                if words:
                    names.append(" ".join(words))
                words = []
            else:
                words.append(word)
        if "," in piece:
            if words:
                names.append(" ".join(words))
        else:
            names.extend(words)
    return names, since


def join_watchlist_names(
    names: Sequence[str], entities: Mapping[str, Sequence[str]], analyzers: Analyzers
) -> list[str]:
    """Join consecutive words that spell a watchlist name or alias (`mistral ai` -> one name)."""
    known = {_fold(analyzers, alias) for name, aliases in entities.items() for alias in (name, *aliases)}
    known.discard("")
    out: list[str] = []
    i = 0
    while i < len(names):
        for size in range(min(MAX_JOINED_WORDS, len(names) - i), 1, -1):
            candidate = " ".join(names[i : i + size])
            if " " not in names[i] and _fold(analyzers, candidate) in known:
                out.append(candidate)
                i += size
                break
        else:
            out.append(names[i])
            i += 1
    return out


def parse_since(value: str | None, now: datetime) -> datetime:
    """Return the first UTC day to chart for a since: value (default DEFAULT_DAYS days)."""
    today = _day(now)
    if value is None or not value.strip():
        value = f"{DEFAULT_DAYS}d"
    at = parse_when(value, now)
    if at is None or at > now:
        raise TrendInputError("bad_since", value=value[:20], max_days=MAX_DAYS)
    first = _day(at)
    if (today - first).days + 1 > MAX_DAYS:
        raise TrendInputError("bad_since", value=value[:20], max_days=MAX_DAYS)
    return first


def _day(moment: datetime) -> datetime:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', " ") + '"'


def name_query(
    name: str, entities: Mapping[str, Sequence[str]], analyzers: Analyzers, now: datetime
) -> tuple[str, Query]:
    """Return the display name and the query counting one name (watchlist aliases included)."""
    folded = _fold(analyzers, name)
    if not folded:
        raise TrendInputError("bad_name", name=name[:MAX_NAME_CHARS])
    display, aliases = name.strip()[:MAX_NAME_CHARS], [name]
    for entity, entity_aliases in entities.items():
        forms = (entity, *entity_aliases)
        if any(_fold(analyzers, form) == folded for form in forms):
            display, aliases = entity, list(forms)
            break
    parts = [f"entity:{_quoted(display)}"]
    parts += [_quoted(alias) for alias in dict.fromkeys(aliases) if _fold(analyzers, alias)]
    query = parse_query(" OR ".join(parts), now, analyzers)
    if query.is_empty:
        raise TrendInputError("bad_name", name=name[:MAX_NAME_CHARS])
    return display, query


class DailyCounter(Protocol):
    """What counting needs: bot.search.service.SearchService satisfies it."""

    def daily_counts(self, query: Query, *, since: datetime, until: datetime) -> dict[datetime, int]: ...

    @property
    def analyzers(self) -> Analyzers: ...


def compute_trend(
    counter: DailyCounter,
    args: str,
    *,
    entities: Mapping[str, Sequence[str]] | None = None,
    now: datetime | None = None,
) -> Trend:
    """Parse chat-style arguments and count each name's mentions per day up to today."""
    names, since = split_names(args)
    return trend_for(counter, names, since, entities=entities, now=now)


def trend_for(
    counter: DailyCounter,
    names: Sequence[str],
    since: str | None,
    *,
    entities: Mapping[str, Sequence[str]] | None = None,
    now: datetime | None = None,
) -> Trend:
    """Count each name's mentions per UTC day from `since` (default 30 days) to today."""
    now = now or datetime.now(UTC)
    entities = entities or {}
    analyzers = counter.analyzers
    names = join_watchlist_names([n for n in names if n.strip()], entities, analyzers)
    if not names:
        raise TrendInputError("usage")
    if len(names) > MAX_NAMES:
        raise TrendInputError("too_many", max=MAX_NAMES, n=len(names))
    first = parse_since(since, now)
    end = _day(now) + DAY
    days = [first + i * DAY for i in range(math.ceil((end - first) / DAY))]
    series: list[TrendSeries] = []
    seen: set[str] = set()
    for name in names:
        display, query = name_query(name, entities, analyzers, now)
        if display.lower() in seen:
            continue
        seen.add(display.lower())
        counts = counter.daily_counts(query, since=first, until=end)
        series.append(TrendSeries(display, [counts.get(day, 0) for day in days]))
    return Trend(days, series)
