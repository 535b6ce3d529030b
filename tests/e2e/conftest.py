# SPDX-License-Identifier: Apache-2.0
"""Black-box end-to-end harness for circusd.

Everything talks to a real `$CIRCUS_BUILD/circusd` over ipc:// endpoints
inside a short private temporary directory:

* `wd`       -- a Workdir (path, write(), script()) removed after the test;
* `circusd`  -- factory: circusd(body, check_delay=30, ...) writes an ini
                into the workdir, starts the daemon (log to a file that is
                attached to the report on failure), waits until the control
                socket answers `status` and returns a Daemon;
* Daemon     -- .call(cmd, **props), .client (DEALER with a 32-hex identity),
                .events (SUB connected *before* the daemon starts, collecting
                (topic, body) pairs in a background thread), .sync_events(),
                .quit(), .signal(), .log_text();
* helpers    -- wait_until(fn, timeout), pid_alive(), proc_* readers.

Teardown sends `quit`, waits for the exit with a deadline, then SIGKILLs
the daemon (failing the test if it had to) and kills every process the
daemon left behind (while a daemon runs, pytest is a child subreaper, so
orphans of a dead daemon come back to it). No test ever sleeps to wait
for a state: it waits for an event or polls with a deadline.
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
import uuid
from collections import namedtuple
from pathlib import Path

import pytest
import zmq

# --------------------------------------------------------------------------
# constants and locations

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("CIRCUS_BUILD") or (REPO / "build")).resolve()
CIRCUSD = BUILD / "circusd"
CIRCUSCTL = BUILD / "circusctl"
PYTHON = "/usr/bin/python3"

# Generous deadlines: the suite must pass on a slow, noisy 2-core machine.
CALL_TIMEOUT = float(os.environ.get("CIRCUS_E2E_CALL_TIMEOUT", "20"))
READY_TIMEOUT = 30.0
QUIT_TIMEOUT = 60.0
DEFAULT_TEST_TIMEOUT = 240

PR_SET_CHILD_SUBREAPER = 36

_ZCTX = zmq.Context.instance()


def _set_subreaper(on):
    """While one of our daemons runs, pytest is a child subreaper: orphans
    of a dead daemon (its workers) come back to us and can be killed. Off
    otherwise, so that other tests' double-forked programs are reparented
    to init as usual."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0)
    except Exception:  # pragma: no cover - best effort
        pass


# --------------------------------------------------------------------------
# pytest plumbing: markers, per-test watchdog, logs on failure


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a long test (> 20 s); still run by default")
    config.addinivalue_line(
        "markers", "timeout(seconds): per-test watchdog (default %d s)"
        % DEFAULT_TEST_TIMEOUT)


class E2ETimeout(Exception):
    pass


def _alarm(signum, frame):
    raise E2ETimeout("e2e watchdog: test phase exceeded its time limit")


def _with_alarm(seconds):
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(seconds))
    return old


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    old = _with_alarm(120)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    m = item.get_closest_marker("timeout")
    seconds = m.args[0] if m and m.args else DEFAULT_TEST_TIMEOUT
    old = _with_alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    old = _with_alarm(QUIT_TIMEOUT + 60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    seen = set()
    for d in list(getattr(item, "circus_daemons", [])) + list(_LIVE):
        if id(d) in seen:
            continue
        seen.add(id(d))
        text = d.log_text()
        if len(text) > 30000:
            text = "[... %d bytes cut ...]\n" % (len(text) - 30000) + text[-30000:]
        rep.sections.append(("circusd log (%s)" % d.ini, text))


# --------------------------------------------------------------------------
# small helpers


def wait_until(fn, timeout=10.0, interval=0.05, msg=None):
    """Poll fn() until it returns a truthy value; return that value.

    Raises AssertionError (with the last value seen) at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except (AssertionError, OSError, ValueError, KeyError) as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                "%s: not true after %.1f s (last value: %r)"
                % (msg or getattr(fn, "__name__", "condition"), timeout, last))
        time.sleep(interval)


def catches_signal(pid, sig):
    """Has pid installed a handler for sig? (SigCgt in /proc/PID/status:
    a process just exec'd takes the default action, death for SIGTERM,
    until its main sets one; under ASan that can be tens of ms.)"""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (int(sig) - 1) & 1)
    return False


def proc_stat(pid):
    """(state, ppid, pgid, sid) of a pid, or None if it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[2]), int(rest[3])


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0")[:-1]]


