"""Serve any ASGI app exactly as ``ymnotify serve`` serves the receiver.

``python -m bench.baselines.serve_app MODULE:ATTR [--port N]`` uses ymnotify's own uvicorn
configuration and serving loop (``ymnotify.receiver.server``), so the ceiling, the glue and
ymnotify differ only in the application: same server program, protocol class and flags, one
process. Prints ``listening on URL`` like ``ymnotify serve``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ymnotify.receiver import reads_first, server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="the ASGI app as MODULE:ATTR")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    module_name, _, attribute = args.app.partition(":")
    app = getattr(importlib.import_module(module_name), attribute)
    listener = server.Listener(args.host, args.port)
    sock = server.bind(listener)
    url = server.bound_url(sock, listener)

    def announce() -> None:
        print(f"{args.app} listening on {url}", file=sys.stderr, flush=True)

    reads_first.run(server.serve([(server.uvicorn_config(app, listener), sock)], announce))


if __name__ == "__main__":
    main()
