"""Runnable examples (``ymnotify serve --app examples.shop_handlers:router``)."""
