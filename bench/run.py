#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""circus-c benchmark harness: circusd beside the machine's floor and supervisord.

    make bench          # full run (about 10 minutes on 2 cores) -> BENCHMARKS.md
    make bench-quick    # about 1 minute -> bench/results/BENCHMARKS-quick.md
    /usr/bin/python3 bench/run.py --build build [--quick] [--only spawn,rtt]

Subjects, each started by this script in a private temporary directory:

* circusd      build/circusd with a generated ini, driven over its ZeroMQ
               control endpoint (ipc://) with JSON commands;
* supervisord  Debian's supervisord with a generated supervisord.conf,
               driven over XML-RPC on a unix socket;
* floors       build/bench/floor_spawn (fork / vfork + exec of N `sleep`,
               reap), build/bench/zmq_echo (raw ROUTER echo) measured by the
               same C client (build/bench/zmq_rtt) as circusd;
* bounce       the sync server under a circusd watcher, bounced under
               load (scenario 9, bench/bounce.py).

Every figure is a median over repeated runs with min-max; every comparison
is a ratio computed inside one repetition, with the subjects interleaved
(the order rotates each repetition) because the machine is noisy. Every
load loop is bounded in count and in time; only ipc:// and unix sockets
are used (scenario 9: also 127.0.0.1 TCP, which wrk needs). Raw results go to bench/results/<stamp>.json.
"""

import argparse
import atexit
import ctypes
import datetime
import errno
import http.client
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
import xmlrpc.client

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounce  # noqa: E402  (scenario 9, in its own file)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPERVISORD = "/usr/bin/supervisord"
SLEEP_CMD = "sleep 3600"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# Repetitions and sizes per mode. Quick mode keeps the same shape, smaller.
PROFILES = {
    "full": {
        "spawn_n": [10, 100, 500, 1000],
        "spawn_repeats": {10: 5, 100: 5, 500: 3, 1000: 3},
        # supervisord spawns 10-25 processes a second here (a 1,000-process
        # start took 75-105 s): every repetition up to N=100, once at 500
        "spawn_sv_repeats": {10: 5, 100: 5, 500: 1, 1000: 0},
        "rtt_configs": ["1x10", "50x10"],
        # a 500-process supervisord takes ~40 s to start: 1x10 only
        "rtt_sv_max": 10,
        "rtt_unrelated": 1000,
        "rtt_repeats": 4,
        "rtt_sv_repeats": 2,
        "rtt_count": 1500,
        "rtt_sv_count": 300,
        "rtt_sv_seconds": 1.5,
        "tput_count": 100000,
        # 11 short pairs rather than 7 long ones: a pair's ratio swings
        # with the scheduler (0.7-1.6x), the median of more pairs less
        "tput_seconds": 1.5,
        "tput_repeats": 11,
        "foot_levels": [0, 100, 1000],
        "foot_sv_max": 100,
        "foot_seconds": 20.0,
        "foot_windows": 5,
        "restart_n": 100,
        "restart_repeats": 5,
        "restart_sv_repeats": 2,
        "respawn_repeats": 7,
        "respawn_gap": 0.7,
        "graceful_timeout": 30.0,
        "graceful_windows": 5,
        "scale_n": 10000,
        "scale_repeats": 1,
        # circusd gets this long to list all of them (the floor needs
        # 30-70 s here); past it, what was listed is reported
        "scale_cap_s": 90.0,
        "statsd_n": [100, 1000],
        "statsd_seconds": 20.0,
        "bounce_window": 5,
        "bounce_conns": 16,
        "bounce_repeats": 3,
    },
    "quick": {
        "spawn_n": [10, 100],
        "spawn_repeats": {10: 3, 100: 3},
        "spawn_sv_repeats": {10: 3, 100: 1},
        "rtt_configs": ["1x10", "50x10"],
        "rtt_sv_max": 100,
        "rtt_unrelated": 1000,
        "rtt_repeats": 3,
        "rtt_sv_repeats": 2,
        "rtt_count": 500,
        "rtt_sv_count": 100,
        "rtt_sv_seconds": 0.5,
        "tput_count": 20000,
        "tput_seconds": 1.0,
        "tput_repeats": 3,
        "foot_levels": [0, 100],
        "foot_sv_max": 100,
        "foot_seconds": 2.0,
        "foot_windows": 2,
        "restart_n": 30,
        "restart_repeats": 3,
        "restart_sv_repeats": 2,
        "respawn_repeats": 3,
        "respawn_gap": 0.4,
        "graceful_timeout": 3.0,
        "graceful_windows": 3,
        "scale_n": 0,
        "scale_repeats": 0,
        "statsd_n": [100],
        "statsd_seconds": 5.0,
        "bounce_window": 3,
        "bounce_conns": 16,
        "bounce_repeats": 1,
    },
}

SCENARIOS = ["spawn", "rtt", "footprint", "restart", "respawn", "graceful",
             "scale", "statsd", "bounce"]


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def now():
    return time.monotonic()


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------
# statistics and formatting


def summary(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals),
            "max": max(vals), "n": len(vals), "values": vals}


def fmt_time(sec):
    if sec is None:
        return "n/a"
    a = abs(sec)
    if a >= 10:
        return "%.1f s" % sec
    if a >= 1:
        return "%.2f s" % sec
    if a >= 0.01:
        return "%.1f ms" % (sec * 1e3)
    if a >= 0.001:
        return "%.2f ms" % (sec * 1e3)
    return "%.0f µs" % (sec * 1e6)


def fmt_num(x, unit=""):
    if x is None:
        return "n/a"
    if abs(x) >= 100:
        s = "%.0f" % x
    elif abs(x) >= 10:
        s = "%.1f" % x
    else:
        s = "%.2f" % x
    return s + unit


def fmt_stat(st, kind="time", unit=""):
    """'median (min–max)' for a summary; kind: time, num, ratio, pct, mib."""
    if not st:
        return "n/a"
    f = {"time": fmt_time,
         "num": lambda v: fmt_num(v, unit),
         "ratio": lambda v: "%.2f×" % v,
         "pct": lambda v: "%.3f %%" % v,
         "mib": lambda v: "%.2f MiB" % v}[kind]
    if st["n"] == 1:
        return "%s (n=1)" % f(st["median"])
    return "%s (%s–%s)" % (f(st["median"]), f(st["min"]), f(st["max"]))


def ratio_list(num, den):
    out = []
    for a, b in zip(num, den):
        if a is None or b is None or b == 0:
            out.append(None)
        else:
            out.append(a / b)
    return out


def rotated(items, r, caps=None):
    """Subjects in the order for repetition r; a subject whose cap (number
    of repetitions) is reached drops out."""
    k = r % len(items)
    out = items[k:] + items[:k]
    if caps:
        out = [it for it in out if r < caps.get(it[0].split()[0], 1 << 30)]
    return out


# --------------------------------------------------------------------------
# /proc readers


def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def children_of(pid):
    """Direct children of every thread of `pid` (needs CONFIG_PROC_CHILDREN)."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        data = read_file("/proc/%d/task/%s/children" % (pid, tid))
        if data:
            out.extend(int(x) for x in data.split())
    return out


def descendants_of(pid):
    out, todo = [], [pid]
    while todo and len(out) < 100000:
        p = todo.pop()
        kids = children_of(p)
        out.extend(kids)
        todo.extend(kids)
    return out


def smaps_rollup(pid):
    """All the KiB fields of /proc/<pid>/smaps_rollup, by name."""
    out = {}
    for line in (read_file("/proc/%d/smaps_rollup" % pid) or "").splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == "kB":
            out[f[0].rstrip(":")] = int(f[1])
    return out


def mem_kib(pid):
    """(Rss, Pss) in KiB from smaps_rollup."""
    m = smaps_rollup(pid)
    return m.get("Rss"), m.get("Pss")


def cpu_ticks(pid):
    """utime+stime in clock ticks from /proc/<pid>/stat (all threads)."""
    data = read_file("/proc/%d/stat" % pid)
    if not data:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def cpu_ns(pid):
    """(run time ns, timeslices) summed over threads, from schedstat."""
    total = slices = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None, None
    for tid in tids:
        data = read_file("/proc/%d/task/%s/schedstat" % (pid, tid))
        if data:
            f = data.split()
            total += int(f[0])
            slices += int(f[2])
    return total, slices


def machine_busy_ns():
    """CPU time the whole machine spent busy (all CPUs: every /proc/stat
    field but idle and iowait), in ns; counted in clock ticks
    (SC_CLK_TCK, 100/s here), so a run needs many ticks to mean much."""
    data = read_file("/proc/stat")
    if not data:
        return None
    v = [int(x) for x in data.splitlines()[0].split()[1:]]
    return (sum(v) - v[3] - v[4]) * 10 ** 9 // os.sysconf("SC_CLK_TCK")


def with_cpu(pid, fn):
    """fn(go)'s result dict with the CPU it cost per reply: srv_ns, the
    server's (pid, all its threads, schedstat) and machine_ns, the whole
    machine's (clients, server and the kernel's work for both). fn calls
    go() when its clients have started and the load begins (the Python
    clients' start is not the load's cost); not calling it counts all."""
    base = {}

    def go():
        base["srv"], base["machine"] = cpu_ns(pid)[0], machine_busy_ns()
    go()
    res = fn(go)
    s1, m1 = cpu_ns(pid)[0], machine_busy_ns()
    n = res.get("count") if isinstance(res, dict) else None
    if n and None not in (base["srv"], s1):
        res["srv_ns"] = (s1 - base["srv"]) / n
    if n and None not in (base["machine"], m1):
        res["machine_ns"] = (m1 - base["machine"]) / n
    return res


def pid_alive(pid):
    data = read_file("/proc/%d/stat" % pid)
    if not data:
        return False
    return data[data.rindex(")") + 2] != "Z"


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def ppid_of(pid):
    data = read_file("/proc/%d/stat" % pid)
    if not data:
        return None
    return int(data[data.rindex(")") + 2:].split()[1])


def kill_leftovers(pids=()):
    """SIGKILL what a dead daemon left behind: its orphans come back to us,
    the subreaper, so every child of ours that we did not start ourselves
    is one (plus any of `pids` reparented to us); never anything else."""
    ours = {p.pid for p in _STARTED}
    me = os.getpid()
    for pid in set(pids) | set(children_of(me)):
        if pid not in ours and ppid_of(pid) == me and pid_alive(pid):
            kill_quietly(pid)
    reap_orphans()


def poll_until(check, timeout, min_interval=0.0005, what="condition"):
    """Call check() until true; returns the moment the true answer arrived.

    The pause between calls is at least twice the last call's duration, so
    the poller never takes more than a third of the subject's time.
    """
    t0 = now()
    while True:
        c0 = now()
        ok = check()
        c1 = now()
        if ok:
            return c1
        if c1 - t0 > timeout:
            raise BenchError("timed out after %.1f s waiting for %s"
                             % (timeout, what))
        time.sleep(max(min_interval, 2 * (c1 - c0)))


# --------------------------------------------------------------------------
# process bookkeeping: everything we start is killed on exit

_STARTED = []


def _become_subreaper():
    """Orphans of a crashed daemon come back to us, so they can be killed."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass


def _cleanup():
    for p in list(_STARTED):
        try:
            if p.poll() is None:
                kids = descendants_of(p.pid)
                kill_quietly(p.pid)
                p.wait(timeout=10)
                kill_leftovers(kids)
        except Exception:
            pass
    reap_orphans()


def _on_signal(signum, frame):
    _cleanup()
    sys.exit(128 + signum)


def start_process(argv, log_path=None, **kw):
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT if log_path else
                         subprocess.DEVNULL, close_fds=True, **kw)
    if log_path:
        out.close()
    _STARTED.append(p)
    return p


def stop_process(p, sig=signal.SIGTERM, timeout=15):
    """Signal, wait, SIGKILL if needed; kill leftovers of its tree."""
    if p.poll() is None:
        kids = descendants_of(p.pid)
        kill_quietly(p.pid, sig)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_quietly(p.pid)
            p.wait(timeout=10)
        kill_leftovers(kids)
    reap_orphans()
    if p in _STARTED:
        _STARTED.remove(p)


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def run_json(argv, timeout):
    """Run a tool that prints JSON lines; return the last one as a dict."""
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        raise BenchError("%s: timed out after %d s" % (argv[0], timeout))
    lines = [l for l in cp.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise BenchError("%s: no output (rc %d): %s"
                         % (os.path.basename(argv[0]), cp.returncode,
                            cp.stderr.strip()[-300:]))
    res = json.loads(lines[-1])
    res["rc"] = cp.returncode
    return res


# --------------------------------------------------------------------------
# the floors


class Floors:
    def __init__(self, bindir):
        self.spawn_bin = os.path.join(bindir, "floor_spawn")
        self.echo_bin = os.path.join(bindir, "zmq_echo")
        self.rtt_bin = os.path.join(bindir, "zmq_rtt")
        for b in (self.spawn_bin, self.echo_bin, self.rtt_bin):
            if not os.access(b, os.X_OK):
                raise BenchError("%s is missing: run `make bench-bins`" % b)

    def spawn(self, mode, n, timeout=300):
        res = run_json([self.spawn_bin, "-m", mode, "-n", str(n), "-E",
                        "--"] + SLEEP_CMD.split(), timeout)
        if res["rc"] != 0 or res.get("exec_failures"):
            raise BenchError("floor_spawn failed: %r" % res)
        return res

    def hold(self, n, seconds, respawn=0, log_path=None, mode="vfork"):
        """Start a holder owning n sleeps; returns (Popen, pid)."""
        argv = [self.spawn_bin, "-m", mode, "-n", str(n), "-E",
                "-H", str(seconds)]
        if respawn:
            argv += ["-R", str(respawn)]
        argv += ["--"] + SLEEP_CMD.split()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
        _STARTED.append(p)
        line = p.stdout.readline()
        if not line.startswith("{"):
            stop_process(p)
            raise BenchError("floor_spawn -H did not start")
        return p

    def echo(self, endpoint, max_seconds=900):
        p = subprocess.Popen([self.echo_bin, endpoint, str(max_seconds)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        _STARTED.append(p)
        line = p.stdout.readline()
        if not line.startswith("{"):
            stop_process(p)
            raise BenchError("zmq_echo did not start")
        return p

    def rtt(self, endpoint, command, props=None, count=1000, clients=1,
            seconds=10.0, warmup=50, timeout_ms=5000):
        argv = [self.rtt_bin, "-e", endpoint, "-c", command,
                "-p", json.dumps(props or {}), "-n", str(count),
                "-C", str(clients), "-t", str(seconds), "-w", str(warmup),
                "-T", str(timeout_ms)]
        res = run_json(argv, timeout=seconds + 90)
        if res.get("timeouts"):
            raise BenchError("zmq_rtt %s: %d timeouts" % (command,
                                                         res["timeouts"]))
        return res


# --------------------------------------------------------------------------
# circusd


class CircusClient:
    # generous: a circusd that spawns a batch answers only after it
    def __init__(self, endpoint, timeout=60.0):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
        self.sock.connect(endpoint)
        self.timeout = timeout

    def call(self, command, timeout=None, **props):
        mid = uuid.uuid4().hex
        body = json.dumps({"command": command, "properties": props,
                           "id": mid})
        self.sock.send(body.encode())
        deadline = now() + (timeout or self.timeout)
        while True:
            left = deadline - now()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                raise BenchError("circusd: no reply to %s within %.0f s"
                                 % (command, timeout or self.timeout))
            reply = json.loads(self.sock.recv())
            if reply.get("id") == mid:
                return reply

    def ok(self, command, **props):
        r = self.call(command, **props)
        if r.get("status") == "error":
            raise BenchError("circusd %s %r: %s (errno %s)"
                             % (command, props, r.get("reason"),
                                r.get("errno")))
        return r

    def close(self):
        self.sock.close(0)


class Circusd:
    """A circusd with a generated ini in its own temporary directory."""

    name = "circusd"

    def __init__(self, binary, watchers, tmp_root, nofile=None,
                 check_delay=5, circus_opts=None):
        self.dir = tempfile.mkdtemp(prefix="cb", dir=tmp_root)
        self.endpoint = "ipc://%s/ctl.sock" % self.dir
        self.pubsub = "ipc://%s/pub.sock" % self.dir
        self.ini = os.path.join(self.dir, "circus.ini")
        self.log_path = os.path.join(self.dir, "circusd.log")
        lines = ["[circus]", "endpoint = " + self.endpoint,
                 "pubsub_endpoint = " + self.pubsub,
                 "multicast_endpoint =",
                 "check_delay = %s" % check_delay]
        for k, v in (circus_opts or {}).items():
            lines.append("%s = %s" % (k, v))
        lines.append("")
        for w in watchers:
            lines.append("[watcher:%s]" % w["name"])
            lines.append("cmd = %s" % w.get("cmd", SLEEP_CMD))
            lines.append("numprocesses = %d" % w["n"])
            for k, v in w.get("options", {}).items():
                lines.append("%s = %s" % (k, v))
            lines.append("")
        with open(self.ini, "w") as f:
            f.write("\n".join(lines))

        def preexec():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = start_process([binary, self.ini], self.log_path,
                                  preexec_fn=preexec, cwd=self.dir)
        self.pid = self.proc.pid
        self.client = CircusClient(self.endpoint)
        try:
            poll_until(self._answers, 20, 0.01, "circusd to answer")
        except BenchError:
            self.close()
            raise BenchError("circusd did not answer: %s" % self.log_tail())

    def _answers(self):
        if self.proc.poll() is not None:
            raise BenchError("circusd exited with %s: %s"
                             % (self.proc.returncode, self.log_tail()))
        try:
            self.client.call("status", timeout=0.5)
            return True
        except BenchError:
            # a DEALER keeps queued requests; start afresh
            self.client.close()
            self.client = CircusClient(self.endpoint)
            return False

    def log_tail(self, n=600):
        data = read_file(self.log_path) or ""
        return data[-n:].strip().replace("\n", " | ")

    def side_client(self):
        """A second connection, kept for the daemon's lifetime."""
        if getattr(self, "_side", None) is None:
            self._side = CircusClient(self.endpoint)
        return self._side

    def call(self, command, timeout=None, **props):
        r = self.client.call(command, timeout=timeout, **props)
        if r.get("status") == "error":
            raise BenchError("circusd %s %r: %s (errno %s)"
                             % (command, props, r.get("reason"),
                                r.get("errno")))
        return r

    def pids(self, name):
        return self.client.ok("list", name=name).get("pids", [])

    def children(self):
        return children_of(self.pid)

    def kill(self):
        """For a daemon that does not answer: SIGKILL it and its children."""
        kids = descendants_of(self.pid)
        stop_process(self.proc, signal.SIGKILL)
        kill_leftovers(kids)
        self.killed = True

    def close(self):
        if getattr(self, "killed", False):
            self.client.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        kids = descendants_of(self.pid)
        try:
            self.client.call("quit", timeout=5)
        except Exception:
            pass
        self.client.close()
        if getattr(self, "_side", None) is not None:
            self._side.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        stop_process(self.proc)
        kill_leftovers(kids)
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# supervisord


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path, timeout=300):
        super().__init__()
        self.unix_path = path
        self.timeout = timeout

    def make_connection(self, host):
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        self._connection = host, _UnixHTTPConnection(self.unix_path,
                                                     self.timeout)
        return self._connection[1]


