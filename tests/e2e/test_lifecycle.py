# SPDX-License-Identifier: Apache-2.0
"""Daemon and process lifecycle, including where we deliberately do better
than Circus (doc/design.md): no global lock, instant reaping, crash
back-off, whole-tree stops, signals never lost."""

import json
import os
import signal
import time

import pytest

from conftest import (WORKER_DUMP, WORKER_IGNORE_TERM, WORKER_TREE,
                      assert_ok, kill_script_procs, group_members, pid_alive, proc_environ, proc_stat,
                      timed_call, wait_until)

AT_ONCE = 1.0  # seconds: "answers at once" on a slow, noisy 2-core machine


def read_pid_file(path):
    return [int(x) for x in path.read_text().split()]


# --------------------------------------------------------------------------
# doc/design.md §1: no global lock


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_long_graceful_stop_does_not_block_other_watchers(circusd, wd):
    cmd = wd.script("ign.py", WORKER_IGNORE_TERM)
    d = circusd("""
    [watcher:a]
    cmd = %s %s/a.ready
    graceful_timeout = 30

    [watcher:b]
    cmd = /bin/sleep 3600
    graceful_timeout = 5
    """ % (cmd, wd.path))
    [apid] = d.wait_pids("a", 1)
    wait_until(lambda: (wd / "a.ready").exists(), 20, msg="a ignores SIGTERM")
    d.wait_pids("b", 1)
    m = d.events.mark()

    t0 = time.monotonic()
    dt, r = timed_call(d.client, "stop", name="a")
    assert r["status"] == "ok", r
    assert dt < AT_ONCE, "stop a took %.2f s" % dt
    d.events.wait_event("a", "kill", m, pid=apid)
    assert d.status("a") == "stopping"

    dt, r = timed_call(d.client, "status")
    assert dt < AT_ONCE and r["statuses"] == {"a": "stopping", "b": "active"}, (dt, r)
    dt, r = timed_call(d.client, "list")
    assert dt < AT_ONCE and r["watchers"] == ["a", "b"], (dt, r)
    dt, r = timed_call(d.client, "list", name="a")
    assert dt < AT_ONCE and r["status"] == "ok", (dt, r)
    dt, r = timed_call(d.client, "incr", name="b")
    assert dt < AT_ONCE, "incr b took %.2f s" % dt
    assert r["status"] == "ok", r
    d.wait_pids("b", 2, timeout=10)
    for cmd_, props in [("stats", {"name": "b"}), ("options", {"name": "b"}),
                        ("get", {"name": "a", "keys": ["graceful_timeout"]}),
                        ("numprocesses", {}), ("globaloptions", {}),
                        ("dstats", {})]:
        dt, r = timed_call(d.client, cmd_, **props)
        assert dt < AT_ONCE and r["status"] == "ok", (cmd_, dt, r)
    dt, r = timed_call(d.client, "stop", name="b")
    assert dt < AT_ONCE, "stop b took %.2f s" % dt
    assert r["status"] == "ok", r
    d.events.wait_event("b", "stop", m, timeout=10)
    assert d.status("b") == "stopped"
    # all that happened while A was still waiting for its graceful timeout
    assert pid_alive(apid), "a's process died early"
    assert d.status("a") == "stopping"
    assert time.monotonic() - t0 < 25

    reap = d.events.wait_event("a", "reap", m, pid=apid, timeout=60)
    elapsed = reap.t - t0
    assert 28 <= elapsed <= 40, "SIGKILL after %.1f s, expected ~30" % elapsed
    assert reap.body["exit_code"] == -9
    kills = [e for e in d.events.since(m, "a", "kill")]
    assert len(kills) == 2 and kills[1].t - t0 >= 28
    d.events.wait_event("a", "stop", m, timeout=10)
    assert d.status("a") == "stopped"


def test_same_watcher_commands_queue_not_refused(circusd, wd):
    """Commands on a watcher busy with a slow stop wait their turn (FIFO)."""
    cmd = wd.script("ign.py", WORKER_IGNORE_TERM)
    d = circusd("""
    [watcher:a]
    cmd = %s %s/a.ready
    graceful_timeout = 3
    """ % (cmd, wd.path))
    [apid] = d.wait_pids("a", 1)
    wait_until(lambda: (wd / "a.ready").exists(), 20)
    m = d.events.mark()
    assert d.call("stop", name="a")["status"] == "ok"
    d.events.wait_event("a", "kill", m)
    r = d.call("start", name="a", waiting=True, timeout=60)
    assert r["status"] == "ok", r          # never errno 5
    assert len(r["info"]["started"]) == 1, r
    assert d.status("a") == "active"
    d.events.wait_event("a", "start", m)
    acts = [e.action for e in d.events.since(m, "a")]
    assert acts == ["kill", "kill", "reap", "stop", "spawn", "start"], acts


