# SPDX-License-Identifier: Apache-2.0
"""Socket activation the systemd way (doc/design.md §3, README "Sockets"):
a use_sockets worker gets the arbiter's sockets at fds 3, 4, ... with
LISTEN_FDS, LISTEN_PID (its own pid) and LISTEN_FDNAMES, next to the
$(circus.sockets.NAME) numbers. The worker is tests/helpers/notifyworker,
which reports what it got (getsockname of fds 3..) and serves HTTP."""

import json
import os
import socket

import pytest

from conftest import BUILD, free_tcp_port, proc_environ, wait_until

NOTIFYWORKER = BUILD / "helpers" / "notifyworker"


@pytest.fixture(scope="module")
def nw():
    if not NOTIFYWORKER.exists():
        pytest.fail("%s does not exist (build it with `make`)" % NOTIFYWORKER,
                    pytrace=False)
    return str(NOTIFYWORKER)


def reports(path, n):
    """The first n JSON lines of a --listen-report file, once there."""
    def lines():
        if not path.exists():
            return None
        text = path.read_text()
        done = text.count("\n")
        return done >= n and [json.loads(x) for x in text.splitlines()[:n]]
    return wait_until(lines, timeout=30, msg="%d reports in %s" % (n, path))


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


def ports(d):
    return {s["name"]: s["port"] for s in d.call("listsockets")["sockets"]}


def test_two_sockets_at_fd_3_and_4(circusd, wd, nw):
    """Two sockets declared web then admin: the arbiter's order (by name)
    is admin, web; each worker gets them at 3 and 4 under those names,
    LISTEN_PID is the worker's own pid, and it serves on both."""
    report = wd / "report"
    d = circusd("""
    [socket:web]
    host = 127.0.0.1
    port = 0

    [socket:admin]
    host = 127.0.0.1
    port = 0

    [watcher:w]
    cmd = %s --listen-report %s --serve
    numprocesses = 2
    use_sockets = true
    """ % (nw, report))
    pids = d.wait_pids("w", 2)
    p = ports(d)
    recs = reports(report, 2)
    assert sorted(r["pid"] for r in recs) == sorted(pids)
    for r in recs:
        assert r["listen_fds"] == 2, r
        assert r["listen_pid"] == r["pid"], r
        assert r["names"] == ["admin", "web"], r
        assert r["fds"] == [
            {"fd": 3, "family": "inet", "port": p["admin"]},
            {"fd": 4, "family": "inet", "port": p["web"]}], r
        env = proc_environ(r["pid"])
        assert env["LISTEN_PID"] == str(r["pid"])     # no leading zeros
    for name in ("admin", "web"):
        status, body = http_get(p[name])
        assert status == "HTTP/1.0 200 OK"
        assert int(body) in pids


def test_without_use_sockets_no_listen_vars(circusd, wd, nw):
    """Only use_sockets watchers are socket-activated; hooks are not the
    service either."""
    report = wd / "report"
    hook_env = wd / "hook-env"
    hook = wd.write("envhook.sh", "#!/bin/sh\nenv > %s.$CIRCUS_WATCHER\n"
                    % hook_env)
    os.chmod(hook, 0o755)
    d = circusd("""
    [socket:web]
    host = 127.0.0.1
    port = 0

    [watcher:plain]
    cmd = %s --listen-report %s
    hooks.after_start = %s

    [watcher:activated]
    cmd = %s
    use_sockets = true
    hooks.after_start = %s
    """ % (nw, report, hook, nw, hook))
    (pid,) = d.wait_pids("plain", 1)
    (apid,) = d.wait_pids("activated", 1)
    (r,) = reports(report, 1)
    assert r == {"pid": pid, "listen_pid": None, "listen_fds": None,
                 "names": [], "fds": []}
    assert not any(k.startswith("LISTEN_") for k in proc_environ(pid))
    assert proc_environ(apid)["LISTEN_FDS"] == "1"
    for name in ("plain", "activated"):
        path = wd / ("hook-env." + name)
        text = wait_until(lambda: path.exists() and path.read_text(),
                          timeout=30)
        assert "CIRCUS_WATCHER=" + name in text
        assert "LISTEN_" not in text, text


def test_circus_sockets_still_works_with_listen_fds(circusd, wd, nw):
    """$(circus.sockets.NAME) names an fd where the worker has that socket,
    next to LISTEN_FDS: serving on --fd <that number> answers on the port."""
    report = wd / "report"
    d = circusd("""
    [socket:b]
    host = 127.0.0.1
    port = 0

    [socket:a]
    host = 127.0.0.1
    port = 0

    [watcher:w]
    cmd = %s --listen-report %s --serve --fd $(circus.sockets.b)
    use_sockets = true
    """ % (nw, report))
    (pid,) = d.wait_pids("w", 1)
    p = ports(d)
    (r,) = reports(report, 1)
    assert r["listen_fds"] == 2 and r["names"] == ["a", "b"], r
    assert r["fds"][1]["port"] == p["b"], r
    # only the --fd socket is served: b answers, a (at fd 3) does not
    assert http_get(p["b"]) == ("HTTP/1.0 200 OK", "%d\n" % pid)
    with socket.create_connection(("127.0.0.1", p["a"]), timeout=10) as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        c.settimeout(0.5)
        with pytest.raises(socket.timeout):
            c.recv(1)


