# SPDX-License-Identifier: Apache-2.0
"""The stats channel (doc/design.md §17.4, issue 13): `statsd = true` makes
circusd start the `circusd-stats` watcher, which learns pids from the
event stream and publishes stat.<watcher>.<pid>, stat.<watcher>,
stat.circus.<pid>, stat.circus, stat.sockets.<fd> and stat.sockets once
a second; killed, it is restarted like any watcher. With
`metrics_endpoint` it also serves Prometheus's /metrics, which a real
prometheus server scrapes."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import zmq

from conftest import BUILD, catches_signal, free_tcp_port, wait_until

INFO_KEYS = ["mem_info1", "mem_info2", "cpu", "mem", "ctime", "pid",
             "username", "nice", "create_time", "age", "cmdline", "children",
             "subtopic", "name"]

BURN = "/usr/bin/python3 -c 'while True: pass'"
# Allocates and touches 64 MiB, then sleeps.
ALLOC = ("/usr/bin/python3 -c 'import time; b = bytearray(64 << 20); "
         "b[::4096] = b\"x\" * len(b[::4096]); time.sleep(3600)'")


class StatsSub:
    """A SUB socket on the stats endpoint, read on demand."""

    def __init__(self, endpoint, prefix=b"stat."):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SUBSCRIBE, prefix)
        self.sock.connect(endpoint)
        self.seen = {}          # topic -> last body

    def close(self):
        self.sock.close(0)

    def wait(self, predicate, timeout=30.0, msg="a stats message"):
        """Read messages until predicate(topic, body) is true; return the
        (topic, body) that matched."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %s; seen: %s" % (
                    msg, sorted(self.seen)[:40]))
            if not self.sock.poll(int(min(left, 0.5) * 1000)):
                continue
            frames = self.sock.recv_multipart()
            assert len(frames) == 2, frames
            topic = frames[0].decode()
            body = json.loads(frames[1])
            self.seen[topic] = body
            if predicate(topic, body):
                return topic, body


def stats_daemon(circusd, wd, body, extra=None):
    stats_ep = "ipc://%s/stats.sock" % wd.path
    circus = {"statsd": "true", "stats_endpoint": stats_ep}
    circus.update(extra or {})
    d = circusd(body, circus=circus)
    d.wait_pids("circusd-stats", 1)
    return d, stats_ep


def human_bytes(text):
    units = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return float(text[:-1]) * units[text[-1]]


