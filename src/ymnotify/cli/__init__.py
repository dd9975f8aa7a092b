"""The ``ymnotify`` command line. Thin: flags and environment in, objects out."""

from __future__ import annotations

import click

from ymnotify import __version__
from ymnotify.cli.check import check
from ymnotify.cli.db import db
from ymnotify.cli.inbox import inbox
from ymnotify.cli.market import market
from ymnotify.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ymnotify")
def main() -> None:
    """Yandex.Market API notifications: receive them, sandbox Market, check an endpoint.

    \b
    Start here:
      ymnotify serve                       receive notifications (SQLite ./ymnotify.db)
      ymnotify inbox list                  what arrived
      ymnotify inbox stats                 totals, duplicates, last PING
      ymnotify market serve --dev          a local Market that sends to you

    Every flag also reads YMNOTIFY_<FLAG> from the environment (see each command's --help).
    """


main.add_command(serve)
main.add_command(inbox)
main.add_command(db)
main.add_command(market)
main.add_command(check)
