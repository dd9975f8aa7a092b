"""``tests.load.LoadLoop`` in a process of its own, for measuring latency beside it.

``python -m tests.acceptance.load BASE_URL --clients N --seconds S`` prints ``started`` once its
clients run, then one JSON line: ``sent``, ``ok`` (200s), ``failed`` and the first few
``failures``, ``seconds``. A separate process so that a test timing PINGs meanwhile shares
neither an event loop nor the GIL with the load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tests.load import LoadLoop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url", help="the receiver's base URL; posts go to URL/notification")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    load = LoadLoop(args.url, clients=args.clients)
    started = time.monotonic()
    load.start()
    print("started", flush=True)
    time.sleep(args.seconds)
    load.stop()
    failures = [f"order {a.order_id}: status {a.status}" for a in load.attempts if a.status != 200]
    summary = {
        "sent": len(load.attempts),
        "ok": len(load.acked()),
        "failed": len(failures),
        "failures": failures[:10],
        "seconds": time.monotonic() - started,
    }
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
