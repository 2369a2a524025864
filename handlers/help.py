"""List every command, or explain one: /help search."""

from __future__ import annotations

import inspect

from bot.messages import Reply, Request
from handlers.context import HandlerContext
from handlers.i18n import t
from handlers.spec import COMMANDS, COMMANDS_BY_NAME

HELP_FR = "Lister les commandes, ou en expliquer une : /help search."


def command_help(name: str, lang: str) -> str:
    """Return the long help of a command: its handler's docstring (or HELP_FR in French)."""
    import importlib

    module = importlib.import_module(f"handlers.{name}")
    text = getattr(module, "HELP_FR", "") if lang == "fr" else ""
    return text or inspect.getdoc(module) or COMMANDS_BY_NAME[name].description(lang)


async def handle(request: Request, ctx: HandlerContext) -> Reply:
    """Answer /help or /help <command>."""
    wanted = request.args.strip().lstrip("/").lower()
    if wanted:
        if wanted not in COMMANDS_BY_NAME:
            return Reply(text=t(request.lang, "help.unknown", name=wanted[:32]), is_error=True)
        return Reply(text=f"/{wanted}\n{command_help(wanted, request.lang)}")
    lines = [t(request.lang, "help.header")]
    for spec in COMMANDS:
        usage = " ".join(f"<{o.name}>" if o.required else f"[{o.name}]" for o in spec.options)
        lines.append(f"/{spec.name}{' ' + usage if usage else ''} — {spec.description(request.lang)}")
    lines.append("")
    lines.append(t(request.lang, "help.more"))
    return Reply(text="\n".join(lines))
