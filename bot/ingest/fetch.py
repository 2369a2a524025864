"""Fetch feeds and article pages over HTTP: conditional GET, hard limits, a guarded network.

One aiohttp ClientSession serves every fetch (aiohttp costs a fraction of httpx's CPU per request here).
Redirects are followed by hand so each hop passes the network guard; bodies are read in chunks and
decompressed by hand so the byte cap holds after decompression too (a gzip bomb is cut, not inflated).

Errors (every one carries `url` and a short human `reason`):

    FetchError(url, reason)         base: the URL could not be fetched
    ├── HTTPStatusError             the server answered an error status (`status`, `retry_after`)
    ├── FetchTimeout                connect or total timeout passed
    ├── TooLarge                    the body (declared or decompressed) passed the byte cap
    ├── TooManyRedirects            more hops than allowed, or a redirect loop
    ├── BlockedAddress              the network guard refused the URL or what its host resolves to
    ├── ConnectionFailed            DNS failure, refused or dropped connection
    └── BadResponse                 not HTTP, bad compression, or not the kind of document asked for
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from bot.config import FetchSettings
from bot.ingest.netguard import GuardedResolver, GuardRefusal, IPNetwork, check_url

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_CHARSET_HEADER = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_CHARSET_META = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)


class FetchError(Exception):
    """A URL could not be fetched; `reason` says why in a short sentence."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int, retry_after: str | None = None) -> None:
        super().__init__(url, f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class FetchTimeout(FetchError):
    """The connection or the whole fetch took longer than allowed."""


class TooLarge(FetchError):
    """The body passed the byte cap."""


class TooManyRedirects(FetchError):
    """The redirect chain was too long or went round in a loop."""


class BlockedAddress(FetchError):
    """The network guard refused the URL or an address its host resolves to."""


class ConnectionFailed(FetchError):
    """The host could not be resolved or reached, or it dropped the connection."""


class BadResponse(FetchError):
    """The server's answer could not be read as what was asked for."""


@dataclass(slots=True)
class FetchResult:
    """What one fetch brought back; `not_modified` is true on a 304, with an empty body."""

    url: str
    final_url: str
    status: int
    body: bytes
    not_modified: bool
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    retry_after: str | None = None

    @property
    def charset(self) -> str | None:
        """Return the charset named in the Content-Type header, if any."""
        match = _CHARSET_HEADER.search(self.content_type or "")
        return match.group(1) if match else None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


class _Decoder:
    """Inflate a gzip or deflate body incrementally without ever holding more than the cap."""

    def __init__(self, encoding: str, cap: int) -> None:
        self._cap = cap
        self._raw_deflate = False
        self._encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._obj: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            self._obj = None
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """Return up to `room + 1` decompressed bytes of `data` (one more than room signals overflow)."""
        if self._obj is None:
            return data
        if self._encoding == "deflate" and not self._started:
            self._started = True
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate streams.
            zlib_header = len(data) >= 2 and (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            if not zlib_header:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        out = bytearray()
        pending = data
        while True:
            out += self._obj.decompress(pending, room + 1 - len(out))
            if len(out) > room:
                break
            pending = self._obj.unconsumed_tail
            if not pending:
                break
        return bytes(out)

    def finish(self, room: int) -> bytes:
        """Return whatever the decompressor still holds, bounded like `feed`."""
        if self._obj is None:
            return b""
        return self._obj.flush(room + 1) if room >= 0 else b""


class Fetcher:
    """Fetches URLs over one shared aiohttp session with the limits from FetchSettings."""

    def __init__(
        self,
        settings: FetchSettings,
        user_agent: str,
        *,
        resolver: AbstractResolver | None = None,
        exempt_networks: Sequence[IPNetwork] = (),
    ) -> None:
        """Keep the settings; `resolver` replaces system DNS, `exempt_networks` pass the network guard."""
        self._settings = settings
        self._exempt = tuple(exempt_networks)
        self._user_agent = user_agent
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, tuple[asyncio.Semaphore, int]] = {}

    async def __aenter__(self) -> Fetcher:
        """Open the shared session."""
        resolver: AbstractResolver | None = self._inner_resolver
        if not self._settings.allow_private_addresses:
            resolver = GuardedResolver(resolver, self._exempt)
        connector = aiohttp.TCPConnector(
            # Our own semaphores gate requests before the clock starts, so the pool never makes one wait.
            limit=0,
            limit_per_host=0,
            resolver=resolver,
            ttl_dns_cache=300,
        )
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self._settings.connect_timeout_s,
            sock_connect=self._settings.connect_timeout_s,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,
            headers={"User-Agent": self._user_agent, "Accept-Encoding": "gzip, deflate"},
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        self._global = asyncio.Semaphore(self._settings.concurrency)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the shared session."""
        await self.close()

    async def close(self) -> None:
        """Close the session and its connections; safe to call twice."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch a feed URL with a conditional GET; raise a FetchError subclass on any failure."""
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self._fetch(url, headers)

    async def fetch_page(self, url: str) -> str:
        """Fetch an HTML page and return its text decoded by header charset, meta charset, else UTF-8."""
        result = await self._fetch(url, {"Accept": PAGE_ACCEPT})
        kind = (result.content_type or "").split(";", 1)[0].strip().lower()
        if kind and "html" not in kind and not kind.startswith("text/"):
            raise BadResponse(url, f"not an HTML page ({kind})")
        return decode_html(result.body, result.charset)

    async def _fetch(self, url: str, headers: dict[str, str]) -> FetchResult:
        if self._session is None or self._global is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        total = self._settings.total_timeout_s
        async with self._global:
            try:
                async with asyncio.timeout(total):
                    return await self._follow(url, headers)
            except TimeoutError:
                raise FetchTimeout(url, f"timed out after {total:g}s") from None

    async def _follow(self, url: str, headers: dict[str, str]) -> FetchResult:
        current = url
        seen = {url}
        for _hop in range(self._settings.max_redirects + 1):
            self._guard(url, current)
            async with self._host_slot(current), self._request(url, current, headers) as resp:
                location = resp.headers.get("Location")
                if resp.status in _REDIRECT_STATUSES and location:
                    try:
                        target = urljoin(current, location.strip())
                    except ValueError:
                        raise BadResponse(url, f"bad redirect location {location!r}") from None
                    if target in seen:
                        raise TooManyRedirects(url, f"redirect loop back to {target}")
                    seen.add(target)
                    current = target
                    continue
                return await self._result(url, current, resp)
        raise TooManyRedirects(url, f"more than {self._settings.max_redirects} redirects")

    def _guard(self, url: str, current: str) -> None:
        try:
            check_url(current, allow_private=self._settings.allow_private_addresses, exempt=self._exempt)
        except GuardRefusal as exc:
            where = "" if current == url else f" (redirect to {current})"
            raise BlockedAddress(url, f"{exc.reason}{where}") from None

    @asynccontextmanager
    async def _host_slot(self, current: str) -> AsyncIterator[None]:
        host = (urlsplit(current).hostname or "").lower()
        sem, users = self._hosts.get(host, (None, 0))
        if sem is None:
            sem = asyncio.Semaphore(self._settings.per_host)
        self._hosts[host] = (sem, users + 1)
        try:
            async with sem:
                yield
        finally:
            sem, users = self._hosts[host]
            # Forget idle hosts so a long run over many feeds does not keep one semaphore per host forever.
            if users <= 1:
                del self._hosts[host]
            else:
                self._hosts[host] = (sem, users - 1)

    @asynccontextmanager
    async def _request(
        self, url: str, current: str, headers: dict[str, str]
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        assert self._session is not None
        try:
            async with self._session.get(current, headers=headers, allow_redirects=False) as resp:
                yield resp
        except FetchError:
            raise
        except aiohttp.ClientConnectorDNSError as exc:
            if isinstance(exc.os_error, GuardRefusal):
                where = "" if current == url else f" (redirect to {current})"
                raise BlockedAddress(url, f"{exc.os_error.reason}{where}") from None
            raise ConnectionFailed(url, f"cannot resolve host {exc.host}") from None
        except aiohttp.ConnectionTimeoutError:
            raise FetchTimeout(
                url, f"could not connect within {self._settings.connect_timeout_s:g}s"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise ConnectionFailed(url, f"cannot connect to {exc.host}:{exc.port} ({exc.strerror})") from None
        except aiohttp.ServerDisconnectedError:
            raise ConnectionFailed(url, "server closed the connection") from None
        except aiohttp.ClientPayloadError as exc:
            raise BadResponse(url, f"broken body ({exc})") from None
        except aiohttp.ClientResponseError as exc:
            raise BadResponse(url, f"not a valid HTTP response ({exc.message})") from None
        except aiohttp.InvalidURL:
            raise BadResponse(url, "invalid URL") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise ConnectionFailed(url, f"connection failed ({type(exc).__name__})") from None

    async def _result(self, url: str, current: str, resp: aiohttp.ClientResponse) -> FetchResult:
        h = resp.headers
        common = {
            "etag": h.get("ETag"),
            "last_modified": h.get("Last-Modified"),
            "content_type": h.get("Content-Type"),
            "cache_control": h.get("Cache-Control"),
            "expires": h.get("Expires"),
            "retry_after": h.get("Retry-After"),
        }
        if resp.status == 304:
            return FetchResult(url, current, 304, b"", True, **common)
        if not 200 <= resp.status < 300:
            raise HTTPStatusError(url, resp.status, h.get("Retry-After"))
        body = await self._read_body(url, resp)
        return FetchResult(url, current, resp.status, body, False, **common)

    async def _read_body(self, url: str, resp: aiohttp.ClientResponse) -> bytes:
        cap = self._settings.max_bytes
        too_large = f"body over {_mb(cap)} cap"
        if resp.content_length is not None and resp.content_length > cap:
            raise TooLarge(url, f"{too_large} (declared {resp.content_length} bytes)")
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
            raise BadResponse(url, f"unsupported content encoding {encoding!r}")
        decoder = _Decoder(encoding, cap)
        out = bytearray()
        raw_read = 0
        try:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                raw_read += len(chunk)
                if raw_read > cap:
                    raise TooLarge(url, too_large)
                out += decoder.feed(chunk, cap - len(out))
                if len(out) > cap:
                    raise TooLarge(url, f"{too_large} after decompression")
            out += decoder.finish(cap - len(out))
        except zlib.error as exc:
            raise BadResponse(url, f"cannot decompress {encoding} body ({exc})") from None
        except aiohttp.ClientPayloadError as exc:
            raise BadResponse(url, f"broken body ({exc})") from None
        except (aiohttp.ClientConnectionError, OSError):
            raise ConnectionFailed(url, "connection dropped while reading the body") from None
        if len(out) > cap:
            raise TooLarge(url, f"{too_large} after decompression")
        return bytes(out)


def decode_html(body: bytes, charset: str | None = None) -> str:
    """Decode an HTML body by the given charset, else its meta charset, else UTF-8 with replacement."""
    for candidate in (charset, _meta_charset(body)):
        if candidate:
            try:
                return body.decode(candidate, errors="replace")
            except LookupError:
                continue
    return body.decode("utf-8", errors="replace")


def _meta_charset(body: bytes) -> str | None:
    match = _CHARSET_META.search(body[:4096])
    return match.group(1).decode("ascii", "replace") if match else None
