"""``ymnotify db``: the store's schema."""

from __future__ import annotations

import asyncio

import click

from ymnotify.cli.inbox import created_db_option
from ymnotify.errors import ConfigError, StoreError
from ymnotify.store import store_from_url


@click.group()
def db() -> None:
    """Manage the store's schema (PostgreSQL is migrated only by this command)."""


@db.command("migrate")
@created_db_option
def migrate_command(db: str) -> None:
    """Bring the store's schema up to date. Safe to run again, and from several hosts at once."""

    async def run() -> tuple[int, int]:
        store = store_from_url(db)
        try:
            return await store.migrate()
        finally:
            await store.close()

    try:
        before, after = asyncio.run(run())
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if before == after:
        click.echo(f"schema already at version {after}")
    else:
        click.echo(f"schema migrated from version {before} to {after}")
