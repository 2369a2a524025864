"""Parse feed bodies (RSS 0.9x/1.0/2.0, Atom, JSON Feed, podcasts) into RawEntry items.

fastfeedparser is the fast path (about 57x cheaper than feedparser here). feedparser, the most tolerant
parser, takes over when the fast path fails, finds no entries, or the XML is not well-formed and
feedparser reads more of it. A broken feed yields what can be read plus a warning with the reason.

Before either parser sees the bytes, `prepare_body` defuses and repairs them:
- a DOCTYPE is removed, so no parser expands DTD entities (billion laughs) or fetches external ones (XXE);
- HTML named entities (&eacute;, &nbsp;) that XML does not define become numeric references;
- a body whose declared encoding is wrong (Latin-1 bytes declared UTF-8, or the reverse) is re-encoded.

Errors:

    FeedParseError(url, reason)   nothing at all could be read ("empty body", "not a feed: looks like HTML")
"""

from __future__ import annotations

import codecs
import html.entities
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat

import fastfeedparser
import feedparser
import lxml.etree

from bot.models import RawEntry

log = logging.getLogger(__name__)

_XML_DECL = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9._:-]+)([\"'])", re.IGNORECASE)
_XML_DECL_ANY = re.compile(rb"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE\b[^\[>]*(?:\[.*?\]\s*)?>", re.DOTALL)
_ENTITY_NAME = re.compile(rb"<!ENTITY\s+(?:%\s+)?([A-Za-z_][\w.-]{0,63})")
_ENTITY_REF = re.compile(rb"&([A-Za-z_][\w.-]{0,63});")
_NON_XML_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31});")
_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.DOTALL)
_TTL = re.compile(rb"<ttl>\s*(\d{1,7})\s*</ttl>", re.IGNORECASE)
_SY_PERIOD = re.compile(rb"<sy:updatePeriod>\s*(hourly|daily|weekly|monthly|yearly)\s*<", re.IGNORECASE)
_SY_FREQUENCY = re.compile(rb"<sy:updateFrequency>\s*(\d{1,5})\s*<", re.IGNORECASE)
_PERIOD_S = {b"hourly": 3600, b"daily": 86400, b"weekly": 604800, b"monthly": 2592000, b"yearly": 31536000}
_LATIN_NAMES = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "us-ascii", "ascii"}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MAX_PREVIEW = 2048


