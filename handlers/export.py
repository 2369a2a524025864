"""Send the list of feeds the bot polls as an OPML file, which any feed reader can import."""

from __future__ import annotations

from bot.messages import Reply, Request
from bot.opml import export_opml
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = "Envoyer la liste des flux lus par le bot en fichier OPML, que tout lecteur de flux sait importer."


def polled_feeds(ctx: HandlerContext) -> list[tuple[str, str]]:
    """Return (name, url) of the feeds the bot polls: from the config, or added by a chat or an import."""
    configured = {f.url for f in ctx.settings.feeds}
    states = ctx.store.feed_states()
    return [
        (feed.name, feed.url)
        for feed in ctx.store.list_feeds()
        if feed.url in configured or (feed.id in states and states[feed.id].origin != "config")
    ]


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /export with the OPML file attached."""
    feeds = polled_feeds(ctx)
    return Reply(
        text=t(request.lang, "export.done", n=len(feeds)),
        document=("veille-feeds.opml", export_opml(feeds, now=ctx.clock())),
    )
