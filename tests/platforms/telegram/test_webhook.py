"""Telegram webhook mode (issue 9): config validation, the fake's webhook API, and the real bot behind a proxy.

The real App (python-telegram-bot, the real router and store) runs in webhook mode against the fake Bot API;
the fake POSTs updates, as Telegram does, to a public https name that resolves to a round-robin reverse
proxy on 127.0.0.1, which forwards them to one or two webhook front ends.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import App
from bot.config import ConfigError, TelegramWebhookSettings, parse_settings
from bot.platforms.telegram_adapter import TelegramAdapterError, TelegramPlatform
from bot.platforms.telegram_webhook import SECRET_HEADER, RecentIds
from tests.fakes.round_robin_proxy import RoundRobinProxy
from tests.fakes.telegram_server import FakeTelegram
from tests.platforms.telegram.conftest import ScriptedRouter, SpecState

SECRET = "veille_test-Secret_0123456789"
SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
PUBLIC_HOST = "veille.example.test"
PUBLIC_URL = f"https://{PUBLIC_HOST}/telegram/hook-5f2c9a"
GROUP = -1001234


def problems_of(telegram: dict[str, Any]) -> list[str]:
    """Return the config problems of a document with this telegram section (none: [])."""
    try:
        parse_settings({"telegram": telegram})
    except ConfigError as exc:
        return exc.problems
    return []


# --- config ------------------------------------------------------------------------------------------------


def test_polling_stays_the_default() -> None:
    settings = parse_settings({})
    assert settings.telegram.mode == "polling"
    assert settings.telegram.webhook == TelegramWebhookSettings()


def test_webhook_settings_are_read_and_path_defaults_to_the_public_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    settings = parse_settings(
        {"telegram": {"mode": "webhook", "webhook": {"public_url": PUBLIC_URL, "port": 8001, "set_webhook": False,
                                                      "max_connections": 8}}}
    )
    hook = settings.telegram.webhook
    assert settings.telegram.mode == "webhook"
    assert (hook.listen, hook.port, hook.path) == ("127.0.0.1", 8001, "/telegram/hook-5f2c9a")
    assert hook.public_url == PUBLIC_URL
    assert (hook.set_webhook, hook.max_connections, hook.drop_pending_updates) == (False, 8, False)


def test_webhook_mode_without_public_url_is_refused() -> None:
    assert problems_of({"mode": "webhook"}) == [
        "telegram.webhook.public_url: is required in webhook mode: the https URL of your reverse proxy that "
        "Telegram calls"
    ]


def test_every_webhook_problem_is_listed_with_its_path() -> None:
    problems = problems_of(
        {
            "mode": "hooks",
            "webhook": {
                "port": 70000,
                "public_url": "http://bot.example.com:8080",
                "path": "telegram hook",
                "secret_token_env": "NOT A NAME",
                "max_connections": 101,
                "set_webhook": "yes",
                "colour": "blue",
            },
        }
    )
    assert problems == [
        "telegram.mode: must be polling or webhook, not 'hooks'",
        "telegram.webhook.port: must be at most 65535",
        "telegram.webhook.public_url: Telegram calls webhooks over HTTPS only (http needs a self-hosted Bot API "
        "server)",
        "telegram.webhook.public_url: needs a path, e.g. https://bot.example.com/telegram/<random string>",
        "telegram.webhook.path: must be a URL path starting with / (got 'telegram hook')",
        "telegram.webhook.secret_token_env: must be an environment variable name, not 'NOT A NAME'",
        "telegram.webhook.max_connections: must be at most 100 (Telegram's limit)",
        "telegram.webhook.set_webhook: must be true or false",
        "telegram.webhook.colour: unknown key",
    ]


@pytest.mark.parametrize(
    ("webhook", "expected"),
    [
        ({"port": -1}, "telegram.webhook.port: must be at least 0"),
        ({"port": "8443"}, "telegram.webhook.port: must be a whole number"),
        ({"public_url": "https://bot.example.com:8080/t/x"},
         "telegram.webhook.public_url: Telegram calls webhooks on ports 80, 88, 443 or 8443 only, not 8080"),
        ({"public_url": "ftp://bot.example.com/t"}, "telegram.webhook.public_url: not an https URL: 'ftp://bot.example.com/t'"),
        ({"max_connections": 0}, "telegram.webhook.max_connections: must be at least 1"),
    ],
)
def test_bad_webhook_values(webhook: dict[str, Any], expected: str) -> None:
    section = {"mode": "webhook", "webhook": {"public_url": PUBLIC_URL, **webhook}}
    assert problems_of(section) == [expected]


def test_a_self_hosted_bot_api_server_allows_http_on_any_port() -> None:
    assert problems_of(
        {"api_base_url": "http://10.0.0.5:8081/bot", "mode": "webhook",
         "webhook": {"public_url": "http://10.0.0.6:9000/telegram/x"}}
    ) == []


def test_a_secret_telegram_refuses_is_reported_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SECRET", "has spaces and é")
    section = {"mode": "webhook", "webhook": {"public_url": PUBLIC_URL, "secret_token_env": "MY_SECRET"}}
    problems = problems_of(section)
    assert problems == [
        "telegram.webhook.secret_token_env: $MY_SECRET holds a secret Telegram refuses: it needs 1-256 characters "
        "among A-Z a-z 0-9 _ - (got 16 characters)"
    ]
    monkeypatch.setenv("MY_SECRET", "x" * 257)
    assert len(problems_of(section)) == 1


def test_the_adapter_refuses_webhook_mode_without_a_valid_secret() -> None:
    hook = TelegramWebhookSettings(public_url=PUBLIC_URL, path="/telegram/hook-5f2c9a")
    with pytest.raises(TelegramAdapterError, match=r"needs a secret token: set \$TELEGRAM_WEBHOOK_SECRET"):
        TelegramPlatform("1:x", webhook=hook, webhook_secret=None)
    with pytest.raises(TelegramAdapterError, match="refuses") as caught:
        TelegramPlatform("1:x", webhook=hook, webhook_secret="not/allowed")
    assert "not/allowed" not in str(caught.value)
    with pytest.raises(TelegramAdapterError, match="public_url"):
        TelegramPlatform("1:x", webhook=TelegramWebhookSettings(), webhook_secret=SECRET)


def test_recent_ids_are_bounded() -> None:
    seen = RecentIds(3)
    assert [seen.add(i) for i in (1, 2, 1, 3, 4)] == [True, True, False, True, True]
    assert len(seen) == 3 and 2 not in seen and 1 in seen  # 1 was refreshed, 2 was the oldest


# --- the fake's webhook API --------------------------------------------------------------------------------


async def call(fake: FakeTelegram, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    """Call the fake Bot API directly (JSON body); return the HTTP status and the envelope."""
    url = f"{fake.base_url}{fake.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, json=params) as response:
        return response.status, await response.json()


async def test_fake_set_webhook_checks_like_telegram(telegram_fake: FakeTelegram) -> None:
    telegram_fake.route_webhook(PUBLIC_HOST, "http://127.0.0.1:9")
    refusals = {
        "http://veille.example.test/x": "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        "https://veille.example.test:8080/x": (
            "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
        ),
        "https://unknown.example.test/x": "Bad Request: bad webhook: Failed to resolve host: Name or service not known",
    }
    for url, description in refusals.items():
        assert await call(telegram_fake, "setWebhook", url=url) == (
            400, {"ok": False, "error_code": 400, "description": description}
        )
    status, body = await call(telegram_fake, "setWebhook", url=PUBLIC_URL, secret_token="no spaces please")
    assert (status, body["description"]) == (400, "Bad Request: secret token contains unallowed characters")

    assert await call(telegram_fake, "setWebhook", url=PUBLIC_URL, secret_token=SECRET, max_connections=5) == (
        200, {"ok": True, "result": True}
    )
    status, info = await call(telegram_fake, "getWebhookInfo")
    assert info["result"]["url"] == PUBLIC_URL and info["result"]["max_connections"] == 5
    status, body = await call(telegram_fake, "getUpdates")
    assert (status, body["error_code"]) == (409, 409)
    assert body["description"].startswith("Conflict: can't use getUpdates method while webhook is active")
    assert await call(telegram_fake, "deleteWebhook") == (200, {"ok": True, "result": True})
    assert (await call(telegram_fake, "getUpdates"))[0] == 200


async def test_fake_retries_a_refused_delivery_until_it_is_accepted(telegram_fake: FakeTelegram) -> None:
    proxy = RoundRobinProxy()  # no backend yet: every POST gets 502
    await proxy.start()
    try:
        telegram_fake.route_webhook(PUBLIC_HOST, proxy.url)
        telegram_fake.send_command(GROUP, "/help")
        assert (await call(telegram_fake, "setWebhook", url=PUBLIC_URL, secret_token=SECRET))[0] == 200
        await telegram_fake.wait_until(lambda: len(telegram_fake.webhook_deliveries) >= 2, what="two deliveries")
        assert {d.status for d in telegram_fake.webhook_deliveries} == {502}
        info = (await call(telegram_fake, "getWebhookInfo"))[1]["result"]
        assert info["pending_update_count"] == 1
        assert info["last_error_message"] == "Wrong response from the webhook: 502"

        received: list[tuple[str, dict[str, Any]]] = []

        async def hook(request: web.Request) -> web.Response:
            received.append((request.headers.get(SECRET_HEADER, ""), await request.json()))
            return web.Response(status=200)

        app = web.Application()
        app.router.add_post("/telegram/hook-5f2c9a", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        proxy.backends.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
        try:
            await telegram_fake.wait_until(lambda: telegram_fake.pending_update_count == 0, what="the delivery")
        finally:
            await runner.cleanup()
        assert len(received) == 1
        secret, update = received[0]
        assert secret == SECRET
        assert update["message"]["text"] == "/help" and isinstance(update["update_id"], int)
        assert telegram_fake.webhook_deliveries[-1].status == 200
    finally:
        await proxy.stop()


# --- the real bot in webhook mode ----------------------------------------------------------------------------


@dataclass
class Frontends:
    fake: FakeTelegram
    proxy: RoundRobinProxy
    apps: list[App]

    def platform(self, index: int) -> TelegramPlatform:
        platform = self.apps[index].platforms["telegram"]
        assert isinstance(platform, TelegramPlatform)
        return platform

    def direct_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.platform(index).webhook_port}/telegram/hook-5f2c9a"


def webhook_settings(tmp: Path, fake: FakeTelegram, *, name: str, set_webhook: bool, store_url: str = "",
                     feeds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return a config document for one front end (its own port and index, the shared path and secret)."""
    storage: dict[str, Any] = {"path": str(tmp / f"{name}.db")}
    if store_url:
        storage["url"] = store_url
    return {
        "storage": storage,
        "fetch": {"allow_private_addresses": True, "fetch_full_text": False, "timeout": 5},
        "feeds": feeds or [],
        "telegram": {
            "api_base_url": fake.base_url,
            "mode": "webhook",
            "webhook": {"port": 0, "public_url": PUBLIC_URL, "set_webhook": set_webhook, "max_connections": 10},
        },
        "console": {"enabled": False},
    }


