"""[plugin:*] sections run as watchers (doc/design.md §11) and the bundled C
Flapping plugin (doc/design.md §17.7, issue 10): the crash-loop schedule, exits
circusd asked for never counted, per-watcher flapping.* options, and the
reason visible in status/stats and circusd's log."""
import os
import signal
import time

import pytest

from conftest import (BUILD, assert_ok, catches_signal, ini, log_lines_with,
                      run_circusd, wait_until)

# Crash respawns at a steady 0.1 s (no exponential growth), so however
# late the plugin's SUB socket joins, two crash reaps fall in one window.
STEADY = {"backoff_min": "0.1", "backoff_factor": "1", "backoff_max": "0.1"}


def flapping(**opts):
    lines = ["[plugin:flapping]", "use = circus.plugins.flapping.Flapping"]
    lines += ["%s = %s" % kv for kv in opts.items()]
    return "\n".join(lines)


def crashloop(name="w", extra=""):
    return ini("""
        [watcher:%s]
        cmd = false
        autostart = false
        """ % name, extra) if extra else ini("""
        [watcher:%s]
        cmd = false
        autostart = false
        """ % name)


def start_when_plugin_runs(d, name="w"):
    d.wait_status("plugin:flapping", "active")
    mark = d.events.mark()
    assert_ok(d.call("start", name=name))
    return mark


def stop_reason(d, name):
    return d.call("status", name=name).get("stop_reason")


def assert_exits_clean(d, *plugins):
    """Stop plugin watchers: each exits 0 on SIGTERM, having freed all
    (LeakSanitizer makes it exit 23 otherwise under SANITIZE=1)."""
    for name in plugins:
        mark = d.events.mark()
        assert_ok(d.call("stop", name=name, waiting=True))
        reap = d.events.wait_event(name, "reap", since=mark)
        assert reap.body["exit_code"] == 0, (name, reap)


@pytest.mark.parametrize("run", range(3))
def test_flapping_stops_retries_and_gives_up_on_schedule(circusd, run):
    """attempts 2, window 1, retry_in 1, max_retry 2: stopped, started
    again after 1 s, twice, then stopped for good - in every run."""
    d = circusd(ini(flapping(attempts=2, window=1, retry_in=1, max_retry=2),
                    crashloop()), circus=STEADY)
    mark = start_when_plugin_runs(d)
    stops = d.events.wait_count("w", "stop", 3, since=mark, timeout=30)
    starts = d.events.since(mark, "w", "start")
    # our start, then one per retry; each retry comes retry_in after a stop
    assert len(starts) == 3, d.events.actions("w", mark)
    for stop, retry in zip(stops[:2], starts[1:]):
        assert retry.t - stop.t >= 0.8, (stop, retry)
    reason = wait_until(lambda: stop_reason(d, "w"), 10)
    assert "reached max retry limit (2)" in reason, reason
    # stopped for good: the armed retry timer was cancelled (Circus's bug)
    with pytest.raises(AssertionError):
        d.events.wait_for(lambda e: e.watcher == "w" and e.action == "start",
                          timeout=3, since=d.events.mark())
    assert d.status("w") == "stopped"
    assert len(d.events.since(mark, "w", "stop")) == 3
    stats = d.call("stats", name="w")
    assert stats["stop_reason"] == reason
    assert d.call("status")["stop_reasons"] == {"w": reason}
    assert len(log_lines_with(d, "w: stopping: flapping detected")) == 3
    # the plugin's shutdown with watcher state frees everything (exit 0,
    # which LeakSanitizer turns into 23 under SANITIZE=1)
    mark = d.events.mark()
    assert_ok(d.call("stop", name="plugin:flapping", waiting=True))
    reap = d.events.wait_event("plugin:flapping", "reap", since=mark)
    assert reap.body["exit_code"] == 0, reap


