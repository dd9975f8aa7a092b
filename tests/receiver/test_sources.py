"""Who may post: the proxy-trust table and the edges of Market's ranges (``SourcePolicy``)."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network

import pytest

from ymnotify.protocol.networks import MARKET_NETWORKS
from ymnotify.receiver.sources import SourcePolicy, parse_address

MARKET = "5.45.207.10"  # inside 5.45.207.0/25
ATTACKER = "203.0.113.66"
PROXY = "10.0.0.5"
PROXY_NET = "10.0.0.0/24"

BEHIND_PROXY = SourcePolicy.build(trust_proxies=[PROXY_NET, "192.168.7.1/32", "fd00::/8"])


@pytest.mark.parametrize(
    ("policy", "peer", "forwarded_for", "client"),
    [
        # No trusted proxy: the TCP peer decides, a forged header is ignored.
        pytest.param(SourcePolicy(), ATTACKER, [MARKET], ATTACKER, id="direct-forged-xff-ignored"),
        pytest.param(SourcePolicy(), MARKET, [], MARKET, id="direct-market"),
        pytest.param(SourcePolicy(), MARKET, [ATTACKER], MARKET, id="direct-xff-never-read"),
        # A peer that is not a trusted proxy is taken as is, whatever it forwards.
        pytest.param(BEHIND_PROXY, ATTACKER, [MARKET], ATTACKER, id="untrusted-peer-xff-ignored"),
        # Behind a trusted proxy the rightmost untrusted hop decides.
        pytest.param(BEHIND_PROXY, PROXY, [MARKET], MARKET, id="one-proxy"),
        pytest.param(
            BEHIND_PROXY, PROXY, [f"{MARKET}, {ATTACKER}"], ATTACKER, id="rightmost-untrusted"
        ),
        pytest.param(
            BEHIND_PROXY, PROXY, [f"{ATTACKER}, {MARKET}"], MARKET, id="client-written-left-ignored"
        ),
        pytest.param(
            BEHIND_PROXY,
            PROXY,
            [f"{ATTACKER}, {MARKET}, 192.168.7.1, 10.0.0.9"],
            MARKET,
            id="several-trusted-hops-skipped",
        ),
        pytest.param(
            BEHIND_PROXY, PROXY, ["garbage, " + MARKET], MARKET, id="garbage-left-of-decider"
        ),
        # Several X-Forwarded-For headers are one list, in the order received.
        pytest.param(
            BEHIND_PROXY, PROXY, [ATTACKER, MARKET], MARKET, id="multiple-headers-last-wins"
        ),
        pytest.param(
            BEHIND_PROXY, PROXY, [MARKET, ATTACKER], ATTACKER, id="multiple-headers-in-order"
        ),
        pytest.param(
            BEHIND_PROXY,
            PROXY,
            [f"{ATTACKER}, {MARKET}", "10.0.0.7"],
            MARKET,
            id="multiple-headers-with-trusted-hop",
        ),
        # Every hop trusted: the first one sent it.
        pytest.param(BEHIND_PROXY, PROXY, ["10.0.0.8, 10.0.0.7"], "10.0.0.8", id="all-trusted"),
        # No usable header: the proxy itself is the client.
        pytest.param(BEHIND_PROXY, PROXY, [], PROXY, id="trusted-no-header"),
        pytest.param(BEHIND_PROXY, PROXY, [" , "], PROXY, id="trusted-empty-header"),
        # A hop that is not an address is refused rather than guessed around.
        pytest.param(BEHIND_PROXY, PROXY, [f"{MARKET}, unknown"], None, id="garbage-hop"),
        pytest.param(BEHIND_PROXY, PROXY, ["5.45.207.300"], None, id="bad-octet-hop"),
        pytest.param(BEHIND_PROXY, PROXY, ["_hidden"], None, id="obfuscated-hop"),
        pytest.param(BEHIND_PROXY, PROXY, [f"[{MARKET}]x"], None, id="junk-after-brackets"),
        # IPv4-mapped IPv6 peers and hops are their IPv4 address.
        pytest.param(SourcePolicy(), f"::ffff:{MARKET}", [], MARKET, id="mapped-peer"),
        pytest.param(BEHIND_PROXY, f"::ffff:{PROXY}", [MARKET], MARKET, id="mapped-trusted-peer"),
        pytest.param(BEHIND_PROXY, PROXY, [f"::ffff:{MARKET}"], MARKET, id="mapped-hop"),
        # Ports and brackets in hops.
        pytest.param(BEHIND_PROXY, PROXY, [f"{MARKET}:51234"], MARKET, id="ipv4-port"),
        pytest.param(BEHIND_PROXY, PROXY, ["[2001:db8::7]:443"], "2001:db8::7", id="ipv6-port"),
        pytest.param(BEHIND_PROXY, PROXY, ["[2001:db8::7]"], "2001:db8::7", id="ipv6-brackets"),
        pytest.param(BEHIND_PROXY, PROXY, ["2001:db8::7"], "2001:db8::7", id="ipv6-bare"),
        pytest.param(BEHIND_PROXY, "fd00::1", [MARKET], MARKET, id="ipv6-trusted-peer"),
        # No peer at all (e.g. a unix socket) or an unreadable one: nobody to admit.
        pytest.param(SourcePolicy(), None, [MARKET], None, id="no-peer"),
        pytest.param(SourcePolicy(), "not-an-ip", [], None, id="garbage-peer"),
    ],
)
def test_the_client_address_table(
    policy: SourcePolicy, peer: str | None, forwarded_for: Sequence[str], client: str | None
) -> None:
    assert policy.client_address(peer, forwarded_for) == client


@pytest.mark.parametrize("policy", [SourcePolicy(), BEHIND_PROXY, SourcePolicy(allow_any=True)])
@pytest.mark.parametrize(
    ("peer", "forwarded_for"),
    [
        (MARKET, []),
        (ATTACKER, []),
        (PROXY, [MARKET]),
        (PROXY, [f"{MARKET}, {ATTACKER}"]),
        (PROXY, ["unknown"]),
        (f"::ffff:{MARKET}", []),
        ("not-an-ip", []),
        (None, [MARKET]),
    ],
)
def test_admit_decides_as_client_address_and_allows_do_also_when_remembered(
    policy: SourcePolicy, peer: str | None, forwarded_for: list[str]
) -> None:
    client = policy.client_address(peer, forwarded_for)
    expected = (client, policy.allows(client))
    assert policy.admit(peer, forwarded_for) == expected
    assert policy.admit(peer, forwarded_for) == expected  # the second from the per-peer cache


def test_a_forged_header_cannot_get_an_attacker_in() -> None:
    policy = SourcePolicy()
    client = policy.client_address(ATTACKER, [MARKET, f"{MARKET}, {MARKET}"])
    assert not policy.allows(client)


def test_market_behind_a_trusted_proxy_is_admitted_and_an_attacker_is_not() -> None:
    assert BEHIND_PROXY.allows(BEHIND_PROXY.client_address(PROXY, [MARKET]))
    assert not BEHIND_PROXY.allows(BEHIND_PROXY.client_address(PROXY, [f"{MARKET}, {ATTACKER}"]))
    assert not BEHIND_PROXY.allows(BEHIND_PROXY.client_address(PROXY, ["unknown"]))


def _edges(network: IPv4Network) -> list[tuple[str, bool]]:
    first, last = network.network_address, network.broadcast_address
    return [(str(first - 1), False), (str(first), True), (str(last), True), (str(last + 1), False)]


@pytest.mark.parametrize(
    ("address", "allowed"),
    [edge for network in MARKET_NETWORKS for edge in _edges(network)],
)
def test_market_range_edges(address: str, allowed: bool) -> None:
    assert SourcePolicy().allows(address) is allowed
    assert SourcePolicy.build().allows(address) is allowed


def test_the_market_ranges_are_the_documented_three() -> None:
    assert [str(network) for network in MARKET_NETWORKS] == [
        "5.45.207.0/25",
        "141.8.142.0/25",
        "5.255.253.0/25",
    ]


def test_the_edges_checked_are_the_right_ones() -> None:
    assert _edges(MARKET_NETWORKS[0]) == [
        ("5.45.206.255", False),
        ("5.45.207.0", True),
        ("5.45.207.127", True),
        ("5.45.207.128", False),
    ]


def test_allow_network_adds_to_market_ranges() -> None:
    policy = SourcePolicy.build(allow_networks=["127.0.0.0/8", "::1/128"])
    assert policy.allows("127.0.0.1")
    assert policy.allows("::1")
    assert policy.allows(MARKET)
    assert not policy.allows(ATTACKER)
    assert policy.admits_loopback


def test_no_market_ranges_keeps_only_the_allowed_networks() -> None:
    policy = SourcePolicy.build(market_ranges=False, allow_networks=["198.51.100.0/24"])
    assert not policy.allows(MARKET)
    assert not policy.allows("141.8.142.0")
    assert policy.allows("198.51.100.200")
    assert not SourcePolicy.build(market_ranges=False).allows(MARKET)
    assert not policy.admits_loopback


def test_allow_any_admits_everyone() -> None:
    policy = SourcePolicy.build(allow_any=True, market_ranges=False)
    assert policy.allows(ATTACKER)
    assert policy.allows("2001:db8::1")
    assert policy.admits_loopback


def test_an_ipv6_client_is_never_inside_an_ipv4_range() -> None:
    policy = SourcePolicy.build(allow_networks=["::/0"])
    assert policy.allows("2001:db8::1")
    assert not SourcePolicy().allows("2001:db8::1")
    assert not SourcePolicy().allows("::5.45.207.10")  # IPv4-compatible, not IPv4-mapped


@pytest.mark.parametrize(
    ("flag", "kwargs"),
    [
        ("--allow-network", {"allow_networks": ["10.0.0.0/33"]}),
        ("--allow-network", {"allow_networks": ["market"]}),
        ("--trust-proxy", {"trust_proxies": ["10.0.0.300"]}),
    ],
)
def test_a_bad_network_names_the_flag_and_value(flag: str, kwargs: dict[str, list[str]]) -> None:
    with pytest.raises(ValueError, match=flag) as caught:
        SourcePolicy.build(**kwargs)  # type: ignore[arg-type]
    assert repr(next(iter(kwargs.values()))[0]) in str(caught.value)


def test_a_host_network_is_accepted_with_host_bits_set() -> None:
    policy = SourcePolicy.build(allow_networks=["198.51.100.7/24"])
    assert policy.allows("198.51.100.1")


def test_refusal_hint_names_the_address_and_the_flag_that_would_admit_it() -> None:
    hint = SourcePolicy().refusal_hint(ATTACKER, ATTACKER)
    assert f"source {ATTACKER} is not in an allowed network" in hint
    assert f"--allow-network {ATTACKER}/32" in hint
    assert "--trust-proxy" in hint
    assert "5.45.207.0/25" in hint
    assert "trusted proxy" not in hint.split(";")[0]


def test_refusal_hint_says_which_proxy_forwarded_the_address() -> None:
    hint = BEHIND_PROXY.refusal_hint(ATTACKER, PROXY)
    expected = (
        f"source {ATTACKER} is not in an allowed network (as forwarded by trusted proxy {PROXY})"
    )
    assert expected in hint
    assert f"--allow-network {ATTACKER}/32" in hint


def test_refusal_hint_for_ipv6_and_mapped_peers() -> None:
    assert "--allow-network 2001:db8::1/128" in SourcePolicy().refusal_hint("2001:db8::1", None)
    hint = SourcePolicy().refusal_hint(ATTACKER, f"::ffff:{ATTACKER}")
    assert "forwarded" not in hint


def test_refusal_hint_when_no_address_could_be_read() -> None:
    hint = BEHIND_PROXY.refusal_hint(None, PROXY)
    assert PROXY in hint
    assert "not an IP address" in hint
    no_peer = SourcePolicy().refusal_hint(None, None)
    assert "no IP address" in no_peer
    assert "forwarded hop" not in no_peer


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("5.45.207.10", "5.45.207.10"),
        (" 5.45.207.10 ", "5.45.207.10"),
        ("5.45.207.10:8080", "5.45.207.10"),
        ("::ffff:5.45.207.10", "5.45.207.10"),
        ("[::ffff:5.45.207.10]:80", "5.45.207.10"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("", None),
        ("[2001:db8::1", None),
        ("5.45.207", None),
        ("example.com", None),
        ("5.45.207.10:80:80", None),
        ("5.45.207.10:", None),
        ("5.45.207.10:http", None),
        ("5.45.207.10:123456", None),
        ("[5.45.207.10]evil", None),
        ("[2001:db8::1]:", None),
        ("[2001:db8::1]443", None),
        ("[5.45.207.10]", "5.45.207.10"),
    ],
)
def test_parse_address(text: str, address: str | None) -> None:
    parsed = parse_address(text)
    assert (None if parsed is None else str(parsed)) == address
