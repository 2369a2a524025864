"""Telegram, through python-telegram-bot 22: commands in, replies and alerts out. Translates, never decides.

Runs inside the application's event loop (initialize, start, start_polling; never run_polling), so
Telegram, Discord and the scheduler share one loop. The Bot API base URL is a constructor argument, which
is also how a self-hosted Bot API server is used. All HTML comes from bot.platforms.telegram_render.

Two ways in, chosen by the `webhook` argument:

    long polling (None)   PTB's updater calls getUpdates; start_polling first deletes any webhook
    webhook               bot.platforms.telegram_webhook serves POSTs from a reverse proxy and puts each
                          Update on PTB's update queue (same handlers, same concurrency); getUpdates is never
                          called. With `set_webhook`, start() calls setWebhook; stop() never deletes the
                          webhook, since other front ends behind the same proxy still serve it.

    message "/search ai" ─► Request(command="search", args="ai", lang, is_admin) ─► router ─► Reply ─► HTML
    button press         ─► callback_data ─► same command line, from_button=True ─► edit the message in place

Errors:

    TelegramAdapterError      start() could not connect: token refused, API unreachable, bad base URL;
                              webhook: no valid secret, port taken, setWebhook refused
    bot.delivery.errors.*     send_alert / edit_alert / send_reply failures, mapped from the SDK:
        RetryLater            429 with retry_after
        TransientError        5xx, timeouts, dropped connections, an unexpected answer
        PermanentError        403 (kicked, blocked), 400 about the chat (chat not found, no rights),
                              chat migrated to a supergroup (the new id is in the reason)
        MessageRejected       400 about the message itself (entities, lengths): our payload was wrong
        MessageGone           the alert to edit was deleted
        DeliveryError         the caller passed something that is not a Telegram chat or message id

Interactive replies (answers to commands and buttons) honour one retry_after wait, then give up with a
log line; alerts are never retried here: the sender decides.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.config import TelegramWebhookSettings, telegram_secret_problem
from bot.delivery.errors import (
    DeliveryError,
    MessageGone,
    MessageRejected,
    PermanentError,
    RetryLater,
    TransientError,
)
from bot.messages import AlertMessage, Reply, Request
from bot.models import ChatRef
from bot.platforms.base import CommandRouter
from bot.platforms.telegram_render import (
    CAPTION_LIMIT,
    CallbackCodec,
    escape,
    keyboard,
    render_alert,
    render_reply,
    visible_length,
    word,
)
from bot.platforms.telegram_webhook import InvalidUpdate, WebhookError, WebhookServer, WebhookStats
from handlers.spec import COMMANDS, COMMANDS_BY_NAME

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
PLATFORM = "telegram"
_COMMAND_LINE = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+(.*))?$", re.DOTALL)
_ADMIN_STATUSES = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
ALLOWED_UPDATES = [Update.MESSAGE, Update.CHANNEL_POST, Update.CALLBACK_QUERY]
_T = TypeVar("_T")


class TelegramAdapterError(Exception):
    """The adapter could not start: `reason` says why (token refused, API unreachable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"telegram: {reason}")
        self.reason = reason


def lang_hint(language_code: str | None, default: str) -> str:
    """Return "fr" for a French client, "en" for any other, `default` when the client did not say."""
    if not language_code:
        return default
    return "fr" if language_code.lower().startswith("fr") else "en"


def parse_command_line(text: str, bot_username: str | None) -> tuple[str, str, bool] | None:
    """Split "/cmd@bot args" into (command, args, addressed_to_us); None when not a command for this bot."""
    match = _COMMAND_LINE.match(text.lstrip())
    if not match:
        return None
    command, target, args = match.group(1).lower(), match.group(2), match.group(3) or ""
    if target and (bot_username is None or target.lower() != bot_username.lower()):
        return None
    return command, args, bool(target)


