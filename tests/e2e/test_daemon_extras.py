# SPDX-License-Identifier: Apache-2.0
"""on_demand watchers, endpoint_owner and multicast discovery errors."""

import os
import pwd
import socket

from conftest import wait_until


def test_on_demand_starts_on_socket_activity(circusd):
    """Circus's intended on_demand behaviour: an on_demand watcher stays
    stopped at boot and starts when one of the sockets becomes readable,
    even behind a higher-priority watcher (Circus's bug)."""
    d = circusd("""
    [watcher:first]
    cmd = /bin/sleep 3600
    priority = 10

    [watcher:lazy]
    cmd = /bin/sleep 3600
    on_demand = true
    use_sockets = true

    [socket:web]
    host = 127.0.0.1
    port = 0
    """)
    assert d.status("lazy") == "stopped"
    assert d.call("start", name="lazy", waiting=True)["status"] == "ok"
    assert d.status("lazy") == "stopped"   # start does not start it either
    port = d.call("listsockets")["sockets"][0]["port"]
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        d.wait_status("lazy", "active", timeout=20)
        assert len(d.wait_pids("lazy", 1)) == 1
    finally:
        c.close()


def test_endpoint_owner_chowns_the_ipc_socket(circusd):
    nobody = pwd.getpwnam("nobody")
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, circus={"endpoint_owner": "nobody"})
    path = d.endpoint[len("ipc://"):]
    assert os.stat(path).st_uid == nobody.pw_uid
    r = d.call("add", name="x", cmd="/bin/sleep 1", options={"uid": "root"})
    assert r["status"] == "error" and r["errno"] == 3, r
    assert r["reason"] == "uid does not match endpoint_owner"


def test_bad_multicast_endpoint_only_disables_discovery(circusd):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, start=False)
    text = d.ini.read_text().replace("multicast_endpoint =",
                                     "multicast_endpoint = udp://127.0.0.1:1")
    d.ini.write_text(text)
    d.start()
    wait_until(lambda: "Multicast discovery is disabled" in d.log_text(), 20)
    assert d.status("w") == "active"


def test_daemon_flag_detaches_and_writes_pidfile(circusd, wd):
    """doc/design.md §15: --daemon forks twice and detaches; the caller gets 0 at
    once; --pidfile holds the daemon's pid until it exits."""
    from conftest import Client, pid_alive, run_circusd
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, start=False)
    pidfile = wd / "d.pid"
    logfile = wd / "d.log"
    r = run_circusd(["--daemon", "--pidfile", pidfile, "--log-output",
                     logfile, "--log-level", "debug", d.ini], cwd=str(wd.path))
    assert r.returncode == 0, r
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 20)
    pid = int(pidfile.read_text())
    assert pid_alive(pid)
    c = Client(d.endpoint)
    try:
        wait_until(lambda: c.call("status", name="w", timeout=2)["status"]
                   == "active", 20)
        assert c.call("quit", waiting=True)["status"] == "ok"
    finally:
        c.close()
    wait_until(lambda: not pid_alive(pid), 30)
    assert not pidfile.exists()
    text = logfile.read_text()
    assert "[DEBUG]" in text and "Starting master on pid %d" % pid in text


def test_version_and_usage(wd):
    from conftest import run_circusd
    r = run_circusd(["--version"])
    assert r.returncode == 0 and r.stdout.strip() == "0.19.0"
    r = run_circusd([])
    assert r.returncode == 0 and "usage: circusd" in r.stdout
    r = run_circusd(["--log-level", "loud", "x.ini"])
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_quit_waits_for_a_removed_watcher_still_stopping(circusd, wd):
    """A watcher rm'd while its process ignores SIGTERM is still stopping
    when quit arrives: quit waits for it, kills it at graceful_timeout, and
    nothing is left running or leaked."""
    from conftest import pid_alive
    script = wd.script("stubborn.py", """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").close()
while True:
    time.sleep(1)
""")
    d = circusd("""
    [watcher:stubborn]
    cmd = %s %s
    graceful_timeout = 2
    """ % (script, wd / "ready"))
    [pid] = d.wait_pids("stubborn", 1)
    wait_until(lambda: (wd / "ready").exists(), 20)
    assert d.call("rm", name="stubborn")["status"] == "ok"
    assert "stubborn" not in d.call("list")["watchers"]
    assert pid_alive(pid)           # still stopping: it ignores SIGTERM
    assert d.quit() == 0
    assert not pid_alive(pid)
    assert "sending SIGKILL" in d.log_text()


def test_commands_answered_while_a_big_batch_spawns(circusd):
    """Never block: spawning 1,000 processes is done in slices, so a
    command sent right after `start` is answered long before the batch is
    complete (the loop does not spawn all 1,000 in one go)."""
    d = circusd("""
    [watcher:many]
    cmd = /bin/sleep 3600
    numprocesses = 1000
    autostart = false
    graceful_timeout = 20
    """)
    assert d.call("start", name="many")["status"] == "ok"
    n = d.call("numprocesses", name="many")["numprocesses"]
    assert n < 1000, n
    old = d.wait_pids("many", 1000, timeout=300)
    # a graceful reload spawns a whole new set: in slices too
    assert d.call("reload", name="many")["status"] == "ok"
    n = d.call("numprocesses", name="many")["numprocesses"]
    assert n < 2000, n
    wait_until(lambda: not set(d.pids("many")) & set(old), 300, 0.5)
    assert len(d.wait_pids("many", 1000, timeout=300)) == 1000
    assert d.call("stop", name="many", waiting=True, timeout=120)["status"] == "ok"
