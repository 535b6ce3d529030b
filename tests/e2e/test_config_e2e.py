# SPDX-License-Identifier: Apache-2.0
"""The ini file loaded exactly (doc/design.md §17.5): long lines, continuation
lines, `;` inside values, includes with globs, [env:a,b] sections,
substitutions; checked through `options`/`get` and through what the
workers really receive (/proc/<pid>/cmdline and environ, files they
write). Also `circusd --check` and reloadconfig with a bad section."""

import json
import os
import socket

import pytest

from conftest import (PYTHON, WORKER_DUMP, free_tcp_port, ini, proc_cmdline,
                      proc_environ,
                      run_circusd, wait_until)


def env_of(d, name):
    e = d.call("get", name=name, keys=["env"])["options"]["env"]
    e.pop("__name__", None)
    return e


def opts(d, name):
    r = d.call("options", name=name)
    assert r["status"] == "ok", r
    return r["options"]


def real_env(pid):
    e = proc_environ(pid)
    e.pop("__name__", None)
    return e


def dump_of(wd, name, timeout=20):
    p = wd / name
    wait_until(p.exists, timeout, msg="worker wrote %s" % name)
    return json.loads(p.read_text())


# --------------------------------------------------------------------------
# line syntax


@pytest.mark.parametrize("size", [4096, 65536])
def test_long_cmd_line_loaded_exactly(circusd, wd, size):
    dump = wd.script("dump.py", WORKER_DUMP)
    words = []
    n = 0
    while len(" ".join(words)) < size:
        words.append("arg%05d-%s" % (n, "x" * (n % 7)))
        n += 1
    cmd = "%s %s/out.json %s" % (dump, wd.path, " ".join(words))
    assert len(cmd) > size
    d = circusd("""
    [watcher:long]
    cmd = %s
    """ % cmd)
    assert opts(d, "long")["cmd"] == cmd
    [pid] = d.wait_pids("long", 1)
    dump_of(wd, "out.json")
    assert proc_cmdline(pid) == cmd.split()


def test_continuation_lines(circusd, wd):
    dump = wd.script("dump.py", WORKER_DUMP)
    body = ("[watcher:cont]\n"
            "cmd = %s %s/out.json\n"
            "args = first\n"
            "   second third\n"
            "\n"
            "\t  fourth\n"
            "  numprocesses = 3\n"
            "graceful_timeout=7\n") % (dump, wd.path)
    d = circusd(body)
    o = opts(d, "cont")
    assert o["args"] == "first\nsecond third\nfourth\nnumprocesses = 3"
    assert o["numprocesses"] == 1   # the indented key was a continuation
    assert o["graceful_timeout"] == 7.0
    [pid] = d.wait_pids("cont", 1)
    dump_of(wd, "out.json")
    assert proc_cmdline(pid)[3:] == ["first", "second", "third", "fourth",
                                     "numprocesses", "=", "3"]


def test_semicolons_hashes_and_comment_lines(circusd, wd):
    dump = wd.script("dump.py", WORKER_DUMP)
    body = ("; a comment line\n"
            "# another one\n"
            "[watcher:semi]\n"
            "; comment inside a section\n"
            "cmd = %s %s/semi.json a;b c ;d\n"
            "REM this is a comment too\n"
            "rem and so is this\n"
            "args = keep ; an inline comment\n"
            "\n"
            "[watcher:hash]  ; trailing text after the header\n"
            "cmd = %s %s/hash.json\n"
            "args = -q  # not a comment\n"
            "free.form = x;y ; cut here\n"
            "other.form = v ; cut here\n"
            "quoted = '%%Y' \"\"\n"
            "empty = \"\"\n") % (dump, wd.path, dump, wd.path)
    d = circusd(body)
    o = opts(d, "semi")
    assert o["cmd"] == "%s %s/semi.json a;b c ;d" % (dump, wd.path)
    assert o["args"] == "keep"
    assert not [k for k in o if k.lower().startswith("rem")]
    h = opts(d, "hash")
    assert h["args"] == "-q  # not a comment"
    assert h["free.form"] == "x;y ; cut here"  # only the first ';' counts
    assert h["other.form"] == "v"
    assert h["quoted"] == "'%Y' \"\""
    assert h["empty"] == ""
    [sp] = d.wait_pids("semi", 1)
    [hp] = d.wait_pids("hash", 1)
    dump_of(wd, "semi.json")
    dump_of(wd, "hash.json")
    assert proc_cmdline(sp)[3:] == ["a;b", "c", ";d", "keep"]
    assert proc_cmdline(hp)[3:] == ["-q", "#", "not", "a", "comment"]


