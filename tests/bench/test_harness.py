"""Smoke test of the benchmark harness (bench/): its scenario list and its body generators.

No timing is asserted here; `make bench` measures. What must hold is that the load is honest:
every body a generator sends is a valid notification that the receiver has not seen before.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bench import (
    bodies,
    compare,
    compare_market,
    dispatch,
    dispatch_report,
    load,
    openloop,
    profiling,
    receiver,
    report,
    scenarios,
)
from ymnotify.protocol.models import INT64_MAX, OrderStatusUpdated, Ping
from ymnotify.protocol.parse import parse_body


def test_scenario_list_names_the_comparison_and_each_command_uses_its_scratch(
    tmp_path: Path,
) -> None:
    names = [s.name for s in scenarios.RECEIVER_SCENARIOS]
    assert len(names) == len(set(names))
    roles = {s.role for s in scenarios.RECEIVER_SCENARIOS}
    assert roles == set(scenarios.Role)
    for scenario in scenarios.RECEIVER_SCENARIOS:
        if scenario.command is None:
            assert scenario.unavailable
            continue
        command = scenario.command(tmp_path)
        assert command.argv[command.argv.index("--port") + 1] == "0"
        # The no-op app keeps no data; a scenario with a service gets its database from it.
        if scenario.role is not scenarios.Role.CEILING and scenario.service is None:
            assert str(tmp_path) in " ".join([*command.argv, *command.env.values()])
    on_postgres = scenarios.by_name("ymnotify-postgres")
    assert (on_postgres.service is None) == bool(on_postgres.unavailable)
    with pytest.raises(KeyError, match="ymnotify-sqlite-full"):
        scenarios.by_name("nope")


def test_the_ceiling_at_a_revision_runs_that_revisions_server_program(tmp_path: Path) -> None:
    # `python -m bench.compare REV --ceiling`: a change to the serving loop measured on the
    # no-op app, whose ratio to the receiver it would otherwise change unseen.
    source = tmp_path / "rev"
    scenario = scenarios.ceiling_at_revision("abc123", source)
    assert scenario.role is scenarios.Role.CEILING
    assert scenario.command is not None
    command = scenario.command(tmp_path / "scratch")
    assert command.env["PYTHONPATH"] == str(source / "src")
    assert command.argv[1:4] == ["-m", "bench.baselines.serve_app", scenarios.CEILING_APP]
    assert scenarios.CEILING.command is not None
    assert scenarios.CEILING.command(tmp_path).argv == command.argv  # the same app and flags


def _parsed_order_ids(raw_bodies: list[bytes]) -> list[int]:
    order_ids = []
    for body in raw_bodies:
        notification = parse_body(body).notification
        assert isinstance(notification, OrderStatusUpdated)
        order_ids.append(notification.order_id)
    return order_ids


def test_python_bodies_are_valid_and_unique_across_workers_and_runs() -> None:
    makers = [bodies.BodyMaker(run, worker) for run in (1, 2) for worker in (0, 1)]
    made = [maker.next() for maker in makers for _ in range(500)]
    order_ids = _parsed_order_ids(made)
    assert len(set(order_ids)) == len(made)
    assert len({parse_body(body).dedup_key for body in made}) == len(made)
    assert bodies.order_id(bodies.MAX_RUN, bodies.MAX_WORKER, bodies.MAX_COUNTER) <= INT64_MAX
    with pytest.raises(ValueError, match="out of range"):
        bodies.BodyMaker(bodies.MAX_RUN + 1, 0)
    assert isinstance(parse_body(bodies.ping_body()).notification, Ping)


def _body_collector(
    into: list[bytes],
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A minimal HTTP/1.1 keep-alive handler: keep each request's body, answer 200."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                into.append(await reader.readexactly(length))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return handle


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk not installed (make bench installs it)"
)
async def test_wrk_lua_script_sends_valid_unique_bodies() -> None:
    received: list[bytes] = []
    server = await asyncio.start_server(_body_collector(received), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        wrk = await asyncio.create_subprocess_exec(
            load.wrk_path(),
            "-t2",
            "-c4",
            "-d1s",
            "-s",
            str(load.WRK_SCRIPT),
            f"http://127.0.0.1:{port}/notification",
            env={**os.environ, "YMN_BENCH_TEMPLATE": bodies.template(), "YMN_BENCH_RUN": "7"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(wrk.communicate(), timeout=30)
    assert wrk.returncode == 0, err.decode()
    assert b"BENCH_JSON" in out
    assert len(received) > 100
    order_ids = _parsed_order_ids(received)
    assert len(set(order_ids)) == len(order_ids)
    # Both wrk threads sent, each with its own worker number, all in run 7.
    prefixes = {str(order_id)[:9] for order_id in order_ids}
    assert prefixes == {"900007000", "900007001"}


async def test_open_loop_generator_sends_its_schedule_and_reports_its_own_cpu() -> None:
    received: list[bytes] = []
    server = await asyncio.start_server(_body_collector(received), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    argv = load.openloop_argv(
        f"http://127.0.0.1:{port}/notification",
        kind="notification",
        rate=400,
        duration=0.5,
        connections=4,
        run_id=9,
        drain=5,
    )
    async with server:
        generator = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(generator.communicate(), timeout=30)
    assert generator.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["scheduled"] == result["sent"] == result["ok"] == 200
    assert result["latency_ms"]["count"] == 200
    assert result["unanswered"] == result["connection_errors"] == 0
    order_ids = _parsed_order_ids(received)
    assert len(order_ids) == 200
    assert len(set(order_ids)) == 200
    # The dispatch suite's reading of a run: which order id was due when (request n at n/rate).
    due = dispatch._due_times(9, result["started_at"], 400, result["scheduled"])
    assert set(due) == set(order_ids)
    first, last = min(due, key=due.__getitem__), max(due, key=due.__getitem__)
    assert due[last] - due[first] == pytest.approx(199 / 400)
    assert first == bodies.order_id(9, 0, 1)
    assert 0 < time.time() - result["started_at"] < 30
    # Its own CPU over a run of at least the scheduled half second: the report shows it, since
    # on 2 cores what the generator uses is taken from the server under test.
    assert result["wall_seconds"] >= 0.5
    assert 0 < result["cpu_seconds"] < result["wall_seconds"] * 2
    assert report.generator_cores(result) == f"{result['cpu_seconds'] / result['wall_seconds']:.2f}"
    assert report.generator_cores({"latency_ms": {}}) == "-"  # runs recorded before it existed


def test_open_loop_generator_timers_are_not_rounded_to_milliseconds() -> None:
    # epoll_wait takes whole milliseconds and Python rounds up: a generator waiting in it
    # woke up to 1 ms after each request was due (bench/openloop.py, precise_event_loop).
    loop = openloop.precise_event_loop()
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert isinstance(loop._selector, selectors.SelectSelector)  # type: ignore[attr-defined]
    finally:
        loop.close()


def test_open_loop_generator_refuses_more_connections_than_select_can_watch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    too_many = str(openloop.MAX_CONNECTIONS + 1)
    argv = ["http://127.0.0.1:9/n", "--rate", "1", "--duration", "1", "--connections", too_many]
    with pytest.raises(SystemExit) as exit_info:
        openloop.main(argv)
    assert exit_info.value.code == 2
    assert f"--connections: at most {openloop.MAX_CONNECTIONS}" in capsys.readouterr().err


def test_profile_summary_counts_stages_threads_and_leaves() -> None:
    raw = "\n".join(
        [
            "thread (1): MainThread;run (asyncio/runners.py:1);ReceiverApp._intake"
            " (ymnotify/receiver/app.py:9);parse_body (ymnotify/protocol/parse.py:3);loads"
            " (ymnotify/protocol/wire.py:4) 3",
            "thread (2): ymnotify-sqlite-writer;GroupCommitWriter._commit_batch"
            " (ymnotify/store/groupcommit.py:5) 1",
        ]
    )
    summary = profiling.summarize(raw)
    assert summary.samples == 4
    assert summary.by_thread == {"MainThread": 3, "ymnotify-sqlite-writer": 1}
    assert summary.by_stage["    JSON parsing (wire.loads)"] == 3
    assert summary.by_stage["receiver intake, all of it"] == 3
    assert summary.by_stage["  the 200 answer (body + send)"] == 0
    assert summary.self_time["loads (ymnotify/protocol/wire.py)"] == 3
    assert summary.share(1) == 25.0


def test_pings_are_a_small_share_of_each_scenarios_load() -> None:
    # The glue (~400 req/s) must not be pushed past its capacity by the PINGs beside its load.
    assert receiver.ping_rate(receiver.FULL, 400) == pytest.approx(20)
    assert receiver.ping_rate(receiver.FULL, 4_000) == receiver.FULL.ping_rate == 100
    assert receiver.ping_rate(receiver.FULL, 5) == 1  # at least one a second


def test_report_names_a_saturation_that_an_open_loop_load_exceeded() -> None:
    # wrk's saturation is the capacity every ratio uses; an open loop that achieved clearly
    # more shows it was under-measured in that run (the ninth session's ceiling: 19 % more).
    def measured(saturation: float, *achieved: float) -> Any:
        loads = [{"result": {"achieved_rate": rate}} for rate in achieved]
        return {"saturation": {"rate": saturation}, "loads": loads}

    beyond = report.open_loop_beyond_saturation(measured(6770, 1692, 6770, 8053))
    assert beyond is not None
    achieved, ratio = beyond
    assert achieved == 8053
    assert ratio == pytest.approx(8053 / 6770)
    assert report.open_loop_beyond_saturation(measured(1000, 800, 1040)) is None  # within 5 %
    assert report.open_loop_beyond_saturation(measured(1000)) is None


def test_the_goals_use_the_most_the_ceiling_and_the_glue_were_measured_to_do() -> None:
    # The thirteenth session's run: the glue saturated at 316/s under wrk, an open loop got 376.
    def scenario(name: str, saturation: float, *achieved: float) -> Any:
        loads = [{"result": {"achieved_rate": rate}} for rate in achieved]
        return {"name": name, "saturation": {"rate": saturation}, "loads": loads, "ping": None}

    results = [
        scenario(report.SUBJECT, 3110, 2392),
        scenario(report.CEILING, 14173, 11327, 12270),
        scenario(report.BASELINE, 316, 252, 316, 376),
    ]
    ceiling, glue, _ping = report.goals(results)
    assert ceiling.measured == "0.22 × (3,110 / 14,173 req/s)"
    assert glue.measured == "8.27 × (3,110 / 376 req/s, glue's open-loop best)"
    assert glue.met


def test_compare_pairs_the_sides_of_each_round() -> None:
    after = [compare.Round(5000, 90.0), compare.Round(4000, 120.0), compare.Round(4500, 100.0)]
    before = [compare.Round(4500, 100.0), compare.Round(3900, 110.0), compare.Round(4400, 125.0)]
    line = compare.paired_cpu("now", after, "HEAD", before)
    assert line == (
        "CPU per notification, now / HEAD in each round: 0.900 / 1.091 / 0.800;"
        " median 0.900, now cheaper in 2 of 3 rounds"
    )


def test_compare_market_pairs_cpu_per_delivery() -> None:
    after = [compare.Round(1000, 900.0), compare.Round(950, 1000.0)]
    before = [compare.Round(700, 1300.0), compare.Round(650, 1250.0)]
    line = compare.paired_cpu("now", after, "da1479c", before, unit="delivery")
    assert line == (
        "CPU per delivery, now / da1479c in each round: 0.692 / 0.800;"
        " median 0.746, now cheaper in 2 of 2 rounds"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["HEAD", "--after", "HEAD"], "--after and REV are both 'HEAD'"),
        (["HEAD", "--rounds", "0"], "--rounds and --events must be positive"),
    ],
)
def test_compare_market_refuses_what_it_cannot_measure(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        compare_market.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_compare_pairs_ping_p99_of_open_loop_rounds() -> None:
    after = [compare.Round(3400, 260.0, 20.0, 4.0), compare.Round(3400, 270.0, 30.0, 6.1)]
    before = [compare.Round(3400, 265.0, 25.0, 5.5), compare.Round(3400, 268.0, 28.0, 5.0)]
    line = compare.paired_ping("now", after, "HEAD", before)
    assert line == (
        "PING p99 ms, now vs HEAD in each round: 4.0 vs 5.5 / 6.1 vs 5.0;"
        " now lower in 1 of 2 rounds"
    )


def test_dispatch_report_shows_cpu_per_job_and_reads_results_from_before_it() -> None:
    measured = dispatch.WorkersPoint(
        backend="postgresql",
        workers=8,
        notifications=400,
        handled=400,
        per_second=514.0,
        cpu_us_per_job=1350,
    )
    older = dispatch.WorkersPoint(
        backend="sqlite", workers=1, notifications=2000, handled=2000, per_second=810.0
    )
    table = dispatch_report.render(
        dispatch.DispatchResult(
            latency=[], workers=[older, measured], postgres_unavailable=None, error=None
        )
    )
    assert "| sqlite | 1 | 2,000 | 2,000 | 810 | – |" in table
    assert "| postgresql | 8 | 400 | 400 | 514 | 1,350 |" in table
