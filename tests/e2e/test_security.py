# SPDX-License-Identifier: Apache-2.0
"""Control channel security (README "Securing the control channel").

ipc socket files are owner-only; a plaintext TCP endpoint on a non-loopback
address is refused; CurveZMQ on tcp:// lets in the keys of curve_clients,
gives the keys of curve_readonly_clients only the commands that change
nothing, and runs nothing for any other key (the log names it). Keys come
from `circusctl keygen`; the harness's own client is a pyzmq CURVE DEALER.
"""

import os
import re
import signal
import stat
import subprocess
import threading

import zmq

from conftest import (CIRCUSCTL, Client, _ZCTX, free_tcp_port,
                      run_circusd, wait_until)
from test_circusctl_fake import run_ctl

CONFIG = """
[watcher:sleeper]
cmd = sleep 300
numprocesses = 1
graceful_timeout = 3
"""


def keygen(path):
    p = run_ctl("keygen", str(path))
    assert p.returncode == 0, p.stderr
    key = p.stdout.strip()
    assert len(key) == 40
    return key


def cert_keys(path):
    """(public, secret) Z85 texts of a czmq secret certificate."""
    text = open(str(path) + "_secret").read()
    pub = re.search(r'public-key = "(.{40})"', text).group(1)
    sec = re.search(r'secret-key = "(.{40})"', text).group(1)
    return pub, sec


class CurveClient(Client):
    """The harness client, as a CURVE client with one certificate."""

    def __init__(self, endpoint, cert, server_key):
        pub, sec = cert_keys(cert)
        self.endpoint = endpoint
        self.sock = _ZCTX.socket(zmq.DEALER)
        self.identity = os.urandom(16).hex().encode()
        self.sock.setsockopt(zmq.IDENTITY, self.identity)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 20)
        self.sock.curve_publickey = pub.encode()
        self.sock.curve_secretkey = sec.encode()
        self.sock.curve_serverkey = server_key.encode()
        self.sock.connect(endpoint)
        self.stray = []


def curve_daemon(circusd, wd, tcp_pubsub=False):
    """A daemon whose control endpoint (and pub/sub endpoint with
    tcp_pubsub) is tcp://127.0.0.1 with CURVE, and the certificates: rw,
    ro, stranger (in no directory)."""
    keys = wd.path / "keys"
    for sub in ("clients", "readonly"):
        (keys / sub).mkdir(parents=True)
    server = keygen(keys / "server")
    for name, sub in (("rw", "clients"), ("ro", "readonly"),
                      ("stranger", None)):
        keygen(keys / name)
        if sub is not None:
            os.link(str(keys / name), str(keys / sub / name))
    d = circusd(CONFIG, start=False, circus={
        "curve_server_cert": keys / "server",
        "curve_clients": keys / "clients",
        "curve_readonly_clients": keys / "readonly"})
    d.endpoint = "tcp://127.0.0.1:%d" % free_tcp_port()
    if tcp_pubsub:
        d.pubsub_tcp = "tcp://127.0.0.1:%d" % free_tcp_port()
        d.circus_extra["pubsub_endpoint"] = d.pubsub_tcp
        d.pubsub = d.pubsub_tcp     # the harness's plain SUB gets nothing
    d.write_ini()
    d.client_factory = lambda ep: CurveClient(ep, keys / "rw", server)
    d.start(sync=not tcp_pubsub)
    return d, keys, server


def ctl_as(d, keys, name, server, *args):
    return run_ctl("--timeout", "5", "--client_cert", str(keys / name),
                   "--server_key", str(keys / "server"), *args,
                   endpoint=d.endpoint)


def test_ipc_socket_files_are_owner_only(circusd):
    d = circusd(CONFIG)
    for ep in (d.endpoint, d.pubsub):
        mode = stat.S_IMODE(os.stat(ep[len("ipc://"):]).st_mode)
        assert mode == 0o600, (ep, oct(mode))
    # the owner still talks to it, as Circus's circusctl would
    assert run_ctl("status", endpoint=d.endpoint).stdout == \
        "sleeper: active\n"


