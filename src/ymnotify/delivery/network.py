"""Name resolution and sockets for the delivery client: connect only to addresses checked.

Checking a URL's host before the request is not enough: the name may resolve differently a
moment later (DNS rebinding). Two pieces plug into aiohttp's connector so that the address
checked is the address connected to:

- ``CheckedResolver`` resolves a name on every new connection (the connector keeps no DNS
  cache), drops each address that the policy refuses, and fails with ``TargetRefused`` when
  none is left. aiohttp connects to the addresses it returns; TLS keeps the URL's host name
  for SNI and certificate checks.
- ``checked_socket_factory`` runs the same policy on the exact address of every socket the
  connector opens, just before it is created. IP literals in URLs never reach a resolver, so
  this is where they are refused; for names it is a second lock on the same door.

The policy (``targets.address_problem`` unless private targets are allowed) is injectable, and
so are the resolver and the socket maker, so tests can play rebinding names and record where
the client would connect without sending a packet anywhere but loopback.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from ymnotify.delivery import targets

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves ``(host, port)`` to IP address texts; raises ``OSError`` when the name is unknown."""

AddressPolicy = Callable[[str], str | None]
"""Why connecting to an IP address text is refused, or None when it is allowed."""

AddrInfo = tuple[Any, ...]  # (family, type, proto, canonname, sockaddr), as getaddrinfo gives
SocketMaker = Callable[[AddrInfo], socket.socket]

REFUSAL_HINT = "only globally routable addresses; see --allow-private-targets"


class TargetRefused(OSError):
    """Every address of the host is refused (not globally routable)."""


class NameNotResolved(OSError):
    """The host name did not resolve."""


def address_policy(*, allow_private: bool) -> AddressPolicy:
    """The sandbox's rule: every address when private targets are allowed, else global ones."""
    if allow_private:
        return lambda _address: None
    return targets.address_problem


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``), addresses in its order, no repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _kind, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class CheckedResolver(AbstractResolver):
    """Resolve with ``resolver``, keep only the addresses ``policy`` allows."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self._policy = policy
        self._resolver = resolver or system_resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await self._resolver(host, port)
        except OSError as exc:
            raise NameNotResolved(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise NameNotResolved(f"cannot resolve {host}: no address")
        problems = [(address, self._policy(address)) for address in addresses]
        allowed = [address for address, problem in problems if problem is None]
        if not allowed:
            reasons = "; ".join(problem for _address, problem in problems if problem)
            raise TargetRefused(f"{host} refused: {reasons} ({REFUSAL_HINT})")
        return [_result(host, address, port) for address in allowed]

    async def close(self) -> None:
        """Nothing to release: the resolver holds no connections."""


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return ResolveResult(
        hostname=host,
        host=address,
        port=port,
        family=family,
        proto=0,
        flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
    )


def plain_socket(addr_info: AddrInfo) -> socket.socket:
    """A non-blocking TCP socket of the address's family (what aiohttp would make)."""
    family, kind, proto, _name, _sockaddr = addr_info
    made = socket.socket(family=family, type=kind, proto=proto)
    made.setblocking(False)
    return made


def checked_socket_factory(policy: AddressPolicy, make: SocketMaker | None = None) -> SocketMaker:
    """A socket factory that refuses, before making the socket, any address ``policy`` refuses."""
    maker = make or plain_socket

    def factory(addr_info: AddrInfo) -> socket.socket:
        address = str(addr_info[4][0])
        problem = policy(address)
        if problem is not None:
            raise TargetRefused(f"{address} refused: {problem} ({REFUSAL_HINT})")
        return maker(addr_info)

    return factory


def tls_reason(exc: BaseException) -> str:
    """The reason a TLS handshake failed, from the first SSL error in the cause chain."""
    seen: BaseException | None = exc
    for _ in range(8):  # the cause chain is short; the bound keeps a cycle harmless
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"certificate not trusted ({seen.verify_message})"
        if isinstance(seen, ssl.SSLError):
            return seen.reason or str(seen)
        seen = seen.__cause__ or seen.__context__
    return str(exc) or "the peer closed the connection during the handshake (not TLS?)"
