"""Show the latest stories, newest first: /latest or /latest 10 (at most 20)."""

from __future__ import annotations

from bot.messages import Reply, Request
from handlers.cards import story_card
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = "Afficher les dernières actualités, la plus récente d'abord : /latest ou /latest 10 (20 au plus)."

DEFAULT_COUNT = 5
MAX_COUNT = 20


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /latest [n]."""
    raw = request.args.strip()
    count = DEFAULT_COUNT
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_COUNT:
            return Reply(text=t(request.lang, "latest.usage"), is_error=True)
        count = int(raw)
    stories = ctx.store.latest_stories(count)
    if not stories:
        return Reply(text=t(request.lang, "latest.none"))
    cards = [story_card(articles) for _story, articles in stories]
    return Reply(text=t(request.lang, "latest.header"), cards=cards)
