# SPDX-License-Identifier: Apache-2.0
"""The circusctl interactive shell driven through a real terminal.

Each test runs circusctl in a private tmux server (send-keys to type,
capture-pane to read the screen) against the fake circusd of
test_circusctl_fake, and polls the screen with a deadline. Covered: start
banner and status, Tab completion of commands and watcher names, history
recall (in the session and from the history file), help, errors that do
not end the shell, reconnection, Ctrl-C, Ctrl-D, exit, and plain
(non-terminal) input.
"""

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import uuid

import pytest

from test_circusctl_fake import CIRCUSCTL, FakeDaemon, run_ctl, wait_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed")

PROMPT = "(circusctl)"


class Tmux:
    """One tmux server with one pane running a command."""

    def __init__(self, workdir):
        self.socket = os.path.join(workdir, "tmux-%s" % uuid.uuid4().hex[:8])
        self.conf = os.path.join(workdir, "tmux.conf")
        with open(self.conf, "w") as f:
            f.write("set -g remain-on-exit on\nset -g status off\n"
                    "set -g history-limit 5000\n")
        # A foreground server (-D) stays our child: no orphaned daemon.
        self.server = subprocess.Popen(["tmux", "-D", "-S", self.socket,
                                        "-f", self.conf],
                                       stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.socket),
                 msg="tmux server did not start")

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.socket, "-f", self.conf] +
                              list(args), capture_output=True, text=True,
                              check=check, timeout=30)

    def start(self, argv, env):
        # The exit status is printed by a wrapping shell (tmux 3.3's
        # #{pane_dead_status} is not reliable), which ignores Ctrl-C so
        # that only circusctl sees it (circusctl installs its handler).
        inner = " ".join(shlex.quote(a) for a in
                         ["env"] + ["%s=%s" % kv for kv in env.items()] +
                         argv)
        cmd = "sh -c %s" % shlex.quote("trap '' INT; " + inner +
                                       '; echo "[exit $?]"')
        self.tmux("new-session", "-d", "-s", "main", "-x", "120", "-y",
                  "60", cmd)

    def send(self, *keys):
        self.tmux("send-keys", "-t", "main", *keys)

    def type(self, text):
        self.tmux("send-keys", "-t", "main", "-l", text)

    def screen(self):
        out = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t",
                        "main").stdout
        return [l.rstrip() for l in out.rstrip("\n").split("\n")]

    def text(self):
        return "\n".join(self.screen())

    def cursor_row(self):
        return int(self.tmux("display-message", "-p", "-t", "main",
                             "#{cursor_y}").stdout)

    def last_line(self):
        lines = [l for l in self.screen() if l]
        return lines[-1] if lines else ""

    def dead(self):
        """None while circusctl runs, then its exit status."""
        for line in self.screen():
            m = re.match(r"^\[exit (\d+)\]$", line)
            if m:
                return int(m.group(1))
        return None

    def kill(self):
        if self.server is None:
            return
        self.tmux("kill-server", check=False)
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.server = None


