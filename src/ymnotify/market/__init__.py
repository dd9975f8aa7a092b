"""The Market side as a sandbox: settings and their rules, PING, delivery on Market's schedule.

- ``rules``, ``schedule``: Market's decisions, pure and table-tested.
- ``clock``: real or virtual time; ``engine``: the delivery loop; ``store``: its SQLite file.
- ``service``: the cabinet's operations; ``api``: the JSON API over them (``/openapi.json``).
- ``runtime``: all the parts together (``ymnotify market serve`` runs ``api.create_app``).

Sending and judging one request lives in ``ymnotify.delivery``, shared with the checker.
"""

from __future__ import annotations
