# SPDX-License-Identifier: Apache-2.0
"""Regression tests for the daemon bugs found by fuzzing and fault
injection (tests/fuzz/regress/ holds the fuzzer inputs). Most were reads
of freed memory: under `make SANITIZE=1 test` ASan turns each into a
crash of the daemon, which these tests would see."""

import time

import pytest

from conftest import WORKER_IGNORE_TERM, assert_error, pid_alive, wait_until

TWO = """
[watcher:a]
cmd = /bin/sleep 3600
numprocesses = 2

[watcher:b]
cmd = /bin/sleep 3600
"""


def test_reloadconfig_waiting_without_changes(circusd):
    """The parked reply was sent and freed inside the command, which then
    read it (cmd-reloadconfig.c)."""
    d = circusd(TWO)
    a = d.wait_pids("a", 2)
    for _ in range(3):
        r = d.call("reloadconfig", waiting=True)
        assert r["status"] == "ok", r
    assert d.alive() and d.pids("a") == a


def test_sequential_reload_waiting(circusd):
    """The sequential reload compared the pid of a process it had just
    freed (watcher.c PH_SEQ_WAIT)."""
    d = circusd(TWO)
    old = d.wait_pids("a", 2)
    r = d.call("reload", name="a", sequential=True, waiting=True)
    assert r["status"] == "ok", r
    new = d.wait_pids("a", 2)
    assert not set(new) & set(old)
    assert all(pid_alive(p) for p in new) and d.alive()


def test_group_commands_with_nothing_to_wait_for(circusd):
    """start/stop/restart of several watchers that complete at once
    answered (and freed) the request before the command returned."""
    d = circusd(TWO)
    d.wait_pids("a", 2)
    assert d.call("start", waiting=True)["status"] == "ok"
    assert d.call("start", name="*", waiting=True)["status"] == "ok"
    assert d.call("stop", name="*", waiting=True)["status"] == "ok"
    assert d.call("stop", name="*", waiting=True)["status"] == "ok"
    assert d.call("stop", waiting=True)["status"] == "ok"
    assert d.status("a") == "stopped" and d.status("b") == "stopped"
    assert d.call("restart", name="*", waiting=True)["status"] == "ok"
    d.wait_pids("a", 2)
    assert d.alive()


@pytest.mark.timeout(90)
def test_quit_while_a_group_restart_is_in_flight(circusd):
    """quit ended the loop with operations still queued; freeing the
    watchers ran their callbacks on freed watchers and requests."""
    d = circusd(TWO)
    d.wait_pids("a", 2)
    d.client.cast("restart", name="*")
    r = d.call("quit", waiting=True)
    assert r["status"] in ("ok", "error"), r
    assert d.wait_exit(30) == 0


@pytest.mark.timeout(90)
def test_quit_during_a_paced_start(circusd):
    """A start pacing its spawns (warmup_delay) waited for spawns that a
    stopping arbiter never makes, and `quit` queued behind it hung."""
    d = circusd("""
    [watcher:slow]
    cmd = /bin/sleep 3600
    numprocesses = 4
    warmup_delay = 2
    autostart = false
    """)
    d.client.cast("start", name="slow")
    wait_until(lambda: len(d.pids("slow")) >= 1, 20)
    t0 = time.monotonic()
    d.client.cast("quit")
    assert d.wait_exit(30) == 0
    assert time.monotonic() - t0 < 20


def test_decr_while_an_incr_is_in_flight(circusd):
    """A newer count waited behind a scale operation that could never
    reach the older one: 3 processes ran for a watcher set to 1."""
    d = circusd("""
    [watcher:paced]
    cmd = /bin/sleep 3600
    warmup_delay = 1
    """)
    d.wait_pids("paced", 1)
    assert d.call("incr", name="paced", nb=5)["status"] == "ok"
    wait_until(lambda: len(d.pids("paced")) >= 2, 20)
    assert d.call("decr", name="paced", nb=5)["status"] == "ok"
    d.wait_pids("paced", 1, timeout=20)
    r = d.call("decr", name="paced", nb=0, waiting=True, timeout=20)
    assert r["numprocesses"] == 1, r
    assert len(d.pids("paced")) == 1


def test_non_string_name_selects_nothing(circusd):
    """A "name" of the wrong type is a name that matches nothing (Circus:
    'name' in props), never the no-name form that acts on every watcher
    (restart: the whole daemon)."""
    d = circusd(TWO)
    a = d.wait_pids("a", 2)
    for cmd in ("start", "stop", "restart", "reload"):
        for name in (123, None, [1], {"x": 1}, True, 1.5):
            r = d.call(cmd, name=name, waiting=True)
            assert_error(r, 3)
            assert "not found" in r["reason"], (cmd, name, r)
    assert d.status("a") == "active" and d.pids("a") == a
    assert d.status("b") == "active"
    assert d.alive()


@pytest.mark.timeout(120)
def test_full_restart_while_a_start_waits_for_its_warmup(circusd):
    """A start of several watchers waiting on its warmup timer outlived
    the arbiter that a full `restart` freed; the timer then fired in the
    new arbiter's loop on the freed watchers."""
    d = circusd("""
    [watcher:a]
    cmd = /bin/sleep 3600

    [watcher:b]
    cmd = /bin/sleep 3600

    [watcher:c]
    cmd = /bin/sleep 3600
    """, circus={"warmup_delay": 2})
    assert d.status("c") == "stopped"      # the boot start waits to reach c
    m = d.events.mark()
    r = d.call("restart", waiting=True, timeout=60)
    assert r["status"] == "ok", r
    # the new arbiter starts a, b, c two seconds apart: the old timer
    # would have fired by the time c starts
    d.events.wait_event("c", "start", since=m, timeout=60)
    assert d.alive()
    assert d.call("status")["statuses"] == {"a": "active", "b": "active",
                                            "c": "active"}


@pytest.mark.timeout(120)
def test_rm_of_a_watcher_a_group_restart_still_names(circusd, wd):
    """rm freed a watcher that a restart of several still listed; the
    restart then sorted and started the freed watcher."""
    slow = wd.script("slow.py", WORKER_IGNORE_TERM)
    d = circusd("""
    [watcher:a]
    cmd = %s %s/a.pid
    graceful_timeout = 2

    [watcher:b]
    cmd = /bin/sleep 3600
    """ % (slow, wd))
    wait_until(lambda: (wd / "a.pid").exists(), 20)
    d.wait_pids("b", 1)
    m = d.events.mark()
    d.client.cast("restart", name="*")          # a takes 2 s to stop
    d.events.wait_event("b", "stop", since=m, timeout=20)
    assert d.call("rm", name="b", waiting=True)["status"] == "ok"
    d.events.wait_event("a", "start", since=m, timeout=30)
    assert d.alive()
    assert d.call("status")["statuses"] == {"a": "active"}
    assert len(d.pids("a")) == 1