def test_statsd_starts_circusd_stats_with_circus_command_line(circusd, wd):
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    """)
    assert "circusd-stats" in d.call("list")["watchers"]
    pid = d.pids("circusd-stats")[0]
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")[:-1]
    argv = [a.decode() for a in argv]
    assert os.path.basename(argv[0]) == "circusd-stats"
    assert argv[argv.index("--endpoint") + 1] == d.endpoint
    assert argv[argv.index("--pubsub") + 1] == d.pubsub
    assert argv[argv.index("--statspoint") + 1] == stats_ep
    opts = d.call("options", name="circusd-stats")["options"]
    assert opts["singleton"] is True and opts["use_sockets"] is True
    assert opts["copy_env"] is True


def test_no_circusd_stats_without_statsd(circusd):
    d = circusd("""
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    """)
    assert d.call("list")["watchers"] == ["sleeper"]


def test_every_topic_with_documented_keys_and_plausible_values(circusd, wd):
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:burn]
    cmd = %s

    [watcher:alloc]
    cmd = %s

    [watcher:sleeper]
    cmd = /bin/sleep 3600
    numprocesses = 2

    [socket:web]
    host = 127.0.0.1
    port = 0
    """ % (BURN, ALLOC))
    sub = StatsSub(stats_ep)
    try:
        burn = d.pids("burn")[0]
        alloc = d.pids("alloc")[0]
        sleepers = sorted(d.pids("sleeper"))
        stats_pid = d.pids("circusd-stats")[0]

        # a worker that burns CPU shows CPU
        topic, body = sub.wait(
            lambda t, b: t == "stat.burn.%d" % burn and b["cpu"] > 20,
            msg="burn's cpu above 20%")
        assert list(body) == INFO_KEYS
        assert body["pid"] == burn and body["subtopic"] == burn
        assert body["name"] is None and body["children"] == []
        assert body["cmdline"] == "python3"
        assert body["age"] >= 0 and body["create_time"] > 1e9
        # one that allocates shows memory
        topic, body = sub.wait(
            lambda t, b: t == "stat.alloc.%d" % alloc and
            human_bytes(b["mem_info1"]) >= 60 * (1 << 20),
            msg="alloc's rss above 60M")
        assert body["mem"] > 0
        # the aggregate of a group, after its pids
        topic, body = sub.wait(lambda t, b: t == "stat.sleeper",
                               msg="stat.sleeper")
        assert list(body) == ["pid", "cpu", "mem", "age"]
        assert sorted(body["pid"]) == sleepers
        assert all("stat.sleeper.%d" % p in sub.seen for p in sleepers)
        # circusd and circusd-stats under circus
        topic, body = sub.wait(lambda t, b: t == "stat.circus",
                               msg="stat.circus")
        assert sorted(body["pid"]) == sorted([d.pid, stats_pid])
        assert sub.seen["stat.circus.%d" % d.pid]["name"] == "circusd"
        assert sub.seen["stat.circus.%d" % stats_pid]["name"] == \
            "circusd-stats"
        # sockets
        sock = d.call("listsockets")["sockets"][0]
        topic, body = sub.wait(lambda t, b: t == "stat.sockets",
                               msg="stat.sockets")
        assert body == {"addresses": ["127.0.0.1:%d" % sock["port"]],
                        "reads": body["reads"]}
        per = sub.seen["stat.sockets.%d" % sock["fd"]]
        assert list(per) == ["fd", "subtopic", "reads", "address"]
        assert per["fd"] == sock["fd"] == per["subtopic"]
        assert per["address"] == "127.0.0.1:%d" % sock["port"]
    finally:
        sub.close()


def test_pids_follow_the_event_stream(circusd, wd):
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    """)
    sub = StatsSub(stats_ep)
    try:
        first = d.pids("sleeper")
        sub.wait(lambda t, b: t == "stat.sleeper" and b["pid"] == first,
                 msg="stat.sleeper with %s" % first)
        assert d.call("incr", name="sleeper", waiting=True)["status"] == "ok"
        both = sorted(d.wait_pids("sleeper", 2))
        sub.wait(lambda t, b: t == "stat.sleeper" and sorted(b["pid"]) == both,
                 msg="stat.sleeper with %s" % both)
        assert d.call("stop", name="sleeper", waiting=True)["status"] == "ok"
        # after stop nothing more for sleeper: circus goes on, sleeper not
        sub.wait(lambda t, b: t == "stat.circus", msg="a tick")
        sub.seen.clear()
        for _ in range(3):
            sub.wait(lambda t, b: t == "stat.circus", msg="a tick")
        assert not [t for t in sub.seen if t.startswith("stat.sleeper")]
    finally:
        sub.close()


def test_killing_circusd_stats_restarts_it(circusd, wd):
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    """)
    old = d.pids("circusd-stats")[0]
    os.kill(old, signal.SIGKILL)
    new = wait_until(lambda: (lambda p: p if p and p != [old] else None)(
        d.pids("circusd-stats")), 30, msg="a new circusd-stats")[0]
    assert new != old
    sub = StatsSub(stats_ep)
    try:
        sleeper = d.pids("sleeper")
        sub.wait(lambda t, b: t == "stat.sleeper" and b["pid"] == sleeper,
                 msg="stat.sleeper from the new circusd-stats")
        sub.wait(lambda t, b: t == "stat.circus.%d" % new,
                 msg="the new circusd-stats under circus")
    finally:
        sub.close()


