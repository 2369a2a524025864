"""Introduce the bot and the first commands to try."""

from __future__ import annotations

from bot.messages import Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = "Présenter le bot et les premières commandes à essayer."


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Greet the chat."""
    return Reply(text=t(request.lang, "start", feeds=len(ctx.store.list_feeds())))
