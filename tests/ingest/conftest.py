"""A real aiohttp.web server on 127.0.0.1 for fetch tests, with routes added per test.

Use the `web_server` fixture: `web_server.add("/feed", handler)` then `web_server.url("/feed")`;
`web_server.requests` records (path, headers) of every request the server saw.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SeenRequest:
    path: str
    headers: CIMultiDictProxy[str]


@dataclass
class LocalServer:
    """Routes added by tests, served by one aiohttp runner bound to an ephemeral port."""

    port: int = 0
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)

    def add(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def seen(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(SeenRequest(request.path, request.headers))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="no such route")
        return await handler(request)


async def start_server(server: LocalServer) -> web.AppRunner:
    """Start `server` on 127.0.0.1 and fill in its port."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.dispatch)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    return runner


@pytest.fixture
async def web_server() -> AsyncIterator[LocalServer]:
    server = LocalServer()
    runner = await start_server(server)
    try:
        yield server
    finally:
        await runner.cleanup()
