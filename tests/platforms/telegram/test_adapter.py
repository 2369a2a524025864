"""The real python-telegram-bot client, driven by the adapter, against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.delivery.errors import (
    DeliveryError,
    MessageGone,
    MessageRejected,
    PermanentError,
    RetryLater,
    TransientError,
)
from bot.messages import HIGHLIGHT_END, HIGHLIGHT_START, AlertMessage, Button, Card, Reply, Request
from bot.models import ChatRef
from bot.platforms.telegram_adapter import TelegramAdapterError, TelegramPlatform, parse_command_line
from handlers.spec import COMMANDS
from tests.fakes.telegram_server import FakeTelegram, Fault
from tests.platforms.telegram.conftest import ScriptedRouter

# PTB's own RetryAfter constructor reads its deprecated int form; the adapter reads it without the warning.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

HOSTILE_TITLE = ("<script>&amp; *bold* _it_ @everyone <@123> & < > " * 120)[:5000]


def a_card(title: str = "Chips & <AI>", **extra: object) -> Card:
    """Build a card for replies and alerts."""
    fields: dict[str, object] = {
        "url": "https://example.com/story",
        "source": "Le Monde",
        "published": datetime(2026, 3, 12, 14, 5, tzinfo=UTC),
        "summary": "Two lines.",
    }
    fields.update(extra)
    return Card(title=title, **fields)  # type: ignore[arg-type]


def alert_for(chat: str, **extra: Any) -> AlertMessage:
    """Build an alert for `telegram:<chat>`."""
    return AlertMessage(ChatRef("telegram", chat), a_card(**extra), query="ai chips")


async def test_start_registers_the_command_menu_in_both_languages(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform
) -> None:
    assert telegram_bot.bot_username == "veille_test_bot"
    english = {c["command"]: c["description"] for c in telegram_fake.commands[""]}
    french = {c["command"]: c["description"] for c in telegram_fake.commands["fr"]}
    # Every command of the shared spec, and only those (the spec is the one list both platforms show).
    assert {spec.name for spec in COMMANDS} == set(english) == set(french)
    core = {"start", "help", "search", "latest", "subscribe", "unsubscribe", "subscriptions", "sources"}
    assert core <= set(english)
    assert english["search"] == "Search every article seen"
    assert french["search"] == "Chercher dans tous les articles vus"


async def test_command_in_a_group_reaches_the_router_and_the_reply_renders(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform, router: ScriptedRouter
) -> None:
    router.respond = lambda r: Reply(
        text="Results for <ai>", cards=[a_card(snippet=f"about {HIGHLIGHT_START}AI{HIGHLIGHT_END}")]
    )
    telegram_fake.add_chat(-1001, "supergroup", title="Newsroom")
    telegram_fake.set_member(-1001, 7, "administrator")
    command = telegram_fake.send_command(
        -1001, "/Search@veille_test_bot  ai   chips ", user_id=7, language_code="fr-FR"
    )
    message = await telegram_fake.wait_for_message(-1001)
    assert router.requests == [
        Request(ChatRef("telegram", "-1001"), "7", "search", "ai   chips ", "fr", True, False)
    ]
    assert message.text.splitlines()[0] == "Results for <ai>"
    assert "Chips & <AI>" in message.text
    assert any(e["type"] == "text_link" and e["url"] == "https://example.com/story" for e in message.entities)
    assert "AI" in message.bold_texts()
    assert message.link_preview_disabled
    assert message.reply_to == command.message_id


async def test_is_admin_and_language_per_user(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform, router: ScriptedRouter
) -> None:
    telegram_fake.limits.enabled = False
    telegram_fake.add_chat(-5, "group")
    telegram_fake.set_member(-5, 8, "creator")
    telegram_fake.send_command(-5, "/latest 3", user_id=9, language_code=None)
    await telegram_fake.wait_for_message(-5)
    telegram_fake.send_command(-5, "/latest", user_id=8, language_code="en")
    await telegram_fake.wait_for_message(-5, since=1, timeout=8)
    telegram_fake.send_command(55, "/start", user_id=55, language_code="fr")
    await telegram_fake.wait_for_message(55)
    seen = [(r.user_id, r.is_admin, r.lang, r.args) for r in router.requests]
    assert seen == [("9", False, "en", "3"), ("8", True, "en", ""), ("55", True, "fr", "")]


async def test_commands_for_other_bots_and_unknown_group_commands_are_ignored(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform, router: ScriptedRouter
) -> None:
    telegram_fake.send_command(-9, "/search@other_bot x")
    telegram_fake.send_command(-9, "/weather now")
    telegram_fake.send_command(-9, "/weather@veille_test_bot now")
    telegram_fake.send_command(12, "/weather in private")
    await telegram_fake.wait_for_message(12)
    await telegram_fake.wait_for_message(-9)
    # Updates run concurrently (one slow chat must not hold up others), so compare without order.
    assert sorted((r.chat.chat_id, r.command) for r in router.requests) == [
        ("-9", "weather"),
        ("12", "weather"),
    ]


def test_parse_command_line() -> None:
    assert parse_command_line("/help", "bot") == ("help", "", False)
    assert parse_command_line("/HELP@Bot search\nmore", "bot") == ("help", "search\nmore", True)
    assert parse_command_line("/help@other", "bot") is None
    assert parse_command_line("not a command", "bot") is None


async def test_paging_buttons_round_trip_and_edit_in_place(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform, router: ScriptedRouter
) -> None:
    long_query = "intelligence artificielle générative " * 3

    def pages(request: Request) -> Reply:
        page = int(request.args.rsplit("page:", 1)[1]) if "page:" in request.args else 1
        query = request.args.split(" page:")[0]
        return Reply(
            text=f"Page {page}",
            cards=[a_card(f"Story {page}")],
            buttons=[Button("Next ▶", "search", f"{query} page:{page + 1}")],
        )

    router.respond = pages
    telegram_fake.send_command(77, f"/search {long_query}", user_id=77)
    first = await telegram_fake.wait_for_message(77)
    assert first.text.startswith("Page 1")
    data = first.buttons()[0]["callback_data"]
    assert len(data.encode()) <= 64 and data.startswith("#")  # too long to travel inline: a token

    query_id = telegram_fake.press_button(
        77, first.message_id, label="Next ▶", user_id=77, language_code="fr"
    )
    edited = await telegram_fake.wait_for_edit(77, first.message_id)
    assert edited.text.startswith("Page 2") and "Story 2" in edited.text
    assert len(telegram_fake.messages(77)) == 1  # edited in place, nothing new posted
    assert await telegram_fake.wait_for_answer(query_id) is not None
    last = router.requests[-1]
    assert (last.command, last.args, last.from_button, last.lang) == (
        "search",
        f"{long_query} page:2",
        True,
        "fr",
    )

    # Short command lines travel inline and survive a restart of the bot.
    router.respond = lambda r: Reply(text=f"latest {r.args}", buttons=[Button("More", "latest", "10")])
    telegram_fake.send_command(78, "/latest 5")
    message = await telegram_fake.wait_for_message(78)
    assert message.buttons()[0]["callback_data"] == "/latest 10"
    telegram_fake.press_button(78, message.message_id, label="More")
    assert (await telegram_fake.wait_for_edit(78, message.message_id)).text == "latest 10"


async def test_expired_button_is_answered_not_routed(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform, router: ScriptedRouter
) -> None:
    router.respond = lambda r: Reply(text="x", buttons=[Button("Go", "latest")])
    telegram_fake.send_command(80, "/latest")
    message = await telegram_fake.wait_for_message(80)
    query_id = telegram_fake.press_button(80, message.message_id, data="#deadbeef1", language_code="fr")
    answer = await telegram_fake.wait_for_answer(query_id)
    assert "expiré" in answer["text"]
    assert len(router.requests) == 1


async def test_alert_sent_then_edited_when_sources_join(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform
) -> None:
    alert = alert_for("-200")
    message_id = await telegram_bot.send_alert(alert)
    message = telegram_fake.message(-200, int(message_id))
    assert message.text.startswith("🔔 ai chips\nChips & <AI>")
    assert "sources" not in message.text

    joined = dataclasses.replace(
        alert,
        card=dataclasses.replace(
            alert.card,
            extra_sources=2,
            sources=(("BBC", "https://bbc.co.uk/1"), ("AFP", "https://afp.com/2")),
        ),
    )
    await telegram_bot.edit_alert(joined, message_id)
    assert message.edits == 1 and "+2 sources: BBC, AFP" in message.text
    await telegram_bot.edit_alert(joined, message_id)  # same content again: "not modified" is not an error
    with pytest.raises(MessageGone):  # deleted by the users: the sender posts it again
        await telegram_bot.edit_alert(joined, "999999")
    assert telegram_fake.transcript(-200) == [message.text]


async def test_hostile_title_is_accepted_by_the_strict_fake(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform, router: ScriptedRouter
) -> None:
    assert len(HOSTILE_TITLE) == 5000
    alert = alert_for("301", title=HOSTILE_TITLE, summary=HOSTILE_TITLE, source="<b>Evil & Co</b>")
    message = telegram_fake.message(301, int(await telegram_bot.send_alert(alert)))
    shown = message.text.replace("\u2060", "")  # the word joiner that stops "@name" being a mention
    assert "@everyone <@123> & < >" in shown and "<b>Evil & Co</b>" in shown
    assert "@everyone" not in message.text
    assert len(message.text) <= 4096
    assert [e["type"] for e in message.entities].count("text_link") == 1

    router.respond = lambda r: Reply(text=HOSTILE_TITLE * 3, cards=[a_card(HOSTILE_TITLE)] * 12)
    telegram_fake.limits.enabled = False
    telegram_fake.send_command(302, "/search x")
    await telegram_fake.wait_until(lambda: len(telegram_fake.messages(302)) >= 5, what="split reply")
    await telegram_fake.wait_until(
        lambda: telegram_fake.calls("sendMessage")[-1].status != 0, what="last send"
    )
    texts = telegram_fake.transcript(302)
    assert all(0 < len(t) <= 4096 for t in texts)
    assert "".join(texts).replace("\u2060", "").count("<@123>") > 100  # shown, minus the mention-stopping joiner
    assert all(r.status == 200 for r in telegram_fake.calls("sendMessage"))


async def test_photo_and_document_replies(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform, router: ScriptedRouter
) -> None:
    router.respond = lambda r: Reply(
        text="Volume <7d>",
        image_png=b"\x89PNG\r\n",
        image_name="volume.png",
        document=("feeds.opml", b"<opml/>"),
    )
    telegram_fake.limits.enabled = False
    telegram_fake.send_command(90, "/sources")
    await telegram_fake.wait_until(lambda: len(telegram_fake.messages(90)) == 2, what="photo and file")
    photo, document = telegram_fake.messages(90)
    assert (photo.kind, photo.text, photo.file_name, photo.file_data) == (
        "photo",
        "Volume <7d>",
        "volume.png",
        b"\x89PNG\r\n",
    )
    assert (document.kind, document.file_name, document.file_data) == ("document", "feeds.opml", b"<opml/>")


async def test_router_failure_becomes_an_error_reply(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform, router: ScriptedRouter
) -> None:
    router.fail = True
    telegram_fake.send_command(91, "/help", language_code="fr")
    message = await telegram_fake.wait_for_message(91)
    assert message.text == "⚠️ Une erreur est survenue, réessayez plus tard."


async def test_interactive_reply_waits_out_one_429(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform
) -> None:
    telegram_fake.fail_next("sendMessage", Fault.too_many_requests(retry_after=1))
    telegram_fake.send_command(92, "/latest")
    message = await telegram_fake.wait_for_message(92)
    assert message.text == "latest:"
    assert [r.status for r in telegram_fake.calls("sendMessage")] == [429, 200]


async def test_send_reply_returns_the_first_message_id(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform
) -> None:
    message_id = await telegram_bot.send_reply(
        ChatRef("telegram", "93"), Reply(text="Digest", cards=[a_card()])
    )
    assert telegram_fake.message(93, int(message_id)).text.startswith("Digest")


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.too_many_requests(retry_after=3), RetryLater),
        (Fault.server_error(500), TransientError),
        (Fault.server_error(502), TransientError),
        (Fault.drop(), TransientError),
        (Fault.error(403, "Forbidden: bot was blocked by the user"), PermanentError),
        (
            Fault.error(400, "Bad Request: not enough rights to send text messages to the chat"),
            PermanentError,
        ),
        (Fault.error(400, "Bad Request: can't parse entities: unsupported start tag"), MessageRejected),
    ],
)
async def test_send_errors_map_to_delivery_errors(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform, fault: Fault, expected: type[DeliveryError]
) -> None:
    telegram_fake.fail_next("sendMessage", fault)
    with pytest.raises(expected) as caught:
        await telegram_bot.send_alert(alert_for("400"))
    assert caught.value.chat == "telegram:400"
    if isinstance(caught.value, RetryLater):
        assert caught.value.retry_after == 3
    assert len(telegram_fake.calls("sendMessage")) == 1  # alerts are never retried here


async def test_kicked_unknown_and_rate_limited_chats(
    telegram_fake: FakeTelegram, telegram_bot: TelegramPlatform
) -> None:
    telegram_fake.add_chat(-401, "group")
    telegram_fake.kick(-401)
    with pytest.raises(PermanentError, match="kicked"):
        await telegram_bot.send_alert(alert_for("-401"))
    telegram_fake.strict_chats = True
    with pytest.raises(PermanentError, match="(?i)chat not found"):
        await telegram_bot.send_alert(alert_for("-402"))
    telegram_fake.add_chat(403)
    await telegram_bot.send_alert(alert_for("403"))
    with pytest.raises(RetryLater) as caught:  # the fake's real per-chat limit, not an injected fault
        await telegram_bot.send_alert(alert_for("403"))
    assert caught.value.retry_after >= 1
    with pytest.raises(PermanentError, match="kicked"):
        await telegram_bot.edit_alert(alert_for("-401"), "1")


async def test_timeouts_are_transient(telegram_fake: FakeTelegram, router: ScriptedRouter) -> None:
    platform = TelegramPlatform(
        telegram_fake.token, api_base_url=telegram_fake.base_url, poll_timeout_s=1, request_timeout_s=0.3
    )
    await platform.start(router)
    try:
        telegram_fake.fail_next("sendMessage", Fault.delay(1.0))
        with pytest.raises(TransientError, match="(?i)timed out"):
            await platform.send_alert(alert_for("500"))
    finally:
        await platform.stop()


async def test_bad_chat_references_are_typed_errors(telegram_bot: TelegramPlatform) -> None:
    with pytest.raises(DeliveryError, match="not a Telegram chat"):
        await telegram_bot.send_alert(AlertMessage(ChatRef("discord", "1"), a_card()))
    with pytest.raises(DeliveryError, match="not a Telegram chat id"):
        await telegram_bot.send_reply(ChatRef("telegram", "12 34"), Reply(text="x"))
    with pytest.raises(DeliveryError, match="message id"):
        await telegram_bot.edit_alert(alert_for("1"), "abc")


async def test_refused_token_and_bad_config_fail_start_clearly(
    telegram_fake: FakeTelegram, router: ScriptedRouter
) -> None:
    platform = TelegramPlatform("1:WRONG", api_base_url=telegram_fake.base_url)
    with pytest.raises(TelegramAdapterError, match="token was refused"):
        await platform.start(router)
    with pytest.raises(TelegramAdapterError):
        TelegramPlatform("", api_base_url=telegram_fake.base_url)
    with pytest.raises(TelegramAdapterError):
        TelegramPlatform("1:x", api_base_url="ftp://example.com/bot")
    assert "WRONG" not in repr(platform)


async def test_not_started_adapter_raises_transient(telegram_fake: FakeTelegram) -> None:
    platform = TelegramPlatform(telegram_fake.token, api_base_url=telegram_fake.base_url)
    with pytest.raises(TransientError, match="not running"):
        await platform.send_alert(alert_for("1"))
    await platform.stop()  # stopping a stopped adapter is a no-op
