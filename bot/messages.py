"""The platform-neutral conversation model: what a chat asks (Request) and what the bot says (Reply).

Handlers build Replies from plain text and Cards; adapters alone turn them into Telegram HTML,
Discord embeds or console lines, escaping everything on the way. Nothing here is pre-formatted markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.models import ChatRef


@dataclass(frozen=True, slots=True)
class Request:
    """One command typed in a chat (or a button pressed, which replays a command line)."""

    chat: ChatRef
    user_id: str
    command: str  # without the slash, lower case: "search"
    args: str = ""  # the rest of the line, untouched
    lang: str = "en"  # the language the bot answers in for this chat
    is_admin: bool = False  # chat creator/administrator (Telegram) or Manage Server (Discord)
    from_button: bool = False  # True when a button press replays the command: adapters edit in place


@dataclass(frozen=True, slots=True)
class Card:
    """An article or story as shown in a list or an alert."""

    title: str
    url: str
    source: str
    published: datetime | None = None
    summary: str = ""
    extra_sources: int = 0  # "+N sources" when a story was reported by several outlets
    snippet: str = ""  # may contain highlight marks, see HIGHLIGHT_START / HIGHLIGHT_END
    sources: tuple[tuple[str, str], ...] = ()  # (source name, url) of the other outlets


# Search snippets mark matched words with these two control characters; adapters turn them into
# bold (Telegram <b>, Discord **) after escaping the rest, so user text can never inject markup.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"


@dataclass(frozen=True, slots=True)
class Button:
    """A button that, when pressed, runs `command` with `args` in the same chat (paging, confirmations)."""

    label: str
    command: str
    args: str = ""


@dataclass(slots=True)
class Reply:
    """What the bot answers: a heading text, then optional cards, buttons and one image."""

    text: str = ""
    cards: list[Card] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    image_png: bytes | None = None
    image_name: str = "chart.png"
    is_error: bool = False
    # A long list is a list: adapters turn link previews off for it.
    disable_preview: bool = True
    # A file to attach (for example an OPML export); (filename, bytes).
    document: tuple[str, bytes] | None = None
    # Say nothing at all (a chat outside `allowed_chats`, a user over the command rate limit who was told
    # once already): adapters send nothing for it.
    silent: bool = False


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """An alert for one story in one chat; sent once, then edited as more sources join."""

    chat: ChatRef
    card: Card
    query: str = ""  # the subscription that matched, shown as context
    lang: str = "en"
