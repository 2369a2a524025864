"""Turn Replies, Cards and alerts into Telegram HTML that Telegram's strict parser accepts.

Every piece of outside text (titles, summaries, sources, handler text) is cleaned of control characters
and escaped; the only markup is what this module writes. Search highlights (HIGHLIGHT_START/END marks)
become <b> after escaping. Messages stay within 4,096 characters after entity parsing (counted here in
UTF-16 code units, which is never less than Telegram's count), are split between blocks or at line and word
boundaries, and never inside a tag. Pure functions, no SDK: the adapter sends what this returns.

Errors: none of its own; every function accepts any text.
"""

from __future__ import annotations

import html
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START, AlertMessage, Button, Card, Reply

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
MAX_MESSAGES = 10  # a reply longer than this is cut: nobody reads the 11th screen of a list
TITLE_LIMIT = 300
SUMMARY_LIMIT = 280  # about two lines on a phone
SOURCE_LIMIT = 60
BUTTON_LABEL_LIMIT = 40
BUTTONS_PER_ROW = 4
ELLIPSIS = "…"

# C0/C1 control characters other than tab and newline: Telegram drops or rejects them, and our own
# highlight marks must never reach the wire.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MENTION = re.compile(r"(?<!\w)@(?=\w)")
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")

_WORDS = {
    "en": {
        "source": "source",
        "sources": "sources",
        "expired": "This button has expired: run the command again.",
        "error": "Something went wrong, please try again later.",
        "empty": "(nothing to show)",
    },
    "fr": {
        "source": "source",
        "sources": "sources",
        "expired": "Ce bouton a expiré : relancez la commande.",
        "error": "Une erreur est survenue, réessayez plus tard.",
        "empty": "(rien à afficher)",
    },
}


def word(lang: str, key: str) -> str:
    """Return one of the adapter's own fixed phrases in `lang` (English when unknown)."""
    return _WORDS.get(lang, _WORDS["en"])[key]


def text_length(text: str) -> int:
    """Return the length of visible text in UTF-16 code units (a safe bound for Telegram's limit)."""
    return len(text.encode("utf-16-le")) // 2


def visible_length(markup: str) -> int:
    """Return the visible length of HTML written by this module (tags dropped, entities decoded)."""
    return text_length(html.unescape(_TAG.sub("", markup)))


def escape(text: str) -> str:
    """Escape text for Telegram HTML (only &, <, > and \" need it; Telegram knows no &#x27;-style names)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def clean(text: str) -> str:
    """Remove control characters (highlight marks included) and defuse @mentions in outside text."""
    # Telegram turns "@name" into a mention that notifies that user; a word joiner after "@" keeps the text
    # looking the same while no longer being a mention.
    return _MENTION.sub("@\u2060", _CONTROL.sub("", text))


def trim(text: str, limit: int) -> str:
    """Shorten plain text to at most `limit` UTF-16 units, at a word boundary when one is near, adding …."""
    if text_length(text) <= limit:
        return text
    cut = _cut_index(text, limit - 1)
    head = text[:cut]
    boundary = max(head.rfind(" "), head.rfind("\n"))
    if boundary >= cut * 0.6:  # a boundary close enough to the limit: never split a word there
        head = head[:boundary]
    return head.rstrip() + ELLIPSIS


def _cut_index(text: str, units: int) -> int:
    """Return the largest index whose prefix fits in `units` UTF-16 units (never splits a surrogate pair)."""
    total = 0
    for index, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > units:
            return index
    return len(text)


def one_line(text: str) -> str:
    """Collapse all whitespace runs to single spaces."""
    return _SPACES.sub(" ", text).strip()


def render_highlighted(snippet: str, limit: int = SUMMARY_LIMIT) -> str:
    """Escape a snippet and turn its highlight marks into balanced <b> tags."""
    marked = one_line(
        _CONTROL.sub(lambda m: m.group(0) if m.group(0) in (HIGHLIGHT_START, HIGHLIGHT_END) else "", snippet)
    )
    visible = marked.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")
    budget = limit
    if text_length(visible) > limit:
        # Trim the visible text, then walk the marked text to the same visible length.
        budget = text_length(trim(visible, limit)) - 1
    out: list[str] = []
    bold = False
    used = 0
    for char in marked:
        if char == HIGHLIGHT_START:
            if not bold:
                out.append("<b>")
                bold = True
            continue
        if char == HIGHLIGHT_END:
            if bold:
                out.append("</b>")
                bold = False
            continue
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > budget:
            break
        out.append(escape(char))
        used += size
    if bold:
        out.append("</b>")
    rendered = "".join(out).replace("<b></b>", "")
    if budget < limit:
        rendered = rendered.rstrip() + ELLIPSIS
    return rendered


def _is_web_url(url: str) -> bool:
    return bool(re.match(r"^https?://[^\s<>\"]+$", url))


def render_date(published: datetime | None) -> str:
    """Format a date the same way in both languages (UTC, ISO-like)."""
    if published is None:
        return ""
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _link(text: str, url: str) -> str:
    return f'<a href="{escape(url)}">{text}</a>' if _is_web_url(url) else text


def render_card(card: Card, lang: str = "en") -> str:
    """Render a card: linked bold title, source · date · +N sources, then a two-line summary or snippet."""
    title = (
        escape(trim(one_line(clean(card.title)), TITLE_LIMIT)) or escape(clean(card.url)[:TITLE_LIMIT]) or "—"
    )
    lines = [f"<b>{_link(title, card.url)}</b>"]
    meta = []
    source = escape(trim(one_line(clean(card.source)), SOURCE_LIMIT))
    if source:
        meta.append(f"<i>{source}</i>")
    date = render_date(card.published)
    if date:
        meta.append(date)
    if card.extra_sources > 0:
        noun = word(lang, "source" if card.extra_sources == 1 else "sources")
        others = [
            _link(escape(trim(one_line(clean(name)), 30)), url)
            for name, url in card.sources[:3]
            if clean(name).strip()
        ]
        meta.append(f"+{card.extra_sources} {noun}" + (": " + ", ".join(others) if others else ""))
    if meta:
        lines.append(" · ".join(meta))
    if card.snippet.strip():
        lines.append(render_highlighted(card.snippet))
    elif card.summary.strip():
        lines.append(escape(trim(one_line(clean(card.summary)), SUMMARY_LIMIT)))
    return "\n".join(line for line in lines if line)


def render_alert(alert: AlertMessage) -> str:
    """Render an alert: the subscription that matched, then the story's card."""
    card = render_card(alert.card, alert.lang)
    query = escape(trim(one_line(clean(alert.query)), 100))
    return f"🔔 <i>{query}</i>\n{card}" if query else f"🔔 {card}"


