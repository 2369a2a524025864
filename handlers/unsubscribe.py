"""Stop one of this chat's subscriptions, by its number or its query: /unsubscribe 3, /unsubscribe broadcom."""

from __future__ import annotations

from bot.messages import Reply, Request
from bot.models import ChatRef, Subscription
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = "Arrêter un abonnement de ce salon, par son numéro ou sa requête : /unsubscribe 3, /unsubscribe broadcom."


def find_subscription(subscriptions: list[Subscription], what: str) -> Subscription | None:
    """Find a subscription by number (#3 or 3) or by its query, ignoring case and spacing."""
    wanted = what.strip().lstrip("#")
    if wanted.isdigit():
        return next((s for s in subscriptions if s.id == int(wanted)), None)
    folded = " ".join(what.split()).casefold()
    return next((s for s in subscriptions if s.query.casefold() == folded), None)


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /unsubscribe <id or query>."""
    lang = request.lang
    what = request.args.strip()
    if not what:
        return Reply(text=t(lang, "unsubscribe.usage"), is_error=True)
    subscription = find_subscription(ctx.store.list_subscriptions(request.chat), what)
    if subscription is None or not ctx.store.remove_subscription(request.chat, subscription.id):
        return Reply(text=t(lang, "unsubscribe.missing", what=what[:80]), is_error=True)
    return Reply(text=t(lang, "unsubscribe.done", id=subscription.id, query=subscription.query))


async def complete(chat: ChatRef, option: str, prefix: str, ctx: HandlerContext) -> list[tuple[str, str]]:
    """Suggest this chat's subscriptions whose number or query starts with what is typed."""
    typed = prefix.strip().casefold()
    suggestions = []
    for subscription in ctx.store.list_subscriptions(chat):
        if not typed or str(subscription.id).startswith(typed) or typed in subscription.query.casefold():
            label = f"#{subscription.id} {subscription.query}"
            suggestions.append((label[:100], str(subscription.id)))
    return suggestions[:25]
