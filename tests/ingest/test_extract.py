"""Main-text extraction on fixture pages (NAME.html + NAME.expect.json) and teaser detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.ingest.extract import extract_main_text, is_teaser

PAGES = Path(__file__).parent / "fixtures" / "pages"
CASES = sorted(PAGES.glob("*.html"))


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_page_fixture(path: Path) -> None:
    expect = json.loads(path.with_suffix(".expect.json").read_text(encoding="utf-8"))
    text = extract_main_text(path.read_text(encoding="utf-8"), expect["url"])
    for fragment in expect["present"]:
        assert fragment in text, f"missing {fragment!r} in {text!r}"
    for fragment in expect["absent"]:
        assert fragment not in text, f"unwanted {fragment!r} in {text!r}"
    assert "\n\n" in text  # paragraphs stay apart, as html_to_text leaves them


def test_fixture_pages_cover_both_languages() -> None:
    assert {p.stem.split("_")[0] for p in CASES} >= {"fr", "en"}


def test_headline_is_not_repeated_in_text() -> None:
    page = (PAGES / "en_article.html").read_text(encoding="utf-8")
    text = extract_main_text(page, "https://gazette.example.com/news/cycling-lanes")
    assert not text.startswith("City council approves new cycling lanes")


@pytest.mark.parametrize("markup", ["", "   ", "<html></html>", "<<<>>>&&&", "\x00\x01"])
def test_unreadable_pages_give_empty_text(markup: str) -> None:
    assert extract_main_text(markup, "https://x.example/") == ""


LONG = " ".join(["Le gouvernement a présenté mercredi un projet de loi sur l'énergie."] * 12)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", True),
        ("Short teaser sentence.", True),
        (LONG, False),
        (LONG + " Et ensuite…", True),
        (LONG + " [...]", True),
        (LONG + " […]", True),
        (LONG + " Read more", True),
        (LONG + " Continue reading →", True),
        (LONG + " Lire la suite", True),
        (LONG + " Lire la suite »", True),
        (LONG + " The post Energy bill appeared first on Example News.", True),
        (LONG + " Il a répondu « non ».", False),
        (LONG + " La suite du programme sera présentée demain.", False),
    ],
)
def test_is_teaser(text: str, expected: bool) -> None:
    assert is_teaser(text) is expected
