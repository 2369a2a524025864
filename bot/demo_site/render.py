"""Render demo articles as feeds (RSS 2.0, Atom, JSON Feed 1.1, podcast RSS) and as HTML pages.

Everything is escaped here, once: content files hold plain text, never markup.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape as html_escape
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from bot.demo_site.content import Comment, DemoArticle, Outlet

DISCLAIMER = "Sample content written for the Veille demo; not real news."
TEASER_CHARS = 140

CONTENT_TYPES = {
    "rss": "application/rss+xml",
    "rss-full": "application/rss+xml",
    "podcast": "application/rss+xml",
    "atom-teaser": "application/atom+xml",
    "atom-full": "application/atom+xml",
    "jsonfeed": "application/feed+json",
}

_NAV = {
    "en": ("Home", "Chips", "Cloud", "Markets", "Podcasts", "Newsletter"),
    "fr": ("Accueil", "Semi-conducteurs", "Entreprises", "Europe", "Podcasts", "Lettre d'information"),
}
_LABELS = {
    "en": {
        "related": "Read more",
        "comments": "Comments",
        "by": "By",
        "cookies": "We use cookies to measure our audience and personalise ads. Accept or refuse them.",
        "accept": "Accept all",
        "refuse": "Refuse",
        "newsletter": "Get the morning briefing in your inbox. Subscribe now.",
        "share": "Share this article",
        "listen": "Listen to the episode",
        "latest": "Latest",
        "feeds": "Feeds",
    },
    "fr": {
        "related": "À lire aussi",
        "comments": "Commentaires",
        "by": "Par",
        "cookies": "Nous utilisons des cookies pour mesurer l'audience et personnaliser les publicités.",
        "accept": "Tout accepter",
        "refuse": "Refuser",
        "newsletter": "Recevez notre lettre d'information chaque matin. Inscrivez-vous.",
        "share": "Partager cet article",
        "listen": "Écouter l'épisode",
        "latest": "Dernières nouvelles",
        "feeds": "Flux",
    },
}


@dataclass(frozen=True, slots=True)
class PlacedArticle:
    """An article with the URL and date it has on a running site."""

    article: DemoArticle
    url: str
    published: datetime


def teaser(article: DemoArticle) -> str:
    """Return a one-line summary cut from the first paragraph, ending with an ellipsis."""
    words: list[str] = []
    for word in article.paragraphs[0].split():
        if words and len(" ".join([*words, word])) > TEASER_CHARS:
            break
        words.append(word)
    return " ".join(words).rstrip(".,;:!?»\"' ") + "…"


def body_html(article: DemoArticle, outlet: Outlet) -> str:
    """Return the article body as HTML paragraphs, with the outlet's syndication footer if it has one."""
    parts = [f"<p>{html_escape(p, quote=False)}</p>" for p in article.paragraphs]
    if outlet.item_footer:
        parts.append(f'<p class="syndication"><em>{html_escape(outlet.item_footer, quote=False)}</em></p>')
    return "\n".join(parts)


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA: close the section and reopen it around it.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _el(tag: str, text: str, **attrs: str) -> str:
    attr = "".join(f" {key.replace('_', ':')}={quoteattr(value)}" for key, value in attrs.items())
    return f"<{tag}{attr}>{xml_escape(text)}</{tag}>"


def home_url(base_url: str, outlet: Outlet) -> str:
    """Return the outlet's home page URL."""
    return f"{base_url}/{outlet.id}/"


def feed_url(base_url: str, outlet: Outlet) -> str:
    """Return the outlet's feed URL."""
    return base_url + outlet.feed_path


def audio_url(base_url: str, article: DemoArticle) -> str:
    """Return the enclosure URL of a podcast episode."""
    return f"{base_url}/{article.outlet}/audio/{article.id}.mp3"


