# SPDX-License-Identifier: Apache-2.0
"""One flooding client of test_flood.py, run as its own process:

    flood_client.py ENDPOINT SEED COUNT BIG DEADLINE_S EXPECT_JSON OUT_JSON

Sends COUNT hostile control messages (wrong frame counts, empty bodies,
garbage, invalid UTF-8, deep nesting, unknown commands, wrong property
types, casts, BIG frames of 10 MB) with a valid request every 10th
message, reading replies as it goes (never more than WINDOW outstanding,
so the daemon's per-peer queue never overflows). Every valid request must
be answered with the right content; every hostile message that calls for
a reply (a non-blank two-frame body that is not a cast) must get exactly
one. Writes a summary to OUT_JSON; exits 1 on any mismatch.
"""

import json
import random
import sys
import time
import uuid

import zmq

WINDOW = 200
BIG = 10 * 1024 * 1024

# Requests with the wrong property types (or unknown names): each must be
# refused without touching anything.
WRONG_TYPES = [
    {"command": "incr", "properties": {"name": "w", "nb": "x"}},
    {"command": "incr", "properties": {"name": 123}},
    {"command": "decr", "properties": {"name": ["w"], "nb": 1}},
    {"command": "decr", "properties": {"name": "w", "nb": 1.5}},
    {"command": "set", "properties": {"name": "w",
                                      "options": {"numprocesses": "lots"}}},
    {"command": "set", "properties": {"name": "w", "options": "x"}},
    {"command": "set", "properties": {"name": "w",
                                      "options": {"env": ["A=1"]}}},
    {"command": "signal", "properties": {"name": "w", "signum": [9]}},
    {"command": "signal", "properties": {"name": "w", "signum": "SIGNOPE"}},
    {"command": "kill", "properties": {"name": "w", "pid": {"a": 1}}},
    {"command": "kill", "properties": {"name": "w", "pid": "12x"}},
    {"command": "stop", "properties": {"name": 123}},
    {"command": "stop", "properties": {"name": None, "waiting": True}},
    {"command": "restart", "properties": {"name": [1, 2]}},
    {"command": "reload", "properties": {"name": {"x": 1}}},
    {"command": "start", "properties": {"name": True}},
    {"command": "rm", "properties": {"name": {"a": 1}}},
    {"command": "rm", "properties": {"name": "nope-not-there"}},
    {"command": "add", "properties": {"name": 5, "cmd": "/bin/true"}},
    {"command": "add", "properties": {"name": "x", "cmd": ["/bin/true"]}},
    {"command": "add", "properties": {"name": "x", "cmd": "/bin/true",
                                      "options": "numprocesses"}},
    {"command": "add", "properties": {"name": "w", "cmd": "/bin/true"}},
    {"command": "get", "properties": {"name": "w", "keys": 7}},
    {"command": "get", "properties": {"name": 3.5, "keys": ["cmd"]}},
    {"command": "options", "properties": {"name": None}},
    {"command": "numprocesses", "properties": {"name": 7}},
    {"command": "status", "properties": {"name": {"x": [1]}}},
    {"command": "list", "properties": {"name": 1.5}},
    {"command": "stats", "properties": {"name": True}},
    {"command": "globaloptions", "properties": {"option": 5}},
    {"command": "status", "properties": "not an object"},
    {"command": ["status"]},
    {"command": None},
    {"properties": {"name": "w"}},
    {"command": "status", "id": {"nested": [1, 2, {"a": None}]}},
]


def deep(n, open_, close_):
    return open_ * n + close_ * n


