# SPDX-License-Identifier: Apache-2.0
"""The event channel: framing, bodies and every sequence of
Circus (doc/design.md §17.3; with §5: a process that dies on its own is
reaped and replaced at once, not at the next check_delay)."""

import os
import signal
import stat

import pytest

from conftest import (WORKER_IGNORE_TERM, is_python_json_layout, pid_alive,
                      wait_until)

SLEEPER = """
[watcher:sleeper]
cmd = /bin/sleep 3600
numprocesses = 2
graceful_timeout = 10
"""


def trace(d, watcher, mark):
    """[(action, pid or hook name, exit_code)] for one watcher since mark."""
    out = []
    for e in d.events.since(mark, watcher):
        b = e.body or {}
        if e.action in ("hook_success", "hook_failure"):
            out.append(("%s(%s)" % (e.action, b.get("name")), None, None))
        else:
            out.append((e.action, b.get("process_pid"), b.get("exit_code")))
    return out


def actions(d, watcher, mark):
    return [a for a, _, _ in trace(d, watcher, mark)]


def check_bodies(d, mark):
    """Every event: 2 frames, Python json layout, documented body keys."""
    shapes = {"spawn": ["process_pid", "time"], "kill": ["process_pid", "time"],
              "reap": ["process_pid", "time", "exit_code"],
              "start": ["time"], "stop": ["time"], "reload": ["time"],
              "updated": ["time"], "add": ["time"], "remove": ["time"],
              "hook_success": ["name", "time"],
              "hook_failure": ["name", "time", "error"]}
    for e in d.events.since(mark):
        assert e.nframes == 2, e
        assert e.topic.startswith("watcher."), e
        assert is_python_json_layout(e.raw), e
        assert e.action in shapes, e
        assert list(e.body) == shapes[e.action], e
        assert isinstance(e.body["time"], float), e


@pytest.fixture
def d(circusd):
    return circusd(SLEEPER)


def test_stop_sequence(d):
    old = d.pids("sleeper")
    m = d.events.mark()
    assert d.call("stop", name="sleeper")["status"] == "ok"
    d.events.wait_event("sleeper", "stop", m, timeout=30)
    t = trace(d, "sleeper", m)
    assert [a for a, _, _ in t] == ["kill", "kill", "reap", "reap", "stop"], t
    assert sorted(p for a, p, _ in t if a == "kill") == sorted(old)
    assert sorted(p for a, p, _ in t if a == "reap") == sorted(old)
    assert [c for a, _, c in t if a == "reap"] == [-15, -15]
    check_bodies(d, m)


def test_start_sequence(d):
    m0 = d.events.mark()
    d.call("stop", name="sleeper", waiting=True)
    d.events.wait_event("sleeper", "stop", m0)
    m = d.events.mark()
    r = d.call("start", name="sleeper", waiting=True)
    d.events.wait_event("sleeper", "start", m)
    t = trace(d, "sleeper", m)
    assert [a for a, _, _ in t] == ["spawn", "spawn", "start"], t
    assert sorted(p for a, p, _ in t if a == "spawn") == sorted(d.pids("sleeper"))
    assert sorted(p for a, p, _ in t if a == "spawn") == r["info"]["started"]
    check_bodies(d, m)


def test_restart_sequence(d):
    old = d.pids("sleeper")
    m = d.events.mark()
    d.call("restart", name="sleeper", waiting=True)
    d.events.wait_event("sleeper", "start", m)
    t = trace(d, "sleeper", m)
    assert [a for a, _, _ in t] == ["kill", "kill", "reap", "reap", "stop",
                                    "spawn", "spawn", "start"], t
    assert sorted(p for a, p, _ in t if a == "reap") == sorted(old)
    assert sorted(p for a, p, _ in t if a == "spawn") == sorted(d.pids("sleeper"))


def assert_no_reap_for(d, watcher, pids, mark):
    """Once the pids are gone, and after a sync point, no reap was sent."""
    wait_until(lambda: not any(pid_alive(p) for p in pids), 20)
    d.sync_events()
    reaped = [p for a, p, _ in trace(d, watcher, mark) if a == "reap"]
    assert not set(reaped) & set(pids), trace(d, watcher, mark)


