"""The demo site over real HTTP on 127.0.0.1: feeds, release over time, conditional GET, pages, CLI."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import fastfeedparser
import feedparser
import pytest
import trafilatura
from multidict import CIMultiDict

from bot.demo_site import ServeError
from bot.demo_site.content import DemoContent
from bot.demo_site.render import DISCLAIMER
from bot.demo_site.server import DemoSite
from tests.demo_site.conftest import START, FakeClock

REPO = Path(__file__).resolve().parents[2]


async def fetch(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with http.get(url, headers=headers, allow_redirects=False) as response:
        return response.status, response.headers.copy(), await response.read()


def parse(fmt: str, body: bytes) -> Any:
    """Parse XML feeds with feedparser; JSON Feed (which feedparser 6.0 lacks) with fastfeedparser."""
    if fmt == "jsonfeed":
        return fastfeedparser.parse(body)
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def released_ids(site: DemoSite, outlet: str) -> set[str]:
    return {a.id for a in site.articles if a.outlet == outlet and site.is_released(a)}


def url_to_id(site: DemoSite) -> dict[str, str]:
    return {site.article_url(a): a.id for a in site.articles}


async def test_feeds_lists_one_feed_per_outlet(site: DemoSite, content: DemoContent) -> None:
    feeds = site.feeds()
    assert [f.outlet for f in feeds] == list(content.outlets)
    assert all(f.url.startswith(site.base_url + "/") for f in feeds)
    assert {f.lang for f in feeds} == {"fr", "en"}
    assert site.base_url.startswith("http://127.0.0.1:")


async def test_every_feed_parses_and_holds_exactly_the_released_items(
    site: DemoSite, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    links = url_to_id(site)
    for moment in (0.0, 13.0, 41.0):
        clock.now = moment
        for feed in site.feeds():
            status, _headers, body = await fetch(http, feed.url)
            assert status == 200
            parsed = parse(feed.format, body)
            got = [links[entry.link] for entry in parsed.entries]
            assert len(got) == len(set(got))
            assert set(got) == released_ids(site, feed.outlet), (moment, feed.outlet)
            # fastfeedparser is what ingest uses: it must agree with feedparser on the XML feeds.
            assert len(fastfeedparser.parse(body).entries) == len(got)


async def test_items_appear_only_after_their_release_time(
    site: DemoSite, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    ledger = next(f for f in site.feeds() if f.outlet == "ledger")
    page = site.article_url("l-broadcom-switch")

    clock.now = 4.9
    _status, _headers, body = await fetch(http, ledger.url)
    assert page not in {e.link for e in parse(ledger.format, body).entries}
    assert (await fetch(http, page))[0] == 404

    clock.now = 5.0
    _status, _headers, body = await fetch(http, ledger.url)
    assert page in {e.link for e in parse(ledger.format, body).entries}
    assert (await fetch(http, page))[0] == 200


async def test_speed_factor_shortens_the_wait(
    clock: FakeClock, content: DemoContent, http: aiohttp.ClientSession
) -> None:
    async with DemoSite(clock=clock, speed=10, start_time=START, content=content) as fast:
        clock.now = 1.1
        assert fast.is_released("q-eu-pilot")  # release_after_s 8
        assert not fast.is_released("p-broadcom-switch")  # release_after_s 12
        assert fast.published("q-eu-pilot") == START + timedelta(seconds=0.8)
        assert fast.release_schedule()[0] == (0.5, "l-broadcom-switch")
    with pytest.raises(ValueError, match="speed"):
        DemoSite(speed=0, content=content)


async def test_conditional_get_answers_304_until_the_item_set_changes(
    site: DemoSite, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    ledger = next(f for f in site.feeds() if f.outlet == "ledger")
    status, headers, _body = await fetch(http, ledger.url)
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag.startswith('"') and not etag.startswith("W/")

    status, again, body = await fetch(http, ledger.url, **{"If-None-Match": etag})
    assert (status, body, again["ETag"]) == (304, b"", etag)
    status, _again, body = await fetch(http, ledger.url, **{"If-Modified-Since": last_modified})
    assert (status, body) == (304, b"")

    clock.now = 6.0  # l-broadcom-switch is released at 5 s
    status, changed, body = await fetch(http, ledger.url, **{"If-None-Match": etag})
    assert status == 200 and body
    assert changed["ETag"] != etag
    assert parsedate_to_datetime(changed["Last-Modified"]) > parsedate_to_datetime(last_modified)
    status, _changed, _body = await fetch(http, ledger.url, **{"If-Modified-Since": last_modified})
    assert status == 200
    status, _changed, _body = await fetch(http, ledger.url, **{"If-None-Match": changed["ETag"]})
    assert status == 304

    logged = [
        (r.headers.get("If-None-Match"), r.status) for r in site.request_log if r.path == "/ledger/atom.xml"
    ]
    assert logged[:3] == [(None, 200), (etag, 304), (None, 304)]
    assert (etag, 200) in logged


async def test_validators_change_only_for_outlets_whose_items_changed(
    site: DemoSite, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    before = {f.outlet: (await fetch(http, f.url))[1]["ETag"] for f in site.feeds()}
    clock.now = 6.0  # only Silicon Ledger gains an item between 0 s and 6 s
    after = {f.outlet: (await fetch(http, f.url))[1]["ETag"] for f in site.feeds()}
    assert {o for o in before if before[o] != after[o]} == {"ledger"}


async def test_if_none_match_wins_and_weak_or_listed_tags_match(
    site: DemoSite, http: aiohttp.ClientSession
) -> None:
    feed = site.feeds()[0]
    _status, headers, _body = await fetch(http, feed.url)
    etag = headers["ETag"]
    future = format_datetime(START + timedelta(days=30), usegmt=True)
    status, _h, _b = await fetch(http, feed.url, **{"If-None-Match": '"other"', "If-Modified-Since": future})
    assert status == 200
    assert (await fetch(http, feed.url, **{"If-None-Match": f'"x", W/{etag}'}))[0] == 304
    assert (await fetch(http, feed.url, **{"If-None-Match": "*"}))[0] == 304
    assert (await fetch(http, feed.url, **{"If-Modified-Since": "not a date"}))[0] == 200


async def test_article_pages_carry_the_body_inside_the_boilerplate(
    site: DemoSite, http: aiohttp.ClientSession, content: DemoContent
) -> None:
    site.release_all()
    for article in site.articles:
        status, headers, body = await fetch(http, site.article_url(article))
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        page = body.decode()
        assert f'<html lang="{article.lang}">' in page
        assert f'<h1 class="headline">{escape(article.title)}</h1>' in page
        for paragraph in article.paragraphs:
            assert f"<p>{escape(paragraph, quote=False)}</p>" in page, article.id
        assert DISCLAIMER in page
        outlet = content.outlets[article.outlet]
        assert ("cookie-banner" in page) == outlet.cookie_banner
        assert ('class="comments"' in page) == outlet.comments
        assert ("Read more" if outlet.lang == "en" else "À lire aussi") in page
    ledger = (await fetch(http, site.article_url("l-rain-ai")))[2].decode()
    assert "&lt; 1 W" in ledger and "< 1 W" not in ledger


async def test_trafilatura_finds_the_body_and_drops_the_boilerplate(
    site: DemoSite, http: aiohttp.ClientSession
) -> None:
    site.release_all()
    for article in site.articles:
        page = (await fetch(http, site.article_url(article)))[2].decode()
        text = trafilatura.extract(page, include_comments=False) or ""
        assert all(paragraph in text for paragraph in article.paragraphs), article.id
        for boilerplate in ("cookies", "Read more", "À lire aussi", DISCLAIMER, "Subscribe now"):
            assert boilerplate not in text, (article.id, boilerplate)


async def test_unreleased_and_unknown_pages_are_404(site: DemoSite, http: aiohttp.ClientSession) -> None:
    assert (await fetch(http, site.article_url("b-eu-pilot")))[0] == 404
    assert (await fetch(http, f"{site.base_url}/ledger/articles/nope.html"))[0] == 404
    # An article id under another outlet's path is not a page either.
    assert (await fetch(http, f"{site.base_url}/quotidien/articles/l-rain-ai.html"))[0] == 404


async def test_podcast_feed_has_enclosures_that_download(site: DemoSite, http: aiohttp.ClientSession) -> None:
    site.release_all()
    podcast = next(f for f in site.feeds() if f.format == "podcast")
    parsed = parse(podcast.format, (await fetch(http, podcast.url))[2])
    assert (parsed.feed.itunes_type, parsed.feed.author) == ("episodic", "The Gate Count")
    assert len(parsed.entries) == 3
    for entry in parsed.entries:
        (enclosure,) = entry.enclosures
        assert enclosure.type == "audio/mpeg"
        status, headers, audio = await fetch(http, enclosure.href)
        assert status == 200 and headers["Content-Type"] == "audio/mpeg"
        assert len(audio) == int(enclosure.length) and audio.startswith(b"ID3")
        assert entry.itunes_duration.count(":") == 2
        assert "Learn more about your ad choices" in entry.summary
    cover = parsed.feed.image.href
    status, _headers, png = await fetch(http, cover)
    assert status == 200 and png.startswith(b"\x89PNG")


async def test_atom_teasers_are_one_line_and_the_page_has_the_rest(
    site: DemoSite, http: aiohttp.ClientSession
) -> None:
    ledger = next(f for f in site.feeds() if f.format == "atom-teaser")
    parsed = parse(ledger.format, (await fetch(http, ledger.url))[2])
    assert parsed.entries
    links = url_to_id(site)
    for entry in parsed.entries:
        article = site.content.article(links[entry.link])
        assert entry.summary.endswith("…") and "\n" not in entry.summary
        assert len(entry.summary) < len(article.paragraphs[0]) + 1
        assert "content" not in entry
        page = (await fetch(http, entry.link))[2].decode()
        assert escape(article.paragraphs[-1], quote=False) in page


async def test_full_text_feeds_carry_every_paragraph(site: DemoSite, http: aiohttp.ClientSession) -> None:
    site.release_all()
    links = url_to_id(site)
    for feed in site.feeds():
        if feed.format not in {"rss", "atom-full", "jsonfeed", "rss-full"}:
            continue
        parsed = parse(feed.format, (await fetch(http, feed.url))[2])
        for entry in parsed.entries:
            html = entry.content[0]["value"] if "content" in entry else entry.summary
            article = site.content.article(links[entry.link])
            for paragraph in article.paragraphs:
                assert escape(paragraph, quote=False) in html, (feed.outlet, article.id)


async def test_wire_copies_add_an_intro_and_their_own_footer(
    site: DemoSite, http: aiohttp.ClientSession
) -> None:
    relay = next(f for f in site.feeds() if f.outlet == "relay")
    parsed = parse(relay.format, (await fetch(http, relay.url))[2])
    assert parsed.entries
    for entry in parsed.entries:
        assert "(NewsRelay)" in entry.summary
        assert "Distributed by NewsRelay Wire" in entry.summary
        assert entry.id.startswith("urn:relay:")


async def test_tricky_titles_survive_both_parsers_exactly(
    site: DemoSite, http: aiohttp.ClientSession
) -> None:
    site.release_all()
    links = url_to_id(site)
    seen = 0
    for feed in site.feeds():
        body = (await fetch(http, feed.url))[2]
        for parser in (parse(feed.format, body), fastfeedparser.parse(body)):
            for entry in parser.entries:
                assert entry.title == site.content.article(links[entry.link]).title
                seen += 1
    assert seen == 2 * len(site.articles)


async def test_published_dates_follow_the_start_time(site: DemoSite, http: aiohttp.ClientSession) -> None:
    site.release_all()
    quotidien = next(f for f in site.feeds() if f.outlet == "quotidien")
    parsed = parse(quotidien.format, (await fetch(http, quotidien.url))[2])
    dates = {entry.link: parsedate_to_datetime(entry.published) for entry in parsed.entries}
    assert dates[site.article_url("q-openai-broadcom")] == START - timedelta(hours=20)
    assert dates[site.article_url("q-eu-pilot")] == START + timedelta(seconds=8)
    assert list(dates.values()) == sorted(dates.values(), reverse=True)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alternates: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and found.get("rel") == "alternate":
            self.alternates[found.get("href") or ""] = found.get("type") or ""


async def test_index_and_outlet_pages_advertise_the_feeds(
    site: DemoSite, http: aiohttp.ClientSession
) -> None:
    parser = _Links()
    status, _headers, body = await fetch(http, site.base_url + "/")
    parser.feed(body.decode())
    assert status == 200
    assert set(parser.alternates) == {f.url for f in site.feeds()}
    assert parser.alternates[next(f.url for f in site.feeds() if f.format == "jsonfeed")] == (
        "application/feed+json"
    )
    for feed in site.feeds():
        home = _Links()
        status, _headers, body = await fetch(http, f"{site.base_url}/{feed.outlet}/")
        home.feed(body.decode())
        assert status == 200 and set(home.alternates) == {feed.url}
    assert (await fetch(http, f"{site.base_url}/ledger"))[0] == 301


async def test_stories_and_release_all(site: DemoSite, http: aiohttp.ClientSession) -> None:
    groups = site.stories()
    assert sorted(i for ids in groups.values() for i in ids) == sorted(a.id for a in site.articles)
    assert "g-openai-broadcom" in groups["openai-broadcom-asic"]
    assert not site.is_released("b-eu-pilot")
    site.release_all()
    assert all(site.is_released(a) for a in site.articles)
    assert len(site.released()) == len(site.articles)


async def test_head_requests_and_request_log(site: DemoSite, http: aiohttp.ClientSession) -> None:
    feed = site.feeds()[0]
    async with http.head(feed.url, headers={"User-Agent": "VeilleTest/1"}) as response:
        assert response.status == 200 and response.headers["ETag"]
    entry = site.request_log[-1]
    assert (entry.method, entry.path, entry.status) == ("HEAD", "/quotidien/rss.xml", 200)
    assert entry.headers["User-Agent"] == "VeilleTest/1"


async def test_lifecycle_errors_are_typed(content: DemoContent) -> None:
    idle = DemoSite(content=content)
    with pytest.raises(ServeError, match="not started"):
        _ = idle.base_url
    async with DemoSite(content=content) as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        with pytest.raises(ServeError, match="cannot listen"):
            async with DemoSite(port=port, content=content):
                pass


async def test_entry_point_serves_until_interrupted(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.demo_site.server",
        "--port",
        "0",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert first.startswith("Veille demo site: http://127.0.0.1:")
        base = first.split(": ", 1)[1].strip()
        async with aiohttp.ClientSession() as http:
            status, _headers, body = await fetch(http, base)
            assert status == 200 and DISCLAIMER in body.decode()
            status, _headers, body = await fetch(http, base + "puces/feed.json")
            assert status == 200 and json.loads(body)["version"] == "https://jsonfeed.org/version/1.1"
        process.send_signal(signal.SIGINT)
        _out, err = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0
        assert b"Traceback" not in err
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