def test_plaintext_tcp_on_non_loopback_refused(wd):
    port = free_tcp_port()
    ini = wd.path / "open.ini"
    ini.write_text("[circus]\nendpoint = tcp://0.0.0.0:%d\n"
                   "pubsub_endpoint = ipc://%s/pub.sock\n"
                   "multicast_endpoint =\n" % (port, wd.path) + CONFIG)
    refusal = ("%s:2: [circus] endpoint = tcp://0.0.0.0:%d is plaintext "
               "TCP on a non-loopback address: anyone who reaches it can "
               "run any command. Set curve_server_cert (CurveZMQ), bind to "
               "127.0.0.1 or ipc://, or set plaintext_tcp = true"
               % (ini, port))
    p = run_circusd([ini])
    assert p.returncode == 1
    assert refusal in p.stderr
    p = run_circusd(["--check", ini])       # --check says so too
    assert p.returncode == 1
    assert refusal in p.stderr
    # the events too: they name every process and command line
    ini.write_text("[circus]\nendpoint = ipc://%s/ctl.sock\n"
                   "pubsub_endpoint = tcp://0.0.0.0:%d\n"
                   "multicast_endpoint =\n" % (wd.path, port) + CONFIG)
    p = run_circusd([ini])
    assert p.returncode == 1
    assert "%s:3: [circus] pubsub_endpoint = tcp://0.0.0.0:%d is plaintext " \
        "TCP on a non-loopback address: anyone who reaches it can read " \
        "it" % (ini, port) in p.stderr
    # with CURVE configured, --check accepts both endpoints
    keygen(wd.path / "server")
    ini.write_text("[circus]\nendpoint = tcp://0.0.0.0:%d\n"
                   "pubsub_endpoint = tcp://0.0.0.0:%d\n"
                   "curve_server_cert = %s/server\n"
                   "multicast_endpoint =\n" % (port, port, wd.path) + CONFIG)
    p = run_circusd(["--check", ini])
    assert p.returncode == 0, p.stderr


def test_curve_authorized_key_runs_commands(circusd, wd):
    d, keys, server = curve_daemon(circusd, wd)
    p = ctl_as(d, keys, "rw", server, "incr", "sleeper", "--waiting")
    assert (p.returncode, p.stdout) == (0, "2\n"), p.stderr
    assert d.call("numprocesses", name="sleeper")["numprocesses"] == 2
    # the server key may also be given inline, as Z85
    p = run_ctl("--timeout", "5", "--client_cert", str(keys / "rw"),
                "--server_key", server, "status", endpoint=d.endpoint)
    assert (p.returncode, p.stdout) == (0, "sleeper: active\n"), p.stderr


def test_curve_unknown_key_gets_nothing_run(circusd, wd):
    d, keys, server = curve_daemon(circusd, wd)
    before = d.call("list", name="sleeper")["pids"]
    p = ctl_as(d, keys, "stranger", server, "stop", "sleeper")
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stdout == ""
    # the handshake failed: said as such, not as a daemon that is down
    assert "circusd refused this client's CURVE key" in p.stderr, p.stderr
    stranger = cert_keys(keys / "stranger")[0]
    wait_until(lambda: "refused CURVE client key %s" % stranger
               in d.log_text(), timeout=20)
    # a plaintext client gets nothing either
    p = run_ctl("--timeout", "3", "stop", "sleeper", endpoint=d.endpoint)
    assert p.returncode == 1
    assert d.call("status", name="sleeper")["status"] == "active"
    assert d.call("list", name="sleeper")["pids"] == before


def test_curve_readonly_key_reads_but_cannot_change(circusd, wd):
    d, keys, server = curve_daemon(circusd, wd)
    before = d.call("list", name="sleeper")["pids"]
    p = ctl_as(d, keys, "ro", server, "status")
    assert (p.returncode, p.stdout) == (0, "sleeper: active\n"), p.stderr
    p = ctl_as(d, keys, "ro", server, "get", "sleeper", "numprocesses")
    assert (p.returncode, p.stdout) == (0, "numprocesses: 1\n"), p.stderr
    for argv in (("stop", "sleeper"), ("incr", "sleeper"),
                 ("signal", "sleeper", "TERM"), ("quit",)):
        p = ctl_as(d, keys, "ro", server, *argv)
        assert p.returncode == 3, (argv, p.stdout, p.stderr)
        assert "read-only" in p.stderr, argv
    assert d.call("status", name="sleeper")["status"] == "active"
    assert d.call("list", name="sleeper")["pids"] == before


