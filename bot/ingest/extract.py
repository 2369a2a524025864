"""Extract an article's main text from its page, and tell when a feed item is only a teaser.

trafilatura 2 does the extraction, tuned for precision: navigation, related-links lists, footers, cookie
banners and comments are left out, at the price of sometimes missing a paragraph. It works on the HTML
given and never goes to the network. A page it cannot read gives "" (the caller keeps the feed's text).

Nothing here raises on bad input.
"""

from __future__ import annotations

import html
import logging
import re

import trafilatura

log = logging.getLogger(__name__)

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
# Lines that introduce links to other articles rather than belong to this one.
_LEFTOVER_LINE = re.compile(
    r"^\s*(?:à lire aussi|a lire aussi|lire aussi|voir aussi|sur le même sujet|lire la suite|read more|"
    r"related(?: articles| stories)?|see also|more on this story|continue reading|publicité|advertisement)"
    r"\s*[:.…»>]*\s*$",
    re.IGNORECASE,
)
_TEASER_ENDINGS = re.compile(
    r"(?:…|\.\.\.|\[…\]|\[\.\.\.\]|\(…\)|\(\.\.\.\)|\[\s*…\s*\]|→|>>|\(suite\)|\bread more"
    r"|\bcontinue reading|\bkeep reading|\bread the full (?:story|article)|\blire la suite"
    r"|\blire plus|\ben savoir plus|\bsuite de l'article|\bcontinuer la lecture)\W*$",
    re.IGNORECASE,
)
_APPEARED_FIRST = re.compile(
    r"\b(?:the post|l'article) .{1,300} (?:appeared first on|est apparu en premier sur)",
    re.IGNORECASE | re.DOTALL,
)
_TEASER_MAX_WORDS = 60


def extract_main_text(html_text: str, url: str) -> str:
    """Return the main text of an article page as paragraphs separated by blank lines, or ""."""
    if not html_text or not html_text.strip():
        return ""
    try:
        text = trafilatura.extract(
            html_text,
            url=url,
            favor_precision=True,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            include_formatting=False,
            with_metadata=False,
            deduplicate=False,
        )
    except Exception as exc:  # noqa: BLE001 - a page that breaks the extractor must not break the poll
        log.warning("text extraction failed for %s: %s", url, exc)
        return ""
    if not text:
        return ""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line and not _LEFTOVER_LINE.match(line)]
    if lines and _is_page_title(lines[0], html_text):
        # The headline is already the article's title; repeating it would open every summary.
        lines = lines[1:]
    return "\n\n".join(lines)


def _is_page_title(line: str, html_text: str) -> bool:
    if len(line) > 300 or line.endswith((".", "!", "?", ":")):
        return False
    line = line.casefold()
    head = html_text[:50000]
    title = _TITLE.search(head)
    if title and line in " ".join(html.unescape(title.group(1)).split()).casefold():
        return True
    h1 = _H1.search(head)
    if h1 is None:
        return False
    return line == " ".join(html.unescape(_TAGS.sub(" ", h1.group(1))).split()).casefold()


def is_teaser(text: str) -> bool:
    """Tell whether a feed item's text is only a teaser, so the article page is worth fetching."""
    stripped = text.strip()
    if not stripped:
        return True
    if _TEASER_ENDINGS.search(stripped[-80:]) or _APPEARED_FIRST.search(stripped[-400:]):
        return True
    return len(stripped.split()) < _TEASER_MAX_WORDS
