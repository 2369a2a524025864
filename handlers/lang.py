"""Choose the language the bot speaks in this chat: /lang en or /lang fr."""

from __future__ import annotations

from bot.messages import Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import SUPPORTED, t

HELP_FR = "Choisir la langue du bot dans ce salon : /lang en ou /lang fr."


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /lang <en|fr>."""
    wanted = request.args.strip().lower()[:8]
    if wanted not in SUPPORTED:
        return Reply(text=t(request.lang, "lang.usage"), is_error=True)
    ctx.store.set_chat_lang(request.chat, wanted)
    return Reply(text=t(wanted, "lang.done"))
