# SPDX-License-Identifier: Apache-2.0
"""Shared helpers of the reliability tests (test_faults.py, test_flood.py,
test_soak.py): the daemon's footprint (fds, RSS, zombies), the check that
what `status`/`list` report is what runs, and the SOAK switch."""

import os
import subprocess
import time
from pathlib import Path

from conftest import BUILD, REPO, children_of, pid_alive, proc_stat, wait_until

# `make soak` sets SOAK=1: the long versions of the load tests.
SOAK = os.environ.get("SOAK", "") not in ("", "0")


def _sanitized():
    try:
        with open(BUILD / "circusd", "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# `make SANITIZE=1 test`: the daemon is several times slower under ASan
SANITIZED = _sanitized()


def scaled(ci, soak, sanitized=None):
    """The CI figure, the soak figure under SOAK=1, or (if given) a smaller
    one when the daemon runs under AddressSanitizer."""
    if SOAK:
        return soak
    if SANITIZED and sanitized is not None:
        return sanitized
    return ci


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def asan_build(pid):
    """True if the daemon runs with AddressSanitizer (make SANITIZE=1)."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def zombies_of(pid):
    out = []
    for c in children_of(pid):
        st = proc_stat(c)
        if st and st[0] == "Z":
            out.append(c)
    return out


def wait_no_zombies(pid, timeout=10.0):
    """libev reaps at once: a zombie that stays is a leak."""
    wait_until(lambda: not zombies_of(pid), timeout,
               msg="no zombie children of circusd %d" % pid)


def assert_state_true(d, names, timeout=15.0):
    """What the daemon reports is what runs: a stopped watcher has no
    process, an active one only live ones, and every live child of the
    daemon belongs to a reported watcher. Polls until it holds (a death
    may be in flight), then returns {name: pids}."""
    def check():
        statuses = d.call("status")["statuses"]
        seen = {}
        for name in names:
            pids = d.pids(name)
            st = statuses.get(name)
            if st is None:
                return None
            if st == "stopped" and pids:
                return None
            if not all(pid_alive(p) for p in pids):
                return None
            seen[name] = pids
        reported = set(p for ps in seen.values() for p in ps)
        live = set(c for c in children_of(d.pid) if pid_alive(c))
        # the daemon may know more watchers than `names`: only untracked
        # children of the daemon are a lie
        every = set()
        for name in statuses:
            every.update(d.pids(name))
        if live - every:
            return None
        return seen if reported <= live else None
    return wait_until(check, timeout, 0.1,
                      msg="status/list match the processes that run")


def helper_path(name):
    """A program of tests/helpers, built by `make` into BUILD/helpers."""
    p = BUILD / "helpers" / name
    if p.exists():
        return p
    # not built (e.g. a stale build dir): build it next to the binaries' dir
    src = REPO / "tests" / "helpers" / (name + ".c")
    out = Path("/tmp") / ("circus-e2e-helper-%s-%d" % (name, os.getuid()))
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        args = ["cc", "-D_GNU_SOURCE", "-O2", "-o", str(out), str(src)]
        if name in ("failfork", "failnss"):
            args = ["cc", "-O2", "-shared", "-fPIC", "-o", str(out), str(src),
                    "-ldl"]
        subprocess.run(args, check=True)
    return out


def preload_env(shim, extra=None):
    """Environment that preloads shim into circusd (ASan builds need the
    link-order check off to accept another preloaded library)."""
    env = {"LD_PRELOAD": str(shim)}
    asan = os.environ.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
        "verify_asan_link_order=0"
    env.update(extra or {})
    return env


class Stopwatch:
    def __init__(self):
        self.t0 = time.monotonic()

    def __call__(self):
        return time.monotonic() - self.t0
