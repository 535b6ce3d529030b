# SPDX-License-Identifier: Apache-2.0
"""Watcher and config semantics of issue 15 (items 2-6, 10-12), each
pinned against Circus 0.19's behaviour: respawn = false, the graceful
order of a `set` that replaces processes, `set`'s error precedence,
`listsockets` order, unopenable stream files, `--check` coverage,
`reloadconfig` of a bad file, and death/back-off reporting."""

import os
import signal
import subprocess

import pytest

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


# --------------------------------------------------------------------------
# item 6: a stream file that cannot be opened fails the start with errno 3


def test_start_with_unopenable_stream_file_answers_error(circusd, wd):
    d = circusd(ini("""
    [watcher:bad]
    cmd = /bin/sleep 3600
    autostart = false
    stdout_stream.filename = %(dir)s/missing/out.log

    [watcher:good]
    cmd = /bin/sleep 3600
    """ % {"dir": wd.path}))
    good = d.wait_pids("good", 1)
    path = str(wd / "missing/out.log")
    for waiting in (True, False):
        r = d.call("start", name="bad", waiting=waiting)
        assert_error(r, 3)
        assert "'bad'" in r["reason"] and path in r["reason"], r
        assert "No such file or directory" in r["reason"], r
        assert d.status("bad") == "stopped"
    # the daemon goes on; once the directory exists, the start works
    assert d.pids("good") == good
    (wd / "missing").mkdir()
    r = d.call("start", name="bad", waiting=True)
    assert_ok(r)
    assert len(r["info"]["started"]) == 1


# --------------------------------------------------------------------------
# item 12: every unexpected exit is logged; reasons in status --verbose;
# add --start of a missing binary answers with the spawn error


