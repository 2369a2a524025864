"""Say why an article was or was not alerted here: /why <url>

Not matched (and what each subscription missed), same story as an alert already posted, a feed's backlog,
held by quiet hours or the hourly cap, pending (retrying, or the chat paused), or delivered at what time.
"""

from __future__ import annotations

from bot.alerts.matcher import SubscriptionCompiler
from bot.alerts.why import explain
from bot.messages import Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = """Dire pourquoi un article a été signalé ici ou non : /why <url>

Aucun abonnement ne correspond (et ce qui manquait à chacun), même actualité qu'une alerte déjà envoyée,
historique d'un flux, retenue par les heures calmes ou le plafond, en attente (nouvel essai, salon en pause)
ou envoyée à quelle heure."""

MAX_URL_CHARS = 2000


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /why <url>."""
    url = request.args.strip().split()[0] if request.args.strip() else ""
    if not url or len(url) > MAX_URL_CHARS:
        return Reply(text=t(request.lang, "why.usage"), is_error=True)
    compiler = SubscriptionCompiler(ctx.settings.entities, clock=ctx.clock)
    explanation = explain(ctx.store, compiler, request.chat, url, request.lang)
    return Reply(text="\n".join(explanation.lines))
