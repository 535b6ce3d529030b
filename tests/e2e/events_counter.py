# SPDX-License-Identifier: Apache-2.0
"""A fast event subscriber of test_soak.py, run as its own process so it
keeps up with thousands of events a second:

    events_counter.py PUBSUB_ENDPOINT PROGRESS_FILE STOP_FILE OUT_JSON

Receives every event (SUB to everything, no receive limit), writes the
number seen so far to PROGRESS_FILE every 0.2 s, and once STOP_FILE exists
and nothing came for 0.5 s, writes {watcher: {action: [pids...]}} plus a
total to OUT_JSON and exits.
"""

import json
import os
import sys
import time

import zmq


def main():
    endpoint, progress, stop, out = sys.argv[1:5]
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.RCVBUF, 4 * 1024 * 1024)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    seen = {}
    total = 0
    last_rx = time.monotonic()
    last_progress = 0.0
    while True:
        got = False
        if sub.poll(100):
            while True:
                try:
                    frames = sub.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                got = True
                total += 1
                topic = frames[0].decode("utf-8", "replace")
                parts = topic.split(".")
                if len(parts) < 3 or parts[0] != "watcher":
                    continue
                name, action = ".".join(parts[1:-1]), parts[-1]
                pid = None
                try:
                    pid = json.loads(frames[1]).get("process_pid")
                except (ValueError, IndexError, AttributeError):
                    pass
                seen.setdefault(name, {}).setdefault(action, []).append(pid)
        now = time.monotonic()
        if got:
            last_rx = now
        if now - last_progress > 0.2:
            last_progress = now
            with open(progress + ".tmp", "w") as f:
                f.write(str(total))
            os.replace(progress + ".tmp", progress)
        if os.path.exists(stop) and now - last_rx > 0.5:
            break
    with open(out, "w") as f:
        json.dump({"total": total, "events": seen}, f)
    sub.close(0)
    ctx.term()


if __name__ == "__main__":
    main()