def render_feed(outlet: Outlet, items: Sequence[PlacedArticle], base_url: str, updated: datetime) -> bytes:
    """Return the outlet's feed document (newest first) in its own format, UTF-8 encoded."""
    if outlet.format == "jsonfeed":
        return _json_feed(outlet, items, base_url)
    if outlet.format.startswith("atom"):
        return _atom(outlet, items, base_url, updated).encode()
    return _rss(outlet, items, base_url, updated).encode()


def _rss(outlet: Outlet, items: Sequence[PlacedArticle], base_url: str, updated: datetime) -> str:
    podcast = outlet.format == "podcast"
    ns = (
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:atom="http://www.w3.org/2005/Atom"'
    )
    if podcast:
        ns += ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<rss version="2.0"{ns}>',
        "<channel>",
        _el("title", outlet.name),
        _el("link", home_url(base_url, outlet)),
        _el("description", f"{outlet.tagline}. {DISCLAIMER}"),
        _el("language", outlet.lang),
        _el("lastBuildDate", _rfc822(updated)),
        _el("generator", "Veille demo site"),
        f'<atom:link href={quoteattr(feed_url(base_url, outlet))} rel="self" type="application/rss+xml"/>',
    ]
    if podcast:
        out += [
            _el("itunes:author", outlet.name),
            _el("itunes:summary", f"{outlet.tagline}. {DISCLAIMER}"),
            "<itunes:owner>"
            + _el("itunes:name", outlet.name)
            + _el("itunes:email", f"hello@{outlet.id}.example")
            + "</itunes:owner>",
            f"<itunes:image href={quoteattr(f'{base_url}/{outlet.id}/cover.png')}/>",
            '<itunes:category text="Technology"/>',
            _el("itunes:explicit", "false"),
            _el("itunes:type", "episodic"),
        ]
    for placed in items:
        article = placed.article
        html = body_html(article, outlet)
        out.append("<item>")
        out.append(_el("title", article.title))
        out.append(_el("link", placed.url))
        if outlet.format == "rss-full":
            out.append(_el("guid", f"urn:{outlet.id}:{article.id}", isPermaLink="false"))
        else:
            out.append(_el("guid", placed.url, isPermaLink="true"))
        out.append(_el("pubDate", _rfc822(placed.published)))
        out.append(_el("dc:creator", article.author))
        out.extend(_el("category", tag) for tag in article.tags)
        if outlet.format == "rss":
            out.append(_el("description", article.paragraphs[0]))
            out.append(f"<content:encoded>{_cdata(html)}</content:encoded>")
        elif outlet.format == "rss-full":
            out.append(_el("description", html))
        else:
            out.append(f"<description>{_cdata(html)}</description>")
            out.append(_el("itunes:summary", article.text))
            out.append(
                f"<enclosure url={quoteattr(audio_url(base_url, article))}"
                f' length="{len(audio_bytes(article))}" type="audio/mpeg"/>'
            )
            out.append(_el("itunes:duration", _duration(article.duration_s or 0)))
            out.append(_el("itunes:episode", str(article.episode or 0)))
            out.append(_el("itunes:episodeType", "full"))
            out.append(_el("itunes:explicit", "false"))
            out.append(_el("itunes:author", article.author))
        out.append("</item>")
    out += ["</channel>", "</rss>", ""]
    return "\n".join(out)


def _duration(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _atom(outlet: Outlet, items: Sequence[PlacedArticle], base_url: str, updated: datetime) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{outlet.lang}">',
        _el("title", outlet.name),
        _el("subtitle", outlet.tagline),
        _el("id", f"tag:veille-demo.example,2025:{outlet.id}"),
        _el("updated", _iso(updated)),
        _el("rights", DISCLAIMER),
        f'<link rel="self" type="application/atom+xml" href={quoteattr(feed_url(base_url, outlet))}/>',
        f'<link rel="alternate" type="text/html" href={quoteattr(home_url(base_url, outlet))}/>',
        _el("generator", "Veille demo site"),
    ]
    for placed in items:
        article = placed.article
        out.append("<entry>")
        out.append(_el("title", article.title, type="text"))
        out.append(f'<link rel="alternate" type="text/html" href={quoteattr(placed.url)}/>')
        out.append(_el("id", f"tag:veille-demo.example,2025:{outlet.id}/{article.id}"))
        out.append(_el("published", _iso(placed.published)))
        out.append(_el("updated", _iso(placed.published)))
        out.append("<author>" + _el("name", article.author) + "</author>")
        out.extend(f"<category term={quoteattr(tag)}/>" for tag in article.tags)
        if outlet.format == "atom-teaser":
            out.append(_el("summary", teaser(article), type="text"))
        else:
            out.append(_el("content", body_html(article, outlet), type="html"))
        out.append("</entry>")
    out += ["</feed>", ""]
    return "\n".join(out)


