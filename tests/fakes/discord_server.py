"""A local fake of Discord (REST API v10 + gateway) for driving the real discord.py client in tests.

It listens on 127.0.0.1 only, records every request, keeps each channel's transcript (edits applied),
injects slash commands, button presses and autocomplete as INTERACTION_CREATE over a real websocket,
and refuses what Discord refuses:

- unknown route -> 404 {"message": "404: Not Found", "code": 0}; wrong method -> 405;
- request bodies checked against Discord's OpenAPI description (when given a DiscordSpec), plus the
  limits Discord enforces beyond it (content 2000, 6000 embed characters per message, empty message),
  answered 400 {"code": 50035, "message": "Invalid Form Body", "errors": {...path...}};
- per-route rate-limit buckets with X-RateLimit-* headers, a global limit, 429 with retry_after;
- injectable faults: 5xx, dropped connections, 403 Missing Access (50001), 404 Unknown Channel (10003);
- sharding like the gateway: /gateway/bot reports `recommended_shards` and a session start limit with
  `max_concurrency`; IDENTIFY's `shard: [id, count]` is checked (close 4010 Invalid shard, 4011 Sharding
  required below `min_shards`); each connection gets READY and GUILD_CREATE for its own guilds only
  ((guild_id >> 22) % count), and a guild's interactions arrive on its shard's connection (DMs on shard 0).

Point discord.py at it with `discord.http.Route.BASE = fake.api_base` and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`.

    FakeDiscordError        base: the fake was used wrongly by a test
    └── WaitTimeout         what a test waited for did not happen in time
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_spec import DiscordSpec, ErrorTree, add_error, error_paths

# Routes the fake serves, as (method, template); the template names match Discord's OpenAPI paths.
_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/users/@me"),
    ("GET", "/oauth2/applications/@me"),
    ("GET", "/gateway"),
    ("GET", "/gateway/bot"),
    ("GET", "/applications/{application_id}/commands"),
    ("PUT", "/applications/{application_id}/commands"),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("POST", "/channels/{channel_id}/messages"),
    ("GET", "/channels/{channel_id}/messages/{message_id}"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"),
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback"),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
    ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
)
# Routes that take no bot token: interaction responses authenticate with the interaction token.
_TOKENLESS_PREFIXES = ("/interactions/", "/webhooks/")

MESSAGE_CONTENT_LIMIT = 2000
EMBED_TOTAL_LIMIT = 6000
EPHEMERAL = 1 << 6
LOADING = 1 << 7
PERM_MANAGE_GUILD = 1 << 5
IDENTIFY_INTERVAL_S = 5.0  # Discord's identify window per max_concurrency bucket
ALL_PERMISSIONS = (1 << 51) - 1


class FakeDiscordError(Exception):
    """The fake was used wrongly by a test."""


class WaitTimeout(FakeDiscordError):
    """What a test waited for did not happen before the timeout."""

    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"timed out after {timeout}s waiting for {what}")
        self.what = what


@dataclass(slots=True)
class RecordedRequest:
    """One HTTP request as the fake received it, with the status it answered."""

    method: str
    path: str
    template: str | None
    query: dict[str, str]
    body: Any
    files: list[str]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class FakeMessage:
    """A message in a channel's transcript, edits applied; `allowed_mentions` as last sent."""

    id: str
    channel_id: str
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    flags: int = 0
    edits: int = 0
    interaction_id: str | None = None
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        """Tell whether only the invoking user sees this message."""
        return bool(self.flags & EPHEMERAL)

    def buttons(self) -> list[dict[str, Any]]:
        """Return every button of the message, row by row."""
        return [c for row in self.components for c in row.get("components", []) if c.get("type") == 2]

    def text(self) -> str:
        """Return content, embed titles, descriptions, fields and footers as one string, for assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts.append(embed.get("title") or "")
            parts.append(embed.get("description") or "")
            parts.extend(f"{f.get('name', '')} {f.get('value', '')}" for f in embed.get("fields") or [])
            parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)

    def to_payload(self, author: dict[str, Any]) -> dict[str, Any]:
        """Return the message as Discord's Message object."""
        return {
            "id": self.id,
            "channel_id": self.channel_id,
            "type": 0 if self.interaction_id is None else 20,
            "content": self.content,
            "author": author,
            "embeds": self.embeds,
            "components": self.components,
            "attachments": self.attachments,
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": "2025-01-01T00:00:00.000000+00:00",
            "edited_timestamp": None if not self.edits else "2025-01-01T00:00:01.000000+00:00",
            "flags": self.flags,
        }


@dataclass(slots=True)
class Interaction:
    """An interaction the fake sent, with how the bot answered it."""

    id: str
    token: str
    type: int
    channel_id: str
    payload: dict[str, Any]
    message_id: str | None = None  # the component's message (type 3) or the response message
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None  # autocomplete answer (callback type 8)
    shards: list[int] = field(default_factory=list)  # the shard ids of the connections it was sent on


