"""How many places each setting may hold at once on the real clock (pure; the engine asks).

A place is an attempt under way. An attempt to an endpoint that hangs holds its place for the
whole timeout, and past the endpoint's connections it only waits in line: a hanging setting
given the full share (64) held 64 places for 80 s, and 16 such settings held all 1,024, so every
other setting waited again. So a setting starts with a few places, doubles them with every
attempt that did not time out, up to the full share, and drops back to a few when one times out.
A busy healthy setting reaches the full share after three answers; a hanging one never leaves
the few, and it takes 128 hanging settings, not 16, to fill the places.
"""

from __future__ import annotations

from ymnotify.delivery.outcome import Outcome, TransportFailure

_TIMEOUTS = frozenset({TransportFailure.READ_TIMEOUT, TransportFailure.CONNECT_TIMEOUT})


class Shares:
    """Each setting's share of the places: between ``few`` and ``most``."""

    def __init__(self, few: int, most: int) -> None:
        if not 1 <= few <= most:
            raise ValueError("shares need 1 <= few <= most")
        self.few = few
        self.most = most
        self._shares: dict[int, int] = {}  # setting id → its share, until it is removed

    def of(self, setting: int) -> int:
        return self._shares.get(setting, self.few)

    def all(self) -> dict[int, int]:
        """Every setting's share that is not ``few`` (the rest have ``few``)."""
        return dict(self._shares)

    def forget(self, setting: int) -> None:
        """The setting is gone (removed)."""
        self._shares.pop(setting, None)

    def after(self, setting: int, outcome: Outcome) -> None:
        """Count one finished attempt of ``setting``."""
        if outcome.transport in _TIMEOUTS:
            self._shares.pop(setting, None)
        else:
            self._shares[setting] = min(self.of(setting) * 2, self.most)
