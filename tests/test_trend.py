"""/trend and `veille trend`: counting per day from the search index, a real PNG opened and checked,
the chat command through the real Router, clear messages for bad input."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.image import imread

from bot.charts import COLOURS, DPI, HEIGHT_IN, WIDTH_IN, render_trend_png
from bot.cli import EXIT_BAD_INPUT, EXIT_OK, main
from bot.config import parse_settings
from bot.messages import Reply, Request
from bot.models import Article, ChatRef
from bot.search.index import SearchIndex
from bot.search.service import SearchService
from bot.search.trend import MAX_NAMES, TrendInputError, compute_trend, split_names
from bot.store.sqlite import SQLiteStore
from handlers.context import HandlerContext
from handlers.i18n import t
from handlers.router import Router

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
TODAY = datetime(2026, 11, 10, tzinfo=UTC)
CHAT = ChatRef("telegram", "7")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ENTITIES = {"Mistral AI": ("Mistral",), "Broadcom": ("AVGO",)}

# (days ago, title, text, watchlist entities): what each name's daily counts must come out as.
ARTICLES = [
    (0, "Broadcom ships a switch", "The new chip is fast.", ["Broadcom"]),
    (0, "AVGO shares climb", "Investors liked the quarter.", []),  # alias only: counts for Broadcom
    (1, "Chips everywhere", "Broadcom and Nvidia compete.", []),  # plain mention in the text
    (3, "Nvidia results", "Nvidia beat expectations.", []),
    (3, "Mistral raises money", "The Paris start-up grows.", []),  # alias of Mistral AI
    (5, "Mistral AI opens an office", "Mistral AI hires.", ["Mistral AI"]),
    (40, "Broadcom long ago", "Old news about Broadcom.", ["Broadcom"]),  # outside 30 days
]


def _store_articles(store: SQLiteStore) -> None:
    for n, (days_ago, title, text, entities) in enumerate(ARTICLES):
        article = Article(
            key=f"t{n}", url=f"https://example.test/t{n}", title=title, text=text, source="Reuters",
            published=NOW - timedelta(days=days_ago, hours=1), lang="en", entities=entities, content_hash=f"c{n}",
        )  # fmt: skip
        assert store.add_article(article, new_story_title=title) is not None


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SearchService]:
    store = SQLiteStore(tmp_path / "veille.db")
    _store_articles(store)
    index = SearchIndex.open(None)
    search = SearchService(store, index)
    search.catch_up()
    yield search
    index.close()
    store.close()


@pytest.fixture
def router(service: SearchService) -> Router:
    settings = parse_settings({"entities": {k: list(v) for k, v in ENTITIES.items()}})
    store = service._store  # the same store the service reads
    return Router(HandlerContext(store=store, search=service, settings=settings, clock=lambda: NOW))  # type: ignore[arg-type]


def png_size(data: bytes) -> tuple[int, int]:
    """Read width and height from the IHDR chunk, checking its CRC."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16:29]
    assert struct.unpack(">I", data[29:33])[0] == zlib.crc32(kind + body)
    width, height = struct.unpack(">II", body[:8])
    return width, height


def colours_present(data: bytes) -> set[str]:
    """Return which of the chart's series colours appear as exact pixels in the decoded image."""
    rgb = (imread(BytesIO(data), format="png")[:, :, :3] * 255).round().astype(np.int64)
    packed = np.unique((rgb[:, :, 0] << 16) | (rgb[:, :, 1] << 8) | rgb[:, :, 2])
    return {c for c in COLOURS if np.isin(int(c[1:], 16), packed)}


def test_split_names_quotes_commas_and_since() -> None:
    assert split_names('broadcom "Mistral AI" since:7d') == (["broadcom", "Mistral AI"], "7d")
    assert split_names("mistral ai, open ai") == (["mistral ai", "open ai"], None)
    assert split_names("“Rain AI” nvidia") == (["Rain AI", "nvidia"], None)
    assert split_names('"unclosed name') == (["unclosed name"], None)


def test_counts_per_day_from_entities_aliases_and_plain_words(service: SearchService) -> None:
    trend = compute_trend(service, "broadcom nvidia mistral ai since:5d", entities=ENTITIES, now=NOW)
    assert trend.days[0] == TODAY - timedelta(days=5) and trend.days[-1] == TODAY
    assert len(trend.days) == 6
    by_name = {s.name: s.counts for s in trend.series}
    assert list(by_name) == ["Broadcom", "nvidia", "Mistral AI"]  # watchlist names take their configured spelling
    assert by_name["Broadcom"] == [0, 0, 0, 0, 1, 2]
    assert by_name["nvidia"] == [0, 0, 1, 0, 1, 0]
    assert by_name["Mistral AI"] == [1, 0, 1, 0, 0, 0]


