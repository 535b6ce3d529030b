# SPDX-License-Identifier: Apache-2.0
"""Hooks as programs (doc/design.md §9): vetoes at every
point, failures and the ignore list, signal/reap hooks, and the loop
serving other commands while a hook runs."""

import json
import os
import signal
import stat
import time

from conftest import WORKER_IGNORE_TERM, pid_alive, wait_until

# Records stdin + CIRCUS_* env to <dir>/<hook>.<pid>.<ns>.json, sleeps
# SLEEP seconds, exits with CODE.
HOOK = r'''#!/usr/bin/python3
import json, os, sys, time
d = %(dir)r
data = sys.stdin.read()
env = {k: v for k, v in os.environ.items()
       if k.startswith("CIRCUS_") or k == "FOO"}
hook = env.get("CIRCUS_HOOK", "unknown")
name = "%%s.%%d.%%d.json" %% (hook, os.getpid(), time.monotonic_ns())
with open(os.path.join(d, name), "w") as f:
    json.dump({"stdin": data, "env": env, "cwd": os.getcwd()}, f)
time.sleep(%(sleep)r)
sys.exit(%(code)d)
'''


def write_hook(wd, name, code, sleep=0):
    (wd / "hooks").mkdir(exist_ok=True)
    p = wd / name
    p.write_text(HOOK % {"dir": str(wd / "hooks"), "code": code,
                         "sleep": sleep})
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return p


def records(wd, hook):
    out = []
    for p in sorted((wd / "hooks").glob("%s.*.json" % hook),
                    key=lambda p: int(p.name.split(".")[2])):
        r = json.loads(p.read_text())
        r["data"] = json.loads(r["stdin"])
        out.append(r)
    return out


def trace(d, watcher, mark):
    out = []
    for e in d.events.since(mark, watcher):
        if e.action in ("hook_success", "hook_failure"):
            out.append("%s(%s)" % (e.action, e.body["name"]))
        else:
            out.append(e.action)
    return out


def watcher(name, hooks, extra=""):
    lines = ["[watcher:%s]" % name, "cmd = /bin/sleep 3600",
             "autostart = false", "graceful_timeout = 10"]
    lines += ["hooks.%s = %s" % kv for kv in hooks.items()]
    return "\n".join(lines) + "\n" + extra


def test_before_start_veto_keeps_it_stopped(circusd, wd):
    no = write_hook(wd, "no.py", 1)
    d = circusd(watcher("w", {"before_start": no}))
    m = d.events.mark()
    r = d.call("start", name="w", waiting=True)
    assert r["status"] == "ok" and r["info"]["started"] == [], r
    assert d.status("w") == "stopped" and d.pids("w") == []
    d.sync_events()
    assert trace(d, "w", m) == ["hook_success(before_start)"]
    assert records(wd, "before_start")[0]["data"] == {
        "hook": "before_start", "watcher": "w"}


def test_after_start_veto_stops_without_start_event(circusd, wd):
    no = write_hook(wd, "no.py", 1)
    d = circusd(watcher("w", {"after_start": no}))
    m = d.events.mark()
    r = d.call("start", name="w", waiting=True)
    assert r["status"] == "ok", r
    assert d.status("w") == "stopped" and d.pids("w") == []
    d.sync_events()
    assert trace(d, "w", m) == ["spawn", "hook_success(after_start)", "kill",
                                "reap", "stop"]


def test_after_spawn_veto_kills_the_process(circusd, wd):
    no = write_hook(wd, "no.py", 1)
    d = circusd(watcher("w", {"after_spawn": no}))
    m = d.events.mark()
    r = d.call("start", name="w", waiting=True)
    assert r["status"] == "ok", r
    assert d.status("w") == "stopped" and d.pids("w") == []
    d.sync_events()
    t = trace(d, "w", m)
    assert "spawn" not in t and "start" not in t, t
    assert t[0] == "hook_success(after_spawn)", t
    pid = records(wd, "after_spawn")[0]["data"]["pid"]
    wait_until(lambda: not pid_alive(pid), 10)