@dataclass(slots=True)
class Fault:
    """An injected failure for the next matching requests."""

    kind: str  # "status", "drop"
    status: int = 500
    body: dict[str, Any] | None = None
    method: str | None = None
    template: str | None = None
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Bucket:
    limit: int
    window_s: float
    remaining: int
    reset_at: float


class FakeDiscord:
    """The fake service: start it, point discord.py at it, then drive and inspect it from a test."""

    def __init__(
        self,
        *,
        spec: DiscordSpec | None = None,
        token: str = "fake-bot-token",
        application_id: str = "700000000000000001",
        bot_user_id: str = "700000000000000001",
        route_limit: tuple[int, float] = (1000, 1.0),
        recommended_shards: int = 1,
        min_shards: int = 1,
        max_concurrency: int = 1,
    ) -> None:
        """Configure the fake; `min_shards` is the shard count below which IDENTIFY is closed with 4011."""
        self.spec = spec
        self.recommended_shards = recommended_shards
        self.min_shards = min_shards
        self.max_concurrency = max_concurrency
        self.session_start_total = 1000
        self.session_start_remaining = 1000
        self.guilds: dict[str, str] = {}  # guild id -> name, announced in READY / GUILD_CREATE
        self.gateway_closes: list[tuple[list[int] | None, int]] = []  # (IDENTIFY's shard, close code)
        # IDENTIFYs sent less than IDENTIFY_INTERVAL_S after another in the same max_concurrency bucket.
        self.identify_rate_violations: list[tuple[int, float]] = []
        self._identify_times: dict[int, float] = {}
        self._socket_shards: dict[int, tuple[int, int]] = {}  # id(websocket) -> (shard id, shard count)
        self.token = token
        self.application_id = application_id
        self.bot_user = {
            "id": bot_user_id,
            "username": "veille",
            "discriminator": "0",
            "global_name": "Veille",
            "avatar": None,
            "bot": True,
            "public_flags": 0,
            "flags": 0,
        }
        self.requests: list[RecordedRequest] = []
        self.messages: dict[str, list[FakeMessage]] = {}
        self.channels: dict[str, str | None] = {}  # channel id -> guild id (None: a DM)
        self.forbidden_channels: set[str] = set()
        self.commands: dict[str | None, list[dict[str, Any]]] = {}  # guild id (None: global) -> commands
        self.interactions: dict[str, Interaction] = {}
        self.identify_payloads: list[dict[str, Any]] = []
        self.spec_rejections: list[ErrorTree] = []
        self._route_limit = route_limit
        self._route_limits: dict[str, tuple[int, float]] = {}
        self._global_limit: tuple[int, float] | None = None
        self._global_bucket: _Bucket | None = None
        self._buckets: dict[str, _Bucket] = {}
        self._faults: list[Fault] = []
        self._ids = itertools.count(1_000_000_000_000_000_000 + 1)
        self._seq = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self._changed: asyncio.Condition | None = None
        self._identified: asyncio.Event | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        self._changed = asyncio.Condition()
        self._identified = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gw/", self._gateway)
        app.router.add_get("/gw", self._gateway)  # /gateway/bot's URL has no trailing slash, like Discord's
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # a started TCPSite always has its socket
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close websockets and stop listening."""
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        """Return the value for discord.http.Route.BASE."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Return the value for DiscordWebSocket.DEFAULT_GATEWAY."""
        return f"ws://127.0.0.1:{self.port}/gw/"

    # -- test API: setup -----------------------------------------------------------------------------

    def add_channel(self, channel_id: str, guild_id: str | None = None) -> None:
        """Make a channel exist (guild text channel, or DM when guild_id is None)."""
        self.channels[channel_id] = guild_id
        self.messages.setdefault(channel_id, [])

    def add_guild(self, guild_id: str, name: str = "") -> None:
        """Make the bot a member of a guild: READY and GUILD_CREATE announce it on its shard's connection."""
        self.guilds[guild_id] = name or f"guild {guild_id[-4:]}"

    @staticmethod
    def shard_for(guild_id: str | int, shard_count: int) -> int:
        """Return the shard that carries a guild's events, as Discord routes them."""
        return (int(guild_id) >> 22) % shard_count

    def connected_shards(self) -> list[tuple[int, int]]:
        """Return (shard id, shard count) of every identified gateway connection, sorted."""
        return sorted(self._socket_shards.values())

    def remove_channel(self, channel_id: str) -> None:
        """Delete a channel: sends to it get 404 Unknown Channel."""
        self.channels.pop(channel_id, None)

    def forbid_channel(self, channel_id: str, forbidden: bool = True) -> None:
        """Make the bot lose access to a channel (403 Missing Access), as when it is kicked."""
        if forbidden:
            self.forbidden_channels.add(channel_id)
        else:
            self.forbidden_channels.discard(channel_id)

    def set_route_limit(self, template: str, limit: int, window_s: float) -> None:
        """Give one route template its own bucket: `limit` requests per `window_s` seconds."""
        self._route_limits[template] = (limit, window_s)

    def set_global_limit(self, limit: int | None, window_s: float = 1.0) -> None:
        """Limit all requests together (Discord's global limit); None removes it."""
        self._global_limit = None if limit is None else (limit, window_s)
        self._global_bucket = None

    def inject_fault(
        self,
        kind: str,
        *,
        method: str | None = None,
        template: str | None = None,
        times: int = 1,
        retry_after: float = 1.0,
        is_global: bool = False,
    ) -> None:
        """Fail the next `times` matching requests.

        kind: "500", "502", "503" (server errors), "drop" (connection closed without an answer),
        "missing_access" (403, 50001), "unknown_channel" (404, 10003), "429" (rate limited).
        """
        if kind == "drop":
            fault = Fault("drop")
        elif kind in ("500", "502", "503", "504"):
            fault = Fault("status", int(kind), {"message": "Internal Server Error", "code": 0})
        elif kind == "missing_access":
            fault = Fault("status", 403, {"message": "Missing Access", "code": 50001})
        elif kind == "unknown_channel":
            fault = Fault("status", 404, {"message": "Unknown Channel", "code": 10003})
        elif kind == "429":
            fault = Fault(
                "status",
                429,
                _rate_limited_body(retry_after, is_global),
                headers=_rate_limited_headers(retry_after, is_global),
            )
        else:
            raise FakeDiscordError(f"unknown fault kind {kind!r}")
        fault.method, fault.template, fault.times = method, template, times
        self._faults.append(fault)

    # -- test API: driving the bot -----------------------------------------------------------------

    async def wait_identified(self, timeout: float = 5.0) -> None:
        """Wait until a client has sent IDENTIFY on the gateway."""
        assert self._identified is not None, "start() the fake first"
        try:
            await asyncio.wait_for(self._identified.wait(), timeout)
        except TimeoutError as exc:
            raise WaitTimeout("gateway IDENTIFY", timeout) from exc

    async def inject_command(
        self,
        channel_id: str,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: str = "500000000000000001",
        guild_id: str | None = "400000000000000001",
        locale: str = "en-US",
        permissions: int = 0,
    ) -> str:
        """Send a slash command (INTERACTION_CREATE type 2) as typed in `channel_id`; return its id."""
        data: dict[str, Any] = {"id": self._command_id(name, guild_id), "name": name, "type": 1}
        if options:
            data["options"] = [
                {"name": key, "type": self._option_type(name, key, value, guild_id), "value": value}
                for key, value in options.items()
            ]
        return await self._interact(2, channel_id, data, user_id, guild_id, locale, permissions)

    async def press_button(
        self,
        channel_id: str,
        message_id: str,
        custom_id: str,
        *,
        user_id: str = "500000000000000001",
        guild_id: str | None = "400000000000000001",
        locale: str = "en-US",
        permissions: int = 0,
    ) -> str:
        """Press a button of a message (INTERACTION_CREATE type 3); return the interaction id."""
        message = self.message(channel_id, message_id)
        if not any(b.get("custom_id") == custom_id for b in message.buttons()):
            raise FakeDiscordError(f"message {message_id} has no button {custom_id!r}")
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(3, channel_id, data, user_id, guild_id, locale, permissions, message)

    async def autocomplete(
        self,
        channel_id: str,
        name: str,
        option: str,
        value: str,
        *,
        guild_id: str | None = "400000000000000001",
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Type into an autocompleted option (INTERACTION_CREATE type 4); return the bot's choices."""
        data = {
            "id": self._command_id(name, guild_id),
            "name": name,
            "type": 1,
            "options": [{"name": option, "type": 3, "value": value, "focused": True}],
        }
        interaction_id = await self._interact(4, channel_id, data, "500000000000000001", guild_id, "en-US", 0)
        record = self.interactions[interaction_id]
        await self._wait(
            lambda: record.choices is not None, f"autocomplete answer to {interaction_id}", timeout
        )
        return record.choices or []

    async def wait_for_message(
        self,
        channel_id: str,
        predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 5.0,
    ) -> FakeMessage:
        """Wait until a message in the channel (new or edited) satisfies `predicate`; return it."""

        def find() -> FakeMessage | None:
            for message in reversed(self.messages.get(channel_id, [])):
                if (
                    not message.deleted
                    and not (message.flags & LOADING)
                    and (predicate is None or predicate(message))
                ):
                    return message
            return None

        await self._wait(lambda: find() is not None, f"a message in channel {channel_id}", timeout)
        found = find()
        assert found is not None
        return found

    async def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0
    ) -> RecordedRequest:
        """Wait until a recorded request satisfies `predicate`; return it."""
        await self._wait(lambda: any(predicate(r) for r in self.requests), "a matching request", timeout)
        return next(r for r in self.requests if predicate(r))

    def transcript(self, channel_id: str) -> list[FakeMessage]:
        """Return the channel's visible messages in order, edits applied."""
        return [m for m in self.messages.get(channel_id, []) if not m.deleted]

    def message(self, channel_id: str, message_id: str) -> FakeMessage:
        """Return one message of a channel; raise FakeDiscordError when there is none."""
        for message in self.messages.get(channel_id, []):
            if message.id == message_id:
                return message
        raise FakeDiscordError(f"no message {message_id} in channel {channel_id}")

    def requests_to(self, method: str, template: str) -> list[RecordedRequest]:
        """Return the recorded requests for one route."""
        return [r for r in self.requests if r.method == method and r.template == template]

    # -- gateway -------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        try:
            await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op = frame.get("op")
                if op == 1:
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    await self._identify(ws, frame.get("d") or {})
        finally:
            self._sockets.remove(ws)
            self._socket_shards.pop(id(ws), None)
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard")
        if shard is None:
            shard_id, shard_count = 0, 1
        elif (
            isinstance(shard, list)
            and len(shard) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
            and 0 <= shard[0] < shard[1]
        ):
            shard_id, shard_count = shard
        else:
            self.gateway_closes.append((shard, 4010))
            await ws.close(code=4010, message=b"Invalid shard.")
            return
        if shard_count < self.min_shards:
            self.gateway_closes.append((shard, 4011))
            await ws.close(code=4011, message=b"Sharding required.")
            return
        self._check_identify_rate(shard_id)
        self.session_start_remaining = max(0, self.session_start_remaining - 1)
        self.identify_payloads.append(data)
        self._socket_shards[id(ws)] = (shard_id, shard_count)
        guilds = [g for g in self.guilds if self.shard_for(g, shard_count) == shard_id]
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": g, "unavailable": True} for g in guilds],
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        if shard is not None:
            ready["shard"] = [shard_id, shard_count]
        await ws.send_json({"op": 0, "t": "READY", "s": next(self._seq), "d": ready})
        for guild_id in guilds:
            await ws.send_json(
                {"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": self._guild_payload(guild_id)}
            )
        assert self._identified is not None
        self._identified.set()

    def _check_identify_rate(self, shard_id: int) -> None:
        # Discord lets max_concurrency shards identify per 5 s, one per bucket shard_id % max_concurrency.
        bucket = shard_id % max(1, self.max_concurrency)
        now = time.monotonic()
        last = self._identify_times.get(bucket)
        if last is not None and now - last < IDENTIFY_INTERVAL_S:
            self.identify_rate_violations.append((shard_id, round(now - last, 3)))
        self._identify_times[bucket] = now

    def _guild_payload(self, guild_id: str) -> dict[str, Any]:
        """Return the GUILD_CREATE body of a guild: the guild, its text channels and the bot as member."""
        channels = [
            {k: v for k, v in _channel_payload(c, guild_id, 0, self.bot_user).items() if k != "permissions"}
            for c, g in self.channels.items()
            if g == guild_id
        ]
        everyone = {
            "id": guild_id,
            "name": "@everyone",
            "color": 0,
            "hoist": False,
            "position": 0,
            "permissions": "0",
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        return {
            "id": guild_id,
            "name": self.guilds.get(guild_id, "guild"),
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": "500000000000000009",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": 1,
            "voice_states": [],
            "members": [
                {
                    "user": self.bot_user,
                    "roles": [],
                    "joined_at": "2024-01-01T00:00:00+00:00",
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "channels": channels,
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    async def _dispatch(self, event: str, data: dict[str, Any], guild_id: str | None = None) -> list[int]:
        """Send an event on the connections that carry `guild_id` (DMs: shard 0); return their shard ids."""
        if not self._sockets:
            raise FakeDiscordError("no client connected to the gateway")
        sent: list[int] = []
        for ws in list(self._sockets):
            shard_id, shard_count = self._socket_shards.get(id(ws), (0, 1))
            wanted = 0 if guild_id is None else self.shard_for(guild_id, shard_count)
            if shard_id != wanted:
                continue
            await ws.send_json({"op": 0, "t": event, "s": next(self._seq), "d": data})
            sent.append(shard_id)
        if not sent:
            raise FakeDiscordError(f"no gateway connection carries the shard of guild {guild_id}")
        return sent

    async def _interact(
        self,
        kind: int,
        channel_id: str,
        data: dict[str, Any],
        user_id: str,
        guild_id: str | None,
        locale: str,
        permissions: int,
        message: FakeMessage | None = None,
    ) -> str:
        if channel_id not in self.channels:
            self.add_channel(channel_id, guild_id)
        interaction_id = self._next_id()
        token = "itok-" + interaction_id
        user = {
            "id": user_id,
            "username": f"user{user_id[-4:]}",
            "discriminator": "0",
            "avatar": None,
            "global_name": None,
            "public_flags": 0,
        }
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "channel_id": channel_id,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(ALL_PERMISSIONS),
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "authorizing_integration_owners": {"0": guild_id or user_id},
            "context": 0 if guild_id else 1,
            "channel": _channel_payload(channel_id, guild_id, permissions, user),
        }
        if guild_id is not None:
            payload["guild_id"] = guild_id
            payload["guild_locale"] = "en-US"
            payload["guild"] = {"id": guild_id, "locale": "en-US", "features": []}
            payload["member"] = {
                "user": user,
                "roles": [],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions),
            }
        else:
            payload["user"] = user
        if message is not None:
            payload["message"] = message.to_payload(self.bot_user)
        self.interactions[interaction_id] = Interaction(
            interaction_id, token, kind, channel_id, payload, message.id if message else None
        )
        record = self.interactions[interaction_id]
        record.shards = await self._dispatch("INTERACTION_CREATE", payload, guild_id)
        return interaction_id

    # -- REST ----------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files, parse_error = await _read_body(request)
        template = self._template(request.method, path)
        record = RecordedRequest(
            request.method,
            path,
            template,
            dict(request.query),
            body,
            [name for name, _ in files],
            headers=dict(request.headers),
        )
        self.requests.append(record)
        response = await self._answer(request, path, template, body, files, parse_error)
        record.status = response.status
        await self._notify()
        return response

    async def _answer(
        self,
        request: web.Request,
        path: str,
        template: str | None,
        body: Any,
        files: list[tuple[str, int]],
        parse_error: str | None,
    ) -> web.StreamResponse:
        method = request.method
        if template is None:
            if self._path_known(path):
                return _error(405, {"message": "405: Method Not Allowed", "code": 0})
            return _error(404, {"message": "404: Not Found", "code": 0})
        if (
            not path.startswith(_TOKENLESS_PREFIXES)
            and request.headers.get("Authorization") != f"Bot {self.token}"
        ):
            return _error(401, {"message": "401: Unauthorized", "code": 0})
        fault = self._take_fault(method, template)
        if fault is not None:
            if fault.kind == "drop":
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
            return _error(fault.status, fault.body or {}, fault.headers)
        limited = self._rate_limit(method, template, path)
        if isinstance(limited, web.Response):
            return limited
        if parse_error is not None:
            return _error(400, {"message": "400: Bad Request", "code": 50109, "detail": parse_error})
        errors = self._validate(method, path, template, body)
        if errors:
            self.spec_rejections.append(errors)
            return _error(400, {"message": "Invalid Form Body", "code": 50035, "errors": errors}, limited)
        handler = getattr(self, "_h_" + _handler_name(method, template))
        status, payload = handler(path, template, body, files, request)
        if status == 204:
            return web.Response(status=204, headers=limited)
        if status >= 400:
            return _error(status, payload, limited)
        return _json(status, payload, limited)

    def _template(self, method: str, path: str) -> str | None:
        for route_method, template in _ROUTES:
            if route_method == method and _matches(template, path):
                return template
        return None

    def _path_known(self, path: str) -> bool:
        return any(_matches(template, path) for _, template in _ROUTES) or (
            self.spec is not None and self.spec.match_path(path) is not None
        )

    def _take_fault(self, method: str, template: str) -> Fault | None:
        for fault in self._faults:
            if (fault.method in (None, method)) and (fault.template in (None, template)):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _rate_limit(self, method: str, template: str, path: str) -> dict[str, str] | web.Response:
        now = time.monotonic()
        if self._global_limit is not None:
            limit, window = self._global_limit
            bucket = self._global_bucket
            if bucket is None or now >= bucket.reset_at:
                bucket = self._global_bucket = _Bucket(limit, window, limit, now + window)
            if bucket.remaining <= 0:
                retry = round(bucket.reset_at - now, 3)
                return _error(429, _rate_limited_body(retry, True), _rate_limited_headers(retry, True))
            bucket.remaining -= 1
        limit, window = self._route_limits.get(template, self._route_limit)
        bucket_hash = hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:16]
        key = f"{bucket_hash}:{_major_parameter(template, path)}"
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset_at or bucket.limit != limit:
            bucket = self._buckets[key] = _Bucket(limit, window, limit, now + window)
        reset_after = max(bucket.reset_at - now, 0.001)
        headers = {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket_hash,
        }
        if bucket.remaining <= 0:
            headers["X-RateLimit-Remaining"] = "0"
            headers.update(_rate_limited_headers(reset_after, False))
            return _error(429, _rate_limited_body(round(reset_after, 3), False), headers)
        bucket.remaining -= 1
        headers["X-RateLimit-Remaining"] = str(bucket.remaining)
        return headers

    def _validate(self, method: str, path: str, template: str, body: Any) -> ErrorTree:
        errors: ErrorTree = {}
        if self.spec is not None:
            op = self.spec.operation(method, path)
            if op is None:
                add_error(
                    errors, (), "UNKNOWN_ROUTE", f"{method} {template} is not in Discord's API description"
                )
                return errors
            if op.body_schema is not None and body is not None:
                errors = self.spec.validate(op.body_schema, body)
            elif op.body_required and body is None:
                add_error(errors, (), "BASE_TYPE_REQUIRED", "This field is required")
        message = _message_part(template, body)
        if message is not None:
            _check_message_limits(message, errors)
        return errors

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _wait(self, check: Callable[[], bool], what: str, timeout: float) -> None:
        assert self._changed is not None, "start() the fake first"
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(check), timeout)
        except TimeoutError as exc:
            raise WaitTimeout(what, timeout) from exc

    def _next_id(self) -> str:
        return str(next(self._ids))

    def _command_id(self, name: str, guild_id: str | None) -> str:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return str(command["id"])
        return self._next_id()

    def _option_type(self, name: str, option: str, value: Any, guild_id: str | None) -> int:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    for opt in command.get("options") or []:
                        if opt["name"] == option:
                            return int(opt["type"])
        return 4 if isinstance(value, int) else 3

    # -- route handlers: (path, template, body, files, request) -> (status, payload) ------------------

    def _h_get_users_me(self, *_: Any) -> tuple[int, Any]:
        return 200, self.bot_user

    def _h_get_oauth2_applications_me(self, *_: Any) -> tuple[int, Any]:
        return 200, {
            "id": self.application_id,
            "name": "Veille",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.bot_user,
            "verify_key": "00",
            "flags": 0,
            "team": None,
            "summary": "",
            "interactions_endpoint_url": None,
        }

    def _h_get_gateway(self, *_: Any) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url.rstrip("/")}

    def _h_get_gateway_bot(self, *_: Any) -> tuple[int, Any]:
        return 200, {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": self.session_start_total,
                "remaining": self.session_start_remaining,
                "reset_after": 0,
                "max_concurrency": self.max_concurrency,
            },
        }

    def _h_get_applications_commands(self, path: str, *_: Any) -> tuple[int, Any]:
        return 200, self.commands.get(_guild_of(path), [])

    def _h_put_applications_commands(self, path: str, _t: str, body: Any, *_: Any) -> tuple[int, Any]:
        stored = []
        for command in body or []:
            entry = dict(command)
            entry.update(id=self._next_id(), application_id=self.application_id, version="1")
            entry.setdefault("type", 1)
            stored.append(entry)
        self.commands[_guild_of(path)] = stored
        return 200, stored

    _h_get_applications_guilds_commands = _h_get_applications_commands
    _h_put_applications_guilds_commands = _h_put_applications_commands

    def _channel_error(self, channel_id: str) -> tuple[int, Any] | None:
        if channel_id not in self.channels:
            return 404, {"message": "Unknown Channel", "code": 10003}
        if channel_id in self.forbidden_channels:
            return 403, {"message": "Missing Access", "code": 50001}
        return None

    def _h_post_channels_messages(
        self, path: str, _t: str, body: Any, files: list[tuple[str, int]], *_: Any
    ) -> tuple[int, Any]:
        channel_id = path.split("/")[2]
        error = self._channel_error(channel_id)
        if error:
            return error
        message = self._create(channel_id, body or {}, files)
        return 200, message.to_payload(self.bot_user)

    def _find_message(self, path: str) -> tuple[FakeMessage | None, tuple[int, Any] | None]:
        parts = path.split("/")
        channel_id, message_id = parts[2], parts[4]
        error = self._channel_error(channel_id)
        if error:
            return None, error
        for message in self.messages.get(channel_id, []):
            if message.id == message_id and not message.deleted:
                return message, None
        return None, (404, {"message": "Unknown Message", "code": 10008})

    def _h_get_channels_messages_id(self, path: str, *_: Any) -> tuple[int, Any]:
        message, error = self._find_message(path)
        return error or (200, message.to_payload(self.bot_user))  # type: ignore[union-attr]

    def _h_patch_channels_messages_id(
        self, path: str, _t: str, body: Any, files: list[tuple[str, int]], *_: Any
    ) -> tuple[int, Any]:
        message, error = self._find_message(path)
        if error or message is None:
            return error or (500, {})
        _apply_edit(message, body or {}, files)
        return 200, message.to_payload(self.bot_user)

    def _h_delete_channels_messages_id(self, path: str, *_: Any) -> tuple[int, Any]:
        message, error = self._find_message(path)
        if error or message is None:
            return error or (500, {})
        message.deleted = True
        return 204, None

    def _interaction_by_token(self, token: str) -> Interaction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    def _h_post_interactions_callback(
        self, path: str, _t: str, body: Any, files: list[tuple[str, int]], request: web.Request
    ) -> tuple[int, Any]:
        _, _, interaction_id, token, _ = path.split("/")
        record = self.interactions.get(interaction_id)
        if record is None or record.token != token:
            return 404, {"message": "Unknown interaction", "code": 10062}
        if record.callbacks:
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
        body = body or {}
        record.callbacks.append(body)
        kind = body.get("type")
        data = body.get("data") or {}
        resource: dict[str, Any] | None = None
        if kind == 8:
            record.choices = list(data.get("choices") or [])
        elif kind in (4, 5):
            flags = int(data.get("flags") or 0) | (LOADING if kind == 5 else 0)
            message = self._create(record.channel_id, {**data, "flags": flags}, files, interaction_id)
            record.message_id = message.id
            resource = {"type": kind, "message": message.to_payload(self.bot_user)}
        elif kind == 7 and record.message_id is not None:
            message = self.message(record.channel_id, record.message_id)
            _apply_edit(message, data, files)
            resource = {"type": kind, "message": message.to_payload(self.bot_user)}
        elif kind == 6:
            resource = {"type": kind}
        answer: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": record.type,
                "response_message_id": record.message_id,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": False,
            },
        }
        if resource is not None:
            answer["resource"] = resource
        # Without ?with_response Discord answers 204 and the client never sees the created message.
        if request.query.get("with_response", "").lower() in ("1", "true"):
            return 200, answer
        return 204, None

    def _h_post_webhooks(
        self, path: str, _t: str, body: Any, files: list[tuple[str, int]], *_: Any
    ) -> tuple[int, Any]:
        token = path.split("/")[3]
        record = self._interaction_by_token(token)
        if record is None:
            return 404, {"message": "Unknown Webhook", "code": 10015}
        message = self._create(record.channel_id, body or {}, files, record.id)
        return 200, message.to_payload(self.bot_user)

    def _original(self, path: str) -> tuple[Interaction | None, FakeMessage | None, tuple[int, Any] | None]:
        token = path.split("/")[3]
        record = self._interaction_by_token(token)
        if record is None:
            return None, None, (404, {"message": "Unknown Webhook", "code": 10015})
        parts = path.split("/")
        message_id = record.message_id if parts[5] == "@original" else parts[5]
        if message_id is None:
            return record, None, (404, {"message": "Unknown Message", "code": 10008})
        return record, self.message(record.channel_id, message_id), None

    def _h_get_webhooks_original(self, path: str, *_: Any) -> tuple[int, Any]:
        _, message, error = self._original(path)
        return error or (200, message.to_payload(self.bot_user))  # type: ignore[union-attr]

    def _h_patch_webhooks_original(
        self, path: str, _t: str, body: Any, files: list[tuple[str, int]], *_: Any
    ) -> tuple[int, Any]:
        _, message, error = self._original(path)
        if error or message is None:
            return error or (500, {})
        _apply_edit(message, body or {}, files)
        message.flags &= ~LOADING
        return 200, message.to_payload(self.bot_user)

    _h_patch_webhooks_message = _h_patch_webhooks_original

    def _h_delete_webhooks_original(self, path: str, *_: Any) -> tuple[int, Any]:
        _, message, error = self._original(path)
        if error or message is None:
            return error or (500, {})
        message.deleted = True
        return 204, None

    def _create(
        self,
        channel_id: str,
        body: dict[str, Any],
        files: list[tuple[str, int]],
        interaction_id: str | None = None,
    ) -> FakeMessage:
        message = FakeMessage(self._next_id(), channel_id, interaction_id=interaction_id)
        _apply_edit(message, body, files)
        message.edits = 0
        message.flags = int(body.get("flags") or 0)
        self.messages.setdefault(channel_id, []).append(message)
        return message


