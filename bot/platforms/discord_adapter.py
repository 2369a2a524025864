"""Discord, through discord.py: slash commands in, embeds out, alerts sent and edited.

This module and discord_render.py are the only places that know Discord. The adapter registers the
commands of handlers/spec.py as slash commands (typed options, French localizations, autocomplete for
/unsubscribe), turns each interaction into a `Request` for the router, and renders the `Reply`. Button
presses replay a command line and edit their message in place. Alerts go to a channel by id, with no
gateway cache needed. Every message is sent with allowed_mentions that ping nobody.

The client runs in the caller's event loop: `start()` logs in, syncs the commands and connects in a
background task (never `client.run()`), returning once the gateway says READY.

Sharding (`shards`): "off" runs one plain discord.Client, as a small bot needs. "auto" runs an
AutoShardedClient with the shard count Discord recommends (GET /gateway/bot); a number N runs N shards,
all of them or only `shard_ids`, so several processes can each run a slice. A process running exactly
one shard uses a plain Client with shard_id/shard_count (what discord.py documents for one shard per
process). Whatever the shard, commands, buttons and autocomplete arrive on the connection of their
guild's shard and are answered over REST, and alerts go over REST to a channel id, so any process can
deliver an alert to any guild. IDENTIFYs are spaced as Discord asks (one per 5 s per bucket
shard_id % max_concurrency), and start() returns once every shard of this process is ready.

Needs: scopes `bot` + `applications.commands`; only the non-privileged Guilds intent (no message content:
slash commands do not need it); channel permissions View Channel, Send Messages, Embed Links,
Attach Files.

Errors:

    DiscordAdapterError         base: the adapter cannot work as configured (bad shard settings too)
    └── DiscordStartError       login, command sync or gateway connection failed at start
                                (Discord requiring sharding, close 4011, says to set discord.shards)

Sends report failures as bot.delivery.errors (RetryLater, TransientError, PermanentError). discord.py
itself waits out rate limits shorter than `max_ratelimit_wait_s` (it must honour Discord's buckets) and
retries 500/502/504 a few times; longer limits surface as RetryLater and other failures are not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Optional

import aiohttp
import discord
import yarl
from discord import app_commands

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
from bot.platforms.discord_render import (
    BUTTONS_PER_ROW,
    ButtonCodec,
    ButtonCodecError,
    RenderedMessage,
    render_alert,
    render_reply,
)
from handlers.spec import COMMANDS, CommandSpec

DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
PLATFORM = "discord"
IDENTIFY_INTERVAL_S = 5.0  # Discord: one IDENTIFY per 5 s in each max_concurrency bucket
# Gateway close codes that mean the configuration, not the network, is wrong: say what to change.
_CLOSE_REASONS = {
    4004: "the token was refused (gateway close 4004 Authentication failed)",
    4010: "Discord refused the shard (gateway close 4010 Invalid shard): check discord.shards and discord.shard_ids",
    4011: (
        "Discord requires sharding for this bot (gateway close 4011 Sharding required: it is in too many "
        "servers for one connection); set discord.shards: auto (or a number of shards) in the config"
    ),
    4013: "Discord refused the intents (gateway close 4013 Invalid intents)",
    4014: "a privileged intent is not enabled for this application (gateway close 4014 Disallowed intents)",
}

_log = logging.getLogger(__name__)
_NO_PINGS = discord.AllowedMentions.none()
_EXPIRED_TEXT = {
    "en": "This button has expired: run the command again.",
    "fr": "Ce bouton a expiré : relancez la commande.",
}
_FAILED_TEXT = {
    "en": "Something went wrong; please try again.",
    "fr": "Une erreur est survenue ; réessayez.",
}


class DiscordAdapterError(Exception):
    """The Discord adapter cannot work as configured."""


class DiscordStartError(DiscordAdapterError):
    """Login, command sync or the gateway connection failed while starting."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"discord {step}: {reason}")
        self.step = step
        self.reason = reason


