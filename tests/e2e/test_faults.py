# SPDX-License-Identifier: Apache-2.0
"""Fault injection, black box: circusd under EMFILE (a low RLIMIT_NOFILE
set on the running daemon), fork failing (an LD_PRELOAD shim of ours), a
missing binary, a port already bound, a stream file on /dev/full, a worker
that closes its stdout, a tree that ignores SIGTERM. For each: a clear
logged error naming what failed, the daemon and the other watchers keep
working, and what `status`/`list` report is what runs."""

import os
import resource
import signal
import socket
import time

import pytest

from conftest import (Client, ini, log_lines_with,
                      pid_alive, run_circusd, wait_until)
from reliability import (assert_state_true, cpu_seconds, fd_count,
                         helper_path, preload_env, wait_no_zombies)

OTHER = """
[watcher:other]
cmd = /bin/sleep 3600
numprocesses = 2
"""


def other_unaffected(d, before):
    """The bystander watcher still runs the very same processes."""
    assert d.status("other") == "active"
    assert d.pids("other") == before
    assert all(pid_alive(p) for p in before)


# --------------------------------------------------------------------------
# EMFILE: spawn (pipes) and accept (new control connections)


@pytest.mark.timeout(150)
def test_emfile_on_spawn_pipes_and_accept(circusd, wd):
    d = circusd(ini(OTHER, """
    [watcher:hog]
    cmd = /bin/sleep 3600
    numprocesses = 1
    max_retry = -1
    stdout_stream.class = FileStream
    stdout_stream.filename = %s/hog.out
    stderr_stream.class = FileStream
    stderr_stream.filename = %s/hog.err
    """ % (wd, wd)))
    other = d.wait_pids("other", 2)
    d.wait_pids("hog", 1)
    spare = d.new_client()          # connected before the limit
    assert spare.call("status")["status"] == "ok"
    soft, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
    n0 = fd_count(d.pid)
    # room for two more streamed processes (2 pipe ends each), no more
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (n0 + 6, hard))
    try:
        r = d.call("incr", name="hog", nb=20)
        assert r["status"] == "ok", r
        wait_until(lambda: log_lines_with(d, "error in 'hog'", "pipe2",
                                          "[Errno 24] Too many open files"),
                   20, msg="spawn error naming the watcher, pipe2, EMFILE")
        # new clients: the daemon sheds what it cannot accept, and lives
        late = [Client(d.endpoint) for _ in range(8)]
        for c in late:
            c.sock.send(b'{"command": "status", "id": "late"}')
        wait_until(lambda: log_lines_with(d, "control channel",
                                          "too many open files"),
                   20, msg="log line about shed control connections")
        assert d.alive()
        # connections made before still work, and tell the truth
        assert spare.call("status")["statuses"] == {"hog": "active",
                                                    "other": "active"}
        seen = assert_state_true(d, ["hog", "other"])
        assert 1 <= len(seen["hog"]) < 21, seen
        other_unaffected(d, other)
    finally:
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (soft, hard))
    # recovery: the retries reach the target, the shed clients get in
    d.wait_pids("hog", 21, timeout=60)
    for c in late:
        assert c.recv_frames(30) is not None, "a shed client never got in"
        c.close()
    spare.close()
    assert_state_true(d, ["hog", "other"])
    other_unaffected(d, other)
    assert d.call("decr", name="hog", nb=20, waiting=True)["numprocesses"] == 1
    d.wait_pids("hog", 1)
    wait_no_zombies(d.pid)


# --------------------------------------------------------------------------
# fork failing (LD_PRELOAD shim failing fork and vfork on demand)


