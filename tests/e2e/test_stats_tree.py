# SPDX-License-Identifier: Apache-2.0
"""`stats` finds a worker's children without scanning the machine's /proc
(issue 13, item 4): as root, circusd follows its descendants through the
kernel's process events (netlink proc connector), says so in the log and
in `dstats` ("process_tree": "events"), and a child forked later, or gone,
shows in `stats` at once; elsewhere it scans /proc ("scan")."""

import os

import pytest

from conftest import wait_until

# Forks one `sleep` at once; when the file argv[1] appears, a second one;
# when argv[2] appears, kills the first.
WORKER = r'''
import os, subprocess, sys, time
first = subprocess.Popen(["/bin/sleep", "3600"])
second = None
while True:
    if second is None and os.path.exists(sys.argv[1]):
        second = subprocess.Popen(["/bin/sleep", "3601"])
    if first.poll() is None and os.path.exists(sys.argv[2]):
        first.kill()
        first.wait()
    time.sleep(0.02)
'''


def children(d):
    r = d.call("stats", name="tree")
    assert r["status"] == "ok", r
    (info,) = r["info"].values()
    return sorted(c["pid"] for c in info["children"])


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="the proc connector needs root")
def test_children_follow_process_events(circusd, wd):
    script = wd.script("tree.py", WORKER)
    d = circusd("""
    [watcher:tree]
    cmd = %s %s %s
    """ % (script, wd.path / "fork", wd.path / "kill"))
    d.wait_pids("tree", 1)
    first = wait_until(lambda: children(d) or None, 20,
                       msg="the first child")
    assert len(first) == 1
    assert d.call("dstats")["process_tree"] == "events"
    assert "children followed through the kernel's process events" in \
        d.log_text()
    (wd.path / "fork").write_text("")
    both = wait_until(lambda: (lambda c: c if len(c) == 2 else None)(
        children(d)), 20, msg="the second child")
    assert first[0] in both
    (wd.path / "kill").write_text("")
    wait_until(lambda: children(d) == [p for p in both if p != first[0]],
               20, msg="the first child gone")
    assert d.call("dstats")["process_tree"] == "events"


def test_dstats_names_the_mode(circusd):
    d = circusd("""
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    """)
    d.wait_pids("sleeper", 1)
    mode = d.call("dstats")["process_tree"]
    assert mode in ("events", "scan")
    if os.geteuid() != 0:
        assert mode == "scan"
        assert "children found by scanning /proc" in d.log_text()
