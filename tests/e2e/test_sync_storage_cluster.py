# SPDX-License-Identifier: Apache-2.0
"""The sync worker hosted by circusd: the repository's own `make run`
configuration (circus.ini + watchers.d/syncserver.ini + sync.ini, ports
moved to free ones), several workers on the shared socket writing for one
user at once, and workers SIGKILLed mid-batch and mid-write losing nothing
they acknowledged."""

import os
import re
import signal
import stat
import subprocess
import threading
import time

import pytest
import requests

import synclib
from conftest import wait_until
from sync_server import (BUILD, CIRCUSD, REPO, SyncCluster, _wait_heartbeat,
                         free_tcp_port)


def _pids_changed(cluster, old, n):
    pids = cluster.pids
    return len(pids) == n and not set(pids) & set(old) and pids


def test_make_run_configuration_serves_and_syncs(wd):
    """The files `make run` uses, with free ports: the first start creates
    var/secret (0600), /__heartbeat__ answers 200, and a collection syncs
    with a token minted from that secret."""
    port = free_tcp_port()
    circus = (REPO / "circus.ini").read_text()
    circus = re.sub(r"(?m)^endpoint = .*$", "endpoint = ipc://%s/c.sock" % wd,
                    circus)
    circus = re.sub(r"(?m)^pubsub_endpoint = .*$",
                    "pubsub_endpoint = ipc://%s/p.sock" % wd, circus)
    (wd / "circus.ini").write_text(circus)
    (wd / "watchers.d").mkdir()
    watcher = (REPO / "watchers.d" / "syncserver.ini").read_text()
    assert "port = 5000" in watcher and "numprocesses = 2" in watcher
    watcher = watcher.replace("port = 5000", "port = %d" % port) \
        .replace("build/syncserver", str(BUILD / "syncserver"))
    (wd / "watchers.d" / "syncserver.ini").write_text(watcher)
    sync = (REPO / "sync.ini").read_text()
    assert "secret =" not in sync.replace("secret_file =", "")
    (wd / "sync.ini").write_text(sync.replace("127.0.0.1:5000",
                                              "127.0.0.1:%d" % port))
    (wd / "var").mkdir()                       # what `make run` does
    url = "http://127.0.0.1:%d" % port
    d = subprocess.Popen([str(CIRCUSD), "circus.ini"], cwd=str(wd),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_heartbeat(url, time.monotonic() + 60, lambda: d.poll() is None)
        r = requests.get(url + "/__heartbeat__", timeout=20)
        assert r.status_code == 200 and r.json()["database"] == "Ok"
        secret_path = wd / "var" / "secret"
        assert stat.S_IMODE(os.stat(secret_path).st_mode) == 0o600
        secret = secret_path.read_text().strip()
        token, key = synclib.mint_token(secret, 3, url, time.time() + 600)
        c = synclib.SyncClient(url, token, key)
        r = c.post("/1.5/3/storage/bookmarks",
                   [{"id": "b%d" % i, "payload": "x%d" % i} for i in range(20)])
        assert r.status_code == 200 and len(r.json()["success"]) == 20
        got = c.get("/1.5/3/storage/bookmarks?full=1&sort=oldest").json()
        assert sorted(b["id"] for b in got) == sorted("b%d" % i
                                                      for i in range(20))
        assert (wd / "var" / "syncserver.err.log").exists()
    finally:
        d.send_signal(signal.SIGTERM)
        assert d.wait(90) == 0


@pytest.fixture
def cluster(wd):
    cl = SyncCluster(wd.path, workers=2)
    yield cl
    assert cl.stop() == 0


def _writer(c, tag, rounds, acked, errors, stop=None):
    for i in range(rounds):
        if stop is not None and stop.is_set():
            return
        recs = [{"id": "%s-%d-%d" % (tag, i, k), "payload": "p"}
                for k in range(4)]
        try:
            r = c.post("/1.5/9/storage/hist", recs)
        except requests.RequestException:
            c.session = requests.Session()       # the worker died: retry on
            continue                             # a fresh connection
        if r.status_code == 200:
            acked.extend(r.json()["success"])
        else:
            errors.append((r.status_code, r.text))


def test_workers_write_concurrently_for_one_user(cluster):
    acked, errors = [], []
    threads = [threading.Thread(target=_writer,
                                args=(cluster.client(9), "t%d" % n, 20,
                                      acked, errors)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors
    assert len(acked) == 6 * 20 * 4
    stored = cluster.client(9).get("/1.5/9/storage/hist").json()
    assert sorted(stored) == sorted(acked)


def test_sigkilled_worker_loses_nothing_acknowledged(cluster):
    """Writers run while a worker is SIGKILLed; circusd starts another; every
    record acknowledged before or after is stored."""
    acked, errors = [], []
    stop = threading.Event()
    threads = [threading.Thread(target=_writer,
                                args=(cluster.client(9), "k%d" % n, 400,
                                      acked, errors, stop))
               for n in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 40, timeout=60)
    victim = cluster.pids[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in cluster.pids and
               len(cluster.pids) == 2, timeout=60)
    mark = len(acked)
    wait_until(lambda: len(acked) >= mark + 40, timeout=60)
    stop.set()
    for t in threads:
        t.join(120)
    assert not errors
    stored = set(cluster.client(9).get("/1.5/9/storage/hist").json())
    assert set(acked) <= stored


def test_batch_survives_sigkill_of_every_worker(cluster):
    c = cluster.client(9)
    r = c.post("/1.5/9/storage/tabs?batch=true",
               [{"id": "a", "payload": "1"}, {"id": "b", "payload": "2"}])
    assert r.status_code == 202
    batch = r.json()["batch"]
    r = c.post("/1.5/9/storage/tabs?batch=" + batch,
               [{"id": "c", "payload": "3"}])
    assert r.status_code == 202
    old = cluster.pids
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _pids_changed(cluster, old, 2), timeout=60)
    _wait_heartbeat(cluster.url, time.monotonic() + 60, lambda: True)
    c = cluster.client(9)
    r = c.post("/1.5/9/storage/tabs?batch=%s&commit=true" % batch,
               [{"id": "d", "payload": "4"}])
    assert r.status_code == 200, r.text
    got = {b["id"]: b["payload"] for b in
           c.get("/1.5/9/storage/tabs?full=1").json()}
    assert got == {"a": "1", "b": "2", "c": "3", "d": "4"}


def test_same_precondition_one_winner_across_workers(cluster):
    """Writers with the same X-If-Unmodified-Since spread over the workers:
    exactly one 200, the others 412."""
    assert cluster.race_same_precondition(9, 12) == [200] + [412] * 11
