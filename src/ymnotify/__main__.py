"""``python -m ymnotify`` is the ``ymnotify`` command."""

from ymnotify.cli import main

main()