@pytest.fixture
def env_dir():
    d = tempfile.mkdtemp(prefix="cctlsh", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def responder(req):
    """A small daemon: two watchers, numwatchers, errors for 'nope'."""
    props = req.get("properties", {})
    cmd = req["command"]
    if props.get("name") == "nope":
        return {"__error__": ("program nope not found", 3)}
    if cmd == "list":
        if "name" in props:
            return {"pids": [101, 102]}
        return {"watchers": ["web", "worker"]}
    if cmd == "status":
        if "name" in props:
            return {"status": "active"}
        return {"statuses": {"web": "active", "worker": "stopped"}}
    if cmd == "numwatchers":
        return {"numwatchers": 2}
    return {}


@pytest.fixture
def fake():
    d = FakeDaemon(responder)
    yield d
    d.close()


@pytest.fixture
def shell(env_dir, fake):
    """Start circusctl's shell in tmux; returns (tmux, histfile)."""
    t = Tmux(env_dir)
    hist = os.path.join(env_dir, "history")
    started = []

    def start(*extra):
        if started:
            t.kill()
            t.__init__(env_dir)
        env = {"CIRCUSCTL_HISTFILE": hist, "TERM": "xterm",
               "INPUTRC": "/dev/null", "HOME": env_dir}
        t.start([str(CIRCUSCTL), "--endpoint", fake.endpoint] +
                list(extra), env)
        started.append(True)
        wait_prompt(t)
        return t
    yield start, hist
    t.kill()


def wait_prompt(t, count=None, timeout=15):
    """Wait until the pane shows a fresh prompt (count = prompts shown)."""
    def ready():
        if t.last_line() != PROMPT:
            return False
        return count is None or t.text().count(PROMPT) >= count
    wait_for(ready, timeout=timeout,
             msg="no prompt; screen:\n%s" % "\n".join(t.screen()))


def run_line(t, text):
    """Type a line, press Enter, wait for the next prompt; return output."""
    before = t.text().count(PROMPT)
    t.type(text)
    t.send("Enter")
    wait_prompt(t, before + 1)
    screen = t.screen()
    # output between the typed line and the new prompt
    idx = max(i for i, l in enumerate(screen) if l.startswith(PROMPT + " ")
              and l[len(PROMPT) + 1:] == text)
    return [l for l in screen[idx + 1:] if l][:-1]


def wait_dead(t, timeout=15):
    return wait_for(lambda: t.dead() is not None and [t.dead()],
                    timeout=timeout, msg="shell did not exit")[0]


def test_banner_status_and_command_completion(shell, fake):
    start, _ = shell
    t = start()
    screen = t.screen()
    assert screen[0].startswith("circusctl ")
    assert screen[1:4] == ["web: active", "worker: stopped", PROMPT]
    assert fake.requests[0]["command"] == "status"
    t.type("numw")
    t.send("Tab")
    wait_for(lambda: t.last_line() == PROMPT + " numwatchers")
    t.send("Enter")
    wait_prompt(t, 2)
    assert t.screen()[-2] == "2"
    assert fake.last()["command"] == "numwatchers"
    # several candidates: listed on a second Tab
    t.type("sta")
    t.send("Tab", "Tab")
    wait_for(lambda: any(l.split() == ["start", "stats", "status"]
                         for l in t.screen()))
    t.send("C-u")
    assert t.dead() is None


def test_watcher_name_completion(shell, fake):
    start, _ = shell
    t = start()
    t.type("start we")
    t.send("Tab")
    wait_for(lambda: t.last_line() == PROMPT + " start web")
    listed = [r for r in fake.requests if r["command"] == "list"]
    assert listed and listed[-1]["properties"] == {}
    t.send("Enter")
    wait_prompt(t, 2)
    assert t.screen()[-2] == "ok"
    assert fake.last()["command"] == "start"
    assert fake.last()["properties"] == {"name": "web", "waiting": False,
                                         "match": "glob"}
    # option keys for get, signal names, option flags
    t.type("get web numpr")
    t.send("Tab")
    wait_for(lambda: t.last_line() == PROMPT + " get web numprocesses")
    t.send("C-u")
    t.type("signal web US")
    t.send("Tab")
    wait_for(lambda: t.last_line() == PROMPT + " signal web USR")
    t.send("Tab", "Tab")
    wait_for(lambda: any(l.split() == ["USR1", "USR2"] for l in t.screen()),
             msg="\n".join(t.screen()))
    t.send("C-u")
    t.type("stop web --wa")
    t.send("Tab")
    wait_for(lambda: t.last_line() == PROMPT + " stop web --waiting")
    t.send("C-u")


def test_history_recall_and_file(shell, fake):
    start, hist = shell
    t = start()
    assert run_line(t, "list") == ["web,worker"]
    assert run_line(t, "status web") == ["active"]
    t.send("Up")
    wait_for(lambda: t.last_line() == PROMPT + " status web")
    t.send("Up")
    wait_for(lambda: t.last_line() == PROMPT + " list")
    t.send("Enter")
    wait_prompt(t, 4)
    assert t.screen()[-2] == "web,worker"
    t.send("C-d")
    assert wait_dead(t) == 0
    with open(hist) as f:
        assert f.read().split("\n")[-4:] == ["list", "status web", "list",
                                             ""]
    # a new shell recalls the previous session's commands
    t = start()
    t.send("Up")
    wait_for(lambda: t.last_line() == PROMPT + " list")
    t.send("Up")
    wait_for(lambda: t.last_line() == PROMPT + " status web")
    t.send("C-u")
    t.type("exit")
    t.send("Enter")
    assert wait_dead(t) == 0


def test_help(shell):
    start, _ = shell
    t = start()
    out = run_line(t, "help")
    assert out[0] == "Documented commands (type help <topic>):"
    assert out[1] == "=" * 40
    # Circus's 25 commands and keygen, in columns
    assert out[2].split() == ["add", "get", "ipython", "listen", "options",
                              "restart", "start"]
    assert "Undocumented commands:" in out
    assert out[-1] == "EOF"
    out = run_line(t, "help status")
    assert out[:2] == ["Get the status of a watcher or all watchers",
                       "=" * 43]
    out = run_line(t, "? incr")
    assert out[0] == "Increment the number of processes in a watcher"
    assert run_line(t, "help nope") == ["*** No help on nope"]
    t.type("help sto")
    t.send("Tab")
    wait_for(lambda: t.last_line() == PROMPT + " help stop")
    t.send("C-u")
    assert t.dead() is None


def test_errors_do_not_end_the_shell(shell, fake):
    start, _ = shell
    t = start()
    assert run_line(t, "status nope") == ["error"]
    assert run_line(t, "stop nope") == ["error: program nope not found"]
    assert run_line(t, "foo bar") == ["*** Unknown syntax: foo bar"]
    assert run_line(t, "list a b") == ["Invalid number of arguments"]
    assert run_line(t, "incr web x") == [
        "invalid <nb>: 'x' is not an integer"]
    out = run_line(t, "incr web --bogus")
    assert out == ["usage: circusctl [options] command [args]",
                   "circusctl: error: unrecognized arguments: --bogus"]
    assert run_line(t, "set web cmd 'unclosed") == [
        "*** No closing quotation"]
    assert run_line(t, "numwatchers") == ["2"]
    assert t.dead() is None
    t.type("exit")
    t.send("Enter")
    assert wait_dead(t) == 0


def test_quoting_and_empty_line_repeats(shell, fake):
    start, _ = shell
    t = start()
    assert run_line(t, "add web2 \"python3 -m http.server\" --start") == [
        "ok"]
    assert fake.last()["properties"] == {
        "name": "web2", "cmd": "python3 -m http.server", "start": True}
    n = fake.count()
    before = t.text().count(PROMPT)
    t.send("Enter")        # empty line: Python's cmd repeats the last one
    wait_prompt(t, before + 1)
    assert fake.count() == n + 1
    assert fake.last()["command"] == "add"


def test_quit_sends_quit_and_shell_goes_on(shell, fake):
    start, _ = shell
    t = start()
    assert run_line(t, "quit") == ["ok"]
    assert fake.last()["command"] == "quit"
    assert fake.last()["properties"] == {"waiting": False}
    assert t.dead() is None
    t.send("C-d")
    assert wait_dead(t) == 0


def test_reconnect_after_daemon_restart(shell, fake):
    start, _ = shell
    t = start("--timeout", "1")
    assert run_line(t, "list") == ["web,worker"]
    fake.stop()
    out = run_line(t, "list")
    assert len(out) == 1 and out[0].startswith(
        "Timed out. No connection to circusd at %s" % fake.endpoint)
    fake.start()
    assert run_line(t, "list") == ["web,worker"]
    # a daemon that answers nothing: timed out, then fine again
    fake.respond = lambda req: None
    out = run_line(t, "numwatchers")
    assert out[0].startswith("Timed out. circusd at ")
    fake.respond = responder
    assert run_line(t, "numwatchers") == ["2"]


def test_ctrl_c(shell, fake):
    start, _ = shell
    t = start("--timeout", "60")
    # Ctrl-C during a call abandons the call, the shell goes on
    fake.respond = lambda req: None
    n = fake.count()
    t.type("list")
    t.send("Enter")
    wait_for(lambda: fake.count() == n + 1)
    t.send("C-c")
    wait_prompt(t, 2)
    fake.respond = responder
    assert run_line(t, "list") == ["web,worker"]
    # listen runs until Ctrl-C, then the shell goes on
    before = t.text().count(PROMPT)
    t.type("listen watcher.")
    t.send("Enter")
    # the line was accepted once readline moved the cursor below it
    wait_for(lambda: t.cursor_row() > t.screen().index(
        PROMPT + " listen watcher."))
    t.send("C-c")
    wait_prompt(t, before + 1)
    assert run_line(t, "numwatchers") == ["2"]
    # Ctrl-C at the prompt leaves with status 0
    t.send("C-c")
    assert wait_dead(t) == 0


def test_json_shell(shell, fake):
    start, _ = shell
    t = start("--json")
    screen = t.text()
    assert '"statuses": {"web": "active", "worker": "stopped"}' in screen
    out = run_line(t, "numwatchers")
    assert out[0].startswith('{"status": "ok", "time": ')
    assert '"numwatchers": 2' in out[0]


def test_plain_input_without_terminal(fake, env_dir):
    p = run_ctl(input="list\n\nstatus nope\nhelp\nexit\nlist\n",
                endpoint=fake.endpoint, env={"HOME": env_dir})
    assert p.returncode == 0
    out = p.stdout.split("\n")
    assert out[0].startswith("circusctl ")
    assert out[1:3] == ["web: active", "worker: stopped"]
    # the empty line repeated "list"; exit ended the shell
    assert out[3] == PROMPT + " web,worker"
    assert out[4] == PROMPT + " web,worker"
    assert p.stderr == "error\n"
    assert [r["command"] for r in fake.requests] == ["status", "list",
                                                      "list", "status"]
    assert not os.path.exists(os.path.join(env_dir, ".circusctl_history"))
    # end of input leaves too, printing a newline
    p = run_ctl(input="numwatchers\n", endpoint=fake.endpoint)
    assert p.returncode == 0
    assert p.stdout.endswith(PROMPT + " 2\n" + PROMPT + " \n")


def test_shell_command_word(fake, env_dir):
    """`circusctl shell` starts the shell too (not in Circus)."""
    p = run_ctl("--json", "shell", input="numwatchers\n",
                endpoint=fake.endpoint)
    assert p.returncode == 0
    assert p.stdout.startswith("circusctl ")
    assert '"numwatchers": 2' in p.stdout
    p = run_ctl("shell", "extra", endpoint=fake.endpoint)
    assert p.returncode == 2
    assert "unrecognized arguments: extra" in p.stderr
