"""Search every article the bot has seen, best match first, one line per story.

  /search broadcom
  /search "custom ASIC" OR asic -nvidia
  /search nvidia source:"Le Silicium" lang:fr since:7d
  /search semicon*   entity:broadcom   before:2026-11-01

Words must all appear (accents and case do not matter; plurals match); OR widens, -word excludes,
"quotes" keep a phrase together, word* matches a prefix. Filters: source:, lang:, entity:, since:, before:.
"""

from __future__ import annotations

import re

from bot.messages import Button, Card, Reply, Request
from bot.search.index import COUNT_CAP
from bot.search.service import MAX_STORY_HITS
from handlers.cards import article_card
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = """Chercher dans tous les articles vus, le meilleur d'abord, une ligne par actualité.

  /search broadcom
  /search "puce sur mesure" OR asic -nvidia
  /search nvidia source:"Le Silicium" lang:fr since:7d

Tous les mots doivent figurer (accents et majuscules indifférents, pluriels compris) ; OR élargit,
-mot exclut, les "guillemets" gardent une expression, mot* cherche un préfixe.
Filtres : source:, lang:, entity:, since:, before:."""

PAGE_SIZE = 5
_PAGE_PREFIX = re.compile(r"^#(\d{1,3})\s+")
MAX_SHOWN_QUERY = 80


def format_total(total: int, exact: bool) -> str:
    """Write an article count for a header: "12,345", or "10,000+" when the index stopped counting."""
    if exact:
        return f"{total:,}"
    return f"{min(total, COUNT_CAP):,}+"


def split_page(args: str) -> tuple[int, str]:
    """Read the page marker buttons put in front of the query ("#2 broadcom") and return (page, query)."""
    match = _PAGE_PREFIX.match(args)
    if not match:
        return 1, args.strip()
    return max(1, int(match.group(1))), args[match.end():].strip()


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /search <query>, one page of stories at a time."""
    lang = request.lang
    page, query = split_page(request.args)
    if not query:
        return Reply(text=t(lang, "search.usage"), is_error=True)
    found = ctx.search.search_stories(query, page=page, page_size=PAGE_SIZE, now=ctx.clock())
    notices = [t(lang, "query.notice", problem=p) for p in found.notices]
    shown_query = query if len(query) <= MAX_SHOWN_QUERY else query[: MAX_SHOWN_QUERY - 1] + "…"
    if not found.stories:
        lines = [*notices, t(lang, "search.none", query=shown_query)]
        buttons = []
        if found.suggestion:
            lines.append(t(lang, "search.suggest", suggestion=found.suggestion))
            buttons.append(
                Button(t(lang, "search.suggest_button", suggestion=found.suggestion), "search", found.suggestion)
            )
        return Reply(text="\n".join(lines), buttons=buttons)
    if found.page_out_of_range:
        notices.append(t(lang, "search.last_page", page=page, pages=found.pages))
    source_counts = ctx.store.story_source_counts(
        [s.hit.article.story_id for s in found.stories if s.hit.article.story_id is not None]
    )
    cards: list[Card] = []
    for story in found.stories:
        article = story.hit.article
        count = source_counts.get(article.story_id, 1) if article.story_id is not None else 1
        cards.append(article_card(article, source_count=count, snippet=story.hit.snippet))
    first = (found.page - 1) * PAGE_SIZE + 1
    # Beyond MAX_STORY_HITS articles the stories are grouped from the best ones only: say so with the full count.
    key = "search.header_more" if found.total > MAX_STORY_HITS else "search.header"
    header = t(lang, key, first=first, last=first + len(cards) - 1, total=found.story_count, query=shown_query,
               n=format_total(found.total, found.total_exact))
    buttons = []
    if found.page > 1:
        buttons.append(Button(t(lang, "page.prev"), "search", f"#{found.page - 1} {query}"))
    if found.page < found.pages:
        buttons.append(Button(t(lang, "page.next"), "search", f"#{found.page + 1} {query}"))
    return Reply(text="\n".join([*notices, header]), cards=cards, buttons=buttons)
