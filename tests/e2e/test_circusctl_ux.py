# SPDX-License-Identifier: Apache-2.0
"""Small things a new user meets: bash completion of watcher names with
--endpoint, `circusctl help`, `listen --help`, the circusd(8) man page."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import CIRCUSCTL, REPO, free_tcp_port

SCRIPT = REPO / "circusctl" / "circusctl-completion.bash"


def bash_words(line):
    """COMP_WORDS as bash builds them: split at blanks, and every run of
    COMP_WORDBREAKS characters such as ':' and '=' is a word of its own
    (bash without the bash-completion package)."""
    words = []
    for token in line.split(" "):
        parts = re.findall(r"[:=]+|[^:=]+", token)
        words.extend(parts or [""])
    return words


def complete(line, env_endpoint=None):
    """COMPREPLY of the completion script for line (cursor at its end)."""
    words = bash_words(line)
    code = ("source %s\nCOMP_LINE=%s\nCOMP_POINT=${#COMP_LINE}\n"
            "COMP_WORDS=(%s)\nCOMP_CWORD=%d\n_circusctl\n"
            "printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
            % (SCRIPT, "'%s'" % line, " ".join("'%s'" % w for w in words),
               len(words) - 1))
    env = dict(os.environ)
    env["PATH"] = "%s:%s" % (CIRCUSCTL.parent, env["PATH"])
    env.pop("CIRCUSCTL_ENDPOINT", None)
    if env_endpoint:
        env["CIRCUSCTL_ENDPOINT"] = env_endpoint
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", code],
                       capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    return [w for w in p.stdout.split("\n") if w]


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_bash_completion_of_watcher_names_with_endpoint(circusd, transport):
    d = circusd("""
    [watcher:web]
    cmd = /bin/sleep 3600

    [watcher:worker]
    cmd = /bin/sleep 3600
    """, start=False)
    if transport == "tcp":
        d.endpoint = "tcp://127.0.0.1:%d" % free_tcp_port()
        d.pubsub = "tcp://127.0.0.1:%d" % free_tcp_port()
        d.write_ini()
    d.start()
    ep = d.endpoint
    assert complete("circusctl --endpoint %s restart w" % ep) == [
        "web", "worker"]
    assert complete("circusctl --endpoint %s stop " % ep) == [
        "web", "worker"]
    assert complete("circusctl --endpoint=%s status we" % ep) == ["web"]
    # the environment variable still works, and option values too
    assert complete("circusctl status wor", env_endpoint=ep) == ["worker"]
    # "--match=gl": bash replaces only what follows the '='
    assert complete("circusctl --endpoint %s restart --match=gl" % ep) == [
        "glob"]


def test_help_command_like_the_shell():
    p = subprocess.run([str(CIRCUSCTL), "help"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: circusctl [options] command [args]")
    assert re.search(r"^  restart +Restart the arbiter or a watcher$",
                     p.stdout, re.M)
    p = subprocess.run([str(CIRCUSCTL), "--endpoint", "tcp://127.0.0.1:1",
                        "help", "restart"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Restart the arbiter or a watcher\n====")


def test_listen_help_explains_topics():
    p = subprocess.run([str(CIRCUSCTL), "listen", "--help"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("usage: circusctl [options] command [args] listen")
    assert "watcher.<name>.<event>" in out
    for event in ("spawn", "reap", "kill", "start", "stop", "reload"):
        assert event in out, event
    assert "prefix" in out and "watcher.web." in out
    assert "pub/sub endpoint" in out


def test_circusd_man_page():
    page = REPO / "doc" / "circusd.8"
    text = page.read_text()
    heads = [ln.split(" ")[1] for ln in text.splitlines()
             if re.match(r"^\.B[IR]? ", ln)]
    for opt in ("log-level", "log-output", "logger-config", "daemon",
                "pidfile", "check", "version"):
        assert "\\-\\-" + opt.replace("-", "\\-") in heads, opt
    for section in ("SIGNALS", "EXIT STATUS", "SEE ALSO"):
        assert ".SH %s" % section in text
    # circusctl(1) refers to it
    assert ".BR circusd (8)" in (REPO / "doc" / "circusctl.1").read_text()
    if shutil.which("man"):
        p = subprocess.run(["man", "--warnings", "-l", str(page)],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MANWIDTH="80",
                                    MANPAGER="cat", PAGER="cat"))
        assert p.returncode == 0 and p.stderr == "", p.stderr
        assert "circusd - process and socket supervisor" in p.stdout
    if shutil.which("groff"):
        p = subprocess.run(["groff", "-man", "-ww", "-z", str(page)],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and p.stderr == "", p.stderr
