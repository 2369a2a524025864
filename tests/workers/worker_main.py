"""One worker process for tests/workers: `python -m tests.workers.worker_main CONFIG.json OWNER CHAT_URL`.

It is the real App (store, pipeline, search index, sender) run by bot.workers.run_worker; alerts go to a
fake chat service on 127.0.0.1 through a minimal platform that speaks HTTP, as an adapter would.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from bot.app import App, stop_on_signals
from bot.config import parse_settings
from bot.delivery.errors import TransientError
from bot.messages import AlertMessage, Reply
from bot.models import ChatRef
from bot.workers import run_worker


class HttpChat:
    """A chat platform whose service is the test's fake chat server."""

    name = "console"

    def __init__(self, url: str, owner: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.owner = owner
        self.session = session

    async def start(self, router: object) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def _post(self, path: str, payload: dict[str, str]) -> str:
        try:
            async with self.session.post(f"{self.url}{path}", json={**payload, "owner": self.owner}) as response:
                if response.status != 200:
                    raise TransientError(payload["chat"], f"HTTP {response.status}")
                return str((await response.json())["message_id"])
        except aiohttp.ClientError as exc:
            raise TransientError(payload["chat"], str(exc)) from exc

    async def send_alert(self, alert: AlertMessage) -> str:
        return await self._post("/send", {"chat": str(alert.chat), "title": alert.card.title})

    async def edit_alert(self, alert: AlertMessage, message_id: str) -> None:
        await self._post("/edit", {"chat": str(alert.chat), "title": alert.card.title, "message_id": message_id})

    async def send_reply(self, chat: ChatRef, reply: Reply) -> str:
        return await self._post("/reply", {"chat": str(chat), "title": ""})


async def main(config_path: str, owner: str, chat_url: str) -> None:
    with open(config_path, encoding="utf-8") as handle:
        settings = parse_settings(json.load(handle))
    stop = stop_on_signals()
    async with aiohttp.ClientSession() as session, App(settings) as app:
        app.sender.platforms["console"] = HttpChat(chat_url, owner, session)
        print("ready", flush=True)
        await run_worker(app, stop, owner=owner, lease_s=4.0, batch=25, idle_s=0.2, index_every_s=0.5)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
