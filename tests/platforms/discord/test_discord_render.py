"""Rendering without the network: escaping, highlight marks, limits, button codec."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START, Button, Card, Reply
from bot.platforms.discord_render import (
    ButtonCodec,
    ButtonCodecError,
    embed_size,
    escape_markdown,
    fit_markdown,
    render_reply,
)


def test_highlight_becomes_bold_after_escaping() -> None:
    text = f"a *star* {HIGHLIGHT_START}broad_com{HIGHLIGHT_END} <@1>"
    assert fit_markdown(text, 4096) == "a \\*star\\* **broad\\_com** \\<@1\\>"


def test_bare_urls_are_left_intact() -> None:
    assert escape_markdown("see https://x.example/a_b-(c) now_") == "see https://x.example/a_b-(c) now\\_"


@given(
    st.text(
        alphabet=st.sampled_from(list("ab _*\\<>[]()`~|#-") + [HIGHLIGHT_START, HIGHLIGHT_END]), max_size=600
    ),
    st.integers(min_value=10, max_value=300),
)
def test_fit_never_exceeds_limit_or_leaves_a_lone_backslash(text: str, limit: int) -> None:
    out = fit_markdown(text, limit)
    assert len(out) <= limit
    body = out.removesuffix("…")
    assert (len(body) - len(body.rstrip("\\"))) % 2 == 0
    assert re.sub(r"\\.", "", body).count("**") % 2 == 0


def test_ten_long_cards_hold_the_6000_budget() -> None:
    card = Card(title="T" * 400, url="https://x.example", source="S" * 3000, summary="w " * 3000)
    message = render_reply(Reply(text="x" * 3000, cards=[card] * 12), ButtonCodec())
    assert len(message.embeds) == 10 and embed_size(message.embeds) <= 6000


def test_codec_round_trip_and_bounded_map() -> None:
    codec = ButtonCodec(max_tokens=2)
    short = codec.encode(Button("Next", "search", "page=2 x"))
    assert codec.decode(short) == ("search", "page=2 x")
    ids = [codec.encode(Button("L", "search", "y" * 200 + str(i))) for i in range(3)]
    assert all(len(i) <= 100 for i in ids)
    assert codec.decode(ids[2]) == ("search", "y" * 200 + "2")
    try:
        codec.decode(ids[0])
    except ButtonCodecError as exc:
        assert "expired" in exc.reason
    else:
        raise AssertionError("the oldest token should have been evicted")