def test_curve_needs_both_client_keys(circusd, wd):
    d, keys, server = curve_daemon(circusd, wd)
    p = run_ctl("--client_cert", str(keys / "rw"), "status",
                endpoint=d.endpoint)
    assert p.returncode == 1
    assert "--server_key" in p.stderr


def listen_as(d, keys, name, events_needed, timeout=30):
    """Run circusctl listen on the CURVE pub/sub endpoint with a key;
    keep changing the watcher until events_needed lines show up or the
    deadline passes. Returns (exit status, lines)."""
    proc = subprocess.Popen(
        [str(CIRCUSCTL), "--endpoint", d.pubsub_tcp, "--client_cert",
         str(keys / name), "--server_key", str(keys / "server"), "listen",
         "watcher.sleeper."], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    lines = []

    def read():
        for raw in iter(proc.stdout.readline, b""):
            lines.append(raw.decode())
    t = threading.Thread(target=read, daemon=True)
    t.start()
    try:
        def seen():
            if len(lines) >= events_needed:
                return True
            d.call("incr", name="sleeper")
            return False
        if events_needed:
            wait_until(seen, timeout=timeout, interval=0.3)
        else:
            # the stranger: the refusal is logged, nothing is received
            stranger = cert_keys(keys / name)[0]
            wait_until(lambda: "refused CURVE client key %s" % stranger
                       in d.log_text(), timeout=timeout)
            d.call("incr", name="sleeper", waiting=True)
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=10)
    t.join(5)
    return rc, lines


def test_curve_listen_on_tcp_pubsub(circusd, wd):
    d, keys, server = curve_daemon(circusd, wd, tcp_pubsub=True)
    rc, lines = listen_as(d, keys, "ro", 1)
    assert rc == 1
    assert lines[0].startswith("watcher.sleeper.")
    rc, lines = listen_as(d, keys, "stranger", 0)
    assert lines == []


def test_reloadconfig_applies_new_key_directories(circusd, wd):
    d, keys, server = curve_daemon(circusd, wd)
    p = ctl_as(d, keys, "stranger", server, "status")
    assert p.returncode == 1
    more = keys / "more"
    more.mkdir()
    for name in ("rw", "stranger"):
        os.link(str(keys / name), str(more / name))
    d.circus_extra["curve_clients"] = more
    d.write_ini()
    assert d.call("reloadconfig", waiting=True)["status"] == "ok"
    p = ctl_as(d, keys, "stranger", server, "incr", "sleeper", "--waiting")
    assert (p.returncode, p.stdout) == (0, "2\n"), p.stderr
    # a server certificate change needs a restart, and the log says so
    keygen(keys / "server2")
    d.circus_extra["curve_server_cert"] = keys / "server2"
    d.write_ini()
    assert d.call("reloadconfig", waiting=True)["status"] == "ok"
    wait_until(lambda: "curve_server_cert and plaintext_tcp changes apply "
               "at the next full restart" in d.log_text(), timeout=20)
    p = ctl_as(d, keys, "rw", server, "status")
    assert (p.returncode, p.stdout) == (0, "sleeper: active\n"), p.stderr


def test_full_restart_keeps_curve(circusd, wd):
    """A full restart hands the ZAP handler and the certificate over with
    the control socket: the authorized key still runs commands, the
    read-only key still only reads, a stranger still gets nothing."""
    d, keys, server = curve_daemon(circusd, wd)
    pid = d.proc.pid
    p = ctl_as(d, keys, "rw", server, "restart", "--waiting")
    assert (p.returncode, p.stdout) == (0, "ok\n"), p.stderr
    assert d.proc.pid == pid and d.proc.poll() is None
    wait_until(lambda: ctl_as(d, keys, "rw", server, "status").stdout ==
               "sleeper: active\n", timeout=30)
    p = ctl_as(d, keys, "rw", server, "incr", "sleeper", "--waiting")
    assert (p.returncode, p.stdout) == (0, "2\n"), p.stderr
    p = ctl_as(d, keys, "ro", server, "stop", "sleeper")
    assert p.returncode == 3 and "read-only" in p.stderr, p.stderr
    p = ctl_as(d, keys, "stranger", server, "stop", "sleeper")
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert d.call("status", name="sleeper")["status"] == "active"
