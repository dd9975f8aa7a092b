"""Sending notifications the way Market does, and judging the answers as Market does.

Shared by the Market sandbox (``ymnotify.market``) and the checker (``ymnotify check``); it knows
nothing about settings, stores or APIs.

- ``outcome``: pure classification of an attempt into delivered / rejected / failed with
  Market's error type and subtype.
- ``targets``: pure URL and address rules (``{url}/notification``, globally routable addresses).
- ``network``: the resolver and socket factory that let the client connect only to
  addresses it checked.
- ``client``: the HTTP client (keep-alive, bounded concurrency, fresh ``traceparent``).
"""

from __future__ import annotations