class FeedParseError(Exception):
    """Nothing could be read from a feed body; `reason` says why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(slots=True)
class ParsedFeed:
    """A feed as read: its title, items, publisher-suggested poll interval and any repair warnings."""

    title: str
    entries: list[RawEntry]
    ttl_s: int | None = None
    warnings: list[str] = field(default_factory=list)
    parser: str = ""


def parse_feed(body: bytes, url: str) -> ParsedFeed:
    """Parse a feed body; return what can be read, or raise FeedParseError when nothing can."""
    if not body or not body.strip():
        raise FeedParseError(url, "empty body")
    warnings: list[str] = []
    data = prepare_body(body, warnings)
    if data.lstrip()[:1] in (b"{", b"["):
        return _parse_json(data, url, warnings)
    if _looks_like_html(data):
        raise FeedParseError(url, "not a feed: looks like HTML")

    fast: ParsedFeed | None = None
    fast_error = ""
    try:
        fast = _from_fastfeedparser(fastfeedparser.parse(data))
    except Exception as exc:  # noqa: BLE001 - any parser failure means: try the tolerant one
        fast_error = _short(str(exc))
        if "HTML" in fast_error:
            raise FeedParseError(url, "not a feed: looks like HTML") from None

    broken = _xml_error(data)
    if fast is not None and fast.entries and broken is None:
        fast.warnings = warnings
        fast.ttl_s = _ttl(data)
        return fast

    slow, slow_error, recognised = _run_feedparser(data)
    if broken is not None:
        warnings.append(f"not well-formed XML ({broken}); read what could be read")
    elif fast_error:
        warnings.append(f"fast parser failed ({fast_error})")
    if slow_error and broken is None and not fast_error:
        warnings.append(f"feedparser: {slow_error}")
    best = _better(fast, slow)
    if best is None or (not best.entries and not best.title and not recognised):
        reason = slow_error or fast_error or "no RSS, Atom or JSON Feed content found"
        raise FeedParseError(url, f"not a feed: {reason}")
    best.warnings = warnings
    best.ttl_s = _ttl(data)
    return best


def _better(fast: ParsedFeed | None, slow: ParsedFeed | None) -> ParsedFeed | None:
    if fast is None:
        return slow
    if slow is None:
        return fast
    # On a tie the fast parser wins: it decodes entities and dates at least as well on sound input.
    return slow if len(slow.entries) > len(fast.entries) else fast


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


# --- byte-level preparation -------------------------------------------------------------------------


def prepare_body(body: bytes, warnings: list[str]) -> bytes:
    """Return the body re-encoded as declared, DOCTYPE-free and with XML-safe entities; note repairs."""
    data = _to_utf8(body, warnings)
    data = _strip_doctype(data, warnings)
    if _NON_XML_ENTITY.search(data):
        data = _numeric_entities(data)
    return data


def _to_utf8(body: bytes, warnings: list[str]) -> bytes:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            # Regexes below work on ASCII-compatible bytes, so wide encodings are converted up front.
            text = body.decode(codec, errors="replace")
            return _redeclare(text.encode("utf-8"), "utf-8")
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    if body.lstrip()[:1] in (b"{", b"["):
        return body
    match = _XML_DECL.match(body[:256])
    declared = match.group(2).decode("ascii").lower() if match else "utf-8"
    if declared in ("utf-8", "utf8"):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            warnings.append("declared UTF-8 but is not valid UTF-8; read as Windows-1252")
            return _redeclare(body.decode("cp1252", errors="replace").encode("utf-8"), "utf-8")
        return body
    if declared in _LATIN_NAMES and not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        # Text that is valid UTF-8 with multi-byte sequences is almost never meant as Latin-1.
        warnings.append(f"declared {declared.upper()} but is UTF-8; read as UTF-8")
        return _redeclare(body, "utf-8")
    return body


def _redeclare(data: bytes, encoding: str) -> bytes:
    if _XML_DECL.match(data[:256]):
        return _XML_DECL.sub(lambda m: m.group(1) + encoding.encode() + m.group(3), data, count=1)
    return data


def _strip_doctype(data: bytes, warnings: list[str]) -> bytes:
    # XML keywords are case-sensitive, so a plain byte search finds every declaration a parser would honour.
    if b"<!DOCTYPE" not in data and b"<!ENTITY" not in data:
        return data
    names = set(_ENTITY_NAME.findall(data))
    data = _DOCTYPE.sub(b"", data, count=1)
    if b"<!ENTITY" in data:
        # A declaration left outside a DOCTYPE (or a DOCTYPE the pattern could not close) is removed too.
        data = re.sub(rb"<!ENTITY\b[^>]*>", b"", data)
    if names:
        # References to the removed entities would only make the document ill-formed; they expand to nothing.
        data = _ENTITY_REF.sub(lambda m: b"" if m.group(1) in names else m.group(0), data)
        warnings.append("DOCTYPE with entity declarations removed; entities are never expanded")
    return data


def _numeric_entities(data: bytes) -> bytes:
    def replace(match: re.Match[bytes]) -> bytes:
        chars = html.entities.html5.get(match.group(1).decode("ascii") + ";")
        if chars is None:
            return match.group(0)
        return b"".join(b"&#%d;" % ord(c) for c in chars)

    # Inside CDATA an entity is literal text, so only the parts between CDATA sections are rewritten.
    parts = _CDATA.split(data)
    return b"".join(p if p.startswith(b"<![CDATA[") else _NON_XML_ENTITY.sub(replace, p) for p in parts)


def _looks_like_html(data: bytes) -> bool:
    head = data[:_MAX_PREVIEW].lstrip().lower()
    head = _XML_DECL_ANY.sub(b"", head, count=1).lstrip()
    if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        return True
    return b"<html" in head and not any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf", b"<channel"))


def _xml_error(data: bytes) -> str | None:
    """Return why `data` is not well-formed XML, or None; expat is about 2.5x cheaper than lxml here."""
    # No handlers are set, so expat builds nothing, resolves no external entity and only checks syntax.
    checker = expat.ParserCreate()
    try:
        checker.Parse(data, True)
    except expat.ExpatError as exc:
        if exc.code != expat.errors.codes[expat.errors.XML_ERROR_UNKNOWN_ENCODING]:
            return _short(str(exc))
        return _lxml_error(data)  # expat knows few encodings; libxml2 knows the rest
    except (ValueError, LookupError):
        # pyexpat raises these (not ExpatError) for a declared multi-byte (Shift_JIS) or unknown encoding.
        return _lxml_error(data)
    return None


def _lxml_error(data: bytes) -> str | None:
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        lxml.etree.fromstring(data, parser)
    except (lxml.etree.XMLSyntaxError, ValueError, LookupError) as exc:
        return _short(str(exc))
    return None


def _ttl(data: bytes) -> int | None:
    head = data[:65536]
    match = _TTL.search(head)
    if match and int(match.group(1)) > 0:
        return int(match.group(1)) * 60
    period = _SY_PERIOD.search(head)
    if period:
        freq = _SY_FREQUENCY.search(head)
        times = max(1, int(freq.group(1))) if freq else 1
        return _PERIOD_S[period.group(1).lower()] // times
    return None


# --- fastfeedparser ---------------------------------------------------------------------------------


def _iso(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _first_content(entry: dict[str, Any]) -> str:
    contents = entry.get("content") or []
    for item in contents:
        if isinstance(item, dict) and item.get("value"):
            return str(item["value"])
    return ""


def _first_enclosure(entry: dict[str, Any], key: str) -> str:
    for enclosure in entry.get("enclosures") or []:
        if isinstance(enclosure, dict) and enclosure.get(key):
            return str(enclosure[key])
    return ""


def _str(value: Any) -> str:
    """Return `value` as text that encodes to UTF-8: JSON can carry lone surrogates ("\\ud800")."""
    text = str(value or "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _from_fastfeedparser(result: Any) -> ParsedFeed:
    entries = []
    for e in result.get("entries") or []:
        entries.append(
            RawEntry(
                title=_str(e.get("title")),
                link=_str(e.get("link")),
                guid=_str(e.get("id")),
                published=_iso(e.get("published")) or _iso(e.get("updated")),
                summary_html=_str(e.get("description")),
                content_html=_str(_first_content(e)),
                author=_str(e.get("author")),
                enclosure_url=_str(_first_enclosure(e, "url")),
            )
        )
    feed = result.get("feed") or {}
    return ParsedFeed(title=_str(feed.get("title")), entries=entries, parser="fastfeedparser")


def _parse_json(data: bytes, url: str, warnings: list[str]) -> ParsedFeed:
    try:
        parsed = _from_fastfeedparser(fastfeedparser.parse(data))
    except Exception as exc:  # noqa: BLE001 - fastfeedparser signals bad JSON with assorted errors
        raise FeedParseError(url, f"not a feed: unreadable JSON ({_short(str(exc))})") from None
    parsed.warnings = warnings
    return parsed


# --- feedparser -------------------------------------------------------------------------------------


def _struct_time(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _run_feedparser(data: bytes) -> tuple[ParsedFeed | None, str, bool]:
    """Return (feed or None, bozo reason, whether a feed format was recognised)."""
    try:
        result = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # noqa: BLE001 - feedparser is the last resort; its failure is a reason
        return None, _short(f"feedparser failed: {exc}"), False
    bozo = _short(str(result.get("bozo_exception") or "")) if result.get("bozo") else ""
    entries = []
    for e in result.get("entries") or []:
        content = ""
        for item in e.get("content") or []:
            if item.get("value"):
                content = str(item["value"])
                break
        enclosure = ""
        for enc in e.get("enclosures") or []:
            if enc.get("href"):
                enclosure = str(enc["href"])
                break
        entries.append(
            RawEntry(
                title=str(e.get("title") or ""),
                link=str(e.get("link") or ""),
                guid=str(e.get("id") or ""),
                published=_struct_time(e.get("published_parsed")) or _struct_time(e.get("updated_parsed")),
                summary_html=str(e.get("summary") or ""),
                content_html=content,
                author=str(e.get("author") or ""),
                enclosure_url=enclosure,
            )
        )
    feed = result.get("feed") or {}
    recognised = bool(result.get("version"))
    parsed = ParsedFeed(title=str(feed.get("title") or ""), entries=entries, parser="feedparser")
    return parsed, bozo, recognised
