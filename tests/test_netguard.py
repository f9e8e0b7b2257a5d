from __future__ import annotations

import ipaddress

import pytest

from provider import netguard
from provider.netguard import UnsafeDestination


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible form
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert netguard.forbidden_reason(ipaddress.ip_address(address)) is not None
    with pytest.raises(UnsafeDestination):
        netguard.check_address(address, allow_private=False)
    netguard.check_address(address, allow_private=True)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    assert netguard.forbidden_reason(ipaddress.ip_address(address)) is None


def fixed(*addresses: str) -> netguard.Resolver:
    """A stand-in for DNS, the one external boundary of this module."""
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",  # 127.0.0.1 spelled as one number
        "http://0x7f.1/",
        "http://localhost:9/",
    ],
)
def test_urls_aimed_inside_are_refused_with_the_system_resolver(url: str) -> None:
    with pytest.raises(UnsafeDestination):
        netguard.check_url(url, allow_private=False)


@pytest.mark.parametrize("resolved", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1"])
def test_hostnames_resolving_inside_are_refused(resolved: str) -> None:
    with pytest.raises(UnsafeDestination, match="destination refused"):
        netguard.check_url(
            "https://hooks.example.com/x", allow_private=False, resolver=fixed(resolved)
        )


def test_one_bad_address_among_several_is_enough_to_refuse() -> None:
    with pytest.raises(UnsafeDestination):
        netguard.check_url(
            "https://hooks.example.com/",
            allow_private=False,
            resolver=fixed("93.184.216.34", "10.1.1.1"),
        )


def test_public_hostname_passes() -> None:
    assert netguard.check_url(
        "https://hooks.example.com/x", allow_private=False, resolver=fixed("93.184.216.34")
    ) == ["93.184.216.34"]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://127.0.0.1:25/", "http or https"),
        ("http:///nohost", "no host"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://example.com:99999/", "malformed"),
        ("", "http(s) URL"),
        ("http://" + "a" * 3000 + ".com/", "http(s) URL"),
    ],
)
def test_malformed_urls_are_refused_even_when_private_is_allowed(url: str, problem: str) -> None:
    with pytest.raises(UnsafeDestination) as err:
        netguard.check_url(url, allow_private=True, resolver=fixed("93.184.216.34"))
    assert problem in str(err.value)


def test_unresolvable_host_is_refused() -> None:
    def failing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UnsafeDestination, match="cannot be resolved"):
        netguard.check_url("https://nowhere.invalid/", allow_private=False, resolver=failing)