def test_flapping_ignores_exits_circusd_asked_for(circusd, wd):
    """Stop, start, decr, incr, restart, reload, kill by hand many times in
    one window: never stopped by the plugin; then two real crashes are."""
    d = circusd(ini(flapping(attempts=2, window=30, retry_in=1, max_retry=0),
                    """
                    [watcher:s]
                    cmd = sleep 600
                    numprocesses = 2
                    """))
    d.wait_status("plugin:flapping", "active")
    d.wait_pids("s", 2)
    for _ in range(4):
        assert_ok(d.call("stop", name="s", waiting=True))
        assert_ok(d.call("start", name="s", waiting=True))
        assert_ok(d.call("decr", name="s", nb=1, waiting=True))
        assert_ok(d.call("incr", name="s", nb=1, waiting=True))
        assert_ok(d.call("restart", name="s", waiting=True))
        assert_ok(d.call("reload", name="s", waiting=True))
        pid = d.wait_pids("s", 2)[0]
        mark = d.events.mark()
        assert_ok(d.call("kill", name="s", pid=pid, signum=9))
        d.events.wait_event("s", "spawn", since=mark)
        d.wait_pids("s", 2)
    assert d.status("s") == "active"
    assert stop_reason(d, "s") is None
    assert not log_lines_with(d, "stopping: flapping")
    # positive control: the plugin was listening all along
    mark = d.events.mark()
    for pid in d.wait_pids("s", 2):
        os.kill(pid, signal.SIGKILL)
    d.events.wait_event("s", "stop", since=mark, timeout=20)
    reason = stop_reason(d, "s")
    assert reason and "reached max retry limit (0)" in reason, reason


def test_flapping_defaults_and_per_watcher_options(circusd):
    """Plugin defaults (attempts 2, window 1, retry_in 7, max_retry 5);
    flapping.* in a watcher section override them; flapping.active = false
    leaves that watcher alone."""
    d = circusd(ini(flapping(),
                    crashloop("dflt"),
                    crashloop("own", "flapping.max_retry = 0\n"
                                     "flapping.retry_in = 2"),
                    crashloop("off", "flapping.active = False")),
                circus=STEADY)
    d.wait_status("plugin:flapping", "active")
    for name in ("dflt", "own", "off"):
        assert_ok(d.call("start", name=name))
    r = wait_until(lambda: stop_reason(d, "dflt"), 20)
    assert r == ("flapping detected (2 exits within 1s): retry in 7s "
                 "(attempt number 1)"), r
    r = wait_until(lambda: stop_reason(d, "own"), 20)
    assert "reached max retry limit (0)" in r, r
    # "off" kept crash-looping the whole time and was never stopped
    assert d.status("off") == "active"
    assert stop_reason(d, "off") is None
    assert not log_lines_with(d, "off: stopping")


def test_plugin_is_a_watcher(circusd, wd):
    """plugin:NAME: listed, singleton, priority 1, the command line Circus
    builds (argv quoted safely), every section key an option; reloadconfig
    compares, replaces and removes it like a watcher."""
    d = circusd(ini(flapping(window="1 2", retry_in=3),
                    "[watcher:w]\ncmd = sleep 600"))
    d.wait_status("plugin:flapping", "active")
    assert "plugin:flapping" in d.call("list")["watchers"]
    opts = d.call("options", name="plugin:flapping")["options"]
    assert opts["singleton"] is True and opts["priority"] == 1
    assert opts["numprocesses"] == 1
    assert opts["use"] == "circus.plugins.flapping.Flapping"
    assert opts["window"] == "1 2" and opts["retry_in"] == "3"
    cmd = opts["cmd"]
    assert cmd.startswith(str(BUILD / "circus-plugin-flapping") + " ")
    assert ("--config '__name__:plugin:flapping:::name:plugin:flapping:::"
            "retry_in:3:::window:1 2'") in cmd, cmd
    assert cmd.endswith(" circus.plugins.flapping.Flapping")
    pid = d.wait_pids("plugin:flapping", 1)[0]
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")[:-1]
    assert argv[argv.index(b"--config") + 1] == (
        b"__name__:plugin:flapping:::name:plugin:flapping:::retry_in:3:::"
        b"window:1 2")
    assert argv[argv.index(b"--endpoint") + 1] == d.endpoint.encode()
    assert argv[argv.index(b"--pubsub") + 1] == d.pubsub.encode()
    assert "plugin:flapping" in d.call("stats")["infos"]

    # reloadconfig: a changed key replaces it, removal removes it
    d.write_ini(ini(flapping(window="1 2", retry_in=4),
                    "[watcher:w]\ncmd = sleep 600"))
    assert_ok(d.call("reloadconfig", waiting=True))
    new = d.wait_pids("plugin:flapping", 1)[0]
    assert new != pid
    d.write_ini("[watcher:w]\ncmd = sleep 600")
    assert_ok(d.call("reloadconfig", waiting=True))
    assert "plugin:flapping" not in d.call("list")["watchers"]
    wait_until(lambda: not os.path.exists("/proc/%d" % new) or
               open("/proc/%d/stat" % new).read().split()[2] == "Z", 20)