def _channel_payload(
    channel_id: str, guild_id: str | None, permissions: int, user: dict[str, Any]
) -> dict[str, Any]:
    """Return the channel object Discord puts in an interaction: a guild text channel or a DM."""
    if guild_id is None:
        return {
            "id": channel_id,
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user],
            "permissions": str(permissions),
        }
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": "news",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
        "permissions": str(permissions),
    }


def _handler_name(method: str, template: str) -> str:
    names = {
        "/users/@me": "users_me",
        "/oauth2/applications/@me": "oauth2_applications_me",
        "/gateway": "gateway",
        "/gateway/bot": "gateway_bot",
        "/applications/{application_id}/commands": "applications_commands",
        "/applications/{application_id}/guilds/{guild_id}/commands": "applications_guilds_commands",
        "/channels/{channel_id}/messages": "channels_messages",
        "/channels/{channel_id}/messages/{message_id}": "channels_messages_id",
        "/interactions/{interaction_id}/{interaction_token}/callback": "interactions_callback",
        "/webhooks/{webhook_id}/{webhook_token}": "webhooks",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original": "webhooks_original",
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}": "webhooks_message",
    }
    return f"{method.lower()}_{names[template]}"


def _matches(template: str, path: str) -> bool:
    t_parts, p_parts = template.split("/"), path.split("/")
    if len(t_parts) != len(p_parts):
        return False
    return all(t.startswith("{") or t == p for t, p in zip(t_parts, p_parts, strict=True))


