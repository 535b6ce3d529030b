# SPDX-License-Identifier: Apache-2.0
"""A fake circusd control socket for the circusctl tests (no tests here).

FakeDaemon binds a ROUTER on an ipc:// endpoint in a private directory and
answers every request from a background thread: it records the decoded
request (and its raw bytes), then replies with whatever `respond` returns
for it, wrapped as circusd does ({"status": "ok", "time": T, ..., "id": id}).
`respond` may return None (no reply at all), a dict (merged over the
success envelope), `error(reason, errno)` (an error envelope) or bytes
(sent as is). Raw messages in `before_reply` are sent before each reply
(stale replies a client must discard).
"""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("CIRCUS_BUILD") or (REPO / "build")).resolve()
CIRCUSCTL = BUILD / "circusctl"
PYTHON = "/usr/bin/python3"


def error(reason, errno=3):
    """A canned error reply."""
    return {"__error__": (reason, errno)}


def ok_reply(result):
    """Default responder: bare ok, or the given dict."""
    return result


class FakeDaemon:
    """A ROUTER that records requests and sends canned replies."""

    def __init__(self, respond=None, directory=None, bind=True):
        self.dir = directory or tempfile.mkdtemp(prefix="cctl", dir="/tmp")
        self.endpoint = "ipc://%s/ctl.sock" % self.dir
        self.pub_endpoint = "ipc://%s/pub.sock" % self.dir
        self.respond = respond or (lambda req: {})
        self.requests = []
        self.raw = []
        self.identities = []
        self.sent = []
        self.before_reply = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.ctx = zmq.Context()
        self.sock = None
        if bind:
            self.start()

    def start(self):
        """Bind and serve (again, after stop())."""
        self._stop.clear()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(self.endpoint)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self):
        """Unbind: the daemon "goes away"."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None
        path = self.endpoint[len("ipc://"):]
        if os.path.exists(path):
            os.unlink(path)

    def close(self):
        self.stop()
        self.ctx.term()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _serve(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self._stop.is_set():
            if not dict(poller.poll(50)):
                continue
            frames = self.sock.recv_multipart()
            if len(frames) != 2:
                continue
            ident, body = frames
            try:
                req = json.loads(body)
            except ValueError:
                req = None
            with self._lock:
                self.raw.append(body)
                self.requests.append(req)
                self.identities.append(ident)
            result = self.respond(req) if req is not None else {}
            for extra in self.before_reply:
                self.sock.send_multipart([ident, extra])
            if result is None:
                continue
            if isinstance(result, bytes):
                self.sock.send_multipart([ident, result])
                continue
            if "__error__" in result:
                reason, errno = result["__error__"]
                reply = {"status": "error", "reason": reason, "tb": None,
                         "time": 1795437127.265352, "errno": errno}
            else:
                reply = {"status": "ok", "time": 1795437126.7098472}
                reply.update(result)
            reply["id"] = req.get("id") if isinstance(req, dict) else None
            body = json.dumps(reply).encode()
            with self._lock:
                self.sent.append(body)
            self.sock.send_multipart([ident, body])

    def last(self):
        """The last request received (decoded)."""
        with self._lock:
            return self.requests[-1] if self.requests else None

    def count(self):
        with self._lock:
            return len(self.requests)


def run_ctl(*args, endpoint=None, env=None, timeout=30, input=None,
            with_endpoint=True):
    """Run build/circusctl with --endpoint first; returns CompletedProcess."""
    argv = [str(CIRCUSCTL)]
    if endpoint is not None and with_endpoint:
        argv += ["--endpoint", endpoint]
    argv += list(args)
    full_env = dict(os.environ)
    full_env.pop("CIRCUSCTL_ENDPOINT", None)
    full_env.pop("AUTO_COMPLETE", None)
    if env:
        full_env.update(env)
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, env=full_env, input=input)


def wait_for(fn, timeout=10.0, interval=0.02, msg=None):
    """Poll fn() until truthy, failing after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(msg or "condition not met in %.1fs"
                                 % timeout)
        time.sleep(interval)