class DiscordAdapter:
    """A running Discord bot connection implementing bot.platforms.base.ChatPlatform."""

    name = PLATFORM

    def __init__(
        self,
        token: str,
        *,
        default_lang: str = "en",
        api_base_url: str = DEFAULT_API_BASE_URL,
        gateway_url: str = DEFAULT_GATEWAY_URL,
        guild_id: int | str | None = None,
        sync_commands: bool = True,
        ready_timeout_s: float = 60.0,
        guild_ready_timeout_s: float = 2.0,
        max_ratelimit_wait_s: float = 30.0,
        reply_deadline_s: float = 2.0,
        button_tokens: int = 10_000,
        shards: int | str = "off",
        shard_ids: Sequence[int] = (),
    ) -> None:
        """Configure the adapter; nothing connects before start().

        `api_base_url` and `gateway_url` exist for self-hosted proxies and tests. discord.py reads them
        from process-wide class attributes (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY),
        so start() sets them only when they differ from Discord's defaults and stop() puts back what
        was there: run one such adapter per process. `guild_id` syncs commands to one guild (instant)
        instead of globally. `reply_deadline_s` is how long a command may take before the adapter
        acknowledges the interaction and edits the answer in later (Discord allows 3 s).
        `shards` is "off", "auto" or a shard count N; `shard_ids` (needs N) picks the shards this process runs.
        """
        if not token or not token.strip():
            raise DiscordAdapterError("a bot token is required")
        self._shards, self._shard_ids = _check_shards(shards, shard_ids)
        self._token = token.strip()
        self._default_lang = default_lang if default_lang in ("en", "fr") else "en"
        self._api_base_url = api_base_url.rstrip("/")
        self._gateway_url = gateway_url
        self._guild = discord.Object(id=int(guild_id)) if guild_id is not None else None
        self._sync_commands = sync_commands
        self._ready_timeout_s = ready_timeout_s
        self._guild_ready_timeout_s = guild_ready_timeout_s
        # discord.py refuses a timeout below 30 s; below it, it sleeps through a 429 itself.
        self._max_ratelimit_wait_s = max(30.0, max_ratelimit_wait_s)
        self._reply_deadline_s = reply_deadline_s
        self._codec = ButtonCodec(button_tokens)
        self._router: CommandRouter | None = None
        self._client: discord.Client | None = None
        self._tree: app_commands.CommandTree[discord.Client] | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._saved_urls: tuple[str, yarl.URL] | None = None
        self._identify_gate: IdentifyGate | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, router: CommandRouter) -> None:
        """Log in, sync the slash commands, connect to the gateway and return once READY."""
        if self._client is not None:
            raise DiscordAdapterError("already started")
        self._router = router
        self._apply_urls()
        client = self._build_client()
        tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
        self._client, self._tree = client, tree
        try:
            await tree.set_translator(_FrenchDescriptions())
            for spec in COMMANDS:
                tree.add_command(self._build_command(spec), guild=self._guild)
            await self._login(client)
            if self._shards != "off":
                await self._plan_shards(client)
            if self._sync_commands:
                await self._sync(tree)
            self._connect_task = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
            await self._wait_ready(client, self._connect_task)
        except BaseException:
            await self.stop()
            raise
        _log.info("discord: connected as %s, %d commands%s", client.user, len(COMMANDS), self._shard_summary(client))

    @property
    def shard_count(self) -> int | None:
        """Return the total number of shards once started (None when sharding is off)."""
        if self._client is None or self._shards == "off":
            return None
        return self._client.shard_count

    @property
    def running_shards(self) -> list[int]:
        """Return the shard ids this process runs (empty when sharding is off or not started)."""
        client = self._client
        if client is None or self._shards == "off":
            return []
        if isinstance(client, discord.AutoShardedClient):
            return sorted(client.shards)
        return [client.shard_id] if client.shard_id is not None else []

    def _build_client(self) -> discord.Client:
        options: dict[str, Any] = {
            "intents": discord.Intents(guilds=True),
            "allowed_mentions": _NO_PINGS,
            "guild_ready_timeout": self._guild_ready_timeout_s,
            "max_ratelimit_timeout": self._max_ratelimit_wait_s,
        }
        if self._shards == "off":
            return _VeilleClient(self, **options)
        if isinstance(self._shards, int):
            ids = list(self._shard_ids) or list(range(self._shards))
            if len(ids) == 1:
                # One shard per process: discord.py's documented plain Client with shard_id/shard_count.
                return _VeilleClient(self, shard_id=ids[0], shard_count=self._shards, **options)
            return _VeilleShardedClient(self, shard_count=self._shards, shard_ids=ids, **options)
        # "auto": the count is filled in from GET /gateway/bot after login (_plan_shards).
        return _VeilleShardedClient(self, **options)

    async def _plan_shards(self, client: discord.Client) -> None:
        """Read GET /gateway/bot: the recommended shard count (auto), max_concurrency and session starts left."""
        try:
            recommended, _url, limits = await client.http.get_bot_gateway()
        except (discord.GatewayNotFound, discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DiscordStartError("gateway", f"GET /gateway/bot failed: {_describe(exc)}") from exc
        max_concurrency = int(limits.get("max_concurrency") or 1)
        self._identify_gate = IdentifyGate(max_concurrency)
        if self._shards == "auto":
            # Set the count ourselves rather than letting discord.py connect to the URL /gateway/bot gave:
            # launch_shards then uses DEFAULT_GATEWAY, so a configured gateway proxy is still honoured.
            client.shard_count = max(1, int(recommended))
            _log.info("discord: Discord recommends %d shard(s)", client.shard_count)
        starting = len(self._shard_ids) or int(client.shard_count or 1)
        remaining = int(limits.get("remaining", starting))
        if remaining < starting:
            reset_s = float(limits.get("reset_after") or 0) / 1000
            raise DiscordStartError(
                "gateway",
                f"Discord's session start limit is spent ({remaining} left of {limits.get('total')}, "
                f"{starting} needed); it resets in {reset_s:.0f}s",
            )
        _log.info(
            "discord: starting shard(s) %s of %d (max_concurrency %d, %d session starts left)",
            ",".join(str(i) for i in (self._shard_ids or range(int(client.shard_count or 1)))),
            int(client.shard_count or 1),
            max_concurrency,
            remaining,
        )

    def _shard_summary(self, client: discord.Client) -> str:
        if self._shards == "off":
            return ""
        return f", shards {self.running_shards} of {client.shard_count}"

    async def _before_identify(self, shard_id: int | None) -> None:
        if self._identify_gate is not None:
            await self._identify_gate.wait(shard_id)

    def _on_shard_ready(self, client: discord.Client, shard_id: int) -> None:
        guilds = sum(1 for guild in client.guilds if guild.shard_id == shard_id)
        _log.info("discord: shard %d/%s ready (%d guilds)", shard_id, client.shard_count, guilds)

    async def stop(self) -> None:
        """Close the gateway and HTTP session, and restore discord.py's class attributes."""
        client, task = self._client, self._connect_task
        self._client, self._tree, self._connect_task = None, None, None
        if client is not None:
            await client.close()
        if task is not None:
            task.cancel()
            # Closing: the gateway task's outcome no longer matters.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._restore_urls()

    def _apply_urls(self) -> None:
        self._saved_urls = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        if self._api_base_url != DEFAULT_API_BASE_URL:
            discord.http.Route.BASE = self._api_base_url
        if self._gateway_url != DEFAULT_GATEWAY_URL:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._gateway_url)

    def _restore_urls(self) -> None:
        if self._saved_urls is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved_urls
            self._saved_urls = None

    async def _login(self, client: discord.Client) -> None:
        try:
            await client.login(self._token)
        except discord.LoginFailure as exc:
            raise DiscordStartError("login", "the token was refused") from exc
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DiscordStartError("login", _describe(exc)) from exc

    async def _sync(self, tree: app_commands.CommandTree[discord.Client]) -> None:
        try:
            synced = await tree.sync(guild=self._guild)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DiscordStartError("command sync", _describe(exc)) from exc
        _log.info(
            "discord: synced %d commands (%s)", len(synced), self._guild.id if self._guild else "global"
        )

    async def _wait_ready(self, client: discord.Client, task: asyncio.Task[None]) -> None:
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, task}, timeout=self._ready_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if ready in done:
            return
        ready.cancel()
        if task in done:
            error = task.exception()
            reason = _gateway_reason(error) if error else "the gateway connection ended"
            raise DiscordStartError("gateway", reason)
        raise DiscordStartError("gateway", f"not ready after {self._ready_timeout_s}s")

    # -- sending -------------------------------------------------------------------------------------

    async def send_alert(self, alert: AlertMessage) -> str:
        """Post an alert embed to the alert's channel; return the message id."""
        return await self._send(alert.chat, render_alert(alert))

    async def edit_alert(self, alert: AlertMessage, message_id: str) -> None:
        """Replace a posted alert's embed, for example when more sources join its story."""
        channel = self._channel(alert.chat)
        rendered = render_alert(alert)
        try:
            mid = int(message_id)
        except ValueError as exc:
            raise PermanentError(str(alert.chat), f"not a Discord message id: {message_id!r}") from exc
        try:
            await channel.get_partial_message(mid).edit(embeds=_embeds(rendered), allowed_mentions=_NO_PINGS)
        except Exception as exc:
            raise _delivery_error(str(alert.chat), exc) from exc

    async def send_reply(self, chat: ChatRef, reply: Reply) -> str:
        """Post an unsolicited reply (digest, notice) to a channel; return the message id."""
        lang = self._default_lang
        return await self._send(chat, render_reply(reply, self._codec, lang))

    async def _send(self, chat: ChatRef, rendered: RenderedMessage) -> str:
        channel = self._channel(chat)
        try:
            message = await channel.send(
                content=rendered.content or None,
                embeds=_embeds(rendered),
                view=_buttons_view(rendered) or discord.utils.MISSING,
                files=_files(rendered),
                allowed_mentions=_NO_PINGS,
            )
        except Exception as exc:
            raise _delivery_error(str(chat), exc) from exc
        return str(message.id)

    def _channel(self, chat: ChatRef) -> discord.PartialMessageable:
        if chat.platform != PLATFORM:
            raise PermanentError(str(chat), f"not a Discord chat (platform {chat.platform!r})")
        if not chat.chat_id.isdigit():
            raise PermanentError(str(chat), f"not a Discord channel id: {chat.chat_id!r}")
        if self._client is None:
            raise TransientError(str(chat), "the Discord adapter is not connected")
        return self._client.get_partial_messageable(int(chat.chat_id))

    # -- commands and interactions -------------------------------------------------------------------

    def _build_command(self, spec: CommandSpec) -> app_commands.Command[Any, ..., None]:
        command: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=spec.name,
            description=app_commands.locale_str(spec.description_en[:100], fr=spec.description_fr[:100]),
            callback=_command_callback(spec, self._on_command),
        )
        for option in spec.options:
            if option.autocomplete:
                command.autocomplete(option.name)(
                    _autocomplete_callback(spec.name, option.name, self._on_complete)
                )
        return command

    async def _on_command(self, interaction: discord.Interaction, command: str, args: str) -> None:
        await self._run(interaction, command, args, from_button=False)

    async def _on_component(self, interaction: discord.Interaction) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        try:
            command, args = self._codec.decode(custom_id)
        except ButtonCodecError as exc:
            _log.info("discord: %s", exc)
            lang = _lang(interaction, self._default_lang)
            # Only the presser needs to know; the list stays as it was for everyone else.
            await self._respond_safely(
                interaction, _text_reply(_EXPIRED_TEXT[lang], error=True), False, ephemeral=True
            )
            return
        await self._run(interaction, command, args, from_button=True)

    async def _on_complete(
        self, interaction: discord.Interaction, command: str, option: str, current: str
    ) -> list[app_commands.Choice[str]]:
        if self._router is None:
            return []
        chat = ChatRef(PLATFORM, str(interaction.channel_id))
        try:
            suggestions = await self._router.complete(chat, command, option, current)
        except Exception:
            _log.exception("discord: autocomplete failed for /%s %s in %s", command, option, chat)
            return []
        return [
            app_commands.Choice(name=(label or value)[:100] or "?", value=value[:100])
            for label, value in suggestions[:25]
            if value
        ]

    async def _run(
        self, interaction: discord.Interaction, command: str, args: str, *, from_button: bool
    ) -> None:
        router = self._router
        if router is None:
            return
        lang = _lang(interaction, self._default_lang)
        request = Request(
            chat=ChatRef(PLATFORM, str(interaction.channel_id)),
            user_id=str(interaction.user.id),
            command=command,
            args=args,
            lang=lang,
            is_admin=_is_admin(interaction),
            from_button=from_button,
        )
        work = asyncio.ensure_future(_dispatch(router, request, lang))
        done, _ = await asyncio.wait({work}, timeout=self._reply_deadline_s)
        deferred = False
        if not done:
            # Discord forgets an interaction not answered within 3 s: acknowledge now, fill in later.
            deferred = await self._defer(interaction, from_button)
        reply = await work
        if reply.silent:
            # Nothing to say (a chat outside allowed_chats, a throttled user): take back a "thinking…" if any.
            if deferred:
                with contextlib.suppress(discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError):
                    await interaction.delete_original_response()
            return
        await self._respond_safely(interaction, reply, from_button, deferred=deferred)

    async def _defer(self, interaction: discord.Interaction, from_button: bool) -> bool:
        try:
            if from_button:
                await interaction.response.defer()
            else:
                await interaction.response.defer(thinking=True)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            _log.warning(
                "discord: could not acknowledge interaction in %s: %s", interaction.channel_id, _describe(exc)
            )
            return False
        return True

    async def _respond_safely(
        self,
        interaction: discord.Interaction,
        reply: Reply,
        from_button: bool,
        *,
        deferred: bool = False,
        ephemeral: bool = False,
    ) -> None:
        rendered = render_reply(reply, self._codec, _lang(interaction, self._default_lang))
        rendered.ephemeral = ephemeral
        try:
            await self._respond(interaction, rendered, from_button, deferred)
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # An interactive answer that failed cannot be retried once the interaction token is spent.
            _log.warning("discord: reply in %s failed: %s", interaction.channel_id, _describe(exc))

    async def _respond(
        self, interaction: discord.Interaction, rendered: RenderedMessage, from_button: bool, deferred: bool
    ) -> None:
        view = _buttons_view(rendered)
        embeds = _embeds(rendered)
        files = _files(rendered)
        if deferred:
            await interaction.edit_original_response(
                content=rendered.content or None,
                embeds=embeds,
                view=view,
                attachments=files,
                allowed_mentions=_NO_PINGS,
            )
        elif from_button:
            await interaction.response.edit_message(
                content=rendered.content or None,
                embeds=embeds,
                view=view,
                attachments=files,
                allowed_mentions=_NO_PINGS,
            )
        else:
            await interaction.response.send_message(
                content=rendered.content or None,
                embeds=embeds,
                view=view or discord.utils.MISSING,
                files=files or discord.utils.MISSING,
                ephemeral=rendered.ephemeral,
                allowed_mentions=_NO_PINGS,
            )


