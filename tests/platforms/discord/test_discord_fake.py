"""The fake Discord refuses what Discord refuses: raw requests sent with aiohttp, no bot in between."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_spec import DiscordSpec, error_paths
from tests.platforms.discord.conftest import CHANNEL


async def _post(fake: FakeDiscord, path: str, body: Any, method: str = "POST") -> tuple[int, dict, Any]:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.api_base + path, json=body, headers=headers) as response,
    ):
        assert response.headers["Content-Type"] == "application/json" or response.status == 204
        return (
            response.status,
            dict(response.headers),
            await response.json() if response.status != 204 else None,
        )


async def test_unknown_route_and_wrong_method(fake_discord: FakeDiscord) -> None:
    status, _, body = await _post(fake_discord, "/channels/1/nonsense", {})
    assert (status, body) == (404, {"message": "404: Not Found", "code": 0})
    status, _, body = await _post(fake_discord, f"/channels/{CHANNEL}/messages", {}, method="PUT")
    assert status == 405 and body["code"] == 0


async def test_limits_are_refused_with_discords_error_paths(fake_discord: FakeDiscord) -> None:
    bad = {
        "content": "x" * 2001,
        "embeds": [{"title": "t" * 257, "description": "d" * 4000}, {"description": "d" * 2500}],
        "components": [
            {"type": 1, "components": [{"type": 2, "style": 2, "label": "L", "custom_id": "c" * 101}]}
        ],
    }
    status, _, body = await _post(fake_discord, f"/channels/{CHANNEL}/messages", bad)
    assert status == 400 and (body["code"], body["message"]) == (50035, "Invalid Form Body")
    paths = error_paths(body["errors"])
    assert "content:BASE_TYPE_MAX_LENGTH" in paths
    assert "embeds:MAX_EMBED_SIZE_EXCEEDED" in paths
    assert fake_discord.transcript(CHANNEL) == []


async def test_spec_rejects_missing_field_and_wrong_type(
    fake_discord: FakeDiscord, discord_spec: DiscordSpec | None
) -> None:
    if discord_spec is None:
        pytest.skip("../shared/specs/discord-openapi.json is absent: OpenAPI checks cannot run")
    status, _, body = await _post(
        fake_discord,
        f"/channels/{CHANNEL}/messages",
        {"embeds": [{"title": "t" * 257, "fields": [{"name": "n"}]}], "tts": "yes"},
    )
    paths = error_paths(body["errors"])
    assert status == 400
    assert {
        "embeds.0.title:BASE_TYPE_MAX_LENGTH",
        "embeds.0.fields.0.value:BASE_TYPE_REQUIRED",
        "tts:BOOLEAN_TYPE_COERCE",
    } <= set(paths)
    status, _, body = await _post(fake_discord, "/interactions/1/tok/callback", {"data": {"content": "x"}})
    assert status == 400 and "type:BASE_TYPE_REQUIRED" in error_paths(body["errors"])


async def test_rate_limit_headers_and_429(fake_discord: FakeDiscord) -> None:
    fake_discord.set_route_limit("/channels/{channel_id}/messages", 2, 60.0)
    status, headers, _ = await _post(fake_discord, f"/channels/{CHANNEL}/messages", {"content": "a"})
    assert status == 200 and headers["X-RateLimit-Limit"] == "2" and headers["X-RateLimit-Remaining"] == "1"
    assert float(headers["X-RateLimit-Reset-After"]) > 0 and headers["X-RateLimit-Bucket"]
    await _post(fake_discord, f"/channels/{CHANNEL}/messages", {"content": "b"})
    status, headers, body = await _post(fake_discord, f"/channels/{CHANNEL}/messages", {"content": "c"})
    assert status == 429 and body["global"] is False and 0 < body["retry_after"] <= 60
    assert headers["Via"] and headers["X-RateLimit-Remaining"] == "0"
    fake_discord.set_global_limit(1, 60.0)
    await _post(fake_discord, "/users/@me", None, method="GET")
    status, headers, body = await _post(fake_discord, "/users/@me", None, method="GET")
    assert status == 429 and body["global"] is True and headers["X-RateLimit-Global"] == "true"


async def test_bad_token_is_unauthorized(fake_discord: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(fake_discord.api_base + "/users/@me", headers={"Authorization": "Bot wrong"}) as response,
    ):
        assert response.status == 401 and (await response.json())["message"] == "401: Unauthorized"
