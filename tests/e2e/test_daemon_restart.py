# SPDX-License-Identifier: Apache-2.0
"""Full `restart` (no watcher name): same process, same endpoints (TCP and
ipc: control, pub/sub, multicast, [socket:*]), the re-read file's watchers,
subscribers connected before keep receiving events; a restart that cannot
bind or re-read keeps the running arbiter and answers an error."""

import json
import socket

import pytest

from conftest import (WORKER_IGNORE_TERM, assert_error, free_tcp_port,
                      pid_alive, wait_until)

MCAST_GROUP = "239.255.13.37"


def started(circusd, transport):
    """(daemon, [socket:web] port, discovery port): BODY on tcp or ipc
    endpoints with multicast discovery, two sleepers running."""
    web, mport = free_tcp_port(), free_tcp_port()
    d = circusd(start=False)
    if transport == "tcp":
        d.endpoint = "tcp://127.0.0.1:%d" % free_tcp_port()
        d.pubsub = "tcp://127.0.0.1:%d" % free_tcp_port()
    rewrite(d, BODY % web, mport)
    d.start()
    d.wait_pids("sleeper", 2)
    return d, web, mport


def rewrite(d, body, mport):
    text = d.write_ini(body)
    d.ini.write_text(text.replace(
        "multicast_endpoint =",
        "multicast_endpoint = udp://%s:%d" % (MCAST_GROUP, mport)))


def discover(port):
    """Ask the discovery socket (unicast to 127.0.0.1) for the endpoint."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(0.5)
        s.sendto(b"hello", ("127.0.0.1", port))
        data, _ = s.recvfrom(1024)
        return json.loads(data)
    except OSError:
        return None
    finally:
        s.close()


def restarted_with(d, name):
    """True once the daemon answers `list` with watcher `name`."""
    try:
        r = d.call("list", timeout=1)
    except AssertionError:
        return False
    return r.get("status") == "ok" and name in r.get("watchers", [])


BODY = """
[watcher:sleeper]
cmd = /bin/sleep 3600
numprocesses = 2

[socket:web]
host = 127.0.0.1
port = %d
"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_full_restart_keeps_pid_endpoints_and_subscribers(circusd, transport):
    d, web, mport = started(circusd, transport)
    pid = d.pid
    old = d.pids("sleeper")
    wait_until(lambda: discover(mport), 20, msg="discovery answers")
    rewrite(d, BODY % web + "\n[watcher:after]\ncmd = /bin/sleep 3600\n",
            mport)
    mark = d.events.mark()
    r = d.call("restart", waiting=True, timeout=60)
    assert r["status"] == "ok", r
    wait_until(lambda: restarted_with(d, "after"), 60, 0.2)
    assert d.pid == pid and d.alive()
    # the subscriber connected before the restart gets the new events
    d.events.wait_event("after", "spawn", since=mark, timeout=30)
    d.events.wait_event("sleeper", "spawn", since=mark, timeout=30)
    new = d.wait_pids("sleeper", 2)
    assert not set(new) & set(old)
    wait_until(lambda: not any(pid_alive(p) for p in old), 15)
    # the same [socket:web] and discovery on the same ports
    [s] = d.call("listsockets")["sockets"]
    assert s["port"] == web, s
    socket.create_connection(("127.0.0.1", web), timeout=10).close()
    assert wait_until(lambda: discover(mport), 20)["endpoint"] == d.endpoint
    assert "cannot bind" not in d.log_text()
    # and again: a second restart on the handed-over sockets
    mark = d.events.mark()
    assert d.call("restart", waiting=True, timeout=60)["status"] == "ok"
    d.events.wait_event("after", "spawn", since=mark, timeout=30)
    assert d.pid == pid and d.alive()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_full_restart_that_cannot_bind_keeps_the_daemon(circusd, transport):
    d, web, mport = started(circusd, transport)
    old = d.pids("sleeper")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        rewrite(d, BODY % web + "\n[socket:busy]\nhost = 127.0.0.1\n"
                "port = %d\n" % busy.getsockname()[1], mport)
        mark = d.events.mark()
        r = d.call("restart", waiting=True, timeout=60)
    finally:
        busy.close()
    assert_error(r, 6, contains="socket 'busy'")
    assert d.alive()
    assert d.pids("sleeper") == old
    assert d.events.since(mark, "sleeper", "stop") == []
    # nothing of the refused file was applied; a later restart works
    assert [s["name"] for s in d.call("listsockets")["sockets"]] == ["web"]
    r = d.call("restart", waiting=True, timeout=60)
    assert r["status"] == "ok", r
    wait_until(lambda: restarted_with(d, "sleeper"), 60, 0.2)
    assert len(d.call("listsockets")["sockets"]) == 2


def test_full_restart_of_a_refused_file_keeps_the_daemon(circusd):
    d = circusd("""
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    """)
    old = d.wait_pids("sleeper", 1)
    d.ini.write_text(d.ini.read_text() + "\n[watcher:bad]\nnumprocesses = x\n")
    r = d.call("restart", waiting=True, timeout=60)
    assert_error(r, 6, contains="circus.ini:")
    assert d.alive() and d.pids("sleeper") == old
    assert d.status("sleeper") == "active"


@pytest.mark.timeout(180)
def test_quit_during_a_full_restart_wins(circusd, wd):
    """A quit that arrives while a full restart stops the watchers ends the
    daemon (its `ok` is not followed by a restart)."""
    d = circusd("""
    [watcher:stubborn]
    cmd = %s %s
    graceful_timeout = 5
    """ % (wd.script("stubborn.py", WORKER_IGNORE_TERM), wd / "ready"))
    wait_until(lambda: (wd / "ready").exists(), 30)
    mark = d.events.mark()
    d.client.cast("restart")
    d.events.wait_event("stubborn", "kill", since=mark, timeout=30)
    assert d.call("quit")["status"] == "ok"
    assert d.wait_exit(60) == 0
    assert "Starting master" not in d.log_text().split("restarting the arbiter")[-1]
