"""The systems ymnotify is compared with: a no-op ceiling and the usual glue code."""
