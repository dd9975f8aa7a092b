"""A load generator in its own process: clients posting unique notifications as fast as they can.

``python -m tests.acceptance.load URL --clients N --seconds S --prefix P`` prints ``started`` once
its clients are running, then one JSON line: ``sent``, ``ok``, ``failures`` (the first few),
``seconds``. Its own process, so a test measuring latency at the same time does not share an
event loop (or the GIL) with the load.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time

import httpx

from tests.acceptance.answers import success_problem
from ymnotify.protocol import samples


async def run(url: str, clients: int, seconds: float, prefix: str) -> dict[str, object]:
    sequence = itertools.count(1)
    sent = ok = 0
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal sent, ok
        while time.monotonic() < deadline:
            body = samples.sample("ORDER_STATUS_UPDATED", marker=f"{prefix}-{next(sequence)}")
            sent += 1
            try:
                answer = await client.post(
                    url,
                    content=json.dumps(body).encode(),
                    headers={"content-type": "application/json"},
                )
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
                continue
            problem = success_problem(answer)
            if problem is None:
                ok += 1
            else:
                failures.append(problem)

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=10) as client:
        tasks = [asyncio.create_task(client_loop(client)) for _ in range(clients)]
        print("started", flush=True)
        await asyncio.gather(*tasks)
    return {
        "sent": sent,
        "ok": ok,
        "failures": failures[:10],
        "failed": len(failures),
        "seconds": time.monotonic() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--prefix", default="load")
    args = parser.parse_args()
    summary = asyncio.run(run(args.url, args.clients, args.seconds, args.prefix))
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
