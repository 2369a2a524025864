"""The Telegram webhook front end: an aiohttp server, in the bot's event loop, that receives updates.

Telegram POSTs each update to the public https URL of a reverse proxy, which forwards it to one of several
Veille processes (each its own port, the same path and secret). This module knows HTTP, not the SDK: it hands
a checked JSON object to `accept`, which the Telegram adapter turns into a PTB Update on its update queue.

    POST <path>  X-Telegram-Bot-Api-Secret-Token: <secret>  {"update_id": 7, ...}
        wrong or missing secret        403, nothing read or processed
        body over max_body bytes       413
        not JSON, not an update        400, logged
        update_id seen lately here     200, not processed again (Telegram retries any non-2xx or timeout)
        otherwise                      200 at once; handlers run on PTB's own concurrency, as with polling
    GET <path>/healthz                 200 {"status": "ok"} for the proxy's health checks (no secret needed)

Errors:

    WebhookError      start() could not listen (port taken, bad address)
    InvalidUpdate     raised by `accept` for a JSON object that is not an Update: answered 400
"""

from __future__ import annotations

import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Updates are a few kilobytes; anything this large is not from Telegram.
DEFAULT_MAX_BODY = 1024 * 1024
# Telegram retries an update for a while, not forever: the last ten thousand ids cover many minutes of traffic.
DEFAULT_DEDUP_SIZE = 10_000


class WebhookError(Exception):
    """The webhook server could not start: `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidUpdate(ValueError):
    """A well-formed JSON object that is still not a Telegram Update."""


@dataclass
class WebhookStats:
    """What the server answered, by kind (for logs, metrics and tests)."""

    accepted: int = 0
    duplicates: int = 0
    forbidden: int = 0
    bad_requests: int = 0


class RecentIds:
    """A bounded set of the latest update ids: remembers `size` ids, forgets the oldest first."""

    def __init__(self, size: int = DEFAULT_DEDUP_SIZE) -> None:
        self._size = max(1, size)
        self._ids: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, update_id: object) -> bool:
        return update_id in self._ids

    def discard(self, update_id: int) -> None:
        """Forget an id (its update was refused, so a corrected retry may come)."""
        self._ids.pop(update_id, None)

    def add(self, update_id: int) -> bool:
        """Remember an id; return False when it was already remembered."""
        if update_id in self._ids:
            self._ids.move_to_end(update_id)
            return False
        self._ids[update_id] = None
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


class WebhookServer:
    """Serve Telegram's webhook POSTs on listen:port + path and hand each new update to `accept`."""

    def __init__(
        self,
        *,
        listen: str,
        port: int,
        path: str,
        secret_token: str,
        accept: Callable[[dict[str, Any]], Awaitable[None]],
        max_body: int = DEFAULT_MAX_BODY,
        dedup_size: int = DEFAULT_DEDUP_SIZE,
        logger: logging.Logger | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise WebhookError(f"the webhook path must start with /, got {path!r}")
        if not secret_token:
            raise WebhookError("a webhook needs a secret token")
        self.listen = listen
        self.port = port
        self.path = path.rstrip("/") or "/"
        self._secret = secret_token.encode("utf-8")
        self._accept = accept
        self._max_body = max_body
        self._seen = RecentIds(dedup_size)
        self._log = logger or logging.getLogger(__name__)
        self._runner: web.AppRunner | None = None
        self.stats = WebhookStats()

    def __repr__(self) -> str:
        return f"WebhookServer({self.listen}:{self.port}{self.path})"  # never the secret

    async def start(self) -> None:
        """Listen on listen:port (port 0: any free one, then `port` says which)."""
        # aiohttp's own limit is set above ours so that our check answers first, with our message.
        app = web.Application(client_max_size=self._max_body + 1)
        app.router.add_post(self.path, self._on_post)
        health = self.path.rstrip("/") + "/healthz" if self.path != "/" else "/healthz"
        app.router.add_get(health, self._on_health)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.listen, self.port)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise WebhookError(f"cannot listen on {self.listen}:{self.port}: {exc.strerror or exc}") from exc
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening; requests in flight get a short grace."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def running(self) -> bool:
        """Tell whether the server listens."""
        return self._runner is not None

    async def _on_health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _on_post(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self._secret):
            # Checked before the body is read: an unauthenticated caller costs us nothing more.
            self.stats.forbidden += 1
            self._log.warning("telegram webhook: request from %s without the right secret token: 403", request.remote)
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > self._max_body:
            return self._bad(request, 413, f"body of {request.content_length} bytes is over {self._max_body}")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._bad(request, 413, f"body over {self._max_body} bytes")
        if len(body) > self._max_body:
            return self._bad(request, 413, f"body over {self._max_body} bytes")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._bad(request, 400, f"body is not JSON ({exc})")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return self._bad(request, 400, "body is not an Update (no integer update_id)")
        # Remembered before handing over, so a retry arriving meanwhile is not processed twice.
        if not self._seen.add(update_id):
            # A retry (Telegram did not get our answer in time) or a proxy replay: answered once already.
            self.stats.duplicates += 1
            self._log.info("telegram webhook: update %d already received here; not processed again", update_id)
            return web.Response(status=200)
        try:
            await self._accept(data)
        except InvalidUpdate as exc:
            self._seen.discard(update_id)
            return self._bad(request, 400, f"update {update_id} is not a valid Update ({exc})")
        self.stats.accepted += 1
        return web.Response(status=200)

    def _bad(self, request: web.Request, status: int, reason: str) -> web.Response:
        self.stats.bad_requests += 1
        self._log.warning("telegram webhook: request from %s refused with %d: %s", request.remote, status, reason)
        return web.Response(status=status, text=reason[:200])