def test_reload_graceful_sequence(d):
    o1, o2 = d.pids("sleeper")
    m = d.events.mark()
    d.call("reload", name="sleeper", waiting=True)
    d.events.wait_event("sleeper", "reload", m, timeout=30)
    t = trace(d, "sleeper", m)
    assert [a for a, _, _ in t] == ["spawn", "spawn", "kill", "kill", "reload"], t
    assert sorted(p for a, p, _ in t if a == "kill") == sorted([o1, o2]), t
    new = [p for a, p, _ in t if a == "spawn"]
    assert sorted(new) == sorted(d.pids("sleeper"))
    assert_no_reap_for(d, "sleeper", [o1, o2], m)
    assert actions(d, "sleeper", m) == ["spawn", "spawn", "kill", "kill", "reload"]
    # the oldest are killed, newest-first among the surplus (as on 0.19)
    assert [p for a, p, _ in t if a == "kill"] == [o2, o1], \
        "kill order %s, expected newest-first [O2, O1] = %s" % (
            [p for a, p, _ in t if a == "kill"], [o2, o1])


def test_reload_sequential_sequence(d):
    old = d.pids("sleeper")
    m = d.events.mark()
    d.call("reload", name="sleeper", sequential=True, waiting=True)
    d.events.wait_event("sleeper", "reload", m, timeout=30)
    t = trace(d, "sleeper", m)
    assert [a for a, _, _ in t] == ["kill", "reap", "spawn",
                                    "kill", "reap", "spawn", "reload"], t
    assert t[0][1] == t[1][1] and t[3][1] == t[4][1], t
    assert sorted([t[0][1], t[3][1]]) == sorted(old)
    assert t[1][2] == -15 and t[4][2] == -15
    assert sorted([t[2][1], t[5][1]]) == sorted(d.pids("sleeper"))


def test_reload_not_graceful_is_restart(d):
    m = d.events.mark()
    d.call("reload", name="sleeper", graceful=False, waiting=True)
    d.events.wait_event("sleeper", "start", m, timeout=30)
    assert actions(d, "sleeper", m) == ["kill", "kill", "reap", "reap", "stop",
                                        "spawn", "spawn", "start"]


def test_incr_decr_sequences(d):
    old = d.pids("sleeper")
    m = d.events.mark()
    d.call("incr", name="sleeper", waiting=True)
    e = d.events.wait_event("sleeper", "spawn", m)
    assert actions(d, "sleeper", m) == ["spawn"]
    assert d.pids("sleeper") == old + [e.body["process_pid"]]
    m = d.events.mark()
    d.call("decr", name="sleeper", waiting=True)
    e = d.events.wait_event("sleeper", "kill", m)
    assert e.body["process_pid"] == old[0]  # oldest first
    assert_no_reap_for(d, "sleeper", [old[0]], m)
    assert actions(d, "sleeper", m) == ["kill"]


def test_set_env_sequence(d):
    o1, o2 = d.pids("sleeper")
    m = d.events.mark()
    d.call("set", name="sleeper", options={"env": {"A": "1"}}, waiting=True)
    d.events.wait_event("sleeper", "reload", m, timeout=30)
    t = trace(d, "sleeper", m)
    assert [a for a, _, _ in t] == ["updated", "spawn", "spawn", "kill",
                                    "kill", "reload"], t
    assert sorted(p for a, p, _ in t if a == "kill") == sorted([o1, o2]), t
    assert [p for a, p, _ in t if a == "kill"] == [o2, o1], \
        "kill order %s, expected newest-first [O2, O1] = %s" % (
            [p for a, p, _ in t if a == "kill"], [o2, o1])


def test_set_publishes_one_updated_per_key(d):
    m = d.events.mark()
    d.call("set", name="sleeper", options={"graceful_timeout": 3,
                                           "max_retry": 2, "respawn": True},
           waiting=True)
    d.events.wait_count("sleeper", "updated", 3, m)
    d.sync_events()
    assert actions(d, "sleeper", m) == ["updated", "updated", "updated"]


def test_crash_sequence_reap_then_spawn(d):
    victim = d.pids("sleeper")[0]
    m = d.events.mark()
    os.kill(victim, signal.SIGKILL)
    r = d.events.wait_event("sleeper", "reap", m, pid=victim)
    assert r.body["exit_code"] == -9
    s = d.events.wait_event("sleeper", "spawn", m)
    assert actions(d, "sleeper", m)[:2] == ["reap", "spawn"]
    assert s.body["process_pid"] in d.pids("sleeper")
    assert len(d.pids("sleeper")) == 2


EXIT_ON_FILE = r'''
import os, sys, time
trigger = sys.argv[1]
while not os.path.exists(trigger):
    time.sleep(0.05)
os.unlink(trigger)
sys.exit(int(sys.argv[2]))
'''


