"""The real discord.py client, driven by DiscordAdapter, against the fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest

from bot.delivery.errors import PermanentError, RetryLater, TransientError
from bot.messages import AlertMessage, Button, Card, Reply, Request
from bot.models import ChatRef
from bot.platforms.discord_adapter import DiscordAdapter
from handlers.spec import COMMANDS
from tests.fakes.discord_server import PERM_MANAGE_GUILD, FakeDiscord
from tests.platforms.discord.conftest import CHANNEL, RecordingRouter

CHAT = ChatRef("discord", CHANNEL)
HOSTILE = ("<b>&amp; *bold* _it_ @everyone <@123> <@&9> ||spoiler|| `code` [x](http://evil) ") * 60


def _card(title: str = "Broadcom buys VMware", extra: int = 0) -> Card:
    return Card(
        title=title,
        url="https://news.example/a/1",
        source="Le Monde",
        published=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        summary="A two-line summary of the story.",
        extra_sources=extra,
        sources=tuple((f"Outlet {i}", f"https://o{i}.example/x") for i in range(extra)),
    )


def _no_pings(message_mentions: dict | None) -> bool:
    return (
        message_mentions is not None
        and message_mentions.get("parse") == []
        and not message_mentions.get("users")
        and not message_mentions.get("roles")
    )


async def test_start_syncs_localized_commands_without_privileged_intents(
    adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    commands = {c["name"]: c for c in fake_discord.commands[None]}
    assert set(commands) == {spec.name for spec in COMMANDS}
    core = {"start", "help", "search", "latest", "subscribe", "unsubscribe", "subscriptions", "sources"}
    assert core <= set(commands)
    assert commands["search"]["description_localizations"]["fr"] == "Chercher dans tous les articles vus"
    query = commands["search"]["options"][0]
    assert (query["name"], query["type"], query["required"]) == ("query", 3, True)
    assert commands["latest"]["options"][0]["type"] == 4  # integer option
    assert commands["unsubscribe"]["options"][0]["autocomplete"] is True
    intents = fake_discord.identify_payloads[0]["intents"]
    message_content, members, presences = 1 << 15, 1 << 1, 1 << 8
    assert intents & (message_content | members | presences) == 0
    assert not fake_discord.spec_rejections


async def test_command_reaches_router_with_request_fields(
    adapter: DiscordAdapter, fake_discord: FakeDiscord, router: RecordingRouter
) -> None:
    router.replies["search"] = Reply(text="2 results", cards=[_card(), _card("Second")])
    await fake_discord.inject_command(
        CHANNEL,
        "search",
        {"query": "broadcom -vmware"},
        locale="fr",
        permissions=PERM_MANAGE_GUILD,
        user_id="42",
    )
    message = await fake_discord.wait_for_message(CHANNEL)
    assert router.requests == [Request(CHAT, "42", "search", "broadcom -vmware", lang="fr", is_admin=True)]
    assert message.content == "2 results"
    assert [e["title"] for e in message.embeds] == ["Broadcom buys VMware", "Second"]
    assert message.embeds[0]["url"] == "https://news.example/a/1"
    assert message.embeds[0]["footer"]["text"] == "Le Monde"
    assert _no_pings(message.allowed_mentions)


async def test_integer_option_and_non_admin_english_user(
    adapter: DiscordAdapter, fake_discord: FakeDiscord, router: RecordingRouter
) -> None:
    await fake_discord.inject_command(CHANNEL, "latest", {"n": 5}, locale="en-GB", permissions=0)
    await fake_discord.wait_for_message(CHANNEL)
    assert (router.requests[0].command, router.requests[0].args) == ("latest", "5")
    assert (router.requests[0].lang, router.requests[0].is_admin) == ("en", False)


async def test_direct_message_user_counts_as_admin(
    adapter: DiscordAdapter, fake_discord: FakeDiscord, router: RecordingRouter
) -> None:
    await fake_discord.inject_command("600000000000000099", "subscriptions", guild_id=None)
    await fake_discord.wait_for_message("600000000000000099")
    assert router.requests[0].is_admin is True
    assert router.requests[0].chat == ChatRef("discord", "600000000000000099")


async def test_paging_buttons_edit_the_message_in_place(
    adapter: DiscordAdapter, fake_discord: FakeDiscord, router: RecordingRouter
) -> None:
    long_args = "page=2 " + "q" * 150  # too long for a custom_id: goes through the token map
    router.replies["search"] = Reply(
        text="Page 1",
        cards=[_card()],
        buttons=[Button("Next ▶", "search", "page=2 broadcom"), Button("Last", "search", long_args)],
    )
    await fake_discord.inject_command(CHANNEL, "search", {"query": "broadcom"})
    first = await fake_discord.wait_for_message(CHANNEL)
    buttons = first.buttons()
    assert [b["label"] for b in buttons] == ["Next ▶", "Last"]
    assert all(len(b["custom_id"]) <= 100 for b in buttons)

    router.replies["search"] = Reply(text="Page 2", cards=[_card("Other story")])
    await fake_discord.press_button(CHANNEL, first.id, buttons[0]["custom_id"])
    edited = await fake_discord.wait_for_message(CHANNEL, lambda m: m.content == "Page 2")
    assert edited.id == first.id and edited.edits == 1
    assert len(fake_discord.transcript(CHANNEL)) == 1
    assert edited.embeds[0]["title"] == "Other story" and edited.components == []
    assert router.requests[1] == Request(
        CHAT, "500000000000000001", "search", "page=2 broadcom", from_button=True
    )

    router.replies["search"] = Reply(text="Page 9", buttons=[Button("Back", "search", "page=1 broadcom")])
    # The old message still carries the long button only in the first render; press it from a fresh one.
    router.replies["search"] = Reply(text="Again", buttons=[Button("Last", "search", long_args)])
    await fake_discord.inject_command(CHANNEL, "search", {"query": "again"})
    second = await fake_discord.wait_for_message(CHANNEL, lambda m: m.content == "Again")
    await fake_discord.press_button(CHANNEL, second.id, second.buttons()[0]["custom_id"])
    await fake_discord.wait_for_message(CHANNEL, lambda m: m.id == second.id and m.edits == 1)
    assert router.requests[-1].args == long_args and router.requests[-1].from_button


async def test_expired_button_token_answers_instead_of_failing(
    adapter: DiscordAdapter, fake_discord: FakeDiscord, router: RecordingRouter
) -> None:
    router.replies["search"] = Reply(text="List", buttons=[Button("Next", "search", "x" * 200)])
    await fake_discord.inject_command(CHANNEL, "search", {"query": "x"})
    message = await fake_discord.wait_for_message(CHANNEL)
    custom_id = message.buttons()[0]["custom_id"]
    message.components[0]["components"][0]["custom_id"] = "vt:forgotten"
    await fake_discord.press_button(CHANNEL, message.id, "vt:forgotten")
    notice = await fake_discord.wait_for_message(CHANNEL, lambda m: "expired" in m.content)
    assert notice.ephemeral and notice.id != message.id and custom_id != "vt:forgotten"
    assert message.edits == 0
    assert len(router.requests) == 1  # the stale press never reached the router


async def test_slow_command_is_deferred_then_completed(
    fake_discord: FakeDiscord, router: RecordingRouter
) -> None:
    class SlowRouter(RecordingRouter):
        async def dispatch(self, request: Request) -> Reply:
            await asyncio.sleep(0.3)
            return Reply(text="done late")

    bot = DiscordAdapter(
        fake_discord.token,
        api_base_url=fake_discord.api_base,
        gateway_url=fake_discord.gateway_url,
        guild_ready_timeout_s=0.01,
        reply_deadline_s=0.05,
    )
    await bot.start(SlowRouter())
    try:
        interaction_id = await fake_discord.inject_command(CHANNEL, "sources")
        message = await fake_discord.wait_for_message(CHANNEL, lambda m: m.content == "done late")
    finally:
        await bot.stop()
    assert fake_discord.interactions[interaction_id].callbacks[0]["type"] == 5  # deferred, "thinking"
    assert message.edits == 1
    patch = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
    assert fake_discord.requests_to("PATCH", patch)[0].status == 200


async def test_autocomplete_asks_the_router(
    adapter: DiscordAdapter, fake_discord: FakeDiscord, router: RecordingRouter
) -> None:
    router.completions = [("#1 broadcom", "1"), ("#2 nvidia", "2"), ("#3 bro* OR vmware", "3")]
    choices = await fake_discord.autocomplete(CHANNEL, "unsubscribe", "subscription", "#")
    assert [c["value"] for c in choices] == ["1", "2", "3"]
    assert router.completed == [(CHAT, "unsubscribe", "subscription", "#")]
    callback = fake_discord.requests[-1]
    assert callback.body["type"] == 8 and callback.status == 200


async def test_alert_is_sent_then_edited_in_place(adapter: DiscordAdapter, fake_discord: FakeDiscord) -> None:
    alert = AlertMessage(CHAT, _card(), query="broadcom")
    message_id = await adapter.send_alert(alert)
    sent = fake_discord.message(CHANNEL, message_id)
    assert "Alert: broadcom" in sent.embeds[0]["footer"]["text"]
    await adapter.edit_alert(AlertMessage(CHAT, _card(extra=2), query="broadcom"), message_id)
    transcript = fake_discord.transcript(CHANNEL)
    assert len(transcript) == 1 and transcript[0].edits == 1
    assert "+2 sources" in transcript[0].embeds[0]["description"]
    assert "[Outlet 0](https://o0.example/x)" in transcript[0].embeds[0]["description"]
    assert _no_pings(transcript[0].allowed_mentions)


async def test_hostile_title_renders_safely_and_passes_strict_checks(
    adapter: DiscordAdapter, fake_discord: FakeDiscord, router: RecordingRouter
) -> None:
    hostile = HOSTILE[:5000]
    card = Card(
        title=hostile,
        url="https://x.example/<@123>?a=(1)",
        source="@everyone " + hostile,
        summary=hostile,
        snippet="",
    )
    message_id = await adapter.send_alert(AlertMessage(CHAT, card, query="@everyone <@123>"))
    router.replies["search"] = Reply(text=hostile, cards=[card] * 10)
    await fake_discord.inject_command(CHANNEL, "search", {"query": "x"})
    reply = await fake_discord.wait_for_message(CHANNEL, lambda m: m.id != message_id)
    assert not fake_discord.spec_rejections
    assert all(r.status in (200, 204) for r in fake_discord.requests)
    for message in fake_discord.transcript(CHANNEL):
        assert _no_pings(message.allowed_mentions)
        for embed in message.embeds:
            assert len(embed.get("title", "")) <= 256 and len(embed.get("description", "")) <= 4096
            # Every "<" is escaped, so no mention, role or channel pill can form.
            assert not re.search(r"(?<!\\)<", embed.get("title", "") + embed.get("description", ""))
    assert (
        sum(
            len(e.get("title", "")) + len(e.get("description", "")) + len(e.get("footer", {}).get("text", ""))
            for e in reply.embeds
        )
        <= 6000
    )
    assert len(reply.embeds) <= 10
    assert reply.embeds[0]["description"].startswith("\\<b\\>&amp; \\*bold\\* \\_it\\_ @everyone")


async def test_image_and_document_are_attached(
    adapter: DiscordAdapter, fake_discord: FakeDiscord, router: RecordingRouter
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    router.replies["sources"] = Reply(text="Feeds", image_png=png, document=("feeds.opml", b"<opml/>"))
    await fake_discord.inject_command(CHANNEL, "sources")
    message = await fake_discord.wait_for_message(CHANNEL)
    assert [a["filename"] for a in message.attachments] == ["chart.png", "feeds.opml"]
    message_id = await adapter.send_reply(CHAT, Reply(text="Digest", image_png=png))
    assert [a["filename"] for a in fake_discord.message(CHANNEL, message_id).attachments] == ["chart.png"]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("503", TransientError),
        ("drop", TransientError),
        ("missing_access", PermanentError),
        ("unknown_channel", PermanentError),
    ],
)
async def test_send_errors_map_to_delivery_errors(
    adapter: DiscordAdapter, fake_discord: FakeDiscord, fault: str, expected: type[Exception]
) -> None:
    fake_discord.inject_fault(fault, method="POST", template="/channels/{channel_id}/messages")
    with pytest.raises(expected) as caught:
        await adapter.send_alert(AlertMessage(CHAT, _card()))
    assert type(caught.value) is expected and caught.value.chat == str(CHAT)
    # The fault was one-shot: the adapter did not retry, and the next send goes through.
    assert len(fake_discord.requests_to("POST", "/channels/{channel_id}/messages")) == 1
    assert await adapter.send_alert(AlertMessage(CHAT, _card()))


async def test_removed_channel_and_kicked_bot_are_permanent(
    adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    message_id = await adapter.send_alert(AlertMessage(CHAT, _card()))
    fake_discord.forbid_channel(CHANNEL)
    with pytest.raises(PermanentError, match="50001"):
        await adapter.edit_alert(AlertMessage(CHAT, _card(extra=1)), message_id)
    with pytest.raises(PermanentError, match="10003"):
        await adapter.send_alert(AlertMessage(ChatRef("discord", "123456789"), _card()))
    with pytest.raises(PermanentError, match="not a Discord"):
        await adapter.send_alert(AlertMessage(ChatRef("telegram", "-100"), _card()))


async def test_long_rate_limit_becomes_retry_later(
    adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    fake_discord.inject_fault("429", template="/channels/{channel_id}/messages", retry_after=120.0)
    with pytest.raises(RetryLater) as caught:
        await adapter.send_alert(AlertMessage(CHAT, _card()))
    assert caught.value.retry_after == pytest.approx(120.0)


async def test_exhausted_bucket_becomes_retry_later(
    adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    fake_discord.set_route_limit("/channels/{channel_id}/messages", 1, 90.0)
    await adapter.send_alert(AlertMessage(CHAT, _card()))
    with pytest.raises(RetryLater) as caught:
        await adapter.send_alert(AlertMessage(CHAT, _card()))
    assert 30 < caught.value.retry_after <= 90
    statuses = [r.status for r in fake_discord.requests_to("POST", "/channels/{channel_id}/messages")]
    assert statuses == [200, 429]


async def test_short_rate_limit_is_waited_out_by_the_library(
    adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    fake_discord.inject_fault("429", template="/channels/{channel_id}/messages", retry_after=0.05)
    message_id = await adapter.send_alert(AlertMessage(CHAT, _card()))
    statuses = [r.status for r in fake_discord.requests_to("POST", "/channels/{channel_id}/messages")]
    assert statuses == [429, 200] and fake_discord.message(CHANNEL, message_id)


async def test_wrong_token_fails_start_with_a_typed_error(fake_discord: FakeDiscord) -> None:
    from bot.platforms.discord_adapter import DiscordStartError

    bot = DiscordAdapter(
        "not-the-token", api_base_url=fake_discord.api_base, gateway_url=fake_discord.gateway_url
    )
    with pytest.raises(DiscordStartError, match="login"):
        await bot.start(RecordingRouter())
