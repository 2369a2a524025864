"""Turn Replies and alerts into Discord message payloads (content, embeds, buttons, files), safely.

Pure functions and one small class; no I/O and no discord.py import, so the limits can be tested alone.
Every piece of text from a handler, a feed or a user is escaped as Markdown before it is placed,
then fitted to Discord's limits without splitting an escape or a word:

    content 2000 · embed title 256 · description 4096 · footer 2048 · 10 embeds · 6000 characters
    in all embeds of a message · button label 80 · custom_id 100 · 5 buttons a row, 5 rows

Mentions are not escaped here: the adapter sends every message with allowed_mentions that ping nobody,
which is what actually protects a chat from `@everyone` in a headline.

    ButtonCodecError        a pressed button's custom_id is not one this process can read
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import quote, urlsplit

from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START, AlertMessage, Button, Card, Reply

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FOOTER_LIMIT = 2048
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL_LIMIT = 6000
BUTTON_LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100
BUTTONS_PER_ROW = 5
ROWS_PER_MESSAGE = 5
URL_LIMIT = 2048
# A list card shows a two-line summary: about this many characters on a desktop client.
CARD_SUMMARY_LIMIT = 300
SOURCE_LIMIT = 100
ELLIPSIS = "…"

COLOR_NEWS = 0x2B6CB0
COLOR_ALERT = 0xD97706
COLOR_ERROR = 0xC53030

# Everything Discord's Markdown could read as syntax: emphasis, code, spoilers, quotes, headings,
# lists, masked links, and `<` which starts mentions, channels, emoji and timestamps.
_MARKDOWN_SPECIAL = set("\\*_~`|>#-[]()<")
# Bare URLs stay as they are: Discord links them and does not read Markdown inside them.
_URL = re.compile(r"https?://[^\s<>]+")
_BUTTON_PREFIX = "vb:"
_TOKEN_PREFIX = "vt:"


class ButtonCodecError(Exception):
    """A custom_id cannot be decoded (not ours, or its token was forgotten after a restart)."""

    def __init__(self, custom_id: str, reason: str) -> None:
        super().__init__(f"button {custom_id[:100]!r}: {reason}")
        self.custom_id = custom_id
        self.reason = reason


@dataclass(slots=True)
class RenderedMessage:
    """A Discord message ready for discord.py: plain data, every limit already held."""

    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, custom_id), 5 a row
    files: list[tuple[str, bytes]] = field(default_factory=list)
    ephemeral: bool = False


class ButtonCodec:
    """Encode Button -> custom_id (<= 100 chars) and back; long command lines go through a bounded map."""

    def __init__(self, max_tokens: int = 10_000) -> None:
        self._max_tokens = max_tokens
        self._tokens: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def encode(self, button: Button) -> str:
        """Return the custom_id for a button: the command line itself when short, else a token."""
        inline = f"{_BUTTON_PREFIX}{button.command} {button.args}".rstrip()
        if len(inline) <= CUSTOM_ID_LIMIT:
            return inline
        token = secrets.token_hex(12)
        self._tokens[token] = (button.command, button.args)
        while len(self._tokens) > self._max_tokens:
            self._tokens.popitem(last=False)
        return _TOKEN_PREFIX + token

    def decode(self, custom_id: str) -> tuple[str, str]:
        """Return (command, args) for a custom_id; raise ButtonCodecError when it is unknown."""
        if custom_id.startswith(_BUTTON_PREFIX):
            command, _, args = custom_id[len(_BUTTON_PREFIX) :].partition(" ")
            if not command:
                raise ButtonCodecError(custom_id, "no command")
            return command.lower(), args
        if custom_id.startswith(_TOKEN_PREFIX):
            found = self._tokens.get(custom_id[len(_TOKEN_PREFIX) :])
            if found is None:
                raise ButtonCodecError(custom_id, "expired (the bot restarted or the page is too old)")
            return found
        raise ButtonCodecError(custom_id, "not a Veille button")


def escape_markdown(text: str) -> str:
    """Escape every character Discord Markdown could read as syntax, leaving bare URLs intact."""
    return "".join(_escaped_pieces(text))


def _escaped_pieces(text: str) -> list[str]:
    """Return one escaped piece per character of `text` (so trimming never splits an escape)."""
    in_url = [False] * len(text)
    for match in _URL.finditer(text):
        in_url[match.start() : match.end()] = [True] * (match.end() - match.start())
    return ["\\" + ch if ch in _MARKDOWN_SPECIAL and not in_url[i] else ch for i, ch in enumerate(text)]


def fit_plain(text: str, limit: int) -> str:
    """Trim unformatted text (footers, author names, labels) to `limit` on a word boundary."""
    text = " ".join(text.split()) if "\n" not in text else text
    if len(text) <= limit:
        return text
    return _cut_at_word(text, limit - len(ELLIPSIS)) + ELLIPSIS


def fit_markdown(text: str, limit: int) -> str:
    """Escape `text` and trim it to `limit` without splitting an escape or, when possible, a word.

    Highlight marks (HIGHLIGHT_START/END) become bold after escaping; a bold run cut by the limit is
    closed, so the result is always balanced Markdown.
    """
    segments = _segments(text)
    full = "".join(f"**{escape_markdown(s)}**" if bold else escape_markdown(s) for s, bold in segments if s)
    if len(full) <= limit:
        return full
    budget = limit - len(ELLIPSIS)
    out: list[str] = []
    used = 0
    for chunk, bold in segments:
        if not chunk:
            continue
        overhead = 4 if bold else 0
        if used + overhead >= budget:
            break
        pieces: list[str] = []
        room = budget - used - overhead
        taken = 0
        for piece in _escaped_pieces(chunk):
            if taken + len(piece) > room:
                break
            pieces.append(piece)
            taken += len(piece)
        complete = len(pieces) == len(chunk)
        if not complete:
            pieces = _drop_partial_word(pieces, chunk)
        if pieces:
            body = "".join(pieces)
            out.append(f"**{body}**" if bold and body.strip() else body)
            used += len(out[-1])
        if not complete:
            break
    return "".join(out).rstrip() + ELLIPSIS


def safe_url(url: str) -> str | None:
    """Return an http(s) URL usable in an embed or a masked link, or None when it is not one."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # Parentheses and spaces would end a masked link early; percent-encode what Markdown could misread.
    cleaned = quote(url, safe=":/?#[]@!$&'*+,;=%~-._")
    return cleaned if len(cleaned) <= URL_LIMIT else None


