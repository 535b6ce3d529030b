# SPDX-License-Identifier: Apache-2.0
"""A Sync writer and reader for tests that cannot call the servers from the
test process (the fleet's hosts live in network namespaces): the test runs
this script inside a namespace with `ip netns exec`.

    sync_writer.py write SPEC   writes until SPEC["stop_file"] exists, or
                                SPEC["max_per_host"] records per host, or
                                SPEC["max_seconds"]; one thread per host
    sync_writer.py read SPEC    prints {url: {id: payload}} of every record
                                of SPEC["collection"] on each host

SPEC is a JSON file: {"hosts": [{"url", "secret"}], "uid", "collection",
"log", "stop_file", "max_per_host", "max_seconds"}. The writer appends one
JSON line to SPEC["log"] per event: {"host", "id", "payload", "t", "ack":
true} for each acknowledged write (a 2xx, and for a POST the id listed in
"success"), {"host", "id", "t0", "t", "error"} for each attempt that was
not acknowledged (t0: when it began); it then retries the same record (same
id and payload), so an error never skips a record."""

import json
import os
import sys
import threading
import time

import synclib

TOKEN_LIFE = 3600


def _client(host, uid):
    token, key = synclib.mint_token(host["secret"], uid, host["url"],
                                    time.time() + TOKEN_LIFE)
    c = synclib.SyncClient(host["url"], token, key, timeout=20)
    c.session.trust_env = False       # namespace addresses: never a proxy
    return c


def _write_one(client, root, i, rid, payload):
    """One attempt; returns None when acknowledged, else the reason."""
    try:
        if i % 2:
            r = client.put("%s/%s" % (root, rid), {"payload": payload})
            if 200 <= r.status_code < 300:
                return None
        else:
            r = client.post(root, [{"id": rid, "payload": payload}])
            if 200 <= r.status_code < 300 and \
                    rid in r.json().get("success", []):
                return None
        return "HTTP %d: %s" % (r.status_code, r.text[:200])
    except Exception as e:          # connection refused/reset, timeout
        return "%s: %s" % (type(e).__name__, e)


def write(spec):
    lock = threading.Lock()
    deadline = time.monotonic() + spec["max_seconds"]
    root = "/1.5/%d/storage/%s" % (spec["uid"], spec["collection"])
    log = open(spec["log"], "a", buffering=1)

    def emit(rec):
        rec["t"] = time.time()
        with lock:
            log.write(json.dumps(rec) + "\n")

    def stopped():
        return os.path.exists(spec["stop_file"]) or \
            time.monotonic() >= deadline

    def run(n, host):
        client = _client(host, spec["uid"])
        for i in range(spec["max_per_host"]):
            rid, payload = "h%d-r%d" % (n, i), "%s#%d" % (host["url"], i)
            while not stopped():
                t0 = time.time()
                why = _write_one(client, root, i, rid, payload)
                if why is None:
                    emit({"host": host["url"], "id": rid,
                          "payload": payload, "ack": True})
                    break
                emit({"host": host["url"], "id": rid, "error": why,
                      "t0": t0})
                client = _client(host, spec["uid"])   # a fresh connection
                time.sleep(0.05)    # pacing the retry, not waiting a state
            if stopped():
                return
            time.sleep(0.005)       # a steady trickle on a shared machine

    threads = [threading.Thread(target=run, args=(n, h))
               for n, h in enumerate(spec["hosts"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()


def read(spec):
    out = {}
    for host in spec["hosts"]:
        client = _client(host, spec["uid"])
        root = "/1.5/%d/storage/%s?full=1" % (spec["uid"], spec["collection"])
        got, offset = {}, None
        for _ in range(1000):       # pages, bounded
            r = client.get(root + ("&offset=%s" % offset if offset else ""))
            r.raise_for_status()
            for bso in r.json():
                got[bso["id"]] = bso["payload"]
            offset = r.headers.get("X-Weave-Next-Offset")
            if not offset:
                break
        out[host["url"]] = got
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        {"write": write, "read": read}[sys.argv[1]](json.load(f))
