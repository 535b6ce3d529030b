# SPDX-License-Identifier: Apache-2.0
"""A watcher's whole tree (issue 13, doc/design.md §20): where circusd can
make a cgroup v2 subtree each watcher has its own cgroup, whose members
are its tree even after a daemon's double fork, and what is left there
at stop is killed (cgroup.kill after graceful_timeout); elsewhere
(`[circus] cgroups = false`, or no writable cgroup2) the tree is the
process group and the descendants. Either way a grandchild is counted
under its watcher (`stats <name>`: "tree") and is killed at stop."""

import os

import pytest

from conftest import pid_alive, wait_until

# The worker forks a child that forks a grandchild (all in the worker's
# process group); the grandchild writes its pid to argv[1].
NESTED = r'''
import os, sys, time
if os.fork() == 0:
    if os.fork() == 0:
        with open(sys.argv[1] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        time.sleep(60)
while True:
    time.sleep(60)
'''

# A daemon's double fork: the grandchild leaves the session and process
# group of the worker, and its parent exits (it is reparented).
DETACHED = r'''
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(sys.argv[1] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        while True:
            time.sleep(60)
    os._exit(0)
while True:
    time.sleep(60)
'''


def grandchild(path):
    return wait_until(lambda: path.exists() and int(path.read_text()),
                      20, msg="the grandchild's pid file")


def tree(d, name):
    r = d.call("stats", name=name)
    assert r["status"] == "ok", r
    return r["tree"]


def cgroup_mode(d):
    return d.call("dstats")["watcher_tree"] == "cgroup"


def test_fallback_counts_and_kills_a_grandchild(circusd, wd):
    script = wd.script("nested.py", NESTED)
    pidfile = wd.path / "gc.pid"
    d = circusd("""
    [watcher:nest]
    cmd = %s %s
    graceful_timeout = 2
    """ % (script, pidfile), circus={"cgroups": "false"})
    assert d.call("dstats")["watcher_tree"] == "process-group"
    assert "cgroups: not used ([circus] cgroups = false)" in d.log_text()
    (worker,) = d.wait_pids("nest", 1)
    gc = grandchild(pidfile)
    t = wait_until(lambda: (lambda t: t if gc in t["pids"] else None)(
        tree(d, "nest")), 20, msg="the grandchild in the tree")
    assert t["mode"] == "process-group"
    assert worker in t["pids"] and len(t["pids"]) == 3, t
    assert d.call("stop", name="nest")["status"] == "ok"
    wait_until(lambda: not pid_alive(gc), 20, msg="the grandchild killed")


def test_cgroup_counts_and_kills_a_detached_grandchild(circusd, wd):
    script = wd.script("detached.py", DETACHED)
    pidfile = wd.path / "gc.pid"
    d = circusd("""
    [watcher:daemonizing]
    cmd = %s %s
    graceful_timeout = 1
    """ % (script, pidfile), circus={"cgroups": "true"})
    if not cgroup_mode(d):
        pytest.skip("no cgroup v2 subtree here (%s)" % next(
            (l for l in d.log_text().splitlines() if "cgroups:" in l),
            "not root"))
    log = d.log_text()
    assert "cgroups: each watcher in its own cgroup under" in log
    (worker,) = d.wait_pids("daemonizing", 1)
    gc = grandchild(pidfile)
    # left the process group and its parent: only the cgroup knows it
    assert os.getpgid(gc) != worker
    with open("/proc/%d/cgroup" % gc) as f:
        assert "/circusd-%d/" % d.pid in f.read()
    t = tree(d, "daemonizing")
    assert t["mode"] == "cgroup"
    assert t["pids"] == sorted([worker, gc]), t
    assert d.call("stop", name="daemonizing")["status"] == "ok"
    wait_until(lambda: not pid_alive(gc), 20,
               msg="the detached grandchild killed")
    assert "left its cgroup's process groups" in d.log_text()
    # rm removes the watcher's cgroup; quit removes circusd's subtree
    assert d.call("rm", name="daemonizing")["status"] == "ok"
    assert d.quit() == 0
    assert not any(p.startswith("circusd-%d" % d.pid) for p in
                   os.listdir(cgroup_parent()))


