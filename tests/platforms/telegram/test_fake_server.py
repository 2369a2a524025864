"""The fake Bot API rejects what Telegram rejects: raw requests sent straight to it, no adapter involved."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.fakes.telegram_server import FakeTelegram, Fault
from tests.fakes.telegram_spec import EntityParseError, TelegramSpec, parse_html


async def call(
    fake: FakeTelegram,
    method: str,
    *,
    form: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Post one raw request to the fake and return (HTTP status, decoded envelope)."""
    url = f"{fake.base_url}{token or fake.token}/{method}"
    async with aiohttp.ClientSession() as session:
        if body is not None:
            response = await session.post(url, json=body)
        else:
            response = await session.post(url, data=form or {})
        async with response:
            return response.status, await response.json()


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("plain &amp; simple", "plain & simple"),
        ("<b>bold</b> <i>it</i> <u>u</u> <s>s</s> <tg-spoiler>x</tg-spoiler>", "bold it u s x"),
        ('<a href="https://e.com/?a=1&amp;b=2">link</a>', "link"),
        (
            '<span class="tg-spoiler">hidden</span> &lt;tag&gt; &quot;q&quot; &#65;&#x42;',
            'hidden <tag> "q" AB',
        ),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ("<b>bold <i>both</i></b> > fine", "bold both > fine"),
    ],
)
def test_html_parser_accepts_valid_telegram_html(source: str, text: str) -> None:
    assert parse_html(source).text == text


def test_html_parser_reports_entities_with_utf16_offsets() -> None:
    parsed = parse_html('😀 <b>gras</b> <a href="https://e.com">lien</a>')
    bold = next(e for e in parsed.entities if e["type"] == "bold")
    link = next(e for e in parsed.entities if e["type"] == "text_link")
    assert (bold["offset"], bold["length"]) == (3, 4)  # the emoji takes two UTF-16 units
    assert link["url"] == "https://e.com"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo"'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("1 < 2", "Unexpected character after '<'"),
        ("fish & chips", "Character '&' is reserved"),
        ("&nbsp;", "Character '&' is reserved"),
        ("x</b>", "Unexpected end tag"),
        ('<span class="other">x</span>', 'must have class "tg-spoiler"'),
        ("<a>no href</a>", 'must have attribute "href"'),
        ('<a href="https://a.b"><a href="https://c.d">x</a></a>', "Links can't be nested"),
        ("<code><b>x</b></code>", "can't contain"),
        ('<a href="x&y">bad attr</a>', "Character '&' is reserved"),
    ],
)
def test_html_parser_rejects_what_telegram_rejects(source: str, reason: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source)
    assert reason in caught.value.reason


def test_spec_checker_types_form_values(telegram_spec: TelegramSpec) -> None:
    good = telegram_spec.check(
        "sendMessage", {"chat_id": "-100", "text": "hi", "disable_notification": "true"}
    )
    assert good.problems == []
    assert good.params == {"chat_id": -100, "text": "hi", "disable_notification": True}
    bad = telegram_spec.check("sendMessage", {"chat_id": "1", "text": "x", "disable_notification": "maybe"})
    assert bad.problems and "disable_notification" in bad.problems[0]
    nested = telegram_spec.check(
        "sendMessage",
        {
            "chat_id": 1,
            "text": "x",
            "reply_markup": json.dumps({"inline_keyboard": [[{"label": "no text"}]]}),
        },
    )
    assert nested.problems and "reply_markup" in nested.problems[0]


async def test_unknown_method_is_404_not_found(telegram_fake: FakeTelegram) -> None:
    status, body = await call(telegram_fake, "sendMesage", form={"chat_id": "1", "text": "x"})
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_wrong_token_is_401(telegram_fake: FakeTelegram) -> None:
    status, body = await call(telegram_fake, "getMe", token="1:WRONG")
    assert status == 401 and body["description"] == "Unauthorized"


async def test_missing_required_field_is_rejected(telegram_fake: FakeTelegram) -> None:
    status, body = await call(telegram_fake, "sendMessage", form={"text": "no chat"})
    assert status == 400 and body["ok"] is False
    assert "chat_id" in body["description"]
    assert telegram_fake.messages(1) == []


async def test_spec_rejects_wrong_types_and_unknown_fields(
    telegram_fake: FakeTelegram, telegram_spec: TelegramSpec
) -> None:
    status, body = await call(
        telegram_fake, "sendMessage", body={"chat_id": 1, "text": "x", "disable_notification": "yes"}
    )
    assert status == 400 and "disable_notification" in body["description"]
    status, body = await call(
        telegram_fake, "sendMessage", form={"chat_id": "1", "text": "x", "parse_mod": "HTML"}
    )
    assert status == 400 and "parse_mod" in body["description"]
    status, body = await call(telegram_fake, "getChatMember", form={"chat_id": "1", "user_id": "seven"})
    assert status == 400 and "user_id" in body["description"]


@pytest.mark.parametrize("html", ["<b>unclosed", "a < b", "Q&A", "<script>x</script>", "<b><i>x</b></i>"])
async def test_bad_html_is_cant_parse_entities(telegram_fake: FakeTelegram, html: str) -> None:
    status, body = await call(
        telegram_fake, "sendMessage", form={"chat_id": "5", "text": html, "parse_mode": "HTML"}
    )
    assert status == 400
    assert body["description"].startswith("Bad Request: can't parse entities: ")