def ctl(d, *args):
    p = subprocess.run([str(CIRCUSCTL), "--endpoint", d.endpoint, "--timeout",
                        "20"] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.rstrip("\n"), p.stderr


def crashy_daemon(circusd, backoff):
    """crashy exits 3 at once, every time; fine sleeps."""
    d = circusd(ini("""
    [watcher:crashy]
    cmd = /bin/sh -c "exit 3"

    [watcher:fine]
    cmd = /bin/sleep 3600
    """), circus={"backoff_min": backoff, "backoff_max": backoff})
    d.wait_pids("fine", 1)
    return d


def test_every_unexpected_exit_is_logged(circusd, wd):
    d = crashy_daemon(circusd, "30")
    # two quick deaths (the first respawns at once), each one logged
    wait_until(lambda: d.call("status", name="crashy").get(
        "backoff", {}).get("crashes") == 2, 20, msg="two deaths")
    lines = log_lines_with(d, "crashy: process ", " exited with code 3 after")
    assert len(lines) == 2, d.log_text()
    # a signal is named, on the first death of that watcher
    [sp] = d.pids("fine")
    os.kill(sp, signal.SIGKILL)
    wait_until(lambda: log_lines_with(
        d, "fine: process %d was killed by signal 9 (SIGKILL) after" % sp),
        20, msg="log line of the SIGKILL death")


def test_status_verbose_shows_backoff_and_give_up(circusd, wd):
    d = crashy_daemon(circusd, "30")
    # two quick deaths: the second one backs off for 30 s
    wait_until(lambda: d.call("status", name="crashy").get(
        "backoff", {}).get("delay") == 30.0, 20, msg="crashy backing off")
    # default output unchanged (Circus's)
    assert ctl(d, "status", "crashy")[:2] == (0, "active")
    rc, out, err = ctl(d, "status", "crashy", "--verbose")
    assert rc == 0, err
    assert out.startswith("active, backing off: next spawn in "), out
    assert "quick deaths in a row" in out and "exited with code 3" in out, out
    rc, out, err = ctl(d, "status", "--verbose")
    lines = out.splitlines()
    assert rc == 0 and lines[0].startswith("crashy: active, backing off"), out
    assert lines[1] == "fine: active", out
    assert ctl(d, "status")[1] == "crashy: active\nfine: active"

    # add --start of a missing binary answers with the spawn error
    r = d.call("add", name="ghost", cmd="%s/nonexistent --x" % wd.path,
               options={"max_retry": 1}, start=True)
    assert_error(r, 3)
    assert "error in 'ghost'" in r["reason"], r
    assert "%s/nonexistent" % wd.path in r["reason"], r
    d.wait_status("ghost", "stopped", timeout=30)
    r = d.call("status", name="ghost")
    assert "could not spawn a process after 2 attempts" in r["gave_up"], r
    assert ctl(d, "status", "ghost")[1] == "stopped"
    out = ctl(d, "status", "ghost", "--verbose")[1]
    assert out.startswith("stopped, gave up: could not spawn a process "
                          "after 2 attempts (error in 'ghost': "), out
    # add --start --waiting answers once it gave up, with the reason
    r = d.call("add", name="ghost2", cmd="%s/nonexistent" % wd.path,
               options={"max_retry": 1}, start=True, waiting=True)
    assert_error(r, 3)
    assert r["reason"].startswith("could not spawn a process after 2 "
                                  "attempts (error in 'ghost2': "), r
    # a plain start keeps Circus's "ok" (the reason is in status)
    assert_ok(d.call("start", name="ghost", waiting=True))
    d.wait_status("ghost", "stopped", timeout=30)
    # the circusctl shell shows the same text
    p = subprocess.run([str(CIRCUSCTL), "--endpoint", d.endpoint],
                       input="status ghost --verbose\n", capture_output=True,
                       text=True, timeout=60)
    assert "stopped, gave up: could not spawn a process" in p.stdout, p


# --------------------------------------------------------------------------
# item 3: a set that replaces processes spawns the new ones first


TICKER = r"""
import sys, time
while True:
    print("tick", flush=True)
    sys.stderr.write("etick\n"); sys.stderr.flush()
    time.sleep(0.05)
"""


def test_set_stream_replaces_processes_gracefully(circusd, wd):
    cmd = wd.script("tick.py", TICKER)
    d = circusd(ini("""
    [watcher:w]
    cmd = %s
    numprocesses = 2
    stdout_stream.filename = %s/one.log
    """ % (cmd, wd.path)))
    old = d.wait_pids("w", 2)
    wait_until(lambda: (wd / "one.log").exists() and
               (wd / "one.log").stat().st_size > 0, 20)
    m = d.events.mark()
    r = d.call("set", name="w", waiting=True, timeout=60,
               options={"stdout_stream.filename": str(wd / "two.log")})
    assert_ok(r)
    d.events.wait_for(lambda e: e.watcher == "w" and
                      e.action in ("reload", "start"), 30, m)
    acts = [a for a in d.events.actions("w", m) if a != "reap"]
    assert acts == ["updated", "spawn", "spawn", "kill", "kill", "reload"], acts
    new = d.pids("w")
    assert len(new) == 2 and not set(new) & set(old)
    wait_until(lambda: (wd / "two.log").exists() and
               (wd / "two.log").stat().st_size > 0, 20)
    assert d.status("w") == "active"
    # a stream file that cannot be opened: errno 3, the processes stay
    r = d.call("set", name="w", waiting=True,
               options={"stdout_stream.filename": str(wd / "no/three.log")})
    assert_error(r, 3)
    assert str(wd / "no/three.log") in r["reason"], r
    assert d.pids("w") == new


# --------------------------------------------------------------------------
# item 11: reloadconfig of a missing or unparsable file names file:line


def test_reloadconfig_of_bad_or_missing_file_answers_error(circusd, wd):
    d = circusd(ini("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """))
    pids = d.wait_pids("w", 1)
    text = d.ini.read_text()
    nlines = len(text.splitlines())
    d.ini.write_text(text + "this line is garbage\n")
    where = "%s:%d: cannot parse line: 'this line is garbage'" % (
        d.ini, nlines + 1)
    for props in ({}, {"waiting": True}, {"dry_run": True}):
        r = d.call("reloadconfig", **props)
        assert_error(r, 6, "cannot reload the configuration from %s: %s" % (
            d.ini, where))
    rc, out, err = ctl(d, "reloadconfig", "--dry-run")
    assert rc == 3 and where in err, (rc, out, err)
    # a missing file
    d.ini.rename(wd / "moved.ini")
    for props in ({}, {"waiting": True}, {"dry_run": True}):
        r = d.call("reloadconfig", **props)
        assert_error(r, 6)
        assert r["reason"].startswith(
            "cannot reload the configuration from %s: %s:0: " % (d.ini, d.ini)), r
        assert "does not exist" in r["reason"], r
    # nothing changed, the daemon goes on
    assert d.pids("w") == pids
    (wd / "moved.ini").rename(d.ini)


# --------------------------------------------------------------------------
# item 5: listsockets in Circus's order (by name, as Circus creates them)


def test_listsockets_order_with_reuseport(circusd, wd):
    from conftest import free_tcp_port
    p1, p2 = free_tcp_port(), free_tcp_port()
    d = circusd(ini("""
    [socket:zeta]
    host = 127.0.0.1
    port = %(p1)d

    [socket:shared]
    host = 127.0.0.1
    port = %(p2)d
    so_reuseport = true

    [socket:beta]
    path = %(dir)s/b.sock

    [socket:alpha]
    host = 127.0.0.1
    port = %(p2)d
    """ % {"p1": p1, "p2": p2, "dir": wd.path}))
    r = d.call("listsockets")
    assert_ok(r, ["sockets"])
    assert [s["name"] for s in r["sockets"]] == ["alpha", "beta", "shared",
                                                 "zeta"], r
    rc, out, err = ctl(d, "listsockets")
    assert rc == 0, err
    assert [ln.split("'")[1] for ln in out.splitlines()] == [
        "alpha", "beta", "shared", "zeta"], out


# --------------------------------------------------------------------------
# item 10: --check reports what the daemon would refuse, skip or misread


@pytest.mark.parametrize("body,line,text", [
    ("[watcher:a]\ncmd = /bin/true\nhooks.before_start = mymod.myhook\n", 3,
     "hook before_start 'mymod.myhook' is a Python name"),
    ("[socket:s]\nhost = 127.0.0.1\nport = 99999\n", 3,
     "invalid port '99999'; socket skipped"),
    ("[watcher:a]\nnumprocesses = 2\n", 1, "watcher 'a': no cmd; watcher skipped"),
    ("[watcher:a]\ncmd = /bin/true\nnumprocesses = -3\n", 3,
     "watcher 'a': numprocesses = -3 is negative; watcher skipped"),
    ("[watcher:a]\ncmd = /bin/true\n[watcher:b\ncmd = /bin/false\n", 3,
     "a section header missing its ']' is read as option '[watcher' of "
     "section [watcher:a]"),
    ("[watcher:a]\ncmd = /bin/true\n\n[plugin:p]\nuse = x.y.Z\n", 5,
     "plugin 'p': use = x.y.Z names no plugin of this build"),
])
def test_check_reports_what_would_not_run(wd, circus_build, body, line, text):
    p = wd.write("c.ini", body, dedent=False)
    r = run_circusd(["--check", p], timeout=30)
    assert r.returncode == 1, r
    assert "OK" not in r.stdout, r
    assert "%s:%d: " % (p, line) in r.stderr, r
    assert [ln for ln in r.stderr.splitlines()
            if ln.startswith("%s:%d: " % (p, line)) and text in ln], r


def test_check_good_file_still_ok(wd, circus_build):
    p = wd.write("c.ini", "[watcher:a]\ncmd = /bin/true\nnumprocesses = 0\n",
                 dedent=False)
    r = run_circusd(["--check", p], timeout=30)
    assert r.returncode == 0, r
    assert r.stdout == "%s: OK (1 watchers, 0 sockets, 0 plugins)\n" % p, r


def test_daemon_logs_what_it_does_not_run(circusd, wd):
    d = circusd(ini("""
    [watcher:a]
    cmd = /bin/sleep 3600
    [watcher:b
    numprocesses = 2
    """))
    assert log_lines_with(d, "[WARNING]", "a section header missing its ']'")
    assert d.wait_pids("a", 2)


def test_reloadconfig_changed_watcher_is_replaced_gracefully(circusd, wd):
    d = circusd(ini("""
    [watcher:w]
    cmd = /bin/sleep 3600
    numprocesses = 2
    send_hup = true

    [watcher:other]
    cmd = /bin/sleep 3600
    """))
    old = d.wait_pids("w", 2)
    other = d.wait_pids("other", 1)
    d.write_ini(ini("""
    [watcher:w]
    cmd = /bin/sleep 3601
    numprocesses = 2
    send_hup = true
    stdout_stream.filename = %s/w.log

    [watcher:other]
    cmd = /bin/sleep 3600
    """ % wd.path))
    r = d.call("reloadconfig", dry_run=True)
    assert r["plan"]["reload"] == ["w"] and r["plan"]["restart"] == [], r
    m = d.events.mark()
    assert_ok(d.call("reloadconfig", waiting=True, timeout=60))
    d.events.wait_for(lambda e: e.watcher == "w" and
                      e.action in ("reload", "start"), 30, m)
    acts = [a for a in d.events.actions("w", m) if a != "reap"]
    assert acts == ["spawn", "spawn", "kill", "kill", "reload"], acts
    new = d.pids("w")
    assert len(new) == 2 and not set(new) & set(old)
    from conftest import proc_cmdline
    assert all(proc_cmdline(p) == ["/bin/sleep", "3601"] for p in new)
    assert d.status("w") == "active" and d.pids("other") == other
    assert (wd / "w.log").exists()
