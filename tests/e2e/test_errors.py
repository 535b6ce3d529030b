# SPDX-License-Identifier: Apache-2.0
"""Failures: spawn failures (doc/design.md §4), ports in use, refused configs
(doc/design.md §13, §15). Each must give a clear error naming the watcher or
socket; the daemon keeps running (or, at start-up, exits non-zero)."""

import socket
import time

import pytest

from conftest import (ini, log_lines_with, pid_alive, run_circusd, timed_call,
                      wait_until)

GOOD = """
[watcher:good]
cmd = /bin/sleep 3600
numprocesses = 2
"""


def listening_port():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


# --------------------------------------------------------------------------
# spawn failures


@pytest.mark.parametrize("kind,option,needle", [
    ("missing binary", "cmd = /nonexistent/e2e-binary --flag", "/nonexistent/e2e-binary"),
    ("bad working_dir", "cmd = /bin/sleep 3600\nworking_dir = /nonexistent/e2e-dir",
     "/nonexistent/e2e-dir"),
    ("unknown user", "cmd = /bin/sleep 3600\nuid = e2e_no_such_user", "e2e_no_such_user"),
    ("unknown group", "cmd = /bin/sleep 3600\ngid = e2e_no_such_group", "e2e_no_such_group"),
])
@pytest.mark.timeout(150)
def test_spawn_failure_reported_daemon_keeps_running(circusd, kind, option, needle):
    d = circusd(ini(GOOD, """
    [watcher:broken]
    autostart = false
    max_retry = 3
    %s
    """ % option.replace("\n", "\n    ")))
    good = d.pids("good")
    m = d.events.mark()
    r = d.call("start", name="broken", waiting=True, timeout=90)
    assert r["status"] == "ok", r  # still ok (as in Circus)
    d.wait_status("broken", "stopped", timeout=60)
    assert d.pids("broken") == []
    d.sync_events()
    acts = [e.action for e in d.events.since(m, "broken")]
    assert "spawn" not in acts and "reap" not in acts and "start" not in acts, acts
    lines = wait_until(lambda: log_lines_with(d, "broken", needle), 10,
                       msg="a log line naming the watcher and %r" % needle)
    assert lines
    # the daemon and the other watcher are unaffected
    assert d.alive()
    assert d.pids("good") == good and all(pid_alive(p) for p in good)
    assert d.status("good") == "active"
    assert d.call("incr", name="good", waiting=True)["numprocesses"] == 3


def test_spawn_failure_at_boot_other_watchers_start(circusd):
    d = circusd(ini(GOOD, """
    [watcher:broken]
    cmd = /nonexistent/e2e-binary
    """))
    d.wait_pids("good", 2)
    d.wait_status("broken", "stopped", timeout=60)
    assert d.status("good") == "active"
    assert log_lines_with(d, "broken", "/nonexistent/e2e-binary")


@pytest.mark.timeout(120)
def test_unlimited_retry_of_missing_binary_never_spins(circusd):
    d = circusd(ini(GOOD, """
    [watcher:zbroken]
    cmd = /nonexistent/e2e-binary
    max_retry = -1
    """))
    d.wait_pids("good", 2)
    t_end = time.monotonic() + 6
    while time.monotonic() < t_end:
        dt, r = timed_call(d.client, "status", name="good")
        assert r["status"] == "active" and dt < 1.0, (dt, r)
        time.sleep(0.2)  # pacing of the observation loop
    n1 = len(log_lines_with(d, "zbroken", "/nonexistent/e2e-binary"))
    assert 1 <= n1 <= 100, "%d error lines in ~6 s" % n1
    assert d.pids("good") and d.alive()
    # the watcher can still be stopped, and the daemon can quit
    assert d.call("stop", name="zbroken", waiting=True, timeout=30)["status"] == "ok"
    assert d.status("zbroken") == "stopped"
    assert d.quit(30) == 0


@pytest.mark.timeout(120)
def test_unlimited_retry_does_not_block_other_watchers_or_quit(circusd):
    """A watcher retrying a missing binary forever (sorted first, so the
    boot start-all reaches it first) must not keep the others from
    starting, nor keep `quit` from finishing."""
    d = circusd(ini(GOOD, """
    [watcher:broken]
    cmd = /nonexistent/e2e-binary
    max_retry = -1
    """))
    wait_until(lambda: d.status("good") == "active", 20,
               msg="watcher 'good' started despite 'broken' retrying")
    d.wait_pids("good", 2)
    m = d.call("quit")
    assert m["status"] == "ok", m
    assert d.wait_exit(30) == 0


