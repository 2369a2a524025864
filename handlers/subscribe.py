"""Alert this chat about new stories matching a query, in the same language as /search:

  /subscribe broadcom
  /subscribe nvidia OR broadcom -rumeur
  /subscribe "custom ASIC" lang:en

One alert per story: when more outlets report it, the alert is updated instead of repeated.
"""

from __future__ import annotations

from bot.messages import Reply, Request
from bot.search.query import parse_query
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = """Alerter ce salon des nouvelles actualités qui correspondent à une requête (même langage que /search) :

  /subscribe broadcom
  /subscribe nvidia OR broadcom -rumeur

Une alerte par actualité : quand d'autres médias la reprennent, l'alerte est mise à jour, pas répétée."""

MAX_QUERY_CHARS = 300


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /subscribe <query>."""
    lang = request.lang
    query = " ".join(request.args.split())[:MAX_QUERY_CHARS]
    if not query:
        return Reply(text=t(lang, "subscribe.usage"), is_error=True)
    parsed = parse_query(query, ctx.clock())
    if parsed.is_empty:
        return Reply(text=t(lang, "subscribe.empty"), is_error=True)
    existing = ctx.store.list_subscriptions(request.chat)
    if len(existing) >= ctx.max_subscriptions_per_chat and all(s.query != query for s in existing):
        return Reply(text=t(lang, "subscribe.too_many", n=len(existing)), is_error=True)
    subscription = ctx.store.add_subscription(request.chat, query, ctx.clock())
    lines = [t(lang, "query.notice", problem=p) for p in parsed.problems]
    lines.append(t(lang, "subscribe.done", id=subscription.id, query=query))
    return Reply(text="\n".join(lines))
