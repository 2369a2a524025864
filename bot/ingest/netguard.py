"""The network guard: feeds are user input, so a feed URL must not reach inside our own network.

Two checks, both needed:

- `check_url` runs before every request and every redirect hop: only http(s), a host, no literal
  address that is not public (IPv4, IPv6, IPv4-mapped IPv6, and the decimal/octal/hex IPv4 spellings
  that socket libraries still accept), no `localhost` names.
- `GuardedResolver` runs at connect time inside aiohttp: every address a host name resolves to must be
  public, so a DNS name pointing at 10.0.0.5 or 127.0.0.1 is refused as well. aiohttp skips the resolver
  for literal IPs, which is why `check_url` must also see every hop.

Errors:

    GuardRefusal (OSError)   a URL or an address is refused; `target` and `reason` say which and why
                             (an OSError so aiohttp carries it through its connector error unchanged)
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Named for a clear reason; most are also non-global, but the message should say "cloud metadata".
_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# One label of digits or a 0x-prefixed hex number: the pieces of the legacy IPv4 spellings.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|\d+)$", re.IGNORECASE)


class GuardRefusal(OSError):
    """The guard refused a URL or an address; `reason` is a short human sentence."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.reason = reason


def address_refusal(address: IPAddress, exempt: Sequence[IPNetwork] = ()) -> str | None:
    """Return why `address` must not be contacted, or None when it is public or in an exempt network."""
    if any(address.version == net.version and address in net for net in exempt):
        return None
    if address in _METADATA_ADDRESSES:
        return "cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 address can carry an IPv4 one; judge the address that would really be reached.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner} (inside IPv6 {address})" if inner else None
    if address.is_unspecified:
        return "unspecified address"
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address"
    if address.is_multicast:
        return "multicast address"
    if address.is_reserved:
        return "reserved address"
    if address.is_private:
        return "private address"
    if not address.is_global:
        return "non-public address"
    return None


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Read a host written as a decimal, octal, hex or short IPv4 form (2130706433, 0177.0.0.1, 127.1)."""
    labels = host.rstrip(".").split(".")
    if not 1 <= len(labels) <= 4 or not all(_NUMERIC_LABEL.match(label) for label in labels):
        return None
    try:
        # inet_aton implements exactly the forms resolvers accept, so we judge what would be dialled.
        return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except (OSError, ValueError):
        return None


def check_url(url: str, *, allow_private: bool = False, exempt: Sequence[IPNetwork] = ()) -> None:
    """Raise GuardRefusal unless `url` is http(s) with a host that is not a non-public literal address."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - an out-of-range port raises ValueError here
    except ValueError as exc:
        raise GuardRefusal(url, f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise GuardRefusal(url, f"only http and https URLs are fetched, not {parts.scheme or 'none'!r}")
    if not host:
        raise GuardRefusal(url, "URL has no host")
    if allow_private:
        return
    reason = host_refusal(host, exempt)
    if reason:
        raise GuardRefusal(url, reason)


def host_refusal(host: str, exempt: Sequence[IPNetwork] = ()) -> str | None:
    """Return why a URL host (name or literal address) is refused without resolving it, or None."""
    host = host.strip("[]").lower()
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "localhost is not reachable from a feed"
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is None:
        legacy = legacy_ipv4(host)
        if legacy is not None:
            # Whatever it points at, an obfuscated address in a feed URL is a probe, not a publisher.
            return f"numeric IPv4 form {host!r} (means {legacy}) is refused"
        return None
    return address_refusal(literal, exempt)


class GuardedResolver(AbstractResolver):
    """Resolve host names with an inner resolver and refuse the host if any address is not public.

    `exempt` lists networks the operator trusts (say, an RSS bridge on the LAN); they pass the guard.
    """

    def __init__(self, inner: AbstractResolver | None = None, exempt: Sequence[IPNetwork] = ()) -> None:
        self._inner = inner if inner is not None else ThreadedResolver()
        self._exempt = tuple(exempt)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve `host` and raise GuardRefusal when one of its addresses is not public."""
        reason = host_refusal(host, self._exempt)
        if reason:
            raise GuardRefusal(host, reason)
        results = await self._inner.resolve(host, port, family)
        for result in results:
            try:
                address = ipaddress.ip_address(result["host"].split("%", 1)[0])
            except ValueError:
                raise GuardRefusal(host, f"resolved to an unreadable address {result['host']!r}") from None
            reason = address_refusal(address, self._exempt)
            if reason:
                # One bad address refuses the host: a mixed answer is how DNS rebinding gets in.
                raise GuardRefusal(host, f"resolves to {address}, a {reason}")
        return results

    async def close(self) -> None:
        """Close the inner resolver."""
        await self._inner.close()
