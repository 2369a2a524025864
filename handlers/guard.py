"""Who may talk to the bot, and how often: `allowed_chats` and the per-user command rate limit.

The router asks the guard before running any command (known or not). Three outcomes:

    None        go on and run the command
    NoReply()   a Reply with silent=True: say nothing at all (a chat outside `allowed_chats`, or a user
                still over the limit who was told once in this window); adapters send nothing for it
    Reply       a polite, one-per-window "slow down" message

A chat outside `allowed_chats` is logged once per chat, not once per command, so a busy foreign group
cannot flood the log. Memory is bounded: a user's history holds at most `rate_limit` timestamps and the
table forgets idle users first once it holds `max_users` of them.

Errors: none; every method accepts any request.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.config import Settings
from bot.messages import Reply, Request
from bot.models import ChatRef

log = logging.getLogger(__name__)

# The console is the operator's own terminal: never refused, never throttled.
TRUSTED_PLATFORMS = frozenset({"console"})

_SLOW_DOWN = {
    "en": "You are sending commands too fast ({limit} in {window}). Please wait {wait} s and try again.",
    "fr": "Vous envoyez des commandes trop vite ({limit} en {window}). Attendez {wait} s puis réessayez.",
}


def NoReply() -> Reply:  # noqa: N802 - reads as the kind of answer it builds
    """Build a Reply that must not be sent at all (Reply.silent)."""
    return Reply(silent=True)


def is_silent(reply: Reply) -> bool:
    """Tell whether a reply means: answer nothing."""
    return reply.silent


@dataclass(slots=True)
class _History:
    stamps: deque[float]
    warned_until: float = 0.0


def _window_text(seconds: int) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


class CommandGuard:
    """Refuses commands from chats outside `allowed_chats` and users over their rate limit."""

    def __init__(
        self,
        *,
        allowed_chats: Iterable[ChatRef] = (),
        rate_limit: int = 10,
        rate_window_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 10_000,
    ) -> None:
        """Keep the rules; an empty `allowed_chats` lets every chat in."""
        self.allowed = frozenset(allowed_chats)
        self.rate_limit = max(1, int(rate_limit))
        self.rate_window_s = float(rate_window_s)
        self.clock = clock
        self.max_users = max_users
        self._users: OrderedDict[tuple[str, str], _History] = OrderedDict()
        self._logged_chats: set[ChatRef] = set()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float] = time.monotonic) -> CommandGuard:
        """Build the guard from the `allowed_chats` and `commands` config keys."""
        return cls(
            allowed_chats=settings.allowed_chats,
            rate_limit=settings.commands.rate_limit,
            rate_window_s=settings.commands.rate_window_s,
            clock=clock,
        )

    def chat_allowed(self, chat: ChatRef) -> bool:
        """Tell whether the bot answers in `chat` at all."""
        return not self.allowed or chat.platform in TRUSTED_PLATFORMS or chat in self.allowed

    def check(self, request: Request, lang: str = "en") -> Reply | None:
        """Return None to run the command, NoReply to stay silent, or a polite refusal to send."""
        if not self.chat_allowed(request.chat):
            if request.chat not in self._logged_chats and len(self._logged_chats) < self.max_users:
                self._logged_chats.add(request.chat)
                log.warning(
                    "command from a chat outside allowed_chats ignored (logged once per chat)",
                    extra={"chat": str(request.chat)},
                )
            return NoReply()
        if request.chat.platform in TRUSTED_PLATFORMS:
            return None
        return self._throttle(request, lang)

    def _throttle(self, request: Request, lang: str) -> Reply | None:
        now = self.clock()
        key = (request.chat.platform, request.user_id)
        history = self._users.get(key)
        if history is None:
            history = _History(deque(maxlen=self.rate_limit))
            self._users[key] = history
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)
        self._users.move_to_end(key)
        stamps = history.stamps
        while stamps and stamps[0] <= now - self.rate_window_s:
            stamps.popleft()
        if len(stamps) < self.rate_limit:
            stamps.append(now)
            return None
        # Refused commands do not count, so a user who keeps trying is let in as soon as the window allows.
        free_at = stamps[0] + self.rate_window_s
        if now < history.warned_until:
            return NoReply()
        history.warned_until = free_at
        wait = max(1, int(free_at - now + 0.999))
        template = _SLOW_DOWN.get(lang, _SLOW_DOWN["en"])
        text = template.format(limit=self.rate_limit, window=_window_text(int(self.rate_window_s)), wait=wait)
        log.info("command rate limit hit", extra={"chat": str(request.chat), "user": request.user_id})
        return Reply(text=text, is_error=True)
