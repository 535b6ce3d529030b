# SPDX-License-Identifier: Apache-2.0
"""Readiness, watchdog, rolling restarts and rollback (issue 11,
doc/design.md §18), driven with the notify-speaking C test worker
(tests/helpers/notifyworker.c)."""

import os
import socket
import threading
import time

import pytest

from conftest import (BUILD, assert_error, assert_ok, free_tcp_port, ini,
                      proc_environ, wait_until)

NW = str(BUILD / "helpers" / "notifyworker")


@pytest.fixture(autouse=True)
def _need_worker():
    if not os.path.exists(NW):
        pytest.fail("%s is not built (make)" % NW, pytrace=False)


def watcher(name, args, n=1, extra=""):
    lines = ["[watcher:%s]" % name, "cmd = %s %s" % (NW, args),
             "numprocesses = %d" % n, "readiness = notify"]
    lines += [x.strip() for x in extra.splitlines() if x.strip()]
    return "\n" + "\n".join(lines) + "\n"


def ready_pids(d, name):
    st = d.call("status", name=name)
    return st.get("processes", {})


def http_get(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


# --------------------------------------------------------------------------
# readiness


def test_start_waits_for_ready_and_status_shows_it(circusd):
    # the watcher waits for `start`, and the subscriber is known to receive
    # events before it: an autostarted watcher's `ready` events could be
    # published before the SUB socket joined (a CI run lost them that way)
    d = circusd(ini(watcher("w", "--ready-after 0.5 --status serving", 2,
                            "autostart = false")))
    m = d.events.mark()
    r = d.call("start", name="w", waiting=True)
    assert_ok(r)
    # every process had said READY=1 when the start was answered
    assert ready_pids(d, "w") == {"ready": 2, "starting": 0}
    pids = d.pids("w")
    assert len(pids) == 2
    # and each one's `ready` event was published (it may reach the
    # subscriber thread just after the reply: wait for it)
    for pid in pids:
        d.events.wait_for(lambda e, pid=pid: e.watcher == "w"
                          and e.action == "ready"
                          and e.body.get("process_pid") == pid,
                          since=m, msg="ready event of %d" % pid)
    info = d.call("stats", name="w")["info"]
    for pid in pids:
        assert info[str(pid)]["ready"] is True
        assert info[str(pid)]["notify_status"] == "serving"


def test_unready_process_shows_as_starting(circusd):
    d = circusd(ini(watcher("w", "--never-ready", 2,
                            "readiness_timeout = 120")))
    d.wait_pids("w", 2)
    wait_until(lambda: ready_pids(d, "w") == {"ready": 0, "starting": 2},
               msg="2 starting")
    info = d.call("stats", name="w")["info"]
    assert all(v["ready"] is False for v in info.values()), info


def test_env_notify_socket_and_watchdog_usec(circusd):
    d = circusd(ini(watcher("w", "--watchdog", 1, "watchdog = 2.5"),
                    """
    [watcher:plain]
    cmd = /bin/sleep 3600
    """))
    pid = d.wait_pids("w", 1)[0]
    env = proc_environ(pid)
    assert env["NOTIFY_SOCKET"].startswith("@circusd-"), env
    assert env["WATCHDOG_USEC"] == "2500000", env
    plain = proc_environ(d.wait_pids("plain", 1)[0])
    assert "NOTIFY_SOCKET" not in plain and "WATCHDOG_USEC" not in plain


def test_message_from_a_stranger_is_ignored(circusd):
    d = circusd(ini(watcher("w", "--never-ready", 1,
                            "readiness_timeout = 120")))
    pid = d.wait_pids("w", 1)[0]
    addr = proc_environ(pid)["NOTIFY_SOCKET"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        # the test process is not one of circusd's: dropped
        s.sendto(b"READY=1", "\0" + addr[1:])
    finally:
        s.close()
    # two round trips: the datagram was queued before either request
    d.call("status", name="w")
    assert ready_pids(d, "w") == {"ready": 0, "starting": 1}
    assert d.events.since(0, "w", "ready") == []


def test_readiness_timeout_replaces_the_process(circusd):
    d = circusd(ini(watcher("w", "--never-ready", 1,
                            "readiness_timeout = 1")))
    pid = d.wait_pids("w", 1)[0]
    ev = d.events.wait_event("w", "unhealthy", pid=pid, timeout=20)
    assert "not ready after 1s" in ev.body["reason"], ev.body
    d.events.wait_event("w", "reap", pid=pid, timeout=20)
    wait_until(lambda: d.pids("w") and d.pids("w")[0] != pid,
               msg="a new process")


def test_never_ready_counts_as_a_crash_however_long_it_took(circusd):
    """A process killed for missing readiness_timeout was never healthy:
    even when the timeout is longer than backoff_reset it counts as a
    crash, so a release that never becomes ready backs off instead of
    being replaced at full speed forever (doc/design.md §18)."""
    d = circusd(ini(watcher("w", "--never-ready", 1,
                            "readiness_timeout = 1")),
                circus={"backoff_reset": "0.2"})
    wait_until(lambda: (d.call("status", name="w").get("backoff") or
                        {}).get("crashes", 0) >= 2, 30,
               msg="two unready deaths counted as crashes")


def test_watchdog_restarts_a_worker_that_stops_pinging(circusd):
    d = circusd(ini(
        watcher("dead", "--watchdog --stop-pinging-after 0.5", 1,
                "watchdog = 1"),
        watcher("alive", "--watchdog", 1, "watchdog = 1")))
    alive = d.wait_pids("alive", 1)[0]
    dead = d.wait_pids("dead", 1)[0]
    ev = d.events.wait_event("dead", "unhealthy", pid=dead, timeout=20)
    assert "WATCHDOG=1" in ev.body["reason"], ev.body
    d.events.wait_event("dead", "reap", pid=dead, timeout=20)
    # the replacement stops pinging too: a second round, > 2 periods
    newpid = wait_until(lambda: [p for p in d.pids("dead") if p != dead],
                        msg="replacement")[0]
    d.events.wait_event("dead", "unhealthy", pid=newpid, timeout=20)
    # meanwhile the one that pings was left alone
    assert d.pids("alive") == [alive]
    assert d.events.since(0, "alive", "unhealthy") == []


# --------------------------------------------------------------------------
# rolling restart and reload


def test_rolling_restart_ready_before_old_stops(circusd):
    d = circusd(ini(watcher("w", "--ready-after 0.3", 3)))
    old = d.wait_pids("w", 3)
    wait_until(lambda: ready_pids(d, "w").get("ready") == 3, msg="ready")
    m = d.events.mark()
    assert_ok(d.call("restart", name="w", waiting=True, timeout=60))
    new = d.pids("w")
    assert len(new) == 3 and not set(new) & set(old), (old, new)
    # the events travel on the PUB socket: they may reach the subscriber
    # thread after the reply
    d.events.wait_count("w", "rolling", 3, since=m)
    evs = [e for e in d.events.since(m, "w")
           if e.action in ("spawn", "ready", "rolling")]
    ready = set()
    replaced = 0
    for e in evs:
        if e.action == "ready":
            ready.add(e.body["process_pid"])
        if e.action == "rolling":
            # an old one is stopped only once as many new ones are ready
            replaced = e.body["replaced"]
            assert len(ready) >= replaced, evs
            assert e.body["total"] == 3
    assert replaced == 3
    assert len(d.events.since(m, "w", "rolling")) == 3   # rolling = 1


def test_rolling_batches_of_two(circusd):
    d = circusd(ini(watcher("w", "--ready-after 0.2", 4, "rolling = 2")))
    d.wait_pids("w", 4)
    m = d.events.mark()
    assert_ok(d.call("reload", name="w", waiting=True, timeout=60))
    # `reload` is published after the last step (and may reach the
    # subscriber after the reply)
    d.events.wait_event("w", "reload", since=m)
    steps = [e.body["replaced"] for e in d.events.since(m, "w", "rolling")]
    assert steps == [2, 4], steps


def test_rolling_restart_serves_every_request(circusd):
    port = free_tcp_port()
    d = circusd(ini("""
    [socket:web]
    host = 127.0.0.1
    port = %d
    """ % port, watcher("w", "--serve --fd $(circus.sockets.web) "
                        "--ready-after 0.2 --delay-ms 5", 3,
                        "use_sockets = True\ngraceful_timeout = 10")))
    d.wait_pids("w", 3)
    wait_until(lambda: ready_pids(d, "w").get("ready") == 3, msg="ready")
    results = {"ok": 0, "err": []}
    done = threading.Event()

    def load():
        deadline = time.monotonic() + 60
        n = 0
        while not done.is_set() and time.monotonic() < deadline and n < 20000:
            n += 1
            try:
                data = http_get(port)
                if data.startswith(b"HTTP/1.0 200"):
                    results["ok"] += 1
                else:
                    results["err"].append(data[:80])
            except OSError as e:
                results["err"].append(repr(e))

    t = threading.Thread(target=load, daemon=True)
    t.start()
    try:
        wait_until(lambda: results["ok"] >= 20, msg="load running")
        for _ in range(2):
            assert_ok(d.call("restart", name="w", waiting=True, timeout=60))
        before = results["ok"]
        wait_until(lambda: results["ok"] >= before + 20, msg="still served")
    finally:
        done.set()
        t.join(70)
    assert results["err"] == [], results["err"][:5]


# --------------------------------------------------------------------------
# rollback


def test_rollback_of_a_release_that_exits_at_start(circusd, wd):
    d = circusd(ini(watcher("w", "--ready-after 0.1", 3, """
    stderr_stream.class = FileStream
    stderr_stream.filename = %s
    """ % (wd / "err.log"))))
    old = sorted(d.wait_pids("w", 3))
    wait_until(lambda: ready_pids(d, "w").get("ready") == 3, msg="ready")
    # the set is a rolling replace too: it rolls back
    m = d.events.mark()
    r = d.call("set", name="w", options={
        "cmd": "%s --stderr 'cannot open the database' --exit-at-start 3" % NW},
        waiting=True, timeout=60)
    assert_error(r, 3, contains="exited with code 3")
    d.events.wait_event("w", "rollback", since=m)
    assert sorted(d.pids("w")) == old
    m = d.events.mark()
    r = d.call("restart", name="w", waiting=True, timeout=60)
    assert_error(r, 3, contains="exited with code 3")
    assert "cannot open the database" in r["reason"], r
    ev = d.events.wait_event("w", "rollback", since=m)
    assert "exited with code 3" in ev.body["reason"]
    assert ev.body["replaced"] == 0 and ev.body["total"] == 3
    # every old process untouched, same pids, still ready
    assert sorted(d.pids("w")) == old
    assert ready_pids(d, "w")["ready"] == 3
    st = d.call("status", name="w")
    assert "exited with code 3" in st["rollback"], st
    # a fixed release goes through (the set replaces them)
    assert_ok(d.call("set", name="w", options={
        "cmd": "%s --ready-after 0.1" % NW}, waiting=True, timeout=60))
    assert not set(d.pids("w")) & set(old)
    assert "rollback" not in d.call("status", name="w")


def test_rollback_of_a_release_that_never_becomes_ready(circusd):
    d = circusd(ini(watcher("w", "--ready-after 0.1", 2,
                            "readiness_timeout = 1")))
    old = sorted(d.wait_pids("w", 2))
    wait_until(lambda: ready_pids(d, "w").get("ready") == 2, msg="ready")
    # the set itself is a rolling replace: it rolls back
    m = d.events.mark()
    r = d.call("set", name="w", options={"cmd": "%s --never-ready" % NW},
               waiting=True, timeout=60)
    assert_error(r, 3, contains="not ready after 1s")
    ev = d.events.wait_event("w", "rollback", since=m, timeout=30)
    assert "not ready after 1s" in ev.body["reason"], ev.body
    assert sorted(d.pids("w")) == old
    r = d.call("restart", name="w", waiting=True, timeout=60)
    assert_error(r, 3, contains="not ready after 1s")
    assert sorted(d.pids("w")) == old


def test_stop_interrupts_a_rolling_restart(circusd):
    d = circusd(ini(watcher("w", "--ready-after 0.1", 2,
                            "readiness_timeout = 300")))
    d.wait_pids("w", 2)
    wait_until(lambda: ready_pids(d, "w").get("ready") == 2, msg="ready")
    assert_ok(d.call("set", name="w", options={"readiness_timeout": 300}))
    d.call("set", name="w", options={"cmd": "%s --never-ready" % NW})
    wait_until(lambda: "rolling" in d.call("status", name="w"),
               msg="rolling")
    t0 = time.monotonic()
    assert_ok(d.call("stop", name="w", waiting=True, timeout=60))
    assert time.monotonic() - t0 < 60
    assert d.status("w") == "stopped"
    assert d.pids("w") == []


def test_bad_readiness_value_names_the_line(circusd, wd):
    from conftest import run_circusd
    wd.write("bad.ini", ini("""
    [watcher:w]
    cmd = /bin/sleep 1
    readiness = maybe
    """))
    r = run_circusd(["--check", str(wd / "bad.ini")])
    assert r.returncode != 0
    assert "readiness" in r.stderr + r.stdout and "maybe" in r.stderr + r.stdout


def test_reloadconfig_of_a_changed_cmd_and_sighup_roll(circusd):
    import signal as _signal
    d = circusd(ini(watcher("w", "--ready-after 0.1", 2)))
    old = d.wait_pids("w", 2)
    wait_until(lambda: ready_pids(d, "w").get("ready") == 2, msg="ready")
    d.write_ini(ini(watcher("w", "--ready-after 0.1 --status v2", 2)))
    m = d.events.mark()
    assert_ok(d.call("reloadconfig", waiting=True, timeout=60))
    d.events.wait_count("w", "rolling", 2, since=m)
    steps = [e.body["replaced"] for e in d.events.since(m, "w", "rolling")]
    assert steps == [1, 2], steps
    v2 = d.pids("w")
    assert not set(v2) & set(old)
    info = d.call("stats", name="w")["info"]
    assert all(v["notify_status"] == "v2" for v in info.values()), info
    # SIGHUP reloads every watcher: rolling too
    m = d.events.mark()
    d.signal(_signal.SIGHUP)
    d.events.wait_event("w", "reload", since=m, timeout=60)
    steps = [e.body["replaced"] for e in d.events.since(m, "w", "rolling")]
    assert steps == [1, 2], steps
    assert not set(d.pids("w")) & set(v2)


def test_options_list_readiness_keys_only_once_used(circusd):
    d = circusd(ini(watcher("w", "--ready-after 0", 1, "rolling = 2"),
                    """
    [watcher:plain]
    cmd = /bin/sleep 3600
    """))
    o = d.call("options", name="w")["options"]
    assert (o["readiness"], o["rolling"], o["readiness_timeout"],
            o["watchdog"]) == ("notify", 2, 30.0, 0.0), o
    # a watcher that does not use them answers Circus's key set...
    plain = d.call("options", name="plain")["options"]
    assert "readiness" not in plain and "rolling" not in plain
    # ...and get still reads them
    r = d.call("get", name="plain", keys=["readiness", "rolling"])
    assert r["options"] == {"readiness": "none", "rolling": 1}, r
