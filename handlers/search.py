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
from bot.search.service import SearchService
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
# Stories are grouped from this many best hits; deeper pages than that are not useful in a chat.
MAX_HITS = 200
_PAGE_PREFIX = re.compile(r"^#(\d{1,3})\s+")


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
    results = ctx.search.search(query, limit=MAX_HITS, offset=0, now=ctx.clock())
    notices = [t(lang, "query.notice", problem=p) for p in results.notices]
    groups = SearchService.group_by_story(results.hits)
    shown_query = query if len(query) <= 80 else query[:79] + "…"
    if not groups:
        lines = [*notices, t(lang, "search.none", query=shown_query)]
        buttons = []
        if results.suggestion:
            lines.append(t(lang, "search.suggest", suggestion=results.suggestion))
            buttons.append(
                Button(t(lang, "search.suggest_button", suggestion=results.suggestion), "search", results.suggestion)
            )
        return Reply(text="\n".join(lines), buttons=buttons)
    pages = (len(groups) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(page, pages)
    first = (page - 1) * PAGE_SIZE
    chosen = groups[first:first + PAGE_SIZE]
    source_counts = ctx.store.story_source_counts(
        [g[0].article.story_id for g in chosen if g[0].article.story_id is not None]
    )
    cards: list[Card] = []
    for group in chosen:
        best = group[0]
        count = source_counts.get(best.article.story_id, 1) if best.article.story_id is not None else 1
        cards.append(article_card(best.article, source_count=count, snippet=best.snippet))
    header = t(lang, "search.header", first=first + 1, last=first + len(chosen), total=len(groups),
               query=shown_query)
    buttons = []
    if page > 1:
        buttons.append(Button(t(lang, "page.prev"), "search", f"#{page - 1} {query}"))
    if page < pages:
        buttons.append(Button(t(lang, "page.next"), "search", f"#{page + 1} {query}"))
    return Reply(text="\n".join([*notices, header]), cards=cards, buttons=buttons)
