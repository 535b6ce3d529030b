# SPDX-License-Identifier: Apache-2.0
"""Circus's own stats client reads our circusd-stats unchanged (issue 13):
`circus.stats.client.StatsClient` (what Circus's Python `circus-top`
reads with) gets stat.<watcher>, stat.<watcher>.<pid>, stat.circus.* and
stat.sockets.* from the stats endpoint, and `circus-top`'s own painter
draws them. Circus's Python package is not a Debian package: the test
uses an importable `circus`, or the one under $CIRCUS_PYTHON_SRC (a
directory holding Circus's `circus/` package, e.g. a checkout of
circus-tent/circus 0.19), and is skipped without it."""

import os
import sys
import time
from collections import defaultdict

import pytest



def circus_stats_client():
    src = os.environ.get("CIRCUS_PYTHON_SRC")
    if src and src not in sys.path:
        sys.path.insert(0, src)
    try:
        from circus.stats import client
    except ImportError as e:
        pytest.skip("Circus's Python package is not importable (%s): set "
                    "CIRCUS_PYTHON_SRC to a directory holding its circus/ "
                    "package" % e)
    return client


class FakeScreen:
    """What circus-top's _paint calls on a curses window, into lines."""

    def __init__(self, h=60, w=120):
        self.h, self.w, self.lines = h, w, {}

    def getmaxyx(self):
        return self.h, self.w

    def erase(self):
        self.lines = {}

    def refresh(self):
        pass

    def addstr(self, y, x, text):
        line = self.lines.get(y, "").ljust(x)
        self.lines[y] = line[:x] + text

    def text(self):
        return "\n".join(self.lines[k] for k in sorted(self.lines))


def test_circus_stats_client_and_top_read_circusd_stats(circusd, wd):
    client = circus_stats_client()
    stats_ep = "ipc://%s/stats.sock" % wd.path
    d = circusd("""
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    numprocesses = 2

    [socket:web]
    host = 127.0.0.1
    port = 0
    """, circus={"statsd": "true", "stats_endpoint": stats_ep})
    d.wait_pids("circusd-stats", 1)
    sleepers = sorted(d.wait_pids("sleeper", 2))
    watchers = defaultdict(dict)
    sc = client.StatsClient(endpoint=stats_ep)
    messages = sc.iter_messages()
    deadline = time.monotonic() + 30

    def complete():
        w = watchers.get("sleeper", {})
        return ("all" in w and sorted(w["all"]["pid"]) == sleepers and
                all(str(p) in w for p in sleepers) and
                "all" in watchers.get("circus", {}) and
                "all" in watchers.get("sockets", {}))

    try:
        # as circus-top's main loop does; a message a second arrives, so
        # the deadline is checked at least that often
        for watcher, subtopic, stat in messages:
            stat["watcher"] = watcher
            watchers[watcher]["all" if subtopic is None else subtopic] = stat
            if complete() or time.monotonic() > deadline:
                break
    finally:
        messages.close()
    assert complete(), dict(watchers)
    agg = watchers["sleeper"]["all"]
    assert {"pid", "cpu", "mem", "age"} <= set(agg)
    for p in sleepers:
        assert watchers["sleeper"][str(p)]["pid"] == p
        assert watchers["sleeper"][str(p)]["cmdline"] == "sleep"
    port = d.call("listsockets")["sockets"][0]["port"]
    # circus-top's painter, unchanged, on what was read
    screen = FakeScreen()
    client._paint(screen, watchers, screen.h, screen.w)
    text = screen.text()
    assert "Circus Top" in text
    assert "sleeper" in text
    for p in sleepers:
        assert str(p) in text
    assert "%d (circusd)" % d.pid in text
    assert "127.0.0.1:%d" % port in text
