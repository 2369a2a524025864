"""Turn parsed feed items into Articles: clean text, canonical URLs, UTC dates and stable keys.

Nothing here raises on bad input: unreadable HTML becomes its visible text or "", a URL that cannot be
parsed is kept as given, and an item with neither title nor text is dropped (None).
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html

from bot.models import Article, RawEntry

# Elements whose boundaries are paragraph breaks; li/tr/dt/dd are line breaks.
_PARAGRAPH_TAGS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "aside",
        "nav",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "form",
        "fieldset",
        "table",
        "ul",
        "ol",
        "dl",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "address",
        "details",
        "summary",
    ]
)
_LINE_TAGS = frozenset(["li", "tr", "dt", "dd", "caption"])
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head")
_PARA = "\u2029"
_LINE = "\u2028"
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# C0 and C1 controls except tab, newline and carriage return, which split() turns into spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TAG_OR_ENTITY = re.compile(r"<[A-Za-z/!]|&(#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")

# Query parameters that only say how a reader arrived, never which page it is.
_TRACKING_PARAMS = frozenset(
    [
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "igshid",
        "igsh",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "xtor",
        "xtref",
        "xts",
        "at_medium",
        "at_campaign",
        "at_source",
        "at_content",
        "at_term",
        "_ga",
        "_gl",
        "ncid",
        "cmpid",
        "soc_src",
        "soc_trk",
        "wt.mc_id",
        "wt.mc_ev",
        "ito",
        "spm",
        "vero_id",
        "oly_enc_id",
        "oly_anon_id",
        "rss",
        "s_cid",
        "cid_source",
        "__twitter_impression",
        "smid",
        "ocid",
    ]
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSTABLE_GUIDS = frozenset({"", "0", "null", "none", "undefined", "nil", "guid", "id"})
_MAX_TITLE = 500


def html_to_text(markup: str) -> str:
    """Return the visible text of an HTML fragment or page, with blocks as line and paragraph breaks."""
    if not markup:
        return ""
    if "<" not in markup:
        # No tags: entities (if any) are all there is to decode, and lxml would only add cost.
        return _tidy(html.unescape(markup) if "&" in markup else markup)
    try:
        root = lxml.html.document_fromstring(markup)
    except ValueError:
        # lxml refuses str input that carries an XML encoding declaration.
        try:
            root = lxml.html.document_fromstring(_XML_DECL.sub("", markup, count=1))
        except (ValueError, lxml.etree.ParserError):
            return _tidy(html.unescape(markup))
    except lxml.etree.ParserError:
        return _tidy(html.unescape(markup))
    lxml.etree.strip_elements(root, *_DROP_TAGS, with_tail=False)
    for el in root.iter(lxml.etree.Element):
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag == "br":
            el.tail = _LINE + (el.tail or "")
        elif tag in _PARAGRAPH_TAGS:
            el.text = _PARA + (el.text or "")
            el.tail = _PARA + (el.tail or "")
        elif tag in _LINE_TAGS:
            el.text = _LINE + (el.text or "")
            el.tail = _LINE + (el.tail or "")
        elif tag in ("td", "th"):
            el.tail = " " + (el.tail or "")
    return _tidy(root.text_content())


def _tidy(text: str) -> str:
    # str.split() is several times faster than a regex here; markers are split off first because
    # str.split() would treat them as plain whitespace.
    if "\u200b" in text:
        text = text.replace("\u200b", "")
    # Control characters (NUL included) are never text: chats refuse or mangle them.
    text = _CONTROL.sub("", text)
    paragraphs = []
    for para in text.split(_PARA):
        lines = [" ".join(line.split()) for line in para.split(_LINE)]
        kept = "\n".join(line for line in lines if line)
        if kept:
            paragraphs.append(kept)
    return "\n\n".join(paragraphs)


def clean_title(raw: str) -> str:
    """Return a title as one plain line: tags removed, entities decoded, whitespace collapsed."""
    if _TAG_OR_ENTITY.search(raw):
        # Titles are often HTML-escaped text; decode them like a reader would show them.
        raw = html_to_text(raw)
    title = " ".join(_CONTROL.sub("", raw.replace("\u200b", "")).split())
    if len(title) > _MAX_TITLE:
        title = title[: _MAX_TITLE - 1].rstrip() + "…"
    return title


def canonical_url(url: str) -> str:
    """Return `url` with lower-case scheme and host, no default port, fragment or tracking parameters."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username or parts.password:
        userinfo = parts.username or ""
        if parts.password:
            userinfo += f":{parts.password}"
        netloc = f"{userinfo}@{netloc}"
    # Whitespace is not part of a URL: trimmed at the ends, escaped inside, so the result is stable.
    path = parts.path.strip().replace(" ", "%20") or "/"
    query = _clean_query(parts.query.strip()).replace(" ", "%20")
    return urlunsplit((scheme, netloc, path, query, ""))