def proc_environ(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        raw = f.read()
    env = {}
    for item in raw.split(b"\0"):
        if not item:
            continue
        k, _, v = item.partition(b"=")
        env[k.decode()] = v.decode("utf-8", "replace")
    return env


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def children_of(ppid):
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[1] == ppid:
            out.append(pid)
    return out


def session_members(sid):
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[3] == sid and st[0] not in ("Z", "X"):
            out.append(pid)
    return out


def group_members(pgid):
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[2] == pgid and st[0] not in ("Z", "X"):
            out.append(pid)
    return out


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def is_python_json_layout(raw):
    """True when raw bytes are exactly what Python's json.dumps produces
    for the decoded value (", " / ": " separators, ensure_ascii, shortest
    float repr, no trailing newline)."""
    return json.dumps(json.loads(raw)).encode() == raw


def _reap_nohang(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# --------------------------------------------------------------------------
# worker programs (Python sources written into the workdir)

WORKER_DUMP = r'''
import json, os, socket, sys, time, signal
out = sys.argv[1]
info = {"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd(),
        "pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(),
        "gid": os.getgid(), "sid": os.getsid(0), "pgid": os.getpgid(0),
        "fds": sorted(int(x) for x in os.listdir("/proc/self/fd"))}
socks = {}
for fd in info["fds"]:
    if fd < 3:
        continue
    try:
        s = socket.socket(fileno=fd)
    except OSError:
        continue
    try:
        socks[str(fd)] = [s.family, s.type, s.getsockname()]
    except OSError:
        pass
    finally:
        s.detach()
info["socks"] = socks
tmp = out + ".tmp.%d" % os.getpid()
with open(tmp, "w") as f:
    json.dump(info, f)
os.rename(tmp, out)
while True:
    time.sleep(3600)
'''

# Ignores SIGTERM; writes "<pid>\n" to argv[1] once the disposition is set.
WORKER_IGNORE_TERM = r'''
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(3600)
'''

# Starts N grandchildren (same process group, same session) that ignore
# SIGTERM, writes their pids to argv[1], exits on SIGTERM leaving them.
WORKER_TREE = r'''
import os, signal, sys, time
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2
kids = []
for i in range(n):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(3600)
    kids.append(pid)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(" ".join(str(k) for k in kids) + "\n")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
def term(*a):
    os._exit(0)
signal.signal(signal.SIGTERM, term)
while True:
    time.sleep(3600)
'''

# Touches argv[1]/<signal name>.<pid> on USR1/USR2/HUP, sleeps otherwise.
WORKER_SIGNALS = r'''
import os, signal, sys, time
d = sys.argv[1]
def h(signum, frame):
    name = signal.Signals(signum).name
    open(os.path.join(d, "%s.%d" % (name, os.getpid())), "w").close()
for s in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP):
    signal.signal(s, h)
open(os.path.join(d, "ready.%d" % os.getpid()), "w").close()
while True:
    time.sleep(3600)
'''


class Workdir:
    """A short private directory (ipc paths must stay < 108 bytes)."""

    def __init__(self):
        self.path = Path(tempfile.mkdtemp(prefix="ce2e-", dir="/tmp"))

    def __truediv__(self, other):
        return self.path / other

    def __str__(self):
        return str(self.path)

    def write(self, name, text, dedent=True):
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if dedent:
            text = textwrap.dedent(text).lstrip("\n")
        p.write_text(text)
        return p

    def script(self, name, source):
        """Write a Python worker; return the cmd line that runs it."""
        p = self.write(name, source)
        return "%s %s" % (PYTHON, p)

    def cleanup(self):
        if os.environ.get("CIRCUS_E2E_KEEP"):
            return
        shutil.rmtree(self.path, ignore_errors=True)


# --------------------------------------------------------------------------
# control channel client


class CallTimeout(AssertionError):
    pass


class Client:
    """A DEALER like Circus's own client: 32-hex identity, linger 0."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.sock = _ZCTX.socket(zmq.DEALER)
        self.identity = uuid.uuid4().hex.encode()
        self.sock.setsockopt(zmq.IDENTITY, self.identity)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 20)
        self.sock.connect(endpoint)
        self.stray = []          # replies received while waiting for others

    def close(self):
        self.sock.close(0)

    # raw access ----------------------------------------------------------
    def raw_send(self, frames):
        """Send a multipart message exactly as given (list of bytes)."""
        frames = [f.encode() if isinstance(f, str) else f for f in frames]
        self.sock.send_multipart(frames)

    def recv_frames(self, timeout):
        """Next multipart message (list of bytes) or None after timeout s."""
        if self.sock.poll(int(timeout * 1000)):
            return self.sock.recv_multipart()
        return None

    def drain(self, timeout):
        """Everything received within timeout seconds."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            m = self.recv_frames(left)
            if m is None:
                return out
            out.append(m)

    # request/reply -------------------------------------------------------
    def request_raw(self, body_bytes, msg_id, timeout=CALL_TIMEOUT):
        """Send body; return the raw reply bytes whose id == msg_id."""
        self.sock.send(body_bytes)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CallTimeout("no reply with id %r within %.1f s to %r"
                                  % (msg_id, timeout, body_bytes[:300]))
            m = self.recv_frames(left)
            if m is None:
                continue
            raw = m[-1]
            try:
                rid = json.loads(raw).get("id")
            except Exception:
                self.stray.append(m)
                continue
            if rid == msg_id:
                return raw
            self.stray.append(m)

    def call_raw(self, command, properties=None, timeout=CALL_TIMEOUT, **props):
        """(raw reply bytes, decoded reply) for a normal call."""
        p = dict(properties or {})
        p.update(props)
        msg_id = uuid.uuid4().hex
        body = json.dumps({"command": command, "properties": p,
                           "id": msg_id}).encode()
        raw = self.request_raw(body, msg_id, timeout)
        return raw, json.loads(raw)

    def call(self, command, properties=None, timeout=CALL_TIMEOUT, **props):
        return self.call_raw(command, properties, timeout, **props)[1]

    def cast(self, command, properties=None, **props):
        p = dict(properties or {})
        p.update(props)
        self.sock.send(json.dumps({"command": command, "msg_type": "cast",
                                   "properties": p}).encode())


def timed_call(client, command, **props):
    """(elapsed seconds, reply) of one call."""
    t0 = time.monotonic()
    r = client.call(command, **props)
    return time.monotonic() - t0, r


# --------------------------------------------------------------------------
# events

Event = namedtuple("Event", "topic watcher action body raw nframes t")


def _split_topic(topic):
    if topic.startswith("watcher."):
        rest = topic[len("watcher."):]
        if "." in rest:
            w, a = rest.rsplit(".", 1)
            return w, a
    return None, None


class Events:
    """SUB socket (subscribed to everything) read by a background thread."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.events = []
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("event thread did not start")

    def _run(self):
        sub = _ZCTX.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.RECONNECT_IVL, 20)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        mon = sub.get_monitor_socket(zmq.EVENT_CONNECTED)
        sub.connect(self.endpoint)
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(mon, zmq.POLLIN)
        self._ready.set()
        try:
            while not self._stop.is_set():
                for s, _ in poller.poll(50):
                    if s is mon:
                        mon.recv_multipart()
                        self.connected.set()
                        continue
                    while True:
                        try:
                            frames = sub.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self._add(frames)
        finally:
            try:
                sub.disable_monitor()
            except Exception:
                pass
            mon.close(0)
            sub.close(0)

    def _add(self, frames):
        t = time.monotonic()
        topic = frames[0].decode("utf-8", "replace")
        raw = frames[1] if len(frames) > 1 else b""
        try:
            body = json.loads(raw)
        except Exception:
            body = None
        w, a = _split_topic(topic)
        ev = Event(topic, w, a, body, raw, len(frames), t)
        with self.cond:
            self.events.append(ev)
            self.cond.notify_all()

    def close(self):
        self._stop.set()
        self._thread.join(5)

    # queries ---------------------------------------------------------------
    def mark(self):
        with self.cond:
            return len(self.events)

    def since(self, mark=0, watcher=None, action=None):
        with self.cond:
            evs = list(self.events[mark:])
        return [e for e in evs
                if (watcher is None or e.watcher == watcher)
                and (action is None or e.action == action)]

    def wait_for(self, predicate, timeout=15.0, since=0, msg=None):
        """First event at index >= since satisfying predicate(event)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.events):
                    ev = self.events[i]
                    i += 1
                    if predicate(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "%s: no such event within %.1f s; events since mark: %s"
                        % (msg or "wait_for", timeout,
                           [(e.topic, e.body) for e in self.events[since:]][-60:]))
                self.cond.wait(min(left, 0.2))

    def wait_event(self, watcher, action, since=0, timeout=15.0, pid=None):
        def pred(e):
            if e.watcher != watcher or e.action != action:
                return False
            return pid is None or (e.body or {}).get("process_pid") == pid
        return self.wait_for(pred, timeout, since,
                             msg="%s.%s%s" % (watcher, action,
                                              "" if pid is None else " pid %d" % pid))

    def wait_count(self, watcher, action, n, since=0, timeout=15.0):
        def cond():
            evs = self.since(since, watcher, action)
            return evs if len(evs) >= n else None
        return wait_until(cond, timeout, 0.02,
                          msg="%d x %s.%s" % (n, watcher, action))

    def actions(self, watcher, since=0):
        return [e.action for e in self.since(since, watcher)]


# --------------------------------------------------------------------------
# the daemon

_LIVE = []


class DaemonStartError(AssertionError):
    pass


class Daemon:
    def __init__(self, wd, body="", check_delay=30, circus=None,
                 ini_name="circus.ini", env=None, args=(), cwd=None,
                 name_suffix=""):
        self.wd = wd
        self.dir = wd.path
        self.endpoint = "ipc://%s/ctl%s.sock" % (self.dir, name_suffix)
        self.pubsub = "ipc://%s/pub%s.sock" % (self.dir, name_suffix)
        self.ini = self.dir / ini_name
        self.log = self.dir / ("circusd%s.log" % name_suffix)
        self.check_delay = check_delay
        self.circus_extra = circus or {}
        self.body = body
        self.env = env
        self.args = list(args)
        self.cwd = cwd or str(self.dir)
        self.proc = None
        self.client = None
        self.client_factory = None   # e.g. a CURVE client (test_security)
        self.events = None
        self.final_log = None
        self.returncode = None
        self._baseline = set()
        self.spawned = set()
        self.write_ini(body)

    # configuration -----------------------------------------------------------
    def circus_section(self, check_delay=None, extra=None):
        cd = self.check_delay if check_delay is None else check_delay
        lines = ["[circus]",
                 "endpoint = %s" % self.endpoint,
                 "pubsub_endpoint = %s" % self.pubsub,
                 "multicast_endpoint =",
                 "check_delay = %s" % cd]
        for k, v in (extra if extra is not None else self.circus_extra).items():
            lines.append("%s = %s" % (k, v))
        return "\n".join(lines) + "\n"

    def write_ini(self, body=None, **kw):
        """(Re)write the ini: our [circus] section followed by body."""
        if body is None:
            body = self.body
        self.body = body
        text = self.circus_section(**kw) + "\n" + textwrap.dedent(body).strip("\n") + "\n"
        self.ini.write_text(text)
        return text

    # process -----------------------------------------------------------------
    def start(self, wait_ready=True, sync=True):
        self._baseline = set(children_of(os.getpid()))
        self.events = Events(self.pubsub)
        env = dict(os.environ)
        env["PWD"] = self.cwd
        env.update(self.env or {})
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [str(CIRCUSD)] + self.args + [str(self.ini)],
            stdin=subprocess.DEVNULL, stdout=self._logf, stderr=subprocess.STDOUT,
            cwd=self.cwd, env=env, start_new_session=True)
        if not _LIVE:
            _set_subreaper(True)
        _LIVE.append(self)
        self.client = (self.client_factory or Client)(self.endpoint)
        if wait_ready:
            self.wait_ready()
            if sync:
                self.sync_events()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise DaemonStartError(
                    "circusd exited with %s before answering; log:\n%s"
                    % (rc, self.log_text()[-5000:]))
            left = deadline - time.monotonic()
            if left <= 0:
                raise DaemonStartError(
                    "circusd did not answer `status` within %.0f s; log:\n%s"
                    % (timeout, self.log_text()[-5000:]))
            try:
                r = self.client.call("status", timeout=min(0.5, left))
            except CallTimeout:
                continue
            if r.get("status") != "error":
                return r

    def sync_events(self, timeout=15.0):
        """Make sure the SUB socket receives events (ZeroMQ slow joiner):
        add a throw-away watcher until its `add` event is seen, then rm it."""
        deadline = time.monotonic() + timeout
        probes = []
        try:
            while time.monotonic() < deadline:
                name = "e2e-probe-%s" % uuid.uuid4().hex[:8]
                r = self.call("add", name=name, cmd="/bin/true")
                if r.get("status") == "error":
                    # add is broken: settle for the transport being connected
                    self.events.connected.wait(max(0.1, deadline - time.monotonic()))
                    return False
                probes.append(name)
                try:
                    self.events.wait_event(name, "add", timeout=0.5)
                    return True
                except AssertionError:
                    continue
            raise AssertionError("events never reached the subscriber")
        finally:
            for name in probes:
                try:
                    self.call("rm", name=name, waiting=True)
                except AssertionError:
                    pass

    def call(self, command, properties=None, timeout=CALL_TIMEOUT, **props):
        return self.client.call(command, properties, timeout, **props)

    def call_raw(self, command, properties=None, timeout=CALL_TIMEOUT, **props):
        return self.client.call_raw(command, properties, timeout, **props)

    def new_client(self):
        return (self.client_factory or Client)(self.endpoint)

    def signal(self, signum):
        os.kill(self.proc.pid, signum)

    def wait_exit(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("circusd still running after %.0f s" % timeout)
        return self.returncode

    def quit(self, timeout=QUIT_TIMEOUT):
        """Send quit and wait for the exit; returns the exit status."""
        r = self.call("quit")
        assert r.get("status") == "ok", r
        return self.wait_exit(timeout)

    def log_text(self):
        if self.final_log is not None:
            return self.final_log
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    # queries used by many tests ---------------------------------------------
    def pids(self, name):
        r = self.call("list", name=name)
        assert r.get("status") == "ok", r
        return r["pids"]

    def status(self, name):
        return self.call("status", name=name).get("status")

    def wait_pids(self, name, n, timeout=20.0):
        def cond():
            p = self.pids(name)
            return p if len(p) == n else None
        return wait_until(cond, timeout, msg="%d pids in %s" % (n, name))

    def wait_status(self, name, state, timeout=20.0):
        return wait_until(lambda: self.status(name) == state, timeout,
                          msg="status %s == %s" % (name, state))

    # teardown ----------------------------------------------------------------
    def teardown(self):
        """Stop the daemon; return a list of problems (empty if clean)."""
        problems = []
        try:
            if self.proc is None:
                return problems
            if self.proc.poll() is None:
                quit_ok = False
                try:
                    r = self.new_client().call("quit", timeout=10)
                    quit_ok = r.get("status") == "ok"
                except AssertionError:
                    pass
                try:
                    rc = self.proc.wait(QUIT_TIMEOUT if quit_ok else 5)
                    if rc != 0:
                        problems.append("circusd exited %s after quit" % rc)
                except subprocess.TimeoutExpired:
                    problems.append("circusd did not exit after quit "
                                    "within %.0f s: SIGKILLed" % QUIT_TIMEOUT)
                    try:
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.proc.wait(10)
            self.returncode = self.proc.returncode
            if self.returncode is not None and self.returncode < 0 \
                    and self.returncode != -signal.SIGKILL:
                problems.append("circusd died of signal %d" % -self.returncode)
            problems.extend(self._kill_leftovers())
        finally:
            if self.client:
                self.client.close()
            if self.events:
                self.events.close()
            if hasattr(self, "_logf"):
                self._logf.close()
            self.final_log = self.log_text()
            if self in _LIVE:
                _LIVE.remove(self)
                if not _LIVE:
                    _set_subreaper(False)
        return problems

    def _kill_leftovers(self):
        """Kill what the daemon left behind; describe it."""
        me = os.getpid()
        leftovers = {}
        pids = set(children_of(me)) - self._baseline
        if self.events:
            for e in self.events.since(0, action="spawn"):
                if e.body and isinstance(e.body.get("process_pid"), int):
                    pids.add(e.body["process_pid"])
        pids |= self.spawned
        for pid in sorted(pids):
            st = proc_stat(pid)
            if st is None:
                continue
            if st[0] in ("Z", "X"):
                if st[1] == me:
                    _reap_nohang(pid)
                continue
            if pid == me or pid in self._baseline:
                continue
            leftovers[pid] = proc_cmdline(pid)
            for victim in session_members(st[3]) if st[3] != os.getsid(0) else [pid]:
                if victim == me:
                    continue
                leftovers.setdefault(victim, proc_cmdline(victim))
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for pid in leftovers:
            _reap_nohang(pid)
        # reap zombies reparented to us
        for pid in set(children_of(me)) - self._baseline:
            st = proc_stat(pid)
            if st and st[0] == "Z":
                _reap_nohang(pid)
        if leftovers:
            return ["processes left running after circusd exited (killed): %s"
                    % leftovers]
        return []


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def circus_build():
    if not CIRCUSD.exists():
        pytest.fail("%s does not exist (build it with `make`, or set "
                    "CIRCUS_BUILD)" % CIRCUSD, pytrace=False)
    return BUILD


@pytest.fixture(scope="session")
def circusd_bin(circus_build):
    return CIRCUSD


@pytest.fixture(scope="session")
def circusctl_bin(circus_build):
    return CIRCUSCTL


@pytest.fixture
def wd():
    w = Workdir()
    yield w
    w.cleanup()


class DaemonFactory:
    def __init__(self, wd, node):
        self.wd = wd
        self.node = node
        self.daemons = []

    def __call__(self, body="", check_delay=30, circus=None, start=True,
                 wait_ready=True, sync=True, **kw):
        d = Daemon(self.wd, body, check_delay, circus,
                   name_suffix="" if not self.daemons else str(len(self.daemons)),
                   **kw)
        self.daemons.append(d)
        if not hasattr(self.node, "circus_daemons"):
            self.node.circus_daemons = []
        self.node.circus_daemons.append(d)
        if start:
            d.start(wait_ready=wait_ready, sync=sync)
        return d

    def teardown(self):
        problems = []
        for d in reversed(self.daemons):
            problems.extend(d.teardown())
        return problems


@pytest.fixture
def circusd(circus_build, wd, request):
    """Factory: circusd(body, check_delay=30, circus={...}) -> Daemon."""
    f = DaemonFactory(wd, request.node)
    yield f
    problems = f.teardown()
    if problems:
        pytest.fail("teardown: " + "; ".join(problems), pytrace=False)


def run_circusd(args, timeout=60, cwd=None, env=None):
    """Run circusd to completion (for --check, refused configs...)."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen([str(CIRCUSD)] + [str(a) for a in args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, cwd=cwd, env=e,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError("circusd %s did not exit within %d s; output:\n%s%s"
                             % (args, timeout, out.decode(errors="replace"),
                                err.decode(errors="replace")))
    return subprocess.CompletedProcess(p.args, p.returncode,
                                       out.decode(errors="replace"),
                                       err.decode(errors="replace"))


# --------------------------------------------------------------------------
# assertion helpers shared by the test files

SUCCESS_KEYS_HEAD = ["status", "time"]
ERROR_KEYS = ["status", "reason", "tb", "time", "errno", "id"]


def assert_ok(reply, keys=None):
    """A success reply: status ok, float time, id last; keys = the
    command-specific keys in order (None = do not check)."""
    assert reply.get("status") == "ok", reply
    k = list(reply)
    assert k[:2] == SUCCESS_KEYS_HEAD, k
    assert k[-1] == "id", k
    assert isinstance(reply["time"], float), reply
    if keys is not None:
        assert k[2:-1] == list(keys), reply
    return reply


def assert_error(reply, errno, reason=None, contains=None):
    assert list(reply) == ERROR_KEYS, reply
    assert reply["status"] == "error", reply
    assert reply["errno"] == errno, reply
    assert isinstance(reply["time"], float), reply
    assert reply["tb"] is None or isinstance(reply["tb"], str), reply
    if reason is not None:
        assert reply["reason"] == reason, reply
    if contains is not None:
        assert contains in reply["reason"], reply
    return reply


def log_lines_with(daemon_or_text, *needles):
    text = daemon_or_text if isinstance(daemon_or_text, str) else daemon_or_text.log_text()
    return [ln for ln in text.splitlines() if all(n in ln for n in needles)]


def start_shared_daemon(request, body, **kw):
    """For module-scoped fixtures: (workdir, factory, daemon). `body` may be
    a callable taking the Workdir and returning the ini body. Finish with
    finish_shared_daemon()."""
    if not CIRCUSD.exists():
        pytest.fail("%s does not exist" % CIRCUSD, pytrace=False)
    w = Workdir()
    f = DaemonFactory(w, request.node)
    try:
        d = f(body(w) if callable(body) else body, **kw)
    except BaseException:
        f.teardown()
        w.cleanup()
        raise
    return w, f, d


def finish_shared_daemon(w, f):
    problems = f.teardown()
    w.cleanup()
    if problems:
        pytest.fail("teardown: " + "; ".join(problems), pytrace=False)


def ini(*parts):
    """Join ini fragments, dedenting each one separately."""
    return "\n\n".join(textwrap.dedent(p).strip("\n") for p in parts) + "\n"


def kill_script_procs(wd, script_name, keep=()):
    """SIGKILL every process running wd/script_name (except keep); reap the
    ones that are our children. Returns the pids killed."""
    script = str(wd / script_name)
    killed = []
    for pid in all_pids():
        argv = proc_cmdline(pid) or []
        if script in argv and pid not in keep and pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    for pid in killed:
        st = proc_stat(pid)
        if st and st[1] == os.getpid():
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return killed
