# SPDX-License-Identifier: Apache-2.0
"""Flood: hostile control messages from several clients at once (wrong
frame counts, blank bodies, garbage, invalid UTF-8, deep nesting, 10 MB
frames, unknown commands, wrong property types, casts), with valid
requests in between. The daemon stays up, answers every valid request
correctly and every hostile one exactly as the protocol says, changes
nothing, and its RSS and fd count come back to their baseline.

CI: 20,000 messages (8 of 10 MB; under ASan 8,000 and 4); `make soak`
(SOAK=1): 100,000 (40)."""

import json
import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, Client, pid_alive, wait_until
from reliability import (Stopwatch, asan_build, assert_state_true,
                         fd_count, rss_kb, scaled, wait_no_zombies)

HERE = Path(__file__).resolve().parent
CLIENTS = 4
TOTAL = scaled(20000, 100000, 8000)
BIG = scaled(8, 40, 4)
DEADLINE = scaled(150, 900)


def run_clients(d, wd, total, big, tag):
    """Run CLIENTS flooding processes; return their summaries."""
    expect = wd / "expect.json"
    expect.write_text(json.dumps({
        "pids": d.pids("w"),
        "numwatchers": d.call("numwatchers")["numwatchers"],
        "numprocesses": 2}))
    procs = []
    for i in range(CLIENTS):
        out = wd / ("%s-%d.json" % (tag, i))
        p = subprocess.Popen(
            [PYTHON, str(HERE / "flood_client.py"), d.endpoint, str(1000 + i),
             str(total // CLIENTS), str(big // CLIENTS), str(DEADLINE),
             str(expect), str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append((p, out))
    sums = []
    for p, out in procs:
        try:
            log, _ = p.communicate(timeout=DEADLINE + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            log, _ = p.communicate()
        assert out.exists(), "flood client died: %s" % log.decode()[-3000:]
        s = json.loads(out.read_text())
        assert not s["errors"], s["errors"][:20]
        assert p.returncode == 0, log.decode()[-3000:]
        sums.append(s)
    return sums


@pytest.mark.timeout(scaled(240, 1500))
def test_flood_of_hostile_messages(circusd, wd, capsys):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    numprocesses = 2
    """)
    pids = d.wait_pids("w", 2)
    # warm-up: some of everything, big frames too, so one-time allocations
    # (and the heap's shape after a 10 MB request) are in the baseline
    run_clients(d, wd, 400, CLIENTS, "warmup")
    rss0, fds0 = rss_kb(d.pid), fd_count(d.pid)

    t = Stopwatch()
    sums = run_clients(d, wd, TOTAL, BIG, "flood")
    took = t()
    sent = sum(s["sent"] for s in sums)
    valid = sum(s["valid_ok"] for s in sums)
    hostile = sum(s["hostile"] for s in sums)
    assert sent == TOTAL and valid == sum(s["valid"] for s in sums)
    assert sum(s["big"] for s in sums) == BIG

    # a frame over the 16 MB limit: that client is cut off, nothing else
    c = Client(d.endpoint)
    c.raw_send([b"x" * (17 * 1024 * 1024)])
    assert d.call("status", name="w")["status"] == "active"
    assert c.call("status", name="w", timeout=30)["status"] == "active"
    c.close()

    assert d.alive()
    assert d.pids("w") == pids and all(pid_alive(p) for p in pids)
    assert d.call("numwatchers")["numwatchers"] == 1
    assert_state_true(d, ["w"])
    # resources back: the clients are gone, what they cost is returned
    wait_until(lambda: fd_count(d.pid) <= fds0, 20,
               msg="fds back to %d" % fds0)
    if asan_build(d.pid):
        rss1 = rss_kb(d.pid)    # ASan's quarantine keeps freed memory
    else:
        limit = rss0 * 1.05 + 1024
        rss1 = wait_until(lambda: rss_kb(d.pid) <= limit and rss_kb(d.pid),
                          20, msg="RSS back under %d kB (baseline %d kB)"
                          % (limit, rss0))
    wait_no_zombies(d.pid)
    with capsys.disabled():
        print("\nflood: %d messages (%d hostile, %d valid, %d of 10 MB) from "
              "%d clients in %.1f s; RSS %d -> %d kB; fds %d -> %d"
              % (sent, hostile, valid, BIG, CLIENTS, took, rss0, rss1, fds0,
                 fd_count(d.pid)))
