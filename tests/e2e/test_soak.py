# SPDX-License-Identifier: Apache-2.0
"""Churn soak: workers that exit at once (each writes its pid first: the
ground truth), respawned at once (backoff_reset = 0 makes every death a
healthy one), while incr/decr/restart commands hit another watcher. No fd
may leak, no zombie stay, RSS stays flat, and every spawn and death is
published as an event, exactly once.

CI: 4,000 deaths and 200 commands (800 and 60 under ASan); `make soak`
(SOAK=1): 100,000 deaths and 10,000 commands."""

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import PYTHON, pid_alive, wait_until
from reliability import (Stopwatch, asan_build, assert_state_true, fd_count,
                         helper_path, rss_kb, scaled, wait_no_zombies)

HERE = Path(__file__).resolve().parent
DEATHS = scaled(4000, 100000, 800)
COMMANDS = scaled(200, 10000, 60)   # a multiple of 10: balanced incr/decr
WARMUP = min(1000, DEATHS // 4)
DEADLINE = scaled(150, 1500)
CHURNERS = 6
STEADY = 3


def deaths(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def logged_pids(path):
    with open(path) as f:
        return [int(x) for x in f.read().split()]


class EventCounter:
    """The events_counter.py subprocess."""

    def __init__(self, d, wd):
        self.d = d
        self.progress = wd / "events.progress"
        self.stop_file = wd / "events.stop"
        self.out = wd / "events.json"
        self.proc = subprocess.Popen(
            [PYTHON, str(HERE / "events_counter.py"), d.pubsub,
             str(self.progress), str(self.stop_file), str(self.out)])

    def seen(self):
        try:
            return int(self.progress.read_text())
        except (OSError, ValueError):
            return 0

    def wait_subscribed(self, timeout=20):
        """ZeroMQ slow joiner: add probe watchers until one is seen."""
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n += 1
            name = "probe%d" % n
            before = self.seen()
            self.d.call("add", name=name, cmd="/bin/true")
            self.d.call("rm", name=name, waiting=True)
            try:
                wait_until(lambda: self.seen() > before, 0.5)
                return
            except AssertionError:
                continue
        raise AssertionError("the event counter never got an event")

    def finish(self, timeout=60):
        self.stop_file.write_text("stop")
        self.proc.wait(timeout)
        return json.loads(self.out.read_text())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.timeout(DEADLINE + 180)
def test_churn_soak(circusd, wd, capsys):
    pidlog = helper_path("pidlog")
    log = wd / "churn.pids"
    d = circusd("""
    [watcher:churn]
    cmd = %s %s
    numprocesses = %d
    autostart = false

    [watcher:steady]
    cmd = /bin/sleep 3600
    numprocesses = %d
    graceful_timeout = 5
    """ % (pidlog, log, CHURNERS, STEADY),
        circus={"backoff_min": 0.01, "backoff_reset": 0, "backoff_max": 0.1})
    d.events.close()        # the counter below keeps up; this one would not
    counter = EventCounter(d, wd)
    try:
        steady0 = d.wait_pids("steady", STEADY)   # spawned before it
        counter.wait_subscribed()
        fds0 = fd_count(d.pid)      # before the churn: nothing in flight
        assert d.call("start", name="churn")["status"] == "ok"
        # warm-up, then the baseline
        wait_until(lambda: deaths(log) >= WARMUP, 60,
                   msg="%d deaths" % WARMUP)
        rss0 = rss_kb(d.pid)
        start_deaths = deaths(log)

        t = Stopwatch()
        ncmd = churn_decr = 0
        slowest = 0.0
        cycle = ("incr", "decr", "restart", "incr", "decr")
        while (deaths(log) - start_deaths < DEATHS or ncmd < COMMANDS):
            assert t() < DEADLINE, (
                "deadline: %d deaths, %d commands in %.0f s"
                % (deaths(log) - start_deaths, ncmd, t()))
            if ncmd < COMMANDS:
                tc = Stopwatch()
                # per 10: churn +1/-1, then steady +1 -1 restart +1 -1 ...
                if ncmd % 10 < 2:
                    r = d.call(("incr", "decr")[ncmd % 10], name="churn",
                               nb=1)
                    churn_decr += ncmd % 10
                elif cycle[ncmd % 5] == "restart":
                    r = d.call("restart", name="steady", waiting=True)
                else:
                    r = d.call(cycle[ncmd % 5], name="steady", nb=1)
                assert r["status"] == "ok", r
                slowest = max(slowest, tc())
                ncmd += 1
            else:
                time.sleep(0.05)    # pacing while deaths accumulate
        took = t()
        total = deaths(log) - start_deaths
        # the churn never keeps the loop from the control socket: when
        # respawns ran inside libev's reap pass, a command waited 1.6 s
        # (median) and up to 80 s (doc/design.md §5); now milliseconds
        assert slowest < 10, "a command took %.1f s during the churn" % (
            slowest)
        # the incr/decr were balanced: the counts are back
        d.wait_pids("steady", STEADY)
        assert d.call("options", name="churn")["options"][
            "numprocesses"] == CHURNERS
        rss1 = rss_kb(d.pid)

        assert d.call("stop", name="churn", waiting=True)["status"] == "ok"
        assert d.pids("churn") == []
        fds1 = fd_count(d.pid)      # nothing in flight any more
        wait_no_zombies(d.pid)
        assert_state_true(d, ["churn", "steady"])
        steady = d.pids("steady")
        assert len(steady) == STEADY and all(pid_alive(p) for p in steady)
        summary = counter.finish()
    finally:
        counter.kill()

    # every process that ran was announced, and its end too: a reap, or
    # for those decr trimmed, a kill (they get no reap event, as in
    # Circus). Multisets: 100,000 deaths reuse pids (pid_max 32768).
    ev = summary["events"]

    def ends(name, alive, before=()):
        spawned = Counter(ev[name].get("spawn", [])) + Counter(before)
        reaped = Counter(ev[name].get("reap", []))
        killed = Counter(ev[name].get("kill", []))
        assert not reaped - spawned, "%s: reap without spawn: %s" % (
            name, list(reaped - spawned)[:10])
        open_ = (spawned - reaped) - killed
        assert open_ == Counter(alive), (
            "%s: spawned, never reaped nor killed: %s (alive: %s)"
            % (name, list(open_)[:10], alive))
        return spawned, reaped

    spawned, reaped = ends("churn", [])
    ends("steady", steady, steady0)
    ran = Counter(logged_pids(log))
    missing = ran - spawned
    assert not missing, "%d ran without a spawn event: %s" % (
        sum(missing.values()), list(missing)[:10])
    # only those stopped or trimmed before they could log their pid
    assert sum((spawned - ran).values()) <= CHURNERS + churn_decr
    assert fds1 <= fds0, "fds %d -> %d" % (fds0, fds1)
    if not asan_build(d.pid):
        assert rss1 <= rss0 * 1.05 + 512, "RSS %d -> %d kB" % (rss0, rss1)
    with capsys.disabled():
        print("\nchurn: %d deaths (%.0f/s) and %d commands in %.1f s; "
              "%d events (%d spawn, %d reap); fds %d -> %d; RSS %d -> %d kB"
              % (total, total / took, ncmd, took, summary["total"],
                 sum(spawned.values()), sum(reaped.values()), fds0, fds1,
                 rss0, rss1))
