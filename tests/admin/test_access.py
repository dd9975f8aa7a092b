"""Who the admin listener admits: the pure decisions, as a table."""

from __future__ import annotations

import pytest

from ymnotify.admin import access
from ymnotify.admin.access import (
    Access,
    bearer_token,
    binding_problem,
    decide,
    is_loopback,
    session_value,
    token_from_session,
)

TOKEN = "s3cret-token"


@pytest.mark.parametrize(
    ("client", "presented", "token", "expected"),
    [
        # No token set: loopback only, whatever the client sends.
        ("127.0.0.1", None, None, Access.ADMIT),
        ("127.8.9.10", None, None, Access.ADMIT),
        ("::1", None, None, Access.ADMIT),
        ("::ffff:127.0.0.1", None, None, Access.ADMIT),
        ("10.0.0.5", None, None, Access.LOOPBACK_ONLY),
        ("192.168.1.20", "anything", None, Access.LOOPBACK_ONLY),
        ("2001:db8::1", None, None, Access.LOOPBACK_ONLY),
        ("::ffff:10.0.0.5", None, None, Access.LOOPBACK_ONLY),
        (None, None, None, Access.LOOPBACK_ONLY),  # e.g. a Unix socket: no address to trust
        ("localhost", None, None, Access.LOOPBACK_ONLY),  # peers are addresses, never names
        # A token set: everyone must present it, loopback included.
        ("127.0.0.1", None, TOKEN, Access.MISSING_TOKEN),
        ("127.0.0.1", TOKEN, TOKEN, Access.ADMIT),
        ("127.0.0.1", "s3cret", TOKEN, Access.WRONG_TOKEN),
        ("10.0.0.5", None, TOKEN, Access.MISSING_TOKEN),
        ("10.0.0.5", TOKEN + "x", TOKEN, Access.WRONG_TOKEN),
        ("10.0.0.5", TOKEN, TOKEN, Access.ADMIT),
        ("2001:db8::1", TOKEN, TOKEN, Access.ADMIT),
        ("10.0.0.5", "", TOKEN, Access.MISSING_TOKEN),
    ],
)
def test_decide(
    client: str | None, presented: str | None, token: str | None, expected: Access
) -> None:
    assert decide(client, presented, token, "127.0.0.1:8081") is expected


@pytest.mark.parametrize(
    ("host", "token", "expected"),
    [
        ("127.0.0.1:8081", None, Access.ADMIT),
        ("localhost:8081", None, Access.ADMIT),
        ("LOCALHOST", None, Access.ADMIT),
        ("app.localhost:8081", None, Access.ADMIT),
        ("[::1]:8081", None, Access.ADMIT),
        ("127.0.0.2", None, Access.ADMIT),
        # DNS rebinding: a foreign name pointed at 127.0.0.1, so the peer is loopback.
        ("attacker.example:8081", None, Access.FOREIGN_HOST),
        ("localhost.attacker.example", None, Access.FOREIGN_HOST),
        ("10.0.0.5:8081", None, Access.FOREIGN_HOST),
        ("[2001:db8::1]:8081", None, Access.FOREIGN_HOST),
        (None, None, Access.FOREIGN_HOST),
        ("", None, Access.FOREIGN_HOST),
        # With a token, the token decides: a rebinding page does not know it.
        ("attacker.example:8081", TOKEN, Access.ADMIT),
    ],
)
def test_without_a_token_the_host_header_must_name_loopback_too(
    host: str | None, token: str | None, expected: Access
) -> None:
    assert decide("127.0.0.1", token, token, host) is expected


@pytest.mark.parametrize(
    ("bound", "token", "refused"),
    [
        ("127.0.0.1", None, False),
        ("127.0.0.2", None, False),
        ("::1", None, False),
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("192.168.1.20", None, True),
        ("0.0.0.0", TOKEN, False),
        ("10.1.2.3", TOKEN, False),
    ],
)
def test_binding_beyond_loopback_needs_a_token(
    bound: str, token: str | None, refused: bool
) -> None:
    problem = binding_problem(bound, token)
    assert (problem is not None) is refused
    if problem is not None:
        assert "--admin-token" in problem
        assert bound in problem


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic YWJj", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_session_cookie_stands_for_the_current_token_only() -> None:
    cookie = session_value(TOKEN)
    assert cookie != TOKEN
    assert token_from_session(cookie, TOKEN) == TOKEN
    assert token_from_session(cookie, "another token") is None
    assert token_from_session(session_value("another token"), TOKEN) is None
    assert token_from_session(None, TOKEN) is None
    assert token_from_session(cookie, None) is None


def test_loopback_is_all_of_127_slash_8_and_not_a_lookalike() -> None:
    assert is_loopback("127.255.255.254")
    assert not is_loopback("128.0.0.1")
    assert not is_loopback("not an address")
    assert not is_loopback("")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_waits_after_too_many_wrong_tokens_then_may_try_again() -> None:
    clock = _Clock()
    guesses = access.GuessLimiter(limit=3, window=60, clock=clock)
    for _ in range(2):
        guesses.failed("10.0.0.7")
        clock.now += 1
    assert guesses.wait("10.0.0.7") == 0  # two wrong tokens: still allowed to try
    guesses.failed("10.0.0.7")
    assert guesses.wait("10.0.0.7") == pytest.approx(58)  # the window began two seconds ago
    assert guesses.wait("10.0.0.8") == 0  # another client is not affected
    clock.now += 58
    assert guesses.wait("10.0.0.7") == 0
    guesses.failed("10.0.0.7")  # a new window: one wrong token so far
    assert guesses.wait("10.0.0.7") == 0


def test_wrong_tokens_spread_over_windows_never_block() -> None:
    clock = _Clock()
    guesses = access.GuessLimiter(limit=3, window=60, clock=clock)
    for _ in range(10):
        guesses.failed("10.0.0.7")
        guesses.failed("10.0.0.7")
        assert guesses.wait("10.0.0.7") == 0
        clock.now += 60


def test_the_clients_remembered_are_bounded() -> None:
    clock = _Clock()
    guesses = access.GuessLimiter(limit=1, window=60, clock=clock)
    for n in range(25_000):
        guesses.failed(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert guesses.wait("10.0.97.167") > 0  # the newest are still counted (n = 24,999)
    remembered = sum(
        guesses.wait(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}") > 0 for n in range(25_000)
    )
    assert 0 < remembered <= 10_000


def test_a_guess_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        access.GuessLimiter(limit=0)
