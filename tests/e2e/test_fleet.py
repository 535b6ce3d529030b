# SPDX-License-Identifier: Apache-2.0
"""One circusctl over a fleet of daemons on loopback (README "Running a
fleet"): repeated --endpoint and a fleet file, output grouped by host,
--json keyed by host, the exit status of the worst host, an unreachable or
killed host reported while the others answer, restart --rolling host by
host, and the interactive shell on a fleet.
"""

import json
import os
import signal
import subprocess

from conftest import CIRCUSCTL, free_tcp_port, pid_alive, wait_until
from test_circusctl_fake import run_ctl
from test_security import curve_daemon

CONFIG = """
[watcher:sleeper]
cmd = sleep 300
numprocesses = 2
graceful_timeout = 3
"""


def three(circusd):
    """Three daemons: two on ipc, one on tcp://127.0.0.1."""
    a = circusd(CONFIG)
    b = circusd(CONFIG)
    c = circusd(CONFIG, start=False)
    c.endpoint = "tcp://127.0.0.1:%d" % free_tcp_port()
    c.write_ini()
    c.start()
    return a, b, c


def fleet_args(*daemons):
    out = []
    for d in daemons:
        out += ["--endpoint", d.endpoint]
    return out


def test_status_on_every_host_grouped(circusd):
    ds = three(circusd)
    p = run_ctl("--timeout", "20", *fleet_args(*ds), "status")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "".join("== %s\nsleeper: active\n" % d.endpoint
                               for d in ds)
    p = run_ctl("--timeout", "20", "--json", *fleet_args(*ds), "list",
                "sleeper")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert list(got) == [d.endpoint for d in ds]
    for d in ds:
        assert got[d.endpoint]["pids"] == \
            d.call("list", name="sleeper")["pids"]
    # listen follows one daemon: refused at once on a fleet
    p = run_ctl(*fleet_args(*ds), "listen")
    assert (p.returncode, p.stdout) == (1, "")
    assert "listen follows one daemon" in p.stderr


def test_incr_on_every_host(circusd):
    ds = three(circusd)
    p = run_ctl("--timeout", "20", *fleet_args(*ds), "incr", "sleeper",
                "--waiting")
    assert p.returncode == 0, p.stderr
    for d in ds:
        assert d.call("numprocesses", name="sleeper")["numprocesses"] == 3


def test_fleet_file_and_errors(circusd, wd):
    a, b, c = three(circusd)
    f = wd.path / "fleet"
    f.write_text("# name endpoint [server key]\n\nweb1 %s\nweb2  %s\n"
                 "web3\t%s\n" % (a.endpoint, b.endpoint, c.endpoint))
    p = run_ctl("--timeout", "20", "--fleet", str(f), "status", "sleeper")
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("== web1 (%s)\nactive\n== web2 (%s)\nactive\n"
                        "== web3 (%s)\nactive\n"
                        % (a.endpoint, b.endpoint, c.endpoint))
    # one host answers with an error: exit 3, the others still printed
    b.call("rm", name="sleeper", waiting=True)
    p = run_ctl("--timeout", "20", "--fleet", str(f), "status", "sleeper")
    assert p.returncode == 3
    assert p.stdout.count("\nactive\n") == 2
    web2 = p.stdout.split("== web2 (%s)\n" % b.endpoint)[1]
    assert web2.split("\n== web3")[0] != "active"
    f.write_text("web1 %s\nbroken\n" % a.endpoint)
    p = run_ctl("--fleet", str(f), "status")
    assert p.returncode == 1
    assert "%s:2: expected NAME ENDPOINT [SERVER_KEY]" % f in p.stderr


def test_unreachable_and_killed_hosts_reported(circusd, wd):
    a = circusd(CONFIG)
    # b's workers ignore the stop signal: its stop --waiting stays pending
    b = circusd(CONFIG.replace("graceful_timeout = 3",
                               "graceful_timeout = 60\nstop_signal = CONT"))
    c = circusd(CONFIG)
    gone = "ipc://%s/nobody.sock" % wd.path
    p = run_ctl("--timeout", "3", "--endpoint", a.endpoint, "--endpoint",
                gone, "--endpoint", c.endpoint, "status")
    assert p.returncode == 1
    assert "== %s\nerror: unreachable" % gone in p.stdout
    assert p.stdout.count("sleeper: active") == 2
    # a daemon killed while the command runs on all three: reported, and
    # the others answer
    workers = b.call("list", name="sleeper")["pids"]
    proc = subprocess.Popen(
        [str(CIRCUSCTL), "--timeout", "20",
         *fleet_args(a, b, c), "--json", "stop", "sleeper", "--waiting"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: b.call("status", name="sleeper")["status"] ==
               "stopping", timeout=20)
    os.kill(b.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    got = json.loads(out)
    assert got[a.endpoint]["status"] == "ok"
    assert got[c.endpoint]["status"] == "ok"
    assert got[b.endpoint]["status"] == "error"
    assert "timed out" in got[b.endpoint]["reason"]
    b.proc.wait(10)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), timeout=20)


