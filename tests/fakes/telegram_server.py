"""A fake Telegram Bot API server on 127.0.0.1 (aiohttp.web) for driving the real python-telegram-bot.

It answers like the real service (`{"ok": true, "result": ...}` envelopes, Telegram's error codes and
descriptions), records every request, and enforces what Telegram enforces: unknown methods (404), the
official method/type descriptions when ../shared/specs is present, strict HTML parse mode, text and caption
limits after entity parsing, inline keyboard structure and callback_data size, per-chat / global / group
rate limits with 429 retry_after, "message is not modified", kicked chats (403) and unknown chats (400).

The Python API, for adapter tests and for end-to-end tests through the whole app:

    fake = FakeTelegram(spec=TelegramSpec.load())      # or spec=None to skip the spec check
    await fake.start(); base_url = fake.base_url          # give this to the adapter as api_base_url
    fake.add_chat(-100, "group", title="News"); fake.set_member(-100, 7, "administrator")
    fake.send_command(-100, "/search ai", user_id=7, language_code="fr")
    msg = await fake.wait_for_message(-100)               # the bot's next message there
    fake.press_button(-100, msg.message_id, label="Next")
    fake.transcript(-100)                                 # bot messages' text with edits applied
    fake.limits.enabled = False; fake.fail_next("sendMessage", Fault.server_error()); fake.kick(-100)
    await fake.stop()

Webhooks, as the real service does them: setWebhook (HTTPS and ports 80/88/443/8443 only, unless
`local_mode` like a self-hosted Bot API server; a secret_token of A-Z a-z 0-9 _ -), getWebhookInfo,
deleteWebhook, and getUpdates answered 409 Conflict while a webhook is set. Queued updates are then POSTed,
one at a time and in order, to the webhook URL with the X-Telegram-Bot-Api-Secret-Token header; any
non-2xx answer or connection error is recorded (getWebhookInfo's last_error_message) and retried after
`webhook_retry_s`. Public host names resolve through routes the test declares, standing in for DNS and
the proxy's TLS:

    fake.route_webhook("bot.example.test", f"http://127.0.0.1:{proxy_port}")
    fake.send_command(-100, "/help")           # delivered to the webhook instead of waiting for getUpdates
    fake.webhook_deliveries                     # [WebhookDelivery(update_id, url, status, error)]
    fake.redeliver(update_id)                   # the same update again, as Telegram does after a timeout

Errors: misuse of this Python API raises `FakeTelegramError` (a test bug, not a simulated Telegram error).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.fakes.telegram_spec import EntityParseError, TelegramSpec, UploadedFile, parse_html

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_REQUIRED_WITHOUT_SPEC = {
    "sendMessage": ("chat_id", "text"),
    "sendPhoto": ("chat_id", "photo"),
    "sendDocument": ("chat_id", "document"),
    "getChatMember": ("chat_id", "user_id"),
    "getChat": ("chat_id",),
    "setMyCommands": ("commands",),
    "answerCallbackQuery": ("callback_query_id",),
    "sendChatAction": ("chat_id", "action"),
    "deleteMessage": ("chat_id", "message_id"),
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


class FakeTelegramError(Exception):
    """The test used the fake wrongly (unknown chat or message, nothing to press, a wait that timed out)."""


@dataclass
class RateLimits:
    """Telegram's documented flood limits, counted over sliding windows; tests may tighten or disable them."""

    enabled: bool = True
    per_chat: int = 1
    per_chat_window_s: float = 1.0
    global_count: int = 30
    global_window_s: float = 1.0
    group_count: int = 20
    group_window_s: float = 60.0
    methods: frozenset[str] = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