def render_reply(reply: Reply, codec: ButtonCodec, lang: str = "en") -> RenderedMessage:
    """Render a handler's Reply: text as content (or a first embed when long), cards as embeds, buttons."""
    message = RenderedMessage(ephemeral=False)
    text = reply.text.strip()
    cards = list(reply.cards)
    text_embed: dict[str, Any] | None = None
    if text:
        escaped = escape_markdown(text)
        if len(escaped) <= CONTENT_LIMIT and not reply.is_error:
            message.content = escaped
        elif reply.is_error and len(escaped) <= CONTENT_LIMIT - 2:
            message.content = "⚠ " + escaped
        else:
            text_embed = {"description": fit_markdown(text, DESCRIPTION_LIMIT), "type": "rich"}
            if reply.is_error:
                text_embed["color"] = COLOR_ERROR
    room = EMBEDS_PER_MESSAGE - (1 if text_embed else 0)
    embeds = [card_embed(card, lang) for card in cards[:room]]
    if text_embed:
        embeds.insert(0, text_embed)
    message.embeds = fit_embeds(embeds)
    if not message.content and not message.embeds and not reply.image_png and not reply.document:
        # Discord refuses an empty message; say something rather than fail.
        message.content = "…"
    message.buttons = [
        (fit_plain(b.label, BUTTON_LABEL_LIMIT) or "·", codec.encode(b))
        for b in reply.buttons[: BUTTONS_PER_ROW * ROWS_PER_MESSAGE]
    ]
    if reply.image_png is not None:
        message.files.append((reply.image_name or "chart.png", reply.image_png))
    if reply.document is not None:
        message.files.append(reply.document)
    return message