def test_failure_vetoes_unless_ignored(circusd, wd):
    bad = write_hook(wd, "bad.py", 3)
    d = circusd(watcher("strict", {"before_start": bad}) +
                watcher("lax", {"before_start": "%s, true" % bad}))
    m = d.events.mark()
    assert d.call("start", name="strict", waiting=True)["status"] == "ok"
    assert d.status("strict") == "stopped"
    r = d.call("start", name="lax", waiting=True)
    assert len(r["info"]["started"]) == 1, r
    assert d.status("lax") == "active"
    d.sync_events()
    f = d.events.since(m, "strict", "hook_failure")[0]
    assert list(f.body) == ["name", "time", "error"]
    assert f.body["name"] == "before_start"
    assert f.body["error"] == "exited with 3"
    assert trace(d, "lax", m) == ["hook_failure(before_start)", "spawn",
                                  "start"]
    assert "Hook 'before_start' failed: exited with 3" in d.log_text()


def test_missing_program_and_signal_death_are_failures(circusd, wd):
    killer = wd / "killer.sh"
    killer.write_text("#!/bin/sh\nkill -9 $$\n")
    killer.chmod(0o755)
    d = circusd(watcher("gone", {"before_start": wd / "nope"}) +
                watcher("shot", {"before_start": killer}))
    m = d.events.mark()
    d.call("start", name="gone", waiting=True)
    d.call("start", name="shot", waiting=True)
    assert d.status("gone") == "stopped" and d.status("shot") == "stopped"
    d.sync_events()
    [f] = d.events.since(m, "gone", "hook_failure")
    assert "No such file or directory" in f.body["error"], f.body
    [f] = d.events.since(m, "shot", "hook_failure")
    assert f.body["error"] == "killed by signal 9", f.body


def test_stop_sequence_with_several_processes(circusd, wd):
    ok = write_hook(wd, "ok.py", 0)
    d = circusd(watcher("w", {h: ok for h in (
        "before_stop", "after_stop", "before_signal", "after_signal",
        "before_reap", "after_reap")}, "numprocesses = 3\n"))
    pids = d.call("start", name="w", waiting=True)["info"]["started"]
    assert len(pids) == 3
    d.sync_events()
    m = d.events.mark()
    d.call("stop", name="w", waiting=True)
    d.sync_events()
    t = trace(d, "w", m)
    sig = ["hook_success(before_signal)", "hook_success(after_signal)",
           "kill"]
    reap = ["hook_success(before_reap)", "reap", "hook_success(after_reap)"]
    assert t == (["hook_success(before_stop)"] + sig * 3 + reap * 3 +
                 ["stop", "hook_success(after_stop)"]), t
    sigs = records(wd, "before_signal")
    assert sorted(r["data"]["pid"] for r in sigs) == sorted(pids)
    for r in sigs:
        assert r["env"]["CIRCUS_PID"] == str(r["data"]["pid"])
        assert r["env"]["CIRCUS_SIGNUM"] == "15"
    after = records(wd, "after_reap")
    assert sorted(r["data"]["process_pid"] for r in after) == sorted(pids)
    assert all(r["data"]["exit_code"] == -15 for r in after)
    assert list(after[0]["data"]) == ["hook", "watcher", "process_pid",
                                      "time", "exit_code", "process_status"]


def test_before_signal_veto_then_sigkill(circusd, wd):
    no = write_hook(wd, "no.py", 1)
    d = circusd(watcher("w", {"before_signal": no}).replace(
        "graceful_timeout = 10", "graceful_timeout = 1"))
    [pid] = d.call("start", name="w", waiting=True)["info"]["started"]
    d.sync_events()
    m = d.events.mark()
    d.call("stop", name="w", waiting=True, timeout=30)
    d.sync_events()
    assert trace(d, "w", m) == ["hook_success(before_signal)", "kill",
                                "hook_success(before_signal)", "kill",
                                "reap", "stop"]
    reap = d.events.since(m, "w", "reap")[0]
    assert reap.body["exit_code"] == -9    # SIGTERM was held back
    assert [r["data"]["signum"] for r in records(wd, "before_signal")] == \
        [15, 9]


