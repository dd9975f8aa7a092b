"""Which PostgreSQL driver for the accept path: psycopg 3 or asyncpg, measured the same way.

Each client runs the receiver's accept transaction shape (INSERT … ON CONFLICT … RETURNING, then
COMMIT with synchronous_commit on) in a loop with unique keys, N clients at once, for a fixed
time. Run: .venv/bin/python bench/pg_driver.py [--seconds 5] [--clients 16]
Needs asyncpg installed (pip install asyncpg) and a local PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg
import psycopg
from psycopg_pool import AsyncConnectionPool

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DDL = """CREATE TABLE IF NOT EXISTS driver_bench (
    id BIGSERIAL PRIMARY KEY, dedup_key TEXT UNIQUE NOT NULL, body BYTEA NOT NULL,
    duplicates INT NOT NULL DEFAULT 0)"""
BODY = b'{"notificationType":"ORDER_CREATED","orderId":1,"campaignId":1,"items":[]}' * 4


async def run_psycopg(url: str, clients: int, seconds: float) -> list[float]:
    pool = AsyncConnectionPool(url, min_size=clients, max_size=clients, open=False)
    await pool.open(wait=True)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            async with pool.connection() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO driver_bench (dedup_key, body) VALUES (%s, %s) ON CONFLICT"
                    " (dedup_key) DO UPDATE SET duplicates = driver_bench.duplicates + 1"
                    " RETURNING id",
                    (uuid.uuid4().hex, BODY),
                )
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(client() for _ in range(clients)))
    await pool.close()
    return latencies


async def run_asyncpg(url: str, clients: int, seconds: float) -> list[float]:
    pool = await asyncpg.create_pool(url, min_size=clients, max_size=clients)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            async with pool.acquire() as conn, conn.transaction():
                await conn.fetchrow(
                    "INSERT INTO driver_bench (dedup_key, body) VALUES ($1, $2) ON CONFLICT"
                    " (dedup_key) DO UPDATE SET duplicates = driver_bench.duplicates + 1"
                    " RETURNING id",
                    uuid.uuid4().hex,
                    BODY,
                )
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(client() for _ in range(clients)))
    await pool.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    name = f"driver_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = SERVER.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(DDL)
        results = {}
        for driver, runner in (("psycopg", run_psycopg), ("asyncpg", run_asyncpg)):
            latencies = asyncio.run(runner(url, args.clients, args.seconds))
            latencies.sort()
            results[driver] = (
                len(latencies) / args.seconds,
                statistics.median(latencies) * 1000,
                latencies[int(len(latencies) * 0.99)] * 1000,
            )
        print(f"{'driver':<10}{'tx/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        for driver, (rate, p50, p99) in results.items():
            print(f"{driver:<10}{rate:>10.0f}{p50:>10.2f}{p99:>10.2f}")
        ratio = results["psycopg"][0] / results["asyncpg"][0]
        print(f"psycopg/asyncpg throughput ratio: {ratio:.2f}")
    finally:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
