"""config.yaml + environment -> validated, frozen settings.

Every problem is collected with its path (`feeds[2].url: not an http(s) URL`) and reported at once,
so a user fixes a config in one round. Secrets never live in YAML: the config names the environment
variable that holds each token, and `Settings` never prints a token.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bot.models import ChatRef

DEFAULT_CONFIG_PATH = "config.yaml"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FeedSettings:
    url: str
    name: str
    interval_s: int = 600


@dataclass(frozen=True)
class FetchSettings:
    allow_private_addresses: bool = False
    connect_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 32
    per_host: int = 2
    fetch_full_text: bool = True


@dataclass(frozen=True)
class StorageSettings:
    path: str = "veille.db"
    retention_days: int = 0  # 0 keeps everything
    # postgresql://user@host/db: PostgreSQL instead of the SQLite file (issue 9). Keep the password out of
    # the YAML: libpq reads it from PGPASSWORD or ~/.pgpass.
    url: str = ""


@dataclass(frozen=True)
class SubscriptionSettings:
    chat: ChatRef
    query: str


@dataclass(frozen=True)
class LLMSettings:
    base_url: str
    model: str
    api_key_env: str = "VEILLE_LLM_API_KEY"
    timeout_s: float = 20.0
    max_tokens_per_article: int = 300
    max_tokens_per_day: int = 200_000
    max_input_chars: int = 6000  # the article is cut to this before it is sent (news leads come first)
    concurrency: int = 4  # calls in flight at once, across all feeds


@dataclass(frozen=True)
class SummarizerSettings:
    max_sentences: int = 2
    max_chars: int = 400
    llm: LLMSettings | None = None


@dataclass(frozen=True)
class StoriesSettings:
    window_hours: int = 72


@dataclass(frozen=True)
class TelegramWebhookSettings:
    # Telegram POSTs each update to `public_url` (the reverse proxy), which forwards it to listen:port + path.
    listen: str = "127.0.0.1"
    port: int = 8443  # 0: any free port (tests)
    path: str = ""  # empty: the path of public_url, as a proxy that passes paths through forwards it
    public_url: str = ""
    secret_token_env: str = "TELEGRAM_WEBHOOK_SECRET"  # the secret itself lives in the environment
    max_connections: int = 40
    set_webhook: bool = True  # with several front ends, one process (or a deploy step) registers the webhook
    drop_pending_updates: bool = False


@dataclass(frozen=True)
class TelegramSettings:
    token_env: str = "TELEGRAM_BOT_TOKEN"
    api_base_url: str = "https://api.telegram.org/bot"
    mode: str = "polling"  # or "webhook"
    webhook: TelegramWebhookSettings = field(default_factory=TelegramWebhookSettings)


@dataclass(frozen=True)
class DiscordSettings:
    token_env: str = "DISCORD_BOT_TOKEN"
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    # Sharding (issue 9): "off" (one plain connection), "auto" (Discord's recommended count) or a number N.
    shards: int | str = "off"
    # Which of the N shards this process runs (several processes each run a slice); empty: all of them.
    shard_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ConsoleSettings:
    # "auto": the console chat runs when no platform token is set.
    enabled: str = "auto"
    chat_lang: str = "en"


@dataclass(frozen=True)
class AlertSettings:
    # Defaults for every chat; each chat may override them with /settings and /digest.
    max_alerts_per_hour: int = 0  # 0: no cap; over it, alerts wait for the digest
    quiet_hours: str = "off"  # "22:00-07:00": alerts in the window wait for the digest
    timezone: str = "UTC"
    digest: str = "off"  # "daily 08:00" or "weekly mon 08:00"
    digest_size: int = 10  # top stories in a digest (alerts held back are always all included)


@dataclass(frozen=True)
class CommandSettings:
    # Per user, across chats: more than `rate_limit` commands in `rate_window_s` seconds are refused.
    rate_limit: int = 10
    rate_window_s: int = 30


@dataclass(frozen=True)
class FeedHealthSettings:
    # `feed_health`, not `feeds`: `feeds` is already the list of feeds.
    alert_after_s: int = 6 * 3600  # a feed failing this long is reported once to its chats
    max_backoff_s: int = 6 * 3600  # the longest wait between two polls of a failing feed (never gives up)
    adaptive: bool = True  # adapt each feed's interval to how often it publishes (within 1/4x..4x, <= 24h)


@dataclass(frozen=True)
class MetricsSettings:
    enabled: bool = False  # config.yaml turns it on; the Docker healthcheck needs it
    host: str = "127.0.0.1"
    port: int = 9464


@dataclass(frozen=True)
class Settings:
    storage: StorageSettings = field(default_factory=StorageSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    feeds: tuple[FeedSettings, ...] = ()
    subscriptions: tuple[SubscriptionSettings, ...] = ()
    entities: dict[str, tuple[str, ...]] = field(default_factory=dict)
    summarizer: SummarizerSettings = field(default_factory=SummarizerSettings)
    stories: StoriesSettings = field(default_factory=StoriesSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    # Chats the bot answers at all; empty means every chat. The console always passes.
    allowed_chats: tuple[ChatRef, ...] = ()
    commands: CommandSettings = field(default_factory=CommandSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    feed_health: FeedHealthSettings = field(default_factory=FeedHealthSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    source_path: str = ""

    def token(self, env_name: str) -> str | None:
        """Return the secret held by environment variable `env_name`, or None when unset or blank."""
        value = os.environ.get(env_name, "").strip()
        return value or None


_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: object) -> int:
    """Read `10m`, `1h`, `30s`, `2d` or a bare number of seconds; raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration like 30s, 10m, 1h or 2d: {value!r}")
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 1:
        raise ValueError("must be at least 1s")
    return seconds