def _major_parameter(template: str, path: str) -> str:
    for name in ("channel_id", "guild_id", "webhook_id", "interaction_id"):
        marker = "{" + name + "}"
        if marker in template:
            return path.split("/")[template.split("/").index(marker)]
    return ""


def _guild_of(path: str) -> str | None:
    parts = path.split("/")
    return parts[4] if len(parts) > 4 and parts[3] == "guilds" else None


async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, int]], str | None]:
    """Return (JSON body or None, attached files as (name, size), parse error)."""
    if not request.can_read_body:
        return None, [], None
    ctype = request.content_type
    if ctype == "multipart/form-data":
        reader = await request.multipart()
        payload: Any = None
        files: list[tuple[str, int]] = []
        async for part in reader:
            if part is None or not hasattr(part, "name"):
                continue
            if part.name == "payload_json":
                try:
                    payload = json.loads(await part.text())
                except ValueError as exc:
                    return None, files, f"payload_json is not JSON: {exc}"
            else:
                data = await part.read()
                files.append((getattr(part, "filename", None) or part.name or "", len(data)))
        return payload, files, None
    raw = await request.read()
    if not raw:
        return None, [], None
    if ctype != "application/json":
        return None, [], f"unsupported content type {ctype!r}"
    try:
        return json.loads(raw), [], None
    except ValueError as exc:
        return None, [], f"body is not JSON: {exc}"