def test_duplicates_first_definition_wins_and_sections_merge(circusd):
    d = circusd("""
    [watcher:dup]
    cmd = /bin/sleep 3600
    numprocesses = 2
    numprocesses = 5

    [watcher:other]
    cmd = /bin/sleep 3600

    [watcher:dup]
    numprocesses = 7
    graceful_timeout = 4
    """)
    o = opts(d, "dup")
    assert o["numprocesses"] == 2
    assert o["graceful_timeout"] == 4.0
    d.wait_pids("dup", 2)


def test_value_syntaxes(circusd):
    d = circusd("""
    [watcher:vals]
    cmd = /bin/sleep 3600
    graceful_timeout=30
    stop_signal = quit
    send_hup = Yes
    stop_children = on
    copy_env = 0
    max_retry = -1
    max_age = 1000
    max_age_variance = 3
    priority = 7

    [watcher:sig2]
    cmd = /bin/sleep 3600
    stop_signal = SIGINT
    graceful_timeout = 25.5

    [watcher:sig3]
    cmd = /bin/sleep 3600
    stop_signal = 9
    """)
    o = opts(d, "vals")
    assert o["graceful_timeout"] == 30.0 and isinstance(o["graceful_timeout"], float)
    assert o["stop_signal"] == 3
    assert o["send_hup"] is True and o["stop_children"] is True
    assert o["copy_env"] is False
    assert o["max_retry"] == -1 and o["max_age"] == 1000
    assert o["max_age_variance"] == 3 and o["priority"] == 7
    o2 = opts(d, "sig2")
    assert o2["stop_signal"] == 2 and o2["graceful_timeout"] == 25.5
    assert opts(d, "sig3")["stop_signal"] == 9


# --------------------------------------------------------------------------
# includes


def test_includes_with_globs_relative_to_config(circusd, wd):
    wd.write("conf.d/a.ini", """
    [watcher:inc_a]
    cmd = /bin/sleep 3600

    [watcher:shared]
    cmd = /bin/sleep 1
    numprocesses = 3
    """)
    wd.write("conf.d/b.ini", """
    [watcher:inc_b]
    cmd = /bin/sleep 3600
    """)
    wd.write("conf.d/ignored.txt", """
    [watcher:not_me]
    cmd = /bin/sleep 3600
    """)
    wd.write("extra/inc-1.ini", """
    [watcher:inc_1]
    cmd = /bin/sleep 3600
    """)
    wd.write("extra/inc-22.ini", """
    [watcher:inc_22]
    cmd = /bin/sleep 3600
    """)
    wd.write("deep/x/y.ini", """
    [watcher:deep_y]
    cmd = /bin/sleep 3600
    """)
    wd.write("dir1/z.ini", """
    [watcher:inc_z]
    cmd = /bin/sleep 3600
    """)
    d = circusd("""
    [watcher:shared]
    cmd = /bin/sleep 3600
    """, circus={"include": "conf.d/*.ini extra/inc-?.ini deep/*/*.ini nothing/*.ini",
                 "include_dir": "dir1"},
        cwd="/")
    assert d.call("list")["watchers"] == ["deep_y", "inc_1", "inc_a", "inc_b",
                                          "inc_z", "shared"]
    o = opts(d, "shared")
    assert o["cmd"] == "/bin/sleep 3600"   # main file first
    assert o["numprocesses"] == 3         # key only in the include
    d.wait_pids("shared", 3)
    d.wait_pids("inc_z", 1)