async def test_text_limit_counts_after_entity_parsing(telegram_fake: FakeTelegram) -> None:
    telegram_fake.limits.enabled = False
    fits = "<b>" + "&amp;" * 4096 + "</b>"  # 4096 visible characters, far more on the wire
    status, body = await call(
        telegram_fake, "sendMessage", form={"chat_id": "5", "text": fits, "parse_mode": "HTML"}
    )
    assert status == 200 and len(body["result"]["text"]) == 4096
    status, body = await call(telegram_fake, "sendMessage", form={"chat_id": "5", "text": "x" * 4097})
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    status, body = await call(
        telegram_fake, "sendMessage", form={"chat_id": "5", "text": "<b> </b>", "parse_mode": "HTML"}
    )
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")


@pytest.mark.parametrize(
    ("keyboard", "description"),
    [
        ([[{"text": "x", "callback_data": "y" * 65}]], "Bad Request: BUTTON_DATA_INVALID"),
        ([[{"text": "x", "callback_data": "é" * 33}]], "Bad Request: BUTTON_DATA_INVALID"),  # 66 bytes
        ([[{"text": "x", "callback_data": "a", "url": "https://e.com"}]], "exactly one action"),
        ([[{"text": "x"}]], "exactly one action"),
        ([[{"text": "x", "url": "javascript:alert(1)"}]], "BUTTON_URL_INVALID"),
    ],
)
async def test_inline_keyboard_rules(
    telegram_fake: FakeTelegram, keyboard: list[Any], description: str
) -> None:
    markup = json.dumps({"inline_keyboard": keyboard})
    status, body = await call(
        telegram_fake, "sendMessage", form={"chat_id": "5", "text": "x", "reply_markup": markup}
    )
    assert status == 400 and description in body["description"]


async def test_rate_limits_answer_429_with_retry_after(telegram_fake: FakeTelegram) -> None:
    status, _ = await call(telegram_fake, "sendMessage", form={"chat_id": "5", "text": "one"})
    assert status == 200
    status, body = await call(telegram_fake, "sendMessage", form={"chat_id": "5", "text": "two"})
    assert status == 429 and body["parameters"]["retry_after"] >= 1
    # Another chat is not held back by this one's limit.
    status, _ = await call(telegram_fake, "sendMessage", form={"chat_id": "6", "text": "three"})
    assert status == 200


async def test_group_limit_is_per_minute(telegram_fake: FakeTelegram) -> None:
    telegram_fake.limits.per_chat = 100
    telegram_fake.limits.group_count = 3
    statuses = [
        (await call(telegram_fake, "sendMessage", form={"chat_id": "-50", "text": str(i)}))[0]
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


async def test_kicked_and_unknown_chats(telegram_fake: FakeTelegram) -> None:
    telegram_fake.add_chat(-77, "group")
    telegram_fake.kick(-77)
    status, body = await call(telegram_fake, "sendMessage", form={"chat_id": "-77", "text": "x"})
    assert (status, body["description"]) == (403, "Forbidden: bot was kicked from the group chat")
    telegram_fake.strict_chats = True
    status, body = await call(telegram_fake, "sendMessage", form={"chat_id": "-78", "text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


async def test_edit_with_same_content_is_not_modified(telegram_fake: FakeTelegram) -> None:
    _, sent = await call(
        telegram_fake, "sendMessage", form={"chat_id": "5", "text": "<b>x</b>", "parse_mode": "HTML"}
    )
    message_id = str(sent["result"]["message_id"])
    form = {"chat_id": "5", "message_id": message_id, "text": "<b>x</b>", "parse_mode": "HTML"}
    status, body = await call(telegram_fake, "editMessageText", form=form)
    assert status == 400 and body["description"].startswith("Bad Request: message is not modified")
    status, body = await call(telegram_fake, "editMessageText", form={**form, "text": "<i>x</i>"})
    assert status == 200
    assert telegram_fake.message(5, int(message_id)).edits == 1


async def test_injected_faults(telegram_fake: FakeTelegram) -> None:
    telegram_fake.fail_next("sendMessage", Fault.server_error(502))
    status, body = await call(telegram_fake, "sendMessage", form={"chat_id": "5", "text": "x"})
    assert status == 502 and body["ok"] is False
    telegram_fake.fail_next("sendMessage", Fault.drop())
    with pytest.raises(aiohttp.ClientError):
        await call(telegram_fake, "sendMessage", form={"chat_id": "5", "text": "x"})
    assert telegram_fake.messages(5) == []


async def test_multipart_upload_is_accepted(telegram_fake: FakeTelegram) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", "5")
    form.add_field("photo", b"\x89PNG fake", filename="chart.png", content_type="image/png")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{telegram_fake.base_url}{telegram_fake.token}/sendPhoto", data=form) as response,
    ):
        body = await response.json()
    assert response.status == 200 and body["result"]["photo"]
    assert telegram_fake.messages(5)[0].file_data == b"\x89PNG fake"