@pytest.mark.timeout(120)
def test_sigterm_during_long_stop_is_not_lost(circusd, wd):
    cmd = wd.script("ign.py", WORKER_IGNORE_TERM)
    d = circusd("""
    [watcher:a]
    cmd = %s %s/a.ready
    graceful_timeout = 5
    """ % (cmd, wd.path))
    [apid] = d.wait_pids("a", 1)
    wait_until(lambda: (wd / "a.ready").exists(), 20)
    m = d.events.mark()
    d.call("stop", name="a")
    d.events.wait_event("a", "kill", m)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(60) == 0
    assert not pid_alive(apid)


# --------------------------------------------------------------------------
# doc/design.md §5: instant reaping


def test_dead_process_reaped_and_replaced_at_once(circusd):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    numprocesses = 2
    """, check_delay=30)
    victim, other = d.pids("w")
    m = d.events.mark()
    t0 = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    reap = d.events.wait_event("w", "reap", m, pid=victim, timeout=20)
    spawn = d.events.wait_event("w", "spawn", m, timeout=20)
    assert reap.body["exit_code"] == -9
    assert reap.t - t0 < AT_ONCE, "reap after %.2f s" % (reap.t - t0)
    assert spawn.t - t0 < AT_ONCE, "respawn after %.2f s" % (spawn.t - t0)
    new = spawn.body["process_pid"]
    assert pid_alive(new)
    assert sorted(d.pids("w")) == sorted([other, new])
    assert proc_stat(victim) is None, "victim left as a zombie"


EXIT_ON_FILE = r'''
import os, sys, time
trigger = sys.argv[1]
while not os.path.exists(trigger):
    time.sleep(0.05)
os.unlink(trigger)
sys.exit(int(sys.argv[2]))
'''


def test_process_exiting_on_its_own_is_replaced_at_once(circusd, wd):
    d = circusd("""
    [watcher:w]
    cmd = %s %s/go 7
    """ % (wd.script("exit.py", EXIT_ON_FILE), wd.path), check_delay=30)
    [pid] = d.wait_pids("w", 1)
    m = d.events.mark()
    t0 = time.monotonic()
    (wd / "go").write_text("")
    reap = d.events.wait_event("w", "reap", m, pid=pid, timeout=20)
    spawn = d.events.wait_event("w", "spawn", m, timeout=20)
    assert reap.body["exit_code"] == 7
    assert spawn.t - t0 < 2 * AT_ONCE, "respawn after %.2f s" % (spawn.t - t0)


# --------------------------------------------------------------------------
# doc/design.md §5: crash loops never spin


def crash_loop_daemon(circusd, cmd="/bin/false"):
    return circusd("""
    [watcher:crash]
    cmd = %s
    respawn = true

    [watcher:calm]
    cmd = /bin/sleep 3600
    """ % cmd, check_delay=30)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cmd", ["/bin/false", "false"])
def test_crash_loop_is_bounded(circusd, cmd):
    """`cmd = false` (found through the default PATH) and respawn: bounded
    spawns per second, growing gaps; the daemon stays responsive."""
    d = crash_loop_daemon(circusd, cmd)
    m = d.events.mark()
    first = d.events.wait_event("crash", "spawn", 0, timeout=20)
    window = 6.0
    t_end = first.t + window
    # observe for a fixed window, answering commands meanwhile
    while time.monotonic() < t_end:
        dt, r = timed_call(d.client, "status", name="calm")
        assert r["status"] == "active" and dt < AT_ONCE, (dt, r)
        time.sleep(0.2)  # pacing of the observation loop, not a state wait
    spawns = [e for e in d.events.since(0, "crash", "spawn")
              if first.t <= e.t <= t_end]
    reaps = [e for e in d.events.since(0, "crash", "reap")
             if first.t <= e.t <= t_end]
    assert len(spawns) >= 3, "not respawned: %d spawns" % len(spawns)
    assert len(spawns) <= 20, "%d spawns in %.0f s: spinning" % (len(spawns), window)
    assert all(e.body["exit_code"] == 1 for e in reaps), [e.body for e in reaps]
    # the gaps grow (exponential back-off), not a fixed fast rate
    times = [e.t for e in spawns]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) >= 4 * min(gaps), gaps
    assert d.alive()
    del m


@pytest.mark.timeout(120)
def test_crash_loop_backoff_visible_in_status(circusd):
    d = crash_loop_daemon(circusd)
    d.events.wait_count("crash", "spawn", 4, 0, timeout=30)

    def shows_backoff():
        texts = []
        for cmd_, props in [("status", {"name": "crash"}), ("status", {}),
                            ("list", {"name": "crash"}), ("list", {}),
                            ("stats", {"name": "crash"})]:
            raw, _ = d.call_raw(cmd_, props)
            texts.append(raw.decode().lower())
        blob = " ".join(texts)
        return any(w in blob for w in ("backoff", "back-off", "backing", "back_off"))
    wait_until(shows_backoff, 20, 0.2,
               msg="status/list of a crash-looping watcher mention back-off")


# --------------------------------------------------------------------------
# daemon signals, quit, pidfile


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_terminating_signals_stop_watchers_and_exit_0(circusd, signum):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    numprocesses = 2
    """)
    pids = d.pids("w")
    m = d.events.mark()
    d.signal(signum)
    assert d.wait_exit(60) == 0
    assert not any(pid_alive(p) for p in pids)
    d.events.wait_event("w", "stop", m, timeout=10)