@pytest.mark.timeout(150)
def test_fork_failing_n_times(circusd, wd):
    arm = wd / "failfork"
    arm.write_text("0\n")
    shim = helper_path("failfork")
    d = circusd(ini(OTHER, """
    [watcher:w]
    cmd = /bin/sleep 3600
    numprocesses = 2
    max_retry = 5
    """), env=preload_env(shim, {"FAILFORK_FILE": str(arm)}),
        # the shim fails vfork; in cgroup mode processes come from clone3
        circus={"cgroups": "false"})
    other = d.wait_pids("other", 2)
    d.wait_pids("w", 2)

    # three failures: retried, the target is reached
    arm.write_text("3\n")
    assert d.call("incr", name="w", nb=1)["status"] == "ok"
    pids = d.wait_pids("w", 3, timeout=30)
    assert arm.read_text().strip() == "0"
    lines = log_lines_with(d, "error in 'w'", "vfork",
                           "[Errno 11] Resource temporarily unavailable")
    assert len(lines) == 3, lines
    assert d.status("w") == "active"
    assert all(pid_alive(p) for p in pids)
    other_unaffected(d, other)

    # failing for good: after max_retry the watcher stops, and says so
    arm.write_text("1000\n")
    assert d.call("incr", name="w", nb=1)["status"] == "ok"
    d.wait_status("w", "stopped", timeout=60)
    assert log_lines_with(d, "w: could not spawn a process after")
    assert d.pids("w") == []
    wait_until(lambda: not any(pid_alive(p) for p in pids), 30,
               msg="the stopped watcher's processes are gone")
    other_unaffected(d, other)
    assert_state_true(d, ["w", "other"])

    # fork works again: the watcher starts on demand, the others scale
    arm.write_text("0\n")
    assert d.call("start", name="w", waiting=True)["status"] == "ok"
    d.wait_pids("w", 4)
    assert d.call("incr", name="other", waiting=True)["numprocesses"] == 3
    assert_state_true(d, ["w", "other"])
    wait_no_zombies(d.pid)


# --------------------------------------------------------------------------
# the user database unreachable (LD_PRELOAD shim failing getpw*/getgr*)


def proc_ids(pid):
    """(uid, gid, groups) of a live process, from /proc/PID/status."""
    f = {}
    with open("/proc/%d/status" % pid) as st:
        for line in st:
            k, _, v = line.partition(":")
            f[k] = v.split()
    return (int(f["Uid"][0]), int(f["Gid"][0]),
            sorted(int(g) for g in f["Groups"]))


@pytest.mark.timeout(120)
def test_uid_gid_resolved_once_survive_user_database_outage(circusd, wd):
    """doc/design.md §3: uid/gid (and the user's groups) are resolved when
    the options are set, not at each spawn: with the user database down
    (as when LDAP is unreachable) a crashed worker is still respawned
    under the right ids, and a restart works."""
    if os.geteuid() != 0:
        pytest.skip("running workers as another user needs root")
    import grp
    import pwd
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrnam("daemon")
    want = (nobody.pw_uid, group.gr_gid,
            sorted(set(os.getgrouplist("nobody", group.gr_gid))))
    down = wd / "nss-down"
    d = circusd(ini(OTHER, """
    [watcher:w]
    cmd = /bin/sleep 3600
    uid = nobody
    gid = daemon
    max_retry = 2
    """), env=preload_env(helper_path("failnss"),
                          {"FAILNSS_FILE": str(down)}))
    other = d.wait_pids("other", 2)
    [pid] = d.wait_pids("w", 1)
    assert proc_ids(pid) == want

    down.write_text("")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: d.pids("w") not in ([], [pid]), 20,
               msg="the killed worker respawned")
    [pid2] = d.pids("w")
    assert proc_ids(pid2) == want
    assert d.call("restart", name="w", waiting=True)["status"] == "ok"
    [pid3] = d.wait_pids("w", 1)
    assert pid3 != pid2 and proc_ids(pid3) == want
    assert not log_lines_with(d, "error in 'w'"), d.log_text()
    assert d.status("w") == "active"
    other_unaffected(d, other)


# --------------------------------------------------------------------------
# missing binary, port already bound