def retry_after_seconds(exc: RetryAfter) -> float:
    """Read RetryAfter's delay as seconds, whichever type this PTB version returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns about the int/timedelta transition on access
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


_CHAT_LEVEL_REFUSAL = re.compile(
    r"chat not found|not enough rights|have no rights|need administrator|bot is not a member|"
    r"chat_write_forbidden|chat is deactivated|group chat was upgraded|peer_id_invalid",
    re.IGNORECASE,
)


def delivery_error(chat: str, exc: BaseException) -> DeliveryError:
    """Map an SDK or network exception to the sender's error kinds."""
    if isinstance(exc, RetryAfter):
        return RetryLater(chat, f"rate limited by Telegram: {exc.message}", retry_after_seconds(exc))
    if isinstance(exc, ChatMigrated):
        return PermanentError(chat, f"group was upgraded to supergroup telegram:{exc.new_chat_id}")
    if isinstance(exc, Forbidden):
        return PermanentError(chat, f"forbidden: {exc.message}")
    if isinstance(exc, BadRequest):
        if _CHAT_LEVEL_REFUSAL.search(exc.message):
            return PermanentError(chat, f"rejected by Telegram: {exc.message}")
        # Anything else refused the message itself (entities, lengths): our bug, not the chat's.
        return MessageRejected(chat, f"rejected by Telegram: {exc.message}")
    if isinstance(exc, InvalidToken):
        # 401/404 are about the bot (token revoked, API URL wrong), not this chat: retrying later is the
        # only answer that does not pause every chat at once.
        return TransientError(chat, f"Telegram refused the bot: {exc.message}")
    if isinstance(exc, TelegramError):
        return TransientError(chat, f"Telegram error: {exc.message}")
    return TransientError(chat, f"unexpected {type(exc).__name__}: {exc}")