def render_alert(alert: AlertMessage) -> RenderedMessage:
    """Render an alert as one embed: the story's card with the matching subscription in the footer."""
    embed = card_embed(alert.card, alert.lang, summary_limit=DESCRIPTION_LIMIT // 4)
    embed["color"] = COLOR_ALERT
    label = "Alerte" if alert.lang == "fr" else "Alert"
    footer = alert.card.source or ""
    if alert.query:
        footer = f"{footer} · {label}: {alert.query}" if footer else f"{label}: {alert.query}"
    if footer:
        embed["footer"] = {"text": fit_plain(footer, FOOTER_LIMIT)}
    return RenderedMessage(embeds=fit_embeds([embed]))


def card_embed(card: Card, lang: str = "en", summary_limit: int = CARD_SUMMARY_LIMIT) -> dict[str, Any]:
    """Build one embed for a card: linked title, summary or highlighted snippet, sources, date."""
    embed: dict[str, Any] = {"type": "rich", "color": COLOR_NEWS}
    title = card.title.strip() or card.source or "…"
    embed["title"] = fit_markdown(title, TITLE_LIMIT)
    url = safe_url(card.url)
    if url:
        embed["url"] = url
    lines: list[str] = []
    body = card.snippet or card.summary
    if body.strip():
        lines.append(fit_markdown(body.strip(), summary_limit))
    more = _sources_line(card, lang)
    if more:
        lines.append(more)
    if lines:
        embed["description"] = "\n".join(lines)
    if card.source:
        # A source is a name: keeping it short leaves the 6000-character budget to the stories.
        embed["footer"] = {"text": fit_plain(card.source, SOURCE_LIMIT)}
    if card.published is not None:
        published = card.published if card.published.tzinfo else card.published.replace(tzinfo=UTC)
        embed["timestamp"] = published.astimezone(UTC).isoformat()
    return embed


def fit_embeds(embeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep at most 10 embeds and shrink descriptions until all of them hold 6000 characters."""
    embeds = embeds[:EMBEDS_PER_MESSAGE]
    for embed in embeds:
        if len(embed.get("description") or "") > DESCRIPTION_LIMIT:
            embed["description"] = _trim_markdown(embed["description"], DESCRIPTION_LIMIT)
    cap = DESCRIPTION_LIMIT
    while embed_size(embeds) > EMBED_TOTAL_LIMIT and cap > 40:
        cap = cap * 3 // 4
        for embed in embeds:
            if len(embed.get("description") or "") > cap:
                embed["description"] = _trim_markdown(embed["description"], cap)
    while embed_size(embeds) > EMBED_TOTAL_LIMIT and len(embeds) > 1:
        embeds.pop()
    return embeds


def embed_size(embeds: list[dict[str, Any]]) -> int:
    """Count characters the way Discord does for its 6000-per-message limit."""
    total = 0
    for e in embeds:
        total += len(e.get("title") or "") + len(e.get("description") or "")
        total += len((e.get("footer") or {}).get("text") or "") + len(
            (e.get("author") or {}).get("name") or ""
        )
        total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in e.get("fields") or [])
    return total


def _sources_line(card: Card, lang: str) -> str:
    if card.extra_sources <= 0 and not card.sources:
        return ""
    links = []
    for name, url in card.sources[:5]:
        label = fit_markdown(name, 60)
        target = safe_url(url)
        links.append(f"[{label}]({target})" if target else label)
    count = max(card.extra_sources, len(card.sources))
    word = "source" if count == 1 else "sources"
    head = f"+{count} {word}"
    return f"{head}: {', '.join(links)}" if links else head


def _segments(text: str) -> list[tuple[str, bool]]:
    """Split text on highlight marks into (text, bold) runs; stray marks are dropped."""
    out: list[tuple[str, bool]] = []
    bold = False
    for part in re.split(f"([{HIGHLIGHT_START}{HIGHLIGHT_END}])", text):
        if part == HIGHLIGHT_START:
            bold = True
        elif part == HIGHLIGHT_END:
            bold = False
        elif part:
            out.append((part, bold))
    return out


def _drop_partial_word(pieces: list[str], chunk: str) -> list[str]:
    # Go back to the last space when it is not too far, so a word is not cut in the middle.
    for index in range(len(pieces) - 1, max(len(pieces) - 40, 0) - 1, -1):
        if chunk[index].isspace():
            return pieces[:index]
    return pieces


def _cut_at_word(text: str, limit: int) -> str:
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip()


def _trim_markdown(text: str, limit: int) -> str:
    """Trim already-rendered Markdown: cut on a line or a space, never after a lone backslash or in bold."""
    if len(text) <= limit:
        return text
    cut = _cut_at_word(text, limit - len(ELLIPSIS) - 2)
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    # Close an unbalanced bold run; escaped stars (\*) do not count.
    if len(re.findall(r"(?<!\\)\*\*", cut)) % 2:
        cut += "**"
    # An unclosed masked link would show raw brackets; drop the partial link instead.
    opened = cut.rfind("[")
    if opened > cut.rfind(")") and (opened == 0 or cut[opened - 1] != "\\"):
        cut = cut[:opened].rstrip()
    return cut + ELLIPSIS