def test_include_error_reports_included_file_and_line(circusd, wd):
    wd.write("conf.d/bad.ini", """
    [watcher:x]
    cmd = /bin/sleep 3600
    numprocesses = lots
    """)
    d = circusd("", circus={"include": "conf.d/*.ini"}, start=False)
    r = run_circusd(["--check", d.ini], timeout=30)
    assert r.returncode != 0
    assert "bad.ini:3" in r.stdout + r.stderr, r


# --------------------------------------------------------------------------
# environment sections


def test_env_sections_and_patterns(circusd, wd):
    d = circusd("""
    [env]
    GLOBAL = g
    SHARED = from-env
    http_proxy = lower
    EXP = pre-$E2E_HELLO-post
    KEEP = ${E2E_HELLO} $lower
    QUIRK = $Home

    [env:alpha, beta]
    AB = ab
    SHARED = from-ab

    [env:gam*]
    GAM = 1

    [watcher:alpha]
    cmd = /bin/sleep 3600

    [watcher:beta]
    cmd = /bin/sleep 3600

    [watcher:gamma]
    cmd = /bin/sleep 3600

    [watcher:delta]
    cmd = /bin/sleep 3600

    [watcher:copier]
    cmd = /bin/sleep 3600
    copy_env = true
    """, env={"E2E_HELLO": "hi"})
    base = {"GLOBAL": "g", "SHARED": "from-env", "http_proxy": "lower",
            "EXP": "pre-hi-post", "KEEP": "${E2E_HELLO} $lower", "QUIRK": "ome"}
    expected = {
        "alpha": dict(base, AB="ab", SHARED="from-ab"),
        "beta": dict(base, AB="ab", SHARED="from-ab"),
        "gamma": dict(base, GAM="1"),
        "delta": dict(base),
    }
    for name, env in expected.items():
        assert env_of(d, name) == env, name
        [pid] = d.wait_pids(name, 1)
        assert real_env(pid) == env, name
    c = env_of(d, "copier")
    assert c["E2E_HELLO"] == "hi" and c["GLOBAL"] == "g"
    assert c["PATH"] == os.environ["PATH"]
    [pid] = d.wait_pids("copier", 1)
    assert real_env(pid) == c


# --------------------------------------------------------------------------
# substitutions


def test_substitutions(circusd, wd):
    dump = wd.script("dump.py", WORKER_DUMP)
    d = circusd("""
    [env]
    TARGET = %(py)s

    [socket:web]
    host = 127.0.0.1
    port = 0

    [watcher:subst]
    cmd = $(circus.env.TARGET) %(dump)s %(dir)s/out-$(circus.wid).json
    args = w=$(circus.wid) w2=((circus.wid)) os=$(CIRCUS.ENV.e2e_hello) n=$(circus.numprocesses) unknown=$(circus.nope) name=$(circus.name) legacy=$WID fd=$(circus.sockets.web)
    numprocesses = 3
    use_sockets = true
    """ % {"py": PYTHON, "dump": wd.path / "dump.py", "dir": wd.path},
        env={"E2E_HELLO": "hi"})
    del dump
    o = opts(d, "subst")
    # load time: env resolved, per-process keys kept
    assert o["cmd"] == "%s %s %s/out-$(circus.wid).json" % (
        PYTHON, wd.path / "dump.py", wd.path)
    assert "$(circus.wid)" in o["args"]
    web = [s for s in d.call("listsockets")["sockets"] if s["name"] == "web"][0]
    pids = d.wait_pids("subst", 3)
    seen = {}
    for wid in (1, 2, 3):
        info = dump_of(wd, "out-%d.json" % wid)
        seen[info["pid"]] = wid
        argv = proc_cmdline(info["pid"])
        assert argv[:3] == [PYTHON, str(wd.path / "dump.py"),
                            "%s/out-%d.json" % (wd.path, wid)]
        assert argv[3:] == ["w=%d" % wid, "w2=%d" % wid, "os=hi", "n=3",
                            "unknown=$(circus.nope)", "name=$(circus.name)",
                            "legacy=$WID", "fd=%d" % web["fd"]], argv
        # the socket really is inherited at that fd number
        assert str(web["fd"]) in info["socks"], info
        fam, typ, addr = info["socks"][str(web["fd"])]
        assert fam == socket.AF_INET and addr == ["127.0.0.1", web["port"]]
    assert sorted(seen) == sorted(pids)