def test_quit_waiting_replies_then_exits_0(circusd):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    numprocesses = 3
    """)
    pids = d.pids("w")
    r = d.call("quit", waiting=True, timeout=60)
    assert_ok(r, [])
    assert not any(pid_alive(p) for p in pids)
    assert d.wait_exit(30) == 0


def test_quit_without_waiting(circusd):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """)
    [pid] = d.pids("w")
    assert_ok(d.call("quit"), [])
    assert d.wait_exit(60) == 0
    assert not pid_alive(pid)


def test_sighup_reloads_all_without_rereading_config(circusd):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    numprocesses = 2

    [watcher:v]
    cmd = /bin/sleep 3600
    """)
    old_w, old_v = d.pids("w"), d.pids("v")
    d.write_ini("""
    [watcher:w]
    cmd = /bin/sleep 3600
    numprocesses = 5
    """)
    m = d.events.mark()
    d.signal(signal.SIGHUP)
    d.events.wait_event("w", "reload", m, timeout=30)
    d.events.wait_event("v", "reload", m, timeout=30)
    assert d.alive()
    new_w = d.pids("w")
    assert len(new_w) == 2 and not set(new_w) & set(old_w)
    assert d.pids("v") and not set(d.pids("v")) & set(old_v)
    assert d.call("list")["watchers"] == ["v", "w"]


def test_sigwinch_ignored_sigpipe_harmless(circusd):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """)
    d.signal(signal.SIGWINCH)
    d.signal(signal.SIGPIPE)
    assert_ok(d.call("numwatchers"))
    assert d.alive()


def test_pidfile_created_and_removed(circusd, wd):
    pidfile = wd / "run" / "circusd.pid"
    pidfile.parent.mkdir()
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, circus={"pidfile": str(pidfile)})
    assert pidfile.read_text() == "%d\n" % d.pid
    assert (pidfile.stat().st_mode & 0o777) == 0o644
    assert d.quit() == 0
    assert not pidfile.exists()


def test_pidfile_flag_overrides_ini(circusd, wd):
    ini_pf = wd / "ini.pid"
    flag_pf = wd / "flag.pid"
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, circus={"pidfile": str(ini_pf)}, args=["--pidfile", str(flag_pf)])
    assert flag_pf.read_text() == "%d\n" % d.pid
    assert not ini_pf.exists()
    assert d.quit() == 0
    assert not flag_pf.exists()


def test_pidfile_of_live_process_refuses_start(circusd, wd):
    from conftest import run_circusd
    pf = wd / "busy.pid"
    pf.write_text("%d\n" % os.getpid())
    d = circusd("", circus={"pidfile": str(pf)}, start=False)
    r = run_circusd([d.ini], timeout=30)
    assert r.returncode != 0
    assert str(pf) in r.stdout + r.stderr
    assert pf.read_text() == "%d\n" % os.getpid()


def test_stale_pidfile_is_overwritten(circusd, wd):
    pf = wd / "stale.pid"
    pf.write_text("999999999\n")
    d = circusd("", circus={"pidfile": str(pf)})
    assert pf.read_text() == "%d\n" % d.pid


def test_pidfile_directory_missing(circusd, wd):
    from conftest import run_circusd
    d = circusd("", circus={"pidfile": str(wd / "nodir" / "x.pid")}, start=False)
    r = run_circusd([d.ini], timeout=30)
    assert r.returncode != 0
    assert "nodir" in r.stdout + r.stderr


# --------------------------------------------------------------------------
# the child's world (doc/design.md §3) and whole-tree stops (§8)


