"""The console chat: the same handlers as Telegram and Discord, typed in a terminal.

Lines starting with "/" are commands; anything else is searched. Alerts and replies print as a chat
would show them. The chat ends on end of input or /quit. Buttons print the command line they stand for,
so a person can type it (paging: `/search #2 broadcom`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START, AlertMessage, Card, Reply, Request
from bot.models import ChatRef
from bot.platforms.base import CommandRouter
from handlers.i18n import more_sources, t

CONSOLE_CHAT_ID = "console"


class ConsoleIO:
    """Where the console chat reads and writes; the terminal by default."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.color = bool(getattr(self.stdout, "isatty", lambda: False)())

    def write(self, text: str) -> None:
        """Print a block of text and flush it at once (alerts must show while the user types)."""
        self.stdout.write(text + "\n")
        self.stdout.flush()


class ConsolePlatform:
    """A one-chat platform on standard input and output."""

    name = "console"

    def __init__(self, io: ConsoleIO | None = None, lang: str = "en", prompt: str = "") -> None:
        self.io = io or ConsoleIO()
        self.lang = lang
        self.chat = ChatRef(self.name, CONSOLE_CHAT_ID)
        self.closed = asyncio.Event()
        self.banner = prompt
        self._reader: asyncio.Task[None] | None = None
        self._next_id = 0
        self._titles: dict[str, str] = {}

    async def start(self, router: CommandRouter) -> None:
        """Start reading commands from the input."""
        if self.banner:
            self.io.write(self.banner)
        self._reader = asyncio.create_task(self._read_loop(router))

    async def stop(self) -> None:
        """Stop reading."""
        self.closed.set()
        if self._reader is not None:
            self._reader.cancel()

    async def _read_loop(self, router: CommandRouter) -> None:
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        # A daemon thread, because a blocking readline cannot be cancelled and must not hold up exit.
        threading.Thread(target=_pump_lines, args=(self.io.stdin.readline, lines, loop), daemon=True).start()
        while True:
            line = await lines.get()
            if line is None:
                break
            line = line.strip()
            if not line:
                continue
            if line.lower() in ("/quit", "/exit", "quit", "exit"):
                break
            command, _, args = line.partition(" ") if line.startswith("/") else ("/search", "", line)
            request = Request(chat=self.chat, user_id="console", command=command[1:], args=args,
                              lang=self.lang, is_admin=True)
            reply = await router.dispatch(request)
            if not reply.silent:
                self.io.write(self.render_reply(reply))
        self.closed.set()

    # -- rendering ------------------------------------------------------------------------------

    def _bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.io.color else f"*{text}*"

    def _highlight(self, snippet: str) -> str:
        on, off = ("\x1b[1m", "\x1b[0m") if self.io.color else ("*", "*")
        return snippet.replace(HIGHLIGHT_START, on).replace(HIGHLIGHT_END, off)

    def render_card(self, card: Card, index: int | None, lang: str) -> str:
        """Render one card as a few indented lines."""
        date = card.published.strftime("%Y-%m-%d %H:%M") if card.published else ""
        head = f"{index}. " if index is not None else ""
        lines = [f"{head}{self._bold(card.title)}", f"   {card.source}{' · ' + date if date else ''}"]
        if card.extra_sources:
            lines[-1] += f" · {more_sources(lang, card.extra_sources)}"
        body = self._highlight(card.snippet) if card.snippet else card.summary
        if body:
            lines.append("   " + " ".join(body.split()))
        lines.append(f"   {card.url}")
        for source, url in card.sources[:5]:
            lines.append(f"   ↳ {source}: {url}")
        return "\n".join(lines)

    def render_reply(self, reply: Reply) -> str:
        """Render a whole reply as the console shows it."""
        parts = [reply.text] if reply.text else []
        parts.extend(self.render_card(card, i, self.lang) for i, card in enumerate(reply.cards, 1))
        if reply.buttons:
            parts.append("   ".join(f"[{b.label}: /{b.command} {b.args}]" for b in reply.buttons))
        if reply.image_png is not None:
            parts.append(f"[image {reply.image_name}, {len(reply.image_png)} bytes]")
        if reply.document is not None:
            parts.append(f"[file {reply.document[0]}, {len(reply.document[1])} bytes]")
        return "\n".join(parts)

    # -- alerts ---------------------------------------------------------------------------------

    async def send_alert(self, alert: AlertMessage) -> str:
        """Print an alert; return its message id."""
        self._next_id += 1
        message_id = str(self._next_id)
        header = "🔔 " + t(alert.lang, "alert.header", query=alert.query) if alert.query else "🔔"
        self.io.write(f"\n{header}\n{self.render_card(alert.card, None, alert.lang)}\n")
        self._titles[message_id] = alert.card.title
        return message_id

    async def edit_alert(self, alert: AlertMessage, message_id: str) -> None:
        """Print that an earlier alert was updated (a terminal cannot change what it printed)."""
        sources = alert.card.extra_sources + 1
        self.io.write(f"\n✏️  [{message_id}] {alert.card.title} — {sources} sources: "
                      + ", ".join([alert.card.source, *(s for s, _ in alert.card.sources)]) + "\n")

    async def send_reply(self, chat: ChatRef, reply: Reply) -> str:
        """Print an unsolicited message."""
        self._next_id += 1
        self.io.write(self.render_reply(reply))
        return str(self._next_id)


def _pump_lines(
    readline: Callable[[], str], lines: asyncio.Queue[str | None], loop: asyncio.AbstractEventLoop
) -> None:
    try:
        while True:
            line = readline()
            if not line:
                break
            loop.call_soon_threadsafe(lines.put_nowait, line)
    except (OSError, ValueError):
        pass  # input closed under us: same as end of input
    finally:
        # RuntimeError: the loop is already closed, nobody is listening any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(lines.put_nowait, None)