def test_env_substitution_priority(circusd, wd):
    d = circusd("""
    [env]
    WHO = 1

    [env:pri]
    WHO = 2

    [watcher:pri]
    cmd = /bin/sleep 3600
    args = $(circus.env.WHO)
    free = $(circus.env.WHO)

    [watcher:plain]
    cmd = /bin/sleep 3600
    args = $(circus.env.WHO) $(circus.env.E2E_ONLY_OS)
    """, env={"WHO": "3", "E2E_ONLY_OS": "4"})
    assert opts(d, "pri")["args"] == "2"
    assert opts(d, "pri")["free"] == "2"
    assert opts(d, "plain")["args"] == "1 4"
    [pid] = d.wait_pids("plain", 1)
    assert proc_cmdline(pid) == ["/bin/sleep", "3600", "1", "4"]


def test_shell_and_shell_args(circusd, wd):
    """shell = true: ["/bin/sh", "-c", <quoted words>] + shell_args, so the
    shell_args become $0, $1 of the script."""
    script = wd.write("s.sh", 'echo "$0|$1" > %s/sh.out; exec /bin/sleep 3600\n'
                      % wd.path)
    d = circusd("""
    [watcher:sh]
    cmd = . %s
    shell = true
    shell_args = first second
    """ % script)
    d.wait_pids("sh", 1)
    wait_until(lambda: (wd / "sh.out").exists() and
               (wd / "sh.out").read_text().strip(), 20)
    assert (wd / "sh.out").read_text().strip() == "first|second"
    assert opts(d, "sh")["shell"] is True
    assert opts(d, "sh")["shell_args"] == "first second"


# --------------------------------------------------------------------------
# output streams


def test_file_stream_gets_output(circusd, wd):
    d = circusd("""
    [watcher:talker]
    cmd = /bin/sh -c "echo hello-e2e; echo oops-e2e >&2; exec /bin/sleep 3600"
    stdout_stream.class = FileStream
    stdout_stream.filename = %s/out.log
    stderr_stream.filename = %s/err.log
    """ % (wd.path, wd.path))
    wait_until(lambda: "hello-e2e" in (wd / "out.log").read_text()
               if (wd / "out.log").exists() else False, 20)
    wait_until(lambda: "oops-e2e" in (wd / "err.log").read_text()
               if (wd / "err.log").exists() else False, 20)
    o = opts(d, "talker")
    assert o["stdout_stream_conf"] == {"filename": "%s/out.log" % wd.path}
    assert o["stderr_stream_conf"] == {"filename": "%s/err.log" % wd.path}


def test_output_not_lost_at_stop(circusd, wd):
    d = circusd("""
    [watcher:burst]
    cmd = /bin/sh -c "trap 'i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; exit 0' TERM; echo ready; while :; do /bin/sleep 0.1; done"
    stdout_stream.filename = %s/burst.log
    graceful_timeout = 20
    """ % wd.path)
    wait_until(lambda: (wd / "burst.log").exists() and
               "ready" in (wd / "burst.log").read_text(), 20)
    r = d.call("stop", name="burst", waiting=True, timeout=60)
    assert r["status"] == "ok", r
    text = (wd / "burst.log").read_text()
    assert "line-0\n" in text and "line-1999" in text


# --------------------------------------------------------------------------
# circusd --check and reloadconfig with a bad section