async def start_frontends(
    stack: AsyncExitStack, fake: FakeTelegram, configs: list[dict[str, Any]], seed: Any = None
) -> Frontends:
    """Start the proxy, then each App's platforms (the first one registers the webhook), behind the proxy."""
    proxy = RoundRobinProxy()
    await proxy.start()
    stack.push_async_callback(proxy.stop)
    fake.route_webhook(PUBLIC_HOST, proxy.url)
    apps: list[App] = []
    for index, config in enumerate(configs):
        app = await stack.enter_async_context(App(parse_settings(config)))
        if index == 0 and seed is not None:
            await seed(app)
        apps.append(app)
    # Serve first, register last: the process with set_webhook starts after the others are listening.
    for app in reversed(apps):
        said = await app.start_platforms()
        assert said[0] == "telegram: started (token from $TELEGRAM_BOT_TOKEN)", said
        platform = app.platforms["telegram"]
        assert isinstance(platform, TelegramPlatform)
        proxy.backends.append(f"http://127.0.0.1:{platform.webhook_port}")
    return Frontends(fake, proxy, apps)


@pytest.fixture
async def one_frontend(
    tmp_path: Path, telegram_fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Frontends]:
    """One real App in webhook mode (SQLite) behind the proxy."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram_fake.token)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    telegram_fake.add_chat(GROUP, "supergroup", title="AI chips desk")
    async with AsyncExitStack() as stack:
        config = webhook_settings(tmp_path, telegram_fake, name="solo", set_webhook=True)
        yield await start_frontends(stack, telegram_fake, [config])



def as_sent(value: object) -> object:
    """Return a recorded parameter as the bot meant it: typed by the fake when ../shared/specs is there,
    the form's text otherwise (PTB sends numbers and lists as JSON text)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value

