# SPDX-License-Identifier: Apache-2.0
"""The sync worker under test: `SyncServer` runs `$CIRCUS_BUILD/syncserver`
standalone on a free loopback port; `SyncCluster` runs N of them as one
circusd watcher on a shared socket (what `make run` does).

Both write a sync.ini in the test's tmp dir, wait for `GET
/__lbheartbeat__` = 200 with a deadline, expose `.url`, `.public_url`,
`.secret`, `.node`, `.db_path`, `.log` (text so far), `.pids`, `.stop()`,
and are context managers. `.client(uid)` mints a token for uid and returns
a Hawk-signing `synclib.SyncClient`.
"""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import requests

import synclib
from conftest import free_tcp_port  # noqa: F401  (the tests import it here)

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("CIRCUS_BUILD") or (REPO / "build")).resolve()
SYNCSERVER = BUILD / "syncserver"
CIRCUSD = BUILD / "circusd"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0




def write_ini(path, sections):
    """sections: {"syncserver": {...}, "storage": {...}} -> ini text."""
    lines = []
    for name, keys in sections.items():
        lines.append("[%s]" % name)
        for k, v in keys.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            lines.append("%s = %s" % (k, v))
        lines.append("")
    Path(path).write_text("\n".join(lines))


def _wait_heartbeat(url, deadline, alive):
    last = None
    while time.monotonic() < deadline:
        if not alive():
            raise AssertionError("syncserver exited while starting")
        try:
            r = requests.get(url + "/__lbheartbeat__", timeout=5)
            if r.status_code == 200:
                return
            last = r.status_code
        except requests.RequestException as e:
            last = e
        time.sleep(0.05)
    raise AssertionError("no heartbeat from %s: %r" % (url, last))


