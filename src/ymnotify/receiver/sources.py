"""Who is calling: the client address behind trusted proxies, and whether it may post.

Pure decisions, no I/O. Market signs nothing; the only protection its documentation gives is the
source address, so this must not be spoofable: ``X-Forwarded-For`` is read only when the TCP peer
is a proxy the operator named, and then from the right, skipping only hops that are themselves
trusted proxies. Anything a client wrote to the left of that is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from ymnotify.protocol.networks import MARKET_NETWORKS

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# Distinct peers remembered by ``SourcePolicy.admit``; Market sends from three /25 networks.
_PEER_CACHE_SIZE = 1024


def parse_address(text: str) -> IPAddress | None:
    """An address from a peer or a forwarded hop; IPv4-mapped IPv6 becomes IPv4."""
    candidate = text.strip()
    if candidate.startswith("["):  # "[::1]:443" or "[::1]" in some proxies' hops
        candidate, closed, port = candidate[1:].partition("]")
        if not closed or not _is_port_suffix(port, optional=True):
            return None
    elif candidate.count(":") == 1:  # "1.2.3.4:5678"
        candidate, _, port = candidate.partition(":")
        if not _is_port_suffix(":" + port, optional=False):
            return None
    try:
        address = ip_address(candidate)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_port_suffix(text: str, *, optional: bool) -> bool:
    # Anything else after an address ("[1.2.3.4]evil", "1.2.3.4:http") makes the hop garbage.
    if not text:
        return optional
    digits = text[1:]
    return text[0] == ":" and 0 < len(digits) <= 5 and digits.isascii() and digits.isdigit()


def _in_any(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


@dataclass(frozen=True)
class SourcePolicy:
    """Which sources may post notifications, and which peers' forwarded headers count."""

    allowed: tuple[IPNetwork, ...] = MARKET_NETWORKS
    trusted_proxies: tuple[IPNetwork, ...] = ()
    allow_any: bool = False
    # Decisions per peer string for requests without forwarded headers (see ``admit``).
    _by_peer: dict[str, tuple[str | None, bool]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def build(
        cls,
        *,
        allow_networks: Sequence[str] = (),
        market_ranges: bool = True,
        trust_proxies: Sequence[str] = (),
        allow_any: bool = False,
    ) -> SourcePolicy:
        """Build from flag values; raise ``ValueError`` naming a bad network."""
        extra = tuple(_network(text, "--allow-network") for text in allow_networks)
        base = MARKET_NETWORKS if market_ranges else ()
        return cls(
            allowed=tuple(base) + extra,
            trusted_proxies=tuple(_network(text, "--trust-proxy") for text in trust_proxies),
            allow_any=allow_any,
        )

    def client_address(self, peer: str | None, forwarded_for: Sequence[str]) -> str | None:
        """The address that decides: the TCP peer, or the rightmost untrusted forwarded hop.

        ``forwarded_for`` holds the ``X-Forwarded-For`` header values in the order received.
        ``None`` means no usable address (a garbage hop, or no peer at all).
        """
        address = self._client(peer, forwarded_for)
        return None if address is None else str(address)

    def admit(self, peer: str | None, forwarded_for: Sequence[str]) -> tuple[str | None, bool]:
        """``client_address`` and ``allows`` in one go, each address parsed once.

        The receiver calls this per request; without forwarded headers the answer depends on
        the peer string alone, so it is remembered per peer (a bounded cache).
        """
        if not forwarded_for and peer is not None:
            known = self._by_peer.get(peer)
            if known is not None:
                return known
        address = self._client(peer, forwarded_for)
        decision = (
            None if address is None else str(address),
            self.allow_any or (address is not None and _in_any(address, self.allowed)),
        )
        if not forwarded_for and peer is not None:
            if len(self._by_peer) >= _PEER_CACHE_SIZE:
                self._by_peer.clear()
            self._by_peer[peer] = decision
        return decision

    def _client(self, peer: str | None, forwarded_for: Sequence[str]) -> IPAddress | None:
        if peer is None:
            return None
        peer_address = parse_address(peer)
        if peer_address is None:
            return None
        if not forwarded_for or not _in_any(peer_address, self.trusted_proxies):
            return peer_address
        hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
        if not hops:
            return peer_address
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                return None  # a hop we cannot read: refuse rather than guess
            if not _in_any(address, self.trusted_proxies):
                return address
        return parse_address(hops[0])  # every hop is a trusted proxy: the first one sent it

    def allows(self, client: str | None) -> bool:
        """Whether ``client`` (from ``client_address``) may post notifications."""
        if self.allow_any:
            return True
        if client is None:
            return False
        address = parse_address(client)
        return address is not None and _in_any(address, self.allowed)

    def refusal_hint(self, client: str | None, peer: str | None) -> str:
        """A message for the 403 body: what was seen and which flag would admit it."""
        if client is None:
            if peer is None or parse_address(peer) is None:
                return f"the connection has no IP address to check (peer {peer!r})"
            return (
                f"source address could not be determined: peer {peer} is a trusted proxy but an"
                " X-Forwarded-For hop it passed is not an IP address. The receiver admits the"
                " rightmost hop that is not a --trust-proxy network when it is in Market's ranges"
                " or an --allow-network; make the proxy append the address it saw"
            )
        address = parse_address(client)
        width = 32 if address is None or address.version == 4 else 128
        seen = f"source {client} is not in an allowed network"
        if client != (str(parse_address(peer)) if peer else None):
            seen += f" (as forwarded by trusted proxy {peer})"
        return (
            f"{seen}; Market sends from 5.45.207.0/25, 141.8.142.0/25 and 5.255.253.0/25. To"
            f" accept it, start the receiver with --allow-network {client}/{width}; if a proxy"
            " in front of the receiver forwards Market's address, name it with --trust-proxy"
        )

    @property
    def admits_loopback(self) -> bool:
        return self.allow_any or any(
            _in_any(ip_address(a), self.allowed) for a in ("127.0.0.1", "::1")
        )


def _network(text: str, flag: str) -> IPNetwork:
    try:
        return ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"{flag} {text!r} is not an IP network (e.g. 10.0.0.0/8)") from exc
