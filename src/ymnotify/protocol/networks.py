"""Where Market's notification requests come from."""

from __future__ import annotations

from ipaddress import IPv4Network, ip_network

# The three /25 blocks Market's documentation lists as the only sources of notifications.
MARKET_NETWORKS: tuple[IPv4Network, ...] = (
    IPv4Network("5.45.207.0/25"),
    IPv4Network("141.8.142.0/25"),
    IPv4Network("5.255.253.0/25"),
)

LOOPBACK_NETWORKS = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
