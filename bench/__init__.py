"""The benchmark harness behind ``make bench``: scenarios, load generators, report.

Nothing here is part of the ``ymnotify`` package; it measures it. See ``bench/README.md``.
"""