def test_plugin_use_path_and_unknown_use(circusd, wd):
    """use = /path runs that program with Circus's flags; a use naming no
    plugin refuses the config with file:line (--check too)."""
    out = wd / "argv.txt"
    prog = wd.write("myplugin.sh", """\
        #!/bin/sh
        printf '%%s\\n' "$@" > %s
        exec sleep 600
        """ % out)
    os.chmod(prog, 0o755)
    d = circusd(ini("[plugin:mine]\nuse = %s\nkey = a value" % prog))
    wait_until(lambda: out.exists() and out.read_text().endswith("\n"), 20)
    args = out.read_text().splitlines()
    assert args == ["--endpoint", d.endpoint, "--pubsub", d.pubsub,
                    "--config", "__name__:plugin:mine:::key:a value:::"
                    "name:plugin:mine"], args
    bad = wd.write("bad.ini", """\
        [watcher:w]
        cmd = sleep 600

        [plugin:x]
        use = mycompany.plugins.Thing
        """)
    for args in (["--check", bad], [bad]):
        r = run_circusd(args)
        assert r.returncode == 1, r
        assert ("bad.ini:5: plugin 'x': use = mycompany.plugins.Thing names "
                "no plugin of this build") in r.stdout + r.stderr, r


def test_plugin_exits_on_sigterm(circusd):
    """The plugin exits 0 on SIGTERM (the stop answers long before its
    graceful_timeout of 60 s would escalate to SIGKILL)."""
    d = circusd(ini(flapping(graceful_timeout=60)))
    d.wait_status("plugin:flapping", "active")
    pid = d.wait_pids("plugin:flapping", 1)[0]
    # TERM it once it handles TERM: before that the default action kills
    # it (ASan's start-up made that a flaky -15)
    wait_until(lambda: catches_signal(pid, signal.SIGTERM), 30,
               msg="plugin handles SIGTERM")
    mark = d.events.mark()
    assert_ok(d.call("stop", name="plugin:flapping", waiting=True,
                     timeout=30))
    reap = d.events.wait_event("plugin:flapping", "reap", since=mark)
    assert reap.body["exit_code"] == 0, reap