async def test_the_app_registers_the_webhook_and_never_polls(one_frontend: Frontends) -> None:
    fake = one_frontend.fake
    [registered] = fake.calls("setWebhook")
    assert registered.status == 200
    params = {key: as_sent(value) for key, value in registered.params.items()}
    assert params["url"] == PUBLIC_URL
    assert params["secret_token"] == SECRET
    assert params["max_connections"] == 10
    assert params["allowed_updates"] == ["message", "channel_post", "callback_query"]
    assert params.get("drop_pending_updates") in (None, False)

    fake.send_command(GROUP, "/help", user_id=7)
    reply = await fake.wait_for_message(GROUP)
    assert "/search" in reply.text
    assert fake.calls("getUpdates") == []
    assert fake.webhook_deliveries[-1].status == 200

    platform = one_frontend.platform(0)
    await platform.stop()
    assert fake.calls("deleteWebhook") == []  # the other front ends still serve it
    assert fake.webhook is not None and fake.webhook.url == PUBLIC_URL


async def post(url: str, body: bytes, secret: str | None = SECRET) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        return response.status


def update_json(update_id: int, text: str) -> bytes:
    message = {
        "message_id": 900 + update_id,
        "date": 1_790_000_000,
        "chat": {"id": GROUP, "type": "supergroup", "title": "AI chips desk"},
        "from": {"id": 7, "is_bot": False, "first_name": "Mallory"},
        "text": text,
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
    }
    return json.dumps({"update_id": update_id, "message": message}).encode()


