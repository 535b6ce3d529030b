# SPDX-License-Identifier: Apache-2.0
"""Hooks of the signal and stats commands (doc/design.md §9): `signal`
runs before_signal/after_signal around each process it signals (a veto
holds back every signal but SIGKILL, after_signal runs anyway, no kill
event); `stats <name>` with `extended` runs extended_stats per process and
adds the keys of the JSON object it prints."""

import signal

from conftest import assert_ok, pid_alive, wait_until
from test_hooks import records, trace, watcher, write_hook

# A worker that counts the USR1 signals it gets in <dir>/usr1.<pid>.
COUNTER = r'''
import os, signal, sys, time
d = sys.argv[1]
def h(signum, frame):
    with open(os.path.join(d, "usr1.%d" % os.getpid()), "a") as f:
        f.write("x")
signal.signal(signal.SIGUSR1, h)
open(os.path.join(d, "ready.%d" % os.getpid()), "w").close()
while True:
    time.sleep(3600)
'''


def test_signal_command_runs_the_signal_hooks(circusd, wd):
    ok = write_hook(wd, "ok.py", 0)
    cmd = wd.script("counter.py", COUNTER) + " " + str(wd)
    d = circusd(watcher("w", {"before_signal": ok, "after_signal": ok})
                .replace("/bin/sleep 3600", cmd))
    assert_ok(d.call("start", name="w", waiting=True))
    pid = d.wait_pids("w", 1)[0]
    wait_until(lambda: (wd / ("ready.%d" % pid)).exists(), 20)
    m = d.events.mark()
    assert_ok(d.call("signal", name="w", signum="USR1"))
    wait_until(lambda: (wd / ("usr1.%d" % pid)).exists(), 20)
    d.events.wait_for(lambda e: e.watcher == "w" and
                      e.action == "hook_success" and
                      e.body["name"] == "after_signal", since=m)
    assert trace(d, "w", m) == ["hook_success(before_signal)",
                                "hook_success(after_signal)"]
    for hook in ("before_signal", "after_signal"):
        assert records(wd, hook)[0]["data"] == {
            "hook": hook, "watcher": "w", "pid": pid,
            "signum": signal.SIGUSR1}


def test_signal_command_veto_holds_back_all_but_sigkill(circusd, wd):
    no = write_hook(wd, "no.py", 1)
    ok = write_hook(wd, "ok.py", 0)
    cmd = wd.script("counter.py", COUNTER) + " " + str(wd)
    d = circusd(watcher("w", {"before_signal": no, "after_signal": ok})
                .replace("/bin/sleep 3600", cmd))
    assert_ok(d.call("start", name="w", waiting=True))
    pid = d.wait_pids("w", 1)[0]
    wait_until(lambda: (wd / ("ready.%d" % pid)).exists(), 20)
    assert_ok(d.call("signal", name="w", signum="USR1"))
    # after_signal runs even though the signal was vetoed
    wait_until(lambda: len(records(wd, "after_signal")) == 1, 20)
    assert not (wd / ("usr1.%d" % pid)).exists()
    assert pid_alive(pid)
    m = d.events.mark()
    assert_ok(d.call("signal", name="w", signum="KILL"))
    d.events.wait_event("w", "spawn", since=m, timeout=20)
    assert not pid_alive(pid)
    assert [r["data"]["signum"] for r in records(wd, "before_signal")] == \
        [signal.SIGUSR1, signal.SIGKILL]
    assert not d.events.since(m, "w", "kill")


EXTENDED = r'''#!/usr/bin/python3
import json, os, sys
data = json.load(sys.stdin)
print(json.dumps({"seen_pid": data["pid"], "had_cpu": "cpu" in data["stats"],
                  "hook": os.environ["CIRCUS_HOOK"]}))
'''


def test_stats_extended_runs_extended_stats(circusd, wd):
    hook = wd / "ext.py"
    hook.write_text(EXTENDED)
    hook.chmod(0o755)
    d = circusd(watcher("w", {"extended_stats": hook}).replace(
        "autostart = false", "numprocesses = 2"))
    pids = d.wait_pids("w", 2)
    r = d.call("stats", name="w", extended=True)
    assert_ok(r)
    assert sorted(r["info"]) == sorted(str(p) for p in pids)
    for pid, info in r["info"].items():
        keys = list(info)
        assert keys[-3:] == ["seen_pid", "had_cpu", "hook"], keys
        assert info["seen_pid"] == int(pid) and info["had_cpu"] is True
        assert info["hook"] == "extended_stats"
    # without extended (or without the hook) nothing runs
    r = d.call("stats", name="w")
    assert all("seen_pid" not in i for i in r["info"].values())
