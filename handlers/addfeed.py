"""Add a feed, for chat admins: /addfeed https://site.example/ finds the feed the page announces (or the usual
/feed, /rss.xml...), checks that it can be read, shows its latest item, and adds it when you press the button.
The bot starts polling it within seconds; its current items are archived, only later ones are alerted."""

from __future__ import annotations

from datetime import UTC

from bot import USER_AGENT
from bot.config import is_http_url
from bot.ingest.discover import DiscoveryError, FoundFeed, NoFeedFound, find_feed
from bot.ingest.fetch import Fetcher, FetchError
from bot.ingest.normalize import clean_title, html_to_text
from bot.messages import Button, Card, Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = """Ajouter un flux (administrateurs du salon) : /addfeed https://site.example/ trouve le flux annoncé par
la page (ou aux adresses habituelles /feed, /rss.xml...), vérifie qu'il est lisible, montre son dernier article
et l'ajoute quand vous appuyez sur le bouton. Le bot le lit dans les secondes qui suivent ; ses articles actuels
sont archivés, seuls les suivants sont signalés."""

# Feeds added from a chat poll every 10 minutes to start with; the scheduler then adapts to the feed.
ADDED_FEED_INTERVAL_S = 600
CONFIRM = "confirm"


def _preview(found: FoundFeed) -> Card | None:
    entries = found.parsed.entries
    if not entries:
        return None
    dated = [(e.published, index, e) for index, e in enumerate(entries) if e.published is not None]
    latest = max(dated, key=lambda item: (item[0], -item[1]))[2] if dated else entries[0]
    summary = html_to_text(latest.summary_html or latest.content_html)[:300]
    published = latest.published.astimezone(UTC) if latest.published else None
    return Card(title=clean_title(latest.title) or latest.link or "?", url=latest.link, source=found.title,
                published=published, summary=summary)


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /addfeed <url> (a preview with a confirmation button) and /addfeed confirm <url> (add it)."""
    lang = request.lang
    words = request.args.split()
    confirm = bool(words) and words[0].lower() == CONFIRM
    if confirm:
        words = words[1:]
    if len(words) != 1:
        return Reply(text=t(lang, "addfeed.usage"), is_error=True)
    url = words[0].strip("<>")
    if not is_http_url(url):
        return Reply(text=t(lang, "addfeed.bad_url", url=url[:200]), is_error=True)
    # A short-lived session: /addfeed is rare, and it goes through the same network guard as every poll.
    async with Fetcher(ctx.settings.fetch, USER_AGENT) as fetcher:
        try:
            found = await find_feed(fetcher, url)
        except FetchError as exc:
            return Reply(text=t(lang, "addfeed.unreachable", url=url[:200], reason=exc.reason), is_error=True)
        except NoFeedFound:
            return Reply(text=t(lang, "addfeed.no_feed", url=url[:200]), is_error=True)
        except DiscoveryError as exc:
            return Reply(text=t(lang, "addfeed.not_a_feed", url=url[:200], reason=exc.reason), is_error=True)
    known = ctx.store.get_feed_by_url(found.url)
    if known is not None:
        return Reply(text=t(lang, "addfeed.known", name=known.name))
    if confirm:
        feed, _created = ctx.store.add_feed(found.url, found.title[:200], ADDED_FEED_INTERVAL_S, f"chat:{request.chat}")
        return Reply(text=t(lang, "addfeed.added", name=feed.name))
    card = _preview(found)
    text = (
        t(lang, "addfeed.preview", title=found.title, n=len(found.parsed.entries), url=found.url)
        if card else t(lang, "addfeed.preview_empty", title=found.title, url=found.url)
    )
    return Reply(
        text=text,
        cards=[card] if card else [],
        buttons=[Button(t(lang, "addfeed.confirm_button"), "addfeed", f"{CONFIRM} {found.url}")],
    )