def is_http_url(value: str) -> bool:
    """Tell whether `value` is an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class _Reader:
    """Reads one YAML mapping, recording each problem with its dotted path instead of raising."""

    def __init__(self, data: Any, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.fail("", "must be a mapping")
            data = {}
        self.data: dict[str, Any] = data
        self.known: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path and key else (self.path or key or "(top level)")

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where(key)}: {message}")

    def get(self, key: str, default: Any = None) -> Any:
        self.known.add(key)
        return self.data.get(key, default)

    def string(self, key: str, default: str) -> str:
        value = self.get(key, default)
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "must be a non-empty string")
            return default
        return value.strip()

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
            return default
        return value

    def number(self, key: str, default: float, minimum: float = 0, integer: bool = False) -> Any:
        value = self.get(key, default)
        ok_type = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type):
            self.fail(key, "must be a whole number" if integer else "must be a number")
            return default
        if value < minimum:
            self.fail(key, f"must be at least {minimum}")
            return default
        return value

    def url(self, key: str, default: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
        value = self.string(key, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            self.fail(key, f"not a {'/'.join(schemes)} URL: {value!r}")
            return default
        return value.rstrip("/") if schemes != ("ws", "wss") else value

    def section(self, key: str) -> _Reader:
        return _Reader(self.get(key), self.where(key), self.problems)

    def finish(self) -> None:
        for key in sorted(set(self.data) - self.known, key=str):
            self.fail(str(key), "unknown key")


def _read_feeds(raw: Any, problems: list[str]) -> tuple[FeedSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("feeds: must be a list of {url, name, interval}")
        return ()
    feeds: list[FeedSettings] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        if isinstance(item, str):
            item = {"url": item}
        reader = _Reader(item, f"feeds[{index}]", problems)
        url = reader.get("url")
        if not isinstance(url, str) or not is_http_url(url.strip()):
            reader.fail("url", f"not an http(s) URL: {url!r}")
            reader.finish()
            continue
        url = url.strip()
        if url in seen:
            reader.fail("url", f"same URL as feeds[{seen[url]}]")
        seen[url] = index
        name = reader.get("name") or urlsplit(url).hostname or url
        if not isinstance(name, str):
            reader.fail("name", "must be a string")
            name = url
        interval = 600
        raw_interval = reader.get("interval", "10m")
        try:
            interval = parse_duration(raw_interval)
        except ValueError as exc:
            reader.fail("interval", str(exc))
        reader.finish()
        feeds.append(FeedSettings(url=url, name=name.strip(), interval_s=interval))
    return tuple(feeds)


def _read_subscriptions(raw: Any, problems: list[str]) -> tuple[SubscriptionSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("subscriptions: must be a list of {chat, query}")
        return ()
    subs: list[SubscriptionSettings] = []
    for index, item in enumerate(raw):
        reader = _Reader(item, f"subscriptions[{index}]", problems)
        chat_text = reader.get("chat")
        query = reader.get("query")
        chat: ChatRef | None = None
        try:
            chat = ChatRef.parse(str(chat_text)) if isinstance(chat_text, (str, int)) else None
            if chat and chat.platform not in ("telegram", "discord", "console"):
                reader.fail("chat", f"unknown platform {chat.platform!r} (telegram, discord or console)")
                chat = None
        except ValueError:
            pass
        if chat is None and not any(p.startswith(reader.where("chat")) for p in problems):
            reader.fail("chat", 'must look like "telegram:<chat_id>" or "discord:<channel_id>"')
        if not isinstance(query, str) or not query.strip():
            reader.fail("query", "must be a non-empty string")
        reader.finish()
        if chat is not None and isinstance(query, str) and query.strip():
            subs.append(SubscriptionSettings(chat=chat, query=query.strip()))
    return tuple(subs)


def _read_entities(raw: Any, problems: list[str]) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append("entities: must map a name to a list of aliases")
        return {}
    entities: dict[str, tuple[str, ...]] = {}
    for name, aliases in raw.items():
        if aliases is None:
            aliases = [name]
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            problems.append(f"entities.{name}: must be a list of non-empty strings")
            continue
        entities[str(name)] = tuple(dict.fromkeys([str(name), *(a.strip() for a in aliases)]))
    return entities


def _read_allowed_chats(raw: Any, problems: list[str]) -> tuple[ChatRef, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append('allowed_chats: must be a list like ["telegram:-1001234", "discord:987"]')
        return ()
    chats: list[ChatRef] = []
    for index, item in enumerate(raw):
        try:
            chat = ChatRef.parse(str(item)) if isinstance(item, (str, int)) and not isinstance(item, bool) else None
        except ValueError:
            chat = None
        if chat is None or chat.platform not in ("telegram", "discord", "console"):
            problems.append(f'allowed_chats[{index}]: must look like "telegram:<chat_id>" or "discord:<channel_id>"')
            continue
        chats.append(chat)
    return tuple(chats)


def _read_discord_shards(section: _Reader, settings: DiscordSettings) -> DiscordSettings:
    """Read discord.shards (off, auto or N) and discord.shard_ids (a slice of 0..N-1) into `settings`."""
    raw = section.get("shards", "off")
    shards: int | str = "off"
    # YAML 1.1 reads a bare `off` as false.
    if raw is False or (isinstance(raw, str) and raw.strip().lower() == "off"):
        shards = "off"
    elif isinstance(raw, str) and raw.strip().lower() == "auto":
        shards = "auto"
    elif isinstance(raw, str) and raw.strip().isdigit():
        shards = int(raw.strip())
    elif isinstance(raw, int) and not isinstance(raw, bool):
        shards = raw
    else:
        section.fail("shards", f"must be off, auto or a number of shards, not {raw!r}")
    if isinstance(shards, int) and shards < 1:
        section.fail("shards", f"must be at least 1 (or off, or auto), not {shards}")
        shards = "off"
    raw_ids = section.get("shard_ids")
    ids: list[int] = []
    if raw_ids is not None:
        if not isinstance(raw_ids, list) or not raw_ids:
            section.fail("shard_ids", "must be a non-empty list of shard ids, like [0, 1]")
        elif not isinstance(shards, int):
            section.fail(
                "shard_ids",
                f"needs discord.shards set to the total number of shards (it is {shards}): "
                "shard ids are counted out of a fixed total",
            )
        else:
            seen: set[int] = set()
            for index, item in enumerate(raw_ids):
                if isinstance(item, bool) or not isinstance(item, int):
                    section.fail(f"shard_ids[{index}]", f"must be a whole number, not {item!r}")
                elif not 0 <= item < shards:
                    section.fail(f"shard_ids[{index}]", f"{item} is not a shard of {shards}: ids run 0..{shards - 1}")
                elif item in seen:
                    section.fail(f"shard_ids[{index}]", f"shard {item} is listed twice")
                else:
                    seen.add(item)
                    ids.append(item)
    return _replace(settings, shards=shards, shard_ids=tuple(ids))


def _read_alerts(section: _Reader) -> AlertSettings:
    from bot.alerts.policy import PolicyError, parse_digest, parse_quiet_hours, parse_timezone

    defaults = AlertSettings()
    texts: dict[str, str] = {}
    for key, parse in (("quiet_hours", parse_quiet_hours), ("timezone", parse_timezone), ("digest", parse_digest)):
        value = section.get(key, getattr(defaults, key))
        text = "off" if value is False else str(value)
        try:
            parse(text)
            texts[key] = text
        except PolicyError as exc:
            section.fail(key, str(exc))
            texts[key] = getattr(defaults, key)
    settings = AlertSettings(
        max_alerts_per_hour=section.number("max_alerts_per_hour", 0, integer=True),
        quiet_hours=texts["quiet_hours"],
        timezone=texts["timezone"],
        digest=texts["digest"],
        digest_size=section.number("digest_size", 10, minimum=1, integer=True),
    )
    section.finish()
    return settings


# setWebhook's secret_token: what Telegram accepts (Bot API, setWebhook).
TELEGRAM_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# The official Bot API calls webhooks over HTTPS on these ports only; a self-hosted server in --local mode
# has no such limits.
TELEGRAM_WEBHOOK_PORTS = (80, 88, 443, 8443)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URL_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")


def telegram_secret_problem(value: str) -> str | None:
    """Say why `value` cannot be a Telegram webhook secret token, or None when it can (never echo it)."""
    if not TELEGRAM_SECRET_TOKEN.match(value):
        return (
            "holds a secret Telegram refuses: it needs 1-256 characters among A-Z a-z 0-9 _ - "
            f"(got {len(value)} characters)"
        )
    return None


def _read_telegram(tg: _Reader) -> TelegramSettings:
    official = TelegramSettings.api_base_url
    api_base_url = tg.url("api_base_url", official)
    mode = tg.string("mode", TelegramSettings.mode)
    if mode not in ("polling", "webhook"):
        tg.fail("mode", f"must be polling or webhook, not {mode!r}")
        mode = "polling"
    hook = tg.section("webhook")
    defaults = TelegramWebhookSettings()
    port = hook.number("port", defaults.port, integer=True)
    if port > 65535:
        hook.fail("port", "must be at most 65535")
    public_url = hook.string("public_url", "") if hook.get("public_url") is not None else ""
    path = hook.string("path", "") if hook.get("path") is not None else ""
    if public_url:
        parts = urlsplit(public_url)
        try:
            public_port = parts.port
        except ValueError:
            public_port = None
            hook.fail("public_url", f"has a bad port: {public_url!r}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            hook.fail("public_url", f"not an https URL: {public_url!r}")
        elif api_base_url.rstrip("/") == official and parts.scheme != "https":
            hook.fail("public_url", "Telegram calls webhooks over HTTPS only (http needs a self-hosted Bot API server)")
        elif api_base_url.rstrip("/") == official and public_port not in (None, *TELEGRAM_WEBHOOK_PORTS):
            hook.fail("public_url", f"Telegram calls webhooks on ports 80, 88, 443 or 8443 only, not {public_port}")
        if parts.fragment:
            hook.fail("public_url", "must not have a #fragment")
        if not parts.path or parts.path == "/":
            hook.fail("public_url", "needs a path, e.g. https://bot.example.com/telegram/<random string>")
        path = path or parts.path
    elif mode == "webhook":
        hook.fail("public_url", "is required in webhook mode: the https URL of your reverse proxy that Telegram calls")
    if path and not _URL_PATH.match(path):
        hook.fail("path", f"must be a URL path starting with / (got {path!r})")
    secret_env = hook.string("secret_token_env", defaults.secret_token_env)
    if not _ENV_NAME.match(secret_env):
        hook.fail("secret_token_env", f"must be an environment variable name, not {secret_env!r}")
    elif mode == "webhook" and os.environ.get(secret_env, "").strip():
        # Checked here too so that check-config finds it; the bot refuses to start without a valid secret.
        problem = telegram_secret_problem(os.environ[secret_env].strip())
        if problem:
            hook.fail("secret_token_env", f"${secret_env} {problem}")
    max_connections = hook.number("max_connections", defaults.max_connections, minimum=1, integer=True)
    if max_connections > 100:
        hook.fail("max_connections", "must be at most 100 (Telegram's limit)")
    webhook = TelegramWebhookSettings(
        listen=hook.string("listen", defaults.listen),
        port=port,
        path=path,
        public_url=public_url,
        secret_token_env=secret_env,
        max_connections=max_connections,
        set_webhook=hook.boolean("set_webhook", defaults.set_webhook),
        drop_pending_updates=hook.boolean("drop_pending_updates", defaults.drop_pending_updates),
    )
    hook.finish()
    settings = TelegramSettings(
        token_env=tg.string("token_env", TelegramSettings.token_env),
        api_base_url=api_base_url,
        mode=mode,
        webhook=webhook,
    )
    tg.finish()
    return settings


def parse_settings(data: Any, source_path: str = "") -> Settings:
    """Validate a loaded YAML document; raise ConfigError listing every problem."""
    problems: list[str] = []
    root = _Reader(data, "", problems)

    storage = root.section("storage")
    storage_settings = StorageSettings(
        path=storage.string("path", StorageSettings.path),
        retention_days=storage.number("retention_days", 0, integer=True),
        url=storage.string("url", "") if storage.get("url") is not None else "",
    )
    if storage_settings.url and not storage_settings.url.startswith(("postgresql://", "postgres://")):
        storage.fail("url", "must be a postgresql://user@host/database URL (or absent for the SQLite file)")
    storage.finish()

    fetch = root.section("fetch")
    fetch_settings = FetchSettings(
        allow_private_addresses=fetch.boolean("allow_private_addresses", False),
        connect_timeout_s=fetch.number("connect_timeout", FetchSettings.connect_timeout_s, minimum=0.1),
        total_timeout_s=fetch.number("timeout", FetchSettings.total_timeout_s, minimum=0.1),
        max_bytes=fetch.number("max_bytes", FetchSettings.max_bytes, minimum=1024, integer=True),
        max_redirects=fetch.number("max_redirects", FetchSettings.max_redirects, integer=True),
        concurrency=fetch.number("concurrency", FetchSettings.concurrency, minimum=1, integer=True),
        per_host=fetch.number("per_host", FetchSettings.per_host, minimum=1, integer=True),
        fetch_full_text=fetch.boolean("fetch_full_text", True),
    )
    fetch.finish()

    feeds = _read_feeds(root.get("feeds"), problems)
    subscriptions = _read_subscriptions(root.get("subscriptions"), problems)
    entities = _read_entities(root.get("entities"), problems)

    summ = root.section("summarizer")
    llm_settings: LLMSettings | None = None
    if summ.get("llm") is not None:
        llm = summ.section("llm")
        llm_settings = LLMSettings(
            base_url=llm.url("base_url", "http://127.0.0.1"),
            model=llm.string("model", "default"),
            api_key_env=llm.string("api_key_env", LLMSettings.api_key_env),
            timeout_s=llm.number("timeout", LLMSettings.timeout_s, minimum=0.1),
            max_tokens_per_article=llm.number("max_tokens_per_article", 300, minimum=16, integer=True),
            max_tokens_per_day=llm.number("max_tokens_per_day", 200_000, minimum=0, integer=True),
            max_input_chars=llm.number("max_input_chars", LLMSettings.max_input_chars, minimum=200, integer=True),
            concurrency=llm.number("concurrency", LLMSettings.concurrency, minimum=1, integer=True),
        )
        llm.finish()
    summarizer_settings = SummarizerSettings(
        max_sentences=summ.number("max_sentences", 2, minimum=1, integer=True),
        max_chars=summ.number("max_chars", 400, minimum=80, integer=True),
        llm=llm_settings,
    )
    summ.finish()

    stories = root.section("stories")
    stories_settings = StoriesSettings(window_hours=stories.number("window_hours", 72, minimum=1, integer=True))
    stories.finish()

    telegram_settings = _read_telegram(root.section("telegram"))

    dc = root.section("discord")
    discord_settings = DiscordSettings(
        token_env=dc.string("token_env", DiscordSettings.token_env),
        api_base_url=dc.url("api_base_url", DiscordSettings.api_base_url),
        gateway_url=dc.url("gateway_url", DiscordSettings.gateway_url, schemes=("ws", "wss")),
    )
    discord_settings = _read_discord_shards(dc, discord_settings)
    dc.finish()

    console = root.section("console")
    enabled = console.get("enabled", "auto")
    if enabled not in ("auto", True, False):
        console.fail("enabled", "must be auto, true or false")
        enabled = "auto"
    chat_lang = console.string("lang", "en")
    if chat_lang not in ("en", "fr"):
        console.fail("lang", "must be en or fr")
        chat_lang = "en"
    console_settings = ConsoleSettings(enabled=str(enabled).lower(), chat_lang=chat_lang)
    console.finish()

    allowed_chats = _read_allowed_chats(root.get("allowed_chats"), problems)
    cmd = root.section("commands")
    command_settings = CommandSettings(
        rate_limit=cmd.number("rate_limit", CommandSettings.rate_limit, minimum=1, integer=True),
        rate_window_s=CommandSettings.rate_window_s,
    )
    try:
        command_settings = CommandSettings(
            command_settings.rate_limit, parse_duration(cmd.get("rate_window", CommandSettings.rate_window_s))
        )
    except ValueError as exc:
        cmd.fail("rate_window", str(exc))
    cmd.finish()

    alerts_settings = _read_alerts(root.section("alerts"))

    health = root.section("feed_health")
    health_settings = FeedHealthSettings(adaptive=health.boolean("adaptive", True))
    for key, attr in (("alert_after", "alert_after_s"), ("max_backoff", "max_backoff_s")):
        try:
            value = parse_duration(health.get(key, getattr(FeedHealthSettings, attr)))
            health_settings = _replace(health_settings, **{attr: value})
        except ValueError as exc:
            health.fail(key, str(exc))
    health.finish()

    met = root.section("metrics")
    metrics_settings = MetricsSettings(
        enabled=met.boolean("enabled", MetricsSettings.enabled),
        host=met.string("host", MetricsSettings.host),
        port=met.number("port", MetricsSettings.port, minimum=0, integer=True),
    )
    if metrics_settings.port > 65535:
        met.fail("port", "must be at most 65535")
    met.finish()

    root.finish()
    if problems:
        raise ConfigError(problems)
    return Settings(
        storage=storage_settings,
        fetch=fetch_settings,
        feeds=feeds,
        subscriptions=subscriptions,
        entities=entities,
        summarizer=summarizer_settings,
        stories=stories_settings,
        telegram=telegram_settings,
        discord=discord_settings,
        console=console_settings,
        allowed_chats=allowed_chats,
        commands=command_settings,
        alerts=alerts_settings,
        feed_health=health_settings,
        metrics=metrics_settings,
        source_path=source_path,
    )


def resolve_config_path(cli_value: str | None) -> Path:
    """Pick the config file: --config, else $VEILLE_CONFIG, else ./config.yaml."""
    return Path(cli_value or os.environ.get("VEILLE_CONFIG") or DEFAULT_CONFIG_PATH)


def load_settings(path: Path) -> Settings:
    """Read and validate the YAML file at `path`; raise ConfigError with readable problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file (use --config PATH or set VEILLE_CONFIG)"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"{path}: not valid YAML{where}: {problem}"]) from None
    settings = parse_settings(data, str(path))
    if not Path(settings.storage.path).is_absolute():
        # A relative database path is relative to the config file, not to wherever the bot was started.
        db_path = (path.parent / settings.storage.path).resolve()
        settings = _replace_storage(settings, str(db_path))
    return settings


def _replace(obj: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(obj, **changes)


def _replace_storage(settings: Settings, db_path: str) -> Settings:
    from dataclasses import replace

    return replace(settings, storage=replace(settings.storage, path=db_path))
