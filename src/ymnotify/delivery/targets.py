"""Where a notification goes, and which addresses Market-side code may connect to. Pure.

Market posts to ``{registered URL}/notification`` (PROTOCOL.md §1, §9.2); an option posts to
the URL as registered. Targets must be HTTPS unless plain HTTP is allowed for development.

A sandbox that connects wherever a user's URL points would let anyone reach the machine's own
services, the local network or a cloud metadata endpoint (SSRF). Only globally routable
addresses are allowed unless private targets are allowed explicitly; forms that embed an IPv4
address (IPv4-mapped, 6to4, NAT64, Teredo) are refused outright, because what they reach depends
on gateways we cannot see.
"""

from __future__ import annotations

import functools
import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import httpx

NOTIFICATION_PATH = "/notification"

# Python's ``is_global`` says yes to some of these (3.11: IPv4-mapped, 6to4, NAT64, multicast).
_EMBEDDING_NETWORKS: tuple[tuple[IPv6Network, str], ...] = (
    (IPv6Network("::ffff:0:0/96"), "an IPv4-mapped address"),
    (IPv6Network("::/96"), "an IPv4-compatible address"),
    (IPv6Network("2002::/16"), "a 6to4 address"),
    (IPv6Network("64:ff9b::/96"), "a NAT64 address"),
    (IPv6Network("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (IPv6Network("2001::/32"), "a Teredo address"),
)
_METADATA = IPv4Address("169.254.169.254")
_SHARED = IPv4Network("100.64.0.0/10")


class InvalidTarget(ValueError):
    """A URL that cannot be a notification target; ``str(exc)`` says why."""


def address_problem(address: str | IPv4Address | IPv6Address) -> str | None:
    """Why connecting to ``address`` is refused without ``--allow-private-targets``, or None."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_unspecified:
        return f"{ip} is the unspecified address"
    if isinstance(ip, IPv6Address):
        for network, what in _EMBEDDING_NETWORKS:
            if ip in network:
                return f"{ip} is {what}"
    if ip == _METADATA:
        return f"{ip} is the cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if isinstance(ip, IPv4Address) and ip in _SHARED:
        return f"{ip} is in the carrier-grade NAT range 100.64.0.0/10"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if ip.is_private:
        return f"{ip} is a private address"
    if not ip.is_global:
        return f"{ip} is not globally routable"
    return None


def check_url(url: str, *, allow_http: bool) -> httpx.URL:
    """Parse a registered URL; raise ``InvalidTarget`` when Market would not accept it."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidTarget(f"{url!r} is not a URL: {exc}") from exc
    if parsed.scheme not in ("https", "http"):
        allowed = "http:// or https://" if allow_http else "https://"
        raise InvalidTarget(f"{url!r}: the URL must start with {allowed}")
    if parsed.scheme == "http" and not allow_http:
        raise InvalidTarget(
            f"{url!r}: Market only sends over HTTPS (plain HTTP needs --allow-http, for"
            " development)"
        )
    if not parsed.host:
        raise InvalidTarget(f"{url!r}: the URL has no host")
    if parsed.userinfo:
        raise InvalidTarget(f"{url!r}: credentials in the URL are not supported")
    if parsed.fragment:
        raise InvalidTarget(f"{url!r}: a URL fragment is never sent; remove it")
    return parsed


# The sandbox asks before every attempt; parsing and rebuilding the URL (150 µs on the 7th
# session's machine) was ~10 % of a delivery's CPU; a setting's URL rarely changes.
@functools.lru_cache(maxsize=1024)
def notification_url(url: str | httpx.URL, *, as_is: bool = False) -> str:
    """The address Market posts to: ``{url}/notification``, or ``url`` itself when ``as_is``."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    if as_is:
        return str(parsed)
    path = parsed.path.rstrip("/") + NOTIFICATION_PATH
    return str(parsed.copy_with(path=path))