class IdentifyGate:
    """Space gateway IDENTIFYs as Discord asks: one per 5 s in each bucket shard_id % max_concurrency."""

    def __init__(
        self,
        max_concurrency: int,
        *,
        interval_s: float = IDENTIFY_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Configure the gate; `clock` and `sleep` are injectable so tests need no real waiting."""
        self.max_concurrency = max(1, max_concurrency)
        self._interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self._last: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def wait(self, shard_id: int | None) -> None:
        """Wait until this shard may IDENTIFY, then count its IDENTIFY in its bucket."""
        bucket = (shard_id or 0) % self.max_concurrency
        lock = self._locks.setdefault(bucket, asyncio.Lock())
        async with lock:
            last = self._last.get(bucket)
            if last is not None:
                delay = last + self._interval_s - self._clock()
                if delay > 0:
                    await self._sleep(delay)
            self._last[bucket] = self._clock()


class _VeilleEvents:
    """Events shared by the plain and the sharded client: buttons, identify pacing, per-shard ready logs."""

    _adapter: DiscordAdapter

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Route presses of Veille's buttons; the command tree handles slash commands itself."""
        if interaction.type is discord.InteractionType.component:
            await self._adapter._on_component(interaction)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Pace IDENTIFY by Discord's max_concurrency when sharded (discord.py alone waits 5 s per shard)."""
        if self._adapter._identify_gate is None:
            await super().before_identify_hook(shard_id, initial=initial)  # type: ignore[misc]
        else:
            await self._adapter._before_identify(shard_id)

    async def on_shard_ready(self, shard_id: int) -> None:
        """Log one line per shard ready (AutoShardedClient dispatches this for each of its shards)."""
        assert isinstance(self, discord.Client)
        self._adapter._on_shard_ready(self, shard_id)

    async def on_ready(self) -> None:
        """Log the ready line of a single-shard process (a plain Client has no shard_ready event)."""
        assert isinstance(self, discord.Client)
        if self.shard_id is not None and not isinstance(self, discord.AutoShardedClient):
            self._adapter._on_shard_ready(self, self.shard_id)


class _VeilleClient(_VeilleEvents, discord.Client):
    """discord.Client (one connection, or one shard of N) wired to the adapter."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(**options)
        self._adapter = adapter


class _VeilleShardedClient(_VeilleEvents, discord.AutoShardedClient):
    """discord.AutoShardedClient (several shards in this process) wired to the adapter."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        super().__init__(**options)
        self._adapter = adapter


class _FrenchDescriptions(app_commands.Translator):
    """Give Discord the French command and option descriptions carried in each locale_str."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext,
    ) -> str | None:
        """Return the French text for the French locale, else None (Discord shows the English)."""
        if locale is discord.Locale.french:
            text = string.extras.get("fr")
            return str(text) if text else None
        return None


class _InertButton(discord.ui.Button[discord.ui.View]):
    """A button discord.py does not track: presses reach on_interaction by custom_id, even after a restart."""

    def is_dispatchable(self) -> bool:
        """Tell discord.py not to keep a view for this button."""
        return False


def _buttons_view(rendered: RenderedMessage) -> discord.ui.View | None:
    if not rendered.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, (label, custom_id) in enumerate(rendered.buttons):
        view.add_item(
            _InertButton(
                label=label,
                custom_id=custom_id,
                style=discord.ButtonStyle.secondary,
                row=index // BUTTONS_PER_ROW,
            )
        )
    return view


def _embeds(rendered: RenderedMessage) -> list[discord.Embed]:
    return [discord.Embed.from_dict(e) for e in rendered.embeds]


def _files(rendered: RenderedMessage) -> list[discord.File]:
    return [discord.File(io.BytesIO(data), filename=name) for name, data in rendered.files]


def _text_reply(text: str, *, error: bool = False) -> Reply:
    return Reply(text=text, is_error=error)


async def _dispatch(router: CommandRouter, request: Request, lang: str) -> Reply:
    try:
        return await router.dispatch(request)
    except Exception:
        # The router promises not to raise; if it does, the user still gets an answer, not silence.
        _log.exception("discord: /%s failed in %s", request.command, request.chat)
        return _text_reply(_FAILED_TEXT.get(lang, _FAILED_TEXT["en"]), error=True)


def _command_callback(
    spec: CommandSpec, run: Callable[[discord.Interaction, str, str], Awaitable[None]]
) -> Callable[..., Coroutine[Any, Any, None]]:
    """Build a slash-command callback whose signature declares the spec's typed options."""

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        args = " ".join(str(values[o.name]) for o in spec.options if values.get(o.name) is not None)
        await run(interaction, spec.name, args)

    # discord.py reads option names, types and required-ness from the callback's signature.
    params = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for option in sorted(spec.options, key=lambda o: not o.required):
        kind: Any = int if option.kind == "integer" else str
        params.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=kind if option.required else Optional[kind],  # noqa: UP045 - discord.py reads Optional
                default=inspect.Parameter.empty if option.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        o.name: app_commands.locale_str(o.description_en[:100], fr=o.description_fr[:100])
        for o in spec.options
    }
    callback.__qualname__ = callback.__name__ = f"veille_{spec.name}"
    return callback


