"""The ``ymnotify`` command line. Thin: flags and environment in, objects out."""

from __future__ import annotations

import importlib

import click

from ymnotify import __version__

# Each command's module, imported only when that command runs (or --help lists them all): they
# pull in different worlds (aiohttp for market and check, the receiver for serve), and a command
# should not pay for the others' imports at every start.
_COMMANDS = {
    "serve": "ymnotify.cli.serve",
    "inbox": "ymnotify.cli.inbox",
    "worker": "ymnotify.cli.worker",
    "db": "ymnotify.cli.db",
    "market": "ymnotify.cli.market",
    "check": "ymnotify.cli.check",
}


class _LazyGroup(click.Group):
    """The top-level group: commands listed by name, each module imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(module), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="ymnotify")
def main() -> None:
    """Yandex.Market API notifications: receive them, sandbox Market, check an endpoint.

    \b
    Start here:
      ymnotify serve                       receive notifications (SQLite ./ymnotify.db)
      ymnotify serve --app shop.handlers:router     … and run your handlers on them
      ymnotify inbox list                  what arrived
      ymnotify inbox stats                 totals, duplicates, last PING
      ymnotify market serve --dev          a local Market that sends to you

    Every flag also reads YMNOTIFY_<FLAG> from the environment (see each command's --help).
    """
