# SPDX-License-Identifier: Apache-2.0
"""Watcher and config semantics of issue 15 (items 2-6, 10-12), each
pinned against Circus 0.19's behaviour: respawn = false, the graceful
order of a `set` that replaces processes, `set`'s error precedence,
`listsockets` order, unopenable stream files, `--check` coverage,
`reloadconfig` of a bad file, and death/back-off reporting."""

import os
import signal
import subprocess

from conftest import (CIRCUSCTL, assert_error, assert_ok, ini, log_lines_with,
                      run_circusd, wait_until)


# --------------------------------------------------------------------------
# item 4: set reports a bad key before an unknown watcher


def test_set_unknown_key_reported_before_unknown_watcher(circusd):
    d = circusd(ini("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """))
    assert_error(d.call("set", name="nosuch", options={"priority": 3}), 3,
                 "unknown key 'priority'")
    assert_error(d.call("set", name="nosuch", options={"graceful_timeout": "x"}),
                 3, "'graceful_timeout' isn't a number")
    assert_error(d.call("set", name="nosuch", options="x"), 3,
                 "'options' property should be an object")
    # a valid key on an unknown watcher still names the watcher
    assert_error(d.call("set", name="nosuch", options={"numprocesses": 2}), 3,
                 "program nosuch not found")


# --------------------------------------------------------------------------
# item 2: respawn = false keeps the watcher active with no process


def test_respawn_false_stays_active_then_start_and_restart(circusd):
    d = circusd(ini("""
    [watcher:once]
    cmd = /bin/sleep 3600
    numprocesses = 2
    respawn = false
    """))
    pids = d.wait_pids("once", 2)
    m = d.events.mark()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        d.events.wait_event("once", "reap", since=m, pid=pid)
    r = d.call("status", name="once")
    assert r["status"] == "active", r
    assert d.pids("once") == []
    assert "stop" not in d.events.actions("once", since=m)
    # start brings them back
    r = d.call("start", name="once", waiting=True)
    assert_ok(r)
    assert len(d.wait_pids("once", 2)) == 2
    assert d.status("once") == "active"
    # one exits: the other is left alone, the watcher stays active
    one = d.pids("once")[0]
    m = d.events.mark()
    os.kill(one, signal.SIGKILL)
    d.events.wait_event("once", "reap", since=m, pid=one)
    assert d.status("once") == "active"
    assert len(d.pids("once")) == 1
    # restart gives the full set again
    assert_ok(d.call("restart", name="once", waiting=True))
    assert len(d.wait_pids("once", 2)) == 2
    assert d.status("once") == "active"
