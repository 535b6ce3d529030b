# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the benchmark harness (bench/): the floor programs run with
tiny sizes and print what bench/run.py parses, and the report renders.

Nothing here is timed or compared: `make bench` does that. The programs are
taken from $CIRCUS_BUILD/bench/ when `make bench-bins` built them there, and
otherwise built into a temporary directory with the rules of bench/bench.mk.
"""

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import BUILD, REPO, wait_until

TOOLS = ("floor_spawn", "zmq_echo", "zmq_rtt")


@pytest.fixture(scope="module")
def bindir(tmp_path_factory):
    have = BUILD / "bench"
    if all(os.access(have / t, os.X_OK) for t in TOOLS):
        return have
    build = tmp_path_factory.mktemp("benchbuild")
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    subprocess.run(["make", "-s", "-C", str(REPO), "BUILD=%s" % build,
                    "bench-bins"], check=True, env=env, timeout=300,
                   stdin=subprocess.DEVNULL)
    return build / "bench"


@pytest.fixture(scope="module")
def runpy():
    spec = importlib.util.spec_from_file_location(
        "bench_run", str(REPO / "bench" / "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def last_json(text):
    lines = [l for l in text.splitlines() if l.startswith("{")]
    assert lines, "no JSON line in %r" % text
    return json.loads(lines[-1])


def children(pid):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
            out += [int(x) for x in f.read().split()]
    return out


@pytest.mark.parametrize("mode", ["fork", "vfork", "spawn"])
def test_floor_spawn_reports_one_json_line(bindir, mode):
    cp = subprocess.run([str(bindir / "floor_spawn"), "-m", mode, "-n", "3",
                         "--", "sleep", "30"], capture_output=True,
                        text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    r = last_json(cp.stdout)
    assert r["tool"] == "floor_spawn" and r["mode"] == mode
    assert r["n"] == 3
    assert r["exec_failures"] == 0 and r["spawn_errors"] == 0
    assert r["respawns"] == 0
    for k in ("fork_s", "spawn_s", "stop_s", "per_spawn_us"):
        assert isinstance(r[k], float) and r[k] >= 0
    assert r["spawn_s"] >= r["fork_s"]


def test_floor_spawn_missing_command_fails_cleanly(bindir):
    cp = subprocess.run([str(bindir / "floor_spawn"), "-n", "2", "--",
                         "no-such-program-xyz"], capture_output=True,
                        text=True, timeout=30)
    assert cp.returncode == 1
    assert "not found" in cp.stderr


def test_floor_spawn_bad_usage(bindir):
    cp = subprocess.run([str(bindir / "floor_spawn"), "-m", "clone"],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 2 and "usage" in cp.stderr


def test_floor_hold_and_respawn(bindir):
    p = subprocess.Popen([str(bindir / "floor_spawn"), "-n", "1", "-E",
                          "-H", "30", "-R", "5", "--", "sleep", "30"],
                         stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(p.stdout.readline())
        assert ready["event"] == "ready" and ready["pid"] == p.pid
        wait_until(lambda: len(children(p.pid)) == 1, 10)
        victim = children(p.pid)[0]
        with open("/proc/%d/environ" % victim, "rb") as f:
            assert f.read() == b""  # -E: an empty environment
        os.kill(victim, signal.SIGKILL)
        # one /proc read per poll: two could see the respawn half done
        wait_until(lambda: (lambda c: c and c[0] != victim)(
            children(p.pid)), 10)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = last_json(out)
    assert r["respawns"] == 1
    assert p.returncode == 0


@contextlib.contextmanager
def echo_running(bindir, tmp_path):
    """A zmq_echo on a private ipc endpoint; yields (endpoint, stop) where
    stop() ends it and returns how many messages it echoed."""
    ep = "ipc://%s/echo.sock" % tmp_path
    echo = subprocess.Popen([str(bindir / "zmq_echo"), ep, "60"],
                            stdout=subprocess.PIPE, text=True)

    def stop():
        echo.send_signal(signal.SIGTERM)
        out, _ = echo.communicate(timeout=20)
        return last_json(out)["messages"]
    try:
        ready = json.loads(echo.stdout.readline())
        assert ready["event"] == "ready" and ready["endpoint"] == ep
        stop.pid = ready["pid"]
        yield ep, stop
    finally:
        if echo.poll() is None:
            echo.kill()
            echo.wait()


def test_echo_and_rtt_client(bindir, tmp_path):
    with echo_running(bindir, tmp_path) as (ep, stop):
        cp = subprocess.run([str(bindir / "zmq_rtt"), "-e", ep, "-c",
                             "status", "-p", '{"name": "w"}', "-n", "40",
                             "-C", "2", "-w", "5", "-t", "20"],
                            capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stderr
        r = last_json(cp.stdout)
        assert r["tool"] == "zmq_rtt" and r["command"] == "status"
        assert r["clients"] == 2 and r["count"] == 40
        assert r["errors"] == 0 and r["timeouts"] == 0
        for k in ("p50_us", "p90_us", "p99_us", "min_us", "max_us",
                  "mean_us", "rps", "elapsed_s"):
            assert r[k] >= 0
        assert r["min_us"] <= r["p50_us"] <= r["p99_us"] <= r["max_us"]
        assert stop() == 50  # 2 × 5 warm-up + 40


def test_rtt_client_reads_replies_bigger_than_its_buffer(bindir, tmp_path):
    """A 10,000-process `stats` reply is megabytes with its id last: the
    client reads each reply whole (it used to cut it at 1 MiB, never find
    the id and time out)."""
    import threading
    import zmq
    ep = "ipc://%s/big.sock" % tmp_path
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(ep)
    served = []

    def serve():
        # warm-up + count requests, each answered with 3 MB before its id
        while len(served) < 4 and router.poll(20000):
            ident, body = router.recv_multipart()
            rid = json.loads(body)["id"]
            router.send_multipart([ident, (
                '{"status": "ok", "pad": "%s", "id": "%s"}'
                % ("x" * (3 << 20), rid)).encode()])
            served.append(rid)
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        cp = subprocess.run([str(bindir / "zmq_rtt"), "-e", ep, "-c", "stats",
                             "-n", "3", "-w", "1", "-t", "20", "-T", "10000"],
                            capture_output=True, text=True, timeout=60)
    finally:
        t.join(30)
        router.close(0)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    r = last_json(cp.stdout)
    assert r["timeouts"] == 0 and r["errors"] == 0 and r["count"] == 3
    assert len(served) == 4


def test_python_load_clients_on_the_echo(runpy, bindir, tmp_path):
    """The pyzmq throughput clients (`run.py --zmq-load`, one process
    each) run their closed loops together and report one total."""
    with echo_running(bindir, tmp_path) as (ep, stop):
        r = runpy.py_throughput(ep, "list", {"name": "w"}, 2, 20.0, 30)
        assert r["count"] == 30
        assert r["rps"] > 0 and 0 < r["p50_us"] <= r["p99_us"]
        assert stop() == 40  # 2 × 5 warm-up + 30


def test_throughput_runs_measure_cpu_per_reply(runpy, bindir, tmp_path):
    """with_cpu: the server's CPU (all threads) and the machine's per reply,
    counted from the moment the clients begin (go), not their start."""
    with echo_running(bindir, tmp_path) as (ep, stop):
        echo_pid = stop.pid
        gone = []

        def load(go):
            r = runpy.py_throughput(ep, "status", {}, 2, 20.0, 2000, go)
            gone.append(runpy.cpu_ns(echo_pid)[0])
            return r
        r = runpy.with_cpu(echo_pid, load)
        assert r["count"] == 2000
        # the echo did work for each reply (schedstat, ns)...
        assert 0 < r["srv_ns"] * r["count"] <= gone[0]
        # ...and the machine was counted busy meanwhile
        assert r["machine_ns"] > 0
        stop()


def test_rtt_client_gives_up_on_a_silent_endpoint(bindir, tmp_path):
    t0 = time.monotonic()
    cp = subprocess.run([str(bindir / "zmq_rtt"), "-e",
                         "ipc://%s/nobody.sock" % tmp_path, "-c", "status",
                         "-n", "5", "-w", "0", "-T", "200"],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 1
    assert last_json(cp.stdout)["timeouts"] >= 1
    assert time.monotonic() - t0 < 30


def test_harness_statistics(runpy):
    s = runpy.summary([3.0, 1.0, None, 2.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)
    assert runpy.summary([None]) is None
    assert runpy.ratio_list([2.0, None, 3.0], [1.0, 1.0, 0]) == [2.0, None,
                                                                 None]
    assert runpy.pctl([5, 1, 4, 2, 3], 50) == 3
    assert runpy.pctl(list(range(1, 101)), 99) == 99
    items = [("a", 1), ("supervisord x", 2), ("c", 3)]
    assert [i[0] for i in runpy.rotated(items, 1)] == ["supervisord x", "c",
                                                       "a"]
    assert [i[0] for i in runpy.rotated(items, 1, {"supervisord": 1})] == [
        "c", "a"]
    assert runpy.fmt_stat(runpy.summary([0.0015, 0.002, 0.0025])) == \
        "2.00 ms (1.50 ms–2.50 ms)"
    assert runpy.fmt_stat(None) == "n/a"


def test_harness_parses_floor_output(runpy, bindir):
    floors = runpy.Floors(str(bindir))
    r = runpy.floor_spawn_cycle(
        type("B", (), {"floors": floors})(), "vfork", 2)
    assert set(r) == {"spawn", "stop", "per_spawn"}


def test_report_renders_from_raw_results(runpy):
    spawn_rep = {"fork": {"spawn": 0.02, "stop": 0.004, "per_spawn": 0.002},
                 "vfork": {"spawn": 0.01, "stop": 0.003, "per_spawn": 0.001},
                 "circusd": {"spawn": 0.011, "incr": 0.1, "decr": 0.02,
                             "stop": 0.004, "start_reply": 0.001,
                             "rss_kib": 2048, "pss_kib": 1024}}
    rtt_rep = {"echo": {"p50_us": 50.0, "p99_us": 90.0},
               "circusd status": {"p50_us": 55.0, "p99_us": 99.0},
               "circusd stats <name>": {"p50_us": 500.0, "p99_us": 900.0}}
    def window(label, action, **kw):
        w = {"label": label, "action": action, "requests": 1000,
             "conn_errors": 0, "non2xx": 0, "p50_us": 100, "p99_us": 1000,
             "max_us": 2000, "stall_s": 0.05, "acked": 10,
             "writer_errors": 0, "lost": 0, "workers_end": 4,
             "old_kept": 0}
        w.update(kw)
        return w
    bounce = {"available": True, "acked": 40, "lost": 0, "writer_errors": 1,
              "windows": [window("steady", None),
                          window("restart", "restart", conn_errors=3,
                                 reply={"status": "ok"}, reply_s=0.1,
                                 done_s=0.2),
                          window("reload", "reload", p99_us=1400,
                                 reply={"status": "ok"}, reply_s=0.1,
                                 done_s=0.1),
                          window("bad release", "bad release", stall_s=4.0,
                                 reply={"status": "ok"}, reply_s=0.1,
                                 workers_end=0),
                          window("steady (after)", None)]}
    res = {"mode": "quick", "command": "bench/run.py --quick",
           "make_target": "make bench-quick", "elapsed_s": 1.0,
           "raw_path": "bench/results/x.json",
           "meta": {"date": "today", "cpu": "cpu", "cores": 2},
           "profile": {"foot_seconds": 2.0, "foot_windows": 2},
           "scenarios": {
               "spawn": {"10": [spawn_rep, spawn_rep]},
               "rtt": {"configs": {"1x10": [rtt_rep], "50x10": [rtt_rep]},
                       "throughput": {"1x10": [
                           {"C echo status": {"rps": 100.0,
                                              "srv_ns": 20000.0,
                                              "machine_ns": 80000.0},
                            "C status": {"rps": 95.0, "srv_ns": 22000.0,
                                         "machine_ns": 84000.0},
                            "C echo list": {"rps": 90.0},
                            "C list": {"rps": 72.0},
                            "py echo list <name>": {"rps": 50.0},
                            "py list <name>": {"rps": 60.0}}]}},
               "scale": {"skipped": "not in quick mode"},
               "statsd": {"100": {"n": 100, "seconds": 5.0, "ticks": 5,
                                  "cpu_pct": 0.25, "cpu_ms_per_tick": 2.5,
                                  "circusd_cpu_pct": 0.001,
                                  "rss_kib": 9216}},
               "bounce": {"runs": [{"none": bounce, "notify": {
                   "available": False, "why": "no NOTIFY_SOCKET"}}],
                   "window": 5, "conns": 16, "workers": 4,
                   "variants": {"none": {}, "notify": {
                       "readiness": "notify", "rolling": "1"}}}},
           "notes": [{"scenario": "scale", "text": "skipped"}],
           "errors": [{"scenario": "rtt", "what": "x", "error": "boom"}]}
    text = runpy.Report(res).render()
    assert text.startswith("# Benchmarks")
    assert "## Targets" in text and "## Notes" in text
    assert "1.10× (1.10×–1.10×)" in text        # spawn ratio to vfork
    assert "| 10 | 10.0 ms" in text
    # each circusd run against the echo run paired with it
    assert "| 1x10 | C | `status` | 100/s (n=1) | 95.0/s (n=1) | " \
        "0.95× (n=1) | 20 µs (n=1) | 22 µs (n=1) | 1.10× (n=1) | " \
        "80 µs (n=1) | 84 µs (n=1) | 1.05× (n=1) |" in text
    assert "| 1x10 | py | `list <name>` | 50.0/s (n=1) | 60.0/s (n=1) | " \
        "1.20× (n=1) |" in text
    # one target per client and command; a missing one is "not measured"
    assert "| 4-client throughput of `status` ≥ 0.9× the echo's (C client, " \
        "1×10) | 0.95× (n=1) | met |" in text
    assert "(C client, 1×10) | 0.80× (n=1) | **missed** |" in text
    assert "(py client, 1×10) | n/a | not measured |" in text
    assert text.count("* **tput**") == 1
    assert "boom" in text
    assert "| 100 | 0.25 % | 2.50 ms | 5 in 5 s | 0.001 % | 9.00 MiB |" \
        in text                                  # circusd-stats sampling
    # the bounces: one row per window, the parts of the goal missed
    assert "| restart | ok; replaced in 0.20 s | 1000 | 3 | 0 |" in text
    assert "| 1.00× | 2.0 ms | 50.0 ms | 10 (0 errors) | 0 | " \
        "**missed**: errors |" in text
    assert "| 1.40× | 2.0 ms | 50.0 ms | 10 (0 errors) | 0 | met |" in text
    assert "ok; 0 of 4 workers at the end, 0 old" in text
    assert "4000.0 ms | 10 (0 errors) | 0 | **missed**: outage |" in text
    assert "| bounce, readiness = none: each action 0 errors, 0 lost, no " \
        "outage, p99 ≤ 1.5× steady | 1 of 3 actions | **missed** |" in text
    assert "**Not available**: no NOTIFY_SOCKET." in text
    assert "section" not in text                 # no section failed


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_bench_subset_leaves_the_sync_report_alone():
    """`make bench BENCH_ARGS="--only ..."` runs that subset only: the sync
    worker's benchmark (and its BENCHMARKS-sync.md) only in a full run or
    with `make bench-sync` (bench/bench.mk)."""
    def planned(*args):
        return subprocess.run(["make", "-n", "-C", str(REPO), "bench"] +
                              list(args), capture_output=True, text=True,
                              check=True).stdout
    assert "sync_bench.py" not in planned("BENCH_ARGS=--only rtt")
    assert "sync_bench.py" in planned()
    assert "sync_bench.py" in subprocess.run(
        ["make", "-n", "-C", str(REPO), "bench-sync"], capture_output=True,
        text=True, check=True).stdout
