"""Where to send the work NOTIFY: inside the accept transaction, or after its commit (coalesced).

Each client runs the accept's shape (INSERT … ON CONFLICT … RETURNING, COMMIT with
synchronous_commit on) in a loop with unique keys, for a fixed time, in three modes: no NOTIFY,
``pg_notify`` inside the transaction, and one coalesced ``pg_notify`` after commits (at most one
in flight, as ``PostgresStore`` does). Works in a scratch database it creates and drops.
Run: .venv/bin/python bench/pg_notify.py [--seconds 4] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import psycopg
from psycopg_pool import AsyncConnectionPool

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SCRATCH = "ymnotify_notify_bench"
BODY = b'{"notificationType":"ORDER_CREATED","orderId":1,"campaignId":1,"items":[]}' * 4
INSERT = (
    "INSERT INTO accepts (dedup_key, body) VALUES (%s, %s) ON CONFLICT (dedup_key)"
    " DO UPDATE SET duplicates = accepts.duplicates + 1 RETURNING id"
)
MODES = ("none", "inside", "after")


async def run(url: str, mode: str, clients: int, seconds: float) -> str:
    pool = AsyncConnectionPool(url, min_size=clients + 1, max_size=clients + 1, open=False)
    await pool.open(wait=True)
    latencies: list[float] = []
    wanted = asyncio.Event()
    sent = 0
    deadline = time.perf_counter() + seconds

    async def notifier() -> None:
        nonlocal sent
        while True:
            await wanted.wait()
            wanted.clear()
            async with pool.connection() as connection, connection.transaction():
                await connection.execute("SET LOCAL synchronous_commit = off")
                await connection.execute("SELECT pg_notify('bench', '')")
            sent += 1

    async def client() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            async with pool.connection() as connection, connection.transaction():
                await connection.execute(INSERT, (uuid.uuid4().hex, BODY))
                if mode == "inside":
                    await connection.execute("SELECT pg_notify('bench', '')")
            if mode == "after":
                wanted.set()
            latencies.append(time.perf_counter() - start)

    background = asyncio.create_task(notifier())
    await asyncio.gather(*(client() for _ in range(clients)))
    background.cancel()
    await asyncio.gather(background, return_exceptions=True)
    await pool.close()
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return (
        f"{mode:6}  {len(latencies) / seconds:7.0f} tx/s  p50 {p50:5.1f} ms  p99 {p99:5.1f} ms"
        f"  NOTIFYs sent apart {sent}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
        admin.execute(f"CREATE DATABASE {SCRATCH}")
    url = SERVER.rsplit("/", 1)[0] + f"/{SCRATCH}"
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                "CREATE TABLE accepts (id BIGSERIAL PRIMARY KEY, dedup_key TEXT UNIQUE NOT NULL,"
                " body BYTEA NOT NULL, duplicates INT NOT NULL DEFAULT 0)"
            )
        for mode in MODES:
            print(asyncio.run(run(url, mode, args.clients, args.seconds)))
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")


if __name__ == "__main__":
    main()
