"""OPML import and export: the format every feed reader uses to move subscription lists around.

Real-world OPML is loose: outlines nest in folders, titles are missing or only in `text`, attribute names
change case (`xmlUrl`, `xmlurl`), files are declared in one encoding and written in another. Import keeps
every feed it can read, skips what it cannot with a reason, and never expands entities or fetches a DTD.

    OPMLError       the document is not OPML at all (not XML, no <body>)
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from bot.config import is_http_url

_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']", re.IGNORECASE)


class OPMLError(Exception):
    """The file cannot be read as OPML; the message says why."""


@dataclass(frozen=True, slots=True)
class OPMLFeed:
    """One feed found in an OPML file, with the folders it was filed under."""

    url: str
    title: str
    folders: tuple[str, ...] = ()
    html_url: str = ""


@dataclass(slots=True)
class OPMLImport:
    """What an import found: the feeds (duplicates removed) and what it skipped, with reasons."""

    title: str = ""
    feeds: list[OPMLFeed] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _attr(node: Element, name: str) -> str:
    """Read an attribute whatever its case, unescaping entities publishers double-encode."""
    wanted = name.lower()
    for key, value in node.attrib.items():
        if key.lower() == wanted:
            return html.unescape(value).strip()
    return ""


def _decode(data: bytes) -> str:
    """Decode by BOM, then by the XML declaration, then UTF-8, then Latin-1 (which never fails)."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="replace")
    declared = _DECLARED_ENCODING.match(data)
    candidates = [declared.group(1).decode("ascii")] if declared else []
    for codec in [*candidates, "utf-8"]:
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def parse_opml(data: bytes) -> OPMLImport:
    """Read the feeds of an OPML document; raise OPMLError when it is not OPML."""
    text = _decode(data)
    # The declaration names the encoding we already applied; ElementTree refuses str input that keeps it.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    try:
        root = fromstring(text, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise OPMLError(f"refused: the file declares a DTD or entities ({type(exc).__name__})") from None
    except ParseError as exc:
        raise OPMLError(f"not valid XML: {exc}") from None
    if root.tag.lower() != "opml":
        raise OPMLError(f"not OPML: the root element is <{root.tag}>")
    body = next((child for child in root if child.tag.lower() == "body"), None)
    if body is None:
        raise OPMLError("not OPML: no <body> element")
    result = OPMLImport()
    head = next((child for child in root if child.tag.lower() == "head"), None)
    if head is not None:
        title = next((child for child in head if child.tag.lower() == "title"), None)
        result.title = (title.text or "").strip() if title is not None else ""
    seen: set[str] = set()

    def walk(node: Element, folders: tuple[str, ...]) -> None:
        for outline in node:
            if outline.tag.lower() != "outline":
                continue
            label = _attr(outline, "title") or _attr(outline, "text")
            url = _attr(outline, "xmlUrl")
            if url:
                if not is_http_url(url):
                    result.skipped.append(f"{label or url}: not an http(s) feed URL ({url[:100]})")
                elif url in seen:
                    result.skipped.append(f"{label or url}: listed twice")
                else:
                    seen.add(url)
                    html_url = _attr(outline, "htmlUrl")
                    feed = OPMLFeed(url=url, title=label or _host(url), folders=folders, html_url=html_url)
                    result.feeds.append(feed)
            # Folders are outlines without a feed URL; some readers also nest feeds under feeds.
            walk(outline, (*folders, label) if label and not url else folders)

    walk(body, ())
    return result


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def export_opml(feeds: list[tuple[str, str]], title: str = "Veille feeds", now: datetime | None = None) -> bytes:
    """Write (name, url) feeds as an OPML 2.0 document, UTF-8."""
    from xml.sax.saxutils import quoteattr

    stamp = (now or datetime.now(UTC)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{html.escape(title, quote=False)}</title>",
        f"    <dateCreated>{stamp}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    for name, url in feeds:
        named = quoteattr(name)
        lines.append(f'    <outline type="rss" text={named} title={named} xmlUrl={quoteattr(url)}/>')
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")