class TelegramPlatform:
    """A running Telegram bot: routes commands and button presses, posts replies and alerts."""

    name = PLATFORM

    def __init__(
        self,
        token: str,
        *,
        api_base_url: str = DEFAULT_API_BASE_URL,
        default_lang: str = "en",
        poll_timeout_s: int = 10,
        request_timeout_s: float = 20.0,
        max_retry_wait_s: float = 30.0,
        admin_cache_s: float = 60.0,
        button_map_size: int = 2048,
        concurrent_updates: int = 16,
        webhook: TelegramWebhookSettings | None = None,
        webhook_secret: str | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not token or not token.strip():
            raise TelegramAdapterError("no bot token given")
        if not re.match(r"^https?://", api_base_url):
            raise TelegramAdapterError(f"api_base_url must be an http(s) URL, got {api_base_url!r}")
        if webhook is not None:
            _check_webhook(webhook, webhook_secret)
        self._webhook = webhook
        self._webhook_secret = (webhook_secret or "").strip()
        self._webhook_server: WebhookServer | None = None
        self._token = token.strip()
        self.api_base_url = api_base_url
        self.default_lang = default_lang if default_lang in {"en", "fr"} else "en"
        self._poll_timeout_s = poll_timeout_s
        self._request_timeout_s = request_timeout_s
        self._max_retry_wait_s = max_retry_wait_s
        self._admin_cache_s = admin_cache_s
        self._concurrent_updates = concurrent_updates
        self._codec = CallbackCodec(button_map_size)
        self._admins: OrderedDict[tuple[int, int], tuple[float, bool]] = OrderedDict()
        self._log = logger or logging.getLogger(__name__)
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._router: CommandRouter | None = None
        self.bot_username: str | None = None

    def __repr__(self) -> str:
        return f"TelegramPlatform(api_base_url={self.api_base_url!r})"  # never the token

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self, router: CommandRouter) -> None:
        """Check the token, register the command menu, and begin long polling (or serving the webhook)."""
        if self._app is not None:
            return
        self._router = router
        timeout = self._request_timeout_s
        builder = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(self.api_base_url)
            .base_file_url(_file_url(self.api_base_url))
            .job_queue(None)  # the application's own APScheduler runs jobs; PTB's would be a second one
            .concurrent_updates(self._concurrent_updates)
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .write_timeout(timeout)
            .pool_timeout(timeout)
            .get_updates_connect_timeout(timeout)
            .get_updates_read_timeout(timeout)
        )
        if self._webhook is not None:
            # No updater in webhook mode: nothing can call getUpdates, which Telegram refuses (409) anyway.
            builder = builder.updater(None)
        app = builder.build()
        updates = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        app.add_handler(MessageHandler(filters.COMMAND & updates, self._on_command))
        app.add_handler(CallbackQueryHandler(self._on_button))
        app.add_error_handler(self._on_error)
        try:
            await app.initialize()
        except InvalidToken as exc:
            raise TelegramAdapterError(f"the bot token was refused ({exc.message})") from exc
        except TelegramError as exc:
            raise TelegramAdapterError(
                f"cannot reach the Bot API at {self.api_base_url}: {exc.message}"
            ) from exc
        try:
            self.bot_username = app.bot.username
            await self._register_commands(app)
            await app.start()
            if self._webhook is not None:
                # Set first: replies to the first webhook updates need the running bot.
                self._app = app
                await self._start_webhook(app, self._webhook)
                return
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0.0,
                timeout=self._poll_timeout_s,
                allowed_updates=ALLOWED_UPDATES,
            )
        except BaseException:
            self._app = None
            if self._webhook_server is not None:
                await _quietly(self._webhook_server.stop(), self._log, "stopping the webhook server")
                self._webhook_server = None
            if app.running:
                await _quietly(app.stop(), self._log, "stopping after a failed start")
            await _quietly(app.shutdown(), self._log, "shutting down after a failed start")
            raise
        self._app = app
        self._log.info("telegram: polling as @%s via %s", self.bot_username, self.api_base_url)

    async def _start_webhook(
        self, app: Application[Any, Any, Any, Any, Any, Any], settings: TelegramWebhookSettings
    ) -> None:
        """Serve the webhook, then (with set_webhook) tell Telegram where to send updates."""

        async def accept(data: dict[str, Any]) -> None:
            try:
                update = Update.de_json(data, app.bot)
            except Exception as exc:  # PTB raises KeyError, TypeError, AttributeError... on malformed parts
                raise InvalidUpdate(f"{type(exc).__name__}: {exc}") from exc
            await app.update_queue.put(update)

        server = WebhookServer(
            listen=settings.listen,
            port=settings.port,
            path=settings.path,
            secret_token=self._webhook_secret,
            accept=accept,
            logger=self._log,
        )
        try:
            await server.start()
        except WebhookError as exc:
            raise TelegramAdapterError(f"webhook server: {exc.reason}") from exc
        self._webhook_server = server
        if settings.set_webhook:
            try:
                await app.bot.set_webhook(
                    settings.public_url,
                    max_connections=settings.max_connections,
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=settings.drop_pending_updates,
                    secret_token=self._webhook_secret,
                )
            except TelegramError as exc:
                raise TelegramAdapterError(f"setWebhook({settings.public_url}) was refused: {exc.message}") from exc
        else:
            await self._check_registered(app, settings.public_url)
        self._log.info(
            "telegram: webhook as @%s on %s:%d%s, Telegram calls %s (%s)",
            self.bot_username,
            settings.listen,
            server.port,
            settings.path,
            settings.public_url,
            "registered with setWebhook" if settings.set_webhook else "registered elsewhere",
        )

    async def _check_registered(self, app: Application[Any, Any, Any, Any, Any, Any], public_url: str) -> None:
        """Warn when the webhook another process registers does not point at this front end's proxy (yet)."""
        try:
            info = await app.bot.get_webhook_info()
        except TelegramError as exc:
            self._log.warning("telegram: getWebhookInfo failed: %s", exc.message)
            return
        if info.url != public_url:
            self._log.warning(
                "telegram: the registered webhook is %r, not %s: this front end receives nothing until one "
                "process with telegram.webhook.set_webhook: true (or a deploy step) calls setWebhook",
                info.url,
                public_url,
            )

    @property
    def webhook_port(self) -> int | None:
        """Return the port the webhook server listens on (None in polling mode or when stopped)."""
        return self._webhook_server.port if self._webhook_server is not None else None

    @property
    def webhook_stats(self) -> WebhookStats | None:
        """Return the webhook server's counts of accepted, duplicate and refused requests."""
        return self._webhook_server.stats if self._webhook_server is not None else None

    async def stop(self) -> None:
        """Stop receiving updates, let running handlers finish, and close the HTTP connections."""
        app = self._app
        if app is None:
            return
        server, self._webhook_server = self._webhook_server, None
        if server is not None:
            # The webhook stays registered: the other front ends behind the proxy still serve it.
            await _quietly(server.stop(), self._log, "stopping the webhook server")
        if app.updater is not None and app.updater.running:
            await _quietly(app.updater.stop(), self._log, "stopping the updater")
        if app.running:
            # The bot stays usable meanwhile: updates already acknowledged (webhook: answered 200) still get
            # their replies while PTB drains its queue.
            await _quietly(app.stop(), self._log, "stopping the application")
        self._app = None
        await _quietly(app.shutdown(), self._log, "shutting down")

    async def _register_commands(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Show the command menu in clients: English by default, French for French clients."""
        for lang in ("en", "fr"):
            commands = [BotCommand(spec.name, spec.description(lang)[:256]) for spec in COMMANDS]
            try:
                await app.bot.set_my_commands(commands, language_code=None if lang == "en" else lang)
            except TelegramError as exc:
                # A missing menu is cosmetic: the commands still work when typed.
                self._log.warning("telegram: setMyCommands (%s) failed: %s", lang, exc.message)

    # --- outgoing: the sender's API ----------------------------------------------------------------------

    async def send_alert(self, alert: AlertMessage) -> str:
        """Post an alert; return its message id (raise bot.delivery.errors on failure)."""
        chat_id = _chat_id(alert.chat)
        bot = self._bot(alert.chat)
        try:
            message = await bot.send_message(chat_id, render_alert(alert), parse_mode=ParseMode.HTML)
        except Exception as exc:  # every failure becomes one of the sender's error kinds
            raise delivery_error(str(alert.chat), exc) from exc
        return str(message.message_id)

    async def edit_alert(self, alert: AlertMessage, message_id: str) -> None:
        """Update a posted alert in place; raise MessageGone when the users deleted it (the sender re-posts)."""
        chat_id = _chat_id(alert.chat)
        if not message_id.strip().isdigit():
            raise DeliveryError(str(alert.chat), f"not a Telegram message id: {message_id!r}")
        bot = self._bot(alert.chat)
        try:
            await bot.edit_message_text(
                render_alert(alert), chat_id=chat_id, message_id=int(message_id), parse_mode=ParseMode.HTML
            )
        except BadRequest as exc:
            reason = exc.message.lower()
            if "not modified" in reason:
                return
            if "message to edit not found" in reason or "message can't be edited" in reason:
                raise MessageGone(str(alert.chat), exc.message) from exc
            raise delivery_error(str(alert.chat), exc) from exc
        except Exception as exc:
            raise delivery_error(str(alert.chat), exc) from exc

    async def send_reply(self, chat: ChatRef, reply: Reply) -> str:
        """Post an unsolicited reply (digest, notice); return the first message's id."""
        chat_id = _chat_id(chat)
        self._bot(chat)
        try:
            ids = await self._deliver(chat_id, reply, self.default_lang, retry_once=False)
        except Exception as exc:
            raise delivery_error(str(chat), exc) from exc
        return str(ids[0]) if ids else ""

    # --- incoming ---------------------------------------------------------------------------------------

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Turn a typed command into a Request, run it, and answer in the same chat."""
        message = update.effective_message
        if message is None or not message.text:
            return
        parsed = parse_command_line(message.text, self.bot_username)
        if parsed is None:
            return
        command, args, addressed = parsed
        chat = message.chat
        # In groups several bots share the slash namespace: answer unknown commands only when addressed.
        if command not in COMMANDS_BY_NAME and chat.type != ChatType.PRIVATE and not addressed:
            return
        user = message.from_user
        lang = lang_hint(user.language_code if user else None, self.default_lang)
        request = Request(
            chat=ChatRef(PLATFORM, str(chat.id)),
            user_id=str(user.id if user else (message.sender_chat.id if message.sender_chat else chat.id)),
            command=command,
            args=args,
            lang=lang,
            is_admin=await self._is_admin(chat, user, message),
        )
        reply = await self._dispatch(request)
        if reply.silent:
            return
        quote = message.message_id if chat.type != ChatType.PRIVATE else None
        await self._answer(chat.id, reply, lang, reply_to=quote)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Replay a button's command line and edit the pressed message in place."""
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        lang = lang_hint(user.language_code, self.default_lang)
        decoded = self._codec.decode(query.data or "")
        message = query.message
        if decoded is None or not isinstance(message, Message):
            await _quietly(query.answer(word(lang, "expired")), self._log, "answering an expired button")
            return
        # Answer first: the client shows a spinner on the button until it is answered.
        await _quietly(query.answer(), self._log, "answering a button")
        command, args = decoded
        chat = message.chat
        request = Request(
            chat=ChatRef(PLATFORM, str(chat.id)),
            user_id=str(user.id),
            command=command,
            args=args,
            lang=lang,
            is_admin=await self._is_admin(chat, user, None),
            from_button=True,
        )
        reply = await self._dispatch(request)
        if reply.silent:
            return
        await self._answer(chat.id, reply, lang, edit_message_id=message.message_id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log what escaped a handler; PTB would otherwise only print it."""
        self._log.error("telegram: error while handling an update: %r", context.error, exc_info=context.error)

    async def _dispatch(self, request: Request) -> Reply:
        """Run the router; a router that breaks its never-raise promise still yields an error reply."""
        assert self._router is not None
        try:
            return await self._router.dispatch(request)
        except Exception:
            self._log.exception("telegram: router failed on /%s in %s", request.command, request.chat)
            return Reply(text=word(request.lang, "error"), is_error=True)

    async def _answer(
        self,
        chat_id: int,
        reply: Reply,
        lang: str,
        *,
        reply_to: int | None = None,
        edit_message_id: int | None = None,
    ) -> None:
        """Deliver an interactive reply; failures are logged, since nobody waits for them."""
        try:
            await self._deliver(
                chat_id, reply, lang, retry_once=True, reply_to=reply_to, edit_message_id=edit_message_id
            )
        except Exception as exc:
            error = delivery_error(f"{PLATFORM}:{chat_id}", exc)
            self._log.warning("telegram: reply not delivered: %s", error)

    async def _is_admin(self, chat: Chat, user: User | None, message: Message | None) -> bool:
        """Tell whether the sender runs this chat: private chats, channel posts and anonymous admins do."""
        if chat.type in {ChatType.PRIVATE, ChatType.CHANNEL}:
            return True
        if message is not None and message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # an anonymous group administrator posts as the group itself
        if user is None:
            return False
        key = (chat.id, user.id)
        now = time.monotonic()
        cached = self._admins.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            member = await chat.get_member(user.id)
        except TelegramError as exc:
            self._log.warning("telegram: getChatMember failed in %s: %s", chat.id, exc.message)
            return False
        is_admin = member.status in _ADMIN_STATUSES
        self._admins[key] = (now + self._admin_cache_s, is_admin)
        while len(self._admins) > 4096:
            self._admins.popitem(last=False)
        return is_admin

    # --- rendering and sending ---------------------------------------------------------------------------

    async def _deliver(
        self,
        chat_id: int | str,
        reply: Reply,
        lang: str,
        *,
        retry_once: bool,
        reply_to: int | None = None,
        edit_message_id: int | None = None,
    ) -> list[int]:
        """Send (or edit in place) a reply's messages, keyboard on the last one; return the message ids."""
        bot = self._bot(None)
        texts = render_reply(reply, lang)
        rows = keyboard(reply.buttons, self._codec)
        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(key.label, callback_data=key.data) for key in row] for row in rows]
            )
            if rows
            else None
        )
        has_media = reply.image_png is not None or reply.document is not None
        if not texts and not has_media:
            texts = [escape(word(lang, "empty"))]
        preview = LinkPreviewOptions(is_disabled=True) if reply.disable_preview else None
        call = self._retrying if retry_once else _once
        ids: list[int] = []
        reply_parameters = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None

        caption: str | None = None
        if (
            reply.image_png is not None
            and len(texts) <= 1
            and (not texts or visible_length(texts[0]) <= CAPTION_LIMIT)
        ):
            caption, texts = (texts[0] if texts else None), []

        for index, text in enumerate(texts):
            last = index == len(texts) - 1
            keys = markup if last and caption is None else None
            target = edit_message_id if index == 0 and not has_media else None
            if target is not None and await self._edit_in_place(chat_id, target, text, keys, preview, call):
                ids.append(target)
                continue
            sent = await call(
                lambda text=text, keys=keys: bot.send_message(  # type: ignore[misc]
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=preview,
                    reply_markup=keys,
                    reply_parameters=reply_parameters if not ids else None,
                )
            )
            ids.append(sent.message_id)
        if reply.image_png is not None:
            image = reply.image_png
            sent = await call(
                lambda: bot.send_photo(
                    chat_id,
                    image,
                    caption=caption,
                    parse_mode=ParseMode.HTML if caption else None,
                    filename=reply.image_name,
                    reply_markup=markup if caption is not None or not texts else None,
                    reply_parameters=reply_parameters if not ids else None,
                )
            )
            ids.append(sent.message_id)
        if reply.document is not None:
            name, data = reply.document
            sent = await call(
                lambda: bot.send_document(
                    chat_id,
                    data,
                    filename=name,
                    reply_parameters=reply_parameters if not ids else None,
                    # Buttons ride on the last message: the file when there was no text or image.
                    reply_markup=markup if not ids else None,
                )
            )
            ids.append(sent.message_id)
        return ids

    async def _edit_in_place(
        self,
        chat_id: int | str,
        message_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
        preview: LinkPreviewOptions | None,
        call: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]],
    ) -> bool:
        """Edit a pressed message; False when it cannot be edited (then the caller sends a new one)."""
        bot = self._bot(None)
        try:
            await call(
                lambda: bot.edit_message_text(
                    text,
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=preview,
                    reply_markup=markup,
                )
            )
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return True  # the same page pressed twice: nothing to change
            self._log.info(
                "telegram: cannot edit %s in %s (%s); sending instead", message_id, chat_id, exc.message
            )
            return False
        return True

    async def _retrying(self, make: Callable[[], Awaitable[_T]]) -> _T:
        """Run one API call, waiting out a single 429 when the wait is reasonable."""
        try:
            return await make()
        except RetryAfter as exc:
            wait = retry_after_seconds(exc)
            if wait > self._max_retry_wait_s:
                raise
            await asyncio.sleep(wait)
            return await make()

    def _bot(self, chat: ChatRef | None) -> Any:
        """Return the running bot, or raise a typed error when the adapter is not started."""
        if self._app is None:
            raise TransientError(str(chat) if chat else PLATFORM, "the Telegram adapter is not running")
        return self._app.bot