def test_term_stops_circusd_stats_cleanly(circusd, wd):
    """doc/design.md §17.4: TERM ends it with status 0 (then it is respawned)."""
    d, stats_ep = stats_daemon(circusd, wd, "")
    old = d.pids("circusd-stats")[0]
    # TERM it once it handles TERM: before (19 ms after the spawn, under
    # ASan) the default action killed it and the reap said -15
    wait_until(lambda: catches_signal(old, signal.SIGTERM), 30,
               msg="circusd-stats handles SIGTERM")
    ev = d.events.mark()
    os.kill(old, signal.SIGTERM)
    reap = d.events.wait_for(
        lambda e: e.watcher == "circusd-stats" and e.action == "reap" and
        e.body["process_pid"] == old, since=ev, timeout=20)
    assert reap.body["exit_code"] == 0


def scrape(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.headers.get("Content-Type"), r.read().decode()


def test_metrics_endpoint_serves_prometheus_text(circusd, wd):
    port = free_tcp_port()
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:burn]
    cmd = %s
    """ % BURN, extra={"metrics_endpoint": "127.0.0.1:%d" % port})
    burn = d.pids("burn")[0]
    url = "http://127.0.0.1:%d/metrics" % port

    def cpu_line():
        try:
            ctype, text = scrape(url)
        except OSError:
            return None
        key = 'circus_process_cpu_seconds_total{watcher="burn",pid="%d"} ' \
            % burn
        for line in text.splitlines():
            if line.startswith(key) and float(line[len(key):]) > 0.2:
                return ctype, text
        return None
    ctype, text = wait_until(cpu_line, 30, msg="burn's cpu seconds")
    assert ctype.startswith("text/plain; version=0.0.4")
    # every family's samples follow its own HELP/TYPE lines, as one group
    family = None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            family = line.split()[2]
        elif not line.startswith("#"):
            assert line.split("{")[0] == family, (line, family)
    assert "# TYPE circus_process_cpu_seconds_total counter" in text
    assert "# TYPE circus_process_resident_memory_bytes gauge" in text
    assert 'circus_watcher_up{watcher="burn"} 1' in text
    assert 'circus_watcher_crashes_total{watcher="burn"} 0' in text
    rss = [l for l in text.splitlines() if l.startswith(
        'circus_process_resident_memory_bytes{watcher="burn",pid="%d"}'
        % burn)]
    assert rss and int(rss[0].split()[-1]) > 1 << 20
    for name in ("circus_watcher_restarts_total",
                 "circus_watcher_backoff_delay_seconds",
                 "circus_watcher_flapping"):
        assert '%s{watcher="burn"}' % name in text
    # crash: a reap that circusd did not ask for, then the respawn
    os.kill(burn, signal.SIGKILL)
    wait_until(lambda: 'circus_watcher_crashes_total{watcher="burn"} 1'
               in scrape(url)[1] and
               'circus_watcher_restarts_total{watcher="burn"} 1'
               in scrape(url)[1], 30, msg="one crash and one restart")
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % port, timeout=5)
        raise AssertionError("404 expected")
    except urllib.error.HTTPError as e:
        assert e.code == 404


@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="prometheus (Debian package) not installed")
def test_real_prometheus_scrapes_a_watcher_series(circusd, wd):
    mport = free_tcp_port()
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    """, extra={"metrics_endpoint": "127.0.0.1:%d" % mport})
    pport = free_tcp_port()
    wd.write("prometheus.yml", """
    global:
      scrape_interval: 1s
      evaluation_interval: 1s
    scrape_configs:
      - job_name: circus
        static_configs:
          - targets: ["127.0.0.1:%d"]
    """ % mport)
    log = open(str(wd / "prometheus.log"), "wb")
    prom = subprocess.Popen(
        ["prometheus", "--config.file=%s" % (wd / "prometheus.yml"),
         "--storage.tsdb.path=%s" % (wd / "tsdb"),
         "--web.listen-address=127.0.0.1:%d" % pport],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        q = urllib.parse.urlencode(
            {"query": 'circus_watcher_up{watcher="sleeper"}'})
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (pport, q)

        def series():
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    res = json.loads(r.read())
            except OSError:
                return None
            return res["data"]["result"] or None
        result = wait_until(series, 90, interval=0.5,
                            msg="prometheus returning the sleeper series")
        assert result[0]["metric"]["watcher"] == "sleeper"
        assert result[0]["metric"]["job"] == "circus"
        assert result[0]["value"][1] == "1"
    finally:
        prom.terminate()
        try:
            prom.wait(30)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(10)
        log.close()


def test_reloadconfig_leaves_circusd_stats_alone(circusd, wd):
    """doc/design.md §12: reloadconfig ignores circusd-stats; a changed
    watcher is applied around it."""
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    """)
    before = d.pids("circusd-stats")
    assert d.call("reloadconfig", waiting=True)["status"] == "ok"
    d.write_ini("""
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    numprocesses = 2

    [watcher:other]
    cmd = /bin/sleep 3600
    """)
    assert d.call("reloadconfig", waiting=True)["status"] == "ok"
    d.wait_pids("sleeper", 2)
    d.wait_pids("other", 1)
    assert d.pids("circusd-stats") == before


def test_a_removed_watcher_leaves_the_metrics(circusd, wd):
    port = free_tcp_port()
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:keep]
    cmd = /bin/sleep 3600

    [watcher:gone]
    cmd = /bin/sleep 3600
    """, extra={"metrics_endpoint": "127.0.0.1:%d" % port})
    url = "http://127.0.0.1:%d/metrics" % port

    def text():
        try:
            return scrape(url)[1]
        except OSError:
            return ""
    wait_until(lambda: 'circus_watcher_processes{watcher="gone"} 1' in
               text(), 30, msg="gone's series")
    assert d.call("rm", name="gone", waiting=True)["status"] == "ok"
    wait_until(lambda: 'watcher="gone"' not in text(), 30,
               msg="gone's series removed")
    assert 'circus_watcher_up{watcher="keep"} 1' in text()