def test_user_env_cannot_fake_listen_vars(circusd, wd, nw):
    """LISTEN_* of the configured environment are replaced by circusd's
    for a use_sockets watcher (a stale LISTEN_PID would point elsewhere)."""
    report = wd / "report"
    d = circusd("""
    [socket:web]
    host = 127.0.0.1
    port = 0

    [env:w]
    LISTEN_FDS = 7
    LISTEN_PID = 1
    LISTEN_FDNAMES = bogus

    [watcher:w]
    cmd = %s --listen-report %s
    use_sockets = true
    """ % (nw, report))
    (pid,) = d.wait_pids("w", 1)
    (r,) = reports(report, 1)
    assert (r["listen_fds"], r["listen_pid"], r["names"]) == (1, pid,
                                                             ["web"]), r
    assert r["fds"] == [{"fd": 3, "family": "inet",
                         "port": ports(d)["web"]}], r


def test_reuseport_copy_is_the_listen_fd(circusd, wd, nw):
    """An so_reuseport socket named in cmd gets a fresh per-process copy:
    that copy is the one at fd 3 and the one $(circus.sockets.NAME) names
    (each worker accepts on its own socket of the shared port). A worker
    whose cmd does not name it gets none (it would never accept on it)."""
    report = wd / "report"
    other = wd / "other"
    port = free_tcp_port()
    d = circusd("""
    [socket:shared]
    host = 127.0.0.1
    port = %d
    so_reuseport = true

    [socket:plain]
    host = 127.0.0.1
    port = 0

    [watcher:w]
    cmd = %s --listen-report %s --serve --fd $(circus.sockets.shared)
    numprocesses = 2
    use_sockets = true

    [watcher:other]
    cmd = %s --listen-report %s
    use_sockets = true
    """ % (port, nw, report, nw, other))
    pids = d.wait_pids("w", 2)
    recs = reports(report, 2)
    plain = ports(d)["plain"]
    for r in recs:
        assert r["listen_fds"] == 2 and r["names"] == ["plain", "shared"], r
        assert r["fds"] == [{"fd": 3, "family": "inet", "port": plain},
                            {"fd": 4, "family": "inet", "port": port}], r
    (r,) = reports(other, 1)
    assert r["names"] == ["plain"] and r["listen_fds"] == 1, r
    # the fd at 4 and the --fd one are one socket (same inode)
    for pid in pids:
        cmd = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
        fd = int(cmd[cmd.index(b"--fd") + 1])
        assert (os.readlink("/proc/%d/fd/4" % pid)
                == os.readlink("/proc/%d/fd/%d" % (pid, fd)))
    assert int(http_get(port)[1]) in pids


def test_many_sockets_numbers_inside_the_block(circusd, wd, nw):
    """With more sockets than circusd has other fds, some of circusd's own
    socket fds lie among 3 .. 2 + n, where LISTEN_FDS puts the sockets:
    $(circus.sockets.NAME) then gives 3 + i, else circusd's number. Either
    way the worker has that very socket there."""
    n = 24
    report = wd / "report"
    body = "".join("[socket:s%02d]\nhost = 127.0.0.1\nport = 0\n\n" % i
                   for i in range(n))
    fds = " ".join("--fd $(circus.sockets.s%02d)" % i for i in range(n))
    d = circusd(body + "[watcher:w]\ncmd = %s --listen-report %s %s\n"
                "use_sockets = true\n" % (nw, report, fds))
    (pid,) = d.wait_pids("w", 1)
    socks = sorted(d.call("listsockets")["sockets"], key=lambda s: s["name"])
    assert any(s["fd"] < 3 + n for s in socks), socks   # the case is met
    (r,) = reports(report, 1)
    assert r["listen_fds"] == n
    assert [f["port"] for f in r["fds"]] == [s["port"] for s in socks]
    argv = [a.decode() for a in
            open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")[:-1]]
    given = [int(argv[i + 1]) for i, a in enumerate(argv) if a == "--fd"]
    for i, (fd, s) in enumerate(zip(given, socks)):
        assert fd == (3 + i if s["fd"] < 3 + n else s["fd"]), (i, fd, s)
        assert (os.readlink("/proc/%d/fd/%d" % (pid, fd))
                == os.readlink("/proc/%d/fd/%d" % (pid, 3 + i)))