def sv_proxy(sock_path):
    return xmlrpc.client.ServerProxy("http://localhost/RPC2",
                                     transport=_UnixTransport(sock_path))


class Supervisord:
    """Debian's supervisord with a generated config, over XML-RPC."""

    name = "supervisord"

    def __init__(self, programs, tmp_root):
        self.dir = tempfile.mkdtemp(prefix="sv", dir=tmp_root)
        self.sock = os.path.join(self.dir, "sv.sock")
        self.conf = os.path.join(self.dir, "supervisord.conf")
        self.log_path = os.path.join(self.dir, "supervisord.out")
        total = sum(p["n"] for p in programs)
        lines = ["[unix_http_server]", "file=" + self.sock, "chmod=0700", "",
                 "[supervisord]", "nodaemon=true",
                 "logfile=%s/supervisord.log" % self.dir,
                 "pidfile=%s/supervisord.pid" % self.dir,
                 "childlogdir=" + self.dir, "loglevel=warn",
                 "minfds=%d" % max(1024, 3 * total + 512),
                 "minprocs=%d" % max(200, total + 200), "",
                 "[rpcinterface:supervisor]",
                 "supervisor.rpcinterface_factory = "
                 "supervisor.rpcinterface:make_main_rpcinterface", ""]
        for p in programs:
            lines += ["[program:%s]" % p["name"],
                      "command=%s" % p.get("cmd", SLEEP_CMD),
                      "numprocs=%d" % p["n"],
                      "process_name=%(program_name)s_%(process_num)d",
                      "autostart=%s" % str(p.get("autostart", True)).lower(),
                      "autorestart=true", "startsecs=0", "startretries=3",
                      "stopsignal=TERM",
                      "stopwaitsecs=%d" % p.get("stopwaitsecs", 10),
                      "stdout_logfile=NONE", "stderr_logfile=NONE", ""]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines))
        self.proc = start_process([SUPERVISORD, "-n", "-c", self.conf],
                                  self.log_path, cwd=self.dir)
        self.pid = self.proc.pid
        self.rpc = None
        try:
            poll_until(self._answers, 30, 0.02, "supervisord to answer")
        except BenchError:
            self.close()
            raise BenchError("supervisord did not answer: %s"
                             % (read_file(self.log_path) or "")[-400:])

    def _answers(self):
        if self.proc.poll() is not None:
            raise BenchError("supervisord exited with %s"
                             % self.proc.returncode)
        if not os.path.exists(self.sock):
            return False
        try:
            self.rpc = sv_proxy(self.sock)
            return self.rpc.supervisor.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault, http.client.HTTPException):
            return False

    def running(self, group):
        infos = self.rpc.supervisor.getAllProcessInfo()
        return [i["pid"] for i in infos
                if i["group"] == group and i["statename"] == "RUNNING"
                and i["pid"]]

    def children(self):
        return children_of(self.pid)

    def close(self):
        kids = descendants_of(self.pid)
        try:
            self.rpc.supervisor.shutdown()
        except Exception:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        stop_process(self.proc)
        kill_leftovers(kids)
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# kernel process events (netlink proc connector): exact exit/fork/exec times


class ProcEvents:
    """Listener on the proc connector; needs root. Timestamps are
    CLOCK_MONOTONIC nanoseconds taken by the kernel."""

    FORK, EXEC, EXIT = 0x1, 0x2, 0x80000000

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)
        self.sock.bind((0, 1))  # CN_IDX_PROC group
        op = struct.pack("I", 1)  # PROC_CN_MCAST_LISTEN
        cn = struct.pack("IIIIHH", 1, 1, 0, 0, len(op), 0) + op
        self.sock.send(struct.pack("IHHII", 16 + len(cn), 3, 0, 0, 0) + cn)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)

    def drain(self):
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    self.sock.recv(65536)
                except OSError as e:
                    if e.errno != errno.ENOBUFS:
                        raise
        except (BlockingIOError, InterruptedError):
            pass
        self.sock.setblocking(True)

    def events(self, timeout):
        """Yield (what, ts_ns, a, b, c, d) until timeout seconds pass."""
        deadline = now() + timeout
        while True:
            left = deadline - now()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return
            except OSError as e:  # ENOBUFS: events were dropped; go on
                if e.errno == errno.ENOBUFS:
                    continue
                raise
            off = 0
            while off + 16 <= len(data):
                ln = struct.unpack_from("I", data, off)[0]
                if ln < 16:
                    break
                if ln >= 52 + 16:
                    what, _cpu, ts = struct.unpack_from("IIQ", data, off + 36)
                    a, b, c, d = struct.unpack_from("iiii", data, off + 52)
                    yield what, ts, a, b, c, d
                off += (ln + 3) & ~3

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------
# machine description


def machine_info(args):
    info = {"date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"),
            "kernel": platform.release(), "cores": os.cpu_count()}
    cpu = read_file("/proc/cpuinfo") or ""
    for line in cpu.splitlines():
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    mem = read_file("/proc/meminfo") or ""
    for line in mem.splitlines():
        if line.startswith("MemTotal"):
            info["memory_gib"] = round(int(line.split()[1]) / 1048576, 1)
    osr = read_file("/etc/os-release") or ""
    for line in osr.splitlines():
        if line.startswith("PRETTY_NAME="):
            info["os"] = line.split("=", 1)[1].strip('"')
    info["libzmq"] = "%d.%d.%d" % zmq.zmq_version_info()
    try:
        out = subprocess.run([SUPERVISORD, "--version"], capture_output=True,
                             text=True, timeout=30).stdout.strip()
        info["supervisord"] = out
    except Exception:
        info["supervisord"] = None
    try:
        info["commit"] = subprocess.run(
            ["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", REPO, "status", "--porcelain", "--", "circusd",
             "lib"], capture_output=True, text=True, timeout=10).stdout
        if dirty.strip():
            info["commit"] += " (+ uncommitted circusd/lib changes)"
    except Exception:
        info["commit"] = None
    info["python"] = platform.python_version()
    info["loadavg_start"] = " ".join(
        (read_file("/proc/loadavg") or "").split()[:3])
    return info


# --------------------------------------------------------------------------
# the bench context


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.P = dict(PROFILES["quick" if args.quick else "full"])
        if args.repeats:
            for k in list(self.P):
                if k.endswith("repeats"):
                    v = self.P[k]
                    self.P[k] = ({n: args.repeats for n in v}
                                 if isinstance(v, dict) else args.repeats)
        self.build = os.path.abspath(args.build)
        self.floors = Floors(os.path.join(self.build, "bench"))
        self.circusd_bin = os.path.join(self.build, "circusd")
        self.have_circusd = (not args.no_circusd
                             and os.access(self.circusd_bin, os.X_OK))
        self.have_sv = (not args.no_supervisord
                        and os.access(SUPERVISORD, os.X_OK))
        self.tmp_root = tempfile.mkdtemp(prefix="cbench-", dir="/tmp")
        self.notes = []
        self.errors = []

    def note(self, scenario, text):
        log("note (%s): %s" % (scenario, text))
        self.notes.append({"scenario": scenario, "text": text})

    def circusd(self, watchers, **kw):
        if not self.have_circusd:
            return None
        return Circusd(self.circusd_bin, watchers, self.tmp_root, **kw)

    def supervisord(self, programs):
        if not self.have_sv:
            return None
        return Supervisord(programs, self.tmp_root)

    def guarded(self, scenario, what, fn, *a, **kw):
        """Run one measurement; a failure is recorded, never fatal."""
        t0 = now()
        try:
            r = fn(*a, **kw)
            if isinstance(r, dict):
                r["wall_s"] = round(now() - t0, 3)
            return r
        except Exception as e:  # keep going: one broken part != no report
            msg = "%s: %s" % (what, e)
            log("ERROR (%s) %s" % (scenario, msg))
            if not isinstance(e, BenchError):
                log(traceback.format_exc().rstrip())
            self.errors.append({"scenario": scenario, "what": what,
                                "error": str(e)})
            return None

    def cleanup(self):
        shutil.rmtree(self.tmp_root, ignore_errors=True)


def close_all(*subjects):
    for s in subjects:
        if s is not None:
            try:
                s.close()
            except Exception as e:
                log("close %s: %s" % (getattr(s, "name", s), e))


