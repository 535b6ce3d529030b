# SPDX-License-Identifier: Apache-2.0
"""A fleet across machines, as network namespaces (root only).

The test makes a hub namespace holding a bridge and four namespaces wired
to it by veth pairs: three hosts (10.213.7.1-3, one circusd each, control
endpoint on their non-loopback address with CURVE) and one for circusctl
(10.213.7.100). Every address lives inside these namespaces, and multicast
is routed only to their veths; all of them are removed at the end. It
shows: discovery finds all three (with their CURVE keys); one circusctl
runs status, incr and a rolling restart across them; an unknown key gets
nothing run and the log names it; a read-only key can status but not stop;
a host killed mid-command is reported while the others answer.
Without root (or without `ip netns`) the tests skip, saying why.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from conftest import CIRCUSCTL, CIRCUSD, Workdir, pid_alive, wait_until

SUBNET = "10.213.7"
CTL_ADDR = SUBNET + ".100"
HOSTS = 3
PORT = 5555
MCAST_PORT = 12127

CONFIG = """
[watcher:sleeper]
cmd = sleep 300
numprocesses = 2
graceful_timeout = 3
"""


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True,
                          check=check, timeout=30)


def _why_skip():
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's ip"
    probe = "ci12p-%s" % uuid.uuid4().hex[:6]
    p = _ip("netns", "add", probe, check=False)
    if p.returncode != 0:
        return "cannot create a network namespace: %s" % p.stderr.strip()
    _ip("netns", "del", probe, check=False)
    return None


_SKIP = _why_skip()
pytestmark = pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")


class Net:
    """hub (bridge) + h1..h3 + ctl namespaces, made and removed here."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.hub = "ci12-hub-" + tag
        self.hosts = ["ci12-h%d-%s" % (i + 1, tag) for i in range(HOSTS)]
        self.ctl = "ci12-ctl-" + tag
        self.made = []

    def up(self):
        _ip("netns", "add", self.hub)
        self.made.append(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        addrs = ["%s.%d" % (SUBNET, i + 1) for i in range(HOSTS)]
        for i, (ns, addr) in enumerate(zip(self.hosts + [self.ctl],
                                           addrs + [CTL_ADDR])):
            _ip("netns", "add", ns)
            self.made.append(ns)
            _ip("-n", self.hub, "link", "add", "p%d" % i, "type", "veth",
                "peer", "name", "eth0", "netns", ns)
            _ip("-n", self.hub, "link", "set", "p%d" % i, "master", "br0")
            _ip("-n", self.hub, "link", "set", "p%d" % i, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", addr + "/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        self.addrs = addrs
        return self

    def down(self):
        for ns in reversed(self.made):
            _ip("netns", "del", ns, check=False)
        self.made = []

    def ctl_run(self, *args, timeout=60):
        return subprocess.run(["ip", "netns", "exec", self.ctl,
                               str(CIRCUSCTL), *args], capture_output=True,
                              text=True, timeout=timeout)


@pytest.fixture(scope="module")
def net():
    n = Net()
    try:
        yield n.up()
    finally:
        n.down()


class Host:
    def __init__(self, ns, addr, wd, keys):
        self.ns = ns
        self.addr = addr
        self.endpoint = "tcp://%s:%d" % (addr, PORT)
        self.ini = wd.path / ("%s.ini" % ns)
        self.log = wd.path / ("%s.log" % ns)
        self.ini.write_text(
            "[circus]\nendpoint = %s\npubsub_endpoint = ipc://%s/%s.pub\n"
            "multicast_endpoint = udp://237.219.251.97:%d\n"
            "check_delay = 30\ncurve_server_cert = %s/server%s\n"
            "curve_clients = %s/clients\n"
            "curve_readonly_clients = %s/readonly\n"
            % (self.endpoint, wd.path, ns, MCAST_PORT, keys, addr, keys,
               keys) + CONFIG)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, str(CIRCUSD), str(self.ini)],
            stdin=subprocess.DEVNULL, stdout=self.logf,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.key = None

    def log_text(self):
        return self.log.read_text(errors="replace")


def _keygen(path):
    p = subprocess.run([str(CIRCUSCTL), "keygen", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@pytest.fixture
def fleet(net):
    wd = Workdir()
    keys = wd.path / "keys"
    for sub in ("clients", "readonly"):
        (keys / sub).mkdir(parents=True)
    for name, sub in (("admin", "clients"), ("viewer", "readonly"),
                      ("stranger", None)):
        _keygen(keys / name)
        if sub:
            os.link(str(keys / name), str(keys / sub / name))
    hosts = []
    try:
        for ns, addr in zip(net.hosts, net.addrs):
            server_key = _keygen(keys / ("server" + addr))
            h = Host(ns, addr, wd, keys)
            h.key = server_key
            hosts.append(h)
        f = wd.path / "fleet"
        f.write_text("".join("h%d %s %s/server%s\n" % (i + 1, h.endpoint,
                                                       keys, h.addr)
                             for i, h in enumerate(hosts)))

        def ctl(*args, key="admin", timeout_s=20):
            return net.ctl_run("--timeout", str(timeout_s), "--fleet",
                               str(f), "--client_cert", str(keys / key),
                               *args)
        wait_until(lambda: ctl("status").returncode == 0, timeout=60,
                   msg="the three daemons answer")
        yield net, hosts, ctl, keys
    finally:
        for h in hosts:
            if h.proc.poll() is None:
                try:
                    os.killpg(h.proc.pid, signal.SIGTERM)
                    h.proc.wait(60)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(h.proc.pid, signal.SIGKILL)
                    h.proc.wait(10)
            h.logf.close()
        wd.cleanup()


def test_discovery_finds_all_three(fleet):
    net, hosts, ctl, keys = fleet
    p = net.ctl_run("--discover", "--multicast",
                    "udp://237.219.251.97:%d" % MCAST_PORT)
    assert p.returncode == 0, p.stderr
    found = sorted(p.stdout.splitlines())
    assert found == sorted("%s %s" % (h.endpoint, h.key) for h in hosts)
    # the keys discovery brought are enough to run a command on all three
    p = net.ctl_run("--timeout", "20", "--discover", "--multicast",
                    "udp://237.219.251.97:%d" % MCAST_PORT, "--json",
                    "--client_cert", str(keys / "admin"), "status")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert sorted(got) == sorted(h.endpoint for h in hosts)
    assert all(r["statuses"] == {"sleeper": "active"} for r in got.values())


def test_status_incr_and_rolling_restart(fleet):
    net, hosts, ctl, keys = fleet
    p = ctl("status", "sleeper")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "".join("== h%d (%s)\nactive\n" % (i + 1, h.endpoint)
                               for i, h in enumerate(hosts))
    p = ctl("incr", "sleeper", "--waiting")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("\n3\n") == 3
    p = ctl("--json", "list", "sleeper")
    before = {k: v["pids"] for k, v in json.loads(p.stdout).items()}
    assert all(len(v) == 3 for v in before.values())
    p = ctl("restart", "sleeper", "--rolling", timeout_s=60)
    assert p.returncode == 0, (p.stdout, p.stderr)
    after = {k: v["pids"] for k, v in
             json.loads(ctl("--json", "list", "sleeper").stdout).items()}
    for name in before:
        assert len(after[name]) == 3
        assert not set(after[name]) & set(before[name])
    # host by host: a host's new processes all started after the previous
    # host's were all up
    stats = json.loads(ctl("--json", "stats", "sleeper").stdout)
    spans = [(min(i["create_time"] for i in stats["h%d" % n]["info"]
                  .values()),
              max(i["create_time"] for i in stats["h%d" % n]["info"]
                  .values())) for n in range(1, HOSTS + 1)]
    for prev, nxt in zip(spans, spans[1:]):
        assert prev[1] <= nxt[0]


def test_unknown_key_gets_nothing_and_readonly_cannot_stop(fleet):
    net, hosts, ctl, keys = fleet
    p = ctl("stop", "sleeper", key="stranger", timeout_s=3)
    assert p.returncode == 1
    assert p.stdout.count("error: unreachable") == 3
    stranger = re.search(r'public-key = "(.{40})"',
                         (keys / "stranger").read_text()).group(1)
    for h in hosts:
        wait_until(lambda: "refused CURVE client key %s from %s" % (
            stranger, CTL_ADDR) in h.log_text(), timeout=20)
    p = ctl("status", key="viewer")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("sleeper: active") == 3
    p = ctl("stop", "sleeper", key="viewer")
    assert p.returncode == 3
    assert p.stdout.count("read-only") == 3
    assert ctl("status", "sleeper").stdout.count("\nactive\n") == 3


def test_host_killed_mid_command(fleet):
    net, hosts, ctl, keys = fleet
    victim = hosts[1]
    # the victim's workers ignore its stop signal for a minute: its stop
    # --waiting is still pending when the daemon is killed

    def one(*args):
        return net.ctl_run("--timeout", "20", "--endpoint", victim.endpoint,
                           "--client_cert", str(keys / "admin"),
                           "--server_key", victim.key, *args)
    p = one("set", "sleeper", "stop_signal", "CONT", "graceful_timeout",
            "60")
    assert p.returncode == 0, (p.stdout, p.stderr)
    workers = json.loads(one("--json", "list", "sleeper").stdout)["pids"]
    proc = subprocess.Popen(
        ["ip", "netns", "exec", net.ctl, str(CIRCUSCTL), "--timeout", "20",
         "--fleet", str(keys.parent / "fleet"), "--client_cert",
         str(keys / "admin"), "--json", "stop", "sleeper", "--waiting"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: one("status", "sleeper").stdout == "stopping\n",
               timeout=30)
    os.killpg(victim.proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=90)
    got = json.loads(out)
    assert proc.returncode == 1, (out, err)
    assert got["h1"]["status"] == "ok" and got["h3"]["status"] == "ok"
    assert got["h2"]["status"] == "error"
    assert "timed out" in got["h2"]["reason"]
    victim.proc.wait(10)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(lambda: not pid_alive(pid), timeout=20)


def test_plaintext_tcp_off_loopback_needs_consent(net):
    """On a real (namespace) address: refused by default; with
    plaintext_tcp = true it starts, warns, and a plain client works."""
    wd = Workdir()
    ns, addr = net.hosts[0], net.addrs[0]
    endpoint = "tcp://%s:%d" % (addr, PORT + 100)
    ini = wd.path / "plain.ini"
    log = wd.path / "plain.log"
    body = ("[circus]\nendpoint = %s\npubsub_endpoint = ipc://%s/pub.sock\n"
            "multicast_endpoint =\ncheck_delay = 30\n%%s" % (endpoint,
                                                             wd.path)
            + CONFIG)
    proc = None
    try:
        ini.write_text(body % "")
        p = subprocess.run(["ip", "netns", "exec", ns, str(CIRCUSD),
                            str(ini)], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode != 0
        assert "is plaintext TCP on a non-loopback address" in \
            p.stdout + p.stderr
        ini.write_text(body % "plaintext_tcp = true\n")
        with open(log, "ab") as logf:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, str(CIRCUSD), str(ini)],
                stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: net.ctl_run("--timeout", "5", "--endpoint",
                                       endpoint, "status").stdout ==
                   "sleeper: active\n", timeout=60)
        assert "plaintext TCP on a non-loopback address (plaintext_tcp " \
            "= true)" in log.read_text()
        p = net.ctl_run("--timeout", "20", "--endpoint", endpoint, "quit")
        assert p.returncode == 0, p.stderr
        assert proc.wait(60) == 0
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        wd.cleanup()
