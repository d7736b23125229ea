"""Which URLs a subscription may target (SSRF guard), checked when the subscription is written and again before
every delivery (a name may resolve elsewhere since).

In production: https only, no user:password@, and every address the host resolves to must be public (not private,
loopback, link-local, shared, multicast or reserved). In the local and test environments http and private
addresses are allowed by default (`TOIT_EMPLOI_WEBHOOK_ALLOW_PRIVATE_URLS`). A delivery connects to the address
that was checked (the host name is kept for `Host` and TLS), so a second resolution cannot swap it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(Exception):
    """The URL is not allowed; the message says why (safe to show to an admin and to store)."""


@dataclass(frozen=True)
class Target:
    """Where to connect for one delivery: the checked address, and the URL's own host for `Host` and TLS."""

    url: str  # the URL with the checked address in place of the host name
    host_header: str
    sni_hostname: str | None


def parse(url: str, *, allow_private: bool) -> SplitResult:
    """The URL's parts; `UrlRefused` for a scheme, credentials or a shape that is not allowed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("not a valid URL") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise UrlRefused("the URL must use https" if not allow_private else "the URL must use http or https")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("the URL must not carry a user name or password")
    if parts.fragment:
        raise UrlRefused("the URL must not have a #fragment")
    if port == 0:
        raise UrlRefused("the URL's port is not valid")
    return parts


def is_public(address: IPAddress) -> bool:
    """A global unicast address: not private, loopback, link-local, shared (CGNAT), multicast, reserved."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal is itself); `UrlRefused` when it does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlRefused("the URL's host does not resolve") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UrlRefused("the URL's host does not resolve")
    return addresses


async def check(url: str, *, allow_private: bool) -> Target:
    """Check the URL now and pick the address to connect to (`UrlRefused` with the reason otherwise)."""
    parts = parse(url, allow_private=allow_private)
    host = parts.hostname
    assert host is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port)
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise UrlRefused(f"the URL's host resolves to a non-public address ({refused[0]})")
    # The first IPv4 address (the one most receivers listen on), else the first IPv6 one.
    address = next((a for a in addresses if a.version == 4), addresses[0])
    literal = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = parts.netloc.rsplit("@", 1)[-1]
    pinned = parts._replace(netloc=netloc).geturl()
    is_literal = host.strip("[]") == str(address)
    return Target(
        url=pinned,
        host_header=host_header,
        sni_hostname=host if parts.scheme == "https" and not is_literal else None,
    )
