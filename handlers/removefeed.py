"""Stop polling a feed, for chat admins: /removefeed 3, /removefeed "Le Silicium" or its URL (see /sources).
Its articles stay searchable. A feed from the configuration file is removed there instead."""

from __future__ import annotations

from bot.messages import Reply, Request
from bot.models import ChatRef, Feed
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = """Arrêter de lire un flux (administrateurs du salon) : /removefeed 3, /removefeed "Le Silicium" ou son URL
(voir /sources). Ses articles restent cherchables. Un flux du fichier de configuration se retire là-bas."""


def find_feed(feeds: list[Feed], what: str) -> Feed | None:
    """Find a feed by number (#3 or 3), exact URL, or name (case and quotes ignored)."""
    wanted = what.strip().strip('"“”«» ').strip()
    if wanted.lstrip("#").isdigit():
        number = int(wanted.lstrip("#"))
        return next((f for f in feeds if f.id == number), None)
    by_url = next((f for f in feeds if f.url == wanted), None)
    if by_url is not None:
        return by_url
    folded = " ".join(wanted.split()).casefold()
    return next((f for f in feeds if f.name.casefold() == folded), None)


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /removefeed <number, name or URL>."""
    lang = request.lang
    what = request.args.strip()
    if not what:
        return Reply(text=t(lang, "removefeed.usage"), is_error=True)
    feed = find_feed(ctx.store.list_feeds(), what)
    if feed is None:
        return Reply(text=t(lang, "removefeed.missing", what=what[:80]), is_error=True)
    state = ctx.store.feed_states().get(feed.id)
    configured = {f.url for f in ctx.settings.feeds}
    if (state is None or state.origin == "config") and feed.url in configured:
        return Reply(text=t(lang, "removefeed.config", name=feed.name), is_error=True)
    if not ctx.store.remove_feed(feed.id):
        return Reply(text=t(lang, "removefeed.missing", what=what[:80]), is_error=True)
    return Reply(text=t(lang, "removefeed.done", name=feed.name))


async def complete(chat: ChatRef, option: str, prefix: str, ctx: HandlerContext) -> list[tuple[str, str]]:
    """Suggest feeds whose number or name starts with (or contains) what is typed."""
    typed = prefix.strip().casefold()
    suggestions = []
    for feed in ctx.store.list_feeds():
        if not typed or str(feed.id).startswith(typed) or typed in feed.name.casefold():
            suggestions.append((f"#{feed.id} {feed.name}"[:100], str(feed.id)))
    return suggestions[:25]