def test_rolling_restart_host_by_host(circusd):
    ds = three(circusd)
    before = {d.endpoint: d.call("list", name="sleeper")["pids"]
              for d in ds}
    p = run_ctl("--timeout", "30", *fleet_args(*ds), "restart", "sleeper",
                "--rolling")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout == "".join("== %s\nok\n" % d.endpoint for d in ds)
    # every host restarted, in order: each host's new processes started
    # after the previous host was back to full strength
    starts = []
    for d in ds:
        pids = d.call("list", name="sleeper")["pids"]
        assert len(pids) == 2 and not set(pids) & set(before[d.endpoint])
        stats = d.call("stats", name="sleeper")["info"]
        starts.append((min(stats[str(x)]["create_time"] for x in pids),
                       max(stats[str(x)]["create_time"] for x in pids)))
    for prev, nxt in zip(starts, starts[1:]):
        assert prev[1] <= nxt[0]


def test_rolling_stops_at_a_failed_host(circusd, wd):
    a, b, c = three(circusd)
    b.call("rm", name="sleeper", waiting=True)
    before = c.call("list", name="sleeper")["pids"]
    p = run_ctl("--timeout", "20", *fleet_args(a, b, c), "--json",
                "restart", "sleeper", "--rolling")
    assert p.returncode == 1    # a host was not run
    got = json.loads(p.stdout)
    assert got[a.endpoint]["status"] == "ok"
    assert got[b.endpoint]["status"] == "error"
    assert got[c.endpoint]["reason"] == \
        "not run: the rolling restart stopped at %s" % b.endpoint
    assert c.call("list", name="sleeper")["pids"] == before


def test_fleet_with_curve_host(circusd, wd):
    a = circusd(CONFIG)
    d, keys, server = curve_daemon(circusd, wd)
    f = wd.path / "fleet"
    f.write_text("local %s\nsecure %s %s\n" % (a.endpoint, d.endpoint,
                                                keys / "server"))
    p = run_ctl("--timeout", "20", "--fleet", str(f), "--client_cert",
                str(keys / "rw"), "status")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout == ("== local (%s)\nsleeper: active\n== secure (%s)\n"
                        "sleeper: active\n" % (a.endpoint, d.endpoint))


def test_shell_on_a_fleet(circusd):
    ds = three(circusd)
    p = run_ctl("--timeout", "20", *fleet_args(*ds),
                input="numprocesses sleeper\nexit\n")
    assert p.returncode == 0, p.stderr
    for d in ds:
        assert "== %s\n2\n" % d.endpoint in p.stdout


def test_ctrl_c_ends_a_fleet_command_at_once(circusd):
    a = circusd(CONFIG)
    # b's stop --waiting stays pending for a minute
    b = circusd(CONFIG.replace("graceful_timeout = 3",
                               "graceful_timeout = 60\nstop_signal = CONT"))
    workers = b.call("list", name="sleeper")["pids"]
    proc = subprocess.Popen(
        [str(CIRCUSCTL), "--timeout", "120", *fleet_args(a, b), "stop",
         "sleeper", "--waiting"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    wait_until(lambda: b.call("status", name="sleeper")["status"] ==
               "stopping", timeout=20)
    wait_until(lambda: a.call("status", name="sleeper")["status"] ==
               "stopped", timeout=20)
    proc.send_signal(signal.SIGINT)
    # well before b's graceful timeout or --timeout
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 1
    assert "== %s\nok\n" % a.endpoint in out
    assert "== %s\nerror: Interrupted." % b.endpoint in out
    for pid in workers:     # b's stop completes: a quick teardown
        os.kill(pid, signal.SIGKILL)


def test_rolling_reload(circusd):
    ds = three(circusd)[:2]
    before = {d.endpoint: d.call("list", name="sleeper")["pids"]
              for d in ds}
    p = run_ctl("--timeout", "30", *fleet_args(*ds), "--json", "reload",
                "sleeper", "--rolling")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert all(r["status"] == "ok" for r in json.loads(p.stdout).values())
    for d in ds:
        pids = d.call("list", name="sleeper")["pids"]
        assert len(pids) == 2 and not set(pids) & set(before[d.endpoint])
