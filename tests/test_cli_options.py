"""Every flag of every command explains itself and names its environment variable."""

from __future__ import annotations

from collections.abc import Iterator

import click

from ymnotify.cli import main


def _commands(
    group: click.Group, ctx: click.Context, path: str
) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx), f"{path} {name}")


def test_every_flag_has_help_and_an_environment_variable() -> None:
    ctx = click.Context(main)
    missing = []
    for path, command in _commands(main, ctx, "ymnotify"):
        for param in command.params:
            if not isinstance(param, click.Option) or param.name in ("help", "version"):
                continue
            flag = max(param.opts, key=len)
            if not param.help:
                missing.append(f"{path} {flag}: no help")
            if not param.envvar or not param.show_envvar:
                missing.append(f"{path} {flag}: no environment variable shown")
    assert missing == []