def test_crash_reap_hooks_then_respawn(circusd, wd):
    ok = write_hook(wd, "ok.py", 0)
    d = circusd(watcher("w", {"before_reap": ok, "after_reap": ok,
                              "before_spawn": ok}))
    [pid] = d.call("start", name="w", waiting=True)["info"]["started"]
    d.sync_events()
    m = d.events.mark()
    os.kill(pid, signal.SIGKILL)
    d.events.wait_event("w", "spawn", m)
    assert trace(d, "w", m) == [
        "hook_success(before_reap)", "reap", "hook_success(after_reap)",
        "hook_success(before_spawn)", "spawn"]
    rec = records(wd, "after_reap")[0]
    assert rec["data"]["process_pid"] == pid
    assert rec["data"]["exit_code"] == -9
    assert rec["data"]["process_status"] is None
    assert rec["env"]["CIRCUS_PID"] == str(pid)


def test_loop_serves_while_a_hook_runs(circusd, wd):
    slow = write_hook(wd, "slow.py", 0, sleep=3)
    d = circusd(watcher("slow", {"before_start": slow}) + """
[watcher:other]
cmd = /bin/sleep 3600
""")
    t0 = time.monotonic()
    d.call("start", name="slow")            # not waiting: queued
    wait_until(lambda: records(wd, "before_start"), 10)
    assert d.status("slow") == "stopped"
    assert d.call("incr", name="other", waiting=True)["numprocesses"] == 2
    assert len(d.pids("other")) == 2
    assert time.monotonic() - t0 < 2.5
    d.wait_status("slow", "active", 15)


def test_rm_while_a_hook_runs_kills_it(circusd, wd):
    slow = write_hook(wd, "slow.py", 0, sleep=60)
    d = circusd(watcher("w", {"before_reap": slow}))
    [pid] = d.call("start", name="w", waiting=True)["info"]["started"]
    os.kill(pid, signal.SIGKILL)            # its reap waits for the hook
    wait_until(lambda: records(wd, "before_reap"), 10)
    [hook] = [int(p.name.split(".")[1])
              for p in (wd / "hooks").glob("before_reap.*.json")]
    assert pid_alive(hook)
    d.call("rm", name="w", nostop=True)     # frees the watcher now
    wait_until(lambda: not pid_alive(hook), 10)
    assert d.call("list")["watchers"] == []


def test_hook_runs_in_working_dir_with_watcher_env(circusd, wd):
    ok = write_hook(wd, "ok.py", 0)
    (wd / "wdir").mkdir()
    d = circusd(watcher("w", {"before_start": ok},
                        "working_dir = %s\n[env:w]\nFOO = bar\n" %
                        (wd / "wdir")))
    d.call("start", name="w", waiting=True)
    [rec] = records(wd, "before_start")
    assert rec["cwd"] == str(wd / "wdir")
    assert rec["env"] == {"CIRCUS_HOOK": "before_start",
                          "CIRCUS_WATCHER": "w", "FOO": "bar"}


def test_quit_with_hooks_exits_cleanly(circusd, wd):
    ok = write_hook(wd, "ok.py", 0)
    cmd = wd.script("ign.py", WORKER_IGNORE_TERM)
    d = circusd(watcher("w", {h: ok for h in (
        "before_stop", "after_stop", "before_signal", "after_signal")},
        "numprocesses = 2\n").replace("/bin/sleep 3600", cmd + " " +
                                      str(wd / "ready")).replace(
        "graceful_timeout = 10", "graceful_timeout = 1"))
    d.call("start", name="w", waiting=True)
    d.sync_events()
    m = d.events.mark()
    assert d.quit(60) == 0
    assert trace(d, "w", m)[-2:] == ["stop", "hook_success(after_stop)"]
