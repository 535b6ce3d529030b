# SPDX-License-Identifier: Apache-2.0
"""The notify-speaking test worker (tests/helpers/notifyworker.c) on its
own, without circusd: the other e2e tests rely on what it says, so what it
says is checked here first (sd_notify datagrams, the LISTEN_* report, the
HTTP answers and the drain on SIGTERM)."""

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import BUILD, wait_until
from sdlib import NotifySocket, at_3_and_up, finish, spawn

NOTIFYWORKER = BUILD / "helpers" / "notifyworker"


@pytest.fixture(scope="module")
def nw():
    if not NOTIFYWORKER.exists():
        pytest.fail("%s does not exist (build it with `make`)" % NOTIFYWORKER,
                    pytrace=False)
    return str(NOTIFYWORKER)


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def http_get(port, timeout=15.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body.decode()


@pytest.mark.parametrize("kind", ["abstract", "path"])
def test_ready_and_status_reach_the_notify_socket(nw, wd, kind):
    ns = NotifySocket(None if kind == "abstract" else str(wd / "notify"))
    try:
        p = spawn([nw, "--status", "warming up", "--ready-after", "0.2"],
                  env={"NOTIFY_SOCKET": ns.address})
        msgs = ns.recv_until("READY=1")
        assert msgs.index("STATUS=warming up") < msgs.index("READY=1")
        p.send_signal(signal.SIGTERM)
        ns.recv_until("STOPPING=1")
        assert finish(p) == 0
    finally:
        ns.close()


def test_never_ready_sends_no_ready(nw):
    ns = NotifySocket()
    try:
        p = spawn([nw, "--never-ready", "--status", "x"],
                  env={"NOTIFY_SOCKET": ns.address})
        ns.recv_until("STATUS=x")
        p.send_signal(signal.SIGTERM)
        ns.recv_until("STOPPING=1")
        assert finish(p) == 0
        assert "READY=1" not in ns.msgs
    finally:
        ns.close()


def test_exit_at_start_prints_then_exits(nw):
    p = subprocess.run([nw, "--stderr", "broken config", "--exit-at-start",
                        "3"], capture_output=True, timeout=30)
    assert p.returncode == 3
    assert p.stderr.decode() == "broken config\n"


def test_bad_option_is_named(nw):
    p = subprocess.run([nw, "--ready-after", "soon"], capture_output=True,
                       timeout=30)
    assert p.returncode == 2
    assert "--ready-after" in p.stderr.decode()


def test_watchdog_pings_then_stops(nw):
    ns = NotifySocket()
    try:
        p = spawn([nw, "--watchdog", "--stop-pinging-after", "1"],
                  env={"NOTIFY_SOCKET": ns.address,
                       "WATCHDOG_USEC": "200000"})
        # a ping every 100 ms during the first second
        deadline = time.monotonic() + 15
        while ns.msgs.count("WATCHDOG=1") < 3:
            assert time.monotonic() < deadline, ns.msgs
            ns.recv_one(1.0)
        # then none: one quiet second (ten periods) ends the wait
        deadline = time.monotonic() + 30
        while ns.recv_one(1.0):
            assert time.monotonic() < deadline, "pings never stopped"
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)
        ns.recv_until("STOPPING=1")
        assert finish(p) == 0
    finally:
        ns.close()


def test_listen_report_without_listen_env(nw, wd):
    report = wd / "report"
    p = spawn([nw, "--listen-report", str(report)])
    wait_until(lambda: report.exists() and report.read_text().endswith("\n"))
    p.send_signal(signal.SIGTERM)
    assert finish(p) == 0
    rec = json.loads(report.read_text())
    assert rec == {"pid": p.pid, "listen_pid": None, "listen_fds": None,
                   "names": [], "fds": []}


def test_listen_report_and_serve_on_listen_fds(nw, wd):
    a, b = listener(), listener()
    report = wd / "report"
    try:
        p = spawn([nw, "--listen-report", str(report), "--serve"],
                  env={"LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:admin"},
                  listen_pid=True, pass_fds=(3, 4),
                  preexec_fn=lambda: at_3_and_up(a.fileno(), b.fileno()))
        wait_until(lambda: report.exists()
                   and report.read_text().endswith("\n"))
        rec = json.loads(report.read_text())
        assert rec["pid"] == p.pid and rec["listen_pid"] == p.pid
        assert rec["listen_fds"] == 2
        assert rec["names"] == ["web", "admin"]
        assert rec["fds"] == [
            {"fd": 3, "family": "inet", "port": a.getsockname()[1]},
            {"fd": 4, "family": "inet", "port": b.getsockname()[1]}]
        for s in (a, b):
            assert http_get(s.getsockname()[1]) == ("HTTP/1.0 200 OK",
                                                    "%d\n" % p.pid)
        p.send_signal(signal.SIGTERM)
        assert finish(p) == 0
    finally:
        a.close()
        b.close()


def test_serve_refuses_listen_fds_of_another_pid(nw):
    p = subprocess.run([nw, "--serve"], capture_output=True, timeout=30,
                       env={"LISTEN_FDS": "1", "LISTEN_PID": "1"})
    assert p.returncode == 2
    assert "LISTEN_PID" in p.stderr.decode()


def test_sigterm_drains_in_flight_requests(nw):
    """A request accepted before SIGTERM is answered; the listening fd is
    closed at once (a new connection is no longer accepted by this
    worker); exit 0 after the answer."""
    s = listener()
    port = s.getsockname()[1]
    ns = NotifySocket()
    try:
        p = spawn([nw, "--serve", "--fd", str(s.fileno()), "--delay-ms",
                   "1500"], env={"NOTIFY_SOCKET": ns.address},
                  pass_fds=(s.fileno(),))
        ns.recv_until("READY=1")
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        c.sendall(b"GET /slow HTTP/1.0\r\n\r\n")
        # the worker has the request once its listening socket's queue is
        # empty and the connection is established on its side: poll the
        # kernel's view rather than sleeping
        wait_until(lambda: _accepted(p.pid, port), timeout=15)
        p.send_signal(signal.SIGTERM)
        ns.recv_until("STOPPING=1")
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        c.close()
        assert data.startswith(b"HTTP/1.0 200 OK\r\n"), data
        assert data.endswith(b"\r\n\r\n%d\n" % p.pid), data
        assert finish(p) == 0
    finally:
        ns.close()
        s.close()


def _accepted(pid, port):
    """Has the worker accepted a connection on port? It then holds a
    socket fd besides the listening one: count its TCP sockets' inodes
    that are established connections to port in /proc/net/tcp."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if (state == "01" and int(local.split(":")[1], 16) == port
                    and inode in inodes):
                return True
    return False
