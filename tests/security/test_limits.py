"""Size and time: bombs, trickles, loops and endless bodies are cut with a clear reason, memory bounded."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
import zlib

import pytest
from aiohttp import web

from bot import USER_AGENT
from bot.config import FetchSettings
from bot.ingest.fetch import BadResponse, Fetcher, FetchTimeout, TooLarge, TooManyRedirects
from tests.ingest.conftest import LocalServer

MB = 1024 * 1024


def limits(**overrides: object) -> FetchSettings:
    base: dict[str, object] = {
        "allow_private_addresses": True,  # the hostile servers are on 127.0.0.1; the guard is tested elsewhere
        "connect_timeout_s": 1.0,
        "total_timeout_s": 5.0,
        "max_bytes": MB,
        "max_redirects": 5,
    }
    base.update(overrides)
    return FetchSettings(**base)  # type: ignore[arg-type]


def deflate_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9)
    block = b"\0" * MB
    out = [compressor.compress(block) for _ in range(size // MB)]
    return b"".join(out) + compressor.flush()


@pytest.mark.parametrize(
    "encoding, bomb",
    [
        ("gzip", lambda: gzip.compress(b"\0" * (48 * MB), compresslevel=9)),
        ("x-gzip", lambda: gzip.compress(b"<" * (32 * MB), compresslevel=9)),
        ("deflate", lambda: deflate_bomb(96 * MB)),
        ("deflate", lambda: deflate_bomb(32 * MB)[2:-4]),  # raw deflate, no zlib header
    ],
)
async def test_decompression_bombs_are_cut_at_the_cap(web_server: LocalServer, encoding: str, bomb) -> None:  # type: ignore[no-untyped-def]
    body = bomb()
    assert len(body) < MB  # small on the wire: only decompression reveals it

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Encoding": encoding, "Content-Type": "application/rss+xml"})

    web_server.add("/bomb", handler)
    tracemalloc.start()
    try:
        async with Fetcher(limits(), USER_AGENT) as fetcher:
            with pytest.raises(TooLarge) as err:
                await fetcher.fetch(web_server.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.reason == "body over 1 MB cap after decompression"
    # The inflated size is 32-96 MB; what was held stays a small multiple of the 1 MB cap.
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB"


async def test_stacked_encodings_and_unknown_ones_are_refused(web_server: LocalServer) -> None:
    async def br(request: web.Request) -> web.Response:
        return web.Response(body=b"xx", headers={"Content-Encoding": "br"})

    async def stacked(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(gzip.compress(b"a" * 100)), headers={"Content-Encoding": "gzip, gzip"})

    web_server.add("/br", br)
    web_server.add("/stacked", stacked)
    async with Fetcher(limits(), USER_AGENT) as fetcher:
        for path in ("/br", "/stacked"):
            with pytest.raises(BadResponse, match="unsupported content encoding"):
                await fetcher.fetch(web_server.url(path))


async def test_corrupt_gzip_is_a_clear_error(web_server: LocalServer) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(body=b"\x1f\x8b\x08\x00garbage" * 10, headers={"Content-Encoding": "gzip"})

    web_server.add("/broken", broken)
    async with Fetcher(limits(), USER_AGENT) as fetcher:
        with pytest.raises(BadResponse, match="cannot decompress gzip body"):
            await fetcher.fetch(web_server.url("/broken"))


async def test_one_byte_per_second_trickle_is_cut_by_the_total_timeout(web_server: LocalServer) -> None:
    wrote = 0

    async def trickle(request: web.Request) -> web.StreamResponse:
        nonlocal wrote
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        try:
            for byte in b"<rss><channel>" * 100:
                await resp.write(bytes([byte]))
                wrote += 1
                await asyncio.sleep(1.0)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    web_server.add("/trickle", trickle)
    async with Fetcher(limits(total_timeout_s=1.5), USER_AGENT) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchTimeout) as err:
            await fetcher.fetch(web_server.url("/trickle"))
        took = time.monotonic() - started
    assert err.value.reason == "timed out after 1.5s"
    assert wrote <= 3
    assert took < 5  # generous: the point is that a slow server cannot hold a poll for 100 s


async def test_headers_that_never_come_are_cut_too(web_server: LocalServer) -> None:
    async def silent_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 200 OK\r\n")  # and then nothing: no more headers, ever
        await writer.drain()
        await asyncio.sleep(10)
        writer.close()

    server = await asyncio.start_server(silent_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with Fetcher(limits(total_timeout_s=1.0), USER_AGENT) as fetcher:
            with pytest.raises(FetchTimeout, match="timed out after 1s"):
                await fetcher.fetch(f"http://127.0.0.1:{port}/")
    finally:
        server.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_loops_are_cut(web_server: LocalServer, status: int) -> None:
    async def to_self(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": str(request.url)})

    async def ping(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": "/pong?x=1"})

    async def pong(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": web_server.url("/ping")})

    web_server.add("/self", to_self)
    web_server.add("/ping", ping)
    web_server.add("/pong", pong)
    async with Fetcher(limits(), USER_AGENT) as fetcher:
        for path in ("/self", "/ping"):
            with pytest.raises(TooManyRedirects, match="redirect loop"):
                await fetcher.fetch(web_server.url(path))
    assert len(web_server.requests) <= 4


async def test_endless_redirect_chain_stops_at_max_redirects(web_server: LocalServer) -> None:
    async def onward(request: web.Request) -> web.Response:
        n = int(request.query.get("n", "0"))
        return web.Response(status=302, headers={"Location": f"/onward?n={n + 1}"})

    web_server.add("/onward", onward)
    async with Fetcher(limits(max_redirects=3), USER_AGENT) as fetcher:
        with pytest.raises(TooManyRedirects, match="more than 3 redirects"):
            await fetcher.fetch(web_server.url("/onward"))
    assert len(web_server.requests) == 4


@pytest.mark.parametrize("declared", [False, True])
async def test_endless_body_memory_stays_bounded(web_server: LocalServer, declared: bool) -> None:
    """A 50 MB endless (chunked, or lying about its length) response against a 1 MB cap."""
    total = 50 * MB
    sent = 0
    done = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        if declared:
            resp.content_length = 1000  # claims to be small
        await resp.prepare(request)
        block = b"<item>" + b"x" * 65530
        try:
            while sent < total:
                await resp.write(block)
                sent += len(block)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            done.set()
        return resp

    web_server.add("/endless", endless)
    tracemalloc.start()
    try:
        async with Fetcher(limits(), USER_AGENT) as fetcher:
            if declared:
                # A server that lies about its length gets exactly what it declared read, and no more.
                result = await fetcher.fetch(web_server.url("/endless"))
                assert len(result.body) == 1000
            else:
                with pytest.raises(TooLarge) as err:
                    await fetcher.fetch(web_server.url("/endless"))
                assert err.value.reason == "body over 1 MB cap"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if not declared:
        await asyncio.wait_for(done.wait(), 10)
        assert sent < total // 2
    # Server and client share this process, so the peak counts both sides' buffers: still a few MB, not 50.
    assert peak < 12 * MB, f"peak {peak / MB:.1f} MB"