def test_check_good_file(circusd, wd):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    numprocesses = 2

    [socket:s]
    host = 127.0.0.1
    port = 0
    """, start=False)
    r = run_circusd(["--check", d.ini], timeout=30)
    assert r.returncode == 0, r
    assert not (wd / "ctl.sock").exists()
    assert not (wd / "pub.sock").exists()


@pytest.mark.parametrize("bad,lineno", [
    ("garbage line without delimiter", 9),
    ("numprocesses = abc", 9),
    ("graceful_timeout = fast", 9),
    ("send_hup = maybe", 9),
    ("stop_signal = SIGNOPE", 9),
])
def test_check_bad_file_names_file_and_line(circusd, wd, bad, lineno):
    d = circusd("""
    [watcher:w]
    cmd = /bin/sleep 3600
    %s
    """ % bad, start=False)
    lines = d.ini.read_text().splitlines()
    assert lines[lineno - 1] == bad, lines
    r = run_circusd(["--check", d.ini], timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "%s:%d" % (d.ini, lineno) in out or "%s:%d" % (d.ini.name, lineno) in out, out
    assert not (wd / "ctl.sock").exists()


def test_check_missing_section_header(wd, circus_build):
    p = wd.write("nohead.ini", "cmd = /bin/sleep 3600\n")
    r = run_circusd(["--check", p], timeout=30)
    assert r.returncode != 0
    assert "nohead.ini:1" in r.stdout + r.stderr, r


def test_reloadconfig_bad_section_reported_rest_applies(circusd, wd):
    d = circusd("""
    [watcher:keep]
    cmd = /bin/sleep 3600
    """)
    keep = d.pids("keep")
    text = d.write_ini(ini("""
    [watcher:keep]
    cmd = /bin/sleep 3600
    """, """
    [watcher:broken]
    cmd = /bin/sleep 3600
    numprocesses = nope
    """, """
    [watcher:fine]
    cmd = /bin/sleep 3600
    """))
    lineno = text.splitlines().index("numprocesses = nope") + 1
    r = d.call("reloadconfig", waiting=True, timeout=60)
    assert r["status"] == "error" and r["errno"] == 3, r
    assert "circus.ini:%d" % lineno in r["reason"], r
    assert "fine" in d.call("list")["watchers"]
    d.wait_pids("fine", 1)
    assert d.pids("keep") == keep


# --------------------------------------------------------------------------
# reloadconfig (doc/design.md §12)

RELOAD_BASE = """
[socket:web]
host = 127.0.0.1
port = 0

[watcher:sock]
cmd = %(dump)s %(dir)s/sock-$(circus.wid).json fd=$(circus.sockets.web)
use_sockets = true

[watcher:plain]
cmd = /bin/sleep 3600
numprocesses = 2