async def _once(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run one API call with no retry (alerts: the sender owns retries)."""
    return await make()


async def _quietly(awaitable: Awaitable[Any], log: logging.Logger, what: str) -> None:
    """Await a best-effort step, logging instead of raising."""
    try:
        await awaitable
    except Exception as exc:
        log.warning("telegram: failed %s: %r", what, exc)


def _chat_id(chat: ChatRef) -> int | str:
    """Return the Bot API chat_id for a ChatRef; raise DeliveryError when it is not a Telegram chat."""
    if chat.platform != PLATFORM:
        raise DeliveryError(str(chat), "not a Telegram chat")
    value = chat.chat_id.strip()
    if re.fullmatch(r"-?\d{1,20}", value):
        return int(value)
    if re.fullmatch(r"@[A-Za-z0-9_]{4,64}", value):
        return value
    raise DeliveryError(str(chat), f"not a Telegram chat id or @channel name: {chat.chat_id!r}")


def _check_webhook(settings: TelegramWebhookSettings, secret: str | None) -> None:
    """Refuse a webhook setup Telegram or the proxy could not use, saying which setting to fix."""
    if not settings.public_url:
        raise TelegramAdapterError("webhook mode needs telegram.webhook.public_url (the URL Telegram calls)")
    if not settings.path.startswith("/"):
        raise TelegramAdapterError(f"telegram.webhook.path must start with /, got {settings.path!r}")
    value = (secret or "").strip()
    if not value:
        raise TelegramAdapterError(
            f"webhook mode needs a secret token: set ${settings.secret_token_env} "
            "(1-256 characters among A-Z a-z 0-9 _ -, the same in every front end)"
        )
    problem = telegram_secret_problem(value)
    if problem:
        raise TelegramAdapterError(f"${settings.secret_token_env} {problem}")


def _file_url(api_base_url: str) -> str:
    """Derive the file download URL from the API URL (…/bot -> …/file/bot), as Bot API servers lay it out."""
    base = api_base_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"