def test_default_period_is_thirty_days_and_excludes_older(service: SearchService) -> None:
    trend = compute_trend(service, "broadcom", entities=ENTITIES, now=NOW)
    assert len(trend.days) == 31 and trend.days[-1] == TODAY
    assert trend.series[0].total == 3  # the 40-day-old article is outside


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ("", "usage"),
        ("since:7d", "usage"),
        ("a b c d e f", "too_many"),
        ("broadcom since:soon", "bad_since"),
        ("broadcom since:900d", "bad_since"),
        ("broadcom since:2030-01-01", "bad_since"),
        ("broadcom since:2026-02-30", "bad_since"),
        ('"!!!"', "bad_name"),
    ],
)
def test_bad_arguments_raise_a_typed_error(service: SearchService, args: str, code: str) -> None:
    with pytest.raises(TrendInputError) as caught:
        compute_trend(service, args, entities=ENTITIES, now=NOW)
    assert caught.value.code == code
    assert str(caught.value)


def test_chart_is_a_real_png_with_one_line_per_name(service: SearchService) -> None:
    trend = compute_trend(service, "broadcom nvidia mistral ai", entities=ENTITIES, now=NOW)
    png = render_trend_png(trend, "test")
    assert png_size(png) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
    image = imread(BytesIO(png), format="png")
    assert image.shape[:2] == (int(HEIGHT_IN * DPI), int(WIDTH_IN * DPI))
    assert colours_present(png) == set(COLOURS[:3])


async def _trend(router: Router, args: str) -> Reply:
    return await router.dispatch(Request(chat=CHAT, user_id="1", command="trend", args=args))


async def test_trend_command_through_the_router_sends_a_png(router: Router) -> None:
    reply = await _trend(router, "broadcom nvidia since:10d")
    assert not reply.is_error
    assert reply.image_png is not None and reply.image_name.endswith(".png")
    assert png_size(reply.image_png) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
    assert colours_present(reply.image_png) == set(COLOURS[:2])
    assert reply.text == t("en", "trend.caption", since="2026-10-31", totals="Broadcom 3, nvidia 2")


async def test_trend_command_in_french(router: Router) -> None:
    router.ctx.store.set_chat_lang(CHAT, "fr")
    reply = await _trend(router, "broadcom")
    assert reply.text.startswith("Mentions par jour depuis le 2026-10-11")
    too_many = await _trend(router, " ".join(f"n{i}" for i in range(MAX_NAMES + 1)))
    assert too_many.is_error and too_many.text == t("fr", "trend.too_many", max=MAX_NAMES, n=MAX_NAMES + 1)


@pytest.mark.parametrize(
    ("args", "key", "values"),
    [
        ("", "trend.usage", {}),
        ("broadcom since:forever", "trend.bad_since", {"value": "forever", "max_days": 365}),
        ("a b c d e f", "trend.too_many", {"max": MAX_NAMES, "n": 6}),
    ],
)
async def test_trend_bad_input_gets_a_clear_message(
    router: Router, args: str, key: str, values: dict[str, object]
) -> None:
    reply = await _trend(router, args)
    assert reply.is_error and reply.image_png is None
    assert reply.text == t("en", key, **values)


async def test_no_mention_says_so_without_a_chart(router: Router) -> None:
    reply = await _trend(router, "qualcomm")
    assert reply.image_png is None and not reply.is_error
    assert reply.text == t("en", "trend.none", names="qualcomm", since="2026-10-11")


def test_veille_trend_writes_the_same_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "veille.db"
    store = SQLiteStore(db)
    # Dated relative to the real clock: the command line charts up to today.
    for n, days_ago in enumerate((0, 1, 1, 2)):
        article = Article(
            key=f"c{n}", url=f"https://example.test/c{n}", title=f"Broadcom news {n}", text="Broadcom again.",
            source="Reuters", published=datetime.now(UTC) - timedelta(days=days_ago), lang="en",
            content_hash=f"cc{n}",
        )  # fmt: skip
        store.add_article(article, new_story_title=article.title)
    store.close()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"storage": {"path": str(db)}, "entities": {"Broadcom": ["AVGO"]}}))
    out = tmp_path / "chart.png"
    code = main(["--config", str(config), "trend", "broadcom", "Mistral AI", "--since", "7d", "--out", str(out)])
    assert code == EXIT_OK, capsys.readouterr().err
    data = out.read_bytes()
    assert png_size(data) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
    assert colours_present(data) == set(COLOURS[:2])
    printed = capsys.readouterr().out
    assert "8 days" in printed and "Broadcom 4" in printed and "Mistral AI 0" in printed

    bad = main(["--config", str(config), "trend", "broadcom", "--since", "nope", "--out", str(out)])
    assert bad == EXIT_BAD_INPUT
    assert "since:nope" in capsys.readouterr().err
    wrong_suffix = main(["--config", str(config), "trend", "broadcom", "--out", str(tmp_path / "chart.txt")])
    assert wrong_suffix == EXIT_BAD_INPUT


def test_chart_renders_from_threads_at_once(service: SearchService) -> None:
    # Figures never go through pyplot's global state, so concurrent renders do not mix.
    trend = compute_trend(service, "broadcom nvidia", entities=ENTITIES, now=NOW)

    async def both() -> list[bytes]:
        return list(await asyncio.gather(*(asyncio.to_thread(render_trend_png, trend, "x") for _ in range(3))))

    images = asyncio.run(both())
    assert all(colours_present(png) == set(COLOURS[:2]) for png in images)
