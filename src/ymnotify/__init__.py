"""ymnotify: Yandex.Market API notifications, both ends.

The receiver (``ymnotify serve``, or ``create_app`` inside your ASGI application), the typed
notification models, and the storage behind them.
"""

from __future__ import annotations

__version__ = "0.1.0"