class UDPListener:
    """A statsd server stand-in: every datagram received on 127.0.0.1."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.packets = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except OSError:
                continue
            self.packets.append(data.decode("utf-8", "replace"))

    def seen(self, prefix):
        return [p for p in list(self.packets) if p.startswith(prefix)]

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def udp():
    u = UDPListener()
    yield u
    u.close()


def test_statsd_emitter_counts_every_event(circusd, udp):
    """StatsdEmitter: one counter packet per event, named
    circus.<app>.watcher.<W>.<action>; sample_rate is annotated; the old
    circus.plugins._statsd name works too."""
    d = circusd(ini("""
        [plugin:statsd]
        use = circus.plugins.statsd.StatsdEmitter
        host = 127.0.0.1
        port = %d
        application_name = myapp

        [plugin:sampled]
        use = circus.plugins._statsd.StatsdEmitter
        host = 127.0.0.1
        port = %d
        sample_rate = 0.5

        [watcher:sl]
        cmd = sleep 600
        """ % (udp.port, udp.port)))
    d.wait_status("plugin:statsd", "active")
    d.wait_status("plugin:sampled", "active")
    # until both plugins' SUB sockets have joined, events may pass them by
    wait_until(lambda: d.call("incr", name="sl") and
               udp.seen("circus.myapp.watcher.sl.spawn:1|c") and
               udp.seen("circus.app.watcher.sl.spawn:1|c|@0.5"), 30)
    assert_ok(d.call("stop", name="sl", waiting=True))
    for action in ("kill", "reap", "stop"):
        wait_until(lambda: udp.seen("circus.myapp.watcher.sl.%s:1|c" % action)
                   and udp.seen("circus.app.watcher.sl.%s:1|c|@0.5" % action),
                   20, msg=action)
    assert all(p.endswith("|c") for p in udp.seen("circus.myapp."))
    assert_exits_clean(d, "plugin:statsd", "plugin:sampled")


def test_fullstats_sends_gauges_per_watcher(circusd, udp):
    """FullStats: every loop_rate, gauges of each watcher's processes;
    plugin watchers left out."""
    d = circusd(ini("""
        [plugin:full]
        use = circus.plugins.statsd.FullStats
        host = 127.0.0.1
        port = %d
        loop_rate = 0.3

        [watcher:sl]
        cmd = sleep 600
        numprocesses = 2
        """ % udp.port))
    d.wait_pids("sl", 2)
    pre = "circus.app.watcher._stats.sl."
    wait_until(lambda: udp.seen(pre + "watchers_num:2|g") and
               udp.seen(pre + "mem_sum:"), 30)
    for g in ("cpu_max", "cpu_sum", "mem_pct_max", "mem_pct_sum"):
        v = udp.seen(pre + g + ":")[-1]
        assert v.endswith("|g") and float(v[len(pre + g) + 1:-2]) >= 0, v
    mem_max = int(udp.seen(pre + "mem_max:")[-1][len(pre) + 8:-2])
    mem_sum = int(udp.seen(pre + "mem_sum:")[-1][len(pre) + 8:-2])
    assert 0 < mem_max <= mem_sum, (mem_max, mem_sum)
    assert not udp.seen("circus.app.watcher._stats.plugin:")
    assert not udp.seen("circus.app.watcher._stats.error")
    assert_exits_clean(d, "plugin:full")


HEARTBEAT = """\
import os, socket, sys, time
port, beats = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
while True:
    if beats < 0 or n < beats:
        s.sendto(b"%d;%f" % (os.getpid(), time.time()), ("127.0.0.1", port))
        n += 1
    time.sleep(0.1)
"""


def test_watchdog_kills_silent_workers(circusd, wd):
    """WatchDog: a worker that stops sending heartbeats is killed and
    respawned; one that keeps sending them is left alone; watchers not
    matching watchers_regex (anchored at the start) are not watched."""
    from conftest import free_tcp_port
    port = free_tcp_port()
    cmd = wd.script("beat.py", HEARTBEAT)
    d = circusd(ini("""
        [plugin:watchdog]
        use = circus.plugins.watchdog.WatchDog
        port = %d
        loop_rate = 0.5
        max_count = 2
        watchers_regex = sil|ali

        [watcher:silent]
        cmd = %s %d 5

        [watcher:alive]
        cmd = %s %d -1

        [watcher:unwatched]
        cmd = sleep 600
        """ % (port, cmd, port, cmd, port)))
    silent = d.wait_pids("silent", 1)[0]
    alive = d.wait_pids("alive", 1)[0]
    other = d.wait_pids("unwatched", 1)[0]
    d.events.wait_event("silent", "kill", pid=silent, timeout=30)
    new = d.events.wait_for(lambda e: e.watcher == "silent" and
                            e.action == "spawn" and
                            e.body["process_pid"] != silent, timeout=30)
    # the new process is watched too: after its 5 beats it is killed
    d.events.wait_event("silent", "kill", pid=new.body["process_pid"],
                        timeout=30)
    assert d.pids("alive") == [alive]
    assert d.pids("unwatched") == [other]
    assert not d.events.since(0, "alive", "kill")
    assert d.status("plugin:watchdog") == "active"
    assert_exits_clean(d, "plugin:watchdog")


def test_command_reloader_restarts_on_new_binary(circusd, wd):
    """CommandReloader: replacing a watcher's executable on disk restarts
    that watcher (cmd with arguments allowed); an unresolvable cmd listed
    first does not stop the others; an untouched watcher keeps its pid."""
    import shutil
    prog = wd / "mysleep"
    shutil.copy("/bin/sleep", prog)
    d = circusd(ini("""
        [plugin:reloader]
        use = circus.plugins.command_reloader.CommandReloader
        loop_rate = 1

        [watcher:aaa]
        cmd = /nonexistent/program
        autostart = false

        [watcher:mine]
        cmd = %s 600

        [watcher:other]
        cmd = sleep 600
        """ % prog))
    d.wait_status("plugin:reloader", "active")
    old = d.wait_pids("mine", 1)[0]
    other = d.wait_pids("other", 1)[0]
    mark = d.events.mark()

    version = [1000]

    # replaced until the plugin notices (it may not have seen the first
    # version yet); each copy has a new mtime
    def replaced():
        version[0] += 1
        tmp = wd / "mysleep.new"
        shutil.copy("/bin/sleep", tmp)
        os.utime(tmp, (version[0], version[0]))
        os.rename(tmp, prog)
        try:
            d.events.wait_event("mine", "stop", since=mark, timeout=3)
            return True
        except AssertionError:
            return False
    wait_until(replaced, 30, interval=0.1)
    d.events.wait_event("mine", "start", since=mark, timeout=30)
    new = d.wait_pids("mine", 1)[0]
    assert new != old
    assert d.pids("other") == [other]
    assert not d.events.since(mark, "other", "stop")
    assert_exits_clean(d, "plugin:reloader")


HOG = """\
import time
hog = b"\\x01" * (80 << 20)   # 80 MiB, every page touched
while True:
    time.sleep(60)