def _json_feed(outlet: Outlet, items: Sequence[PlacedArticle], base_url: str) -> bytes:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": outlet.name,
        "home_page_url": home_url(base_url, outlet),
        "feed_url": feed_url(base_url, outlet),
        "description": f"{outlet.tagline}. {DISCLAIMER}",
        "language": outlet.lang,
        "items": [
            {
                "id": f"{outlet.id}-{placed.article.id}",
                "url": placed.url,
                "title": placed.article.title,
                "content_html": body_html(placed.article, outlet),
                "summary": teaser(placed.article),
                "date_published": _iso(placed.published),
                "authors": [{"name": placed.article.author}],
                "tags": list(placed.article.tags),
                "language": placed.article.lang,
            }
            for placed in items
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


def _alternate(outlet: Outlet, base_url: str) -> str:
    return (
        f'<link rel="alternate" type="{CONTENT_TYPES[outlet.format]}" '
        f"title={quoteattr(outlet.name)} href={quoteattr(feed_url(base_url, outlet))}>"
    )


def _page(
    lang: str, title: str, head: str, body: str, outlet: Outlet | None, base_url: str, description: str = ""
) -> str:
    labels = _LABELS[lang]
    site = outlet.name if outlet else "Veille demo"
    nav = ""
    if outlet is not None:
        links = "".join(
            f'<li><a href="{html_escape(home_url(base_url, outlet))}#{i}">{html_escape(label)}</a></li>'
            for i, label in enumerate(_NAV[lang])
        )
        nav = f'<nav class="site-nav"><ul>{links}</ul></nav>'
    banner = ""
    if outlet is not None and outlet.cookie_banner:
        banner = (
            f'<div class="cookie-banner" role="dialog"><p>{html_escape(labels["cookies"])}</p>'
            f"<button>{html_escape(labels['accept'])}</button> "
            f"<button>{html_escape(labels['refuse'])}</button></div>"
        )
    meta = f'<meta name="description" content="{html_escape(description)}">' if description else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html_escape(title)} | {html_escape(site)}</title>\n{meta}\n{head}\n</head>\n<body>\n"
        f'{banner}\n<header><a class="logo" href="{html_escape(base_url)}/">{html_escape(site)}</a>'
        f"{nav}</header>\n"
        f"{body}\n"
        f'<footer class="site-footer"><p class="disclaimer">{html_escape(DISCLAIMER)}</p>'
        f"<p>{html_escape(labels['newsletter'])}</p>"
        f"<p>© {html_escape(site)}. Veille demo.</p></footer>\n</body>\n</html>\n"
    )


