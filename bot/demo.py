"""`veille demo`: the real bot (same App.run as production) on the bundled sample news site.

It serves the sample outlets on 127.0.0.1, writes nothing outside a temporary folder, subscribes the
console chat to the AI-chip watchlist, and lets the user type commands while new stories arrive. When
input is not a terminal (piped commands, CI), it waits for the last scheduled story before leaving, so
`veille demo < /dev/null` still shows every alert.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from bot.app import App, stop_on_signals
from bot.config import Settings, parse_settings
from bot.demo_site.server import DemoSite
from bot.platforms.console_adapter import ConsoleIO

DEMO_POLL_INTERVAL = "2s"
DEMO_QUERY = "nvidia OR broadcom OR openai OR asic OR tsmc OR \"rain ai\" OR amd OR tpu"
DEMO_ENTITIES = {
    "Broadcom": ["Broadcom", "AVGO"],
    "Nvidia": ["Nvidia", "NVDA"],
    "OpenAI": ["OpenAI"],
    "Rain AI": ["Rain AI"],
    "TSMC": ["TSMC"],
    "AMD": ["AMD"],
    "Google": ["Google", "TPU"],
}

BANNER = {
    "en": (
        "Veille demo — a sample news site about AI chips is served on {url}.\n"
        "The backlog is stored and searchable at once; new stories arrive over the next {span} s as alerts.\n"
        "Try: /search broadcom   /latest   /sources   /help   (/quit to leave)\n"
    ),
    "fr": (
        "Démo Veille — un site d'actualité d'exemple sur les puces d'IA est servi sur {url}.\n"
        "L'historique est stocké et cherchable tout de suite ; de nouvelles actualités arrivent en alerte "
        "pendant {span} s.\nEssayez : /search broadcom   /latest   /sources   /help   (/quit pour sortir)\n"
    ),
}


def demo_settings(site: DemoSite, folder: Path, lang: str) -> Settings:
    """Build the demo's settings through the same validation as a config file."""
    return parse_settings(
        {
            "storage": {"path": str(folder / "veille-demo.db")},
            "fetch": {"allow_private_addresses": True, "timeout": 10},
            "feeds": [{"url": f.url, "name": f.name, "interval": DEMO_POLL_INTERVAL} for f in site.feeds()],
            "subscriptions": [{"chat": "console:console", "query": DEMO_QUERY}],
            "entities": DEMO_ENTITIES,
            "console": {"enabled": True, "lang": lang},
        },
        source_path="(demo)",
    )


async def run_demo(lang: str = "en", stdin: TextIO | None = None, stdout: TextIO | None = None,
                   speed: float = 1.0) -> int:
    """Run the demo until /quit, end of input (after the last scheduled story), or Ctrl-C."""
    io = ConsoleIO(stdin, stdout)
    interactive = bool(getattr(io.stdin, "isatty", lambda: False)())
    stop = stop_on_signals()
    with tempfile.TemporaryDirectory(prefix="veille-demo-") as folder:
        async with DemoSite(speed=speed) as site:
            schedule = site.release_schedule()
            span = int(schedule[-1][0]) + 1 if schedule else 0
            settings = demo_settings(site, Path(folder), lang)
            banner = BANNER[lang].format(url=site.base_url, span=span)

            async def linger() -> None:
                if interactive:
                    return  # a person typed /quit or Ctrl-D: leave now
                # Piped input: let the remaining stories arrive, be polled and alerted.
                remaining = span - site.elapsed() + 3 * 2.0
                if remaining > 0:
                    await asyncio.sleep(remaining)
                await app.sender.drain_once()

            async with App(settings, console_io=io, console_banner=banner) as app:
                # Store the backlog before the chat opens, so the first /search already has answers.
                first = await app.ingest_once()
                print(f"backlog: {first.line()}", file=sys.stderr)
                await app.run(stop, announce=lambda line: print(line, file=sys.stderr),
                              after_console_closed=linger)
    return 0
