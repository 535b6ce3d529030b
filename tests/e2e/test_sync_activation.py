# SPDX-License-Identifier: Apache-2.0
"""The sync worker as a worker circusd can bounce (doc/workers.md): its
socket from socket activation (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES and
--socket NAME), strict parsing of those variables, the sd_notify datagrams
(READY=1, WATCHDOG=1 every WATCHDOG_USEC / 2, STOPPING=1 on SIGTERM), and a
request in flight when circusd stops it is answered."""

import os
import signal
import socket
import subprocess
import time

import pytest
import requests

import synclib
from conftest import wait_until
from sdlib import NotifySocket, at_3_and_up, finish, spawn
from sync_server import SYNCSERVER, _Base, free_tcp_port, write_ini


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def sync_ini(wd, port=1):
    ini = wd / "sync.ini"
    write_ini(ini, {"syncserver": {"public_url": "http://127.0.0.1:%d" % port,
                                   "secret": "abc",
                                   "sqluri": "sqlite:///" + str(wd / "db")}})
    return str(ini)


def heartbeat(port):
    try:
        return requests.get("http://127.0.0.1:%d/__lbheartbeat__" % port,
                            timeout=10).status_code == 200
    except requests.RequestException:
        return False


def run(wd, args=(), env=None, timeout=60):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("LISTEN_", "NOTIFY_", "WATCHDOG_"))}
    e.update(env or {})
    return subprocess.run([str(SYNCSERVER), "--config", sync_ini(wd)]
                          + list(args), env=e, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("pick", [None, "sync"])
def test_listen_fds_of_this_pid_and_the_named_socket(wd, pick):
    """LISTEN_PID is the worker's own pid: the sockets are its; --socket
    picks one by its LISTEN_FDNAMES name, else the first is served."""
    other, sync = listener(), listener()
    ns = NotifySocket()
    try:
        p = spawn([str(SYNCSERVER), "--config", sync_ini(wd)]
                  + (["--socket", pick] if pick else []),
                  env={"LISTEN_FDS": "2", "LISTEN_FDNAMES": "other:sync",
                       "NOTIFY_SOCKET": ns.address},
                  listen_pid=True, pass_fds=(3, 4),
                  preexec_fn=lambda: at_3_and_up(other.fileno(),
                                                 sync.fileno()))
        ns.recv_until("READY=1", timeout=30)
        served = (sync if pick else other).getsockname()[1]
        assert heartbeat(served)
        p.send_signal(signal.SIGTERM)
        assert finish(p) == 0
    finally:
        ns.close()
        other.close()
        sync.close()


def test_listen_fds_of_another_pid_are_ignored(wd):
    """LISTEN_PID names another process: the variables are not for this
    one (inherited by mistake), so fd 3 is not taken."""
    s = listener()
    try:
        env = {"LISTEN_FDS": "1", "LISTEN_PID": "1"}
        r = subprocess.run([str(SYNCSERVER), "--config", sync_ini(wd)],
                           env=env, capture_output=True, text=True,
                           timeout=60, pass_fds=(3,),
                           preexec_fn=lambda: at_3_and_up(s.fileno()))
        assert r.returncode == 1, r
        assert "LISTEN_PID 1 is not this process" in r.stdout + r.stderr
        assert "no socket: give --fd, LISTEN_FDS or --listen" in r.stderr
    finally:
        s.close()


@pytest.mark.parametrize("env,args,what", [
    ({"LISTEN_FDS": "2x"}, [], "LISTEN_FDS: not an integer in [0, 4096]: "
     "'2x'"),
    ({"LISTEN_FDS": "-1"}, [], "LISTEN_FDS: not an integer"),
    ({"LISTEN_FDS": "1", "LISTEN_PID": "me"}, [],
     "LISTEN_PID: not an integer"),
    ({"LISTEN_FDS": "1", "LISTEN_FDNAMES": "a:b"}, ["--socket", "c"],
     "--socket c: not among the 1 socket(s) of LISTEN_FDNAMES 'a:b'"),
    ({"LISTEN_FDS": "1"}, ["--socket", "c"], "--socket c: no LISTEN_FDNAMES"),
    ({}, ["--socket", "c"], "--socket c: no LISTEN_FDS"),
    ({"WATCHDOG_USEC": "soon"}, ["--listen", "127.0.0.1:0"],
     "WATCHDOG_USEC: not an integer"),
    ({}, ["--fd", "three"], "--fd: not an integer"),
    ({}, ["--threads", "0", "--listen", "127.0.0.1:0"],
     "--threads: not an integer in [1, 64]: '0'"),
])
def test_bad_values_are_named(wd, env, args, what):
    r = run(wd, args, env)
    assert r.returncode in (1, 2), r
    assert what in r.stderr, r.stderr


def test_watchdog_pings_and_stopping(wd):
    """WATCHDOG_USEC set: WATCHDOG=1 at half that period from the main
    loop; SIGTERM: STOPPING=1, then exit 0."""
    port = free_tcp_port()
    ns = NotifySocket()
    try:
        p = spawn([str(SYNCSERVER), "--config", sync_ini(wd, port),
                   "--listen", "127.0.0.1:%d" % port],
                  env={"NOTIFY_SOCKET": ns.address,
                       "WATCHDOG_USEC": "200000"})
        ns.recv_until("READY=1", timeout=30)
        deadline = time.monotonic() + 30
        while ns.msgs.count("WATCHDOG=1") < 3:
            assert time.monotonic() < deadline, ns.msgs
            ns.recv_one(1.0)
        p.send_signal(signal.SIGTERM)
        ns.recv_until("STOPPING=1")
        assert finish(p) == 0
        # without WATCHDOG_USEC there is no ping at all
        ns.msgs.clear()
        p = spawn([str(SYNCSERVER), "--config", sync_ini(wd, port),
                   "--listen", "127.0.0.1:%d" % port],
                  env={"NOTIFY_SOCKET": ns.address})
        ns.recv_until("READY=1", timeout=30)
        p.send_signal(signal.SIGTERM)
        ns.recv_until("STOPPING=1")
        assert finish(p) == 0
        assert "WATCHDOG=1" not in ns.msgs, ns.msgs
    finally:
        ns.close()


class _Node(_Base):
    """sync.ini and Hawk clients for a worker that circusd runs."""

    def __init__(self, tmpdir):
        self._configure(tmpdir, {})

    def stop(self):
        pass


def test_stop_under_circusd_answers_the_request_in_flight(circusd, wd):
    """Socket activation only (no $(circus.sockets.X)): the worker picks
    its socket by name among two. A request whose body is half sent when
    circusd stops the watcher is answered 200, and the worker exits well
    before graceful_timeout (no SIGKILL)."""
    node = _Node(wd.path)
    log = wd / "sync.log"
    d = circusd("""
    [socket:aaa]
    host = 127.0.0.1
    port = 0

    [socket:sync]
    host = 127.0.0.1
    port = %d

    [watcher:sync]
    cmd = %s --config %s --socket sync
    use_sockets = true
    graceful_timeout = 120
    stderr_stream.class = FileStream
    stderr_stream.filename = %s
    stdout_stream.class = FileStream
    stdout_stream.filename = %s
    """ % (node.port, SYNCSERVER, node.ini, log, log))
    (pid,) = d.wait_pids("sync", 1)
    wait_until(lambda: heartbeat(node.port), timeout=30)
    c = node.client(5)
    url = node.url + "/1.5/5/storage/c"
    body = b'[{"id": "inflight", "payload": "x"}]'
    auth = synclib.hawk_header(c.token, c.key, "POST", url, body,
                               "application/json")
    conn = socket.create_connection(("127.0.0.1", node.port), timeout=60)
    try:
        conn.sendall(("POST /1.5/5/storage/c HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: %s\r\nContent-Type: application/json"
                      "\r\nExpect: 100-continue\r\n"
                      "Content-Length: %d\r\n\r\n" % (auth, len(body)))
                     .encode())
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = conn.recv(4096)
            assert chunk, got
            got += chunk
        assert got.startswith(b"HTTP/1.1 100"), got
        conn.sendall(body[:10])
        r = d.call("stop", name="sync")
        assert r["status"] == "ok", r
        # the worker got the stop signal and is draining
        wait_until(lambda: "draining" in log.read_text(), timeout=30)
        assert d.status("sync") != "stopped"
        conn.sendall(body[10:])
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    finally:
        conn.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply
    assert b'"success":["inflight"]' in reply
    # gone by itself, long before the 120 s SIGKILL
    d.wait_status("sync", "stopped", timeout=60)
    assert "SIGKILL" not in d.log_text()
