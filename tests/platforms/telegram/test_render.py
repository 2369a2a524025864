"""Rendering: whatever the text, Telegram's strict parser accepts it and every message fits."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START, AlertMessage, Button, Card, Reply
from bot.models import ChatRef
from bot.platforms.telegram_render import (
    CallbackCodec,
    keyboard,
    render_alert,
    render_card,
    render_reply,
    split_plain,
    trim,
)
from tests.fakes.telegram_spec import parse_html

HOSTILE = "<b>&amp; *bold* _it_ @everyone <@123> </a> \x02\x03 &#0; " * 120  # ~5,000 characters


def card(title: str = "Title", **extra: object) -> Card:
    """Build a card with defaults for the fields a test does not care about."""
    fields: dict[str, object] = {
        "url": "https://example.com/a?x=1&y=2",
        "source": "Le Monde",
        "published": datetime(2026, 3, 12, 14, 5, tzinfo=UTC),
    }
    fields.update(extra)
    return Card(title=title, **fields)  # type: ignore[arg-type]


def test_card_shows_linked_title_source_date_summary_and_sources() -> None:
    rendered = render_card(
        card(
            "Chips & <AI>",
            summary="First line.\nSecond line.",
            extra_sources=2,
            sources=(("BBC", "https://bbc.co.uk/x"), ("Reuters", "https://reuters.com/y")),
        )
    )
    parsed = parse_html(rendered)
    assert parsed.text.splitlines() == [
        "Chips & <AI>",
        "Le Monde · 2026-03-12 14:05 UTC · +2 sources: BBC, Reuters",
        "First line. Second line.",
    ]
    links = [e["url"] for e in parsed.entities if e["type"] == "text_link"]
    assert links == ["https://example.com/a?x=1&y=2", "https://bbc.co.uk/x", "https://reuters.com/y"]


def test_non_web_url_is_not_linked() -> None:
    parsed = parse_html(render_card(card(url='javascript:alert("x")')))
    assert not [e for e in parsed.entities if e["type"] == "text_link"]


def test_hostile_title_renders_safely_and_is_trimmed() -> None:
    rendered = render_alert(
        AlertMessage(ChatRef("telegram", "1"), card(HOSTILE, summary=HOSTILE), query="<q>&")
    )
    parsed = parse_html(rendered)  # raises if anything leaked through as markup
    shown = parsed.text.replace("\u2060", "")  # a word joiner after "@" stops Telegram making a mention
    assert "<@123>" in shown and "@everyone" in shown and "<q>&" in shown
    assert "@everyone" not in parsed.text and "<@123>" not in parsed.text
    assert "\x02" not in parsed.text and "\x03" not in parsed.text
    assert len(parsed.text) < 1000


def test_highlights_become_bold_after_escaping() -> None:
    snippet = (
        f"the {HIGHLIGHT_START}<b>chip</b>{HIGHLIGHT_END} & more {HIGHLIGHT_START}AI"  # unbalanced on purpose
    )
    parsed = parse_html(render_card(card(snippet=snippet)))
    bold = [
        parsed.text[e["offset"] : e["offset"] + e["length"]] for e in parsed.entities if e["type"] == "bold"
    ]
    assert bold == ["Title", "<b>chip</b>", "AI"]


def test_trim_cuts_at_a_word_boundary() -> None:
    assert trim("alpha beta gamma delta", 14) == "alpha beta…"
    assert trim("x" * 50, 10) == "x" * 9 + "…"


def test_split_plain_keeps_words_whole() -> None:
    text = " ".join(f"word{i}" for i in range(2000))
    pieces = split_plain(text, 4096)
    assert len(pieces) == 5  # 16,889 characters
    assert all(len(p) <= 4096 for p in pieces)
    assert " ".join(pieces).split() == text.split()


def test_long_reply_is_split_between_cards_and_capped() -> None:
    reply = Reply(text="Results", cards=[card(HOSTILE, summary=HOSTILE, snippet="") for _ in range(40)])
    messages = render_reply(reply)
    assert 2 <= len(messages) <= 10
    parsed = [parse_html(m) for m in messages]
    assert all(0 < p.length <= 4096 for p in parsed)
    assert parsed[0].text.startswith("Results")


def test_callback_codec_inline_and_tokens() -> None:
    codec = CallbackCodec(capacity=2)
    short = codec.encode("search", "ai page:2")
    assert short == "/search ai page:2" and codec.decode(short) == ("search", "ai page:2")
    long_args = "é" * 40 + " page:3"
    tokens = [codec.encode("search", long_args) for _ in range(3)]
    assert all(len(t.encode()) <= 64 for t in tokens)
    assert codec.decode(tokens[0]) is None  # evicted: the map is bounded
    assert codec.decode(tokens[2]) == ("search", long_args)
    assert CallbackCodec().decode(tokens[2]) is None  # another instance (a restart) does not know it


def test_keyboard_rows_and_labels() -> None:
    rows = keyboard([Button(f"<{i}>", "latest", str(i)) for i in range(6)], CallbackCodec())
    assert [len(r) for r in rows] == [4, 2]
    assert rows[0][0].label == "<0>" and rows[1][1].data == "/latest 5"


text_strategy = st.text(alphabet=st.characters(codec="utf-8"), max_size=6000) | st.sampled_from(
    [HOSTILE, "", " "]
)


@settings(max_examples=60, deadline=None)
@given(
    title=text_strategy,
    summary=text_strategy,
    source=st.text(max_size=200),
    header=text_strategy,
    snippet=st.lists(
        st.sampled_from(["a", " ", "<", "&", HIGHLIGHT_START, HIGHLIGHT_END, "😀", "\n"]), max_size=400
    ),
)
def test_any_text_renders_to_valid_messages(
    title: str, summary: str, source: str, header: str, snippet: list[str]
) -> None:
    reply = Reply(
        text=header,
        cards=[card(title, summary=summary, source=source, snippet="".join(snippet))] * 3,
        is_error=True,
    )
    for message in render_reply(reply):
        parsed = parse_html(message)
        assert 0 < parsed.length <= 4096
        assert len(message.encode("utf-16-le")) // 2 > 0
