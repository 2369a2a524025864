"""The `veille` command end to end, as a user runs it: a real process, real feeds on 127.0.0.1.

The bundled demo site serves healthy feeds; a second local server serves the broken ones (500, too slow,
garbage, 50 MB). Nothing here touches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from bot.demo_site.server import DemoSite
from tests.ingest.conftest import LocalServer, start_server

VEILLE = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    code: int
    out: str
    err: str


async def veille(*args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """Run the veille command line in a child process while this loop keeps serving the feeds."""
    proc = await asyncio.create_subprocess_exec(
        *VEILLE, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT, env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    return Result(proc.returncode or 0, out.decode(), err.decode())


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="<rss/>")


async def _error(request: web.Request) -> web.Response:
    return web.Response(status=500, text="boom")


async def _garbage(request: web.Request) -> web.Response:
    return web.Response(body=bytes(range(256)) * 40, content_type="application/octet-stream")


async def _huge(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
    await response.prepare(request)
    chunk = b"<item><title>x</title></item>" * 2000
    try:
        for _ in range(50 * 1024 * 1024 // len(chunk)):
            await response.write(chunk)
    except (ConnectionResetError, RuntimeError):
        pass  # the client hung up at its cap, as it should
    return response


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[DemoSite, LocalServer, Path]]:
    broken = LocalServer()
    for path, handler in {"/500": _error, "/slow": _slow, "/garbage": _garbage, "/huge": _huge}.items():
        broken.add(path, handler)
    runner = await start_server(broken)
    async with DemoSite() as site:
        site.release_all()
        config = {
            "storage": {"path": str(tmp_path / "veille.db")},
            "fetch": {"allow_private_addresses": True, "timeout": 1.5, "max_bytes": 1_048_576},
            "feeds": [{"url": f.url, "name": f.name, "interval": "1s"} for f in site.feeds()]
            + [{"url": broken.url(p), "name": f"broken{p}"} for p in ("/500", "/slow", "/garbage", "/huge")],
            "entities": {"Broadcom": ["Broadcom", "AVGO"], "Nvidia": ["Nvidia", "NVDA"]},
        }
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        yield site, broken, path
    await runner.cleanup()


async def test_ingest_search_and_conditional_refetch(world: tuple[DemoSite, LocalServer, Path]) -> None:
    site, _broken, config = world
    healthy = len(site.feeds())

    first = await veille("--config", str(config), "ingest", "--once")
    assert first.code == 0, first.err
    assert f"feeds: {healthy} ok, 4 failed" in first.out
    new = int(first.out.split("articles: ")[1].split(" new")[0])
    assert new >= 30
    for reason in ("HTTP 500", "timed out", "cap"):
        assert reason in first.err, (reason, first.err)
    assert "broken/garbage" in first.err
    assert "Traceback" not in first.err

    # The teaser-only outlet's articles were completed from their pages: the whole body, none of the page's
    # navigation, cookie banner, related links or comments.
    with sqlite3.connect(config.parent / "veille.db") as db:
        ledger = db.execute("SELECT text FROM articles WHERE source = 'Silicon Ledger'").fetchall()
    assert ledger
    released = {a.id: a for a in site.articles if a.outlet == "ledger"}
    for (text,) in ledger:
        body = next((a.text for a in released.values() if a.text.split("\n")[0][:80] in text), None)
        assert body is not None, f"full text missing: {text[:120]!r}"
        assert len(text) >= 0.9 * len(body)
        for boilerplate in ("cookie", "Cookie", "Read more", "Leave a comment"):
            assert boilerplate not in text

    validators_before = len([r for r in site.request_log if "If-None-Match" in r.headers])
    second = await veille("--config", str(config), "ingest", "--once")
    assert second.code == 0
    assert "articles: 0 new" in second.out
    conditional = [r for r in site.request_log if "If-None-Match" in r.headers or "If-Modified-Since" in r.headers]
    assert len(conditional) - validators_before >= healthy
    assert sum(1 for r in site.request_log[-healthy * 3:] if r.status == 304) >= healthy

    found = await veille("--config", str(config), "search", "broadcom", "--json", "--limit", "5")
    assert found.code == 0, found.err
    rows = json.loads(found.out)
    assert 1 <= len(rows) <= 5
    assert "broadcom" in (rows[0]["title"] + rows[0]["summary"] + rows[0]["snippet"]).lower()
    for row in rows:
        assert {"title", "url", "source", "published", "lang", "summary", "snippet", "score", "story_id"} <= set(row)
        assert row["published"][:4].isdigit() and "T" in row["published"]
        assert row["lang"] in ("fr", "en")
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)

    accents = await veille("--config", str(config), "search", "reseau", "--json")
    assert accents.code == 0


@pytest.mark.parametrize("query", ['"broadcom AND (', "", "   ", ")))((( OR AND -", 'source:"'])
async def test_bad_queries_get_a_message_not_a_traceback(world: tuple[DemoSite, LocalServer, Path], query: str) -> None:
    _site, _broken, config = world
    result = await veille("--config", str(config), "search", query, "--json")
    assert result.code == 2
    assert "Traceback" not in result.err + result.out
    assert result.err.strip(), "a bad query must be explained"


async def test_config_problems_are_listed_with_exit_code_2(tmp_path: Path) -> None:
    missing = await veille("--config", str(tmp_path / "nope.yaml"), "check-config")
    assert missing.code == 2 and "no such config file" in missing.err and "Traceback" not in missing.err
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds:\n  - url: ftp://x\n  - url: https://ok.example/rss\n    interval: soon\n", encoding="utf-8")
    result = await veille("--config", str(bad), "check-config")
    assert result.code == 2
    assert "feeds[0].url: not an http(s) URL" in result.err
    assert "feeds[1].interval" in result.err
    env_config = await veille("check-config", env={"VEILLE_CONFIG": str(bad)})
    assert env_config.code == 2 and "feeds[0].url" in env_config.err


async def test_private_addresses_are_refused_unless_allowed(tmp_path: Path) -> None:
    async with DemoSite() as site:
        config = tmp_path / "c.yaml"
        config.write_text(
            yaml.safe_dump({"storage": {"path": str(tmp_path / "v.db")},
                            "feeds": [{"url": site.feeds()[0].url, "name": "local"}]}),
            encoding="utf-8",
        )
        result = await veille("--config", str(config), "ingest", "--once")
    assert result.code == 0
    assert "0 ok, 1 failed" in result.out
    assert "private" in result.err.lower() or "loopback" in result.err.lower()


async def test_summarize_reads_stdin_text_and_jsonl() -> None:
    text = (
        "Nvidia a publié mercredi un chiffre d'affaires record de 57 milliards de dollars. "
        "La demande en puces pour centres de données reste très forte, selon le groupe. "
        "Cet épisode vous est présenté par notre partenaire. Abonnez-vous à notre newsletter !"
    )
    plain = await veille("summarize", "--lang", "fr", stdin=text)
    assert plain.code == 0 and "57 milliards" in plain.out
    assert "newsletter" not in plain.out and "présenté par" not in plain.out

    lines = [json.dumps({"id": 1, "text": text}), "not json", json.dumps({"id": "b", "text": ""})]
    batch = await veille("summarize", "--jsonl", stdin="\n".join(lines) + "\n")
    rows = [json.loads(line) for line in batch.out.splitlines()]
    assert [row["id"] for row in rows if "id" in row][:1] == [1]
    assert "57 milliards" in rows[0]["summary"]
    assert len(rows) == 3 and "error" in rows[1]
    assert rows[2] == {"id": "b", "summary": ""}
    assert "Traceback" not in batch.err
