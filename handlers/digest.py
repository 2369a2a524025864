"""Get a digest of this chat's stories: the most reported ones since the last digest, and every alert held
back by quiet hours or the hourly cap.

  /digest daily 08:00          every day at 08:00 in the chat's timezone (see /settings timezone)
  /digest weekly mon 08:00     once a week
  /digest off                  no scheduled digest (held alerts then arrive when quiet hours end)
  /digest now                  the digest right away
  /digest                      show the schedule
"""

from __future__ import annotations

from bot.alerts.digest import build_digest
from bot.alerts.policy import AlertDefaults, ChatPolicy, PolicyError, parse_digest
from bot.messages import Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = """Recevoir un résumé des actualités de ce salon : les plus reprises depuis le dernier résumé, et toutes
les alertes retenues par les heures calmes ou le plafond horaire.

  /digest daily 08:00          chaque jour à 8 h dans le fuseau du salon (voir /settings timezone)
  /digest weekly lun 08:00     une fois par semaine
  /digest off                  pas de résumé programmé (les alertes retenues arrivent à la fin des heures calmes)
  /digest now                  le résumé tout de suite
  /digest                      afficher le programme"""


def _status(request: Request, ctx: HandlerContext, key: str) -> str:
    own = ctx.store.get_chat_settings(request.chat)
    policy = ChatPolicy.resolve(AlertDefaults.from_config(ctx.settings.alerts), own)
    schedule = policy.digest.text() if policy.digest else t(request.lang, "digest.off")
    tz = getattr(policy.tz, "key", str(policy.tz))
    return t(request.lang, key, schedule=schedule, tz=tz, held=len(ctx.store.held_alerts(request.chat)))


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /digest [daily HH:MM | weekly DAY HH:MM | off | now]."""
    lang = request.lang
    args = " ".join(request.args.split())
    if not args:
        return Reply(text=_status(request, ctx, "digest.status"))
    if args.lower() in ("now", "maintenant"):
        now = ctx.clock()
        digest = build_digest(ctx.store, AlertDefaults.from_config(ctx.settings.alerts), request.chat, now, lang)
        if digest is None:
            return Reply(text=t(lang, "digest.empty"))
        # Answered in the chat by the adapter: the held alerts it lists count as delivered.
        ctx.store.record_digest(request.chat, digest.held_ids, now)
        return digest.reply
    try:
        schedule = parse_digest(args)
    except PolicyError as exc:
        return Reply(text=t(lang, "settings.bad", reason=str(exc)) + "\n" + t(lang, "digest.usage"), is_error=True)
    ctx.store.set_chat_setting(request.chat, "digest", schedule.text() if schedule else "off")
    if schedule is None:
        return Reply(text=t(lang, "digest.unset"))
    return Reply(text=_status(request, ctx, "digest.set"))