@pytest.mark.timeout(120)
def test_missing_binary_runtime(circusd, wd):
    d = circusd(OTHER)
    other = d.wait_pids("other", 2)
    r = d.call("add", name="ghost", cmd="/nonexistent/ghost-e2e --x",
               options={"max_retry": 2}, start=True)
    # the reply is the spawn error; the watcher retries, then gives up
    assert r["status"] == "error" and r["errno"] == 3, r
    assert "error in 'ghost'" in r["reason"], r
    d.wait_status("ghost", "stopped", timeout=30)
    lines = log_lines_with(d, "[ERROR] error in 'ghost'", "[Errno 2]",
                           "/nonexistent/ghost-e2e")
    assert len(lines) == 3, lines          # the try and max_retry retries
    assert log_lines_with(d, "ghost: could not spawn a process after 3")
    # the binary appears: the watcher starts
    target = wd / "ghost"
    target.symlink_to("/bin/sleep")
    assert d.call("set", name="ghost", options={"cmd": "%s 3600" % target},
                  waiting=True)["status"] == "ok"
    assert d.call("start", name="ghost", waiting=True)["status"] == "ok"
    d.wait_pids("ghost", 1)
    other_unaffected(d, other)
    assert_state_true(d, ["ghost", "other"])


def listening_port():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


@pytest.mark.timeout(120)
def test_port_already_bound(circusd, wd):
    busy, port = listening_port()
    try:
        # at start-up: refused with the socket and the port named
        d0 = circusd(ini(OTHER, """
        [socket:web]
        host = 127.0.0.1
        port = %d
        """ % port), start=False)
        r = run_circusd([d0.ini], timeout=60, cwd=str(wd.path))
        out = r.stdout + r.stderr
        assert r.returncode == 1, out
        assert "web" in out and str(port) in out and "in use" in out, out

        # at run time (reloadconfig): logged, the rest keeps running
        d = circusd(OTHER)
        other = d.wait_pids("other", 2)
        d.write_ini(ini(OTHER, """
        [socket:web]
        host = 127.0.0.1
        port = %d

        [watcher:srv]
        cmd = /bin/sleep 3600
        use_sockets = true
        """ % port))
        r = d.call("reloadconfig", waiting=True, timeout=60)
        assert r["status"] in ("ok", "error"), r
        wait_until(lambda: log_lines_with(d, "web", str(port), "in use"),
                   10, msg="a log line naming the socket, port and error")
        assert d.alive()
        other_unaffected(d, other)
        assert_state_true(d, ["other", "srv"])
        # the port is freed: a second reload binds it
        busy.close()
        busy = None
        d.write_ini(ini(OTHER, """
        [socket:web]
        host = 127.0.0.1
        port = %d

        [watcher:srv]
        cmd = /bin/sleep 3600
        use_sockets = true
        """ % port))
        d.call("reloadconfig", waiting=True, timeout=60)
        def bound():
            r = d.call("listsockets")
            return any(s.get("port") == port and s.get("fd", -1) >= 0
                       for s in r.get("sockets", []))
        wait_until(bound, 20, msg="socket web bound once the port is free")
        assert_state_true(d, ["other", "srv"])
    finally:
        if busy is not None:
            busy.close()


# --------------------------------------------------------------------------
# stream sinks and output pipes


CHATTY = r'''
import os, sys, time
n = 0
while True:
    n += 1
    sys.stdout.write("line %d %s\n" % (n, "x" * 200))
    sys.stdout.flush()
    if n % 20 == 0:
        with open(sys.argv[1] + ".tmp", "w") as f:
            f.write(str(n))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(0.005)
'''


def progress(path):
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return 0


@pytest.mark.timeout(120)
def test_stream_file_on_dev_full(circusd, wd):
    cmd = wd.script("chatty.py", CHATTY)
    d = circusd(ini(OTHER, """
    [watcher:chatty]
    cmd = %s %s/progress
    stdout_stream.class = FileStream
    stdout_stream.filename = /dev/full
    """ % (cmd, wd)))
    other = d.wait_pids("other", 2)
    pid = d.wait_pids("chatty", 1)[0]
    wait_until(lambda: log_lines_with(d, "chatty", "/dev/full",
                                      "No space left on device"),
               20, msg="the sink error names the watcher, file and errno")
    # the worker is never blocked by its sink: it keeps making progress
    p0 = wait_until(lambda: progress(wd / "progress"), 20)
    cpu0 = cpu_seconds(d.pid)
    t0 = time.monotonic()
    wait_until(lambda: progress(wd / "progress") >= p0 + 200, 30,
               msg="the worker writes on")
    dropped = d.call("status", name="chatty")
    assert dropped["status"] == "active", dropped
    assert dropped["dropped"]["stdout"]["lines"] > 0, dropped
    # one error line per episode, not one per write
    n_err = len(log_lines_with(d, "chatty", "/dev/full"))
    assert n_err <= 2 + (time.monotonic() - t0), n_err
    # and the daemon does not burn a core to drop it
    busy = (cpu_seconds(d.pid) - cpu0) / max(time.monotonic() - t0, 0.1)
    assert busy < 0.5, "circusd used %.0f%% of a core" % (busy * 100)
    assert d.pids("chatty") == [pid]
    other_unaffected(d, other)
    assert_state_true(d, ["chatty", "other"])


