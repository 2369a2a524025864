"""Hostile text in titles, summaries, snippets and source names always renders safely on both platforms.

Property-based (hypothesis): whatever strangers put in a feed, the Telegram HTML passes the fake's strict
parser (tests/fakes/telegram_spec.parse_html) within 4,096 visible characters, and the Discord payload
passes the fake's validators (Discord's OpenAPI schema when ../shared/specs has it, plus the limits the fake
enforces beyond it), with no mention syntax left unescaped and allowed_mentions pinging nobody.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START, AlertMessage, Button, Card, Reply
from bot.platforms import discord_render, telegram_render
from bot.platforms.discord_adapter import _NO_PINGS
from tests.fakes.discord_server import _check_message_limits
from tests.fakes.discord_spec import DiscordSpec, error_paths, find_spec_path
from tests.fakes.telegram_spec import parse_html

NASTY = [
    "<b>", "</i>", "<a href='javascript:alert(1)'>", "&", "&amp;", "&lt;", "&#0;", "&bogus;", "<", ">", '"', "'",
    "*", "**", "_", "__", "~~", "`", "```", "||", ">>> ", "# ", "- ", "[x](https://evil.example)", "\\",
    "@everyone", "@here", "<@123456789012345678>", "<@&123456789012345678>", "<#123456789012345678>",
    "<t:0:R>", "<:emoji:123>", "@admin_user", "/start", "#tag",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u202b", "\u200f", "\u061c", "\u2028", "\u2029",
    "\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\r\n", "\t",
    HIGHLIGHT_START, HIGHLIGHT_END, "🚀", "👍🏽", "𝕌", "\U0010ffff", "e\u0301", "שלום", "مرحبا", "Zoë",
    "https://example.com/a_b*c", "http://x/)(", "javascript:alert(1)",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(NASTY), st.text(max_size=20), st.text(alphabet="ab *_<>&@", max_size=40)),
    max_size=40,
).map("".join)
huge_text = st.builds(lambda piece, n: piece * n, hostile_text, st.integers(min_value=1, max_value=200))
any_text = st.one_of(hostile_text, huge_text)
urls = st.one_of(
    st.just("https://example.com/story"),
    st.just("javascript:alert(1)"),
    st.just(""),
    st.builds(lambda s: "https://example.com/" + s, hostile_text),
    hostile_text,
)
cards = st.builds(
    Card,
    title=any_text,
    url=urls,
    source=any_text,
    published=st.one_of(st.none(), st.just(datetime(2026, 11, 10, tzinfo=UTC))),
    summary=any_text,
    extra_sources=st.integers(min_value=0, max_value=50),
    snippet=st.one_of(st.just(""), any_text),
    sources=st.lists(st.tuples(any_text, urls), max_size=6).map(tuple),
)
replies = st.builds(
    Reply,
    text=any_text,
    cards=st.lists(cards, max_size=12),
    buttons=st.lists(st.builds(Button, label=any_text, command=st.sampled_from(["search", "latest"]),
                               args=any_text), max_size=8),
    is_error=st.booleans(),
)
alerts = st.builds(AlertMessage, chat=st.just(None), card=cards, query=any_text,  # type: ignore[arg-type]
                   lang=st.sampled_from(["en", "fr"]))

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                             HealthCheck.data_too_large])


def check_telegram(html: str, limit: int = telegram_render.TEXT_LIMIT) -> None:
    parsed = parse_html(html)  # raises EntityParseError on anything Telegram would refuse
    assert parsed.text.strip(), "Telegram refuses an empty message"
    assert len(parsed.text) <= limit
    for entity in parsed.entities:
        if entity["type"] == "text_link":
            assert re.match(r"^https?://", entity["url"]), entity
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", parsed.text)


@SETTINGS
@given(reply=replies, lang=st.sampled_from(["en", "fr"]))
def test_telegram_reply_always_parses_within_limits(reply: Reply, lang: str) -> None:
    messages = telegram_render.render_reply(reply, lang)
    assert len(messages) <= telegram_render.MAX_MESSAGES
    for html in messages:
        check_telegram(html)
    codec = telegram_render.CallbackCodec()
    for row in telegram_render.keyboard(reply.buttons, codec):
        assert len(row) <= telegram_render.BUTTONS_PER_ROW
        for key in row:
            assert 1 <= len(key.data.encode()) <= telegram_render.CALLBACK_DATA_LIMIT
            assert key.label.strip() and len(key.label) <= telegram_render.BUTTON_LABEL_LIMIT


@SETTINGS
@given(alert=alerts)
def test_telegram_alert_always_parses(alert: AlertMessage) -> None:
    check_telegram(telegram_render.render_alert(alert))


@pytest.fixture(scope="module")
def discord_spec() -> DiscordSpec | None:
    path = find_spec_path()
    return DiscordSpec.load(path) if path is not None else None


MENTION = re.compile(r"(?<!\\)<(@[!&]?|#|t:|a?:\w+:)\d*")


def discord_payload(message: discord_render.RenderedMessage) -> dict[str, Any]:
    payload: dict[str, Any] = {"allowed_mentions": _NO_PINGS.to_dict()}
    if message.content:
        payload["content"] = message.content
    if message.embeds:
        payload["embeds"] = message.embeds
    if message.buttons:
        rows = [message.buttons[i : i + 5] for i in range(0, len(message.buttons), 5)]
        payload["components"] = [
            {"type": 1, "components": [{"type": 2, "style": 2, "label": label, "custom_id": cid}
                                       for label, cid in row]}
            for row in rows
        ]
    return payload


def check_discord(message: discord_render.RenderedMessage, spec: DiscordSpec | None) -> None:
    payload = discord_payload(message)
    assert payload.get("content") or payload.get("embeds"), "Discord refuses an empty message"
    errors: dict[str, Any] = {}
    _check_message_limits(payload, errors)
    if spec is not None:
        operation = spec.operation("POST", "/channels/1/messages")
        assert operation is not None and operation.body_schema is not None
        errors.update(spec.validate(operation.body_schema, payload))
    assert not errors, error_paths(errors)
    assert len(message.embeds) <= discord_render.EMBEDS_PER_MESSAGE
    assert discord_render.embed_size(message.embeds) <= discord_render.EMBED_TOTAL_LIMIT
    assert payload["allowed_mentions"] == {"parse": []}
    # Content and descriptions are where Discord reads mentions; footers and titles show them as plain text.
    texts = [message.content] + [str(e.get("description") or "") for e in message.embeds]
    for text in texts:
        assert not MENTION.search(text), text[:200]
    for embed in message.embeds:
        if "url" in embed:
            assert re.match(r"^https?://", embed["url"])
    for label, custom_id in message.buttons:
        assert 1 <= len(label) <= discord_render.BUTTON_LABEL_LIMIT
        assert 1 <= len(custom_id) <= discord_render.CUSTOM_ID_LIMIT


@SETTINGS
@given(reply=replies, lang=st.sampled_from(["en", "fr"]))
def test_discord_reply_always_valid_and_never_pings(
    discord_spec: DiscordSpec | None, reply: Reply, lang: str
) -> None:
    check_discord(discord_render.render_reply(reply, discord_render.ButtonCodec(), lang), discord_spec)


@SETTINGS
@given(alert=alerts)
def test_discord_alert_always_valid_and_never_pings(discord_spec: DiscordSpec | None, alert: AlertMessage) -> None:
    check_discord(discord_render.render_alert(alert), discord_spec)


def test_no_pings_setting_is_what_discord_expects() -> None:
    assert _NO_PINGS.to_dict() == {"parse": []}
    assert discord.AllowedMentions.none().to_dict() == {"parse": []}
