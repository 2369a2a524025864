"""DemoSite: serve the sample outlets on 127.0.0.1, releasing items over time, with conditional GET.

Run `python -m bot.demo_site.server --port 8080` to browse it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from aiohttp import web

from bot.demo_site import DemoSiteError, ServeError
from bot.demo_site.content import Comment, DemoArticle, DemoContent, Outlet, load_content
from bot.demo_site.render import (
    CONTENT_TYPES,
    PlacedArticle,
    audio_bytes,
    cover_png,
    render_article_page,
    render_feed,
    render_index,
    render_outlet_home,
)

# Request headers kept in request_log: the ones tests and the fetcher care about.
LOGGED_HEADERS = ("If-None-Match", "If-Modified-Since", "User-Agent", "Accept", "Accept-Encoding")
RELATED_LINKS = 4


@dataclass(frozen=True, slots=True)
class DemoFeed:
    """One outlet's feed as a subscriber would add it."""

    name: str
    url: str
    lang: str
    outlet: str = ""
    format: str = ""


class LoggedRequest(NamedTuple):
    """One request the site answered: method, path, the LOGGED_HEADERS it carried, and the status sent."""

    method: str
    path: str
    headers: dict[str, str]
    status: int


class DemoSite:
    """The sample news site: an async context manager serving every outlet's feed and pages.

    Items with `release_after_s` > 0 appear once `clock() * speed` reaches that many seconds;
    `clock` returns seconds since the site started (real monotonic time unless one is injected).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
        speed: float = 1.0,
        start_time: datetime | None = None,
        content: DemoContent | None = None,
        content_dir: Path | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        if start_time is not None and start_time.tzinfo is None:
            raise ValueError("start_time must be timezone-aware (UTC)")
        self._host = host
        self._port = port
        self._clock = clock
        self._speed = float(speed)
        self._start_time = start_time
        self._content = content if content is not None else load_content(content_dir)
        self._all_released = False
        self._t0 = 0.0
        self._runner: web.AppRunner | None = None
        self._base_url = ""
        self.request_log: list[LoggedRequest] = []

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> DemoSite:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind the port and start serving; raise ServeError if the address cannot be used."""
        if self._runner is not None:
            return
        self._t0 = time.monotonic()
        # Whole seconds, so HTTP dates (second resolution) and ISO dates agree exactly.
        now = self._start_time or datetime.now(UTC)
        self._start_time = now.astimezone(UTC).replace(microsecond=0)
        runner = web.AppRunner(self._build_app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ServeError(f"{self._host}:{self._port}", f"cannot listen ({exc.strerror or exc})") from exc
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop serving and free the port."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # -- public view -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Return `http://host:port` of the running site (no trailing slash)."""
        if not self._base_url:
            raise ServeError(f"{self._host}:{self._port}", "not started: use `async with DemoSite()`")
        return self._base_url

    @property
    def articles(self) -> tuple[DemoArticle, ...]:
        """Return every article in the content, released or not, with its story label."""
        return self._content.articles

    @property
    def content(self) -> DemoContent:
        """Return the loaded content (outlets, stories with their themes, articles)."""
        return self._content

    @property
    def start_time(self) -> datetime:
        """Return the wall-clock moment the site counts as "now" at start (UTC, whole seconds)."""
        if self._start_time is None:
            raise ServeError(f"{self._host}:{self._port}", "not started")
        return self._start_time

    def feeds(self) -> list[DemoFeed]:
        """Return one DemoFeed per outlet, in content order."""
        return [
            DemoFeed(o.name, self.base_url + o.feed_path, o.lang, o.id, o.format)
            for o in self._content.outlets.values()
        ]

    def stories(self) -> dict[str, list[str]]:
        """Return story label -> ids of the articles that report it (released or not)."""
        return {label: ids for label, ids in self._content.story_map().items() if ids}

    def release_all(self) -> None:
        """Make every item visible now (for tests)."""
        self._all_released = True

    def elapsed(self) -> float:
        """Return the site's clock: seconds since start, before the speed factor."""
        if self._clock is not None:
            return self._clock()
        return time.monotonic() - self._t0 if self._runner is not None else 0.0

    def is_released(self, article: DemoArticle | str) -> bool:
        """Return True when the item is visible in feeds and pages right now."""
        if isinstance(article, str):
            article = self._content.article(article)
        if self._all_released or article.release_after_s <= 0:
            return True
        return self.elapsed() * self._speed >= article.release_after_s

    def released(self, outlet: str | None = None) -> list[DemoArticle]:
        """Return the visible items (of one outlet if given), newest first."""
        found = [
            a
            for a in self._content.articles
            if (outlet is None or a.outlet == outlet) and self.is_released(a)
        ]
        return sorted(found, key=lambda a: (self.published(a), a.id), reverse=True)

    def release_schedule(self) -> list[tuple[float, str]]:
        """Return (clock seconds, article id) for every item that appears after start, soonest first."""
        later = [(a.release_after_s / self._speed, a.id) for a in self._content.articles if not a.in_backlog]
        return sorted(later)

    def published(self, article: DemoArticle | str) -> datetime:
        """Return the item's publication date: backlog offsets from start, later items when they appear."""
        if isinstance(article, str):
            article = self._content.article(article)
        if article.in_backlog:
            return self.start_time + timedelta(hours=article.published_h or 0.0)
        return self.start_time + timedelta(seconds=article.release_after_s / self._speed)

    def article_url(self, article: DemoArticle | str) -> str:
        """Return the URL of the item's HTML page."""
        article_id = article if isinstance(article, str) else article.id
        outlet = self._content.article(article_id).outlet
        return f"{self.base_url}/{outlet}/articles/{article_id}.html"

    def validators(self, outlet: str) -> tuple[str, datetime]:
        """Return the (strong ETag, Last-Modified) the outlet's feed carries right now."""
        items = self.released(outlet)
        key = "|".join([self._content.digest, outlet, self.start_time.isoformat(), repr(self._speed)])
        key += "|" + ",".join(sorted(a.id for a in items))
        etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:24] + '"'
        last_modified = max((self.published(a) for a in items), default=self.start_time)
        return etag, last_modified

    # -- HTTP --------------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._logging_middleware()])
        app.router.add_get("/", self._index)
        for outlet in self._content.outlets.values():
            app.router.add_get(outlet.feed_path, self._feed_handler(outlet))
            app.router.add_get(f"/{outlet.id}/", self._home_handler(outlet))
            app.router.add_get(f"/{outlet.id}", self._redirect_handler(f"/{outlet.id}/"))
            app.router.add_get(f"/{outlet.id}/articles/{{article_id}}.html", self._article_handler(outlet))
            if outlet.format == "podcast":
                app.router.add_get(f"/{outlet.id}/audio/{{article_id}}.mp3", self._audio_handler(outlet))
                app.router.add_get(f"/{outlet.id}/cover.png", self._cover)
        return app

    def _logging_middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def log_requests(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            headers = {name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers}
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                self.request_log.append(LoggedRequest(request.method, request.path, headers, exc.status))
                raise
            except Exception:
                self.request_log.append(LoggedRequest(request.method, request.path, headers, 500))
                raise
            self.request_log.append(LoggedRequest(request.method, request.path, headers, response.status))
            return response

        return log_requests

    def _placed(self, articles: Sequence[DemoArticle]) -> list[PlacedArticle]:
        return [PlacedArticle(a, self.article_url(a), self.published(a)) for a in articles]

    async def _index(self, request: web.Request) -> web.Response:
        html = render_index(list(self._content.outlets.values()), self.base_url)
        return web.Response(text=html, content_type="text/html", charset="utf-8")

    def _feed_handler(self, outlet: Outlet) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def feed(request: web.Request) -> web.Response:
            etag, last_modified = self.validators(outlet.id)
            headers = {
                "ETag": etag,
                # format_datetime, not strftime: HTTP dates must not follow the process locale.
                "Last-Modified": format_datetime(last_modified, usegmt=True),
                "Cache-Control": "no-cache",
            }
            if _not_modified(request, etag, last_modified):
                return web.Response(status=304, headers=headers)
            body = render_feed(outlet, self._placed(self.released(outlet.id)), self.base_url, last_modified)
            headers["Content-Type"] = f"{CONTENT_TYPES[outlet.format]}; charset=utf-8"
            return web.Response(body=body, headers=headers)

        return feed

    def _home_handler(self, outlet: Outlet) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def home(request: web.Request) -> web.Response:
            html = render_outlet_home(outlet, self._placed(self.released(outlet.id)), self.base_url)
            return web.Response(text=html, content_type="text/html", charset="utf-8")

        return home

    def _redirect_handler(self, location: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def redirect(request: web.Request) -> web.Response:
            raise web.HTTPMovedPermanently(location)

        return redirect

    def _visible(self, outlet: Outlet, request: web.Request) -> DemoArticle:
        article_id = request.match_info["article_id"]
        try:
            article = self._content.article(article_id)
        except KeyError:
            raise web.HTTPNotFound(text=f"no article {article_id!r}") from None
        # Unreleased items must not leak through their page before they reach the feed.
        if article.outlet != outlet.id or not self.is_released(article):
            raise web.HTTPNotFound(text=f"no article {article_id!r}")
        return article

    def _article_handler(self, outlet: Outlet) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def page(request: web.Request) -> web.Response:
            article = self._visible(outlet, request)
            related = [a for a in self.released(outlet.id) if a.id != article.id][:RELATED_LINKS]
            html = render_article_page(
                outlet,
                PlacedArticle(article, self.article_url(article), self.published(article)),
                self._placed(related),
                self._comments_for(outlet, article),
                self.base_url,
            )
            return web.Response(text=html, content_type="text/html", charset="utf-8")

        return page

    def _comments_for(self, outlet: Outlet, article: DemoArticle) -> list[Comment]:
        pool = self._content.comments.get(outlet.id, ())
        if not outlet.comments or not pool:
            return []
        # Stable per article, so pages are identical across requests and runs.
        seed = int(hashlib.sha256(article.id.encode()).hexdigest(), 16)
        count = 2 + seed % 2
        return [pool[(seed // 7 + i * 3) % len(pool)] for i in range(min(count, len(pool)))]

    def _audio_handler(self, outlet: Outlet) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def audio(request: web.Request) -> web.Response:
            article = self._visible(outlet, request)
            return web.Response(body=audio_bytes(article), content_type="audio/mpeg")

        return audio

    async def _cover(self, request: web.Request) -> web.Response:
        return web.Response(body=cover_png(), content_type="image/png")


def _not_modified(request: web.Request, etag: str, last_modified: datetime) -> bool:
    """Return True when the request's validators show the client already has this representation."""
    # RFC 9110 13.2.2: If-None-Match wins over If-Modified-Since when both are sent.
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [tag.strip() for tag in if_none_match.split(",")]
        return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)
    since = request.if_modified_since
    return since is not None and last_modified.replace(microsecond=0) <= since


async def _serve(host: str, port: int, speed: float, release_all: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with DemoSite(host=host, port=port, speed=speed) as site:
        if release_all:
            site.release_all()
        print(f"Veille demo site: {site.base_url}/", flush=True)
        for feed in site.feeds():
            print(f"  {feed.name} ({feed.lang}): {feed.url}", flush=True)
        schedule = site.release_schedule()
        if schedule and not release_all:
            print(
                f"  {len(schedule)} items arrive within {schedule[-1][0]:.0f} s. Ctrl-C to stop.", flush=True
            )
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the demo site until Ctrl-C; return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m bot.demo_site.server", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--speed", type=float, default=1.0, help="release later items this many times faster")
    parser.add_argument("--release-all", action="store_true", help="show every item from the start")
    args = parser.parse_args(argv)
    if not args.speed > 0:
        parser.error("--speed must be > 0")
    try:
        asyncio.run(_serve(args.host, args.port, args.speed, args.release_all))
    except DemoSiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