# DETACHED, with a grandchild that ignores the stop signal: only the
# cgroup.kill after graceful_timeout ends it.
STUBBORN = DETACHED.replace("os.setsid()\n", "os.setsid()\n    import signal; "
                            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n")


def test_cgroup_starts_again_after_a_cgroup_kill(circusd, wd):
    """A process created in a cgroup that cgroup.kill was used on is
    killed at birth on some kernels (clone3 with CLONE_INTO_CGROUP):
    after such a kill the watcher gets a fresh cgroup, and starts."""
    script = wd.script("stubborn.py", STUBBORN)
    pidfile = wd.path / "gc.pid"
    d = circusd("""
    [watcher:stubborn]
    cmd = %s %s
    graceful_timeout = 1
    """ % (script, pidfile), circus={"cgroups": "true"})
    if not cgroup_mode(d):
        pytest.skip("no cgroup v2 subtree here")
    d.wait_pids("stubborn", 1)
    gc = grandchild(pidfile)
    assert d.call("stop", name="stubborn")["status"] == "ok"
    wait_until(lambda: not pid_alive(gc), 20,
               msg="the grandchild killed by cgroup.kill")
    assert pid_alive(gc) is False
    pidfile.unlink()
    assert d.call("start", name="stubborn")["status"] == "ok"
    gc2 = grandchild(pidfile)   # the new worker ran: it was not killed
    (worker,) = d.wait_pids("stubborn", 1)
    assert pid_alive(worker) and pid_alive(gc2)
    t = tree(d, "stubborn")
    assert t["mode"] == "cgroup" and t["pids"] == sorted([worker, gc2]), t


def cgroup_parent():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                mount = fields[4]
                break
    with open("/proc/self/cgroup") as f:
        own = next(l[3:].strip() for l in f if l.startswith("0::"))
    return mount + ("" if own == "/" else own)


def cgroups_expected():
    """Where `cgroups = auto` must choose cgroups: root, a writable cgroup2,
    a build that creates processes in their cgroup (x86-64, not the
    AddressSanitizer build, where clone3 is not used)."""
    import platform
    from conftest import BUILD
    try:
        writable = os.access(cgroup_parent(), os.W_OK)
    except (OSError, StopIteration):
        writable = False
    return (os.geteuid() == 0 and writable and BUILD.name != "build-san"
            and platform.machine() == "x86_64")


def test_cgroups_auto_by_default(circusd):
    """doc/design.md §20: cgroups = auto (the default) puts each watcher in
    a cgroup where processes can be created in it (clone3), and says why
    not elsewhere."""
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """)
    (worker,) = d.wait_pids("w", 1)
    line = next(l for l in d.log_text().splitlines() if "cgroups:" in l)
    if cgroups_expected():
        assert "each watcher in its own cgroup" in line, line
        assert cgroup_mode(d)
        with open("/proc/%d/cgroup" % worker) as f:
            assert "/circusd-%d/" % d.pid in f.read()
    else:
        assert "not used ([circus] cgroups = auto" in line or \
            "cgroups: not used" in line, line
        assert not cgroup_mode(d)


@pytest.mark.parametrize("value,mode", [("auto", None), ("true", None),
                                        ("off", "process-group")])
def test_cgroups_values(circusd, value, mode):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, circus={"cgroups": value})
    tree_mode = d.call("dstats")["watcher_tree"]
    assert tree_mode in ("cgroup", "process-group")
    if mode is not None:
        assert tree_mode == mode
    elif cgroups_expected():
        assert tree_mode == "cgroup"


def test_cgroups_bad_value_is_a_config_error(circusd):
    from conftest import run_circusd
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, circus={"cgroups": "sometimes"}, start=False)
    r = run_circusd(["--check", d.ini], timeout=30)
    assert r.returncode != 0
    text = r.stdout + r.stderr
    assert "[circus] cgroups = 'sometimes' is not auto or a boolean" in text
    assert "%s:" % d.ini in text


def test_stale_subtrees_of_dead_daemons_are_removed(circusd):
    """A circusd killed before its cleanup leaves circusd-<pid> behind;
    the next one removes those whose daemon is gone and which are empty,
    and leaves the others."""
    import re
    import subprocess
    if not cgroups_expected():
        pytest.skip("no cgroup mode here")
    parent = cgroup_parent()
    p = subprocess.Popen(["/bin/true"])
    p.wait()
    stale = os.path.join(parent, "circusd-%d" % p.pid)
    alive = os.path.join(parent, "circusd-%d" % os.getpid())
    os.makedirs(os.path.join(stale, "1-w"))
    os.makedirs(alive)
    try:
        d = circusd("""
        [watcher:w]
        cmd = /bin/sleep 3600
        """)
        assert cgroup_mode(d)
        assert not os.path.exists(stale)
        assert os.path.isdir(alive)
        m = re.search(r"cgroups: removed (\d+) empty subtree", d.log_text())
        assert m and int(m.group(1)) >= 1, d.log_text()
    finally:
        for path in (os.path.join(stale, "1-w"), stale, alive):
            if os.path.isdir(path):
                os.rmdir(path)


BURN = r'''
import time
end = time.time() + 3600
while time.time() < end:
    pass
'''


def test_cgroup_usage_in_stats(circusd, wd):
    """In cgroup mode `stats <name>` carries the kernel's count for the
    whole cgroup: its CPU time (cpu.stat) grows while a worker burns CPU;
    memory (memory.current) where the memory controller counts it."""
    script = wd.script("burn.py", BURN)
    d = circusd("""
    [watcher:burn]
    cmd = %s
    """ % script, circus={"cgroups": "true"})
    if not cgroup_mode(d):
        pytest.skip("no cgroup v2 subtree here")
    d.wait_pids("burn", 1)
    first = tree(d, "burn")["cpu_usec"]
    assert isinstance(first, int) and first >= 0
    wait_until(lambda: tree(d, "burn")["cpu_usec"] >= first + 100000, 20,
               msg="100 ms more CPU counted for the cgroup")
    t = tree(d, "burn")
    assert t["memory"] is None or t["memory"] > 0
    with open(os.path.join(cgroup_parent(), "circusd-%d" % d.pid,
                           "cgroup.subtree_control")) as f:
        counted = "memory" in f.read().split()
    assert (t["memory"] is not None) == counted


def test_no_usage_without_cgroups(circusd):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    """, circus={"cgroups": "false"})
    d.wait_pids("w", 1)
    t = tree(d, "w")
    assert t["mode"] == "process-group"
    assert "cpu_usec" not in t and "memory" not in t
