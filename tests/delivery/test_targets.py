"""Notification URLs and the addresses a Market-side client may connect to. Pure."""

from __future__ import annotations

import pytest

from ymnotify.delivery.targets import InvalidTarget, address_problem, check_url, notification_url

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "metadata"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "100.64.0.0/10"),
    ("100.127.255.254", "100.64.0.0/10"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("2002:7f00:1::1", "6to4"),
    ("2002:808:808::1", "6to4"),
    ("64:ff9b::a00:1", "NAT64"),
    ("64:ff9b::808:808", "NAT64"),
    ("64:ff9b:1::1", "NAT64"),
    ("2001:0:4136:e378::1", "Teredo"),
    ("192.0.2.1", "private"),
    ("198.18.0.1", "private"),
    ("240.0.0.1", "private"),
    ("255.255.255.255", "private"),
    ("2001:db8::1", "private"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_addresses(address: str, reason: str) -> None:
    problem = address_problem(address)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize("address", ["8.8.8.8", "5.45.207.1", "93.184.216.34", "2606:4700::1111"])
def test_global_addresses_are_allowed(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize(
    ("url", "as_is", "expected"),
    [
        ("https://shop.example", False, "https://shop.example/notification"),
        ("https://shop.example/", False, "https://shop.example/notification"),
        ("https://shop.example/market", False, "https://shop.example/market/notification"),
        ("https://shop.example/market/", False, "https://shop.example/market/notification"),
        ("https://shop.example/m?k=v", False, "https://shop.example/m/notification?k=v"),
        ("https://shop.example:8443/m", True, "https://shop.example:8443/m"),
        ("https://shop.example/hook/", True, "https://shop.example/hook/"),
    ],
)
def test_notification_url(url: str, as_is: bool, expected: str) -> None:
    assert notification_url(url, as_is=as_is) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("shop.example/hook", "https://"),
        ("ftp://shop.example", "https://"),
        ("http://shop.example", "--allow-http"),
        ("https://user:pw@shop.example", "credentials"),
        ("https://shop.example/#frag", "fragment"),
        ("https://", "no host"),
    ],
)
def test_bad_urls(url: str, reason: str) -> None:
    with pytest.raises(InvalidTarget, match=reason):
        check_url(url, allow_http=False)


def test_http_allowed_for_development() -> None:
    assert check_url("http://127.0.0.1:8080", allow_http=True).scheme == "http"
    with pytest.raises(InvalidTarget, match="must start with http:// or https://"):
        check_url("shop.example/hook", allow_http=True)