def test_child_process_contract(circusd, wd):
    cmd = wd.script("dump.py", WORKER_DUMP)
    d = circusd("""
    [watcher:w]
    cmd = %s %s/out.json
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("w", 1)
    wait_until(lambda: (wd / "out.json").exists(), 20)
    info = json.loads((wd / "out.json").read_text())
    assert info["pid"] == pid
    assert info["ppid"] == d.pid
    assert info["sid"] == pid and info["pgid"] == pid  # own session leader
    env = proc_environ(pid)
    env.pop("__name__", None)
    assert env == {}, env                               # copy_env = false
    assert info["cwd"] == str(wd.path)                  # circusd's cwd
    assert info["fds"] == [0, 1, 2, 3] or info["fds"][:3] == [0, 1, 2]
    assert len(info["fds"]) <= 4, info["fds"]           # fds >= 3 closed
    assert os.readlink("/proc/%d/fd/0" % pid) == "/dev/null"  # close_child_stdin


def test_program_found_through_default_path(circusd):
    d = circusd("""
    [watcher:w]
    cmd = sleep 3600
    """)
    [pid] = d.wait_pids("w", 1)
    assert pid_alive(pid)
    assert d.status("w") == "active"


def _tree_daemon(circusd, wd, stop_children):
    cmd = wd.script("tree.py", WORKER_TREE)
    return circusd("""
    [watcher:tree]
    cmd = %s %s/tree.pids 3
    graceful_timeout = 2
    stop_children = %s
    """ % (cmd, wd.path, "true" if stop_children else "false"))


@pytest.mark.parametrize("stop_children", [False, True])
def test_whole_tree_stops(circusd, wd, stop_children):
    """doc/design.md §8: the SIGKILL escalation signals the whole process group
    and a watcher is stopped only when its group is empty (the
    grandchildren ignore SIGTERM; their parent exits on it)."""
    d = _tree_daemon(circusd, wd, stop_children)
    [pid] = d.wait_pids("tree", 1)
    wait_until(lambda: (wd / "tree.pids").exists(), 20)
    kids = read_pid_file(wd / "tree.pids")
    assert all(pid_alive(k) for k in kids)
    try:
        r = d.call("stop", name="tree", waiting=True, timeout=60)
        assert r["status"] == "ok", r
        alive = [p for p in [pid] + kids if pid_alive(p)]
        assert alive == [], "still running after stop: %s" % alive
        assert group_members(pid) == []
    finally:
        kill_script_procs(wd, "tree.py")


def test_quit_stops_whole_trees(circusd, wd):
    d = _tree_daemon(circusd, wd, False)
    [pid] = d.wait_pids("tree", 1)
    wait_until(lambda: (wd / "tree.pids").exists(), 20)
    kids = read_pid_file(wd / "tree.pids")
    try:
        assert d.quit() == 0
        alive = [p for p in [pid] + kids if pid_alive(p)]
        assert alive == [], "still running after quit: %s" % alive
    finally:
        kill_script_procs(wd, "tree.py")


# --------------------------------------------------------------------------
# scale


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_thousand_processes_spawn_and_stop_cleanly(circusd):
    d = circusd("""
    [watcher:many]
    cmd = /bin/sleep 3600
    numprocesses = 1000
    graceful_timeout = 20

    [watcher:one]
    cmd = /bin/sleep 3600
    """)
    pids = wait_until(lambda: (lambda p: p if len(p) == 1000 else None)(
        d.pids("many")), 180, 0.5, msg="1000 pids listed")
    assert len(set(pids)) == 1000
    assert all(pid_alive(p) for p in pids)
    assert d.call("numprocesses", name="many")["numprocesses"] == 1000
    assert d.call("status", name="many")["status"] == "active"
    # still responsive
    dt, r = timed_call(d.client, "status", name="one")
    assert r["status"] == "active" and dt < 5
    st = d.call("stats", name="many", timeout=60)
    assert st["status"] == "ok" and len(st["info"]) == 1000
    m = d.events.mark()
    r = d.call("stop", name="many", waiting=True, timeout=180)
    assert r["status"] == "ok", r
    assert d.status("many") == "stopped"
    assert d.pids("many") == []
    wait_until(lambda: not any(pid_alive(p) for p in pids), 60, 0.5,
               msg="all 1000 processes gone")
    # (events are not counted: a burst of 2000 may exceed the PUB high-water
    # mark, which drops by design)
    del m
    assert d.pids("one") and d.status("one") == "active"
    # and they come back
    r = d.call("start", name="many", waiting=True, timeout=180)
    assert len(r["info"]["started"]) == 1000
    pids2 = d.pids("many")
    assert d.quit(120) == 0
    assert not any(pid_alive(p) for p in pids2)