def render_article_page(
    outlet: Outlet,
    placed: PlacedArticle,
    related: Sequence[PlacedArticle],
    comments: Sequence[Comment],
    base_url: str,
) -> str:
    """Return the article's HTML page, with the boilerplate a real news page wraps around the body."""
    article = placed.article
    labels = _LABELS[outlet.lang]
    summary = teaser(article)
    head = "\n".join(
        [
            _alternate(outlet, base_url),
            f'<link rel="canonical" href="{html_escape(placed.url)}">',
            f'<meta property="og:title" content="{html_escape(article.title)}">',
            '<meta property="og:type" content="article">',
            f'<meta property="og:site_name" content="{html_escape(outlet.name)}">',
            f'<meta property="article:published_time" content="{_iso(placed.published)}">',
            f'<meta name="author" content="{html_escape(article.author)}">',
        ]
    )
    audio = ""
    if outlet.format == "podcast":
        audio = (
            f'<p class="player">{html_escape(labels["listen"])}: '
            f'<audio controls src="{html_escape(audio_url(base_url, article))}"></audio></p>'
        )
    related_html = ""
    if related:
        links = "".join(
            f'<li><a href="{html_escape(r.url)}">{html_escape(r.article.title)}</a></li>' for r in related
        )
        related_html = (
            f'<aside class="related"><h2>{html_escape(labels["related"])}</h2><ul>{links}</ul></aside>'
        )
    comments_html = ""
    if comments:
        items = "".join(
            f'<li class="comment"><span class="comment-author">{html_escape(c.author)}</span>'
            f"<p>{html_escape(c.text)}</p></li>"
            for c in comments
        )
        comments_html = (
            f'<section class="comments"><h2>{html_escape(labels["comments"])} ({len(comments)})</h2>'
            f"<ol>{items}</ol></section>"
        )
    body = (
        '<main>\n<article class="story">\n'
        f'<h1 class="headline">{html_escape(article.title)}</h1>\n'
        f'<p class="byline">{html_escape(labels["by"])} '
        f'<span class="author">{html_escape(article.author)}</span>, '
        f'<time datetime="{_iso(placed.published)}">{placed.published:%Y-%m-%d %H:%M} UTC</time></p>\n'
        f"{audio}\n"
        f'<div class="article-body">\n{body_html(article, outlet)}\n</div>\n'
        f'<p class="share"><a href="#share">{html_escape(labels["share"])}</a></p>\n'
        f"</article>\n{related_html}\n{comments_html}\n</main>"
    )
    return _page(outlet.lang, article.title, head, body, outlet, base_url, summary)


def render_outlet_home(outlet: Outlet, items: Sequence[PlacedArticle], base_url: str) -> str:
    """Return the outlet's home page: its latest items and a feed autodiscovery link."""
    labels = _LABELS[outlet.lang]
    entries = "".join(
        f'<li><a href="{html_escape(p.url)}">{html_escape(p.article.title)}</a>'
        f"<p>{html_escape(teaser(p.article))}</p></li>"
        for p in items
    )
    body = (
        f"<main><h1>{html_escape(outlet.name)}</h1><p>{html_escape(outlet.tagline)}</p>"
        f'<h2>{html_escape(labels["latest"])}</h2><ul class="latest">{entries}</ul>'
        f'<p><a href="{html_escape(feed_url(base_url, outlet))}">'
        f"{html_escape(labels['feeds'])}</a></p></main>"
    )
    return _page(
        outlet.lang, outlet.name, _alternate(outlet, base_url), body, outlet, base_url, outlet.tagline
    )


def render_index(outlets: Sequence[Outlet], base_url: str) -> str:
    """Return the site's index page, linking every outlet and feed (with rel="alternate" links)."""
    head = "\n".join(_alternate(o, base_url) for o in outlets)
    rows = "".join(
        f'<li><a href="{html_escape(home_url(base_url, o))}">{html_escape(o.name)}</a> '
        f"({o.lang}, {o.format}): "
        f'<a href="{html_escape(feed_url(base_url, o))}">{html_escape(o.feed_path)}</a></li>'
        for o in outlets
    )
    body = (
        "<main><h1>Veille demo news site</h1>"
        f'<p>{html_escape(DISCLAIMER)}</p><ul class="outlets">{rows}</ul></main>'
    )
    return _page("en", "Veille demo news site", head, body, None, base_url, DISCLAIMER)


def audio_bytes(article: DemoArticle) -> bytes:
    """Return a small, stable stand-in for the episode's MP3 (an ID3 header and padding)."""
    seed = hashlib.sha256(article.id.encode()).digest()
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + (seed * 64)


def cover_png() -> bytes:
    """Return a valid 1x1 PNG used as the podcast cover."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x20\x60\xa0")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
