"""Show or change how this chat receives alerts: timezone, quiet hours and an hourly cap.

  /settings                          show them (and whether alerts are paused)
  /settings timezone Europe/Paris    the chat's timezone, for quiet hours and digests
  /settings quiet 22:00-07:00        alerts in this window wait for the digest (/settings quiet off)
  /settings cap 10                   more than 10 alerts in an hour wait for the digest (off, default)

Nothing is ever dropped: held alerts go into the next /digest, or arrive when the quiet hours end.
"""

from __future__ import annotations

from bot.alerts.policy import OFF_WORDS, AlertDefaults, ChatPolicy, PolicyError, parse_quiet_hours, parse_timezone
from bot.messages import Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import t

HELP_FR = """Afficher ou changer la façon dont ce salon reçoit les alertes : fuseau, heures calmes, plafond horaire.

  /settings                          les afficher (et dire si les alertes sont en pause)
  /settings timezone Europe/Paris    le fuseau du salon, pour les heures calmes et les résumés
  /settings quiet 22:00-07:00        les alertes de cette plage attendent le résumé (/settings quiet off)
  /settings cap 10                   au-delà de 10 alertes par heure, elles attendent le résumé (off, default)

Rien n'est jamais perdu : les alertes retenues vont dans le prochain /digest, ou arrivent à la fin des heures calmes."""

_NAMES = {"timezone": "timezone", "tz": "timezone", "fuseau": "timezone", "quiet": "quiet_hours",
          "calme": "quiet_hours", "cap": "max_per_hour", "max": "max_per_hour", "plafond": "max_per_hour"}
MAX_CAP = 1000


def describe(ctx: HandlerContext, request: Request) -> str:
    """Return the chat's settings as shown by /settings."""
    lang = request.lang
    own = ctx.store.get_chat_settings(request.chat)
    policy = ChatPolicy.resolve(AlertDefaults.from_config(ctx.settings.alerts), own)
    default = " " + t(lang, "settings.default")
    tz_name = getattr(policy.tz, "key", str(policy.tz))
    text = t(
        lang,
        "settings.show",
        tz=tz_name + (default if own.timezone is None else ""),
        quiet=(policy.quiet.text() if policy.quiet else t(lang, "settings.none"))
        + (default if own.quiet_hours is None else ""),
        cap=(str(policy.cap) if policy.cap else t(lang, "settings.none"))
        + (default if own.max_per_hour is None else ""),
        digest=(policy.digest.text() if policy.digest else t(lang, "digest.off"))
        + (default if own.digest is None else ""),
        held=len(ctx.store.held_alerts(request.chat)),
    )
    if own.paused_reason:
        text += "\n" + t(lang, "settings.paused", reason=own.paused_reason)
    return text


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /settings [timezone|quiet|cap value]."""
    lang = request.lang
    words = request.args.split()
    if not words:
        return Reply(text=describe(ctx, request))
    name = _NAMES.get(words[0].lower())
    value = " ".join(words[1:])
    if name is None or not value:
        return Reply(text=t(lang, "settings.usage"), is_error=True)
    stored: str | int | None
    try:
        if value.lower() in ("default", "defaut", "défaut"):
            stored = None
        elif name == "timezone":
            stored = parse_timezone(value).key
        elif name == "quiet_hours":
            quiet = parse_quiet_hours(value)
            stored = quiet.text() if quiet else "off"
        elif value.lower() in OFF_WORDS:
            stored = 0
        elif value.isdigit() and 1 <= int(value) <= MAX_CAP:
            stored = int(value)
        else:
            raise PolicyError(f"the cap is a number of alerts per hour from 1 to {MAX_CAP}, or off")
    except PolicyError as exc:
        return Reply(text=t(lang, "settings.bad", reason=str(exc)), is_error=True)
    ctx.store.set_chat_setting(request.chat, name, stored)
    shown = t(lang, "settings.default") if stored is None else str(stored)
    return Reply(text=t(lang, "settings.done", name=words[0].lower(), value=shown) + "\n\n" + describe(ctx, request))
