"""List this chat's subscriptions with their numbers, and say which are paused and why."""

from __future__ import annotations

from bot.messages import Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = "Lister les abonnements de ce salon avec leur numéro, et dire lesquels sont en pause et pourquoi."


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /subscriptions."""
    lang = request.lang
    subscriptions = ctx.store.list_subscriptions(request.chat)
    if not subscriptions:
        return Reply(text=t(lang, "subscriptions.none"))
    lines = [t(lang, "subscriptions.header")]
    for sub in subscriptions:
        line = f"#{sub.id}  {sub.query}"
        if sub.paused_reason:
            line += f"  ({t(lang, 'subscriptions.paused', reason=sub.paused_reason)})"
        lines.append(line)
    return Reply(text="\n".join(lines))
