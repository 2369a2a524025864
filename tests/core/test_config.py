"""Config: defaults, every problem listed with its path, secrets only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, parse_duration, parse_settings, resolve_config_path


def problems_of(data: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data)
    return caught.value.problems


def test_an_empty_config_gets_the_defaults() -> None:
    settings = parse_settings({})
    assert settings.storage.path == "veille.db"
    assert settings.fetch.allow_private_addresses is False
    assert settings.fetch.max_redirects == 5
    assert settings.telegram.api_base_url == "https://api.telegram.org/bot"
    assert settings.discord.api_base_url == "https://discord.com/api/v10"
    assert settings.feeds == ()


def test_feeds_subscriptions_and_entities_are_read() -> None:
    settings = parse_settings(
        {
            "feeds": [{"url": "https://a.example/rss", "name": "A", "interval": "1s"}, "https://b.example/atom"],
            "subscriptions": [{"chat": "telegram:-1001", "query": "broadcom"}],
            "entities": {"Broadcom": ["AVGO"], "Nvidia": ["NVDA", "Nvidia"]},
            "fetch": {"allow_private_addresses": True},
            "telegram": {"api_base_url": "http://127.0.0.1:8081/bot"},
        }
    )
    assert [(f.name, f.interval_s) for f in settings.feeds] == [("A", 1), ("b.example", 600)]
    assert str(settings.subscriptions[0].chat) == "telegram:-1001"
    assert settings.entities["Broadcom"] == ("Broadcom", "AVGO")
    assert settings.entities["Nvidia"] == ("Nvidia", "NVDA")
    assert settings.fetch.allow_private_addresses is True
    assert settings.telegram.api_base_url == "http://127.0.0.1:8081/bot"


def test_every_problem_is_listed_with_its_path() -> None:
    problems = problems_of(
        {
            "feeds": [
                {"url": "https://ok.example/rss"},
                {"url": "https://ok.example/rss2", "interval": "often"},
                {"url": "ftp://nope.example/feed"},
                {"url": "https://ok.example/rss"},
            ],
            "subscriptions": [{"chat": "irc:#x", "query": ""}],
            "fetch": {"timeout": "slow", "allow_private_addresses": "yes"},
            "storage": {"path": ""},
            "telegrm": {},
        }
    )
    joined = "\n".join(problems)
    assert "feeds[1].interval: not a duration" in joined
    assert "feeds[2].url: not an http(s) URL: 'ftp://nope.example/feed'" in joined
    assert "feeds[3].url: same URL as feeds[0]" in joined
    assert "subscriptions[0].chat: unknown platform 'irc'" in joined
    assert "subscriptions[0].query: must be a non-empty string" in joined
    assert "fetch.timeout: must be a number" in joined
    assert "fetch.allow_private_addresses: must be true or false" in joined
    assert "storage.path: must be a non-empty string" in joined
    assert "telegrm: unknown key" in joined
    assert len(problems) == 9


def test_a_config_that_is_not_a_mapping_is_refused() -> None:
    assert problems_of(["feeds"]) == ["(top level): must be a mapping"]


@pytest.mark.parametrize(
    ("text", "seconds"), [("1s", 1), ("10m", 600), ("2h", 7200), ("1d", 86400), (30, 30), ("45", 45)]
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0s", "-1m", "10 minutes", "", True, "1w"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_missing_file_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [\n  - url: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line"):
        load_settings(bad)


def test_relative_storage_path_is_relative_to_the_config(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "veille.yaml"
    config.parent.mkdir()
    config.write_text("storage: {path: data/v.db}\n", encoding="utf-8")
    assert load_settings(config).storage.path == str(tmp_path / "conf" / "data" / "v.db")


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEILLE_CONFIG", "/etc/veille.yaml")
    assert str(resolve_config_path("cli.yaml")) == "cli.yaml"
    assert str(resolve_config_path(None)) == "/etc/veille.yaml"
    monkeypatch.delenv("VEILLE_CONFIG")
    assert str(resolve_config_path(None)) == "config.yaml"


def test_tokens_come_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = parse_settings({"telegram": {"token_env": "MY_TG"}})
    monkeypatch.delenv("MY_TG", raising=False)
    assert settings.token("MY_TG") is None
    monkeypatch.setenv("MY_TG", "123:s3cr3t-value")
    assert settings.token(settings.telegram.token_env) == "123:s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)  # settings hold variable names, never the values
    assert problems_of({"telegram": {"token": "123:abc"}}) == ["telegram.token: unknown key"]