def _clean_query(query: str) -> str:
    if not query:
        return ""
    kept = []
    for piece in query.split("&"):
        if not piece:
            continue
        name = piece.split("=", 1)[0].lower()
        if name.startswith(("utm_", "utm%5f", "pk_", "mtm_")) or name in _TRACKING_PARAMS:
            continue
        kept.append(piece)
    # Raw pieces keep their original percent-encoding; sorting them makes ?a=1&b=2 equal ?b=2&a=1.
    return "&".join(sorted(kept))


def url_identity(canonical: str) -> str:
    """Return the form of a canonical URL used in keys: no scheme, no trailing slash on a non-root path."""
    parts = urlsplit(canonical)
    path = parts.path
    # Keys are never dereferenced, so merging /a/ with /a (and http with https) is safe here,
    # while the clickable URL keeps whatever the publisher wrote.
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    rest = f"?{parts.query}" if parts.query else ""
    return f"{parts.netloc}{path}{rest}"


def content_hash(title: str, text: str) -> str:
    """Return a stable hex digest of title and text, blind to case, width forms and whitespace."""
    joined = unicodedata.normalize("NFKC", f"{title}\n{text}").casefold()
    joined = " ".join(joined.split())
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def guid_is_stable(guid: str) -> bool:
    """Tell whether a feed GUID can serve as an identity (non-empty, not a placeholder, not huge)."""
    value = guid.strip()
    return value.lower() not in _UNSTABLE_GUIDS and len(value) <= 512


def article_key(guid: str, canonical: str, chash: str, *, scope: str = "") -> str:
    """Return the article's stable key: "guid:...", else "url:...", else "hash:..."."""
    guid = guid.strip()
    if guid and guid_is_stable(guid):
        if _is_http_url(guid):
            # A URL GUID is unique across the web, so the same item read from two feeds shares a key.
            return "guid:" + url_identity(canonical_url(guid))
        # Plain GUIDs like "12345" or "post-7" are only unique inside their feed (WordPress ids, CMS
        # counters), so they are scoped by feed. The same story in two feeds of one publisher then gets
        # two keys; the store's content-hash check and the near-duplicate step merge those.
        prefix = f"{hashlib.sha256(scope.encode()).hexdigest()[:10]}:" if scope else ""
        return f"guid:{prefix}{guid}"
    if canonical and _is_http_url(canonical):
        return "url:" + url_identity(canonical)
    return f"hash:{chash}"


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _resolve(link: str, base: str) -> str:
    link = link.strip()
    if not link:
        return ""
    try:
        resolved = urljoin(base, link) if base else link
    except ValueError:
        return ""
    return canonical_url(resolved) if _is_http_url(resolved) else ""


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def normalize_entry(
    entry: RawEntry, *, source: str, feed_id: int | None, feed_url: str, fetched_at: datetime
) -> Article | None:
    """Turn one parsed item into an Article, or None when it has neither title nor text."""
    fetched_at = _as_utc(fetched_at)
    content_text = html_to_text(entry.content_html)
    # Parsers often copy the description into content; convert it once.
    same = entry.summary_html == entry.content_html
    summary_text = content_text if same else html_to_text(entry.summary_html)
    # Content is meant to be the full text; a summary wins only when the content is clearly a stub.
    text = content_text if content_text and len(content_text) * 3 >= len(summary_text) * 2 else summary_text
    title = clean_title(entry.title)
    if not title and not text:
        return None
    if not title:
        first_line = text.split("\n", 1)[0]
        title = first_line if len(first_line) <= 120 else first_line[:119].rstrip() + "…"
    url = _resolve(entry.link, feed_url)
    if not url and _is_http_url(entry.guid.strip()):
        url = canonical_url(entry.guid)
    if not url:
        url = _resolve(entry.enclosure_url, feed_url)
    published = _as_utc(entry.published) if entry.published else fetched_at
    if published > fetched_at:
        # A date in the future is a publisher's clock or timezone error; it would pin the item on top.
        published = fetched_at
    chash = content_hash(title, text)
    return Article(
        # Scope plain GUIDs by the stored feed id when there is one: feed_url may be a redirect's target
        # and change between polls, the id does not.
        key=article_key(
            entry.guid,
            url,
            chash,
            scope=f"feed:{feed_id}" if feed_id is not None else canonical_url(feed_url),
        ),
        url=url,
        title=title,
        text=text,
        source=source,
        published=published,
        feed_id=feed_id,
        content_hash=chash,
    )
