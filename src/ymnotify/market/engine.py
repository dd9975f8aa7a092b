"""The delivery engine: takes due deliveries, posts them, applies Market's schedule.

Real clock: a loop claims what is due (up to a bounded number in flight), wakes when an event is
published, when the next attempt falls due or at least every ``poll_interval``, and applies the
14-day rule when a deadline passes.

Virtual clock: nothing happens by itself except work due at the current virtual time (a fresh
event is delivered at once). ``advance`` moves the clock from one due moment to the next; at each
it runs every due attempt, waits for all of them, then applies the 14-day rule, and only then
moves on — so work runs in virtual-time order and ``advance`` returns when everything due up to
the new time has finished. Network timeouts stay wall-clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ymnotify.delivery.client import (
    NOTIFICATION_TIMEOUT,
    PING_TIMEOUT,
    Attempt,
    DeliveryClient,
    SendingStopped,
)
from ymnotify.delivery.targets import notification_url
from ymnotify.errors import YmnotifyError
from ymnotify.market.clock import Clock, VirtualClock
from ymnotify.market.errors import Conflict
from ymnotify.market.records import Claimed
from ymnotify.market.shares import Shares
from ymnotify.market.store import MarketStore, PingRecord
from ymnotify.protocol.responses import rfc3339

logger = logging.getLogger("ymnotify.market")

# Bounds on loops driven by data: far above any sandbox scenario (14 days of one failing
# delivery is 465 steps), low enough that a runaway ends with an error instead of a hang.
MAX_ADVANCE_STEPS = 200_000
MAX_SETTLE_ROUNDS = 100_000
STOP_MARGIN = 1.0  # seconds past an attempt's timeout for its outcome to be written at stop


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How deliveries are made. Frozen; built from flags."""

    post_to_url_as_is: bool = False
    notification_timeout: float = NOTIFICATION_TIMEOUT
    ping_timeout: float = PING_TIMEOUT
    # Places are cheap (a task and a body each; what goes on the wire is bounded by the
    # client's connections): 128 settings with hanging endpoints fill them (``first_share``).
    max_in_flight: int = 1024
    # One setting's share of ``max_in_flight``: a setting with a backlog (a slow or failing
    # endpoint) leaves the other places to the others. A setting is topped up when half its
    # share has finished, so a busy one is claimed for in batches (a claim per finished attempt
    # cost 1.75 × the CPU per delivery: bench/analysis.md).
    max_per_setting: int = 64
    # On the real clock a setting starts with this many places (its endpoint's connections)
    # and doubles them with every attempt that did not time out, up to ``max_per_setting``;
    # a timeout sets it back (``shares``).
    first_share: int = 8
    poll_interval: float = 1.0
    lease: timedelta = timedelta(minutes=10)


