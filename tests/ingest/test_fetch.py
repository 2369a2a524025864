"""Fetcher against a real aiohttp.web server on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot import USER_AGENT
from bot.config import FetchSettings
from bot.ingest.fetch import (
    BadResponse,
    ConnectionFailed,
    Fetcher,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooLarge,
    TooManyRedirects,
    decode_html,
)

from .conftest import LocalServer

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


def settings(**overrides: object) -> FetchSettings:
    base: dict[str, object] = {
        "allow_private_addresses": True,
        "connect_timeout_s": 1.0,
        "total_timeout_s": 5.0,
        "max_bytes": 1024 * 1024,
        "max_redirects": 5,
    }
    base.update(overrides)
    return FetchSettings(**base)  # type: ignore[arg-type]


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(settings(), USER_AGENT) as f:
        yield f


async def test_etag_then_304_with_conditional_headers(web_server: LocalServer, fetcher: Fetcher) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=FEED, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    web_server.add("/feed", handler)
    first = await fetcher.fetch(web_server.url("/feed"))
    assert first.status == 200 and first.body == FEED and not first.not_modified
    assert first.etag == '"v1"'
    assert first.content_type is not None and first.content_type.startswith("application/rss+xml")

    second = await fetcher.fetch(web_server.url("/feed"), etag=first.etag)
    assert second.not_modified and second.status == 304 and second.body == b""
    seen = web_server.seen("/feed")
    assert "If-None-Match" not in seen[0].headers
    assert seen[1].headers["If-None-Match"] == '"v1"'
    assert seen[1].headers["User-Agent"] == USER_AGENT
    assert "gzip" in seen[1].headers["Accept-Encoding"]


async def test_last_modified_conditional(web_server: LocalServer, fetcher: Fetcher) -> None:
    stamp = "Wed, 11 Jun 2025 08:00:00 GMT"

    async def handler(request: web.Request) -> web.Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return web.Response(status=304)
        return web.Response(
            body=FEED, headers={"Last-Modified": stamp, "Cache-Control": "max-age=600", "Expires": "never"}
        )

    web_server.add("/lm", handler)
    first = await fetcher.fetch(web_server.url("/lm"))
    assert first.last_modified == stamp and first.cache_control == "max-age=600" and first.expires == "never"
    second = await fetcher.fetch(web_server.url("/lm"), last_modified=first.last_modified)
    assert second.not_modified
    assert web_server.seen("/lm")[1].headers["If-Modified-Since"] == stamp


@pytest.mark.parametrize(
    "encoding, compress",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
    ],
)
async def test_compressed_bodies(web_server: LocalServer, fetcher: Fetcher, encoding: str, compress) -> None:  # type: ignore[no-untyped-def]
    payload = FEED * 200

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=compress(payload), headers={"Content-Encoding": encoding})

    web_server.add("/z", handler)
    result = await fetcher.fetch(web_server.url("/z"))
    assert result.body == payload


async def test_server_error_and_retry_after(web_server: LocalServer, fetcher: Fetcher) -> None:
    async def boom(request: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "120"})

    web_server.add("/500", boom)
    web_server.add("/429", busy)
    with pytest.raises(HTTPStatusError) as err:
        await fetcher.fetch(web_server.url("/500"))
    assert err.value.status == 500 and err.value.reason == "HTTP 500"
    assert err.value.url == web_server.url("/500")
    with pytest.raises(HTTPStatusError) as err:
        await fetcher.fetch(web_server.url("/429"))
    assert err.value.status == 429 and err.value.retry_after == "120"


async def test_total_timeout(web_server: LocalServer) -> None:
    async def sleepy(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(body=FEED)

    web_server.add("/slow", sleepy)
    async with Fetcher(settings(total_timeout_s=0.5), USER_AGENT) as f:
        with pytest.raises(FetchTimeout) as err:
            await f.fetch(web_server.url("/slow"))
    assert err.value.reason == "timed out after 0.5s"


async def test_slow_trickle_is_cut_by_total_timeout(web_server: LocalServer) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"<")
            await asyncio.sleep(0.05)
        return resp

    web_server.add("/trickle", trickle)
    async with Fetcher(settings(total_timeout_s=0.5), USER_AGENT) as f:
        with pytest.raises(FetchTimeout):
            await f.fetch(web_server.url("/trickle"))


async def test_huge_body_is_cut_without_reading_it_all(web_server: LocalServer) -> None:
    total = 50 * 1024 * 1024
    sent = 0
    finished = asyncio.Event()

    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        resp = web.StreamResponse()  # chunked, no Content-Length: the cap must hold while streaming
        await resp.prepare(request)
        block = b"x" * 65536
        try:
            while sent < total:
                await resp.write(block)
                sent += len(block)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            finished.set()
        return resp

    web_server.add("/huge", huge)
    async with Fetcher(settings(max_bytes=1024 * 1024), USER_AGENT) as f:
        with pytest.raises(TooLarge) as err:
            await f.fetch(web_server.url("/huge"))
    assert err.value.reason == "body over 1 MB cap"
    await asyncio.wait_for(finished.wait(), 5)
    assert sent < total // 2


async def test_declared_length_over_cap_is_refused_before_reading(web_server: LocalServer) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"y" * (2 * 1024 * 1024))

    web_server.add("/big", big)
    async with Fetcher(settings(max_bytes=1024 * 1024), USER_AGENT) as f:
        with pytest.raises(TooLarge) as err:
            await f.fetch(web_server.url("/big"))
    assert "declared 2097152 bytes" in err.value.reason


async def test_gzip_bomb_is_cut_after_decompression(web_server: LocalServer) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024  # the compressed body itself is under the cap

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    web_server.add("/bomb", handler)
    async with Fetcher(settings(max_bytes=1024 * 1024), USER_AGENT) as f:
        with pytest.raises(TooLarge) as err:
            await f.fetch(web_server.url("/bomb"))
    assert err.value.reason == "body over 1 MB cap after decompression"


def add_chain(server: LocalServer, length: int) -> None:
    """Add /r0 -> /r1 -> ... -> /r{length} where the last one serves the feed."""

    def hop(i: int):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.Response:
            if i == length:
                return web.Response(body=FEED)
            # Relative Location on purpose: the fetcher must resolve it against the current hop.
            return web.Response(status=302 if i % 2 else 301, headers={"Location": f"/r{i + 1}"})

        return handler

    for i in range(length + 1):
        server.add(f"/r{i}", hop(i))


async def test_three_redirects_are_followed(web_server: LocalServer, fetcher: Fetcher) -> None:
    add_chain(web_server, 3)
    result = await fetcher.fetch(web_server.url("/r0"), etag='"e"')
    assert result.body == FEED
    assert result.final_url == web_server.url("/r3") and result.url == web_server.url("/r0")
    # Conditional headers travel with every hop: the resource is the same, only its address moved.
    assert web_server.seen("/r3")[0].headers["If-None-Match"] == '"e"'


async def test_six_redirects_are_refused(web_server: LocalServer, fetcher: Fetcher) -> None:
    add_chain(web_server, 6)
    with pytest.raises(TooManyRedirects) as err:
        await fetcher.fetch(web_server.url("/r0"))
    assert err.value.reason == "more than 5 redirects"
    assert not web_server.seen("/r6")


async def test_redirect_loop(web_server: LocalServer, fetcher: Fetcher) -> None:
    async def a(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": web_server.url("/b")})

    async def b(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/a"})

    web_server.add("/a", a)
    web_server.add("/b", b)
    with pytest.raises(TooManyRedirects) as err:
        await fetcher.fetch(web_server.url("/a"))
    assert "loop" in err.value.reason


async def test_garbage_bytes_from_server(fetcher: Fetcher) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"\x00\xff\x13garbage that is not HTTP at all\r\n\r\n\x89PNG")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises((BadResponse, ConnectionFailed)) as err:
            await fetcher.fetch(f"http://127.0.0.1:{port}/")
    finally:
        server.close()
        await server.wait_closed()
    assert err.value.reason


async def test_connection_refused(fetcher: Fetcher) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(ConnectionFailed) as err:
        await fetcher.fetch(f"http://127.0.0.1:{port}/feed")
    assert err.value.reason.startswith("cannot connect to 127.0.0.1")


async def test_errors_share_one_base(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError) as err:
        await fetcher.fetch("ftp://example.com/feed")
    assert "http" in err.value.reason


async def test_per_host_and_global_limits(web_server: LocalServer) -> None:
    active = 0
    peak = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return web.Response(body=FEED)

    web_server.add("/c", handler)
    async with Fetcher(settings(per_host=2, concurrency=10), USER_AGENT) as f:
        await asyncio.gather(*(f.fetch(web_server.url("/c")) for _ in range(6)))
    assert peak == 2
    peak = 0
    async with Fetcher(settings(per_host=10, concurrency=3), USER_AGENT) as f:
        await asyncio.gather(*(f.fetch(web_server.url("/c")) for _ in range(8)))
    assert peak == 3


@pytest.mark.parametrize(
    "content_type, body, expected",
    [
        ("text/html; charset=iso-8859-1", "<p>Caf\u00e9</p>".encode("latin-1"), "Caf\u00e9"),
        (
            "text/html",
            '<meta charset="windows-1252"><p>\u2013 Caf\u00e9</p>'.encode("cp1252"),
            "\u2013 Caf\u00e9",
        ),
        ("text/html", "<p>Caf\u00e9</p>".encode(), "Caf\u00e9"),
        ("text/html", b"<p>Caf\xe9 \xff</p>", "Caf\ufffd"),
    ],
)
async def test_fetch_page_decodes(
    web_server: LocalServer, fetcher: Fetcher, content_type: str, body: bytes, expected: str
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": content_type})

    web_server.add("/page", handler)
    text = await fetcher.fetch_page(web_server.url("/page"))
    assert expected in text
    assert web_server.seen("/page")[0].headers["Accept"].startswith("text/html")


async def test_fetch_page_refuses_non_html(web_server: LocalServer, fetcher: Fetcher) -> None:
    async def pdf(request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.7", headers={"Content-Type": "application/pdf"})

    web_server.add("/doc.pdf", pdf)
    with pytest.raises(BadResponse) as err:
        await fetcher.fetch_page(web_server.url("/doc.pdf"))
    assert err.value.reason == "not an HTML page (application/pdf)"


def test_decode_html_unknown_charset_falls_back() -> None:
    assert decode_html("é".encode(), "no-such-charset") == "é"


async def test_fetch_outside_context_manager_is_a_clear_error() -> None:
    f = Fetcher(settings(), USER_AGENT)
    with pytest.raises(RuntimeError, match="async with"):
        await f.fetch("http://127.0.0.1:1/")
