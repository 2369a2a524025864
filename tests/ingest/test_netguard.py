"""The network guard: hostile URLs, DNS names that point inside, and redirects that try to."""

from __future__ import annotations

import ipaddress

import pytest
from aiohttp import web

from bot import USER_AGENT
from bot.config import FetchSettings
from bot.ingest.fetch import BlockedAddress, Fetcher
from bot.ingest.netguard import GuardedResolver, GuardRefusal, address_refusal, check_url, legacy_ipv4
from tests.fakes.dns import HostsResolver

from .conftest import LocalServer

HOSTILE = [
    ("http://127.0.0.1/feed", "loopback"),
    ("http://127.8.9.10:8080/", "loopback"),
    ("http://localhost/", "localhost"),
    ("http://LOCALHOST./", "localhost"),
    ("http://admin.localhost/", "localhost"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "non-public"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://[::1]/", "loopback"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fc00::5]/", "private"),
    ("http://[::ffff:127.0.0.1]/", "loopback address (inside IPv6"),
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
    ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 wrapping 10.0.0.1
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://2130706433/", "numeric IPv4 form"),
    ("http://0177.0.0.1/", "numeric IPv4 form"),
    ("http://0x7f.0.0.1/", "numeric IPv4 form"),
    ("http://0x7f000001/", "numeric IPv4 form"),
    ("http://017700000001/", "numeric IPv4 form"),
    ("http://127.1/", "numeric IPv4 form"),
    ("http://3232235777/", "numeric IPv4 form"),  # 192.168.1.1
    ("file:///etc/passwd", "only http and https"),
    ("ftp://example.com/feed", "only http and https"),
    ("gopher://127.0.0.1:70/", "only http and https"),
    ("javascript:alert(1)", "only http and https"),
    ("http:///no-host", "no host"),
    ("http://example.com:99999/", "not a valid URL"),
]


@pytest.mark.parametrize("url, reason", HOSTILE)
def test_hostile_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(GuardRefusal) as err:
        check_url(url)
    assert reason in err.value.reason


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/feed.xml",
        "http://93.184.216.34/rss",
        "http://[2606:4700:4700::1111]/",
        "http://1.1.1.1/",
    ],
)
def test_public_urls_pass(url: str) -> None:
    check_url(url)


def test_allow_private_lets_local_addresses_through_but_not_other_schemes() -> None:
    check_url("http://127.0.0.1:8080/feed", allow_private=True)
    check_url("http://10.1.2.3/", allow_private=True)
    with pytest.raises(GuardRefusal):
        check_url("file:///etc/passwd", allow_private=True)


def test_exempt_network_passes_only_itself() -> None:
    exempt = [ipaddress.ip_network("10.9.0.0/16")]
    check_url("http://10.9.3.4/feed", exempt=exempt)
    with pytest.raises(GuardRefusal):
        check_url("http://10.8.0.1/feed", exempt=exempt)


def test_legacy_forms_are_read_like_inet_aton() -> None:
    assert str(legacy_ipv4("2130706433")) == "127.0.0.1"
    assert str(legacy_ipv4("0177.0.0.1")) == "127.0.0.1"
    assert str(legacy_ipv4("0x7f.1")) == "127.0.0.1"
    assert legacy_ipv4("example.com") is None
    assert legacy_ipv4("1.2.3.4.5") is None


def test_address_refusal_public() -> None:
    assert address_refusal(ipaddress.ip_address("8.8.8.8")) is None
    assert address_refusal(ipaddress.ip_address("2001:4860:4860::8888")) is None


async def test_resolver_refuses_names_that_point_inside() -> None:
    inner = HostsResolver(
        {
            "intranet.test": ["10.0.0.7"],
            "mixed.test": ["93.184.216.34", "127.0.0.1"],
            "public.test": ["93.184.216.34"],
        }
    )
    guard = GuardedResolver(inner)
    with pytest.raises(GuardRefusal, match="resolves to 10.0.0.7, a private address"):
        await guard.resolve("intranet.test", 80)
    with pytest.raises(GuardRefusal, match="127.0.0.1"):
        await guard.resolve("mixed.test", 80)
    assert [r["host"] for r in await guard.resolve("public.test", 80)] == ["93.184.216.34"]
    with pytest.raises(GuardRefusal, match="localhost"):
        await guard.resolve("localhost", 80)
    assert "localhost" not in inner.asked  # refused by name, never resolved


def guarded() -> FetchSettings:
    return FetchSettings(allow_private_addresses=False, connect_timeout_s=1.0, total_timeout_s=5.0)


async def test_guarded_fetcher_never_contacts_local_server(web_server: LocalServer) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    web_server.add("/feed", feed)
    async with Fetcher(guarded(), USER_AGENT) as f:
        with pytest.raises(BlockedAddress) as err:
            await f.fetch(web_server.url("/feed"))
    assert err.value.reason == "loopback address"
    assert web_server.requests == []


async def test_dns_name_pointing_at_loopback_is_refused_at_connect(web_server: LocalServer) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    web_server.add("/feed", feed)
    hosts = HostsResolver({"rebind.test": ["127.0.0.1"]})
    async with Fetcher(guarded(), USER_AGENT, resolver=hosts) as f:
        with pytest.raises(BlockedAddress) as err:
            await f.fetch(f"http://rebind.test:{web_server.port}/feed")
    assert "resolves to 127.0.0.1, a loopback address" in err.value.reason
    assert hosts.asked == ["rebind.test"]
    assert web_server.requests == []


@pytest.mark.parametrize(
    "target, reason",
    [
        ("http://10.0.0.1/admin", "private address (redirect to http://10.0.0.1/admin)"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
        ("http://internal.test:{port}/secret", "resolves to 10.1.2.3, a private address"),
        ("http://127.0.0.2:{port}/secret", "loopback address"),
        ("file:///etc/passwd", "only http and https"),
    ],
)
async def test_redirect_to_private_target_is_refused(
    web_server: LocalServer, target: str, reason: str
) -> None:
    target = target.format(port=web_server.port)

    async def start(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": target})

    async def secret(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    web_server.add("/start", start)
    web_server.add("/secret", secret)
    # The feed server itself sits on 127.0.0.1, so that one address is exempted; everything else is guarded.
    hosts = HostsResolver({"feeds.test": ["127.0.0.1"], "internal.test": ["10.1.2.3"]})
    exempt = [ipaddress.ip_network("127.0.0.1/32")]
    async with Fetcher(guarded(), USER_AGENT, resolver=hosts, exempt_networks=exempt) as f:
        with pytest.raises(BlockedAddress) as err:
            await f.fetch(f"http://feeds.test:{web_server.port}/start")
    assert reason in err.value.reason
    assert [r.path for r in web_server.requests] == ["/start"]


async def test_exempt_host_by_name_is_fetched(web_server: LocalServer) -> None:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    web_server.add("/feed", feed)
    hosts = HostsResolver({"feeds.test": ["127.0.0.1"]})
    exempt = [ipaddress.ip_network("127.0.0.1/32")]
    async with Fetcher(guarded(), USER_AGENT, resolver=hosts, exempt_networks=exempt) as f:
        result = await f.fetch(f"http://feeds.test:{web_server.port}/feed")
    assert result.body == b"ok"
    assert web_server.requests[0].headers["Host"] == f"feeds.test:{web_server.port}"
