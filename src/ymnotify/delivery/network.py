"""An httpcore network backend that connects only to addresses it has checked.

Checking a URL's host before the request is not enough: the name may resolve differently a
moment later (DNS rebinding). This backend resolves the name itself, drops every address that
``targets.address_problem`` refuses (unless private targets are allowed), and connects to one of
the checked addresses, so the address checked is the address connected to. TLS still uses the
original host name: httpcore passes it to ``start_tls`` for SNI and certificate verification.

Two failures are marked with their own ``httpcore.ConnectError`` subclasses, so the client can
tell them apart after httpx has translated them: a refused target and a failed TLS handshake.
"""

from __future__ import annotations

import select
import socket
import ssl
import typing
from collections.abc import Awaitable, Callable, Iterable

import anyio
import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

from ymnotify.delivery import targets

SocketOption = typing.Any  # httpcore's SOCKET_OPTION union, passed through untouched

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves ``(host, port)`` to IP address texts; raises ``OSError`` when the name is unknown."""

# The ``timeout`` parameters below (ruff ASYNC109 is silenced on them) are httpcore's interface.


class TargetRefused(httpcore.ConnectError):
    """Every address of the host is refused (not globally routable)."""


class TlsFailed(httpcore.ConnectError):
    """The TLS handshake failed: bad certificate, unknown CA, wrong host, not TLS at all."""


class NameNotResolved(httpcore.ConnectError):
    """The host name did not resolve."""


class _CheckedStream(AsyncNetworkStream):
    """A stream whose TLS handshake failures are marked as such.

    It also answers httpcore's ``is_readable`` question itself. httpcore asks it of every idle
    pooled connection on every request (is the server closing it?), and anyio answers by
    building all of the socket's attributes, a ``getpeername`` system call included: a tenth of
    the Market sandbox's CPU at a few hundred deliveries per second. The socket does not change
    for the stream's life, so it is looked up once and polled directly.
    """

    def __init__(self, inner: AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> AsyncNetworkStream:
        try:
            secured = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except httpcore.ConnectError as exc:
            reason = _tls_reason(exc)
            raise TlsFailed(f"TLS handshake with {server_hostname} failed: {reason}") from exc
        return _CheckedStream(secured)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            if self._socket is None:
                self._socket = self._inner.get_extra_info("socket")
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would return at once (data, or the b"" of a close) — never blocks.

    No socket (or a closed one) counts as readable: the connection is then dropped as closing.
    """
    descriptor = -1 if sock is None else sock.fileno()
    if descriptor < 0:
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))


def _tls_reason(exc: BaseException) -> str:
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


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``), addresses in its order, no repeats."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _kind, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class CheckedBackend(AsyncNetworkBackend):
    """Resolve, check every address, connect to a checked one.

    ``resolver`` replaces the system's name resolution (tests use it to play a name that
    resolves differently from one lookup to the next); ``inner`` makes the connections.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        inner: AsyncNetworkBackend | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.allow_private = allow_private
        self._inner = inner or httpcore.AnyIOBackend()
        self._resolver = resolver or system_resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        with anyio.move_on_after(timeout) as scope:
            addresses = await self._resolve(host, port)
        if scope.cancelled_caught:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout}s")
        allowed = addresses
        if not self.allow_private:
            refusals = [p for a in addresses if (p := targets.address_problem(a))]
            allowed = [a for a in addresses if targets.address_problem(a) is None]
            if not allowed:
                raise TargetRefused(
                    f"{host} refused: {'; '.join(refusals)}"
                    " (only globally routable addresses; see --allow-private-targets)"
                )
        last_error: Exception | None = None
        for address in allowed:
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            return _CheckedStream(stream)
        assert last_error is not None  # allowed is never empty here
        raise last_error

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            addresses = await self._resolver(host, port)
        except OSError as exc:
            raise NameNotResolved(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise NameNotResolved(f"cannot resolve {host}: no address")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are not notification targets")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
