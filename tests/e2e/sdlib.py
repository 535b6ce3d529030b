# SPDX-License-Identifier: Apache-2.0
"""The worker side of the readiness protocol and socket activation, for
tests that run a worker themselves (doc/workers.md): a notify socket that
collects sd_notify datagrams, and the placing of sockets at fds 3, 4, ...
with LISTEN_PID set to the worker's own pid."""

import fcntl
import os
import socket
import subprocess
import time
import uuid


class NotifySocket:
    """An AF_UNIX datagram socket like the arbiter's: abstract ("@...")
    or a path."""

    def __init__(self, path=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if path is None:
            name = "circus-test-" + uuid.uuid4().hex
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.sock.bind(path)
            self.address = path
        self.msgs = []

    def recv_until(self, want, timeout=15.0):
        deadline = time.monotonic() + timeout
        while want not in self.msgs:
            left = deadline - time.monotonic()
            assert left > 0, "no %r, got %r" % (want, self.msgs)
            self.sock.settimeout(left)
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return self.msgs

    def recv_one(self, timeout):
        """One datagram within timeout: True, or False at the timeout."""
        self.sock.settimeout(timeout)
        try:
            self.msgs.append(self.sock.recv(4096).decode())
        except socket.timeout:
            return False
        return True

    def close(self):
        self.sock.close()


def spawn(args, env=None, pass_fds=(), listen_pid=False, **kw):
    """Start the worker; with listen_pid, LISTEN_PID is its own pid (set
    by a shell that execs it, as circusd's child does)."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("LISTEN_", "NOTIFY_", "WATCHDOG_"))}
    e.update(env or {})
    argv = list(args)
    if listen_pid:
        argv = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; '
                'exec "$0" "$@"'] + argv
    return subprocess.Popen(argv, env=e, pass_fds=pass_fds,
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            **kw)


def at_3_and_up(*fds):
    """In the child: put fds at 3, 4, ... (through copies above them all,
    so that an fd already at 3 or 4 is not clobbered)."""
    tmp = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
    for i, t in enumerate(tmp):
        os.dup2(t, 3 + i)
    for t in tmp:
        os.close(t)


def finish(p, timeout=30):
    try:
        return p.wait(timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()
