"""Refuse outbound requests to addresses inside the operator's network (SSRF guard).

User-configured URLs (outgoing integration actions) are checked when they are saved and again
when a request is made, against every address the host resolves to, so a name that later
re-resolves to an internal address (DNS rebinding) is still refused. Numeric host spellings
(``2130706433``, ``0x7f.1``) are caught because the check runs on resolved addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_6TO4 = ipaddress.ip_network("2002::/16")
ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2000


class UnsafeDestination(Exception):
    """The URL may not be called; the message says why and is safe to show to the user."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as the socket layer would connect to it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def forbidden_reason(address: IPAddress) -> str | None:
    """Why an address is not a public destination, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = forbidden_reason(embedded)
            return None if inner is None else f"{inner} (embedded in {address})"
        # Scope ids ("fe80::1%eth0") do not change what the address is.
        address = ipaddress.IPv6Address(address.exploded.split("%")[0])
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        # Catches what the flags above miss, e.g. 100.64.0.0/10 (carrier-grade NAT).
        ("not globally routable", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{address} is a {name} address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _6TO4:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    # IPv4-compatible form ::a.b.c.d (deprecated, still parsed by some stacks).
    if int(address) >> 32 == 0 and int(address) > 1:
        return ipaddress.IPv4Address(int(address))
    return None


def check_address(address: str, *, allow_private: bool) -> None:
    """:raises UnsafeDestination: when ``address`` is not public and private is not allowed."""
    if allow_private:
        return
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        raise UnsafeDestination(f"{address!r} is not an IP address") from None
    reason = forbidden_reason(ip)
    if reason is not None:
        raise UnsafeDestination(f"destination refused: {reason}")


def check_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> list[str]:
    """Check a URL's form and every address its host resolves to.

    Returns the resolved addresses (empty when ``allow_private`` skips resolution).

    :raises UnsafeDestination: for a malformed URL, an unresolvable host, or a non-public address.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeDestination(
            f"url must be an http(s) URL of at most {MAX_URL_LENGTH} characters"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UnsafeDestination(f"url is malformed: {e}") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UnsafeDestination("url must use http or https")
    host = parts.hostname
    if not host:
        raise UnsafeDestination("url has no host")
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would be stored and logged in clear; use headers instead.
        raise UnsafeDestination("url must not contain credentials")
    if allow_private:
        return []
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as e:
        raise UnsafeDestination(f"host {host!r} cannot be resolved: {e}") from None
    if not addresses:
        raise UnsafeDestination(f"host {host!r} cannot be resolved")
    for address in addresses:
        check_address(address, allow_private=False)
    return addresses