async def test_wrong_secret_garbage_and_oversized_bodies_are_refused(
    one_frontend: Frontends, caplog: pytest.LogCaptureFixture
) -> None:
    fake, proxy = one_frontend.fake, one_frontend.proxy
    url = proxy.url + "/telegram/hook-5f2c9a"
    caplog.set_level(logging.WARNING)
    assert await post(url, update_json(5001, "/help"), secret=None) == 403
    assert await post(url, update_json(5002, "/help"), secret="guessed") == 403
    assert await post(url, update_json(5003, "/help"), secret=SECRET + "x") == 403
    assert await post(url, b"{not json", secret=SECRET) == 400
    assert await post(url, b'["an", "array"]') == 400
    assert await post(url, b'{"update_id": "7"}') == 400
    assert await post(url, b'{"update_id": 5004, "message": {"text": "no chat, no date"}}') == 400
    assert await post(url, b"{" + b" " * (2 * 1024 * 1024) + b"}") == 413
    assert await post(proxy.url + "/telegram/other-path", update_json(5005, "/help")) == 404
    async with aiohttp.ClientSession() as session, session.get(url + "/healthz") as response:
        assert response.status == 200 and (await response.json()) == {"status": "ok"}
    stats = one_frontend.platform(0).webhook_stats
    assert stats is not None and (stats.forbidden, stats.bad_requests, stats.accepted) == (3, 5, 0)
    assert SECRET not in caplog.text

    # Then a genuine update through Telegram: the only message the bot ever posts is its answer.
    fake.send_command(GROUP, "/help", user_id=7)
    await fake.wait_for_message(GROUP)
    assert len(fake.messages(GROUP)) == 1
    assert one_frontend.apps[0].platforms["telegram"] is one_frontend.platform(0)