"""


def test_resource_watcher_restarts_a_worker_over_its_memory(circusd, wd,
                                                             udp):
    """ResourceWatcher: a worker whose RSS passes max_mem = 40M is
    restarted after max_count rounds over it (statsd counters sent); a
    small worker under the same limit is left alone."""
    hog = wd.script("hog.py", HOG)
    d = circusd(ini("""
        [plugin:rw_hog]
        use = circus.plugins.resource_watcher.ResourceWatcher
        watcher = hog
        max_mem = 40M
        max_cpu = 0
        health_threshold = 0
        loop_rate = 0.3
        max_count = 1
        host = 127.0.0.1
        port = %d

        [plugin:rw_small]
        use = circus.plugins.resource_watcher.ResourceWatcher
        service = small
        max_mem = 40M
        max_cpu = 0
        health_threshold = 0
        loop_rate = 0.3
        max_count = 1
        host = 127.0.0.1
        port = %d

        [watcher:hog]
        cmd = %s

        [watcher:small]
        cmd = sleep 600
        """ % (udp.port, udp.port, hog)))
    old = d.wait_pids("hog", 1)[0]
    small = d.wait_pids("small", 1)[0]
    mark = d.events.mark()
    d.events.wait_event("hog", "stop", since=mark, timeout=60)
    d.events.wait_event("hog", "start", since=mark, timeout=60)
    assert d.wait_pids("hog", 1)[0] != old
    pre = "circus.app.watcher._resource_watcher."
    wait_until(lambda: len(udp.seen(pre + "hog.over_memory:1|c")) >= 2 and
               udp.seen(pre + "hog.restarting:1|c"), 20)
    assert d.pids("small") == [small]
    assert not udp.seen(pre + "small.")
    assert_exits_clean(d, "plugin:rw_hog", "plugin:rw_small")


@pytest.fixture
def http_server():
    """A local HTTP server answering GET with server.code (200 at first)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(self.server.code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.code = 200
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    t.join(5)


def test_http_observer(circusd, udp, http_server):
    """HttpObserver: request_time timers while the server answers 2xx; a
    500 counts error and error.500 and restarts restart_on_error; a closed
    port counts error.599."""
    from conftest import free_tcp_port
    port = http_server.server_address[1]
    closed = free_tcp_port()
    d = circusd(ini("""
        [plugin:http]
        use = circus.plugins.http_observer.HttpObserver
        check_url = http://127.0.0.1:%d/health
        loop_rate = 0.3
        timeout = 5
        restart_on_error = web
        host = 127.0.0.1
        port = %d

        [plugin:down]
        use = circus.plugins.http_observer.HttpObserver
        check_url = http://127.0.0.1:%d/
        loop_rate = 0.3
        application_name = down
        host = 127.0.0.1
        port = %d

        [watcher:web]
        cmd = sleep 600
        """ % (port, udp.port, closed, udp.port)))
    pre = "circus.http_observer.watcher.http_stats."
    wait_until(lambda: udp.seen(pre + "request_time:"), 20)
    v = udp.seen(pre + "request_time:")[0]
    assert v.endswith("|ms") and int(v[len(pre) + 13:-3]) >= 0, v
    assert not udp.seen(pre + "error")
    old = d.wait_pids("web", 1)[0]
    mark = d.events.mark()
    http_server.code = 500
    wait_until(lambda: udp.seen(pre + "error.500:1|c") and
               udp.seen(pre + "restart_on_error:1|c"), 20)
    assert udp.seen(pre + "error:1|c")
    d.events.wait_event("web", "start", since=mark, timeout=20)
    assert d.wait_pids("web", 1)[0] != old
    wait_until(lambda: udp.seen("circus.down.watcher.http_stats.error.599:1|c"),
               20)
    assert_exits_clean(d, "plugin:http", "plugin:down")


@pytest.fixture
def redis_server(wd):
    """A real redis-server (Debian) on a free port, with a password."""
    import socket
    import subprocess
    from conftest import free_tcp_port
    port = free_tcp_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(wd),
         "--requirepass", "s3cret", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready():
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5) as s:
                s.sendall(b"AUTH s3cret\r\nPING\r\n")
                return b"PONG" in s.recv(100) or b"PONG" in s.recv(100)
        except OSError:
            return False
    try:
        wait_until(ready, 20)
        proc.port = port
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_redis_observer(circusd, udp, redis_server):
    """RedisObserver: INFO of a real redis-server (AUTH and SELECT from the
    URL) as redis_stats.* gauges; when Redis is gone, redis_stats.error and
    a restart of restart_on_timeout."""
    d = circusd(ini("""
        [plugin:redis]
        use = circus.plugins.redis_observer.RedisObserver
        redis_url = redis://:s3cret@127.0.0.1:%d/1
        loop_rate = 0.3
        timeout = 2
        restart_on_timeout = web
        host = 127.0.0.1
        port = %d

        [watcher:web]
        cmd = sleep 600
        """ % (redis_server.port, udp.port)))
    pre = "circus.redis_observer.watcher.redis_stats."
    wait_until(lambda: udp.seen(pre + "connected_clients:") and
               udp.seen(pre + "used_memory:"), 20)
    v = udp.seen(pre + "used_memory:")[0]
    assert v.endswith("|g") and int(v[len(pre) + 12:-2]) > 0, v
    v = udp.seen(pre + "mem_fragmentation_ratio:")[0]
    assert float(v[len(pre) + 24:-2]) >= 0, v
    assert not udp.seen(pre + "error")
    old = d.wait_pids("web", 1)[0]
    mark = d.events.mark()
    redis_server.kill()
    redis_server.wait(10)
    wait_until(lambda: udp.seen(pre + "error:1|c") and
               udp.seen(pre + "restart_on_error:1|c"), 20)
    d.events.wait_event("web", "start", since=mark, timeout=20)
    assert d.wait_pids("web", 1)[0] != old
    assert_exits_clean(d, "plugin:redis")


