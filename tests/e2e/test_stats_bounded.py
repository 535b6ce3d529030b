# SPDX-License-Identifier: Apache-2.0
"""`stats` of a big watcher never blocks the loop (issue 13, doc/design.md
§19): circusd builds the reply a bounded step per loop turn and answers
other clients meanwhile. Evidence by the order of events, not by timing:
a `status` sent by a second client after the `stats` request is answered
before the stats reply arrives. The bench's scale scenario (bench/run.py,
stats) measures the same at 10,000 processes."""

import json
import os
import time
import uuid

import zmq

from conftest import CALL_TIMEOUT

# Enough processes for several loop turns of stats (256 a turn at most),
# few enough for a slow, shared 2-core machine.
N = int(os.environ.get("STATS_BOUNDED_N", "1500"))


def request(client, command, **props):
    msg_id = uuid.uuid4().hex
    client.sock.send(json.dumps({"command": command, "properties": props,
                                 "id": msg_id}).encode())
    return msg_id


def test_status_is_answered_while_a_big_stats_is_built(circusd):
    d = circusd("""
    [watcher:big]
    cmd = /bin/sleep 3600
    numprocesses = %d
    warmup_delay = 0
    """ % N)
    d.wait_pids("big", N, timeout=240)
    a = d.new_client()
    b = d.new_client()
    stats_id = request(a, "stats", name="big")
    poller = zmq.Poller()
    poller.register(a.sock, zmq.POLLIN)
    poller.register(b.sock, zmq.POLLIN)
    status_id = request(b, "status", name="big")
    statuses_before = 0
    stats_reply = None
    deadline = time.monotonic() + CALL_TIMEOUT * 4
    while stats_reply is None:
        left = deadline - time.monotonic()
        assert left > 0, "no stats reply"
        for sock, _ in poller.poll(int(left * 1000)):
            raw = json.loads(sock.recv_multipart()[-1])
            if sock is a.sock:
                assert raw["id"] == stats_id
                stats_reply = raw
            else:
                assert raw["id"] == status_id
                assert raw["status"] == "active", raw
                statuses_before += 1
                if stats_reply is None:
                    status_id = request(b, "status", name="big")
    assert stats_reply["status"] == "ok", stats_reply
    assert statuses_before >= 1, \
        "the status sent after the stats request waited for it"
    info = stats_reply["info"]
    assert len(info) == N
    pids = set(d.pids("big"))
    assert {int(k) for k in info} == pids
    for k, v in info.items():
        assert v["pid"] == int(k)
        assert v["cmdline"] == "sleep"
    # a second stats measures cpu from the first one's samples: the
    # samples were written back to the processes (cpu is a number)
    again = d.call("stats", name="big", timeout=CALL_TIMEOUT * 4)
    assert len(again["info"]) == N
    assert all(isinstance(v["cpu"], float) for v in again["info"].values())


def test_stats_of_every_watcher_and_a_removed_one(circusd):
    """The all-watchers form is built in steps too; a watcher removed
    while its stats is being built leaves the reply well formed."""
    d = circusd("""
    [watcher:one]
    cmd = /bin/sleep 3600
    numprocesses = 400
    warmup_delay = 0

    [watcher:two]
    cmd = /bin/sleep 3601
    numprocesses = 400
    warmup_delay = 0
    """)
    d.wait_pids("one", 400, timeout=120)
    d.wait_pids("two", 400, timeout=120)
    r = d.call("stats", timeout=CALL_TIMEOUT * 4)
    assert r["status"] == "ok", r
    assert len(r["infos"]["one"]) == 400
    assert len(r["infos"]["two"]) == 400
    # one connection: circusd reads the two requests in this order
    a = d.new_client()
    stats_id = request(a, "stats", name="two")
    rm_id = request(a, "rm", name="two", waiting=False)
    replies = {}
    order = []
    while stats_id not in replies:
        m = a.recv_frames(CALL_TIMEOUT * 4)
        assert m is not None, "no stats reply"
        reply = json.loads(m[-1])
        replies[reply["id"]] = reply
        order.append(reply["id"])
    assert order == [rm_id, stats_id], "rm waited for the stats"
    assert replies[rm_id]["status"] == "ok", replies
    reply = replies[stats_id]
    assert reply["status"] == "ok", reply
    assert reply["name"] == "two"
    assert len(reply["info"]) == 400
    assert "two" not in d.call("list")["watchers"]


def test_quit_while_a_stats_is_built(circusd):
    """A quit read right behind a big stats: the daemon still exits
    cleanly (a job still running then is dropped and its reply fails;
    under SANITIZE=1 nothing leaks either way)."""
    d = circusd("""
    [watcher:big]
    cmd = /bin/sleep 3600
    numprocesses = 1000
    warmup_delay = 0
    """)
    d.wait_pids("big", 1000, timeout=180)
    a = d.new_client()
    stats_id = request(a, "stats", name="big")
    quit_id = request(a, "quit")
    replies = {}
    deadline = time.monotonic() + CALL_TIMEOUT * 4
    while len(replies) < 2 and time.monotonic() < deadline:
        m = a.recv_frames(max(0.0, deadline - time.monotonic()))
        if m is None:
            break
        reply = json.loads(m[-1])
        replies[reply["id"]] = reply
    assert replies[quit_id]["status"] == "ok", replies
    if stats_id in replies:
        r = replies[stats_id]
        assert r["status"] == "ok" or r.get("reason") == "server error", r
    assert d.wait_exit(60) == 0


def test_big_replies_are_whole_and_exact(circusd):
    """A big stats reply leaves without a copy: its envelope is written
    around the text built step by step (controller.c, controller_wrap), or
    copied when the room before the text is too small (a long name). Each
    reply is byte for byte Python's json.dumps of itself, keys in order."""
    n = 300   # two loop turns; the reply is ~90 KB (zero-copy above 64 KB)
    long_name = "w" * 600
    d = circusd("""
    [watcher:short]
    cmd = /bin/sleep 3600
    numprocesses = %d
    [watcher:%s]
    cmd = /bin/sleep 3600
    numprocesses = %d
    """ % (n, long_name, n))
    d.wait_pids("short", n, timeout=240)
    d.wait_pids(long_name, n, timeout=240)
    c = d.new_client()
    for props in ({"name": "short"}, {"name": long_name}, {}):
        msg_id = request(c, "stats", **props)
        assert c.sock.poll(int(CALL_TIMEOUT * 4000)), props
        raw = c.sock.recv_multipart()[-1].decode()
        r = json.loads(raw)
        assert json.dumps(r) == raw
        assert r["status"] == "ok" and r["id"] == msg_id, raw[:300]
        if props:
            assert list(r) == ["status", "time", "name", "info", "tree",
                               "id"]
            assert len(r["info"]) == n
            assert sorted(r["tree"]["pids"]) == sorted(
                int(p) for p in r["info"])
        else:
            assert list(r) == ["status", "time", "infos", "id"]
            assert len(r["infos"]["short"]) == n
            assert len(r["infos"][long_name]) == n
