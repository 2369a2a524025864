"""List the feeds the bot polls and their health: last success, or how long and why a feed has been failing."""

from __future__ import annotations

from datetime import datetime

from bot.messages import Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = "Lister les flux interrogés et leur état : dernier succès, ou depuis quand et pourquoi un flux échoue."


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "?"


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /sources."""
    lang = request.lang
    feeds = ctx.store.list_feeds()
    if not feeds:
        return Reply(text=t(lang, "sources.none"))
    lines = [t(lang, "sources.header", n=len(feeds))]
    schedules = ctx.store.feed_states()  # the scheduler's view: failing since, backoff, next poll (issue 7)
    for feed in feeds:
        schedule = schedules.get(feed.id)
        if feed.consecutive_failures and schedule is not None and schedule.failing_since and schedule.backoff_until:
            state = t(lang, "sources.backoff", since=_when(schedule.failing_since),
                      until=_when(schedule.backoff_until), error=feed.last_error or "?")
        elif feed.consecutive_failures:
            state = t(lang, "sources.failing", n=feed.consecutive_failures, when=_when(feed.last_error_at),
                      error=feed.last_error or "?")
        elif feed.last_success:
            state = t(lang, "sources.ok", when=_when(feed.last_success))
        else:
            state = t(lang, "sources.never")
        if schedule is not None and schedule.next_poll_at and not schedule.backoff_until:
            state += "; " + t(lang, "sources.next", when=_when(schedule.next_poll_at))
        lines.append(f"• {feed.name} — {state}")
    return Reply(text="\n".join(lines))