class _Base:
    """Config shared by the standalone server and the circusd cluster."""

    def _configure(self, tmpdir, overrides):
        self.tmpdir = Path(tmpdir)
        self.port = free_tcp_port()
        self.url = "http://127.0.0.1:%d" % self.port
        # "{url}" in a public_url override stands for the listening URL
        self.public_url = overrides.pop("public_url", self.url).replace(
            "{url}", self.url)
        self.node = self.public_url.rstrip("/")
        self.secret = overrides.pop("secret", "s3cret-" + os.urandom(8).hex())
        self.db_path = str(self.tmpdir / "sync.db")
        self.ini = self.tmpdir / "sync.ini"
        sections = {"syncserver": {"public_url": self.public_url,
                                   "sqluri": "sqlite:///" + self.db_path,
                                   "secret": self.secret},
                    "storage": {}, "tokenserver": {}, "hawk": {}}
        for key, value in overrides.items():
            section, _, name = key.rpartition("__")
            sections[section or "syncserver"][name] = value
        write_ini(self.ini, {k: v for k, v in sections.items() if v})

    def client(self, uid=42, expires=None, **extra):
        expires = time.time() + 3600 if expires is None else expires
        token, key = synclib.mint_token(self.secret, uid, self.node,
                                        expires, **extra)
        return synclib.SyncClient(self.url, token, key)

    def race_same_precondition(self, uid, writers):
        """`writers` POSTs at once, each with its own client and the same
        X-If-Unmodified-Since (the collection's current timestamp); returns
        their statuses, sorted."""
        root = "/1.5/%d/storage/race" % uid
        since = self.client(uid).put(root + "/x", {"payload": "0"}) \
            .headers["X-Last-Modified"]
        results = []

        def writer(i):
            r = self.client(uid).post(root, [{"id": "x", "payload": str(i)}],
                                      headers={"X-If-Unmodified-Since":
                                               since})
            results.append(r.status_code)

        threads = [threading.Thread(target=writer, args=(i,))
                   for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return sorted(results)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class SyncServer(_Base):
    """One standalone worker: SyncServer(tmpdir, storage__max_post_records=5,
    ...) -- `section__key=value` overrides (section syncserver when bare)."""

    def __init__(self, tmpdir, workers=1, threads=4, **overrides):
        assert workers == 1, "use SyncCluster for several workers"
        self._configure(tmpdir, overrides)
        self.logpath = self.tmpdir / "syncserver.log"
        self._logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [str(SYNCSERVER), "--config", str(self.ini), "--listen",
             "127.0.0.1:%d" % self.port, "--threads", str(threads)],
            stdout=self._logf, stderr=subprocess.STDOUT)
        try:
            _wait_heartbeat(self.url, time.monotonic() + START_TIMEOUT,
                            lambda: self.proc.poll() is None)
        except BaseException:
            self.stop()
            raise

    @property
    def pids(self):
        return [self.proc.pid] if self.proc.poll() is None else []

    @property
    def log(self):
        return self.logpath.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        """Signal the worker and wait for it; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
                raise AssertionError("syncserver ignored SIGTERM")
        self._logf.close()
        return self.proc.returncode


class SyncCluster(_Base):
    """N workers as the circusd watcher `syncserver` on the shared socket
    `syncserver`, as watchers.d/syncserver.ini declares them.

    `watcher_options` adds lines to the watcher's section (e.g. readiness);
    `configure(cmd=..., watcher_options=...)` rewrites circus.ini for a
    later `reloadconfig` (cmd: the whole command line, "{syncserver}",
    "{ini}" and "{fd}" standing for the binary, sync.ini and the socket)."""

    CMD = "{syncserver} --config {ini} --fd {fd}"

    def __init__(self, tmpdir, workers=2, watcher_options=None, **overrides):
        self._configure(tmpdir, overrides)
        self.workers = workers
        self.endpoint = "ipc://%s/ctl.sock" % self.tmpdir
        self.logpath = self.tmpdir / "syncserver.log"
        self.circus_ini = self.tmpdir / "circus.ini"
        self.configure(self.CMD, watcher_options)
        self._dlog = open(self.tmpdir / "circusd.log", "ab")
        self.proc = subprocess.Popen([str(CIRCUSD), str(self.circus_ini)],
                                     stdout=self._dlog,
                                     stderr=subprocess.STDOUT)
        try:
            _wait_heartbeat(self.url, time.monotonic() + START_TIMEOUT,
                            lambda: self.proc.poll() is None)
            deadline = time.monotonic() + START_TIMEOUT
            while len(self.pids) < workers:
                assert time.monotonic() < deadline, "workers did not start"
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def configure(self, cmd=None, watcher_options=None):
        """Write circus.ini: `cmd` (default CMD) and extra watcher lines."""
        cmd = (cmd or self.CMD).format(syncserver=SYNCSERVER, ini=self.ini,
                                       fd="$(circus.sockets.syncserver)")
        extra = ["%s = %s" % kv for kv in (watcher_options or {}).items()]
        self.circus_ini.write_text("\n".join([
            "[circus]",
            "endpoint = %s" % self.endpoint,
            "pubsub_endpoint = ipc://%s/pub.sock" % self.tmpdir,
            "check_delay = 5",
            "",
            "[socket:syncserver]",
            "host = 127.0.0.1",
            "port = %d" % self.port,
            "",
            "[watcher:syncserver]",
            "cmd = %s" % cmd,
            "numprocesses = %d" % self.workers,
            "use_sockets = true",
            "graceful_timeout = 20",
            "stdout_stream.class = FileStream",
            "stdout_stream.filename = %s" % self.logpath,
            "stderr_stream.class = FileStream",
            "stderr_stream.filename = %s" % self.logpath] + extra + [""]))

    def ctl(self, *args):
        out = subprocess.run([str(BUILD / "circusctl"), "--endpoint",
                              self.endpoint, "--timeout", "20"] + list(args),
                             capture_output=True, text=True, timeout=60)
        return out.stdout

    @property
    def pids(self):
        """The live workers: children of circusd running syncserver."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                exe = os.readlink(entry / "exe")
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid and exe == str(SYNCSERVER) and \
                    stat.rsplit(")", 1)[1].split()[0] != "Z":
                pids.append(int(entry.name))
        return sorted(pids)

    @property
    def log(self):
        try:
            return self.logpath.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT + 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
                raise AssertionError("circusd did not stop")
        self._dlog.close()
        return self.proc.returncode