STATSD = str(BUILD / "circusd-stats")


def run_statsd(wd, *args):
    return subprocess.run(
        [STATSD, "--statspoint", "ipc://%s/hand.sock" % wd.path] +
        list(args), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL)


def test_circusd_stats_by_hand_fails_clearly(wd):
    """doc/design.md §17.4: without a circusd answering `list` it fails (exit 1),
    naming the endpoint; a bad --metrics is named before that."""
    ep = "ipc://%s/nobody.sock" % wd.path
    p = run_statsd(wd, "--endpoint", ep, "--pubsub", ep + "2")
    assert p.returncode == 1
    assert "circusd at %s: " % ep in p.stderr
    p = run_statsd(wd, "--endpoint", ep, "--metrics", "nonsense")
    assert p.returncode == 1
    assert "metrics endpoint 'nonsense' is not HOST:PORT" in p.stderr
    p = run_statsd(wd, "--bogus")
    assert p.returncode == 2 and "usage: circusd-stats" in p.stderr
    p = run_statsd(wd, "--version")
    assert p.returncode == 0 and p.stdout.strip()


def test_socket_reads_count_a_pending_connection(circusd, wd):
    """Circus's quirk (doc/design.md §17.4): a socket found readable by the 10 ms polls
    counts; one pending connection nobody accepts keeps it readable."""
    d, stats_ep = stats_daemon(circusd, wd, """
    [socket:web]
    host = 127.0.0.1
    port = 0
    """)
    port = d.call("listsockets")["sockets"][0]["port"]
    sub = StatsSub(stats_ep, b"stat.sockets")
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        topic, body = sub.wait(lambda t, b: t == "stat.sockets" and
                               b["reads"] > 10, msg="reads counted")
        assert body["addresses"] == ["127.0.0.1:%d" % port]
    finally:
        c.close()
        sub.close()
