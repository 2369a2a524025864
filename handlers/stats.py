"""The bot in numbers: feeds (and how many are failing), articles, stories, alerts sent today, alerts waiting to
be sent, and feed errors in the last 24 hours."""

from __future__ import annotations

from datetime import timedelta

from bot.messages import Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = """Le bot en chiffres : flux (et combien sont en échec), articles, actualités, alertes envoyées aujourd'hui,
alertes en attente d'envoi et erreurs de flux sur les dernières 24 heures."""


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /stats."""
    now = ctx.clock()
    # "Today" is the UTC day: chats in other timezones see the same figure the operator's dashboards do.
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    stats = ctx.store.stats(since=midnight, errors_since=now - timedelta(hours=24))
    failing = sum(1 for s in ctx.store.feed_states().values() if s.failing_since is not None)
    return Reply(text=t(
        request.lang, "stats.text", feeds=stats.feeds, failing=failing, articles=stats.articles,
        stories=stats.stories, sent=stats.alerts_sent, pending=stats.alerts_pending, errors=stats.feed_errors,
    ))
