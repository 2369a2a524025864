"""What every chat platform adapter provides. Adapters translate; they never decide.

An adapter receives commands from its platform, turns them into `Request`s, awaits the router's
`Reply` and renders it. For alerts it sends or edits one message and reports failures as the
`bot.delivery.errors` exceptions, so the sender can retry, wait or pause without knowing the SDK.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.messages import AlertMessage, Reply, Request
from bot.models import ChatRef

RequestHandler = Callable[[Request], Awaitable[Reply]]


class CommandRouter(Protocol):
    """What adapters call: run a command, and suggest values for an autocompleted option."""

    async def dispatch(self, request: Request) -> Reply:
        """Run the command and return the reply; never raises (errors become an error Reply)."""
        ...

    async def complete(self, chat: ChatRef, command: str, option: str, prefix: str) -> list[tuple[str, str]]:
        """Return up to 25 (label, value) suggestions for an option being typed."""
        ...


class ChatPlatform(Protocol):
    """A running connection to one chat platform."""

    name: str  # "telegram", "discord", "console": the prefix of ChatRef.platform

    async def start(self, router: CommandRouter) -> None:
        """Connect and begin routing commands to `router`; return once ready."""
        ...

    async def stop(self) -> None:
        """Disconnect cleanly."""
        ...

    async def send_alert(self, alert: AlertMessage) -> str:
        """Post an alert; return the platform's message id (raise bot.delivery.errors on failure)."""
        ...

    async def edit_alert(self, alert: AlertMessage, message_id: str) -> None:
        """Update a posted alert in place, for example when more sources join its story."""
        ...

    async def send_reply(self, chat: ChatRef, reply: Reply) -> str:
        """Post an unsolicited reply (digest, admin notice); return the message id."""
        ...