async def test_a_redelivered_update_is_answered_once(one_frontend: Frontends) -> None:
    fake = one_frontend.fake
    fake.send_command(GROUP, "/help", user_id=7)
    await fake.wait_for_message(GROUP)
    first = fake.webhook_deliveries[-1].update_id
    fake.redeliver(first)  # Telegram did not get our 200 in time and sends it again
    await fake.wait_until(
        lambda: [d.update_id for d in fake.webhook_deliveries if d.status == 200].count(first) == 2,
        what="the second delivery",
    )
    # A direct replay too (a proxy retrying after a timeout): same update_id, same answer.
    assert await post(one_frontend.direct_url(0), update_json(first, "/help")) == 200
    fake.send_command(GROUP, "/help", user_id=7)
    await fake.wait_for_message(GROUP, since=1)
    assert len(fake.messages(GROUP)) == 2  # one per distinct update, none for the replays
    stats = one_frontend.platform(0).webhook_stats
    assert stats is not None and (stats.accepted, stats.duplicates) == (2, 2)


async def test_a_front_end_without_set_webhook_only_serves(
    tmp_path: Path, telegram_fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram_fake.token)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    caplog.set_level(logging.WARNING)
    async with AsyncExitStack() as stack:
        config = webhook_settings(tmp_path, telegram_fake, name="b", set_webhook=False)
        await start_frontends(stack, telegram_fake, [config])
        assert telegram_fake.calls("setWebhook") == []
        assert [r.method for r in telegram_fake.requests if "Webhook" in r.method] == ["getWebhookInfo"]
        assert "receives nothing until one process with telegram.webhook.set_webhook: true" in caplog.text
        # A deploy step registers the webhook later: updates flow without a restart.
        assert (await call(telegram_fake, "setWebhook", url=PUBLIC_URL, secret_token=SECRET))[0] == 200
        telegram_fake.send_command(GROUP, "/help", user_id=7)
        await telegram_fake.wait_for_message(GROUP)
        assert telegram_fake.calls("getUpdates") == []


async def test_a_taken_port_is_a_clear_start_error(telegram_fake: FakeTelegram, telegram_spec_state: SpecState) -> None:
    blocker = RoundRobinProxy()
    await blocker.start()
    try:
        hook = TelegramWebhookSettings(port=blocker.port, path="/telegram/x", public_url=PUBLIC_URL)
        platform = TelegramPlatform(
            telegram_fake.token, api_base_url=telegram_fake.base_url, webhook=hook, webhook_secret=SECRET
        )
        with pytest.raises(TelegramAdapterError, match=rf"webhook server: cannot listen on 127.0.0.1:{blocker.port}"):
            await platform.start(ScriptedRouter())
        assert platform.webhook_port is None
        assert telegram_fake.calls("setWebhook") == []
    finally:
        await blocker.stop()


