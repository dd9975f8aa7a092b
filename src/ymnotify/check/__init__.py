"""``ymnotify check URL``: would Market accept this endpoint? Reuses Market's delivery client and
its outcome classifier (``ymnotify.delivery``), so the verdicts are the sandbox's verdicts."""