def test_add_with_missing_binary(circusd):
    d = circusd(GOOD)
    r = d.call("add", name="late", cmd="/nonexistent/e2e-late", start=True,
               waiting=True, timeout=90)
    # the spawn error is the answer (issue 15: not ok then a silent stop)
    assert r["status"] == "error" and r["errno"] == 3, r
    assert "error in 'late'" in r["reason"], r
    d.wait_status("late", "stopped", timeout=60)
    assert log_lines_with(d, "late", "/nonexistent/e2e-late")
    assert len(d.pids("good")) == 2


# --------------------------------------------------------------------------
# ports in use


@pytest.mark.timeout(90)
def test_socket_port_in_use_at_startup_exits_nonzero(circusd, wd):
    busy, port = listening_port()
    try:
        d = circusd(ini(GOOD, """
        [socket:busyweb]
        host = 127.0.0.1
        port = %d
        """ % port), start=False)
        r = run_circusd([d.ini], timeout=60, cwd=str(wd.path))
        out = r.stdout + r.stderr
        assert r.returncode != 0, out
        assert "busyweb" in out, out
        assert str(port) in out, out
    finally:
        busy.close()


@pytest.mark.timeout(90)
def test_control_endpoint_in_use_exits_nonzero(circusd, wd):
    busy, port = listening_port()
    try:
        d = circusd(GOOD, start=False)
        text = d.ini.read_text().replace(
            "endpoint = %s" % d.endpoint, "endpoint = tcp://127.0.0.1:%d" % port, 1)
        d.ini.write_text(text)
        r = run_circusd([d.ini], timeout=60, cwd=str(wd.path))
        out = r.stdout + r.stderr
        assert r.returncode != 0, out
        assert str(port) in out, out
    finally:
        busy.close()


@pytest.mark.timeout(90)
def test_socket_port_in_use_at_reloadconfig(circusd, wd):
    d = circusd(GOOD)
    good = d.pids("good")
    busy, port = listening_port()
    try:
        d.write_ini(ini(GOOD, """
        [socket:busyweb]
        host = 127.0.0.1
        port = %d

        [watcher:newer]
        cmd = /bin/sleep 3600
        """ % port))
        r = d.call("reloadconfig", waiting=True, timeout=60)
        assert r["status"] in ("ok", "error"), r
        assert d.alive()
        wait_until(lambda: log_lines_with(d, "busyweb"), 10,
                   msg="a log line naming the socket")
        if r["status"] == "error":
            assert "busyweb" in r["reason"] or r["errno"] == 6, r
        assert d.pids("good") == good
        assert d.status("good") == "active"
    finally:
        busy.close()


# --------------------------------------------------------------------------
# refused configurations (doc/design.md §13, §15)


@pytest.mark.parametrize("bad_lines", [
    ["this line has no delimiter", "neither has this one"],
    ["numprocesses = many", "graceful_timeout = soon"],
    ["numprocesses = many", "this line has no delimiter", "graceful_timeout = soon"],
], ids=["parse-errors", "type-errors", "mixed"])
def test_invalid_config_every_error_listed(circusd, wd, bad_lines):
    """doc/design.md §13: at first start an invalid file is refused whole with
    every error listed (file:line each); exit non-zero (doc/design.md §15)."""
    d = circusd(ini("""
    [watcher:a]
    cmd = /bin/sleep 3600
    %s

    [watcher:b]
    cmd = /bin/sleep 3600
    %s
    """ % (bad_lines[0], "\n    ".join(bad_lines[1:]))), start=False)
    lines = d.ini.read_text().splitlines()
    bad = [lines.index(b) + 1 for b in bad_lines]
    r = run_circusd([d.ini], timeout=60, cwd=str(wd.path))
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    missing = [n for n in bad if "%s:%d" % (d.ini.name, n) not in out]
    assert not missing, "lines %s not reported in: %s" % (missing, out)
    assert not (wd / "ctl.sock").exists()


def test_missing_config_file(wd, circus_build):
    r = run_circusd([wd / "nope.ini"], timeout=30)
    assert r.returncode != 0
    assert "nope.ini" in r.stdout + r.stderr


def test_no_config_argument_prints_usage_exit_0(circus_build):
    r = run_circusd([], timeout=30)
    assert r.returncode == 0, r
    assert "usage" in (r.stdout + r.stderr).lower()


def test_version(circus_build):
    r = run_circusd(["--version"], timeout=30)
    assert r.returncode == 0
    assert r.stdout.strip().startswith("0.19")
