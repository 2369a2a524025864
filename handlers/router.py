"""Route a Request to its handler module and make sure every outcome is a Reply.

A handler module exposes `async def handle(request, ctx) -> Reply`; its docstring is its help text
(`HELP_FR` holds the French one). The router applies the chat's /lang choice, and turns any
exception into a short apology while logging the details: no traceback ever reaches a chat.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import ModuleType

from bot.messages import Reply, Request
from bot.models import ChatRef
from handlers.context import HandlerContext
from handlers.guard import CommandGuard
from handlers.i18n import SUPPORTED, t
from handlers.spec import COMMANDS, COMMANDS_BY_NAME

log = logging.getLogger(__name__)

Handler = Callable[[Request, HandlerContext], Awaitable[Reply]]


def load_handler_modules() -> dict[str, ModuleType]:
    """Import handlers/<name>.py for every command in the spec."""
    return {spec.name: importlib.import_module(f"handlers.{spec.name}") for spec in COMMANDS}


class Router:
    """The one entry point adapters call for commands and autocompletion."""

    def __init__(self, ctx: HandlerContext, guard: CommandGuard | None = None) -> None:
        self.ctx = ctx
        self.modules = load_handler_modules()
        # allowed_chats and the per-user rate limit; built from the settings unless a test injects one.
        self.guard = guard if guard is not None else CommandGuard.from_settings(ctx.settings)

    def chat_lang(self, request: Request) -> str:
        """Return the language to answer in: the chat's /lang choice, else the platform's hint."""
        chosen = self.ctx.store.get_chat_lang(request.chat)
        if chosen in SUPPORTED:
            return chosen
        return request.lang if request.lang in SUPPORTED else "en"

    async def dispatch(self, request: Request) -> Reply:
        """Run the command and return the reply; never raises."""
        name = request.command.lower().lstrip("/").split("@", 1)[0]
        try:
            lang = self.chat_lang(request)
        except Exception:  # a broken store must not stop the apology from being sent
            log.exception("could not read chat language", extra={"chat": str(request.chat)})
            lang = "en"
        request = replace(request, command=name, lang=lang)
        refusal = self.guard.check(request, lang)
        if refusal is not None:
            return refusal
        module = self.modules.get(name)
        if module is None:
            return Reply(text=t(lang, "unknown_command", name=name[:32]), is_error=True)
        spec = COMMANDS_BY_NAME[name]
        if spec.admin_only and not request.is_admin:
            return Reply(text=t(lang, "admin_only", name=name), is_error=True)
        try:
            reply: Reply = await module.handle(request, self.ctx)
            return reply
        except Exception:
            log.exception(
                "command failed", extra={"chat": str(request.chat), "command": name, "command_args": request.args[:200]}
            )
            return Reply(text=t(lang, "internal_error"), is_error=True)

    async def complete(self, chat: ChatRef, command: str, option: str, prefix: str) -> list[tuple[str, str]]:
        """Return up to 25 (label, value) suggestions for an option being typed."""
        if not self.guard.chat_allowed(chat):
            return []
        module = self.modules.get(command)
        completer = getattr(module, "complete", None)
        if completer is None:
            return []
        try:
            suggestions: list[tuple[str, str]] = await completer(chat, option, prefix, self.ctx)
            return suggestions[:25]
        except Exception:
            log.exception("autocomplete failed", extra={"chat": str(chat), "command": command})
            return []