@dataclass(frozen=True)
class Fault:
    """A failure to inject into the next matching request."""

    kind: str  # "error", "drop" (close the connection, no answer) or "delay" (answer late)
    status: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    delay_s: float = 0.0

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """Answer with a 5xx error."""
        return cls("error", status, "Internal Server Error" if status == 500 else "Bad Gateway")

    @classmethod
    def too_many_requests(cls, retry_after: int = 1) -> Fault:
        """Answer 429 with retry_after."""
        return cls("error", 429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    @classmethod
    def error(cls, status: int, description: str) -> Fault:
        """Answer with any Telegram error."""
        return cls("error", status, description)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls("drop")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Answer normally, but only after `seconds` (long enough for a client timeout)."""
        return cls("delay", delay_s=seconds)


@dataclass
class FakeChat:
    """A chat the fake knows: its kind, whether the bot was removed, and its members' statuses."""

    id: int
    type: str  # private, group, supergroup, channel
    title: str = ""
    username: str | None = None
    kicked: bool = False
    members: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the Chat object Telegram would send."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.title or "User"
        else:
            data["title"] = self.title or f"Chat {self.id}"
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class FakeMessage:
    """A message in a fake chat, with its current content (edits applied) and its earlier versions."""

    message_id: int
    chat_id: int
    from_bot: bool
    kind: str  # text, photo, document
    text: str = ""  # visible text (or caption) after entity parsing
    html: str = ""  # the source as sent, before parsing
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    link_preview_disabled: bool = False
    file_name: str = ""
    file_data: bytes = b""
    reply_to: int | None = None
    date: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def edits(self) -> int:
        """Return how many times the message was edited."""
        return len(self.history)

    def buttons(self) -> list[dict[str, Any]]:
        """Return the inline keyboard buttons, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def bold_texts(self) -> list[str]:
        """Return the visible text of each bold entity (handy to check highlights)."""
        return [
            _slice_utf16(self.text, e["offset"], e["length"]) for e in self.entities if e["type"] == "bold"
        ]


@dataclass
class WebhookState:
    """The registered webhook: where updates go and with which secret."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class WebhookDelivery:
    """One POST of an update to the webhook: the HTTP status (0 when the connection failed) and error."""

    update_id: int
    url: str
    status: int
    error: str = ""


_WEBHOOK_PORTS = (80, 88, 443, 8443)
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


@dataclass
class RecordedRequest:
    """One request as the fake received it, and what it answered."""

    method: str
    params: dict[str, Any]
    status: int = 0
    response: dict[str, Any] | None = None


class _ApiError(Exception):
    """An error answer in Telegram's envelope."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _slice_utf16(text: str, offset: int, length: int) -> str:
    """Cut `text` by UTF-16 offsets, as entities are expressed."""
    encoded = text.encode("utf-16-le")
    return encoded[offset * 2 : (offset + length) * 2].decode("utf-16-le")


class FakeTelegram:
    """A fake Bot API server; see the module docstring for its Python API."""

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",
        spec: TelegramSpec | None = None,
        bot_id: int = 123456,
        bot_username: str = "veille_test_bot",
        strict_chats: bool = False,
        max_poll_wait_s: float = 5.0,
        limits: RateLimits | None = None,
        local_mode: bool = False,
        webhook_retry_s: float = 0.2,
    ) -> None:
        self.token = token
        self.spec = spec
        self.bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Veille",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.strict_chats = strict_chats
        self.max_poll_wait_s = max_poll_wait_s
        self.limits = limits or RateLimits()
        self.requests: list[RecordedRequest] = []
        self.chats: dict[int, FakeChat] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self._messages: dict[int, dict[int, FakeMessage]] = {}
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._issued_queries: set[str] = set()
        self._updates: deque[dict[str, Any]] = deque()
        self._faults: list[tuple[str | None, Fault]] = []
        self._sent_at: dict[int, deque[float]] = {}
        self._sent_global: deque[float] = deque()
        self._changed: asyncio.Condition | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.local_mode = local_mode  # like `telegram-bot-api --local`: http webhooks on any port
        self.webhook: WebhookState | None = None
        self.webhook_retry_s = webhook_retry_s
        self.webhook_timeout_s = 5.0
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._webhook_routes: dict[str, str] = {}
        self._issued_updates: dict[int, dict[str, Any]] = {}
        self._webhook_task: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._changed = asyncio.Condition()
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhooks())

    async def stop(self) -> None:
        """Wake pending long polls, stop webhook deliveries and close the server."""
        self._closing = True
        await self._notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """Return the Bot API base URL to give the client (the token and method are appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # --- state set up by tests -----------------------------------------------------------------------

    def add_chat(
        self, chat_id: int, kind: str | None = None, *, title: str = "", username: str | None = None
    ) -> FakeChat:
        """Declare a chat (private when the id is positive, group when negative, unless `kind` says)."""
        chat = FakeChat(chat_id, kind or ("private" if chat_id > 0 else "group"), title, username)
        self.chats[chat_id] = chat
        self._messages.setdefault(chat_id, {})
        return chat

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        """Set a user's status in a chat: creator, administrator, member, restricted, left, kicked."""
        self._chat_for_test(chat_id).members[user_id] = status

    def kick(self, chat_id: int) -> None:
        """Mark the bot as removed from (or blocked in) a chat: sends now get 403."""
        self._chat_for_test(chat_id).kicked = True

    def fail_next(self, method: str | None, fault: Fault, times: int = 1) -> None:
        """Make the next `times` calls of `method` (any method but getUpdates when None) fail with `fault`."""
        self._faults.extend((method, fault) for _ in range(times))

    def send_command(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int = 1001,
        first_name: str = "Alice",
        language_code: str | None = "en",
        chat_kind: str | None = None,
    ) -> FakeMessage:
        """Queue a message typed by a user (a /command gets its bot_command entity, as Telegram adds)."""
        chat = self.chats.get(chat_id) or self.add_chat(chat_id, chat_kind)
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        message = FakeMessage(
            next(self._message_ids), chat_id, False, "text", text, text, date=int(time.time())
        )
        payload: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": chat.to_json(),
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            payload["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self._messages[chat_id][message.message_id] = message
        self._queue_update({"message": payload})
        return message

    inject_message = send_command

    def route_webhook(self, host: str, target: str) -> None:
        """Send webhook POSTs for `host` (a public name, optionally host:port) to `target` (http://127.0.0.1:P)."""
        self._webhook_routes[host.lower()] = target.rstrip("/")

    def redeliver(self, update_id: int) -> None:
        """Queue an already issued update again, as Telegram retries one whose answer it did not get."""
        body = self._issued_updates.get(update_id)
        if body is None:
            raise FakeTelegramError(f"no update {update_id} was issued")
        self._updates.append(body)
        if self._changed is not None:
            asyncio.get_running_loop().create_task(self._notify())

    @property
    def pending_update_count(self) -> int:
        """Return how many updates wait for getUpdates or for the webhook."""
        return len(self._updates)

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        *,
        label: str | None = None,
        data: str | None = None,
        user_id: int = 1001,
        first_name: str = "Alice",
        language_code: str | None = "en",
    ) -> str:
        """Queue a callback query for a bot message's button (by label, or raw data); return its id."""
        message = self.message(chat_id, message_id)
        if data is None:
            for button in message.buttons():
                if label is None or button.get("text") == label:
                    data = button.get("callback_data")
                    break
            if data is None:
                raise FakeTelegramError(f"no button {label!r} with callback_data on message {message_id}")
        query_id = str(next(self._query_ids))
        self._issued_queries.add(query_id)
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        self._queue_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                    "message": self._message_json(message),
                }
            }
        )
        return query_id

    # --- reading what happened -------------------------------------------------------------------------

    def messages(self, chat_id: int, *, include_user: bool = False) -> list[FakeMessage]:
        """Return a chat's messages in order (the bot's only, unless `include_user`)."""
        chat_messages = self._messages.get(chat_id, {})
        return [m for _, m in sorted(chat_messages.items()) if include_user or m.from_bot]

    def message(self, chat_id: int, message_id: int) -> FakeMessage:
        """Return one message; raise FakeTelegramError when it does not exist."""
        try:
            return self._messages[chat_id][message_id]
        except KeyError:
            raise FakeTelegramError(f"no message {message_id} in chat {chat_id}") from None

    def transcript(self, chat_id: int) -> list[str]:
        """Return the visible text of each bot message, edits applied ([photo]/[file] mark media)."""
        lines = []
        for message in self.messages(chat_id):
            prefix = {"photo": "[photo] ", "document": f"[file {message.file_name}] "}.get(message.kind, "")
            lines.append(prefix + message.text)
        return lines

    def calls(self, method: str) -> list[RecordedRequest]:
        """Return the recorded requests of one method."""
        return [r for r in self.requests if r.method == method]

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait until `predicate()` holds; raise FakeTelegramError after `timeout` seconds."""
        assert self._changed is not None, "start() the fake first"

        async def waiting() -> None:
            assert self._changed is not None
            async with self._changed:
                await self._changed.wait_for(predicate)

        try:
            await asyncio.wait_for(waiting(), timeout)
        except TimeoutError:
            raise FakeTelegramError(f"timed out after {timeout}s waiting for {what}") from None

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        since: int = 0,
        predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> FakeMessage:
        """Wait for the first bot message in a chat at position >= `since` (0-based) that matches."""
        found: list[FakeMessage] = []

        def check() -> bool:
            for message in self.messages(chat_id)[since:]:
                if predicate is None or predicate(message):
                    found.append(message)
                    return True
            return False

        await self.wait_until(check, timeout, f"a bot message in chat {chat_id}")
        return found[0]

    async def wait_for_edit(
        self, chat_id: int, message_id: int, *, edits: int = 1, timeout: float = 5.0
    ) -> FakeMessage:
        """Wait until a message was edited at least `edits` times."""
        await self.wait_until(
            lambda: self.message(chat_id, message_id).edits >= edits,
            timeout,
            f"edit #{edits} of message {message_id}",
        )
        return self.message(chat_id, message_id)

    async def wait_for_answer(self, query_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait until the bot answered a callback query; return the answer's parameters."""
        await self.wait_until(
            lambda: query_id in self.callback_answers, timeout, f"answer to query {query_id}"
        )
        return self.callback_answers[query_id]

    # --- HTTP --------------------------------------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        return _envelope_error(404, "Not Found")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method_raw = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _envelope_error(401, "Unauthorized")
        raw = await _read_params(request)
        record = RecordedRequest(method_raw, raw)
        self.requests.append(record)
        try:
            method = self._resolve_method(method_raw)
            record.method = method
            params = self._check_spec(method, raw)
            record.params = params
            fault = self._take_fault(method)
            if fault is not None and fault.kind == "drop":
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
            if fault is not None and fault.kind == "delay":
                await asyncio.sleep(fault.delay_s)
            elif fault is not None:
                params_out = {"retry_after": fault.retry_after} if fault.retry_after else None
                raise _ApiError(fault.status, fault.description, params_out)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise _ApiError(400, f"Bad Request: method {method} is not implemented by the fake")
            result = await handler(params)
        except _ApiError as exc:
            body: dict[str, Any] = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            record.status, record.response = exc.status, body
            await self._notify()
            return web.json_response(body, status=exc.status)
        record.status, record.response = 200, {"ok": True, "result": result}
        await self._notify()
        return web.json_response(record.response)

    def _resolve_method(self, name: str) -> str:
        if self.spec is not None:
            canonical = self.spec.method_name(name)
        else:
            canonical = next(
                (m[5:] for m in dir(self) if m.startswith("_api_") and m[5:].lower() == name.lower()), None
            )
        if canonical is None:
            raise _ApiError(404, "Not Found")
        return canonical

    def _check_spec(self, method: str, raw: dict[str, Any]) -> dict[str, Any]:
        if self.spec is None:
            # Without the official description, still insist on the fields the fake's own methods need.
            for name in _REQUIRED_WITHOUT_SPEC.get(method, ()):
                if name not in raw:
                    raise _ApiError(400, f"Bad Request: parameter {name!r} is required")
            return {k: _loose_decode(v) for k, v in raw.items()}
        result = self.spec.check(method, raw)
        if result.problems:
            raise _ApiError(400, result.problems[0])
        return result.params

    def _take_fault(self, method: str) -> Fault | None:
        for index, (target, fault) in enumerate(self._faults):
            if target == method or (target is None and method != "getUpdates"):
                del self._faults[index]
                return fault
        return None

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    def _queue_update(self, body: dict[str, Any]) -> None:
        update = {"update_id": next(self._update_ids), **body}
        self._issued_updates[update["update_id"]] = update
        self._updates.append(update)
        if self._changed is not None:
            asyncio.get_running_loop().create_task(self._notify())

    # --- webhook delivery --------------------------------------------------------------------------------

    def _webhook_target(self, url: str) -> str | None:
        """Return where a webhook URL is really reached (a declared route, or 127.0.0.1 in local mode)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        netloc = f"{host}:{parts.port}" if parts.port else host
        base = self._webhook_routes.get(netloc) or self._webhook_routes.get(host)
        if base is None:
            if self.local_mode and host in ("127.0.0.1", "localhost"):
                return url
            return None
        return base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def _webhook_work_or_closing(self) -> bool:
        return self._closing or (self.webhook is not None and bool(self._updates))

    async def _deliver_webhooks(self) -> None:
        """POST queued updates to the webhook in order; retry the head on any failure, as Telegram does."""
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not self._closing:
                assert self._changed is not None
                async with self._changed:
                    await self._changed.wait_for(self._webhook_work_or_closing)
                hook = self.webhook
                if self._closing or hook is None or not self._updates:
                    continue
                update = self._updates[0]
                if hook.allowed_updates and _update_type(update) not in hook.allowed_updates:
                    self._updates.popleft()  # Telegram would not have produced it
                    continue
                if await self._post_update(session, hook, update):
                    if self._updates and self._updates[0] is update:
                        self._updates.popleft()
                else:
                    await asyncio.sleep(self.webhook_retry_s)
                await self._notify()

    async def _post_update(
        self, session: aiohttp.ClientSession, hook: WebhookState, update: dict[str, Any]
    ) -> bool:
        """POST one update; record the attempt; return True on a 2xx answer."""
        target = self._webhook_target(hook.url)
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        status, error = 0, ""
        if target is None:
            error = "Failed to resolve host: Name or service not known"
        else:
            try:
                async with session.post(target, data=json.dumps(update), headers=headers) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {type(exc).__name__}"
        self.webhook_deliveries.append(WebhookDelivery(update["update_id"], hook.url, status, error))
        if 200 <= status < 300:
            return True
        hook.last_error_date = int(time.time())
        hook.last_error_message = error or f"Wrong response from the webhook: {status}"
        return False

    # --- shared checks -----------------------------------------------------------------------------------

    def _chat_for_test(self, chat_id: int) -> FakeChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise FakeTelegramError(f"unknown chat {chat_id}: add_chat() it first")
        return chat

    def _chat(self, params: dict[str, Any], *, sending: bool = True) -> FakeChat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        chat: FakeChat | None = None
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self.chats.values() if c.username and f"@{c.username}" == raw), None)
        else:
            try:
                chat_id = int(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise _ApiError(400, "Bad Request: chat not found") from None
            chat = self.chats.get(chat_id)
            if chat is None and not self.strict_chats:
                chat = self.add_chat(chat_id)
        if chat is None:
            raise _ApiError(400, "Bad Request: chat not found")
        if chat.kicked and sending:
            if chat.type == "private":
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            raise _ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        return chat

    def _check_rate(self, method: str, chat: FakeChat) -> None:
        limits = self.limits
        if not limits.enabled or method not in limits.methods:
            return
        now = time.monotonic()
        history = self._sent_at.setdefault(chat.id, deque())
        waits = [
            _window_wait(history, now, limits.per_chat, limits.per_chat_window_s),
            _window_wait(self._sent_global, now, limits.global_count, limits.global_window_s),
        ]
        if chat.id < 0:
            waits.append(_window_wait(history, now, limits.group_count, limits.group_window_s))
        wait = max(waits)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise _ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        history.append(now)
        self._sent_global.append(now)

    def _formatted(
        self, text: Any, parse_mode: Any, limit: int, what: str
    ) -> tuple[str, list[dict[str, Any]]]:
        if not isinstance(text, str):
            raise _ApiError(400, f"Bad Request: {what} must be a string")
        mode = (parse_mode or "").lower() if isinstance(parse_mode, str) else ""
        if mode == "html":
            try:
                parsed = parse_html(text)
            except EntityParseError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc.reason}") from None
            visible, entities = parsed.text, parsed.entities
        elif mode:
            raise _ApiError(400, f"Bad Request: the fake only supports parse_mode HTML, not {parse_mode!r}")
        else:
            visible, entities = text, []
        if what == "message text" and not visible.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(visible) > limit:
            raise _ApiError(
                400,
                "Bad Request: message is too long"
                if what == "message text"
                else "Bad Request: message caption is too long",
            )
        return visible, entities

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return markup
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _ApiError(
                400,
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
                "should be an Array of Arrays",
            )
        buttons = [button for row in rows for button in row]
        if len(buttons) > 100 or any(len(row) > 8 for row in rows):
            raise _ApiError(400, "Bad Request: reply markup is too long")
        for button in buttons:
            if (
                not isinstance(button, dict)
                or not isinstance(button.get("text"), str)
                or not button["text"].strip()
            ):
                raise _ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard",
                )
            actions = [key for key in _BUTTON_ACTIONS if key in button]
            if len(actions) != 1:
                raise _ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: exactly one action field is required",
                )
            data = button.get("callback_data")
            if "callback_data" in button and (
                not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT
            ):
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            url = button.get("url")
            if "url" in button and not (isinstance(url, str) and re.match(r"^(https?|tg)://\S+$", url)):
                raise _ApiError(400, "Bad Request: BUTTON_URL_INVALID")
        return markup

    def _message_json(self, message: FakeMessage) -> dict[str, Any]:
        chat = self.chats[message.chat_id]
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": chat.to_json(),
        }
        if message.from_bot:
            data["from"] = self.bot_user
        if message.kind == "text":
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
            if message.link_preview_disabled:
                data["link_preview_options"] = {"is_disabled": True}
        elif message.kind == "photo":
            data["photo"] = [
                {
                    "file_id": f"photo{message.message_id}",
                    "file_unique_id": f"u{message.message_id}",
                    "width": 640,
                    "height": 480,
                    "file_size": len(message.file_data),
                }
            ]
        else:
            data["document"] = {
                "file_id": f"doc{message.message_id}",
                "file_unique_id": f"u{message.message_id}",
                "file_name": message.file_name,
                "file_size": len(message.file_data),
            }
        if message.kind != "text" and message.text:
            data["caption"] = message.text
            if message.entities:
                data["caption_entities"] = message.entities
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    def _store(self, chat: FakeChat, message: FakeMessage, params: dict[str, Any]) -> dict[str, Any]:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict) and isinstance(reply.get("message_id"), int):
            if reply["message_id"] not in self._messages[chat.id] and not reply.get(
                "allow_sending_without_reply"
            ):
                raise _ApiError(400, "Bad Request: message to be replied not found")
            message.reply_to = reply["message_id"]
        self._messages[chat.id][message.message_id] = message
        return self._message_json(message)

    # --- methods -----------------------------------------------------------------------------------------

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return self.bot_user

    async def _api_logOut(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_close(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._updates.clear()
        self.webhook = None
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        url = str(params.get("url", "")).strip()
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._updates.clear()
        if not url:
            self.webhook = None  # the documented way to remove the webhook
            return True
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise _ApiError(400, "Bad Request: bad webhook: invalid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _ApiError(400, "Bad Request: bad webhook: invalid URL")
        if not self.local_mode:
            if parts.scheme != "https":
                raise _ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
            if (port or 443) not in _WEBHOOK_PORTS:
                raise _ApiError(
                    400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                )
        if self._webhook_target(url) is None:
            raise _ApiError(400, "Bad Request: bad webhook: Failed to resolve host: Name or service not known")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = _loose_decode(params.get("allowed_updates"))
        previous = self.webhook
        self.webhook = WebhookState(
            url=url,
            secret_token=str(secret) if secret is not None else None,
            max_connections=min(max(_as_int(params.get("max_connections"), 40), 1), 100),
            # "If not specified, the previous setting will be used."
            allowed_updates=list(allowed) if isinstance(allowed, list) else (
                previous.allowed_updates if previous else None
            ),
        )
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        hook = self.webhook
        if hook is None:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        info: dict[str, Any] = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
            "max_connections": hook.max_connections,
        }
        if hook.allowed_updates is not None:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message or ""
        return info

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise _ApiError(409, _WEBHOOK_CONFLICT)
        offset = _as_int(params.get("offset"), 0)
        limit = min(max(_as_int(params.get("limit"), 100), 1), 100)
        timeout = min(max(_as_int(params.get("timeout"), 0), 0), self.max_poll_wait_s)
        while self._updates and self._updates[0]["update_id"] < offset:
            self._updates.popleft()
        if not self._updates and timeout > 0 and not self._closing:
            with contextlib.suppress(FakeTelegramError):
                await self.wait_until(lambda: bool(self._updates) or self._closing, timeout, "updates")
        return list(itertools.islice(self._updates, limit))

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_NAME.match(str(command.get("command", ""))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[str(params.get("language_code") or "")] = commands
        return True

    async def _api_getMyCommands(self, params: dict[str, Any]) -> Any:
        return self.commands.get(str(params.get("language_code") or ""), [])

    async def _api_getChat(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params, sending=False)
        return {
            **chat.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
            },
        }

    async def _api_getChatMember(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params, sending=False)
        if chat.kicked:
            raise _ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        user_id = _as_int(params.get("user_id"), 0)
        status = chat.members.get(
            user_id, "member" if chat.type != "private" or user_id == chat.id else "left"
        )
        user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    key: False
                    for key in (
                        "can_be_edited",
                        "is_anonymous",
                        "can_manage_video_chats",
                        "can_restrict_members",
                        "can_promote_members",
                        "can_change_info",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                    )
                }
            )
            member.update(can_manage_chat=True, can_delete_messages=True, can_invite_users=True)
        elif status in {"kicked", "restricted"}:
            member["until_date"] = 0
            if status == "restricted":
                member.update(
                    {
                        key: True
                        for key in (
                            "is_member",
                            "can_send_messages",
                            "can_send_audios",
                            "can_send_documents",
                            "can_send_photos",
                            "can_send_videos",
                            "can_send_video_notes",
                            "can_send_voice_notes",
                            "can_send_polls",
                            "can_send_other_messages",
                            "can_add_web_page_previews",
                            "can_change_info",
                            "can_invite_users",
                            "can_pin_messages",
                            "can_manage_topics",
                            "can_edit_tag",
                        )
                    }
                )
        return member

    async def _api_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._chat(params)
        return True

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        if "text" not in params:
            raise _ApiError(400, "Bad Request: message text is empty")
        chat = self._chat(params)
        visible, entities = self._formatted(
            params["text"], params.get("parse_mode"), TEXT_LIMIT, "message text"
        )
        markup = self._markup(params)
        self._check_rate("sendMessage", chat)
        preview = params.get("link_preview_options")
        if isinstance(preview, str):
            preview = _loose_decode(preview)
        message = FakeMessage(
            next(self._message_ids),
            chat.id,
            True,
            "text",
            visible,
            params["text"],
            entities,
            markup,
            link_preview_disabled=isinstance(preview, dict) and preview.get("is_disabled") is True,
            date=int(time.time()),
        )
        return self._store(chat, message, params)

    async def _send_media(self, params: dict[str, Any], kind: str, field_name: str) -> Any:
        chat = self._chat(params)
        upload = params.get(field_name)
        if not isinstance(upload, UploadedFile | str) or (
            isinstance(upload, UploadedFile) and not upload.data
        ):
            raise _ApiError(400, f"Bad Request: there is no {field_name} in the request")
        visible: str = ""
        entities: list[dict[str, Any]] = []
        if params.get("caption"):
            visible, entities = self._formatted(
                params["caption"], params.get("parse_mode"), CAPTION_LIMIT, "caption"
            )
        markup = self._markup(params)
        self._check_rate("sendPhoto" if kind == "photo" else "sendDocument", chat)
        name = upload.filename if isinstance(upload, UploadedFile) else upload
        data = upload.data if isinstance(upload, UploadedFile) else b""
        message = FakeMessage(
            next(self._message_ids),
            chat.id,
            True,
            kind,
            visible,
            str(params.get("caption", "")),
            entities,
            markup,
            file_name=name,
            file_data=data,
            date=int(time.time()),
        )
        return self._store(chat, message, params)

    async def _api_sendPhoto(self, params: dict[str, Any]) -> Any:
        return await self._send_media(params, "photo", "photo")

    async def _api_sendDocument(self, params: dict[str, Any]) -> Any:
        return await self._send_media(params, "document", "document")

    def _target(self, params: dict[str, Any]) -> tuple[FakeChat, FakeMessage]:
        if "inline_message_id" in params:
            raise _ApiError(400, "Bad Request: the fake does not support inline messages")
        if "chat_id" not in params or "message_id" not in params:
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        chat = self._chat(params)
        message = self._messages[chat.id].get(_as_int(params["message_id"], 0))
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return chat, message

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        chat, message = self._target(params)
        if "text" not in params:
            raise _ApiError(400, "Bad Request: text must be non-empty")
        if message.kind != "text":
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        visible, entities = self._formatted(
            params["text"], params.get("parse_mode"), TEXT_LIMIT, "message text"
        )
        markup = self._markup(params)
        if visible == message.text and entities == message.entities and markup == message.reply_markup:
            raise _ApiError(400, _NOT_MODIFIED)
        message.history.append(message.text)
        message.text, message.html, message.entities, message.reply_markup = (
            visible,
            params["text"],
            entities,
            markup,
        )
        preview = _loose_decode(params.get("link_preview_options"))
        message.link_preview_disabled = isinstance(preview, dict) and preview.get("is_disabled") is True
        return self._message_json(message)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        chat, message = self._target(params)
        markup = self._markup(params)
        if markup == message.reply_markup:
            raise _ApiError(400, _NOT_MODIFIED)
        message.history.append(message.text)
        message.reply_markup = markup
        return self._message_json(message)

    async def _api_deleteMessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        if self._messages[chat.id].pop(_as_int(params.get("message_id"), 0), None) is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._issued_queries or query_id in self.callback_answers:
            raise _ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text", ""))) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers[query_id] = params
        return True


def _update_type(update: dict[str, Any]) -> str:
    """Return an update's kind ("message", "callback_query", ...): its one key besides update_id."""
    return next((key for key in update if key != "update_id"), "")


def _window_wait(history: deque[float], now: float, count: int, window_s: float) -> float:
    """Return how long until one more event fits `count` per `window_s` (0 when it fits now)."""
    recent = [t for t in history if now - t < window_s]
    if len(recent) < count:
        return 0.0
    return recent[-count] + window_s - now


def _as_int(value: Any, default: int) -> int:
    """Read an integer parameter that may still be text (when the spec check is off)."""
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _ApiError(400, f"Bad Request: expected an Integer, got {value!r}") from None


def _loose_decode(value: Any) -> Any:
    """Decode a JSON-looking text parameter (the spec-free path)."""
    if isinstance(value, str) and value[:1] in {"{", "["}:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Read parameters the three ways the Bot API accepts them: query/form, JSON body, multipart."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            params.update(body)
    elif request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = UploadedFile(value.filename, value.content_type, value.file.read())
            elif isinstance(value, str):
                params[key] = value
            else:
                params[key] = UploadedFile("", "application/octet-stream", bytes(value))
    return params


def _envelope_error(status: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description}, status=status)