def split_plain(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split plain text into pieces of at most `limit` units, at paragraph, line or word boundaries."""
    pieces: list[str] = []
    rest = text.strip("\n")
    while text_length(rest) > limit:
        cut = max(_cut_index(rest, limit), 1)
        head = rest[:cut]
        for separator in ("\n\n", "\n", " "):
            boundary = head.rfind(separator)
            if boundary > cut // 2:
                cut = boundary
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest.strip():
        pieces.append(rest)
    return pieces


def render_reply(reply: Reply, lang: str = "en", limit: int = TEXT_LIMIT) -> list[str]:
    """Render a reply's text and cards as HTML messages, each within `limit` visible units, in order."""
    text = clean(reply.text).strip()
    if reply.is_error and text:
        text = "⚠️ " + text
    blocks = [escape(piece) for piece in split_plain(text, limit)] if text else []
    blocks += [render_card(card, lang) for card in reply.cards]
    messages: list[str] = []
    current, current_length = "", 0
    for block in blocks:
        length = visible_length(block)
        if current and current_length + 2 + length <= limit:
            current, current_length = f"{current}\n\n{block}", current_length + 2 + length
            continue
        if current:
            messages.append(current)
        current, current_length = block, length
    if current:
        messages.append(current)
    if len(messages) > MAX_MESSAGES:
        messages = messages[:MAX_MESSAGES]
        if visible_length(messages[-1]) + 2 <= limit:
            messages[-1] += "\n" + ELLIPSIS
    return messages


@dataclass(frozen=True, slots=True)
class KeyButton:
    """One inline keyboard button, ready for the SDK: label and callback data."""

    label: str
    data: str


class CallbackCodec:
    """Encode a button's command line into callback_data (1-64 bytes), with a bounded map for long ones.

    Short command lines travel as themselves ("/search ai page:2"): they survive restarts and need no
    memory. Longer ones get a token ("#<instance><n>") remembered in an LRU map of `capacity` entries;
    the instance prefix keeps a restarted bot from reading an old token as a new command.
    """

    def __init__(self, capacity: int = 2048) -> None:
        self.capacity = capacity
        self._tokens: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._prefix = secrets.token_hex(3)
        self._counter = 0

    def encode(self, command: str, args: str = "") -> str:
        """Return callback data for running `command args`."""
        line = f"/{command} {args}".strip() if args.strip() else f"/{command}"
        if len(line.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            return line
        self._counter += 1
        token = f"#{self._prefix}{self._counter:x}"
        self._tokens[token] = (command, args)
        while len(self._tokens) > self.capacity:
            self._tokens.popitem(last=False)
        return token

    def decode(self, data: str) -> tuple[str, str] | None:
        """Return (command, args) for callback data, or None when it is unknown or expired."""
        if data.startswith("/"):
            command, _, args = data[1:].partition(" ")
            command = command.strip().lower()
            return (command, args) if command else None
        found = self._tokens.get(data)
        if found is not None:
            self._tokens.move_to_end(data)
        return found

    def __len__(self) -> int:
        return len(self._tokens)


def keyboard(buttons: list[Button], codec: CallbackCodec) -> list[list[KeyButton]]:
    """Lay buttons out in rows of up to four, each label trimmed and its command encoded."""
    keys = [
        KeyButton(
            trim(one_line(clean(button.label)), BUTTON_LABEL_LIMIT) or "•",
            codec.encode(button.command, button.args),
        )
        for button in buttons
    ]
    return [keys[i : i + BUTTONS_PER_ROW] for i in range(0, len(keys), BUTTONS_PER_ROW)]
