# SPDX-License-Identifier: Apache-2.0
"""circus-top (doc/design.md §17.4) driven in a real terminal (tmux): it shows each
watcher's processes with a live CPU figure, sorts on a key, drops a group
whose figures stop, waits for data politely, and quits cleanly on q."""

import re
import shutil

import pytest

from conftest import BUILD, wait_until
from test_circusctl_shell import Tmux
from test_stats_stream import BURN, stats_daemon

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed")

TOP = str(BUILD / "circus-top")


@pytest.fixture
def tmux(wd):
    t = Tmux(str(wd.path))
    yield t
    t.kill()


def row_of(screen, pid):
    """(cpu, mem, age) strings of the row of pid, or None."""
    for line in screen:
        m = re.match(r"^  %d\s+(\S+)\s+(\S+)\s+(\S+)$" % pid, line)
        if m:
            return m.groups()
    return None


def test_top_shows_watchers_and_a_changing_cpu(circusd, wd, tmux):
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:burn]
    cmd = %s

    [watcher:sleeper]
    cmd = /bin/sleep 3600
    numprocesses = 2
    """ % BURN)
    burn = d.pids("burn")[0]
    tmux.start([TOP, "--endpoint", stats_ep], {"TERM": "xterm"})
    wait_until(lambda: row_of(tmux.screen(), burn), 30,
               msg="burn's row on the screen")
    screen = tmux.screen()
    assert screen[0].startswith("Circus Top")
    assert set(screen[1]) == {"-"}
    for name in ("burn", "circus", "sleeper"):
        assert name in screen, screen
    assert "circusd-stats" not in screen       # shown inside circus only
    assert any(re.match(r"^  %d \(circusd\)" % d.pid, l) for l in screen)
    header = screen[screen.index("burn") + 1]
    assert header.index("PID") == 3 and header.index("CPU (%)") == 28
    assert header.index("MEMORY (%)") == 48 and header.index("AGE (s)") == 68
    line = next(l for l in screen if l.startswith("  %d " % burn))
    assert line[29].isdigit() or line[29:32] == "N/A"
    # the CPU figure of the burner changes and shows the burning
    seen = set()

    def changing():
        r = row_of(tmux.screen(), burn)
        if r is not None and r[0] != "N/A":
            seen.add(float(r[0]))
        return len(seen) >= 2 and max(seen) > 20
    wait_until(changing, 30, interval=0.2, msg="a changing CPU above 20%")
    tmux.type("q")
    assert wait_until(lambda: tmux.dead() is not None, 15,
                      msg="circus-top quits on q") is True
    assert tmux.dead() == 0


def test_top_sorts_by_pid_and_forgets_a_stopped_group(circusd, wd, tmux):
    d, stats_ep = stats_daemon(circusd, wd, """
    [watcher:sleeper]
    cmd = /bin/sleep 3600
    numprocesses = 3

    [watcher:other]
    cmd = /bin/sleep 3600
    """)
    pids = sorted(d.pids("sleeper"))
    tmux.start([TOP, "--endpoint", stats_ep, "--process-timeout", "2"],
               {"TERM": "xterm"})
    wait_until(lambda: all(row_of(tmux.screen(), p) for p in pids), 30,
               msg="every sleeper row")
    tmux.type("p")

    def by_pid():
        s = tmux.screen()
        if "sorted by pid" not in s[0]:
            return False
        rows = [int(l.split()[0]) for l in s
                if re.match(r"^  (%s) " % "|".join(map(str, pids)), l)]
        return rows == pids
    wait_until(by_pid, 15, msg="rows sorted by pid")
    assert d.call("stop", name="other", waiting=True)["status"] == "ok"
    wait_until(lambda: "other" not in tmux.screen(), 20,
               msg="the stopped group leaves the screen")
    assert "sleeper" in tmux.screen()
    tmux.type("q")
    wait_until(lambda: tmux.dead() is not None, 15, msg="quit")
    assert tmux.dead() == 0


def test_top_waits_for_data(wd, tmux):
    tmux.start([TOP, "--endpoint", "ipc://%s/nobody.sock" % wd.path],
               {"TERM": "xterm"})
    wait_until(lambda: tmux.screen()[1:2] == ["*** Waiting for data ***"],
               15, msg="the waiting line on row 1")
    tmux.type("q")
    wait_until(lambda: tmux.dead() is not None, 15, msg="quit")
    assert tmux.dead() == 0