# The plugin facts of Circus 0.19's examples/ and tests/config/ files that
# declare plugins (sections and keys copied; commands made harmless), and
# the watcher names Circus lists for each.
CIRCUS_PLUGIN_CONFIGS = {
    "example1": ("""
        [watcher:dummy]
        cmd = sleep 600
        [watcher:dummy2]
        cmd = sleep 600
        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        retry_in = 3
        max_retry = 2
        """, ["dummy", "dummy2", "plugin:flapping"]),
    "example3": ("""
        [watcher:dying]
        cmd = sleep 600
        flapping.active = False
        [watcher:dying2]
        cmd = sleep 600
        flapping.retry_in = 1
        flapping.max_retry = 2
        flapping.active = True
        [plugin:flapping]
        use = circus.plugins.flapping.Flapping
        retry_in = 3
        max_retry = 2
        """, ["dying", "dying2", "plugin:flapping"]),
    "example4": ("""
        [watcher:dummy]
        cmd = sleep 600
        [watcher:dummy2]
        cmd = sleep 600
        [plugin:statsd]
        use = circus.plugins._statsd.StatsdEmitter
        application_name = example
        """, ["dummy", "dummy2", "plugin:statsd"]),
    "example9": ("""
        [watcher:leaker]
        cmd = sleep 600
        [plugin:leak]
        use = circus.plugins.resource_watcher.ResourceWatcher
        max_mem = 1
        max_cpu = 4
        service = leaker
        """, ["leaker", "plugin:leak"]),
    "plugin_watchdog": ("""
        [watcher:test1]
        cmd = sleep 600
        [watcher:test2]
        cmd = sleep 600
        [watcher:dummy2]
        cmd = sleep 600
        [plugin:mywatchdog]
        use = circus.plugins.watchdog.WatchDog
        loop_rate = 4
        port = 0
        watchers_regex = "^test.*$"
        msg_regex = "^(?P<pid>.*);(?P<timestamp>.*)$"
        """, ["dummy2", "plugin:mywatchdog", "test1", "test2"]),
    "issue680": ("""
        [watcher:test1]
        cmd = sleep 600
        priority = 20
        [watcher:test2]
        cmd = sleep 600
        priority = 10
        [plugin:myplugin]
        use = circus.plugins.resource_watcher.ResourceWatcher
        priority = 30
        service = test1
        """, ["plugin:myplugin", "test1", "test2"]),
    "reload_addplugins": ("""
        [watcher:test1]
        cmd = sleep 600
        [watcher:test2]
        cmd = sleep 600
        [plugin:myplugin]
        use = circus.plugins.resource_watcher.ResourceWatcher
        service = test1
        [plugin:myplugin2]
        use = circus.plugins.resource_watcher.ResourceWatcher
        service = test1
        """, ["plugin:myplugin", "plugin:myplugin2", "test1", "test2"]),
    "empty_section": ("""
        [plugin:test_plugin]
        [watcher:w]
        cmd = sleep 600
        """, ["w"]),
}