async def test_polling_mode_still_deletes_a_webhook_left_behind(telegram_fake: FakeTelegram) -> None:
    telegram_fake.route_webhook(PUBLIC_HOST, "http://127.0.0.1:9")
    assert (await call(telegram_fake, "setWebhook", url=PUBLIC_URL, secret_token=SECRET))[0] == 200
    router = ScriptedRouter()
    platform = TelegramPlatform(
        telegram_fake.token, api_base_url=telegram_fake.base_url, poll_timeout_s=1, request_timeout_s=3.0
    )
    await platform.start(router)
    try:
        assert telegram_fake.webhook is None
        assert len(telegram_fake.calls("deleteWebhook")) == 1
        telegram_fake.send_command(GROUP, "/help", user_id=7)
        await telegram_fake.wait_for_message(GROUP)
        assert [r.command for r in router.requests] == ["help"]
    finally:
        await platform.stop()


# --- two front ends behind one proxy, one shared PostgreSQL store ------------------------------------------


FEED_ITEMS = (
    (
        "Broadcom ships a custom ASIC for a large AI cluster",
        "Broadcom said on Tuesday that its new custom ASIC is in volume production.",
    ),
    ("Nvidia books record data-centre revenue", "Nvidia reported record revenue from its data-centre chips."),
)


async def serve_feed(stack: AsyncExitStack) -> str:
    """Serve a two-item RSS feed on 127.0.0.1 until the stack closes; return its URL."""
    items = "".join(
        f"<item><title>{title}</title><link>http://news.test/{n}</link><guid>chip-{n}</guid>"
        f"<pubDate>Fri, 20 Nov 2026 1{n}:00:00 GMT</pubDate><description>{body}</description></item>"
        for n, (title, body) in enumerate(FEED_ITEMS)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Chip Wire</title>{items}</channel></rss>'

    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=body.encode(), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}/feed.xml"


async def test_two_front_ends_behind_a_round_robin_proxy_share_the_store(
    tmp_path: Path, telegram_fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("psycopg")
    from tests.store.pg import pg_schema_url

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", telegram_fake.token)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    telegram_fake.add_chat(GROUP, "supergroup", title="AI chips desk")
    with pg_schema_url() as url:
        async with AsyncExitStack() as stack:
            feeds = [{"url": await serve_feed(stack), "name": "Chip Wire", "interval": "1h"}]

            async def seed(app: App) -> None:
                # Front end A stores the archive in PostgreSQL; B opens after and catches its index up from it.
                summary = await app.ingest_once()
                assert summary.new > 0, summary.line()

            configs = [
                webhook_settings(tmp_path, telegram_fake, name="a", set_webhook=True, store_url=url, feeds=feeds),
                webhook_settings(tmp_path, telegram_fake, name="b", set_webhook=False, store_url=url, feeds=feeds),
            ]
            world = await start_frontends(stack, telegram_fake, configs, seed=seed)
            assert len(telegram_fake.calls("setWebhook")) == 1

            for n in range(2):
                telegram_fake.send_command(GROUP, "/search broadcom", user_id=7)
                await telegram_fake.wait_for_message(GROUP, since=n)
            answers = telegram_fake.transcript(GROUP)
            assert len(answers) == 2
            assert all("broadcom" in answer.lower() for answer in answers), answers
            assert answers[0] == answers[1]  # both front ends see the same archive
            served = [world.platform(i).webhook_stats for i in range(2)]
            assert [s.accepted if s else None for s in served] == [1, 1]  # one update each, round robin
            assert {index for index, _, status in world.proxy.forwarded if status == 200} == {0, 1}
            assert telegram_fake.calls("getUpdates") == []


async def test_an_update_acknowledged_just_before_stop_is_still_answered(one_frontend: Frontends) -> None:
    fake = one_frontend.fake
    platform = one_frontend.platform(0)
    # 200 means "queued"; stopping right after must not lose the answer Telegram will never ask for again.
    assert await post(one_frontend.direct_url(0), update_json(7001, "/help")) == 200
    await platform.stop()
    assert len(fake.messages(GROUP)) == 1
    assert "/search" in fake.messages(GROUP)[0].text
