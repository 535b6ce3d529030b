# SPDX-License-Identifier: Apache-2.0
"""Starting circusd: `--daemon` exits 1 with the error on stderr when the
daemon cannot get past loading and binding (0 once it runs); the pidfile
message of a live daemon; ipc endpoint directories and socket files."""

import os
import signal
import socket
import stat

from conftest import (Client, free_tcp_port, pid_alive, run_circusd,
                      wait_until)


def ini(wd, name, endpoint, pubsub, body="[watcher:w]\ncmd = /bin/sleep 3600\n"):
    return wd.write(name, "[circus]\nendpoint = %s\npubsub_endpoint = %s\n"
                    "multicast_endpoint =\n\n%s" % (endpoint, pubsub, body),
                    dedent=False)


def ipc(wd, name):
    return "ipc://%s/%s" % (wd.path, name)


def test_daemon_with_a_refused_config_exits_1(wd):
    path = ini(wd, "bad.ini", ipc(wd, "c.sock"), ipc(wd, "p.sock"),
               "[watcher:w]\ncmd = /bin/sleep 3600\nnumprocesses = x\n")
    pidfile = wd / "circusd.pid"
    r = run_circusd(["--daemon", "--pidfile", pidfile, path])
    assert r.returncode == 1, r
    assert "bad.ini:8" in r.stderr and "numprocesses" in r.stderr, r
    assert not pidfile.exists()


def test_daemon_with_the_pubsub_port_in_use_exits_1(wd):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        path = ini(wd, "c.ini", "tcp://127.0.0.1:%d" % free_tcp_port(),
                   "tcp://127.0.0.1:%d" % port)
        r = run_circusd(["--daemon", "--pidfile", wd / "circusd.pid", path])
    finally:
        busy.close()
    assert r.returncode == 1, r
    assert "cannot bind pubsub_endpoint tcp://127.0.0.1:%d" % port \
        in r.stderr, r
    assert not (wd / "circusd.pid").exists()


def test_pidfile_held_by_a_live_daemon(circusd, wd):
    pidfile = wd / "held.pid"
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, args=["--pidfile", str(pidfile)])
    assert pidfile.read_text().strip() == str(d.pid)
    other = ini(wd, "other.ini", ipc(wd, "c2.sock"), ipc(wd, "p2.sock"))
    for args in (["--daemon", "--pidfile", pidfile, other],
                 ["--pidfile", pidfile, other]):
        r = run_circusd(args)
        assert r.returncode == 1, r
        assert "pidfile '%s' is in use: pid %d is running" % (pidfile, d.pid) \
            in r.stderr, r
        assert "stale" not in r.stderr + r.stdout, r
    assert d.alive() and pidfile.read_text().strip() == str(d.pid)


def test_daemon_that_starts_exits_0_and_runs(wd):
    ctl = ipc(wd, "run/circus/ctl.sock")
    pub = ipc(wd, "run/circus/pub.sock")
    path = ini(wd, "c.ini", ctl, pub)
    pidfile = wd / "circusd.pid"
    r = run_circusd(["--daemon", "--pidfile", pidfile, path])
    try:    # (a build that returns early writes it a moment later)
        pid = int(wait_until(lambda: pidfile.exists() and
                             pidfile.read_text().strip(), 10))
    except AssertionError:
        pid = None
    c = Client(ctl)
    try:
        assert r.returncode == 0, r
        assert r.stderr == "", r
        assert c.call("status")["status"] == "ok"
        # the endpoints' missing directories were created owner-only
        for d in (wd / "run", wd / "run/circus"):
            assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
        assert (wd / "run/circus/ctl.sock").exists()
        assert (wd / "run/circus/pub.sock").exists()
        assert c.call("quit", waiting=True, timeout=60)["status"] == "ok"
        wait_until(lambda: not pid_alive(pid), 60, msg="daemon exited")
        # a clean exit removes the ipc socket files (and the pidfile)
        assert not (wd / "run/circus/ctl.sock").exists()
        assert not (wd / "run/circus/pub.sock").exists()
        assert not pidfile.exists()
    finally:
        c.close()
        if pid is not None and pid_alive(pid):
            os.kill(pid, signal.SIGTERM)    # it stops its workers
            try:
                wait_until(lambda: not pid_alive(pid), 30)
            except AssertionError:
                os.killpg(pid, signal.SIGKILL)


def test_ipc_endpoint_directory_that_cannot_be_created(wd):
    wd.write("afile", "not a directory\n")
    path = ini(wd, "c.ini", ipc(wd, "afile/run/ctl.sock"), ipc(wd, "p.sock"))
    r = run_circusd([path])
    assert r.returncode == 1, r
    assert "cannot create the directory %s/afile/run of endpoint" % wd.path \
        in r.stderr, r