def hostile(rng, big_left):
    """(frames, expects_reply) of one hostile message."""
    k = rng.randrange(100)
    if k < 8:                                   # wrong frame counts
        n = rng.choice([2, 3, 5, 20])
        return [b'{"command": "status"}'] * n, False
    if k < 12:                                  # empty / blank bodies
        return [rng.choice([b"", b"   ", b"\n\t \r\n"])], False
    if k < 28:                                  # garbage, truncated JSON
        if rng.random() < 0.5:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        else:
            good = json.dumps(rng.choice(WRONG_TYPES)).encode()
            body = good[:rng.randrange(1, len(good))]
        return [body], bool(body.strip())
    if k < 36:                                  # invalid UTF-8
        return [rng.choice([
            b'{"command": "status", "id": "\xff\xfe\xfd"}',
            b'{"command": "\xc3\x28"}',
            b'{"command": "status", "properties": {"name": "w\xed\xa0\x80"}}',
            b'\xef\xbb\xbf{"command": "status"}',
        ])], True
    if k < 44:                                  # deep nesting
        n = rng.choice([10, 500, 1500, 3000, 100000])
        return [rng.choice([
            deep(n, b"[", b"]"),
            b'{"command": "status", "properties": {"name": ' +
            deep(n, b"[", b"]") + b"}}",
            b'{"command": "list", "id": ' + deep(n, b'{"a": ', b"}")
            .replace(b'{"a": }', b'{"a": 1}') + b"}",
        ])], True
    if k < 56:                                  # unknown commands
        return [json.dumps({"command": "nope-%d" % rng.randrange(10**6),
                            "id": rng.randrange(10**9)}).encode()], True
    if k < 90:                                  # wrong property types
        return [json.dumps(rng.choice(WRONG_TYPES)).encode()], True
    if k < 95:                                  # casts: never answered
        m = dict(rng.choice(WRONG_TYPES))
        m["msg_type"] = "cast"
        return [json.dumps(m).encode()], False
    if big_left[0] > 0:                         # 10 MB frames
        big_left[0] -= 1
        kind = (big_left[0] + rng.randrange(3)) % 3
        if kind == 0:       # valid: one huge string
            body = b'{"command": "nope", "properties": {"x": "' + \
                b"a" * BIG + b'"}}'
        elif kind == 1:     # garbage from the first byte
            body = b"x" * BIG
        else:               # 5 million values, never closed
            body = b"[" + b"1," * (BIG // 2) + b"1"
        return [body], True
    return [b"{}"], True


def main():
    endpoint, seed, count, big, deadline_s, expect_path, out = sys.argv[1:8]
    rng = random.Random(int(seed))
    count, big_left = int(count), [int(big)]
    deadline = time.monotonic() + float(deadline_s)
    with open(expect_path) as f:
        expect = json.load(f)
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVHWM, 0)
    s.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
    s.connect(endpoint)

    valid = {}          # id -> (command, check)
    summary = {"sent": 0, "hostile": 0, "valid": 0, "hostile_replies": 0,
               "expected_hostile_replies": 0, "valid_ok": 0, "errors": [],
               "big": 0}
    outstanding = 0

    def handle(frames):
        nonlocal outstanding
        outstanding -= 1
        raw = frames[-1]
        try:
            r = json.loads(raw)
        except RecursionError:          # a deep id echoed back: fine
            summary["hostile_replies"] += 1
            return
        except ValueError:
            summary["errors"].append("reply is not JSON: %r" % raw[:200])
            return
        rid = r.get("id") if isinstance(r, dict) else None
        if isinstance(rid, str) and rid in valid:
            cmd = valid.pop(rid)
            problem = check(cmd, r)
            if problem:
                summary["errors"].append("%s: %s: %r" % (cmd, problem, r))
            else:
                summary["valid_ok"] += 1
        else:
            summary["hostile_replies"] += 1
            if r.get("status") != "error" and r.get("status") != "ok":
                summary["errors"].append("odd reply %r" % raw[:200])

    def check(cmd, r):
        if cmd == "status":
            return None if r.get("status") == "active" else "not active"
        if cmd == "list":
            return None if r.get("pids") == expect["pids"] else "pids differ"
        if cmd == "numwatchers":
            return None if r.get("numwatchers") == expect["numwatchers"] \
                else "count differs"
        if cmd == "options":
            o = r.get("options") or {}
            return None if o.get("numprocesses") == \
                expect["numprocesses"] else "numprocesses differs"
        return "unknown check"

    def pump(block_until):
        while outstanding > block_until:
            if time.monotonic() > deadline:
                raise TimeoutError("replies stopped coming")
            if s.poll(1000):
                while True:
                    try:
                        handle(s.recv_multipart(zmq.NOBLOCK))
                    except zmq.Again:
                        break

    try:
        for i in range(count):
            if time.monotonic() > deadline:
                summary["errors"].append("deadline hit after %d messages" % i)
                break
            if i % 10 == 9:
                cmd = ("status", "list", "numwatchers", "options")[i // 10 % 4]
                mid = uuid.uuid4().hex
                props = {} if cmd == "numwatchers" else {"name": "w"}
                valid[mid] = cmd
                s.send(json.dumps({"command": cmd, "properties": props,
                                   "id": mid}).encode())
                summary["valid"] += 1
                outstanding += 1
            else:
                before = big_left[0]
                frames, replies = hostile(rng, big_left)
                summary["big"] += before - big_left[0]
                s.send_multipart(frames)
                summary["hostile"] += 1
                if replies:
                    summary["expected_hostile_replies"] += 1
                    outstanding += 1
            summary["sent"] += 1
            if outstanding >= WINDOW:
                pump(WINDOW // 2)
        pump(0)
    except TimeoutError as e:
        summary["errors"].append(str(e))
    if valid:
        summary["errors"].append("%d valid requests unanswered" % len(valid))
    if summary["hostile_replies"] != summary["expected_hostile_replies"]:
        summary["errors"].append("hostile replies %d, expected %d" % (
            summary["hostile_replies"], summary["expected_hostile_replies"]))
    s.close(0)
    ctx.term()
    with open(out, "w") as f:
        json.dump(summary, f)
    sys.exit(1 if summary["errors"] else 0)


if __name__ == "__main__":
    main()