def wait_children(subject_pid, n, timeout, what):
    return poll_until(lambda: len(children_of(subject_pid)) == n, timeout,
                      0.005, what)


# --------------------------------------------------------------------------
# scenario 1: spawn N, incr/decr 100, stop


def spawn_timeout(n):
    return 30 + n * 0.05


class Probe:
    """One timed call from another thread, `delay` s from now: does the
    daemon answer while it is busy with something else?"""

    def __init__(self, fn, delay=0.02):
        self.fn, self.delay, self.rtt = fn, delay, None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        time.sleep(self.delay)
        t0 = now()
        try:
            self.fn()
            self.rtt = now() - t0
        except Exception:
            self.rtt = None

    def result(self, timeout=120):
        self.thread.join(timeout)
        return self.rtt


def circ_spawn_cycle(c, n):
    wait_children(c.pid, 0, 30, "circusd watcher w to be empty")
    out = {}
    side = c.side_client()
    probe = Probe(lambda: side.call("status", timeout=spawn_timeout(n)))
    t0 = now()
    c.call("start", timeout=spawn_timeout(n), name="w")
    out["start_reply"] = now() - t0
    out["spawn"] = poll_until(lambda: len(c.pids("w")) >= n,
                              spawn_timeout(n), what="%d pids listed" % n) - t0
    out["rss_kib"], out["pss_kib"] = mem_kib(c.pid)
    out["status_during_spawn"] = probe.result()
    t0 = now()
    c.call("incr", timeout=spawn_timeout(100), name="w", nb=100)
    out["incr_reply"] = now() - t0
    out["incr"] = poll_until(lambda: len(c.pids("w")) >= n + 100,
                             spawn_timeout(100), what="incr listed") - t0
    wait_children(c.pid, n + 100, 30, "incr children")
    t0 = now()
    c.call("decr", name="w", nb=100)
    out["decr"] = poll_until(
        lambda: len(c.pids("w")) <= n and len(c.children()) <= n,
        60, what="decr done") - t0
    t0 = now()
    c.call("stop", name="w")
    out["stop"] = poll_until(
        lambda: not c.children() and not c.pids("w"), 60 + n * 0.02,
        what="all gone") - t0
    return out


def sv_spawn_cycle(s, n):
    wait_children(s.pid, 0, 30, "supervisord group w to be empty")
    out = {}
    side = sv_proxy(s.sock)
    probe = Probe(lambda: side.supervisor.getState())
    t0 = now()
    s.rpc.supervisor.startProcessGroup("w", False)
    out["spawn"] = poll_until(lambda: len(s.running("w")) >= n,
                              spawn_timeout(n) * 3,
                              what="%d RUNNING" % n) - t0
    out["rss_kib"], out["pss_kib"] = mem_kib(s.pid)
    out["status_during_spawn"] = probe.result()
    t0 = now()
    s.rpc.supervisor.stopProcessGroup("w", False)
    out["stop"] = poll_until(lambda: not s.children(), 120,
                             what="all gone") - t0
    # supervisord marks them STOPPED once reaped; wait for that too
    poll_until(lambda: not s.running("w"), 30, 0.01, "STOPPED")
    return out


def reset_circ(c, name):
    """After a failed cycle: stop the watcher and wait for it to empty."""
    c.call("stop", timeout=120, name=name)
    wait_children(c.pid, 0, 120, "circusd watcher emptied")


def reset_sv(s, group):
    s.rpc.supervisor.stopProcessGroup(group, True)
    wait_children(s.pid, 0, 120, "supervisord group emptied")


def floor_spawn_cycle(B, mode, n):
    r = B.floors.spawn(mode, n, timeout=spawn_timeout(n) * 3)
    return {"spawn": r["spawn_s"], "stop": r["stop_s"],
            "per_spawn": r["spawn_s"] / max(n, 1)}


def sc_spawn(B):
    out = {}
    for n in B.P["spawn_n"]:
        reps = B.P["spawn_repeats"][n]
        log("spawn: N=%d, %d repetitions" % (n, reps))
        circ = B.guarded("spawn", "start circusd N=%d" % n, B.circusd,
                         [{"name": "w", "n": n,
                           "options": {"autostart": "false"}}])
        sv = None
        if B.P["spawn_sv_repeats"].get(n):
            sv = B.guarded("spawn", "start supervisord N=%d" % n,
                           B.supervisord,
                           [{"name": "w", "n": n, "autostart": False}])
        subjects = [("fork", lambda: floor_spawn_cycle(B, "fork", n)),
                    ("vfork", lambda: floor_spawn_cycle(B, "vfork", n))]
        if circ:
            subjects.append(("circusd", lambda: circ_spawn_cycle(circ, n)))
        if sv:
            subjects.append(("supervisord", lambda: sv_spawn_cycle(sv, n)))
        runs = []
        caps = {"supervisord": B.P["spawn_sv_repeats"][n]}
        resets = {"circusd": lambda: reset_circ(circ, "w"),
                  "supervisord": lambda: reset_sv(sv, "w")}
        for r in range(reps):
            rec = {}
            for name, fn in rotated(subjects, r, caps):
                rec[name] = B.guarded("spawn", "%s N=%d rep %d"
                                      % (name, n, r), fn)
                if rec[name] is None and name in resets:
                    B.guarded("spawn", "reset %s" % name, resets[name])
            runs.append(rec)
        close_all(circ, sv)
        out[str(n)] = runs
    return out


# --------------------------------------------------------------------------
# scenario 2: control round trip and throughput


def sv_call_timing(sock_path, method, args, count, seconds):
    """Closed loop of one XML-RPC method; list of latencies in seconds."""
    rpc = sv_proxy(sock_path)
    fn = rpc
    for part in method.split("."):
        fn = getattr(fn, part)
    for _ in range(10):
        fn(*args)
    lat = []
    stop_at = now() + seconds
    for _ in range(count):
        t0 = now()
        if t0 > stop_at:
            break
        fn(*args)
        lat.append(now() - t0)
    return lat


def pctl(values, p):
    v = sorted(values)
    if not v:
        return None
    k = max(1, min(len(v), int(p / 100.0 * len(v) + 0.999999)))
    return v[k - 1]


def load_loop(call, seconds, count):
    """Child side of a multi-process closed-loop run: warm up, say ready,
    wait for "go" on stdin, then call() until count calls or seconds;
    one JSON line with the count, the time span and the latencies."""
    for _ in range(5):
        call()
    print("ready", flush=True)
    sys.stdin.readline()
    start = now()
    done, t_end, lat = 0, start, []
    while done < count and now() < start + seconds:
        t0 = now()
        call()
        t_end = now()
        lat.append(t_end - t0)
        done += 1
    print(json.dumps({"count": done, "start": start, "end": t_end,
                      "lat": lat}))


def sv_load_main(argv):
    """Child process of the 4-client supervisord throughput run."""
    sock_path, method, seconds, count = argv
    rpc = sv_proxy(sock_path)
    fn = rpc
    for part in method.split("."):
        fn = getattr(fn, part)
    load_loop(fn, float(seconds), int(count))


def zmq_load_main(argv):
    """Child process of the 4-client pyzmq throughput run: a DEALER like
    Circus's own client (uuid identity and id, json.dumps, json.loads of
    every reply), against circusd or the echo alike."""
    endpoint, command, props, seconds, count = argv
    props = json.loads(props)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IDENTITY, uuid.uuid4().hex.encode())
    sock.connect(endpoint)

    def call():
        mid = uuid.uuid4().hex
        sock.send(json.dumps({"command": command, "properties": props,
                              "id": mid}).encode())
        while True:
            if not sock.poll(10000):
                raise SystemExit("zmq load client: no reply in 10 s")
            if json.loads(sock.recv()).get("id") == mid:
                return
    load_loop(call, float(seconds), int(count))
    sock.close(0)