[watcher:gone]
cmd = /bin/sleep 3600
"""


@pytest.fixture
def rd(circusd, wd):
    dump = wd.script("dump.py", WORKER_DUMP)
    d = circusd(RELOAD_BASE % {"dump": dump, "dir": wd.path})
    d.dump = dump
    return d


def test_reloadconfig_missing_file_errno_6(rd):
    before = rd.pids("plain")
    text = rd.ini.read_text()
    rd.ini.unlink()
    try:
        r = rd.call("reloadconfig", waiting=True, timeout=60)
        assert r["status"] == "error", r
        assert r["errno"] == 6, r
        assert str(rd.ini) in r["reason"] and "does not exist" in r["reason"], r
    finally:
        rd.ini.write_text(text)
    assert rd.pids("plain") == before
    assert rd.call("list")["watchers"] == ["gone", "plain", "sock"]


def test_reloadconfig_dry_run_plans_without_doing(rd, wd):
    plain = rd.pids("plain")
    gone = rd.pids("gone")
    rd.write_ini((RELOAD_BASE % {"dump": rd.dump, "dir": wd.path})
                 .replace("[watcher:gone]\ncmd = /bin/sleep 3600\n",
                          "[watcher:fresh]\ncmd = /bin/sleep 3600\n")
                 .replace("numprocesses = 2", "numprocesses = 3"))
    raw, r = rd.call_raw("reloadconfig", dry_run=True, waiting=True)
    assert r["status"] == "ok", r
    assert len(r) > 3, "dry_run reply carries no plan: %r" % r
    text = raw.decode().lower()
    assert "fresh" in text and "gone" in text and "plain" in text, r
    # nothing happened
    assert rd.call("list")["watchers"] == ["gone", "plain", "sock"]
    assert rd.pids("plain") == plain and rd.pids("gone") == gone


def test_reloadconfig_socket_change_restarts_its_watchers(rd, wd):
    [old] = rd.wait_pids("sock", 1)
    plain = rd.pids("plain")
    port = free_tcp_port()
    rd.write_ini((RELOAD_BASE % {"dump": rd.dump, "dir": wd.path})
                 .replace("port = 0", "port = %d" % port))
    for f in wd.path.glob("sock-*.json"):
        f.unlink()
    r = rd.call("reloadconfig", waiting=True, timeout=60)
    assert r["status"] == "ok", r
    web = [s for s in rd.call("listsockets")["sockets"] if s["name"] == "web"][0]
    assert web["port"] == port
    [new] = rd.wait_pids("sock", 1)
    assert new != old, "watcher using the changed socket was not restarted"
    def dumped():
        for f in wd.path.glob("sock-*.json"):
            info = json.loads(f.read_text())
            if info["pid"] == new:
                return info
    info = wait_until(dumped, 20, msg="new worker wrote its dump")
    fd = proc_cmdline(new)[-1].split("=")[1]
    assert info["socks"][fd][2] == ["127.0.0.1", port]
    assert rd.pids("plain") == plain


def test_reloadconfig_added_optional_key_is_a_change(rd, wd):
    plain = rd.pids("plain")
    gone = rd.pids("gone")
    rd.write_ini((RELOAD_BASE % {"dump": rd.dump, "dir": wd.path})
                 .replace("numprocesses = 2", "numprocesses = 2\nmax_age = 1000"))
    r = rd.call("reloadconfig", waiting=True, timeout=60)
    assert r["status"] == "ok", r
    new = rd.wait_pids("plain", 2)
    assert not set(new) & set(plain), "adding max_age did not replace 'plain'"
    assert rd.call("get", name="plain", keys=["max_age"])["options"] == {"max_age": 1000}
    assert rd.pids("gone") == gone


def test_reloadconfig_starts_the_safety_tick(circusd, wd):
    """check_delay = 0 turns the safety tick off; reloadconfig to a positive
    check_delay turns it on, and the daemon lives through its expiries (the
    tick used to be started without its callback: a crash at the first)."""
    d = circusd("""
    [watcher:late]
    cmd = /bin/sh -c 'sleep 1; touch %s/$$; exec sleep 3600'
    """ % wd.path, check_delay=0)
    old = d.wait_pids("late", 1)
    d.write_ini(check_delay=0.1)
    assert d.call("reloadconfig", waiting=True)["status"] == "ok"
    # the [circus] change restarted the watcher: the new process marks
    # its pid about ten ticks later
    new = wait_until(lambda: [p for p in d.pids("late") if p not in old],
                     timeout=20, msg="the restarted process")
    wait_until((wd.path / str(new[0])).exists, timeout=20,
               msg="the new process's marker")
    assert d.alive()
    assert d.call("globaloptions", option="check_delay")["options"] == \
        {"check_delay": 0.1}


def test_reloadconfig_applies_live_circus_options(rd, wd):
    rd.write_ini(check_delay=7)
    r = rd.call("reloadconfig", waiting=True, timeout=60)
    assert r["status"] == "ok", r
    assert rd.call("globaloptions", option="check_delay")["options"] == \
        {"check_delay": 7.0}