@pytest.mark.parametrize("name", sorted(CIRCUS_PLUGIN_CONFIGS))
def test_circus_configs_with_plugins_list_the_same_watchers(circusd, name):
    body, expected = CIRCUS_PLUGIN_CONFIGS[name]
    d = circusd(ini(body))
    assert sorted(d.call("list")["watchers"]) == expected
    for w in expected:
        if w.startswith("plugin:"):
            d.wait_status(w, "active")
            assert d.wait_pids(w, 1)


def test_flapping_resends_a_stop_refused_by_a_conflict(wd):
    """Against a daemon with Circus 0.19's exclusive lock (a fake here),
    a stop answered "arbiter is already running ..." is sent again until
    it is accepted, so the flapping watcher is stopped."""
    import json as _json
    import subprocess
    import zmq
    from test_circusctl_fake import FakeDaemon, error
    refused = []

    def respond(req):
        if req.get("command") == "stop" and len(refused) < 2:
            refused.append(req)
            return error("arbiter is already running "
                         "arbiter_manage_watchers command", 5)
        if req.get("command") == "options":
            return {"options": {}}
        return {}
    fake = FakeDaemon(respond, directory=str(wd))
    pub = fake.ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(fake.pub_endpoint)
    plugin = subprocess.Popen(
        [str(BUILD / "circus-plugin-flapping"), "--endpoint", fake.endpoint,
         "--pubsub", fake.pub_endpoint, "--config",
         "attempts:2:::window:5:::retry_in:60:::max_retry:3",
         "circus.plugins.flapping.Flapping"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stops():
        return [r for r in list(fake.requests)
                if r and r.get("command") == "stop"]
    try:
        pid = 1000
        # spawns and crash reaps (no kill between) until the plugin asks
        # to stop
        while not stops() and pid < 1000 + 600:
            pid += 1
            pub.send_multipart([b"watcher.w.spawn", _json.dumps(
                {"process_pid": pid, "time": 1.0}).encode()])
            pub.send_multipart([b"watcher.w.reap", _json.dumps(
                {"process_pid": pid, "time": 1.0,
                 "exit_code": 1}).encode()])
            time.sleep(0.05)   # pacing the publisher, not waiting for a state
        wait_until(lambda: len(stops()) == 3, 30)
        for r in stops():
            assert r["properties"]["name"] == "w"
            assert "flapping detected" in r["properties"]["reason"], r
            assert r.get("msg_type") != "cast", r
    finally:
        plugin.terminate()
        rc = plugin.wait(20)
        pub.close(0)
        fake.close()
    assert rc == 0
