"""A tiny round-robin reverse proxy on 127.0.0.1 (aiohttp), standing in for nginx or Caddy in front of
several webhook front ends.

Each request goes to the next backend in turn, with its path, query, headers and body unchanged; a backend
that refuses the connection is skipped for the next one (nginx's `proxy_next_upstream error`), and 502 is
answered when none is up. `forwarded` records (backend index, path, status) for every request.

    proxy = RoundRobinProxy(["http://127.0.0.1:8001"])
    await proxy.start(); proxy.url  ->  http://127.0.0.1:<port>
    proxy.backends.append("http://127.0.0.1:8002")    # backends may join later
    await proxy.stop()
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

# Hop-by-hop headers are the proxy's own business and are not forwarded (RFC 9110 section 7.6.1).
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


class RoundRobinProxy:
    """Forward every request to the backends in turn."""

    def __init__(self, backends: list[str] | None = None) -> None:
        # A list the test may extend once its backends know their ports.
        self.backends = [b.rstrip("/") for b in backends or []]
        self.forwarded: list[tuple[int, str, int]] = []
        self._turn = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Return the proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close the listener and the client connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["X-Forwarded-For"] = request.remote or ""
        for _ in range(len(self.backends)):
            index = self._turn % len(self.backends)
            self._turn += 1
            try:
                async with self._session.request(
                    request.method, self.backends[index] + request.path_qs, data=body, headers=headers
                ) as response:
                    payload = await response.read()
                    self.forwarded.append((index, request.path, response.status))
                    return web.Response(
                        status=response.status, body=payload, content_type=response.content_type or None
                    )
            except aiohttp.ClientConnectionError:
                continue  # this backend is down: the next one gets the request
        self.forwarded.append((-1, request.path, 502))
        return web.Response(status=502, text="no backend answered")