def _autocomplete_callback(
    command: str,
    option: str,
    complete: Callable[[discord.Interaction, str, str, str], Awaitable[list[app_commands.Choice[str]]]],
) -> Callable[[discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
    async def suggest(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await complete(interaction, command, option, current)

    return suggest


def _lang(interaction: discord.Interaction, default: str) -> str:
    locale = getattr(interaction, "locale", None)
    value = str(locale.value if isinstance(locale, discord.Locale) else locale or "")
    if not value:
        return default
    return "fr" if value.lower().startswith("fr") else "en"


def _is_admin(interaction: discord.Interaction) -> bool:
    # In a DM the user is the only member: they administer their own conversation.
    if interaction.guild_id is None:
        return True
    permissions = interaction.permissions
    return bool(permissions.manage_guild or permissions.administrator)


def _check_shards(shards: int | str, shard_ids: Sequence[int]) -> tuple[int | str, tuple[int, ...]]:
    """Validate the shard settings; raise DiscordAdapterError saying which config key to fix."""
    if isinstance(shards, str):
        shards = shards.strip().lower()
        if shards not in ("off", "auto"):
            raise DiscordAdapterError(f"discord.shards must be off, auto or a number of shards, not {shards!r}")
    elif isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise DiscordAdapterError(f"discord.shards must be off, auto or a number of shards >= 1, not {shards!r}")
    ids = tuple(shard_ids)
    if ids and not isinstance(shards, int):
        raise DiscordAdapterError("discord.shard_ids needs discord.shards set to the total number of shards")
    if isinstance(shards, int):
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < shards]
        if bad:
            raise DiscordAdapterError(f"discord.shard_ids: {bad} are not shards of {shards} (ids run 0..{shards - 1})")
        if len(set(ids)) != len(ids):
            raise DiscordAdapterError(f"discord.shard_ids lists a shard twice: {list(ids)}")
    return shards, ids


def _gateway_reason(exc: BaseException) -> str:
    """Say why the gateway connection ended, naming the setting to change when it is a config problem."""
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return _CLOSE_REASONS[4014]
    if isinstance(exc, discord.ConnectionClosed) and exc.code in _CLOSE_REASONS:
        return _CLOSE_REASONS[exc.code]
    return _describe(exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, discord.RateLimited):
        return f"rate limited for {exc.retry_after:.1f}s"
    if isinstance(exc, discord.HTTPException):
        text = exc.text or getattr(exc.response, "reason", "") or ""
        code = f" (code {exc.code})" if exc.code else ""
        return f"HTTP {exc.status}{code}: {text}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__


UNKNOWN_MESSAGE = 10008  # Discord's JSON error code for a deleted or unknown message


def _delivery_error(chat: str, exc: Exception) -> DeliveryError:
    """Map a discord.py or network exception to the sender's RetryLater / TransientError / PermanentError."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, discord.RateLimited):
        return RetryLater(chat, _describe(exc), exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        reason = _describe(exc)
        if exc.status == 429:
            header = exc.response.headers.get("Retry-After", "") if exc.response is not None else ""
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = 60.0
            return RetryLater(chat, reason, retry_after)
        if exc.status >= 500:
            return TransientError(chat, reason)
        if exc.code == UNKNOWN_MESSAGE:
            return MessageGone(chat, reason)
        if exc.status == 400:
            return MessageRejected(chat, reason)
        # 403 Missing Access / Permissions, 404 Unknown Channel: this channel will not take messages.
        return PermanentError(chat, reason)
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError | discord.GatewayNotFound):
        return TransientError(chat, _describe(exc))
    return TransientError(chat, _describe(exc))