def load_clients(mode_argv, clients, seconds, count, what, go=None):
    """Run `clients` processes of `run.py MODE ...` in a closed loop, all
    started together; throughput over the union of their time spans.
    go(), when given, is called once they all started, as they begin."""
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__)] +
                              mode_argv + [str(seconds),
                                           str(count // clients)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
             for _ in range(clients)]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise BenchError("%s load client did not start" % what)
        if go is not None:
            go()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        res = []
        for p in procs:
            out, _ = p.communicate(timeout=seconds + 60)
            lines = out.strip().splitlines()
            if p.returncode != 0 or not lines:
                raise BenchError("%s load client failed (rc %s)"
                                 % (what, p.returncode))
            res.append(json.loads(lines[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    total = sum(r["count"] for r in res)
    start = min(r["start"] for r in res)
    end = max(r["end"] for r in res)
    lat = [x for r in res for x in r["lat"]]
    if not total or end <= start:
        raise BenchError("%s load clients made no call" % what)
    return {"rps": total / (end - start), "count": total,
            "p50_us": pctl(lat, 50) * 1e6, "p99_us": pctl(lat, 99) * 1e6}


def sv_throughput(sock_path, method, clients, seconds, count):
    return load_clients(["--sv-load", sock_path, method], clients, seconds,
                        count, "supervisord")


def py_throughput(endpoint, command, props, clients, seconds, count,
                  go=None):
    return load_clients(["--zmq-load", endpoint, command, json.dumps(props)],
                        clients, seconds, count, "pyzmq", go)


RTT_COMMANDS = [("status", lambda w: {}),
                ("list", lambda w: {}),
                ("list <name>", lambda w: {"name": w}),
                ("stats <name>", lambda w: {"name": w})]
# Throughput: four clients at once sending each of these.
TPUT_COMMANDS = RTT_COMMANDS[:3]
TPUT_CLIENTS = [("C", "`zmq_rtt` (C, one thread per client)"),
                ("py", "pyzmq (Python, one process per client)")]
# What supervisord offers closest to each (XML-RPC method, args).
SV_EQUIV = {"status": ("supervisor.getState", []),
            "list": ("supervisor.getAllProcessInfo", [])}


def sc_rtt(B):
    P = B.P
    out = {"configs": {}, "throughput": {}}
    echo_ep = "ipc://%s/echo.sock" % B.tmp_root
    echo = B.floors.echo(echo_ep)
    # unrelated processes alive meanwhile: `stats` must not cost what the
    # machine runs
    unrelated = P.get("rtt_unrelated", 0)
    holder = None
    if unrelated:
        holder = B.guarded("rtt", "hold %d unrelated" % unrelated,
                           B.floors.hold, unrelated, 3600)
        out["unrelated"] = unrelated if holder else 0
    for cfg in P["rtt_configs"]:
        nw, np_ = (int(x) for x in cfg.split("x"))
        ws = [("w", np_)] if nw == 1 else [("w%02d" % i, np_)
                                           for i in range(nw)]
        total = sum(n for _, n in ws)
        log("rtt: %s (%d processes)" % (cfg, total))
        circ = B.guarded("rtt", "start circusd " + cfg, B.circusd,
                         [{"name": w, "n": n} for w, n in ws])
        sv = None
        if total <= P["rtt_sv_max"]:
            sv = B.guarded("rtt", "start supervisord " + cfg, B.supervisord,
                           [{"name": w, "n": n} for w, n in ws])
        if circ:
            B.guarded("rtt", "circusd %s up" % cfg, wait_children, circ.pid,
                      total, spawn_timeout(total), "circusd processes")
        if sv:
            B.guarded("rtt", "supervisord %s up" % cfg, wait_children,
                      sv.pid, total, spawn_timeout(total) * 3,
                      "supervisord processes")
        w0 = ws[0][0]
        out.setdefault("machine_processes", {})[cfg] = len(
            [x for x in os.listdir("/proc") if x.isdigit()])
        subjects = [("echo", lambda: B.floors.rtt(
            echo_ep, "status", {}, P["rtt_count"]))]
        if circ:
            for label, props in RTT_COMMANDS:
                subjects.append(
                    ("circusd " + label,
                     lambda cmd=label.split()[0], pr=props(w0):
                         B.floors.rtt(circ.endpoint, cmd, pr,
                                      P["rtt_count"])))
        if sv:
            for label, (meth, margs) in SV_EQUIV.items():
                def svrun(meth=meth, margs=margs):
                    lat = sv_call_timing(sv.sock, meth, margs,
                                         P["rtt_sv_count"],
                                         P["rtt_sv_seconds"])
                    return {"p50_us": pctl(lat, 50) * 1e6,
                            "p99_us": pctl(lat, 99) * 1e6,
                            "count": len(lat), "method": meth}
                subjects.append(("supervisord " + label, svrun))
        runs = []
        caps = {"supervisord": P["rtt_sv_repeats"]}
        for r in range(P["rtt_repeats"]):
            rec = {}
            for name, fn in rotated(subjects, r, caps):
                rec[name] = B.guarded("rtt", "%s %s rep %d" % (cfg, name, r),
                                      fn)
            runs.append(rec)
        out["configs"][cfg] = runs
        if cfg != "1x10":
            close_all(circ, sv)

        if cfg != "1x10":
            continue  # throughput: the 1x10 daemon is enough
        # throughput, 4 concurrent closed-loop clients: the C client and
        # the Python one, on circusd and, right before or after (the order
        # alternates), on the echo: each ratio compares neighbours in time
        load = {"C": lambda ep, cmd, pr, go: B.floors.rtt(
                    ep, cmd, pr, P["tput_count"], clients=4,
                    seconds=P["tput_seconds"]),
                "py": lambda ep, cmd, pr, go: py_throughput(
                    ep, cmd, pr, 4, P["tput_seconds"], P["tput_count"], go)}
        tsub = []
        for client, _ in TPUT_CLIENTS:
            for label, props in TPUT_COMMANDS if circ else []:
                cmd, pr = label.split()[0], props(w0)
                tsub.append(("%s %s" % (client, label), [
                    # the echo gets the very request circusd gets (and
                    # returns it): the clients do the same work for both
                    ("%s echo %s" % (client, label),
                     lambda f=load[client], cmd=cmd, pr=pr:
                         with_cpu(echo.pid,
                                  lambda go: f(echo_ep, cmd, pr, go))),
                    ("%s %s" % (client, label),
                     lambda f=load[client], cmd=cmd, pr=pr:
                         with_cpu(circ.pid,
                                  lambda go: f(circ.endpoint, cmd, pr, go)))]))
        if sv:
            tsub.append(("supervisord", [("supervisord", lambda: sv_throughput(
                sv.sock, "supervisor.getState", 4,
                min(2.0, P["tput_seconds"]), P["tput_count"]))]))
        truns = []
        for r in range(P.get("tput_repeats", P["rtt_repeats"])):
            rec = {}
            for _, pair in rotated(tsub, r, caps):
                for name, fn in (pair if r % 2 == 0 else pair[::-1]):
                    rec[name] = B.guarded("rtt", "throughput %s %s rep %d"
                                          % (cfg, name, r), fn)
            truns.append(rec)
        out["throughput"][cfg] = truns
        close_all(circ, sv)
    stop_process(echo)
    if holder:
        stop_process(holder)
    return out


# --------------------------------------------------------------------------
# scenario 3: footprint and idle CPU


def sc_footprint(B):
    P = B.P
    out = {}
    for level in P["foot_levels"]:
        log("footprint: %d processes, %.0f s" % (level, P["foot_seconds"]))
        subj = {}
        holder = B.guarded("footprint", "floor holder %d" % level,
                           B.floors.hold, level, P["foot_seconds"] + 120)
        if holder:
            subj["floor"] = holder.pid
        echo = B.guarded("footprint", "echo", B.floors.echo,
                         "ipc://%s/foot-echo.sock" % B.tmp_root)
        if echo:
            subj["echo"] = echo.pid
        circ = B.guarded("footprint", "start circusd %d" % level, B.circusd,
                         [{"name": "w", "n": level}])
        if circ:
            subj["circusd"] = circ.pid
        sv = None
        if level <= P["foot_sv_max"]:
            sv = B.guarded("footprint", "start supervisord %d" % level,
                           B.supervisord,
                           [{"name": "w", "n": level}] if level else [])
        if sv:
            subj["supervisord"] = sv.pid
        for name, pid in list(subj.items()):
            if name == "echo":
                continue
            if B.guarded("footprint", "%s %d up" % (name, level),
                         wait_children, pid, level,
                         spawn_timeout(level) * 3, name) is None:
                del subj[name]
        time.sleep(2.0 if not B.quick else 0.5)
        window = P["foot_seconds"] / P["foot_windows"]
        rec = {name: {"cpu_pct": [], "wakeups_per_s": [], "rss_kib": [],
                      "pss_kib": [], "anon_kib": []} for name in subj}
        ticks0 = {name: cpu_ticks(pid) for name, pid in subj.items()}
        period_ns0 = {name: cpu_ns(pid)[0] for name, pid in subj.items()}
        t_start = now()
        for _ in range(P["foot_windows"]):
            before = {name: cpu_ns(pid) for name, pid in subj.items()}
            t0 = now()
            time.sleep(window)
            dt = now() - t0
            for name, pid in subj.items():
                ns1, sl1 = cpu_ns(pid)
                ns0, sl0 = before[name]
                if ns1 is None or ns0 is None:
                    continue
                rec[name]["cpu_pct"].append((ns1 - ns0) / 1e9 / dt * 100)
                rec[name]["wakeups_per_s"].append((sl1 - sl0) / dt)
                m = smaps_rollup(pid)
                rec[name]["rss_kib"].append(m.get("Rss"))
                rec[name]["pss_kib"].append(m.get("Pss"))
                rec[name]["anon_kib"].append(m.get("Anonymous"))
        elapsed = now() - t_start
        for name, pid in subj.items():
            t1 = cpu_ticks(pid)
            if t1 is not None and ticks0[name] is not None:
                rec[name]["ticks"] = t1 - ticks0[name]
                rec[name]["ticks_seconds"] = elapsed
                ns1 = cpu_ns(pid)[0]
                if ns1 is not None and period_ns0[name] is not None:
                    rec[name]["cpu_pct_total"] = ((ns1 - period_ns0[name]) / 1e9
                                                  / elapsed * 100)
                    rec[name]["cpu_ms_total"] = (ns1 - period_ns0[name]) / 1e6
                rec[name]["threads"] = len(os.listdir("/proc/%d/task" % pid))
        out[str(level)] = rec
        close_all(circ, sv)
        for p in (holder, echo):
            if p:
                stop_process(p)
    return out


# --------------------------------------------------------------------------
# scenario 4: restart of a watcher with 100 processes


def circ_restart(c, n):
    wait_children(c.pid, n, 30, "circusd steady")
    old = set(c.pids("w"))
    t0 = now()
    c.call("restart", timeout=spawn_timeout(n), name="w")
    t = poll_until(lambda: (lambda p: len(p) == n and not (set(p) & old))(
        c.pids("w")), spawn_timeout(n) * 2, what="new pids") - t0
    return {"restart": t}


def sv_restart(s, n):
    wait_children(s.pid, n, 30, "supervisord steady")
    old = set(s.running("w"))
    t0 = now()
    s.rpc.supervisor.stopProcessGroup("w", True)
    s.rpc.supervisor.startProcessGroup("w", False)
    t = poll_until(lambda: (lambda p: len(p) == n and not (set(p) & old))(
        s.running("w")), spawn_timeout(n) * 3, what="new pids") - t0
    return {"restart": t}


def floor_restart(B, n):
    r = B.floors.spawn("vfork", n)
    return {"restart": r["spawn_s"] + r["stop_s"],
            "spawn": r["spawn_s"], "stop": r["stop_s"]}


def sc_restart(B):
    n = B.P["restart_n"]
    circ = B.guarded("restart", "start circusd", B.circusd,
                     [{"name": "w", "n": n}])
    sv = B.guarded("restart", "start supervisord", B.supervisord,
                   [{"name": "w", "n": n}])
    subjects = [("floor", lambda: floor_restart(B, n))]
    if circ:
        subjects.append(("circusd", lambda: circ_restart(circ, n)))
    if sv:
        subjects.append(("supervisord", lambda: sv_restart(sv, n)))
    runs = []
    caps = {"supervisord": B.P["restart_sv_repeats"]}
    for r in range(B.P["restart_repeats"]):
        rec = {}
        for name, fn in rotated(subjects, r, caps):
            rec[name] = B.guarded("restart", "%s rep %d" % (name, r), fn)
        runs.append(rec)
    close_all(circ, sv)
    return {"n": n, "runs": runs}


# --------------------------------------------------------------------------
# scenario 5: death-to-respawn latency of one process


def measure_respawn(pe, daemon_pid):
    kids = children_of(daemon_pid)
    if len(kids) != 1:
        poll_until(lambda: len(children_of(daemon_pid)) == 1, 10, 0.01,
                   "exactly one child")
        kids = children_of(daemon_pid)
    victim = kids[0]
    if pe is None:
        t0 = now()
        os.kill(victim, signal.SIGKILL)
        t = poll_until(lambda: any(k != victim for k in
                                   children_of(daemon_pid)), 10, 0,
                       "a new child")
        return {"exit_to_fork": t - t0, "exit_to_exec": None,
                "method": "poll"}
    pe.drain()
    os.kill(victim, signal.SIGKILL)
    t_exit = t_fork = t_exec = None
    child = None
    for what, ts, a, b, c, d in pe.events(10):
        if what == ProcEvents.EXIT and a == victim and b == victim:
            t_exit = ts
        elif what == ProcEvents.FORK and b == daemon_pid and c == d:
            if t_exit is not None and child is None:
                t_fork, child = ts, d
        elif what == ProcEvents.EXEC and child is not None and a == child:
            t_exec = ts
            break
    if t_exit is None or t_exec is None:
        raise BenchError("no exit/fork/exec events seen for pid %d" % victim)
    return {"exit_to_fork": (t_fork - t_exit) / 1e9,
            "exit_to_exec": (t_exec - t_exit) / 1e9, "method": "netlink"}


def sc_respawn(B):
    P = B.P
    try:
        pe = ProcEvents()
    except OSError as e:
        pe = None
        B.note("respawn", "proc connector unavailable (%s): latency from "
               "kill() to the new child appearing in /proc, by polling" % e)
    holder = B.guarded("respawn", "floor respawner", B.floors.hold, 1, 900,
                       respawn=10000)
    # backoff_reset = 0: every death counts as that of a healthy process
    # (doc/design.md §5 would otherwise delay the 2nd quick death by 0.1 s, ...)
    circ = B.guarded("respawn", "start circusd", B.circusd,
                     [{"name": "r", "n": 1}],
                     circus_opts={"backoff_reset": 0})
    # the same with each watcher in its own cgroup (doc/design.md §20),
    # where this machine lets circusd make one (root, cgroup2)
    circ_cg = B.guarded("respawn", "start circusd (cgroups)", B.circusd,
                        [{"name": "r", "n": 1}],
                        circus_opts={"backoff_reset": 0, "cgroups": "true"})
    if circ_cg is not None and "each watcher in its own cgroup" not in \
            circ_cg.log_tail(4000):
        B.note("respawn", "circusd (cgroups) not measured: no cgroup v2 "
               "subtree here")
        circ_cg.close()
        circ_cg = None
    sv = B.guarded("respawn", "start supervisord", B.supervisord,
                   [{"name": "r", "n": 1}])
    subjects = []
    for name, s in (("floor", holder), ("circusd", circ),
                    ("circusd (cgroups)", circ_cg), ("supervisord", sv)):
        if s is not None:
            pid = s.pid
            subjects.append((name, lambda pid=pid: measure_respawn(pe, pid)))
    time.sleep(P["respawn_gap"])
    runs = []
    for r in range(P["respawn_repeats"]):
        rec = {}
        for name, fn in rotated(subjects, r):
            rec[name] = B.guarded("respawn", "%s rep %d" % (name, r), fn)
            time.sleep(P["respawn_gap"])
        runs.append(rec)
    close_all(circ, circ_cg, sv)
    if holder:
        stop_process(holder)
    if pe:
        pe.close()
    # the fork cost the target adds to 1 ms: one vfork+exec, measured alone
    singles = [B.guarded("respawn", "single spawn", floor_spawn_cycle, B,
                         "vfork", 1) for _ in range(P["respawn_repeats"])]
    return {"runs": runs, "single_spawn": [s["spawn"] for s in singles
                                           if s]}


# --------------------------------------------------------------------------
# scenario 6: a long graceful stop of one watcher while another is queried

IGNORE_TERM_SH = "#!/bin/sh\ntrap '' TERM\nexec sleep 3600\n"


def write_ignore_term(tmp_root):
    path = os.path.join(tmp_root, "ignore_term.sh")
    with open(path, "w") as f:
        f.write(IGNORE_TERM_SH)
    os.chmod(path, 0o755)
    return path


def graceful_circusd(B, script, G, W):
    c = B.circusd([{"name": "w", "n": 10},
                   {"name": "slow", "n": 5, "cmd": script,
                    "options": {"graceful_timeout": "%g" % G}}])
    try:
        wait_children(c.pid, 15, 60, "15 processes")
        per = 1.0
        q = lambda seconds: B.floors.rtt(c.endpoint, "status", {"name": "w"},
                                         count=200000, seconds=seconds)
        base = [q(per) for _ in range(W)]
        side = CircusClient(c.endpoint)
        incr = {}

        def incr_later():
            time.sleep(G / 3)
            t0 = now()
            r = side.call("incr", timeout=G, name="w", nb=1)
            incr["reply_s"] = now() - t0
            incr["reply"] = {k: r.get(k) for k in ("status", "errno",
                                                    "reason")}
            if r.get("status") != "error":
                incr["listed_s"] = poll_until(
                    lambda: len(side.call("list", name="w")
                                .get("pids", [])) >= 11,
                    G, 0.002, "incr'd process") - t0
        t_stop = now()
        stop_reply = c.client.call("stop", name="slow")
        stop_reply_s = now() - t_stop
        th = threading.Thread(target=incr_later, daemon=True)
        th.start()
        during_s = max(1.0, (G - 2.0) / W)
        during = [q(during_s) for _ in range(W)]
        th.join(G + 10)
        # the stop ends with SIGKILL after graceful_timeout
        t_end = poll_until(
            lambda: c.client.call("status", name="slow").get("status")
            == "stopped", G + 30, 0.05, "slow stopped")
        side.close()
        return {"base": base, "during": during, "incr": incr,
                "stop_reply": {k: stop_reply.get(k)
                               for k in ("status", "errno", "reason")},
                "stop_reply_s": stop_reply_s, "stopped_after_s":
                t_end - t_stop}
    finally:
        c.close()


def graceful_supervisord(B, script, G, W):
    s = B.supervisord([{"name": "w", "n": 10},
                       {"name": "slow", "n": 5, "cmd": script,
                        "stopwaitsecs": int(G)}])
    try:
        wait_children(s.pid, 15, 60, "15 processes")
        per = 1.0

        def q(seconds):
            lat = sv_call_timing(s.sock, "supervisor.getProcessInfo",
                                 ["w:w_0"], 100000, seconds)
            return {"p50_us": pctl(lat, 50) * 1e6,
                    "p99_us": pctl(lat, 99) * 1e6, "count": len(lat)}
        base = [q(per) for _ in range(W)]
        t_stop = now()
        s.rpc.supervisor.stopProcessGroup("slow", False)
        stop_reply_s = now() - t_stop
        during_s = max(1.0, (G - 2.0) / W)
        during = [q(during_s) for _ in range(W)]
        t_end = poll_until(lambda: not [
            i for i in s.rpc.supervisor.getAllProcessInfo()
            if i["group"] == "slow" and i["statename"] != "STOPPED"],
            G + 30, 0.05, "slow stopped")
        return {"base": base, "during": during, "stop_reply_s": stop_reply_s,
                "stopped_after_s": t_end - t_stop}
    finally:
        s.close()


def sc_graceful(B):
    G = B.P["graceful_timeout"]
    W = B.P["graceful_windows"]
    script = write_ignore_term(B.tmp_root)
    out = {"graceful_timeout": G}
    if B.have_circusd:
        log("graceful: circusd, %.0f s" % G)
        out["circusd"] = B.guarded("graceful", "circusd",
                                   graceful_circusd, B, script, G, W)
    if B.have_sv:
        log("graceful: supervisord, %.0f s" % G)
        out["supervisord"] = B.guarded("graceful", "supervisord",
                                       graceful_supervisord, B, script, G, W)
    return out


# --------------------------------------------------------------------------
# scenario 7: 10,000 processes in one daemon


def scale_precheck(n):
    """None if the machine can hold n more processes, else why not."""
    pid_max = int(read_file("/proc/sys/kernel/pid_max") or 0)
    threads_max = int(read_file("/proc/sys/kernel/threads-max") or 0)
    running = len([d for d in os.listdir("/proc") if d.isdigit()])
    if pid_max - running < n + 2000:
        return "pid_max %d leaves too few pids" % pid_max
    if threads_max and threads_max - running < n + 2000:
        return "threads-max %d is too low" % threads_max
    avail = 0
    for line in (read_file("/proc/meminfo") or "").splitlines():
        if line.startswith("MemAvailable"):
            avail = int(line.split()[1]) * 1024
    if avail < n * 600 * 1024:
        return "only %.1f GiB of memory available" % (avail / 2 ** 30)
    # circusd keeps no descriptor per process unless a stream is configured;
    # raise the soft limits as far as the hard ones allow, for the children.
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (min(hard, 1 << 20), hard))
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        if soft != resource.RLIM_INFINITY and soft < n + 4096:
            resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))
    except (ValueError, OSError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft != resource.RLIM_INFINITY and soft < n + 1000 and os.getuid():
        return "RLIMIT_NPROC is %d and cannot be raised" % soft
    return None


class ChildCounter:
    """Counts a daemon's children once a second, from /proc, in a thread:
    the spawn rate along the way, even while the daemon answers nothing."""

    def __init__(self, pid, period=1.0):
        self.pid, self.period, self.samples = pid, period, []
        self.stop_ev = threading.Event()
        self.t0 = now()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_ev.wait(self.period):
            self.samples.append((round(now() - self.t0, 3),
                                 len(children_of(self.pid))))

    def stop(self):
        self.stop_ev.set()
        self.thread.join(10)
        return self.samples


def rate_by_thousand(samples):
    """[(k, processes per second between k-1 and k thousand)] from
    (t, count) samples."""
    out, prev_t, k = [], 0.0, 1
    for t, cnt in samples:
        while cnt >= k * 1000:
            out.append((k, 1000 / max(t - prev_t, 1e-9)))
            prev_t, k = t, k + 1
    return out


def stats_status_probe(c, name, repeats, timeout):
    """`stats <name>` on one connection and, until its reply arrives,
    `status` round trips on another, one after the other: does the daemon
    answer others while it builds a big stats (doc/design.md §19)?
    Bounded: `repeats` stats, each waited for at most `timeout` s."""
    a, b = CircusClient(c.endpoint), CircusClient(c.endpoint)
    out = {"stats_s": [], "status_rtts": [], "status_per_stats": []}
    try:
        for _ in range(repeats):
            mid = uuid.uuid4().hex
            t0 = now()
            a.sock.send(json.dumps({"command": "stats",
                                    "properties": {"name": name},
                                    "id": mid}).encode())
            count = 0
            while not a.sock.poll(0):
                if now() - t0 > timeout:
                    raise BenchError("no stats reply within %.0f s"
                                     % timeout)
                t1 = now()
                b.call("status", timeout=timeout)
                out["status_rtts"].append(now() - t1)
                count += 1
            reply = json.loads(a.sock.recv())
            if reply.get("id") != mid or reply.get("status") != "ok":
                raise BenchError("stats: unexpected reply %r"
                                 % (str(reply)[:200],))
            out["stats_s"].append(now() - t0)
            out["status_per_stats"].append(count)
    finally:
        a.sock.close(0)
        b.sock.close(0)
    return out


def circ_scale_cycle(B, c, n):
    wait_children(c.pid, 0, 120, "empty")
    cap = B.P["scale_cap_s"]
    out = {"cap_s": cap}
    counter = ChildCounter(c.pid)
    t0 = now()
    try:
        c.call("start", timeout=cap, name="w")
    except BenchError:
        out["child_counts"] = counter.stop()
        # no answer at all: count what it spawned from /proc, and give up
        out["spawn"] = None
        out["listed_at_cap"] = len(c.children())
        out["unresponsive"] = True
        # memory can be read without the daemon's help
        out["rss_kib"], out["pss_kib"] = mem_kib(c.pid)
        B.note("scale", "circusd had spawned %d of %d processes after "
               "%.0f s (counted in /proc) and had not answered `start` "
               "yet; it was killed there" % (out["listed_at_cap"], n, cap))
        c.kill()
        return out
    out["start_reply"] = now() - t0
    try:
        out["spawn"] = poll_until(lambda: len(c.pids("w")) >= n,
                                  cap - (now() - t0), 0.02,
                                  "%d pids listed" % n) - t0
    except BenchError:
        out["spawn"] = None
        out["listed_at_cap"] = len(c.pids("w"))
        B.note("scale", "circusd listed only %d of %d processes after "
               "%.0f s; the rest of the scenario ran with those"
               % (out["listed_at_cap"], n, cap))
    out["child_counts"] = counter.stop()
    if out["spawn"] is not None:
        wait_children(c.pid, n, 120, "all children")
    time.sleep(1.0)
    out["rss_kib"], out["pss_kib"] = mem_kib(c.pid)
    for label, cmd, props, count in (
            ("list <name>", "list", {"name": "w"}, 30),
            ("status", "status", {}, 200),
            ("stats <name>", "stats", {"name": "w"}, 3)):
        r = B.guarded("scale", "circusd %s at %d" % (label, n), B.floors.rtt,
                      c.endpoint, cmd, props, count, 1, 30.0, 1, 60000)
        out[label] = r["p50_us"] / 1e6 if r else None
    out["stats_probe"] = B.guarded("scale", "circusd status during stats",
                                   stats_status_probe, c, "w", 3, 120.0)
    t0 = now()
    c.call("stop", timeout=60, name="w")
    out["stop"] = poll_until(lambda: not c.children(), 120, 0.02,
                             "all gone") - t0
    return out


def sc_scale(B):
    n = B.P["scale_n"]
    why = scale_precheck(n)
    if why:
        B.note("scale", "scenario 7 skipped: " + why)
        return {"skipped": why}
    log("scale: %d processes" % n)
    circ = B.guarded("scale", "start circusd", B.circusd,
                     [{"name": "w", "n": n,
                       "options": {"autostart": "false"}}])
    subjects = [("vfork", lambda: floor_spawn_cycle(B, "vfork", n))]
    if circ:
        subjects.append(("circusd", lambda: circ_scale_cycle(B, circ, n)))
    runs = []
    for r in range(B.P["scale_repeats"]):
        rec = {}
        for name, fn in rotated(subjects, r):
            rec[name] = B.guarded("scale", "%s rep %d" % (name, r), fn)
        runs.append(rec)
    close_all(circ)
    return {"n": n, "runs": runs}


# --------------------------------------------------------------------------
# scenario 8: circusd-stats sampling N processes once a second


def statsd_ticks(sock, name, n, seconds):
    """Count stat.<name> aggregates listing n pids during seconds."""
    ticks = 0
    deadline = now() + seconds
    while True:
        left = deadline - now()
        if left <= 0:
            return ticks
        if not sock.poll(int(left * 1000) + 1):
            continue
        topic, body = sock.recv_multipart()
        if topic == ("stat.%s" % name).encode() and \
                len(json.loads(body)["pid"]) == n:
            ticks += 1


def statsd_level(B, n):
    stats_ep = "ipc://%s/stats-%d.sock" % (B.tmp_root, n)
    circ = B.circusd([{"name": "w", "n": n}],
                     circus_opts={"statsd": "true",
                                  "stats_endpoint": stats_ep})
    sock = None
    try:
        wait_children(circ.pid, n + 1, spawn_timeout(n) * 3, "circusd")
        found = []
        poll_until(lambda: found.extend(circ.pids("circusd-stats")) or found,
                   20, 0.05, "circusd-stats to run")
        stats_pid = found[0]
        sock = zmq.Context.instance().socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"stat.w")
        sock.connect(stats_ep)
        # every pid known (from list at start and spawn events) and sampled
        deadline = now() + 60
        while statsd_ticks(sock, "w", n, 1.5) == 0:
            if now() > deadline:
                raise BenchError("no stat.w listing all %d pids in 60 s" % n)
        seconds = B.P["statsd_seconds"]
        ns0 = {k: cpu_ns(p)[0] for k, p in (("stats", stats_pid),
                                            ("circusd", circ.pid))}
        t0 = now()
        ticks = statsd_ticks(sock, "w", n, seconds)
        dt = now() - t0
        ns1 = {k: cpu_ns(p)[0] for k, p in (("stats", stats_pid),
                                            ("circusd", circ.pid))}
        rss, _ = mem_kib(stats_pid)
        cpu_s = (ns1["stats"] - ns0["stats"]) / 1e9
        return {"n": n, "seconds": dt, "ticks": ticks,
                "cpu_pct": cpu_s / dt * 100,
                "cpu_ms_per_tick": cpu_s * 1000 / ticks if ticks else None,
                "circusd_cpu_pct": (ns1["circusd"] - ns0["circusd"]) / 1e9
                / dt * 100,
                "rss_kib": rss}
    finally:
        if sock is not None:
            sock.close(0)
        close_all(circ)


def sc_statsd(B):
    out = {}
    for n in B.P["statsd_n"]:
        log("statsd: circusd-stats sampling %d processes" % n)
        out[str(n)] = B.guarded("statsd", "circusd-stats %d" % n,
                                statsd_level, B, n)
    return out


# --------------------------------------------------------------------------
# report


def series(runs, subject, key):
    out = []
    for rec in runs:
        v = (rec.get(subject) or {}) if isinstance(rec, dict) else {}
        out.append(v.get(key) if isinstance(v, dict) else None)
    return out


def tput_ratios(runs, client, label):
    """Per repetition: circusd's replies/s over its paired echo run's."""
    return ratio_list(series(runs, "%s %s" % (client, label), "rps"),
                      series(runs, "%s echo %s" % (client, label), "rps"))


def sm(values, scale=1.0):
    vals = [v * scale for v in values if v is not None]
    return summary(vals)


def med(values):
    s = sm(values)
    return s["median"] if s else None


class Report:
    def __init__(self, res):
        self.res = res
        self.sc = res["scenarios"]
        self.lines = []
        self.targets = []   # (target, measured, verdict, note key)
        self.misses = []
        self.observations = []

    def w(self, s=""):
        self.lines.append(s)

    def table(self, header, rows):
        self.w("| " + " | ".join(header) + " |")
        self.w("|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            self.w("| " + " | ".join(str(c) for c in r) + " |")
        self.w()

    def target(self, name, measured, ok, why_key=None):
        verdict = {True: "met", False: "**missed**", None: "not measured"}[ok]
        self.targets.append((name, measured, verdict))
        if ok is False and why_key and why_key not in self.misses:
            self.misses.append(why_key)

    # -- sections ---------------------------------------------------------

    def spawn(self):
        d = self.sc.get("spawn")
        if not d:
            return
        self.w("## 1. Spawn N, incr/decr 100, stop")
        self.w()
        self.w("Time from the command (`start w`; supervisord "
               "`startProcessGroup`) until `list w` shows N pids "
               "(supervisord: N `RUNNING` in `getAllProcessInfo`); the floor "
               "is `floor_spawn`: N × (fork or vfork) + exec of `sleep 3600`, "
               "timed until every child has exec'd; its children get an "
               "empty environment, as circusd's do (`copy_env = false`; with "
               "`LANG` set, `sleep` loads a locale and costs more). Ratios "
               "are per "
               "repetition against the vfork floor of the same repetition.")
        self.w()
        rows = []
        for n, runs in d.items():
            vf = series(runs, "vfork", "spawn")
            rows.append([
                n, fmt_stat(sm(vf)), fmt_stat(sm(series(runs, "fork",
                                                          "spawn"))),
                fmt_stat(sm(series(runs, "circusd", "spawn"))),
                fmt_stat(sm(ratio_list(series(runs, "circusd", "spawn"), vf)),
                         "ratio"),
                fmt_stat(sm(series(runs, "supervisord", "spawn"))),
                fmt_stat(sm(ratio_list(series(runs, "supervisord", "spawn"),
                                       vf)), "ratio"),
                fmt_stat(sm(series(runs, "circusd", "start_reply"))),
                len(runs)])
        self.table(["N", "vfork floor", "fork floor", "circusd",
                    "circusd / vfork", "supervisord", "supervisord / vfork",
                    "circusd's reply to `start` came after", "reps"], rows)
        self.w("Responsiveness during the spawn: a `status` (supervisord: "
               "`getState`) sent on a second connection 20 ms after the "
               "start command was answered after:")
        self.w()
        rows = []
        for n, runs in d.items():
            rows.append([n, fmt_stat(sm(series(runs, "circusd",
                                                "status_during_spawn"))),
                         fmt_stat(sm(series(runs, "supervisord",
                                            "status_during_spawn")))])
        self.table(["N", "circusd `status`", "supervisord `getState`"],
                   rows)
        self.w("Circus answers a `start` without `waiting` at once; when "
               "the reply time above equals the spawn time, the daemon "
               "answered only after the whole batch, and the `status` "
               "probe shows whether it answered anything else meanwhile.")
        self.w()
        rows = []
        for n, runs in d.items():
            vf_per = series(runs, "vfork", "per_spawn")
            incr_floor = [v * 100 if v else None for v in vf_per]
            rows.append([
                n, fmt_stat(sm(series(runs, "circusd", "incr"))),
                fmt_stat(sm(ratio_list(series(runs, "circusd", "incr"),
                                       incr_floor)), "ratio"),
                fmt_stat(sm(series(runs, "circusd", "decr"))),
                fmt_stat(sm(series(runs, "vfork", "stop"))),
                fmt_stat(sm(series(runs, "circusd", "stop"))),
                fmt_stat(sm(ratio_list(series(runs, "circusd", "stop"),
                                       series(runs, "vfork", "stop"))),
                         "ratio"),
                fmt_stat(sm(series(runs, "supervisord", "stop")))])
        self.table(["N", "circusd incr 100", "incr / (100 × vfork floor "
                    "per spawn)", "circusd decr 100 (until reaped)",
                    "floor stop (TERM + reap N)", "circusd stop (until all "
                    "reaped)", "circusd stop / floor", "supervisord stop"],
                   rows)
        self.w("supervisord has no `incr`/`decr` (its `numprocs` changes "
               "only through a config reload), so those columns are "
               "circusd only.")
        self.w()
        self.w("Daemon memory right after the N processes are listed "
               "(`smaps_rollup`):")
        self.w()
        rows = []
        for n, runs in d.items():
            rows.append([n] + [fmt_stat(sm(series(runs, who, k), 1 / 1024),
                                        "mib")
                               for who in ("circusd", "supervisord")
                               for k in ("rss_kib", "pss_kib")])
        self.table(["N", "circusd RSS", "circusd PSS", "supervisord RSS",
                    "supervisord PSS"], rows)
        big = list(d)[-1]
        runs = d[big]
        rep_ = med(series(runs, "circusd", "start_reply"))
        spn = med(series(runs, "circusd", "spawn"))
        probe = med(series(runs, "circusd", "status_during_spawn"))
        if rep_ and spn and rep_ >= 0.8 * spn:
            self.observations.append(
                "circusd answered `start` (sent without `waiting`) only "
                "after all %s processes were spawned (%s), where Circus "
                "answers at once; a `status` sent meanwhile on another "
                "connection waited %s. The loop does not serve the control "
                "socket during a batch spawn (doc/design.md §1 says read-only "
                "commands always answer at once)."
                % (big, fmt_time(rep_), fmt_time(probe)))
        r = sm(ratio_list(series(runs, "circusd", "spawn"),
                          series(runs, "vfork", "spawn")))
        self.target("spawn ≤ 1.1× the vfork floor (N=%s)" % big,
                    fmt_stat(r, "ratio"),
                    None if not r else r["median"] <= 1.1, "spawn")

    def rtt(self):
        d = self.sc.get("rtt")
        if not d:
            return
        self.w("## 2. Control round trip and throughput")
        self.w()
        self.w("One DEALER client in C (`zmq_rtt`) sends a request, waits "
               "for its reply, and repeats; the same client measures the "
               "raw ROUTER echo (`zmq_echo`, which returns the `status` "
               "request unchanged). Figures are the median over "
               "repetitions of each repetition's p50/p99; the ratio is "
               "circusd p50 over the echo p50 of the same repetition. "
               "supervisord is driven by Python's `xmlrpc.client` over its "
               "unix socket (a Python client, so its figures include "
               "~tens of µs of client cost); `status` ≈ `getState`, "
               "`list` ≈ `getAllProcessInfo`; it has nothing like `list "
               "<name>` or `stats <name>`.")
        self.w()
        for cfg, runs in d["configs"].items():
            self.w("**%s** (%s watcher(s) × 10 processes; %s processes on "
                   "the machine, %s of them unrelated `sleep`s held by "
                   "`floor_spawn -H` meanwhile)"
                   % (cfg, cfg.split("x")[0],
                      d.get("machine_processes", {}).get(cfg, "?"),
                      d.get("unrelated", 0)))
            self.w()
            echo50 = series(runs, "echo", "p50_us")
            rows = [["echo (floor)", fmt_stat(sm(echo50, 1e-6)),
                     fmt_stat(sm(series(runs, "echo", "p99_us"), 1e-6)),
                     "1.00×", "", "", ""]]
            for label, _ in RTT_COMMANDS:
                c50 = series(runs, "circusd " + label, "p50_us")
                svk = "supervisord " + label
                rows.append([
                    "`%s`" % label, fmt_stat(sm(c50, 1e-6)),
                    fmt_stat(sm(series(runs, "circusd " + label, "p99_us"),
                                1e-6)),
                    fmt_stat(sm(ratio_list(c50, echo50)), "ratio"),
                    ("`%s`" % SV_EQUIV[label][0].split(".")[1]
                     if label in SV_EQUIV else "—"),
                    fmt_stat(sm(series(runs, svk, "p50_us"), 1e-6))
                    if label in SV_EQUIV else "—",
                    fmt_stat(sm(series(runs, svk, "p99_us"), 1e-6))
                    if label in SV_EQUIV else "—"])
            self.table(["command", "circusd p50", "circusd p99",
                        "p50 / echo p50", "supervisord method",
                        "supervisord p50", "supervisord p99"], rows)
        self.tput(d)
        runs = d["configs"].get("1x10", [])
        r = sm(ratio_list(series(runs, "circusd status", "p50_us"),
                          series(runs, "echo", "p50_us")))
        self.target("`status` round trip ≤ 1.2× the raw echo (p50, 1×10)",
                    fmt_stat(r, "ratio"),
                    None if not r else r["median"] <= 1.2, "rtt")
        runs = d["configs"].get("50x10", [])
        s50 = sm(series(runs, "circusd stats <name>", "p50_us"), 1e-6)
        s99 = sm(series(runs, "circusd stats <name>", "p99_us"), 1e-6)
        self.target("`stats <watcher>` ≤ 1 ms at 50 watchers × 10 (p50; "
                    "p99 shown)", "p50 %s, p99 %s" % (fmt_stat(s50),
                                                      fmt_stat(s99)),
                    None if not s50 else s50["median"] <= 1e-3, "stats")
        runs = d["throughput"].get("1x10", [])
        for client, _ in TPUT_CLIENTS:
            for label, _ in TPUT_COMMANDS:
                r = sm(tput_ratios(runs, client, label))
                self.target("4-client throughput of `%s` ≥ 0.9× the echo's "
                            "(%s client, 1×10)" % (label, client),
                            fmt_stat(r, "ratio"),
                            None if not r else r["median"] >= 0.9, "tput")

    def tput(self, d):
        self.w("**Throughput**: 4 clients at once, each in a closed loop "
               "(send, wait for the reply, repeat), for %s s per run. Each "
               "circusd run has its own echo run (the same clients sending "
               "the same request to `zmq_echo`, which returns it) right "
               "before or after it, the order alternating "
               "between repetitions, and its ratio is to that echo run; the "
               "echo column is the median of those echo runs. Clients: %s. "
               "supervisord: 4 Python processes calling `getState`. "
               "*Server CPU per reply* is the server's run time (all its "
               "threads, `/proc/<pid>/task/*/schedstat`) over the run, "
               "divided by the replies; *machine CPU per reply* is the "
               "whole machine's busy time (`/proc/stat`, all CPUs, in "
               "clock ticks) divided the same way: clients, server and the "
               "kernel's work for both. With every core busy, throughput "
               "is the machine's CPU over the machine CPU per reply, so "
               "that ratio says what the throughput ratio would be without "
               "the scheduler's noise."
               % (self.res["profile"].get("tput_seconds", "?"),
                  "; ".join("%s = %s" % c for c in TPUT_CLIENTS)))
        self.w()
        rows = []
        for cfg, runs in d["throughput"].items():
            for client, _ in TPUT_CLIENTS:
                for label, _ in TPUT_COMMANDS:
                    e = series(runs, "%s echo %s" % (client, label), "rps")
                    c = series(runs, "%s %s" % (client, label), "rps")
                    cpu = []
                    for key in ("srv_ns", "machine_ns"):
                        ce = series(runs, "%s echo %s" % (client, label),
                                    key)
                        cc = series(runs, "%s %s" % (client, label), key)
                        cpu += [fmt_stat(sm(ce, 1e-9)),
                                fmt_stat(sm(cc, 1e-9)),
                                fmt_stat(sm(ratio_list(cc, ce)), "ratio")]
                    rows.append([cfg, client, "`%s`" % label,
                                 fmt_stat(sm(e), "num", "/s"),
                                 fmt_stat(sm(c), "num", "/s"),
                                 fmt_stat(sm(tput_ratios(runs, client,
                                                         label)), "ratio")]
                                + cpu)
            s = series(runs, "supervisord", "rps")
            if any(s):
                rows.append([cfg, "Python", "supervisord `getState`", "",
                             fmt_stat(sm(s), "num", "/s"), ""] + [""] * 6)
        self.table(["config", "client", "command", "echo",
                    "circusd", "circusd / echo",
                    "server CPU per reply: echo", "circusd",
                    "circusd / echo",
                    "machine CPU per reply: echo", "circusd",
                    "circusd / echo"], rows)

    def footprint(self):
        d = self.sc.get("footprint")
        if not d:
            return
        self.w("## 3. Footprint and idle CPU")
        self.w()
        secs = self.res["profile"]["foot_seconds"]
        self.w("The subjects idle side by side for %.0f s, cut in %d "
               "windows; RSS and PSS from `/proc/<pid>/smaps_rollup`, CPU "
               "from the run time in `/proc/<pid>/task/*/schedstat` "
               "(ns, all threads) and, as a cross-check, utime+stime ticks "
               "in `/proc/<pid>/stat` over the whole period (1 tick = "
               "%d ms). Wake-ups are scheduler timeslices per second. "
               "*Anonymous* is the part of RSS that is the process's own "
               "(heap, stacks, library data), the rest being shared files "
               "(code of the binary and its libraries). Floors: `floor_spawn "
               "-H`, a C process that only holds its children, and "
               "`zmq_echo`, an idle libzmq ROUTER (the footprint any ZeroMQ "
               "daemon starts from)." % (secs, self.res["profile"]["foot_windows"],
                              1000 // CLK_TCK))
        self.w()
        rows = []
        for level, rec in d.items():
            for name in ("floor", "echo", "circusd", "supervisord"):
                x = rec.get(name)
                if not x:
                    continue
                rows.append([level, name,
                             fmt_stat(sm(x["rss_kib"], 1 / 1024), "mib"),
                             fmt_stat(sm(x["pss_kib"], 1 / 1024), "mib"),
                             fmt_stat(sm(x.get("anon_kib", []), 1 / 1024),
                                      "mib"),
                             fmt_stat(sm(x["cpu_pct"]), "pct"),
                             fmt_stat(sm(x["wakeups_per_s"]), "num", "/s"),
                             "%s ticks, %s ms in %.0f s" % (
                                 x.get("ticks"),
                                 fmt_num(x.get("cpu_ms_total")),
                                 x.get("ticks_seconds", 0)),
                             x.get("threads", "")])
        self.table(["processes", "subject", "RSS", "PSS", "anonymous",
                    "CPU (% of a "
                    "core), per window", "wake-ups", "CPU over the period",
                    "threads"], rows)
        top = list(d)[-1]
        x = d[top].get("circusd")
        if x:
            r = sm(x["rss_kib"], 1 / 1024)
            self.target("RSS ≤ 4 MiB at 1,000 processes%s"
                        % ("" if top == "1000" else
                           " (measured at %s only in this run)" % top),
                        fmt_stat(r, "mib"),
                        (r["median"] <= 4.0) if (r and top == "1000")
                        else None, "rss")
        else:
            self.target("RSS ≤ 4 MiB at 1,000 processes", "n/a", None)
        worst = None
        for level, rec in d.items():
            x = rec.get("circusd")
            if x and x.get("cpu_pct_total") is not None:
                p = x["cpu_pct_total"]
                if worst is None or p > worst[1]:
                    worst = (level, p, x["ticks"], x["ticks_seconds"],
                             sm(x["wakeups_per_s"]))
        if worst:
            ok = worst[2] == 0 and worst[1] < 0.05
            self.target("idle CPU indistinguishable from zero (0 ticks of "
                        "utime+stime and < 0.05 % of a core over the period)",
                        "worst: %.4f %%, %d ticks in %.0f s, %s wake-ups/s, "
                        "at %s processes" % (worst[1], worst[2], worst[3],
                                             fmt_num(worst[4]["median"])
                                             if worst[4] else "n/a",
                                             worst[0]), ok, "cpu")
        else:
            self.target("idle CPU indistinguishable from zero", "n/a", None)

    def restart(self):
        d = self.sc.get("restart")
        if not d:
            return
        runs = d["runs"]
        self.w("## 4. Restart of a watcher with %d processes" % d["n"])
        self.w()
        self.w("From `restart w` (supervisord: `stopProcessGroup(w, wait)` "
               "then `startProcessGroup(w)`, what `supervisorctl restart` "
               "does) until `list w` shows %d pids, none of them old. The "
               "floor is one `floor_spawn` run: spawn %d + TERM and reap %d."
               % (d["n"], d["n"], d["n"]))
        self.w()
        f = series(runs, "floor", "restart")
        self.table(["floor (stop + spawn)", "circusd", "circusd / floor",
                    "supervisord", "supervisord / floor", "reps"],
                   [[fmt_stat(sm(f)),
                     fmt_stat(sm(series(runs, "circusd", "restart"))),
                     fmt_stat(sm(ratio_list(series(runs, "circusd",
                                                   "restart"), f)), "ratio"),
                     fmt_stat(sm(series(runs, "supervisord", "restart"))),
                     fmt_stat(sm(ratio_list(series(runs, "supervisord",
                                                   "restart"), f)), "ratio"),
                     len(runs)]])

    def respawn(self):
        d = self.sc.get("respawn")
        if not d:
            return
        runs = d["runs"]
        self.w("## 5. Death-to-respawn latency of one process")
        self.w()
        self.w("The only process of a watcher is SIGKILLed; the kernel's "
               "process events (netlink proc connector, CLOCK_MONOTONIC "
               "timestamps taken by the kernel) give the victim's exit, the "
               "daemon's fork of the replacement and the replacement's "
               "exec. The floor is `floor_spawn -R`: a C loop blocked in "
               "`sigtimedwait` that reaps and vforks at once. circusd runs "
               "with `backoff_reset = 0`, so each kill is the death of a "
               "healthy process, not a crash loop (with the default 10 s, "
               "the second death within 10 s of a spawn waits 0.1 s, then "
               "0.2 s, …, by design); supervisord has `startsecs = 0` and "
               "`autorestart = true`.")
        self.w()
        rows = []
        for name in ("floor", "circusd", "circusd (cgroups)",
                     "supervisord"):
            if not any(series(runs, name, "exit_to_fork")):
                continue
            rows.append([name,
                         fmt_stat(sm(series(runs, name, "exit_to_fork"))),
                         fmt_stat(sm(series(runs, name, "exit_to_exec"))),
                         fmt_stat(sm(ratio_list(
                             series(runs, name, "exit_to_exec"),
                             series(runs, "floor", "exit_to_exec"))),
                             "ratio")])
        self.table(["subject", "exit → fork", "exit → exec", "exec / floor"],
                   rows)
        single = sm(d.get("single_spawn", []))
        diff = sm([a - b if a is not None and b is not None else None
                   for a, b in zip(series(runs, "circusd", "exit_to_exec"),
                                   series(runs, "floor", "exit_to_exec"))])
        self.w("circusd minus the floor, per repetition: %s. For scale, one "
               "vfork+exec of `sleep` run alone: %s."
               % (fmt_stat(diff), fmt_stat(single)))
        self.w()
        ok = None if not diff else diff["median"] <= 1e-3
        self.target("respawn within 1 ms plus the fork cost (exit → exec, "
                    "minus the floor respawner's, which is the fork cost)",
                    "%s (circusd %s, floor %s)" % (
                        fmt_stat(diff),
                        fmt_stat(sm(series(runs, "circusd", "exit_to_exec"))),
                        fmt_stat(sm(series(runs, "floor", "exit_to_exec")))),
                    ok, "respawn")

    def graceful(self):
        d = self.sc.get("graceful")
        if not d:
            return
        G = d["graceful_timeout"]
        self.w("## 6. Queries during a %.0f s graceful stop of another "
               "watcher" % G)
        self.w()
        self.w("Watcher `slow` (5 processes that ignore SIGTERM, "
               "graceful_timeout %.0f s) is stopped while a client queries "
               "watcher `w` in a closed loop (circusd: `status w` through "
               "`zmq_rtt`; supervisord: `getProcessInfo('w:w_0')`). Before: "
               "the same loop just before the stop. p99 per window, median "
               "over windows (min–max). A third of the way in, `incr w` is "
               "sent on another connection." % G)
        self.w()
        rows = []
        for name in ("circusd", "supervisord"):
            x = d.get(name)
            if not x:
                continue
            b = sm([r["p99_us"] for r in x["base"]], 1e-6)
            du = sm([r["p99_us"] for r in x["during"]], 1e-6)
            inc = x.get("incr") or {}
            if name == "supervisord":
                inc_s = "n/a (no incr)"
            elif inc.get("reply", {}).get("status") == "error":
                inc_s = "**refused**: errno %s %s" % (
                    inc["reply"].get("errno"), inc["reply"].get("reason"))
            elif inc:
                inc_s = "accepted, reply %s, listed %s" % (
                    fmt_time(inc.get("reply_s")), fmt_time(inc.get("listed_s")))
            else:
                inc_s = "n/a"
            rows.append([name, fmt_stat(b), fmt_stat(du),
                         "%.2f×" % (du["median"] / b["median"])
                         if b and du else "n/a",
                         inc_s, fmt_time(x.get("stopped_after_s"))])
        self.table(["subject", "p99 before", "p99 during stop",
                    "during / before", "`incr w` during the stop",
                    "`slow` stopped after"], rows)
        x = d.get("circusd")
        if x:
            inc = x.get("incr") or {}
            ok = (inc.get("reply", {}).get("status") not in (None, "error")
                  and inc.get("listed_s") is not None)
            self.target("`incr` accepted during another watcher's graceful "
                        "stop", "yes" if ok else "no", ok, "graceful")

    def scale(self):
        d = self.sc.get("scale")
        if not d:
            return
        self.w("## 7. Scale: 10,000 processes in one daemon")
        self.w()
        if d.get("skipped"):
            self.w("Skipped: %s." % d["skipped"])
            self.w()
            self.target("10,000 processes with linear cost", "skipped", None)
            return
        runs, n = d["runs"], d["n"]
        self.w("One watcher of %d `sleep` processes, `start` until `list` "
               "shows them all; RSS/PSS once they are up; `list w`, "
               "`status` and `stats w` round trips (p50 of a few calls); "
               "`stop` until all are reaped. supervisord is not run here "
               "(a %d-process supervisord takes minutes to start)." % (n, n))
        self.w()
        vf = series(runs, "vfork", "spawn")
        c = series(runs, "circusd", "spawn")
        capped = [r for r in series(runs, "circusd", "listed_at_cap")
                  if r is not None]
        cap = (series(runs, "circusd", "cap_s") or [None])[0]
        c_cell = fmt_stat(sm(c))
        unresp = any(series(runs, "circusd", "unresponsive"))
        if capped:
            c_cell = "only %s %s after %.0f s" % (
                "/".join(str(x) for x in capped),
                "spawned (no answer to `start` yet)" if unresp else "listed",
                cap or 0)
        self.table(
            ["metric", "vfork floor", "circusd", "circusd / floor"],
            [["spawn %d" % n, fmt_stat(sm(vf)), c_cell,
              fmt_stat(sm(ratio_list(c, vf)), "ratio")],
             ["per process", fmt_stat(sm(vf, 1 / n)),
              fmt_stat(sm(c, 1 / n)), ""],
             ["circusd's spawn rate, by thousand (children counted in "
              "/proc each second)", "",
              ", ".join("%dk: %.0f/s" % kr for kr in rate_by_thousand(
                  (series(runs, "circusd", "child_counts") or [[]])[0]
                  or [])) or "n/a", ""],
             ["reply to `start` after", "",
              fmt_stat(sm(series(runs, "circusd", "start_reply"))), ""],
             ["stop (until reaped)", fmt_stat(sm(series(runs, "vfork",
                                                        "stop"))),
              fmt_stat(sm(series(runs, "circusd", "stop"))), ""],
             ["RSS", "", fmt_stat(sm(series(runs, "circusd", "rss_kib"),
                                     1 / 1024), "mib"), ""],
             ["PSS", "", fmt_stat(sm(series(runs, "circusd", "pss_kib"),
                                     1 / 1024), "mib"), ""],
             ["`list w`", "", fmt_stat(sm(series(runs, "circusd",
                                                 "list <name>"))), ""],
             ["`status`", "", fmt_stat(sm(series(runs, "circusd",
                                                 "status"))), ""],
             ["`stats w`", "", fmt_stat(sm(series(runs, "circusd",
                                                  "stats <name>"))), ""]])
        probes = [p for p in series(runs, "circusd", "stats_probe") if p]
        rtts = [x for p in probes for x in p["status_rtts"]]
        if probes:
            self.w("`status` while `stats w` is built: `stats w` sent on "
                   "one connection and, until its reply arrives, `status` "
                   "round trips one after the other on a second one "
                   "(%d stats, %d status calls answered meanwhile)."
                   % (sum(len(p["stats_s"]) for p in probes), len(rtts)))
            self.w()
            self.table(["metric", "circusd"],
                       [["`stats w` reply",
                         fmt_stat(sm([x for p in probes
                                      for x in p["stats_s"]]))],
                        ["`status` meanwhile, p50",
                         fmt_time(pctl(rtts, 50)) if rtts else "n/a"],
                        ["`status` meanwhile, max",
                         fmt_time(max(rtts)) if rtts else "n/a"]])
        if rtts:
            self.target("`status` from another client within 10 ms while "
                        "a %d-process `stats` is built" % n,
                        "max %s over %d calls (p50 %s)" % (
                            fmt_time(max(rtts)), len(rtts),
                            fmt_time(pctl(rtts, 50))),
                        max(rtts) <= 0.010, "scale")
        else:
            self.target("`status` from another client within 10 ms while "
                        "a %d-process `stats` is built" % n, "n/a", None)
        sp = self.sc.get("spawn", {}).get("1000")
        ok = None
        measured = "n/a"
        if capped and med(vf):
            c_rate, f_rate = capped[0] / cap, n / med(vf)
            ok = False if c_rate < 0.9 * f_rate else None
            measured = ("circusd had %s %s of %d after %.0f s (%.0f/s); the "
                        "floor spawned all %d in %s (%.0f/s)" % (
                            "spawned" if unresp else "listed", capped[0], n,
                            cap, c_rate, n, fmt_time(med(vf)), f_rate))
        elif sp and med(c) and med(vf):
            c1k = med(series(sp, "circusd", "spawn"))
            f1k = med(series(sp, "vfork", "spawn"))
            if c1k and f1k:
                cr = (med(c) / n) / (c1k / 1000)
                fr = (med(vf) / n) / (f1k / 1000)
                measured = ("per-process spawn at %d ÷ at 1,000: circusd "
                            "%.2f×, floor %.2f×" % (n, cr, fr))
                ok = cr <= max(1.25, fr * 1.1)
        self.target("10,000 processes with linear cost", measured, ok,
                    "scale")

    def statsd(self):
        d = self.sc.get("statsd")
        if not d:
            return
        self.w("## 8. circusd-stats sampling N processes once a second")
        self.w()
        self.w("`statsd = true` and one watcher of N `sleep` processes; once "
               "`stat.w` lists all N pids, the CPU time (schedstat, all "
               "threads) of `circusd-stats` and of circusd over %.0f s, and "
               "the `stat.w` ticks a subscriber received meanwhile. Circus's "
               "own `circusd-stats` is not run: Circus is not installed on "
               "this machine (Python packages come from Debian only, and "
               "Debian has no Circus)." % (self.res["profile"].get(
                   "statsd_seconds") or 0))
        self.w()
        rows = []
        for n in sorted(d, key=int):
            r = d[n]
            if not r:
                rows.append([n, "failed", "", "", "", ""])
                continue
            rows.append([n, "%.2f %%" % r["cpu_pct"],
                         fmt_time(r["cpu_ms_per_tick"] / 1000)
                         if r.get("cpu_ms_per_tick") else "n/a",
                         "%d in %.0f s" % (r["ticks"], r["seconds"]),
                         "%.3f %%" % r["circusd_cpu_pct"],
                         "%.2f MiB" % (r["rss_kib"] / 1024)
                         if r.get("rss_kib") else "n/a"])
        self.table(["N", "circusd-stats CPU (% of a core)",
                    "CPU per tick", "ticks received", "circusd CPU meanwhile",
                    "circusd-stats RSS"], rows)

    def bounce(self):
        d = self.sc.get("bounce")
        if d:
            bounce.render(self, d)

    def render(self):
        m = self.res["meta"]
        hdr = []
        hdr.append("# Benchmarks")
        hdr.append("")
        hdr.append("circusd (this repository) measured beside the machine's "
                   "physical floor and Debian's supervisord. Generated by "
                   "`bench/run.py`; do not edit by hand.")
        hdr.append("")
        hdr.append("* **Run**: %s mode, %s, %.0f s in all"
                   % (self.res["mode"], m.get("date"),
                      self.res.get("elapsed_s", 0)))
        hdr.append("* **Commands**: `%s`, i.e. `%s`"
                   % (self.res.get("make_target") or "(direct)",
                      self.res["command"]))
        hdr.append("* **Machine**: %s, %s cores, %s GiB, %s, kernel %s; "
                   "load average %s at the start, %s at the end (other "
                   "work on the machine shows here)"
                   % (m.get("cpu"), m.get("cores"), m.get("memory_gib"),
                      m.get("os"), m.get("kernel"), m.get("loadavg_start"),
                      m.get("loadavg_end")))
        hdr.append("* **Software**: circusd at commit %s; libzmq %s; "
                   "supervisord %s; Python %s"
                   % (m.get("commit"), m.get("libzmq"), m.get("supervisord"),
                      m.get("python")))
        hdr.append("* **Raw results**: `%s` (not committed; re-render this "
                   "file with `bench/run.py --report-from FILE`)"
                   % self.res.get("raw_path"))
        hdr.append("* **Method**: every figure is the median over repeated "
                   "runs with min–max in parentheses; every ratio is taken "
                   "inside one repetition, subjects interleaved in an order "
                   "that rotates each repetition, and then summarised the "
                   "same way. Endpoints are ipc:// and unix sockets only "
                   "(scenario 9: also 127.0.0.1 TCP); every loop is bounded in count and time.")
        hdr.append("")
        for sec in (self.spawn, self.rtt, self.footprint, self.restart,
                    self.respawn, self.graceful, self.scale, self.statsd,
                    self.bounce):
            try:
                sec()
            except Exception as e:
                self.w("(section %s failed to render: %s)"
                       % (sec.__name__, e))
                self.w()
        body = self.lines
        self.lines = []
        self.w("## Targets")
        self.w()
        self.table(["target", "measured", "verdict"], self.targets)
        tgt = self.lines
        self.lines = []
        self.notes_section()
        return "\n".join(hdr + tgt + body + self.lines) + "\n"

    def notes_section(self):
        self.w("## Notes")
        self.w()
        if self.misses:
            self.w("Where a target is missed, why, and what it would take:")
            self.w()
            for key in self.misses:
                self.w("* **%s**: %s" % (key, MISS_NOTES.get(
                    key, "no analysis recorded yet.")))
            self.w()
        if self.observations:
            self.w("Observed in this run:")
            self.w()
            for o in self.observations:
                self.w("* " + o)
            self.w()
        for n in self.res.get("notes", []):
            self.w("* %s: %s" % (n["scenario"], n["text"]))
        errs = self.res.get("errors", [])
        if errs:
            self.w()
            self.w("Measurements that failed in this run (left out of the "
                   "tables above):")
            self.w()
            for e in errs[:40]:
                self.w("* %s, %s: %s" % (e["scenario"], e["what"],
                                         e["error"][:300]))
            if len(errs) > 40:
                self.w("* … and %d more (see the raw JSON)"
                       % (len(errs) - 40))
        self.w()


# Why a target is missed and what it would take; kept next to the code that
# measures it, revised whenever a run shows something new. A note is printed
# only for a target the run missed.
MISS_NOTES = {
    "spawn":
        "circusd already spawns with the floor's primitive (vfork + exec, "
        "circusd/process.c), so the gap is its own work between two "
        "spawns; the largest part grows with the watcher's size (see the "
        "scale note: the lowest-free-wid search and the active count walk "
        "the process list for every spawn). Constant-time wid allocation and "
        "counters instead of list walks would close it.",
    "rtt":
        "the extra time over the echo is circusd's own work per request "
        "on its one thread: about 22,000 instructions for `status` under "
        "callgrind (decode, dispatch, the command's jansson result, the "
        "envelope written from it, two zmq_send calls, and the frees), "
        "against about 100,000 before the request path was profiled. What "
        "is left is mostly allocation (jansson values for the request and "
        "the result) and libzmq; a reply cached between state changes "
        "would cut the rest.",
    "stats":
        "`stats <watcher>` refreshes a table of parent pids with a readdir "
        "of the whole of /proc on every call (to find each process's "
        "children, circusd/stats.c), reading /proc/<pid>/stat for every pid "
        "it has not seen before, then reads stat, status and cmdline of each "
        "process of the watcher. Its cost therefore follows the number of "
        "processes on the machine (the scan sees every test and build "
        "running here), not the watcher's 10; p99 is dominated by calls "
        "that meet many new pids. What it would take: read each process's "
        "children from /proc/<pid>/task/<tid>/children (one small read per "
        "process, no scan of /proc), and keep per-process constants "
        "(username, create_time, cmdline) between calls.",
    "tput":
        "with four clients the 2 cores are shared by the clients, both "
        "servers' I/O threads and their main threads; most of a request's "
        "CPU is the kernel's (eventfd wake-ups between each process's main "
        "and I/O threads, epoll sleeps), the same for the echo and circusd, "
        "and how the scheduler batches those wake-ups swings a run by 2× "
        "either way on a shared machine (see the min–max), so single "
        "repetitions miss in both directions. circusd's own share is its "
        "per-request work on the main thread (see the `status` round "
        "trip); the Python client spends tens of µs of its own per "
        "request, so its ratios depend least on the server. The CPU per "
        "reply columns are what the scheduler's noise does not move: "
        "circusd's own work (parsing the request, writing the reply) is "
        "the difference between its column and the echo's, over a "
        "transport that costs both alike (the echo's column). A median "
        "below 0.9× with a machine CPU ratio "
        "near 1.0× is noise; one near 0.9× would be circusd's cost.",
    "rss":
        "RSS counts every page of every shared library mapped, and the idle "
        "`zmq_echo` row shows that linking Debian's libzmq alone (with "
        "libstdc++, libsodium, libgssapi/krb5, libpgm, libnorm, … pulled in "
        "as dependencies) costs about 5.5 MiB of RSS before a single line of "
        "circusd runs. circusd's own memory is the *anonymous* column (about "
        "1.2 MiB at 1,000 processes when this note was written), and PSS "
        "shares the libraries' pages among the processes that map them. "
        "Meeting 4 MiB of RSS would take a smaller transport: a libzmq built "
        "without CURVE/GSSAPI/PGM/NORM and linked statically with "
        "--gc-sections, or a minimal ZMTP 3.0 implementation of the two "
        "socket types circusd uses (ROUTER and PUB) on plain sockets; and "
        "dropping libraries that circusd links but barely uses (ldd lists "
        "about 30).",
    "cpu":
        "circusd wakes once per `check_delay` (5 s here) for the safety-net "
        "tick that walks every watcher; reaping is already driven by "
        "SIGCHLD. A tick that only runs when a SIGCHLD could have been "
        "missed (or a longer default) would take idle wake-ups to zero.",
    "respawn":
        "the table splits the time. Exit → fork is the daemon noticing the "
        "death (SIGCHLD through libev), reaping, publishing `reap` and "
        "deciding to spawn; fork → exec (the difference of the two columns) "
        "is the child's own setup between vfork and exec (signal "
        "dispositions reset one by one, dup2 of stdio, chdir, setsid, "
        "close_range) plus the exec itself, while the parent is suspended. "
        "If the gap is in the second part, trimming the child's work (one "
        "sigprocmask plus only the dispositions that are not already "
        "default, no chdir when the directory is unchanged) is what is "
        "left; if in the first, handling the reap and the spawn in the same "
        "loop iteration. The figure is noisy on this machine (see the "
        "min–max): several runs give different verdicts.",
    "bounce":
        "the goal column names the parts each action missed. *errors*: 0 "
        "since the worker's drain (syncserver/http.c, http_stop) waits, "
        "bounded by its grace time, until every keep-alive connection got "
        "its `Connection: close` answer and was closed, or stayed idle. "
        "*outage* and *p99* without readiness: `restart` stops all 4 "
        "workers before starting new ones (connections wait in circusd's "
        "listening socket's backlog: a latency spike, not refusals), and a "
        "bad release leaves no worker until the good one is put back. With "
        "readiness the old workers serve until the new ones said READY=1, "
        "and a bad release is rolled back. Saturated, most of what was left "
        "in *p99* until commit 2ebf357 was the sync server's own: each new "
        "worker's first signed request swept the whole 24 MiB nonce table "
        "bucket lock by bucket lock, holding its HTTP thread and every "
        "connection that thread served (doc/sync-auth.md §4 says what it "
        "cost, measured by hand). What is left is the machine's "
        "scheduling with both cores kept busy by wrk's closed loop: each "
        "new worker's start costs CPU (the kernel's exec and the dynamic "
        "linker, most of it), and each worker is a session of its own "
        "(setsid, as Circus does), so where the kernel groups CPU time by "
        "session (`kernel.sched_autogroup_enabled = 1` and no cpu cgroup) "
        "each worker is a scheduling group of its own (doc/workers.md §6, "
        "with what a probe run by hand saw). The first restart of a run is "
        "its fastest replacement (the *replaced in* column): later ones "
        "wait, in the old worker that holds the bench's idle keep-alive "
        "connection, DRAIN_IDLE_MS for it, so the first spends the same "
        "CPU in less time. The paced variant is the load a server is run "
        "at, where the machine has time to spare and the bounce's own cost "
        "shows. How to read the saturated p99: wrk corrects its latencies "
        "for coordinated omission before the report gets them (wrk 4, "
        "`stats_correct` in src/stats.c): a request that held its "
        "connection L ms adds a sample for each mean interval per "
        "connection it held it beyond that, as if the requests not sent "
        "meanwhile had waited too; saturated, that interval is a fraction "
        "of a millisecond, so a pause of tens of milliseconds of a few "
        "connections at once moves p99 by itself.",
    "graceful":
        "the `incr` was not accepted, or its process did not appear, while "
        "another watcher was in its graceful stop.",
    "scale":
        "the daemon's cost per spawn grows with the number of processes it "
        "already holds. History: the first version of watcher_next_wid() "
        "(circusd/watcher.c) tried wid = 1, 2, … walking the process list "
        "for each candidate, O(N²) per spawn; a perf profile at the 7,000th "
        "spawn put 90 % of circusd's CPU there, and it reached only ~7,000 "
        "of 10,000 in 120 s. It is now one pass per spawn (O(N), so O(N²) "
        "for a batch); the pid lookup on every reap and the active count "
        "are linear walks too. What would make it flat: free wids in a "
        "min-heap or a bitmap with find-first-zero, a pid → process hash, "
        "counters kept up to date instead of list walks. The spawn-rate row "
        "of the scale table shows where the rate falls.",
}


# --------------------------------------------------------------------------
# main


def preflight_circusd(B):
    """Is build/circusd there and does it do what the scenarios need?"""
    if not B.have_circusd:
        B.note("all", "circusd not measured: %s"
               % ("--no-circusd" if B.args.no_circusd else
                  "%s is missing (run `make`)" % B.circusd_bin))
        return
    try:
        c = Circusd(B.circusd_bin, [{"name": "w", "n": 2,
                                     "options": {"autostart": "false"}}],
                    B.tmp_root)
    except Exception as e:
        B.have_circusd = False
        B.note("all", "circusd not measured: it does not start and answer "
               "(%s)" % e)
        return
    try:
        c.call("start", name="w")
        poll_until(lambda: len(c.pids("w")) == 2, 10, 0.01, "2 pids")
        c.call("incr", name="w", nb=1)
        poll_until(lambda: len(c.pids("w")) == 3, 10, 0.01, "incr")
        c.call("decr", name="w", nb=1)
        poll_until(lambda: len(c.children()) == 2, 10, 0.01, "decr")
        c.call("stats", name="w")
        c.call("stop", name="w")
        poll_until(lambda: not c.children(), 30, 0.01, "stop")
    except Exception as e:
        B.have_circusd = False
        B.note("all", "circusd not measured: preflight failed (%s; log: %s)"
               % (e, c.log_tail(300)))
    finally:
        c.close()


RUNNERS = {"spawn": sc_spawn, "rtt": sc_rtt, "footprint": sc_footprint,
           "restart": sc_restart, "respawn": sc_respawn,
           "graceful": sc_graceful, "scale": sc_scale,
           "statsd": sc_statsd, "bounce": bounce.scenario}


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="build directory holding circusd and bench/")
    ap.add_argument("--quick", action="store_true",
                    help="about one minute; fewer sizes and repetitions")
    ap.add_argument("--only", default="",
                    help="comma-separated scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--repeats", type=int, default=0,
                    help="override every repetition count")
    ap.add_argument("--no-circusd", action="store_true")
    ap.add_argument("--no-supervisord", action="store_true")
    ap.add_argument("--output", default=None,
                    help="markdown report (default: BENCHMARKS.md for a "
                         "full run, bench/results/BENCHMARKS-quick.md for "
                         "--quick)")
    ap.add_argument("--results-dir",
                    default=os.path.join(REPO, "bench", "results"))
    ap.add_argument("--make-target", default=None,
                    help="the make target that ran us, for the report")
    ap.add_argument("--report-from", default=None,
                    help="re-render a report from a raw JSON result")
    return ap.parse_args(argv)


def write_report(res, path):
    text = Report(res).render()
    with open(path, "w") as f:
        f.write(text)
    log("wrote %s" % path)


def main(argv):
    if argv[:1] == ["--sv-load"]:
        sv_load_main(argv[1:])
        return 0
    if argv[:1] == ["--zmq-load"]:
        zmq_load_main(argv[1:])
        return 0
    args = parse_args(argv)
    if args.report_from:
        with open(args.report_from) as f:
            res = json.load(f)
        write_report(res, args.output or os.path.join(REPO, "BENCHMARKS.md"))
        return 0
    only = [s for s in args.only.split(",") if s] or list(SCENARIOS)
    bad = [s for s in only if s not in SCENARIOS]
    if bad:
        sys.stderr.write("unknown scenario(s): %s\n" % ",".join(bad))
        return 2
    _become_subreaper()
    atexit.register(_cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    B = Bench(args)
    if B.quick and "scale" in only:
        only.remove("scale")
        B.note("scale", "scenario 7 (10,000 processes) runs only in the "
               "full `make bench`")
    if not B.have_sv:
        B.note("all", "supervisord not measured (%s)"
               % ("--no-supervisord" if args.no_supervisord else
                  "%s missing: `make bench-deps`" % SUPERVISORD))
    t_start = now()
    res = {"mode": "quick" if args.quick else "full",
           "command": shlex.join([sys.executable, "bench/run.py"] + argv),
           "make_target": args.make_target, "meta": machine_info(args),
           "profile": B.P, "scenarios": {}, "durations": {}}
    preflight_circusd(B)
    try:
        for name in only:
            log("== scenario %s" % name)
            t0 = now()
            r = B.guarded(name, "scenario", RUNNERS[name], B)
            if isinstance(r, dict):
                r.pop("wall_s", None)  # durations are kept apart
            res["scenarios"][name] = r
            res["durations"][name] = round(now() - t0, 1)
            log("== %s done in %.0f s" % (name, res["durations"][name]))
    finally:
        _cleanup()
        B.cleanup()
    res["elapsed_s"] = now() - t_start
    res["meta"]["loadavg_end"] = " ".join(
        (read_file("/proc/loadavg") or "").split()[:3])
    res["notes"] = B.notes
    res["errors"] = B.errors
    os.makedirs(args.results_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    raw = os.path.join(args.results_dir, "%s-%s.json" % (stamp, res["mode"]))
    res["raw_path"] = os.path.relpath(raw, REPO)
    with open(raw, "w") as f:
        json.dump(res, f, indent=1)
    log("wrote %s" % raw)
    out = args.output or (os.path.join(args.results_dir,
                                       "BENCHMARKS-quick.md")
                          if args.quick else
                          os.path.join(REPO, "BENCHMARKS.md"))
    write_report(res, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