class Engine:
    """Delivers what is due, on the real or the virtual clock."""

    def __init__(
        self,
        store: MarketStore,
        client: DeliveryClient,
        clock: Clock,
        config: EngineConfig | None = None,
        *,
        pinger: DeliveryClient | None = None,
    ) -> None:
        """``pinger`` sends PINGs when given: a client of their own, so that a verification
        does not wait for a place behind the endpoint's deliveries (Market checks at once)."""
        self.store = store
        self.client = client
        self.pinger = pinger or client
        self.clock = clock
        self.config = config or EngineConfig()
        self._owner = secrets.token_hex(8)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._in_flight: dict[asyncio.Task[None], int] = {}  # attempt → its setting's id
        self._in_flight_by_setting: Counter[int] = Counter()
        most = self.config.max_per_setting
        self._shares = Shares(min(self.config.first_share, most), most)
        self._claims = 0  # claims on the real clock so far
        self._last_turns: dict[int, int] = {}  # setting id → the claim that last gave it places
        self._short_of_room = False  # the last claim filled every free place
        self._not_sent = 0  # attempts held back at a stop
        self._settle_lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        run = self._virtual_loop if self.clock.virtual else self._real_loop
        self._loop_task = asyncio.create_task(run(), name="ymnotify-market-engine")
        self._loop_task.add_done_callback(_report_crash)

    async def stop(self) -> None:
        """Stop taking work and sending: the attempts on the wire get the time one may take,
        those still waiting for a connection behind a slow endpoint are not sent. Their
        deliveries stay leased and go out after the next start, which gives the leases back."""
        self._stopping.set()
        self._wake.set()
        self.stop_sending()  # first: an advance or a virtual round may be under way
        if self._loop_task is not None:
            await self._loop_task
            self._loop_task = None
        if isinstance(self.clock, VirtualClock):
            # Kept across the restart, advanced or not (else it would start at the wall clock).
            await self.store.save_clock(self.clock.now())
        if self._in_flight:
            grace = self.config.notification_timeout + STOP_MARGIN
            _, left = await asyncio.wait(self._in_flight, timeout=grace)
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
            if held := self._not_sent + len(left):
                logger.info(
                    "%d deliveries not sent at stop; they go out after the next start", held
                )

    def stop_sending(self) -> None:
        """Let no further attempt out (the process is stopping): those on the wire finish,
        the others stay leased for the next start."""
        self.client.stop_sending()

    def wake(self) -> None:
        """Something new may be due (an event was published)."""
        self._wake.set()

    # -- PING ----------------------------------------------------------------------------------

    async def ping(self, url: str) -> Attempt:
        """Verify ``url`` as Market does: PING with a 1 s timeout. Not logged here."""
        body = json.dumps(
            {"notificationType": "PING", "time": rfc3339(self.clock.now())},
            separators=(",", ":"),
        ).encode()
        target = notification_url(url, as_is=self.config.post_to_url_as_is)
        return await self.pinger.post(target, body, timeout=self.config.ping_timeout)

    async def log_ping(self, subscription_id: int | None, attempt: Attempt) -> None:
        await self.store.log_ping(PingRecord(subscription_id, self.clock.now(), attempt))

    # -- virtual time --------------------------------------------------------------------------

    async def advance(self, seconds: float) -> datetime:
        """Move the virtual clock ``seconds`` ahead, running due work in time order.

        The whole advance holds the settle lock, so the background loop never runs work at a
        moment the clock has already left.
        """
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise Conflict("the clock is real; start with --clock virtual to move it")
        if seconds < 0:
            raise ValueError("the clock cannot go back")
        async with self._settle_lock:
            target = clock.now() + timedelta(seconds=seconds)
            # Saved first: the work below writes times up to the target, and a file must never
            # hold times ahead of its saved clock (``starting_clock``), even if this is cut short.
            await self.store.save_clock(target)
            await self._settle_now()
            for _ in range(MAX_ADVANCE_STEPS):
                due = await self._next_due()
                if due is None or due > target:
                    break
                clock.set(max(due, clock.now()))
                await self._settle_now()
            else:
                raise YmnotifyError(f"more than {MAX_ADVANCE_STEPS} due moments in one advance")
            clock.set(target)
            await self._settle_now()
            await self.store.save_clock(target)
            return target

    async def settle(self) -> None:
        """Run everything due at the current time until nothing is."""
        async with self._settle_lock:
            await self._settle_now()

    async def _settle_now(self) -> None:
        # Attempts first, then the 14-day rule, so an answer at the very deadline still counts.
        for _ in range(MAX_SETTLE_ROUNDS):
            now = self.clock.now()
            # Each setting its full share: a round waits for all of its attempts anyway.
            claimed = await self._claim(
                now, self.config.max_in_flight, {}, self.config.max_per_setting
            )
            if claimed:
                # All of them to the end, then the first failure (a stop's SendingStopped):
                # none is left running unobserved.
                outcomes = await asyncio.gather(
                    *(self._attempt(item) for item in claimed), return_exceptions=True
                )
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome
                continue
            deadline = (await self.store.next_moments(now)).deadline
            if deadline is not None and deadline <= now:
                await self._disable_failing(now)
                continue
            return
        raise YmnotifyError(f"work at {self.clock.now()} did not settle")

    async def _next_due(self) -> datetime | None:
        """After a settle nothing is due at the clock's time: the next moment something is."""
        now = self.clock.now()
        return (await self.store.next_moments(now)).next_after(now)

    async def _virtual_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.settle()
            except SendingStopped:
                return  # stopping
            except YmnotifyError:
                logger.exception("delivery failed; will try again when woken")
            await self._wake.wait()
            self._wake.clear()

    # -- real time -----------------------------------------------------------------------------

    async def _real_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                pause = await self._pump()
            except YmnotifyError:
                logger.exception("delivery loop failed; retrying")
                pause = self.config.poll_interval
            # A finished attempt sets the event (``_attempt_finished``), also one that finished
            # while the pump was still at work: waiting on the attempts themselves missed those,
            # and with every place taken the loop then slept a whole poll interval.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            self._wake.clear()

    def _attempt_started(self, task: asyncio.Task[None], claimed: Claimed) -> None:
        self._in_flight[task] = claimed.subscription_id
        self._in_flight_by_setting[claimed.subscription_id] += 1
        task.add_done_callback(self._attempt_finished)

    def _attempt_finished(self, task: asyncio.Task[None]) -> None:
        """A place is free: the loop claims again once half the setting's share is free, or at
        once if the last claim had less room than work (other settings may be waiting)."""
        setting = self._in_flight.pop(task)
        self._in_flight_by_setting[setting] -= 1
        left = self._in_flight_by_setting[setting]
        if left == 0:
            del self._in_flight_by_setting[setting]
        if self._short_of_room or left <= self._shares.of(setting) // 2:
            self._wake.set()

    async def _pump(self) -> float:
        """Start what is due, apply the 14-day rule; return how long to wait at most."""
        now = self.clock.now()
        moments = await self.store.next_moments(now)  # a claim changes none of what is after now
        room = self.config.max_in_flight - len(self._in_flight)
        self._short_of_room = moments.due and room <= 0
        if moments.due and room > 0:
            claimed = await self._claim(
                now,
                room,
                self._in_flight_by_setting,
                self._shares.few,
                self._shares.all(),
                self._last_turns,
            )
            self._claims += 1
            for item in claimed:
                self._last_turns[item.subscription_id] = self._claims
                self._attempt_started(asyncio.create_task(self._attempt_logged(item)), item)
            self._short_of_room = len(claimed) == room  # there may be more than there was room for
        if moments.deadline is not None and moments.deadline <= now:
            await self._disable_failing(now)
            moments = await self.store.next_moments(now)
        upcoming = moments.next_after(now)
        pause = self.config.poll_interval
        if upcoming is not None:
            pause = min(pause, (upcoming - now).total_seconds())
        return max(pause, 0.0)

    # -- one attempt ---------------------------------------------------------------------------

    async def _claim(
        self,
        now: datetime,
        limit: int,
        in_flight: Mapping[int, int],
        per_setting: int,
        shares: Mapping[int, int] | None = None,
        last_turns: Mapping[int, int] | None = None,
    ) -> list[Claimed]:
        wall = datetime.now(UTC)
        return await self.store.claim_due(
            now,
            wall=wall,
            lease_until=wall + self.config.lease,
            owner=self._owner,
            limit=limit,
            per_setting=per_setting,
            in_flight=in_flight,
            shares=shares,
            last_turns=last_turns,
        )

    async def _attempt_logged(self, claimed: Claimed) -> None:
        try:
            await self._attempt(claimed)
        except SendingStopped:
            self._not_sent += 1  # at a stop, before it went out: its lease keeps it for later
        except YmnotifyError:
            # The lease stays: the delivery is taken again when it expires (at least once).
            logger.exception("delivery %s: the attempt could not be recorded", claimed.delivery_id)

    async def _attempt(self, claimed: Claimed) -> None:
        now = self.clock.now()
        settings = claimed.settings
        if settings is None:
            # Removed: what the engine kept about it goes (the rest of its deliveries too).
            self._shares.forget(claimed.subscription_id)
            self._last_turns.pop(claimed.subscription_id, None)
            await self.store.cancel_delivery(claimed.delivery_id, "removed", now)
            return
        delivering = settings.in_effect(now)
        if not delivering.enabled:
            reason = "disabled_by_market" if settings.disabled_by_market_at else "disabled"
            await self.store.cancel_delivery(claimed.delivery_id, reason, now)
            return
        url = notification_url(delivering.url, as_is=self.config.post_to_url_as_is)
        # Each setting its own lane: settings sharing an endpoint (an integrator's) take its
        # connections in turn, so one seller's hanging requests do not hold up the others'.
        attempt = await self.client.post(
            url,
            claimed.body,
            timeout=self.config.notification_timeout,
            lane=claimed.subscription_id,
        )
        self._shares.after(claimed.subscription_id, attempt.outcome)
        # Logged, and the retry counted, from when it went out: behind a slow endpoint's
        # backlog that is long after the claim.
        sent_at = self.clock.at(attempt.started_at)
        decision = await self.store.finish_attempt(claimed, attempt, sent_at)
        logger.debug(
            "delivery %s attempt %s to %s: %s → %s",
            claimed.delivery_id,
            claimed.attempts + 1,
            url,
            attempt.outcome.label(),
            decision.state,
        )

    async def _disable_failing(self, now: datetime) -> None:
        for subscription_id in await self.store.disable_failing(now):
            logger.warning(
                "subscription %s disabled by Market: its endpoint failed for 14 days",
                subscription_id,
            )


def _report_crash(task: asyncio.Task[None]) -> None:
    """Say at once when the delivery loop died of a bug, not only at shutdown."""
    if not task.cancelled() and task.exception() is not None:
        logger.error("the delivery loop stopped", exc_info=task.exception())
