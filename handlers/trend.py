"""Chart how often names appear in the news, day by day (up to 5 names, 30 days unless told).

  /trend broadcom
  /trend broadcom nvidia qualcomm since:90d
  /trend "Mistral AI" openai since:2026-10-01

A name counts when an article is tagged with it (watchlist entities and their aliases) or when its
title or text contains it. Quotes keep a name of several words together.
"""

from __future__ import annotations

import asyncio

from bot.charts import render_trend_png
from bot.messages import Reply, Request
from bot.search.trend import Trend, TrendInputError, compute_trend
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = """Tracer la fréquence de noms dans l'actualité, jour par jour (jusqu'à 5 noms, 30 jours par défaut).

  /trend broadcom
  /trend broadcom nvidia qualcomm since:90d
  /trend "Mistral AI" openai since:2026-10-01

Un nom compte quand un article en est marqué (entités surveillées et leurs alias) ou quand son titre
ou son texte le contient. Les guillemets gardent ensemble un nom de plusieurs mots."""


def _names(trend: Trend) -> str:
    return ", ".join(series.name for series in trend.series)


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /trend <name> [<name> ...] [since:30d] with a PNG chart of daily mentions."""
    lang = request.lang
    try:
        trend = compute_trend(ctx.search, request.args, entities=ctx.settings.entities, now=ctx.clock())
    except TrendInputError as exc:
        return Reply(text=t(lang, f"trend.{exc.code}", **exc.values), is_error=True)
    since = trend.since.strftime("%Y-%m-%d")
    if not any(series.total for series in trend.series):
        return Reply(text=t(lang, "trend.none", names=_names(trend), since=since))
    title = " / ".join(series.name for series in trend.series)
    # Drawing takes ~100 ms of CPU: keep the event loop (and the other platform) responsive meanwhile.
    png = await asyncio.to_thread(render_trend_png, trend, title)
    totals = ", ".join(f"{series.name} {series.total}" for series in trend.series)
    return Reply(text=t(lang, "trend.caption", since=since, totals=totals), image_png=png, image_name="trend.png")
