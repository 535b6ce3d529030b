# SPDX-License-Identifier: Apache-2.0
"""`circusctl quit --waiting` gets its reply, and a subscriber the final
`stop` event, every time, on ipc and TCP, also when the client is slow to
read (CPU contention)."""

import subprocess

import pytest

from conftest import CIRCUSCTL, PYTHON, free_tcp_port

RUNS = 20


def burners(n=2, seconds=120):
    """n busy loops competing for the CPU, each ending by itself."""
    code = ("import time\nt = time.monotonic() + %d\n"
            "while time.monotonic() < t:\n    pass\n" % seconds)
    return [subprocess.Popen([PYTHON, "-c", code]) for _ in range(n)]


@pytest.mark.timeout(400)
@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_quit_waiting_reply_arrives_every_time(circusd, transport):
    load = burners()
    failures = []
    try:
        for i in range(RUNS):
            d = circusd("""
            [watcher:w]
            cmd = /bin/sleep 3600
            numprocesses = 3
            """, start=False)
            if transport == "tcp":
                d.endpoint = "tcp://127.0.0.1:%d" % free_tcp_port()
                d.pubsub = "tcp://127.0.0.1:%d" % free_tcp_port()
                d.write_ini()
            d.start()
            mark = d.events.mark()
            p = subprocess.run(
                [str(CIRCUSCTL), "--endpoint", d.endpoint, "--timeout", "30",
                 "quit", "--waiting"], capture_output=True, text=True,
                timeout=60)
            assert d.wait_exit(60) == 0
            if p.returncode != 0 or p.stdout.strip() != "ok":
                failures.append((i, p.returncode, p.stdout, p.stderr))
            try:
                d.events.wait_event("w", "stop", since=mark, timeout=10)
            except AssertionError as e:
                failures.append((i, "no final stop event", str(e)[:200]))
            d.teardown()
    finally:
        for b in load:
            b.kill()
            b.wait()
    assert failures == [], failures