def _message_part(template: str, body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return None
    if template.endswith("/callback"):
        data = body.get("data")
        return data if isinstance(data, dict) and body.get("type") in (4, 7) else None
    if template.startswith(("/channels/", "/webhooks/")):
        return body
    return None


def _check_message_limits(message: dict[str, Any], errors: ErrorTree) -> None:
    """Add the errors Discord gives beyond the OpenAPI schema: bot content 2000, 6000 embed chars."""
    content = message.get("content")
    if isinstance(content, str) and len(content) > MESSAGE_CONTENT_LIMIT:
        add_error(
            errors,
            ("content",),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MESSAGE_CONTENT_LIMIT} or fewer in length.",
        )
    embeds = message.get("embeds")
    if isinstance(embeds, list):
        total = sum(_embed_size(e) for e in embeds if isinstance(e, dict))
        if total > EMBED_TOTAL_LIMIT:
            add_error(
                errors,
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}",
            )


def _embed_size(embed: dict[str, Any]) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "") + len(
        (embed.get("author") or {}).get("name") or ""
    )
    for f in embed.get("fields") or []:
        if isinstance(f, dict):
            size += len(f.get("name") or "") + len(f.get("value") or "")
    return size


def _apply_edit(message: FakeMessage, body: dict[str, Any], files: list[tuple[str, int]]) -> None:
    if "content" in body:
        message.content = body.get("content") or ""
    if "embeds" in body:
        message.embeds = list(body.get("embeds") or [])
    if "components" in body:
        message.components = list(body.get("components") or [])
    if "allowed_mentions" in body:
        message.allowed_mentions = body.get("allowed_mentions")
    if "attachments" in body or files:
        kept = [
            a
            for a in message.attachments
            if any(str(x.get("id")) == str(a.get("id")) for x in body.get("attachments") or [])
        ]
        message.attachments = kept + [
            {
                "id": str(1_100_000_000_000_000_000 + i),
                "filename": name,
                "size": size,
                "url": f"https://cdn.discordapp.invalid/{name}",
                "proxy_url": f"https://media.invalid/{name}",
            }
            for i, (name, size) in enumerate(files)
        ]
    message.edits += 1


def _rate_limited_body(retry_after: float, is_global: bool) -> dict[str, Any]:
    return {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": is_global,
        "code": 0,
    }


def _rate_limited_headers(retry_after: float, is_global: bool) -> dict[str, str]:
    # discord.py treats a 429 without Via as a Cloudflare ban, so answer like Discord's edge does.
    headers = {
        "Retry-After": str(math.ceil(retry_after)),
        "Via": "1.1 google",
        "X-RateLimit-Scope": "global" if is_global else "user",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return headers


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py only parses bodies whose Content-Type is exactly application/json.
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _error(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return _json(status, payload, headers)


__all__ = [
    "ALL_PERMISSIONS",
    "PERM_MANAGE_GUILD",
    "FakeDiscord",
    "FakeDiscordError",
    "FakeMessage",
    "Interaction",
    "RecordedRequest",
    "WaitTimeout",
    "error_paths",
]