CLOSES_STDOUT = r'''
import os, sys, time
os.close(1)
open(sys.argv[1], "w").close()
n = 0
while True:
    n += 1
    os.write(2, b"still here %d\n" % n)
    time.sleep(0.05)
'''


@pytest.mark.timeout(120)
def test_worker_closes_its_stdout(circusd, wd):
    cmd = wd.script("closer.py", CLOSES_STDOUT)
    d = circusd(ini(OTHER, """
    [watcher:closer]
    cmd = %s %s/closed
    stdout_stream.class = FileStream
    stdout_stream.filename = %s/closer.out
    stderr_stream.class = FileStream
    stderr_stream.filename = %s/closer.err
    """ % (cmd, wd, wd, wd)))
    other = d.wait_pids("other", 2)
    pid = d.wait_pids("closer", 1)[0]
    wait_until(lambda: (wd / "closed").exists(), 20)
    fds = fd_count(d.pid)
    cpu0, t0 = cpu_seconds(d.pid), time.monotonic()
    # its stderr still flows, nothing spins on the closed stdout
    wait_until(lambda: (wd / "closer.err").exists() and
               (wd / "closer.err").read_text().count("still here") >= 30,
               30, msg="stderr lines keep arriving")
    busy = (cpu_seconds(d.pid) - cpu0) / max(time.monotonic() - t0, 0.1)
    assert busy < 0.3, "circusd used %.0f%% of a core" % (busy * 100)
    assert fd_count(d.pid) <= fds
    assert d.pids("closer") == [pid] and d.status("closer") == "active"
    # its death is seen, its pipes closed, a new one replaces it
    os.kill(pid, signal.SIGKILL)
    new = wait_until(lambda: [p for p in d.pids("closer") if p != pid], 20)
    assert len(new) == 1 and pid_alive(new[0])
    other_unaffected(d, other)
    assert_state_true(d, ["closer", "other"])
    wait_no_zombies(d.pid)


# --------------------------------------------------------------------------
# a tree that ignores SIGTERM


TREE_IGNORING_TERM = r'''
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
kids = []
for i in range(3):
    pid = os.fork()
    if pid == 0:
        if i == 2:
            os.setsid()         # one leaves the process group
        while True:
            time.sleep(3600)
    kids.append(pid)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(" ".join(str(k) for k in kids))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(3600)
'''


@pytest.mark.timeout(120)
def test_tree_ignoring_sigterm_is_killed(circusd, wd):
    cmd = wd.script("tree.py", TREE_IGNORING_TERM)
    d = circusd(ini(OTHER, """
    [watcher:tree]
    cmd = %s %s/kids
    graceful_timeout = 1
    """ % (cmd, wd)))
    other = d.wait_pids("other", 2)
    leader = d.wait_pids("tree", 1)[0]
    kids = wait_until(lambda: (wd / "kids").exists() and
                      [int(k) for k in (wd / "kids").read_text().split()], 20)
    assert len(kids) == 3
    t0 = time.monotonic()
    r = d.call("stop", name="tree", waiting=True, timeout=30)
    took = time.monotonic() - t0
    assert r["status"] == "ok", r
    assert took < 15, "stop took %.1f s" % took
    wait_until(lambda: not any(pid_alive(p) for p in [leader] + kids), 15,
               msg="the whole tree is gone")
    assert log_lines_with(d, "tree", "still alive after graceful_timeout",
                          "SIGKILL")
    assert d.status("tree") == "stopped" and d.pids("tree") == []
    other_unaffected(d, other)
    assert_state_true(d, ["tree", "other"])
    wait_no_zombies(d.pid)