def test_crash_exit_code(circusd, wd):
    cmd = wd.script("exit.py", EXIT_ON_FILE)
    d = circusd("""
    [watcher:crashy]
    cmd = %s %s/trigger 3
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("crashy", 1)
    m = d.events.mark()
    (wd / "trigger").write_text("")
    r = d.events.wait_event("crashy", "reap", m, pid=pid)
    assert r.body["exit_code"] == 3
    assert list(r.body) == ["process_pid", "time", "exit_code"]
    s = d.events.wait_event("crashy", "spawn", m)
    assert s.body["process_pid"] != pid


def test_sigkill_escalation_sequence(circusd, wd):
    cmd = wd.script("ign.py", WORKER_IGNORE_TERM)
    d = circusd("""
    [watcher:stubborn]
    cmd = %s %s/ready
    graceful_timeout = 1
    """ % (cmd, wd.path))
    [pid] = d.wait_pids("stubborn", 1)
    wait_until(lambda: (wd / "ready").exists(), 20)
    m = d.events.mark()
    d.call("stop", name="stubborn")
    d.events.wait_event("stubborn", "stop", m, timeout=30)
    t = trace(d, "stubborn", m)
    assert t == [("kill", pid, None), ("kill", pid, None), ("reap", pid, -9),
                 ("stop", None, None)], t


def test_add_start_and_rm_sequences(d):
    m = d.events.mark()
    r = d.call("add", name="extra", cmd="/bin/sleep 3600", start=True,
               waiting=True)
    d.events.wait_event("extra", "start", m)
    t = trace(d, "extra", m)
    assert [a for a, _, _ in t] == ["add", "spawn", "start"], t
    assert [p for a, p, _ in t if a == "spawn"] == r["started"]
    pid = r["started"][0]
    m = d.events.mark()
    d.call("rm", name="extra", waiting=True)
    d.events.wait_event("extra", "stop", m)
    t = trace(d, "extra", m)
    assert t == [("remove", None, None), ("kill", pid, None),
                 ("reap", pid, -15), ("stop", None, None)], t


def test_add_without_start_only_add(d):
    m = d.events.mark()
    d.call("add", name="quiet", cmd="/bin/sleep 3600")
    d.events.wait_event("quiet", "add", m)
    d.sync_events()
    assert actions(d, "quiet", m) == ["add"]


def test_kill_command_kill_without_reap(d):
    victim = d.pids("sleeper")[0]
    m = d.events.mark()
    d.call("kill", name="sleeper", pid=victim, waiting=True)
    d.events.wait_event("sleeper", "kill", m, pid=victim)
    d.events.wait_event("sleeper", "spawn", m)
    assert_no_reap_for(d, "sleeper", [victim], m)
    assert actions(d, "sleeper", m) == ["kill", "spawn"]


def test_signal_command_publishes_nothing(d):
    m = d.events.mark()
    d.call("signal", name="sleeper", signum="CONT")
    d.sync_events()
    assert actions(d, "sleeper", m) == []


def test_stop_of_stopped_watcher_publishes_nothing(d):
    m0 = d.events.mark()
    d.call("stop", name="sleeper", waiting=True)
    d.events.wait_event("sleeper", "stop", m0)
    m = d.events.mark()
    d.call("stop", name="sleeper", waiting=True)
    d.sync_events()
    assert actions(d, "sleeper", m) == []


def test_topic_lowercased_spaces_to_underscore(d):
    m = d.events.mark()
    d.call("add", name="Big Name.v2", cmd="/bin/sleep 3600", start=True,
           waiting=True)
    e = d.events.wait_for(lambda e: e.topic == "watcher.big_name.v2.start", 15, m)
    topics = [x.topic for x in d.events.since(m) if x.watcher == "big_name.v2"]
    assert topics == ["watcher.big_name.v2.add", "watcher.big_name.v2.spawn",
                      "watcher.big_name.v2.start"], topics
    assert e.body is not None
    d.call("rm", name="big name.v2", waiting=True)


def test_quit_final_events_reach_subscribers(d):
    old = d.pids("sleeper")
    m = d.events.mark()
    d.call("quit")
    assert d.wait_exit(60) == 0
    d.events.wait_event("sleeper", "stop", m, timeout=10)
    t = trace(d, "sleeper", m)
    assert [a for a, _, _ in t] == ["kill", "kill", "reap", "reap", "stop"], t
    assert sorted(p for a, p, _ in t if a == "reap") == sorted(old)


# --------------------------------------------------------------------------
# hooks (doc/design.md §9: hooks are programs)

HOOK = r'''#!/usr/bin/python3
import json, os, sys, time
d = %(dir)r
data = sys.stdin.read()
env = {k: v for k, v in os.environ.items() if k.startswith("CIRCUS_")}
hook = env.get("CIRCUS_HOOK", "unknown")
name = "%%s.%%d.%%d.json" %% (hook, os.getpid(), time.monotonic_ns())
with open(os.path.join(d, name), "w") as f:
    json.dump({"stdin": data, "env": env}, f)
sys.exit(%(code)d)
'''


def write_hook(wd, name, code):
    (wd / "hooks").mkdir(exist_ok=True)
    p = wd / name
    p.write_text(HOOK % {"dir": str(wd / "hooks"), "code": code})
    p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return p


def hook_records(wd, hook):
    import json
    out = []
    for p in sorted((wd / "hooks").glob("%s.*.json" % hook)):
        out.append(json.loads(p.read_text()))
    return out


@pytest.fixture
def hooked(circusd, wd):
    ok = write_hook(wd, "ok.py", 0)
    bad = write_hook(wd, "bad.py", 2)
    return circusd("""
    [watcher:hk]
    cmd = /bin/sleep 3600
    autostart = false
    graceful_timeout = 10
    hooks.before_spawn = %(ok)s
    hooks.after_spawn = %(ok)s
    hooks.before_stop = %(bad)s
    hooks.after_stop = %(ok)s
    hooks.before_signal = %(ok)s
    hooks.after_signal = %(ok)s
    hooks.before_reap = %(ok)s
    hooks.after_reap = %(ok)s
    """ % {"ok": ok, "bad": bad})


def test_hook_spawn_sequence(hooked, wd):
    m = hooked.events.mark()
    r = hooked.call("start", name="hk", waiting=True)
    assert r["status"] == "ok" and len(r["info"]["started"]) == 1, r
    hooked.events.wait_event("hk", "start", m)
    assert actions(hooked, "hk", m) == ["hook_success(before_spawn)",
                                        "hook_success(after_spawn)",
                                        "spawn", "start"]
    pid = r["info"]["started"][0]
    rec = hook_records(wd, "after_spawn")
    assert rec, "after_spawn hook program did not run"
    assert rec[0]["env"]["CIRCUS_HOOK"] == "after_spawn"
    assert rec[0]["env"]["CIRCUS_WATCHER"] == "hk"
    import json
    data = json.loads(rec[0]["stdin"])
    assert data["hook"] == "after_spawn" and data["watcher"] == "hk"
    assert data["pid"] == pid


def test_hook_stop_sequence(hooked, wd):
    m0 = hooked.events.mark()
    hooked.call("start", name="hk", waiting=True)
    hooked.events.wait_event("hk", "start", m0)
    [pid] = hooked.pids("hk")
    m = hooked.events.mark()
    hooked.call("stop", name="hk")
    hooked.events.wait_for(lambda e: e.watcher == "hk" and
                           e.action == "hook_success" and
                           e.body.get("name") == "after_stop", 30, m)
    t = actions(hooked, "hk", m)
    assert t == ["hook_failure(before_stop)",
                 "hook_success(before_signal)", "hook_success(after_signal)",
                 "kill",
                 "hook_success(before_reap)", "reap", "hook_success(after_reap)",
                 "stop", "hook_success(after_stop)"], t
    fail = [e for e in hooked.events.since(m, "hk", "hook_failure")][0]
    assert list(fail.body) == ["name", "time", "error"]
    assert fail.body["name"] == "before_stop" and isinstance(fail.body["error"], str)
    sig = json_of(hook_records(wd, "before_signal")[0])
    assert sig["pid"] == pid and sig["signum"] == 15


def json_of(rec):
    import json
    return json.loads(rec["stdin"])


def test_hook_before_spawn_veto(circusd, wd):
    veto = write_hook(wd, "veto.py", 1)
    d = circusd("""
    [watcher:vetoed]
    cmd = /bin/sleep 3600
    autostart = false
    hooks.before_spawn = %s
    """ % veto)
    m = d.events.mark()
    r = d.call("start", name="vetoed", waiting=True)
    assert r["status"] == "ok", r
    assert d.status("vetoed") == "stopped"
    assert d.pids("vetoed") == []
    d.sync_events()
    acts = actions(d, "vetoed", m)
    assert "spawn" not in acts and "start" not in acts, acts
    assert acts[0] == "hook_success(before_spawn)", acts
