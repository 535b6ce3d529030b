# SPDX-License-Identifier: Apache-2.0
"""circusctl against the real circusd (conftest's `circusd` fixture).

The per-command details are checked against a fake daemon in
test_circusctl.py; here the two programs meet: every answer circusctl
prints must agree with what the daemon reports over the wire.
"""

import json
import os
import signal
import subprocess
import threading

from conftest import wait_until
from test_circusctl_fake import CIRCUSCTL, run_ctl

CONFIG = """
[watcher:sleeper]
cmd = sleep 300
numprocesses = 2
graceful_timeout = 3

[watcher:Echo]
cmd = sleep 301
"""


def ctl(d, *args, **kw):
    return run_ctl("--timeout", "20", *args, endpoint=d.endpoint, **kw)


def test_read_only_commands(circusd):
    d = circusd(CONFIG)
    p = ctl(d, "status")
    assert (p.returncode, p.stdout, p.stderr) == (
        0, "Echo: active\nsleeper: active\n", "")
    assert ctl(d, "list").stdout == "echo,sleeper\n"
    assert ctl(d, "numwatchers").stdout == "2\n"
    assert ctl(d, "numprocesses", "sleeper").stdout == "2\n"
    pids = d.call("list", name="sleeper")["pids"]
    assert ctl(d, "list", "sleeper").stdout == \
        ",".join(str(p) for p in pids) + "\n"
    assert ctl(d, "status", "sleeper").stdout == "active\n"
    p = ctl(d, "get", "sleeper", "numprocesses", "graceful_timeout")
    assert p.stdout == "numprocesses: 2\ngraceful_timeout: 3.0\n"
    options = ctl(d, "options", "sleeper").stdout.split("\n")
    assert "cmd: sleep 300" in options
    assert "numprocesses: 2" in options
    p = ctl(d, "globaloptions", "endpoint")
    assert p.stdout == "endpoint: %s\n" % d.endpoint
    p = ctl(d, "stats", "sleeper")
    lines = p.stdout.split("\n")
    assert lines[0] == "sleeper:"
    for pid, line in zip(pids, lines[1:]):
        assert line.startswith("%d: %d  sleep " % (pid, pid))
    p = ctl(d, "dstats")
    assert p.stdout.startswith("Main Process:\n    %d  " % d.pid)
    # --json prints the reply as received
    p = ctl(d, "--json", "list")
    reply = json.loads(p.stdout)
    assert reply["watchers"] == ["echo", "sleeper"]
    assert p.stdout == json.dumps(reply) + "\n"


def test_errors_from_the_daemon(circusd):
    d = circusd(CONFIG)
    p = ctl(d, "status", "nope")
    assert (p.returncode, p.stdout, p.stderr) == (3, "", "error\n")
    p = ctl(d, "stop", "nope")
    assert (p.returncode, p.stderr) == (3, "error: program nope not found\n")
    p = ctl(d, "get", "sleeper", "nope")
    assert (p.returncode, p.stderr) == (3, "error: 'nope' option not found\n")
    p = ctl(d, "--json", "incr", "nope")
    assert p.returncode == 3
    reply = json.loads(p.stdout)
    assert (reply["status"], reply["errno"]) == ("error", 3)


def test_changes(circusd):
    d = circusd(CONFIG)
    p = ctl(d, "incr", "sleeper", "--waiting")
    assert (p.returncode, p.stdout) == (0, "3\n"), p.stderr
    assert len(d.call("list", name="sleeper")["pids"]) == 3
    p = ctl(d, "decr", "sleeper", "2", "--waiting")
    assert (p.returncode, p.stdout) == (0, "1\n"), p.stderr
    p = ctl(d, "set", "sleeper", "graceful_timeout", "5", "--waiting")
    assert (p.returncode, p.stdout) == (0, "ok\n"), p.stderr
    assert ctl(d, "get", "sleeper", "graceful_timeout").stdout == \
        "graceful_timeout: 5.0\n"
    p = ctl(d, "stop", "sleeper", "--waiting")
    assert (p.returncode, p.stdout) == (0, "ok\n"), p.stderr
    assert ctl(d, "status", "sleeper").stdout == "stopped\n"
    p = ctl(d, "start", "sleep*", "--waiting")
    assert (p.returncode, p.stdout) == (0, "ok\n"), p.stderr
    wait_until(lambda: d.call("status", name="sleeper")["status"] ==
               "active", timeout=20)
    p = ctl(d, "add", "--start", "extra", "sleep", "302")
    assert (p.returncode, p.stdout) == (0, "ok\n"), p.stderr
    assert "extra" in d.call("list")["watchers"]
    p = ctl(d, "rm", "extra")
    assert (p.returncode, p.stdout) == (0, "ok\n"), p.stderr
    wait_until(lambda: "extra" not in d.call("list")["watchers"],
               timeout=20)


def test_listen(circusd):
    d = circusd(CONFIG)
    env = dict(os.environ)
    env.pop("CIRCUSCTL_ENDPOINT", None)
    proc = subprocess.Popen([str(CIRCUSCTL), "--endpoint", d.pubsub,
                             "listen", "watcher.sleeper."],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    lines = []

    def read():
        for raw in iter(proc.stdout.readline, b""):
            lines.append(raw.decode())
    t = threading.Thread(target=read, daemon=True)
    t.start()
    try:
        # events published before the SUB is connected are lost: keep
        # changing the watcher until one shows up
        def seen():
            if any(".spawn: " in l for l in lines):
                return True
            d.call("incr", name="sleeper")
            return False
        wait_until(seen, timeout=30, interval=0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=10)
    assert rc == 1
    spawn = [l for l in lines if ".spawn: " in l][0]
    topic, body = spawn.rstrip("\n").split(": ", 1)
    assert topic == "watcher.sleeper.spawn"
    assert list(json.loads(body)) == ["process_pid", "time"]
    assert not any("echo" in l for l in lines)
